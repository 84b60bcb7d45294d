/**
 * The Node build of the `tillit` entry: reads the core from disk synchronously when imported,
 * without top-level await, so CommonJS can `require('tillit')` (Node ≥ 20.19).
 * @module
 */
import './platform.node.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as core from '#core';
import { WasmLoadError } from './errors.js';
import { loadSync, packagedWasmUrl } from './load.js';

const url = packagedWasmUrl();
let bytes: Uint8Array;
try {
  // `.href`: a bundled server build may hand over a URL object of another realm.
  bytes = readFileSync(fileURLToPath(url.href));
} catch (e) {
  const missing = (e as { code?: string }).code === 'ENOENT';
  throw new WasmLoadError(
    missing ? 'WASM_NOT_FOUND' : 'WASM_LOAD_FAILED',
    'wasm',
    `${url.href} could not be read: a server bundle did not copy it; keep tillit external to the bundle, or import { init } from 'tillit/init' and pass the file's bytes`,
  );
}
loadSync(bytes, url.href);

export * from './api.js';
export type { WasmSource, UrlLike, ResponseLike, CompiledWasmModule } from './load.js';

/** The version of the Rust core. */
export const coreVersion: string = core.coreVersion();
