// Quick-start: what a Node integration does before it talks to HelseID.
import { TrustContext, generateKey, createClientAssertion, createDpopProof, jwkThumbprint } from 'tillit';

const decode = (jwt) => jwt.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url')));

// A synthetic patient and practitioner (month + 80: Skatteetaten's synthetic test numbers).
const trustContext = TrustContext.fromJSON({
  type: 'nhn:tillitsrammeverk:parameters',
  practitioner: {
    identifier: { id: '03818500083', system: 'urn:oid:2.16.578.1.12.4.1.4.1' },
    hpr_nr: { id: '9144900', system: 'urn:oid:2.16.578.1.12.4.1.4.4' },
    authorization: { code: 'LE', system: 'urn:oid:2.16.578.1.12.4.1.1.9060' },
    legal_entity: { id: '974760673', system: 'urn:oid:2.16.578.1.12.4.1.4.101' },
    point_of_care: { id: '974760673', system: 'urn:oid:2.16.578.1.12.4.1.4.101' },
  },
  care_relationship: {
    healthcare_service: { code: 'S03', system: 'urn:oid:2.16.578.1.12.4.1.1.8655' },
    purpose_of_use: { code: 'TREAT', system: 'urn:oid:2.16.840.1.113883.1.11.20448' },
    purpose_of_use_details: { code: 'BEHANDLER', system: 'urn:AuditEventHL7Norway/CodeSystem/carerelation' },
    decision_ref: { id: 'beslutning-2026-0042', description: 'Innlagt pasient', user_selected: false },
  },
  patients: [{ identifier: { id: '04818500012', system: 'urn:oid:2.16.578.1.12.4.1.4.1' } }],
});

const clientKey = await generateKey({ alg: 'PS256' });
const dpopKey = await generateKey({ alg: 'ES256' });
const issuer = 'https://helseid-sts.test.nhn.no';
const assertion = await createClientAssertion({ clientId: 'tillit-demo', issuer, key: clientKey, trustContext });
const proof = await createDpopProof({ key: dpopKey, method: 'POST', url: `${issuer}/connect/token` });

const [ah, ac] = decode(assertion);
const [ph, pc] = decode(proof);
console.log('client assertion header:', ah);
// One type of details: one object, as HelseID.Library sends it (an array when a tenant is added).
console.log('client assertion claims:', { ...ac, assertion_details: `{ type: ${ac.assertion_details.type}, … }` });
console.log('attestation purpose:', ac.assertion_details.care_relationship.purpose_of_use.code, '| decision:', ac.assertion_details.care_relationship.decision_ref.id);
console.log('DPoP proof header:', { ...ph, jwk: `${ph.jwk.kty} ${ph.jwk.crv}` }, 'claims:', pc);
console.log('DPoP key thumbprint (cnf.jkt):', await jwkThumbprint(dpopKey));
console.log('private keys extractable:', clientKey.privateKey.extractable, dpopKey.privateKey.extractable);
