#!/usr/bin/env bash
# The collector's benchmark: verified ingest vs a plain bulk insert of the same rows (ratio,
# target >= 0.5), and ITI-81 search time for one patient among 1,000,000 stored records, into
# SQLite and into a throwaway PostgreSQL (scripts/pg.sh). Filling a million records takes
# minutes per database. Prints one JSON line per figure and writes bench/collector-results.json.
#   bash bench/collector.sh [RECORDS=20000] [QUERY_RECORDS=1000000]
source "$(dirname "$0")/../scripts/env.sh"
cd "$ROOT"
records="${1:-20000}"
query_records="${2:-1000000}"
cargo build -q --profile emulator -p tillit-collector --example bench
bin="$ROOT/target/emulator/examples/bench"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
out="$tmp/results.ndjson"
"$bin" --db "sqlite:$tmp/verified.db" --db-plain "sqlite:$tmp/plain.db" \
  --records "$records" --query-records "$query_records" | tee -a "$out"
# Two fresh databases in the throwaway cluster (the role may create them).
bash scripts/pg.sh bash -c '
  base="${TILLIT_TEST_PG%/*}"
  psql -q "$TILLIT_TEST_PG" -c "CREATE DATABASE bench_verified" -c "CREATE DATABASE bench_plain"
  "$0" --db "$base/bench_verified" --db-plain "$base/bench_plain" --records "$1" --query-records "$2"
' "$bin" "$records" "$query_records" | tee -a "$out"
node -e "
const lines = require('fs').readFileSync('$out', 'utf8').trim().split('\n').map(JSON.parse);
require('fs').writeFileSync('bench/collector-results.json', JSON.stringify({ measuredAt: new Date().toISOString(), cores: require('os').cpus().length, results: lines }, null, 2) + '\n');
"
