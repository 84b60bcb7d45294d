#!/usr/bin/env bash
# The main demo: builds the package, the emulator, the collector and the example pages, starts
# the embedded national-infrastructure emulator and the organisation's log (tillit-collector,
# SQLite), and serves the EHR, citizen and log-control pages (prints the URLs). `--headless`
# runs the Node integration-service flow end to end (its log shipped to a collector) and
# prints a summary.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/build.sh
log "building the emulator and the collector"
cargo build -q -p tillit-emulator -p tillit-collector
mkdir -p examples/node_modules && ln -sfn ../../pkg examples/node_modules/tillit
log "building the example pages (Vite)"
node_modules/.bin/vite build --config examples/vite.config.mjs
exec node examples/demo.mjs "$@"
