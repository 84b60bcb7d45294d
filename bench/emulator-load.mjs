// Emulator throughput: document-list searches per second on loopback, bounded in time
// (3 s) and in concurrency (16). Each request carries its own DPoP proof (fresh jti).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { importPrivateKey, generateKey, createClientAssertion, createDpopProof, TrustContext } from 'tillit';
import { attestation } from '../tests/js/fixtures.mjs';

/** A process's CPU time (user + system) in ms, from /proc (Linux); NaN elsewhere. */
function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export async function emulatorLoad({ seconds = 3, concurrency = 16 } = {}) {
  const t0 = performance.now();
  const child = spawn(join(ROOT, 'target', process.env.TILLIT_EMULATOR_PROFILE ?? 'emulator', 'tillit-emulator'), ['--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((r) => child.stdout.on('data', (d) => { const m = /(http:\/\/\S+)/.exec(String(d)); if (m) r(m[1]); }));
  const startMs = performance.now() - t0;
  try {
    const patients = await (await fetch(`${url}/_emulator/patients`)).json();
    const key = await importPrivateKey(readFileSync(join(ROOT, 'examples/emulator/demo-client-key.pem'), 'utf8'), { alg: 'ES256' });
    const dpop = await generateKey({ alg: 'ES256' });
    const ctx = TrustContext.fromJSON(attestation(patients[1], '03818500083'));
    const token = async (nonce) => {
      const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'nhn:phr/mhd/read-documentreferences', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await createClientAssertion({ clientId: 'tillit-demo', issuer: url, key, trustContext: ctx }) });
      return fetch(`${url}/connect/token`, { method: 'POST', body, headers: { DPoP: await createDpopProof({ key: dpop, method: 'POST', url: `${url}/connect/token`, nonce }) } });
    };
    const first = await token();
    const at = (await (await token(first.headers.get('dpop-nonce'))).json()).access_token;
    const searchUrl = `${url}/R4/fhir/DocumentReference/_search`;
    let nonce = (await fetch(searchUrl, { method: 'POST' })).headers.get('dpop-nonce');
    const form = `patient.identifier=urn:oid:2.16.578.1.12.4.1.4.1|${patients[1]}&status=current&_count=${process.env.BENCH_COUNT ?? 20}`;
    // Proofs are made before the timed window, so the load measures the emulator, not the signer.
    const proofs = [];
    for (let i = 0; i < seconds * 6000; i++) proofs.push(await createDpopProof({ key: dpop, method: 'POST', url: searchUrl, accessToken: at, nonce }));
    let ok = 0, failed = 0;
    const end = performance.now() + seconds * 1000;
    // node:http with keep-alive (fetch costs the load generator several times more CPU per
    // request, and the generator shares the machine with the emulator).
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const { hostname, port } = new URL(searchUrl);
    const post = (proof) => new Promise((resolve, reject) => {
      const req = http.request({ agent, hostname, port, path: '/R4/fhir/DocumentReference/_search', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form), authorization: `DPoP ${at}`, dpop: proof } }, (res) => {
        let bytes = 0;
        res.on('data', (d) => { bytes += d.length; });
        res.on('end', () => resolve({ status: res.statusCode, bytes }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(form);
    });
    const worker = async () => {
      while (performance.now() < end && proofs.length) {
        const r = await post(proofs.pop());
        if (r.status === 200 && r.bytes > 0) ok++;
        else failed++;
      }
    };
    const cpu0 = cpuMs(child.pid);
    const w0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const elapsed = performance.now() - w0;
    const emulatorCpuMs = cpuMs(child.pid) - cpu0;
    agent.destroy();
    return { searchesPerSecond: ok / (elapsed / 1000), failed, startMs, emulatorCpuMsPerSearch: ok ? emulatorCpuMs / ok : null, proofsRanOut: proofs.length === 0 };
  } finally {
    child.kill('SIGTERM');
  }
}
