// A complete clinician flow as NHN's own clients run it, against the emulator: the narrow
// attestation (NorskHelsenett/Pasientens-journaldokumenter, .NET/PatientHealthRecordsEPJ/
// solutions/PatientHealthRecordsEPJ/PatientHealthRecordsEPJ/Controllers/HomeController.cs,
// BuildAttestJson), offline_access at login (same file, IdentityScopes), a refresh to a second
// patient, the status call, a raised access basis on a blocked patient, and two APIs with two
// single-audience tokens (RFC 8707; .NET/NativeClients/SimpleResourceIndicatorsDemo/Program.cs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as jose from 'jose';
import {
  Client,
  AuditLog,
  TrustContext,
  importPrivateKey,
  FhirError,
  RefreshTokenError,
  ArgumentError,
} from 'tillit';
import { startEmulator } from '../support/emulator.mjs';

const FNR = 'urn:oid:2.16.578.1.12.4.1.4.1';
const KJ_SEARCH = 'nhn:phr/mhd/read-documentreferences/kjernejournalforskriften';
const sample = JSON.parse(
  readFileSync(new URL('../fixtures/nhn/pjd-reference-ehr.json', import.meta.url), 'utf8'),
);

let emu, key, patients, statusPatients;
before(async () => {
  // PJD demands no DPoP nonce of its clients (the emulator's default).
  emu = await startEmulator({ resourceNonce: false });
  key = await importPrivateKey(emu.pem, { alg: 'ES256' });
  patients = await emu.patients();
  statusPatients = await (await fetch(`${emu.url}/_emulator/status-patients`)).json();
});
after(async () => {
  await emu?.stop();
});

/** A fetch that records what the client sent. */
function recorder() {
  const calls = [];
  const f = async (url, init = {}) => {
    const headers = new Headers(init.headers);
    const res = await fetch(url, init);
    calls.push({
      path: new URL(url).pathname,
      status: res.status,
      headers,
      body: typeof init.body === 'string' ? init.body : '',
    });
    return res;
  };
  return { f, calls };
}

/** The reference EHR's attestation, naming the patient as tillit requires for a look-up. */
function narrow(patient) {
  return {
    ...sample,
    patients: [{ identifier: { id: patient, system: FNR }, ...sample.patients[0] }],
  };
}

