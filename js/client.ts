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
import {
  ArgumentError,
  call,
  MalformedResponseError,
  NetworkError,
  OAuthError,
  FhirError,
  HttpError,
  TimeoutError,
  TillitError,
  AuditError,
  RefreshTokenError,
  WithheldError,
  IncompleteDocumentError,
  fromCore,
} from './errors.js';
import { generateKey, type Key, type Signer } from './keys.js';
import { createClientAssertion, createDpopProof, createRequestObject, type Tenant } from './jwt.js';
import {
  minimise,
  minimiseDocument,
  type Policy,
  type WithheldEntry,
  type Bundle,
} from './minimise.js';
import type { AuditLog } from './audit.js';
import type { TrustContext, PatientJSON } from './trust.js';
import { contextTextOf } from './context-text.js';
import { limits } from './limits.js';
import { uuid } from './uuid.js';

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
export type AccessBasis =
  | 'UNNTAK'
  | 'SAMTYKKE'
  | 'FORHOYET_SAMTYKKE'
  | 'AKUTT'
  | 'FORHOYET_AKUTT'
  | 'akutt'
  | 'samtykke'
  | 'unntak';

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
  /**
   * The most pages one search reads (1–1000). Default 100. A search that would need more
   * stops with `stop: 'MAX_PAGES'` (and `truncated: true` from {@link Client.searchDocuments}).
   */
  maxPages?: number;
  signal?: AbortSignal;
}

/** Why a search stopped before the server's last page. */
export type SearchStop = 'MAX_PAGES' | 'EMPTY_PAGE_WITH_NEXT';

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
  /** The `nhn-event-id` of the search (one per search, sent with every page: the audit transaction id). */
  transactionId: string;
  /**
   * Entries an earlier page of this search yielded that are now withheld, because this page
   * holds the same id again (withheld or shown: an id twice in one search is never trusted).
   * A UI takes them back; {@link Client.getDocument} refuses them from now on.
   */
  retracted: WithheldEntry[];
  /** Set on the last page when the search stopped before the server's last page. */
  stop: SearchStop | null;
}

/** The collect-all result. */
export interface SearchResult extends Omit<
  SearchPage,
  'bundle' | 'page' | 'transactionId' | 'retracted'
> {
  pages: number;
  /** True when `maxEntries` or `maxPages` (or an empty page that still linked on) stopped the collection early. */
  truncated: boolean;
  transactionIds: string[];
}

/** A retrieved document. */
export interface RetrievedDocument {
  contentType: string;
  bytes: Uint8Array;
  /** True when the source sent CDA and the document inside (a PDF, or a KITH XML message) was unwrapped. */
  fromCda: boolean;
  /**
   * True for a PDF, which a page may show in a sandboxed frame. False for a KITH XML message
   * (`application/xml`, unwrapped from CDA): data for the EHR to read and render itself, never
   * to put in a frame or a `blob:` URL as it is.
   */
  displayable: boolean;
  documentId: string;
  transactionId: string;
}

/** A retrieval request, built from the checked entry. */
interface RetrievalTarget {
  url: string;
  documentId: string;
  patient: string;
  size?: number;
  headers: Record<string, string>;
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

/** What `client.discover()` returns: the members of HelseID's OpenID discovery tillit uses. */
export interface Discovery {
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
  return new RefreshTokenError(
    'NO_REFRESH_TOKEN',
    'token response.refresh_token',
    'HelseID issued no refresh token: ask for offline_access at login (switching patient, care relationship or API goes by refresh)',
  );
}

/** Default and hard bound of pages per search. */
const MAX_PAGES_DEFAULT = 100;
const MAX_PAGES_LIMIT = 1000;

/**
 * The entries this library returned, and what they were returned for: retrieval accepts only
 * these (deep-frozen) objects, so the request is built from the very values that were
 * checked. A copy, an edited object or an entry of another context is refused.
 */
interface Issued {
  /** The context text the entry was returned under. */
  context: string;
  /** The patient the search asked for (the request's `nhn-patient-nin`). */
  patient: string;
  /** Set when a later page of the same search withdrew the entry. */
  retracted?: string;
}
const issued = new WeakMap<object, Issued>();

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) deepFreeze(x);
  }
  return v;
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

function origin(url: string): string {
  return new URL(url).origin;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new NetworkError('NETWORK_ERROR', 'signal', 'the request was cancelled'));
      },
      { once: true },
    );
  });
}

/** `client.accessToken(…)`: a token for another API the login asked for (RFC 8707). */
export interface AccessTokenOptions {
  /** One of `resources.documentList` and `resources.others`. */
  resource: string;
  /** The scope to ask for at that API. */
  scope: string;
}

/** `client.exchangeToken(…)`: token exchange (RFC 8693). */
export interface ExchangeTokenOptions {
  /** The scope of the new token. */
  scope: string;
  /** The scope of the token traded in; default the search scope. */
  subjectScope?: string;
}

/** `client.login(…)`: a user login by PAR and PKCE. */
export interface LoginOptions {
  /** Where HelseID sends the browser back. */
  redirectUri: string;
  /** The scopes to ask for; default `openid offline_access` and the search and read scopes. */
  scope?: string;
  /** A login hint for HelseID. */
  loginHint?: string;
}

/** A single request's options: `patientStatus`, `getDocument`, `getDocumentStream`. */
export interface RequestOptions {
  /** Cancels the request. */
  signal?: AbortSignal;
}

/** The view a client made for one trust context, handed to its constructor (never public). */
let pendingView: { s: Shared; ctx: TrustContext } | undefined;

/** Per context, the context narrowed to each of its patients (for the log). */
const narrowed = new WeakMap<TrustContext, Map<string, TrustContext>>();

/** The client. `withContext` returns a view bound to a trust context that shares tokens, nonces and the session. */
export class Client {
  readonly #s: Shared;
  readonly #ctx?: TrustContext;

