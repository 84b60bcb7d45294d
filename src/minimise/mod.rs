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
use crate::json::json_error;
use crate::policy::{
    document_group, is_document_type_code, Allow, Policy, SYSTEM_BLOCKS, SYSTEM_CONFIDENTIALITY,
    SYSTEM_DOCUMENT_TYPE,
};
use crate::scan::{Kind, Reader};
use crate::trust::TrustContext;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;

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
    /// A handful at most: a list beats a hash set.
    patients: Vec<&'a str>,
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

/// What the rules read of a DocumentReference, gathered while its text is read. A member
/// that appears more than once counts with its last value, as in `JSON.parse`; a value of
/// the wrong JSON type counts as absent.
#[derive(Clone, Default)]
struct Facts<'a> {
    resource_type: Option<Cow<'a, str>>,
    id: Option<Cow<'a, str>>,
    /// `subject.identifier`, if present.
    subject_identifier: Option<Identifier<'a>>,
    /// `subject.reference`.
    subject_reference: Option<Cow<'a, str>>,
    status: Option<Cow<'a, str>>,
    /// The first Volven 9602 coding of `type` with a well-formed code.
    type_code: Option<Cow<'a, str>>,
    /// The 9602 codes of `category`: the first, and whether another one differs from it.
    category: Option<Cow<'a, str>>,
    category_mixed: bool,
    /// `securityLabel`: a block the policy honours, confidentiality `R`, confidentiality `V`.
    blocked: bool,
    restricted: bool,
    very_restricted: bool,
    date: Option<Cow<'a, str>>,
}

impl Facts<'_> {
    /// The national id `subject` names, if it names one.
    fn subject_id(&self) -> Option<&str> {
        if let Some(id) = &self.subject_identifier {
            NationalIdKind::from_system(id.system.as_deref()?)?;
            return id.value.as_deref();
        }
        let q = self
            .subject_reference
            .as_deref()?
            .strip_prefix("Patient?identifier=")?;
        let (system, value) = q.split_once('|')?;
        NationalIdKind::from_system(system)?;
        Some(value)
    }
}

/// An Identifier's system and value, where they are strings.
#[derive(Clone)]
struct Identifier<'a> {
    system: Option<Cow<'a, str>>,
    value: Option<Cow<'a, str>>,
}

/// What the projection keeps of a kept resource: the policy's fields; of each `content`
/// item, `attachment` and `format`; of an attachment, the policy's attachment fields. The
/// check whether a resource's text is already projected (while it is read) and the
/// projection itself (when it is not) both ask here.
#[derive(Clone, Copy)]
struct Projection<'p> {
    policy: &'p Policy,
    /// The masks of the policy's fields and attachment fields (see [`listed`]).
    fields: u64,
    attachment_fields: u64,
}

impl<'p> Projection<'p> {
    fn new(policy: &'p Policy) -> Self {
        Projection {
            policy,
            fields: mask_of(&policy.fields),
            attachment_fields: mask_of(&policy.attachment_fields),
        }
    }

    fn keeps_field(&self, name: &str) -> bool {
        listed(name, &self.policy.fields, self.fields)
    }

    fn keeps_content_member(name: &str) -> bool {
        name == "attachment" || name == "format"
    }

    fn keeps_attachment_field(&self, name: &str) -> bool {
        listed(name, &self.policy.attachment_fields, self.attachment_fields)
    }
}

/// Reads resources' facts for one policy; `codings` is scratch space reused from one
/// CodeableConcept to the next.
struct FactReader<'a, 'p> {
    policy: &'p Policy,
    projection: Projection<'p>,
    codings: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a, 'p> FactReader<'a, 'p> {
    fn new(policy: &'p Policy) -> Self {
        FactReader {
            policy,
            projection: Projection::new(policy),
            codings: Vec::new(),
        }
    }

