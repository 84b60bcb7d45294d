// Issue 16, items 7-11, in headless Chromium against the emulator (CORS): crafted entries are
// refused, active content and truncated documents are refused with their codes (also from a
// stream), another patient's CDA is withheld, pages keep their memory and stop on endless
// links, and error text is scrubbed. The same public API as the Node tests.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { usePage } from '../support/browser.mjs';
import { startEmulator, PRACTITIONER } from '../support/emulator.mjs';
import { attestation } from '../js/fixtures.mjs';

let emu, patients, jwk;

const chromium = usePage('tests/browser/keys.html', async ({ page }) => {
  emu = await startEmulator();
  patients = await emu.patients();
  jwk = createPrivateKey(emu.pem).export({ format: 'jwk' });
  await page.evaluate(
    ({ emuUrl, clientId, jwk }) => {
      /** A client whose requests to paths starting or ending with `at` carry the fault. */
      window.setupRetrieval = async (fault, at) => {
        const { tillit } = window;
        const calls = [];
        const f = async (url, init = {}) => {
          const headers = new Headers(init.headers);
          const path = new URL(url).pathname;
          if (fault && (path.startsWith(at) || path.endsWith(at)))
            headers.set('x-emulator-fault', fault);
          const res = await fetch(url, { ...init, headers });
          calls.push({ path, status: res.status });
          return res;
        };
        const key = await tillit.importPrivateKey(jwk, { alg: 'ES256' });
        const auditLog = await tillit.AuditLog.open({ sink: 'memory' });
        const client = new tillit.Client({
          issuer: emuUrl,
          clientId,
          key,
          documentListBaseUrl: emuUrl,
          auditLog,
          fetch: f,
          timeoutMs: 5000,
        });
        return { client, auditLog, calls };
      };
    },
    { emuUrl: emu.url, clientId: emu.clientId, jwk },
  );
});
after(async () => {
  await emu?.stop();
});

let cases = 0;

test('Chromium: crafted entries are refused before anything is sent', async () => {
  const r = await chromium.page.evaluate(
    async ({ a0, p0 }) => {
      const { tillit } = window;
      const { client, calls } = await window.setupRetrieval();
      const v = client.withContext(tillit.TrustContext.fromJSON(a0));
      const s = await v.searchDocuments({ patient: p0, pageSize: 1000 });
      const e = s.entries[0];
      const before = calls.length;
      const out = [];
      for (const x of [
        { ...e },
        structuredClone(e),
        JSON.parse(JSON.stringify(e)),
        Object.create(e),
        null,
        'id',
      ]) {
        for (const get of [(y) => v.getDocument(y), (y) => v.getDocumentStream(y)]) {
          out.push(
            await get(x).then(
              () => 'ok',
              (err) => `${err.constructor.name}:${err.code}:${err.path}`,
            ),
          );
        }
      }
      const url = e.content[0].attachment.url;
      try {
        e.content[0].attachment.url = 'https://evil.example/';
      } catch {
        /* strict code throws; sloppy code is ignored */
      }
      const editable =
        e.content[0].attachment.url !== url || !Object.isFrozen(e.content[0].attachment);
      return { out, sent: calls.length - before, editable };
    },
    { a0: attestation(patients[0], PRACTITIONER), p0: patients[0] },
  );
  assert.equal(r.out.length, 12);
  assert.ok(
    r.out.every((x) => x === 'ArgumentError:INVALID_ARGUMENT:entry'),
    r.out.join(','),
  );
  assert.equal(r.sent, 0);
  assert.equal(r.editable, false);
  cases += r.out.length;
});

