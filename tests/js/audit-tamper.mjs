// The attacker's tools for the access-log tests, independent of tillit: `canonicalize`
// (RFC 8785) and node:crypto's SHA-256.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/** Re-chains records as edited (lines or parsed records): seq, prev and hash recomputed. */
export function rechain(records) {
  let prev = '0'.repeat(64);
  return records.map((l, seq) => {
    const { hash: _, ...rest } = typeof l === 'string' ? JSON.parse(l) : l;
    Object.assign(rest, { seq, prev });
    const hash = createHash('sha256').update(canonicalize(rest)).digest('hex');
    prev = hash;
    return canonicalize({ ...rest, hash });
  });
}
