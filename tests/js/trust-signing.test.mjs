// The package as a user imports it, checked by an independent JOSE implementation (jose).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as nodeSign, createHash } from 'node:crypto';
import * as jose from 'jose';
import {
  TrustContext,
  TrustContextError,
  IdentifierError,
  KeyError,
  AlgorithmError,
  ArgumentError,
  TillitError,
  generateKey,
  importPrivateKey,
  jwkThumbprint,
  createClientAssertion,
  createRequestObject,
  createDpopProof,
  parseNationalId,
  isValidOrgNr,
  loadKey,
} from 'tillit';
import { attestation, syntheticFnr, FNR } from './fixtures.mjs';

const ISSUER = 'https://helseid-sts.test.nhn.no';
const ALGS = ['ES256', 'RS256', 'PS256'];

test('trust context round-trips the sample shape and is immutable', () => {
  const a = attestation();
  const ctx = TrustContext.fromJSON(a);
  assert.deepEqual(ctx.toJSON(), a);
  assert.equal(ctx.kind, 'practitioner');
  assert.equal(ctx.purposeOfUse, 'TREAT');
  assert.deepEqual(ctx.patientIds, [a.patients[0].identifier.id]);
  assert.throws(() => {
    ctx.toJSON().care_relationship.purpose_of_use.code = 'BTG';
  }, TypeError);
});

test('trust context errors are typed, name the path, and never echo the id', () => {
  const bad = attestation('01018512345');
  const e = (() => {
    try {
      TrustContext.fromJSON(bad);
    } catch (e) {
      return e;
    }
  })();
  assert.ok(e instanceof IdentifierError && e instanceof TillitError);
  assert.equal(e.code, 'INVALID_IDENTIFIER');
  assert.equal(e.path, '$.patients[0].identifier.id');
  assert.ok(!e.message.includes('01018512345') && !String(e.stack).includes('01018512345'));
  const noDecision = attestation();
  delete noDecision.care_relationship.decision_ref;
  assert.throws(
    () => TrustContext.fromJSON(noDecision),
    (e) => e instanceof TrustContextError && e.path === '$.care_relationship.decision_ref',
  );
  const btgBad = attestation();
  btgBad.care_relationship.purpose_of_use.code = 'HRESCH';
  assert.throws(
    () => TrustContext.fromJSON(btgBad),
    (e) => e.code === 'INVALID_CODE',
  );
});

test('a new patient makes a new, stamped attestation; a stale one is refused', () => {
  const ctx = TrustContext.fromJSON(attestation());
  const next = ctx.withPatients([{ identifier: { id: syntheticFnr(9), system: FNR } }]);
  assert.notDeepEqual(next.patientIds, ctx.patientIds);
  assert.ok(Math.abs(next.toJSON().toa - Date.now() / 1000) < 5);
  next.assertFresh();
  const old = TrustContext.fromJSON({
    ...attestation(),
    toa: Math.floor(Date.now() / 1000) - 3700,
  });
  assert.throws(
    () => old.assertFresh(),
    (e) => e instanceof TrustContextError && e.code === 'ATTESTATION_EXPIRED',
  );
});

test('identifiers', () => {
  assert.deepEqual(parseNationalId(syntheticFnr(28, 2)), {
    kind: 'fnr',
    synthetic: true,
    birthDate: '1985-02-28',
    system: FNR,
  });
  // 1985 is no leap year: a number with valid check digits for 29.02.85 is still refused.
  assert.throws(
    () => parseNationalId(syntheticFnr(29, 2)),
    (e) => e instanceof IdentifierError && /day of birth/.test(e.rule),
  );
  assert.throws(
    () => parseNationalId(syntheticFnr(28, 2), 'urn:oid:2.16.578.1.12.4.1.4.2'),
    IdentifierError,
  );
  assert.throws(() => parseNationalId('12345678901'), IdentifierError);
  assert.equal(isValidOrgNr('974760673'), true);
  assert.equal(isValidOrgNr('974760674'), false);
});

