//! The rules: whether one DocumentReference may reach this viewer's screen. This is the file a
//! privacy reviewer reads; reading the Bundle ([`super::bundle`]) and shaping what is kept
//! ([`super::project`]) live apart.
//!
//! **Fail closed.** Every value a rule needs is read strictly: a value that is missing,
//! malformed, of the wrong JSON type or ambiguous (two codes that disagree, a member named
//! twice) withholds the entry with a reason code; it is never read as absent. Code systems
//! are recognised by identity ([`CodeSystem`]: canonical URL and OID forms alike), and
//! security labels are read from `securityLabel` and `meta.security` alike.

use super::{Reason, Withhold};
use crate::codes::{CodeSystem, PurposeOfUse};
use crate::fhirtime::Day;
use crate::ident::NationalIdKind;
use crate::policy::{document_group, is_document_type_code, Allow, Policy};
use crate::trust::TrustContext;
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;

// The members the rules read, as FHIR R4 types them: a value of another JSON type, or a
// member named twice, fails the parse, and the rule that needed it withholds. Members the
// rules do not read are not listed (the projection decides about them).
//
// Measured (bench/suite.mjs's minimise rows, Node, wasm, interleaved with the plain-JS
// baseline, machine under load): reading subject, type, category and labels as
// serde_json::Value took the 1,000-entry ratio to 1.44 and 10,000 to 0.94; these borrowed
// typed structs give 1.12-1.28 and 0.70-0.75, for ~8.6 KB more gzipped wasm.

/// Coding (`system`, `code`).
#[derive(Deserialize)]
struct Coding<'a> {
    #[serde(borrow)]
    system: Option<Cow<'a, str>>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
}

/// CodeableConcept (`coding`).
#[derive(Deserialize)]
struct CodeableConcept<'a> {
    #[serde(borrow)]
    coding: Option<Vec<Coding<'a>>>,
}

/// Identifier (`system`, `value`).
#[derive(Deserialize)]
struct Identifier<'a> {
    #[serde(borrow)]
    system: Option<Cow<'a, str>>,
    #[serde(borrow)]
    value: Option<Cow<'a, str>>,
}

/// Reference, as `subject` (`reference`, `type`, `identifier`).
#[derive(Deserialize)]
struct Subject<'a> {
    #[serde(borrow)]
    reference: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    type_: Option<Cow<'a, str>>,
    #[serde(borrow)]
    identifier: Option<Identifier<'a>>,
}

/// Meta (`security`).
#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(borrow)]
    security: Option<Vec<Coding<'a>>>,
}

/// `text` parsed as `T`, or `None` when it is not that shape.
#[cfg_attr(tillit_speed, optimize(speed))]
fn typed<'a, T: Deserialize<'a>>(text: &'a str) -> Option<T> {
    serde_json::from_str(text).ok()
}

/// Who is looking, for which one patient.
pub(super) struct Viewer<'a> {
    /// The patient the search or retrieval is for: the only one whose documents are shown.
    pub patient: &'a str,
    citizen: bool,
    purpose: Option<PurposeOfUse>,
    authorization: Option<&'a str>,
    healthcare_service: Option<&'a str>,
}

impl<'a> Viewer<'a> {
    /// The viewer of `ctx` looking at `patient`'s documents (the caller checked that the
    /// context names the patient).
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn new(ctx: &'a TrustContext, patient: &'a str) -> Self {
        match ctx.attestation() {
            Some(a) => Viewer {
                patient,
                citizen: false,
                purpose: Some(a.care_relationship.purpose_of_use.0),
                authorization: a.practitioner.authorization.as_ref().map(|(x, _)| x.code()),
                healthcare_service: a
                    .care_relationship
                    .healthcare_service
                    .as_ref()
                    .map(|(h, _)| h.code()),
            },
            None => Viewer {
                patient,
                citizen: true,
                purpose: None,
                authorization: None,
                healthcare_service: None,
            },
        }
    }

    #[cfg_attr(tillit_speed, optimize(speed))]
    fn allowed(&self, a: &Allow) -> bool {
        if self.citizen {
            return a.citizen;
        }
        (a.purposes.is_empty() || self.purpose.is_some_and(|p| a.purposes.contains(&p)))
            && (a.authorizations.is_empty()
                || self
                    .authorization
                    .is_some_and(|x| a.authorizations.iter().any(|y| y == x)))
            && (a.healthcare_services.is_empty()
                || self
                    .healthcare_service
                    .is_some_and(|x| a.healthcare_services.iter().any(|y| y == x)))
    }
}

