// End to end in headless Chromium (Playwright): the organisation's log. A clinician looks at a
// patient's documents in one browser context, and makes an emergency access; the EHR page
// ships its log to the collector (tillit-collector, started by the demo server, with real
// DPoP-bound tokens from the emulator's HelseID); the citizen, logged in as that patient at
// the emulator's Helsenorge-style issuer in another context, sees every look-up; the privacy
// officer's page, in a third, lists them and flags the emergency access. Then the clinician's
// site data is cleared, and the collector still answers the citizen with every look-up.
// Every page console error fails the test (but the DPoP nonce challenges, as in pages.test.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/browser.mjs';
import { Client, AuditLog, importPrivateKey, generateKey, createDpopProof } from 'tillit';
import { startEmulator, startPages } from '../../examples/demo.mjs';

const SHOTS = fileURLToPath(
  new URL(
    process.env.TILLIT_UPDATE_SCREENSHOTS === '1'
      ? '../../docs/screenshots/'
      : '../../target/screenshots/',
    import.meta.url,
  ),
);
mkdirSync(SHOTS, { recursive: true });
let emu, pages, browser;

before(async () => {
  emu = await startEmulator();
  pages = await startPages(emu.url, 0, { quiet: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
});
after(async () => {
  await browser?.close();
  await pages?.close();
  await emu?.stop();
});

/** A page of `context` at `path` whose errors are collected (checked at the end of the test). */
async function open(context, path, errors) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1366, height: 900 });
  // Chromium's note on the 400 and 401 answers that carry a DPoP nonce challenge (RFC 9449
  // §8-9) is not an error: the client answers it by design.
  const nonceChallenge = /^Failed to load resource: the server responded with a status of 40[01] /;
  page.on('pageerror', (e) => errors.push(`${path}: ${e.message}`));
  page.on(
    'console',
    (m) =>
      m.type() === 'error' && !nonceChallenge.test(m.text()) && errors.push(`${path}: ${m.text()}`),
  );
  await page.goto(`${pages.url}${path}`);
  await page.waitForFunction(() => window.demoReady === true);
  return page;
}

async function lookUp(page, patient, { emergency = false } = {}) {
  await page.selectOption('#patient', patient);
  await page.setChecked('#emergency', emergency);
  await page.click('#login');
  await page.waitForSelector('[data-testid=documents] tbody tr', { timeout: 15000 });
}

/** The look-ups (not token requests) in the EHR page's own log table. */
const localLookUps = (page) =>
  page.$$eval(
    '[data-testid=log] tbody tr',
    (rows) => rows.filter((r) => r.children[1].textContent !== 'Token').length,
  );

/**
 * Sends the collector a record out of order for `logId`, as the EHR client (its key, a write
 * token from HelseID): the collector refuses it as a GAP and keeps the incident.
 */
async function sendGap(logId) {
  const key = await importPrivateKey(
    readFileSync(new URL('../../examples/emulator/demo-client-key.pem', import.meta.url), 'utf8'),
    { alg: 'ES256' },
  );
  const dpopKey = await generateKey({ alg: 'ES256' });
  const client = new Client({
    issuer: emu.url,
    clientId: pages.cfg.clientId,
    key,
    dpopKey,
    documentListBaseUrl: emu.url,
    resources: { others: ['tillit:collector'] },
    auditLog: await AuditLog.open({ sink: 'memory' }),
  });
  const { accessToken } = await client.accessToken({
    resource: 'tillit:collector',
    scope: 'tillit:collector/audit.write',
  });
  const url = `${pages.url}/collector/logs/${encodeURIComponent(logId)}/records`;
  const line = JSON.stringify({
    seq: 999,
    prev: '0'.repeat(64),
    hash: '1'.repeat(64),
    kind: 'note',
    body: 'out of order',
  });
  const r = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `DPoP ${accessToken}`,
      dpop: await createDpopProof({ key: dpopKey, method: 'POST', url, accessToken }),
      'content-type': 'application/x-ndjson',
    },
    body: `${line}\n`,
  });
  return { status: r.status, body: await r.json() };
}

/** The rows of the citizen's "who looked" at themselves: [who, purpose]. */
const whoLooked = (page) =>
  page.$$eval('[data-testid=seen] tbody tr', (rows) =>
    rows.map((r) => [r.children[1].textContent, r.dataset.purpose]),
  );

