// The client against the emulator: every grant, exactly one nonce retry at the token
// endpoint and at the resource, tokens never shared between patients, every fault mode
// ending in a typed error or a bounded successful retry, and the logs agreeing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Client,
  AuditLog,
  TrustContext,
  importPrivateKey,
  OAuthError,
  FhirError,
  TimeoutError,
  MalformedResponseError,
  ArgumentError,
  AuditError,
} from 'tillit';
import { startEmulator, PRACTITIONER } from '../support/emulator.mjs';
import { attestation } from './fixtures.mjs';
import { spyFetch } from '../support/spy-fetch.mjs';

let emu, key, patients;
const unhandled = [];
process.on('unhandledRejection', (e) => unhandled.push(e));

before(async () => {
  emu = await startEmulator();
  key = await importPrivateKey(emu.pem, { alg: 'ES256' });
  patients = await emu.patients();
});
after(async () => {
  await emu?.stop();
  assert.deepEqual(unhandled, [], 'no unhandled rejections');
});

async function setup(opts = {}) {
  const auditLog = await AuditLog.open({ sink: 'memory' });
  const spy = spyFetch(opts.fault);
  const client = new Client({
    issuer: emu.url,
    clientId: emu.clientId,
    key,
    documentListBaseUrl: emu.url,
    auditLog,
    fetch: spy.f,
    timeoutMs: opts.timeoutMs ?? 5000,
    ...opts.client,
  });
  return { client, auditLog, calls: spy.calls };
}

const ctxFor = (p) => TrustContext.fromJSON(attestation(p, PRACTITIONER));

test('client_credentials: search and retrieve with exactly one nonce retry each; logs agree', async () => {
  const { client, auditLog, calls } = await setup();
  const ehr = client.withContext(ctxFor(patients[0]));
  const r = await ehr.searchDocuments({ patient: patients[0], pageSize: 5 });
  assert.ok(
    r.entries.length > 0 && r.pages >= 2,
    `${r.entries.length} entries in ${r.pages} pages`,
  );
  assert.equal(typeof r.blockedCount, 'number');
  assert.ok(r.entries.every((e) => e.subject.identifier.value === patients[0]));
  const token = calls.filter((c) => c.path === '/connect/token');
  assert.deepEqual(
    token.map((c) => c.status),
    [400, 200],
    'one nonce retry at the token endpoint',
  );
  const search = calls.filter((c) => c.path.endsWith('/_search'));
  assert.deepEqual(
    search.slice(0, 2).map((c) => c.status),
    [401, 200],
    'one nonce retry at the resource',
  );
  assert.ok(
    search.slice(2).every((c) => c.status === 200),
    'later pages reuse the remembered nonce',
  );

  const doc = await ehr.getDocument(r.entries[0]);
  assert.equal(doc.contentType, 'application/pdf');
  assert.equal(new TextDecoder().decode(doc.bytes.slice(0, 5)), '%PDF-');

  // Every request the emulator served carries an nhn-event-id the local log holds, with the attestation.
  const served = (await emu.log()).filter((l) => l.event_id);
  const local = new Set(
    auditLog
      .query()
      .flatMap((e) =>
        e.entity.filter((x) => x.type.code === 'XrequestId').map((x) => x.what.identifier.value),
      ),
  );
  // The loop below checks something only if the emulator served this test's requests: every
  // search page and the document the client fetched (status 200) must be among them.
  const answered = calls.filter(
    (c) => c.status === 200 && (c.path.endsWith('/_search') || c.path.endsWith('/document')),
  );
  assert.ok(answered.length >= 3, `${answered.length} resource requests answered`);
  const servedIds = new Set(served.map((s) => s.event_id));
  for (const c of answered)
    assert.ok(
      c.eventId && servedIds.has(c.eventId),
      `the emulator logged ${c.path} (${c.eventId})`,
    );
  for (const s of served) {
    assert.ok(local.has(s.event_id), 'the source saw a request the consumer did not log');
    assert.equal(s.attestation.decision_ref, 'dec-42');
  }
  assert.ok(auditLog.query({ action: 'search' }).every((e) => e.outcome === '0'));
  assert.equal(auditLog.query({ action: 'read' }).length, 1);
  assert.equal((await auditLog.verify()).ok, true);
});

test('a token for patient A is never used for patient B', async () => {
  const { client, calls } = await setup();
  await client
    .withContext(ctxFor(patients[0]))
    .searchDocuments({ patient: patients[0], pageSize: 100 });
  await client
    .withContext(ctxFor(patients[1]))
    .searchDocuments({ patient: patients[1], pageSize: 100 });
  const auths = calls
    .filter((c) => c.path.endsWith('/_search') && c.status === 200)
    .map((c) => c.auth);
  assert.equal(new Set(auths).size, 2, 'two patients, two tokens');
  await assert.rejects(
    client.withContext(ctxFor(patients[0])).searchDocuments({ patient: patients[1] }),
    (e) => e instanceof ArgumentError && e.path === 'patient',
  );
});