test("the clinician flow, as NHN's clients run it", async () => {
  const auditLog = await AuditLog.open({ sink: 'memory' });
  const { f, calls } = recorder();
  const client = new Client({
    issuer: emu.url,
    clientId: emu.clientId,
    key,
    documentListBaseUrl: emu.url,
    auditLog,
    fetch: f,
    timeoutMs: 5000,
    scopes: { search: KJ_SEARCH },
    accessBasis: 'AKUTT',
    apiVersion: '1.0',
    resources: { others: ['nhn:kjernejournal'] },
  });
  // 1. Login with the narrow attestation in the client assertions.
  const first = TrustContext.fromJSON(narrow(patients[0]));
  assert.equal(first.toJSON().practitioner.identifier, undefined, 'the user comes from the login');
  const ehr = client.withContext(first);
  const { url } = await ehr.login({ redirectUri: 'http://127.0.0.1/callback', loginHint: 'lege' });
  const par = new URLSearchParams(calls.find((c) => c.path === '/connect/par').body);
  assert.ok(par.get('scope').split(' ').includes('offline_access'), 'offline_access at login');
  for (const k of [
    'redirect_uri',
    'response_type',
    'code_challenge',
    'code_challenge_method',
    'state',
  ])
    assert.ok(par.get(k), `PAR body carries ${k}`);
  const ro = jose.decodeJwt(par.get('request'));
  assert.deepEqual(ro.resource, ['nhn:phr', 'nhn:kjernejournal'], 'the login asks for both APIs');
  assert.equal(jose.decodeProtectedHeader(par.get('request')).typ, 'client-authentication+jwt');
  const res = await fetch(url, { redirect: 'manual' });
  await ehr.handleRedirect(res.headers.get('location'));

  // 2. The first patient's documents: the bare number, the lower-case path, the pinned version, no nonce.
  const r1 = await ehr.searchDocuments({ patient: patients[0], pageSize: 100 });
  assert.ok(r1.entries.length > 0);
  const s1 = calls.find((c) => c.path.endsWith('/_search'));
  assert.equal(s1.path, '/R4/fhir/documentreference/_search');
  assert.equal(new URLSearchParams(s1.body).get('patient.identifier'), patients[0]);
  assert.equal(s1.headers.get('api-version'), '1.0');
  assert.equal(s1.headers.get('nhn-access-basis'), 'AKUTT');
  assert.equal(s1.status, 200, 'PJD demands no DPoP nonce');
  assert.equal(
    (await emu.log()).filter((l) => l.endpoint === 'search').at(-1).patient_form,
    'number',
  );

  // 3. A refresh to the second patient: the blocked one. Its status first.
  const blocked = statusPatients.blocked;
  const second = client.withContext(
    first.withPatients([{ identifier: { id: blocked, system: FNR }, ...sample.patients[0] }]),
  );
  const before = calls.filter((c) => c.path === '/connect/token').length;
  const st = await second.patientStatus(blocked);
  assert.deepEqual(
    { ...st, transactionId: undefined },
    {
      reservedKjernejournal: false,
      restricted: false,
      blocked: true,
      practitionerBlocked: false,
      transactionId: undefined,
    },
  );
  const tokenCalls = calls.filter((c) => c.path === '/connect/token').slice(before);
  assert.ok(
    tokenCalls.length >= 1 &&
      tokenCalls.every((c) => new URLSearchParams(c.body).get('grant_type') === 'refresh_token'),
    'the second patient came by refresh',
  );
  const statusCall = calls.find((c) => c.path === '/status');
  assert.equal(statusCall.headers.get('nhn-access-basis'), 'UNNTAK');
  assert.deepEqual(JSON.parse(statusCall.body), { nin: blocked });
  for (const which of ['reserved', 'restricted']) {
    const v = client.withContext(
      first.withPatients([{ identifier: { id: statusPatients[which], system: FNR } }]),
    );
    const s = await v.patientStatus(statusPatients[which]);
    assert.equal(which === 'reserved' ? s.reservedKjernejournal : s.restricted, true);
    assert.equal(s.blocked, false);
  }
  await assert.rejects(
    second.patientStatus(patients[0]),
    (e) => e instanceof ArgumentError && e.path === 'patient',
  );

  // 4. The blocked patient's documents: refused with AKUTT, opened with FORHOYET_AKUTT.
  await assert.rejects(
    second.searchDocuments({ patient: blocked }),
    (e) => e instanceof FhirError && e.status === 403,
  );
  const r2 = await second.searchDocuments({ patient: blocked, accessBasis: 'FORHOYET_AKUTT' });
  assert.ok(r2.entries.length > 0);
  assert.ok(r2.entries.every((e) => e.subject.identifier.value === blocked));
  // A KITH message wrapped in CDA, unwrapped as the reference EHR does
  // (NorskHelsenett/Pasientens-journaldokumenter, EPJ/Controllers/DocumentController.cs).
  let kith;
  for (const e of r2.entries.filter(
    (x) => x.content[0].attachment.contentType === 'application/xml',
  )) {
    const d = await second.getDocument(e);
    if (d.contentType === 'application/xml') {
      kith = d;
      break;
    }
  }
  assert.ok(kith, 'the emulator serves a KITH message in CDA');
  assert.equal(kith.fromCda, true);
  const text = new TextDecoder().decode(kith.bytes);
  assert.ok(
    text.startsWith('<?xml') && text.includes('<Epikrise') && !text.includes('ClinicalDocument'),
  );
  const report = auditLog.report();
  const emergency = report.emergencyAccess;
  assert.equal(emergency.length, 1, 'the raised look-up, and only it, is emergency access');
  assert.equal(emergency[0].accessBasis, 'FORHOYET_AKUTT');
  assert.equal((await auditLog.verify()).ok, true);

  // 5. Two APIs, two single-audience tokens, each cached by its resource.
  const pjdToken = s1.headers.get('authorization').replace(/^DPoP /, '');
  assert.equal(jose.decodeJwt(pjdToken).aud, 'nhn:phr');
  const kj = await ehr.accessToken({
    resource: 'nhn:kjernejournal',
    scope: 'nhn:kjernejournal/api',
  });
  assert.equal(jose.decodeJwt(kj.accessToken).aud, 'nhn:kjernejournal');
  const kjCall = calls.filter((c) => c.path === '/connect/token').at(-1);
  assert.equal(new URLSearchParams(kjCall.body).get('resource'), 'nhn:kjernejournal');
  assert.equal(new URLSearchParams(kjCall.body).get('grant_type'), 'refresh_token');
  const again = await ehr.accessToken({
    resource: 'nhn:kjernejournal',
    scope: 'nhn:kjernejournal/api',
  });
  assert.equal(again.accessToken, kj.accessToken, 'cached by resource');
  await assert.rejects(
    ehr.accessToken({ resource: 'nhn:elsewhere', scope: 'x' }),
    (e) => e instanceof ArgumentError && e.path === 'resource',
  );
});

