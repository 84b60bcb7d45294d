// A Node integration service for a referral workflow: when a referral arrives, fetch the
// patient's document list from the national document list (client_credentials, with the
// referral's care context attested), keep an NDJSON access log, and hand the minimised list
// to the caseworker's system.
//
//   node service.mjs --issuer URL --api URL --key demo-client-key.pem --log access.ndjson --patient FNR [--serve PORT]
//
// With --serve it answers GET /referrals/{patient}/documents; without, it runs one referral,
// retrieves the newest document, and prints a summary.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { Client, AuditLog, TrustContext, importPrivateKey, TillitError } from 'tillit';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const issuer = arg('issuer');
const api = arg('api', issuer);
const logFile = arg('log', 'access.ndjson');
const keyFile = arg('key', new URL('../emulator/demo-client-key.pem', import.meta.url).pathname);
const clientId = arg('client', 'tillit-demo');

// The service's own practitioner (the caseworker on duty) and organisation.
const PRACTITIONER = { identifier: { id: '03818500083', system: 'urn:oid:2.16.578.1.12.4.1.4.1', name: 'Lege Lise Lauritzen' }, hpr_nr: { id: '9144900', system: 'urn:oid:2.16.578.1.12.4.1.4.4' }, authorization: { code: 'LE', system: 'urn:oid:2.16.578.1.12.4.1.1.9060' }, legal_entity: { id: '974760673', system: 'urn:oid:2.16.578.1.12.4.1.4.101', name: 'Testkommunen legevakt' }, point_of_care: { id: '974760673', system: 'urn:oid:2.16.578.1.12.4.1.4.101', name: 'Testkommunen legevakt' } };

/** The care context of one referral: treating on referral, the referral id as the decision. */
function referralContext(patient, referralId) {
  return TrustContext.fromJSON({
    type: 'nhn:tillitsrammeverk:parameters',
    practitioner: PRACTITIONER,
    care_relationship: {
      healthcare_service: { code: 'S03', system: 'urn:oid:2.16.578.1.12.4.1.1.8655' },
      purpose_of_use: { code: 'TREAT', system: 'urn:oid:2.16.840.1.113883.1.11.20448' },
      purpose_of_use_details: { code: 'HENV_BEH', system: 'urn:AuditEventHL7Norway/CodeSystem/carerelation' },
      decision_ref: { id: referralId, description: 'Henvisning mottatt', user_selected: false },
    },
    patients: [{ identifier: { id: patient, system: 'urn:oid:2.16.578.1.12.4.1.4.1' } }],
    toa: Math.floor(Date.now() / 1000),
  });
}

export async function createService({ issuer, api, keyPem, logFile, clientId }) {
  const key = await importPrivateKey(keyPem, { alg: 'ES256' });
  const auditLog = await AuditLog.open({ sink: { file: logFile } });
  const client = new Client({ issuer, clientId, key, documentListBaseUrl: api, auditLog, timeoutMs: 10_000, sourceSystem: 'tillit-node-service' });
  return {
    auditLog,
    async referral(patient, referralId = `henv-${Date.now()}`) {
      const view = client.withContext(referralContext(patient, referralId));
      const list = await view.searchDocuments({ patient, pageSize: 100, maxEntries: 500 });
      return { view, list };
    },
  };
}

async function main() {
  if (!issuer) {
    console.error('usage: node service.mjs --issuer URL [--api URL] [--key PEM] [--log FILE] --patient FNR [--serve PORT]');
    process.exit(2);
  }
  const svc = await createService({ issuer, api, keyPem: readFileSync(keyFile, 'utf8'), logFile, clientId });
  const port = arg('serve');
  if (port) {
    createServer(async (req, res) => {
      const m = /^\/referrals\/(\d{11})\/documents$/.exec(req.url ?? '');
      if (!m) return res.writeHead(404).end();
      try {
        const { list } = await svc.referral(m[1]);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ documents: list.entries, withheld: list.withheld, blockedByPatient: list.blockedCount }));
      } catch (e) {
        const code = e instanceof TillitError ? e.code : 'INTERNAL';
        res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: code }));
      }
    }).listen(Number(port), '127.0.0.1', () => console.log(`node-service listening on http://127.0.0.1:${port}`));
    return;
  }
  const patient = arg('patient');
  const { view, list } = await svc.referral(patient, 'henv-demo-1');
  const reasons = {};
  for (const w of list.withheld) reasons[w.reason] = (reasons[w.reason] ?? 0) + 1;
  const doc = list.entries.length ? await view.getDocument(list.entries[0]) : null;
  const verify = await svc.auditLog.verify();
  const summary = {
    documentsFound: list.entries.length,
    withheld: list.withheld.length,
    withheldReasons: reasons,
    blockedByPatient: list.blockedCount,
    firstDocument: doc ? { type: doc.contentType, bytes: doc.bytes.length, fromCda: doc.fromCda } : null,
    logEntries: svc.auditLog.length,
    logFile,
    chainVerified: verify.ok,
  };
  console.log(JSON.stringify(summary, null, 2));
  await svc.auditLog.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    console.error(e instanceof TillitError ? `${e.name} ${e.code} at ${e.path}: ${e.rule}` : e);
    process.exit(1);
  });
}
