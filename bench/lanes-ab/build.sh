#!/usr/bin/env bash
# Builds the variants of the SHA-256 A/B (issue 19, item 3) into target/lanes-ab/<variant>/,
# each a package folder of its own (web/ and node/ cores, dist/ wrappers), so that one page
# can load them side by side:
#   a   the base commit as it is: hand-written wasm SIMD lanes (src/audit/lanes.rs), shared
#       prefix midstates, sha2 0.10 for the rest of each record;
#   b1  the base + b1.patch: sha2 0.11 (its wasm32 simd128 backend) over each whole record;
#   b2  the base + b2.patch: sha2 0.11 from shared-prefix midstates (its block-level
#       `compress256`), no hand-written rounds.
# Each variant is an exported copy of the base built by that copy's own scripts/build.sh,
# with this repository's target folder (the dependencies and std are built once).
# Usage: bash bench/lanes-ab/build.sh [variant...]   (default: a b1 b2), then
#        node bench/lanes-ab/run.mjs
source "$(dirname "$0")/../../scripts/env.sh"
HERE="$ROOT/bench/lanes-ab"
# The last commit of main with the lanes; the patches apply to it.
BASE="${LANES_AB_BASE:-84947faabe3a9d81e99cb1dabf834c64476fc2a5}"
OUT="$ROOT/target/lanes-ab"
mkdir -p "$OUT"
variants=("$@")
[ $# -gt 0 ] || variants=(a b1 b2)
for v in "${variants[@]}"; do
    src="$OUT/src/$v"
    log "lanes-ab: building variant $v from ${BASE:0:12}"
    rm -rf "$src" && mkdir -p "$src"
    git -C "$ROOT" archive "$BASE" | tar -x -C "$src"
    if [ -f "$HERE/$v.patch" ]; then
      # Its own repository, so that `git apply` does not resolve paths against ours.
      (cd "$src" && git init -q && git apply "$HERE/$v.patch")
    fi
    # This checkout's npm packages and lockfile (so the copy's setup step finds them
    # installed and never reinstalls them), and its target folder.
    cp "$ROOT/package-lock.json" "$src/package-lock.json"
    ln -s "$ROOT/node_modules" "$src/node_modules"
    ln -s "$ROOT/target" "$src/target"
    (cd "$src" && nice -n 10 bash scripts/build.sh)
    rm -rf "$OUT/${v:?}" && mv "$src/pkg" "$OUT/$v"
done
log "lanes-ab: built ${variants[*]} into $OUT"
