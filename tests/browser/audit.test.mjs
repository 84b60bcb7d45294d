// The IndexedDB sink in headless Chromium: two tabs appending at once make one valid chain,
// and the log survives a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, openPage } from '../support/browser.mjs';
import { createHash } from 'node:crypto';
import { attestation, syntheticFnr } from '../js/fixtures.mjs';

const chromium = useBrowser();

const tab = () => openPage(chromium.context, `${chromium.server.url}/tests/browser/keys.html`);

const appendMany = async (page, who, n, att) =>
  page.evaluate(async ({ who, n, att }) => {
    const { tillit } = window;
    const log = await tillit.AuditLog.open({ sink: 'indexeddb', name: 'shared' });
    const trustContext = tillit.TrustContext.fromJSON(att);
    const done = [];
    for (let i = 0; i < n; i++) {
      done.push(log.append({ kind: 'search', trustContext, clientId: who, server: 'https://api.example', transactionId: `${who}-${i}` }));
      if (i % 5 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    await Promise.all(done);
    await log.close();
    return n;
  }, { who, n, att });

test('two tabs appending concurrently yield one valid chain that survives a reload', async () => {
  const [a, b] = [await tab(), await tab()];
  await Promise.all([appendMany(a, 'tab-a', 40, attestation()), appendMany(b, 'tab-b', 40, attestation())]);
  await a.reload();
  await a.waitForFunction(() => window.ready === true);
  const r = await a.evaluate(async () => {
    const log = await window.tillit.AuditLog.open({ sink: 'indexeddb', name: 'shared' });
    const v = await log.verify();
    const clients = log.query().map((e) => e.agent[0].who.display);
    return { v, a: clients.filter((c) => c === 'tab-a').length, b: clients.filter((c) => c === 'tab-b').length };
  });
  assert.equal(r.v.ok, true, JSON.stringify(r.v));
  assert.equal(r.v.entries, 80);
  assert.deepEqual([r.a, r.b], [40, 40]);
});

test("records chained in Chromium (the core's own SHA-256, from shared beginnings) verify with Node's crypto", async () => {
  const page = await tab();
  // 1 to 9 appends at once: batches of one record and of several. Two
  // clients and two patients: batches whose records begin alike (the hashing starts after the
  // shared blocks), batches that change the context, and batches that mix two contexts.
  const lines = await page.evaluate(async ([attA, attB]) => {
    const { tillit } = window;
    const log = await tillit.AuditLog.open({ sink: 'memory' });
    const a = tillit.TrustContext.fromJSON(attA);
    const b = tillit.TrustContext.fromJSON(attB);
    for (let n = 1; n <= 9; n++) {
      await Promise.all(Array.from({ length: n }, (_, i) => {
        const trustContext = n % 3 === 0 ? b : n > 6 && i % 2 ? b : a;
        const kind = i % 4 === 3 ? { kind: 'read', documentId: `urn:oid:1.2.3.${i}` } : { kind: 'search' };
        return log.append({ ...kind, trustContext, clientId: `c${n % 2}`, server: 'https://api.example', transactionId: `t-${n}-${'x'.repeat(i * 7)}` });
      }));
    }
    return log.export('ndjson').trim().split('\n');
  }, [attestation(), attestation(syntheticFnr(7))]);
  assert.equal(lines.length, 45);
  let prev = null;
  for (const line of lines) {
    const { hash, ...rest } = JSON.parse(line);
    // The record's canonical form without `hash`: the line with that one member taken out.
    const hashed = line.replace(`,"hash":"${hash}"`, '');
    assert.deepEqual(JSON.parse(hashed), rest);
    assert.equal(createHash('sha256').update(hashed).digest('hex'), hash);
    if (prev !== null) assert.equal(rest.prev, prev);
    prev = hash;
  }
});