test('a look-up reaches the citizen and the privacy officer through the collector, and survives the device', async () => {
  const errors = [];
  const patient = pages.cfg.citizen.id;

  // The clinician: a look-up with a document opened, then an emergency access.
  const clinician = await browser.newContext();
  const ehr = await open(clinician, '/ehr/', errors);
  await lookUp(ehr, patient);
  await ehr.click('[data-testid=documents] tbody tr button');
  await ehr.waitForSelector('[data-testid=pdf]');
  await lookUp(ehr, patient, { emergency: true });
  // The page's log table is drawn after the list: wait for the emergency search in it.
  await ehr.waitForFunction(() =>
    [...document.querySelectorAll('[data-testid=log] tbody tr')].some(
      (r) =>
        r.children[1].textContent === 'Dokumentliste' &&
        r.children[2].textContent === 'ETREAT' &&
        r.children[3].textContent === 'OK',
    ),
  );
  const made = await localLookUps(ehr);
  assert.ok(made >= 3, `two searches and a read, got ${made}`);
  // Shipped: the collector acknowledged every record (the status the page shows).
  await ehr.waitForFunction(
    () => document.querySelector('[data-testid=shipping]')?.dataset.queued === '0',
    null,
    { timeout: 20000 },
  );
  assert.match(
    await ehr.textContent('[data-testid=shipping]'),
    /Alt er sendt til virksomhetens logg/,
  );

  // The citizen, in another browser: logs in at the Helsenorge-style issuer, sees who looked.
  const citizenContext = await browser.newContext();
  const citizen = await open(citizenContext, '/citizen/', errors);
  await citizen.click('#login');
  await citizen.waitForSelector('[data-testid=seen] tbody tr', { timeout: 15000 });
  const seen = await whoLooked(citizen);
  assert.equal(seen.length, made, JSON.stringify(seen));
  assert.ok(
    seen.every(([who]) => who === 'Lege Lise Lauritzen'),
    JSON.stringify(seen),
  );
  assert.ok(
    seen.some(([, purpose]) => purpose === 'ETREAT'),
    'the emergency access is shown to the patient',
  );
  assert.ok(
    !(await citizen.content()).includes(pages.cfg.practitioner.identifier.id),
    "never the practitioner's national id",
  );
  // Their own documents, by a login at HelseID: a reserved one is shown to them, marked.
  await citizen.click('#documents');
  await citizen.waitForSelector('[data-testid=documents] tbody tr', { timeout: 15000 });
  assert.ok((await citizen.$$('[data-testid=reserved]')).length >= 1);
  await citizen.waitForSelector('[data-testid=seen] tbody tr');
  await citizen.screenshot({ path: `${SHOTS}citizen.png`, fullPage: true });

  // The privacy officer: the emergency access flagged first, the look-ups found by patient,
  // the device log's state.
  const officerContext = await browser.newContext();
  const officer = await open(officerContext, '/logcontrol/', errors);
  await officer.waitForSelector('[data-testid=emergency] tbody tr');
  const emergency = await officer.$$eval('[data-testid=emergency] tbody tr', (rows) =>
    rows.map((r) => [r.dataset.patient, r.dataset.purpose]),
  );
  assert.ok(
    emergency.length >= 1 &&
      emergency.every(([p, purpose]) => p === patient && purpose === 'ETREAT'),
    JSON.stringify(emergency),
  );
  // The clinician chose the emergency access themselves (user_selected): self-granted too.
  const flagged = await officer.$$eval('[data-testid=self-granted] tbody tr', (rows) =>
    rows.map((r) => r.dataset.patient),
  );
  assert.ok(flagged.length >= 1 && flagged.every((p) => p === patient), JSON.stringify(flagged));
  await officer.fill('#patient', patient);
  await officer.fill('#from', new Date().toISOString().slice(0, 10));
  await officer.click('#find');
  await officer.waitForSelector('[data-testid=hits] tbody tr');
  const hits = await officer.$$eval('[data-testid=hits] tbody tr', (rows) =>
    rows.map((r) => ({
      patient: r.dataset.patient,
      purpose: r.dataset.purpose,
      flagged: r.classList.contains('flag'),
    })),
  );
  assert.ok(hits.length >= made && hits.every((h) => h.patient === patient), JSON.stringify(hits));
  assert.ok(
    hits.some((h) => h.purpose === 'ETREAT' && h.flagged),
    JSON.stringify(hits),
  );
  const deviceLogs = () =>
    officer.$$eval('[data-testid=logs] tbody tr', (rows) =>
      rows.map((r) => ({
        id: r.dataset.log,
        head: r.querySelector('[data-testid=head]').textContent,
        incidents: r.children[7].textContent,
        flagged: r.classList.contains('flag'),
      })),
    );
  const logs = await deviceLogs();
  assert.ok(
    logs.length >= 1 &&
      logs.every((l) => l.head.startsWith('#') && l.incidents === 'ingen' && !l.flagged),
    JSON.stringify(logs),
  );
  // A record out of order (a device that lost some): refused, kept as an incident, flagged.
  const gap = await sendGap(logs[0].id);
  assert.equal(gap.status, 409, JSON.stringify(gap));
  assert.equal(gap.body.error, 'GAP');
  await officer.reload();
  await officer.waitForFunction(() => window.demoReady === true);
  await officer.waitForSelector('[data-testid=logs] tbody tr');
  const after = (await deviceLogs()).find((l) => l.id === logs[0].id);
  assert.ok(after.flagged && after.incidents.startsWith('GAP ved #'), JSON.stringify(after));
  assert.equal(after.head, logs[0].head, 'the refused record did not move the head');
  await officer.fill('#patient', patient);
  await officer.click('#find');
  await officer.waitForSelector('[data-testid=hits] tbody tr');
  await officer.screenshot({ path: `${SHOTS}logcontrol.png`, fullPage: true });

  // The clinician's site data is cleared (the log is gone from the device) ...
  const cdp = await clinician.newCDPSession(ehr);
  await cdp.send('Storage.clearDataForOrigin', { origin: pages.url, storageTypes: 'all' });
  await clinician.clearCookies();
  await ehr.goto(`${pages.url}/demo-config.json`);
  assert.deepEqual(
    await ehr.evaluate(async () => (await indexedDB.databases()).map((d) => d.name)),
    [],
  );
  // ... and the collector still answers the citizen with every look-up: in a browser that
  // never saw them, now also acting for their child (nobody looked at the child's record).
  const again = await browser.newContext();
  const citizen2 = await open(again, '/citizen/', errors);
  await citizen2.check('input[name=represent]');
  await citizen2.click('#login');
  await citizen2.waitForSelector('[data-testid=seen] tbody tr', { timeout: 15000 });
  assert.deepEqual(await whoLooked(citizen2), seen);
  const subjects = await citizen2.$$eval('[data-testid=seen-subject]', (s) =>
    s.map((x) => [x.dataset.relation, x.querySelectorAll('tbody tr').length]),
  );
  assert.deepEqual(subjects, [
    ['self', made],
    ['parent', 0],
  ]);

  await Promise.all([
    clinician.close(),
    citizenContext.close(),
    officerContext.close(),
    again.close(),
  ]);
  assert.deepEqual(errors, []);
});

