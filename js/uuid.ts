/**
 * Random version-4 UUIDs (look-up ids, transaction ids), made by the core from the platform's
 * CSPRNG and fetched 64 at a time: the one uuid() of the wrapper.
 * @module
 */
import * as core from '#core';
import { call } from './errors.js';

let ids = '';
let idAt = 0;

/** A random version-4 UUID. */
export function uuid(): string {
  if (idAt >= ids.length) {
    ids = call(() => core.uuids(64));
    idAt = 0;
  }
  idAt += 36;
  return ids.slice(idAt - 36, idAt);
}
