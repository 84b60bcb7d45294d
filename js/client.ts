/**
 * The client for the national infrastructure: HelseID tokens (client_credentials,
 * authorization_code with PKCE and PAR, refresh_token, token-exchange), the document list
 * (ITI-67) and document retrieval (ITI-68), with DPoP nonces, retries, time-outs and typed
 * errors. Every request is logged in the {@link AuditLog} *before* it is sent, and every
 * response passes through minimisation: there is no path around either.
 *
 * @example
 * ```ts
 * const client = new Client({ issuer, clientId, key, documentListBaseUrl, auditLog })
 * const ehr = client.withContext(trustContext)
 * const { entries, withheld, blockedCount } = await ehr.searchDocuments({ patient })
 * const { contentType, bytes } = await ehr.getDocument(entries[0])
 * ```
 * @module
 */
import * as core from '#core';
import { ArgumentError, call, MalformedResponseError, NetworkError, OAuthError, FhirError, HttpError, TimeoutError, TillitError, AuditError, RefreshTokenError } from './errors.js';
import { generateKey, type Key, type Signer } from './keys.js';
import { createClientAssertion, createDpopProof, createRequestObject, type Tenant } from './jwt.js';
import { minimise, minimiseDocument, type Policy, type WithheldEntry, type Bundle } from './minimise.js';
import type { AuditLog } from './audit.js';
import type { TrustContext } from './trust.js';
import { contextTextOf } from './context-text.js';

/** Options of {@link Client}. */
export interface ClientOptions {
  /** HelseID's issuer; discovery is read from `{issuer}/.well-known/openid-configuration`. */
  issuer: string;
  clientId: string;
  /** The client's signing key (private_key_jwt) … */
  key?: Key;
  /** … or a signer (a backend-for-frontend or HSM signs the client assertion). */
  signer?: Signer;
  /** The DPoP key; a non-extractable ES256 key is generated when left out. */
  dpopKey?: Key;
  /**
   * APIs by their RFC 8707 resource indicator: the document list's (default `nhn:phr`) and any
   * others this login should cover. The login asks for all; each token names one (HelseID
   * issues one single-audience token per API, by refresh), and the token cache is keyed by it.
   */
  resources?: { documentList?: string; others?: string[] };
  /**
   * The organisation this client acts for (`helseid_authorization`): `{ parent, child? }` for a
   * multi-tenant client, `{ child }` for a single-tenant one. Sent with the attestation's
   * placement, and alone in client_credentials without a trust context (as HelseID.Library
   * and HelseID.Library.Java do for system clients).
   */
  tenant?: Tenant;
  /** Base URL of the document list, e.g. `https://api.pjd.test.nhn.no`. */
  documentListBaseUrl: string;
  /** Origins documents may be fetched from (the token is sent there). Default: the document list's origin. */
  documentSourceOrigins?: string[];
  /** The access log every look-up is written to first. */
  auditLog: AuditLog;
  /** Minimisation policy; default {@link defaultPolicy}. */
  policy?: Policy;
  /** A `fetch` to use (Node services with mTLS agents, tests). Default: the global fetch. */
  fetch?: typeof fetch;
  /** Time-out per HTTP attempt, including reading the body. Default 15 000 ms. */
  timeoutMs?: number;
  /** Allowed clock skew for token expiry. Default 30 s. */
  clockSkewSeconds?: number;
  /** `nhn-source-system` sent with every request. Default `tillit`. */
  sourceSystem?: string;
  /** Scopes. Defaults: the § 45 search scope and the read scope. */
  scopes?: { search?: string; read?: string };
  /**
   * `nhn-access-basis` for the kjernejournalforskriften search scope (a search may give its
   * own). A raised basis (`FORHOYET_*`) opens what the patient blocked: the access log and its
   * reports show such a look-up as emergency access. The lower-case values are the reference
   * EHR's spelling and are sent in the developer portal's upper case.
   */
  accessBasis?: AccessBasis;
  /** `api-version: <major.minor>` sent to the document API, pinned by configuration. Default: none (the server's current). */
  apiVersion?: string;
  /**
   * Where a user login carries the attestation: in each client assertion (default; the
   * context can change by refresh) or in the PAR request object (fixed for the login).
   */
  attestationIn?: 'client-assertion' | 'request-object';
  /**
   * Whether a user login must bring a refresh token. `'required'` (default): `handleRedirect`
   * throws {@link RefreshTokenError} (`NO_REFRESH_TOKEN`) when HelseID issued none, since
   * switching patient, care relationship or API goes by refresh. `'optional'`: the login is
   * kept, and the first look-up that needs a refresh throws that error instead.
   */
  refreshTokens?: 'required' | 'optional';
  /**
   * The PAR request object's `typ`. Default `client-authentication+jwt`, as NHN's code sets it
   * (Pasientens-journaldokumenter's reference EHR, HelseID.Samples); `oauth-authz-req+jwt` is
   * RFC 9101's. See docs/nhn-conformance.md.
   */
  requestObjectTyp?: 'client-authentication+jwt' | 'oauth-authz-req+jwt';
  /**
   * How the search names the patient: `'number'` (default) sends `patient.identifier=<national id>`
   * as NHN's clients do (NorskHelsenett/Pasientens-journaldokumenter, DocumentsController.cs);
   * `'token'` sends the FHIR token form `system|value`.
   */
  patientParameter?: 'number' | 'token';
}

/**
 * PJD's access basis (`nhn-access-basis`), as NHN's developer portal lists it; the lower-case
 * forms are what NHN's reference EHR sends (Pasientens-journaldokumenter, PasientvalgViewModel.cs).
 */
export type AccessBasis = 'UNNTAK' | 'SAMTYKKE' | 'FORHOYET_SAMTYKKE' | 'AKUTT' | 'FORHOYET_AKUTT' | 'akutt' | 'samtykke' | 'unntak';

