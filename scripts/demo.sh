#!/usr/bin/env bash
# The main demo: builds the package, the emulator and the example pages, starts the embedded
# national-infrastructure emulator and serves the EHR and citizen pages (prints the URLs).
# `--headless` runs the Node integration-service flow end to end and prints a summary.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/build.sh
log "building the emulator"
cargo build -q -p tillit-emulator
mkdir -p examples/node_modules && ln -sfn ../../pkg examples/node_modules/tillit
log "building the example pages (Vite)"
node_modules/.bin/vite build --config examples/vite.config.mjs
exec node examples/demo.mjs "$@"
