//! Consumer-side data minimisation: only what this user, purpose and patient may see reaches
//! the screen, and everything withheld is accounted for by id and reason.
//!
//! [`minimise`] takes a FHIR R4 `searchset` Bundle of DocumentReferences (as bytes, parsed
//! once), the trust context and a [`Policy`], and returns the kept entries projected to the
//! policy's fields, the withheld entries as `(id, reason, rule)` only, and the count of
//! *leaks* (entries about a patient the context does not name: the response itself was
//! wrong). No entry disappears silently: every input entry is either returned or withheld.

use crate::codes::PurposeOfUse;
use crate::error::{Error, ErrorCode, Result};
use crate::fhirtime::Day;
use crate::ident::NationalIdKind;
use crate::json::{parse_limited, type_name};
use crate::policy::{
    document_group, is_document_type_code, Allow, Policy, SYSTEM_BLOCKS, SYSTEM_CONFIDENTIALITY,
    SYSTEM_DOCUMENT_TYPE,
};
use crate::trust::TrustContext;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Why an entry was withheld. The string codes are stable: a UI translates them, an auditor
/// counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// Not a DocumentReference (e.g. an OperationOutcome in the searchset).
    NotDocumentReference,
    /// Structurally unusable: no resource, no valid id, type and category disagree.
    MalformedEntry,
    /// Several entries share an id; none of them is trusted.
    DuplicateId,
    /// The subject is not identifiable as a national id.
    SubjectUnknown,
    /// The subject is not a patient of this trust context (a leak).
    OtherPatient,
    /// Status is not `current`.
    NotCurrent,
    /// No Volven 9602 document type.
    TypeUnknown,
    /// The document kind is not one the policy allows.
    TypeNotAllowed,
    /// Blocked by the patient (Volven 9603, e.g. `NORS`).
    PatientBlock,
    /// Confidentiality `R`/`V` not allowed for this context.
    Confidentiality,
    /// A purpose or role rule does not allow this type for this context.
    PurposeRule,
    /// No date to place the entry in its display window.
    Undated,
    /// Older than the display window for its kind.
    OutsideWindow,
    /// Beyond the policy's maximum number of entries.
    CountLimit,
}

impl Reason {
    /// The stable code.
    pub const fn code(self) -> &'static str {
        match self {
            Reason::NotDocumentReference => "NOT_DOCUMENT_REFERENCE",
            Reason::MalformedEntry => "MALFORMED_ENTRY",
            Reason::DuplicateId => "DUPLICATE_ID",
            Reason::SubjectUnknown => "SUBJECT_UNKNOWN",
            Reason::OtherPatient => "OTHER_PATIENT",
            Reason::NotCurrent => "NOT_CURRENT",
            Reason::TypeUnknown => "TYPE_UNKNOWN",
            Reason::TypeNotAllowed => "TYPE_NOT_ALLOWED",
            Reason::PatientBlock => "PATIENT_BLOCK",
            Reason::Confidentiality => "CONFIDENTIALITY",
            Reason::PurposeRule => "PURPOSE_RULE",
            Reason::Undated => "UNDATED",
            Reason::OutsideWindow => "OUTSIDE_WINDOW",
            Reason::CountLimit => "COUNT_LIMIT",
        }
    }

    /// Whether the withholding is for security reasons (`REDACTED`) rather than a view
    /// limit of the organisation (`SUBSETTED`: windows and counts).
    pub const fn is_security(self) -> bool {
        !matches!(
            self,
            Reason::OutsideWindow | Reason::Undated | Reason::CountLimit
        )
    }
}

/// One withheld entry: where it was, its id if it had one, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withheld {
    /// The resource id, or `entry[i]` when it had none.
    pub id: String,
    /// Index in the input Bundle's `entry`.
    pub index: usize,
    /// Why.
    pub reason: Reason,
    /// The rule, in words.
    pub rule: String,
}

/// Counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Entries in the input.
    pub input: usize,
    /// Entries returned.
    pub returned: usize,
    /// Elements dropped from returned entries by the projection.
    pub elements_removed: usize,
    /// The server's `total`, if it gave one.
    pub server_total: Option<u64>,
    /// Withheld entries by reason code.
    pub by_reason: BTreeMap<&'static str, usize>,
}

