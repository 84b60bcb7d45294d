// The checked signer (tillit/server) against signing the same bytes unchecked, in one run:
// the checks (parse, rules, session binding, jti memory, rate limit) and the access-log
// write should cost little next to the ES256 signature. Each round makes fresh signing
// inputs (a jti is signed once), then times both signers over the same inputs, alternating
// which goes first. `node bench/signer.mjs` runs it alone.
import { generateKeyPairSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as tillit from 'tillit';
import * as server from 'tillit/server';

const PRACTITIONER = '03818500083';
const PATIENT = '04818500012';
const ISSUER = 'https://helseid-sts.test.nhn.no';
const CLIENT = 'tillit-bench';

const b64u = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

function inputs(n, kid, attested, alg = 'ES256') {
  const t = Math.floor(Date.now() / 1000);
  const details = [{
    type: 'nhn:tillitsrammeverk:parameters',
    practitioner: {
      identifier: { id: PRACTITIONER, system: 'urn:oid:2.16.578.1.12.4.1.4.1' },
      hpr_nr: { id: '9144900', system: 'urn:oid:2.16.578.1.12.4.1.4.4' },
      authorization: { code: 'LE', system: 'urn:oid:2.16.578.1.12.4.1.1.9060' },
      legal_entity: { id: '974760673', system: 'urn:oid:2.16.578.1.12.4.1.4.101' },
      point_of_care: { id: '974760673', system: 'urn:oid:2.16.578.1.12.4.1.4.101' },
    },
    care_relationship: {
      healthcare_service: { code: 'S03', system: 'urn:oid:2.16.578.1.12.4.1.1.8655' },
      purpose_of_use: { code: 'TREAT', system: 'urn:oid:2.16.840.1.113883.1.11.20448' },
      purpose_of_use_details: { code: 'BEHANDLER', system: 'urn:AuditEventHL7Norway/CodeSystem/carerelation' },
      decision_ref: { id: 'dec-1', description: 'Innlagt', user_selected: false },
    },
    patients: [{ identifier: { id: PATIENT, system: 'urn:oid:2.16.578.1.12.4.1.4.1' } }],
    toa: t,
  }];
  const h = b64u({ alg, kid, typ: 'client-authentication+jwt' });
  return Array.from({ length: n }, () => {
    const c = { iss: CLIENT, sub: CLIENT, aud: ISSUER, iat: t, nbf: t, exp: t + 10, jti: crypto.randomUUID(), ...(attested ? { assertion_details: details } : {}) };
    return new TextEncoder().encode(`${h}.${b64u(c)}`);
  });
}

const median = (t) => [...t].sort((a, b) => a - b)[Math.floor(t.length / 2)];

/** Rows for bench/node.mjs: checked (with and without an attestation) vs unchecked. */
export async function signerRows({ runs = 7, n = 200 } = {}) {
  const session = { practitioner: { id: PRACTITIONER, hprNr: '9144900' }, organisation: '974760673', allowedPatients: [PATIENT] };
  const rows = [];
  for (const [alg, attested] of [['ES256', true], ['ES256', false], ['PS256', true]]) {
    const kp = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = await tillit.importPrivateKey(kp.privateKey.export({ type: 'pkcs8', format: 'pem' }), { alg });
    const signer = new server.CheckedSigner({
      key, clientId: CLIENT, issuer: ISSUER, auditLog: await tillit.AuditLog.open({ sink: 'memory' }),
      authorize: () => session, log: () => {}, rateLimit: { burst: 1e6, perMinute: 1e6 },
    });
    const checked = [];
    const unchecked = [];
    // Warm-up as bench/harness.mjs does (at least two rounds and 1.5 s: V8 optimises the
    // hot wasm and JS in the background), then `runs` timed rounds.
    const start = performance.now();
    let warm = 0;
    for (let r = 0; r < warm + runs; r++) {
      if (r === warm && (warm < 2 || performance.now() - start < 1500)) warm++;
      const batch = inputs(n, key.kid, attested, alg);
      const timeIt = async (f) => {
        const t0 = performance.now();
        for (const b of batch) await f(b);
        return (performance.now() - t0) / n;
      };
      const order = r % 2 ? ['u', 'c'] : ['c', 'u'];
      for (const o of order) {
        const ms = o === 'c' ? await timeIt((b) => signer.sign(b, null)) : await timeIt((b) => server.signUnchecked(key, b));
        if (r >= warm) (o === 'c' ? checked : unchecked).push(ms);
      }
    }
    const c = median(checked);
    const u = median(unchecked);
    rows.push({
      bench: `server signer ${alg}: checked${attested ? ' + access log (attested assertion)' : ' (assertion without attestation)'}`,
      unit: 'ms', tillit: c, baseline: u, baselineName: `unchecked ${alg}, same bytes`, ratio: c / u,
      min: Math.min(...checked), max: Math.max(...checked), target: '',
    });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  for (const r of await signerRows({ runs: quick ? 3 : 7 })) console.log(`${r.bench}: ${r.tillit.toFixed(3)} ms vs ${r.baseline.toFixed(3)} ms (${r.baselineName}): ${r.ratio.toFixed(2)}×`);
}
