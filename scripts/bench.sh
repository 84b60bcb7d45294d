#!/usr/bin/env bash
# `npm run bench`: builds what the benchmarks need, runs them in Node and in headless
# Chromium, prints one table per runtime and writes target/bench/results.json.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/build.sh
cargo build -q --profile emulator -p tillit-emulator -p tillit-collector
mkdir -p bench/node_modules tests/node_modules && ln -sfn ../../pkg bench/node_modules/tillit && ln -sfn ../../pkg tests/node_modules/tillit
node bench/node.mjs "$@"
node bench/browser.mjs "$@"
