// A server component, prerendered at build time: the default entry in Node.
import * as tillit from 'tillit';
import { smoke } from '../smoke.mjs';
import Client from './client.jsx';

export default async function Page() {
  const server = await smoke(tillit);
  return (
    <main>
      <p id="server">{server}</p>
      <Client />
    </main>
  );
}
