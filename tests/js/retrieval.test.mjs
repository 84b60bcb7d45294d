// Issue 16, items 7-11, through the public API in Node against the emulator: retrieval only
// of entries this client returned, never active content, whole documents only, paging with a
// memory and one log entry per search, and error text scrubbed of national ids and tokens.
// Every case is refused with its error or reason code; the counts are asserted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Client,
  AuditLog,
  TrustContext,
  importPrivateKey,
  minimise,
  minimiseDocument,
  ArgumentError,
  WithheldError,
  UnsafeContentError,
  IncompleteDocumentError,
  MalformedResponseError,
  OAuthError,
  FhirError,
  TillitError,
  TrustContextError,
} from 'tillit';
import { startEmulator, PRACTITIONER } from '../support/emulator.mjs';
import { attestation, FNR, searchset, documentReference } from './fixtures.mjs';
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

async function setup(fault) {
  const auditLog = await AuditLog.open({ sink: 'memory' });
  const spy = spyFetch(fault);
  const client = new Client({
    issuer: emu.url,
    clientId: emu.clientId,
    key,
    documentListBaseUrl: emu.url,
    auditLog,
    fetch: spy.f,
    timeoutMs: 5000,
  });
  return { client, auditLog, calls: spy.calls };
}

const ctxFor = (...ps) => {
  const a = attestation(ps[0], PRACTITIONER);
  a.patients = ps.map((id) => ({ identifier: { id, system: FNR } }));
  return TrustContext.fromJSON(a);
};
const atDocument = (mode) => ({ mode, when: (p) => p.startsWith('/mhd/') });
const atSearch = (mode) => ({ mode, when: (p) => p.endsWith('/_search') });
const counted = { retrieval: 0, content: 0, whole: 0, paging: 0, scrub: 0 };

// ---- item 7: retrieval from tillit's own decision ------------------------------------------

test('item 7: only entries this client returned, unchanged, for this context, are retrieved', async () => {
  const { client, calls } = await setup();
  const ehr = client.withContext(ctxFor(patients[0]));
  const r = await ehr.searchDocuments({ patient: patients[0], pageSize: 1000 });
  const e = r.entries[0];
  assert.ok(
    Object.isFrozen(e) && Object.isFrozen(e.content[0].attachment),
    'returned entries are deep-frozen',
  );
  assert.throws(
    () => {
      e.content[0].attachment.url = 'https://evil.example/';
    },
    TypeError,
    'a returned entry cannot be edited',
  );
  const other = (
    await client
      .withContext(ctxFor(patients[1]))
      .searchDocuments({ patient: patients[1], pageSize: 1000 })
  ).entries[0];
  const crafted = [
    ['spread copy', { ...e }],
    ['structuredClone', structuredClone(e)],
    ['JSON copy', JSON.parse(JSON.stringify(e))],
    [
      'copy with another patient',
      { ...e, subject: { identifier: { system: FNR, value: patients[1] } } },
    ],
    [
      'copy pointing at another document',
      {
        ...e,
        content: [
          { attachment: { ...e.content[0].attachment, url: other.content[0].attachment.url } },
        ],
      },
    ],
    [
      'copy with a foreign URL',
      {
        ...e,
        content: [{ attachment: { url: 'https://evil.example/mhd/document?documentUniqueId=1' } }],
      },
    ],
    ['an object inheriting from the entry', Object.create(e)],
    ['a Proxy of the entry', new Proxy(e, {})],
    ['null', null],
    ['undefined', undefined],
    ['a string', 'p0d1'],
    ['a number', 42],
    ["another patient's entry in this view", other],
  ];
  const before = calls.length;
  for (const [name, entry] of crafted) {
    for (const get of [(x) => ehr.getDocument(x), (x) => ehr.getDocumentStream(x)]) {
      await assert.rejects(
        get(entry),
        (err) =>
          err instanceof ArgumentError && err.code === 'INVALID_ARGUMENT' && err.path === 'entry',
        name,
      );
      counted.retrieval++;
    }
  }
  assert.equal(calls.length, before, 'nothing was sent for a crafted entry');
});

