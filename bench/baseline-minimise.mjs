// The plain-JS baseline for the minimisation benchmark: the same default policy written by
// hand as an integrator would (JSON.parse + filter + projection), no validation beyond it.
const DOC = 'urn:oid:2.16.578.1.12.4.1.1.9602';
const BLOCKS = 'urn:oid:2.16.578.1.12.4.1.1.9603';
const CONF = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const KINDS = { 'A00-1': null, 'E00-1': 5, 'I01-2': 1, 'C00-1': 1 };
const FIELDS = new Set(['resourceType', 'id', 'meta', 'contained', 'masterIdentifier', 'identifier', 'status', 'type', 'category', 'subject', 'date', 'author', 'custodian', 'description', 'securityLabel', 'content', 'context']);
const ATT = new Set(['contentType', 'language', 'url', 'size', 'hash', 'title', 'creation']);

export function minimiseJs(text, patients, purpose, authorization, now = new Date()) {
  const bundle = JSON.parse(text);
  const kept = [];
  const withheld = [];
  for (const [i, e] of (bundle.entry ?? []).entries()) {
    const r = e.resource;
    const why = (() => {
      if (!r || r.resourceType !== 'DocumentReference') return 'NOT_DOCUMENT_REFERENCE';
      const subj = r.subject?.identifier?.value;
      if (!patients.includes(subj)) return 'OTHER_PATIENT';
      if (r.status !== 'current') return 'NOT_CURRENT';
      const type = r.type?.coding?.find((c) => c.system === DOC)?.code;
      if (!type) return 'TYPE_UNKNOWN';
      const group = `${type[0]}00-1`;
      const window = type in KINDS ? KINDS[type] : group in KINDS ? KINDS[group] : undefined;
      if (window === undefined) return 'TYPE_NOT_ALLOWED';
      const labels = (r.securityLabel ?? []).flatMap((l) => l.coding ?? []);
      if (labels.some((c) => c.system === BLOCKS && c.code === 'NORS')) return 'PATIENT_BLOCK';
      if (labels.some((c) => c.system === CONF && c.code === 'R') && !(['TREAT', 'ETREAT', 'BTG'].includes(purpose) && authorization === 'LE')) return 'CONFIDENTIALITY';
      if (labels.some((c) => c.system === CONF && c.code === 'V') && !(purpose === 'TREAT' && authorization === 'LE')) return 'CONFIDENTIALITY';
      if (window !== null) {
        const d = (r.date ?? r.content?.[0]?.attachment?.creation ?? '').slice(0, 10);
        if (!d) return 'UNDATED';
        const cut = new Date(now);
        cut.setUTCFullYear(cut.getUTCFullYear() - window);
        if (d < cut.toISOString().slice(0, 10)) return 'OUTSIDE_WINDOW';
      }
      return null;
    })();
    if (why) {
      withheld.push({ id: r?.id ?? `entry[${i}]`, index: i, reason: why });
      continue;
    }
    const out = {};
    for (const k of Object.keys(r)) if (FIELDS.has(k)) out[k] = r[k];
    if (out.content) out.content = out.content.map((c) => ({ attachment: Object.fromEntries(Object.entries(c.attachment ?? {}).filter(([k]) => ATT.has(k))) }));
    kept.push({ fullUrl: e.fullUrl, resource: out, search: e.search });
  }
  return { bundle: { resourceType: 'Bundle', type: 'searchset', total: kept.length, entry: kept }, withheld };
}
