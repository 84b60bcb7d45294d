// Loading the core in Node through tillit/init: every source form (a file: URL, an http URL,
// a Response, bytes, a compiled module) and every failure (missing file, 404, HTML, not this
// core) as a WasmLoadError with a stable code. The default entry (`tillit`) is not imported
// here: it would load the core before these tests could see a failure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '../support/static-server.mjs';
import * as tillit from 'tillit/init';

const wasmPath = createRequire(import.meta.url).resolve('tillit/wasm');
let server;
before(async () => {
  server = await serveStatic(fileURLToPath(new URL('../..', import.meta.url)));
});
after(() => server?.close());

async function refusal(wasm) {
  const e = await tillit.init({ wasm }).then(
    () => undefined,
    (e) => e,
  );
  assert.ok(
    e instanceof tillit.WasmLoadError && e instanceof tillit.TillitError,
    `expected a WasmLoadError, got ${e}`,
  );
  assert.equal(e.path, 'wasm');
  return e;
}

test('before init, every call is a typed WASM_NOT_LOADED error, not a TypeError', async () => {
  const e = await tillit.generateKey({ alg: 'ES256' }).then(
    () => undefined,
    (x) => x,
  );
  assert.ok(e instanceof tillit.WasmLoadError, String(e));
  assert.equal(e.code, 'WASM_NOT_LOADED');
  assert.match(e.rule, /await init\(\) from 'tillit\/init'/);
  assert.throws(
    () => tillit.defaultPolicy(),
    (x) => x instanceof tillit.WasmLoadError && x.code === 'WASM_NOT_LOADED',
  );
  assert.throws(
    () => tillit.TrustContext.fromJSON({}),
    (x) => x instanceof tillit.WasmLoadError && x.code === 'WASM_NOT_LOADED',
  );
});

test('failures are typed, with a stable code and the fix', async () => {
  let e = await refusal(new URL('file:///no/such/dir/tillit.wasm'));
  assert.equal(e.code, 'WASM_NOT_FOUND');
  assert.match(e.rule, /no such file.*tillit\/init/);

  e = await refusal(`${server.url}/no/such/tillit.wasm`);
  assert.equal(e.code, 'WASM_NOT_FOUND');
  assert.match(e.rule, /HTTP 404/);

  e = await refusal(new TextEncoder().encode('<!doctype html><html><body>app</body></html>'));
  assert.equal(e.code, 'WASM_NOT_WASM');
  assert.match(e.rule, /HTML page.*optimizeDeps/);

  e = await refusal(new Response('oops', { status: 500 }));
  assert.equal(e.code, 'WASM_LOAD_FAILED');
  assert.match(e.rule, /HTTP 500/);

  // The magic number, then garbage: not a module this version can use.
  e = await refusal(Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0xff, 0xff));
  assert.equal(e.code, 'WASM_LOAD_FAILED');
  assert.match(e.rule, /not a WebAssembly module this version of tillit can use/);

  // A valid module that is not tillit's core (no exports, no imports) does not link.
  const empty = await WebAssembly.compile(
    Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00),
  );
  e = await refusal(empty);
  assert.equal(e.code, 'WASM_LOAD_FAILED');
  assert.match(e.rule, /not tillit's core/);

  e = await refusal(42);
  assert.equal(e.code, 'WASM_LOAD_FAILED');
  assert.match(e.rule, /must be a URL, a Response, the bytes or a compiled WebAssembly.Module/);
  assert.equal(tillit.coreVersion, '');
});

test('a compiled module loads the core; later calls are no-ops', async () => {
  const module = await WebAssembly.compile(readFileSync(wasmPath));
  await tillit.init({ wasm: module });
  assert.match(tillit.coreVersion, /^\d+\.\d+\.\d+/);
  await tillit.init({ wasm: 'ignored once loaded' });
  const key = await tillit.generateKey({ alg: 'ES256' });
  assert.equal(key.privateKey.extractable, false);
});
