/**
 * tillit: the consumer's side of Norway's health-record sharing, for browsers, workers and
 * Node ≥ 20. Importing the package loads its WebAssembly core; every export is ready to use.
 *
 * @example
 * ```ts
 * import { TrustContext, generateKey, createClientAssertion, createDpopProof } from 'tillit'
 * ```
 * @module
 */
import * as core from '#core';

export {
  TillitError,
  IdentifierError,
  CodeError,
  TrustContextError,
  ArgumentError,
  AlgorithmError,
  KeyError,
  CryptoError,
  PolicyError,
  ResourceError,
  WithheldError,
  AuditError,
  OAuthError,
  FhirError,
  HttpError,
  TimeoutError,
  NetworkError,
  MalformedResponseError,
  UnsafeContentError,
  IncompleteDocumentError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
export * from './trust.js';
export * from './keys.js';
export * from './jwt.js';
export * from './minimise.js';
export * from './audit.js';
export * from './client.js';

/** The version of the Rust core. */
export const coreVersion: string = core.coreVersion();
