// The attestations NHN's own code and the trust framework's specification write, through the
// package as a user imports it: accepted (or refused for the rule the spec states, the rule
// in the error), round-tripped unchanged, signed into an assertion that `jose` verifies, and
// accepted by the emulator end to end. Sources: tests/fixtures/nhn/README.md, and next to
// each test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as jose from 'jose';
import {
  TrustContext,
  TrustContextError,
  IdentifierError,
  CodeError,
  Client,
  AuditLog,
  ArgumentError,
  generateKey,
  createClientAssertion,
  createRequestObject,
  createDpopProof,
  importPrivateKey,
} from 'tillit';
import { startEmulator, PRACTITIONER } from '../support/emulator.mjs';
import { attestation, syntheticFnr } from './fixtures.mjs';

const ISSUER = 'https://helseid-sts.test.nhn.no';
const fixture = (name) =>
  JSON.parse(readFileSync(new URL(`../fixtures/nhn/${name}.json`, import.meta.url), 'utf8'));

// NHN's clients' narrow attestations (no practitioner.identifier, patients: [{ point_of_care }]):
const NARROW = {
  // NorskHelsenett/Pasientens-journaldokumenter, .NET/PatientHealthRecordsEPJ/solutions/
  // PatientHealthRecordsEPJ/PatientHealthRecordsEPJ/Controllers/HomeController.cs (BuildAttestJson)
  'pjd-reference-ehr': fixture('pjd-reference-ehr'),
  // NorskHelsenett/Pasientens-journaldokumenter, .NET/NativeClients/SimpleRequestObjectsDemo/Program.cs
  'pjd-request-objects-demo': fixture('pjd-request-objects-demo'),
};

async function verified(jwt, key) {
  const pub = await jose.importJWK(key.publicJwk, key.alg);
  return jose.jwtVerify(jwt, pub, { issuer: 'c1', audience: ISSUER });
}

for (const [name, sample] of Object.entries(NARROW)) {
  test(`${name}: accepted, round-trips unchanged, signed, refused in client_credentials`, async () => {
    const ctx = TrustContext.fromJSON(sample);
    assert.equal(
      JSON.stringify(ctx.toJSON()),
      JSON.stringify(sample),
      'toJSON gives back the sample, member order included',
    );
    assert.deepEqual(ctx.patientIds, [], 'the sample names no patient');
    for (const alg of ['ES256', 'ES384', 'RS256']) {
      const key = await generateKey({ alg });
      for (const grantType of ['authorization_code', 'refresh_token']) {
        const jwt = await createClientAssertion({
          clientId: 'c1',
          issuer: ISSUER,
          key,
          trustContext: ctx,
          grantType,
        });
        const { payload, protectedHeader } = await verified(jwt, key);
        assert.equal(protectedHeader.alg, alg);
        // One type: one object (NorskHelsenett/HelseID.Library, HelseId.Library/Services/
        // PayloadClaimCreators/DetailsCreators/DetailsCreator.cs).
        assert.deepEqual(payload.assertion_details, sample);
      }
      // In a request object (authorization_code by nature) too.
      const ro = await createRequestObject({
        clientId: 'c1',
        issuer: ISSUER,
        key,
        trustContext: ctx,
        redirectUri: 'https://ehr.example/cb',
        scope: 'openid offline_access',
        state: 's',
        codeChallenge: 'c'.repeat(43),
      });
      const pub = await jose.importJWK(key.publicJwk, alg);
      assert.deepEqual(
        (await jose.compactVerify(ro, pub)) &&
          JSON.parse(new TextDecoder().decode((await jose.compactVerify(ro, pub)).payload))
            .authorization_details,
        sample,
      );
    }
    const key = await generateKey({ alg: 'ES256' });
    // client_credentials acting for a person: no login to take the user from.
    for (const grantType of ['client_credentials', undefined]) {
      await assert.rejects(
        createClientAssertion({
          clientId: 'c1',
          issuer: ISSUER,
          key,
          trustContext: ctx,
          grantType,
        }),
        (e) =>
          e instanceof TrustContextError &&
          e.path === 'trustContext.practitioner.identifier' &&
          /client_credentials/.test(e.rule),
      );
    }
  });
}

