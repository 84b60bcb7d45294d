// A browser app's code: both entries, the error classes and the init options type-check.
import {
  TrustContext,
  generateKey,
  createDpopProof,
  minimise,
  AuditLog,
  TillitError,
  WasmLoadError,
  coreVersion,
  type Key,
  type ErrorCode,
} from 'tillit';
import { init, type InitOptions, type WasmSource } from 'tillit/init';

export async function app(): Promise<string> {
  const source: WasmSource = new URL('/assets/tillit.wasm', 'https://ehr.example');
  const opts: InitOptions = { wasm: source };
  await init(opts);
  const key: Key = await generateKey({ alg: 'ES256' });
  const privateKey: CryptoKey = key.privateKey;
  const proof: string = await createDpopProof({ key, method: 'GET', url: 'https://api.example' });
  const log = await AuditLog.open({ sink: 'indexeddb' });
  try {
    TrustContext.fromJSON({});
  } catch (e) {
    if (e instanceof WasmLoadError || e instanceof TillitError) {
      const code: ErrorCode = e.code;
      return code;
    }
  }
  void minimise;
  void log;
  return `${coreVersion} ${proof} ${privateKey.type}`;
}
