// The citizen's flow: log in at the Helsenorge-style issuer (the backend keeps the token), see
// "who has looked at my record" and at the records of the people one acts for, read from the
// organisation's log (the collector, every device's look-ups, never the practitioner's
// national id), then one's own documents (blocked ones marked, still visible to oneself).
import { TrustContext, TillitError } from 'tillit';
import { config, makeClient, el, showDocument, showRefusal, TYPES, PROFESSIONS } from '../shared/setup.js';

const $ = (id) => document.getElementById(id);
const cfg = await config();
const { client } = await makeClient(cfg, 'demo-citizen-dpop');
const status = (t) => ($('status').textContent = t);
const ctx = TrustContext.fromJSON({ type: 'tillit:citizen', citizen: { identifier: { id: cfg.citizen.id, system: 'urn:oid:2.16.578.1.12.4.1.4.1' } } });
const view = client.withContext(ctx);

// Acting for someone else too (a parent for a child): the issuer decides whether one may.
for (const r of cfg.citizen.represents ?? []) {
  $('represent').append(el('label', {}, el('input', { type: 'checkbox', name: 'represent', value: r.loginHint }), ` Også for ${r.name}, som du representerer`));
}
$('login').addEventListener('click', () => {
  const r = document.querySelector('input[name=represent]:checked')?.value;
  location.assign(`/bff/citizen/login${r ? `?represent=${encodeURIComponent(r)}` : ''}`);
});

const PURPOSES = { TREAT: 'Behandling', ETREAT: 'Nødtilgang', COC: 'Koordinering' };
const WHAT = { documentList: 'Dokumentlisten', document: 'Et dokument' };

/** "Who looked", per person the login speaks for (oneself first), from the collector. */
async function showWhoLooked(session) {
  const r = await fetch('/bff/citizen/access', { headers: { accept: 'application/json' } });
  if (!r.ok) {
    $('seen').replaceChildren(el('p', { class: 'bad' }, `Kunne ikke hente tilgangsloggen (${r.status}).`));
    return;
  }
  const { subjects } = await r.json();
  const nameOf = (s) => (s.relation === 'self' ? 'Deg' : `${session.represented.find((x) => x.patient === s.patient)?.name ?? 'Personen'} (du representerer)`);
  $('seen').replaceChildren(...subjects.map((s) => {
    const seen = s.accesses.filter((a) => a.who !== 'you (or someone you represent)');
    return el('div', { 'data-testid': 'seen-subject', 'data-relation': s.relation },
      el('h3', {}, nameOf(s)),
      seen.length
        ? el('table', { 'data-testid': s.relation === 'self' ? 'seen' : 'seen-other' },
            el('thead', {}, el('tr', {}, el('th', {}, 'Når'), el('th', {}, 'Hvem'), el('th', {}, 'Rolle'), el('th', {}, 'Virksomhet'), el('th', {}, 'Hva'), el('th', {}, 'Hvorfor'))),
            el('tbody', {}, ...seen.map((a) => el('tr', { 'data-purpose': a.purpose ?? '' },
              el('td', {}, new Date(a.when).toLocaleString('nb-NO')), el('td', {}, a.who), el('td', {}, PROFESSIONS[a.role] ?? a.role ?? ''), el('td', {}, a.organisation ?? ''),
              el('td', {}, WHAT[a.what] ?? a.what),
              el('td', {}, `${PURPOSES[a.purpose] ?? a.purpose ?? ''}${a.why ? `: ${a.why}` : ''}`, ...(a.purpose === 'ETREAT' ? [el('span', { class: 'tag' }, 'Nødtilgang')] : []))))))
        : el('p', { class: 'muted' }, 'Ingen helsepersonell har sett journalen fra denne virksomheten.'));
  }));
}

/** One's own documents: a second login, at HelseID, for the document list. */
function offerDocuments() {
  const b = el('button', { type: 'button', id: 'documents' }, 'Vis dokumentene dine');
  b.addEventListener('click', async () => {
    const { url } = await view.login({ redirectUri: `${location.origin}${location.pathname}`, loginHint: 'innbygger', scope: 'openid offline_access nhn:phr/mhd/read-documentreferences nhn:phr/mhd/read-document' });
    location.assign(url);
  });
  $('docs').replaceChildren(b);
}

async function showDocuments() {
  await view.handleRedirect(location.href);
  history.replaceState(null, '', location.pathname);
  const r = await view.searchDocuments({ patient: cfg.citizen.id, pageSize: 100 });
  const blocked = (d) => (d.securityLabel ?? []).some((l) => l.coding?.some((c) => c.code === 'NORS'));
  $('docs').replaceChildren(el('table', { 'data-testid': 'documents' },
    el('thead', {}, el('tr', {}, el('th', {}, 'Type'), el('th', {}, 'Tittel'), el('th', {}, 'Dato'), el('th', {}, ''))),
    el('tbody', {}, ...r.entries.map((d) => el('tr', {},
      el('td', {}, TYPES[d.type.coding[0].code] ?? d.type.coding[0].code),
      el('td', {}, d.content[0].attachment.title, ...(blocked(d) ? [el('span', { class: 'tag', 'data-testid': 'reserved' }, 'Sperret for helsepersonell')] : [])),
      el('td', {}, d.date.slice(0, 10)),
      el('td', {}, el('button', { type: 'button', onclick: () => openDoc(d) }, 'Åpne')))))));
}

async function openDoc(entry) {
  try {
    showDocument($('viewer'), await view.getDocument(entry), entry.content[0].attachment.title);
  } catch (e) {
    showRefusal($('viewer'), e, TillitError);
  }
}

const params = new URLSearchParams(location.search);
const session = await (await fetch('/bff/citizen/session')).json();
if (session.loggedIn) {
  status(`Innlogget som ${session.name}.`);
  $('login').hidden = true;
  $('represent').hidden = true;
  try {
    await showWhoLooked(session);
    if (params.has('code')) await showDocuments();
    else offerDocuments();
  } catch (e) {
    status(e instanceof TillitError ? `Feil: ${e.code}: ${e.rule}` : 'Noe gikk galt');
  }
} else if (params.has('innlogging')) {
  status('Innloggingen ble avbrutt.');
}
window.demoReady = true;
