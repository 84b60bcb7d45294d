// The demo: starts the embedded national-infrastructure emulator and the organisation's log
// (tillit-collector, SQLite), serves the EHR, citizen and log-control pages (built with Vite)
// with a small backend-for-frontend whose checked signer (tillit/server) signs only the client
// assertions and request objects of the browser's session, and prints the URLs. `--headless` runs the Node integration-service flow end to end instead and
// prints a summary.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFileSync, existsSync, mkdtempSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { extname, join, normalize } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { jwkThumbprint, importPrivateKey, AuditLog } from 'tillit';
import { CheckedSigner, signerHandler } from 'tillit/server';
import { startCollector, proxy, readingRoutes, COLLECTOR_PATH } from './organisation.mjs';

export { startCollector } from './organisation.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '..');
const BIN = process.env.TILLIT_EMULATOR ?? join(ROOT, 'target', 'debug', 'tillit-emulator');
const DIST = join(HERE, 'dist');
const KEY_PEM = readFileSync(join(HERE, 'emulator', 'demo-client-key.pem'), 'utf8');
const DEFAULTS = JSON.parse(readFileSync(join(HERE, 'emulator', 'default-config.json'), 'utf8'));

/** Starts the emulator; resolves to { url, stop }. */
export async function startEmulator(args = []) {
  const child = spawn(BIN, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      const m = /listening on (http:\/\/\S+)/.exec(String(d));
      if (m) resolve(m[1]);
    });
    child.on('exit', (c) => reject(new Error(`emulator exited (${c})`)));
  });
  return { url, stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.on('exit', r), child.kill('SIGTERM')))) };
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };

/**
 * Serves the built pages, /demo-config.json, the BFF's checked signer at /bff/sign, the
 * organisation's collector at /collector/ (started here, SQLite in a fresh folder) and the
 * BFF's reading routes (organisation.mjs); resolves to { url, cfg, signerLog, auditLog,
 * collector, close }. `signerLog` holds the signer's log lines (refusals and signatures, no
 * personal data), which are also printed to stderr unless `quiet`.
 */
