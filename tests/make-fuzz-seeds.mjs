// Writes the fuzzers' seed inputs (fuzz/seeds/) from the real API, so the seeds stay valid.
import { writeFileSync } from 'node:fs';
import * as t from 'tillit';
import * as f from './js/fixtures.mjs';

const out = (p, s) => writeFileSync(new URL(`../fuzz/seeds/${p}`, import.meta.url), s);
out('trust_context/sample.json', JSON.stringify(f.attestation()));
out(
  'trust_context/citizen.json',
  JSON.stringify({
    type: 'tillit:citizen',
    citizen: { identifier: { id: f.syntheticFnr(5), system: f.FNR } },
    represented: { identifier: { id: f.syntheticFnr(6), system: f.FNR }, basis: 'parent' },
  }),
);
out('identifiers/fnr', f.syntheticFnr(4));
out('identifiers/orgnr', '974760673');
out(
  'minimise/bundle.json',
  JSON.stringify(
    f.searchset([
      f.documentReference('a', '04818500012', 'A03-2', '2026-01-01'),
      f.documentReference('b', '04818500012', 'B02-2', '2026-01-01', {
        securityLabel: [{ coding: [{ system: 'urn:oid:2.16.578.1.12.4.1.1.9603', code: 'NORS' }] }],
      }),
    ]),
  ),
);
const key = await t.generateKey({ alg: 'ES256' });
out(
  'jws/proof',
  await t.createDpopProof({
    key,
    method: 'GET',
    url: 'https://a.example/x',
    accessToken: 't',
    nonce: 'n',
  }),
);
const log = await t.AuditLog.open({ sink: 'memory' });
const ctx = t.TrustContext.fromJSON(f.attestation());
for (let i = 0; i < 3; i++)
  await log.append({
    kind: 'search',
    trustContext: ctx,
    clientId: 'c',
    server: 'https://s',
    transactionId: `t${i}`,
  });
const nd = log.export('ndjson');
out('audit_reader/chain.ndjson', nd);
out('audit_reader/torn.ndjson', `${nd}{"seq":3,"pr`);
out('policy/default.json', JSON.stringify(t.defaultPolicy()));
