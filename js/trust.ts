/**
 * The trust context: who looks, why, and at whom. For a practitioner it is the trust
 * framework's attestation (`nhn:tillitsrammeverk:parameters`); for a citizen it is their own
 * access (or a child's or ward's by representation).
 *
 * @example
 * ```ts
 * const ctx = TrustContext.fromJSON({
 *   type: 'nhn:tillitsrammeverk:parameters',
 *   practitioner: { identifier: { id: '…', system: 'urn:oid:2.16.578.1.12.4.1.4.1' },
 *     legal_entity: { id: '974760673', system: 'urn:oid:2.16.578.1.12.4.1.4.101' },
 *     point_of_care: { id: '974760673', system: 'urn:oid:2.16.578.1.12.4.1.4.101' } },
 *   care_relationship: {
 *     purpose_of_use: { code: 'TREAT', system: 'urn:oid:2.16.840.1.113883.1.11.20448' },
 *     purpose_of_use_details: { code: 'BEHANDLER', system: 'urn:AuditEventHL7Norway/CodeSystem/carerelation' },
 *     decision_ref: { id: 'dec-1', user_selected: false } },
 *   patients: [{ identifier: { id: '…', system: 'urn:oid:2.16.578.1.12.4.1.4.1' } }],
 * })
 * ctx.toJSON() // exactly the wire shape NHN's samples send
 * ```
 * @module
 */
import * as core from '#core';
import { limits } from './limits.js';
import { ArgumentError, call, TrustContextError } from './errors.js';
import { contextTextOf, texts } from './context-text.js';

/** An identifier `{ id, system }` with optional display members HelseID may add. */
export interface Identifier {
  id: string;
  system: string;
  name?: string;
  authority?: string;
}

/** A code `{ code, system }` with optional display members. */
export interface Coding {
  code: string;
  system: string;
  text?: string;
  assigner?: string;
}

/** The purposes of use the trust framework allows. */
export type PurposeOfUse = 'TREAT' | 'ETREAT' | 'COC' | 'BTG';

/** Code systems, by OID, that trust contexts use. */
export const Systems = {
  fnr: 'urn:oid:2.16.578.1.12.4.1.4.1',
  dnr: 'urn:oid:2.16.578.1.12.4.1.4.2',
  hnr: 'urn:oid:2.16.578.1.12.4.1.4.3',
  hpr: 'urn:oid:2.16.578.1.12.4.1.4.4',
  orgnr: 'urn:oid:2.16.578.1.12.4.1.4.101',
  resh: 'urn:oid:2.16.578.1.12.4.1.4.102',
  authorization: 'urn:oid:2.16.578.1.12.4.1.1.9060',
  purposeOfUse: 'urn:oid:2.16.840.1.113883.1.11.20448',
  careRelation: 'urn:AuditEventHL7Norway/CodeSystem/carerelation',
  volven9151: 'urn:oid:2.16.578.1.12.4.1.1.9151',
  documentType: 'urn:oid:2.16.578.1.12.4.1.1.9602',
} as const;

/**
 * A patient the context covers. NHN's clients may send only the point of care
 * (`patients: [{ point_of_care }]`) or `patients: [{}]`: such a context round-trips, but
 * names no patient to look up.
 */
export interface PatientJSON {
  identifier?: Identifier;
  point_of_care?: Identifier;
  department?: Identifier;
}

/** The attestation in NHN's sample wire shape. */
export interface AttestationJSON {
  type: 'nhn:tillitsrammeverk:parameters';
  practitioner: {
    /**
     * The user's fødselsnummer or D-number (ATT-10). Left out in the narrow attestation NHN's
     * clients send, where HelseID takes the user from the login (authorization_code, refresh).
     */
    identifier?: Identifier;
    hpr_nr?: Identifier;
    authorization?: Coding;
    legal_entity: Identifier;
    point_of_care: Identifier;
    department?: Identifier;
  };
  care_relationship: {
    healthcare_service?: Coding;
    purpose_of_use: Coding & { code: PurposeOfUse };
    purpose_of_use_details?: Coding;
    decision_ref: { id: string; description?: string; user_selected: boolean };
  };
  patients: PatientJSON[];
  /** Time of attestation, unix seconds. */
  toa?: number;
}

/** A citizen's context (tillit's own shape; never sent to HelseID). */
export interface CitizenContextJSON {
  type: 'tillit:citizen';
  citizen: { identifier: Identifier };
  represented?: { identifier: Identifier; basis: 'parent' | 'guardian' | 'power_of_attorney' };
  toa?: number;
}

