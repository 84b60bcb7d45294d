//! Consumer-side data minimisation: only what this user, purpose and patient may see reaches
//! the screen, and everything withheld is accounted for by id and reason.
//!
//! [`minimise`] takes a FHIR R4 `searchset` Bundle of DocumentReferences (as bytes, parsed
//! once), the trust context, a [`Policy`] and the one patient the search is for, and returns
//! the kept entries projected to the policy's paths, the withheld entries as
//! `(id, reason, rule)` only, and the count of *leaks* (entries naming another patient: the
//! response itself was wrong). No entry disappears silently: every input entry is either
//! returned or withheld.
//!
//! The parts: `rules.rs` (the decisions, fail closed), `bundle.rs` (reading the Bundle),
//! `project.rs` and [`schema`] (the whitelist projection, rebuilt from FHIR R4 datatypes).

mod bundle;
mod project;
mod result;
mod rules;
pub mod schema;

use crate::error::{Error, ErrorCode, Result};
use crate::fhirtime::Day;
use crate::json::json_error;
use crate::policy::Policy;
use crate::scan::Reader;
use crate::trust::TrustContext;
use bundle::{BundleIn, Resource, BUNDLE_MEMBERS};
use project::Projector;
use rules::{is_fhir_id, Viewer};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Why an entry was withheld. The string codes are stable: a UI translates them, an auditor
/// counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// Not a DocumentReference (e.g. an OperationOutcome in the searchset).
    NotDocumentReference,
    /// Structurally unusable: no resource, no valid id.
    MalformedEntry,
    /// Several entries share an id (on this page or with an earlier page of the same search);
    /// none of them is trusted.
    DuplicateId,
    /// A subject form is missing, unreadable or not a national id tillit can check.
    SubjectUnknown,
    /// The subject is not the patient the search is for (a leak).
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
    /// A security label (`securityLabel`, `meta.security`) in a shape or code the rules
    /// cannot read.
    UnreadableLabel,
    /// An element in a shape its FHIR R4 datatype does not have (an object for an array, a
    /// number for a string, a member named twice, …).
    UnreadableElement,
    /// `type` and `category` do not name one Volven 9602 document kind.
    AmbiguousType,
    /// The subject's forms name different people.
    SubjectMismatch,
    /// A `modifierExtension` (or `implicitRules`): FHIR forbids ignoring it.
    ModifierExtension,
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
            Reason::UnreadableLabel => "UNREADABLE_LABEL",
            Reason::UnreadableElement => "UNREADABLE_ELEMENT",
            Reason::AmbiguousType => "AMBIGUOUS_TYPE",
            Reason::SubjectMismatch => "SUBJECT_MISMATCH",
            Reason::ModifierExtension => "MODIFIER_EXTENSION",
        }
    }

    /// Every reason code, in declaration order: the list the JS wrapper's types are checked
    /// against (`tests/agreement.rs`).
    pub const ALL: [Reason; 19] = [
        Reason::NotDocumentReference,
        Reason::MalformedEntry,
        Reason::DuplicateId,
        Reason::SubjectUnknown,
        Reason::OtherPatient,
        Reason::NotCurrent,
        Reason::TypeUnknown,
        Reason::TypeNotAllowed,
        Reason::PatientBlock,
        Reason::Confidentiality,
        Reason::PurposeRule,
        Reason::Undated,
        Reason::OutsideWindow,
        Reason::CountLimit,
        Reason::UnreadableLabel,
        Reason::UnreadableElement,
        Reason::AmbiguousType,
        Reason::SubjectMismatch,
        Reason::ModifierExtension,
    ];

    /// Whether the withholding is for security reasons (`REDACTED`) rather than a view
    /// limit of the organisation (`SUBSETTED`: windows and counts).
    pub const fn is_security(self) -> bool {
        !matches!(
            self,
            Reason::OutsideWindow | Reason::Undated | Reason::CountLimit
        )
    }
}

type Withhold = (Reason, &'static str);

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
    pub rule: &'static str,
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
    /// The minimised Bundle as JSON text (kept members are the input's own text).
    pub bundle_json: String,
    /// Every withheld entry.
    pub withheld: Vec<Withheld>,
    /// Entries naming a patient other than the one the search is for (`OTHER_PATIENT`, and
    /// `SUBJECT_MISMATCH` where a form names someone else).
    pub leaks: usize,
    /// Ids given in [`Options::earlier_ids`] that this page has again (shown or withheld):
    /// the caller withholds them on every page it already showed.
    pub retract: Vec<String>,
    /// Counts.
    pub stats: Stats,
}

