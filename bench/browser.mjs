// `npm run bench` (Chromium part): the same suite in headless Chromium through Playwright.
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '../tests/support/static-server.mjs';
import { launch, openPage } from '../tests/support/browser.mjs';
import { fmt } from './harness.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const quick = process.argv.includes('--quick');
const server = await serveStatic(join(HERE, '..'));
const context = await launch();
try {
  const page = await openPage(context, `${server.url}/bench/browser.html`);
  const { rows, ua } = await page.evaluate((runs) => window.runBench(runs), quick ? 3 : 7);
  const version = /Chrome\/(\S+)/.exec(ua)?.[1] ?? ua;
  const head = ['benchmark', 'tillit', 'baseline', 'ratio', 'min…max', 'target'];
  const lines = rows.map((r) => [r.bench, `${fmt(r.tillit)} ${r.unit}`, r.baseline === null ? '' : `${fmt(r.baseline)} (${r.baselineName})`, r.ratio === null ? '' : `${r.ratio.toFixed(2)}×`, r.min === null ? '' : `${fmt(r.min)}…${fmt(r.max)}`, r.target]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  console.log(`\nHeadless Chromium ${version}`);
  for (const l of [head, w.map((n) => '-'.repeat(n)), ...lines]) console.log(l.map((c, i) => String(c).padEnd(w[i])).join('  '));
  const out = join(HERE, '..', 'target', 'bench', 'results.json');
  mkdirSync(dirname(out), { recursive: true });
  const prev = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : {};
  writeFileSync(out, JSON.stringify({ ...prev, chromium: { version, rows } }, null, 2));
} finally {
  await context.close();
  await server.close();
}