  constructor(options: ClientOptions) {
    const view = pendingView;
    if (view) {
      pendingView = undefined;
      this.#s = view.s;
      this.#ctx = view.ctx;
      return;
    }
    const o = options;
    for (const k of ['issuer', 'clientId', 'documentListBaseUrl'] as const) {
      if (typeof o?.[k] !== 'string' || !o[k])
        throw new ArgumentError('INVALID_ARGUMENT', k, 'is required');
    }
    if (!o.key === !o.signer)
      throw new ArgumentError('INVALID_ARGUMENT', 'key', 'give key or signer (exactly one)');
    if (!o.auditLog || typeof (o.auditLog as { append?: unknown }).append !== 'function') {
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'auditLog',
        'is required: every look-up is logged before it is sent',
      );
    }
    if (o.timeoutMs !== undefined && !(o.timeoutMs > 0 && o.timeoutMs <= limits().maxTimeoutMs))
      throw new ArgumentError('INVALID_ARGUMENT', 'timeoutMs', 'must be 1 to 600000');
    for (const u of [o.issuer, o.documentListBaseUrl]) {
      try {
        if (!/^https?:$/.test(new URL(u).protocol)) throw 0;
      } catch {
        throw new ArgumentError(
          'INVALID_ARGUMENT',
          u === o.issuer ? 'issuer' : 'documentListBaseUrl',
          'must be an absolute http(s) URL',
        );
      }
    }
    if (o.accessBasis !== undefined) call(() => core.accessBasis(o.accessBasis!, 'accessBasis'));
    if (o.apiVersion !== undefined && !/^\d{1,3}\.\d{1,3}$/.test(o.apiVersion))
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'apiVersion',
        'must be <major>.<minor>, e.g. 1.0',
      );
    this.#s = new Shared({
      ...o,
      issuer: o.issuer.replace(/\/$/, ''),
      documentListBaseUrl: o.documentListBaseUrl.replace(/\/$/, ''),
    });
  }

  /** A view of this client bound to `trustContext` (a new patient or care relationship gets its own token). */
  withContext(trustContext: TrustContext): Client {
    if (!trustContext || typeof trustContext.toJSON !== 'function')
      throw new ArgumentError('INVALID_ARGUMENT', 'trustContext', 'must be a TrustContext');
    trustContext.assertFresh(this.#skew);
    return Client.#view(this.#s, trustContext);
  }

  /** A view sharing `s` for `ctx` (what `withContext` returns). */
  static #view(s: Shared, ctx: TrustContext): Client {
    pendingView = { s, ctx };
    try {
      return new Client(undefined as unknown as ClientOptions);
    } finally {
      pendingView = undefined;
    }
  }

  /** The trust context of this view. */
  get trustContext(): TrustContext | undefined {
    return this.#ctx;
  }

  get #o(): ClientOptions {
    return this.#s.o;
  }
  get #skew(): number {
    return this.#o.clockSkewSeconds ?? limits().defaultSkewSeconds;
  }
  get #fetch(): typeof fetch {
    return this.#o.fetch ?? globalThis.fetch.bind(globalThis);
  }
  get #sign() {
    return this.#o.key ? { key: this.#o.key } : { signer: this.#o.signer! };
  }
  #dpopKey(): Promise<Key> {
    return (this.#s.dpopKey ??= this.#o.dpopKey
      ? Promise.resolve(this.#o.dpopKey)
      : generateKey({ alg: 'ES256' }));
  }

  /** OpenID discovery (cached); the document must name the configured issuer. */
  discover(): Promise<Discovery> {
    return (this.#s.discovery ??= (async () => {
      const r = await this.#http(
        `${this.#o.issuer}/.well-known/openid-configuration`,
        { method: 'GET' },
        true,
      );
      const d = this.#json(r.body, 'discovery') as Partial<Discovery>;
      if (d.issuer !== this.#o.issuer)
        throw new MalformedResponseError(
          'MALFORMED_RESPONSE',
          'discovery.issuer',
          'does not equal the configured issuer',
        );
      for (const k of [
        'token_endpoint',
        'authorization_endpoint',
        'pushed_authorization_request_endpoint',
      ] as const) {
        if (typeof d[k] !== 'string')
          throw new MalformedResponseError('MALFORMED_RESPONSE', `discovery.${k}`, 'is missing');
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
    init: {
      method: string;
      headers?: Record<string, string>;
      body?: string | (() => Promise<string>);
    },
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
        headers['DPoP'] = await createDpopProof({
          key: await this.#dpopKey(),
          method: init.method,
          url,
          accessToken: dpop.accessToken,
          nonce: this.#s.nonces.get(o),
        });
        if (dpop.accessToken) headers['Authorization'] = `DPoP ${dpop.accessToken}`;
      }
      let res: Fetched;
      try {
        res = await this.#once(url, { method: init.method, headers, body }, signal, stream);
      } catch (e) {
        if (
          e instanceof NetworkError &&
          idempotent &&
          attempt < limits().maxRetries &&
          !signal?.aborted
        ) {
          attempt++;
          await sleep(limits().retryBaseMs * attempt, signal);
          continue;
        }
        throw e;
      }
      const n = res.headers.get('dpop-nonce');
      if (n) this.#s.nonces.set(o, n);
      const v = call(() =>
        core.classifyResponse(
          res.status,
          res.headers.get('www-authenticate') ?? undefined,
          res.headers.get('retry-after') ?? undefined,
          res.body,
          idempotent,
          attempt,
          Math.random(),
        ),
      ) as
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
          if (!dpop || nonceRetried || !n)
            throw new OAuthError(
              res.status,
              'use_dpop_nonce',
              'the server asked for a new DPoP nonce again after one retry',
              errorPath,
            );
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
  async #once(
    url: string,
    init: RequestInit,
    signal?: AbortSignal,
    stream = false,
  ): Promise<Fetched> {
    const timeoutMs = this.#o.timeoutMs ?? limits().defaultTimeoutMs;
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
    const onAbort = () => ac.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted)
        throw new NetworkError('NETWORK_ERROR', 'signal', 'the request was cancelled');
      const res = await this.#fetch(url, { ...init, signal: ac.signal, redirect: 'manual' });
      if (
        stream &&
        res.ok &&
        res.body &&
        (res.headers.get('content-type') ?? '').startsWith('application/pdf')
      ) {
        return {
          status: res.status,
          headers: res.headers,
          body: new Uint8Array(0),
          stream: res.body,
        };
      }
      const body = new Uint8Array(await res.arrayBuffer());
      return { status: res.status, headers: res.headers, body };
    } catch (e) {
      if (e instanceof TillitError) throw e;
      if (timedOut)
        throw new TimeoutError('TIMEOUT', 'timeoutMs', `no complete answer within ${timeoutMs} ms`);
      if (signal?.aborted)
        throw new NetworkError('NETWORK_ERROR', 'signal', 'the request was cancelled');
      throw new NetworkError(
        'NETWORK_ERROR',
        'fetch',
        'the request could not be sent or the connection failed',
      );
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
    throw new MalformedResponseError(
      'MALFORMED_RESPONSE',
      what,
      'is not a JSON object (truncated or malformed body)',
    );
  }

  // ---- tokens -----------------------------------------------------------------------------

  #details(): { trustContext?: TrustContext; tenant?: Tenant } {
    const ctx = this.#ctx;
    return {
      ...(ctx && ctx.kind === 'practitioner' ? { trustContext: ctx } : {}),
      ...(this.#o.tenant ? { tenant: this.#o.tenant } : {}),
    };
  }

  /** A token request with a fresh client assertion and DPoP proof on every attempt; exactly one nonce retry. */
  async #tokenRequest(
    d: Discovery,
    grant: Record<string, string>,
    withDetails: boolean,
    log?: { id: string; transactionId: string },
  ): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/x-www-form-urlencoded',
      Accept: 'application/json',
    };
    if (log) headers['nhn-event-id'] = log.transactionId;
    const form = async () => {
      const assertion = await createClientAssertion({
        clientId: this.#o.clientId,
        issuer: this.#o.issuer,
        ...this.#sign,
        ...(withDetails ? this.#details() : {}),
        grantType: grant.grant_type,
      } as Parameters<typeof createClientAssertion>[0]);
      return call(() =>
        core.formEncode(
          Object.entries({
            ...grant,
            client_id: this.#o.clientId,
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: assertion,
          }),
        ),
      );
    };
    try {
      const res = await this.#http(
        d.token_endpoint,
        { method: 'POST', headers, body: form },
        false,
        {},
        undefined,
        false,
        'token',
      );
      const body = this.#json(res.body, 'token response');
      if (typeof body.access_token !== 'string')
        throw new MalformedResponseError(
          'MALFORMED_RESPONSE',
          'token response.access_token',
          'is missing',
        );
      if (String(body.token_type).toLowerCase() !== 'dpop')
        throw new MalformedResponseError(
          'MALFORMED_RESPONSE',
          'token response.token_type',
          'must be DPoP',
        );
      if (log)
        await this.#s.o.auditLog.complete(log.id, {
          outcome: 'success',
          completion: { httpStatus: res.status },
        });
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
    if (typeof body.refresh_token === 'string' && this.#s.session)
      this.#s.session.refreshToken = body.refresh_token;
    return t;
  }

  /** A token for `scope` and `resource` in this view's context: cached, refreshed before expiry, one request for concurrent callers. */
  async #token(
    scope: string,
    resource: string = this.#o.resources?.documentList ?? 'nhn:phr',
  ): Promise<Token> {
    const key = call(() =>
      core.tokenCacheKey(resource, scope, this.#ctx ? contextTextOf(this.#ctx) : undefined),
    );
    const t = this.#s.tokens.get(key);
    if (t && t.expiresAt - this.#skew > Date.now() / 1000) return t;
    const pending = this.#s.inflight.get(key);
    if (pending) return pending;
    const p = (async () => {
      const s = this.#s.session;
      if (s) {
        const ctxJson = this.#ctx ? contextTextOf(this.#ctx) : undefined;
        if (s.parContext !== undefined && s.parContext !== ctxJson) {
          throw new ArgumentError(
            'INVALID_ARGUMENT',
            'trustContext',
            'the attestation was given at login (request object): log in again to change patient or care relationship',
          );
        }
        // Refresh tokens rotate: one refresh at a time.
        const body = (await (this.#s.refreshChain = this.#s.refreshChain
          .catch(() => undefined)
          .then(async () => {
            if (!s.refreshToken) throw noRefreshToken();
            const d = await this.discover();
            const log = this.#ctx
              ? await this.#audit({ kind: 'token', server: this.#o.issuer })
              : undefined;
            return this.#tokenRequest(
              d,
              { grant_type: 'refresh_token', refresh_token: s.refreshToken, scope, resource },
              s.parContext === undefined,
              log,
            );
          }))) as Record<string, unknown>;
        return this.#storeToken(key, body);
      }
      const d = await this.discover();
      const log = this.#ctx
        ? await this.#audit({ kind: 'token', server: this.#o.issuer })
        : undefined;
      const body = await this.#tokenRequest(
        d,
        { grant_type: 'client_credentials', scope, resource },
        true,
        log,
      );
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
  async accessToken(
    opts: AccessTokenOptions,
  ): Promise<{ accessToken: string; expiresAt: number; resource: string }> {
    const known = [
      this.#o.resources?.documentList ?? 'nhn:phr',
      ...(this.#o.resources?.others ?? []),
    ];
    if (typeof opts?.resource !== 'string' || !known.includes(opts.resource))
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'resource',
        'must be one of the configured resources (resources.documentList, resources.others)',
      );
    if (typeof opts.scope !== 'string' || !opts.scope)
      throw new ArgumentError('INVALID_ARGUMENT', 'scope', 'is required');
    const t = await this.#token(opts.scope, opts.resource);
    return { accessToken: t.accessToken, expiresAt: t.expiresAt, resource: opts.resource };
  }

  /**
   * Token exchange (RFC 8693): trades this view's current token for one with `scope`.
   */
  async exchangeToken(
    opts: ExchangeTokenOptions,
  ): Promise<{ accessToken: string; expiresIn: number }> {
    const subject = await this.#token(opts.subjectScope ?? this.#o.scopes?.search ?? SEARCH);
    const d = await this.discover();
    const log = this.#ctx
      ? await this.#audit({ kind: 'token', server: this.#o.issuer })
      : undefined;
    const body = await this.#tokenRequest(
      d,
      {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: subject.accessToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        scope: opts.scope,
      },
      false,
      log,
    );
    return { accessToken: body.access_token as string, expiresIn: Number(body.expires_in ?? 0) };
  }

  // ---- browser login ------------------------------------------------------------------------

  /**
   * Starts a user login: pushes the authorisation request (PAR, PKCE S256) and returns the
   * URL to send the browser to. With `attestationIn: 'request-object'` the view's trust context
   * goes into the request object; otherwise it goes into the client assertions later.
   */
  async login(opts: LoginOptions): Promise<{ url: string; state: string }> {
    const d = await this.discover();
    const verifier = randomB64u(32);
    const state = randomB64u(16);
    const inRequestObject = this.#o.attestationIn === 'request-object';
    if (inRequestObject && this.#ctx?.kind !== 'practitioner')
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'trustContext',
        "attestationIn 'request-object' needs a practitioner context: call withContext first",
      );
    // offline_access: without it HelseID issues no refresh token, and switching patient or API
    // by refresh cannot work (NorskHelsenett/Pasientens-journaldokumenter, HomeController.cs
    // IdentityScopes; NorskHelsenett/kjernejournal-innlogging-klient, application.properties).
    const scope =
      opts.scope ??
      `openid offline_access ${this.#o.scopes?.search ?? SEARCH} ${this.#o.scopes?.read ?? READ}`;
    const codeChallenge = core.sha256B64u(verifier);
    const request = await createRequestObject({
      clientId: this.#o.clientId,
      issuer: this.#o.issuer,
      ...this.#sign,
      ...(inRequestObject ? this.#details() : {}),
      redirectUri: opts.redirectUri,
      scope,
      state,
      nonce: randomB64u(16),
      codeChallenge,
      resources: [
        this.#o.resources?.documentList ?? 'nhn:phr',
        ...(this.#o.resources?.others ?? []),
      ],
      ...(this.#o.requestObjectTyp ? { typ: this.#o.requestObjectTyp } : {}),
    } as Parameters<typeof createRequestObject>[0]);
    const assertion = await createClientAssertion({
      clientId: this.#o.clientId,
      issuer: this.#o.issuer,
      ...this.#sign,
    } as Parameters<typeof createClientAssertion>[0]);
    const r = await this.#http(
      d.pushed_authorization_request_endpoint,
      {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Accept: 'application/json',
        },
        // The PAR body as NHN's reference EHR sends it: the request object and, beside it, the
        // same scope, redirect_uri, response_type, PKCE and state (NorskHelsenett/Pasientens-journaldokumenter,
        // .NET/PatientHealthRecordsEPJ/.../Controllers/HomeController.cs, GetParametersForPushedAuthorizationRequest).
        body: core.formEncode([
          ['client_id', this.#o.clientId],
          ['request', request],
          ['client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'],
          ['client_assertion', assertion],
          ['scope', scope],
          ['redirect_uri', opts.redirectUri],
          ['response_type', 'code'],
          ['code_challenge', codeChallenge],
          ['code_challenge_method', 'S256'],
          ['state', state],
        ]),
      },
      false,
    );
    const par = this.#json(r.body, 'PAR response');
    if (typeof par.request_uri !== 'string')
      throw new MalformedResponseError(
        'MALFORMED_RESPONSE',
        'PAR response.request_uri',
        'is missing',
      );
    const pending = {
      verifier,
      redirectUri: opts.redirectUri,
      context: inRequestObject ? contextTextOf(this.#ctx!) : undefined,
    };
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
    const pending =
      this.#s.pkce.get(state) ??
      (stored
        ? (JSON.parse(stored) as { verifier: string; redirectUri: string; context?: string })
        : undefined);
    this.#s.pkce.delete(state);
    storage()?.removeItem(`tillit:pkce:${state}`);
    if (!pending)
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'redirectUrl.state',
        'is not a login this client started (or was already used)',
      );
    const err = u.searchParams.get('error');
    if (err)
      throw new OAuthError(
        400,
        err,
        core.scrubText(u.searchParams.get('error_description') ?? '', 300),
        'authorize',
      );
    const iss = u.searchParams.get('iss');
    if (iss && iss !== this.#o.issuer)
      throw new OAuthError(
        400,
        'invalid_issuer',
        'the redirect names another issuer (mix-up)',
        'authorize',
      );
    const code = u.searchParams.get('code');
    if (!code) throw new ArgumentError('INVALID_ARGUMENT', 'redirectUrl.code', 'is missing');
    const d = await this.discover();
    const log = this.#ctx
      ? await this.#audit({ kind: 'token', server: this.#o.issuer })
      : undefined;
    const body = await this.#tokenRequest(
      d,
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: pending.redirectUri,
        code_verifier: pending.verifier,
        resource: this.#o.resources?.documentList ?? 'nhn:phr',
      },
      pending.context === undefined,
      log,
    );
    const refreshToken =
      typeof body.refresh_token === 'string' && body.refresh_token ? body.refresh_token : undefined;
    // As NorskHelsenett/kjernejournal-innlogging-klient (helseid/HelseID.kt) does: no refresh
    // token, no session ("Mangler refresh token, er offline_access med som scope?").
    if (!refreshToken && (this.#o.refreshTokens ?? 'required') === 'required')
      throw noRefreshToken();
    this.#s.session = { refreshToken, parContext: pending.context };
    const scope = String(body.scope ?? '')
      .split(' ')
      .includes(this.#o.scopes?.search ?? SEARCH)
      ? (this.#o.scopes?.search ?? SEARCH)
      : String(body.scope ?? '');
    const key = call(() =>
      core.tokenCacheKey(
        this.#o.resources?.documentList ?? 'nhn:phr',
        scope,
        this.#ctx ? contextTextOf(this.#ctx) : undefined,
      ),
    );
    this.#storeToken(key, body);
  }

  // ---- the document API --------------------------------------------------------------------

  #requireContext(): TrustContext {
    if (!this.#ctx)
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'trustContext',
        'call withContext(trustContext) first: every look-up needs a documented care context',
      );
    this.#ctx.assertFresh(this.#skew);
    return this.#ctx;
  }

  async #audit(
    e: {
      kind: 'search' | 'read' | 'token';
      server: string;
      query?: string;
      documentId?: string;
      tokenJti?: string;
      accessBasis?: string;
    },
    patient?: string,
  ): Promise<{ id: string; transactionId: string }> {
    const transactionId = uuid();
    const trustContext = patient === undefined ? this.#ctx! : this.#contextFor(patient);
    const { id } = await this.#o.auditLog.append({
      ...e,
      trustContext,
      clientId: this.#o.clientId,
      transactionId,
    });
    return { id, transactionId };
  }

  /**
   * The context as logged for a look-up about `patient`: a context naming several patients is
   * narrowed to the one asked for, so the log names the patient actually requested.
   */
  #contextFor(patient: string): TrustContext {
    const ctx = this.#ctx!;
    if (ctx.kind !== 'practitioner' || ctx.patientIds.length < 2) return ctx;
    let byPatient = narrowed.get(ctx);
    if (!byPatient) narrowed.set(ctx, (byPatient = new Map()));
    let one = byPatient.get(patient);
    if (!one) {
      const p = (ctx.toJSON() as { patients: PatientJSON[] }).patients.find(
        (x) => x.identifier?.id === patient,
      )!;
      byPatient.set(patient, (one = ctx.withPatients([p])));
    }
    return one;
  }

  async #failAudit(id: string, e: unknown): Promise<void> {
    const err = e as { code?: string; status?: number };
    const outcome = err?.code === 'TIMEOUT' || err?.code === 'NETWORK_ERROR' ? 'error' : 'failure';
    await this.#o.auditLog.complete(id, {
      outcome,
      completion: { httpStatus: err?.status, description: err?.code ?? 'error' },
    });
  }

  /** Opens the log entry of a look-up (before anything is sent) with the token it will use. */
  async #lookUp(req: {
    scope: string;
    kind: 'search' | 'read';
    server: string;
    query?: string;
    documentId?: string;
    patient: string;
    accessBasis?: string;
  }) {
    const token = await this.#token(req.scope);
    const log = await this.#audit(
      {
        kind: req.kind,
        server: req.server,
        query: req.query,
        documentId: req.documentId,
        tokenJti: token.jti,
        ...(req.accessBasis ? { accessBasis: req.accessBasis } : {}),
      },
      req.patient,
    );
    return { token, log };
  }

  /** Sends and reads one resource request under an open log entry; the caller completes the entry. */
  async #send(
    req: {
      method: 'GET' | 'POST';
      url: string;
      headers: Record<string, string>;
      body?: string;
      signal?: AbortSignal;
      stream?: boolean;
    },
    token: Token,
    log: { transactionId: string },
  ) {
    const headers: Record<string, string> = {
      ...req.headers,
      'nhn-event-id': log.transactionId,
      'nhn-source-system': this.#o.sourceSystem ?? 'tillit',
    };
    if (this.#o.apiVersion) headers['api-version'] = this.#o.apiVersion;
    try {
      return await this.#http(
        req.url,
        { method: req.method, headers, body: req.body },
        true,
        { accessToken: token.accessToken },
        req.signal,
        req.stream,
      );
    } catch (e) {
      if (e instanceof OAuthError && e.status === 401 && e.error === 'invalid_token')
        this.#s.tokens.clear();
      throw e;
    }
  }

  /**
   * Pages of the document list (ITI-67), each minimised. The search is one look-up in the
   * access log (one entry, one `nhn-event-id` sent with every page), completed when the
   * search ends, fails or is abandoned. The pages have a memory: an id withheld on any page
   * is withheld on every later page, and an id seen again after it was yielded is taken
   * back (`retracted`). At most `maxPages` pages are read, and an empty page that still
   * links on ends the search (`stop`).
   */
  async *searchDocumentPages(opts: SearchOptions): AsyncGenerator<SearchPage> {
    const ctx = this.#requireContext();
    if (typeof opts?.patient !== 'string' || !ctx.patientIds.includes(opts.patient)) {
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'patient',
        'must be a patient of the trust context: make a new context with withPatients(...) and withContext(...)',
      );
    }
    const pageSize = opts.pageSize ?? 50;
    if (!(Number.isInteger(pageSize) && pageSize >= 1 && pageSize <= 1000))
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'pageSize',
        'must be a whole number from 1 to 1000',
      );
    const maxPages = opts.maxPages ?? MAX_PAGES_DEFAULT;
    if (!(Number.isInteger(maxPages) && maxPages >= 1 && maxPages <= MAX_PAGES_LIMIT))
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'maxPages',
        `must be a whole number from 1 to ${MAX_PAGES_LIMIT}`,
      );
    for (const [k, v] of [
      ['from', opts.from],
      ['to', opts.to],
    ] as const) {
      if (v !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(v))
        throw new ArgumentError('INVALID_ARGUMENT', k, 'must be a date YYYY-MM-DD');
    }
    const system = core.parseNationalId(opts.patient, undefined).system as string;
    const scope = this.#o.scopes?.search ?? SEARCH;
    const url = `${this.#o.documentListBaseUrl}${SEARCH_PATH}`;
    const base: [string, string][] = [
      [
        'patient.identifier',
        this.#o.patientParameter === 'token' ? `${system}|${opts.patient}` : opts.patient,
      ],
      ['status', opts.status ?? 'current'],
    ];
    if (opts.types?.length)
      base.push(['type', opts.types.map((t) => `urn:oid:2.16.578.1.12.4.1.1.9602|${t}`).join(',')]);
    if (opts.from) base.push(['date', `ge${opts.from}`]);
    if (opts.to) base.push(['date', `le${opts.to}`]);
    base.push(['_count', String(pageSize)], ['_sort', '-date']);
    // The query as logged (once, without the page): the patient is in its own entity.
    const query = base
      .map(([k, v]) => `${k}=${k === 'patient.identifier' ? '{patient}' : v}`)
      .join('&');
    const basis = opts.accessBasis ?? this.#o.accessBasis;
    const accessBasis = basis
      ? (call(() => core.accessBasis(basis, 'accessBasis')) as { code: string }).code
      : undefined;
    const { log } = await this.#lookUp({
      scope,
      kind: 'search',
      server: origin(url),
      query,
      patient: opts.patient,
      accessBasis,
    });
    const context = contextTextOf(ctx);
    // The search's memory: every id met so far (the core withholds repeats), and the entries
    // yielded so far by id (to take back).
    const earlierIds: string[] = [];
    const yielded = new Map<string, object>();
    const totals = { leaks: 0, withheld: {} as Record<string, number>, retracted: 0 };
    let pages = 0;
    let status = 0;
    let done = false;
    let failed = false;
    let stop: SearchStop | null = null;
    try {
      for (let page = 1; ; page++) {
        const pairs: [string, string][] = [...base, ['_page', String(page)]];
        const body = call(() => core.formEncode(pairs));
        const headers: Record<string, string> = {
          'Content-Type': 'application/x-www-form-urlencoded',
          Accept: FHIR_JSON,
        };
        if (accessBasis) headers['nhn-access-basis'] = accessBasis;
        const token = await this.#token(scope);
        const res = await this.#send(
          { method: 'POST', url, headers, body, signal: opts.signal },
          token,
          log,
        );
        status = res.status;
        pages++;
        let min;
        try {
          // Minimised for the patient asked for, against every id met on earlier pages.
          min = minimise(res.body, ctx, this.#o.policy, { patient: opts.patient, earlierIds });
        } catch (e) {
          throw new MalformedResponseError(
            'MALFORMED_RESPONSE',
            'searchset',
            `the document list answered with an unusable Bundle (${(e as TillitError).code ?? 'error'})`,
          );
        }
        // Ids this page has again: withheld here by the core; taken back where yielded before.
        const withheld = min.withheld;
        const retracted: WithheldEntry[] = [];
        for (const id of min.retract) {
          const earlier = yielded.get(id);
          if (!earlier) continue;
          const here = withheld.find((w) => w.id === id);
          retracted.push({
            id,
            index: here?.index ?? -1,
            reason: 'DUPLICATE_ID',
            rule: 'this id occurs again on a later page of the search; none of its copies is shown',
          });
          issued.get(earlier)!.retracted = 'DUPLICATE_ID';
          yielded.delete(id);
        }
        const entries = min.bundle.entry.map((e) => {
          const r = deepFreeze(e.resource) as SearchPage['entries'][number];
          issued.set(r, { context, patient: opts.patient });
          yielded.set(r.id, r);
          return r;
        });
        earlierIds.push(
          ...entries.map((r) => r.id),
          ...withheld.filter((w) => !w.id.startsWith('entry[')).map((w) => w.id),
        );
        totals.leaks += min.leaks;
        totals.retracted += retracted.length;
        for (const w of withheld) totals.withheld[w.reason] = (totals.withheld[w.reason] ?? 0) + 1;
        const next = min.bundle.link?.some((l) => l.relation === 'next') ?? false;
        if (next && min.stats.input === 0) stop = 'EMPTY_PAGE_WITH_NEXT';
        else if (next && page >= maxPages) stop = 'MAX_PAGES';
        const nors = res.headers.get('nhn-securitylabel-nors-count');
        yield {
          entries,
          bundle: min.bundle,
          withheld,
          leaks: min.leaks,
          blockedCount: nors !== null && /^\d+$/.test(nors) ? Number(nors) : null,
          serverTotal: min.stats.serverTotal,
          page,
          transactionId: log.transactionId,
          retracted,
          stop,
        };
        if (!next || stop) break;
      }
      done = true;
    } catch (e) {
      failed = true;
      if (!(e instanceof AuditError)) await this.#failAudit(log.id, e);
      throw e;
    } finally {
      // Completed once: at the last page, or when the caller stops iterating early.
      if (!failed) {
        const why = stop ? `, stopped: ${stop}` : done ? '' : ', stopped by the caller';
        const description = `${pages} ${pages === 1 ? 'page' : 'pages'}${why}${totals.retracted ? `, ${totals.retracted} retracted` : ''}`;
        await this.#o.auditLog.complete(log.id, {
          outcome: 'success',
          completion: {
            httpStatus: status,
            returned: yielded.size,
            withheld: totals.withheld,
            leaks: totals.leaks,
            description,
          },
        });
      }
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
  async patientStatus(patient: string, opts: RequestOptions = {}): Promise<PatientStatus> {
    const ctx = this.#requireContext();
    if (typeof patient !== 'string' || !ctx.patientIds.includes(patient)) {
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'patient',
        'must be a patient of the trust context: make a new context with withPatients(...) and withContext(...)',
      );
    }
    const url = `${this.#o.documentListBaseUrl}/status`;
    const { token, log } = await this.#lookUp({
      scope: this.#o.scopes?.search ?? SEARCH,
      kind: 'search',
      server: origin(url),
      query: 'status',
      patient,
      accessBasis: 'UNNTAK',
    });
    let res: Fetched;
    try {
      res = await this.#send(
        {
          method: 'POST',
          url,
          signal: opts.signal,
          headers: {
            'Content-Type': 'application/json',
            Accept: 'application/json',
            'nhn-access-basis': 'UNNTAK',
          },
          body: JSON.stringify({ nin: patient }),
        },
        token,
        log,
      );
    } catch (e) {
      await this.#failAudit(log.id, e);
      throw e;
    }
    const b = this.#json(res.body, 'status response') as {
      privacySetting?: Record<string, unknown>;
      isHprNumberBlocked?: unknown;
    };
    const ps = b.privacySetting ?? {};
    const flag = (v: unknown, path: string): boolean => {
      if (typeof v !== 'boolean')
        throw new MalformedResponseError(
          'MALFORMED_RESPONSE',
          `status response.${path}`,
          'must be a boolean',
        );
      return v;
    };
    let out: PatientStatus;
    try {
      out = {
        reservedKjernejournal: flag(
          ps.hasReservationKjernejournal,
          'privacySetting.hasReservationKjernejournal',
        ),
        restricted: flag(ps.isRestricted, 'privacySetting.isRestricted'),
        blocked: flag(ps.isBlocked, 'privacySetting.isBlocked'),
        practitionerBlocked: flag(b.isHprNumberBlocked, 'isHprNumberBlocked'),
        transactionId: log.transactionId,
      };
    } catch (e) {
      await this.#failAudit(log.id, e);
      throw e;
    }
    await this.#o.auditLog.complete(log.id, {
      outcome: 'success',
      completion: { httpStatus: res.status, description: 'patient status' },
    });
    return out;
  }

  /** The document list, all pages up to `maxEntries` (default 1000), decided over all pages. */
  async searchDocuments(opts: SearchOptions): Promise<SearchResult> {
    const max = opts?.maxEntries ?? 1000;
    const out: SearchResult = {
      entries: [],
      withheld: [],
      leaks: 0,
      blockedCount: null,
      serverTotal: null,
      pages: 0,
      truncated: false,
      transactionIds: [],
      stop: null,
    };
    for await (const p of this.searchDocumentPages(opts)) {
      out.pages++;
      if (!out.transactionIds.includes(p.transactionId)) out.transactionIds.push(p.transactionId);
      out.withheld.push(...p.withheld);
      out.leaks += p.leaks;
      out.blockedCount = p.blockedCount ?? out.blockedCount;
      out.serverTotal = p.serverTotal ?? out.serverTotal;
      out.stop = p.stop;
      if (p.retracted.length) {
        // Taken back: the earlier copy is withheld too (the page's own copy is in its withheld).
        const gone = new Set(p.retracted.map((r) => r.id));
        out.entries = out.entries.filter((e) => !gone.has(e.id));
        out.withheld.push(...p.retracted);
      }
      const room = max - out.entries.length;
      out.entries.push(...p.entries.slice(0, room));
      if (p.entries.length > room || out.entries.length >= max) {
        out.truncated =
          p.entries.length > room ||
          out.serverTotal === null ||
          out.serverTotal > out.entries.length;
        break;
      }
    }
    if (out.stop) out.truncated = true;
    return out;
  }

  /**
   * The checks before any retrieval: the entry is one this client returned (unchanged, for
   * this context, not taken back), the policy still allows it, it is about the patient the
   * search asked for, and its URL points to an allowed origin. The request is built from
   * these same (frozen) values.
   */
  #retrievalTarget(entry: Record<string, unknown>): RetrievalTarget {
    const ctx = this.#requireContext();
    const rec = entry && typeof entry === 'object' ? issued.get(entry) : undefined;
    if (!rec)
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'entry',
        'is not an entry this client returned: pass an entry from searchDocuments or searchDocumentPages as it was given (copies and edited objects are refused)',
      );
    if (rec.context !== contextTextOf(ctx))
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'entry',
        'was returned for another trust context',
      );
    if (rec.retracted)
      throw new WithheldError(
        'DOCUMENT_WITHHELD',
        'entry',
        `${rec.retracted}: a later page of its search withheld this id`,
      );
    minimiseDocument(entry, null, ctx, this.#o.policy, { patient: rec.patient });
    const attachment = (
      entry as { content?: Array<{ attachment?: { url?: unknown; size?: unknown } }> }
    ).content?.[0]?.attachment;
    const url = attachment?.url;
    if (typeof url !== 'string')
      throw new ArgumentError('INVALID_ARGUMENT', 'entry.content[0].attachment.url', 'is required');
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'entry.content[0].attachment.url',
        'is not an absolute URL',
      );
    }
    const allowed = this.#o.documentSourceOrigins ?? [origin(this.#o.documentListBaseUrl)];
    if (!allowed.includes(u.origin))
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'entry.content[0].attachment.url',
        'points to an origin not in documentSourceOrigins: the token is never sent there',
      );
    const documentId = u.searchParams.get('documentUniqueId');
    if (!documentId)
      throw new ArgumentError(
        'INVALID_ARGUMENT',
        'entry.content[0].attachment.url',
        'has no documentUniqueId',
      );
    const size = attachment?.size;
    if (size !== undefined && !(Number.isSafeInteger(size) && (size as number) >= 0))
      throw new WithheldError(
        'DOCUMENT_WITHHELD',
        'entry.content[0].attachment.size',
        'MALFORMED_ENTRY: must be a whole number of bytes',
      );
    return {
      url,
      documentId,
      patient: rec.patient,
      size: size as number | undefined,
      headers: { Accept: 'application/pdf, application/xml;q=0.9', 'nhn-patient-nin': rec.patient },
    };
  }

  /** Opens the log entry of a retrieval and sends it. */
  async #retrieve(t: RetrievalTarget, signal: AbortSignal | undefined, stream: boolean) {
    const { token, log } = await this.#lookUp({
      scope: this.#o.scopes?.read ?? READ,
      kind: 'read',
      server: origin(t.url),
      documentId: t.documentId,
      patient: t.patient,
    });
    try {
      return {
        res: await this.#send(
          { method: 'GET', url: t.url, headers: t.headers, signal, stream },
          token,
          log,
        ),
        log,
      };
    } catch (e) {
      await this.#failAudit(log.id, e);
      throw e;
    }
  }

  /**
   * Accepts a body read whole as a document (the core's rules: PDF or CDA carrying a PDF,
   * whole, about the patient asked for) and completes the log entry; a refusal is logged as a
   * failed look-up and no bytes are handed over.
   */
  async #finishDocument(
    res: Fetched,
    log: { id: string; transactionId: string },
    t: { documentId: string; patient: string; size?: number },
  ): Promise<RetrievedDocument> {
    let un: { contentType: string; bytes: Uint8Array; fromCda: boolean; displayable: boolean };
    try {
      un = core.acceptDocument(
        res.headers.get('content-type') ?? '',
        res.body,
        t.patient,
        t.size,
      ) as typeof un;
    } catch (e) {
      const err = fromCore(e);
      await this.#failAudit(log.id, err);
      throw err;
    }
    const description = un.fromCda
      ? un.contentType === 'application/pdf'
        ? 'CDA with embedded PDF'
        : 'CDA with embedded KITH XML'
      : un.contentType;
    await this.#o.auditLog.complete(log.id, {
      outcome: 'success',
      completion: { httpStatus: res.status, description },
    });
    return {
      contentType: un.contentType,
      bytes: un.bytes,
      fromCda: un.fromCda,
      displayable: un.displayable,
      documentId: t.documentId,
      transactionId: log.transactionId,
    };
  }

  /**
   * Retrieves a document (ITI-68) for an entry this client returned from a search, as it was
   * returned; refuses copies and edited objects (`INVALID_ARGUMENT`), what the policy withholds
   * or a later page took back (`DOCUMENT_WITHHELD`), types a page could execute
   * (`UNSAFE_CONTENT`) and documents that are not whole (`INCOMPLETE_DOCUMENT`). What comes
   * back is a PDF (unwrapped from CDA when it came so), or a KITH XML message a CDA carried,
   * marked `displayable: false`.
   */
  async getDocument(
    entry: Record<string, unknown>,
    opts: RequestOptions = {},
  ): Promise<RetrievedDocument> {
    const t = this.#retrievalTarget(entry);
    const { res, log } = await this.#retrieve(t, opts.signal, false);
    return this.#finishDocument(res, log, t);
  }

  /**
   * Retrieves a document as a stream, for large documents: a PDF body is passed on as it
   * arrives (its first bytes checked at once; its length and end marker when it ends, the
   * stream then erroring with `INCOMPLETE_DOCUMENT` and the log entry completed as failed);
   * CDA is read whole and its PDF unwrapped. Cancel with `signal`.
   */
  async getDocumentStream(
    entry: Record<string, unknown>,
    opts: RequestOptions = {},
  ): Promise<{
    contentType: string;
    stream: ReadableStream<Uint8Array>;
    fromCda: boolean;
    displayable: boolean;
    documentId: string;
    transactionId: string;
  }> {
    const t = this.#retrievalTarget(entry);
    const { res, log } = await this.#retrieve(t, opts.signal, true);
    if (!res.stream) {
      const d = await this.#finishDocument(res, log, t);
      return {
        contentType: d.contentType,
        stream: new Blob([d.bytes as Uint8Array<ArrayBuffer>]).stream(),
        fromCda: d.fromCda,
        displayable: d.displayable,
        documentId: d.documentId,
        transactionId: d.transactionId,
      };
    }
    const auditLog = this.#o.auditLog;
    const fail = (e: unknown) => this.#failAudit(log.id, e).catch(() => undefined);
    const TAIL = 1024;
    let head = new Uint8Array(0);
    let tail = new Uint8Array(0);
    let checked = false;
    let bytes = 0;
    const refuse = async (e: unknown) => {
      const err = fromCore(e);
      await fail(err);
      return err;
    };
    const check = new TransformStream<Uint8Array, Uint8Array>({
      async transform(chunk, ctl) {
        bytes += chunk.length;
        if (t.size !== undefined && bytes > t.size) {
          throw await refuse(
            new IncompleteDocumentError(
              'INCOMPLETE_DOCUMENT',
              'document',
              `is longer than the entry's attachment.size promised (${t.size} bytes)`,
            ),
          );
        }
        if (!checked) {
          head = new Uint8Array([...head, ...chunk.subarray(0, 5 - head.length)]);
          if (head.length >= 5) {
            checked = true;
            try {
              core.checkPdfStart(head);
            } catch (e) {
              throw await refuse(e);
            }
          }
        }
        const joined = new Uint8Array(Math.min(TAIL, tail.length + chunk.length));
        const fromChunk = Math.min(chunk.length, joined.length);
        joined.set(tail.subarray(tail.length - (joined.length - fromChunk)), 0);
        joined.set(chunk.subarray(chunk.length - fromChunk), joined.length - fromChunk);
        tail = joined;
        ctl.enqueue(chunk);
      },
      async flush() {
        try {
          if (!checked) core.checkPdfStart(head);
          core.checkPdfEnd(tail, bytes, t.size);
        } catch (e) {
          throw await refuse(e);
        }
        await auditLog.complete(log.id, {
          outcome: 'success',
          completion: {
            httpStatus: res.status,
            description: `application/pdf, streamed ${bytes} bytes`,
          },
        });
      },
    });
    const stream = res.stream.pipeThrough(check, { signal: opts.signal });
    return {
      contentType: 'application/pdf',
      stream,
      fromCda: false,
      displayable: true,
      documentId: t.documentId,
      transactionId: log.transactionId,
    };
  }
}
