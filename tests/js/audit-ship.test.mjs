// Shipping the access log to the real tillit-collector (SQLite), with an emulator as HelseID:
// records arrive after a look-up; a collector that was down gets everything once; a restart
// or a crash mid-shipping loses nothing; a forked collector head stops shipping with a typed
// error; after pruning, verify({ anchor }) still holds. The protocol is the collector's
// (collector/src/http.rs: PUT /logs/{logId}, POST /logs/{logId}/records, { seq, hash }).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as tillit from 'tillit';
import { startCollector, collectorTokens, controlGet } from '../support/collector.mjs';
import { attestation, syntheticFnr } from './fixtures.mjs';

const { AuditLog, TrustContext, AuditForkError, ShippingError, verifyLines, generateKey } = tillit;

let c;
let writer;
let control;
before(async () => {
  c = await startCollector();
  writer = await collectorTokens(tillit, c);
  control = await collectorTokens(tillit, c, 'tillit:collector/log-control');
});
after(async () => {
  await c?.stop();
});

const patient = syntheticFnr(9);
const tc = () =>
  TrustContext.fromJSON({ ...attestation(patient), toa: Math.floor(Date.now() / 1000) });
const tmpFile = () => join(mkdtempSync(join(tmpdir(), 'tillit-ship-')), 'access.ndjson');
const ship = (extra = {}) => ({
  url: c.url,
  token: writer.token,
  dpopKey: writer.dpopKey,
  intervalMs: 20,
  maxBackoffMs: 200,
  timeoutMs: 5000,
  ...extra,
});

async function lookUp(log, i = 0) {
  const { id } = await log.append({
    kind: 'search',
    trustContext: tc(),
    clientId: c.clientId,
    server: 'https://api.pjd.test.nhn.no',
    transactionId: `t-${i}-${Date.now()}`,
  });
  await log.complete(id, { outcome: 'success', completion: { httpStatus: 200, returned: 1 } });
}

/** The collector's view of a log (log control). */
async function held(logId) {
  const r = await controlGet(tillit, c, control, `/logs/${encodeURIComponent(logId)}`);
  return Array.isArray(r) ? r[0] : (r.logs?.[0] ?? r);
}

const headOf = (log) => {
  const { seq, hash } = log.head();
  return { seq, hash };
};

test('records reach the collector after a look-up, and its head becomes the anchor', async () => {
  const events = [];
  const log = await AuditLog.open({ sink: { file: tmpFile() }, ship: ship() });
  log.addEventListener('shipping', (e) => events.push(e.detail.state));
  await lookUp(log);
  await log.flush({ timeoutMs: 10_000 });
  const s = log.shipping;
  assert.equal(s.queued, 0);
  assert.equal(s.oldestUnshipped, null);
  assert.deepEqual(s.acknowledged, headOf(log));
  const h = await held(s.logId);
  assert.deepEqual(h.head, headOf(log), 'the collector holds the log up to the local head');
  assert.equal((await log.verify({ anchor: s.acknowledged })).ok, true);
  assert.ok(events.includes('sending') && events.includes('idle'), events.join());
  // The look-up itself is at the collector (ITI-81).
  const found = await controlGet(tillit, c, control, `/AuditEvent?patient=${patient}`);
  assert.ok(
    found.entry.some(
      (e) => e.resource.id === JSON.parse(log.export('ndjson').trim().split('\n')[1]).body.id,
    ),
  );
  await log.close();
});