/** Any trust context's JSON. */
export type TrustContextJSON = AttestationJSON | CitizenContextJSON;

/** The spec v1.1 wrapped form, also accepted by {@link TrustContext.fromJSON}. */
export interface WrappedAttestationJSON {
  type: 'nhn:tillitsrammeverk:parameters';
  attestation: Omit<AttestationJSON, 'type' | 'care_relationship'> & {
    care_relation?: AttestationJSON['care_relationship'];
    care_relationship?: AttestationJSON['care_relationship'];
  };
}

/** A validated, immutable trust context. */
export class TrustContext {
  #parsed: TrustContextJSON | undefined;

  /**
   * From validated JSON text (its canonical wire form is written by the core when first
   * read) or from the core's JSON object.
   */
  private constructor(json: TrustContextJSON | undefined, text?: string) {
    this.#parsed = json === undefined ? undefined : deepFreeze(json);
    if (text !== undefined) texts.set(this, text);
  }

  get #json(): TrustContextJSON {
    return (this.#parsed ??= deepFreeze(
      JSON.parse(
        call(() => core.trustContextParse(texts.get(this)!)) as string,
      ) as TrustContextJSON,
    ));
  }

  /**
   * Validates `obj` (sample shape, spec wrapped form, or citizen context) and returns a
   * trust context; throws a {@link TrustContextError}, {@link IdentifierError} or
   * {@link CodeError} naming the JSON path and rule.
   */
  static fromJSON(obj: TrustContextJSON | WrappedAttestationJSON | unknown): TrustContext {
    if (typeof obj === 'string')
      throw new TrustContextError('INVALID_TRUST_CONTEXT', '$', 'must be an object, not string');
    const text = toText(obj);
    call(() => core.trustContextValidate(text));
    return new TrustContext(undefined, text as string);
  }

  /** The wire form (NHN's sample shape for practitioners). */
  toJSON(): TrustContextJSON {
    return this.#json;
  }

  /** `'practitioner'` or `'citizen'`. */
  get kind(): 'practitioner' | 'citizen' {
    return this.#json.type === 'tillit:citizen' ? 'citizen' : 'practitioner';
  }

  /** National ids of the patients this context covers. */
  get patientIds(): string[] {
    const j = this.#json;
    if (j.type === 'tillit:citizen') return [(j.represented ?? j.citizen).identifier.id];
    return j.patients.flatMap((p) => (p.identifier ? [p.identifier.id] : []));
  }

  /** The purpose of use, for a practitioner. */
  get purposeOfUse(): PurposeOfUse | undefined {
    const j = this.#json;
    return j.type === 'tillit:citizen' ? undefined : j.care_relationship.purpose_of_use.code;
  }

  /**
   * A new attestation for other patients, stamped with the time now: the trust framework
   * wants a new attestation whenever the patient changes.
   */
  withPatients(patients: PatientJSON[]): TrustContext {
    return new TrustContext(
      call(() => core.trustContextWithPatients(contextTextOf(this), patients)) as TrustContextJSON,
    );
  }

  /** Throws {@link TrustContextError} (`ATTESTATION_EXPIRED`) if older than 60 minutes or from the future. */
  assertFresh(skewSeconds: number = limits().defaultSkewSeconds): void {
    call(() => core.trustContextCheckFresh(contextTextOf(this), skewSeconds));
  }
}

/** What a national id encodes. */
export interface NationalIdInfo {
  kind: 'fnr' | 'dnr' | 'hnr';
  synthetic: boolean;
  birthDate: string;
  system: string;
}

/**
 * Validates a Norwegian national id (both mod-11 check digits, a real date; D-, H- and
 * synthetic numbers), optionally against the system OID it is declared with.
 * Throws {@link IdentifierError} without quoting the number.
 */
export function parseNationalId(id: string, system?: string): NationalIdInfo {
  return call(() => core.parseNationalId(id, system)) as NationalIdInfo;
}

/** Whether `orgnr` is a valid 9-digit organisation number (mod-11). */
export function isValidOrgNr(orgnr: string): boolean {
  return core.isValidOrgNr(orgnr);
}

/** Plain JSON data as text for the core; anything JSON cannot hold is passed as it is and refused there. */
function toText(obj: unknown): unknown {
  if (obj === null || typeof obj !== 'object') return obj;
  try {
    return JSON.stringify(obj);
  } catch {
    throw new ArgumentError(
      'INVALID_ARGUMENT',
      '$',
      'must be plain JSON data (no cycles, no BigInt)',
    );
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