impl Outcome {
    /// The minimised Bundle parsed (an error only where the input's own nesting is deeper
    /// than serde_json reads).
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn bundle(&self) -> Result<Value> {
        serde_json::from_str(&self.bundle_json).map_err(|e| json_error(&e, "bundle"))
    }
}

/// The security tag for content removed for security reasons.
#[cfg_attr(tillit_speed, optimize(speed))]
pub fn tag(code: &str) -> Value {
    json!({ "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": code })
}

/// What one call minimises for, beyond the context and the policy.
#[derive(Clone, Debug, Default)]
pub struct Options<'a> {
    /// The patient the search is for (a national id the trust context names). Required when
    /// the context names several patients; with one, that one.
    pub patient: Option<&'a str>,
    /// Resource ids met on earlier pages of the same search (shown or withheld). An entry
    /// here with one of them is withheld (`DUPLICATE_ID`, unless its own rules withhold it
    /// first) and its id is reported in [`Outcome::retract`].
    pub earlier_ids: &'a [String],
}

/// The patient a call is for: the one asked for, which the context must name, or the
/// context's only patient.
#[cfg_attr(tillit_speed, optimize(speed))]
fn patient_of<'a>(ctx: &'a TrustContext, asked: Option<&'a str>) -> Result<&'a str> {
    let patients = ctx.patients();
    match asked {
        Some(p) if patients.iter().any(|x| x.as_str() == p) => Ok(p),
        Some(_) => Err(Error::new(
            ErrorCode::InvalidArgument,
            "patient",
            "is not a patient of the trust context",
        )),
        None => match patients.as_slice() {
            [only] => Ok(only.as_str()),
            _ => Err(Error::new(
                ErrorCode::InvalidArgument,
                "patient",
                "is required: the trust context names several patients, and a search is for one",
            )),
        },
    }
}

/// The security tag for content removed for security reasons.
#[cfg_attr(tillit_speed, optimize(speed))]
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

/// A carried-over Bundle member, parsed (they are few and small).
#[cfg_attr(tillit_speed, optimize(speed))]
fn member(b: &BundleIn<'_>, name: &str) -> Result<Option<Value>> {
    let i = BUNDLE_MEMBERS.iter().position(|m| *m == name);
    match i.and_then(|i| b.members[i]) {
        None => Ok(None),
        Some(text) => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| json_error(&e, "bundle")),
    }
}

/// Projects one kept resource into `out`: `Ok(removed)`, or the reason it cannot be shown
/// (then `out` is as it was).
#[cfg_attr(tillit_speed, optimize(speed))]
fn write_resource(
    res: &Resource<'_>,
    policy: &Policy,
    out: &mut String,
) -> Result<core::result::Result<usize, Withhold>> {
    let mark = out.len();
    let mut p = Projector::new(policy.max_depth);
    p.document_reference(res.text, &policy.selection, out)?;
    if let Some(w) = p.problem {
        out.truncate(mark);
        return Ok(Err(w));
    }
    if p.removed > 0 {
        // The resource's meta gets the tag (rare: the shipped policy removes nothing from a
        // well-formed entry of the national document list).
        let mut v: Map<String, Value> = match serde_json::from_str(&out[mark..]) {
            Ok(Value::Object(m)) => m,
            _ => {
                out.truncate(mark);
                return Ok(Err((
                    Reason::UnreadableElement,
                    "the projected resource is not JSON serde can hold",
                )));
            }
        };
        add_tag(&mut v, "REDACTED");
        out.truncate(mark);
        out.push_str(&Value::Object(v).to_string());
    }
    Ok(Ok(p.removed))
}

/// Minimises a Bundle given as JSON bytes for the trust context's only patient (see
/// [`minimise_with`] to name the patient when the context names several).
#[cfg_attr(tillit_speed, optimize(speed))]
pub fn minimise(
    input: &[u8],
    ctx: &TrustContext,
    policy: &Policy,
    now_unix: u64,
) -> Result<Outcome> {
    minimise_with(input, ctx, policy, now_unix, &Options::default())
}