test('a collector down for a while: look-ups go on, the queue and its age show, then everything arrives once', async () => {
  const file = tmpFile();
  const log = await AuditLog.open({ sink: { file }, ship: ship() });
  await log.flush({ timeoutMs: 10_000 });
  await c.stopCollector();
  try {
    const statuses = [];
    log.addEventListener('shipping', (e) => statuses.push(e.detail));
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) await lookUp(log, i);
    // Writing never waited for the collector (each look-up is two local writes).
    assert.ok(Date.now() - t0 < 10_000);
    // Between attempts (an attempt may be in flight when looked at under load).
    for (
      let i = 0;
      i < 250 &&
      !(
        log.shipping.state === 'retrying' &&
        log.shipping.queued === 40 &&
        log.shipping.oldestUnshippedAgeMs >= 300
      );
      i++
    )
      await new Promise((r) => setTimeout(r, 20));
    const s = log.shipping;
    assert.equal(s.state, 'retrying');
    assert.equal(s.queued, 40);
    assert.ok(s.attempts >= 1 && s.error?.code, JSON.stringify(s));
    assert.ok(s.oldestUnshippedAgeMs >= 300, `age ${s.oldestUnshippedAgeMs}`);
    assert.ok(s.retryInMs <= 200, 'the backoff stays under maxBackoffMs');
    assert.ok(statuses.some((x) => x.state === 'retrying' && x.queued > 0));
  } finally {
    await c.startCollector();
  }
  await log.flush({ timeoutMs: 15_000 });
  const h = await held(log.shipping.logId);
  assert.deepEqual(h.head, headOf(log));
  assert.deepEqual(h.incidents ?? [], [], 'no gap, fork or duplicate was seen');
  await log.close();
});

test('a restart and a crash mid-shipping lose nothing: shipping resumes from the stored head', async () => {
  const file = tmpFile();
  // A service that writes and is killed before its records are shipped (collector down).
  await c.stopCollector();
  const script = `
    import * as t from 'tillit';
    const k = await t.importPrivateKey(process.env.PEM, { alg: 'ES256' });
    const log = await t.AuditLog.open({ sink: { file: process.env.FILE }, ship: { url: process.env.URL, token: () => 'x', dpopKey: await t.generateKey({ alg: 'ES256' }), logId: 'crash-test-1', intervalMs: 10 } });
    for (let i = 0; i < 5; i++) await log.append({ kind: 'read', trustContext: JSON.parse(process.env.TC), clientId: 'c', server: 'https://s', transactionId: 'x' + i, documentId: 'd' + i });
    process.exit(0); // no close: a crash
  `;
  try {
    await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: new URL('..', import.meta.url).pathname,
      env: {
        ...process.env,
        PEM: c.pem,
        FILE: file,
        URL: c.url,
        TC: JSON.stringify(tc().toJSON()),
      },
    });
  } finally {
    await c.startCollector();
  }
  assert.ok(existsSync(`${file}.ship.json`), 'the shipping state is kept beside the log');
  // Opened again (the same log id, from the stored state), it ships what the crash left.
  const log = await AuditLog.open({ sink: { file }, ship: ship() });
  await log.flush({ timeoutMs: 10_000 });
  assert.equal(log.shipping.logId, 'crash-test-1');
  assert.equal(log.length, 6);
  assert.deepEqual((await held('crash-test-1')).head, headOf(log));
  await lookUp(log);
  await log.close();
  // A clean restart: what was acknowledged is not sent again, the rest is.
  const again = await AuditLog.open({ sink: { file }, ship: ship() });
  await again.flush({ timeoutMs: 10_000 });
  assert.deepEqual((await held('crash-test-1')).head, headOf(again));
  await again.close();
});

test('a forked collector head stops shipping with AuditForkError, and it stays stopped', async () => {
  const logId = `fork-test-${Date.now()}`;
  const a = await AuditLog.open({ sink: 'memory', ship: ship({ logId }) });
  await lookUp(a);
  await a.flush({ timeoutMs: 10_000 });
  // Another chain under the same log id: the collector's head is not on it.
  const file = tmpFile();
  const b = await AuditLog.open({ sink: { file }, ship: ship({ logId }) });
  await lookUp(b);
  await lookUp(b);
  const err = await b.flush({ timeoutMs: 10_000 }).then(
    () => null,
    (e) => e,
  );
  assert.ok(err instanceof AuditForkError, String(err));
  assert.ok(err instanceof ShippingError);
  assert.equal(err.code, 'AUDIT_FORK');
  assert.equal(err.reason, 'FORK');
  assert.equal(b.shipping.state, 'stopped');
  assert.ok(b.shipping.error instanceof AuditForkError);
  // The local log still works (look-ups are not blocked), and nothing more is shipped.
  await lookUp(b);
  assert.ok(b.shipping.queued > 0);
  assert.deepEqual((await held(logId)).head, headOf(a));
  await b.close();
  const b2 = await AuditLog.open({ sink: { file }, ship: ship({ logId }) });
  assert.equal(b2.shipping.state, 'stopped');
  assert.equal(b2.shipping.error.code, 'AUDIT_FORK');
  await b2.close();
  await a.close();
});

