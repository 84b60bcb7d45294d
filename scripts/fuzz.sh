#!/usr/bin/env bash
# Runs every fuzz target (cargo-fuzz / libFuzzer, native, nightly) for SECONDS each
# (default 5: the CI smoke). Findings land in fuzz/artifacts/ and fail the run.
#   bash scripts/fuzz.sh 600     # the long run: ten minutes per target
source "$(dirname "$0")/env.sh"
cd "$ROOT"
seconds="${1:-5}"
targets=(trust_context identifiers minimise minimise_generative jws audit_reader audit_events audit_writer audit_midstate policy scan signing_gate document)
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  log "no nightly Rust toolchain on this machine: the fuzz smoke cannot run (rustup cannot download one here)"
  exit 1
fi
CF="$TOOLS/cargo-fuzz/bin"
if [ ! -x "$CF/cargo-fuzz" ]; then
  log "installing cargo-fuzz into $TOOLS/cargo-fuzz (once per machine)"
  cargo install -q cargo-fuzz --root "$TOOLS/cargo-fuzz"
fi
export PATH="$CF:$PATH"
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  cp -n fuzz/seeds/"$t"/* "fuzz/corpus/$t/" 2>/dev/null || true
  out=$(cargo +nightly fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 2>&1) || {
    printf '%s\n' "$out" | tail -n 30
    log "fuzz target $t FAILED: see fuzz/artifacts/$t"
    exit 1
  }
  runs=$(printf '%s\n' "$out" | awk '/stat::number_of_executed_units/ {print $2}')
  log "fuzz $t: ${runs:-?} executions in ${seconds}s, no crash"
done
