// Issue 16's adversarial table (tests/fixtures/minimise-adversarial.json), read once and
// turned into Bundle texts: the same cases the native test runs, for Node and Chromium.
import { readFileSync } from 'node:fs';

export const table = JSON.parse(
  readFileSync(new URL('../fixtures/minimise-adversarial.json', import.meta.url), 'utf8'),
);

/** The Bundle text of `c`: the base entry with the case's ops and raw replacements. */
export function bundleText(c) {
  const entry = structuredClone(table.entry);
  for (const [kind, path, value] of c.ops ?? []) {
    const parts = path.split('/').slice(1);
    const last = parts.pop();
    let target = entry;
    for (const p of parts) target = target[Array.isArray(target) ? Number(p) : p];
    if (kind === 'set') target[Array.isArray(target) ? Number(last) : last] = value;
    else if (kind === 'del') delete target[last];
    else if (kind === 'push') target[last].push(value);
    else throw new Error(`bad op ${kind}`);
  }
  let text = JSON.stringify({ resourceType: 'Bundle', type: 'searchset', entry: [entry] });
  for (const [from, to] of c.raw ?? []) {
    if (!text.includes(from)) throw new Error(`${c.name}: ${from}`);
    text = text.replace(from, to);
  }
  return text;
}

/** Checks one result against its case; returns a list of problems (empty: as expected). */
export function problems(c, out) {
  const p = [];
  const kept = ['KEPT', 'REDACTED', 'STRIPPED'].includes(c.expect);
  if (kept) {
    if (out.stats.returned !== 1) p.push(`withheld ${JSON.stringify(out.withheld)}`);
    else if (
      c.expect === 'REDACTED' &&
      out.bundle.entry[0].resource.meta?.security?.at(-1)?.code !== 'REDACTED'
    )
      p.push('not tagged REDACTED');
  } else {
    if (out.stats.returned !== 0) p.push(`kept, expected ${c.expect}`);
    else if (out.withheld[0].reason !== c.expect)
      p.push(`withheld for ${out.withheld[0].reason}, expected ${c.expect}`);
    const leak = c.expect === 'OTHER_PATIENT' || c.expect === 'SUBJECT_MISMATCH';
    if (out.leaks !== (leak ? 1 : 0)) p.push(`leaks ${out.leaks}`);
  }
  const text = JSON.stringify(out.bundle);
  for (const s of c.absent ?? []) if (text.includes(s)) p.push(`${s} passed`);
  if (c.retract && JSON.stringify(out.retract) !== JSON.stringify(c.retract))
    p.push(`retract ${JSON.stringify(out.retract)}`);
  return p;
}
