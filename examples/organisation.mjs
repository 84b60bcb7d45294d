// The organisation's log in the demo: starts `tillit-collector` (SQLite), serves it under
// /collector/ on the pages' origin (as the organisation's reverse proxy would: the devices
// ship there, DPoP `htu` names that URL), and the backend-for-frontend's two reading routes:
//
// - the citizen's (`/bff/citizen/…`): a login at the emulator's Helsenorge-style OpenID
//   provider (authorization code, PKCE, private_key_jwt, a DPoP-bound token kept on the
//   server), then "who looked" read from the collector's `/citizen/access`;
// - the privacy officer's (`/bff/logcontrol/…`): the collector's ITI-81 search, its reports
//   and each device log's state, read with the organisation's log-control token (HelseID,
//   client_credentials, DPoP-bound).
//
// The browser never holds these tokens. Every call to the collector carries a real token and
// proof: nothing here bypasses its authentication.
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, createWriteStream } from 'node:fs';
import { randomBytes, createHash, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, AuditLog, generateKey, createDpopProof, createClientAssertion } from 'tillit';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = process.env.TILLIT_COLLECTOR ?? join(ROOT, 'target', 'debug', 'tillit-collector');

/** The collector's resource at HelseID, and its scopes (collector/src/auth.rs). */
export const COLLECTOR_RESOURCE = 'tillit:collector';
export const SCOPE_WRITE = 'tillit:collector/audit.write';
export const SCOPE_LOG_CONTROL = 'tillit:collector/log-control';
/** Where the demo serves the collector, under the pages' origin. */
export const COLLECTOR_PATH = '/collector';

const b64u = (b) => Buffer.from(b).toString('base64url');

/**
 * Starts `tillit-collector` on a loopback port with a fresh SQLite database, trusting the
 * emulator's HelseID for devices and log control and its Helsenorge-style issuer for citizens.
 * `publicUrl` is the URL clients call (the proxy's). Resolves to `{ url, db, logFile, stop }`;
 * its request log (one JSON line per request) goes to `logFile`.
 */
export async function startCollector(emulatorUrl, { publicUrl, dir = mkdtempSync(join(tmpdir(), 'tillit-collector-')) } = {}) {
  const db = join(dir, 'collector.db');
  const logFile = join(dir, 'collector.log');
  const args = ['--port', '0', '--db', `sqlite:${db}`, '--issuer', emulatorUrl, '--citizen-issuer', `${emulatorUrl}/helsenorge`];
  if (publicUrl) args.push('--public-url', publicUrl);
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.pipe(createWriteStream(logFile));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /tillit-collector listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('error', reject);
    child.on('exit', (c) => reject(new Error(`tillit-collector exited (${c}); its log: ${logFile}`)));
  });
  const stop = () => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : (child.on('exit', r), child.kill('SIGTERM'))));
  return { url, db, logFile, stop };
}

/** Forwards `req` (its path after /collector) to the collector at `target`, streaming both ways. */
export function proxy(target, req, res) {
  const path = req.url.slice(COLLECTOR_PATH.length) || '/';
  const u = new URL(target);
  // The pages' session cookie is this origin's business, not the collector's.
  const { cookie: _cookie, ...headers } = { ...req.headers, host: u.host };
  const up = httpRequest({ host: u.hostname, port: u.port, method: req.method, path, headers }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    r.pipe(res);
  });
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'COLLECTOR_UNAVAILABLE' }));
    else res.destroy();
  });
  req.pipe(up);
}

/** Calls the collector at `publicUrl + path` with a DPoP-bound token and a fresh proof. */
async function call(publicUrl, path, { accessToken, dpopKey }) {
  const url = `${publicUrl}${path}`;
  const proof = await createDpopProof({ key: dpopKey, method: 'GET', url, accessToken });
  const r = await fetch(url, { headers: { authorization: `DPoP ${accessToken}`, dpop: proof, accept: 'application/json' } });
  return { status: r.status, body: await r.text() };
}