    /// Reads a CodeableConcept into `self.codings`: the (system, code) pairs of its last
    /// `coding` member where both are strings.
    fn concept(&mut self, r: &mut Reader<'a>) -> Result<()> {
        let codings = &mut self.codings;
        codings.clear();
        r.object_or_skip(|r, name| {
            if name != "coding" {
                return r.skip().map(drop);
            }
            codings.clear();
            r.array_or_skip(|r| {
                if let [Some(s), Some(c)] = strings_of(r, ["system", "code"])? {
                    codings.push((s, c));
                }
                Ok(())
            })
            .map(drop)
        })
        .map(drop)
    }

    /// Reads a `content` value; says whether the projection would leave it as it is (each
    /// item's members are `attachment` and `format`, the attachment's are attachment fields,
    /// none repeats; what is not an object is left as it is).
    fn content_is_plain(&self, r: &mut Reader<'a>) -> Result<bool> {
        let projection = self.projection;
        let mut plain = true;
        r.array_or_skip(|r| {
            let mut names = Names::new();
            r.object_or_skip(|r, name| {
                plain &= names.add(&name) && Projection::keeps_content_member(&name);
                if name != "attachment" {
                    return r.skip().map(drop);
                }
                let mut names = Names::new();
                r.object_or_skip(|r, name| {
                    plain &= names.add(&name) && projection.keeps_attachment_field(&name);
                    r.skip().map(drop)
                })
                .map(drop)
            })
            .map(drop)
        })?;
        Ok(plain)
    }

