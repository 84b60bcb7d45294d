#!/usr/bin/env bash
# Builds the npm package `tillit` into pkg/: the wasm core (one wasm-bindgen run, `web`, for
# every runtime), wasm-opt, the TypeScript wrapper, package.json and licences; prints the wasm
# size raw and gzipped.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
WB_BIN="$(bash scripts/setup.sh | tail -n1)"
export PATH="$WB_BIN:$PATH"

log "building the wasm core (release)"
# Bulk memory (memcpy as one instruction), sign-ext and friends: every runtime tillit supports
# has them. Where std is built here (Debian's toolchain), panics also carry no file/line
# strings (-Zlocation-detail=none): tillit does not panic on input, and it saves ~3 KB gzipped;
# and a panic is an immediate trap (-Cpanic=immediate-abort, a panic strategy of this
# compiler: the build-std feature panic_immediate_abort is refused), so no panic message is
# formatted and core::fmt's panic machinery goes: ~8.5 KB gzipped. A panic already aborted
# (panic = "abort"): the wasm traps either way, and the JS side reports it the same.
# There, tillit is also built at opt-level "z" (not the release profile's "s") with the
# minimiser's hot path at speed (--cfg tillit_speed: #[optimize(speed)] on src/scan.rs and
# src/minimise/) and MIR inlining on: 250,101 -> 228,857 B gzipped, the 10,000-entry
# minimisation as fast as at "s" (Cargo.toml has the measurements).
flags="-Ctarget-cpu=mvp -Ctarget-feature=+bulk-memory,+sign-ext,+nontrapping-fptoint,+mutable-globals,+simd128"
opt=s
if [ "$WASM_RUSTUP" = 0 ]; then
  flags="$flags -Zlocation-detail=none -Zunstable-options -Cpanic=immediate-abort --cfg tillit_speed -Zinline-mir=yes"
  opt=z
fi
CARGO_PROFILE_RELEASE_OPT_LEVEL="$opt" RUSTFLAGS="$flags" wasm_cargo build -q --release --lib --target "$WASM_TARGET"
WASM="$CARGO_TARGET_DIR_WASM/$WASM_TARGET/release/tillit.wasm"

rm -rf pkg && mkdir -p pkg
# One wasm-bindgen run (`web`): one copy of the core and its glue for every runtime; each entry
# (js/load.ts) hands it the .wasm, fetched next to it in browsers, read from disk in Node.
wasm-bindgen --target web --out-dir pkg/core --out-name tillit_core "$WASM"

if command -v wasm-opt >/dev/null; then
  f=pkg/core/tillit_core_bg.wasm
  # -O3 (not -Os/-Oz: its inlining keeps the scanner fast, Cargo.toml has the figures), run
  # to a fixed point (--converge: 240,413 -> 239,990 B gzipped, the minimisation as fast).
  wasm-opt --strip-producers -O3 --converge --enable-mutable-globals --enable-sign-ext --enable-bulk-memory --enable-nontrapping-float-to-int --enable-simd "$f" -o "$f.opt" && mv "$f.opt" "$f"
else
  log "wasm-opt not found: size not optimised"
fi
# The glue's own default location (`new URL('tillit_core_bg.wasm', import.meta.url)`) goes:
# tillit always passes the module (js/load.ts holds the one URL bundlers see), and a second
# reference would make bundlers resolve the file from a second place.
node - pkg/core/tillit_core.js <<'JS'
const fs = require('node:fs');
const file = process.argv[2];
let s = fs.readFileSync(file, 'utf8');
const before = s;
s = s.replace(/module_or_path = new URL\('tillit_core_bg\.wasm', import\.meta\.url\);/, "throw new Error('tillit: the core is loaded by js/load.ts');");
s = s.replace(/^\/\* @ts-self-types="[^"]*" \*\/\n/m, '');
// Before the core is loaded (tillit/init before init()), any use of it is a typed error.
const guarded = s
  .replace(/^let wasmModule, wasmInstance, wasm;$/m, `import { WasmLoadError } from '../dist/errors.js';
const notLoaded = new Proxy({}, { get() { throw new WasmLoadError('WASM_NOT_LOADED', 'init', "the core is not loaded yet: await init() from 'tillit/init' before calling anything else"); } });
let wasmModule, wasmInstance, wasm = notLoaded;`)
  .replaceAll('if (wasm !== undefined) return wasm;', 'if (wasm !== notLoaded) return wasm;');
