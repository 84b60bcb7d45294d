// Emulator throughput: document-list searches per second on loopback, bounded in time
// (3 s) and in concurrency (16). Each request carries its own DPoP proof (fresh jti).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { importPrivateKey, generateKey, createClientAssertion, createDpopProof, TrustContext } from 'tillit';
import { attestation } from '../tests/js/fixtures.mjs';

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
    for (let i = 0; i < seconds * 4000; i++) proofs.push(await createDpopProof({ key: dpop, method: 'POST', url: searchUrl, accessToken: at, nonce }));
    let ok = 0, failed = 0;
    const end = performance.now() + seconds * 1000;
    const worker = async () => {
      while (performance.now() < end && proofs.length) {
        const r = await fetch(searchUrl, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded', Authorization: `DPoP ${at}`, DPoP: proofs.pop() } });
        await r.arrayBuffer();
        if (r.status === 200) ok++;
        else { failed++; nonce = r.headers.get('dpop-nonce') ?? nonce; }
      }
    };
    const w0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { searchesPerSecond: ok / ((performance.now() - w0) / 1000), failed, startMs };
  } finally {
    child.kill('SIGTERM');
  }
}
