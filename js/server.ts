/**
 * `tillit/server`: the backend half of a browser app, for Node. The organisation's HelseID
 * client key stays on the server, and the server signs only what it checked: a client
 * assertion or a PAR request object of its own client, living at most 60 s, with a fresh
 * `jti`, whose attestation names the session's user, organisation and allowed patients.
 * Anything else is refused with a {@link SigningRefusedError}, and a log line without
 * personal data; every signature with an attestation is written to the access log first.
 *
 * The browser keeps `signer: { alg, kid, sign(data) }`, posting `data` to the handler.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * import { importPrivateKey, AuditLog } from 'tillit'
 * import { CheckedSigner, signerHandler } from 'tillit/server'
 *
 * const signer = new CheckedSigner({
 *   key: await importPrivateKey(pem, { alg: 'ES256' }),
 *   clientId, issuer, redirectUris: ['https://ehr.example/'], scopes: ['openid', 'nhn:phr/mhd/read-documentreferences'],
 *   auditLog: await AuditLog.open({ sink: { file: '/var/log/ehr/signer.ndjson' } }),
 *   // Your session: the user HelseID logged in, their organisation, the patients they may open now.
 *   authorize: (req) => sessions.signerSession(req),
 * })
 * const sign = signerHandler(signer)
 * createServer((req, res) => (req.url === '/bff/sign' ? sign(req, res) : app(req, res))).listen(8080)
 * ```
 * @module
 */
// Node only: importing tillit/server loads the core from disk (the Node build of `tillit`).
import './index.node.js';
import * as core from '#core';
import {
  AuditError,
  SigningRefusedError,
  TillitError,
  fromCore,
  type SigningRefusalReason,
} from './errors.js';
import type { AuditLog } from './audit.js';
import type { Alg, Key } from './keys.js';
import { TrustContext } from './trust.js';
import { limits } from './limits.js';

export { SigningRefusedError } from './errors.js';
export type { SigningRefusalReason } from './errors.js';

/**
 * Who is asking, as your authenticated session knows them. Returned by
 * {@link CheckedSignerOptions.authorize}; `null` or `undefined` refuses (no session).
 */
export interface SignerSession {
  /** The logged-in user: their national id (HelseID's `pid` of this session's login), or with the HPR number. */
  practitioner: string | { id: string; hprNr?: string };
  /** The session's organisation number, or with the point of care (default: the legal entity). */
  organisation: string | { legalEntity: string; pointOfCare?: string };
  /** National ids of the patients this user may open now (your access control decides). Default none. */
  allowedPatients?: string[];
  /** Your session's id, for the rate limit (default: the practitioner). Never logged as is. */
  sessionId?: string;
}

/** A line of the signer's operational log: never a national id, token or session id. */
export interface SignerLogLine {
  event: 'tillit.signer.signed' | 'tillit.signer.refused';
  /** ISO time. */
  time: string;
  /** A short salted hash of the session key (salt per signer instance), to correlate lines of one session. */
  session: string | null;
  kind?: 'client-assertion' | 'request-object';
  jti?: string;
  /** Whether the signed JWT carried an attestation (then it is in the access log too). */
  attested?: boolean;
  reason?: SigningRefusalReason;
  path?: string;
  rule?: string;
}

/** Options of {@link CheckedSigner}. */
export interface CheckedSignerOptions<Request = unknown> {
  /** The client key (`importPrivateKey(pem, { alg })`): non-extractable. */
  key: Key;
  /** The registered client id. */
  clientId: string;
  /** The issuer from discovery: the only audience signed for. */
  issuer: string;
  /** The `kid` the header must carry; default the key's RFC 7638 thumbprint (`key.kid`). */
  kid?: string;
  /** Redirect URIs a PAR request object may name. */
  redirectUris?: string[];
  /** Scopes a PAR request object may ask for. */
  scopes?: string[];
  /** Resource indicators a PAR request object may name. Default none. */
  resources?: string[];
  /**
   * Finds the session behind `request` (your cookie or token check). It must return the user
   * of *this* session and only patients this user may open now; see SECURITY.md.
   */
  authorize(
    request: Request,
  ): SignerSession | null | undefined | Promise<SignerSession | null | undefined>;
  /** Every signature with an attestation is recorded here before it is returned. */
  auditLog: AuditLog;
  /** Operational log (refusals, signatures); default one JSON line on stderr. */
  log?: (line: SignerLogLine) => void;
  /** Clock tolerance for `iat`/`nbf`/`toa`, seconds; default 30. */
  skewSeconds?: number;
  /** Sign attestations without `practitioner.identifier` (NHN's narrow form). Default false; see SECURITY.md. */
  allowNarrowAttestation?: boolean;
  /** Per session: a burst of `burst` (default 20), refilled at `perMinute` (default 60). */
  rateLimit?: { burst?: number; perMinute?: number };
  /** Milliseconds now (tests). */
  now?: () => number;
}

