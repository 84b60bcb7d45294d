import * as tillit from 'tillit/init';
import wasm from 'tillit/wasm?url';
import { smoke } from './smoke.mjs';

tillit
  .init({ wasm })
  .then(() => smoke(tillit))
  .then(
    (summary) => postMessage({ ok: true, summary }),
    (e) => postMessage({ ok: false, error: String(e?.stack ?? e) }),
  );
