// tillit/server's checked signer through the public API: the EHR flow end to end against the
// emulator with the browser's `signer: { sign }` posting to the node:http handler; one test
// per refusal, each with its log line (no personal data); `jose` verifies what it signs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { compactVerify, importJWK } from 'jose';
import {
  Client,
  AuditLog,
  TrustContext,
  importPrivateKey,
  createClientAssertion,
  createRequestObject,
  CryptoError,
} from 'tillit';
import { CheckedSigner, signerHandler, SigningRefusedError } from 'tillit/server';
import { startEmulator, PRACTITIONER } from '../support/emulator.mjs';
import { attestation, syntheticFnr } from './fixtures.mjs';

const REDIRECT = 'http://127.0.0.1/callback';
// The scopes login() asks for by default, offline_access among them (HelseID issues no refresh
// token without it: NorskHelsenett/kjernejournal-innlogging-klient, helseid/HelseID.kt).
const SCOPES = [
  'openid',
  'offline_access',
  'nhn:phr/mhd/read-documentreferences',
  'nhn:phr/mhd/read-document',
];
let emu, key, patients, server, signerUrl, auditLog, lines, signer, session;

const b64u = (v) =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const input = (h, c) => `${b64u(h)}.${b64u(c)}`;
const now = () => Math.floor(Date.now() / 1000);

before(async () => {
  emu = await startEmulator();
  key = await importPrivateKey(emu.pem, { alg: 'ES256' });
  patients = await emu.patients();
  auditLog = await AuditLog.open({ sink: 'memory' });
  lines = [];
  // The integrator's session: this demo backend has one logged-in doctor, who may open the
  // first two patients (their access control decides; the signer only asks).
  session = {
    practitioner: { id: PRACTITIONER, hprNr: '9144900' },
    organisation: { legalEntity: '974760673', pointOfCare: '974760673' },
    allowedPatients: [patients[0], patients[1]],
    sessionId: 'sess-1',
  };
  signer = new CheckedSigner({
    key,
    clientId: emu.clientId,
    issuer: emu.url,
    redirectUris: [REDIRECT],
    scopes: SCOPES,
    resources: ['nhn:phr'],
    auditLog,
    authorize: (req) => (req.headers?.cookie === 'sid=sess-1' || req === 'sess-1' ? session : null),
    log: (l) => lines.push(l),
    rateLimit: { burst: 1000, perMinute: 1000 },
  });
  const handle = signerHandler(signer);
  server = createServer((req, res) => handle(req, res));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  signerUrl = `http://127.0.0.1:${server.address().port}/bff/sign`;
});
after(async () => {
  await new Promise((r) => server?.close(r));
  await emu?.stop();
});

/** The browser side, unchanged: `signer: { alg, kid, sign(data) }` posting to the backend. */
const browserSigner = (cookie = 'sid=sess-1') => ({
  alg: 'ES256',
  kid: key.kid,
  async sign(data) {
    const r = await fetch(signerUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', cookie },
      body: data,
    });
    if (!r.ok) throw new Error(`the signing service refused (${r.status})`);
    return new Uint8Array(await r.arrayBuffer());
  },
});

const ctxFor = (p, practitioner = PRACTITIONER) =>
  TrustContext.fromJSON({ ...attestation(p, practitioner), toa: now() });

