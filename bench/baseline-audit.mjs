// The plain-JS baseline for the audit benchmark: what an integrator would write without
// tillit for the same chained log line: the same AuditEvent (built from a template of
// tillit's own event, with a fresh id, time and transaction id), RFC 8785 canonical JSON
// (sorted keys, JSON.stringify for the rest: enough for this data), SHA-256 of the record
// without its hash, the line kept in memory. `digest(text)` returns the hex hash (sync in
// Node, node:crypto; async in browsers, WebCrypto).

/** RFC 8785 for plain JSON data of strings, integers, booleans, arrays and objects. */
export function jcs(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(jcs).join(',')}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${jcs(v[k])}`).join(',')}}`;
}

/** Appends `n` chained records made from `template` (an AuditEvent body); returns the lines. */
export async function appendBaseline(n, template, digest) {
  const lines = [];
  let prev = '0'.repeat(64);
  for (let i = 0; i < n; i++) {
    const body = {
      ...template,
      id: crypto.randomUUID(),
      recorded: new Date().toISOString(),
      entity: template.entity.map((e) => (e.type?.code === 'XrequestId' ? { ...e, what: { identifier: { value: `t-${i}` } } } : e)),
    };
    const unsigned = jcs({ body, kind: 'event', prev, seq: i });
    const hash = await digest(unsigned);
    // The hash member sorts between body and kind.
    const at = unsigned.lastIndexOf(',"kind":');
    lines.push(`${unsigned.slice(0, at)},"hash":"${hash}"${unsigned.slice(at)}`);
    prev = hash;
  }
  return lines;
}
