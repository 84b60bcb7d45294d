// limits(): the core's limits and defaults reach JS as the core has them (src/limits.rs; the
// README's figures and the TypeScript sources are checked against the core in
// tests/agreement.rs), and the wrapper applies them: the trust-context text limit and the
// attestation's 60 minutes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from 'tillit';
import { attestation, syntheticFnr } from './fixtures.mjs';

test('limits() gives every limit and default, frozen', () => {
  const l = t.limits();
  assert.deepEqual(l.trustContext, { bytes: 1 << 20, depth: 64 });
  assert.deepEqual(l.record, { bytes: 16 << 20, depth: 128 });
  assert.equal(l.maxAttestationAgeSeconds, 3600);
  assert.equal(l.defaultSkewSeconds, 30);
  assert.equal(l.defaultTimeoutMs, 15000);
  assert.equal(l.maxRetries, 2);
  assert.equal(l.defaultVolumeThreshold, 50);
  assert.equal(Object.keys(l).length, 15);
  assert.ok(Object.isFrozen(l));
  assert.equal(t.limits(), l);
});

test('the wrapper applies the core limits', () => {
  const l = t.limits();
  const a = attestation(syntheticFnr(3));
  const big = { ...a, x: 'y'.repeat(l.trustContext.bytes) };
  assert.throws(
    () => t.TrustContext.fromJSON(big),
    (e) => e.code === 'INPUT_TOO_LARGE',
  );
  const now = Math.floor(Date.now() / 1000);
  // Within the attestation's age: fresh; past it (and the skew): expired.
  t.TrustContext.fromJSON({ ...a, toa: now - l.maxAttestationAgeSeconds + 120 }).assertFresh();
  const stale = now - l.maxAttestationAgeSeconds - l.defaultSkewSeconds - 60;
  assert.throws(
    () => t.TrustContext.fromJSON({ ...a, toa: stale }).assertFresh(),
    (e) => e.code === 'ATTESTATION_EXPIRED',
  );
});
