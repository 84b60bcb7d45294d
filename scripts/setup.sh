#!/usr/bin/env bash
# Installs what tillit's build and tests need, idempotently; fast when all is present.
# Debian packages (Rust for wasm32 when rustup lacks the target, lld, Chromium + driver,
# binaryen), the wasm-bindgen CLI pinned to Cargo.lock, and the npm dev dependencies.
source "$(dirname "$0")/env.sh"
cd "$ROOT"

apt_need=()
if [ "$WASM_RUSTUP" = 0 ]; then
  [ -x /usr/bin/cargo ] && /usr/bin/rustc --version 2>/dev/null | grep -q '^rustc 1\.\(9[0-9]\|[1-9][0-9][0-9]\)' || apt_need+=(rustc-web cargo-web)
  [ -d /usr/lib/rustlib/src/rust/library ] || apt_need+=(rust-web-src)
  [ -x /usr/bin/clippy-driver ] || apt_need+=(rust-web-clippy)
  command -v wasm-ld-19 >/dev/null || apt_need+=(lld-19)
fi
command -v chromium >/dev/null || apt_need+=(chromium)
command -v chromedriver >/dev/null || apt_need+=(chromium-driver)
command -v wasm-opt >/dev/null || apt_need+=(binaryen)
if [ ${#apt_need[@]} -gt 0 ]; then
  log "installing Debian packages: ${apt_need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${apt_need[@]}" >/dev/null
fi

# Cargo.lock must exist to know the wasm-bindgen version.
[ -f Cargo.lock ] || cargo generate-lockfile -q
WBV="$(wasm_bindgen_version)"
WB_DIR="$TOOLS/wasm-bindgen-$WBV"
if [ ! -x "$WB_DIR/bin/wasm-bindgen" ] || ! "$WB_DIR/bin/wasm-bindgen" --version | grep -q " $WBV\$"; then
  log "installing wasm-bindgen-cli $WBV into $WB_DIR (a few minutes, once per machine)"
  cargo install -q wasm-bindgen-cli --version "$WBV" --root "$WB_DIR"
fi

# cargo-mutants for mutation testing of the rule modules (scripts/mutants.sh).
if [ ! -x "$MUTANTS_BIN/cargo-mutants" ] || ! "$MUTANTS_BIN/cargo-mutants" mutants --version | grep -q " $MUTANTS_VERSION\$"; then
  log "installing cargo-mutants $MUTANTS_VERSION (a few minutes, once per machine)"
  cargo install -q cargo-mutants --locked --version "$MUTANTS_VERSION" --root "$(dirname "$MUTANTS_BIN")"
fi

# Python packages the tests use as independent oracles (python-stdnum, ...), pinned.
if [ ! -x "$PY_TOOLS/bin/python" ] || [ ! -f "$PY_TOOLS/.complete" ]; then
  log "installing the tests' Python packages into $PY_TOOLS"
  rm -rf "$PY_TOOLS"
  python3 -m venv "$PY_TOOLS"
  "$PY_TOOLS/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
  touch "$PY_TOOLS/.complete"
fi

# npm dev dependencies (TypeScript, jose, playwright-core, vite): reinstall only on change.
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat node_modules/.tillit-lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  log "installing npm dev dependencies (npm ci: exactly the lockfile, which it never rewrites)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.tillit-lock-hash
fi
echo "$WB_DIR/bin"