/// What [`minimise`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The minimised Bundle.
    pub bundle: Value,
    /// Every withheld entry.
    pub withheld: Vec<Withheld>,
    /// Entries about a patient the context does not name.
    pub leaks: usize,
    /// Counts.
    pub stats: Stats,
}

/// The security tag for content removed for security reasons.
pub fn tag(code: &str) -> Value {
    json!({ "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": code })
}

/// Who is looking, as the policy needs it.
struct Viewer<'a> {
    patients: HashSet<&'a str>,
    citizen: bool,
    purpose: Option<PurposeOfUse>,
    authorization: Option<&'a str>,
    healthcare_service: Option<&'a str>,
}

impl<'a> Viewer<'a> {
    fn new(ctx: &'a TrustContext) -> Self {
        let patients = ctx.patients().into_iter().map(|p| p.as_str()).collect();
        match ctx.attestation() {
            Some(a) => Viewer {
                patients,
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
                patients,
                citizen: true,
                purpose: None,
                authorization: None,
                healthcare_service: None,
            },
        }
    }

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

fn is_fhir_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn codings(concept: &Value) -> impl Iterator<Item = (&str, &str)> {
    concept
        .get("coding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c.get("system")?.as_str()?, c.get("code")?.as_str()?)))
}

/// The national id a DocumentReference's `subject` names, if it names one.
fn subject_id(r: &Value) -> Option<&str> {
    let s = r.get("subject")?;
    if let Some(id) = s.get("identifier") {
        let system = id.get("system").and_then(Value::as_str)?;
        NationalIdKind::from_system(system)?;
        return id.get("value").and_then(Value::as_str);
    }
    let reference = s.get("reference")?.as_str()?;
    let q = reference.strip_prefix("Patient?identifier=")?;
    let (system, value) = q.split_once('|')?;
    NationalIdKind::from_system(system)?;
    Some(value)
}

/// The decision for one resource (the per-entry rules, without duplicates and counts).
fn decide(
    r: &Value,
    viewer: &Viewer<'_>,
    policy: &Policy,
    today: Day,
) -> core::result::Result<(), (Reason, String)> {
    let w = |reason, rule: &str| Err((reason, rule.to_string()));
    if r.get("resourceType").and_then(Value::as_str) != Some("DocumentReference") {
        return w(
            Reason::NotDocumentReference,
            "only DocumentReference entries are shown",
        );
    }
    if !r.get("id").and_then(Value::as_str).is_some_and(is_fhir_id) {
        return w(Reason::MalformedEntry, "an entry needs a valid FHIR id");
    }
    let Some(subject) = subject_id(r) else {
        return w(
            Reason::SubjectUnknown,
            "the subject is not a national id (fødselsnummer, D- or H-number)",
        );
    };
    if !viewer.patients.contains(subject) {
        return w(
            Reason::OtherPatient,
            "the subject is not a patient of this trust context",
        );
    }
    if r.get("status").and_then(Value::as_str) != Some("current") {
        return w(Reason::NotCurrent, "only current documents are shown");
    }
    let Some(type_code) = r
        .get("type")
        .and_then(|t| {
            codings(t).find(|(s, c)| *s == SYSTEM_DOCUMENT_TYPE && is_document_type_code(c))
        })
        .map(|(_, c)| c)
    else {
        return w(Reason::TypeUnknown, "no Volven 9602 document type");
    };
    let group = document_group(type_code);
    for cat in r
        .get("category")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if codings(cat).any(|(s, c)| s == SYSTEM_DOCUMENT_TYPE && c != group) {
            return w(
                Reason::MalformedEntry,
                "the 9602 category does not match the type's group",
            );
        }
    }
    let Some(kind) = policy.kind_of(type_code) else {
        return w(
            Reason::TypeNotAllowed,
            "the document kind is not one the policy allows",
        );
    };
    let labels: Vec<(&str, &str)> = r
        .get("securityLabel")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(codings)
        .collect();
    let blocked = labels
        .iter()
        .any(|(s, c)| *s == SYSTEM_BLOCKS && policy.block_codes.iter().any(|b| b == c));
    if blocked && !(viewer.citizen && policy.citizen_sees_own_blocked) {
        return w(Reason::PatientBlock, "blocked by the patient (Volven 9603)");
    }
    for (s, c) in &labels {
        if *s == SYSTEM_CONFIDENTIALITY {
            let allow = match *c {
                "R" => &policy.restricted,
                "V" => &policy.very_restricted,
                _ => continue,
            };
            if !viewer.allowed(allow) {
                return w(
                    Reason::Confidentiality,
                    "confidentiality R/V is not allowed for this purpose and profession",
                );
            }
        }
    }
    for rule in &policy.rules {
        if rule.types.iter().any(|t| t == type_code || *t == group) && !viewer.allowed(&rule.allow)
        {
            return w(
                Reason::PurposeRule,
                "this document type is not allowed for this purpose, service or profession",
            );
        }
    }
    let window = match (kind.window_years, policy.max_age_years) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(years) = window {
        let date = r
            .get("date")
            .and_then(Value::as_str)
            .or_else(|| {
                r.pointer("/content/0/attachment/creation")
                    .and_then(Value::as_str)
            })
            .and_then(Day::parse);
        let Some(date) = date else {
            return w(
                Reason::Undated,
                "no date to place the document in its display window",
            );
        };
        if date < today.years_before(years) {
            return w(
                Reason::OutsideWindow,
                "older than the display window for its kind",
            );
        }
    }
    Ok(())
}

/// Projects a kept resource to the policy's fields; returns the number of elements removed.
fn project(r: &mut Value, policy: &Policy) -> usize {
    let Some(m) = r.as_object_mut() else { return 0 };
    let before = m.len();
    m.retain(|k, _| policy.fields.iter().any(|f| f == k));
    let mut removed = before - m.len();
    if let Some(content) = m.get_mut("content").and_then(Value::as_array_mut) {
        for c in content.iter_mut() {
            if let Some(cm) = c.as_object_mut() {
                let n = cm.len();
                cm.retain(|k, _| k == "attachment" || k == "format");
                removed += n - cm.len();
                if let Some(att) = cm.get_mut("attachment").and_then(Value::as_object_mut) {
                    let n = att.len();
                    att.retain(|k, _| policy.attachment_fields.iter().any(|f| f == k));
                    removed += n - att.len();
                }
            }
        }
    }
    if removed > 0 {
        add_tag(m, "REDACTED");
    }
    removed
}

fn add_tag(m: &mut Map<String, Value>, code: &str) {
    let meta = m.entry("meta").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    let sec = meta
        .as_object_mut()
        .expect("an object")
        .entry("security")
        .or_insert_with(|| json!([]));
    if !sec.is_array() {
        *sec = json!([]);
    }
    let arr = sec.as_array_mut().expect("an array");
    if !arr
        .iter()
        .any(|t| t.get("code").and_then(Value::as_str) == Some(code))
    {
        arr.push(tag(code));
    }
}

/// Minimises a Bundle given as JSON bytes (parsed once, within the policy's limits).
pub fn minimise(
    input: &[u8],
    ctx: &TrustContext,
    policy: &Policy,
    now_unix: u64,
) -> Result<Outcome> {
    let text = core::str::from_utf8(input)
        .map_err(|_| Error::new(ErrorCode::MalformedJson, "bundle", "is not UTF-8"))?;
    let v = parse_limited(text, policy.max_input_bytes, policy.max_depth, "bundle")?;
    minimise_value(v, ctx, policy, now_unix)
}

/// Minimises a parsed Bundle.
pub fn minimise_value(
    mut bundle: Value,
    ctx: &TrustContext,
    policy: &Policy,
    now_unix: u64,
) -> Result<Outcome> {
    let rt = bundle.get("resourceType").and_then(Value::as_str);
    if rt != Some("Bundle") {
        return Err(Error::new(
            ErrorCode::InvalidResource,
            "bundle.resourceType",
            "must be Bundle",
        ));
    }
    let server_total = bundle.get("total").and_then(Value::as_u64);
    let entries = match bundle.as_object_mut().and_then(|m| m.remove("entry")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(Error::new(
                ErrorCode::InvalidResource,
                "bundle.entry",
                format!("must be an array, not {}", type_name(&other)),
            ))
        }
    };
    let viewer = Viewer::new(ctx);
    let today = Day::from_unix(now_unix);

