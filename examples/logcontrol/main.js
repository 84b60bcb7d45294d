// The privacy officer's page: the organisation's access log as the collector holds it, every
// device's look-ups in one place. Search by patient, practitioner and period (IHE ITI-81 at
// the collector), the follow-up reports (emergency and self-granted access first), and each
// device log's state: head, last checkpoint, how long since it last shipped, incidents.
// The backend reads the collector with the organisation's log-control token (see
// examples/organisation.mjs); this page never holds a token.
import { config, el, PROFESSIONS } from '../shared/setup.js';

const $ = (id) => document.getElementById(id);
const cfg = await config();
const status = (t) => ($('status').textContent = t);
const names = new Map(cfg.patients.map((p) => [p.id, p.label]));
for (const p of cfg.patients) $('patients').append(el('option', { value: p.id }, p.label));

/** GET a log-control route of the backend; throws with the collector's error code. */
async function read(route, query = '') {
  const r = await fetch(`/bff/logcontrol/${route}${query}`, { headers: { accept: 'application/json' } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error ?? body.issue?.[0]?.diagnostics ?? `HTTP ${r.status}`);
  return body;
}

const PURPOSES = { TREAT: 'Behandling', ETREAT: 'Nødtilgang', COC: 'Koordinering', BTG: 'Nødtilgang (BTG)' };
const ACTIONS = { E: 'Dokumentliste', R: 'Dokument', search: 'Dokumentliste', read: 'Dokument', token: 'Token' };
const OUTCOMES = { 0: 'OK', 4: 'Avvist', 8: 'Feil', 12: 'Alvorlig feil' };
const when = (t) => (t ? new Date(t).toLocaleString('nb-NO') : '');
const patientLabel = (id) => (id ? `${names.get(id) ?? 'Pasient'} (${id})` : '');
const isEmergency = (purpose) => purpose === 'ETREAT' || purpose === 'BTG';

/** What log control shows of one AuditEvent (IHE BALP): who, whom, why, what, the outcome. */
function summary(ev) {
  const user = ev.agent?.find((a) => a.requestor) ?? {};
  const patient = ev.entity?.find((x) => x.role?.code === '1')?.what?.identifier?.value;
  const details = Object.fromEntries((ev.entity ?? []).flatMap((x) => x.detail ?? []).map((d) => [d.type, d.valueString]));
  const purpose = ev.purposeOfEvent?.[0]?.coding?.[0]?.code ?? user.purposeOfUse?.[0]?.coding?.[0]?.code;
  const role = user.role?.[0]?.coding?.[0]?.code;
  // A document-list search is ITI-67; an execute without it is a token request.
  const action = ev.action === 'E' ? (ev.subtype?.some((s) => s.code === 'ITI-67') ? 'E' : 'token') : ev.action;
  return {
    recorded: ev.recorded, patient, purpose, action, outcome: ev.outcome,
    who: [user.who?.display, user.who?.identifier?.value ? `HPR ${user.who.identifier.value}` : ''].filter(Boolean).join(', '),
    role: PROFESSIONS[role] ?? role ?? '', organisation: user.location?.display ?? '',
    decision: details.decision_ref ?? '', selfGranted: details.user_selected === 'true',
  };
}

$('search').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData($('search'));
  const q = new URLSearchParams();
  if (f.get('patient')) q.set('patient', `urn:oid:2.16.578.1.12.4.1.4.1|${f.get('patient').trim()}`);
  if (f.get('agent')) q.set('agent', f.get('agent').trim());
  // The period in local days: from the start of the first to the end of the last.
  if (f.get('from')) q.append('date', `ge${new Date(`${f.get('from')}T00:00:00`).toISOString()}`);
  if (f.get('to')) q.append('date', `le${new Date(`${f.get('to')}T23:59:59.999`).toISOString()}`);
  if (f.get('purpose')) q.set('purpose', f.get('purpose'));
  q.set('_sort', '-date');
  q.set('_count', '100');
  status('Søker …');
  try {
    const b = await read('AuditEvent', `?${q}`);
    const rows = (b.entry ?? []).map((e) => summary(e.resource));
    status(`${b.total} oppslag funnet${b.total > rows.length ? `, de ${rows.length} nyeste vises` : ''}.`);
    $('hits').replaceChildren(rows.length
      ? el('table', { 'data-testid': 'hits' },
          el('thead', {}, el('tr', {}, ...['Tid', 'Pasient', 'Helsepersonell', 'Rolle', 'Virksomhet', 'Formål', 'Handling', 'Utfall', 'Beslutning'].map((h) => el('th', {}, h)))),
          el('tbody', {}, ...rows.map((s) => el('tr', { 'data-patient': s.patient ?? '', 'data-purpose': s.purpose ?? '', class: isEmergency(s.purpose) ? 'flag' : '' },
            el('td', {}, when(s.recorded)), el('td', {}, patientLabel(s.patient)), el('td', {}, s.who), el('td', {}, s.role), el('td', {}, s.organisation),
            el('td', {}, PURPOSES[s.purpose] ?? s.purpose ?? 'Egen', ...(isEmergency(s.purpose) ? [el('span', { class: 'tag' }, 'Nødtilgang')] : [])),
            el('td', {}, ACTIONS[s.action] ?? s.action), el('td', {}, OUTCOMES[s.outcome] ?? 'Ikke registrert'),
            el('td', {}, s.decision, ...(s.selfGranted ? [el('span', { class: 'tag' }, 'Selvvalgt')] : []))))))
      : el('p', { class: 'muted' }, 'Ingen oppslag i loggen passer søket.'));
  } catch (e) {
    status(`Søket feilet: ${e.message}`);
  }
});

