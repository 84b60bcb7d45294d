#!/usr/bin/env bash
# Runs every check and test of tillit; installs what is missing first (scripts/setup.sh).
# Order: hygiene (fmt, clippy native + wasm32, rustdoc), native tests, the package build,
# type checks, the packed tarball in fresh consumer projects, wasm-bindgen tests in Node and
# Chromium, JS package tests in Node and Chromium, and a Vite build of a page that imports
# the package.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
start=$(date +%s)
step() { log "── $* ($(( $(date +%s) - start )) s)"; }

# node --test over a folder: the whole spec report goes to target/test-logs/NAME.log; printed
# are every failing test with its error (the spec reporter's "failing tests" part) and the
# summary, so a CI log names what failed.
node_tests() {
  local name="$1" dir="$2" out
  mkdir -p target/test-logs
  out="target/test-logs/$name.log"
  if node --test --test-timeout=300000 --test-reporter=spec "$dir" > "$out" 2>&1; then
    grep -E '^ℹ (tests|pass|fail|skipped|cancelled) ' "$out"
  else
    log "failures in $dir (whole report: $out)"
    sed -n '/failing tests:/,$p' "$out" | head -n 400
    grep -E '^ℹ (tests|pass|fail|skipped|cancelled) ' "$out"
    return 1
  fi
}

WB_BIN="$(bash scripts/setup.sh | tail -n1)"
export PATH="$WB_BIN:$PATH"

step "rustfmt"
cargo fmt --all -- --check
step "prettier (js/ and tests/, .prettierrc.json)"
bash scripts/format.sh --check
step "clippy (native)"
cargo clippy -q --workspace --all-targets -- -D warnings
step "clippy (wasm32)"
wasm_cargo clippy -q --target "$WASM_TARGET" --lib --tests -- -D warnings
step "rustdoc (broken links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc -q --no-deps --workspace

step "identifier oracle: the committed verdicts are python-stdnum's (tests/identifiers_oracle.rs compares)"
"$PY_TOOLS/bin/python" tests/oracles/identifiers.py --check
step "number oracle: the committed forms are V8's (tests/numbers_oracle.rs compares)"
node tests/oracles/numbers.mjs --check

# The independent access-log verifier (written from docs/audit-format.md) over the golden logs;
# tests/js/audit-python.test.mjs checks it against fresh and tampered logs in the JS step.
step "access log: the golden logs verify with the independent Python verifier"
export TILLIT_AUDIT_PYTHON="$PY_TOOLS/bin/python"
for g in tests/fixtures/golden-v0-*.ndjson; do
  "$TILLIT_AUDIT_PYTHON" tests/verify_audit_log.py "$g" --accept-legacy --key tests/fixtures/golden-v0-key.public.jwk.json >/dev/null
done

# The collector's tests run against SQLite and a throwaway PostgreSQL that pg.sh starts (and
# stops) around them.
step "native tests (the collector's against SQLite and PostgreSQL)"
bash scripts/pg.sh cargo test -q --workspace 2>&1 | grep -v '^$'

# The mutants on the lines of src/ this branch changed since its merge base with main (none on
# main itself: they were checked on their branch); a missed one fails. Bounded in time.
step "mutation testing of the changed lines (scripts/mutants.sh --in-diff)"
TILLIT_MUTANTS_MAX_S="${TILLIT_MUTANTS_MAX_S:-600}" bash scripts/mutants.sh --in-diff

step "build pkg/"
bash scripts/build.sh
mkdir -p tests/node_modules && ln -sfn ../../pkg tests/node_modules/tillit

step "TypeScript: the published declarations type a consumer"
node_modules/.bin/tsc -p tests/types/tsconfig.json
node_modules/.bin/tsc -p tests/types/tsconfig.nodom.json

# The packed tarball (its size against the budget in bench/config.json) in fresh projects:
# publint --strict, attw (ESM only), a plain page, a module worker, webpack 5 (and 5.82), Vite (dev, build,
# worker), esbuild, Rollup, Node (ESM, CJS, tillit/init), TypeScript (bundler, node16,
# nodenext, lib ES2022 without DOM). Next.js and Angular: scripts/test-consumers.sh --all.
step "consumers: npm pack, then the tarball installed into fresh projects"
bash scripts/test-consumers.sh

# With wasm SIMD, as the package is built (scripts/build.sh), so sha2's SIMD backend is tested.
step "wasm-bindgen tests in Node"
RUSTFLAGS="-Ctarget-feature=+simd128" wasm_cargo test --target "$WASM_TARGET" --test wasm_node
step "wasm-bindgen tests in headless Chromium"
RUSTFLAGS="-Ctarget-feature=+simd128" CHROMEDRIVER=/usr/bin/chromedriver wasm_cargo test --target "$WASM_TARGET" --test wasm_browser

step "build the emulator, the collector and the example pages for the JS and e2e tests"
cargo build -q -p tillit-emulator -p tillit-collector
mkdir -p examples/node_modules && ln -sfn ../../pkg examples/node_modules/tillit
node_modules/.bin/vite build --config examples/vite.config.mjs

# A test file that has not finished after 5 minutes fails, named, instead of holding CI until
# its own limit (the longest file takes under a minute here).
step "JS package tests in Node"
node_tests js tests/js/
step "JS package tests in headless Chromium"
node_tests browser tests/browser/

step "end-to-end: the example pages in headless Chromium (Playwright)"
node_tests e2e tests/e2e/

step "Vite 7 build of a page importing tillit"
(cd tests/vite && ../../node_modules/.bin/vite build --config vite.config.mjs)
ls target/vite-check/assets/*.wasm >/dev/null

step "examples: the quick-start runs against the built package"
node examples/quickstart/main.mjs > /dev/null

step "fuzz smoke (libFuzzer, 5 s per target)"
bash scripts/fuzz.sh 5

step "all tests passed"