test('the EHR flow end to end with the checked signer (both placements), every signature logged', async () => {
  for (const attestationIn of ['client-assertion', 'request-object']) {
    const before = lines.length;
    const clientLog = await AuditLog.open({ sink: 'memory' });
    const client = new Client({
      issuer: emu.url,
      clientId: emu.clientId,
      signer: browserSigner(),
      dpopKey: await importPrivateKey(emu.pem, { alg: 'ES256' }),
      documentListBaseUrl: emu.url,
      auditLog: clientLog,
      timeoutMs: 5000,
      attestationIn,
    });
    const ehr = client.withContext(ctxFor(patients[0]));
    const { url } = await ehr.login({ redirectUri: REDIRECT, loginHint: 'lege' });
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302);
    await ehr.handleRedirect(res.headers.get('location'));
    const r = await ehr.searchDocuments({ patient: patients[0], pageSize: 100 });
    assert.ok(
      r.entries.length > 0 && r.entries.every((e) => e.subject.identifier.value === patients[0]),
    );
    if (attestationIn === 'client-assertion') {
      // A new patient the session allows: a refresh with a new attestation, signed.
      const r2 = await client
        .withContext(ctxFor(patients[1]))
        .searchDocuments({ patient: patients[1], pageSize: 100 });
      assert.ok(r2.entries.every((e) => e.subject.identifier.value === patients[1]));
      // A patient the callback does not allow: the signer refuses, the client gets a typed error.
      await assert.rejects(
        client.withContext(ctxFor(patients[2])).searchDocuments({ patient: patients[2] }),
        (e) => e instanceof CryptoError,
      );
      assert.equal(lines.at(-1).reason, 'PATIENT');
    }
    const signed = lines.slice(before).filter((l) => l.event === 'tillit.signer.signed');
    assert.ok(
      signed.some((l) => l.kind === 'request-object') &&
        signed.some((l) => l.kind === 'client-assertion'),
    );
    // The server's access log holds each attested signature: who, which patient, which jti.
    for (const l of signed.filter((s) => s.attested)) {
      const [ev] = auditLog
        .query()
        .filter((e) => JSON.stringify(e).includes(`urn:ietf:params:oauth:jti:${l.jti}`));
      assert.ok(ev, `the access log has jti ${l.jti}`);
      assert.equal(ev.outcome, '0');
      const text = JSON.stringify(ev);
      // The user by HPR number (the log never shows a practitioner's national id), the patient, the purpose.
      assert.ok(
        text.includes('9144900') && (text.includes(patients[0]) || text.includes(patients[1])),
      );
      assert.ok(text.includes('TREAT'));
    }
  }
  assert.ok((await auditLog.verify()).ok);
  // No national id, no session id in the operational log.
  const ops = JSON.stringify(lines);
  for (const id of [PRACTITIONER, ...patients, 'sess-1']) assert.ok(!ops.includes(id));
});

test('jose verifies what the signer signs', async () => {
  const jws = await createClientAssertion({
    clientId: emu.clientId,
    issuer: emu.url,
    trustContext: ctxFor(patients[0]),
    signer: {
      alg: 'ES256',
      kid: key.kid,
      sign: async (d) => (await signer.sign(d, 'sess-1')).signature,
    },
  });
  const { payload, protectedHeader } = await compactVerify(
    jws,
    await importJWK({ ...key.publicJwk }, 'ES256'),
  );
  assert.equal(protectedHeader.typ, 'client-authentication+jwt');
  assert.equal(JSON.parse(new TextDecoder().decode(payload)).aud, emu.url);
  const ro = await createRequestObject({
    clientId: emu.clientId,
    issuer: emu.url,
    redirectUri: REDIRECT,
    scope: 'openid',
    state: 's1',
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    signer: {
      alg: 'ES256',
      kid: key.kid,
      sign: async (d) => (await signer.sign(d, 'sess-1')).signature,
    },
  });
  // The request object's typ as NHN's reference EHR and HelseID.Samples set it (docs/nhn-conformance.md).
  assert.equal(
    (await compactVerify(ro, await importJWK({ ...key.publicJwk }, 'ES256'))).protectedHeader.typ,
    'client-authentication+jwt',
  );
});

/** A client assertion as the core would make it, for hand-made variants. */
function assertion(over = {}, header = {}) {
  const t = now();
  const h = { alg: 'ES256', kid: key.kid, typ: 'client-authentication+jwt', ...header };
  const c = {
    iss: emu.clientId,
    sub: emu.clientId,
    aud: emu.url,
    iat: t,
    nbf: t,
    exp: t + 10,
    jti: `jti-${crypto.randomUUID()}`,
    assertion_details: [{ ...attestation(patients[0], PRACTITIONER), toa: t }],
    ...over,
  };
  return input(h, c);
}

