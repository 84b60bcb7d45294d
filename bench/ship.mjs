// Shipping the access log (Node): the in-memory append rate with shipping on against off,
// measured in alternating runs of the same run, and the time from a look-up's write to the
// collector holding it. The collector is the real binary (SQLite) with an emulator as HelseID
// (tests/support/collector.mjs). Run alone: node bench/ship.mjs [--quick]
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import * as tillit from 'tillit';

// The optimised builds scripts/bench.sh makes (the tests use the debug ones).
const profile = (name) => fileURLToPath(new URL(`../target/${process.env.TILLIT_EMULATOR_PROFILE ?? 'emulator'}/${name}`, import.meta.url));
for (const [env, name] of [['TILLIT_EMULATOR', 'tillit-emulator'], ['TILLIT_COLLECTOR', 'tillit-collector']]) {
  if (!process.env[env] && existsSync(profile(name))) process.env[env] = profile(name);
}
const { startCollector, collectorTokens } = await import('../tests/support/collector.mjs');
import { attestation, syntheticFnr } from '../tests/js/fixtures.mjs';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Rows for bench/node.mjs: { bench, unit, tillit, baseline, baselineName, ratio, min, max, target }. */
export async function shipRows({ runs = 7, n = 2000 } = {}) {
  const c = await startCollector();
  try {
    const w = await collectorTokens(tillit, c);
    const trustContext = tillit.TrustContext.fromJSON({ ...attestation(syntheticFnr(5)), toa: Math.floor(Date.now() / 1000) });
    const ev = (i) => ({ kind: 'search', trustContext, clientId: c.clientId, server: 'https://api.example', transactionId: `b-${i}` });
    const ship = { url: c.url, token: w.token, dpopKey: w.dpopKey, intervalMs: 50 };
    // One append run: n look-ups written as an EHR writes them (many in flight), timed until
    // the last is stored locally; shipping (when on) runs meanwhile in the same thread.
    const appendRun = async (withShip) => {
      const log = await tillit.AuditLog.open({ sink: 'memory', ...(withShip ? { ship } : {}) });
      const t0 = performance.now();
      await Promise.all(Array.from({ length: n }, (_, i) => log.append(ev(i))));
      const ms = performance.now() - t0;
      if (withShip) await log.flush({ timeoutMs: 60_000 });
      await log.close();
      return ms;
    };
    // Warm-up (V8 optimises hot code in the background), then alternating runs.
    await appendRun(false);
    await appendRun(true);
    const off = [];
    const on = [];
    for (let r = 0; r < runs; r++) {
      if (r % 2) {
        on.push(await appendRun(true));
        off.push(await appendRun(false));
      } else {
        off.push(await appendRun(false));
        on.push(await appendRun(true));
      }
    }
    const rate = (ms) => n / (ms / 1000);
    // Latency: one look-up at a time, from the start of its write to the collector's
    // acknowledgement of it (intervalMs 50: a new record waits at most that long).
    const log = await tillit.AuditLog.open({ sink: 'memory', ship });
    await log.flush({ timeoutMs: 10_000 });
    const lat = [];
    for (let i = 0; i < Math.max(runs, 15); i++) {
      // Not flush() (which ships at once): the shipper's own pace, seen through its event.
      await new Promise((r) => setTimeout(r, 30 + Math.random() * 40));
      const t0 = performance.now();
      const { seq } = await log.append(ev(i));
      await new Promise((resolve) => {
        const on = (e) => {
          if ((e.detail.acknowledged?.seq ?? -1) >= seq) {
            log.removeEventListener('shipping', on);
            resolve();
          }
        };
        log.addEventListener('shipping', on);
      });
      lat.push(performance.now() - t0);
    }
    await log.close();
    return [
      { bench: 'audit append (memory), shipping on vs off', unit: 'entries/s', tillit: rate(median(on)), baseline: rate(median(off)), baselineName: 'shipping off', ratio: median(off) / median(on), min: rate(Math.max(...on)), max: rate(Math.min(...on)), target: '≥ 0.8' },
      { bench: 'look-up written → held by the collector (intervalMs 50)', unit: 'ms', tillit: median(lat), baseline: null, baselineName: '', ratio: null, min: Math.min(...lat), max: Math.max(...lat), target: '' },
    ];
  } finally {
    await c.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await shipRows({ runs: process.argv.includes('--quick') ? 3 : 7 });
  for (const r of rows) console.log(`${r.bench}: ${r.tillit.toFixed(1)} ${r.unit}${r.baseline ? ` vs ${r.baseline.toFixed(1)} (${r.baselineName}), ratio ${r.ratio.toFixed(2)}×` : ''} [${r.min.toFixed(1)}…${r.max.toFixed(1)}] ${r.target}`);
}