    /// Reads member `name` of a resource into `f` if the rules read it; `false` if they do
    /// not (the caller reads the value).
    fn member(&mut self, f: &mut Facts<'a>, name: &str, r: &mut Reader<'a>) -> Result<bool> {
        match name {
            "resourceType" => f.resource_type = r.opt_string()?,
            "id" => f.id = r.opt_string()?,
            "status" => f.status = r.opt_string()?,
            "date" => f.date = r.opt_string()?,
            "subject" => {
                f.subject_identifier = None;
                f.subject_reference = None;
                r.object_or_skip(|r, name| {
                    match name.as_ref() {
                        "identifier" => {
                            let [system, value] = strings_of(r, ["system", "value"])?;
                            f.subject_identifier = Some(Identifier { system, value });
                        }
                        "reference" => f.subject_reference = r.opt_string()?,
                        _ => drop(r.skip()?),
                    }
                    Ok(())
                })?;
            }
            "type" => {
                self.concept(r)?;
                f.type_code = self
                    .codings
                    .drain(..)
                    .find(|(s, c)| s == SYSTEM_DOCUMENT_TYPE && is_document_type_code(c))
                    .map(|(_, c)| c);
            }
            "category" => {
                f.category = None;
                f.category_mixed = false;
                r.array_or_skip(|r| {
                    self.concept(r)?;
                    for (_, c) in self
                        .codings
                        .drain(..)
                        .filter(|(s, _)| s == SYSTEM_DOCUMENT_TYPE)
                    {
                        match &f.category {
                            None => f.category = Some(c),
                            Some(first) => f.category_mixed |= *first != c,
                        }
                    }
                    Ok(())
                })?;
            }
            "securityLabel" => {
                let policy = self.policy;
                (f.blocked, f.restricted, f.very_restricted) = (false, false, false);
                r.array_or_skip(|r| {
                    self.concept(r)?;
                    for (s, c) in self.codings.drain(..) {
                        if s == SYSTEM_BLOCKS && policy.block_codes.iter().any(|b| *b == c) {
                            f.blocked = true;
                        } else if s == SYSTEM_CONFIDENTIALITY {
                            f.restricted |= c == "R";
                            f.very_restricted |= c == "V";
                        }
                    }
                    Ok(())
                })?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The string members `names` of an object (the last of each name; `None` where absent or
/// not a string); a value that is not an object is read and gives none.
fn strings_of<'a, const N: usize>(
    r: &mut Reader<'a>,
    names: [&str; N],
) -> Result<[Option<Cow<'a, str>>; N]> {
    let mut found = [const { None }; N];
    r.object_or_skip(|r, name| match names.iter().position(|n| *n == name) {
        Some(i) => r.opt_string().map(|v| found[i] = v),
        None => r.skip().map(drop),
    })?;
    Ok(found)
}

/// `content[0].attachment.creation`, which stands in for a missing `date`.
fn first_creation<'a>(content: &'a str, policy: &Policy) -> Result<Option<Cow<'a, str>>> {
    let mut r = Reader::new(content, policy.max_depth, "bundle.entry");
    let (mut creation, mut first) = (None, true);
    r.array_or_skip(|r| {
        if !std::mem::take(&mut first) {
            return r.skip().map(drop);
        }
        r.object_or_skip(|r, name| {
            if name != "attachment" {
                return r.skip().map(drop);
            }
            [creation] = strings_of(r, ["creation"])?;
            Ok(())
        })
        .map(drop)
    })?;
    Ok(creation)
}

/// A withholding: the reason and the rule in words.
type Withhold = (Reason, &'static str);

/// The decision for one resource (the per-entry rules, without duplicates and counts).
fn decide(
    f: &Facts<'_>,
    viewer: &Viewer<'_>,
    policy: &Policy,
    today: Day,
) -> core::result::Result<(), Withhold> {
    let w = |reason, rule| Err((reason, rule));
    if f.resource_type.as_deref() != Some("DocumentReference") {
        return w(
            Reason::NotDocumentReference,
            "only DocumentReference entries are shown",
        );
    }
    if !f.id.as_deref().is_some_and(is_fhir_id) {
        return w(Reason::MalformedEntry, "an entry needs a valid FHIR id");
    }
    let Some(subject) = f.subject_id() else {
        return w(
            Reason::SubjectUnknown,
            "the subject is not a national id (fødselsnummer, D- or H-number)",
        );
    };
    if !viewer.patients.contains(&subject) {
        return w(
            Reason::OtherPatient,
            "the subject is not a patient of this trust context",
        );
    }
    if f.status.as_deref() != Some("current") {
        return w(Reason::NotCurrent, "only current documents are shown");
    }
    let Some(type_code) = f.type_code.as_deref() else {
        return w(Reason::TypeUnknown, "no Volven 9602 document type");
    };
    let group = document_group(type_code);
    if f.category_mixed || f.category.as_deref().is_some_and(|c| c != group) {
        return w(
            Reason::MalformedEntry,
            "the 9602 category does not match the type's group",
        );
    }
    let Some(kind) = policy.kind_of(type_code) else {
        return w(
            Reason::TypeNotAllowed,
            "the document kind is not one the policy allows",
        );
    };
    if f.blocked && !(viewer.citizen && policy.citizen_sees_own_blocked) {
        return w(Reason::PatientBlock, "blocked by the patient (Volven 9603)");
    }
    if (f.restricted && !viewer.allowed(&policy.restricted))
        || (f.very_restricted && !viewer.allowed(&policy.very_restricted))
    {
        return w(
            Reason::Confidentiality,
            "confidentiality R/V is not allowed for this purpose and profession",
        );
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
        let Some(date) = f.date.as_deref().and_then(Day::parse) else {
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

/// An object's members in input order, each value as JSON text: the input's own, or
/// rewritten by the projection. A repeated name keeps its first place and its last value,
/// as `JSON.parse` and serde_json's map do.
struct Members<'a> {
    list: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// A bit per name seen (by length and first and last byte): a name whose bit is not set
    /// is new, so most members are added without comparing names.
    seen: u64,
}

/// Writes `"name":`. A name borrowed from the input had no escapes there, so its text is
/// already a valid JSON string's content; a decoded one is escaped again.
#[expect(
    clippy::ptr_arg,
    reason = "the variant says whether the name had escapes"
)]
fn write_name(name: &Cow<'_, str>, out: &mut String) {
    match name {
        Cow::Borrowed(n) => {
            out.push('"');
            out.push_str(n);
            out.push_str("\":");
        }
        Cow::Owned(n) => {
            crate::canon::write_string(n, out);
            out.push(':');
        }
    }
}

/// The bit of `name` in [`Members::seen`].
fn name_bit(name: &str) -> u64 {
    let b = name.as_bytes();
    let h = b.len() as u32 * 31
        + u32::from(*b.first().unwrap_or(&0)) * 7
        + u32::from(*b.last().unwrap_or(&0));
    1 << (h % 64)
}

impl<'a> Members<'a> {
    fn with_capacity(n: usize) -> Self {
        Members {
            list: Vec::with_capacity(n),
            seen: 0,
        }
    }

    /// Reads an object's members as text.
    fn read(r: &mut Reader<'a>) -> Result<Self> {
        let mut m = Members::with_capacity(8);
        r.object(|r, name| {
            let text = r.skip()?;
            m.set(name, Cow::Borrowed(text));
            Ok(())
        })?;
        Ok(m)
    }

    fn get(&self, k: &str) -> Option<&Cow<'a, str>> {
        self.list.iter().find(|(n, _)| n == k).map(|(_, v)| v)
    }

    fn get_mut(&mut self, k: &str) -> Option<&mut Cow<'a, str>> {
        self.list.iter_mut().find(|(n, _)| n == k).map(|(_, v)| v)
    }

    fn set(&mut self, k: Cow<'a, str>, v: Cow<'a, str>) {
        let bit = name_bit(&k);
        if self.seen & bit != 0 {
            if let Some(slot) = self.list.iter_mut().find(|(n, _)| *n == k) {
                slot.1 = v;
                return;
            }
        }
        self.seen |= bit;
        self.list.push((k, v));
    }

    /// Keeps the members `keep` says yes to; returns how many went.
    fn retain(&mut self, keep: impl Fn(&str) -> bool) -> usize {
        let before = self.list.len();
        self.list.retain(|(k, _)| keep(k));
        before - self.list.len()
    }

    fn write(&self, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in self.list.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_name(k, out);
            out.push_str(v);
        }
        out.push('}');
    }
}