/** A patient's privacy setting as the document list's status call reports it. */
export interface PatientStatus {
  /** Reserved against the core record (`privacySetting.hasReservationKjernejournal`). */
  reservedKjernejournal: boolean;
  /** Restricted (`privacySetting.isRestricted`). */
  restricted: boolean;
  /** Has blocked access to their documents (`privacySetting.isBlocked`): only a raised access basis opens them. */
  blocked: boolean;
  /** Has blocked this practitioner's HPR number (`isHprNumberBlocked`; the member name is unconfirmed). */
  practitionerBlocked: boolean;
  /** The `nhn-event-id` of the request (the audit transaction id). */
  transactionId: string;
}

/** Options of {@link Client.searchDocuments}. */
export interface SearchOptions {
  /** This search's access basis, instead of the client's (`FORHOYET_*` for a patient who blocked access). */
  accessBasis?: AccessBasis;
  /** The patient's national id; must be a patient of the trust context. */
  patient: string;
  status?: 'current' | 'superseded';
  /** Volven 9602 codes (groups or subtypes). */
  types?: string[];
  /** `YYYY-MM-DD` bounds on the document date. */
  from?: string;
  to?: string;
  /** Entries per page (1–1000). Default 50. */
  pageSize?: number;
  /** Upper bound for the collect-all helper. Default 1000. */
  maxEntries?: number;
  signal?: AbortSignal;
}

/** One page of the document list, minimised. */
export interface SearchPage {
  /** The DocumentReferences this user may see, projected by the policy. */
  entries: Array<Record<string, unknown> & { id: string; resourceType: 'DocumentReference' }>;
  bundle: Bundle;
  withheld: WithheldEntry[];
  /** Entries about other patients the server sent (the response was wrong). */
  leaks: number;
  /** Documents the patient has blocked, as the server counts them (`NHN-SecurityLabel-Nors-Count`). */
  blockedCount: number | null;
  serverTotal: number | null;
  page: number;
  /** The `nhn-event-id` of the request (the audit transaction id). */
  transactionId: string;
}

/** The collect-all result. */
export interface SearchResult extends Omit<SearchPage, 'bundle' | 'page' | 'transactionId'> {
  pages: number;
  /** True when `maxEntries` stopped the collection early. */
  truncated: boolean;
  transactionIds: string[];
}

/** A retrieved document. */
export interface RetrievedDocument {
  contentType: string;
  bytes: Uint8Array;
  /** True when the source sent CDA and the document inside (a PDF, or a KITH XML message) was unwrapped. */
  fromCda: boolean;
  documentId: string;
  transactionId: string;
}

interface Fetched {
  status: number;
  headers: Headers;
  body: Uint8Array;
  /** A successful body left unread (streamed retrieval). */
  stream?: ReadableStream<Uint8Array>;
}

interface Token {
  accessToken: string;
  expiresAt: number;
  jti: string;
}

interface Discovery {
  issuer: string;
  token_endpoint: string;
  authorization_endpoint: string;
  pushed_authorization_request_endpoint: string;
}

interface Session {
  /** Absent when HelseID issued none (no `offline_access`). */
  refreshToken?: string;
  /** The context the PAR request object attested, when the attestation went there. */
  parContext?: string;
}

/** State shared by a client and the views `withContext` makes. */
class Shared {
  discovery?: Promise<Discovery>;
  nonces = new Map<string, string>();
  tokens = new Map<string, Token>();
  inflight = new Map<string, Promise<Token>>();
  refreshChain: Promise<unknown> = Promise.resolve();
  session?: Session;
  pkce = new Map<string, { verifier: string; redirectUri: string; context?: string }>();
  dpopKey?: Promise<Key>;
  constructor(readonly o: ClientOptions) {}
}

const SEARCH = 'nhn:phr/mhd/read-documentreferences';
const READ = 'nhn:phr/mhd/read-document';
const FHIR_JSON = 'application/fhir+json; fhirVersion=4.0';
/** The search path as PJD's own clients write it (NorskHelsenett/Pasientens-journaldokumenter, appsettings.json: `/R4/fhir/documentreference/_search`). */
const SEARCH_PATH = '/R4/fhir/documentreference/_search';

function noRefreshToken(): RefreshTokenError {
  return new RefreshTokenError('NO_REFRESH_TOKEN', 'token response.refresh_token', 'HelseID issued no refresh token: ask for offline_access at login (switching patient, care relationship or API goes by refresh)');
}

function uuid(): string {
  return (globalThis.crypto as Crypto).randomUUID();
}

function randomB64u(n: number): string {
  const b = (globalThis.crypto as Crypto).getRandomValues(new Uint8Array(n));
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function storage(): Storage | undefined {
  try {
    return (globalThis as { sessionStorage?: Storage }).sessionStorage;
  } catch {
    return undefined;
  }
}

function isPdf(b: Uint8Array): boolean {
  return b[0] === 0x25 && b[1] === 0x50 && b[2] === 0x44 && b[3] === 0x46;
}

function origin(url: string): string {
  return new URL(url).origin;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new NetworkError('NETWORK_ERROR', 'signal', 'the request was cancelled'));
    }, { once: true });
  });
}

/** The client. `withContext` returns a view bound to a trust context that shares tokens, nonces and the session. */
export class Client {
  readonly #s: Shared;
  readonly #ctx?: TrustContext;

