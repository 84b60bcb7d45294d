#!/usr/bin/env bash
# The main demo: builds the package and runs the quick-start (examples/quickstart/), which
# builds a trust context, signs a client assertion and a DPoP proof with non-extractable
# keys, and shows what HelseID would receive.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/build.sh
mkdir -p examples/node_modules && ln -sfn ../../pkg examples/node_modules/tillit
exec node examples/quickstart/main.mjs "$@"
