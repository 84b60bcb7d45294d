/**
 * `tillit/init`: the same API as `tillit`, with the WebAssembly core loaded when the app calls
 * {@link init}, not on import. For zone.js (Angular), iife bundles (Vite workers), targets
 * without top-level await, server-side rendering, and builds that do not emit the `.wasm`
 * file themselves (esbuild, Rollup): pass where the build serves `tillit/wasm`, or its bytes.
 * Anything else called before `init` has resolved throws a `WasmLoadError` (`WASM_NOT_LOADED`).
 *
 * @example
 * ```ts
 * import { init, generateKey } from 'tillit/init'
 * import wasm from 'tillit/wasm?url' // Vite; esbuild: --loader:.wasm=file
 * await init({ wasm })
 * const key = await generateKey({ alg: 'ES256' })
 * ```
 * @module
 */
import * as core from '#core';
import { load, type WasmSource } from './load.js';

export * from './api.js';
export type { WasmSource, UrlLike, ResponseLike, CompiledWasmModule } from './load.js';

/** Options of {@link init}. */
export interface InitOptions {
  /**
   * The core: a URL (string or `URL`), a `Response` or a promise of one, the bytes, or a
   * compiled `WebAssembly.Module`. Default: the package's own copy, next to this module (works
   * where the build emits it: webpack 5, Vite build, unbundled pages and workers).
   */
  wasm?: WasmSource;
}

/** The version of the Rust core; set once {@link init} has resolved. */
export let coreVersion = '';

/**
 * Loads the core; resolves when every export is ready. Safe to call more than once (later
 * calls wait for the first); rejects with a {@link WasmLoadError} naming the cause and fix.
 */
export async function init(opts: InitOptions = {}): Promise<void> {
  await load(opts.wasm);
  coreVersion = core.coreVersion();
}
