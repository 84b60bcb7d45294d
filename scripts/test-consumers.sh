#!/usr/bin/env bash
# Installs the packed tarball (what a registry user gets) into each consumer project under
# tests/consumers/, builds it and runs the smoke (tests/consumers/smoke.mjs) in headless
# Chromium or Node. Each project is copied to a scratch folder and installed with `npm ci`
# from its own lockfile, then `npm install --no-save` of the tarball; the tree is left as found.
#   scripts/test-consumers.sh            the light consumers (the test command runs these)
#   scripts/test-consumers.sh --all      also the heavy ones (Next.js, Angular)
#   scripts/test-consumers.sh vite esbuild   just these
# Prints the tarball's size against the size before issue 22 (one wasm copy instead of two).
source "$(dirname "$0")/env.sh"
cd "$ROOT"

all=0
names=()
for a in "$@"; do
  case "$a" in
    --all) all=1 ;;
    *) names+=("$a") ;;
  esac
done

[ -f pkg/package.json ] || bash scripts/build.sh
out="$ROOT/target/consumers"
mkdir -p "$out" && rm -f "$out"/tillit-*.tgz
tgz="$out/$(cd pkg && npm pack --silent --pack-destination "$out" | tail -n1)"
size=$(stat -c %s "$tgz")
# npm pack of the package as it was before issue 22 (two copies of the core): 526550 bytes.
before=526550
log "tarball: $(basename "$tgz") $size bytes ($(( size * 100 / before ))% of the $before bytes before one core copy)"

export TILLIT_CONSUMERS="$ROOT/tests/consumers" TILLIT_TGZ="$tgz"
failed=()
for dir in tests/consumers/*/; do
  name="$(basename "$dir")"
  if [ ${#names[@]} -gt 0 ]; then
    [[ " ${names[*]} " == *" $name "* ]] || continue
  elif [ "$(node -p "require('./$dir/package.json').heavy === true")" = true ] && [ "$all" = 0 ]; then
    continue
  fi
  started=$(date +%s)
  work="$(mktemp -d)"
  cp -r "$dir/." "$work/" && cp tests/consumers/smoke.mjs tests/consumers/smoke.d.mts "$work/"
  if (cd "$work" \
    && npm ci --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null \
    && npm install --no-save --no-audit --no-fund --prefer-offline --loglevel=error "$tgz" >/dev/null \
    && npm run -s consumer); then
    log "consumer $name passed ($(( $(date +%s) - started )) s)"
  else
    log "consumer $name FAILED"
    failed+=("$name")
  fi
  rm -rf "$work"
done
if [ ${#failed[@]} -gt 0 ]; then
  log "failed consumers: ${failed[*]}"
  exit 1
fi