test('concurrent callers share one token request', async () => {
  const { client, calls } = await setup();
  const ehr = client.withContext(ctxFor(patients[0]));
  await Promise.all(
    [1, 2, 3, 4].map(() => ehr.searchDocuments({ patient: patients[0], pageSize: 100 })),
  );
  assert.equal(calls.filter((c) => c.path === '/connect/token' && c.status === 200).length, 1);
});

test('authorization_code with PAR, refresh for a new patient, token exchange', async () => {
  for (const attestationIn of ['client-assertion', 'request-object']) {
    const { client } = await setup({ client: { attestationIn } });
    const ehr = client.withContext(ctxFor(patients[0]));
    const { url } = await ehr.login({
      redirectUri: 'http://127.0.0.1/callback',
      loginHint: 'lege',
    });
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302);
    await ehr.handleRedirect(res.headers.get('location'));
    const r = await ehr.searchDocuments({ patient: patients[0], pageSize: 100 });
    assert.ok(r.entries.length > 0);
    const other = client.withContext(ctxFor(patients[1]));
    if (attestationIn === 'client-assertion') {
      const r2 = await other.searchDocuments({ patient: patients[1], pageSize: 100 });
      assert.ok(r2.entries.every((e) => e.subject.identifier.value === patients[1]));
      const x = await other.exchangeToken({ scope: 'nhn:phr/mhd/read-document' });
      assert.ok(x.accessToken.length > 20);
    } else {
      await assert.rejects(
        other.searchDocuments({ patient: patients[1] }),
        (e) => e instanceof ArgumentError && /log in again/.test(e.rule),
      );
    }
  }
});

const faults = [
  ['500', (e) => e instanceof FhirError && e.status === 500],
  ['503', (e) => e instanceof FhirError && e.status === 503],
  ['truncated', (e) => e instanceof MalformedResponseError],
  ['malformed', (e) => e instanceof MalformedResponseError],
  ['nonce', (e) => e instanceof OAuthError && e.error === 'use_dpop_nonce'],
  ['expired-token', (e) => e instanceof OAuthError && e.error === 'invalid_token'],
  ['latency=2000', (e) => e instanceof TimeoutError],
];

for (const [mode, expected] of faults) {
  test(`fault ${mode} at the document list: a typed error, logged, no hang`, async () => {
    const { client, auditLog, calls } = await setup({
      fault: { mode, when: (p) => p.endsWith('/_search') },
      timeoutMs: 800,
    });
    const t0 = Date.now();
    await assert.rejects(
      client.withContext(ctxFor(patients[0])).searchDocuments({ patient: patients[0] }),
      expected,
    );
    assert.ok(Date.now() - t0 < 6000, 'bounded');
    const searches = auditLog.query({ action: 'search' });
    assert.equal(searches.length, 1);
    assert.ok(['4', '8'].includes(searches[0].outcome), `outcome ${searches[0].outcome}`);
    const sent = calls.filter((c) => c.path.endsWith('/_search'));
    assert.ok(sent.length <= 3, `${sent.length} attempts`);
    assert.ok(
      sent.every((c) => c.eventId),
      'every request carries its nhn-event-id',
    );
  });
}

test('leaks: another patient and kinds outside the legal four are withheld, never returned', async () => {
  for (const [mode, reason] of [
    ['leak-patient', 'OTHER_PATIENT'],
    ['leak-type', 'TYPE_NOT_ALLOWED'],
  ]) {
    const { client, auditLog } = await setup({
      fault: { mode, when: (p) => p.endsWith('/_search') },
    });
    const r = await client
      .withContext(ctxFor(patients[0]))
      .searchDocuments({ patient: patients[0], pageSize: 1000 });
    assert.ok(
      r.withheld.some((w) => w.reason === reason),
      mode,
    );
    assert.ok(
      r.entries.every(
        (e) =>
          e.subject.identifier.value === patients[0] && !JSON.stringify(e.type).includes('B02-2'),
      ),
    );
    if (mode === 'leak-patient') assert.equal(r.leaks, 1);
    assert.ok(JSON.stringify(auditLog.query({ action: 'search' })).includes(`withheld:${reason}`));
  }
});

