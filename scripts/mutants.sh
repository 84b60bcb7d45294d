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
    # cargo-mutants' exit code 3: some mutants made the tests run past --timeout (a loop that
    # no longer ends), none was missed. A hang is the tests telling the mutant apart: caught.
    3) log "mutants: every mutant on the changed lines was caught; these by hanging the tests:"
       cat "$out/mutants.out/timeout.txt" ;;
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
  set +e
  cargo mutants --output "$out" --timeout 120 "$@"
  rc=$?
  set -e
  # Per-module counts (caught, missed, timeout, unviable), as the issue notes report them.
  python3 - "$out/mutants.out/outcomes.json" <<'PY' || true
import json, sys, collections
runs = json.load(open(sys.argv[1]))["outcomes"]
counts = collections.defaultdict(collections.Counter)
for o in runs:
    m = o["scenario"].get("Mutant") if isinstance(o["scenario"], dict) else None
    if m:
        counts[m["file"]][o["summary"]] += 1
for f in sorted(counts):
    c = counts[f]
    print(f"{f:32} " + "  ".join(f"{k.lower().replace('mutant', '')} {c[k]}" for k in sorted(c)))
PY
  # Exit code 3: no mutant missed, some caught by hanging the tests (past --timeout).
  [ "$rc" = 3 ] && { log "mutants: none missed; caught by a time-out:"; cat "$out/mutants.out/timeout.txt"; exit 0; }
  exit "$rc"
fi
