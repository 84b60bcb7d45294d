/**
 * Internal (not exported from the package): the JSON text the core is handed for each trust
 * context. A {@link TrustContext} is deep-frozen, so its text is written once (by the core,
 * when it validated the context) and the same string is passed every time after.
 * @module
 */
import type { TrustContext } from './trust.js';
import { ArgumentError } from './errors.js';

/** The canonical JSON text of each context, as the core wrote it. */
export const texts = new WeakMap<TrustContext, string>();

/** The JSON text of a trust context (the same string every time). */
export function contextTextOf(tc: TrustContext): string {
  // A missing or foreign context is a typed error, never a TypeError from deep inside.
  if (
    tc === null ||
    typeof tc !== 'object' ||
    typeof (tc as { toJSON?: unknown }).toJSON !== 'function'
  ) {
    throw new ArgumentError(
      'INVALID_ARGUMENT',
      'trustContext',
      'must be a TrustContext (TrustContext.fromJSON)',
    );
  }
  let t = texts.get(tc);
  if (t === undefined) {
    t = JSON.stringify(tc.toJSON());
    texts.set(tc, t);
  }
  return t;
}
