// Compiled with `tsc --noEmit` against the built package: the published declarations must
// type a realistic integration without `any` leaking into the caller's code.
import {
  TrustContext, generateKey, createClientAssertion, createDpopProof, jwkThumbprint, importPrivateKey,
  TillitError, TrustContextError, type Key, type Signer, type AttestationJSON, type ErrorCode, Systems,
} from 'tillit';

const att: AttestationJSON = {
  type: 'nhn:tillitsrammeverk:parameters',
  practitioner: {
    identifier: { id: '00000000000', system: Systems.fnr },
    legal_entity: { id: '974760673', system: Systems.orgnr },
    point_of_care: { id: '974760673', system: Systems.orgnr },
  },
  care_relationship: {
    purpose_of_use: { code: 'TREAT', system: Systems.purposeOfUse },
    decision_ref: { id: 'd', user_selected: false },
  },
  patients: [],
};

export async function integrate(): Promise<string> {
  const key: Key = await generateKey({ alg: 'ES256' });
  const kid: string = await jwkThumbprint(key);
  const ctx = TrustContext.fromJSON(att);
  const signer: Signer = { alg: 'PS256', kid, sign: async (d) => d };
  const a: string = await createClientAssertion({ clientId: 'c', issuer: 'https://i', signer, trustContext: ctx });
  const p: string = await createDpopProof({ key, method: 'GET', url: 'https://x' });
  await importPrivateKey('-----BEGIN PRIVATE KEY-----', { alg: 'RS256' });
  try {
    ctx.assertFresh();
  } catch (e) {
    if (e instanceof TrustContextError) {
      const code: ErrorCode = e.code;
      return code + e.path;
    }
    if (e instanceof TillitError) return e.rule;
  }
  return a + p;
}