test('item 7: the request and the log name the patient the search asked for (two-patient context)', async () => {
  const { client, auditLog, calls } = await setup();
  const both = client.withContext(ctxFor(patients[0], patients[1]));
  const r = await both.searchDocuments({ patient: patients[1], pageSize: 1000 });
  assert.ok(
    r.entries.length > 0 && r.entries.every((x) => x.subject.identifier.value === patients[1]),
  );
  await both.getDocument(r.entries[0]);
  const read = calls.filter((c) => c.path.startsWith('/mhd/'));
  assert.ok(
    read.length >= 1 && read.every((c) => c.nin === patients[1]),
    'nhn-patient-nin is the patient asked for',
  );
  for (const action of ['search', 'read']) {
    const [ev] = auditLog.query({ action });
    const named = ev.entity.filter((x) => x.role?.code === '1').map((x) => x.what.identifier.value);
    assert.deepEqual(named, [patients[1]], `the ${action} log names exactly the patient requested`);
  }
  const served = (await emu.log()).filter((l) => l.endpoint === 'retrieve');
  assert.ok(served.length >= 1 && served.every((l) => l.patient === patients[1]));
  counted.retrieval += 2;
});

test('item 7: an entry is refused in a view of another trust context', async () => {
  const { client } = await setup();
  const r = await client
    .withContext(ctxFor(patients[0]))
    .searchDocuments({ patient: patients[0], pageSize: 1000 });
  const elsewhere = client.withContext(ctxFor(patients[0], patients[1]));
  await assert.rejects(
    elsewhere.getDocument(r.entries[0]),
    (e) => e instanceof ArgumentError && /another trust context/.test(e.rule),
  );
  counted.retrieval++;
});

// ---- items 8 and 9: active content, whole documents ----------------------------------------

const documentFaults = [
  ['doc-html', UnsafeContentError, 'UNSAFE_CONTENT', 'content'],
  ['doc-svg', UnsafeContentError, 'UNSAFE_CONTENT', 'content'],
  ['doc-html-as-pdf', UnsafeContentError, 'UNSAFE_CONTENT', 'content'],
  ['doc-xml', UnsafeContentError, 'UNSAFE_CONTENT', 'content'],
  ['doc-other-patient', WithheldError, 'DOCUMENT_WITHHELD', 'retrieval'],
  ['doc-no-eof', IncompleteDocumentError, 'INCOMPLETE_DOCUMENT', 'whole'],
  ['truncated', IncompleteDocumentError, 'INCOMPLETE_DOCUMENT', 'whole'],
];

for (const [mode, Cls, code, kind] of documentFaults) {
  test(`items 8/9: ${mode} is refused (${code}), logged as failed, no bytes handed over`, async () => {
    const { client, auditLog } = await setup(atDocument(mode));
    const ehr = client.withContext(ctxFor(patients[0]));
    const r = await ehr.searchDocuments({ patient: patients[0], pageSize: 1000 });
    const pdf = r.entries.find((e) => e.content[0].attachment.contentType === 'application/pdf');
    const cda = r.entries.find((e) => e.content[0].attachment.contentType === 'application/xml');
    const entries = mode === 'doc-no-eof' ? [pdf] : [pdf, cda].filter(Boolean);
    for (const entry of entries) {
      await assert.rejects(
        ehr.getDocument(entry),
        (e) =>
          e instanceof Cls &&
          e.code === code &&
          (mode !== 'doc-other-patient' || /^OTHER_PATIENT/.test(e.rule)),
        `${mode} getDocument`,
      );
      counted[kind]++;
      // The stream: refused at once where the type or start decides, at its end otherwise.
      let streamErr;
      try {
        const s = await ehr.getDocumentStream(entry);
        for await (const _ of s.stream) void _;
      } catch (e) {
        streamErr = e;
      }
      assert.ok(
        streamErr instanceof Cls && streamErr.code === code,
        `${mode} stream: ${streamErr}`,
      );
      counted[kind]++;
    }
    await new Promise((r) => setTimeout(r, 20));
    const reads = auditLog.query({ action: 'read' });
    assert.equal(reads.length, entries.length * 2);
    for (const ev of reads) {
      assert.equal(ev.outcome, '4', 'a failed look-up');
      assert.ok(ev.outcomeDesc.includes(code), ev.outcomeDesc);
    }
  });
}

