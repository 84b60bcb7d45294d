// Issue 17: "opening a log for writing verifies the existing chain and checkpoints first
// (streaming, bounded memory)". A file log far larger than one read (64 KiB) is opened with
// its key: the wasm module's memory (which never shrinks) must not grow with the log, and the
// log reports how it read it (log.opened). The module's memory is caught as it is
// instantiated, so the measure is the core's own, not the process's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, appendFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attestation, syntheticFnr } from './fixtures.mjs';

const memories = [];
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async function (...args) {
  const r = await instantiate.apply(this, args);
  memories.push((r.instance ?? r).exports.memory);
  return r;
};
WebAssembly.Instance = new Proxy(WebAssembly.Instance, {
  construct(target, args) {
    const i = Reflect.construct(target, args);
    memories.push(i.exports.memory);
    return i;
  },
});
const tillit = await import('tillit');
const { AuditLog, TrustContext, generateKey, verifyLines } = tillit;

const READ = 64 * 1024;
const base = {
  trustContext: TrustContext.fromJSON(attestation(syntheticFnr(4))),
  clientId: 'tillit-ehr',
  server: 'https://api.pjd.test.nhn.no',
  kind: 'search',
};
const tmp = () => mkdtempSync(join(tmpdir(), 'tillit-bounded-'));
const lines = (file) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

/** A keyed file log of `rounds` × 256 look-ups (about 1.4 KB a record). */
async function bigLog(rounds) {
  const file = join(tmp(), 'big.ndjson');
  const checkpointKey = await generateKey({ alg: 'ES256' });
  const log = await AuditLog.open({ sink: { file }, checkpointKey, checkpointEvery: 100 });
  for (let r = 0; r < rounds; r++) {
    await Promise.all(
      Array.from({ length: 256 }, (_, i) =>
        log.append({
          ...base,
          transactionId: `t${r}-${i}`,
          query: `patient.identifier=urn:oid:2.16.578.1.12.4.1.4.1|${i}`,
        }),
      ),
    );
  }
  await log.close();
  return { file, checkpointKey };
}

test('opening a log far larger than a read verifies it a read at a time: the core does not grow with the log', async () => {
  const { file, checkpointKey } = await bigLog(40);
  const size = statSync(file).size;
  const stored = lines(file);
  const longest = Math.max(...stored.map((l) => Buffer.byteLength(l) + 1));
  assert.ok(size > 100 * READ, `${size} bytes: over a hundred reads`);
  assert.equal(memories.length, 1, 'one module, its memory caught');
  const memory = memories[0];
  const before = memory.buffer.byteLength;
  assert.ok(
    before < size,
    `the module (${before} bytes) is smaller than the log (${size}): a whole-log copy would show`,
  );

  const log = await AuditLog.open({ sink: { file }, checkpointKey });
  const grown = memory.buffer.byteLength - before;
  assert.ok(
    grown <= 2 * 1024 * 1024,
    `the core's memory grew by ${grown} bytes opening a ${size}-byte log`,
  );
  assert.deepEqual(
    { ...log.opened },
    {
      records: stored.length,
      bytes: size,
      reads: Math.ceil(size / READ),
      peakBufferedBytes: log.opened.peakBufferedBytes,
    },
  );
  assert.ok(
    log.opened.peakBufferedBytes <= READ + longest,
    `held at most one read and one line: ${log.opened.peakBufferedBytes}`,
  );
  // The head and its checkpoint were taken from the stream: the log goes on from them.
  const head = log.head();
  assert.equal(head.seq, stored.length - 1);
  assert.equal(head.checkpoint.seq, stored.length - 1, 'the closing checkpoint');
  await log.append({ ...base, transactionId: 'after' });
  // The read side holds the records as stored (one copy, outside the core).
  assert.equal(log.export('ndjson'), readFileSync(file, 'utf8'));
  // verify() on the open log reads the same way.
  const v = await log.verify({ anchor: head });
  assert.deepEqual([v.ok, v.signed, v.entries], [true, true, stored.length + 1]);
  await log.close();
  const all = await verifyLines(lines(file), checkpointKey.publicJwk);
  assert.deepEqual([all.ok, all.unsignedTail], [true, 0]);
});

test('a torn tail longer than a read is set aside whole; a bad line in the middle is refused with its index', async () => {
  const { file, checkpointKey } = await bigLog(4);
  const good = readFileSync(file);
  const n = lines(file).length;
  // A crash mid-write of a long line: 200 KB without its newline.
  const torn = Buffer.from(`{"seq":${n},"body":"${'x'.repeat(200_000)}`);
  appendFileSync(file, torn);
  const log = await AuditLog.open({ sink: { file }, checkpointKey });
  assert.equal(log.recovered.tornBytes, torn.length);
  assert.deepEqual(readFileSync(log.recovered.savedAs), torn, 'the torn bytes are kept, every one');
  assert.ok(
    log.opened.peakBufferedBytes < 2 * READ + torn.length,
    String(log.opened.peakBufferedBytes),
  );
  await log.close();
  assert.equal((await verifyLines(lines(file), checkpointKey.publicJwk)).ok, true);
  assert.equal(JSON.parse(lines(file)[n]).kind, 'recovery');

  // A line that is not a record, with records after it: corruption, not a torn tail.
  const text = good.toString('utf8').split('\n');
  text.splice(300, 0, 'garbage');
  writeFileSync(file, text.join('\n'));
  const before = readFileSync(file);
  const e = await AuditLog.open({ sink: { file }, checkpointKey }).catch((x) => x);
  assert.ok(e instanceof tillit.AuditIntegrityError, String(e));
  assert.deepEqual([e.index, e.problem.split(':')[0]], [300, 'MALFORMED']);
  assert.deepEqual(readFileSync(file), before, 'untouched');
});
