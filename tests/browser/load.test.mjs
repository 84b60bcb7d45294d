// Loading the core in headless Chromium: each way it fails (a missing file, a dev server's
// HTML page instead of the .wasm, a Content Security Policy that refuses WebAssembly) is a
// WasmLoadError with a stable code whose rule names the fix; with 'wasm-unsafe-eval' it loads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { launch } from '../support/browser.mjs';
import { serveStatic } from '../support/static-server.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
let context;
const servers = {};

before(async () => {
  servers.plain = await serveStatic(root);
  servers.strict = await serveStatic(root, {
    extraHeaders: { 'content-security-policy': "script-src 'self'" },
  });
  servers.wasmAllowed = await serveStatic(root, {
    extraHeaders: { 'content-security-policy': "script-src 'self' 'wasm-unsafe-eval'" },
  });
  context = await launch();
});
after(async () => {
  await context?.close();
  for (const s of Object.values(servers)) await s.close();
});

async function load(server, wasm) {
  const page = await context.newPage();
  try {
    await page.goto(
      `${server.url}/tests/browser/load.html${wasm ? `?wasm=${encodeURIComponent(wasm)}` : ''}`,
    );
    await page.waitForFunction(() => window.result !== undefined);
    return await page.evaluate(() => window.result);
  } finally {
    await page.close();
  }
}

test('the default source loads, also under a CSP that allows wasm-unsafe-eval', async () => {
  for (const server of [servers.plain, servers.wasmAllowed]) {
    const r = await load(server);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.match(r.coreVersion, /^\d+\.\d+\.\d+/);
  }
});

test('a 404 is WASM_NOT_FOUND, naming tillit/init and the README', async () => {
  const r = await load(servers.plain, '/no/such/tillit.wasm');
  assert.deepEqual(
    [r.ok, r.name, r.code, r.path, r.typed],
    [false, 'WasmLoadError', 'WASM_NOT_FOUND', 'wasm', true],
  );
  assert.match(r.rule, /HTTP 404 .*\/no\/such\/tillit\.wasm/);
  assert.match(r.rule, /tillit\/init.*Use it with/);
});

test("an HTML page instead of the wasm (a dev server's fallback) is WASM_NOT_WASM, naming Vite's fix", async () => {
  const r = await load(servers.plain, '/tests/browser/load.html');
  assert.deepEqual([r.ok, r.code, r.typed], [false, 'WASM_NOT_WASM', true]);
  assert.match(r.rule, /is an HTML page, not WebAssembly/);
  assert.match(r.rule, /optimizeDeps: \{ exclude: \['tillit'\] \}/);
});

test('bytes that are not WebAssembly at all are WASM_NOT_WASM without the HTML hint', async () => {
  const r = await load(servers.plain, '/tests/browser/load.js');
  assert.deepEqual([r.ok, r.code], [false, 'WASM_NOT_WASM']);
  assert.match(r.rule, /does not start with \\0asm/);
});

test("a CSP without 'wasm-unsafe-eval' is WASM_BLOCKED, naming the directive to add", async () => {
  const r = await load(servers.strict);
  assert.deepEqual([r.ok, r.name, r.code, r.typed], [false, 'WasmLoadError', 'WASM_BLOCKED', true]);
  assert.match(r.rule, /add 'wasm-unsafe-eval' to its script-src/);
});