test('a login without a refresh token is refused where switching relies on refresh', async () => {
  // NorskHelsenett/kjernejournal-innlogging-klient, src/main/java/no/helse/kj/devepj/helseid/HelseID.kt:
  // "Mangler refresh token, er offline_access med som scope?".
  for (const refreshTokens of ['required', 'optional']) {
    const auditLog = await AuditLog.open({ sink: 'memory' });
    const client = new Client({
      issuer: emu.url,
      clientId: emu.clientId,
      key,
      documentListBaseUrl: emu.url,
      auditLog,
      timeoutMs: 5000,
      refreshTokens,
    });
    const ehr = client.withContext(TrustContext.fromJSON(narrow(patients[0])));
    const { url } = await ehr.login({
      redirectUri: 'http://127.0.0.1/callback',
      loginHint: 'lege',
      scope: 'openid nhn:phr/mhd/read-documentreferences nhn:phr/mhd/read-document',
    });
    const res = await fetch(url, { redirect: 'manual' });
    if (refreshTokens === 'required') {
      await assert.rejects(
        ehr.handleRedirect(res.headers.get('location')),
        (e) => e instanceof RefreshTokenError && e.code === 'NO_REFRESH_TOKEN',
      );
    } else {
      await ehr.handleRedirect(res.headers.get('location'));
      await ehr.searchDocuments({ patient: patients[0] });
      const other = client.withContext(TrustContext.fromJSON(narrow(patients[1])));
      await assert.rejects(
        other.searchDocuments({ patient: patients[1] }),
        (e) => e instanceof RefreshTokenError,
      );
    }
  }
});

test('the token form of the patient parameter is an option; the emulator logs which it got', async () => {
  const auditLog = await AuditLog.open({ sink: 'memory' });
  const { f, calls } = recorder();
  // A full attestation (practitioner named) may use client_credentials.
  const full = {
    ...narrow(patients[0]),
    practitioner: { identifier: { id: '03818500083', system: FNR }, ...sample.practitioner },
  };
  const client = new Client({
    issuer: emu.url,
    clientId: emu.clientId,
    key,
    documentListBaseUrl: emu.url,
    auditLog,
    fetch: f,
    timeoutMs: 5000,
    patientParameter: 'token',
  });
  await client.withContext(TrustContext.fromJSON(full)).searchDocuments({ patient: patients[0] });
  const s = calls.find((c) => c.path.endsWith('/_search'));
  assert.equal(new URLSearchParams(s.body).get('patient.identifier'), `${FNR}|${patients[0]}`);
  assert.equal(
    (await emu.log()).filter((l) => l.endpoint === 'search').at(-1).patient_form,
    'token',
  );
  assert.throws(
    () =>
      new Client({
        issuer: emu.url,
        clientId: 'c',
        key,
        documentListBaseUrl: emu.url,
        auditLog,
        accessBasis: 'HASTER',
      }),
    (e) => e instanceof ArgumentError && e.path === 'accessBasis',
  );
  assert.throws(
    () =>
      new Client({
        issuer: emu.url,
        clientId: 'c',
        key,
        documentListBaseUrl: emu.url,
        auditLog,
        apiVersion: 'v1',
      }),
    (e) => e instanceof ArgumentError && e.path === 'apiVersion',
  );
});
