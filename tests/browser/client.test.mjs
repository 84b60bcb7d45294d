// The client in headless Chromium against the emulator (CORS): client_credentials, exactly
// one nonce retry at the token endpoint and at the resource, tokens per patient, token
// exchange, retrieval, and every fault mode ending in a typed error, bounded in time.
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
      window.setup = async (fault, timeoutMs = 5000) => {
        const { tillit } = window;
        const calls = [];
        const f = async (url, init = {}) => {
          const headers = new Headers(init.headers);
          const path = new URL(url).pathname;
          if (fault && path.endsWith('/_search')) headers.set('x-emulator-fault', fault);
          const res = await fetch(url, { ...init, headers });
          calls.push({ path, status: res.status, auth: headers.get('authorization') });
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
          timeoutMs,
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

test('Chromium: client_credentials with one nonce retry each, tokens per patient, exchange, retrieval', async () => {
  const r = await chromium.page.evaluate(
    async ({ a0, a1, p0, p1 }) => {
      const { tillit } = window;
      const { client, auditLog, calls } = await window.setup();
      const v0 = client.withContext(tillit.TrustContext.fromJSON(a0));
      const s0 = await v0.searchDocuments({ patient: p0, pageSize: 100 });
      const s1 = await client
        .withContext(tillit.TrustContext.fromJSON(a1))
        .searchDocuments({ patient: p1, pageSize: 100 });
      const doc = await v0.getDocument(s0.entries[0]);
      const x = await v0.exchangeToken({ scope: 'nhn:phr/mhd/read-document' });
      const tokenCalls = calls.filter((c) => c.path === '/connect/token').map((c) => c.status);
      const searches = calls.filter((c) => c.path.endsWith('/_search'));
      return {
        n0: s0.entries.length,
        n1: s1.entries.length,
        firstToken: tokenCalls.slice(0, 2),
        firstSearch: searches.slice(0, 2).map((c) => c.status),
        tokens: new Set(searches.filter((c) => c.status === 200).map((c) => c.auth)).size,
        pdf: new TextDecoder().decode(doc.bytes.slice(0, 5)),
        exchanged: x.accessToken.length > 20,
        logOk: (await auditLog.verify()).ok,
      };
    },
    {
      a0: attestation(patients[0], PRACTITIONER),
      a1: attestation(patients[1], PRACTITIONER),
      p0: patients[0],
      p1: patients[1],
    },
  );
  assert.ok(r.n0 > 0 && r.n1 > 0);
  assert.deepEqual(r.firstToken, [400, 200]);
  assert.deepEqual(r.firstSearch, [401, 200]);
  assert.equal(r.tokens, 2);
  assert.equal(r.pdf, '%PDF-');
  assert.equal(r.exchanged, true);
  assert.equal(r.logOk, true);
});

for (const [fault, cls] of [
  ['500', 'FhirError'],
  ['503', 'FhirError'],
  ['truncated', 'MalformedResponseError'],
  ['malformed', 'MalformedResponseError'],
  ['nonce', 'OAuthError'],
  ['expired-token', 'OAuthError'],
  ['latency=2000', 'TimeoutError'],
]) {
  test(`Chromium: fault ${fault} → ${cls}, logged, bounded`, async () => {
    const r = await chromium.page.evaluate(
      async ({ fault, a0, p0 }) => {
        const { tillit } = window;
        const { client, auditLog } = await window.setup(fault, 800);
        const t0 = performance.now();
        try {
          await client
            .withContext(tillit.TrustContext.fromJSON(a0))
            .searchDocuments({ patient: p0 });
          return { ok: true };
        } catch (e) {
          return {
            name: e.constructor.name,
            code: e.code,
            ms: performance.now() - t0,
            outcome: auditLog.query({ action: 'search' })[0]?.outcome,
          };
        }
      },
      { fault, a0: attestation(patients[0], PRACTITIONER), p0: patients[0] },
    );
    assert.equal(r.name, cls, JSON.stringify(r));
    assert.ok(r.ms < 6000);
    assert.ok(['4', '8'].includes(r.outcome));
  });
}
