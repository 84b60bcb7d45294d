// The package in headless Chromium: keys are non-extractable, persist in IndexedDB across a
// page reload, and what they sign is verified by jose running in the same page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usePage } from '../support/browser.mjs';
import { attestation } from '../js/fixtures.mjs';

const chromium = usePage('tests/browser/keys.html');

for (const alg of ['ES256', 'RS256', 'PS256']) {
  test(`${alg} in Chromium: assertion and DPoP proof verified by jose, thumbprint agrees`, async () => {
    const r = await chromium.page.evaluate(
      async ({ alg, att }) => {
        const { tillit, jose } = window;
        const key = await tillit.generateKey({ alg });
        const exportRefused = await crypto.subtle.exportKey('pkcs8', key.privateKey).then(
          () => false,
          () => true,
        );
        const ctx = tillit.TrustContext.fromJSON(att);
        const jwt = await tillit.createClientAssertion({
          clientId: 'ehr',
          issuer: 'https://helseid.example',
          key,
          trustContext: ctx,
        });
        const v = await jose.jwtVerify(jwt, await jose.importJWK(key.publicJwk, alg), {
          audience: 'https://helseid.example',
          issuer: 'ehr',
          typ: 'client-authentication+jwt',
        });
        const proof = await tillit.createDpopProof({
          key,
          method: 'GET',
          url: 'https://api.example/x?y=1',
          accessToken: 'at',
        });
        const p = await jose.jwtVerify(proof, jose.EmbeddedJWK, { typ: 'dpop+jwt' });
        return {
          exportRefused,
          extractable: key.privateKey.extractable,
          details: v.payload.assertion_details.care_relationship.decision_ref.id,
          htu: p.payload.htu,
          thumbOk:
            (await tillit.jwkThumbprint(key)) ===
            (await jose.calculateJwkThumbprint(key.publicJwk)),
        };
      },
      { alg, att: attestation() },
    );
    assert.deepEqual(r, {
      exportRefused: true,
      extractable: false,
      details: 'dec-42',
      htu: 'https://api.example/x',
      thumbOk: true,
    });
  });
}

test('a persisted key survives a page reload and is never exportable', async () => {
  const before = await chromium.page.evaluate(async () => {
    const key = await window.tillit.generateKey({ alg: 'ES256', persistAs: 'dpop-key' });
    return key.kid;
  });
  await chromium.page.reload();
  await chromium.page.waitForFunction(() => window.ready === true);
  const after = await chromium.page.evaluate(async () => {
    const { tillit, jose } = window;
    const key = await tillit.loadKey('dpop-key');
    const exportRefused = await crypto.subtle.exportKey('jwk', key.privateKey).then(
      () => false,
      () => true,
    );
    const proof = await tillit.createDpopProof({
      key,
      method: 'POST',
      url: 'https://helseid.example/connect/token',
    });
    const v = await jose.jwtVerify(proof, jose.EmbeddedJWK, { typ: 'dpop+jwt' });
    const missing = await tillit.loadKey('nope').then(
      () => null,
      (e) => e.code,
    );
    await tillit.deleteKey('dpop-key');
    const deleted = await tillit.loadKey('dpop-key').then(
      () => null,
      (e) => e.code,
    );
    return { kid: key.kid, exportRefused, htm: v.payload.htm, missing, deleted };
  });
  assert.deepEqual(after, {
    kid: before,
    exportRefused: true,
    htm: 'POST',
    missing: 'KEY_ERROR',
    deleted: 'KEY_ERROR',
  });
});
