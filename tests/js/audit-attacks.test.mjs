// Issue 17: the access log's tamper evidence against someone who can rewrite it, through the
// public API in Node (file sink): stripped checkpoints, laundering by reopening, a sink that
// loses acknowledged records, erasing a look-up by reusing its id, and the frozen format
// (golden logs of format 0 keep verifying and are continued). Variants: strip one
// checkpoint, strip the last, re-sign with another key, truncate after an anchor, two
// writers on one file. The attacker's tools are independent (audit-tamper.mjs: `canonicalize`,
// node:crypto) and `jose` (signing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactSign, importJWK } from 'jose';
import * as tillit from 'tillit';
// Read from the namespace, not named imports: run against a build from before issue 17
// (scripts/audit-attacks-before.sh), a missing export fails the tests that use it instead of
// failing the whole file at import.
const {
  AuditLog,
  AuditError,
  AuditIntegrityError,
  TrustContext,
  generateKey,
  importPrivateKey,
  verifyLines,
} = tillit;
import { rechain } from './audit-tamper.mjs';
import { attestation, syntheticFnr } from './fixtures.mjs';

const patient = syntheticFnr(4);
const victim = syntheticFnr(7);
const ctx = TrustContext.fromJSON(attestation(patient));
const base = { trustContext: ctx, clientId: 'tillit-ehr', server: 'https://api.pjd.test.nhn.no' };
const tmp = () => mkdtempSync(join(tmpdir(), 'tillit-attack-'));
const read = (file) => readFileSync(file, 'utf8').split('\n').filter(Boolean);
const write = (file, lines) => writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
const fixtures = new URL('../fixtures/', import.meta.url).pathname;

/** A keyed file log: `n` look-ups (pending + completion), a checkpoint every `every`, closed. */
async function keyedLog(n = 10, every = 3) {
  const file = join(tmp(), 'log.ndjson');
  const checkpointKey = await generateKey({ alg: 'ES256' });
  const log = await AuditLog.open({ sink: { file }, checkpointKey, checkpointEvery: every });
  for (let i = 0; i < n; i++) {
    const { id } = await log.append({ ...base, kind: 'search', transactionId: `t${i}` });
    await log.complete(id, { outcome: 'success', completion: { returned: i } });
  }
  // head() is issue 17's: optional here so the attacks below also run on a build without it.
  const anchor = log.head?.();
  await log.close();
  return { file, checkpointKey, anchor };
}
const kinds = (lines) => lines.map((l) => JSON.parse(l).kind);

test('a keyed log declares its key and interval, and has a checkpoint every N records and at close', async () => {
  const { file, checkpointKey } = await keyedLog(10, 3);
  const lines = read(file);
  const decl = JSON.parse(lines[0]);
  assert.equal(decl.kind, 'declaration');
  assert.equal(decl.body.format, 1);
  assert.equal(decl.body.checkpointEvery, 3);
  const { jwkThumbprint } = tillit;
  assert.equal(decl.body.checkpointKey.thumbprint, await jwkThumbprint(checkpointKey.publicJwk));
  // 20 event records: a checkpoint after every third, and one at close for the last two.
  assert.equal(
    kinds(lines).join(' '),
    [
      'declaration',
      ...Array(6).fill('event event event checkpoint'.split(' ')).flat(),
      'event',
      'event',
      'checkpoint',
    ].join(' '),
  );
  const v = await verifyLines(lines, checkpointKey.publicJwk);
  assert.deepEqual(
    [v.ok, v.signed, v.checkpoints, v.checkpointsVerified, v.unsignedTail],
    [true, true, 7, 8, 0],
  );
  // The declaration's signature checks with an independent JOSE library.
  const { compactVerify } = await import('jose');
  const { payload, protectedHeader } = await compactVerify(
    decl.body.jws,
    await importJWK(checkpointKey.publicJwk, 'ES256'),
  );
  const { jws: _, ...claims } = decl.body;
  assert.deepEqual(JSON.parse(new TextDecoder().decode(payload)), claims);
  assert.equal(protectedHeader.typ, 'tillit-declaration+jwt');
});

