// The citizen's flow: log in, see one's own documents (blocked ones marked, still visible to
// oneself), and "who has looked at my record" from the access log, never showing the
// practitioner's national id.
import { TrustContext, TillitError } from 'tillit';
import { config, makeClient, el, showDocument, showRefusal, TYPES, PROFESSIONS } from '../shared/setup.js';

const $ = (id) => document.getElementById(id);
const cfg = await config();
const { client, auditLog } = await makeClient(cfg, 'demo-citizen-dpop');
const status = (t) => ($('status').textContent = t);
const ctx = TrustContext.fromJSON({ type: 'tillit:citizen', citizen: { identifier: { id: cfg.citizen.id, system: 'urn:oid:2.16.578.1.12.4.1.4.1' } } });
const view = client.withContext(ctx);

$('login').addEventListener('click', async () => {
  const { url } = await view.login({ redirectUri: `${location.origin}${location.pathname}`, loginHint: 'innbygger', scope: 'openid offline_access nhn:phr/mhd/read-documentreferences nhn:phr/mhd/read-document' });
  location.assign(url);
});

async function afterLogin() {
  await view.handleRedirect(location.href);
  history.replaceState(null, '', location.pathname);
  const r = await view.searchDocuments({ patient: cfg.citizen.id, pageSize: 100 });
  status(`Innlogget som ${cfg.citizen.name}.`);
  const blocked = (d) => (d.securityLabel ?? []).some((l) => l.coding?.some((c) => c.code === 'NORS'));
  $('docs').replaceChildren(el('table', { 'data-testid': 'documents' },
    el('thead', {}, el('tr', {}, el('th', {}, 'Type'), el('th', {}, 'Tittel'), el('th', {}, 'Dato'), el('th', {}, ''))),
    el('tbody', {}, ...r.entries.map((d) => el('tr', {},
      el('td', {}, TYPES[d.type.coding[0].code] ?? d.type.coding[0].code),
      el('td', {}, d.content[0].attachment.title, ...(blocked(d) ? [el('span', { class: 'tag', 'data-testid': 'reserved' }, 'Sperret for helsepersonell')] : [])),
      el('td', {}, d.date.slice(0, 10)),
      el('td', {}, el('button', { type: 'button', onclick: () => openDoc(d) }, 'Åpne')))))));
  const seen = auditLog.citizenReport(cfg.citizen.id).filter((s) => s.who !== 'you (or someone you represent)');
  $('seen').replaceChildren(seen.length
    ? el('table', { 'data-testid': 'seen' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Når'), el('th', {}, 'Hvem'), el('th', {}, 'Rolle'), el('th', {}, 'Virksomhet'), el('th', {}, 'Hvorfor'))),
        el('tbody', {}, ...seen.map((s) => el('tr', {},
          el('td', {}, new Date(s.when).toLocaleString('nb-NO')), el('td', {}, s.who), el('td', {}, PROFESSIONS[s.role] ?? s.role ?? ''), el('td', {}, s.organisation ?? ''),
          el('td', {}, `${s.purpose}${s.why ? `: ${s.why}` : ''}`)))))
    : el('p', { class: 'muted' }, 'Ingen helsepersonell har sett journalen din fra denne virksomheten.'));
}

async function openDoc(entry) {
  try {
    showDocument($('viewer'), await view.getDocument(entry), entry.content[0].attachment.title);
  } catch (e) {
    showRefusal($('viewer'), e, TillitError);
  }
}

if (new URLSearchParams(location.search).has('code')) {
  afterLogin().catch((e) => status(e instanceof TillitError ? `Feil: ${e.code}: ${e.rule}` : 'Noe gikk galt'));
}
window.demoReady = true;
