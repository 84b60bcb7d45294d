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
use crate::json::{json_error, parse_limited, type_name};
use crate::policy::{
    document_group, is_document_type_code, Allow, Policy, SYSTEM_BLOCKS, SYSTEM_CONFIDENTIALITY,
    SYSTEM_DOCUMENT_TYPE,
};
use crate::trust::TrustContext;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
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
    /// The minimised Bundle as JSON text (kept members are the input's own text).
    pub bundle_json: String,
    /// Every withheld entry.
    pub withheld: Vec<Withheld>,
    /// Entries about a patient the context does not name.
    pub leaks: usize,
    /// Counts.
    pub stats: Stats,
}

impl Outcome {
    /// The minimised Bundle parsed (an error only where the input's own nesting is deeper
    /// than serde_json reads).
    pub fn bundle(&self) -> Result<Value> {
        serde_json::from_str(&self.bundle_json).map_err(|e| json_error(&e, "bundle"))
    }
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

/// The members of a resource the rules read: a parsed resource, or the few members parsed
/// out of one read as text.
trait Fields {
    fn field(&self, k: &str) -> Option<&Value>;
}

impl Fields for Value {
    fn field(&self, k: &str) -> Option<&Value> {
        self.get(k)
    }
}

/// The members the rules read, parsed, by name (a handful: a list beats a hash map).
struct View(Vec<(&'static str, Value)>);

impl Fields for View {
    fn field(&self, k: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| *n == k).map(|(_, v)| v)
    }
}

/// The national id a DocumentReference's `subject` names, if it names one.
fn subject_id(r: &impl Fields) -> Option<&str> {
    let s = r.field("subject")?;
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
    r: &impl Fields,
    viewer: &Viewer<'_>,
    policy: &Policy,
    today: Day,
) -> core::result::Result<(), (Reason, String)> {
    let w = |reason, rule: &str| Err((reason, rule.to_string()));
    if r.field("resourceType").and_then(Value::as_str) != Some("DocumentReference") {
        return w(
            Reason::NotDocumentReference,
            "only DocumentReference entries are shown",
        );
    }
    if !r
        .field("id")
        .and_then(Value::as_str)
        .is_some_and(is_fhir_id)
    {
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
    if r.field("status").and_then(Value::as_str) != Some("current") {
        return w(Reason::NotCurrent, "only current documents are shown");
    }
    let Some(type_code) = r
        .field("type")
        .and_then(|t| {
            codings(t).find(|(s, c)| *s == SYSTEM_DOCUMENT_TYPE && is_document_type_code(c))
        })
        .map(|(_, c)| c)
    else {
        return w(Reason::TypeUnknown, "no Volven 9602 document type");
    };
    let group = document_group(type_code);
    for cat in r
        .field("category")
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
        .field("securityLabel")
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
            .field("date")
            .and_then(Value::as_str)
            .or_else(|| {
                r.field("content")
                    .and_then(|c| c.pointer("/0/attachment/creation"))
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

/// A member's value: the input's own text, or a value rewritten by the projection.
enum Member<'a> {
    Raw(&'a RawValue),
    Parsed(Value),
}

impl Member<'_> {
    /// The value parsed (its text was read once already; parsing it can still meet
    /// serde_json's nesting limit, which is an error, not a panic).
    fn value(&self) -> Result<Value> {
        match self {
            Member::Raw(r) => {
                serde_json::from_str(r.get()).map_err(|e| json_error(&e, "bundle.entry"))
            }
            Member::Parsed(v) => Ok(v.clone()),
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            Member::Raw(r) => out.push_str(r.get()),
            Member::Parsed(v) => out.push_str(&v.to_string()),
        }
    }
}

/// An object's members in input order, values unparsed (a repeated name keeps its first
/// place and its last value, as serde_json's map does).
struct Members<'a>(Vec<(Cow<'a, str>, Member<'a>)>);

impl<'a> Members<'a> {
    fn get(&self, k: &str) -> Option<&Member<'a>> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v)
    }

    fn set(&mut self, k: Cow<'a, str>, v: Member<'a>) {
        match self.0.iter_mut().find(|(n, _)| *n == k) {
            Some(slot) => slot.1 = v,
            None => self.0.push((k, v)),
        }
    }

    /// The members the decision reads, parsed (the rest stays text).
    fn decision_view(&self) -> Result<View> {
        let mut m = Vec::with_capacity(9);
        for k in [
            "resourceType",
            "id",
            "subject",
            "status",
            "type",
            "category",
            "securityLabel",
            "date",
        ] {
            if let Some(v) = self.get(k) {
                m.push((k, v.value()?));
            }
        }
        let mut view = View(m);
        // The attachment's creation stands in for a missing date.
        if !view.field("date").is_some_and(Value::is_string) {
            if let Some(v) = self.get("content") {
                view.0.push(("content", v.value()?));
            }
        }
        Ok(view)
    }

    fn write(&self, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            crate::canon::write_string(k, out);
            out.push(':');
            v.write(out);
        }
        out.push('}');
    }
}

/// A member name, borrowed from the input unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        struct V<'a>(core::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> core::result::Result<Key<'a>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> core::result::Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V(core::marker::PhantomData))
    }
}

/// A resource as it arrives: its members, or something that is not an object (which the
/// rules withhold rather than fail the whole Bundle for).
enum Resource<'a> {
    Object(Members<'a>),
    Other,
}

/// An entry as it arrives: its members (`resource` read as a [`Resource`], the others kept
/// as text), or something that is not an object.
enum Entry<'a> {
    Object {
        members: Members<'a>,
        resource: Option<Resource<'a>>,
    },
    Other,
}