/// Member names met in one object, to tell whether any repeats: a bit per name (by length
/// and first and last byte), and the names themselves to compare when a bit is already set.
struct Names<'a> {
    seen: u64,
    list: [&'a str; 32],
    len: usize,
}

impl<'a> Names<'a> {
    fn new() -> Self {
        Names {
            seen: 0,
            list: [""; 32],
            len: 0,
        }
    }

    /// Adds `name`; `false` if it was met before, had escapes, or there are too many to tell.
    #[expect(
        clippy::ptr_arg,
        reason = "the variant says whether the name had escapes"
    )]
    fn add(&mut self, name: &Cow<'a, str>) -> bool {
        let Cow::Borrowed(name) = *name else {
            return false;
        };
        let bit = name_bit(name);
        if self.seen & bit != 0 && self.list[..self.len].contains(&name) {
            return false;
        }
        if self.len == self.list.len() {
            return false;
        }
        self.seen |= bit;
        self.list[self.len] = name;
        self.len += 1;
        true
    }
}

/// Whether `name` is one of `names` (its bit in `mask` first, then a comparison).
fn listed(name: &str, names: &[String], mask: u64) -> bool {
    mask & name_bit(name) != 0 && names.iter().any(|n| n == name)
}

/// The mask of `names` for [`listed`].
fn mask_of(names: &[String]) -> u64 {
    names.iter().fold(0, |m, n| m | name_bit(n))
}

/// A resource as it arrives: the facts the rules read. `plain` says its text can be shown as
/// it is, were the resource kept: every member is one the policy passes on, none
/// repeats, and `content` holds nothing the projection removes. Something that is not an
/// object arrives with no facts, which the rules withhold (rather than fail the whole Bundle
/// for it).
struct Resource<'a> {
    facts: Facts<'a>,
    /// The (last) `content` member's text: its attachment's creation stands in for a date.
    content: Option<&'a str>,
    plain: bool,
}