test('the Kjernejournal client\'s attestation: "auhtorization" is refused, spelt right it is accepted', () => {
  // NorskHelsenett/kjernejournal-innlogging-klient, src/main/java/no/helse/kj/devepj/
  // tillitsrammeverk/Practitioner.kt: @JsonProperty("auhtorization").
  const kj = fixture('kj-client');
  assert.throws(
    () => TrustContext.fromJSON(kj),
    (e) =>
      e instanceof TrustContextError &&
      e.path === '$.practitioner.auhtorization' &&
      /not a member/.test(e.rule),
  );
  const { auhtorization, ...rest } = kj.practitioner;
  const fixed = { ...kj, practitioner: { ...rest, authorization: auhtorization } };
  assert.deepEqual(TrustContext.fromJSON(fixed).toJSON(), fixed);
});

test("the trust framework's examples are refused for the rule each breaks", () => {
  // NorskHelsenett/Tillitsrammeverk, specs/informasjons_og_datamodell.md, sections 7 and 8.
  const cases = [
    [
      'tf-vedlegg-b-full-model',
      '$.attestation.care_relation.purpose_of_use_details.system',
      CodeError,
      /care-relation system or Volven 9151/,
    ],
    [
      'tf-example-1-fastlege',
      '$.attestation.care_relation.purpose_of_use',
      TrustContextError,
      /required/,
    ],
    // decision_ref: "Avtalemessig påkrevd: Ja" (section 4.4.4).
    [
      'tf-example-2-kommune',
      '$.attestation.care_relation.decision_ref',
      TrustContextError,
      /required/,
    ],
    [
      'tf-example-3-foretak',
      '$.attestation.care_relation.decision_ref',
      TrustContextError,
      /required/,
    ],
  ];
  for (const [name, path, cls, rule] of cases) {
    assert.throws(
      () => TrustContext.fromJSON(fixture(name)),
      (e) => e instanceof cls && e.path === path && rule.test(e.rule),
      name,
    );
  }
  // The patient all examples name (05076600324) fails its check digits.
  const ex3 = fixture('tf-example-3-foretak');
  ex3.attestation.care_relation.decision_ref = { id: 'd-1', user_selected: false };
  assert.throws(
    () => TrustContext.fromJSON(ex3),
    (e) => e instanceof IdentifierError && e.path === '$.attestation.patients[0].identifier.id',
  );
});

test('Volven 9060 as a code list, ATT-10, and 8627', () => {
  // NorskHelsenett/Pasientens-journaldokumenter, .NET/PatientHealthRecordsEPJ/.../Models/HomeViewModel.cs
  // (AuthorizationList: 36 codes, FA1 and FA2 among them).
  for (const code of ['FA1', 'FA2', 'XX', 'VE', 'LE']) {
    const a = attestation();
    a.practitioner.authorization.code = code;
    assert.equal(TrustContext.fromJSON(a).toJSON().practitioner.authorization.code, code);
  }
  for (const code of ['QQ', 'FA3', 'le']) {
    const a = attestation();
    a.practitioner.authorization.code = code;
    assert.throws(
      () => TrustContext.fromJSON(a),
      (e) =>
        e instanceof CodeError &&
        e.path === '$.practitioner.authorization.code' &&
        /Volven 9060/.test(e.rule),
    );
  }
  // ATT-10 (NorskHelsenett/Tillitsrammeverk, specs/forretningsregler_for_bruk_av_attestering.md):
  // fødselsnummer or D-number only.
  const h = attestation();
  h.practitioner.identifier = { id: syntheticH(), system: 'urn:oid:2.16.578.1.12.4.1.4.3' };
  assert.throws(
    () => TrustContext.fromJSON(h),
    (e) =>
      e instanceof IdentifierError &&
      e.path === '$.practitioner.identifier.system' &&
      /ATT-10/.test(e.rule),
  );
  // ATT-37 (same file) lists the expired 8627 among the healthcare-service systems.
  const s = attestation();
  s.care_relationship.healthcare_service = {
    code: '12',
    system: 'urn:oid:2.16.578.1.12.4.1.1.8627',
  };
  assert.deepEqual(TrustContext.fromJSON(s).toJSON(), s);
});

