// The access log through the package: write-ahead entries, the chain, tamper detection,
// the NDJSON file sink surviving a SIGKILL, failing sinks, checkpoints, log control, and
// AuditEvents that an independent FHIR R4 validator accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  mkdtempSync,
  readFileSync,
  writeFileSync,
  appendFileSync,
  existsSync,
  readdirSync,
  symlinkSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fhirpkg from 'fhir';
import {
  AuditLog,
  AuditError,
  AuditIntegrityError,
  TrustContext,
  generateKey,
  verifyLines,
} from 'tillit';
import { attestation, syntheticFnr } from './fixtures.mjs';

const fhir = new fhirpkg.Fhir();
const patient = syntheticFnr(4);
const withName = () => {
  const a = attestation(patient);
  a.practitioner.identifier.name = 'Lege Lise Lauritzen';
  a.practitioner.point_of_care.name = 'Testsykehuset HF';
  return a;
};
const ctx = TrustContext.fromJSON(withName());
const base = { trustContext: ctx, clientId: 'tillit-ehr', server: 'https://api.pjd.test.nhn.no' };
const tmp = () => mkdtempSync(join(tmpdir(), 'tillit-audit-'));
const lines = (file) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

test('write-ahead: pending before, completed after; AuditEvents are valid FHIR R4', async () => {
  const log = await AuditLog.open({ sink: 'memory' });
  const { id, seq } = await log.append({
    ...base,
    kind: 'search',
    transactionId: 'tx-1',
    query: 'patient.identifier=x&status=current',
  });
  assert.equal(seq, 1, 'record 0 is the declaration');
  assert.equal(log.query()[0].outcome, undefined);
  await log.complete(id, {
    outcome: 'success',
    completion: { httpStatus: 200, returned: 3, withheld: { PATIENT_BLOCK: 1 }, leaks: 0 },
  });
  const r = await log.append({
    ...base,
    kind: 'read',
    transactionId: 'tx-2',
    documentId: '1.2.3^4.5.6',
    tokenJti: 'abc',
  });
  await log.complete(r.id, { outcome: 'failure', completion: { httpStatus: 403 } });
  const events = log.query();
  assert.deepEqual(
    events.map((e) => [e.action, e.outcome]),
    [
      ['E', '0'],
      ['R', '4'],
    ],
  );
  assert.equal(log.length, 5);
  for (const e of events) {
    const v = fhir.validate(e);
    assert.deepEqual(
      v.messages.filter((m) => m.severity === 'error'),
      [],
      JSON.stringify(v.messages),
    );
  }
  const b = log.export('bundle');
  assert.equal(fhir.validate(b).valid, true);
  assert.equal(b.entry.length, 2);
  assert.equal(log.export('ndjson').trim().split('\n').length, 5);
  const v = await log.verify();
  assert.deepEqual(
    [
      v.ok,
      v.entries,
      v.firstBadIndex,
      v.problem,
      v.signed,
      v.format,
      v.checkpointKey,
      v.unsignedTail,
    ],
    [true, 5, undefined, undefined, false, 1, null, 5],
  );
});

test('a failing sink blocks the look-up (fail closed) and leaves the chain intact', async () => {
  let fail = false;
  const stored = [];
  const sink = {
    append: async (l) => {
      if (fail) throw new Error('disk full');
      stored.push(...l);
    },
    read: async () => [...stored],
  };
  const log = await AuditLog.open({ sink });
  await log.append({ ...base, kind: 'search', transactionId: 'a' });
  fail = true;
  await assert.rejects(
    log.append({ ...base, kind: 'search', transactionId: 'b' }),
    (e) => e instanceof AuditError && e.code === 'AUDIT_FAILURE',
  );
  fail = false;
  await log.append({ ...base, kind: 'search', transactionId: 'c' });
  assert.equal((await verifyLines(stored)).ok, true);
  assert.equal(stored.length, 3);
  await assert.rejects(AuditLog.open({ sink: { append: 1 } }), AuditError);
  await assert.rejects(log.complete('nope', { outcome: 'success' }), AuditError);
});

