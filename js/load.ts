/**
 * Loading the WebAssembly core: one place for where the `.wasm` is, how it is fetched or read,
 * and what a failure means. Every entry point (`tillit`, `tillit/init`, in browsers and Node)
 * goes through here, so a load failure is always a {@link WasmLoadError} whose `rule` names
 * the likely cause and the fix.
 * @module
 */
import wbgInit, { initSync } from '#core';
import { WasmLoadError } from './errors.js';

/** A URL object (the platform's `URL`, or anything with an `href`). */
export interface UrlLike {
  readonly href: string;
}

/** A fetch `Response` (the platform's, or anything shaped like it). */
export interface ResponseLike {
  readonly ok: boolean;
  readonly status: number;
  readonly url?: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/**
 * A compiled `WebAssembly.Module` (typed structurally so that the declarations need no DOM
 * types: any object that is not one of the other forms is taken for a module).
 */
export type CompiledWasmModule = object;

/**
 * Where the core's `.wasm` comes from: a URL (string or `URL`; `file:` URLs in Node), a
 * `Response` or a promise of one (`fetch(url)`), the bytes, or a compiled `WebAssembly.Module`.
 */
export type WasmSource =
  | string
  | UrlLike
  | ResponseLike
  | PromiseLike<ResponseLike>
  | ArrayBuffer
  | ArrayBufferView
  | CompiledWasmModule;

/** Reads a `file:` URL (Node); absent in browsers. */
export type ReadFile = (url: URL) => Promise<Uint8Array>;

/**
 * The package's own copy of the core (`tillit/wasm`). Written as `new URL('…', import.meta.url)`
 * so that webpack, Vite and Parcel see it and emit the file with the bundle.
 */
export function packagedWasmUrl(): URL {
  return new URL('../core/tillit_core_bg.wasm', import.meta.url);
}

const FIX_COPY =
  "have the build emit it (webpack 5 and Vite do; for esbuild, Rollup, Angular or a copied bundle: import { init } from 'tillit/init' and pass the URL the build serves the file 'tillit/wasm' at, or its bytes: see the README, 'Use it with…')";

/** Checks the `\0asm` magic; names what came instead (an HTML page, most often). */
export function checkWasmBytes(bytes: Uint8Array, where: string): void {
  if (bytes[0] === 0x00 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d) return;
  const start = String.fromCharCode(...bytes.subarray(0, 64)).trimStart();
  const html = start.startsWith('<');
  throw new WasmLoadError(
    'WASM_NOT_WASM',
    'wasm',
    html
      ? `${where} is an HTML page, not WebAssembly: a dev server answered a missing file with its index page (Vite's dependency pre-bundling moves the package: add optimizeDeps: { exclude: ['tillit'] } to vite.config), or ${FIX_COPY}`
      : `${where} is not WebAssembly (it does not start with \\0asm): ${FIX_COPY}`,
  );
}

function describe(source: unknown): string {
  if (typeof source === 'string') return source;
  if (source && typeof (source as UrlLike).href === 'string') return (source as UrlLike).href;
  if (source && typeof (source as ResponseLike).url === 'string' && (source as ResponseLike).url)
    return (source as ResponseLike).url as string;
  return 'the wasm given';
}

function isResponse(x: unknown): x is ResponseLike {
  return (
    !!x &&
    typeof (x as ResponseLike).arrayBuffer === 'function' &&
    typeof (x as ResponseLike).status === 'number'
  );
}

async function bytesOf(
  source: WasmSource,
  readFile: ReadFile | undefined,
): Promise<{ bytes: Uint8Array; where: string }> {
  if (source instanceof ArrayBuffer)
    return { bytes: new Uint8Array(source), where: 'the bytes given' };
  if (ArrayBuffer.isView(source))
    return {
      bytes: new Uint8Array(source.buffer, source.byteOffset, source.byteLength),
      where: 'the bytes given',
    };
  let response: ResponseLike;
  let where = describe(source);
  if (typeof source === 'string' || typeof (source as UrlLike).href === 'string') {
    const href = typeof source === 'string' ? source : (source as UrlLike).href;
    if (readFile && /^file:/i.test(href)) {
      try {
        return { bytes: await readFile(new URL(href)), where };
      } catch (e) {
        const missing = (e as { code?: string }).code === 'ENOENT';
        throw new WasmLoadError(
          missing ? 'WASM_NOT_FOUND' : 'WASM_LOAD_FAILED',
          'wasm',
          `${where} could not be read${missing ? ' (no such file)' : ''}: ${FIX_COPY}`,
        );
      }
    }
    try {
      response = await fetch(href);
    } catch {
      throw new WasmLoadError(
        'WASM_LOAD_FAILED',
        'wasm',
        `${where} could not be fetched (network error, or a scheme fetch does not support): check the URL, or pass the bytes`,
      );
    }
  } else {
    const r = await (source as PromiseLike<ResponseLike> | ResponseLike);
    if (!isResponse(r)) return { bytes: new Uint8Array(0), where: '' };
    response = r;
    where = describe(r);
  }
  if (!response.ok) {
    throw new WasmLoadError(
      response.status === 404 ? 'WASM_NOT_FOUND' : 'WASM_LOAD_FAILED',
      'wasm',
      `the server answered HTTP ${response.status} for ${where}: ${FIX_COPY}`,
    );
  }
  return { bytes: new Uint8Array(await response.arrayBuffer()), where };
}

/** Compiles the core from `source`, mapping every failure to a {@link WasmLoadError}. */
async function compile(
  source: WasmSource,
  readFile: ReadFile | undefined,
): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  const { bytes, where } = await bytesOf(source, readFile);
  if (!where) {
    throw new WasmLoadError(
      'WASM_LOAD_FAILED',
      'wasm',
      'must be a URL, a Response, the bytes or a compiled WebAssembly.Module',
    );
  }
  checkWasmBytes(bytes, where);
  try {
    return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw compileError(e, where);
  }
}