async function refused(data, reason, path) {
  const n = lines.length;
  await assert.rejects(signer.sign(data, 'sess-1'), (e) => {
    assert.ok(e instanceof SigningRefusedError, String(e));
    assert.equal(e.code, 'SIGNING_REFUSED');
    assert.equal(e.reason, reason, `${e.message}`);
    if (path) assert.equal(e.path, path);
    return true;
  });
  const line = lines.at(-1);
  assert.equal(lines.length, n + 1);
  assert.equal(line.event, 'tillit.signer.refused');
  assert.equal(line.reason, reason);
  const text = JSON.stringify(line);
  for (const id of [PRACTITIONER, ...patients, syntheticFnr(9), 'sess-1'])
    assert.ok(!text.includes(id), text);
}

test('refused: a foreign aud', () =>
  refused(assertion({ aud: 'https://helseid-sts.nhn.no' }), 'AUDIENCE', '$.claims.aud'));
test('refused: a lifetime over 60 s', () =>
  refused(assertion({ exp: now() + 3600 }), 'LIFETIME', '$.claims.exp'));
test('refused: a replayed jti', async () => {
  const a = assertion();
  await signer.sign(a, 'sess-1');
  await refused(a, 'REPLAY', '$.claims.jti');
});
test('refused: another client id', () =>
  refused(assertion({ iss: 'another-client', sub: 'another-client' }), 'CLIENT'));
test("refused: another practitioner than the session's", () =>
  refused(
    assertion({
      assertion_details: [{ ...attestation(patients[0], syntheticFnr(9)), toa: now() }],
    }),
    'PRACTITIONER',
    '$.claims.assertion_details[0].practitioner.identifier.id',
  ));
test('refused: a patient the callback refuses', () =>
  refused(
    assertion({ assertion_details: [{ ...attestation(patients[2], PRACTITIONER), toa: now() }] }),
    'PATIENT',
    '$.claims.assertion_details[0].patients[0].identifier.id',
  ));
test('refused: a stale toa', () =>
  refused(
    assertion({
      assertion_details: [{ ...attestation(patients[0], PRACTITIONER), toa: now() - 3700 }],
    }),
    'STALE_ATTESTATION',
    '$.claims.assertion_details[0].toa',
  ));
test('refused: unparseable or non-JWS input', async () => {
  for (const bad of [
    '',
    'hello',
    'a.b.c',
    '%%%.###',
    `${assertion()}.c2ln`,
    new Uint8Array([0xff, 0x00, 0x2e, 0x41]),
    `${b64u('not json')}.${b64u('{}')}`,
  ])
    await refused(bad, 'NOT_JWS');
});
test('refused: an arbitrary JWT with a valid-looking header', async () => {
  const t = now();
  await refused(
    input(
      { alg: 'ES256', kid: key.kid, typ: 'JWT' },
      { sub: 'admin', role: 'superuser', exp: t + 86400 },
    ),
    'TYPE',
    '$.header.typ',
  );
  await refused(
    input(
      { alg: 'ES256', kid: key.kid, typ: 'client-authentication+jwt' },
      { sub: 'admin', role: 'superuser', exp: t + 86400 },
    ),
    'TYPE',
  );
  await refused(
    input(
      { alg: 'ES256', kid: key.kid, typ: 'dpop+jwt' },
      { htm: 'POST', htu: emu.url, iat: t, jti: 'x'.repeat(20) },
    ),
    'TYPE',
  );
  await refused(assertion({}, { jku: 'https://evil.example/jwks' }), 'HEADER');
});
test('refused: a request object with a redirect URI not configured', () => {
  const t = now();
  const h = { alg: 'ES256', kid: key.kid, typ: 'oauth-authz-req+jwt' };
  const c = {
    iss: emu.clientId,
    aud: emu.url,
    client_id: emu.clientId,
    jti: `jti-${crypto.randomUUID()}`,
    iat: t,
    nbf: t,
    exp: t + 10,
    response_type: 'code',
    redirect_uri: 'https://evil.example/steal',
    scope: 'openid',
    state: 's',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  };
  return refused(input(h, c), 'REDIRECT_URI', '$.claims.redirect_uri');
});