test('concurrent appends: one bad entry fails alone, the rest are stored in order and chained', async () => {
  const log = await AuditLog.open({ sink: 'memory' });
  // 600 appends in one tick: more than one batch; entry 300 is bad (a token where a jti goes).
  const results = await Promise.allSettled(
    Array.from({ length: 600 }, (_, i) =>
      log.append({
        ...base,
        kind: 'search',
        transactionId: `t-${i}`,
        tokenJti: i === 300 ? 'eyJhbGciOiJFUzI1NiJ9.eyJ4IjoxfQ.c2ln' : `j-${i}`,
      }),
    ),
  );
  const bad = results.filter((r) => r.status === 'rejected');
  assert.equal(bad.length, 1);
  assert.ok(
    bad[0].reason instanceof AuditError && bad[0].reason.path === 'event.tokenJti',
    String(bad[0].reason?.path),
  );
  assert.equal(log.length, 600);
  const seqs = results.filter((r) => r.status === 'fulfilled').map((r) => r.value.seq);
  assert.deepEqual(new Set(seqs).size, 599);
  const v = await log.verify();
  assert.equal(v.ok, true);
  assert.equal(v.entries, 600);
  // Every stored entry is the one its caller was told about.
  const byTx = new Map(
    log
      .query()
      .map((e) => [e.entity.find((x) => x.type.code === 'XrequestId').what.identifier.value, e.id]),
  );
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') assert.equal(byTx.get(`t-${i}`), r.value.id);
  });
});

test('editing, deleting or reordering any entry is detected', async () => {
  const dir = tmp();
  const file = join(dir, 'log.ndjson');
  const log = await AuditLog.open({ sink: { file } });
  for (let i = 0; i < 6; i++) await log.append({ ...base, kind: 'search', transactionId: `t${i}` });
  await log.close();
  const good = lines(file);
  assert.equal((await verifyLines(good)).ok, true);
  const edited = [...good];
  edited[3] = edited[3].replace('"t2"', '"tX"');
  assert.deepEqual(
    [(await verifyLines(edited)).firstBadIndex, (await verifyLines(edited)).ok],
    [3, false],
  );
  const deleted = good.filter((_, i) => i !== 4);
  assert.equal((await verifyLines(deleted)).firstBadIndex, 4);
  const reordered = [good[0], good[2], good[1], ...good.slice(3)];
  assert.equal((await verifyLines(reordered)).firstBadIndex, 1);
  // A tampered file refuses to open: nothing is appended to a broken chain.
  writeFileSync(file, edited.join('\n') + '\n');
  await assert.rejects(
    AuditLog.open({ sink: { file } }),
    (e) => e instanceof AuditError && /does not verify/.test(e.rule),
  );
});

test('killing a Node process mid-write loses no acknowledged entry; the torn tail is repaired, not dropped', async () => {
  const dir = tmp();
  const file = join(dir, 'crash.ndjson');
  const child = spawn(
    process.execPath,
    [new URL('./audit-writer.mjs', import.meta.url).pathname, file],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const acked = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop();
    acked.push(...parts);
  });
  // Kill it once it has acknowledged a good number of entries (and at least 1.5 s in): on a
  // loaded machine the writer's start alone can take seconds.
  const t0 = Date.now();
  while ((acked.length <= 50 || Date.now() - t0 < 1500) && Date.now() - t0 < 30000)
    await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  assert.ok(acked.length > 50, `the writer acknowledged ${acked.length} entries`);
  // Simulate the crash landing mid-line as well.
  appendFileSync(file, '{"seq":99999,"prev":"abc","ki');
  const log = await AuditLog.open({ sink: { file } });
  assert.ok(log.recovered && log.recovered.tornBytes > 0);
  assert.ok(existsSync(log.recovered.savedAs), 'the torn bytes are kept for inspection');
  const ids = new Set(log.query().map((e) => e.id));
  for (const id of acked) assert.ok(ids.has(id), 'an acknowledged entry is missing');
  const v = await log.verify();
  assert.equal(v.ok, true);
  assert.equal(JSON.parse(lines(file).at(-1)).kind, 'recovery');
  await log.close();
});