impl<'a> Resource<'a> {
    fn read(r: &mut Reader<'a>, fr: &mut FactReader<'a, '_>) -> Result<Self> {
        let mut facts = Facts::default();
        let mut content = None;
        if r.peek()? != Kind::Object {
            r.skip()?;
            return Ok(Resource {
                facts,
                content,
                plain: false,
            });
        }
        let mut names = Names::new();
        let mut plain = true;
        r.object(|r, name| {
            plain &= names.add(&name) && fr.projection.keeps_field(&name);
            if name == "content" {
                let start = r.offset();
                plain &= fr.content_is_plain(r)?;
                content = Some(r.since(start));
            } else if !fr.member(&mut facts, &name, r)? {
                r.skip()?;
            }
            Ok(())
        })?;
        Ok(Resource {
            facts,
            content,
            plain,
        })
    }

    /// The per-entry rules' decision.
    fn decide(
        &self,
        viewer: &Viewer<'_>,
        policy: &Policy,
        today: Day,
    ) -> Result<core::result::Result<(), Withhold>> {
        if self.facts.date.is_some() {
            return Ok(decide(&self.facts, viewer, policy, today));
        }
        // The attachment's creation stands in for a missing date.
        let creation = match self.content {
            Some(content) => first_creation(content, policy)?,
            None => None,
        };
        let facts = Facts {
            date: creation,
            ..self.facts.clone()
        };
        Ok(decide(&facts, viewer, policy, today))
    }
}

/// The entry members the minimised Bundle carries.
const ENTRY_MEMBERS: [&str; 3] = ["fullUrl", "resource", "search"];

/// An entry as it arrives: its text and its resource. `plain` says the text can be shown as
/// it is, were the entry kept: its members are among `fullUrl`, `resource` and `search`,
/// none repeats, and the resource is plain. Something that is not an object arrives with no
/// resource.
struct Entry<'a> {
    text: &'a str,
    resource: Option<Resource<'a>>,
    plain: bool,
}

impl<'a> Entry<'a> {
    fn read(r: &mut Reader<'a>, fr: &mut FactReader<'a, '_>) -> Result<Self> {
        let start = r.offset();
        let mut resource = None;
        if r.peek()? != Kind::Object {
            r.skip()?;
            return Ok(Entry {
                text: r.since(start),
                resource,
                plain: false,
            });
        }
        let mut names = Names::new();
        let mut plain = true;
        r.object(|r, name| {
            plain &= names.add(&name) && ENTRY_MEMBERS.contains(&name.as_ref());
            if name == "resource" {
                resource = Some(Resource::read(r, fr)?);
            } else {
                r.skip()?;
            }
            Ok(())
        })?;
        let plain = plain && resource.as_ref().is_some_and(|r| r.plain);
        Ok(Entry {
            text: r.since(start),
            resource,
            plain,
        })
    }

    /// Writes the kept entry: its own text when plain, else its members projected (read
    /// again from its text); returns the number of elements removed.
    fn write(&self, p: Projection<'_>, out: &mut String) -> Result<usize> {
        let policy = p.policy;
        if self.plain {
            out.push_str(self.text);
            return Ok(0);
        }
        let mut r = Reader::new(self.text, policy.max_depth, "bundle.entry");
        let mut em = Members::with_capacity(4);
        let mut rm = Members::with_capacity(16);
        r.object(|r, name| {
            if name == "resource" {
                rm = Members::read(r)?;
                em.set(name, Cow::Borrowed("null"));
            } else {
                let text = r.skip()?;
                em.set(name, Cow::Borrowed(text));
            }
            Ok(())
        })?;
        let removed = project(&mut rm, p)?;
        out.push('{');
        let mut first = true;
        for (k, v) in em
            .list
            .iter()
            .filter(|(k, _)| ENTRY_MEMBERS.contains(&k.as_ref()))
        {
            if !std::mem::take(&mut first) {
                out.push(',');
            }
            write_name(k, out);
            if k == "resource" {
                rm.write(out);
            } else {
                out.push_str(v);
            }
        }
        out.push('}');
        Ok(removed)
    }
}

/// The Bundle members the minimised Bundle carries over (each read once, as text).
const BUNDLE_MEMBERS: [&str; 7] = [
    "resourceType",
    "id",
    "meta",
    "type",
    "timestamp",
    "link",
    "total",
];

