/**
 * The core's limits and defaults (`src/limits.rs`, the one source): sizes and depths of the
 * JSON tillit reads, the attestation's age, the clock skew, the HTTP client's time-outs and
 * retry policy. The wrapper reads them from here instead of writing them again.
 *
 * @example
 * ```ts
 * import { limits } from 'tillit'
 * console.log(limits().defaultTimeoutMs) // 15000
 * ```
 * @module
 */
import * as core from '#core';

/** How much JSON one reading may take. */
export interface JsonLimit {
  /** The most bytes. */
  bytes: number;
  /** The deepest nesting of arrays and objects. */
  depth: number;
}

/** Every limit and default of the core. */
export interface Limits {
  /** A trust context (or another small JSON argument) given as text. */
  trustContext: JsonLimit;
  /** One access-log record, and a plain JS value handed to the core. */
  record: JsonLimit;
  /** A public JWK. */
  publicJwk: JsonLimit;
  /** A search result to minimise, unless the policy sets `limits`. */
  bundle: JsonLimit;
  /** One batch of look-up events handed to the access log (bytes of JSON text). */
  eventBatchBytes: number;
  /** A request to the server signer. */
  signingRequest: JsonLimit;
  /** The longest an attestation may be valid after it was issued (seconds: 60 minutes). */
  maxAttestationAgeSeconds: number;
  /** The clock skew allowed by default (seconds). */
  defaultSkewSeconds: number;
  /** The largest clock skew a caller may allow (seconds). */
  maxSkewSeconds: number;
  /** Look-ups by one practitioner in one day above which `report()` lists them, by default. */
  defaultVolumeThreshold: number;
  /** The HTTP client's time-out per attempt, body included, by default (ms). */
  defaultTimeoutMs: number;
  /** The longest time-out a caller may set (ms). */
  maxTimeoutMs: number;
  /** Retries of an idempotent read after a network error or a retryable answer. */
  maxRetries: number;
  /** The first wait before a retry (ms), doubled for each further one. */
  retryBaseMs: number;
  /** The longest single wait before a retry (ms). */
  maxRetryWaitMs: number;
}

let read: Limits | undefined;

/** The core's limits and defaults (read from the core once). */
export function limits(): Limits {
  return (read ??= Object.freeze(core.limits() as Limits));
}