test('signed checkpoints are verified and a forged one is caught', async () => {
  const checkpointKey = await generateKey({ alg: 'ES256' });
  const stored = [];
  const sink = { append: async (l) => void stored.push(...l), read: async () => [...stored] };
  const log = await AuditLog.open({ sink, checkpointKey, checkpointEvery: 3 });
  for (let i = 0; i < 7; i++) await log.append({ ...base, kind: 'search', transactionId: `c${i}` });
  await log.checkpoint();
  const v = await log.verify();
  assert.equal(v.ok, true);
  assert.ok(v.checkpointsVerified >= 3, `${v.checkpointsVerified} checkpoints`);
  const other = await generateKey({ alg: 'ES256' });
  const r = await verifyLines(stored, other.publicJwk);
  assert.equal(r.ok, false);
  assert.match(r.problem, /KEY_MISMATCH/);
});

test('log control and the citizen view', async () => {
  const log = await AuditLog.open({ sink: 'memory' });
  const btg = withName();
  btg.care_relationship.purpose_of_use.code = 'BTG';
  btg.care_relationship.decision_ref.user_selected = true;
  const a = await log.append({ ...base, kind: 'search', transactionId: 'q1' });
  await log.complete(a.id, { outcome: 'success' });
  await log.append({
    ...base,
    trustContext: TrustContext.fromJSON(btg),
    kind: 'read',
    transactionId: 'q2',
    documentId: 'd',
  });
  assert.equal(log.query({ purpose: 'BTG' }).length, 1);
  assert.equal(log.query({ patient }).length, 2);
  assert.equal(log.query({ patient: syntheticFnr(9) }).length, 0);
  const rep = log.report({ volumeThreshold: 1 });
  assert.equal(rep.emergencyAccess.length, 1);
  assert.equal(rep.selfGranted.length, 1);
  assert.equal(rep.outcomeUnknown.length, 1);
  assert.equal(rep.unusualVolume[0].lookUps, 2);
  const seen = log.citizenReport(patient);
  assert.equal(seen.length, 2);
  assert.deepEqual(
    [seen[0].who, seen[0].organisation, seen[0].role, seen[0].why],
    ['Lege Lise Lauritzen', 'Testsykehuset HF', 'LE', 'Innlagt'],
  );
  const text = JSON.stringify(seen);
  assert.ok(
    !text.includes(attestation().practitioner.identifier.id),
    'never the practitioner national id',
  );
});

test('record hashes are SHA-256 over RFC 8785 canonical JSON, as an independent JCS implementation computes them', async () => {
  const { default: canonicalize } = await import('canonicalize');
  const { createHash } = await import('node:crypto');
  const log = await AuditLog.open({ sink: 'memory' });
  const a = await log.append({
    ...base,
    kind: 'search',
    transactionId: 'jcs-1',
    query: 'x=æøå&y="quoted"\n',
  });
  await log.complete(a.id, {
    outcome: 'success',
    completion: { returned: 2, withheld: { PATIENT_BLOCK: 1 } },
  });
  let prev = '0'.repeat(64);
  for (const line of log.export('ndjson').trim().split('\n')) {
    const rec = JSON.parse(line);
    assert.equal(line, canonicalize(rec), 'the stored line is itself canonical');
    const { hash, ...rest } = rec;
    assert.equal(hash, createHash('sha256').update(canonicalize(rest)).digest('hex'));
    assert.equal(rec.prev, prev);
    prev = hash;
  }
});

