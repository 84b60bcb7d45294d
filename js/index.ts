/**
 * tillit: the consumer's side of Norway's health-record sharing, for browsers, workers and
 * Node ≥ 20. Importing the package loads its WebAssembly core; every export is ready to use.
 * Where top-level await is not available (zone.js, iife bundles, older targets) or the build
 * does not emit the `.wasm` file, use `tillit/init` instead.
 *
 * @example
 * ```ts
 * import { TrustContext, generateKey, createClientAssertion, createDpopProof } from 'tillit'
 * ```
 * @module
 */
import * as core from '#core';
import { load } from './load.js';

// Browsers, workers and bundlers: fetched next to this file (bundlers emit it with the app).
await load(undefined);

export * from './api.js';
export type { WasmSource, UrlLike, ResponseLike, CompiledWasmModule } from './load.js';

/** The version of the Rust core. */
export const coreVersion: string = core.coreVersion();
