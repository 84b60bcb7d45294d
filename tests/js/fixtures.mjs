// Shared fixtures for the JS tests: synthetic national ids (month + 80, valid mod-11 check
// digits) and a valid attestation in NHN's sample shape.
const W1 = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const W2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
const mod11 = (d, w) => {
  const k = 11 - (d.reduce((s, x, i) => s + x * w[i], 0) % 11);
  return k === 11 ? 0 : k === 10 ? null : k;
};

/** A synthetic fødselsnummer born on `day` (1-28) of month `month` 1985. */
export function syntheticFnr(day, month = 1) {
  for (let ind = 0; ind < 500; ind++) {
    const s = `${String(day).padStart(2, '0')}${month + 80}85${String(ind).padStart(3, '0')}`;
    const d = [...s].map(Number);
    const k1 = mod11(d, W1);
    if (k1 === null) continue;
    const k2 = mod11([...d, k1], W2);
    if (k2 === null) continue;
    return `${s}${k1}${k2}`;
  }
  throw new Error('no valid number');
}

export const FNR = 'urn:oid:2.16.578.1.12.4.1.4.1';
export const ORG = 'urn:oid:2.16.578.1.12.4.1.4.101';

export function attestation(patient = syntheticFnr(4), practitioner = syntheticFnr(3)) {
  return {
    type: 'nhn:tillitsrammeverk:parameters',
    practitioner: {
      identifier: { id: practitioner, system: FNR },
      hpr_nr: { id: '9144900', system: 'urn:oid:2.16.578.1.12.4.1.4.4' },
      authorization: { code: 'LE', system: 'urn:oid:2.16.578.1.12.4.1.1.9060' },
      legal_entity: { id: '974760673', system: ORG },
      point_of_care: { id: '974760673', system: ORG },
    },
    care_relationship: {
      healthcare_service: { code: 'S03', system: 'urn:oid:2.16.578.1.12.4.1.1.8655' },
      purpose_of_use: { code: 'TREAT', system: 'urn:oid:2.16.840.1.113883.1.11.20448' },
      purpose_of_use_details: {
        code: 'BEHANDLER',
        system: 'urn:AuditEventHL7Norway/CodeSystem/carerelation',
      },
      decision_ref: { id: 'dec-42', description: 'Innlagt', user_selected: false },
    },
    patients: [{ identifier: { id: patient, system: FNR } }],
  };
}

export const DOC_TYPE = 'urn:oid:2.16.578.1.12.4.1.1.9602';

/** A DocumentReference as PJD returns it (contained author, attachment, master identifier). */
export function documentReference(id, patient, typeCode, date, extra = {}) {
  return {
    resourceType: 'DocumentReference',
    id,
    contained: [
      {
        resourceType: 'Organization',
        id: 'org',
        name: 'Testsykehuset HF',
        identifier: [{ system: ORG, value: '974760673' }],
      },
    ],
    masterIdentifier: { system: 'urn:ietf:rfc:3986', value: `urn:oid:1.2.3.${id}` },
    status: 'current',
    type: { coding: [{ system: DOC_TYPE, code: typeCode }] },
    category: [{ coding: [{ system: DOC_TYPE, code: `${typeCode[0]}00-1` }] }],
    subject: { identifier: { system: FNR, value: patient } },
    date: `${date}T12:00:00+01:00`,
    author: [{ reference: '#org' }],
    content: [
      {
        attachment: {
          contentType: 'application/pdf',
          title: `Dokument ${id}`,
          url: `https://src.example/mhd/document?documentUniqueId=${id}`,
          size: 2048,
          creation: `${date}T12:00:00+01:00`,
        },
      },
    ],
    ...extra,
  };
}

export function searchset(resources) {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: resources.length,
    entry: resources.map((r) => ({
      fullUrl: `https://api.example/R4/fhir/DocumentReference/${r.id}`,
      resource: r,
      search: { mode: 'match' },
    })),
  };
}