  constructor(options: ClientOptions, _shared?: Shared, _ctx?: TrustContext) {
    if (_shared) {
      this.#s = _shared;
      this.#ctx = _ctx;
      return;
    }
    const o = options;
    for (const k of ['issuer', 'clientId', 'documentListBaseUrl'] as const) {
      if (typeof o?.[k] !== 'string' || !o[k]) throw new ArgumentError('INVALID_ARGUMENT', k, 'is required');
    }
    if (!o.key === !o.signer) throw new ArgumentError('INVALID_ARGUMENT', 'key', 'give key or signer (exactly one)');
    if (!o.auditLog || typeof (o.auditLog as { append?: unknown }).append !== 'function') {
      throw new ArgumentError('INVALID_ARGUMENT', 'auditLog', 'is required: every look-up is logged before it is sent');
    }
    if (o.timeoutMs !== undefined && !(o.timeoutMs > 0 && o.timeoutMs <= 600_000)) throw new ArgumentError('INVALID_ARGUMENT', 'timeoutMs', 'must be 1 to 600000');
    for (const u of [o.issuer, o.documentListBaseUrl]) {
      try {
        if (!/^https?:$/.test(new URL(u).protocol)) throw 0;
      } catch {
        throw new ArgumentError('INVALID_ARGUMENT', u === o.issuer ? 'issuer' : 'documentListBaseUrl', 'must be an absolute http(s) URL');
      }
    }
    if (o.accessBasis !== undefined) call(() => core.accessBasis(o.accessBasis!, 'accessBasis'));
    if (o.apiVersion !== undefined && !/^\d{1,3}\.\d{1,3}$/.test(o.apiVersion)) throw new ArgumentError('INVALID_ARGUMENT', 'apiVersion', 'must be <major>.<minor>, e.g. 1.0');
    this.#s = new Shared({ ...o, issuer: o.issuer.replace(/\/$/, ''), documentListBaseUrl: o.documentListBaseUrl.replace(/\/$/, '') });
  }

