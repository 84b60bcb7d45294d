/**
 * Typed errors. Every error tillit throws is a {@link TillitError} with a stable `code`,
 * the `path` of the field or argument concerned, and the `rule` it broke. Messages never
 * contain national ids, tokens or document content.
 *
 * @example
 * ```ts
 * try { TrustContext.fromJSON(input) } catch (e) {
 *   if (e instanceof TrustContextError) console.warn(e.code, e.path, e.rule)
 * }
 * ```
 * @module
 */
import * as core from '#core';

/** The stable error codes. */
export type ErrorCode =
  | 'INVALID_IDENTIFIER'
  | 'INVALID_CODE'
  | 'INVALID_TRUST_CONTEXT'
  | 'ATTESTATION_EXPIRED'
  | 'INVALID_ARGUMENT'
  | 'UNSUPPORTED_ALGORITHM'
  | 'KEY_ERROR'
  | 'CRYPTO_ERROR'
  | 'MALFORMED_JSON'
  | 'INVALID_POLICY'
  | 'INVALID_RESOURCE'
  | 'INPUT_TOO_LARGE'
  | 'DOCUMENT_WITHHELD'
  | 'AUDIT_FAILURE'
  | 'SIGNING_REFUSED'
  | 'UNSAFE_CONTENT'
  | 'INCOMPLETE_DOCUMENT'
  | 'OAUTH_ERROR'
  | 'FHIR_ERROR'
  | 'HTTP_ERROR'
  | 'TIMEOUT'
  | 'NETWORK_ERROR'
  | 'MALFORMED_RESPONSE'
  | 'NO_REFRESH_TOKEN'
  | 'WASM_NOT_FOUND'
  | 'WASM_NOT_WASM'
  | 'WASM_BLOCKED'
  | 'WASM_LOAD_FAILED'
  | 'WASM_NOT_LOADED'
  | 'AUDIT_FORK'
  | 'SHIPPING_REFUSED';

/** The longest path and rule an error carries (characters). */
const MAX_PATH = 300;
const MAX_RULE = 1000;

/**
 * Base class of every error tillit throws. The path and rule pass through the core's
 * scrubber, whoever wrote them: national ids (also in groups: `131169 00216`), JWTs and
 * bearer tokens are masked, so server text and input never reach a message as they came.
 */
export class TillitError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** JSON path (`$.patients[0].identifier.id`) or argument name the error concerns. */
  readonly path: string;
  /** The rule that was broken, in words. */
  readonly rule: string;
  constructor(code: ErrorCode, path: string, rule: string) {
    // A load error is raised before the core (and so its scrubber) exists; its text is ours
    // (the wasm's URL and the fix), never a server's or the input's.
    const loading = code.startsWith('WASM_');
    path = loading ? String(path).slice(0, MAX_PATH) : core.scrubText(String(path), MAX_PATH);
    rule = loading ? String(rule).slice(0, MAX_RULE) : core.scrubText(String(rule), MAX_RULE);
    super(`${code} at ${path}: ${rule}`);
    this.name = new.target.name;
    this.code = code;
    this.path = path;
    this.rule = rule;
  }
}

/** A Norwegian identifier (national id, organisation number, HPR number) is malformed. */
export class IdentifierError extends TillitError {}
/** A code is outside its code system. */
export class CodeError extends TillitError {}
/** The trust context breaks a shape or business rule, or is too old. */
export class TrustContextError extends TillitError {}
/** An argument is missing, of the wrong type, malformed or too large. */
export class ArgumentError extends TillitError {}
/** The algorithm is not RS256, PS256 or ES256. */
export class AlgorithmError extends TillitError {}
/** A key cannot be used as asked (wrong type, not found, extractable, not private). */
export class KeyError extends TillitError {}
/** The platform's crypto refused, or a signer failed. */
export class CryptoError extends TillitError {}
/** A minimisation policy is invalid. */
export class PolicyError extends TillitError {}
/** A FHIR resource breaks a rule tillit relies on. */
export class ResourceError extends TillitError {}
/** A document the policy withholds was asked for. */
export class WithheldError extends TillitError {}
/** The access log could not be written or does not verify: the look-up must not happen. */
export class AuditError extends TillitError {}
/**
 * The access log broke its promises: the stored log does not verify (tampered, or not the
 * declared key), or the sink no longer ends where the log does (records lost, or another
 * writer). `problem` begins with a stable code; `index` is the first bad record.
 */