test('retrieval: CDA is unwrapped; withheld entries and foreign origins are refused before any request', async () => {
  const { client, calls } = await setup();
  const ehr = client.withContext(ctxFor(patients[0]));
  const r = await ehr.searchDocuments({ patient: patients[0], pageSize: 1000 });
  const cda = r.entries.find((e) => e.content[0].attachment.contentType === 'application/xml');
  assert.ok(cda, `the test patient's documents include a CDA one (${r.entries.length} entries)`);
  const d = await ehr.getDocument(cda);
  assert.equal(d.fromCda, true);
  assert.equal(d.contentType, 'application/pdf');
  assert.equal(
    new TextDecoder().decode(d.bytes.slice(0, 5)),
    '%PDF-',
    'the CDA body unwrapped to the PDF it carries',
  );
  const before = calls.length;
  // Only the entries this client returned, as returned: a copy with another type, or one
  // pointing elsewhere, is refused before anything is sent (tests/js/retrieval.test.mjs has the rest).
  const note = {
    ...r.entries[0],
    type: { coding: [{ system: 'urn:oid:2.16.578.1.12.4.1.1.9602', code: 'B02-2' }] },
    category: [{ coding: [{ system: 'urn:oid:2.16.578.1.12.4.1.1.9602', code: 'B00-1' }] }],
  };
  await assert.rejects(
    ehr.getDocument(note),
    (e) => e instanceof ArgumentError && e.path === 'entry',
  );
  const evil = {
    ...r.entries[0],
    content: [{ attachment: { url: 'https://evil.example/mhd/document?documentUniqueId=1' } }],
  };
  await assert.rejects(
    ehr.getDocument(evil),
    (e) => e instanceof ArgumentError && e.path === 'entry',
  );
  const foreign = new Client({
    issuer: emu.url,
    clientId: emu.clientId,
    key,
    documentListBaseUrl: emu.url,
    auditLog: await AuditLog.open({ sink: 'memory' }),
    fetch: spyFetch().f,
    documentSourceOrigins: ['https://elsewhere.example'],
  }).withContext(ctxFor(patients[0]));
  const fr = await foreign.searchDocuments({ patient: patients[0], pageSize: 1000 });
  const sentBefore = calls.length;
  await assert.rejects(
    foreign.getDocument(fr.entries[0]),
    (e) => e instanceof ArgumentError && /documentSourceOrigins/.test(e.rule),
  );
  assert.equal(calls.length, sentBefore);
  assert.equal(calls.length, before, 'no request was sent');
});

test('a failing access log blocks the request: nothing is sent', async () => {
  const stored = [];
  let fail = false;
  const auditLog = await AuditLog.open({
    sink: {
      append: async (l) => {
        if (fail) throw new Error('disk full');
        stored.push(...l);
      },
      read: async () => stored,
    },
  });
  const spy = spyFetch();
  const client = new Client({
    issuer: emu.url,
    clientId: emu.clientId,
    key,
    documentListBaseUrl: emu.url,
    auditLog,
    fetch: spy.f,
  });
  const ehr = client.withContext(ctxFor(patients[0]));
  await ehr.searchDocuments({ patient: patients[0], pageSize: 1000 });
  const sentBefore = spy.calls.filter((c) => c.path.endsWith('/_search')).length;
  fail = true;
  await assert.rejects(ehr.searchDocuments({ patient: patients[0] }), AuditError);
  assert.equal(
    spy.calls.filter((c) => c.path.endsWith('/_search')).length,
    sentBefore,
    'no search left without its log entry',
  );
});

test('bad options are typed errors', async () => {
  const auditLog = await AuditLog.open({ sink: 'memory' });
  assert.throws(
    () => new Client({ issuer: emu.url, clientId: 'c', key, documentListBaseUrl: emu.url }),
    (e) => e instanceof ArgumentError && e.path === 'auditLog',
  );
  assert.throws(
    () =>
      new Client({ issuer: 'nope', clientId: 'c', key, documentListBaseUrl: emu.url, auditLog }),
    (e) => e.path === 'issuer',
  );
  assert.throws(
    () => new Client({ issuer: emu.url, clientId: 'c', documentListBaseUrl: emu.url, auditLog }),
    (e) => e.path === 'key',
  );
  const c = new Client({
    issuer: emu.url,
    clientId: 'c',
    key,
    documentListBaseUrl: emu.url,
    auditLog,
  });
  await assert.rejects(
    c.searchDocuments({ patient: patients[0] }),
    (e) => e.path === 'trustContext',
  );
});

test('large documents stream: a PDF is passed on as it arrives and logged when it ends', async () => {
  const { client, auditLog } = await setup();
  const ehr = client.withContext(ctxFor(patients[0]));
  const r = await ehr.searchDocuments({ patient: patients[0], pageSize: 1000 });
  for (const entry of r.entries.slice(0, 6)) {
    const d = await ehr.getDocumentStream(entry);
    const chunks = [];
    for await (const c of d.stream) chunks.push(c);
    const bytes = Buffer.concat(chunks);
    assert.equal(bytes.subarray(0, 5).toString(), '%PDF-');
    assert.equal(d.contentType, 'application/pdf');
  }
  const reads = auditLog.query({ action: 'read' });
  assert.equal(reads.length, 6);
  assert.ok(
    reads.every((e) => e.outcome === '0'),
    'every streamed read completed in the log',
  );
});
