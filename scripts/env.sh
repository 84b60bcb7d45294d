# Shared settings for tillit's scripts (sourced, not run). Decides how wasm32 is built here:
# rustup's wasm32 target when installed, else Debian's rustc-web with -Zbuild-std.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${TILLIT_TOOLS:-$HOME/.cache/tillit}"
WASM_TARGET=wasm32-unknown-unknown
# Python for the tests' independent oracles (tests/requirements.txt, pinned): a venv per
# version of that file, made by scripts/setup.sh.
# cargo-mutants, pinned (scripts/mutants.sh).
MUTANTS_VERSION=27.1.0
MUTANTS_BIN="$TOOLS/cargo-mutants-$MUTANTS_VERSION/bin"
PY_TOOLS="$TOOLS/python-$(sha256sum "$ROOT/tests/requirements.txt" | cut -c1-12)"

wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

if rustup target list --installed 2>/dev/null | grep -q "^$WASM_TARGET$"; then
  WASM_RUSTUP=1
  CARGO_TARGET_DIR_WASM="$ROOT/target"
else
  WASM_RUSTUP=0
  # A separate target dir: Debian's rustc and rustup's must not share build artefacts.
  CARGO_TARGET_DIR_WASM="$ROOT/target/wasm"
fi

# cargo for the wasm32 target: `wasm_cargo build --target wasm32-unknown-unknown ...`.
wasm_cargo() {
  if [ "$WASM_RUSTUP" = 1 ]; then
    CARGO_TARGET_DIR="$CARGO_TARGET_DIR_WASM" cargo "$@"
  else
    PATH="/usr/bin:$PATH" RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-19 \
      CARGO_TARGET_DIR="$CARGO_TARGET_DIR_WASM" /usr/bin/cargo "$1" -Zbuild-std=std,panic_abort "${@:2}"
  fi
}


log() { printf '\033[1m[tillit]\033[0m %s\n' "$*" >&2; }