test('items 8/9: whole PDFs and CDA-wrapped PDFs of the right patient pass, also streamed', async () => {
  const { client, auditLog } = await setup();
  const ehr = client.withContext(ctxFor(patients[0]));
  const r = await ehr.searchDocuments({ patient: patients[0], pageSize: 1000 });
  const cda = r.entries.find((e) => e.content[0].attachment.contentType === 'application/xml');
  const pdf = r.entries.find((e) => e.content[0].attachment.contentType === 'application/pdf');
  for (const entry of [cda, pdf].filter(Boolean)) {
    const d = await ehr.getDocument(entry);
    assert.equal(d.contentType, 'application/pdf');
    assert.equal(d.fromCda, entry === cda);
    const s = await ehr.getDocumentStream(entry);
    const chunks = [];
    for await (const c of s.stream) chunks.push(c);
    assert.deepEqual(Buffer.concat(chunks), Buffer.from(d.bytes));
  }
  assert.ok(auditLog.query({ action: 'read' }).every((e) => e.outcome === '0'));
});

// ---- item 10: paging ------------------------------------------------------------------------

test('item 10: an id shown on page 1 and withheld on page 2 is taken back everywhere', async () => {
  const { client, auditLog } = await setup(atSearch('page-block'));
  const ehr = client.withContext(ctxFor(patients[0]));
  const pages = [];
  for await (const p of ehr.searchDocumentPages({ patient: patients[0], pageSize: 3 }))
    pages.push(p);
  assert.ok(pages.length >= 2);
  const first = pages[0].entries[0];
  const later = pages.slice(1);
  assert.ok(later.every((p) => p.retracted.length <= 1));
  assert.deepEqual(
    later[0].retracted.map((x) => [x.id, x.reason]),
    [[first.id, 'DUPLICATE_ID']],
    'page 2 takes back the entry page 1 showed',
  );
  assert.ok(
    later[0].withheld.some(
      (w) => w.id === first.id && ['PATIENT_BLOCK', 'DUPLICATE_ID'].includes(w.reason),
    ),
  );
  for (const p of later.slice(1))
    assert.ok(
      p.withheld.some((w) => w.id === first.id),
      'withheld on every later page',
    );
  assert.ok(later.every((p) => p.entries.every((e) => e.id !== first.id)));
  await assert.rejects(
    ehr.getDocument(first),
    (e) => e instanceof WithheldError && /^DUPLICATE_ID/.test(e.rule),
    'a retracted entry is not retrieved',
  );
  const all = await ehr.searchDocuments({ patient: patients[0], pageSize: 3 });
  assert.ok(!all.entries.some((e) => e.id === first.id), 'searchDocuments decides over all pages');
  assert.ok(all.withheld.some((w) => w.id === first.id && w.reason === 'DUPLICATE_ID'));
  assert.equal(new Set(all.entries.map((e) => e.id)).size, all.entries.length);
  const searches = auditLog.query({ action: 'search' });
  assert.equal(searches.length, 2, 'one log entry per search, not per page');
  assert.ok(searches.every((s) => s.outcome === '0' && /retracted/.test(s.outcomeDesc)));
  counted.paging += 5;
});

test('item 10: an endless next link on empty pages stops, bounded; one log entry, one event id', async () => {
  const { client, auditLog, calls } = await setup(atSearch('endless-next'));
  const ehr = client.withContext(ctxFor(patients[0]));
  const r = await ehr.searchDocuments({ patient: patients[0], pageSize: 1000 });
  assert.equal(r.stop, 'EMPTY_PAGE_WITH_NEXT');
  assert.equal(r.truncated, true);
  const sent = calls.filter((c) => c.path.endsWith('/_search') && c.status === 200);
  assert.equal(sent.length, 2, 'the data page and one empty page');
  assert.equal(new Set(sent.map((c) => c.eventId)).size, 1, 'one nhn-event-id for the search');
  assert.deepEqual(r.transactionIds, [sent[0].eventId]);
  const searches = auditLog.query({ action: 'search' });
  assert.equal(searches.length, 1);
  assert.match(searches[0].outcomeDesc, /2 pages, stopped: EMPTY_PAGE_WITH_NEXT/);
  counted.paging += 2;
});