/** What {@link CheckedSigner.sign} signed. */
export interface SignedInput {
  /** The raw JWS signature (ES256: 64 bytes r‖s; ES384: 96). */
  signature: Uint8Array;
  kind: 'client-assertion' | 'request-object';
  jti: string;
}

const ALGS: Record<Alg, AlgorithmIdentifier | EcdsaParams | RsaPssParams> = {
  ES256: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
  ES384: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams,
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
  PS256: { name: 'RSA-PSS', saltLength: 32 } as RsaPssParams,
};

const encoder = new TextEncoder();

/** Signs `data` with `key` as JWS wants it (no checks): the baseline the checked signer adds to. */
export async function signUnchecked(key: Key, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.sign(ALGS[key.alg], key.privateKey, data as Uint8Array<ArrayBuffer>),
  );
}

function defaultLog(line: SignerLogLine) {
  process.stderr.write(`${JSON.stringify(line)}\n`);
}
declare const process: { stderr: { write(s: string): void } };

/**
 * The signer that decides what it signs. One instance per client key; it remembers the
 * `jti`s it signed (until they expire) and each session's rate.
 */
export class CheckedSigner<Request = unknown> {
  readonly #o: CheckedSignerOptions<Request>;
  readonly #gate: core.SigningGate;
  readonly #log: (line: SignerLogLine) => void;
  readonly #now: () => number;
  /** Salts the session tags in the log: per instance, so a tag cannot be recomputed from a national id. */
  readonly #salt = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');

  constructor(opts: CheckedSignerOptions<Request>) {
    if (typeof opts?.authorize !== 'function')
      throw new TillitError(
        'INVALID_ARGUMENT',
        'authorize',
        'is required: a function from the request to its session',
      );
    if (!opts.auditLog || typeof opts.auditLog.append !== 'function')
      throw new TillitError(
        'INVALID_ARGUMENT',
        'auditLog',
        'is required: every signature is logged',
      );
    if (!opts.key?.privateKey)
      throw new TillitError('INVALID_ARGUMENT', 'key', 'is required: a key from importPrivateKey');
    this.#o = opts;
    try {
      this.#gate = new core.SigningGate({
        clientId: opts.clientId,
        issuer: opts.issuer,
        alg: opts.key.alg,
        kid: opts.kid ?? opts.key.kid,
        redirectUris: opts.redirectUris ?? [],
        scopes: opts.scopes ?? [],
        resources: opts.resources ?? [],
        skewSeconds: opts.skewSeconds,
        allowNarrowAttestation: opts.allowNarrowAttestation ?? false,
        rateLimit: opts.rateLimit,
      });
    } catch (e) {
      throw fromCore(e);
    }
    this.#log = opts.log ?? defaultLog;
    this.#now = opts.now ?? Date.now;
  }

  /** The `alg` and `kid` a browser {@link Signer} for this key declares. */
  get header(): { alg: Alg; kid: string } {
    return { alg: this.#o.key.alg, kid: this.#o.kid ?? this.#o.key.kid };
  }

  /**
   * Checks `input` (the JWS signing input, `b64u(header).b64u(claims)`) against the session
   * `authorize(request)` returns, logs, and signs; otherwise throws {@link SigningRefusedError}
   * (or {@link AuditError} when the access log cannot be written: then nothing is signed).
   */
  async sign(input: Uint8Array | string, request: Request): Promise<SignedInput> {
    const bytes = typeof input === 'string' ? encoder.encode(input) : input;
    let session: SignerSession | null | undefined;
    try {
      session = await this.#o.authorize(request);
    } catch {
      session = undefined;
    }
    if (!session) {
      throw this.#refused(
        new SigningRefusedError(
          'SIGNING_REFUSED',
          'session',
          'authorize found no session for this request',
          'UNAUTHENTICATED',
        ),
        null,
      );
    }
    const key =
      session.sessionId ??
      (typeof session.practitioner === 'string'
        ? session.practitioner
        : session.practitioner?.id) ??
      '';
    const tag = core.sha256B64u(`${this.#salt}:${key}`).slice(0, 12);
    let verdict: {
      kind: 'client-assertion' | 'request-object';
      jti: string;
      exp: number;
      trustContext?: string;
    };
    try {
      verdict = this.#gate.check(bytes, session, key, this.#now());
    } catch (e) {
      const err = fromCore(e);
      if (err instanceof SigningRefusedError) throw this.#refused(err, tag);
      throw err;
    }
    const trustContext = verdict.trustContext
      ? TrustContext.fromJSON(JSON.parse(verdict.trustContext))
      : undefined;
    let entry: { id: string } | undefined;
    if (trustContext) {
      // Written before the signature leaves: a failing log refuses (AuditError).
      entry = await this.#o.auditLog.append({
        kind: 'token',
        trustContext,
        clientId: this.#o.clientId,
        server: this.#o.issuer,
        transactionId: crypto.randomUUID(),
        tokenJti: verdict.jti,
      });
    }
    let signature: Uint8Array;
    try {
      signature = await signUnchecked(this.#o.key, bytes);
    } catch {
      if (entry)
        await this.#o.auditLog.complete(entry.id, {
          outcome: 'error',
          completion: { description: `the key did not sign the ${verdict.kind}` },
        });
      throw new TillitError('CRYPTO_ERROR', 'key', 'the key refused to sign');
    }
    if (entry)
      await this.#o.auditLog.complete(entry.id, {
        outcome: 'success',
        completion: { description: `signed ${verdict.kind} for the session's user` },
      });
    this.#log({
      event: 'tillit.signer.signed',
      time: new Date(this.#now()).toISOString(),
      session: tag,
      kind: verdict.kind,
      jti: verdict.jti,
      attested: !!trustContext,
    });
    return { signature, kind: verdict.kind, jti: verdict.jti };
  }

  #refused(e: SigningRefusedError, tag: string | null): SigningRefusedError {
    this.#log({
      event: 'tillit.signer.refused',
      time: new Date(this.#now()).toISOString(),
      session: tag,
      reason: e.reason,
      path: e.path,
      rule: e.rule,
    });
    return e;
  }
}

