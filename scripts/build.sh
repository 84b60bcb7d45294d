#!/usr/bin/env bash
# Builds the npm package `tillit` into pkg/: the wasm core (one wasm-bindgen run per target:
# `web` for browsers, workers and bundlers, `experimental-nodejs-module` for Node), wasm-opt,
# the TypeScript wrapper, package.json; prints the wasm size raw and gzipped.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
WB_BIN="$(bash scripts/setup.sh | tail -n1)"
export PATH="$WB_BIN:$PATH"

log "building the wasm core (release)"
# Bulk memory (memcpy as one instruction), sign-ext and friends: every runtime tillit supports
# has them. Where std is built here (Debian's toolchain), panics also carry no file/line
# strings (-Zlocation-detail=none): tillit does not panic on input, and it saves ~3 KB gzipped.
flags="-Ctarget-cpu=mvp -Ctarget-feature=+bulk-memory,+sign-ext,+nontrapping-fptoint,+mutable-globals,+simd128"
[ "$WASM_RUSTUP" = 1 ] || flags="$flags -Zlocation-detail=none"
RUSTFLAGS="$flags" wasm_cargo build -q --release --lib --target "$WASM_TARGET"
WASM="$CARGO_TARGET_DIR_WASM/$WASM_TARGET/release/tillit.wasm"

rm -rf pkg && mkdir -p pkg
wasm-bindgen --target web --out-dir pkg/web --out-name tillit_core "$WASM"
wasm-bindgen --target experimental-nodejs-module --out-dir pkg/node --out-name tillit_core "$WASM"

if command -v wasm-opt >/dev/null; then
  for f in pkg/web/tillit_core_bg.wasm pkg/node/tillit_core_bg.wasm; do
    wasm-opt -O3 --enable-mutable-globals --enable-sign-ext --enable-bulk-memory --enable-nontrapping-float-to-int --enable-simd "$f" -o "$f.opt" && mv "$f.opt" "$f"
  done
else
  log "wasm-opt not found: size not optimised"
fi

# Loaders: the web build initialises from its .wasm next to it (fetch, works in Vite, workers);
# the Node build reads its .wasm from disk when imported.
cat > pkg/web/core.js <<'JS'
import init from './tillit_core.js';
await init({ module_or_path: new URL('./tillit_core_bg.wasm', import.meta.url) });
export * from './tillit_core.js';
JS
cat > pkg/node/core.js <<'JS'
export * from './tillit_core.js';
JS
cp pkg/web/tillit_core.d.ts pkg/web/core.d.ts
cp pkg/node/tillit_core.d.ts pkg/node/core.d.ts

log "compiling the TypeScript wrapper"
node_modules/.bin/tsc -p js/tsconfig.json --outDir pkg/dist/tmp
# One wrapper, two copies that differ only in which core they import, so that neither
# plain browser pages nor Node need a subpath-import map.
mkdir -p pkg/dist/web pkg/dist/node pkg/dist/types
for f in pkg/dist/tmp/*.js; do
  sed "s#from '\#core'#from '../../web/core.js'#" "$f" > "pkg/dist/web/$(basename "$f")"
  sed "s#from '\#core'#from '../../node/core.js'#" "$f" > "pkg/dist/node/$(basename "$f")"
done
mv pkg/dist/tmp/*.d.ts pkg/dist/types/ && rm -rf pkg/dist/tmp
if grep -rq "'#core'" pkg/dist; then log "a '#core' import survived in pkg/dist"; exit 1; fi

node scripts/package-json.mjs > pkg/package.json
cp README.md pkg/README.md

raw=$(stat -c %s pkg/web/tillit_core_bg.wasm)
gz=$(gzip -9 -c pkg/web/tillit_core_bg.wasm | wc -c)
log "wasm size: $raw bytes raw, $gz bytes gzipped ($(du -h --apparent-size pkg/web/tillit_core_bg.wasm | cut -f1) raw)"
echo "$gz" > pkg/.wasm-gzip-bytes
budget=$(node -e "console.log(require('./bench/config.json').wasmGzipBudgetBytes)")
if [ "$gz" -gt "$budget" ]; then
  log "the gzipped wasm ($gz bytes) is over the budget in bench/config.json ($budget bytes)"
  exit 1
fi