/** One report: its heading, the count and the look-ups (or the practitioner-days). */
function report(title, testid, r, note) {
  const items = r.items ?? [];
  return el('div', { class: 'report', 'data-testid': testid },
    el('h3', {}, `${title}: ${r.total}`, ...(r.total ? [el('span', { class: 'tag' }, 'Følg opp')] : [])),
    el('p', { class: 'muted' }, note),
    items.length
      ? el('table', {},
          el('thead', {}, el('tr', {}, ...['Tid', 'Pasient', 'Helsepersonell (HPR)', 'Formål', 'Handling', 'Beslutning', 'Logg'].map((h) => el('th', {}, h)))),
          el('tbody', {}, ...items.map((i) => el('tr', { 'data-patient': i.patient ?? '', 'data-purpose': i.purpose ?? '' },
            el('td', {}, when(i.recorded)), el('td', {}, patientLabel(i.patient)), el('td', {}, i.practitioner ?? ''),
            el('td', {}, PURPOSES[i.purpose] ?? i.purpose ?? 'Egen'), el('td', {}, ACTIONS[i.action] ?? i.action ?? ''),
            el('td', {}, i.decisionRef ?? 'Mangler'), el('td', { class: 'muted' }, `${i.logId} #${i.seq}`)))))
      : el('p', { class: 'muted' }, 'Ingen.'));
}

async function showReports() {
  const r = await read('reports');
  const volume = r.unusualVolume ?? [];
  $('reports').replaceChildren(
    el('p', { class: 'muted' }, `${r.lookUps} oppslag i loggen fra alle enheter.`),
    report('Nødtilgang', 'emergency', r.emergencyAccess, 'Oppslag med formål ETREAT (blålys): skal gjennomgås.'),
    report('Selvvalgt tilgang', 'self-granted', r.selfGranted, 'Brukeren valgte selv tilgangsgrunnlaget (ingen tildelt beslutning).'),
    report('Mangler beslutningsreferanse', 'missing-decision', r.missingDecisionRef, 'Oppslag uten henvisning til en lokal tilgangsbeslutning.'),
    report('Utfall ikke registrert', 'outcome-unknown', r.outcomeUnknown, 'Oppslaget ble sendt, men svaret ble aldri logget.'),
    el('div', { class: 'report', 'data-testid': 'volume' },
      el('h3', {}, `Uvanlig mange oppslag: ${volume.length}`),
      volume.length
        ? el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'Helsepersonell (HPR)'), el('th', {}, 'Dag'), el('th', {}, 'Oppslag'))),
            el('tbody', {}, ...volume.map((v) => el('tr', {}, el('td', {}, v.practitioner), el('td', {}, v.day), el('td', {}, String(v.lookUps))))))
        : el('p', { class: 'muted' }, 'Ingen.')));
}

/** How long ago, in words. */
function age(t) {
  if (!t) return 'aldri';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(t)) / 1000));
  if (s < 90) return `${s} s siden`;
  if (s < 5400) return `${Math.round(s / 60)} min siden`;
  if (s < 172800) return `${Math.round(s / 3600)} t siden`;
  return `${Math.round(s / 86400)} døgn siden`;
}

async function showLogs() {
  const { logs } = await read('logs');
  $('logs').replaceChildren(logs.length
    ? el('table', { 'data-testid': 'logs' },
        el('thead', {}, el('tr', {}, ...['Logg', 'Klient', 'Virksomhet', 'Hode', 'Siste sjekkpunkt', 'Signert', 'Siste post skrevet', 'Hendelser'].map((h) => el('th', {}, h)))),
        el('tbody', {}, ...logs.map((l) => el('tr', { 'data-log': l.logId, class: l.incidents.length ? 'flag' : '' },
          el('td', {}, l.logId), el('td', {}, l.clientId), el('td', {}, l.organisation),
          el('td', { 'data-testid': 'head' }, l.head ? `#${l.head.seq} ${l.head.hash.slice(0, 12)}…` : 'tom'),
          el('td', {}, l.lastCheckpoint === null || l.lastCheckpoint === undefined ? 'ingen' : `#${l.lastCheckpoint}`),
          el('td', {}, l.signed ? 'ja' : el('span', { class: 'bad' }, 'nei')),
          el('td', { 'data-testid': 'age', title: l.lastRecorded ?? '' }, age(l.lastRecorded)),
          el('td', {}, l.incidents.length
            ? el('span', { class: 'bad' }, l.incidents.map((i) => `${i.code}${i.seq !== null && i.seq !== undefined ? ` ved #${i.seq}` : ''}`).join(', '))
            : 'ingen')))))
    : el('p', { class: 'muted' }, 'Ingen enhet har sendt logg ennå.'));
}

try {
  await Promise.all([showReports(), showLogs()]);
} catch (e) {
  status(`Kunne ikke lese virksomhetens logg: ${e.message}`);
}
window.demoReady = true;