/// Whether `s` is a FHIR id (1 to 64 of `A-Za-z0-9-.`).
#[cfg_attr(tillit_speed, optimize(speed))]
pub(super) fn is_fhir_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// One DocumentReference as the rules see it: the strings they read, the JSON text of the
/// members they parse, and the first structural problem met while it was read (a member
/// named twice, a `modifierExtension`, `implicitRules`, a rule's value of the wrong type).
#[derive(Clone, Default)]
pub(super) struct Doc<'a> {
    pub resource_type: Option<Cow<'a, str>>,
    pub id: Option<Cow<'a, str>>,
    pub status: Option<Cow<'a, str>>,
    pub date: Option<Cow<'a, str>>,
    pub subject: Option<&'a str>,
    pub type_: Option<&'a str>,
    pub category: Option<&'a str>,
    pub security_label: Option<&'a str>,
    pub meta: Option<&'a str>,
    pub contained: Option<&'a str>,
    pub content: Option<&'a str>,
    pub problem: Option<Withhold>,
}

#[cfg_attr(tillit_speed, optimize(speed))]
fn parse(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok()
}

const SUBJECT_UNKNOWN: Withhold = (
    Reason::SubjectUnknown,
    "a subject form does not name a national id (fødselsnummer, D- or H-number) tillit can read",
);

/// The national ids the subject's forms name, one per form: `subject.identifier`,
/// `subject.reference` as `Patient?identifier=system|value`, or as `#id` of a contained
/// Patient (each of whose national-id identifiers counts). A form present but unreadable, a
/// reference of another kind, or no form at all: [`Reason::SubjectUnknown`].
#[cfg_attr(tillit_speed, optimize(speed))]
fn subject_ids(d: &Doc<'_>) -> Result<Vec<String>, Withhold> {
    let s: Subject<'_> = d.subject.and_then(typed).ok_or(SUBJECT_UNKNOWN)?;
    let mut ids = Vec::new();
    if s.type_.is_some_and(|t| t != "Patient") {
        return Err(SUBJECT_UNKNOWN);
    }
    if let Some(i) = &s.identifier {
        let system = i.system.as_deref().ok_or(SUBJECT_UNKNOWN)?;
        NationalIdKind::from_system(system).ok_or(SUBJECT_UNKNOWN)?;
        let value = i
            .value
            .as_deref()
            .filter(|v| !v.is_empty())
            .ok_or(SUBJECT_UNKNOWN)?;
        ids.push(value.to_string());
    }
    if let Some(r) = s.reference.as_deref() {
        if let Some(q) = r.strip_prefix("Patient?identifier=") {
            let (system, value) = q.split_once('|').ok_or(SUBJECT_UNKNOWN)?;
            NationalIdKind::from_system(system).ok_or(SUBJECT_UNKNOWN)?;
            if value.is_empty() || value.contains(['&', '|', ',']) {
                return Err(SUBJECT_UNKNOWN);
            }
            ids.push(value.to_string());
        } else if let Some(local) = r.strip_prefix('#') {
            ids.extend(contained_patient(d, local)?);
        } else {
            return Err(SUBJECT_UNKNOWN);
        }
    }
    if ids.is_empty() {
        return Err(SUBJECT_UNKNOWN);
    }
    Ok(ids)
}

/// An Identifier's value if its system is a national-id system and both are strings.
#[cfg_attr(tillit_speed, optimize(speed))]
fn national_id(i: &Value) -> Option<String> {
    let system = i.get("system")?.as_str()?;
    NationalIdKind::from_system(system)?;
    let value = i.get("value")?.as_str()?;
    (!value.is_empty()).then(|| value.to_string())
}