export async function startPages(emulatorUrl, port = 0, { quiet = false } = {}) {
  if (!existsSync(join(DIST, 'ehr', 'index.html'))) throw new Error('build the pages first (scripts/demo.sh does)');
  const key = await importPrivateKey(KEY_PEM, { alg: 'ES256' });
  const clientJwk = DEFAULTS.clients[0].jwks.keys[0];
  const patients = await (await fetch(`${emulatorUrl}/_emulator/patients`)).json();
  const citizen = DEFAULTS.users.find((u) => u.kind === 'citizen');
  const doctor = DEFAULTS.users.find((u) => u.kind === 'practitioner');
  const cfg = {
    issuer: emulatorUrl,
    api: emulatorUrl,
    clientId: DEFAULTS.clients[0].client_id,
    clientKid: await jwkThumbprint(clientJwk),
    practitioner: {
      identifier: { id: doctor.pid, system: 'urn:oid:2.16.578.1.12.4.1.4.1', name: doctor.name },
      hpr_nr: { id: doctor.hpr, system: 'urn:oid:2.16.578.1.12.4.1.4.4' },
      authorization: { code: 'LE', system: 'urn:oid:2.16.578.1.12.4.1.1.9060' },
      legal_entity: { id: '974760673', system: 'urn:oid:2.16.578.1.12.4.1.4.101', name: 'Testsykehuset HF' },
      point_of_care: { id: '974760673', system: 'urn:oid:2.16.578.1.12.4.1.4.101', name: 'Testsykehuset HF' },
    },
    patients: patients.map((id, i) => ({ id, label: id === citizen.pid ? citizen.name : `Testpasient ${i + 1}` })),
    // The test citizen, and the people they may act for (a parent for a child): their login hints.
    citizen: { id: citizen.pid, name: citizen.name, represents: (citizen.represents ?? []).map((h) => ({ loginHint: h, name: DEFAULTS.users.find((u) => u.id === h)?.name ?? h })) },
    // Where the devices ship their logs: the collector, behind this origin.
    collector: COLLECTOR_PATH,
  };
  // The demo's sessions: a browser that loaded the configuration gets an HttpOnly cookie and
  // is the demo doctor, who may open the emulator's patients. In production, this is your
  // authenticated session: the user HelseID logged in, their organisation, and the patients
  // your access control lets them open now.
  const sessions = new Map();
  const doctorSession = {
    practitioner: { id: doctor.pid, hprNr: doctor.hpr },
    organisation: { legalEntity: '974760673', pointOfCare: '974760673' },
    allowedPatients: patients,
  };
  const sessionOf = (req) => /(?:^|;\s*)demo_sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1];
  const signerLog = [];
  let sign, reading, collector;
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === COLLECTOR_PATH || path.startsWith(`${COLLECTOR_PATH}/`)) return collector ? proxy(collector.url, req, res) : res.writeHead(503).end();
    if (path.startsWith('/bff/') && path !== '/bff/sign') {
      try {
        if (reading && (await reading(req, res, path))) return;
      } catch (e) {
        if (!quiet) console.error('bff:', e.message);
        if (!res.headersSent) return res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'UPSTREAM_FAILED' }));
        return;
      }
      return res.writeHead(404).end();
    }
    if (path === '/demo-config.json') {
      let sid = sessionOf(req);
      if (!sid || !sessions.has(sid)) sessions.set((sid = randomUUID()), { ...doctorSession, sessionId: sid });
      return res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': `demo_sid=${sid}; HttpOnly; SameSite=Strict; Path=/` }).end(JSON.stringify(cfg));
    }
    // The backend-for-frontend's signer: signs only what it checked for this session.
    if (path === '/bff/sign') return sign ? sign(req, res) : res.writeHead(503).end();
    if (path === '/') return res.writeHead(302, { location: '/ehr/' }).end();
    // The pages name no icon (`data:`); a browser still asks for one on a bare document.
    if (path === '/favicon.ico') return res.writeHead(204).end();
    let file = join(DIST, normalize(path).replace(/^(\.\.[/\\])+/, ''));
    if (path.endsWith('/')) file = join(file, 'index.html');
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  const auditLog = await AuditLog.open({ sink: 'memory' });
  const signer = new CheckedSigner({
    key,
    clientId: cfg.clientId,
    issuer: emulatorUrl,
    redirectUris: [`${url}/ehr/`, `${url}/citizen/`],
    scopes: ['openid', 'offline_access', 'nhn:phr/mhd/read-documentreferences', 'nhn:phr/mhd/read-document'],
    // The APIs login() names by RFC 8707 resource (the document list's, by default).
    resources: ['nhn:phr'],
    // The demo's pages (and the end-to-end tests, many pages in one browser session) sign a few
    // times per look-up; a production backend keeps the default (20 at once, 60 a minute).
    rateLimit: { burst: 200, perMinute: 600 },
    auditLog,
    authorize: (req) => sessions.get(sessionOf(req)),
    log: (line) => {
      signerLog.push(line);
      if (!quiet) process.stderr.write(`${JSON.stringify(line)}\n`);
    },
  });
  sign = signerHandler(signer);
  collector = await startCollector(emulatorUrl, { publicUrl: `${url}${COLLECTOR_PATH}` });
  reading = readingRoutes({ issuer: emulatorUrl, clientId: cfg.clientId, key, pagesUrl: url, hasSession: (req) => sessions.has(sessionOf(req)) });
  const close = async () => {
    server.closeAllConnections?.();
    await new Promise((r) => server.close(r));
    await collector.stop();
  };
  return { url, cfg, signerLog, auditLog, collector, close };
}

async function main() {
  const headless = process.argv.includes('--headless');
  const running = [];
  const stop = async (code = 0) => {
    for (const r of running.reverse()) await r.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => stop());
  process.on('SIGTERM', () => stop());
  const emu = await startEmulator();
  running.push(emu);
  if (headless) {
    // The Node service ships its log to the organisation's collector, reached directly.
    const collector = await startCollector(emu.url);
    running.push(collector);
    const patients = await (await fetch(`${emu.url}/_emulator/patients`)).json();
    const log = join(mkdtempSync(join(tmpdir(), 'tillit-demo-')), 'access.ndjson');
    const child = spawn(process.execPath, [join(HERE, 'node-service', 'service.mjs'), '--issuer', emu.url, '--patient', patients[1], '--log', log, '--collector', collector.url], { stdio: 'inherit' });
    const code = await new Promise((r) => child.on('exit', r));
    return stop(code ?? 1);
  }
  const port = Number(process.env.PORT ?? 8080);
  const pages = await startPages(emu.url, port);
  running.push({ stop: pages.close });
  console.log(`\ntillit demo\n  emulator (HelseID + document list + source): ${emu.url}\n  organisation's log (tillit-collector): ${pages.url}${COLLECTOR_PATH}/\n    database ${pages.collector.db}, request log ${pages.collector.logFile}\n  EHR page:         ${pages.url}/ehr/\n  citizen page:     ${pages.url}/citizen/\n  log-control page: ${pages.url}/logcontrol/\nCtrl-C stops.`);
}

if (import.meta.url === `file://${process.argv[1]}`) main().catch((e) => {
  console.error(e);
  process.exit(1);
});