test('attack 1: every checkpoint stripped and the chain recomputed fails, with or without the key', async () => {
  const { file, checkpointKey } = await keyedLog(10, 3);
  const stripped = rechain(read(file).filter((l) => JSON.parse(l).kind !== 'checkpoint'));
  assert.deepEqual(outcome(await verifyLines(stripped, checkpointKey.publicJwk)), [
    false,
    4,
    'CHECKPOINT_MISSING',
  ]);
  // Without the key the declaration still demands them.
  assert.equal((await verifyLines(stripped)).problem.split(':')[0], 'CHECKPOINT_MISSING');
  // Rewriting the declaration to say "no key": the key exposes it; without it, `signed` is false.
  const lines = read(file)
    .filter((l) => JSON.parse(l).kind !== 'checkpoint')
    .map((l) => JSON.parse(l));
  const { jws: _, ...claims } = lines[0].body;
  lines[0].body = { ...claims, checkpointKey: null };
  const unkeyed = rechain(lines);
  const r = await verifyLines(unkeyed, checkpointKey.publicJwk);
  assert.deepEqual([r.ok, r.firstBadIndex, r.problem.split(':')[0]], [false, 0, 'KEY_MISMATCH']);
  const blind = await verifyLines(unkeyed);
  assert.deepEqual([blind.ok, blind.signed, blind.checkpointKey], [true, false, null]);
});

/** A closed keyed log's lines, and where its checkpoints are. */
async function keyedLines() {
  const { file, checkpointKey } = await keyedLog(10, 3);
  const good = read(file);
  return {
    good,
    checkpointKey,
    cps: kinds(good).flatMap((k, i) => (k === 'checkpoint' ? [i] : [])),
  };
}
const outcome = (r) => [r.ok, r.firstBadIndex, r.problem?.split(':')[0]];

test('variant: one checkpoint stripped, the chain recomputed', async () => {
  const { good, checkpointKey, cps } = await keyedLines();
  const one = rechain(good.filter((_, i) => i !== cps[2]));
  assert.deepEqual(outcome(await verifyLines(one, checkpointKey.publicJwk)), [
    false,
    cps[2],
    'CHECKPOINT_MISSING',
  ]);
});

test('variant: an extra checkpoint (a copy of the one before), the chain recomputed', async () => {
  const { good, checkpointKey, cps } = await keyedLines();
  const extra = rechain([...good.slice(0, cps[1] + 1), good[cps[1]], ...good.slice(cps[1] + 1)]);
  assert.deepEqual(outcome(await verifyLines(extra, checkpointKey.publicJwk)), [
    false,
    cps[1] + 1,
    'CHECKPOINT_EXTRA',
  ]);
});

test('variant: re-signed with another key: one checkpoint, a broken signature, a whole log', async () => {
  const { good, checkpointKey, cps } = await keyedLines();
  // A checkpoint whose JWS is signed by another key over the right claims.
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const resigned = good.map((l) => JSON.parse(l));
  const cp = resigned[cps[1]];
  const claims = JSON.parse(Buffer.from(cp.body.jws.split('.')[1], 'base64url'));
  cp.body.jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'ES256', typ: 'tillit-checkpoint+jwt' })
    .sign(privateKey);
  assert.deepEqual(outcome(await verifyLines(rechain(resigned), checkpointKey.publicJwk)), [
    false,
    cps[1],
    'CHECKPOINT_INVALID',
  ]);
  // A whole log forged with another key verifies only as that key's log.
  const forger = await generateKey({ alg: 'ES256' });
  const forged = join(tmp(), 'forged.ndjson');
  const f = await AuditLog.open({
    sink: { file: forged },
    checkpointKey: forger,
    checkpointEvery: 3,
  });
  await f.append({ ...base, kind: 'search', transactionId: 'forged' });
  await f.close();
  const r3 = await verifyLines(read(forged), checkpointKey.publicJwk);
  assert.deepEqual([r3.ok, r3.firstBadIndex, r3.problem.split(':')[0]], [false, 0, 'KEY_MISMATCH']);
  // A signature that does not verify at all.
  const broken = good.map((l) => JSON.parse(l));
  broken[cps[0]].body.jws = broken[cps[0]].body.jws.slice(0, -4) + 'AAAA';
  assert.equal(
    (await verifyLines(rechain(broken), checkpointKey.publicJwk)).problem.split(':')[0],
    'CHECKPOINT_INVALID',
  );
});

