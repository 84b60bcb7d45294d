// The independent verifier (tests/verify_audit_log.py, written from docs/audit-format.md
// alone, Python with `cryptography`) agrees with tillit: it verifies the golden logs and fresh
// ones (keyed with ES256, RS256 and PS256, unsigned, continued from format 0), and rejects each
// tampered one at the same index with the same problem code. scripts/setup.sh installs the
// Python (tests/audit-python.sh); TILLIT_AUDIT_PYTHON names it (scripts/test.sh sets it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, TrustContext, generateKey, importPrivateKey, verifyLines } from 'tillit';
import { rechain } from './audit-tamper.mjs';
import { attestation } from './fixtures.mjs';

const root = new URL('../../', import.meta.url).pathname;
const fixtures = join(root, 'tests/fixtures');
const script = join(root, 'tests/verify_audit_log.py');

function python() {
  if (process.env.TILLIT_AUDIT_PYTHON) return process.env.TILLIT_AUDIT_PYTHON;
  return execFileSync('bash', [join(root, 'tests/audit-python.sh')], { encoding: 'utf8' }).trim();
}
const PY = python();

/** Runs the Python verifier: its JSON result. */
function py(file, { key, acceptLegacy, anchor, prunedTo } = {}) {
  const args = [script, file];
  if (key) {
    const k = join(mkdtempSync(join(tmpdir(), 'tillit-py-')), 'key.json');
    writeFileSync(k, JSON.stringify(key));
    args.push('--key', k);
  }
  if (acceptLegacy) args.push('--accept-legacy');
  if (anchor) args.push('--anchor', `${anchor.seq}:${anchor.hash}`);
  if (prunedTo) args.push('--pruned-to', `${prunedTo.seq}:${prunedTo.hash}`);
  try {
    return JSON.parse(execFileSync(PY, args, { encoding: 'utf8' }));
  } catch (e) {
    if (e.status === 1) return JSON.parse(e.stdout);
    throw e;
  }
}

const tmp = () => mkdtempSync(join(tmpdir(), 'tillit-py-'));
const read = (file) => readFileSync(file, 'utf8').split('\n').filter(Boolean);
const write = (lines) => {
  const f = join(tmp(), 'log.ndjson');
  writeFileSync(f, lines.map((l) => `${l}\n`).join(''));
  return f;
};
const code = (r) => r.problem?.split(':')[0];
const ctx = TrustContext.fromJSON(attestation());
const base = { trustContext: ctx, clientId: 'tillit-ehr', server: 'https://api.pjd.test.nhn.no' };

/** Both verifiers agree on `lines`: ok, or the same first bad index and problem code. */
async function agree(lines, opts = {}, expect) {
  const mine = await verifyLines(lines, {
    publicJwk: opts.key,
    acceptLegacy: opts.acceptLegacy,
    anchor: opts.anchor,
    prunedTo: opts.prunedTo,
  });
  const theirs = py(write(lines), opts);
  assert.equal(
    theirs.ok,
    mine.ok,
    `python ${JSON.stringify(theirs)} vs tillit ${JSON.stringify(mine)}`,
  );
  if (!mine.ok)
    assert.deepEqual([theirs.firstBadIndex, code(theirs)], [mine.firstBadIndex, code(mine)]);
  else
    assert.deepEqual(
      [theirs.entries, theirs.signed, theirs.format, theirs.unsignedTail],
      [mine.entries, mine.signed, mine.format, mine.unsignedTail],
    );
  if (expect !== undefined) assert.equal(mine.ok ? 'ok' : code(mine), expect);
  return theirs;
}

test('the Python verifier verifies the golden format-0 logs, only when format 0 is accepted', () => {
  const key = JSON.parse(readFileSync(join(fixtures, 'golden-v0-key.public.jwk.json'), 'utf8'));
  const s = py(join(fixtures, 'golden-v0-signed.ndjson'), { key, acceptLegacy: true });
  assert.deepEqual([s.ok, s.entries, s.signed, s.checkpointsVerified], [true, 23, true, 5]);
  const u = py(join(fixtures, 'golden-v0-unsigned.ndjson'), { acceptLegacy: true });
  assert.deepEqual([u.ok, u.entries, u.signed], [true, 20, false]);
  assert.equal(code(py(join(fixtures, 'golden-v0-unsigned.ndjson'))), 'FORMAT');
});

test('fresh logs (ES256, RS256, PS256, unsigned, continued from format 0) verify in Python as in tillit', async () => {
  for (const alg of ['ES256', 'RS256', 'PS256', null]) {
    const file = join(tmp(), 'log.ndjson');
    const checkpointKey = alg ? await generateKey({ alg }) : undefined;
    const log = await AuditLog.open({ sink: { file }, checkpointKey, checkpointEvery: 4 });
    for (let i = 0; i < 9; i++) {
      const { id } = await log.append({
        ...base,
        kind: 'search',
        transactionId: `æ-${i}`,
        query: `x=ø\n"${i}"`,
      });
      if (i % 2)
        await log.complete(id, {
          outcome: 'failure',
          completion: { httpStatus: 403, description: 'nektet – «reservasjon»\t' },
        });
    }
    const anchor = log.head();
    await log.close();
    const r = await agree(read(file), { key: checkpointKey?.publicJwk, anchor }, 'ok');
    assert.equal(r.signed, !!alg);
    if (alg) assert.equal(r.unsignedTail, 0);
  }
  const priv = JSON.parse(readFileSync(join(fixtures, 'golden-v0-key.private.jwk.json'), 'utf8'));
  const pub = JSON.parse(readFileSync(join(fixtures, 'golden-v0-key.public.jwk.json'), 'utf8'));
  const file = join(tmp(), 'old.ndjson');
  copyFileSync(join(fixtures, 'golden-v0-signed.ndjson'), file);
  const log = await AuditLog.open({
    sink: { file },
    checkpointKey: await importPrivateKey(priv, { alg: 'ES256' }),
    checkpointEvery: 3,
    acceptLegacy: true,
  });
  for (let i = 0; i < 5; i++) await log.append({ ...base, kind: 'search', transactionId: `n${i}` });
  await log.close();
  const r = await agree(read(file), { key: pub, acceptLegacy: true }, 'ok');
  assert.equal(r.format, 1);
});