  /** A view of this client bound to `trustContext` (a new patient or care relationship gets its own token). */
  withContext(trustContext: TrustContext): Client {
    if (!trustContext || typeof trustContext.toJSON !== 'function') throw new ArgumentError('INVALID_ARGUMENT', 'trustContext', 'must be a TrustContext');
    trustContext.assertFresh(this.#skew);
    return new Client(undefined as unknown as ClientOptions, this.#s, trustContext);
  }

  /** The trust context of this view. */
  get trustContext(): TrustContext | undefined {
    return this.#ctx;
  }

  get #o(): ClientOptions {
    return this.#s.o;
  }
  get #skew(): number {
    return this.#o.clockSkewSeconds ?? 30;
  }
  get #fetch(): typeof fetch {
    return this.#o.fetch ?? globalThis.fetch.bind(globalThis);
  }
  get #sign() {
    return this.#o.key ? { key: this.#o.key } : { signer: this.#o.signer! };
  }
  #dpopKey(): Promise<Key> {
    return (this.#s.dpopKey ??= this.#o.dpopKey ? Promise.resolve(this.#o.dpopKey) : generateKey({ alg: 'ES256' }));
  }

  /** OpenID discovery (cached); the document must name the configured issuer. */
  discover(): Promise<Discovery> {
    return (this.#s.discovery ??= (async () => {
      const r = await this.#http(`${this.#o.issuer}/.well-known/openid-configuration`, { method: 'GET' }, true);
      const d = this.#json(r.body, 'discovery') as Partial<Discovery>;
      if (d.issuer !== this.#o.issuer) throw new MalformedResponseError('MALFORMED_RESPONSE', 'discovery.issuer', 'does not equal the configured issuer');
      for (const k of ['token_endpoint', 'authorization_endpoint', 'pushed_authorization_request_endpoint'] as const) {
        if (typeof d[k] !== 'string') throw new MalformedResponseError('MALFORMED_RESPONSE', `discovery.${k}`, 'is missing');
      }
      return d as Discovery;
    })().catch((e) => {
      this.#s.discovery = undefined;
      throw e;
    }));
  }

  // ---- transport --------------------------------------------------------------------------

  /**
   * One HTTP exchange with time-out, bounded retries for idempotent reads, and the DPoP nonce
   * dance. A `body` given as a function is made anew for every attempt (token requests need a
   * fresh client assertion each time). Errors name `errorPath`.
   */
  async #http(
    url: string,
    init: { method: string; headers?: Record<string, string>; body?: string | (() => Promise<string>) },
    idempotent: boolean,
    dpop?: { accessToken?: string },
    signal?: AbortSignal,
    stream = false,
    errorPath = 'response',
  ): Promise<Fetched> {
    const o = origin(url);
    let attempt = 0;
    let nonceRetried = false;
    for (;;) {
      const headers: Record<string, string> = { ...init.headers };
      const body = typeof init.body === 'function' ? await init.body() : init.body;
      if (dpop) {
        headers['DPoP'] = await createDpopProof({ key: await this.#dpopKey(), method: init.method, url, accessToken: dpop.accessToken, nonce: this.#s.nonces.get(o) });
        if (dpop.accessToken) headers['Authorization'] = `DPoP ${dpop.accessToken}`;
      }
      let res: Fetched;
      try {
        res = await this.#once(url, { method: init.method, headers, body }, signal, stream);
      } catch (e) {
        if (e instanceof NetworkError && idempotent && attempt < 2 && !signal?.aborted) {
          attempt++;
          await sleep(200 * attempt, signal);
          continue;
        }
        throw e;
      }
      const n = res.headers.get('dpop-nonce');
      if (n) this.#s.nonces.set(o, n);
      const v = call(() => core.classifyResponse(res.status, res.headers.get('www-authenticate') ?? undefined, res.headers.get('retry-after') ?? undefined, res.body, idempotent, attempt, Math.random())) as
        | { verdict: 'ok' }
        | { verdict: 'use_nonce' }
        | { verdict: 'retry'; afterMs: number }
        | { verdict: 'oauth'; status: number; error: string; description: string }
        | { verdict: 'fhir'; status: number; code: string; diagnostics: string }
        | { verdict: 'http'; status: number };
      switch (v.verdict) {
        case 'ok':
          return res;
        case 'use_nonce':
          if (!dpop || nonceRetried || !n) throw new OAuthError(res.status, 'use_dpop_nonce', 'the server asked for a new DPoP nonce again after one retry', errorPath);
          nonceRetried = true;
          continue;
        case 'retry':
          attempt++;
          await sleep(v.afterMs, signal);
          continue;
        case 'oauth':
          throw new OAuthError(v.status, v.error, v.description, errorPath);
        case 'fhir':
          throw new FhirError(v.status, v.code, v.diagnostics, errorPath);
        default:
          throw new HttpError(v.status, errorPath);
      }
    }
  }

  /**
   * One attempt: fetch and read the body under the time-out. With `stream`, a successful PDF
   * body is handed back unread (the time-out then covers the headers; `signal` cancels the rest).
   */
  async #once(url: string, init: RequestInit, signal?: AbortSignal, stream = false): Promise<Fetched> {
    const timeoutMs = this.#o.timeoutMs ?? 15_000;
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
    const onAbort = () => ac.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted) throw new NetworkError('NETWORK_ERROR', 'signal', 'the request was cancelled');
      const res = await this.#fetch(url, { ...init, signal: ac.signal, redirect: 'manual' });
      if (stream && res.ok && res.body && (res.headers.get('content-type') ?? '').startsWith('application/pdf')) {
        return { status: res.status, headers: res.headers, body: new Uint8Array(0), stream: res.body };
      }
      const body = new Uint8Array(await res.arrayBuffer());
      return { status: res.status, headers: res.headers, body };
    } catch (e) {
      if (e instanceof TillitError) throw e;
      if (timedOut) throw new TimeoutError('TIMEOUT', 'timeoutMs', `no complete answer within ${timeoutMs} ms`);
      if (signal?.aborted) throw new NetworkError('NETWORK_ERROR', 'signal', 'the request was cancelled');
      throw new NetworkError('NETWORK_ERROR', 'fetch', 'the request could not be sent or the connection failed');
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #json(body: Uint8Array, what: string): Record<string, unknown> {
    try {
      const v = JSON.parse(new TextDecoder().decode(body));
      if (v && typeof v === 'object' && !Array.isArray(v)) return v;
    } catch {
      /* fall through */
    }
    throw new MalformedResponseError('MALFORMED_RESPONSE', what, 'is not a JSON object (truncated or malformed body)');
  }

  // ---- tokens -----------------------------------------------------------------------------

  #details(): { trustContext?: TrustContext; tenant?: Tenant } {
    const ctx = this.#ctx;
    return { ...(ctx && ctx.kind === 'practitioner' ? { trustContext: ctx } : {}), ...(this.#o.tenant ? { tenant: this.#o.tenant } : {}) };
  }

  /** A token request with a fresh client assertion and DPoP proof on every attempt; exactly one nonce retry. */
  async #tokenRequest(d: Discovery, grant: Record<string, string>, withDetails: boolean, log?: { id: string; transactionId: string }): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
    if (log) headers['nhn-event-id'] = log.transactionId;
    const form = async () => {
      const assertion = await createClientAssertion({ clientId: this.#o.clientId, issuer: this.#o.issuer, ...this.#sign, ...(withDetails ? this.#details() : {}), grantType: grant.grant_type } as Parameters<typeof createClientAssertion>[0]);
      return call(() => core.formEncode(Object.entries({ ...grant, client_id: this.#o.clientId, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion })));
    };
    try {
      const res = await this.#http(d.token_endpoint, { method: 'POST', headers, body: form }, false, {}, undefined, false, 'token');
      const body = this.#json(res.body, 'token response');
      if (typeof body.access_token !== 'string') throw new MalformedResponseError('MALFORMED_RESPONSE', 'token response.access_token', 'is missing');
      if (String(body.token_type).toLowerCase() !== 'dpop') throw new MalformedResponseError('MALFORMED_RESPONSE', 'token response.token_type', 'must be DPoP');
      if (log) await this.#s.o.auditLog.complete(log.id, { outcome: 'success', completion: { httpStatus: res.status } });
      return body;
    } catch (e) {
      if (log && !(e instanceof AuditError)) await this.#failAudit(log.id, e);
      throw e;
    }
  }

  #storeToken(key: string, body: Record<string, unknown>): Token {
    const t: Token = {
      accessToken: body.access_token as string,
      expiresAt: Date.now() / 1000 + Math.max(0, Number(body.expires_in ?? 60)),
      jti: core.tokenJti(body.access_token as string),
    };
    this.#s.tokens.set(key, t);
    if (typeof body.refresh_token === 'string' && this.#s.session) this.#s.session.refreshToken = body.refresh_token;
    return t;
  }

  /** A token for `scope` and `resource` in this view's context: cached, refreshed before expiry, one request for concurrent callers. */
  async #token(scope: string, resource: string = this.#o.resources?.documentList ?? 'nhn:phr'): Promise<Token> {
    const key = call(() => core.tokenCacheKey(resource, scope, this.#ctx ? contextTextOf(this.#ctx) : undefined));
    const t = this.#s.tokens.get(key);
    if (t && t.expiresAt - this.#skew > Date.now() / 1000) return t;
    const pending = this.#s.inflight.get(key);
    if (pending) return pending;
    const p = (async () => {
      const s = this.#s.session;
      if (s) {
        const ctxJson = this.#ctx ? contextTextOf(this.#ctx) : undefined;
        if (s.parContext !== undefined && s.parContext !== ctxJson) {
          throw new ArgumentError('INVALID_ARGUMENT', 'trustContext', 'the attestation was given at login (request object): log in again to change patient or care relationship');
        }
        // Refresh tokens rotate: one refresh at a time.
        const body = await (this.#s.refreshChain = this.#s.refreshChain.catch(() => undefined).then(async () => {
          if (!s.refreshToken) throw noRefreshToken();
          const d = await this.discover();
          const log = this.#ctx ? await this.#audit({ kind: 'token', server: this.#o.issuer }) : undefined;
          return this.#tokenRequest(d, { grant_type: 'refresh_token', refresh_token: s.refreshToken, scope, resource }, s.parContext === undefined, log);
        })) as Record<string, unknown>;
        return this.#storeToken(key, body);
      }
      const d = await this.discover();
      const log = this.#ctx ? await this.#audit({ kind: 'token', server: this.#o.issuer }) : undefined;
      const body = await this.#tokenRequest(d, { grant_type: 'client_credentials', scope, resource }, true, log);
      return this.#storeToken(key, body);
    })().finally(() => this.#s.inflight.delete(key));
    this.#s.inflight.set(key, p);
    return p;
  }

  /**
   * An access token for another API this login covers (RFC 8707): one single-audience token
   * per `resource`, got by refresh after a user login (or by client_credentials), cached per
   * resource, scope and trust context. The token request is logged like any other.
   *
   * @example
   * ```ts
   * const client = new Client({ …, resources: { others: ['nhn:kjernejournal'] } })
   * const { accessToken } = await ehr.accessToken({ resource: 'nhn:kjernejournal', scope: 'nhn:kjernejournal/api' })
   * ```
   */
  async accessToken(opts: { resource: string; scope: string }): Promise<{ accessToken: string; expiresAt: number; resource: string }> {
    const known = [this.#o.resources?.documentList ?? 'nhn:phr', ...(this.#o.resources?.others ?? [])];
    if (typeof opts?.resource !== 'string' || !known.includes(opts.resource)) throw new ArgumentError('INVALID_ARGUMENT', 'resource', 'must be one of the configured resources (resources.documentList, resources.others)');
    if (typeof opts.scope !== 'string' || !opts.scope) throw new ArgumentError('INVALID_ARGUMENT', 'scope', 'is required');
    const t = await this.#token(opts.scope, opts.resource);
    return { accessToken: t.accessToken, expiresAt: t.expiresAt, resource: opts.resource };
  }

  /**
   * Token exchange (RFC 8693): trades this view's current token for one with `scope`.
   */
  async exchangeToken(opts: { scope: string; subjectScope?: string }): Promise<{ accessToken: string; expiresIn: number }> {
    const subject = await this.#token(opts.subjectScope ?? this.#o.scopes?.search ?? SEARCH);
    const d = await this.discover();
    const log = this.#ctx ? await this.#audit({ kind: 'token', server: this.#o.issuer }) : undefined;
    const body = await this.#tokenRequest(d, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subject.accessToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      scope: opts.scope,
    }, false, log);
    return { accessToken: body.access_token as string, expiresIn: Number(body.expires_in ?? 0) };
  }

  // ---- browser login ------------------------------------------------------------------------

  /**
   * Starts a user login: pushes the authorisation request (PAR, PKCE S256) and returns the
   * URL to send the browser to. With `attestationIn: 'request-object'` the view's trust context
   * goes into the request object; otherwise it goes into the client assertions later.
   */
  async login(opts: { redirectUri: string; scope?: string; loginHint?: string }): Promise<{ url: string; state: string }> {
    const d = await this.discover();
    const verifier = randomB64u(32);
    const state = randomB64u(16);
    const inRequestObject = this.#o.attestationIn === 'request-object';
    if (inRequestObject && this.#ctx?.kind !== 'practitioner') throw new ArgumentError('INVALID_ARGUMENT', 'trustContext', "attestationIn 'request-object' needs a practitioner context: call withContext first");
    // offline_access: without it HelseID issues no refresh token, and switching patient or API
    // by refresh cannot work (NorskHelsenett/Pasientens-journaldokumenter, HomeController.cs
    // IdentityScopes; NorskHelsenett/kjernejournal-innlogging-klient, application.properties).
    const scope = opts.scope ?? `openid offline_access ${this.#o.scopes?.search ?? SEARCH} ${this.#o.scopes?.read ?? READ}`;
    const codeChallenge = core.sha256B64u(verifier);
    const request = await createRequestObject({
      clientId: this.#o.clientId, issuer: this.#o.issuer, ...this.#sign,
      ...(inRequestObject ? this.#details() : {}),
      redirectUri: opts.redirectUri, scope, state, nonce: randomB64u(16), codeChallenge,
      resources: [this.#o.resources?.documentList ?? 'nhn:phr', ...(this.#o.resources?.others ?? [])],
      ...(this.#o.requestObjectTyp ? { typ: this.#o.requestObjectTyp } : {}),
    } as Parameters<typeof createRequestObject>[0]);
    const assertion = await createClientAssertion({ clientId: this.#o.clientId, issuer: this.#o.issuer, ...this.#sign } as Parameters<typeof createClientAssertion>[0]);
    const r = await this.#http(d.pushed_authorization_request_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      // The PAR body as NHN's reference EHR sends it: the request object and, beside it, the
      // same scope, redirect_uri, response_type, PKCE and state (NorskHelsenett/Pasientens-journaldokumenter,
      // .NET/PatientHealthRecordsEPJ/.../Controllers/HomeController.cs, GetParametersForPushedAuthorizationRequest).
      body: core.formEncode([['client_id', this.#o.clientId], ['request', request], ['client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'], ['client_assertion', assertion],
        ['scope', scope], ['redirect_uri', opts.redirectUri], ['response_type', 'code'], ['code_challenge', codeChallenge], ['code_challenge_method', 'S256'], ['state', state]]),
    }, false);
    const par = this.#json(r.body, 'PAR response');
    if (typeof par.request_uri !== 'string') throw new MalformedResponseError('MALFORMED_RESPONSE', 'PAR response.request_uri', 'is missing');
    const pending = { verifier, redirectUri: opts.redirectUri, context: inRequestObject ? contextTextOf(this.#ctx!) : undefined };
    this.#s.pkce.set(state, pending);
    // A browser login leaves the page: keep the PKCE verifier for this tab only (sessionStorage).
    storage()?.setItem(`tillit:pkce:${state}`, JSON.stringify(pending));
    const u = new URL(d.authorization_endpoint);
    u.searchParams.set('client_id', this.#o.clientId);
    u.searchParams.set('request_uri', par.request_uri);
    if (opts.loginHint) u.searchParams.set('login_hint', opts.loginHint);
    return { url: u.toString(), state };
  }

  /** Finishes a login from the redirect URL: checks `state` and `iss`, redeems the code with PKCE. */
  async handleRedirect(redirectUrl: string): Promise<void> {
    const u = new URL(redirectUrl);
    const state = u.searchParams.get('state') ?? '';
    const stored = storage()?.getItem(`tillit:pkce:${state}`);
    const pending = this.#s.pkce.get(state) ?? (stored ? (JSON.parse(stored) as { verifier: string; redirectUri: string; context?: string }) : undefined);
    this.#s.pkce.delete(state);
    storage()?.removeItem(`tillit:pkce:${state}`);
    if (!pending) throw new ArgumentError('INVALID_ARGUMENT', 'redirectUrl.state', 'is not a login this client started (or was already used)');
    const err = u.searchParams.get('error');
    if (err) throw new OAuthError(400, err, core.cleanText(u.searchParams.get('error_description') ?? ''), 'authorize');
    const iss = u.searchParams.get('iss');
    if (iss && iss !== this.#o.issuer) throw new OAuthError(400, 'invalid_issuer', 'the redirect names another issuer (mix-up)', 'authorize');
    const code = u.searchParams.get('code');
    if (!code) throw new ArgumentError('INVALID_ARGUMENT', 'redirectUrl.code', 'is missing');
    const d = await this.discover();
    const log = this.#ctx ? await this.#audit({ kind: 'token', server: this.#o.issuer }) : undefined;
    const body = await this.#tokenRequest(d, { grant_type: 'authorization_code', code, redirect_uri: pending.redirectUri, code_verifier: pending.verifier, resource: this.#o.resources?.documentList ?? 'nhn:phr' }, pending.context === undefined, log);
    const refreshToken = typeof body.refresh_token === 'string' && body.refresh_token ? body.refresh_token : undefined;
    // As NorskHelsenett/kjernejournal-innlogging-klient (helseid/HelseID.kt) does: no refresh
    // token, no session ("Mangler refresh token, er offline_access med som scope?").
    if (!refreshToken && (this.#o.refreshTokens ?? 'required') === 'required') throw noRefreshToken();
    this.#s.session = { refreshToken, parContext: pending.context };
    const scope = String(body.scope ?? '').split(' ').includes(this.#o.scopes?.search ?? SEARCH) ? (this.#o.scopes?.search ?? SEARCH) : String(body.scope ?? '');
    const key = call(() => core.tokenCacheKey(this.#o.resources?.documentList ?? 'nhn:phr', scope, this.#ctx ? contextTextOf(this.#ctx) : undefined));
    this.#storeToken(key, body);
  }

  // ---- the document API --------------------------------------------------------------------

  #requireContext(): TrustContext {
    if (!this.#ctx) throw new ArgumentError('INVALID_ARGUMENT', 'trustContext', 'call withContext(trustContext) first: every look-up needs a documented care context');
    this.#ctx.assertFresh(this.#skew);
    return this.#ctx;
  }

  async #audit(e: { kind: 'search' | 'read' | 'token'; server: string; query?: string; documentId?: string; tokenJti?: string; accessBasis?: string }): Promise<{ id: string; transactionId: string }> {
    const transactionId = uuid();
    const { id } = await this.#o.auditLog.append({ ...e, trustContext: this.#ctx!, clientId: this.#o.clientId, transactionId });
    return { id, transactionId };
  }

  async #failAudit(id: string, e: unknown): Promise<void> {
    const err = e as { code?: string; status?: number };
    const outcome = err?.code === 'TIMEOUT' || err?.code === 'NETWORK_ERROR' ? 'error' : 'failure';
    await this.#o.auditLog.complete(id, { outcome, completion: { httpStatus: err?.status, description: err?.code ?? 'error' } });
  }

  /** Logs, sends and reads one resource request; the caller completes the log entry on success. */
  async #resource(req: { method: 'GET' | 'POST'; url: string; headers: Record<string, string>; body?: string; scope: string; kind: 'search' | 'read'; query?: string; documentId?: string; signal?: AbortSignal; stream?: boolean }) {
    const token = await this.#token(req.scope);
    const accessBasis = req.headers['nhn-access-basis'];
    const log = await this.#audit({ kind: req.kind, server: origin(req.url), query: req.query, documentId: req.documentId, tokenJti: token.jti, ...(accessBasis ? { accessBasis } : {}) });
    try {
      const headers: Record<string, string> = { ...req.headers, 'nhn-event-id': log.transactionId, 'nhn-source-system': this.#o.sourceSystem ?? 'tillit' };
      if (this.#o.apiVersion) headers['api-version'] = this.#o.apiVersion;
      const res = await this.#http(req.url, { method: req.method, headers, body: req.body }, true, { accessToken: token.accessToken }, req.signal, req.stream);
      return { res, log };
    } catch (e) {
      if (e instanceof OAuthError && e.status === 401 && e.error === 'invalid_token') this.#s.tokens.clear();
      await this.#failAudit(log.id, e);
      throw e;
    }
  }

  /** Pages of the document list (ITI-67), each minimised and logged. */
  async *searchDocumentPages(opts: SearchOptions): AsyncGenerator<SearchPage> {
    const ctx = this.#requireContext();
    if (typeof opts?.patient !== 'string' || !ctx.patientIds.includes(opts.patient)) {
      throw new ArgumentError('INVALID_ARGUMENT', 'patient', 'must be a patient of the trust context: make a new context with withPatients(...) and withContext(...)');
    }
    const pageSize = opts.pageSize ?? 50;
    if (!(Number.isInteger(pageSize) && pageSize >= 1 && pageSize <= 1000)) throw new ArgumentError('INVALID_ARGUMENT', 'pageSize', 'must be a whole number from 1 to 1000');
    for (const [k, v] of [['from', opts.from], ['to', opts.to]] as const) {
      if (v !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new ArgumentError('INVALID_ARGUMENT', k, 'must be a date YYYY-MM-DD');
    }
    const system = core.parseNationalId(opts.patient, undefined).system as string;
    const scope = this.#o.scopes?.search ?? SEARCH;
    const url = `${this.#o.documentListBaseUrl}${SEARCH_PATH}`;
    for (let page = 1; ; page++) {
      const pairs: [string, string][] = [['patient.identifier', this.#o.patientParameter === 'token' ? `${system}|${opts.patient}` : opts.patient], ['status', opts.status ?? 'current']];
      if (opts.types?.length) pairs.push(['type', opts.types.map((t) => `urn:oid:2.16.578.1.12.4.1.1.9602|${t}`).join(',')]);
      if (opts.from) pairs.push(['date', `ge${opts.from}`]);
      if (opts.to) pairs.push(['date', `le${opts.to}`]);
      pairs.push(['_count', String(pageSize)], ['_sort', '-date'], ['_page', String(page)]);
      const body = call(() => core.formEncode(pairs));
      const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: FHIR_JSON };
      const basis = opts.accessBasis ?? this.#o.accessBasis;
      if (basis) headers['nhn-access-basis'] = (call(() => core.accessBasis(basis, 'accessBasis')) as { code: string }).code;
      // The query as logged: the patient is in its own entity, so the query text names it by reference.
      const query = pairs.map(([k, v]) => `${k}=${k === 'patient.identifier' ? '{patient}' : v}`).join('&');
      const { res, log } = await this.#resource({ method: 'POST', url, headers, body, scope, kind: 'search', query, signal: opts.signal });
      let min;
      try {
        min = minimise(res.body, ctx, this.#o.policy);
      } catch (e) {
        const m = new MalformedResponseError('MALFORMED_RESPONSE', 'searchset', `the document list answered with an unusable Bundle (${(e as TillitError).code ?? 'error'})`);
        await this.#failAudit(log.id, m);
        throw m;
      }
      const byReason: Record<string, number> = {};
      for (const w of min.withheld) byReason[w.reason] = (byReason[w.reason] ?? 0) + 1;
      await this.#o.auditLog.complete(log.id, { outcome: 'success', completion: { httpStatus: res.status, returned: min.stats.returned, withheld: byReason, leaks: min.leaks } });
      const nors = res.headers.get('nhn-securitylabel-nors-count');
      yield {
        entries: min.bundle.entry.map((e) => e.resource) as SearchPage['entries'],
        bundle: min.bundle,
        withheld: min.withheld,
        leaks: min.leaks,
        blockedCount: nors !== null && /^\d+$/.test(nors) ? Number(nors) : null,
        serverTotal: min.stats.serverTotal,
        page,
        transactionId: log.transactionId,
      };
      if (!min.bundle.link?.some((l) => l.relation === 'next')) return;
    }
  }

  /**
   * The patient's privacy setting from the document list's status call (`POST {base}/status`
   * with `{"nin": …}`, a user token and `nhn-access-basis: UNNTAK`): reservation against the
   * core record, restriction, block, and whether this practitioner is blocked. The patient
   * must be one the trust context names; the look-up is written to the access log first (PJD
   * does not log it itself). Every member must be a boolean, or the answer is refused.
   *
   * @example
   * ```ts
   * const st = await ehr.patientStatus(patient)
   * if (st.blocked) await ehr.searchDocuments({ patient, accessBasis: 'FORHOYET_AKUTT' })
   * ```
   */
  async patientStatus(patient: string, opts: { signal?: AbortSignal } = {}): Promise<PatientStatus> {
    const ctx = this.#requireContext();
    if (typeof patient !== 'string' || !ctx.patientIds.includes(patient)) {
      throw new ArgumentError('INVALID_ARGUMENT', 'patient', 'must be a patient of the trust context: make a new context with withPatients(...) and withContext(...)');
    }
    const url = `${this.#o.documentListBaseUrl}/status`;
    const { res, log } = await this.#resource({
      method: 'POST', url, scope: this.#o.scopes?.search ?? SEARCH, kind: 'search', query: 'status', signal: opts.signal,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'nhn-access-basis': 'UNNTAK' },
      body: JSON.stringify({ nin: patient }),
    });
    const b = this.#json(res.body, 'status response') as { privacySetting?: Record<string, unknown>; isHprNumberBlocked?: unknown };
    const ps = b.privacySetting ?? {};
    const flag = (v: unknown, path: string): boolean => {
      if (typeof v !== 'boolean') throw new MalformedResponseError('MALFORMED_RESPONSE', `status response.${path}`, 'must be a boolean');
      return v;
    };
    let out: PatientStatus;
    try {
      out = {
        reservedKjernejournal: flag(ps.hasReservationKjernejournal, 'privacySetting.hasReservationKjernejournal'),
        restricted: flag(ps.isRestricted, 'privacySetting.isRestricted'),
        blocked: flag(ps.isBlocked, 'privacySetting.isBlocked'),
        practitionerBlocked: flag(b.isHprNumberBlocked, 'isHprNumberBlocked'),
        transactionId: log.transactionId,
      };
    } catch (e) {
      await this.#failAudit(log.id, e);
      throw e;
    }
    await this.#o.auditLog.complete(log.id, { outcome: 'success', completion: { httpStatus: res.status, description: 'patient status' } });
    return out;
  }

  /** The document list, all pages up to `maxEntries` (default 1000). */
  async searchDocuments(opts: SearchOptions): Promise<SearchResult> {
    const max = opts?.maxEntries ?? 1000;
    const out: SearchResult = { entries: [], withheld: [], leaks: 0, blockedCount: null, serverTotal: null, pages: 0, truncated: false, transactionIds: [] };
    for await (const p of this.searchDocumentPages(opts)) {
      out.pages++;
      out.transactionIds.push(p.transactionId);
      out.withheld.push(...p.withheld);
      out.leaks += p.leaks;
      out.blockedCount = p.blockedCount ?? out.blockedCount;
      out.serverTotal = p.serverTotal ?? out.serverTotal;
      const room = max - out.entries.length;
      out.entries.push(...p.entries.slice(0, room));
      if (p.entries.length > room || out.entries.length >= max) {
        out.truncated = p.entries.length > room || out.serverTotal === null || out.serverTotal > out.entries.length;
        break;
      }
    }
    return out;
  }

  /** The checks before any retrieval: the policy, the URL, the allowed origins. */
  #retrievalTarget(entry: Record<string, unknown>): { url: string; documentId: string; headers: Record<string, string> } {
    const ctx = this.#requireContext();
    minimiseDocument(entry, null, ctx, this.#o.policy);
    const url = (entry as { content?: Array<{ attachment?: { url?: string } }> }).content?.[0]?.attachment?.url;
    if (typeof url !== 'string') throw new ArgumentError('INVALID_ARGUMENT', 'entry.content[0].attachment.url', 'is required');
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new ArgumentError('INVALID_ARGUMENT', 'entry.content[0].attachment.url', 'is not an absolute URL');
    }
    const allowed = this.#o.documentSourceOrigins ?? [origin(this.#o.documentListBaseUrl)];
    if (!allowed.includes(u.origin)) throw new ArgumentError('INVALID_ARGUMENT', 'entry.content[0].attachment.url', 'points to an origin not in documentSourceOrigins: the token is never sent there');
    const documentId = u.searchParams.get('documentUniqueId');
    if (!documentId) throw new ArgumentError('INVALID_ARGUMENT', 'entry.content[0].attachment.url', 'has no documentUniqueId');
    const patient = (entry as { subject?: { identifier?: { value?: string } } }).subject?.identifier?.value ?? ctx.patientIds[0]!;
    return { url, documentId, headers: { Accept: 'application/pdf, application/xml;q=0.9', 'nhn-patient-nin': patient } };
  }

  /** Unwraps CDA, checks a promised PDF is one, and completes the log entry. */
  async #finishDocument(res: Fetched, log: { id: string; transactionId: string }, documentId: string): Promise<RetrievedDocument> {
    const un = core.unwrapDocument(res.headers.get('content-type') ?? '', res.body) as { contentType: string; bytes: Uint8Array; fromCda: boolean };
    if (un.contentType === 'application/pdf' && !isPdf(un.bytes)) {
      const m = new MalformedResponseError('MALFORMED_RESPONSE', 'document', 'a PDF was promised but the body is not one (truncated?)');
      await this.#failAudit(log.id, m);
      throw m;
    }
    await this.#o.auditLog.complete(log.id, { outcome: 'success', completion: { httpStatus: res.status, description: un.fromCda ? (un.contentType === 'application/pdf' ? 'CDA with embedded PDF' : 'CDA with embedded KITH XML') : un.contentType } });
    return { contentType: un.contentType, bytes: un.bytes, fromCda: un.fromCda, documentId, transactionId: log.transactionId };
  }

  /**
   * Retrieves a document (ITI-68) for an entry the document list returned; refuses
   * (`DOCUMENT_WITHHELD`) what the policy withholds, unwraps CDA carrying a PDF.
   */
  async getDocument(entry: Record<string, unknown>, opts: { signal?: AbortSignal } = {}): Promise<RetrievedDocument> {
    const t = this.#retrievalTarget(entry);
    const { res, log } = await this.#resource({ method: 'GET', url: t.url, headers: t.headers, scope: this.#o.scopes?.read ?? READ, kind: 'read', documentId: t.documentId, signal: opts.signal });
    return this.#finishDocument(res, log, t.documentId);
  }

  /**
   * Retrieves a document as a stream, for large documents: a PDF body is passed on as it
   * arrives (its first bytes checked, the log entry completed when it ends or fails); CDA is
   * read whole and its PDF unwrapped. Cancel with `signal`.
   */
  async getDocumentStream(entry: Record<string, unknown>, opts: { signal?: AbortSignal } = {}): Promise<{ contentType: string; stream: ReadableStream<Uint8Array>; fromCda: boolean; documentId: string; transactionId: string }> {
    const t = this.#retrievalTarget(entry);
    const { res, log } = await this.#resource({ method: 'GET', url: t.url, headers: t.headers, scope: this.#o.scopes?.read ?? READ, kind: 'read', documentId: t.documentId, signal: opts.signal, stream: true });
    if (!res.stream) {
      const d = await this.#finishDocument(res, log, t.documentId);
      return { contentType: d.contentType, stream: new Blob([d.bytes as Uint8Array<ArrayBuffer>]).stream(), fromCda: d.fromCda, documentId: d.documentId, transactionId: d.transactionId };
    }
    const auditLog = this.#o.auditLog;
    const fail = (e: unknown) => this.#failAudit(log.id, e).catch(() => undefined);
    let head = new Uint8Array(0);
    let checked = false;
    let bytes = 0;
    const check = new TransformStream<Uint8Array, Uint8Array>({
      async transform(chunk, ctl) {
        bytes += chunk.length;
        if (!checked) {
          head = new Uint8Array([...head, ...chunk.subarray(0, 4)]);
          if (head.length >= 4) {
            checked = true;
            if (!isPdf(head)) {
              const m = new MalformedResponseError('MALFORMED_RESPONSE', 'document', 'a PDF was promised but the body is not one');
              await fail(m);
              throw m;
            }
          }
        }
        ctl.enqueue(chunk);
      },
      async flush() {
        if (!checked) {
          const m = new MalformedResponseError('MALFORMED_RESPONSE', 'document', 'the document ended before it began');
          await fail(m);
          throw m;
        }
        await auditLog.complete(log.id, { outcome: 'success', completion: { httpStatus: res.status, description: `application/pdf, streamed ${bytes} bytes` } });
      },
    });
    const stream = res.stream.pipeThrough(check, { signal: opts.signal });
    return { contentType: 'application/pdf', stream, fromCda: false, documentId: t.documentId, transactionId: log.transactionId };
  }
}