/// Minimises a Bundle given as JSON bytes, within the policy's limits, for one patient. One
/// pass reads the Bundle, its entries and what the rules need of each resource, without
/// building a tree (see [`crate::scan`]); each kept resource is then rebuilt by the
/// projection from its own text.
#[cfg_attr(tillit_speed, optimize(speed))]
pub fn minimise_with(
    input: &[u8],
    ctx: &TrustContext,
    policy: &Policy,
    now_unix: u64,
    opts: &Options<'_>,
) -> Result<Outcome> {
    let patient = patient_of(ctx, opts.patient)?;
    let text = core::str::from_utf8(input)
        .map_err(|_| Error::new(ErrorCode::MalformedJson, "bundle", "is not UTF-8"))?;
    if text.len() > policy.max_input_bytes {
        return Err(Error::new(
            ErrorCode::InputTooLarge,
            "bundle",
            format!(
                "is larger than the limit of {} bytes",
                policy.max_input_bytes
            ),
        ));
    }
    let b = BundleIn::read(text, policy.max_depth)?;
    if member(&b, "resourceType")?.as_ref().and_then(Value::as_str) != Some("Bundle") {
        return Err(Error::new(
            ErrorCode::InvalidResource,
            "bundle.resourceType",
            "must be Bundle",
        ));
    }
    let server_total = member(&b, "total")?.as_ref().and_then(Value::as_u64);
    let viewer = Viewer::new(ctx, patient);
    let today = Day::from_unix(now_unix);
    let earlier: BTreeSet<&str> = opts.earlier_ids.iter().map(String::as_str).collect();

    // How many resources have each id, before any decision (an ordered map: O(n log n)
    // whatever the ids, where a hash map could be made to collide).
    let mut id_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in b
        .entries
        .iter()
        .filter_map(|e| e.resource.as_ref()?.doc.id.as_deref())
    {
        *id_counts.entry(id).or_default() += 1;
    }
    let mut retract = BTreeSet::new();

    let mut kept = 0usize;
    let mut entries_json = String::with_capacity(text.len() / 2);
    let mut withheld = Vec::new();
    let mut stats = Stats {
        input: b.entries.len(),
        server_total,
        ..Stats::default()
    };
    let mut leaks = 0;
    for (index, entry) in b.entries.iter().enumerate() {
        let rid = entry.resource.as_ref().and_then(|r| r.doc.id.as_deref());
        if let Some(id) = rid.filter(|i| earlier.contains(i)) {
            retract.insert(id.to_string());
        }
        let shared = rid.is_some_and(|i| id_counts.get(i).is_some_and(|n| *n > 1));
        let decision = match (&entry.resource, entry.problem) {
            (None, _) => Err((Reason::MalformedEntry, "an entry needs a resource")),
            (Some(res), problem) => match rules::decide(&res.doc, &viewer, policy, today) {
                // Another patient's entry stays a leak whatever else is wrong with it.
                Err(w) if matches!(w.0, Reason::OtherPatient | Reason::SubjectMismatch) => Err(w),
                _ if shared => Err((
                    Reason::DuplicateId,
                    "several entries share this id; none is shown",
                )),
                d => d.and(problem.map_or(Ok(()), Err)).and(match rid {
                    Some(i) if earlier.contains(i) => Err((
                        Reason::DuplicateId,
                        "an earlier page of this search had this id; none is shown",
                    )),
                    _ => Ok(()),
                }),
            },
        };
        let decision = decision.and(match policy.max_entries {
            Some(max) if kept >= max => Err((
                Reason::CountLimit,
                "beyond the policy's maximum number of entries",
            )),
            _ => Ok(()),
        });
        let (reason, rule) = match (decision, &entry.resource) {
            (Ok(()), Some(res)) => {
                let mark = entries_json.len();
                if kept > 0 {
                    entries_json.push(',');
                }
                entries_json.push('{');
                if let Some(u) = entry.full_url {
                    entries_json.push_str("\"fullUrl\":");
                    entries_json.push_str(u);
                    entries_json.push(',');
                }
                entries_json.push_str("\"resource\":");
                match write_resource(res, policy, &mut entries_json)? {
                    Ok(removed) => {
                        entries_json.push('}');
                        kept += 1;
                        stats.elements_removed += removed;
                        continue;
                    }
                    Err(why) => {
                        entries_json.truncate(mark);
                        why
                    }
                }
            }
            // A decision to keep needs a resource (see above); were that to change, the
            // entry is withheld, never shown.
            (Ok(()), None) => (Reason::MalformedEntry, "an entry needs a resource"),
            (Err(why), _) => why,
        };
        if matches!(reason, Reason::OtherPatient | Reason::SubjectMismatch) {
            leaks += 1;
        }
        *stats.by_reason.entry(reason.code()).or_default() += 1;
        withheld.push(Withheld {
            id: rid
                .filter(|s| is_fhir_id(s))
                .map_or_else(|| format!("entry[{index}]"), String::from),
            index,
            reason,
            rule,
        });
    }
    stats.returned = kept;

    let mut out = Map::new();
    out.insert("resourceType".into(), json!("Bundle"));
    for k in ["id", "meta", "type", "timestamp", "link"] {
        if let Some(v) = member(&b, k)?.filter(|v| !v.is_null()) {
            out.insert(k.into(), v);
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
    out.insert("total".into(), json!(kept));
    let mut bundle_json = Value::Object(out).to_string();
    bundle_json.pop(); // the closing brace: the entries follow
    bundle_json.reserve(entries_json.len() + 12);
    bundle_json.push_str(",\"entry\":[");
    bundle_json.push_str(&entries_json);
    bundle_json.push_str("]}");
    Ok(Outcome {
        bundle_json,
        withheld,
        leaks,
        retract: retract.into_iter().collect(),
        stats,
    })
}

/// Checks one DocumentReference before its document is retrieved or shown, for the context's
/// only patient: refuses with `DOCUMENT_WITHHELD` (the reason code in `rule`) what the list
/// would have withheld, including what the projection cannot read.
#[cfg_attr(tillit_speed, optimize(speed))]
pub fn check_document(
    entry: &Value,
    ctx: &TrustContext,
    policy: &Policy,
    now_unix: u64,
) -> Result<()> {
    check_document_with(entry, ctx, policy, now_unix, None)
}

/// [`check_document`] for a named patient (required when the context names several).
#[cfg_attr(tillit_speed, optimize(speed))]
pub fn check_document_with(
    entry: &Value,
    ctx: &TrustContext,
    policy: &Policy,
    now_unix: u64,
    patient: Option<&str>,
) -> Result<()> {
    let patient = patient_of(ctx, patient)?;
    // The same reader and projection as the list's, over the resource's text.
    let text = entry.get("resource").unwrap_or(entry).to_string();
    let mut r = Reader::new(&text, policy.max_depth, "entry");
    let res = Resource::read(&mut r)?;
    let refuse = |(reason, rule): Withhold| {
        Error::new(
            ErrorCode::DocumentWithheld,
            "entry",
            format!("{}: {rule}", reason.code()),
        )
    };
    rules::decide(
        &res.doc,
        &Viewer::new(ctx, patient),
        policy,
        Day::from_unix(now_unix),
    )
    .map_err(refuse)?;
    write_resource(&res, policy, &mut String::new())?.map_err(refuse)?;
    Ok(())
}

// The property test uses proptest, a native-only dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

#[cfg(test)]
mod all_reason_tests {
    use super::Reason;

    #[test]
    fn all_holds_every_reason_once() {
        // A new variant does not compile here until it is added to this match and to ALL.
        let index = |c: Reason| match c {
            Reason::NotDocumentReference => 0,
            Reason::MalformedEntry => 1,
            Reason::DuplicateId => 2,
            Reason::SubjectUnknown => 3,
            Reason::OtherPatient => 4,
            Reason::NotCurrent => 5,
            Reason::TypeUnknown => 6,
            Reason::TypeNotAllowed => 7,
            Reason::PatientBlock => 8,
            Reason::Confidentiality => 9,
            Reason::PurposeRule => 10,
            Reason::Undated => 11,
            Reason::OutsideWindow => 12,
            Reason::CountLimit => 13,
            Reason::UnreadableLabel => 14,
            Reason::UnreadableElement => 15,
            Reason::AmbiguousType => 16,
            Reason::SubjectMismatch => 17,
            Reason::ModifierExtension => 18,
        };
        assert_eq!(Reason::ALL.len(), 19);
        for (i, c) in Reason::ALL.iter().enumerate() {
            assert_eq!(index(*c), i);
        }
    }
}