test('tampered logs are rejected by Python at the same index with the same problem', async () => {
  const file = join(tmp(), 'log.ndjson');
  const checkpointKey = await generateKey({ alg: 'ES256' });
  const other = await generateKey({ alg: 'ES256' });
  const log = await AuditLog.open({ sink: { file }, checkpointKey, checkpointEvery: 3 });
  for (let i = 0; i < 10; i++)
    await log.append({ ...base, kind: 'search', transactionId: `t${i}` });
  const anchor = log.head();
  await log.close();
  const good = read(file);
  const key = checkpointKey.publicJwk;
  const recs = () => good.map((l) => JSON.parse(l));
  const cps = good.flatMap((l, i) => (JSON.parse(l).kind === 'checkpoint' ? [i] : []));
  const edited = [...good];
  edited[5] = edited[5].replace('"t3"', '"tX"');
  await agree(edited, { key }, 'ALTERED');
  await agree(
    good.filter((_, i) => i !== 6),
    { key },
    'MISSING_OR_REORDERED',
  );
  await agree([good[0], good[2], good[1], ...good.slice(3)], { key }, 'MISSING_OR_REORDERED');
  await agree(
    rechain(good.filter((l) => JSON.parse(l).kind !== 'checkpoint')),
    { key },
    'CHECKPOINT_MISSING',
  );
  await agree(rechain(good.filter((_, i) => i !== cps[1])), { key }, 'CHECKPOINT_MISSING');
  await agree(
    rechain([...good.slice(0, cps[0] + 1), good[cps[0]], ...good.slice(cps[0] + 1)]),
    { key },
    'CHECKPOINT_EXTRA',
  );
  const swapped = recs();
  swapped[cps[1]].body.jws = swapped[cps[0]].body.jws;
  await agree(rechain(swapped), { key }, 'CHECKPOINT_INVALID');
  const unkeyed = recs();
  const { jws: _, ...claims } = unkeyed[0].body;
  unkeyed[0].body = { ...claims, checkpointKey: null };
  await agree(rechain(unkeyed.filter((r) => r.kind !== 'checkpoint')), { key }, 'KEY_MISMATCH');
  await agree(good, { key: other.publicJwk }, 'KEY_MISMATCH');
  const resigned = recs();
  resigned[0].body.checkpointEvery = 4;
  await agree(rechain(resigned), { key }, 'UNSIGNED');
  await agree(good.slice(0, anchor.seq), { key, anchor }, 'TRUNCATED');
  const replaced = recs().slice(0, anchor.seq + 1);
  replaced[anchor.seq].body.id = 'x';
  await agree(rechain(replaced), { anchor }, 'ANCHOR_MISMATCH');
  const extra = recs();
  extra[2].note = 'hidden';
  await agree(rechain(extra), {}, 'MALFORMED');
  await agree([...good.slice(0, 3), 'not json', ...good.slice(3)], {}, 'MALFORMED');
  await agree(rechain(good.slice(1)), {}, 'FORMAT');
});

test('pruned logs (shipping with retainMs): Python agrees on the prune point, a gap, and an anchor pruned away', async () => {
  const file = join(tmp(), 'log.ndjson');
  const checkpointKey = await generateKey({ alg: 'ES256' });
  const log = await AuditLog.open({ sink: { file }, checkpointKey, checkpointEvery: 3 });
  for (let i = 0; i < 10; i++)
    await log.append({ ...base, kind: 'search', transactionId: `p${i}` });
  const head = log.head();
  await log.close();
  const good = read(file);
  const key = checkpointKey.publicJwk;
  const at = (i) => ({ seq: i, hash: JSON.parse(good[i]).hash });
  // Records 1..4 pruned, up to the checkpoint at 4: the declaration, then 5 on.
  assert.equal(JSON.parse(good[4]).kind, 'checkpoint');
  const pruned = [good[0], ...good.slice(5)];
  const r = await agree(pruned, { key, prunedTo: at(4) }, 'ok');
  assert.equal(r.entries, pruned.length, 'the records held');
  await agree(pruned, { key, anchor: at(4) }, 'ok');
  await agree(pruned, { key, prunedTo: at(4), anchor: { seq: head.seq, hash: head.hash } }, 'ok');
  await agree(pruned, { key }, 'MISSING_OR_REORDERED');
  await agree(pruned, { key, prunedTo: at(3) }, 'MISSING_OR_REORDERED');
  await agree(pruned, { key, prunedTo: at(4), anchor: at(2) }, 'ANCHOR_PRUNED');
  // Pruned anywhere but right after the declaration is a gap; the rules hold after the point.
  await agree(
    [...good.slice(0, 2), ...good.slice(5)],
    { key, prunedTo: at(4) },
    'MISSING_OR_REORDERED',
  );
  const edited = [...pruned];
  edited[2] = edited[2].replace('"p4"', '"pX"');
  await agree(edited, { key, prunedTo: at(4) }, 'ALTERED');
});