/** The parts of an ID token received straight from the token endpoint, with its claims checked. */
function idTokenClaims(idToken, { issuer, clientId }) {
  // OpenID Connect Core 1.0 §3.1.3.7: an ID token received directly from the token endpoint
  // over the back channel may have its issuer validated by the TLS connection instead of the
  // signature; iss, aud and exp are still checked.
  const c = JSON.parse(Buffer.from(String(idToken).split('.')[1] ?? '', 'base64url').toString('utf8'));
  const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
  if (c.iss !== issuer || !aud.includes(clientId) || !(c.exp > Date.now() / 1000)) throw new Error('the ID token is not for this client, from this issuer, or current');
  return c;
}

/**
 * The backend's reading routes. `cfg`: `{ issuer, clientId, key, pagesUrl, hasSession(req) }`
 * (the collector is reached at `pagesUrl` + /collector). Returns `handle(req, res, path)`,
 * true when it answered.
 */
export function readingRoutes({ issuer, clientId, key, pagesUrl, hasSession }) {
  const hnIssuer = `${issuer}/helsenorge`;
  const redirectUri = `${pagesUrl}/bff/citizen/callback`;
  const pending = new Map(); // state → { verifier, until }
  const citizens = new Map(); // session id → { accessToken, dpopKey, name, subjects, until }
  const cookie = (req, name) => new RegExp(`(?:^|;\\s*)${name}=([\\w-]+)`).exec(req.headers.cookie ?? '')?.[1];
  const cookieOf = (req) => cookie(req, 'demo_citizen');
  const json = (res, status, body) => res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(typeof body === 'string' ? body : JSON.stringify(body));

  // The organisation's log-control token: client_credentials at HelseID, bound to this
  // backend's DPoP key (the Client caches it until it expires).
  // One client and key, made once (concurrent first calls share the promise).
  let control;
  const controlToken = async () => {
    control ??= (async () => {
      const dpopKey = await generateKey({ alg: 'ES256' });
      const client = new Client({
        issuer, clientId, key, dpopKey, documentListBaseUrl: issuer,
        resources: { others: [COLLECTOR_RESOURCE] },
        // No trust context, so no look-up: nothing is written to this log.
        auditLog: await AuditLog.open({ sink: 'memory' }),
      });
      return { client, dpopKey };
    })();
    const { client, dpopKey } = await control;
    const { accessToken } = await client.accessToken({ resource: COLLECTOR_RESOURCE, scope: SCOPE_LOG_CONTROL });
    return { accessToken, dpopKey };
  };

  /** Forgets logins not finished and sessions expired. */
  const prune = () => {
    const now = Date.now();
    for (const [k, v] of pending) if (v.until < now) pending.delete(k);
    for (const [k, v] of citizens) if (v.until < now) citizens.delete(k);
  };

  async function citizenLogin(req, res, q) {
    prune();
    const verifier = b64u(randomBytes(32));
    const state = b64u(randomBytes(16));
    pending.set(state, { verifier, until: Date.now() + 120_000 });
    const d = await (await fetch(`${hnIssuer}/.well-known/openid-configuration`)).json();
    const u = new URL(d.authorization_endpoint);
    u.searchParams.set('client_id', clientId);
    u.searchParams.set('redirect_uri', redirectUri);
    u.searchParams.set('response_type', 'code');
    u.searchParams.set('scope', 'openid');
    u.searchParams.set('state', state);
    u.searchParams.set('code_challenge', b64u(createHash('sha256').update(verifier).digest()));
    u.searchParams.set('code_challenge_method', 'S256');
    // The emulator's stand-in for the citizen's ID-porten login: the test citizen's name.
    u.searchParams.set('login_hint', q.get('login_hint') ?? 'innbygger');
    if (q.get('represent')) u.searchParams.set('represent', q.get('represent'));
    // The login's state is bound to this browser too (a cookie), so a callback URL someone
    // else started cannot log this browser in as them (login CSRF).
    res.writeHead(302, { location: u.toString(), 'set-cookie': `demo_login=${state}; HttpOnly; SameSite=Lax; Path=/bff/citizen/` }).end();
  }

  async function citizenCallback(req, res, q) {
    const state = q.get('state') ?? '';
    const p = pending.get(state);
    pending.delete(state);
    if (!p || p.until < Date.now() || cookie(req, 'demo_login') !== state) return json(res, 400, { error: 'UNKNOWN_LOGIN', field: 'state' });
    if (q.get('error') || !q.get('code')) return res.writeHead(302, { location: '/citizen/?innlogging=avbrutt' }).end();
    const d = await (await fetch(`${hnIssuer}/.well-known/openid-configuration`)).json();
    const dpopKey = await generateKey({ alg: 'ES256' });
    const form = new URLSearchParams({
      grant_type: 'authorization_code', code: q.get('code'), redirect_uri: redirectUri, code_verifier: p.verifier, resource: COLLECTOR_RESOURCE,
      client_id: clientId, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await createClientAssertion({ clientId, issuer: d.issuer, key }),
    });
    const r = await fetch(d.token_endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await createDpopProof({ key: dpopKey, method: 'POST', url: d.token_endpoint }) }, body: form });
    const t = await r.json();
    if (!r.ok || t.token_type !== 'DPoP' || typeof t.access_token !== 'string') return json(res, 502, { error: 'TOKEN_REFUSED', detail: t.error ?? r.status });
    const c = idTokenClaims(t.id_token, { issuer: d.issuer, clientId });
    const sid = randomUUID();
    citizens.set(sid, {
      accessToken: t.access_token, dpopKey, name: c.name,
      represented: (c['helsenorge://claims/representation'] ?? []).map((x) => ({ patient: x.pid, name: x.name, relation: x.relation })),
      until: Date.now() + Number(t.expires_in ?? 300) * 1000,
    });
    res.writeHead(302, { location: '/citizen/?innlogget=1', 'set-cookie': `demo_citizen=${sid}; HttpOnly; SameSite=Lax; Path=/` }).end();
  }

  return async function handle(req, res, path) {
    const q = new URL(req.url, 'http://x').searchParams;
    if (path === '/bff/citizen/login') return citizenLogin(req, res, q).then(() => true);
    if (path === '/bff/citizen/callback') return citizenCallback(req, res, q).then(() => true);
    if (path === '/bff/citizen/session' || path === '/bff/citizen/access') {
      const s = citizens.get(cookieOf(req) ?? '');
      const live = s && s.until > Date.now();
      if (path === '/bff/citizen/session') return json(res, 200, live ? { loggedIn: true, name: s.name, represented: s.represented } : { loggedIn: false }), true;
      if (!live) return json(res, 401, { error: 'NOT_LOGGED_IN' }), true;
      const qs = q.get('patient') ? `?patient=${encodeURIComponent(q.get('patient'))}` : '';
      const r = await call(`${pagesUrl}${COLLECTOR_PATH}`, `/citizen/access${qs}`, s);
      return json(res, r.status, r.body), true;
    }
    // The privacy officer's reading. In the demo, any browser session of the demo reads; in
    // production, this is where your session's privacy-officer role is checked.
    const m = /^\/bff\/logcontrol\/(logs|reports|AuditEvent)$/.exec(path);
    if (m) {
      if (!hasSession(req)) return json(res, 401, { error: 'NOT_LOGGED_IN' }), true;
      const query = new URL(req.url, 'http://x').search;
      const r = await call(`${pagesUrl}${COLLECTOR_PATH}`, `/${m[1]}${query}`, await controlToken());
      return json(res, r.status, r.body), true;
    }
    return false;
  };
}
