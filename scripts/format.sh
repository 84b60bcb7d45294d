#!/usr/bin/env bash
# The TypeScript wrapper and the JS tests in prettier's shape (.prettierrc.json: width 100).
#   bash scripts/format.sh           # rewrite the files
#   bash scripts/format.sh --check   # list the files that differ and fail (the test command)
source "$(dirname "$0")/env.sh"
cd "$ROOT"
mode=--write
[ "${1:-}" = "--check" ] && mode=--check
exec node_modules/.bin/prettier "$mode" --log-level warn \
  "js/**/*.ts" "tests/**/*.{mjs,js,ts}"