if (guarded === s || /wasm [!=]== undefined/.test(guarded) || guarded.split('notLoaded) return wasm').length !== 3) { console.error('the wasm-bindgen glue changed shape (wasm state): see scripts/build.sh'); process.exit(1); }
s = guarded;
// The glue's doc comments (from the Rust docs, for a .d.ts that is not published) go: 4,361
// of the 358,668 tarball bytes, gzipped. wasm-bindgen writes each on lines of its own.
const bare = s.replace(/^[ \t]*\/\*\*[\s\S]*?\*\/\n/gm, '').replace(/^[ \t]*\/\/.*\n/gm, '');
if (bare === s || /^\s*(\/\*|\/\/)/m.test(bare)) { console.error('the wasm-bindgen glue changed shape (comments): see scripts/build.sh'); process.exit(1); }
s = bare;
if (s === before || /import\.meta\.url/.test(s)) { console.error('the wasm-bindgen glue changed shape: see scripts/build.sh'); process.exit(1); }
fs.writeFileSync(file, s);
JS

log "compiling the TypeScript wrapper"
# Declarations keep their doc comments (editors show them); the JavaScript is emitted without
# comments (engines and bundlers read it; the docs are in the .d.ts files and the README).
# Measured: these comments were 12,958 of the 358,668 tarball bytes (npm pack, gzipped).
node_modules/.bin/tsc -p js/tsconfig.json --outDir pkg/dist --emitDeclarationOnly
node_modules/.bin/tsc -p js/tsconfig.json --outDir pkg/dist --declaration false --removeComments
# The wrapper imports the glue as `#core` (typed by its .d.ts, which is not published).
for f in pkg/dist/*.js; do sed -i "s#from '\#core'#from '../core/tillit_core.js'#" "$f"; done
for f in pkg/dist/sinks/*.js; do sed -i "s#from '\#core'#from '../../core/tillit_core.js'#" "$f"; done
if grep -rq "'#core'" pkg/dist; then log "a '#core' import survived in pkg/dist"; exit 1; fi
# The shipped JavaScript (the wrapper and the glue, not the .d.ts) minified by esbuild (pinned
# in package.json), each file on its own: whitespace and syntax only. Identifiers are not
# renamed, so every class, function and error keeps its name (error.name, stack traces), and
# there is nothing for keepNames to restore (it would add __name() calls). Non-ASCII text in
# messages stays UTF-8. Saves ~5.4 kB of the tarball (gzipped).
node_modules/.bin/esbuild pkg/dist/*.js pkg/dist/sinks/*.js pkg/core/tillit_core.js \
  --minify-whitespace --minify-syntax --charset=utf8 --outbase=pkg --outdir=pkg --allow-overwrite --log-level=warning
rm pkg/core/tillit_core.d.ts pkg/core/tillit_core_bg.wasm.d.ts pkg/core/package.json pkg/core/.gitignore 2>/dev/null || true
# Declarations: one per public entry (the Node builds share them), none for the Node-only
# internals nor the sinks (js/sinks/: internal, no public declaration names them), and every
# platform type imported from dist/dom-types.d.ts (no DOM lib needed).
rm -f pkg/dist/index.node.d.ts pkg/dist/init.node.d.ts pkg/dist/platform.d.ts pkg/dist/platform.node.d.ts pkg/dist/dom-types.js pkg/dist/sinks/*.d.ts
node scripts/standalone-types.mjs pkg/dist
cp js/wasm.d.ts pkg/dist/wasm.d.ts

node scripts/package-json.mjs > pkg/package.json
cp README.md LICENSE-MIT LICENSE-APACHE pkg/

raw=$(stat -c %s pkg/core/tillit_core_bg.wasm)
gz=$(gzip -9 -c pkg/core/tillit_core_bg.wasm | wc -c)
log "wasm size: $raw bytes raw, $gz bytes gzipped ($(du -h --apparent-size pkg/core/tillit_core_bg.wasm | cut -f1) raw)"
echo "$gz" > pkg/.wasm-gzip-bytes
budget=$(node -e "console.log(require('./bench/config.json').wasmGzipBudgetBytes)")
# The budget is the published build's: where std is built here (the "z" build above). A
# rustup toolchain (stable: none of the unstable size options) builds a larger core that works
# the same; its size is reported, not held to that budget.
if [ "$gz" -gt "$budget" ]; then
  if [ "$WASM_RUSTUP" = 1 ]; then
    log "the gzipped wasm ($gz bytes) is over the published build's budget ($budget bytes): a rustup build has no unstable size options (see scripts/build.sh)"
  else
    log "the gzipped wasm ($gz bytes) is over the budget in bench/config.json ($budget bytes)"
    exit 1
  fi
fi
