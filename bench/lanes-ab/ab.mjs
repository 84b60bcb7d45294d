// The A/B itself, shared by the Chromium page and Node: the append benchmark of bench/suite.mjs
// (in-memory access log, 5,000 appends) for several builds of the package, in alternating
// runs (each round runs every variant once, the order rotating from round to round), so
// drift on a shared machine falls on all of them alike.
import { attestation, syntheticFnr } from '../../tests/js/fixtures.mjs';

const N = 5000;

/** 5,000 appends at once (the wrapper prepares them 256 to a batch) or one at a time. */
export const MODES = {
  'at once': async (t, ctx) => {
    const log = await t.AuditLog.open({ sink: 'memory' });
    const batch = [];
    for (let i = 0; i < N; i++) batch.push(log.append({ kind: 'search', trustContext: ctx, clientId: 'bench', server: 'https://api.example', transactionId: `t-${i}` }));
    await Promise.all(batch);
    await log.close();
  },
  'one at a time': async (t, ctx) => {
    const log = await t.AuditLog.open({ sink: 'memory' });
    for (let i = 0; i < N; i++) await log.append({ kind: 'search', trustContext: ctx, clientId: 'bench', server: 'https://api.example', transactionId: `t-${i}` });
    await log.close();
  },
};

/**
 * Lines from each variant for the caller to check against an independent SHA-256: 1 to 9
 * appends at once (batches that fill the lanes and ones that do not), two contexts.
 */
export async function sampleLines(variants) {
  const out = {};
  for (const [name, t] of Object.entries(variants)) {
    const log = await t.AuditLog.open({ sink: 'memory' });
    const ctxs = [t.TrustContext.fromJSON(attestation()), t.TrustContext.fromJSON(attestation(syntheticFnr(7)))];
    for (let n = 1; n <= 9; n++) {
      await Promise.all(Array.from({ length: n }, (_, i) => log.append({ kind: 'search', trustContext: ctxs[(n + i) % 3 === 0 ? 1 : 0], clientId: 'bench', server: 'https://api.example', transactionId: `t-${n}-${'x'.repeat(i * 9)}` })));
    }
    out[name] = log.export('ndjson').trim().split('\n');
    await log.close();
  }
  return out;
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
};

/**
 * Times every mode for every variant: `warmup` runs each (and at least 1.5 s per mode), then
 * `rounds` rounds. Returns, per mode, each variant's entries/s (median, min, max over the
 * rounds) and, per variant pair, the ratio of the first's rate to the other's: the ratio of
 * the medians and the median of the ratios within each round (min..max).
 */
export async function abRun(variants, { rounds = 9, warmup = 3, log = () => {} } = {}) {
  const names = Object.keys(variants);
  const ctx = Object.fromEntries(names.map((n) => [n, variants[n].TrustContext.fromJSON(attestation())]));
  const result = {};
  for (const [mode, fn] of Object.entries(MODES)) {
    const start = performance.now();
    for (let i = 0; i < warmup || performance.now() - start < 1500; i++) {
      for (const n of names) await fn(variants[n], ctx[n]);
    }
    const ms = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < rounds; r++) {
      const order = names.map((_, i) => names[(i + r) % names.length]);
      for (const n of order) {
        const t0 = performance.now();
        await fn(variants[n], ctx[n]);
        ms[n].push(performance.now() - t0);
      }
      log(`${mode} round ${r + 1}/${rounds}: ${names.map((n) => `${n} ${ms[n][r].toFixed(0)} ms`).join(', ')}`);
    }
    const rate = (t) => N / (t / 1000);
    const rates = Object.fromEntries(names.map((n) => [n, stats(ms[n].map(rate))]));
    const ratios = {};
    for (const a of names) {
      for (const b of names) {
        if (a === b) continue;
        ratios[`${a}/${b}`] = { ofMedians: rates[a].median / rates[b].median, ...stats(ms[a].map((ta, r) => ms[b][r] / ta)) };
      }
    }
    result[mode] = { rates, ratios, ms };
  }
  return result;
}
