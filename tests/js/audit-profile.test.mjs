// The access log's records through the package against the two profiles they claim: the
// base resource with an independent FHIR R4 validator (npm `fhir`), and the rules of HL7
// Norway's trust-framework AuditEvent profile and of IHE BALP as explicit assertions, each
// next to the source file it comes from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fhirpkg from 'fhir';
import { AuditLog, TrustContext } from 'tillit';
import { attestation, syntheticFnr } from './fixtures.mjs';

const fhir = new fhirpkg.Fhir();
const NORWAY = 'http://hl7.no/fhir/StructureDefinition/no-domain-Trustframework-Auditevent';
const EXT_PATIENT = 'http://hl7.no/fhir/StructureDefinition/auditevent-patient-extension';
const EXT_CARE =
  'http://hl7.no/fhir/StructureDefinition/auditevent-carerelation-metadata-extension';
const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const BALP = 'https://profiles.ihe.net/ITI/BALP/StructureDefinition/';
const server = 'https://api.pjd.test.nhn.no';
const now = () => Math.floor(Date.now() / 1000);

function resolve(ev, ref) {
  assert.match(ref?.reference ?? '', /^#/, 'a local reference');
  const found = (ev.contained ?? []).filter((c) => `#${c.id}` === ref.reference);
  assert.equal(found.length, 1, `${ref.reference} resolves to one contained resource`);
  return found[0];
}
const typed = (ev, ref, type) => {
  const r = resolve(ev, ref);
  assert.equal(r.resourceType, type);
  return r;
};
const identified = (r) => {
  assert.ok(r.identifier?.length >= 1, 'identifier 1..*');
  for (const i of r.identifier) assert.ok(i.system && i.value);
};

/** HL7 Norway's no-domain-Trustframework-Auditevent (0.9.8, canonical http://hl7.no/fhir). */
function assertNorway(ev) {
  // HL7Norway/AuditEvent, igs/AuditEvent/sushi-config.yaml (canonical) and
  // igs/AuditEvent/input/fsh/no-domain-Trustframework-Auditevent.fsh (Id).
  assert.ok(ev.meta.profile.includes(NORWAY));
  // no-domain-Trustframework-Auditevent.fsh: `AuditEventPatientExtension named _patient 1..1`,
  // `value[x] only Reference(AuditeventPatient)`; no-domain-Trustframework-Patient.fsh: `identifier 1..*`.
  const patient = ev.extension.filter((e) => e.url === EXT_PATIENT);
  assert.equal(patient.length, 1);
  identified(typed(ev, patient[0].valueReference, 'Patient'));
  // no-domain-Trustframework-Auditevent.fsh: `_careRelationMetaData 0..1` with
  // `decision-ref-id 1..1`, `decision-ref-description 1..1`, `decision-ref-user-selected 1..1`,
  // `toa 1..1` (string, string, boolean, unsignedInt).
  const care = ev.extension.filter((e) => e.url === EXT_CARE);
  assert.ok(care.length <= 1);
  for (const c of care) {
    assert.equal(c.extension.length, 4);
    for (const [url, type] of [
      ['decision-ref-id', 'valueString'],
      ['decision-ref-description', 'valueString'],
      ['decision-ref-user-selected', 'valueBoolean'],
      ['toa', 'valueUnsignedInt'],
    ]) {
      const s = c.extension.filter((x) => x.url === url);
      assert.equal(s.length, 1, `${url} 1..1`);
      assert.deepEqual(Object.keys(s[0]).sort(), [type, 'url'].sort());
      if (type === 'valueUnsignedInt')
        assert.ok(Number.isInteger(s[0][type]) && s[0][type] >= 0 && s[0][type] <= 2147483647);
    }
  }
  // no-domain-Trustframework-Auditevent.fsh: `agent.who 1..1`, `agent.who only Reference(AuditeventPractitionerrole)`.
  for (const a of ev.agent) {
    assert.ok(a.who, 'agent.who 1..1');
    assert.ok(a.who.type === undefined || a.who.type === 'PractitionerRole');
  }
  const role = typed(ev, ev.agent.find((a) => a.requestor).who, 'PractitionerRole');
  // no-domain-Trustframework-PractitionerRole.fsh: practitioner 1..1, organization 1..1, location 1..1;
  // no-domain-Trustframework-Practitioner.fsh: identifier 1..*.
  identified(typed(ev, role.practitioner, 'Practitioner'));
  const org = typed(ev, role.organization, 'Organization');
  identified(org);
  // no-doc-Trustframework.fsh, AuditeventDepartment: `partOf only Reference(AuditeventPractitionerLegalentity)`.
  if (org.partOf) identified(typed(ev, org.partOf, 'Organization'));
  assert.equal(role.location.length, 1);
  // no-doc-Trustframework.fsh, AuditeventPractitionerPointofcare: managingOrganization (the point of care).
  identified(
    typed(ev, typed(ev, role.location[0], 'Location').managingOrganization, 'Organization'),
  );
  // no-domain-Trustframework-Auditevent.fsh: purposeOfEvent.coding sliced: PURPOSE_OF_USE_VALUESET 1..1
  // (v3-PurposeOfUse), DIPS_DECISIONTEMPLATE 0..1, VOLVEN_9151 0..1, open.
  assert.ok(ev.purposeOfEvent.length >= 1);
  for (const pe of ev.purposeOfEvent) {
    const n = (sys) => pe.coding.filter((c) => c.system === sys).length;
    assert.equal(n(ACT_REASON), 1);
    assert.ok(
      ['TREAT', 'ETREAT', 'COC', 'BTG'].includes(
        pe.coding.find((c) => c.system === ACT_REASON).code,
      ),
    );
    assert.ok(
      n('https://terminology.dips.com/decisiontemplate') <= 1 &&
        n('urn:oid:2.16.578.1.12.4.1.1.9151') <= 1,
    );
  }
  // FHIR R4 DomainResource dom-3: every contained resource is referenced in the resource.
  const text = JSON.stringify(ev);
  for (const c of ev.contained)
    assert.ok(text.includes(`"reference":"#${c.id}"`), `dom-3 #${c.id}`);
}

/** IHE BALP PatientQuery / PatientRead for a successful look-up: IHE/ITI.BasicAudit,
 * input/fsh/PatientQuery.fsh and input/fsh/PatientRead.fsh. */
function assertBalp(ev, kind) {
  const [profile, interaction, action, client, srv] =
    kind === 'search'
      ? ['IHE.BasicAudit.PatientQuery', 'search', 'E', '110153', '110152']
      : ['IHE.BasicAudit.PatientRead', 'read', 'R', '110152', '110153'];
  assert.ok(ev.meta.profile.includes(BALP + profile));
  // `type = audit-event-type#rest`, `subtype contains anySearch|anyRead 1..1`, `action`, `outcome = #0`.
  assert.deepEqual([ev.type.code, ev.action, ev.outcome], ['rest', action, '0']);
  assert.deepEqual(
    ev.subtype
      .filter((c) => c.system === 'http://hl7.org/fhir/restful-interaction')
      .map((c) => c.code),
    [interaction],
  );
  // Agents sliced by type: client 1..1, server 1..1 (with network), user 0..1 (v3-ParticipationType#IRCP,
  // requestor true, no network). BALP's `agent[client].network 1..1` is not met: the device does not
  // know its own address (docs/audit-format.md).
  const of = (code) =>
    ev.agent.filter((a) => a.type?.coding?.some((c) => c.system === DCM && c.code === code));
  assert.deepEqual([of(client).length, of(srv).length], [1, 1]);
  assert.ok(of(srv)[0].network.address);
  const users = ev.agent.filter((a) =>
    a.type?.coding?.some(
      (c) =>
        c.code === 'IRCP' &&
        c.system === 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
    ),
  );
  assert.equal(users.length, 1);
  assert.ok(users[0].requestor === true && users[0].who && !users[0].network);
  // Entities: patient 1..1 (#1/#1, what), a query's query 1..1 (#2/#24, no what/detail) or a read's data (#2, role 3|4|20, what).
  const e = (code) =>
    ev.entity.filter(
      (x) =>
        x.type?.system === 'http://terminology.hl7.org/CodeSystem/audit-entity-type' &&
        x.type.code === code,
    );
  assert.equal(e('1').length, 1);
  assert.ok(e('1')[0].role.code === '1' && e('1')[0].what);
  assert.equal(e('2').length, 1);
  const o = e('2')[0];
  if (kind === 'search') assert.ok(o.role.code === '24' && o.query && !o.what && !o.detail);
  else assert.ok(['3', '4', '20'].includes(o.role.code) && o.what);
}

// The validator checks the AuditEvent's own elements, not inside `contained`: each contained
// resource is validated on its own too. A warning counts as a failure (an unknown element),
// except a code the validator's own value sets do not hold (extensible bindings: ITI
// transaction codes, Volven, v3 PurposeOfUse, which it does not load).
function fhirValid(ev) {
  for (const r of [ev, ...(ev.contained ?? [])]) {
    const v = fhir.validate(r);
    const bad = v.messages.filter(
      (m) =>
        m.severity === 'error' ||
        (m.severity === 'warning' && !/not found in value set$/.test(m.message)),
    );
    assert.deepEqual(bad, [], JSON.stringify(v.messages));
  }
}

test("a practitioner's records follow HL7 Norway's profile and, when successful, BALP; a FHIR validator accepts them", async () => {
  const patient = syntheticFnr(4);
  const a = attestation(patient);
  a.practitioner.identifier.name = 'Lege Lise Lauritzen';
  a.practitioner.department = {
    id: '705592',
    system: 'urn:oid:2.16.578.1.12.4.1.4.102',
    name: 'Anestesi',
  };
  a.toa = now();
  const trustContext = TrustContext.fromJSON(a);
  const log = await AuditLog.open({ sink: 'memory' });
  const base = { trustContext, clientId: 'tillit-ehr', server };
  const s = await log.append({
    ...base,
    kind: 'search',
    transactionId: 'tx-1',
    query: 'patient.identifier=x',
  });
  await log.complete(s.id, {
    outcome: 'success',
    completion: { httpStatus: 200, returned: 2, withheld: { PATIENT_BLOCK: 1 }, leaks: 0 },
  });
  const r = await log.append({
    ...base,
    kind: 'read',
    transactionId: 'tx-2',
    documentId: '1.2.3^4.5.6',
    tokenJti: 'j-1',
  });
  await log.complete(r.id, { outcome: 'success', completion: { httpStatus: 200 } });
  const f = await log.append({
    ...base,
    kind: 'read',
    transactionId: 'tx-3',
    documentId: '1.2.3^4.5.7',
  });
  await log.complete(f.id, { outcome: 'failure', completion: { httpStatus: 403 } });
  // Every record, pending ones included, as stored.
  const records = log
    .export('ndjson')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((x) => x.kind === 'event')
    .map((x) => x.body);
  assert.equal(records.length, 6);
  for (const ev of records) {
    fhirValid(ev);
    assertNorway(ev);
    const care = ev.extension.find((x) => x.url === EXT_CARE).extension;
    assert.deepEqual(
      care.map((x) => Object.values(x).find((v) => v !== x.url)),
      ['dec-42', 'Innlagt', false, a.toa],
    );
    assert.equal(
      typed(ev, ev.extension.find((x) => x.url === EXT_PATIENT).valueReference, 'Patient')
        .identifier[0].value,
      patient,
    );
    const balp = ev.meta.profile.some((p) => p.startsWith(BALP));
    assert.equal(balp, ev.outcome === '0', 'BALP is claimed for successful look-ups');
    if (balp) assertBalp(ev, ev.action === 'E' ? 'search' : 'read');
  }
  assert.equal((await log.verify()).ok, true);
  // The views log control and the citizen read are unchanged by the new shape.
  const view = log.query({ patient });
  assert.equal(view.length, 3);
  assert.deepEqual(
    view.map((e) => e.purposeOfEvent[0].coding[0].code),
    ['TREAT', 'TREAT', 'TREAT'],
  );
});

test('records the profile cannot describe do not claim it, and invent nothing', async () => {
  const log = await AuditLog.open({ sink: 'memory' });
  const a = attestation(syntheticFnr(4));
  delete a.practitioner.identifier;
  delete a.practitioner.hpr_nr;
  const narrow = TrustContext.fromJSON(a);
  const two = attestation(syntheticFnr(4));
  two.patients.push({
    identifier: { id: syntheticFnr(5), system: 'urn:oid:2.16.578.1.12.4.1.4.1' },
  });
  const citizen = TrustContext.fromJSON({
    type: 'tillit:citizen',
    citizen: { identifier: { id: syntheticFnr(6), system: 'urn:oid:2.16.578.1.12.4.1.4.1' } },
  });
  for (const trustContext of [narrow, TrustContext.fromJSON(two), citizen]) {
    const { id } = await log.append({
      trustContext,
      clientId: 'tillit-ehr',
      server,
      kind: 'read',
      transactionId: 't',
      documentId: '1.2^3',
    });
    await log.complete(id, { outcome: 'success' });
  }
  const [a1, a2, a3] = log.query();
  for (const ev of [a1, a2, a3]) {
    fhirValid(ev);
    assert.ok(!(ev.meta?.profile ?? []).includes(NORWAY));
    assert.ok(!JSON.stringify(ev).includes('"toa"'), 'no toa was given');
  }
  // One patient: BALP's PatientRead; two: neither profile (BALP's entity[patient] is 1..1).
  assertBalp(a1, 'read');
  assertBalp(a3, 'read');
  assert.equal(a2.meta, undefined);
  // The checks fail on a record that breaks the rules.
  assert.throws(() => assertNorway(a1));
  const broken = structuredClone(a1);
  broken.outcome = '4';
  assert.throws(() => assertBalp(broken, 'read'));
});
