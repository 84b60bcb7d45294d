// Shipping from the IndexedDB sink in headless Chromium to the real tillit-collector
// (SQLite; CORS for the test page's origin with --allow-origin): a page reload and a closed
// tab mid-shipping lose nothing, and two tabs of one log keep one chain and one shipper.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tillit from 'tillit';
import { useBrowser, openPage } from '../support/browser.mjs';
import { startCollector, collectorTokens, controlGet } from '../support/collector.mjs';
import { attestation, syntheticFnr } from '../js/fixtures.mjs';

const chromium = useBrowser();
let c;
let control;
async function collector() {
  if (!c) {
    c = await startCollector({ allowOrigins: [new URL(chromium.server.url).origin] });
    control = await collectorTokens(tillit, c, 'tillit:collector/log-control');
  }
  return c;
}
after(async () => {
  await c?.stop();
});

const tab = () => openPage(chromium.context, `${chromium.server.url}/tests/browser/keys.html`);
const held = async (logId) =>
  (await controlGet(tillit, c, control, `/logs/${encodeURIComponent(logId)}`)).head;

/**
 * Installs `window.collectorKit()` in the page (again after a reload): the client key (from
 * the test's PEM, so a reloaded page has the same one), a fresh DPoP key and `token()`, a
 * collector token the page gets itself (client_credentials at the emulator).
 */
const withKit = (page) =>
  page.evaluate(
    ({ cfg, att }) => {
      window.collectorKit = async () => {
        const { tillit } = window;
        const key = await tillit.importPrivateKey(cfg.pem, { alg: 'ES256' });
        const dpopKey = await tillit.generateKey({ alg: 'ES256' });
        const client = new tillit.Client({
          issuer: cfg.emulatorUrl,
          clientId: cfg.clientId,
          key,
          dpopKey,
          documentListBaseUrl: cfg.emulatorUrl,
          auditLog: await tillit.AuditLog.open({ sink: 'memory' }),
          resources: { others: ['tillit:collector'] },
        });
        const view = client.withContext(
          tillit.TrustContext.fromJSON({ ...att, toa: Math.floor(Date.now() / 1000) }),
        );
        const token = async () =>
          (
            await view.accessToken({
              resource: 'tillit:collector',
              scope: 'tillit:collector/audit.write',
            })
          ).accessToken;
        return { key, dpopKey, token };
      };
    },
    {
      cfg: { url: c.url, emulatorUrl: c.emulatorUrl, clientId: c.clientId, pem: c.pem },
      att: attestation(syntheticFnr(10)),
    },
  );

/**
 * In the page: opens the IndexedDB log `name` shipping to the collector, with a collector
 * token the page gets itself (client_credentials at the emulator, its own DPoP key), and
 * keeps it as window.log; then appends `n` look-ups.
 */
const openAndAppend = async (page, name, n) => {
  await withKit(page);
  return page.evaluate(
    async ({ name, n, cfg, att }) => {
      const { tillit } = window;
      if (!window.log) {
        const { token, dpopKey } = await window.collectorKit();
        window.log = await tillit.AuditLog.open({
          sink: 'indexeddb',
          name,
          ship: {
            url: cfg.url,
            token,
            dpopKey,
            intervalMs: 20,
            maxBackoffMs: 200,
            timeoutMs: 5000,
          },
        });
      }
      const trustContext = tillit.TrustContext.fromJSON({
        ...att,
        toa: Math.floor(Date.now() / 1000),
      });
      for (let i = 0; i < n; i++) {
        const { id } = await window.log.append({
          kind: 'search',
          trustContext,
          clientId: cfg.clientId,
          server: 'https://api.example',
          transactionId: `t-${i}`,
        });
        await window.log.complete(id, { outcome: 'success', completion: { returned: 1 } });
      }
      const { seq, hash } = window.log.head();
      // The status follows the writes within a moment (it is published, not computed per read).
      await new Promise((r) => setTimeout(r, 300));
      const s = window.log.shipping;
      return { head: { seq, hash }, state: s.state, queued: s.queued, logId: s.logId };
    },
    {
      name,
      n,
      cfg: { url: c.url, emulatorUrl: c.emulatorUrl, clientId: c.clientId, pem: c.pem },
      att: attestation(syntheticFnr(11)),
    },
  );
};