/**
 * A module that is not tillit's core (wrong file, or no exports) would instantiate and leave
 * the glue unusable for good: refused before it is handed over. A core of another version
 * fails to link instead (the glue's import names carry hashes).
 */
function checkCore(module: WebAssembly.Module, where: string): void {
  const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  if (!names.has('memory') || !names.has('coreVersion')) {
    throw new WasmLoadError(
      'WASM_LOAD_FAILED',
      'wasm',
      `${where} is not a WebAssembly module this version of tillit can use (not tillit's core)`,
    );
  }
}

/** A CSP refusal (Chromium, Firefox and Safari word it differently) or an invalid module. */
function compileError(e: unknown, where: string): WasmLoadError {
  const message = String((e as { message?: unknown })?.message ?? e);
  if (/Content Security Policy|unsafe-eval|\bCSP\b/i.test(message)) {
    return new WasmLoadError(
      'WASM_BLOCKED',
      'wasm',
      "the page's Content Security Policy refuses to compile WebAssembly: add 'wasm-unsafe-eval' to its script-src (it allows WebAssembly only, not eval)",
    );
  }
  return new WasmLoadError(
    'WASM_LOAD_FAILED',
    'wasm',
    `${where} is not a WebAssembly module this version of tillit can use (a stale copy of 'tillit/wasm'?)`,
  );
}

let loading: Promise<void> | undefined;
let loaded = false;

/** Whether the core is ready. */
export function isLoaded(): boolean {
  return loaded;
}

/**
 * Loads the core once: later calls wait for the first; after a failure, the next call tries
 * again (with its own source).
 */
export function load(source: WasmSource | undefined, readFile?: ReadFile): Promise<void> {
  loading ??= (async () => {
    const module = await compile(source ?? packagedWasmUrl(), readFile);
    checkCore(module, describe(source ?? packagedWasmUrl()));
    try {
      await wbgInit({ module_or_path: module });
    } catch (e) {
      throw compileError(e, describe(source ?? packagedWasmUrl()));
    }
    loaded = true;
  })().catch((e: unknown) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

/** Loads the core synchronously from its bytes (Node, where this is not limited in size). */
export function loadSync(bytes: Uint8Array, where: string): void {
  if (loaded) return;
  checkWasmBytes(bytes, where);
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw compileError(e, where);
  }
  checkCore(module, where);
  try {
    initSync({ module });
  } catch (e) {
    throw compileError(e, where);
  }
  loaded = true;
}
