/**
 * Consumer-side data minimisation: only what this user, purpose and patient may see reaches
 * the screen. Withheld entries are never returned in any form, only their ids and reasons.
 *
 * @example
 * ```ts
 * const { bundle, withheld, leaks } = minimise(responseText, trustContext, undefined, { patient: '04818500012' })
 * for (const w of withheld) console.log(w.id, w.reason) // e.g. 'PATIENT_BLOCK'
 * ```
 *
 * Fail closed: a value the rules need that is missing, malformed, of the wrong JSON type or
 * ambiguous withholds its entry with a reason code (`UNREADABLE_LABEL`, `UNREADABLE_ELEMENT`,
 * `AMBIGUOUS_TYPE`, `SUBJECT_MISMATCH`, `MODIFIER_EXTENSION`, …); see SECURITY.md.
 * @module
 */
import * as core from '#core';
import { call, ArgumentError } from './errors.js';
import { TrustContext } from './trust.js';
import { contextTextOf } from './context-text.js';

/** Stable reason codes for withheld entries. */
export type WithheldReason =
  | 'NOT_DOCUMENT_REFERENCE'
  | 'MALFORMED_ENTRY'
  | 'DUPLICATE_ID'
  | 'SUBJECT_UNKNOWN'
  | 'OTHER_PATIENT'
  | 'NOT_CURRENT'
  | 'TYPE_UNKNOWN'
  | 'TYPE_NOT_ALLOWED'
  | 'PATIENT_BLOCK'
  | 'CONFIDENTIALITY'
  | 'PURPOSE_RULE'
  | 'UNDATED'
  | 'OUTSIDE_WINDOW'
  | 'COUNT_LIMIT'
  | 'UNREADABLE_LABEL'
  | 'UNREADABLE_ELEMENT'
  | 'AMBIGUOUS_TYPE'
  | 'SUBJECT_MISMATCH'
  | 'MODIFIER_EXTENSION';

/** Who may see a confidentiality level or a document type. Empty lists allow any. */
export interface PolicyAllow {
  purposes?: Array<'TREAT' | 'ETREAT' | 'COC' | 'BTG'>;
  authorizations?: string[];
  healthcareServices?: string[];
  /** Whether a citizen reading their own record may see these. */
  citizen?: boolean;
}

/**
 * The minimisation policy. Version 2 names the fields passed on as paths of DocumentReference
 * elements (`content.attachment.title`), checked against the FHIR R4 datatypes; version 1
 * (top-level `fields` and `attachmentFields`) is still read, as the paths it meant.
 */
export interface Policy {
  version: 1 | 2;
  /** Volven 9602 groups (`A00-1`) or subtypes (`I01-2`) with display windows (`null`: unlimited). */
  documentKinds: Array<{ code: string; windowYears: number | null }>;
  blocks?: { codes: string[]; citizenSeesOwn?: boolean };
  confidentiality?: { R?: PolicyAllow; V?: PolicyAllow };
  rules?: Array<{ types: string[]; allow: PolicyAllow }>;
  maxEntries?: number | null;
  maxAgeYears?: number | null;
  /**
   * Paths of the DocumentReference elements passed on (must keep id, subject and type). A
   * path keeps its element as its FHIR R4 datatype defines it (without `extension`), or only
   * the members named by longer paths. `contained` keeps only what kept references point to.
   */
  fields: string[];
  /** Version 1 only: Attachment elements passed on (the default never passes inline `data`). */
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
  /** Each kept entry: `fullUrl` and the projected `resource`, nothing else. */
  entry: Array<{
    fullUrl?: string;
    resource: Record<string, unknown> & { resourceType: string; id: string };
  }>;
}

/** What {@link minimise} returns. */
export interface MinimiseResult {
  /** The minimised Bundle; tagged `REDACTED` / `SUBSETTED` in `meta.security` when something was removed. */
  bundle: Bundle;
  withheld: WithheldEntry[];
  /**
   * Entries naming a patient other than the one the search is for (`OTHER_PATIENT`, or
   * `SUBJECT_MISMATCH` where one subject form names someone else): the response was wrong.
   */
  leaks: number;
  /**
   * Ids from {@link MinimiseOptions.earlierIds} that this page has again, shown or withheld:
   * withhold them on every page already shown (a document withheld on any page of a search
   * is withheld everywhere in it).
   */
  retract: string[];
  stats: {
    input: number;
    returned: number;
    elementsRemoved: number;
    serverTotal: number | null;
    byReason: Partial<Record<WithheldReason, number>>;
  };
}