const flush = (page) =>
  page.evaluate(async () => {
    try {
      await window.log.flush({ timeoutMs: 15_000 });
    } catch (e) {
      throw new Error(`${e.message}: ${JSON.stringify(window.log.shipping)}`);
    }
    const s = window.log.shipping;
    // The stored log's head (another tab may have written after this tab's last write).
    const v = await window.log.verify({ anchor: s.acknowledged });
    return {
      head: v.head,
      acknowledged: s.acknowledged,
      logId: s.logId,
      ok: v.ok,
      entries: v.entries,
    };
  });

test('records reach the collector after a look-up, and a reload mid-shipping loses nothing', async () => {
  await collector();
  const page = await tab();
  const first = await openAndAppend(page, 'ship-reload', 1);
  const shipped = await flush(page);
  assert.deepEqual(await held(shipped.logId), shipped.head);
  // The collector goes away; look-ups go on; the page is reloaded before anything ships.
  await c.stopCollector();
  const queued = await openAndAppend(page, 'ship-reload', 5);
  assert.equal(queued.queued, 10);
  await page.reload();
  await page.waitForFunction(() => window.ready === true);
  await c.startCollector();
  const again = await openAndAppend(page, 'ship-reload', 0);
  assert.equal(again.logId, first.logId, 'the log id is kept in IndexedDB');
  const r = await flush(page);
  assert.equal(r.ok, true);
  assert.equal(r.entries, 13, 'the declaration and 6 look-ups, each pending and completed');
  assert.deepEqual(await held(r.logId), r.head);
  await page.close();
});

test('two tabs keep one chain and one shipper; closing the shipping tab mid-shipping loses nothing', async () => {
  await collector();
  const a = await tab();
  const b = await tab();
  const ra = await openAndAppend(a, 'ship-tabs', 2);
  const rb = await openAndAppend(b, 'ship-tabs', 2);
  assert.equal(ra.logId, rb.logId);
  // One shipper: the tab that opened first holds the lock; the other stands by.
  assert.equal(rb.state, 'standby');
  await flush(a);
  await c.stopCollector();
  await Promise.all([openAndAppend(a, 'ship-tabs', 10), openAndAppend(b, 'ship-tabs', 10)]);
  // The shipping tab closes with records unshipped; the other takes over.
  await a.close({ runBeforeUnload: false });
  await c.startCollector();
  const r = await flush(b);
  assert.equal(r.ok, true);
  assert.equal(
    r.entries,
    1 + 2 * (2 + 2 + 10 + 10),
    'the declaration and every look-up of both tabs, each pending and completed',
  );
  assert.deepEqual(await held(r.logId), r.head);
  await b.close();
});

test('a forked collector head stops shipping in the browser with AuditForkError', async () => {
  await collector();
  const page = await tab();
  await withKit(page);
  const r = await page.evaluate(
    async ({ cfg, att }) => {
      const { tillit } = window;
      const { token, dpopKey } = await window.collectorKit();
      const ship = {
        url: cfg.url,
        token,
        dpopKey,
        intervalMs: 20,
        logId: `browser-fork-${Date.now()}`,
      };
      // Two logs (another device, or a replaced database) under one log id.
      const a = await tillit.AuditLog.open({ sink: 'indexeddb', name: 'fork-a', ship });
      await a.flush({ timeoutMs: 10_000 });
      const b = await tillit.AuditLog.open({ sink: 'indexeddb', name: 'fork-b', ship });
      const trustContext = tillit.TrustContext.fromJSON({
        ...att,
        toa: Math.floor(Date.now() / 1000),
      });
      await b.append({
        kind: 'search',
        trustContext,
        clientId: cfg.clientId,
        server: 'https://api.example',
        transactionId: 't',
      });
      const err = await b.flush({ timeoutMs: 10_000 }).then(
        () => null,
        (e) => e,
      );
      const s = b.shipping;
      await a.close();
      await b.close();
      return {
        fork: err instanceof tillit.AuditForkError,
        code: err?.code,
        state: s.state,
        stateError: s.error?.code,
      };
    },
    {
      cfg: { url: c.url, emulatorUrl: c.emulatorUrl, clientId: c.clientId, pem: c.pem },
      att: attestation(syntheticFnr(12)),
    },
  );
  assert.deepEqual(r, {
    fork: true,
    code: 'AUDIT_FORK',
    state: 'stopped',
    stateError: 'AUDIT_FORK',
  });
  await page.close();
});