for (const [fault, cls, code] of [
  ['doc-html', 'UnsafeContentError', 'UNSAFE_CONTENT'],
  ['doc-svg', 'UnsafeContentError', 'UNSAFE_CONTENT'],
  ['doc-html-as-pdf', 'UnsafeContentError', 'UNSAFE_CONTENT'],
  ['doc-xml', 'UnsafeContentError', 'UNSAFE_CONTENT'],
  ['doc-other-patient', 'WithheldError', 'DOCUMENT_WITHHELD'],
  ['doc-no-eof', 'IncompleteDocumentError', 'INCOMPLETE_DOCUMENT'],
  ['truncated', 'IncompleteDocumentError', 'INCOMPLETE_DOCUMENT'],
]) {
  test(`Chromium: ${fault} → ${cls} (${code}) from getDocument and getDocumentStream, logged as failed`, async () => {
    const r = await chromium.page.evaluate(
      async ({ fault, a0, p0 }) => {
        const { tillit } = window;
        const { client, auditLog } = await window.setupRetrieval(fault, '/mhd/');
        const v = client.withContext(tillit.TrustContext.fromJSON(a0));
        const s = await v.searchDocuments({ patient: p0, pageSize: 1000 });
        const entry = s.entries.find(
          (e) => e.content[0].attachment.contentType === 'application/pdf',
        );
        const whole = await v.getDocument(entry).then(
          () => 'ok',
          (e) => `${e.constructor.name}:${e.code}`,
        );
        let streamed = 'ok';
        try {
          const d = await v.getDocumentStream(entry);
          const reader = d.stream.getReader();
          while (!(await reader.read()).done);
        } catch (e) {
          streamed = `${e.constructor.name}:${e.code}`;
        }
        await new Promise((r) => setTimeout(r, 20));
        return {
          whole,
          streamed,
          outcomes: auditLog.query({ action: 'read' }).map((e) => e.outcome),
        };
      },
      { fault, a0: attestation(patients[0], PRACTITIONER), p0: patients[0] },
    );
    assert.equal(r.whole, `${cls}:${code}`);
    assert.equal(r.streamed, `${cls}:${code}`);
    assert.deepEqual(r.outcomes, ['4', '4']);
    cases += 2;
  });
}

test('Chromium: page memory, endless next links, one log entry per search', async () => {
  const r = await chromium.page.evaluate(
    async ({ a0, p0 }) => {
      const { tillit } = window;
      const blocked = await window.setupRetrieval('page-block', '/_search');
      const v = blocked.client.withContext(tillit.TrustContext.fromJSON(a0));
      const pages = [];
      for await (const p of v.searchDocumentPages({ patient: p0, pageSize: 3 })) pages.push(p);
      const first = pages[0].entries[0];
      const retracted = pages[1].retracted.map((x) => `${x.id}:${x.reason}`);
      const refused = await v.getDocument(first).then(
        () => 'ok',
        (e) => `${e.constructor.name}:${e.rule.split(':')[0]}`,
      );
      const endless = await window.setupRetrieval('endless-next', '/_search');
      const s = await endless.client
        .withContext(tillit.TrustContext.fromJSON(a0))
        .searchDocuments({ patient: p0, pageSize: 1000 });
      return {
        firstId: first.id,
        retracted,
        refused,
        logs: blocked.auditLog.query({ action: 'search' }).length,
        stop: s.stop,
        truncated: s.truncated,
        sent: endless.calls.filter((c) => c.path.endsWith('/_search') && c.status === 200).length,
      };
    },
    { a0: attestation(patients[0], PRACTITIONER), p0: patients[0] },
  );
  assert.deepEqual(r.retracted, [`${r.firstId}:DUPLICATE_ID`]);
  assert.equal(r.refused, 'WithheldError:DUPLICATE_ID');
  assert.equal(r.logs, 1);
  assert.equal(r.stop, 'EMPTY_PAGE_WITH_NEXT');
  assert.equal(r.truncated, true);
  assert.equal(r.sent, 2);
  cases += 3;
});

test('Chromium: error text is scrubbed; minimise without a context is a typed error', async () => {
  const r = await chromium.page.evaluate(async () => {
    const { tillit } = window;
    const texts = [
      '131169 00216',
      '131169-00216',
      '13.11.69.002.16',
      'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
      'Bearer abcdefghijklmnop',
    ];
    const messages = texts.map(
      (t) => new tillit.FhirError(422, 'processing', `patient ${t}`).message,
    );
    const minimiseNull = (() => {
      try {
        tillit.minimise('{"resourceType":"Bundle","entry":[]}', null);
        return 'ok';
      } catch (e) {
        return `${e.constructor.name}:${e.code}:${e.path}`;
      }
    })();
    return { messages, minimiseNull };
  });
  for (const m of r.messages) assert.ok(!/131169|13\.11\.69|eyJhbGci|abcdefghijklmnop/.test(m), m);
  assert.equal(r.minimiseNull, 'ArgumentError:INVALID_ARGUMENT:trustContext');
  cases += r.messages.length + 1;
});

test('Chromium: the count of adversarial cases', () => {
  console.log(`adversarial cases in Chromium: ${cases}`);
  assert.ok(cases >= 30, String(cases));
});
