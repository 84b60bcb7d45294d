// What the emulator accepts, an independent verifier (jose) accepts; what it rejects, jose
// rejects for the same reason. Tokens it issues verify against its /jwks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as jose from 'jose';
import { createPrivateKey } from 'node:crypto';
import {
  generateKey,
  createDpopProof,
  TrustContext,
  importPrivateKey,
  createClientAssertion,
} from 'tillit';
import { startEmulator, PRACTITIONER } from '../support/emulator.mjs';
import { attestation } from './fixtures.mjs';

let emu, nodeKey, key, dpop, nonce;
before(async () => {
  emu = await startEmulator();
  nodeKey = createPrivateKey(emu.pem);
  key = await importPrivateKey(emu.pem, { alg: 'ES256' });
  dpop = await generateKey({ alg: 'ES256' });
  nonce = (await fetch(`${emu.url}/connect/token`, { method: 'POST' })).headers.get('dpop-nonce');
});
after(() => emu?.stop());

const pub = () => jose.importJWK(key.publicJwk, 'ES256');
async function send(assertion) {
  const tokenUrl = `${emu.url}/connect/token`;
  const r = await fetch(tokenUrl, {
    method: 'POST',
    headers: { DPoP: await createDpopProof({ key: dpop, method: 'POST', url: tokenUrl, nonce }) },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'nhn:phr/mhd/read-documentreferences',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  nonce = r.headers.get('dpop-nonce') ?? nonce;
  return { status: r.status, body: await r.json() };
}
async function joseVerdict(jwt) {
  try {
    await jose.jwtVerify(jwt, await pub(), {
      issuer: emu.clientId,
      subject: emu.clientId,
      audience: emu.url,
      typ: 'client-authentication+jwt',
      maxTokenAge: '60s',
      clockTolerance: 30,
    });
    return 'ok';
  } catch (e) {
    return e.code;
  }
}
const now = () => Math.floor(Date.now() / 1000);
const forge = (claims, header = {}) =>
  new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'client-authentication+jwt', ...header })
    .sign(nodeKey);
const base = () => ({
  iss: emu.clientId,
  sub: emu.clientId,
  aud: emu.url,
  iat: now(),
  nbf: now(),
  exp: now() + 10,
  jti: crypto.randomUUID(),
});

test('accepted by the emulator ⇔ verified by jose; rejected for the same reason', async () => {
  const patients = await emu.patients();
  const cases = [
    [
      'valid (tillit)',
      await createClientAssertion({
        clientId: emu.clientId,
        issuer: emu.url,
        key,
        trustContext: TrustContext.fromJSON(attestation(patients[0], PRACTITIONER)),
      }),
      200,
      'ok',
      null,
    ],
    ['valid (jose)', await forge(base()), 200, 'ok', null],
    [
      'wrong audience',
      await forge({ ...base(), aud: 'https://elsewhere' }),
      401,
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
      /aud/,
    ],
    [
      'expired',
      await forge({ ...base(), iat: now() - 200, nbf: now() - 200, exp: now() - 190 }),
      401,
      'ERR_JWT_EXPIRED',
      /expired/,
    ],
    [
      'wrong typ',
      await forge(base(), { typ: 'JWT' }),
      401,
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
      /typ/,
    ],
    [
      'wrong issuer',
      await forge({ ...base(), iss: 'someone-else' }),
      401,
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
      null,
    ],
    [
      'not yet valid',
      await forge({ ...base(), nbf: now() + 600, iat: now(), exp: now() + 10 }),
      401,
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
      /not yet valid/,
    ],
  ];
  const tampered = (await forge(base())).split('.');
  tampered[1] = Buffer.from(JSON.stringify({ ...base(), sub: 'x' })).toString('base64url');
  cases.push([
    'bad signature',
    tampered.join('.'),
    401,
    'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    /signature|sub/,
  ]);
  for (const [name, jwt, status, joseCode, why] of cases) {
    const j = await joseVerdict(jwt);
    const r = await send(jwt);
    assert.equal(j, joseCode, `${name}: jose`);
    if (name === 'wrong issuer') {
      assert.notEqual(r.status, 200, name);
      continue;
    }
    assert.equal(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
    if (why) assert.match(r.body.error_description, why, name);
    if (status === 200) {
      // The access token verifies against the emulator's published keys, and is DPoP-bound.
      const jwks = jose.createRemoteJWKSet(new URL(`${emu.url}/jwks`));
      const { payload } = await jose.jwtVerify(r.body.access_token, jwks, { typ: 'at+jwt' });
      assert.equal(payload.cnf.jkt, await jose.calculateJwkThumbprint(dpop.publicJwk));
    }
  }
});

test('DPoP proofs the emulator accepts verify with jose against their embedded key', async () => {
  const url = `${emu.url}/connect/token`;
  const proof = await createDpopProof({ key: dpop, method: 'POST', url, nonce });
  const { payload } = await jose.jwtVerify(proof, jose.EmbeddedJWK, { typ: 'dpop+jwt' });
  assert.equal(payload.htu, url);
  const r = await send(
    await createClientAssertion({ clientId: emu.clientId, issuer: emu.url, key }),
  );
  assert.equal(r.status, 200);
});