for (const alg of ALGS) {
  test(`${alg}: client assertion verified by jose`, async () => {
    const key = await generateKey({ alg });
    assert.equal(key.privateKey.extractable, false);
    await assert.rejects(crypto.subtle.exportKey('jwk', key.privateKey));
    assert.equal(
      await jwkThumbprint(key),
      await jose.calculateJwkThumbprint(key.publicJwk, 'sha256'),
    );
    assert.equal(key.kid, await jose.calculateJwkThumbprint(key.publicJwk, 'sha256'));

    const ctx = TrustContext.fromJSON(attestation());
    const jwt = await createClientAssertion({
      clientId: 'tillit-demo',
      issuer: ISSUER,
      key,
      trustContext: ctx,
    });
    const pub = await jose.importJWK(key.publicJwk, alg);
    const { payload, protectedHeader } = await jose.jwtVerify(jwt, pub, {
      issuer: 'tillit-demo',
      subject: 'tillit-demo',
      audience: ISSUER,
      typ: 'client-authentication+jwt',
      algorithms: [alg],
      maxTokenAge: '60s',
    });
    assert.equal(protectedHeader.kid, key.kid);
    assert.ok(payload.exp - payload.iat <= 60 && payload.nbf === payload.iat);
    assert.match(payload.jti, /^[A-Za-z0-9_-]{22}$/);
    // One type: one object (NorskHelsenett/HelseID.Library, HelseId.Library/Services/PayloadClaimCreators/DetailsCreators/DetailsCreator.cs).
    assert.deepEqual(payload.assertion_details, ctx.toJSON());
  });

  test(`${alg}: DPoP proof verified by jose`, async () => {
    const key = await generateKey({ alg });
    const token = 'eyJhbGciOiJub25lIn0.e30.';
    const proof = await createDpopProof({
      key,
      method: 'post',
      url: 'https://api.pjd.test.nhn.no/R4/fhir/DocumentReference/_search?x=1#f',
      accessToken: token,
      nonce: 'n-1',
    });
    const protectedHeader = jose.decodeProtectedHeader(proof);
    assert.equal(protectedHeader.typ, 'dpop+jwt');
    assert.equal(protectedHeader.jwk.d, undefined);
    const { payload } = await jose.jwtVerify(proof, jose.EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: [alg],
      maxTokenAge: '60s',
    });
    assert.equal(payload.htm, 'POST');
    assert.equal(payload.htu, 'https://api.pjd.test.nhn.no/R4/fhir/DocumentReference/_search');
    assert.equal(payload.nonce, 'n-1');
    assert.equal(payload.ath, createHash('sha256').update(token).digest('base64url'));
    assert.equal(await jose.calculateJwkThumbprint(protectedHeader.jwk), key.kid);
  });
}

test('PAR request object carries the attestation as authorization_details', async () => {
  const key = await generateKey({ alg: 'ES256' });
  const ctx = TrustContext.fromJSON(attestation());
  const ro = await createRequestObject({
    clientId: 'c',
    issuer: ISSUER,
    key,
    trustContext: ctx,
    redirectUri: 'https://ehr.example/cb',
    scope: 'openid nhn:phr',
    state: 's',
    codeChallenge: 'x'.repeat(43),
  });
  const { payload, protectedHeader } = await jose.jwtVerify(
    ro,
    await jose.importJWK(key.publicJwk, 'ES256'),
    { issuer: 'c', audience: ISSUER },
  );
  // typ as NHN's code sets it (NorskHelsenett/Pasientens-journaldokumenter, .NET/PatientHealthRecordsEPJ/.../Controllers/HomeController.cs, BuildHelseIdJwt); RFC 9101's on request.
  assert.equal(protectedHeader.typ, 'client-authentication+jwt');
  const rfc = await createRequestObject({
    clientId: 'c',
    issuer: ISSUER,
    key,
    redirectUri: 'https://ehr.example/cb',
    scope: 'openid',
    state: 's',
    codeChallenge: 'x'.repeat(43),
    typ: 'oauth-authz-req+jwt',
  });
  assert.equal(jose.decodeProtectedHeader(rfc).typ, 'oauth-authz-req+jwt');
  assert.deepEqual(payload.authorization_details, ctx.toJSON());
  assert.equal(payload.assertion_details, undefined);
  assert.equal(payload.code_challenge_method, 'S256');
});