test('over HTTP: no session is 401, a refusal is 403 with its reason, GET is 405, other content types 415', async () => {
  const post = (body, cookie, type = 'application/octet-stream') =>
    fetch(signerUrl, {
      method: 'POST',
      headers: { 'content-type': type, ...(cookie ? { cookie } : {}) },
      body,
    });
  const anon = await post(assertion());
  assert.equal(anon.status, 401);
  assert.equal((await anon.json()).reason, 'UNAUTHENTICATED');
  const evil = await post(assertion({ exp: now() + 3600 }), 'sid=sess-1');
  assert.equal(evil.status, 403);
  assert.deepEqual(await evil.json(), {
    error: 'signing_refused',
    reason: 'LIFETIME',
    path: '$.claims.exp',
    rule: 'exp − iat must be 1 to 60 seconds',
  });
  assert.equal((await fetch(signerUrl)).status, 405);
  assert.equal((await post('x'.repeat(20000), 'sid=sess-1')).status, 413);
  // A type a cross-site form or simple request can send is refused before the signer (CSRF).
  for (const type of [
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
  ])
    assert.equal((await post(assertion(), 'sid=sess-1', type)).status, 415);
});

test('the rate limit is per session', async () => {
  const s = new CheckedSigner({
    key,
    clientId: emu.clientId,
    issuer: emu.url,
    auditLog: await AuditLog.open({ sink: 'memory' }),
    rateLimit: { burst: 2, perMinute: 1 },
    log: () => {},
    authorize: (who) => ({ ...session, sessionId: who }),
  });
  await s.sign(assertion(), 'a');
  await s.sign(assertion(), 'a');
  await assert.rejects(
    s.sign(assertion(), 'a'),
    (e) => e instanceof SigningRefusedError && e.reason === 'RATE_LIMITED',
  );
  await s.sign(assertion(), 'b');
});

test('a failing access log signs nothing', async () => {
  // The sink takes the log's declaration record at open, then fails: the disk filled up.
  const stored = [];
  const broken = await AuditLog.open({
    sink: {
      append: async (lines) => {
        if (stored.length) throw new Error('disk full');
        stored.push(...lines);
      },
      read: async () => stored,
    },
  });
  const s = new CheckedSigner({
    key,
    clientId: emu.clientId,
    issuer: emu.url,
    auditLog: broken,
    log: () => {},
    authorize: () => session,
  });
  await assert.rejects(s.sign(assertion(), 'x'), (e) => e.code === 'AUDIT_FAILURE');
});

test('bad options are typed errors', async () => {
  assert.throws(
    () =>
      new CheckedSigner({ key, clientId: 'c', issuer: 'helseid', auditLog, authorize: () => null }),
    (e) => e.code === 'INVALID_ARGUMENT' && e.path === 'issuer',
  );
  assert.throws(
    () => new CheckedSigner({ key, clientId: 'c', issuer: emu.url, auditLog }),
    (e) => e.path === 'authorize',
  );
  const s = new CheckedSigner({
    key,
    clientId: emu.clientId,
    issuer: emu.url,
    auditLog,
    log: () => {},
    authorize: () => ({ practitioner: '123', organisation: '974760673' }),
  });
  await assert.rejects(
    s.sign(assertion(), 'x'),
    (e) => e.code === 'INVALID_IDENTIFIER' && e.path === 'session.practitioner.id',
  );
});

test('log lines tag the session with a per-signer salt: same session, same tag; not recomputable elsewhere', async () => {
  const mk = (out) =>
    new CheckedSigner({
      key,
      clientId: emu.clientId,
      issuer: emu.url,
      auditLog,
      log: (l) => out.push(l),
      authorize: () => ({
        practitioner: { id: PRACTITIONER, hprNr: '9144900' },
        organisation: '974760673',
        allowedPatients: [patients[0]],
      }),
    });
  const a = [];
  const b = [];
  const sa = mk(a);
  const sb = mk(b);
  await sa.sign(assertion(), null);
  await sa.sign(assertion(), null);
  await sb.sign(assertion(), null);
  assert.equal(a[0].session, a[1].session);
  assert.notEqual(a[0].session, b[0].session);
  assert.match(a[0].session, /^[\w-]{12}$/);
});