test('acknowledged records are pruned after retainMs, and verify({ anchor }) still holds', async () => {
  const file = tmpFile();
  const checkpointKey = await generateKey({ alg: 'ES256' });
  const opts = { sink: { file }, checkpointKey, checkpointEvery: 4, ship: ship({ retainMs: 0 }) };
  const log = await AuditLog.open(opts);
  for (let i = 0; i < 6; i++) await lookUp(log, i);
  await log.flush({ timeoutMs: 10_000 });
  // Pruning happens on an idle round.
  for (let i = 0; i < 100 && !log.shipping.prunedTo; i++)
    await new Promise((r) => setTimeout(r, 20));
  const pruned = log.shipping.prunedTo;
  assert.ok(pruned, 'pruned');
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const recs = lines.map((l) => JSON.parse(l));
  assert.equal(recs[0].kind, 'declaration');
  assert.equal(recs[1].seq, pruned.seq + 1, 'the log continues after the prune point');
  assert.equal(recs[1].prev, pruned.hash);
  assert.ok(lines.length < log.length);
  // Pruned only up to a checkpoint the collector holds.
  assert.ok(pruned.seq <= log.shipping.acknowledged.seq);
  const anchor = log.shipping.acknowledged;
  assert.equal((await log.verify({ anchor })).ok, true);
  const v = await verifyLines(lines, { publicJwk: checkpointKey.publicJwk, anchor: pruned });
  assert.equal(v.ok, true, v.problem);
  assert.equal(v.signed, true);
  // Without the anchor, the missing records show.
  const bare = await verifyLines(lines, { publicJwk: checkpointKey.publicJwk });
  assert.equal(bare.ok, false);
  assert.match(bare.problem, /^MISSING_OR_REORDERED/);
  // An anchor inside the pruned part cannot be checked: refused, not assumed.
  const early = { seq: 1, hash: JSON.parse(log.export('ndjson').split('\n')[0]).hash };
  assert.equal((await verifyLines(lines, { anchor: early, prunedTo: pruned })).ok, false);
  await log.close();
  // The pruned log opens again (its prune point is in the shipping state) and ships on.
  const again = await AuditLog.open(opts);
  await lookUp(again, 9);
  await again.flush({ timeoutMs: 10_000 });
  assert.deepEqual((await held(again.shipping.logId)).head, headOf(again));
  assert.equal((await again.verify({ anchor: again.shipping.acknowledged })).ok, true);
  await again.close();
});

test('a local log cut below the head the collector acknowledged does not open (TRUNCATED)', async () => {
  const file = tmpFile();
  const log = await AuditLog.open({ sink: { file }, ship: ship() });
  for (let i = 0; i < 3; i++) await lookUp(log, i);
  await log.flush({ timeoutMs: 10_000 });
  assert.equal((await log.verify()).ok, true, 'verify() checks the acknowledged head by default');
  await log.close();
  const { writeFileSync } = await import('node:fs');
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  writeFileSync(
    file,
    lines
      .slice(0, 4)
      .map((l) => `${l}\n`)
      .join(''),
  );
  await assert.rejects(
    AuditLog.open({ sink: { file }, ship: ship() }),
    (e) => e instanceof tillit.AuditIntegrityError && /^TRUNCATED/.test(e.problem),
  );
  // Without the shipping state the cut would not show: the state is what makes it evidence.
  assert.equal((await verifyLines(lines.slice(0, 4))).ok, true);
});

test('bad ship options fail open() with the field named', async () => {
  for (const [bad, path] of [
    [{ url: 'not a url' }, 'ship.url'],
    [{ token: 'abc' }, 'ship.token'],
    [{ dpopKey: {} }, 'ship.dpopKey'],
    [{ batch: 0 }, 'ship.batch'],
    [{ intervalMs: 1 }, 'ship.intervalMs'],
    [{ logId: 'has space' }, 'ship.logId'],
  ]) {
    await assert.rejects(
      AuditLog.open({ sink: 'memory', ship: ship(bad) }),
      (e) => e.path === path,
      path,
    );
  }
});