test('attack 2: reopening a rewritten log with the key refuses, touches nothing and signs nothing', async () => {
  const { file, checkpointKey } = await keyedLog(10, 3);
  write(file, rechain(read(file).filter((l) => JSON.parse(l).kind !== 'checkpoint')));
  const before = readFileSync(file);
  const e = await AuditLog.open({ sink: { file }, checkpointKey }).catch((x) => x);
  assert.ok(e instanceof Error && e.code === 'AUDIT_FAILURE', `open gave ${String(e)}`);
  assert.ok(e instanceof AuditIntegrityError, String(e));
  assert.match(e.problem, /CHECKPOINT_MISSING/);
  assert.equal(e.index, 4);
  assert.deepEqual(readFileSync(file), before, 'the file is untouched');
  // Opening a keyed log without its key, or an unkeyed one with a key, is refused too.
  const { file: f2 } = await keyedLog(2, 3);
  await assert.rejects(
    AuditLog.open({ sink: { file: f2 } }),
    (x) => x instanceof AuditIntegrityError && /KEY_MISMATCH/.test(x.problem),
  );
  const f3 = join(tmp(), 'unkeyed.ndjson');
  await (await AuditLog.open({ sink: { file: f3 } })).close();
  await assert.rejects(
    AuditLog.open({ sink: { file: f3 }, checkpointKey }),
    (x) => x instanceof AuditIntegrityError && /KEY_MISMATCH/.test(x.problem),
  );
  // A torn tail on a log that does not verify is not repaired either.
  writeFileSync(file, Buffer.concat([before, Buffer.from('{"seq":9')]));
  const torn = readFileSync(file);
  await assert.rejects(AuditLog.open({ sink: { file }, checkpointKey }), AuditIntegrityError);
  assert.deepEqual(readFileSync(file), torn);
});

test('attack 3: a sink that loses acknowledged records stops the log; the anchor exposes the loss', async () => {
  const checkpointKey = await generateKey({ alg: 'ES256' });
  const stored = [];
  const sink = { append: async (l) => void stored.push(...l), read: async () => [...stored] };
  const log = await AuditLog.open({ sink, checkpointKey, checkpointEvery: 4 });
  for (let i = 0; i < 6; i++) await log.append({ ...base, kind: 'search', transactionId: `a${i}` });
  const anchor = log.head?.();
  for (let i = 0; i < 6; i++) await log.append({ ...base, kind: 'search', transactionId: `b${i}` });
  // The sink loses its last six records, two signed checkpoints among them.
  const kept = stored.length - 6;
  stored.splice(kept);
  const e = await log.append({ ...base, kind: 'search', transactionId: 'c' }).catch((x) => x);
  assert.ok(
    e instanceof Error && /^SINK_DIVERGED/.test(e.problem),
    `the append after the loss gave ${JSON.stringify(e) ?? String(e)}`,
  );
  assert.ok(e instanceof AuditIntegrityError);
  // The look-up is refused, and every later one: nothing is sent unlogged.
  await assert.rejects(
    log.append({ ...base, kind: 'search', transactionId: 'd' }),
    AuditIntegrityError,
  );
  assert.equal(stored.length, kept);
  assert.equal(
    kept,
    10,
    'the declaration, 6 look-ups, 1 checkpoint; then 6 look-ups, 2 checkpoints lost',
  );
  // What is left verifies as a chain, but not against the head held outside.
  assert.equal((await log.verify()).ok, true);
  const v = await log.verify({ anchor: log.head() });
  assert.deepEqual([v.ok, v.firstBadIndex, v.problem.split(':')[0]], [false, 10, 'TRUNCATED']);
  assert.equal((await log.verify({ anchor })).ok, true, 'the loss is after the older anchor');
});

test('variant: truncation after an anchor', async () => {
  const { file, checkpointKey, anchor } = await keyedLog(5, 3);
  const good = read(file);
  assert.equal(anchor.seq, good.length - 2, 'head() before close: the closing checkpoint follows');
  assert.ok(anchor.checkpoint && anchor.checkpoint.seq < anchor.seq);
  assert.equal((await verifyLines(good, { publicJwk: checkpointKey.publicJwk, anchor })).ok, true);
  for (const cut of [anchor.seq, anchor.seq - 3, 2]) {
    const r = await verifyLines(good.slice(0, cut), { publicJwk: checkpointKey.publicJwk, anchor });
    assert.deepEqual([r.ok, r.firstBadIndex, r.problem.split(':')[0]], [false, cut, 'TRUNCATED']);
  }
  // Cut and rewritten beyond the anchor: the anchored record is another.
  const rewritten = good.slice(0, anchor.seq + 1).map((l) => JSON.parse(l));
  rewritten[anchor.seq].body.id = '00000000-0000-4000-8000-000000000000';
  const r = await verifyLines(rechain(rewritten), { anchor });
  assert.deepEqual(
    [r.ok, r.firstBadIndex, r.problem.split(':')[0]],
    [false, anchor.seq, 'ANCHOR_MISMATCH'],
  );
  await assert.rejects(
    verifyLines(good, { anchor: { seq: 1, hash: 'nope' } }),
    (e) => e.code === 'INVALID_ARGUMENT' && e.path === 'anchor',
  );
});