    let mut id_counts: HashMap<String, usize> = HashMap::new();
    for e in &entries {
        if let Some(id) = e.pointer("/resource/id").and_then(Value::as_str) {
            *id_counts.entry(id.to_string()).or_default() += 1;
        }
    }

    let mut kept = Vec::new();
    let mut withheld = Vec::new();
    let mut stats = Stats {
        input: entries.len(),
        server_total,
        ..Stats::default()
    };
    let mut leaks = 0;
    for (index, mut e) in entries.into_iter().enumerate() {
        let id = e
            .pointer("/resource/id")
            .and_then(Value::as_str)
            .filter(|s| is_fhir_id(s))
            .map(String::from)
            .unwrap_or_else(|| format!("entry[{index}]"));
        let decision = match e.get("resource") {
            None => Err((
                Reason::MalformedEntry,
                "an entry needs a resource".to_string(),
            )),
            Some(_) if id_counts.get(&id).copied().unwrap_or(0) > 1 => Err((
                Reason::DuplicateId,
                "several entries share this id; none is shown".to_string(),
            )),
            Some(r) => decide(r, &viewer, policy, today),
        };
        let decision = decision.and_then(|()| match policy.max_entries {
            Some(max) if kept.len() >= max => Err((
                Reason::CountLimit,
                "beyond the policy's maximum number of entries".to_string(),
            )),
            _ => Ok(()),
        });
        match decision {
            Ok(()) => {
                if let Some(em) = e.as_object_mut() {
                    em.retain(|k, _| k == "fullUrl" || k == "resource" || k == "search");
                }
                if let Some(r) = e.get_mut("resource") {
                    stats.elements_removed += project(r, policy);
                }
                kept.push(e);
            }
            Err((reason, rule)) => {
                if reason == Reason::OtherPatient {
                    leaks += 1;
                }
                *stats.by_reason.entry(reason.code()).or_default() += 1;
                withheld.push(Withheld {
                    id,
                    index,
                    reason,
                    rule,
                });
            }
        }
    }
    stats.returned = kept.len();

