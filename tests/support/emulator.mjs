// Starts the tillit-emulator binary on a free loopback port with a generated config (a
// client whose key the test holds), and stops it with SIGTERM.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const EMULATOR_BIN =
  process.env.TILLIT_EMULATOR ?? join(ROOT, 'target', 'debug', 'tillit-emulator');

export const PRACTITIONER = '03818500083';
export const CITIZEN = '04818500012';

/** Starts an emulator; returns { url, pem, clientId, stop(), patients() }. */
export async function startEmulator({
  fault,
  args = [],
  alg = 'ES256',
  resourceNonce = true,
} = {}) {
  if (!existsSync(EMULATOR_BIN))
    throw new Error(`build the emulator first: cargo build -p tillit-emulator (${EMULATOR_BIN})`);
  const kp =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'ES384'
        ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dir = mkdtempSync(join(tmpdir(), 'tillit-emu-'));
  const config = join(dir, 'config.json');
  const clientId = 'tillit-test';
  writeFileSync(
    config,
    JSON.stringify({
      clients: [
        {
          client_id: clientId,
          jwks: { keys: [kp.publicKey.export({ format: 'jwk' })] },
          scopes: [
            'nhn:phr/mhd/read-documentreferences',
            'nhn:phr/mhd/read-documentreferences/kjernejournalforskriften',
            'nhn:phr/mhd/read-document',
          ],
        },
      ],
      // PJD demands no DPoP nonce (the emulator's default); these tests drive the dance unless told otherwise.
      resource_nonce: resourceNonce,
      users: [
        {
          id: 'lege',
          kind: 'practitioner',
          pid: PRACTITIONER,
          hpr: '9144900',
          name: 'Lege Lise Lauritzen',
        },
        { id: 'innbygger', kind: 'citizen', pid: CITIZEN, name: 'Kari Testborger' },
      ],
    }),
  );
  const child = spawn(
    EMULATOR_BIN,
    ['--port', '0', '--config', config, ...(fault ? ['--fault', fault] : []), ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error('the emulator did not start within 5 s')), 5000);
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`the emulator exited with ${code}`)));
  });
  const stop = () =>
    new Promise((r) => {
      if (child.exitCode !== null) return r(child.exitCode);
      child.on('exit', r);
      child.kill('SIGTERM');
    });
  const get = async (path) => (await fetch(`${url}${path}`)).json();
  return {
    url,
    pem: kp.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    alg,
    clientId,
    stop,
    child,
    patients: () => get('/_emulator/patients'),
    log: () => get('/_emulator/log'),
  };
}