test("a citizen login's callback is accepted only in the browser that started it (no login CSRF)", async () => {
  const start = async () => {
    const login = await fetch(`${pages.url}/bff/citizen/login`, { redirect: 'manual' });
    const cookie = login.headers.get('set-cookie').split(';')[0];
    const authorize = await fetch(login.headers.get('location'), { redirect: 'manual' });
    return { cookie, callback: authorize.headers.get('location') };
  };
  // Someone else's login, its callback URL sent to this browser (without their cookie).
  const theirs = await start();
  assert.match(theirs.callback, /\/bff\/citizen\/callback\?code=/);
  const r = await fetch(theirs.callback, {
    redirect: 'manual',
    headers: { cookie: 'demo_login=another-browser' },
  });
  assert.equal(r.status, 400);
  assert.deepEqual(await r.json(), { error: 'UNKNOWN_LOGIN', field: 'state' });
  assert.equal(r.headers.get('set-cookie'), null, 'no session');
  // The browser that started it is logged in.
  const mine = await start();
  const ok = await fetch(mine.callback, { redirect: 'manual', headers: { cookie: mine.cookie } });
  assert.equal(ok.status, 302);
  assert.match(ok.headers.get('set-cookie'), /^demo_citizen=[\w-]+; HttpOnly/);
});
