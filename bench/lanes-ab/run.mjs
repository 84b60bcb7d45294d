// The SHA-256 A/B of issue 19 (item 3): the hand-written wasm SIMD lanes against RustCrypto's
// sha2 0.11, on the append benchmark, in ONE headless Chromium page (every variant loaded
// side by side, alternating runs), and in Node on the core itself.
//
//   bash bench/lanes-ab/build.sh          # builds target/lanes-ab/{a,b1,b2}/ (see there)
//   node bench/lanes-ab/run.mjs [--variants a,b1,b2] [--rounds 9] [--no-node]
//
// Not part of the test command or `npm run bench`: it answers one question, once, and is kept
// so that the answer can be checked again. Results: target/lanes-ab/results.json.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serveStatic } from '../../tests/support/static-server.mjs';
import { launch, openPage } from '../../tests/support/browser.mjs';
import { fmt } from '../harness.mjs';
import { abRun, MODES } from './ab.mjs';
import { attestation } from '../../tests/js/fixtures.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT = join(ROOT, 'target', 'lanes-ab');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1];
};
const variants = arg('variants', ['a', 'b1', 'b2'].filter((v) => existsSync(join(OUT, v, 'dist'))).join(',')).split(',');
const rounds = Number(arg('rounds', 9));
if (variants.length < 2) throw new Error(`build the variants first: bash bench/lanes-ab/build.sh (found: ${variants})`);
const load = () => `load ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} cores`;
const results = { date: new Date().toISOString(), variants, rounds, load: { before: load() } };
console.log(`lanes A/B: ${variants.join(', ')}; ${rounds} rounds; ${load()}`);

// 1. Which SHA-256 each build runs: wasm SIMD instructions that only a SHA-256 message
// schedule on 64-bit halves (sha2 0.11's wasm32_simd128 backend: u64x2_shr) or the
// big-endian word loads (i8x16.shuffle 3 2 1 0 ...) produce, counted in the disassembly.
results.wasm = {};
for (const v of variants) {
  const file = join(OUT, v, 'web', 'tillit_core_bg.wasm');
  let text = '';
  try {
    text = execFileSync('wasm-dis', ['--enable-simd', '--enable-bulk-memory', '--enable-sign-ext', '--enable-mutable-globals', '--enable-nontrapping-float-to-int', file], { maxBuffer: 1 << 30 }).toString();
  } catch (e) {
    console.log(`wasm-dis failed (${e.message.split('\n')[0]}): no instruction counts`);
  }
  const count = (re) => (text.match(re) ?? []).length;
  results.wasm[v] = {
    bytes: readFileSync(file).length,
    v128Ops: count(/\((?:v128|i8x16|i16x8|i32x4|i64x2|f32x4|f64x2)\.[a-z_]+/g),
    'i64x2.shr_u': count(/\(i64x2\.shr_u/g),
    'byte-swap shuffles': count(/i8x16\.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12/g),
    'i32x4.add': count(/\(i32x4\.add/g),
  };
}
console.table(results.wasm);

const server = await serveStatic(ROOT);
const context = await launch();
try {
  const page = await openPage(context, `${server.url}/bench/lanes-ab/index.html`);
  // 2. Every variant's records verify with an independent SHA-256 (Node's crypto).
  const samples = await page.evaluate((v) => window.sample(v), variants);
  for (const [v, lines] of Object.entries(samples)) {
    for (const line of lines) {
      const { hash } = JSON.parse(line);
      const hashed = line.replace(`,"hash":"${hash}"`, '');
      if (createHash('sha256').update(hashed).digest('hex') !== hash) throw new Error(`variant ${v}: a record's hash is not the SHA-256 of its text`);
    }
    console.log(`variant ${v}: ${lines.length} records, every hash is node:crypto's SHA-256`);
  }
  // 3. The A/B in the one page.
  page.on('console', (m) => process.stdout.write(`  ${m.text()}\n`));
  const { result, ua } = await page.evaluate(([v, r]) => window.ab(v, { rounds: r }), [variants, rounds]);
  results.chromium = { version: /Chrome\/(\S+)/.exec(ua)?.[1] ?? ua, result };
} finally {
  await context.close();
  await server.close();
}
results.load.afterChromium = load();

// 4. Node: the package chains with node:crypto there, so the core's own hashing is measured
// by replaying the wrapper's batches (recorded from one run) into a core opened without it.
if (!process.argv.includes('--no-node')) {
  const modules = {};
  for (const v of variants) {
    const core = await import(pathToFileURL(join(OUT, v, 'node', 'tillit_core.js')).href);
    const t = await import(pathToFileURL(join(OUT, v, 'dist', 'node', 'index.js')).href);
    const recorded = {};
    const prepare = core.AuditCore.prototype.prepareEvents;
    for (const [mode, fn] of Object.entries(MODES)) {
      const calls = [];
      core.AuditCore.prototype.prepareEvents = function (events, contexts) {
        calls.push([events, contexts, JSON.parse(events).length]);
        return prepare.call(this, events, contexts);
      };
      await fn(t, t.TrustContext.fromJSON(attestation()));
      recorded[mode] = calls;
    }
    core.AuditCore.prototype.prepareEvents = prepare;
    modules[v] = { core, recorded };
  }
  // Each variant as a "package" whose AuditLog replays its recorded batches into a core
  // without a native digest; `abRun` runs the modes by name.
  const replay = (v, mode) => async () => {
    const { core, recorded } = modules[v];
    const chain = new core.AuditCore([], undefined);
    for (const [events, contexts, count] of recorded[mode]) {
      chain.prepareEvents(events, contexts);
      chain.commitPrepared(count);
    }
    chain.free();
  };
  const saved = { ...MODES };
  for (const mode of Object.keys(MODES)) MODES[mode] = (t) => t.replay[mode]();
  const asPackages = Object.fromEntries(variants.map((v) => [v, { TrustContext: { fromJSON: () => null }, replay: Object.fromEntries(Object.keys(saved).map((m) => [m, replay(v, m)])) }]));
  results.node = { version: process.version, note: "the core's prepareEvents + commitPrepared without node:crypto, replaying the wrapper's batches", result: await abRun(asPackages, { rounds, log: (m) => console.log(`  node ${m}`) }) };
  Object.assign(MODES, saved);
  results.load.afterNode = load();
}

// 5. The table: entries/s per variant (median, min..max), and each lanes-vs-sha2 ratio.
for (const [where, r] of [['Chromium ' + results.chromium.version, results.chromium.result], ...(results.node ? [['Node ' + results.node.version + ' (core only)', results.node.result]] : [])]) {
  console.log(`\n${where}`);
  for (const [mode, { rates, ratios }] of Object.entries(r)) {
    for (const v of variants) console.log(`  ${mode.padEnd(13)} ${v.padEnd(3)} ${fmt(rates[v].median).padStart(7)} entries/s  (${fmt(rates[v].min)}..${fmt(rates[v].max)})`);
    for (const b of variants.slice(1)) {
      const q = ratios[`${variants[0]}/${b}`];
      console.log(`  ${mode.padEnd(13)} ${variants[0]}/${b}: ${q.ofMedians.toFixed(2)}× (ratio of medians); per round ${q.median.toFixed(2)}× (${q.min.toFixed(2)}..${q.max.toFixed(2)})`);
    }
  }
}
console.log(`\n${Object.entries(results.load).map(([k, v]) => `${k}: ${v}`).join('; ')}`);
writeFileSync(join(OUT, 'results.json'), JSON.stringify(results, null, 2));
