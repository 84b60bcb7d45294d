#!/usr/bin/env bash
# Mutation testing of tillit's rule modules with cargo-mutants (pinned in scripts/setup.sh;
# which files, and the equivalent mutants with their reasons: .cargo/mutants.toml).
#
#   bash scripts/mutants.sh                 every mutant of the rule modules (long: hours on
#                                           2 cores; -j N to run N at once)
#   bash scripts/mutants.sh --in-diff [BASE] only mutants on lines changed since BASE (default:
#                                           the merge base with origin/main, else main); what
#                                           scripts/test.sh runs, bounded by TILLIT_MUTANTS_MAX_S
#
# Results go to target/mutants/mutants.out/ (missed.txt, caught.txt, ...). Exits non-zero when a
# mutant is missed.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh >/dev/null
export PATH="$MUTANTS_BIN:$PATH"
out=target/mutants
mkdir -p "$out"

if [ "${1:-}" = "--in-diff" ]; then
  base="${2:-}"
  if [ -z "$base" ]; then
    for ref in origin/main main; do
      if git rev-parse -q --verify "$ref" >/dev/null; then base="$(git merge-base HEAD "$ref")"; break; fi
    done
  fi
  diff="$out/in-diff.patch"
  git diff "$base" -- 'src/*.rs' 'src/**/*.rs' > "$diff"
  if [ ! -s "$diff" ]; then
    log "mutants: no line of src/ changed since $(git rev-parse --short "$base"): nothing to test"
    exit 0
  fi
  max="${TILLIT_MUTANTS_MAX_S:-900}"
  log "mutants: lines changed since $(git rev-parse --short "$base"), at most $max s"
  set +e
  timeout --signal=INT "$max" cargo mutants --in-diff "$diff" --output "$out" --timeout 120
  rc=$?
  set -e
  case $rc in
    0) log "mutants: every mutant on the changed lines was caught" ;;
    2) log "mutants: missed on changed lines:"; cat "$out/mutants.out/missed.txt"; exit 1 ;;
    124|130)
       # Say how much the time allowed: a run cut short before any mutant was tested proves
       # nothing, and the log must show it.
       total=$(grep -o '"genre":' "$out/mutants.out/mutants.json" 2>/dev/null | wc -l || true)
       done_n=$(cat "$out"/mutants.out/{caught,missed,timeout,unviable}.txt 2>/dev/null | wc -l || true)
       log "mutants: time limit ($max s) reached after $done_n of $total mutants; missed so far:"
       cat "$out/mutants.out/missed.txt" 2>/dev/null
       [ -s "$out/mutants.out/missed.txt" ] && exit 1 || exit 0 ;;
    *) log "mutants: cargo-mutants failed ($rc)"; exit "$rc" ;;
  esac
else
  cargo mutants --output "$out" --timeout 120 "$@"
fi