/// The national ids of the contained Patient `#local`.
#[cfg_attr(tillit_speed, optimize(speed))]
fn contained_patient(d: &Doc<'_>, local: &str) -> Result<Vec<String>, Withhold> {
    let c = d.contained.and_then(parse).ok_or(SUBJECT_UNKNOWN)?;
    let mut found = c
        .as_array()
        .ok_or(SUBJECT_UNKNOWN)?
        .iter()
        .filter(|r| r.get("id").and_then(Value::as_str) == Some(local));
    let p = found.next().ok_or(SUBJECT_UNKNOWN)?;
    if found.next().is_some() || p.get("resourceType").and_then(Value::as_str) != Some("Patient") {
        return Err(SUBJECT_UNKNOWN);
    }
    let mut ids = Vec::new();
    for i in p
        .get("identifier")
        .and_then(Value::as_array)
        .ok_or(SUBJECT_UNKNOWN)?
    {
        let system = i
            .get("system")
            .and_then(Value::as_str)
            .ok_or(SUBJECT_UNKNOWN)?;
        if NationalIdKind::from_system(system).is_some() {
            ids.push(national_id(i).ok_or(SUBJECT_UNKNOWN)?);
        }
    }
    if ids.is_empty() {
        return Err(SUBJECT_UNKNOWN);
    }
    Ok(ids)
}

const UNREADABLE_LABEL: Withhold = (
    Reason::UnreadableLabel,
    "a security label is not an array of codings with a string system and code, or its confidentiality code is unknown",
);

/// What the labels say.
#[derive(Default)]
struct Labels {
    blocked: bool,
    restricted: bool,
    very_restricted: bool,
}

/// Reads one Coding of a label.
#[cfg_attr(tillit_speed, optimize(speed))]
fn label(c: &Coding<'_>, policy: &Policy, l: &mut Labels) -> Result<(), Withhold> {
    let system = c.system.as_deref().ok_or(UNREADABLE_LABEL)?;
    let code = c.code.as_deref().ok_or(UNREADABLE_LABEL)?;
    match CodeSystem::of(system) {
        Some(CodeSystem::Blocks) => l.blocked |= policy.block_codes.iter().any(|b| b == code),
        Some(CodeSystem::Confidentiality) => match code {
            "U" | "L" | "M" | "N" => {}
            "R" => l.restricted = true,
            "V" => l.very_restricted = true,
            _ => return Err(UNREADABLE_LABEL),
        },
        _ => {}
    }
    Ok(())
}

/// The labels of `securityLabel` (CodeableConcepts, each with at least one coding) and
/// `meta.security` (Codings).
#[cfg_attr(tillit_speed, optimize(speed))]
fn labels(d: &Doc<'_>, policy: &Policy) -> Result<Labels, Withhold> {
    let mut l = Labels::default();
    if let Some(text) = d.security_label {
        let v: Vec<CodeableConcept<'_>> = typed(text).ok_or(UNREADABLE_LABEL)?;
        for cc in &v {
            let codings = cc
                .coding
                .as_ref()
                .filter(|a| !a.is_empty())
                .ok_or(UNREADABLE_LABEL)?;
            for c in codings {
                label(c, policy, &mut l)?;
            }
        }
    }
    if let Some(text) = d.meta {
        let meta: Meta<'_> = typed(text).ok_or(UNREADABLE_LABEL)?;
        for c in meta.security.iter().flatten() {
            label(c, policy, &mut l)?;
        }
    }
    Ok(l)
}

const UNREADABLE_KIND: Withhold = (
    Reason::UnreadableElement,
    "type or category is not a CodeableConcept with codings of string system and code",
);
const AMBIGUOUS: Withhold = (
    Reason::AmbiguousType,
    "the Volven 9602 codes of type and category do not name one document kind",
);

/// The Volven 9602 codes of one CodeableConcept.
#[cfg_attr(tillit_speed, optimize(speed))]
fn kind_codes(cc: &CodeableConcept<'_>, out: &mut Vec<String>) -> Result<(), Withhold> {
    for c in cc.coding.iter().flatten() {
        let Some(system) = c.system.as_deref() else {
            continue;
        };
        if !CodeSystem::DocumentType.is(system) {
            continue;
        }
        let code = c.code.as_deref().ok_or(UNREADABLE_KIND)?;
        if !is_document_type_code(code) {
            return Err(UNREADABLE_KIND);
        }
        if !out.iter().any(|x| x == code) {
            out.push(code.to_string());
        }
    }
    Ok(())
}

/// The one 9602 type code: every 9602 coding of `type` names it, and every 9602 coding of
/// `category` names its group.
#[cfg_attr(tillit_speed, optimize(speed))]
fn document_type(d: &Doc<'_>) -> Result<String, Withhold> {
    let mut types = Vec::new();
    if let Some(text) = d.type_ {
        kind_codes(&typed(text).ok_or(UNREADABLE_KIND)?, &mut types)?;
    }
    let mut groups = Vec::new();
    if let Some(text) = d.category {
        let v: Vec<CodeableConcept<'_>> = typed(text).ok_or(UNREADABLE_KIND)?;
        for cc in &v {
            kind_codes(cc, &mut groups)?;
        }
    }
    match types.as_slice() {
        [] => Err((Reason::TypeUnknown, "no Volven 9602 document type")),
        [t] if groups.iter().all(|g| g == document_group(t)) => Ok(t.clone()),
        _ => Err(AMBIGUOUS),
    }
}

