/**
 * Stand-ins for the few platform types tillit's declarations name (`CryptoKey`, `JsonWebKey`, `URL`,
 * `AbortSignal`, `ReadableStream`, `fetch`), so that the declarations type-check without the
 * DOM library (a Node service compiled with `lib: ["ES2022"]`). Each resolves to the
 * platform's own type where the consumer has one (DOM, or @types/node's globals) and to a
 * structural equivalent otherwise. The build imports these into each declaration file that
 * names them (scripts/standalone-types.mjs); the sources use the platform types directly.
 * @module
 */
type Global = typeof globalThis;

interface CryptoKeyShape {
  readonly algorithm: { readonly name: string };
  readonly extractable: boolean;
  readonly type: 'private' | 'public' | 'secret';
  readonly usages: Array<
    'decrypt' | 'deriveBits' | 'deriveKey' | 'encrypt' | 'sign' | 'unwrapKey' | 'verify' | 'wrapKey'
  >;
}
/** The platform's `CryptoKey`. */
export type CryptoKey = Global extends { CryptoKey: { prototype: infer K } } ? K : CryptoKeyShape;

/** A JSON Web Key (RFC 7517), as WebCrypto's `JsonWebKey` dictionary. */
export interface JsonWebKey {
  alg?: string;
  crv?: string;
  d?: string;
  dp?: string;
  dq?: string;
  e?: string;
  ext?: boolean;
  k?: string;
  key_ops?: string[];
  kty?: string;
  n?: string;
  oth?: Array<{ d?: string; r?: string; t?: string }>;
  p?: string;
  q?: string;
  qi?: string;
  use?: string;
  x?: string;
  y?: string;
}

interface AbortSignalShape {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}
/** The platform's `AbortSignal`. */
export type AbortSignal = Global extends { AbortSignal: { prototype: infer S } }
  ? S
  : AbortSignalShape;

interface ReadableStreamShape<R> {
  readonly locked: boolean;
  cancel(reason?: unknown): Promise<void>;
  getReader(): {
    read(): Promise<{ done: true; value?: undefined } | { done: false; value: R }>;
    releaseLock(): void;
    cancel(reason?: unknown): Promise<void>;
  };
}
/** The platform's `ReadableStream` (with the DOM library: `ReadableStream<any>`). */
export type ReadableStream<R = unknown> = Global extends { ReadableStream: { prototype: infer S } }
  ? S
  : ReadableStreamShape<R>;

type FetchShape = (
  input: string,
  init?: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Uint8Array;
    signal?: AbortSignal;
    redirect?: 'error' | 'follow' | 'manual';
  },
) => Promise<{
  readonly ok: boolean;
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: ReadableStream<Uint8Array> | null;
  text(): Promise<string>;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
}>;
/** The platform's `fetch`. */
export declare const fetch: Global extends { fetch: infer F } ? F : FetchShape;

/** The platform's `URL`. */
export type URL = Global extends { URL: { prototype: infer U } }
  ? U
  : { readonly href: string; readonly protocol: string; toString(): string };
