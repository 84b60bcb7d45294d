// Opens a consumer's page in headless Chromium and waits for its smoke (window.smoke, set by
// the page: { ok: true, summary } or { ok: false, error }); fails on a failed smoke, any
// console error, page error, failed request or HTTP error status. Run from a consumer project:
//   node check.mjs --serve <dir> --page <path> [--csp <policy>]
//   node check.mjs --start '<command with {port}>' --page <path>   (a dev server)
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { launch } from '../support/browser.mjs';
import { serveStatic } from '../support/static-server.mjs';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const page = opt('page') ?? '';

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function startDevServer(command) {
  const port = await freePort();
  const child = spawn(command.replaceAll('{port}', String(port)), {
    shell: true,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error(`the dev server exited:\n${output}`);
    try {
      if ((await fetch(url)).status < 500) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, close: () => process.kill(-child.pid, 'SIGTERM'), output: () => output };
}

const server = opt('start')
  ? await startDevServer(opt('start'))
  : await serveStatic(opt('serve') ?? '.', {
      extraHeaders: opt('csp') ? { 'content-security-policy': opt('csp') } : {},
    });
const context = await launch();
const problems = [];
let result;
try {
  const tab = await context.newPage();
  tab.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));
  tab.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  tab.on('requestfailed', (r) =>
    problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`),
  );
  tab.on('response', (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()}: ${r.url()}`));
  // Workers report through the page; their own errors surface as console errors there too.
  tab.on('worker', (w) =>
    w.on(
      'console',
      (m) => m.type() === 'error' && problems.push(`worker console error: ${m.text()}`),
    ),
  );
  await tab.goto(`${server.url}/${page}`);
  await tab.waitForFunction(() => window.smoke !== undefined, null, { timeout: 120_000 });
  result = await tab.evaluate(() => window.smoke);
} catch (e) {
  problems.push(String(e?.message ?? e));
} finally {
  await context.close();
  await server.close();
}
if (result && !result.ok) problems.push(`smoke failed: ${result.error}`);
if (problems.length) {
  console.error(`✗ ${page || '/'}:\n  ${problems.join('\n  ')}`);
  if (server.output) console.error(server.output());
  process.exit(1);
}
console.log(`✓ ${page || '/'} in Chromium: ${result.summary}`);