/** A valid H-number (month + 40). */
function syntheticH() {
  const W1 = [3, 7, 6, 1, 8, 9, 4, 5, 2];
  const W2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
  const mod11 = (d, w) => {
    const k = 11 - (d.reduce((s, x, i) => s + x * w[i], 0) % 11);
    return k === 11 ? 0 : k === 10 ? null : k;
  };
  for (let ind = 0; ind < 500; ind++) {
    const s = `0541${'85'}${String(ind).padStart(3, '0')}`;
    const d = [...s].map(Number);
    const k1 = mod11(d, W1);
    if (k1 === null) continue;
    const k2 = mod11([...d, k1], W2);
    if (k2 !== null) return `${s}${k1}${k2}`;
  }
  throw new Error('none');
}

describeEmulator();

function describeEmulator() {
  let emu, key;
  before(async () => {
    emu = await startEmulator();
    key = await importPrivateKey(emu.pem, { alg: 'ES256' });
  });
  after(async () => {
    await emu?.stop();
  });

  // The reference EHR puts the attestation in the PAR request object (authorization_details,
  // HomeController.cs BuildRequestObject); tillit's default is the client assertion: both.
  for (const [name, sample] of Object.entries(NARROW))
    for (const attestationIn of ['request-object', 'client-assertion']) {
      test(`${name}: accepted by the emulator end to end (login, attestation in the ${attestationIn})`, async () => {
        const auditLog = await AuditLog.open({ sink: 'memory' });
        const client = new Client({
          issuer: emu.url,
          clientId: emu.clientId,
          key,
          documentListBaseUrl: emu.url,
          auditLog,
          timeoutMs: 5000,
          attestationIn,
        });
        const ehr = client.withContext(TrustContext.fromJSON(sample));
        const { url } = await ehr.login({
          redirectUri: 'http://127.0.0.1/callback',
          loginHint: 'lege',
        });
        const res = await fetch(url, { redirect: 'manual' });
        await ehr.handleRedirect(res.headers.get('location'));
        const token = (await emu.log())
          .filter((l) => l.endpoint === 'token' && l.status === 200)
          .at(-1);
        // HelseID took the user from the login and put them in the token's attestation.
        assert.equal(token.attestation.practitioner, PRACTITIONER);
        assert.equal(token.attestation.decision_ref, sample.care_relationship.decision_ref.id);
        // tillit looks up only a patient the attestation names (fail closed).
        await assert.rejects(
          ehr.searchDocuments({ patient: syntheticFnr(4) }),
          (e) => e instanceof ArgumentError && e.path === 'patient',
        );
        // The same attestation in client_credentials is refused before anything is sent.
        const cc = new Client({
          issuer: emu.url,
          clientId: emu.clientId,
          key,
          documentListBaseUrl: emu.url,
          auditLog,
          timeoutMs: 5000,
        });
        const withPatient = {
          ...sample,
          patients: [
            {
              identifier: {
                id: (await emu.patients())[0],
                system: 'urn:oid:2.16.578.1.12.4.1.4.1',
              },
              ...sample.patients[0],
            },
          ],
        };
        await assert.rejects(
          cc
            .withContext(TrustContext.fromJSON(withPatient))
            .searchDocuments({ patient: (await emu.patients())[0] }),
          (e) =>
            e instanceof TrustContextError && e.path === 'trustContext.practitioner.identifier',
        );
      });
    }
}