    let src = bundle.as_object().cloned().unwrap_or_default();
    let mut out = Map::new();
    out.insert("resourceType".into(), json!("Bundle"));
    for k in ["id", "meta", "type", "timestamp", "link"] {
        if let Some(v) = src.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    if !out.contains_key("type") {
        out.insert("type".into(), json!("searchset"));
    }
    if stats.elements_removed > 0 || withheld.iter().any(|w| w.reason.is_security()) {
        add_tag(&mut out, "REDACTED");
    }
    if withheld.iter().any(|w| !w.reason.is_security()) {
        add_tag(&mut out, "SUBSETTED");
    }
    out.insert("total".into(), json!(kept.len()));
    out.insert("entry".into(), Value::Array(kept));
    Ok(Outcome {
        bundle: Value::Object(out),
        withheld,
        leaks,
        stats,
    })
}

/// Checks one DocumentReference before its document is retrieved or shown: refuses with
/// `DOCUMENT_WITHHELD` (the reason code in `rule`) what the list would have withheld.
pub fn check_document(
    entry: &Value,
    ctx: &TrustContext,
    policy: &Policy,
    now_unix: u64,
) -> Result<()> {
    let r = entry.get("resource").unwrap_or(entry);
    decide(r, &Viewer::new(ctx), policy, Day::from_unix(now_unix)).map_err(|(reason, rule)| {
        Error::new(
            ErrorCode::DocumentWithheld,
            "entry",
            format!("{}: {rule}", reason.code()),
        )
    })
}

// The property test uses proptest, a native-only dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
