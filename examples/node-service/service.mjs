// A Node integration service for a referral workflow: when a referral arrives, fetch the
// patient's document list from the national document list (client_credentials, with the
// referral's care context attested), keep an NDJSON access log, ship it to the organisation's
// collector, and hand the minimised list to the caseworker's system.
//
//   node service.mjs --issuer URL --api URL --key demo-client-key.pem --log access.ndjson --patient FNR [--collector URL] [--serve PORT]
//
// With --collector every record of the log also goes to tillit-collector, with a write token
// of this client (client_credentials at HelseID, resource tillit:collector, DPoP-bound); the
// collector's acknowledged head is kept beside the log file and shipping resumes from it.
//
// With --serve it answers GET /referrals/{patient}/documents; without, it runs one referral,
// retrieves the newest document, and prints a summary.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { Client, AuditLog, TrustContext, importPrivateKey, generateKey, TillitError } from 'tillit';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const issuer = arg('issuer');
const api = arg('api', issuer);
const logFile = arg('log', 'access.ndjson');
const keyFile = arg('key', new URL('../emulator/demo-client-key.pem', import.meta.url).pathname);
const clientId = arg('client', 'tillit-demo');
const collector = arg('collector');

/** The collector's resource at HelseID and the scope a device writes with. */
const COLLECTOR = { resource: 'tillit:collector', scope: 'tillit:collector/audit.write' };

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

export async function createService({ issuer, api, keyPem, logFile, clientId, collector }) {
  const key = await importPrivateKey(keyPem, { alg: 'ES256' });
  const dpopKey = await generateKey({ alg: 'ES256' });
  let client;
  // The client without a trust context looks nothing up: its collector token request is not
  // a look-up and is not logged.
  const ship = collector ? { url: collector, dpopKey, token: async () => (await client.accessToken(COLLECTOR)).accessToken } : undefined;
  const auditLog = await AuditLog.open({ sink: { file: logFile }, name: 'node-service', ship });
  client = new Client({ issuer, clientId, key, dpopKey, documentListBaseUrl: api, auditLog, timeoutMs: 10_000, sourceSystem: 'tillit-node-service', resources: { others: [COLLECTOR.resource] } });
  return {
    auditLog,
    /** Resolves once the collector holds every record written so far (or rejects after `ms`). */
    async shipped(ms = 20_000) {
      const until = Date.now() + ms;
      for (;;) {
        const s = auditLog.shipping;
        if (!s) return null;
        if (s.state === 'stopped') throw s.error ?? new Error('shipping stopped');
        if (s.queued === 0 && s.acknowledged) return s;
        if (Date.now() > until) throw new Error(`shipping: ${s.queued} records still queued after ${ms} ms (${s.state})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
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
  const svc = await createService({ issuer, api, keyPem: readFileSync(keyFile, 'utf8'), logFile, clientId, collector });
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
  const shipped = await svc.shipped();
  const verify = await svc.auditLog.verify(shipped ? { anchor: shipped.acknowledged } : undefined);
  const summary = {
    documentsFound: list.entries.length,
    withheld: list.withheld.length,
    withheldReasons: reasons,
    blockedByPatient: list.blockedCount,
    firstDocument: doc ? { type: doc.contentType, bytes: doc.bytes.length, fromCda: doc.fromCda } : null,
    logEntries: svc.auditLog.length,
    logFile,
    chainVerified: verify.ok,
    shippedTo: shipped ? { collector, logId: shipped.logId, acknowledged: shipped.acknowledged } : null,
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
