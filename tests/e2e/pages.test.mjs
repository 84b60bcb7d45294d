// End to end in headless Chromium: the EHR example page against the emulator,
// driven by Playwright. Screenshots go to target/screenshots/; with TILLIT_UPDATE_SCREENSHOTS=1
// they replace docs/demo.md's in docs/screenshots/ (a test run leaves the working tree as it was).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launch, collectErrors } from '../support/browser.mjs';
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
let emu, pages, context;

before(async () => {
  emu = await startEmulator();
  pages = await startPages(emu.url);
  context = await launch();
});
after(async () => {
  await context?.close();
  await pages?.close();
  await emu?.stop();
});

async function open(path) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1366, height: 900 });
  // Every uncaught error and console error of a page fails its test (checked in each test).
  const errors = collectErrors(page);
  await page.goto(`${pages.url}${path}`);
  await page.waitForFunction(() => window.demoReady === true);
  return { page, errors };
}

async function clinicianLookUp(page, patient, { emergency = false } = {}) {
  await page.selectOption('#patient', patient);
  if (emergency) await page.check('#emergency');
  await page.click('#login');
  await page.waitForSelector('[data-testid=documents] tbody tr', { timeout: 15000 });
}

test('the clinician flow: care need, login, minimised list, withheld panel, a PDF, the log verified', async () => {
  const { page, errors } = await open('/ehr/');
  const patient = pages.cfg.patients[1].id;
  await clinicianLookUp(page, patient);
  const subjects = await page.$$eval('[data-testid=documents] tbody tr', (rows) =>
    rows.map((r) => r.dataset.subject),
  );
  assert.ok(subjects.length > 0 && subjects.every((s) => s === patient));
  assert.match(await page.textContent('[data-testid=blocked]'), /sperret av pasienten/);
  await page.click('[data-testid=documents] tbody tr button');
  await page.waitForSelector('[data-testid=pdf]');
  await page.waitForFunction(
    () => document.querySelectorAll('[data-testid=log] tbody tr').length >= 3,
  );
  const log = await page.$$eval('[data-testid=log] tbody tr', (rows) =>
    rows.map((r) => r.children[1].textContent),
  );
  assert.ok(log.includes('Dokumentliste') && log.includes('Dokument'), log.join(','));
  assert.match(await page.textContent('[data-testid=chain]'), /verifisert/);
  // The log reaches the organisation's collector; the page says so.
  await page.waitForFunction(
    () => document.querySelector('[data-testid=shipping]')?.dataset.queued === '0',
    null,
    { timeout: 20000 },
  );
  assert.match(await page.textContent('[data-testid=shipping]'), /Alt er sendt/);
  await page.screenshot({ path: `${SHOTS}ehr.png`, fullPage: true });
  assert.deepEqual(errors, []);
});

test('emergency access is a distinct choice and is logged as ETREAT', async () => {
  const { page, errors } = await open('/ehr/');
  await clinicianLookUp(page, pages.cfg.patients[2].id, { emergency: true });
  const purposes = await page.$$eval('[data-testid=log] tbody tr', (rows) =>
    rows.map((r) => r.children[2].textContent),
  );
  assert.ok(purposes.includes('ETREAT'), purposes.join(','));
  assert.deepEqual(errors, []);
});

test("an emulator leak (another patient's document) is never rendered", async () => {
  const { page, errors } = await open('/ehr/?fault=leak-patient');
  const patient = pages.cfg.patients[3].id;
  await clinicianLookUp(page, patient);
  const subjects = await page.$$eval('[data-testid=documents] tbody tr', (rows) =>
    rows.map((r) => r.dataset.subject),
  );
  assert.ok(subjects.every((s) => s === patient));
  assert.match(await page.textContent('[data-testid=withheld]'), /annen pasient/);
  const html = await page.content();
  for (const other of pages.cfg.patients.map((p) => p.id).filter((id) => id !== patient))
    assert.ok(!html.includes(`data-subject="${other}"`));
  assert.deepEqual(errors, []);
});

// The citizen's page (who looked, from the organisation's log) and the log-control page:
// organisation.test.mjs.
