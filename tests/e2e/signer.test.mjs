// End to end in headless Chromium: the EHR page's backend signs through tillit/server's
// checked signer. The clinician flow still works; a script in the page that posts a
// hand-made long-lived client assertion to /bff/sign is refused, and the refusal is in the
// server's log (without personal data).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, collectErrors } from '../support/browser.mjs';
import { startEmulator, startPages } from '../../examples/demo.mjs';

let emu, pages, context;

before(async () => {
  emu = await startEmulator();
  pages = await startPages(emu.url, 0, { quiet: true });
  context = await launch();
});
after(async () => {
  await context?.close();
  await pages?.close();
  await emu?.stop();
});

async function open(path) {
  const page = await context.newPage();
  const errors = collectErrors(page);
  await page.goto(`${pages.url}${path}`);
  await page.waitForFunction(() => window.demoReady === true);
  return { page, errors };
}

test('the clinician flow signs through the checked signer, and the server logs each signature', async () => {
  const { page, errors } = await open('/ehr/');
  const patient = pages.cfg.patients[1].id;
  const from = pages.signerLog.length;
  await page.selectOption('#patient', patient);
  await page.click('#login');
  await page.waitForSelector('[data-testid=documents] tbody tr', { timeout: 15000 });
  const signed = pages.signerLog.slice(from).filter((l) => l.event === 'tillit.signer.signed');
  assert.ok(
    signed.some((l) => l.kind === 'request-object') &&
      signed.some((l) => l.kind === 'client-assertion' && l.attested),
  );
  // The attested signature is in the server's access log, with the patient and the jti.
  const jti = signed.find((l) => l.attested).jti;
  const ev = pages.auditLog
    .query({ patient })
    .find((e) => JSON.stringify(e).includes(`jti:${jti}`));
  assert.ok(ev, 'the access log has the signature');
  assert.deepEqual(errors, []);
});

test('a script in the page posting a hand-made long-lived assertion is refused, and the refusal is logged', async () => {
  const { page, errors } = await open('/ehr/');
  const from = pages.signerLog.length;
  const answer = await page.evaluate(
    async ({ clientId, kid, issuer, patient, practitioner }) => {
      const b64u = (o) =>
        btoa(JSON.stringify(o)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      const now = Math.floor(Date.now() / 1000);
      const header = { alg: 'ES256', kid, typ: 'client-authentication+jwt' };
      const claims = {
        iss: clientId,
        sub: clientId,
        aud: issuer,
        iat: now,
        nbf: now,
        exp: now + 30 * 24 * 3600,
        jti: crypto.randomUUID(),
        assertion_details: [
          {
            type: 'nhn:tillitsrammeverk:parameters',
            practitioner: {
              ...practitioner,
              identifier: {
                id: practitioner.identifier.id,
                system: practitioner.identifier.system,
              },
            },
            care_relationship: {
              healthcare_service: { code: 'S03', system: 'urn:oid:2.16.578.1.12.4.1.1.8655' },
              purpose_of_use: { code: 'TREAT', system: 'urn:oid:2.16.840.1.113883.1.11.20448' },
              purpose_of_use_details: {
                code: 'BEHANDLER',
                system: 'urn:AuditEventHL7Norway/CodeSystem/carerelation',
              },
              decision_ref: { id: 'x', user_selected: true },
            },
            patients: [{ identifier: { id: patient, system: 'urn:oid:2.16.578.1.12.4.1.4.1' } }],
            toa: now,
          },
        ],
      };
      // Same-origin script can send the signer's content type (another site cannot).
      const r = await fetch('/bff/sign', {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: `${b64u(header)}.${b64u(claims)}`,
      });
      return { status: r.status, body: await r.json() };
    },
    {
      clientId: pages.cfg.clientId,
      kid: pages.cfg.clientKid,
      issuer: pages.cfg.issuer,
      patient: pages.cfg.patients[0].id,
      practitioner: pages.cfg.practitioner,
    },
  );
  assert.equal(answer.status, 403);
  assert.equal(answer.body.reason, 'LIFETIME');
  const refusals = pages.signerLog.slice(from).filter((l) => l.event === 'tillit.signer.refused');
  assert.equal(refusals.length, 1);
  assert.equal(refusals[0].reason, 'LIFETIME');
  assert.equal(refusals[0].path, '$.claims.exp');
  assert.ok(refusals[0].session, 'the line names the session (by a hash)');
  const text = JSON.stringify(refusals[0]);
  for (const id of [pages.cfg.patients[0].id, pages.cfg.practitioner.identifier.id])
    assert.ok(!text.includes(id));
  // Nothing was signed for it.
  assert.equal(
    pages.signerLog.slice(from).filter((l) => l.event === 'tillit.signer.signed').length,
    0,
  );
  // The page's only error is Chromium's note on the refusal itself.
  assert.deepEqual(errors, [
    'Failed to load resource: the server responded with a status of 403 (Forbidden)',
  ]);
});