test('records keep non-ASCII text through every sink: the bytes the core wrote, the text a custom sink receives, the file, the read side', async () => {
  const att = withName();
  att.practitioner.identifier.name = 'Lege Åse Ødegård';
  att.practitioner.point_of_care.name = 'Sykehuset Østfold «Kalnes»';
  const tc = TrustContext.fromJSON(att);
  const stored = [];
  const custom = {
    append: async (l) => {
      stored.push(...l);
    },
    read: async () => stored,
  };
  const file = join(tmp(), 'log.ndjson');
  for (const sink of ['memory', custom, { file }]) {
    const log = await AuditLog.open({ sink });
    const ids = await Promise.all(
      [1, 2, 3].map((i) =>
        log.append({ ...base, trustContext: tc, kind: 'search', transactionId: `æ-${i}` }),
      ),
    );
    await log.complete(ids[0].id, {
      outcome: 'failure',
      completion: { description: 'tilgang nektet – reservasjon' },
    });
    const exported = log.export('ndjson');
    assert.equal(exported.split('\n').length, 6);
    assert.ok(exported.endsWith('\n'));
    const seen = log.citizenReport(patient);
    assert.deepEqual(
      [seen.length, seen[0].who, seen[0].organisation],
      [3, 'Lege Åse Ødegård', 'Sykehuset Østfold «Kalnes»'],
    );
    assert.match(log.query()[0].outcomeDesc, /tilgang nektet – reservasjon/);
    assert.equal((await log.verify()).ok, true);
    if (sink === custom) assert.equal(stored.map((l) => `${l}\n`).join(''), exported);
    if (sink.file) {
      assert.equal(readFileSync(file, 'utf8'), exported);
      await log.close();
      const again = await AuditLog.open({ sink: { file } });
      assert.equal(again.export('ndjson'), exported);
      assert.equal(again.citizenReport(patient)[0].who, 'Lege Åse Ødegård');
      await again.close();
    }
  }
});

test('a write the disk refuses part-way is taken back: refused entries leave no bytes, acknowledged ones all verify', async () => {
  const file = join(tmp(), 'full.ndjson');
  // 16 KiB of file at most, about four records: batches are cut off mid-write.
  const writer = new URL('./audit-full-disk.mjs', import.meta.url).pathname;
  const child = spawn(
    'bash',
    ['-c', `trap '' XFSZ; ulimit -f 16; exec "${process.execPath}" "${writer}" "${file}"`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  assert.equal(await new Promise((r) => child.on('exit', r)), 0);
  const said = out.trim().split('\n');
  const acked = said.filter((l) => l.startsWith('ok ')).map((l) => l.slice(3));
  const refused = said.filter((l) => l.startsWith('refused '));
  assert.ok(acked.length >= 2 && refused.length >= 10, out);
  assert.ok(
    refused.every((l) => l === 'refused AUDIT_FAILURE'),
    out,
  );
  // Every line in the file is whole and acknowledged: no torn tail to set aside.
  const log = await AuditLog.open({ sink: { file } });
  assert.equal(log.recovered, undefined);
  assert.deepEqual(
    log
      .query()
      .map((e) => e.id)
      .sort(),
    [...acked].sort(),
  );
  assert.equal((await log.verify()).ok, true);
  await log.close();
});

test('a file swapped under the log (here for /dev/full) is noticed before any write, and every later write is refused', async () => {
  const dir = tmp();
  const file = join(dir, 'log.ndjson');
  const log = await AuditLog.open({ sink: { file } });
  // The declaration is written at open; the file is opened again at the next write after
  // close: make that /dev/full (every write fails, and a character device cannot be truncated).
  await log.close();
  rmSync(file);
  symlinkSync('/dev/full', file);
  const first = await log.append({ ...base, kind: 'search', transactionId: 'f1' }).catch((e) => e);
  assert.ok(
    first instanceof AuditIntegrityError &&
      first.code === 'AUDIT_FAILURE' &&
      /^SINK_DIVERGED/.test(first.problem),
    String(first),
  );
  const second = await log.append({ ...base, kind: 'search', transactionId: 'f2' }).catch((e) => e);
  assert.ok(
    second instanceof AuditIntegrityError && /^SINK_DIVERGED/.test(second.problem),
    second.message,
  );
  assert.equal(log.length, 1);
  await log.close();
});