test('private keys imported from PEM and JWK are non-extractable and sign verifiably', async () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cases = [
    ['ES256', ec.privateKey.export({ type: 'pkcs8', format: 'pem' }), ec.publicKey],
    ['RS256', rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }), rsa.publicKey],
    ['PS256', rsa.privateKey.export({ format: 'jwk' }), rsa.publicKey],
  ];
  for (const [alg, input, publicKey] of cases) {
    const key = await importPrivateKey(input, { alg });
    assert.equal(key.privateKey.extractable, false);
    assert.deepEqual(
      { ...key.publicJwk },
      Object.fromEntries(
        Object.entries(publicKey.export({ format: 'jwk' })).filter(([k]) => k in key.publicJwk),
      ),
    );
    const jwt = await createClientAssertion({ clientId: 'svc', issuer: ISSUER, key });
    await jose.jwtVerify(jwt, publicKey, { audience: ISSUER, algorithms: [alg] });
  }
  await assert.rejects(
    importPrivateKey('-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----', {
      alg: 'RS256',
    }),
    KeyError,
  );
  await assert.rejects(
    importPrivateKey(ec.publicKey.export({ format: 'jwk' }), { alg: 'ES256' }),
    (e) => e instanceof KeyError && e.path === 'key.d',
  );
  await assert.rejects(
    importPrivateKey(ec.privateKey.export({ format: 'jwk' }), { alg: 'RS256' }),
    KeyError,
  );
  await assert.rejects(
    importPrivateKey(ec.privateKey.export({ format: 'jwk' }), { alg: 'HS256' }),
    AlgorithmError,
  );
});

test('a caller-supplied signer (backend/HSM) signs the client assertion', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let calls = 0;
  const signer = {
    alg: 'ES256',
    kid: 'hsm-1',
    sign: async (data) => {
      calls++;
      return nodeSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    },
  };
  const jwt = await createClientAssertion({
    clientId: 'c',
    issuer: ISSUER,
    signer,
    trustContext: TrustContext.fromJSON(attestation()),
  });
  assert.equal(calls, 1);
  const { protectedHeader } = await jose.jwtVerify(jwt, publicKey, { audience: ISSUER });
  assert.equal(protectedHeader.kid, 'hsm-1');
  const der = { alg: 'ES256', sign: async (data) => nodeSign('sha256', data, privateKey) };
  await assert.rejects(
    createClientAssertion({ clientId: 'c', issuer: ISSUER, signer: der }),
    (e) => e.code === 'CRYPTO_ERROR' && /64 bytes/.test(e.rule),
  );
});

test('argument errors are typed', async () => {
  const key = await generateKey({ alg: 'ES256' });
  await assert.rejects(
    createClientAssertion({ clientId: 'c', issuer: ISSUER, key, lifetimeSeconds: 61 }),
    (e) => e instanceof ArgumentError && e.path === 'lifetimeSeconds',
  );
  await assert.rejects(
    createClientAssertion({ clientId: 'c', issuer: 'not-a-url', key }),
    ArgumentError,
  );
  await assert.rejects(
    createDpopProof({ key, method: 'GET', url: '/relative' }),
    (e) => e.path === 'url',
  );
  await assert.rejects(generateKey({ alg: 'none' }), AlgorithmError);
  await assert.rejects(
    generateKey({ alg: 'ES256', persistAs: 'x' }),
    (e) => e instanceof KeyError && /IndexedDB/.test(e.rule),
  );
  await assert.rejects(loadKey('x'), KeyError);
  const citizen = TrustContext.fromJSON({
    type: 'tillit:citizen',
    citizen: { identifier: { id: syntheticFnr(5), system: FNR } },
  });
  await assert.rejects(
    createClientAssertion({ clientId: 'c', issuer: ISSUER, key, trustContext: citizen }),
    (e) => e.path === 'trustContext',
  );
});

test('the emulator accepts RS256 and PS256 client assertions end to end', async () => {
  const { startEmulator, PRACTITIONER } = await import('../support/emulator.mjs');
  const { Client, AuditLog } = await import('tillit');
  for (const alg of ['RS256', 'PS256']) {
    const emu = await startEmulator({ alg });
    try {
      const key = await importPrivateKey(emu.pem, { alg });
      const patients = await emu.patients();
      const client = new Client({
        issuer: emu.url,
        clientId: emu.clientId,
        key,
        documentListBaseUrl: emu.url,
        auditLog: await AuditLog.open({ sink: 'memory' }),
      });
      const r = await client
        .withContext(TrustContext.fromJSON(attestation(patients[0], PRACTITIONER)))
        .searchDocuments({ patient: patients[0], pageSize: 100 });
      assert.ok(r.entries.length > 0, alg);
    } finally {
      await emu.stop();
    }
  }
});
