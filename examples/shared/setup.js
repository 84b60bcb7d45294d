// What the example pages share: the demo's configuration (from the demo server, which also
// starts this browser's session), the client-assertion signer (the backend-for-frontend's
// checked signer signs what this session may ask for; the browser never holds the client's
// private key), the access log in IndexedDB (the EHR's shipped to the organisation's
// collector), and a test-only fault hook.
import { Client, AuditLog, generateKey, loadKey } from 'tillit';

export async function config() {
  const r = await fetch('/demo-config.json');
  return r.json();
}

/**
 * The BFF signer: POST /bff/sign with the JWS signing input; the backend (tillit/server's
 * CheckedSigner) signs it only if it is this session's client assertion or request object,
 * and otherwise answers 401/403/429 with `{ reason, path, rule }`.
 */
export function bffSigner(cfg) {
  return {
    alg: 'ES256',
    kid: cfg.clientKid,
    async sign(data) {
      const r = await fetch('/bff/sign', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/octet-stream' }, body: data });
      if (!r.ok) {
        const why = await r.json().catch(() => ({}));
        throw new Error(`the signing service refused (${r.status} ${why.reason ?? ''})`);
      }
      return new Uint8Array(await r.arrayBuffer());
    },
  };
}

/** A key that survives the login redirect and reloads (IndexedDB, non-extractable): DPoP, checkpoints. */
export async function dpopKey(name) {
  try {
    return await loadKey(name);
  } catch {
    return generateKey({ alg: 'ES256', persistAs: name });
  }
}

/** The collector's resource at HelseID and the scope a device writes with. */
export const COLLECTOR = { resource: 'tillit:collector', scope: 'tillit:collector/audit.write' };

/**
 * The access log, in IndexedDB. With `ship`, every record also goes to the organisation's
 * collector (served by the demo under this origin, `cfg.collector`) with a write token of
 * this EHR client: client_credentials at HelseID (the assertion signed by the backend),
 * DPoP-bound to a key of this browser's own. The shipping client has no trust context and
 * looks nothing up, so it writes nothing to the log it ships.
 */
async function openLog(cfg, ship) {
  if (!ship) return AuditLog.open({ sink: 'indexeddb', name: 'demo' });
  const dpop = await dpopKey('demo-ehr-ship-dpop');
  let shipper;
  const auditLog = await AuditLog.open({
    sink: 'indexeddb',
    name: 'demo-ehr',
    // Signed checkpoints: the collector checks them with the key the log declares (registered
    // when shipping starts), so a record altered on the device after a checkpoint is caught.
    checkpointKey: await dpopKey('demo-ehr-checkpoint'),
    checkpointEvery: 10,
    ship: { url: new URL(cfg.collector, location.origin).href, dpopKey: dpop, token: async () => (await shipper.accessToken(COLLECTOR)).accessToken },
  });
  shipper = new Client({ issuer: cfg.issuer, clientId: cfg.clientId, signer: bffSigner(cfg), dpopKey: dpop, documentListBaseUrl: cfg.api, resources: { others: [COLLECTOR.resource] }, auditLog, timeoutMs: 10_000, sourceSystem: 'tillit-demo-ehr' });
  return auditLog;
}

export async function makeClient(cfg, keyName, { ship = false } = {}) {
  const auditLog = await openLog(cfg, ship);
  const fault = new URLSearchParams(location.search).get('fault') ?? sessionStorage.getItem('demo:fault');
  if (fault) sessionStorage.setItem('demo:fault', fault);
  const docFault = new URLSearchParams(location.search).get('docfault') ?? sessionStorage.getItem('demo:docfault');
  if (docFault) sessionStorage.setItem('demo:docfault', docFault);
  // Test-only: ask the emulator to misbehave on document-list searches (fault) or on
  // document retrieval (docfault).
  const faultyFetch = (url, init = {}) => {
    const headers = new Headers(init.headers);
    if (fault && String(url).endsWith('/_search')) headers.set('x-emulator-fault', fault);
    if (docFault && new URL(url).pathname.startsWith('/mhd/')) headers.set('x-emulator-fault', docFault);
    return fetch(url, { ...init, headers });
  };
  const client = new Client({
    issuer: cfg.issuer,
    clientId: cfg.clientId,
    signer: bffSigner(cfg),
    dpopKey: await dpopKey(keyName),
    documentListBaseUrl: cfg.api,
    auditLog,
    fetch: faultyFetch,
    timeoutMs: 10_000,
    sourceSystem: 'tillit-demo-ehr',
  });
  return { client, auditLog };
}

export const REASONS = {
  TYPE_NOT_ALLOWED: 'dokumenttype som ikke kan deles',
  OTHER_PATIENT: 'gjaldt en annen pasient (feil i svaret)',
  PATIENT_BLOCK: 'sperret av pasienten',
  CONFIDENTIALITY: 'skjermet for ditt formål eller din rolle',
  PURPOSE_RULE: 'ikke tillatt for valgt formål',
  OUTSIDE_WINDOW: 'eldre enn visningsvinduet',
  UNDATED: 'mangler dato',
  COUNT_LIMIT: 'over maksimalt antall',
  NOT_CURRENT: 'ikke gjeldende versjon',
  MALFORMED_ENTRY: 'ugyldig oppføring',
  DUPLICATE_ID: 'duplikat',
  SUBJECT_UNKNOWN: 'ukjent pasient',
  TYPE_UNKNOWN: 'ukjent dokumenttype',
  NOT_DOCUMENT_REFERENCE: 'ikke et dokument',
};

export const PROFESSIONS = { LE: 'Lege', SP: 'Sykepleier', PS: 'Psykolog', FT: 'Fysioterapeut', JO: 'Jordmor' };

export const TYPES = { 'A03-2': 'Epikrise', 'A13-2': 'Poliklinisk epikrise', 'E01-2': 'Radiologisvar', 'I01-2': 'Henvisning', 'C01-2': 'Medisinsk biokjemi', 'C03-2': 'Mikrobiologi', 'C04-2': 'Patologi' };

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/** Why a document was not shown, in the user's words, by error code. */
export const REFUSALS = {
  UNSAFE_CONTENT: 'kilden sendte innhold som ikke er et dokument (kunne ha kjørt kode i nettleseren)',
  INCOMPLETE_DOCUMENT: 'dokumentet kom ufullstendig fram',
  DOCUMENT_WITHHELD: 'dokumentet holdes tilbake',
};

/**
 * Shows a retrieved document. tillit hands over only whole PDFs; the page adds two walls of
 * its own: the blob is typed application/pdf whatever the source said (never parsed as
 * HTML), and the frame is sandboxed with no allowances (an opaque origin, no scripts, no
 * access to this page), so not even a PDF can reach the page. A download link is the way
 * out for viewers that do not render PDFs in sandboxed frames.
 */
export function showDocument(container, doc, title) {
  const url = URL.createObjectURL(new Blob([doc.bytes], { type: 'application/pdf' }));
  container.replaceChildren(
    el('iframe', { src: url, sandbox: '', referrerpolicy: 'no-referrer', title, 'data-testid': 'pdf' }),
    el('p', {}, el('a', { href: url, download: `${title}.pdf`, 'data-testid': 'download' }, 'Last ned PDF')),
  );
}

/** Shows why a document was refused (the error's code, never its bytes). */
export function showRefusal(container, e, TillitError) {
  const text = e instanceof TillitError ? `Ikke vist: ${REFUSALS[e.code] ?? e.code} (${e.code})` : 'Kunne ikke åpne dokumentet';
  container.replaceChildren(el('p', { class: 'withheld', 'data-testid': 'refused', 'data-code': e?.code ?? '' }, text));
}

/** How far the log has reached the organisation's collector, in the user's words. */
export function shippingText(st) {
  if (!st) return '';
  if (st.state === 'stopped') return `Sending til virksomhetens logg er stanset (${st.error?.code ?? 'feil'}): kontakt IT.`;
  if (!st.queued) return st.acknowledged ? `Alt er sendt til virksomhetens logg (til og med post ${st.acknowledged.seq}).` : 'Kobler til virksomhetens logg …';
  const age = Math.round((st.oldestUnshippedAgeMs ?? 0) / 1000);
  return `${st.queued} ${st.queued === 1 ? 'post venter' : 'poster venter'} på sending til virksomhetens logg (eldste ${age} s)${st.state === 'retrying' ? ', prøver igjen' : ''}.`;
}

export async function showLog(container, auditLog, verifyEl) {
  const rows = auditLog.query();
  const v = await auditLog.verify();
  const shipping = el('span', { 'data-testid': 'shipping', 'data-queued': String(auditLog.shipping?.queued ?? ''), class: auditLog.shipping?.state === 'stopped' ? 'bad' : 'muted' }, shippingText(auditLog.shipping));
  verifyEl.replaceChildren(el('span', { class: v.ok ? 'ok' : 'bad', 'data-testid': 'chain' }, v.ok ? `Kjeden er verifisert (${v.entries} poster)` : `Kjeden er brutt ved post ${v.firstBadIndex}`), ' ', shipping);
  const action = (e) => ({ E: e.subtype[1]?.code === 'ITI-67' ? 'Dokumentliste' : 'Token', R: 'Dokument' })[e.action] ?? e.action;
  const outcome = (e) => ({ 0: 'OK', 4: 'Avvist', 8: 'Feil' })[e.outcome] ?? 'Sendt';
  container.replaceChildren(
    el('table', { 'data-testid': 'log' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Tid'), el('th', {}, 'Handling'), el('th', {}, 'Formål'), el('th', {}, 'Utfall'), el('th', {}, 'Transaksjon'))),
      el('tbody', {}, ...rows.slice(-25).map((e) => el('tr', {},
        el('td', {}, new Date(e.recorded).toLocaleTimeString('nb-NO')),
        el('td', {}, action(e)),
        el('td', {}, e.purposeOfEvent?.[0]?.coding?.[0]?.code ?? 'Egen'),
        el('td', {}, outcome(e)),
        el('td', { class: 'muted' }, e.entity.find((x) => x.type.code === 'XrequestId')?.what.identifier.value.slice(0, 8) ?? ''),
      )))));
}