test('item 10: maxPages bounds a search; bad bounds are typed errors', async () => {
  const { client, auditLog, calls } = await setup();
  const ehr = client.withContext(ctxFor(patients[0]));
  const r = await ehr.searchDocuments({ patient: patients[0], pageSize: 2, maxPages: 2 });
  assert.equal(r.pages, 2);
  assert.equal(r.stop, 'MAX_PAGES');
  assert.equal(r.truncated, true);
  assert.equal(calls.filter((c) => c.path.endsWith('/_search') && c.status === 200).length, 2);
  counted.paging++;
  for (const maxPages of [0, -1, 1.5, 1001, '3', NaN]) {
    await assert.rejects(
      ehr.searchDocuments({ patient: patients[0], maxPages }),
      (e) => e instanceof ArgumentError && e.path === 'maxPages',
      String(maxPages),
    );
    counted.paging++;
  }
  // A caller that stops early still completes the one log entry.
  for await (const p of ehr.searchDocumentPages({ patient: patients[0], pageSize: 2 })) {
    assert.equal(p.page, 1);
    break;
  }
  const last = auditLog.query({ action: 'search' }).at(-1);
  assert.equal(last.outcome, '0');
  assert.match(last.outcomeDesc, /stopped by the caller/);
  counted.paging++;
});

test('item 10: a failing page fails the one log entry of the search', async () => {
  const { client, auditLog } = await setup({
    mode: 'truncated',
    when: (p) => p.endsWith('/_search'),
  });
  await assert.rejects(
    client.withContext(ctxFor(patients[0])).searchDocuments({ patient: patients[0], pageSize: 2 }),
    MalformedResponseError,
  );
  const searches = auditLog.query({ action: 'search' });
  assert.equal(searches.length, 1);
  assert.equal(searches[0].outcome, '4');
  counted.paging++;
});

// ---- item 11: error text --------------------------------------------------------------------

const ID = '13116900216';
const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxMzExNjkwMDIxNiJ9.c2lnbmF0dXJlc2lnbmF0dXJl';
const echoes = [
  ['plain', `patient ${ID} unknown`],
  ['spaces', 'patient 131169 00216 unknown'],
  ['hyphen', 'patient 131169-00216 unknown'],
  ['dots', 'patient 13.11.69.002.16 unknown'],
  ['groups of two', 'patient 13 11 69 00216 unknown'],
  ['in a query', `patient.identifier=urn:oid:2.16.578.1.12.4.1.4.1|${ID}`],
  ['jwt', `token ${JWT} is expired`],
  ['bearer', 'Authorization: Bearer s3cr3t-opaque-token-value'],
  ['dpop', 'DPoP abcdefghijklmnop rejected'],
  ['opaque', 'refresh 4f1c2a9b8e7d6c5b4a39281706f5e4d3c2b1a0ff rejected'],
];
const secret = (s) =>
  /13116900216|131169.00216|13.11.69|eyJhbGci|s3cr3t|abcdefghijklmnop|4f1c2a9b8e7d/.test(s);

/** A fake HelseID + document list answering every search with `answer`. */
function fakeServer(answer) {
  return async (url) => {
    const u = new URL(url);
    const json = (status, body) =>
      new Response(JSON.stringify(body), {
        status,
        headers: { 'content-type': 'application/json' },
      });
    if (u.pathname.endsWith('openid-configuration')) {
      return json(200, {
        issuer: 'https://helseid.example',
        token_endpoint: 'https://helseid.example/token',
        authorization_endpoint: 'https://helseid.example/auth',
        pushed_authorization_request_endpoint: 'https://helseid.example/par',
      });
    }
    return answer(u);
  };
}