/// Projects `content[].attachment` to the policy's attachment fields: the rewritten text and
/// the number of elements removed, or `None` when nothing was.
fn project_content(text: &str, p: Projection<'_>) -> Result<Option<(String, usize)>> {
    let policy = p.policy;
    let mut r = Reader::new(text, policy.max_depth, "bundle.entry");
    if r.peek()? != Kind::Array {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut removed = 0;
    out.push('[');
    r.array(|r| {
        if out.len() > 1 {
            out.push(',');
        }
        if r.peek()? != Kind::Object {
            out.push_str(r.skip()?);
            return Ok(());
        }
        let mut item = Members::read(r)?;
        removed += item.retain(Projection::keeps_content_member);
        if let Some(att) = item.get_mut("attachment") {
            let mut ar = Reader::new(att, policy.max_depth, "bundle.entry");
            if ar.peek()? == Kind::Object {
                let mut a = Members::read(&mut ar)?;
                let n = a.retain(|k| p.keeps_attachment_field(k));
                if n > 0 {
                    removed += n;
                    let mut t = String::with_capacity(att.len());
                    a.write(&mut t);
                    *att = Cow::Owned(t);
                }
            }
        }
        item.write(&mut out);
        Ok(())
    })?;
    out.push(']');
    Ok((removed > 0).then_some((out, removed)))
}

/// Projects a kept resource to the policy's fields; returns the number of elements removed.
fn project(m: &mut Members<'_>, p: Projection<'_>) -> Result<usize> {
    let mut removed = m.retain(|k| p.keeps_field(k));
    if let Some(content) = m.get_mut("content") {
        if let Some((text, n)) = project_content(content, p)? {
            *content = Cow::Owned(text);
            removed += n;
        }
    }
    if removed > 0 {
        // The resource's meta gets the tag (a new meta goes last, as a map insert would).
        let mut holder = Map::new();
        if let Some(meta) = m.get("meta") {
            let meta = serde_json::from_str(meta).map_err(|e| json_error(&e, "bundle.entry"))?;
            holder.insert("meta".into(), meta);
        }
        add_tag(&mut holder, "REDACTED");
        let meta = holder.remove("meta").expect("add_tag makes meta");
        m.set(Cow::Borrowed("meta"), Cow::Owned(meta.to_string()));
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

/// What one pass over the Bundle's text reads: the members carried over (as text) and the
/// entries.
struct BundleIn<'a> {
    members: [Option<&'a str>; BUNDLE_MEMBERS.len()],
    entries: Vec<Entry<'a>>,
}

impl<'a> BundleIn<'a> {
    fn read(text: &'a str, policy: &Policy) -> Result<Self> {
        let mut r = Reader::new(text, policy.max_depth, "bundle");
        let kind = r.peek()?;
        if kind != Kind::Object {
            r.skip()?;
            r.end()?;
            return Err(Error::new(
                ErrorCode::InvalidResource,
                "bundle.resourceType",
                format!("must be Bundle (the input is {})", kind.name()),
            ));
        }
        let mut members = [None; BUNDLE_MEMBERS.len()];
        let mut entries = None;
        let mut fr = FactReader::new(policy);
        r.object(|r, name| {
            let slot = BUNDLE_MEMBERS.iter().position(|m| *m == name);
            let seen = match slot {
                Some(i) => members[i].is_some(),
                None => name == "entry" && entries.is_some(),
            };
            if seen {
                return Err(Error::new(
                    ErrorCode::MalformedJson,
                    format!("bundle.{name}"),
                    "appears more than once",
                ));
            }
            match slot {
                Some(i) => members[i] = Some(r.skip()?),
                None if name == "entry" => {
                    entries = Some(match r.peek()? {
                        Kind::Array => {
                            let mut list = Vec::new();
                            r.array(|r| {
                                list.push(Entry::read(r, &mut fr)?);
                                Ok(())
                            })?;
                            list
                        }
                        Kind::Null => {
                            r.skip()?;
                            Vec::new()
                        }
                        other => {
                            return Err(Error::new(
                                ErrorCode::InvalidResource,
                                "bundle.entry",
                                format!("must be an array, not {}", other.name()),
                            ))
                        }
                    });
                }
                None => {
                    r.skip()?;
                }
            }
            Ok(())
        })?;
        r.end()?;
        Ok(BundleIn {
            members,
            entries: entries.unwrap_or_default(),
        })
    }

    /// A carried-over member, parsed (they are few and small).
    fn member(&self, name: &str) -> Result<Option<Value>> {
        let i = BUNDLE_MEMBERS.iter().position(|m| *m == name);
        match i.and_then(|i| self.members[i]) {
            None => Ok(None),
            Some(text) => serde_json::from_str(text)
                .map(Some)
                .map_err(|e| json_error(&e, "bundle")),
        }
    }
}

/// Minimises a Bundle given as JSON bytes, within the policy's limits. One pass reads the
/// Bundle, its entries and their resources' members without building a tree (see
/// [`crate::scan`]); the members the rules read are parsed, kept members are written out as
/// the input's own text.
pub fn minimise(
    input: &[u8],
    ctx: &TrustContext,
    policy: &Policy,
    now_unix: u64,
) -> Result<Outcome> {
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
    let b = BundleIn::read(text, policy)?;
    if b.member("resourceType")?.as_ref().and_then(Value::as_str) != Some("Bundle") {
        return Err(Error::new(
            ErrorCode::InvalidResource,
            "bundle.resourceType",
            "must be Bundle",
        ));
    }
    let server_total = b.member("total")?.as_ref().and_then(Value::as_u64);
    let viewer = Viewer::new(ctx);
    let today = Day::from_unix(now_unix);
    let projection = Projection::new(policy);

    // How many resources have each id, before any decision (an ordered map: O(n log n)
    // whatever the ids, where a hash map could be made to collide).
    let mut id_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in b
        .entries
        .iter()
        .filter_map(|e| e.resource.as_ref()?.facts.id.as_deref())
    {
        *id_counts.entry(id).or_default() += 1;
    }
    let shared: Vec<&str> = id_counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, _)| id)
        .collect();

    // The kept entries, written one after another as the Bundle's entry array.
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
        let rid = entry.resource.as_ref().and_then(|r| r.facts.id.as_deref());
        let decision = match &entry.resource {
            None => Err((Reason::MalformedEntry, "an entry needs a resource")),
            Some(_)
                if rid
                    .as_ref()
                    .is_some_and(|i| shared.binary_search(i).is_ok()) =>
            {
                Err((
                    Reason::DuplicateId,
                    "several entries share this id; none is shown",
                ))
            }
            Some(resource) => resource.decide(&viewer, policy, today)?,
        };
        let decision = decision.and(match policy.max_entries {
            Some(max) if kept >= max => Err((
                Reason::CountLimit,
                "beyond the policy's maximum number of entries",
            )),
            _ => Ok(()),
        });
        let (reason, rule) = match (decision, &entry.resource) {
            (Ok(()), Some(_)) => {
                if kept > 0 {
                    entries_json.push(',');
                }
                kept += 1;
                stats.elements_removed += entry.write(projection, &mut entries_json)?;
                continue;
            }
            // A decision to keep needs a resource (see above); were that to change, the
            // entry is withheld, never shown.
            (Ok(()), None) => (Reason::MalformedEntry, "an entry needs a resource"),
            (Err(why), _) => why,
        };
        if reason == Reason::OtherPatient {
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
        if let Some(v) = b.member(k)?.filter(|v| !v.is_null()) {
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
    // The same reader as the list's, over the resource's text.
    let text = entry.get("resource").unwrap_or(entry).to_string();
    let mut r = Reader::new(&text, policy.max_depth, "entry");
    let resource = Resource::read(&mut r, &mut FactReader::new(policy))?;
    resource
        .decide(&Viewer::new(ctx), policy, Day::from_unix(now_unix))?
        .map_err(|(reason, rule)| {
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