export class AuditIntegrityError extends AuditError {
  readonly index: number | undefined;
  readonly problem: string;
  constructor(path: string, problem: string, index?: number, rule: string = problem) {
    super('AUDIT_FAILURE', path, rule);
    this.problem = problem;
    this.index = index;
  }
}
/** Why a checked signer (`tillit/server`) refused: a stable code. */
export type SigningRefusalReason =
  | 'NOT_JWS'
  | 'HEADER'
  | 'TYPE'
  | 'CLIENT'
  | 'AUDIENCE'
  | 'LIFETIME'
  | 'TIME'
  | 'REPLAY'
  | 'ATTESTATION'
  | 'STALE_ATTESTATION'
  | 'PRACTITIONER'
  | 'ORGANISATION'
  | 'PATIENT'
  | 'REDIRECT_URI'
  | 'REQUEST'
  | 'RATE_LIMITED'
  | 'BUSY'
  | 'UNAUTHENTICATED';
/**
 * The checked signer refused to sign: `reason` says why (stable), `path` and `rule` where
 * (never the value).
 */
export class SigningRefusedError extends TillitError {
  /** Why, as a stable code. */
  readonly reason: SigningRefusalReason;
  constructor(
    code: ErrorCode,
    path: string,
    rule: string,
    reason: SigningRefusalReason = 'NOT_JWS',
  ) {
    super(code, path, rule);
    this.reason = reason;
  }
}
/** HelseID or a resource answered with an OAuth error (`error`, `error_description`). */
export class OAuthError extends TillitError {
  /** HTTP status. */
  readonly status: number;
  /** The OAuth `error`. */
  readonly error: string;
  constructor(status: number, error: string, description: string, path = 'response') {
    super('OAUTH_ERROR', path, `${error}${description ? `: ${description}` : ''}`);
    this.status = status;
    this.error = core.scrubText(String(error), 64);
  }
}
/** The document API answered with a FHIR OperationOutcome. */
export class FhirError extends TillitError {
  readonly status: number;
  /** The first issue's code. */
  readonly issueCode: string;
  constructor(status: number, issueCode: string, diagnostics: string, path = 'response') {
    super('FHIR_ERROR', path, `${issueCode}${diagnostics ? `: ${diagnostics}` : ''}`);
    this.status = status;
    this.issueCode = core.scrubText(String(issueCode), 64);
  }
}
/** Any other HTTP failure. */
export class HttpError extends TillitError {
  readonly status: number;
  constructor(status: number, path = 'response') {
    super('HTTP_ERROR', path, `the server answered HTTP ${status}`);
    this.status = status;
  }
}
/** The request took longer than the configured time-out. */
export class TimeoutError extends TillitError {}
/** The request could not be sent or was cancelled. */
export class NetworkError extends TillitError {}
/** The response body was not what the API promises (truncated, not JSON, not a Bundle). */
export class MalformedResponseError extends TillitError {}
/**
 * HelseID issued no refresh token where the client relies on one (switching patient, care
 * relationship or API by refresh): ask for `offline_access` at login.
 */
export class RefreshTokenError extends TillitError {}
/**
 * The WebAssembly core could not be loaded: `WASM_NOT_FOUND` (404, a missing file: the build
 * did not copy it), `WASM_NOT_WASM` (something else, often a dev server's HTML page, came
 * back), `WASM_BLOCKED` (the page's Content Security Policy refuses to compile WebAssembly),
 * `WASM_LOAD_FAILED` (a network error, or a file that is not this version's core),
 * `WASM_NOT_LOADED` (something from `tillit/init` was called before `init()` resolved). The
 * `rule` names the likely cause and the fix.
 */
export class WasmLoadError extends TillitError {}
/**
 * A retrieved document is of a type a page could execute (HTML, SVG, XHTML, XML other than
 * CDA, script, unknown), or its bytes are not what its type promised (`UNSAFE_CONTENT`).
 * Nothing is handed over; the look-up is logged as failed.
 */
export class UnsafeContentError extends MalformedResponseError {}
/**
 * A retrieved document is not whole (`INCOMPLETE_DOCUMENT`): shorter or longer than the
 * entry's `attachment.size`, a PDF without its end marker, a CDA that does not parse.
 */