test("tenants on their own, in both libraries' forms and the single-tenant form", async () => {
  // NorskHelsenett/HelseID.Library, HelseId.Library/Services/PayloadClaimCreators/StructuredClaims/
  // OrganizationNumberCreatorForMultiTenantClient.cs (parent alone: "NO:ORGNR:<parent>:") and
  // OrganizationNumberCreatorForSingleTenantClient.cs; NorskHelsenett/HelseID.Library.Java,
  // client/src/main/java/no/helseid/clientassertion/HelseIdAuthorizationClaimUtil.java.
  const key = await generateKey({ alg: 'ES256' });
  const id = async (opts) =>
    (
      await verified(
        await createClientAssertion({ clientId: 'c1', issuer: ISSUER, key, ...opts }),
        key,
      )
    ).payload.assertion_details;
  const multi = await id({ tenant: { parent: '974760673' } });
  assert.equal(multi.type, 'helseid_authorization');
  assert.deepEqual(multi.practitioner_role.organization.identifier, {
    system: 'urn:oid:1.0.6523',
    type: 'ENH',
    value: 'NO:ORGNR:974760673:',
  });
  const single = await id({ tenant: { child: '983044778' } });
  assert.deepEqual(single.practitioner_role.organization.identifier, {
    system: 'urn:oid:2.16.578.1.12.4.1.4.101',
    type: 'ENH',
    value: '983044778',
  });
  const both = await id({
    tenant: { parent: '974760673', child: '983044778' },
    trustContext: TrustContext.fromJSON(attestation()),
  });
  assert.ok(Array.isArray(both) && both.length === 2, 'several types: an array');
  await assert.rejects(
    createClientAssertion({ clientId: 'c1', issuer: ISSUER, key, tenant: {} }),
    (e) => e instanceof ArgumentError && e.path === 'tenant',
  );
});

test('a system client with a tenant and no trust context gets a token from the emulator', async () => {
  const emu2 = await startEmulator({ resourceNonce: false });
  try {
    const key = await importPrivateKey(emu2.pem, { alg: 'ES256' });
    const auditLog = await AuditLog.open({ sink: 'memory' });
    const client = new Client({
      issuer: emu2.url,
      clientId: emu2.clientId,
      key,
      documentListBaseUrl: emu2.url,
      auditLog,
      tenant: { parent: '974760673' },
      timeoutMs: 5000,
    });
    const t = await client.accessToken({
      resource: 'nhn:phr',
      scope: 'nhn:phr/mhd/read-documentreferences',
    });
    assert.equal(jose.decodeJwt(t.accessToken).aud, 'nhn:phr');
  } finally {
    await emu2.stop();
  }
});

test('ES384 for client assertions and DPoP, verified by jose and accepted by the emulator', async () => {
  // HelseID's production discovery lists ES384 for DPoP and request objects
  // (NorskHelsenett/HelseID.Library, HelseId.Library.Tests/Services/Endpoints/DiscoveryDocumentGetterTests.cs).
  const key = await generateKey({ alg: 'ES384' });
  assert.equal(key.publicJwk.crv, 'P-384');
  const jwt = await createClientAssertion({ clientId: 'c1', issuer: ISSUER, key });
  const { protectedHeader } = await verified(jwt, key);
  assert.equal(protectedHeader.alg, 'ES384');
  const proof = await createDpopProof({ key, method: 'POST', url: 'https://api.example/x?y=1' });
  const { payload } = await jose.jwtVerify(
    proof,
    await jose.importJWK(jose.decodeProtectedHeader(proof).jwk, 'ES384'),
    { typ: 'dpop+jwt' },
  );
  assert.equal(payload.htu, 'https://api.example/x');
  const emu3 = await startEmulator({ alg: 'ES384' });
  try {
    const clientKey = await importPrivateKey(emu3.pem, { alg: 'ES384' });
    const auditLog = await AuditLog.open({ sink: 'memory' });
    const patient = (await emu3.patients())[0];
    const client = new Client({
      issuer: emu3.url,
      clientId: emu3.clientId,
      key: clientKey,
      dpopKey: await generateKey({ alg: 'ES384' }),
      documentListBaseUrl: emu3.url,
      auditLog,
      timeoutMs: 5000,
    });
    const r = await client
      .withContext(TrustContext.fromJSON(attestation(patient, PRACTITIONER)))
      .searchDocuments({ patient });
    assert.ok(r.entries.length > 0);
  } finally {
    await emu3.stop();
  }
});
