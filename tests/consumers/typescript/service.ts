// A Node service compiled with lib ES2022 only (no DOM, no @types/node): the declarations
// stand alone (tsconfig.service.json; tsconfig.service-node.json adds @types/node). It runs:
// the smoke through the typed API.
declare const console: { log(line: string): void };
import {
  TrustContext,
  generateKey,
  createDpopProof,
  minimise,
  AuditLog,
  TillitError,
  coreVersion,
  type Key,
  type AttestationJSON,
} from 'tillit';

const attestation = {
  type: 'nhn:tillitsrammeverk:parameters',
  practitioner: {
    identifier: { id: '03818500083', system: 'urn:oid:2.16.578.1.12.4.1.4.1' },
    legal_entity: { id: '974760673', system: 'urn:oid:2.16.578.1.12.4.1.4.101' },
    point_of_care: { id: '974760673', system: 'urn:oid:2.16.578.1.12.4.1.4.101' },
  },
  care_relationship: {
    healthcare_service: { code: 'S03', system: 'urn:oid:2.16.578.1.12.4.1.1.8655' },
    purpose_of_use: { code: 'TREAT', system: 'urn:oid:2.16.840.1.113883.1.11.20448' },
    decision_ref: { id: 'dec-42', user_selected: false },
  },
  patients: [{ identifier: { id: '04818500012', system: 'urn:oid:2.16.578.1.12.4.1.4.1' } }],
} satisfies AttestationJSON;

const key: Key = await generateKey({ alg: 'ES256' });
const proof = await createDpopProof({
  key,
  method: 'POST',
  url: 'https://helseid-sts.test.nhn.no/connect/token',
});
const ctx = TrustContext.fromJSON(attestation);
const out = minimise(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', entry: [] }), ctx);
const log = await AuditLog.open({ sink: 'memory' });
const { id } = await log.append({
  kind: 'search',
  trustContext: ctx,
  clientId: 'svc',
  server: 'https://api.example',
  transactionId: 'tx',
});
await log.complete(id, { outcome: 'success', completion: { returned: out.stats.returned } });
const verified = await log.verify();
if (!verified.ok || proof.split('.').length !== 3 || !(key.privateKey.extractable === false))
  throw new TillitError('INVALID_ARGUMENT', 'smoke', 'wrong answer');
console.log(
  `✓ TypeScript service without DOM types: tillit ${coreVersion}, log of ${verified.entries} verified`,
);