/// Visitor methods for scalars: each is consumed and answered with `$answer`, in which
/// `$kind` names its JSON type.
macro_rules! scalars {
    ($kind:ident => $answer:expr) => {
        fn visit_bool<E>(self, _: bool) -> core::result::Result<Self::Value, E> {
            let $kind = "boolean";
            Ok($answer)
        }
        fn visit_i64<E>(self, _: i64) -> core::result::Result<Self::Value, E> {
            let $kind = "number";
            Ok($answer)
        }
        fn visit_u64<E>(self, _: u64) -> core::result::Result<Self::Value, E> {
            let $kind = "number";
            Ok($answer)
        }
        fn visit_f64<E>(self, _: f64) -> core::result::Result<Self::Value, E> {
            let $kind = "number";
            Ok($answer)
        }
        fn visit_str<E>(self, _: &str) -> core::result::Result<Self::Value, E> {
            let $kind = "string";
            Ok($answer)
        }
    };
}

/// The visitor methods for values that are not objects: consumed and answered with `$other`.
macro_rules! other_values {
    ($other:expr) => {
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> core::result::Result<Self::Value, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok($other)
        }
        fn visit_unit<E>(self) -> core::result::Result<Self::Value, E> {
            Ok($other)
        }
        scalars!(_kind => $other);
    };
}

impl<'de: 'a, 'a> Deserialize<'de> for Resource<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        struct V<'a>(core::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Resource<'a>;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a resource")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> core::result::Result<Resource<'a>, A::Error> {
                let mut m = Members(Vec::with_capacity(16));
                while let Some(Key(k)) = map.next_key::<Key<'a>>()? {
                    let v: &'de RawValue = map.next_value()?;
                    m.set(k, Member::Raw(v));
                }
                Ok(Resource::Object(m))
            }
            other_values!(Resource::Other);
        }
        d.deserialize_any(V(core::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Entry<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        struct V<'a>(core::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Entry<'a>;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("an entry")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> core::result::Result<Entry<'a>, A::Error> {
                let mut members = Members(Vec::with_capacity(4));
                let mut resource = None;
                while let Some(Key(k)) = map.next_key::<Key<'a>>()? {
                    if k == "resource" {
                        // Read in the same pass; its place among the members is kept.
                        resource = Some(map.next_value::<Resource<'a>>()?);
                        members.set(k, Member::Parsed(Value::Null));
                    } else {
                        let v: &'de RawValue = map.next_value()?;
                        members.set(k, Member::Raw(v));
                    }
                }
                Ok(Entry::Object { members, resource })
            }
            other_values!(Entry::Other);
        }
        d.deserialize_any(V(core::marker::PhantomData))
    }
}

