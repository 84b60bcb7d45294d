/**
 * `tillit/wasm`: the WebAssembly core itself, for builds that copy it or import it. What the
 * import gives is up to the build's loader for `.wasm` files: esbuild's `--loader:.wasm=file`
 * its URL, `--loader:.wasm=binary` its bytes (Vite: `import wasm from 'tillit/wasm?url'`).
 * Hand it to `init({ wasm })` from `tillit/init`.
 * @module
 */
declare const wasm: string | Uint8Array;
export default wasm;
