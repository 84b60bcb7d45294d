// Starts the real tillit-collector binary (SQLite in a temporary directory) against an
// emulator acting as HelseID, and gets DPoP-bound collector tokens from that emulator the way
// a device does (client_credentials, private_key_jwt, DPoP). The collector can be stopped and
// started again on the same port and database ("the collector was down for a while").
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMULATOR_BIN, PRACTITIONER } from './emulator.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const COLLECTOR_BIN =
  process.env.TILLIT_COLLECTOR ?? join(ROOT, 'target', 'debug', 'tillit-collector');

function started(child, what, pattern) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`${what} did not start within 10 s`)), 10_000);
    child.stdout.on('data', (d) => {
      buf += d;
      const m = pattern.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
  });
}

const stopChild = (child) =>
  new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    child.on('exit', () => r());
    child.kill('SIGTERM');
  });

/**
 * An emulator whose client may write to and read from the collector, and a collector that
 * trusts it. Returns { emulatorUrl, url, pem, clientId, stopCollector(), startCollector(), stop() }.
 */
export async function startCollector({ allowOrigins = [] } = {}) {
  for (const [bin, what] of [
    [EMULATOR_BIN, 'cargo build -p tillit-emulator'],
    [COLLECTOR_BIN, 'cargo build -p tillit-collector'],
  ]) {
    if (!existsSync(bin)) throw new Error(`build it first: ${what} (${bin})`);
  }
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const dir = mkdtempSync(join(tmpdir(), 'tillit-collector-'));
  const config = join(dir, 'emulator.json');
  const clientId = 'tillit-ship-test';
  writeFileSync(
    config,
    JSON.stringify({
      clients: [
        {
          client_id: clientId,
          jwks: { keys: [kp.publicKey.export({ format: 'jwk' })] },
          scopes: [
            'nhn:phr/mhd/read-documentreferences',
            'nhn:phr/mhd/read-document',
            'tillit:collector/audit.write',
            'tillit:collector/log-control',
          ],
        },
      ],
      users: [
        {
          id: 'lege',
          kind: 'practitioner',
          pid: PRACTITIONER,
          hpr: '9144900',
          name: 'Lege Lise Lauritzen',
        },
      ],
    }),
  );
  const emu = spawn(EMULATOR_BIN, ['--port', '0', '--config', config], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const emulatorUrl = await started(emu, 'the emulator', /listening on (http:\/\/[^\s]+)/);
  const db = `sqlite:${join(dir, 'collector.db')}`;
  let port = 0;
  let col;
  const self = {
    emulatorUrl,
    url: '',
    pem: kp.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    clientId,
    async startCollector() {
      // The collector's JSON log lines go to stderr; kept out of the test output.
      col = spawn(
        COLLECTOR_BIN,
        [
          '--port',
          String(port),
          '--host',
          '127.0.0.1',
          '--db',
          db,
          '--issuer',
          emulatorUrl,
          ...allowOrigins.flatMap((o) => ['--allow-origin', o]),
        ],
        { stdio: ['ignore', 'pipe', 'ignore'] },
      );
      const url = await started(col, 'the collector', /listening on (http:\/\/[^\s]+)/);
      port = Number(new URL(url).port);
      self.url = url;
      return url;
    },
    stopCollector: () => stopChild(col),
    async stop() {
      await Promise.all([stopChild(col), stopChild(emu)]);
    },
  };
  await self.startCollector();
  return self;
}

/**
 * A device's collector token provider: a tillit Client (client_credentials) asking the
 * emulator for `scope` at the collector's resource; its own memory log records the token
 * requests. Returns { token(), dpopKey, client }.
 */
export async function collectorTokens(tillit, c, scope = 'tillit:collector/audit.write') {
  const { Client, AuditLog, TrustContext, importPrivateKey, generateKey } = tillit;
  const key = await importPrivateKey(c.pem, { alg: 'ES256' });
  const dpopKey = await generateKey({ alg: 'ES256' });
  const auditLog = await AuditLog.open({ sink: 'memory' });
  const client = new Client({
    issuer: c.emulatorUrl,
    clientId: c.clientId,
    key,
    dpopKey,
    documentListBaseUrl: c.emulatorUrl,
    auditLog,
    resources: { others: ['tillit:collector'] },
  });
  const { attestation } = await import('../js/fixtures.mjs');
  const view = client.withContext(
    TrustContext.fromJSON({ ...attestation(), toa: Math.floor(Date.now() / 1000) }),
  );
  return {
    dpopKey,
    client,
    token: async () =>
      (await view.accessToken({ resource: 'tillit:collector', scope })).accessToken,
  };
}

/** GET on the collector with a log-control token. */
export async function controlGet(tillit, c, tokens, path) {
  const url = `${c.url}${path}`;
  const token = await tokens.token();
  const dpop = await tillit.createDpopProof({
    key: tokens.dpopKey,
    method: 'GET',
    url,
    accessToken: token,
  });
  const r = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop } });
  if (!r.ok) throw new Error(`GET ${path}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}