/** The parts of `node:http`'s request this adapter reads (also fits most frameworks' raw request). */
export interface HttpRequestLike extends AsyncIterable<Uint8Array | string> {
  method?: string;
  headers: Record<string, string | string[] | undefined>;
}
/** The parts of `node:http`'s response this adapter writes. */
export interface HttpResponseLike {
  writeHead(status: number, headers?: Record<string, string>): unknown;
  end(body?: Uint8Array | string): unknown;
}

/** Options of {@link signerHandler}. */
export interface SignerHandlerOptions {
  /** Largest body read, bytes; default the signer's own limit, `limits().signingRequest.bytes` (16 KiB). */
  maxBytes?: number;
}

/**
 * The one content type the handler accepts. It is not CORS-safelisted, so another site can
 * send it neither from a form nor from `fetch` without a preflight the handler never grants:
 * a cross-site request cannot reach the signer with the user's cookie (CSRF).
 */
export const SIGNER_CONTENT_TYPE = 'application/octet-stream';

const STATUS: Partial<Record<SigningRefusalReason, number>> = {
  UNAUTHENTICATED: 401,
  RATE_LIMITED: 429,
  BUSY: 503,
  NOT_JWS: 400,
};

/**
 * A `node:http` handler for `POST` with the signing input as the body, sent as
 * `application/octet-stream` ({@link SIGNER_CONTENT_TYPE}; anything else is 415): answers the
 * raw signature, or `{ error, reason, path, rule }` with 400/401/403/413/429/503. `authorize`
 * receives the request. Works as an Express or Fastify route given the raw request (no body
 * parser before it).
 */
export function signerHandler<Req extends HttpRequestLike>(
  signer: CheckedSigner<Req>,
  opts: SignerHandlerOptions = {},
): (req: Req, res: HttpResponseLike) => Promise<void> {
  const max = opts.maxBytes ?? limits().signingRequest.bytes;
  const json = (res: HttpResponseLike, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  return async (req, res) => {
    if (req.method !== 'POST') return json(res, 405, { error: 'method_not_allowed' });
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim()
      .toLowerCase();
    if (type !== SIGNER_CONTENT_TYPE)
      return json(res, 415, {
        error: 'unsupported_media_type',
        rule: `the body must be sent as ${SIGNER_CONTENT_TYPE}`,
      });
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const c of req) {
      const b = typeof c === 'string' ? encoder.encode(c) : c;
      size += b.length;
      if (size > max)
        return json(res, 413, {
          error: 'signing_refused',
          reason: 'NOT_JWS',
          path: '$',
          rule: `a body over ${max} bytes is refused`,
        });
      chunks.push(b);
    }
    const body = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      body.set(c, at);
      at += c.length;
    }
    try {
      const { signature } = await signer.sign(body, req);
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(signature);
    } catch (e) {
      if (e instanceof SigningRefusedError)
        return json(res, STATUS[e.reason] ?? 403, {
          error: 'signing_refused',
          reason: e.reason,
          path: e.path,
          rule: e.rule,
        });
      if (e instanceof AuditError) return json(res, 503, { error: 'audit_failure' });
      return json(res, 500, { error: 'server_error' });
    }
  };
}
