/**
 * Consumer-side data minimisation: only what this user, purpose and patient may see reaches
 * the screen. Withheld entries are never returned in any form, only their ids and reasons.
 *
 * @example
 * ```ts
 * const { bundle, withheld, leaks } = minimise(responseText, trustContext)
 * for (const w of withheld) console.log(w.id, w.reason) // e.g. 'PATIENT_BLOCK'
 * ```
 * @module
 */
import * as core from '#core';
import { call } from './errors.js';
import type { TrustContext } from './trust.js';
import { contextTextOf } from './context-text.js';

/** Stable reason codes for withheld entries. */
export type WithheldReason =
  | 'NOT_DOCUMENT_REFERENCE' | 'MALFORMED_ENTRY' | 'DUPLICATE_ID' | 'SUBJECT_UNKNOWN' | 'OTHER_PATIENT'
  | 'NOT_CURRENT' | 'TYPE_UNKNOWN' | 'TYPE_NOT_ALLOWED' | 'PATIENT_BLOCK' | 'CONFIDENTIALITY'
  | 'PURPOSE_RULE' | 'UNDATED' | 'OUTSIDE_WINDOW' | 'COUNT_LIMIT';

/** Who may see a confidentiality level or a document type. Empty lists allow any. */
export interface PolicyAllow {
  purposes?: Array<'TREAT' | 'ETREAT' | 'COC' | 'BTG'>;
  authorizations?: string[];
  healthcareServices?: string[];
  /** Whether a citizen reading their own record may see these. */
  citizen?: boolean;
}

/** The minimisation policy (version 1). */
export interface Policy {
  version: 1;
  /** Volven 9602 groups (`A00-1`) or subtypes (`I01-2`) with display windows (`null`: unlimited). */
  documentKinds: Array<{ code: string; windowYears: number | null }>;
  blocks?: { codes: string[]; citizenSeesOwn?: boolean };
  confidentiality?: { R?: PolicyAllow; V?: PolicyAllow };
  rules?: Array<{ types: string[]; allow: PolicyAllow }>;
  maxEntries?: number | null;
  maxAgeYears?: number | null;
  /** DocumentReference elements passed on; must include resourceType, id, subject, type. */
  fields: string[];
  /** Attachment elements passed on (the default never passes inline `data`). */
  attachmentFields?: string[];
  limits?: { maxInputBytes?: number; maxDepth?: number };
}

/** One withheld entry. */
export interface WithheldEntry {
  /** The resource id, or `entry[i]` if it had none. */
  id: string;
  /** Position in the input Bundle. */
  index: number;
  reason: WithheldReason;
  rule: string;
}

/** A FHIR R4 Bundle (only what tillit relies on is typed). */
export interface Bundle {
  resourceType: 'Bundle';
  type: string;
  total?: number;
  meta?: { security?: Array<{ system: string; code: string }> };
  link?: Array<{ relation: string; url: string }>;
  entry: Array<{ fullUrl?: string; resource: Record<string, unknown> & { resourceType: string; id: string }; search?: unknown }>;
}

/** What {@link minimise} returns. */
export interface MinimiseResult {
  /** The minimised Bundle; tagged `REDACTED` / `SUBSETTED` in `meta.security` when something was removed. */
  bundle: Bundle;
  withheld: WithheldEntry[];
  /** Entries about a patient the trust context does not name: the response itself was wrong. */
  leaks: number;
  stats: { input: number; returned: number; elementsRemoved: number; serverTotal: number | null; byReason: Partial<Record<WithheldReason, number>> };
}

/** The shipped default policy (only the four legal document kinds, blocks honoured, R/V restricted). */
export function defaultPolicy(): Policy {
  return core.defaultPolicy() as Policy;
}

/** Throws {@link PolicyError} naming the JSON path if `policy` is invalid. */
export function validatePolicy(policy: unknown): asserts policy is Policy {
  call(() => core.validatePolicy(policy));
}

/**
 * Minimises a FHIR R4 Bundle of DocumentReferences, given as JSON text or bytes (parsed once,
 * in the core), for the patients of `trustContext`.
 */
export function minimise(input: string | Uint8Array | ArrayBuffer, trustContext: TrustContext, policy?: Policy, opts?: { now?: number }): MinimiseResult {
  // Text is encoded by the platform's TextEncoder straight into the core's memory; bytes are
  // copied there once.
  return JSON.parse(call(() => core.minimise(input, contextTextOf(trustContext), policy, opts?.now)) as string) as MinimiseResult;
}

/**
 * The retrieval path: returns `bytes` only if the policy lets this context see the entry's
 * document; otherwise throws {@link WithheldError} (`DOCUMENT_WITHHELD`).
 */
export function minimiseDocument<T>(entry: unknown, bytes: T, trustContext: TrustContext, policy?: Policy, opts?: { now?: number }): T {
  call(() => core.checkDocument(entry, contextTextOf(trustContext), policy, opts?.now));
  return bytes;
}
