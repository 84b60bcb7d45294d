// Measuring: warm up (at least `warmup` runs and at least `warmupMs` of running, so V8 has
// optimised the hot wasm and JS functions: it compiles them with a baseline tier first and
// optimises in the background), then `runs` timed runs; each figure is the median with min
// and max. Baselines are measured the same way.
export async function measure(fn, { runs = 7, warmup = 2, warmupMs = 1500, iterations = 1 } = {}) {
  const start = performance.now();
  for (let i = 0; i < warmup || performance.now() - start < warmupMs; i++) await fn(iterations);
  const t = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn(iterations);
    t.push((performance.now() - t0) / iterations);
  }
  t.sort((a, b) => a - b);
  return { median: t[Math.floor(t.length / 2)], min: t[0], max: t[t.length - 1] };
}

export const fmt = (x, d = 3) => (x >= 100 ? x.toFixed(0) : x.toPrecision(d));

/**
 * Measures tillit and its baseline in alternating runs (a, b, a, b, …) after warming both up,
 * so drift on a shared machine (other tenants, CPU frequency, background optimisation)
 * falls on both alike; returns each one's median, min and max.
 */
export async function measurePair(a, b, { runs = 7, warmup = 2, warmupMs = 1500, iterations = 1 } = {}) {
  const start = performance.now();
  for (let i = 0; i < warmup || performance.now() - start < warmupMs; i++) {
    await a(iterations);
    await b(iterations);
  }
  const ta = [];
  const tb = [];
  for (let i = 0; i < runs; i++) {
    for (const [fn, t] of i % 2 ? [[b, tb], [a, ta]] : [[a, ta], [b, tb]]) {
      const t0 = performance.now();
      await fn(iterations);
      t.push((performance.now() - t0) / iterations);
    }
  }
  const stats = (t) => {
    t.sort((x, y) => x - y);
    return { median: t[Math.floor(t.length / 2)], min: t[0], max: t[t.length - 1] };
  };
  return { a: stats(ta), b: stats(tb) };
}