test('variant: the last checkpoint stripped', async () => {
  const { file, checkpointKey } = await keyedLog(5, 3);
  const good = read(file);
  // The last (closing) checkpoint stripped: without an anchor that held it, the log reads as
  // one whose writer did not close it, and says so: records after the last signature.
  const noClose = good.slice(0, -1);
  const v = await verifyLines(noClose, checkpointKey.publicJwk);
  assert.deepEqual([v.ok, v.unsignedTail], [true, 1]);
  const closed = await verifyLines(good, checkpointKey.publicJwk);
  assert.equal(closed.unsignedTail, 0);
  const afterClose = { seq: good.length - 1, hash: JSON.parse(good.at(-1)).hash };
  assert.equal(
    (
      await verifyLines(noClose, { publicJwk: checkpointKey.publicJwk, anchor: afterClose })
    ).problem.split(':')[0],
    'TRUNCATED',
  );
});

test('variant: a file cut short under a live log stays noticed after verify() read the shorter file', async () => {
  const file = join(tmp(), 'cut.ndjson');
  const log = await AuditLog.open({ sink: { file } });
  for (let i = 0; i < 5; i++) await log.append({ ...base, kind: 'search', transactionId: `c${i}` });
  write(file, read(file).slice(0, -2));
  // What is left is a valid chain: verify() says so, and must not make the log forget its end.
  assert.equal((await log.verify()).ok, true);
  const e = await log.append({ ...base, kind: 'search', transactionId: 'after' }).catch((x) => x);
  assert.ok(
    e instanceof Error && /^SINK_DIVERGED/.test(e.problem),
    `the append after the cut gave ${JSON.stringify(e) ?? String(e)}`,
  );
  assert.equal(read(file).length, 4, 'nothing written after the cut');
});

test('variant: two writers on one file: the second notices before it writes, the file stays one chain', async () => {
  const file = join(tmp(), 'shared.ndjson');
  const a = await AuditLog.open({ sink: { file } });
  await a.append({ ...base, kind: 'search', transactionId: 'a0' });
  const b = await AuditLog.open({ sink: { file } });
  await a.append({ ...base, kind: 'search', transactionId: 'a1' });
  const e = await b.append({ ...base, kind: 'search', transactionId: 'b0' }).catch((x) => x);
  assert.ok(
    e instanceof Error && /^SINK_DIVERGED/.test(e.problem),
    `the second writer's append gave ${JSON.stringify(e) ?? String(e)}`,
  );
  assert.ok(e instanceof AuditIntegrityError);
  await a.append({ ...base, kind: 'search', transactionId: 'a2' });
  // And the other way round: a's view is stale once b (reopened) writes.
  const b2 = await AuditLog.open({ sink: { file } });
  await b2.append({ ...base, kind: 'search', transactionId: 'b1' });
  await assert.rejects(
    a.append({ ...base, kind: 'search', transactionId: 'a3' }),
    AuditIntegrityError,
  );
  await a.close();
  await b.close();
  await b2.close();
  const v = await verifyLines(read(file));
  assert.deepEqual([v.ok, v.entries], [true, 5]);
});

