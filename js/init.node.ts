/**
 * The Node build of `tillit/init`: as in browsers, plus `file:` URLs read from disk (the
 * default is the package's own copy).
 * @module
 */
import './platform.node.js';
import { readFile } from 'node:fs/promises';
import * as core from '#core';
import { load } from './load.js';
import type { InitOptions } from './init.js';

export * from './api.js';
export type { WasmSource, UrlLike, ResponseLike, CompiledWasmModule } from './load.js';
export type { InitOptions } from './init.js';

/** The version of the Rust core; set once {@link init} has resolved. */
export let coreVersion = '';

/** Loads the core (see `tillit/init`). */
export async function init(opts: InitOptions = {}): Promise<void> {
  await load(opts.wasm, async (url) => new Uint8Array(await readFile(url)));
  coreVersion = core.coreVersion();
}
