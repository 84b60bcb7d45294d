#!/usr/bin/env bash
# Runs every check and test of tillit; installs what is missing first (scripts/setup.sh).
# Order: hygiene (fmt, clippy native + wasm32, rustdoc), native tests, the package build,
# type checks, wasm-bindgen tests in Node and Chromium, JS package tests in Node and
# Chromium, and a Vite build of a page that imports the package.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
start=$(date +%s)
step() { log "── $* ($(( $(date +%s) - start )) s)"; }

WB_BIN="$(bash scripts/setup.sh | tail -n1)"
export PATH="$WB_BIN:$PATH"

step "rustfmt"
cargo fmt --all -- --check
step "clippy (native)"
cargo clippy -q --workspace --all-targets -- -D warnings
step "clippy (wasm32)"
wasm_cargo clippy -q --target "$WASM_TARGET" --lib --tests -- -D warnings
step "rustdoc (broken links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc -q --no-deps --workspace

# The independent access-log verifier (written from docs/audit-format.md) over the golden logs;
# tests/js/audit-python.test.mjs checks it against fresh and tampered logs in the JS step.
step "access log: the golden logs verify with the independent Python verifier"
export TILLIT_AUDIT_PYTHON="$(bash tests/audit-python.sh)"
for g in tests/fixtures/golden-v0-*.ndjson; do
  "$TILLIT_AUDIT_PYTHON" tests/verify_audit_log.py "$g" --accept-legacy --key tests/fixtures/golden-v0-key.public.jwk.json >/dev/null
done

# The collector's tests run against SQLite and a throwaway PostgreSQL that pg.sh starts (and
# stops) around them.
step "native tests (the collector's against SQLite and PostgreSQL)"
bash scripts/pg.sh cargo test -q --workspace 2>&1 | grep -v '^$'

step "build pkg/"
bash scripts/build.sh
mkdir -p tests/node_modules && ln -sfn ../../pkg tests/node_modules/tillit

step "npm install of pkg/ into a scratch folder; import('tillit') as a user does"
scratch="$(mktemp -d)"
(cd "$scratch" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error "$ROOT/pkg" >/dev/null \
  && node -e "import('tillit').then(m => { if (typeof m.TrustContext.fromJSON !== 'function') process.exit(1); console.log('tillit ' + m.coreVersion + ' imported from a scratch install') })")
rm -rf "$scratch"

step "TypeScript: the published declarations type a consumer"
node_modules/.bin/tsc -p tests/types/tsconfig.json

# With wasm SIMD, as the package is built (scripts/build.sh), so the SIMD lanes are tested.
step "wasm-bindgen tests in Node"
RUSTFLAGS="-Ctarget-feature=+simd128" wasm_cargo test --target "$WASM_TARGET" --test wasm_node
step "wasm-bindgen tests in headless Chromium"
RUSTFLAGS="-Ctarget-feature=+simd128" CHROMEDRIVER=/usr/bin/chromedriver wasm_cargo test --target "$WASM_TARGET" --test wasm_browser

step "build the emulator and the example pages for the JS and e2e tests"
cargo build -q -p tillit-emulator
mkdir -p examples/node_modules && ln -sfn ../../pkg examples/node_modules/tillit
node_modules/.bin/vite build --config examples/vite.config.mjs

# A test file that has not finished after 5 minutes fails, named, instead of holding CI until
# its own limit (the longest file takes under a minute here).
step "JS package tests in Node"
node --test --test-timeout=300000 --test-reporter=spec tests/js/ 2>&1 | tail -n 12
step "JS package tests in headless Chromium"
node --test --test-timeout=300000 --test-reporter=spec tests/browser/ 2>&1 | tail -n 12

step "end-to-end: the example pages in headless Chromium (Playwright)"
node --test --test-timeout=300000 --test-reporter=spec tests/e2e/ 2>&1 | tail -n 12

step "Vite 7 build of a page importing tillit"
(cd tests/vite && ../../node_modules/.bin/vite build --config vite.config.mjs)
ls target/vite-check/assets/*.wasm >/dev/null

step "examples: the quick-start runs against the built package"
node examples/quickstart/main.mjs > /dev/null

step "fuzz smoke (libFuzzer, 5 s per target)"
bash scripts/fuzz.sh 5

step "all tests passed"