/// `Bundle.entry`: the entries, or the JSON type it wrongly is.
enum Entries<'a> {
    List(Vec<Entry<'a>>),
    Wrong(&'static str),
}

impl<'de: 'a, 'a> Deserialize<'de> for Entries<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        struct V<'a>(core::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Entries<'a>;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("an array of entries")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> core::result::Result<Entries<'a>, A::Error> {
                let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(e) = seq.next_element::<Entry<'a>>()? {
                    v.push(e);
                }
                Ok(Entries::List(v))
            }
            fn visit_unit<E>(self) -> core::result::Result<Entries<'a>, E> {
                Ok(Entries::List(Vec::new()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> core::result::Result<Entries<'a>, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Entries::Wrong("object"))
            }
            scalars!(kind => Entries::Wrong(kind));
        }
        d.deserialize_any(V(core::marker::PhantomData))
    }
}

/// The Bundle members minimisation reads; entries are read member by member in the same pass.
#[derive(Deserialize)]
struct BundleIn<'a> {
    #[serde(rename = "resourceType")]
    resource_type: Option<Value>,
    id: Option<Value>,
    meta: Option<Value>,
    #[serde(rename = "type")]
    kind: Option<Value>,
    timestamp: Option<Value>,
    link: Option<Value>,
    total: Option<Value>,
    #[serde(borrow)]
    entry: Option<Entries<'a>>,
}