/// `content[0].attachment.creation`, which stands in for a missing `date`.
#[cfg_attr(tillit_speed, optimize(speed))]
fn first_creation(d: &Doc<'_>) -> Result<Option<String>, Withhold> {
    let Some(text) = d.content else {
        return Ok(None);
    };
    let v = parse(text).ok_or(UNREADABLE_DATE)?;
    match v.pointer("/0/attachment/creation") {
        None => Ok(None),
        Some(c) => c
            .as_str()
            .map(|s| Some(s.to_string()))
            .ok_or(UNREADABLE_DATE),
    }
}

const UNREADABLE_DATE: Withhold = (
    Reason::UnreadableElement,
    "the date (or the attachment's creation standing in for it) is not a FHIR dateTime",
);

/// The decision for one resource (the per-entry rules; duplicates and counts are the
/// caller's). The order is the order a reviewer reads: what it is, whose it is, whether it
/// can be read at all, then the policy.
#[cfg_attr(tillit_speed, optimize(speed))]
pub(super) fn decide(
    d: &Doc<'_>,
    viewer: &Viewer<'_>,
    policy: &Policy,
    today: Day,
) -> Result<(), Withhold> {
    if d.resource_type.as_deref() != Some("DocumentReference") {
        return Err((
            Reason::NotDocumentReference,
            "only DocumentReference entries are shown",
        ));
    }
    if !d.id.as_deref().is_some_and(is_fhir_id) {
        return Err((Reason::MalformedEntry, "an entry needs a valid FHIR id"));
    }
    // Whose: every subject form must name the one patient asked for.
    let ids = subject_ids(d)?;
    if ids.iter().any(|i| *i != ids[0]) {
        return Err((
            Reason::SubjectMismatch,
            "the subject's forms (identifier, reference, contained Patient) name different people",
        ));
    }
    if ids[0] != viewer.patient {
        return Err((
            Reason::OtherPatient,
            "the subject is not the patient this search or retrieval is for",
        ));
    }
    if let Some(p) = d.problem {
        return Err(p);
    }
    let labels = labels(d, policy)?;
    if d.status.as_deref() != Some("current") {
        return Err((Reason::NotCurrent, "only current documents are shown"));
    }
    let type_code = document_type(d)?;
    let group = document_group(&type_code);
    let Some(kind) = policy.kind_of(&type_code) else {
        return Err((
            Reason::TypeNotAllowed,
            "the document kind is not one the policy allows",
        ));
    };
    if labels.blocked && !(viewer.citizen && policy.citizen_sees_own_blocked) {
        return Err((Reason::PatientBlock, "blocked by the patient (Volven 9603)"));
    }
    if (labels.restricted && !viewer.allowed(&policy.restricted))
        || (labels.very_restricted && !viewer.allowed(&policy.very_restricted))
    {
        return Err((
            Reason::Confidentiality,
            "confidentiality R/V is not allowed for this purpose and profession",
        ));
    }
    for rule in &policy.rules {
        if rule.types.iter().any(|t| *t == type_code || t == group) && !viewer.allowed(&rule.allow)
        {
            return Err((
                Reason::PurposeRule,
                "this document type is not allowed for this purpose, service or profession",
            ));
        }
    }
    // A date that is there must be readable, whether or not a window needs it.
    let date = match &d.date {
        Some(s) => Some(Day::parse(s).ok_or(UNREADABLE_DATE)?),
        None => match first_creation(d)? {
            Some(s) => Some(Day::parse(&s).ok_or(UNREADABLE_DATE)?),
            None => None,
        },
    };
    let window = match (kind.window_years, policy.max_age_years) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(years) = window {
        let Some(date) = date else {
            return Err((
                Reason::Undated,
                "no date to place the document in its display window",
            ));
        };
        if date < today.years_before(years) {
            return Err((
                Reason::OutsideWindow,
                "older than the display window for its kind",
            ));
        }
    }
    Ok(())
}