/** The shipped default policy (only the four legal document kinds, blocks honoured, R/V restricted). */
export function defaultPolicy(): Policy {
  return core.defaultPolicy() as Policy;
}

/** Throws {@link PolicyError} naming the JSON path if `policy` is invalid. */
export function validatePolicy(policy: unknown): asserts policy is Policy {
  call(() => core.validatePolicy(policy));
}

/** Options of {@link minimise}. */
export interface MinimiseOptions {
  /** The time the windows are measured from, in seconds since the epoch (default: now). */
  now?: number;
  /**
   * The patient the search is for: a national id the trust context names. Only this
   * patient's documents are shown; another patient's are leaks (`OTHER_PATIENT`). Required
   * when the context names several patients.
   */
  patient?: string;
  /**
   * Resource ids met on earlier pages of the same search (kept or withheld). An entry of this
   * page with one of them is withheld (`DUPLICATE_ID`) and its id is listed in
   * {@link MinimiseResult.retract}, so that the caller withholds it on every page.
   */
  earlierIds?: string[];
}

/** Options of {@link minimiseDocument}. */
export interface MinimiseDocumentOptions {
  /** The time the windows are measured from, in seconds since the epoch (default: now). */
  now?: number;
  /** The patient the retrieval is for (required when the context names several). */
  patient?: string;
}

function contextArg(trustContext: unknown): string {
  if (!(trustContext instanceof TrustContext)) {
    throw new ArgumentError(
      'INVALID_ARGUMENT',
      'trustContext',
      'must be a TrustContext (TrustContext.fromJSON)',
    );
  }
  return contextTextOf(trustContext);
}

function patientArg(patient: unknown): string | undefined {
  if (patient !== undefined && typeof patient !== 'string') {
    throw new ArgumentError('INVALID_ARGUMENT', 'patient', 'must be a national id string');
  }
  return patient;
}

/**
 * Minimises a FHIR R4 Bundle of DocumentReferences, given as JSON text or bytes (parsed once,
 * in the core), for one patient of `trustContext` (`opts.patient`, or the context's only one).
 *
 * @example
 * ```ts
 * // Page by page, one search: withhold everywhere what any page withholds.
 * const earlierIds: string[] = []
 * const page = minimise(text, ctx, undefined, { patient, earlierIds })
 * for (const id of page.retract) hideEverywhere(id)
 * earlierIds.push(...page.bundle.entry.map((e) => e.resource.id), ...page.withheld.map((w) => w.id))
 * ```
 */
export function minimise(
  input: string | Uint8Array | ArrayBuffer,
  trustContext: TrustContext,
  policy?: Policy,
  opts?: MinimiseOptions,
): MinimiseResult {
  const ctx = contextArg(trustContext);
  const patient = patientArg(opts?.patient);
  const earlier = opts?.earlierIds;
  if (
    earlier !== undefined &&
    (!Array.isArray(earlier) || earlier.some((x) => typeof x !== 'string'))
  ) {
    throw new ArgumentError(
      'INVALID_ARGUMENT',
      'earlierIds',
      'must be an array of resource id strings',
    );
  }
  // Text is encoded by the platform's TextEncoder straight into the core's memory; bytes are
  // copied there once.
  return JSON.parse(
    call(() => core.minimise(input, ctx, policy, opts?.now, patient, earlier)) as string,
  ) as MinimiseResult;
}

/**
 * The retrieval path: returns `bytes` only if the policy lets this context see the entry's
 * document for the patient (`opts.patient`, or the context's only one), by the same rules
 * and projection checks as the list; otherwise throws {@link WithheldError}
 * (`DOCUMENT_WITHHELD`, the reason code first in its rule).
 */
export function minimiseDocument<T>(
  entry: unknown,
  bytes: T,
  trustContext: TrustContext,
  policy?: Policy,
  opts?: MinimiseDocumentOptions,
): T {
  const ctx = contextArg(trustContext);
  const patient = patientArg(opts?.patient);
  call(() => core.checkDocument(entry, ctx, policy, opts?.now, patient));
  return bytes;
}