/// Projects a kept resource to the policy's fields; returns the number of elements removed.
fn project(m: &mut Members<'_>, policy: &Policy) -> Result<usize> {
    let before = m.0.len();
    m.0.retain(|(k, _)| policy.fields.iter().any(|f| f == k));
    let mut removed = before - m.0.len();
    if let Some((_, member)) = m.0.iter_mut().find(|(k, _)| k == "content") {
        let mut content = member.value()?;
        if let Some(content) = content.as_array_mut() {
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
        *member = Member::Parsed(content);
    }
    if removed > 0 {
        // The resource's meta gets the tag (a new meta goes last, as a map insert would).
        let mut holder = Map::new();
        if let Some((_, meta)) = m.0.iter().find(|(k, _)| k == "meta") {
            holder.insert("meta".into(), meta.value()?);
        }
        add_tag(&mut holder, "REDACTED");
        let meta = holder.remove("meta").expect("add_tag makes meta");
        match m.0.iter_mut().find(|(k, _)| k == "meta") {
            Some(slot) => slot.1 = Member::Parsed(meta),
            None => m.0.push((Cow::Borrowed("meta"), Member::Parsed(meta))),
        }
    }
    Ok(removed)
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

/// Minimises a Bundle given as JSON bytes, within the policy's limits. One pass reads the
/// Bundle, its entries and their resources' members without building a tree; the members
/// the rules read are parsed, kept members are written out as the input's own text.
pub fn minimise(
    input: &[u8],
    ctx: &TrustContext,
    policy: &Policy,
    now_unix: u64,
) -> Result<Outcome> {
    let text = core::str::from_utf8(input)
        .map_err(|_| Error::new(ErrorCode::MalformedJson, "bundle", "is not UTF-8"))?;
    crate::json::check_limits(text, policy.max_input_bytes, policy.max_depth, "bundle")?;
    if !text.trim_start().starts_with('{') {
        let v = parse_limited(text, policy.max_input_bytes, policy.max_depth, "bundle")?;
        return Err(Error::new(
            ErrorCode::InvalidResource,
            "bundle.resourceType",
            format!("must be Bundle (the input is {})", type_name(&v)),
        ));
    }
    let b: BundleIn<'_> = serde_json::from_str(text).map_err(|e| json_error(&e, "bundle"))?;
    if b.resource_type.as_ref().and_then(Value::as_str) != Some("Bundle") {
        return Err(Error::new(
            ErrorCode::InvalidResource,
            "bundle.resourceType",
            "must be Bundle",
        ));
    }
    let server_total = b.total.as_ref().and_then(Value::as_u64);
    let entries = match b.entry {
        None => Vec::new(),
        Some(Entries::List(l)) => l,
        Some(Entries::Wrong(t)) => {
            return Err(Error::new(
                ErrorCode::InvalidResource,
                "bundle.entry",
                format!("must be an array, not {t}"),
            ))
        }
    };
    let viewer = Viewer::new(ctx);
    let today = Day::from_unix(now_unix);

    // Each resource's id (a string id, else None), for duplicates, before any decision.
    let ids: Vec<Option<String>> = entries
        .iter()
        .map(|e| match e {
            Entry::Object {
                resource: Some(Resource::Object(m)),
                ..
            } => match m.get("id").map(Member::value) {
                Some(Ok(Value::String(s))) => Some(s),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let mut id_counts: HashMap<&str, usize> = HashMap::new();
    for id in ids.iter().flatten() {
        *id_counts.entry(id).or_default() += 1;
    }

    // The kept entries, written one after another as the Bundle's entry array.
    let mut kept = 0usize;
    let mut entries_json = String::with_capacity(text.len() / 2);
    let mut withheld = Vec::new();
    let mut stats = Stats {
        input: entries.len(),
        server_total,
        ..Stats::default()
    };
    let mut leaks = 0;
    for (index, (entry, rid)) in entries.into_iter().zip(&ids).enumerate() {
        let id = rid
            .as_deref()
            .filter(|s| is_fhir_id(s))
            .map(String::from)
            .unwrap_or_else(|| format!("entry[{index}]"));
        let resource = match &entry {
            Entry::Object { resource, .. } => resource.as_ref(),
            Entry::Other => None,
        };
        let decision = match resource {
            None => Err((
                Reason::MalformedEntry,
                "an entry needs a resource".to_string(),
            )),
            Some(_)
                if rid
                    .as_deref()
                    .is_some_and(|i| id_counts.get(i).copied().unwrap_or(0) > 1) =>
            {
                Err((
                    Reason::DuplicateId,
                    "several entries share this id; none is shown".to_string(),
                ))
            }
            Some(Resource::Object(m)) => decide(&m.decision_view()?, &viewer, policy, today),
            Some(Resource::Other) => decide(&Value::Null, &viewer, policy, today),
        };
        let decision = decision.and_then(|()| match policy.max_entries {
            Some(max) if kept >= max => Err((
                Reason::CountLimit,
                "beyond the policy's maximum number of entries".to_string(),
            )),
            _ => Ok(()),
        });
        match (decision, entry) {
            (
                Ok(()),
                Entry::Object {
                    members: em,
                    resource: Some(Resource::Object(mut rm)),
                },
            ) => {
                stats.elements_removed += project(&mut rm, policy)?;
                if kept > 0 {
                    entries_json.push(',');
                }
                kept += 1;
                let out = &mut entries_json;
                out.push('{');
                let mut first = true;
                for (k, v) in &em.0 {
                    if !matches!(k.as_ref(), "fullUrl" | "resource" | "search") {
                        continue;
                    }
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    crate::canon::write_string(k, out);
                    out.push(':');
                    if k == "resource" {
                        rm.write(out);
                    } else {
                        v.write(out);
                    }
                }
                out.push('}');
            }
            // decide() keeps only DocumentReference objects, so nothing else gets here; were
            // it to, it is withheld, never shown.
            (Ok(()), _) => {
                *stats
                    .by_reason
                    .entry(Reason::MalformedEntry.code())
                    .or_default() += 1;
                withheld.push(Withheld {
                    id,
                    index,
                    reason: Reason::MalformedEntry,
                    rule: "an entry needs a resource object".into(),
                });
            }
            (Err((reason, rule)), _) => {
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
    stats.returned = kept;

    let mut out = Map::new();
    out.insert("resourceType".into(), json!("Bundle"));
    for (k, v) in [
        ("id", b.id),
        ("meta", b.meta),
        ("type", b.kind),
        ("timestamp", b.timestamp),
        ("link", b.link),
    ] {
        if let Some(v) = v.filter(|v| !v.is_null()) {
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
