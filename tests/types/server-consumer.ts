// The published declarations of `tillit/server` type a Node backend's signer endpoint.
import { AuditLog, importPrivateKey } from 'tillit';
import {
  CheckedSigner,
  signerHandler,
  SigningRefusedError,
  type SignerSession,
  type SigningRefusalReason,
  type SignerLogLine,
  type HttpRequestLike,
  type HttpResponseLike,
} from 'tillit/server';

// node:http's IncomingMessage has this shape (no @types/node here).
type IncomingMessage = HttpRequestLike & { url?: string };
declare const req: IncomingMessage;
declare const res: HttpResponseLike;

declare const pem: string;
declare function sessionOf(
  cookie: string | string[] | undefined,
): { pid: string; org: string; patients: string[] } | undefined;

const signer = new CheckedSigner<IncomingMessage>({
  key: await importPrivateKey(pem, { alg: 'ES256' }),
  clientId: 'my-ehr',
  issuer: 'https://helseid-sts.test.nhn.no',
  redirectUris: ['https://ehr.example/'],
  scopes: ['openid'],
  auditLog: await AuditLog.open({ sink: 'memory' }),
  authorize(req): SignerSession | null {
    const s = sessionOf(req.headers.cookie);
    return s
      ? { practitioner: s.pid, organisation: { legalEntity: s.org }, allowedPatients: s.patients }
      : null;
  },
  log: (line: SignerLogLine) => void line.reason,
});
const handle = signerHandler(signer);
await handle(req, res);
try {
  const {
    signature,
    jti,
    kind,
  }: { signature: Uint8Array; jti: string; kind: 'client-assertion' | 'request-object' } =
    await signer.sign('a.b', {} as IncomingMessage);
  void [signature, jti, kind];
} catch (e) {
  if (e instanceof SigningRefusedError) {
    const r: SigningRefusalReason = e.reason;
    void r;
  }
}
