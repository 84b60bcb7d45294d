// `npm run bench` (Node part): prints the table and writes target/bench/results.json (merged with
// the Chromium part when it ran).
import { readFileSync, writeFileSync, mkdtempSync, existsSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tillit from 'tillit';
import * as jose from 'jose';
import { run, instantiateMs } from './suite.mjs';
import { fmt } from './harness.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const cfg = JSON.parse(readFileSync(join(HERE, 'config.json'), 'utf8'));
const quick = process.argv.includes('--quick');
const runs = quick ? 3 : cfg.runs;

const dir = mkdtempSync(join(tmpdir(), 'tillit-bench-'));
let fileNo = 0;
const digest = (text) => createHash('sha256').update(text).digest('hex');
// --cpu: the suite's pairs timed in this process's CPU time (process.cpuUsage: all its
// threads, WebCrypto's included) instead of wall-clock time, for an oversubscribed machine:
// at a load of ~20 on 2 cores, wall-clock medians of identical runs swung 0.6-1.2x, CPU-time
// ones +-0.03x (issue 22). Rates are then CPU-bound rates (no I/O wait); the signer and
// emulator rows below stay wall-clock.
const wallNow = performance.now.bind(performance);
if (process.argv.includes('--cpu')) performance.now = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const rows = await run({ tillit, jose, runs, digest, auditSinks: [{ name: 'NDJSON file, fsync per batch', n: 2000, open: () => tillit.AuditLog.open({ sink: { file: join(dir, `log-${fileNo++}.ndjson`) } }) }] });
performance.now = wallNow;

const wasm = readFileSync(join(HERE, '..', 'pkg', 'core', 'tillit_core_bg.wasm'));
const gz = gzipSync(wasm, { level: 9 }).length;
rows.push({ bench: 'wasm size (raw)', unit: 'KiB', tillit: wasm.length / 1024, baseline: null, baselineName: '', ratio: null, min: null, max: null, target: '' });
rows.push({ bench: 'wasm size (gzip -9)', unit: 'KiB', tillit: gz / 1024, baseline: cfg.wasmGzipBudgetBytes / 1024, baselineName: 'budget', ratio: gz / cfg.wasmGzipBudgetBytes, min: null, max: null, target: '≤ 1.0' });
const inst = await instantiateMs(wasm, runs);
rows.push({ bench: 'wasm compile+instantiate', unit: 'ms', tillit: inst.median, baseline: cfg.instantiateBudgetMs, baselineName: 'budget', ratio: inst.median / cfg.instantiateBudgetMs, min: inst.min, max: inst.max, target: '≤ 1.0' });

const { signerRows } = await import('./signer.mjs');
rows.push(...(await signerRows({ runs })));

const { emulatorLoad } = await import('./emulator-load.mjs');
const load = await emulatorLoad({ seconds: quick ? 2 : 3 });
rows.push({ bench: 'emulator searches (16 concurrent)', unit: 'req/s', tillit: load.searchesPerSecond, baseline: cfg.targets.emulatorSearchesPerSecond, baselineName: 'target', ratio: load.searchesPerSecond / cfg.targets.emulatorSearchesPerSecond, min: null, max: null, target: '≥ 1.0' });
rows.push({ bench: 'emulator CPU per search (20 entries)', unit: 'ms', tillit: load.emulatorCpuMsPerSearch, baseline: null, baselineName: '', ratio: null, min: null, max: null, target: load.proofsRanOut ? 'proofs ran out: raise the pool' : '' });
rows.push({ bench: 'emulator start to ready line', unit: 'ms', tillit: load.startMs, baseline: 1000, baselineName: 'target', ratio: load.startMs / 1000, min: null, max: null, target: '≤ 1.0' });

// Shipping to the collector: the append rate with shipping on against off, and the time to the collector.
const { shipRows } = await import('./ship.mjs');
rows.push(...(await shipRows({ runs })));

export function print(env, rows) {
  const head = ['benchmark', 'tillit', 'baseline', 'ratio', 'min…max', 'target'];
  const lines = rows.map((r) => [r.bench, `${fmt(r.tillit)} ${r.unit}`, r.baseline === null ? '' : `${fmt(r.baseline)} (${r.baselineName})`, r.ratio === null ? '' : `${r.ratio.toFixed(2)}×`, r.min === null ? '' : `${fmt(r.min)}…${fmt(r.max)}`, r.target]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  console.log(`\n${env}`);
  for (const l of [head, w.map((n) => '-'.repeat(n)), ...lines]) console.log(l.map((c, i) => String(c).padEnd(w[i])).join('  '));
}

print(`Node ${process.version}`, rows);
// Results go to target/bench/ (not committed): figures worth keeping go into a commit body,
// a closing note or docs, with the method.
const out = join(HERE, '..', 'target', 'bench', 'results.json');
mkdirSync(dirname(out), { recursive: true });
const prev = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : {};
writeFileSync(out, JSON.stringify({ ...prev, measuredAt: new Date().toISOString(), node: { version: process.version, rows } }, null, 2));
