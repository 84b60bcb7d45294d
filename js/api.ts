/**
 * Everything tillit exports, whichever entry loads the core: `tillit` (loads it on import)
 * and `tillit/init` (loads it when the app calls `init`) re-export this module.
 * @module
 */
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
  WasmLoadError,
  RefreshTokenError,
  UnsafeContentError,
  IncompleteDocumentError,
  ShippingError,
  AuditForkError,
  ShippingRefusedError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
export * from './trust.js';
export * from './keys.js';
export * from './jwt.js';
export * from './minimise.js';
export * from './audit.js';
export * from './client.js';
