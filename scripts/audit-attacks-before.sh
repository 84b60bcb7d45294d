#!/usr/bin/env bash
# Shows that the access log's attack tests (issue 17) fail on the code as it was before that
# work and pass now: builds COMMIT's package in a temporary git worktree, runs this tree's
# attack tests against it (Node with the file sink, headless Chromium with IndexedDB), runs
# them against this tree's own build, and prints one Markdown table row per test: its
# outcome then and now, and the first line of its error then. The worktree goes afterwards.
#
#   bash scripts/audit-attacks-before.sh [COMMIT]   (default 516c16a: the last commit before
#                                                    issue 17's work; pkg/ must be built here)
#
# The tests read the API from the module namespace, so a name the old build lacks fails the
# test that uses it, not the whole file. docs/audit-attacks.md keeps the table of a run.
source "$(dirname "$0")/env.sh"
cd "$ROOT"
commit="${1:-516c16a}"
dir="${TILLIT_BEFORE_DIR:-$(dirname "$ROOT")/$(basename "$ROOT")-old}"
tests=(tests/js/audit-attacks.test.mjs tests/js/audit-open-bounded.test.mjs tests/browser/audit.test.mjs)
helpers=(tests/js/audit-tamper.mjs tests/js/fixtures.mjs tests/support/browser.mjs tests/support/static-server.mjs tests/browser/keys.html)
[ -f pkg/dist/index.js ] || { log "build this tree first: bash scripts/build.sh"; exit 1; }

cleanup() { git worktree remove --force "$dir" 2>/dev/null || rm -rf "$dir"; git worktree prune; }
if [ ! -f "$dir/pkg/dist/index.js" ]; then
  [ -d "$dir" ] || git worktree add -q --detach "$dir" "$commit"
  trap cleanup EXIT
  # The build caches (not the incremental ones) and the npm tree, as a fresh worktree lacks them.
  [ -d "$dir/target" ] || { mkdir -p "$dir/target" && (cd target && tar cf - --exclude=incremental --exclude=./mutants --exclude=./before-* .) | (cd "$dir/target" && tar xf -); }
  [ -d "$dir/node_modules" ] || cp -a node_modules "$dir/node_modules"
  log "building $commit's package in $dir"
  (cd "$dir" && nice -n 10 bash scripts/build.sh >/dev/null)
else
  trap cleanup EXIT
fi
mkdir -p "$dir/tests/node_modules" && ln -sfn ../../pkg "$dir/tests/node_modules/tillit"
for f in "${helpers[@]}"; do [ -e "$dir/$f" ] || { mkdir -p "$(dirname "$dir/$f")" && cp "$f" "$dir/$f"; }; done

out="$ROOT/target/audit-attacks-before"
mkdir -p "$out"
for t in "${tests[@]}"; do
  name="$(basename "$t" .test.mjs)-$(basename "$(dirname "$t")")"
  copy="$(dirname "$t")/$(basename "$t" .test.mjs).current.test.mjs"
  cp "$t" "$dir/$copy"
  (cd "$dir" && node --test --test-timeout=300000 --test-reporter=tap "$copy" > "$out/$name.before.tap" 2>&1) || true
  node --test --test-timeout=300000 --test-reporter=tap "$t" > "$out/$name.now.tap" 2>&1 || true
done

# One row per test: | file | test | before | now | the first error line before |
node - "$out" "$commit" <<'JS'
const fs = require('node:fs');
const [dir, commit] = process.argv.slice(2);
const parse = (file) => {
  const out = new Map();
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((l, i) => {
    const m = /^(not ok|ok) \d+ - (.*?)( # SKIP.*)?$/.exec(l);
    if (!m) return;
    let why = '';
    if (m[1] === 'not ok') {
      // The error's first line; for a bare deepEqual, what the old build gave instead.
      const block = [];
      for (let j = i + 1; j < lines.length && !/^(not )?ok /.test(lines[j]) && !/^\s+\.\.\.$/.test(lines[j]); j++) block.push(lines[j]);
      const e = block.findIndex((l) => /^\s+error: /.test(l));
      const first = e < 0 ? '' : (/^\s+error: (?:\|-)?\s*(.*)$/.exec(block[e])[1] || block[e + 1]?.trim() || '').replace(/^['"`]|['"`]$/g, '');
      const a = block.findIndex((l) => /^\s+actual:/.test(l));
      const actual = a < 0 ? '' : [block[a].replace(/^\s+actual:\s*/, ''), ...block.slice(a + 1).filter((l, k, all) => /^\s{4}/.test(l) && all.slice(0, k).every((x) => /^\s{4}/.test(x))).map((l) => l.trim())].filter(Boolean).join(' ');
      why = /^(Expected values.*|\+ actual.*|)$/.test(first) || /^(expected|actual):/.test(first) ? `gave ${actual}` : first;
    }
    out.set(m[2], { ok: m[1] === 'ok', why });
  });
  return out;
};
console.log(`| tests | test | before (${commit}) | now | why it fails before |`);
console.log('|---|---|---|---|---|');
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.now.tap')).sort()) {
  const name = f.replace('.now.tap', '');
  const now = parse(`${dir}/${f}`);
  const before = parse(`${dir}/${name}.before.tap`);
  for (const [test, r] of now) {
    const b = before.get(test);
    const cell = (x) => (x ? (x.ok ? 'pass' : 'FAIL') : 'not run');
    console.log(`| ${name} | ${test} | ${cell(b)} | ${cell(r)} | ${(b?.why ?? '').replaceAll('|', '\\|').slice(0, 140)} |`);
  }
}
JS