test('attack 4: ids belong to the log; a later record never hides an earlier look-up', async () => {
  const log = await AuditLog.open({ sink: 'memory' });
  const first = await log.append({ ...base, kind: 'read', transactionId: 'x1', documentId: 'd1' });
  const other = { ...base, trustContext: TrustContext.fromJSON(attestation(victim)) };
  const e = await log
    .append({ ...other, id: first.id, kind: 'read', transactionId: 'x2', documentId: 'd2' })
    .catch((x) => x);
  assert.ok(
    e instanceof AuditError && e.path === 'event.id',
    `an append reusing an earlier id gave ${JSON.stringify(e)}`,
  );
  await log.complete(first.id, { outcome: 'success' });
  await assert.rejects(
    log.complete(first.id, { outcome: 'failure' }),
    (x) => x instanceof AuditError && x.path === 'id',
  );
  // Two completions asked for at once: one is stored.
  const second = await log.append({ ...base, kind: 'search', transactionId: 'x3' });
  const both = await Promise.allSettled([
    log.complete(second.id, { outcome: 'success' }),
    log.complete(second.id, { outcome: 'failure' }),
  ]);
  assert.deepEqual(
    both.map((r) => r.status),
    ['fulfilled', 'rejected'],
  );
  assert.equal(log.citizenReport(patient).length, 2);

  // A log rewritten by hand (no key, rechained) with a record reusing the earlier id for
  // another patient, and a completion naming the other patient: the earlier look-up stays.
  const lines = log
    .export('ndjson')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const forgedLog = await AuditLog.open({ sink: 'memory' });
  await forgedLog.append({ ...other, kind: 'read', transactionId: 'y', documentId: 'd2' });
  const foreign = JSON.parse(forgedLog.export('ndjson').trim().split('\n')[1]);
  const pendingReuse = { ...foreign, body: { ...foreign.body, id: first.id } };
  const completionReuse = {
    ...foreign,
    body: { ...foreign.body, id: second.id, outcome: '0', outcomeDesc: 'success' },
  };
  const stored = rechain([...lines, pendingReuse, completionReuse]);
  assert.equal(
    (await verifyLines(stored)).ok,
    true,
    'an unsigned log can be rewritten: the readers must not be fooled',
  );
  const forged = await AuditLog.open({
    sink: { append: async () => {}, read: async () => stored },
  });
  assert.equal(forged.citizenReport(patient).length, 2, 'both earlier look-ups are still there');
  assert.equal(forged.query({ patient }).length, 2);
  assert.equal(forged.query({ patient: victim }).length, 2);
  assert.equal(forged.query().length, 4);
  assert.equal(forged.report().lookUps, 4);
});

test('attack 5: golden logs of format 0 verify (when accepted), and are read and continued by this build', async () => {
  const pub = JSON.parse(readFileSync(join(fixtures, 'golden-v0-key.public.jwk.json'), 'utf8'));
  const priv = JSON.parse(readFileSync(join(fixtures, 'golden-v0-key.private.jwk.json'), 'utf8'));
  const signed = read(join(fixtures, 'golden-v0-signed.ndjson'));
  const unsigned = read(join(fixtures, 'golden-v0-unsigned.ndjson'));
  assert.deepEqual(
    outcome(await verifyLines(signed, pub)),
    [false, 0, 'FORMAT'],
    'format 0 only when accepted',
  );
  const s = await verifyLines(signed, { publicJwk: pub, acceptLegacy: true });
  assert.deepEqual(
    [s.ok, s.entries, s.format, s.checkpointsVerified, s.signed],
    [true, 23, 0, 5, true],
  );
  const u = await verifyLines(unsigned, { acceptLegacy: true });
  assert.deepEqual([u.ok, u.entries, u.format, u.signed], [true, 20, 0, false]);
  // Edited golden records still fail.
  const edited = [...signed];
  edited[5] = edited[5].replace('"s1-2"', '"s1-X"');
  assert.equal(
    (await verifyLines(edited, { publicJwk: pub, acceptLegacy: true })).firstBadIndex,
    5,
  );

  // Continue the signed one with its key.
  const file = join(tmp(), 'old.ndjson');
  copyFileSync(join(fixtures, 'golden-v0-signed.ndjson'), file);
  const checkpointKey = await importPrivateKey(priv, { alg: 'ES256' });
  await assert.rejects(
    AuditLog.open({ sink: { file }, checkpointKey }),
    (e) => e instanceof AuditIntegrityError && /^FORMAT/.test(e.problem) && e.index === 0,
  );
  const log = await AuditLog.open({
    sink: { file },
    checkpointKey,
    checkpointEvery: 5,
    acceptLegacy: true,
  });
  assert.equal(log.query().length, 10, 'the old look-ups are read');
  for (let i = 0; i < 7; i++)
    await log.append({ ...base, kind: 'search', transactionId: `new-${i}` });
  await log.close();
  const lines = read(file);
  assert.equal(
    lines.slice(0, 23).join('\n'),
    signed.join('\n'),
    'the old records are kept byte for byte',
  );
  assert.equal(JSON.parse(lines[23]).kind, 'declaration');
  assert.equal(JSON.parse(lines[23]).body.legacyRecords, 23);
  const v = await verifyLines(lines, { publicJwk: pub, acceptLegacy: true });
  assert.deepEqual([v.ok, v.format, v.entries, v.unsignedTail], [true, 1, 33, 0]);
  const again = await AuditLog.open({ sink: { file }, checkpointKey, acceptLegacy: true });
  assert.equal(again.query().length, 17);
  await again.close();
});