/**
 * In the page: opens the IndexedDB log `name` (checkpoint key and collector key from the
 * test's PEM, so a reloaded page opens the same log) shipping with `retainMs: 0`, keeps it as
 * window.log, appends `n` look-ups, and waits until the collector acknowledged them and
 * shipping pruned (when `prune`). Returns the head, the prune point and the stored keys.
 */
const pruningLog = async (page, name, n, prune = true) => {
  await withKit(page);
  return page.evaluate(
    async ({ name, n, prune, cfg, att }) => {
      const { tillit } = window;
      if (!window.log) {
        const { key, token, dpopKey } = await window.collectorKit();
        window.log = await tillit.AuditLog.open({
          sink: 'indexeddb',
          name,
          checkpointKey: key,
          checkpointEvery: 4,
          ship: { url: cfg.url, token, dpopKey, intervalMs: 20, timeoutMs: 5000, retainMs: 0 },
        });
      }
      const log = window.log;
      const trustContext = tillit.TrustContext.fromJSON({
        ...att,
        toa: Math.floor(Date.now() / 1000),
      });
      for (let i = 0; i < n; i++) {
        const { id } = await log.append({
          kind: 'search',
          trustContext,
          clientId: cfg.clientId,
          server: 'https://api.example',
          transactionId: `t-${i}`,
        });
        await log.complete(id, { outcome: 'success', completion: { returned: 1 } });
      }
      await log.flush({ timeoutMs: 15_000 });
      const before = log.shipping.prunedTo?.seq ?? 0;
      for (let i = 0; prune && i < 250 && (log.shipping.prunedTo?.seq ?? 0) <= before; i++)
        await new Promise((r) => setTimeout(r, 20));
      const db = await new Promise((resolve, reject) => {
        const req = indexedDB.open(`tillit-audit-${name}`);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      const keys = await new Promise((resolve) => {
        const r = db.transaction('records').objectStore('records').getAllKeys();
        r.onsuccess = () => resolve(r.result);
      });
      db.close();
      const v = await log.verify();
      const { seq, hash } = log.head();
      return {
        head: { seq, hash },
        prunedTo: log.shipping.prunedTo,
        acknowledged: log.shipping.acknowledged,
        logId: log.shipping.logId,
        state: log.shipping.state,
        keys,
        verify: { ok: v.ok, signed: v.signed, problem: v.problem },
      };
    },
    {
      name,
      n,
      prune,
      cfg: { url: c.url, emulatorUrl: c.emulatorUrl, clientId: c.clientId, pem: c.pem },
      att: attestation(syntheticFnr(13)),
    },
  );
};

test('IndexedDB: acknowledged records are pruned after retainMs, and the log reopens and ships on', async () => {
  await collector();
  const page = await tab();
  const r = await pruningLog(page, 'prune-reload', 6);
  assert.ok(r.prunedTo, 'pruned');
  assert.ok(r.prunedTo.seq <= r.acknowledged.seq, 'only what the collector acknowledged');
  assert.ok(r.prunedTo.seq < r.head.seq, 'never the last record');
  // The declaration, then the records after the prune point, nothing else.
  const stored = [0];
  for (let s = r.prunedTo.seq + 1; s <= r.head.seq; s++) stored.push(s);
  assert.deepEqual(r.keys, stored);
  assert.deepEqual(r.verify, { ok: true, signed: true, problem: undefined });
  // A reload opens the pruned log (verified from the prune point) and writes and ships on.
  await page.reload();
  await page.waitForFunction(() => window.ready === true);
  const again = await pruningLog(page, 'prune-reload', 1, false);
  assert.equal(again.logId, r.logId);
  assert.equal(again.head.seq, r.head.seq + 2, 'a look-up and its completion');
  assert.deepEqual(again.verify, { ok: true, signed: true, problem: undefined });
  assert.deepEqual(await held(again.logId), again.head);
  await page.close();
});

test('IndexedDB: the tab that does not ship follows the shipping tab’s prune and writes on', async () => {
  await collector();
  const a = await tab();
  const b = await tab();
  const ra = await pruningLog(a, 'prune-tabs', 1, false);
  const rb = await pruningLog(b, 'prune-tabs', 1, false);
  assert.equal(rb.state, 'standby');
  // Tab a writes on and prunes past tab b's head.
  const pa = await pruningLog(a, 'prune-tabs', 8);
  assert.ok(pa.prunedTo.seq > rb.head.seq, 'the prune point is past the other tab’s head');
  assert.equal(ra.logId, pa.logId);
  // Tab b writes on: it reads the stored log again from the prune point, verified.
  const rb2 = await pruningLog(b, 'prune-tabs', 2, false);
  assert.deepEqual(rb2.verify, { ok: true, signed: true, problem: undefined });
  assert.ok(rb2.head.seq > pa.head.seq);
  const pa2 = await pruningLog(a, 'prune-tabs', 1, false);
  assert.deepEqual(pa2.verify, { ok: true, signed: true, problem: undefined });
  assert.deepEqual(await held(pa2.logId), pa2.head, 'one chain at the collector');
  await a.close();
  await b.close();
});

test('IndexedDB: records deleted without a prune point stop the log and it does not open', async () => {
  const page = await tab();
  const r = await page.evaluate(
    async (att) => {
      const { tillit } = window;
      const name = 'prune-forged';
      let log = await tillit.AuditLog.open({ sink: 'indexeddb', name });
      const trustContext = tillit.TrustContext.fromJSON({
        ...att,
        toa: Math.floor(Date.now() / 1000),
      });
      const entry = (i) => ({
        kind: 'search',
        trustContext,
        clientId: 'c',
        server: 'https://api.example',
        transactionId: `t-${i}`,
      });
      for (let i = 0; i < 3; i++) await log.append(entry(i));
      // Someone with the database deletes the first look-ups, as a prune would.
      const db = await new Promise((resolve) => {
        const req = indexedDB.open(`tillit-audit-${name}`);
        req.onsuccess = () => resolve(req.result);
      });
      await new Promise((resolve) => {
        const tx = db.transaction('records', 'readwrite');
        tx.objectStore('records').delete(IDBKeyRange.bound(1, 2));
        tx.oncomplete = resolve;
      });
      db.close();
      const err = await log.append(entry(9)).then(
        () => null,
        (e) => e,
      );
      await log.close();
      const reopen = await tillit.AuditLog.open({ sink: 'indexeddb', name }).then(
        () => null,
        (e) => e,
      );
      return {
        append: err instanceof tillit.AuditIntegrityError && err.code,
        problem: err?.problem,
        reopen: reopen instanceof tillit.AuditIntegrityError && reopen.code,
      };
    },
    attestation(syntheticFnr(14)),
  );
  assert.equal(r.append, 'AUDIT_FAILURE');
  assert.match(r.problem, /^SINK_DIVERGED: records after the declaration are gone/);
  assert.equal(r.reopen, 'AUDIT_FAILURE');
  await page.close();
});
