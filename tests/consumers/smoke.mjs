// The smoke every consumer project runs against the installed tarball (copied into each
// project by scripts/test-consumers.sh): a key, a DPoP proof, a minimised Bundle and a
// verified in-memory log. `t` is the module namespace of `tillit` or `tillit/init` (after
// `init`). Throws on any wrong answer; returns a one-line summary.
const FNR = 'urn:oid:2.16.578.1.12.4.1.4.1';
const ORG = 'urn:oid:2.16.578.1.12.4.1.4.101';
const DOC_TYPE = 'urn:oid:2.16.578.1.12.4.1.1.9602';
// Synthetic national ids (month + 80: Skatteetaten's synthetic test numbers).
const PATIENT = '04818500012';
const OTHER_PATIENT = '05818500065';

const attestation = {
  type: 'nhn:tillitsrammeverk:parameters',
  practitioner: {
    identifier: { id: '03818500083', system: FNR },
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
  patients: [{ identifier: { id: PATIENT, system: FNR } }],
};

const doc = (id, patient, code, date) => ({
  resourceType: 'DocumentReference',
  id,
  status: 'current',
  type: { coding: [{ system: DOC_TYPE, code }] },
  subject: { identifier: { system: FNR, value: patient } },
  date: `${date}T12:00:00+01:00`,
  content: [
    {
      attachment: {
        contentType: 'application/pdf',
        url: `https://src.example/mhd/document?documentUniqueId=${id}`,
      },
    },
  ],
});

function check(ok, what) {
  if (!ok) throw new Error(`smoke: ${what}`);
}

export async function smoke(t) {
  const key = await t.generateKey({ alg: 'ES256' });
  check(
    key.privateKey.extractable === false && key.publicJwk.crv === 'P-256',
    'a non-extractable P-256 key',
  );
  const proof = await t.createDpopProof({
    key,
    method: 'GET',
    url: 'https://api.example/R4/fhir/DocumentReference',
  });
  const header = JSON.parse(
    new TextDecoder().decode(
      Uint8Array.from(atob(proof.split('.')[0].replace(/-/g, '+').replace(/_/g, '/')), (c) =>
        c.charCodeAt(0),
      ),
    ),
  );
  check(
    proof.split('.').length === 3 && header.typ === 'dpop+jwt' && header.jwk.x === key.publicJwk.x,
    'a DPoP proof carrying the public key',
  );

  const ctx = t.TrustContext.fromJSON(attestation);
  const bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    entry: [
      doc('epi1', PATIENT, 'A03-2', '2026-03-01'),
      doc('note1', PATIENT, 'B02-2', '2026-04-01'),
      doc('leak1', OTHER_PATIENT, 'A03-2', '2026-01-01'),
    ].map((resource) => ({ resource })),
  };
  const out = t.minimise(JSON.stringify(bundle), ctx, undefined, {
    now: Date.UTC(2026, 5, 15) / 1000,
  });
  check(
    out.bundle.entry.map((e) => e.resource.id).join() === 'epi1' &&
      out.leaks === 1 &&
      out.withheld.length === 2,
    'a minimised Bundle',
  );

  const log = await t.AuditLog.open({ sink: 'memory', checkpointKey: key, checkpointEvery: 2 });
  const { id } = await log.append({
    kind: 'search',
    trustContext: ctx,
    clientId: 'smoke',
    server: 'https://api.example/R4/fhir',
    transactionId: 'tx-1',
    query: 'status=current',
  });
  await log.complete(id, { outcome: 'success', completion: { returned: out.stats.returned } });
  const verified = await log.verify();
  check(verified.ok === true && verified.entries >= 2, 'a verified in-memory log');

  let refused = false;
  try {
    t.TrustContext.fromJSON({
      ...attestation,
      patients: [{ identifier: { id: '12345678901', system: FNR } }],
    });
  } catch (e) {
    refused = e instanceof t.TillitError && typeof e.code === 'string';
  }
  check(refused, 'a typed error for a bad national id');
  return `tillit ${t.coreVersion}: key, DPoP proof, ${out.stats.returned} of ${out.stats.input} entries, log of ${verified.entries} verified`;
}
