/**
 * Signing keys: non-extractable WebCrypto key pairs (ES256, ES384, RS256, PS256) in browsers,
 * workers and Node; persisted in IndexedDB in browsers (the `CryptoKey` object is stored,
 * never its bytes); private keys imported from JWK or PKCS#8 PEM for Node services; and
 * caller-supplied signers for keys held by a backend or HSM.
 *
 * @example
 * ```ts
 * const key = await generateKey({ alg: 'ES256', persistAs: 'dpop' }) // browser
 * const again = await loadKey('dpop')                                  // after a reload
 * const kid = await jwkThumbprint(key)                                 // RFC 7638
 * ```
 * @module
 */
import * as core from '#core';
import { call, callAsync, KeyError } from './errors.js';

/** The algorithms tillit signs with. */
export type Alg = 'ES256' | 'ES384' | 'RS256' | 'PS256';

/** A public JWK (EC P-256 or P-384, or RSA). */
export interface PublicJwk {
  kty: 'EC' | 'RSA';
  crv?: 'P-256' | 'P-384';
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

/** A signing key whose private half is a non-extractable `CryptoKey`. */
export interface Key {
  readonly alg: Alg;
  /** RFC 7638 thumbprint of the public key; used as `kid`. */
  readonly kid: string;
  readonly publicJwk: PublicJwk;
  readonly privateKey: CryptoKey;
}

/**
 * Signs on the caller's behalf (a backend-for-frontend or HSM), so the browser never holds
 * the client's private key. `sign` receives the JWS signing input and returns the raw JWS
 * signature (ES256: 64 bytes r‖s).
 */
export interface Signer {
  readonly alg: Alg;
  readonly kid?: string;
  /** Needed only for DPoP proofs, which embed the public key. */
  readonly publicJwk?: PublicJwk;
  sign(data: Uint8Array): Promise<Uint8Array | ArrayBuffer>;
}

/** `importPrivateKey(…)`: the algorithm the key signs with. */
export interface ImportKeyOptions {
  alg: Alg;
}

/** Options of {@link generateKey}. */
export interface GenerateKeyOptions {
  alg: Alg;
  /** Browser only: store the key in IndexedDB under this name, for {@link loadKey}. */
  persistAs?: string;
}

const DB = 'tillit-keys';
const STORE = 'keys';

function idb(): IDBFactory {
  const f = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!f) {
    throw new KeyError(
      'KEY_ERROR',
      'persistAs',
      'IndexedDB is not available here (Node, or a private browsing mode without storage): keep keys in your own key store and use importPrivateKey, or a signer',
    );
  }
  return f;
}

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = idb().open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () =>
      reject(new KeyError('KEY_ERROR', 'persistAs', 'IndexedDB could not be opened'));
  });
}

async function withStore<T>(
  mode: IDBTransactionMode,
  f: (s: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = f(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = tx.onabort = () =>
        reject(new KeyError('KEY_ERROR', 'persistAs', 'IndexedDB refused the operation'));
    });
  } finally {
    db.close();
  }
}

function checkName(name: unknown, path: string): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 128) {
    throw new KeyError('KEY_ERROR', path, 'must be a name of 1 to 128 characters');
  }
}

/** Generates a non-extractable key pair; with `persistAs`, stores it in IndexedDB. */
export async function generateKey(opts: GenerateKeyOptions): Promise<Key> {
  if (opts?.persistAs !== undefined) {
    checkName(opts.persistAs, 'persistAs');
    idb();
  }
  const key = (await callAsync(() => core.generateKeyPair(opts?.alg))) as Key;
  Object.freeze(key);
  if (opts.persistAs !== undefined) {
    const name = opts.persistAs;
    await withStore('readwrite', (s) =>
      s.put(
        { alg: key.alg, kid: key.kid, publicJwk: key.publicJwk, privateKey: key.privateKey },
        name,
      ),
    );
  }
  return key;
}

/** Loads a key stored by `generateKey({ persistAs: name })`; throws {@link KeyError} if none. */
export async function loadKey(name: string): Promise<Key> {
  checkName(name, 'name');
  const k = (await withStore('readonly', (s) => s.get(name))) as Key | undefined;
  if (!k || !(k.privateKey instanceof CryptoKey)) {
    throw new KeyError(
      'KEY_ERROR',
      'name',
      'no key is stored under this name in this browser profile',
    );
  }
  return Object.freeze(k);
}

/** Deletes a stored key. */
export async function deleteKey(name: string): Promise<void> {
  checkName(name, 'name');
  await withStore('readwrite', (s) => s.delete(name));
}

/**
 * Imports a private key from a JWK object or a PKCS#8 PEM string (`-----BEGIN PRIVATE
 * KEY-----`) as a non-extractable key, for Node services.
 */
export async function importPrivateKey(
  jwkOrPem: JsonWebKey | string,
  opts: ImportKeyOptions,
): Promise<Key> {
  return Object.freeze((await callAsync(() => core.importPrivateKey(jwkOrPem, opts?.alg))) as Key);
}

/** The RFC 7638 SHA-256 thumbprint (base64url) of a key or a public JWK. */
export async function jwkThumbprint(key: Key | PublicJwk): Promise<string> {
  const jwk = 'publicJwk' in key ? key.publicJwk : key;
  return call(() => core.jwkThumbprint(jwk));
}
