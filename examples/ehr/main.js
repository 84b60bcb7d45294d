// The clinician's flow: record the care need, log in through HelseID (PAR + PKCE, the
// client assertion signed by the backend), see the minimised document list with what was
// withheld and why, open a document, and see the local access log with the chain verified.
import { TrustContext, TillitError } from 'tillit';
import { config, makeClient, showLog, showDocument, showRefusal, shippingText, el, REASONS, TYPES } from '../shared/setup.js';

const $ = (id) => document.getElementById(id);
const cfg = await config();
const { client, auditLog } = await makeClient(cfg, 'demo-ehr-dpop', { ship: true });
const status = (t) => ($('status').textContent = t);

// The shipping status as it changes: a warning when records wait, an alarm when it stopped.
auditLog.addEventListener('shipping', (e) => {
  const s = document.querySelector('[data-testid=shipping]');
  if (!s) return;
  s.textContent = shippingText(e.detail);
  s.dataset.queued = String(e.detail.queued);
  s.className = e.detail.state === 'stopped' ? 'bad' : 'muted';
});

for (const p of cfg.patients) $('patient').append(el('option', { value: p.id }, `${p.label} (${p.id})`));

function contextFrom(form) {
  const emergency = form.emergency;
  return TrustContext.fromJSON({
    type: 'nhn:tillitsrammeverk:parameters',
    practitioner: cfg.practitioner,
    care_relationship: {
      healthcare_service: { code: form.service, system: 'urn:oid:2.16.578.1.12.4.1.1.8655' },
      purpose_of_use: { code: emergency ? 'ETREAT' : form.purpose, system: 'urn:oid:2.16.840.1.113883.1.11.20448' },
      purpose_of_use_details: { code: emergency ? 'BLAALYS' : 'BEHANDLER', system: 'urn:AuditEventHL7Norway/CodeSystem/carerelation' },
      decision_ref: { id: form.decision, description: emergency ? 'Nødtilgang' : 'Behandlende lege', user_selected: emergency },
    },
    patients: [{ identifier: { id: form.patient, system: 'urn:oid:2.16.578.1.12.4.1.4.1' } }],
    toa: Math.floor(Date.now() / 1000),
  });
}

function readForm() {
  const f = new FormData($('need'));
  return { patient: f.get('patient'), service: f.get('service'), purpose: f.get('purpose'), emergency: f.get('emergency') === 'on', decision: f.get('decision') };
}

$('need').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const form = readForm();
    sessionStorage.setItem('demo:ehr-form', JSON.stringify(form));
    const { url } = await client.withContext(contextFrom(form)).login({ redirectUri: `${location.origin}${location.pathname}`, loginHint: 'lege' });
    location.assign(url);
  } catch (e) {
    status(e instanceof TillitError ? `Feil: ${e.code} (${e.path}): ${e.rule}` : 'Innlogging feilet');
  }
});

async function afterLogin() {
  const form = JSON.parse(sessionStorage.getItem('demo:ehr-form'));
  for (const [k, v] of Object.entries(form)) {
    const f = $('need').elements[k];
    if (f && f.type === 'checkbox') f.checked = v;
    else if (f && f.length && f[0]?.type === 'radio') for (const r of f) r.checked = r.value === v;
    else if (f) f.value = v;
  }
  const ctx = contextFrom(form);
  const view = client.withContext(ctx);
  await view.handleRedirect(location.href);
  history.replaceState(null, '', location.pathname);
  status(`Innlogget som ${cfg.practitioner.identifier.name}. Henter dokumenter …`);
  const r = await view.searchDocuments({ patient: form.patient, pageSize: 100 });
  status(`${r.entries.length} dokumenter vist.`);
  const reasons = {};
  for (const w of r.withheld) reasons[w.reason] = (reasons[w.reason] ?? 0) + 1;
  const parts = [];
  if (r.withheld.length) {
    parts.push(el('div', { class: 'withheld', 'data-testid': 'withheld' },
      el('strong', {}, `${r.withheld.length} ${r.withheld.length === 1 ? 'dokument' : 'dokumenter'} holdt tilbake: `),
      Object.entries(reasons).map(([k, n]) => `${n} ${REASONS[k] ?? k}`).join(', ')));
  }
  if (r.blockedCount) parts.push(el('div', { class: 'blocked', 'data-testid': 'blocked' }, `${r.blockedCount} ${r.blockedCount === 1 ? 'dokument' : 'dokumenter'} er sperret av pasienten og vises ikke.`));
  $('summary').replaceChildren(...parts);
  const rows = r.entries.map((d) => {
    const type = d.type.coding[0].code;
    const org = d.contained?.find((c) => c.resourceType === 'Organization')?.name ?? '';
    const open = el('button', { type: 'button', onclick: () => openDoc(view, d) }, 'Åpne');
    return el('tr', { 'data-subject': d.subject.identifier.value },
      el('td', {}, TYPES[type] ?? type), el('td', {}, d.content[0].attachment.title), el('td', {}, d.date.slice(0, 10)), el('td', {}, org), el('td', {}, open));
  });
  $('docs').replaceChildren(el('table', { 'data-testid': 'documents' },
    el('thead', {}, el('tr', {}, el('th', {}, 'Type'), el('th', {}, 'Tittel'), el('th', {}, 'Dato'), el('th', {}, 'Kilde'), el('th', {}, ''))),
    el('tbody', {}, ...rows)));
  await showLog($('log'), auditLog, $('verify'));
}

async function openDoc(view, entry) {
  try {
    const d = await view.getDocument(entry);
    showDocument($('viewer'), d, entry.content[0].attachment.title);
    status(`Åpnet «${entry.content[0].attachment.title}»${d.fromCda ? ' (PDF pakket ut av CDA)' : ''}.`);
  } catch (e) {
    showRefusal($('viewer'), e, TillitError);
    status(e instanceof TillitError ? `Kunne ikke åpne: ${e.code}` : 'Kunne ikke åpne dokumentet');
  }
  await showLog($('log'), auditLog, $('verify'));
}

if (new URLSearchParams(location.search).has('code')) {
  afterLogin().catch((e) => status(e instanceof TillitError ? `Feil: ${e.code}: ${e.rule}` : 'Noe gikk galt'));
} else {
  await showLog($('log'), auditLog, $('verify'));
}
window.demoReady = true;