test('item 11: server text in OAuthError and FhirError is scrubbed of national ids and tokens', async () => {
  for (const [name, text] of echoes) {
    for (const where of ['oauth', 'fhir', 'oauth-error-code']) {
      const f = fakeServer((u) => {
        if (u.pathname === '/token' && where !== 'fhir') {
          const body =
            where === 'oauth'
              ? { error: 'invalid_request', error_description: text }
              : { error: text };
          return new Response(JSON.stringify(body), {
            status: 400,
            headers: { 'content-type': 'application/json' },
          });
        }
        if (u.pathname === '/token')
          return new Response(
            JSON.stringify({ access_token: 'at-1', token_type: 'DPoP', expires_in: 300 }),
            { status: 200 },
          );
        return new Response(
          JSON.stringify({
            resourceType: 'OperationOutcome',
            issue: [{ code: 'processing', diagnostics: text }],
          }),
          { status: 422 },
        );
      });
      const auditLog = await AuditLog.open({ sink: 'memory' });
      const client = new Client({
        issuer: 'https://helseid.example',
        clientId: 'c',
        key,
        documentListBaseUrl: 'https://api.example',
        auditLog,
        fetch: f,
      });
      const err = await client
        .withContext(ctxFor(patients[0]))
        .searchDocuments({ patient: patients[0] })
        .then(
          () => null,
          (e) => e,
        );
      assert.ok(
        err instanceof (where === 'fhir' ? FhirError : OAuthError),
        `${name}/${where}: ${err}`,
      );
      assert.ok(
        !secret(err.message) &&
          !secret(err.rule) &&
          !secret(err.error ?? '') &&
          !secret(err.issueCode ?? ''),
        `${name}/${where}: ${err.message}`,
      );
      assert.ok(!secret(JSON.stringify(auditLog.query())), `${name}/${where}: the log`);
      counted.scrub++;
    }
  }
});

test("item 11: the login redirect's error text is scrubbed", async () => {
  const f = fakeServer((u) =>
    u.pathname === '/par'
      ? new Response(JSON.stringify({ request_uri: 'urn:x', expires_in: 60 }), { status: 201 })
      : new Response('{}', { status: 500 }),
  );
  for (const [name, text] of echoes) {
    const client = new Client({
      issuer: 'https://helseid.example',
      clientId: 'c',
      key,
      documentListBaseUrl: 'https://api.example',
      auditLog: await AuditLog.open({ sink: 'memory' }),
      fetch: f,
    });
    const { state } = await client.login({ redirectUri: 'https://app.example/cb' });
    const back = `https://app.example/cb?state=${state}&error=${encodeURIComponent(text)}&error_description=${encodeURIComponent(text)}`;
    await assert.rejects(
      client.handleRedirect(back),
      (e) => e instanceof OAuthError && !secret(e.message) && !secret(e.error),
      name,
    );
    counted.scrub++;
  }
});

test('item 11: a member named by a national id is not echoed in a trust-context error path', () => {
  for (const name of [ID, '131169 00216', '131169-00216', '13.11.69.002.16', JWT]) {
    for (const at of ['top', 'practitioner', 'care_relationship']) {
      const a = attestation(patients[0], PRACTITIONER);
      if (at === 'top') a[name] = 1;
      else a[at][name] = 1;
      assert.throws(
        () => TrustContext.fromJSON(a),
        (e) => e instanceof TrustContextError && !secret(e.path) && !secret(e.message),
        `${name} at ${at}`,
      );
      counted.scrub++;
    }
  }
});

test('item 11: minimise and minimiseDocument without a trust context are typed errors', () => {
  const text = JSON.stringify(
    searchset([documentReference('d1', patients[0], 'A01-1', '2025-01-01')]),
  );
  for (const ctx of [null, undefined, {}, 'context', 42, { toJSON: 1 }]) {
    assert.throws(
      () => minimise(text, ctx),
      (e) => e instanceof ArgumentError && e instanceof TillitError && e.path === 'trustContext',
      `minimise ${String(ctx)}`,
    );
    assert.throws(
      () => minimiseDocument({}, null, ctx),
      (e) => e instanceof ArgumentError && e.path === 'trustContext',
      `minimiseDocument ${String(ctx)}`,
    );
    counted.scrub += 2;
  }
});

test('the count of adversarial cases (items 7-11) in this file', () => {
  const total = Object.values(counted).reduce((a, b) => a + b, 0);
  console.log(`adversarial cases: ${JSON.stringify(counted)} total ${total}`);
  assert.ok(total >= 80, `${total}`);
});
