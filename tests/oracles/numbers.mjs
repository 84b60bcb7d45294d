#!/usr/bin/env node
// Numbers as ECMAScript writes them, from an implementation independent of tillit's: V8's
// own Number#toString, which RFC 8785 (JCS, section 3.2.2.3) makes the canonical form of a
// JSON number. tests/numbers_oracle.rs checks that `tillit::canon` writes every double of a
// seeded corpus the same way. The corpus is committed (tests/fixtures/jcs-numbers.tsv) so
// the native tests need no Node; `--check` (run by scripts/test.sh) regenerates it and fails
// if it differs, so the fixture is V8's own output, not something edited to agree.
//
// Each line: the double's IEEE 754 bits as 16 hex digits, a tab, String(x).
// Usage: numbers.mjs --write | --check
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('../fixtures/jcs-numbers.tsv', import.meta.url));
const view = new DataView(new ArrayBuffer(8));
const bitsOf = (x) => {
  view.setFloat64(0, x);
  return view.getBigUint64(0).toString(16).padStart(16, '0');
};
const fromBits = (b) => {
  view.setBigUint64(0, b);
  return view.getFloat64(0);
};
// xorshift64*, seeded: the same corpus on every machine.
let state = 20261203n;
const next = () => {
  state ^= state >> 12n;
  state ^= (state << 25n) & 0xffffffffffffffffn;
  state ^= state >> 27n;
  return (state * 0x2545f4914f6cdd1dn) & 0xffffffffffffffffn;
};

const xs = [];
// RFC 8785 Appendix B's sample values (by their bits), and the edges of the forms.
for (const b of [
  0x0000000000000000n, 0x8000000000000000n, 0x0000000000000001n, 0x8000000000000001n,
  0x7fefffffffffffffn, 0xffefffffffffffffn, 0x4340000000000000n, 0xc340000000000000n,
  0x4430000000000000n, 0x44b52d02c7e14af5n, 0x44b52d02c7e14af6n, 0x44b52d02c7e14af7n,
  0x444b1ae4d6e2ef4en, 0x444b1ae4d6e2ef4fn, 0x444b1ae4d6e2ef50n, 0x3eb0c6f7a0b5ed8cn,
  0x3eb0c6f7a0b5ed8dn, 0x41b3de4355555553n, 0x41b3de4355555554n, 0x41b3de4355555555n,
  0x41b3de4355555556n, 0x41b3de4355555557n, 0xbecbf647612f3696n, 0x43143ff3c1cb0959n,
])
  xs.push(fromBits(b));
// Each power of ten, its neighbours and a few multiples, across the whole range.
for (let e = -325; e <= 308; e++) {
  const p = Number(`1e${e}`);
  for (const x of [p, p * 3.3333333333333335, -p * 7])
    for (const d of [-1n, 0n, 1n]) {
      if (!Number.isFinite(x) || x === 0) continue;
      const b = BigInt(`0x${bitsOf(x)}`) + d;
      xs.push(fromBits(b));
    }
}
// Integers past 2^53 and decimals a person writes.
for (const x of [2 ** 53, 2 ** 53 + 2, 2 ** 60, 2 ** 64, 1e20 + 65536, 123456789012345680000, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, 100, 1e-6, 1e-7, 1e21, 1e22])
  xs.push(x, -x);
// Random finite doubles, every exponent alike.
for (let i = 0; i < 2000; i++) {
  const x = fromBits(next());
  if (Number.isFinite(x)) xs.push(x);
}
// Doubles exactly halfway between two shortest digit strings, where ECMAScript takes the
// even one (RFC 8785's 1424953923781206.25): in [2^50, 2^51) every N + 1/4 and N + 3/4.
for (let i = 0; i < 400; i++) {
  const x = 2 ** 50 + Number(next() % 2n ** 50n) + (i % 2 ? 0.75 : 0.25);
  xs.push(x, -x, x / 2 ** 20, x * 2 ** 20);
}
// And in [2^47, 2^48) every N + k/8 (k odd), halfway between two strings of two decimals.
for (let i = 0; i < 200; i++) {
  const x = 2 ** 47 + Number(next() % 2n ** 47n) + (2 * (i % 4) + 1) / 8;
  xs.push(x, -x);
}
// Random doubles of everyday size.
for (let i = 0; i < 1000; i++) xs.push(Number(next() % 10000000000n) / 10 ** Number(next() % 12n));

const text =
  '# V8 Number#toString of IEEE 754 doubles (bits, text): tests/oracles/numbers.mjs writes this file\n' +
  xs
    .filter((x) => Number.isFinite(x))
    .map((x) => `${bitsOf(x)}\t${String(x)}`)
    .join('\n') +
  '\n';
const mode = process.argv[2];
if (mode === '--write') {
  writeFileSync(FIXTURE, text);
  console.log(`numbers: wrote ${text.split('\n').length - 2} doubles`);
} else if (mode === '--check') {
  if (readFileSync(FIXTURE, 'utf8') !== text) {
    console.error(`numbers: ${FIXTURE} is not V8's output; run tests/oracles/numbers.mjs --write`);
    process.exit(1);
  }
  console.log(`numbers: the fixture is V8's output (${text.split('\n').length - 2} doubles)`);
} else {
  console.error('usage: numbers.mjs --write | --check');
  process.exit(2);
}