export class IncompleteDocumentError extends MalformedResponseError {}

/**
 * Shipping the access log to the organisation's collector stopped for good (the local log
 * keeps working: look-ups are not blocked). `reason` is the stable cause: the collector's
 * refusal code (`ALTERED`, `BROKEN_LINK`, `CHECKPOINT_INVALID`, `NOT_OWNER`, …),
 * `COLLECTOR_BEHIND` (the collector lost records that were pruned here), or `FORK`
 * ({@link AuditForkError}); `seq` the record concerned.
 *
 * @example
 * ```ts
 * log.addEventListener('shipping', (e) => {
 *   const { state, error } = e.detail
 *   if (state === 'stopped' && error instanceof AuditForkError) alarm(error.reason, error.seq)
 * })
 * ```
 */
export class ShippingError extends TillitError {
  /** The stable cause (see the class). */
  readonly reason: string;
  /** The record concerned, if any. */
  readonly seq: number | undefined;
  constructor(code: ErrorCode, path: string, rule: string) {
    super(code, path, rule);
    this.reason = /^([A-Z_]+):/.exec(this.rule)?.[1] ?? 'REFUSED';
    const m = /\[(\d+)\]$/.exec(this.path);
    this.seq = m ? Number(m[1]) : undefined;
  }
}
/**
 * The collector's head is not on the local chain (`AUDIT_FORK`): it holds another record
 * at a sequence number, or records past this log's head. Someone wrote a second chain under
 * this log's id, or the local log was replaced: shipping stops and stays stopped.
 */
export class AuditForkError extends ShippingError {}
/** The collector refused the log for good (`SHIPPING_REFUSED`): see {@link ShippingError}. */
export class ShippingRefusedError extends ShippingError {}

const classes: Record<ErrorCode, new (c: ErrorCode, p: string, r: string) => TillitError> = {
  INVALID_IDENTIFIER: IdentifierError,
  INVALID_CODE: CodeError,
  INVALID_TRUST_CONTEXT: TrustContextError,
  ATTESTATION_EXPIRED: TrustContextError,
  INVALID_ARGUMENT: ArgumentError,
  MALFORMED_JSON: ArgumentError,
  INPUT_TOO_LARGE: ArgumentError,
  UNSUPPORTED_ALGORITHM: AlgorithmError,
  KEY_ERROR: KeyError,
  CRYPTO_ERROR: CryptoError,
  INVALID_POLICY: PolicyError,
  INVALID_RESOURCE: ResourceError,
  DOCUMENT_WITHHELD: WithheldError,
  AUDIT_FAILURE: AuditError,
  SIGNING_REFUSED: SigningRefusedError,
  OAUTH_ERROR: TillitError,
  FHIR_ERROR: TillitError,
  HTTP_ERROR: TillitError,
  TIMEOUT: TimeoutError,
  NETWORK_ERROR: NetworkError,
  MALFORMED_RESPONSE: MalformedResponseError,
  NO_REFRESH_TOKEN: RefreshTokenError,
  WASM_NOT_FOUND: WasmLoadError,
  WASM_NOT_WASM: WasmLoadError,
  WASM_BLOCKED: WasmLoadError,
  WASM_LOAD_FAILED: WasmLoadError,
  WASM_NOT_LOADED: WasmLoadError,
  UNSAFE_CONTENT: UnsafeContentError,
  INCOMPLETE_DOCUMENT: IncompleteDocumentError,
  AUDIT_FORK: AuditForkError,
  SHIPPING_REFUSED: ShippingRefusedError,
};

/** Turns what the core threw into the matching class; anything else is rethrown as is. */
export function fromCore(e: unknown): unknown {
  if (e instanceof TillitError) return e;
  if (e && typeof e === 'object' && (e as { name?: unknown }).name === 'TillitError') {
    const { code, path, rule, reason } = e as {
      code: ErrorCode;
      path: string;
      rule: string;
      reason?: SigningRefusalReason;
    };
    if (code === 'SIGNING_REFUSED') return new SigningRefusedError(code, path, rule, reason);
    const Cls = classes[code] ?? TillitError;
    return new Cls(code, path, rule);
  }
  return e;
}

/** Calls into the core, converting its errors. */
export function call<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw fromCore(e);
  }
}

/** Awaits a core promise, converting its errors. */
export async function callAsync<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw fromCore(e);
  }
}
