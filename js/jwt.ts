/**
 * The signed JWTs HelseID wants: client assertions (private_key_jwt), PAR request objects,
 * and DPoP proofs. The attestation goes into exactly one place per flow: the request object
 * (`authorization_details`, for the whole login) or the client assertion
 * (`assertion_details`, per token); the client enforces this for a whole flow.
 *
 * @example
 * ```ts
 * const assertion = await createClientAssertion({ clientId, issuer, key, trustContext })
 * const proof = await createDpopProof({ key, method: 'POST', url: tokenEndpoint, nonce })
 * ```
 * @module
 */
import * as core from '#core';
import { callAsync } from './errors.js';
import type { Key, Signer } from './keys.js';
import { TrustContext } from './trust.js';
import { contextTextOf } from './context-text.js';

/** Who signs: a key made by tillit, or a signer. */
export type SignWith = { key: Key; signer?: never } | { signer: Signer; key?: never };

/**
 * The organisation a client acts for (`helseid_authorization`). A multi-tenant client gives
 * `parent` (and `child` if it acts for a sub-unit); a single-tenant client gives only `child`.
 * Sent alone in client_credentials when there is no trust context, as NHN's .NET and Java
 * libraries do; the parent alone is written `NO:ORGNR:<parent>:` as HelseID.Library (.NET)
 * writes it (the Java library leaves out the colon; both are read).
 */
export interface Tenant {
  parent?: string;
  child?: string;
}

/** Options of {@link createClientAssertion}. */
export type ClientAssertionOptions = SignWith & {
  clientId: string;
  /** The issuer from discovery: the assertion's `aud`. */
  issuer: string;
  /** Sent as `assertion_details` (practitioner contexts only). */
  trustContext?: TrustContext;
  /** Sent as `assertion_details` too: alone, or in an array with the attestation. */
  tenant?: Tenant;
  /**
   * The grant of the token request this assertion goes with. An attestation without
   * `practitioner.identifier` (HelseID takes the user from the login, as NHN's clients send it)
   * is refused unless the grant carries a user (`authorization_code`, `refresh_token`, token
   * exchange). Default `client_credentials`.
   */
  grantType?:
    | 'client_credentials'
    | 'authorization_code'
    | 'refresh_token'
    | 'urn:ietf:params:oauth:grant-type:token-exchange';
  /** 1 to 60 seconds; default 10. */
  lifetimeSeconds?: number;
  /** Unix seconds to use as now (tests, or a server-corrected clock). */
  now?: number;
};

/** Options of {@link createRequestObject}. */
export type RequestObjectOptions = ClientAssertionOptions & {
  redirectUri: string;
  scope: string;
  state: string;
  nonce?: string;
  /** PKCE S256 challenge. */
  codeChallenge: string;
  resources?: string[];
  /** The header `typ`: `client-authentication+jwt` (default, as NHN's code sets it) or `oauth-authz-req+jwt` (RFC 9101). */
  typ?: 'client-authentication+jwt' | 'oauth-authz-req+jwt';
};

/** Options of {@link createDpopProof}. */
export type DpopProofOptions = SignWith & {
  method: string;
  /** The request URL; query and fragment are left out of `htu`. */
  url: string;
  /** The access token sent with the request, bound by `ath`. */
  accessToken?: string;
  /** The server's latest `DPoP-Nonce`. */
  nonce?: string;
  now?: number;
};

/** The context travels to the core as JSON text (parsed there in one step). */
/** The options with the trust context as its JSON text (the core reads text; see contextTextOf). */
const plain = <T extends { trustContext?: TrustContext }>(o: T) =>
  o && o.trustContext
    ? {
        ...o,
        trustContext:
          o.trustContext instanceof TrustContext
            ? contextTextOf(o.trustContext)
            : JSON.stringify(o.trustContext),
      }
    : o;

/** A signed client assertion (`typ: client-authentication+jwt`). */
export function createClientAssertion(opts: ClientAssertionOptions): Promise<string> {
  return callAsync(() => core.createClientAssertion(plain(opts)));
}

/** A signed PAR request object (`typ: client-authentication+jwt` as NHN's code sets it, or `oauth-authz-req+jwt`). */
export function createRequestObject(opts: RequestObjectOptions): Promise<string> {
  return callAsync(() => core.createRequestObject(plain(opts)));
}

/** A signed DPoP proof (`typ: dpop+jwt`, RFC 9449). */
export function createDpopProof(opts: DpopProofOptions): Promise<string> {
  return callAsync(() => core.createDpopProof(opts));
}
