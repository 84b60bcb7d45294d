//! The minimisation policy: a versioned JSON document saying which document kinds, for which
//! purpose and profession, within which time window, with which fields, may reach the screen.
//!
//! [`Policy::default_policy`] is the safe default that ships: only the four kinds the
//! document list may show (kjernejournalforskriften: discharge summaries and summaries,
//! radiology reports, referrals, lab results), blocks honoured, `R`/`V` confidentiality only
//! for treatment by physicians, and a projection that never passes inline document content.
//!
//! Fields are named as paths of DocumentReference elements (`content.attachment.title`),
//! checked against the FHIR R4 shapes in [`crate::minimise::schema`]. Version 1 policies
//! (top-level `fields` and `attachmentFields`) are still read, as the paths they meant.

use crate::codes::{CodeSystem, PurposeOfUse};
use crate::error::{Error, ErrorCode, Result};
use crate::json::Obj;
use crate::minimise::schema::Selection;
use serde_json::Value;

/// The policy format version this build writes (it reads 1 and 2).
pub const POLICY_VERSION: u64 = 2;
const CODE: ErrorCode = ErrorCode::InvalidPolicy;

/// Volven 9602, document type codes (canonical form; see [`CodeSystem`] for the others).
pub const SYSTEM_DOCUMENT_TYPE: &str = CodeSystem::DocumentType.canonical();
/// Volven 9603, confidentiality/obligation codes (patient blocks).
pub const SYSTEM_BLOCKS: &str = CodeSystem::Blocks.canonical();
/// HL7 v3 Confidentiality.
pub const SYSTEM_CONFIDENTIALITY: &str = CodeSystem::Confidentiality.canonical();

/// Whether `code` looks like a Volven 9602 code: a capital letter, two digits, `-`, `1` or `2`.
pub fn is_document_type_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 5
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && b[3] == b'-'
        && (b[4] == b'1' || b[4] == b'2')
}

/// The group (`category`) a 9602 subtype belongs to: `A03-2` → `A00-1`; a group is its own.
pub fn document_group(code: &str) -> &'static str {
    const GROUPS: [&str; 26] = [
        "A00-1", "B00-1", "C00-1", "D00-1", "E00-1", "F00-1", "G00-1", "H00-1", "I00-1", "J00-1",
        "K00-1", "L00-1", "M00-1", "N00-1", "O00-1", "P00-1", "Q00-1", "R00-1", "S00-1", "T00-1",
        "U00-1", "V00-1", "W00-1", "X00-1", "Y00-1", "Z00-1",
    ];
    match code.as_bytes().first() {
        Some(c @ b'A'..=b'Z') => GROUPS[usize::from(c - b'A')],
        _ => "",
    }
}

/// One allowed document kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kind {
    /// A 9602 group (`A00-1`) or subtype (`I01-2`) code.
    pub code: String,
    /// The display window in years; `None` is unlimited.
    pub window_years: Option<u32>,
}

/// Who may see entries with a given confidentiality, or entries of given types.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Allow {
    /// Purposes of use allowed (empty: any).
    pub purposes: Vec<PurposeOfUse>,
    /// Volven 9060 authorisations allowed (empty: any, including none).
    pub authorizations: Vec<String>,
    /// Healthcare-service codes allowed (empty: any).
    pub healthcare_services: Vec<String>,
    /// Whether a citizen reading their own record may see these.
    pub citizen: bool,
}

/// A purpose/role rule: entries of these types only for contexts the rule allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeRule {
    /// 9602 codes (groups or subtypes) the rule covers.
    pub types: Vec<String>,
    /// Who may see them.
    pub allow: Allow,
}

/// A validated policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Allowed kinds with their windows.
    pub kinds: Vec<Kind>,
    /// Volven 9603 codes that mean "blocked by the patient".
    pub block_codes: Vec<String>,
    /// Whether the patient still sees their own blocked documents (citizen view).
    pub citizen_sees_own_blocked: bool,
    /// Who may see `R` (restricted) entries.
    pub restricted: Allow,
    /// Who may see `V` (very restricted) entries.
    pub very_restricted: Allow,
    /// Purpose and role rules.
    pub rules: Vec<TypeRule>,
    /// At most this many entries are shown (after all other rules).
    pub max_entries: Option<usize>,
    /// Nothing older than this many years, whatever the kind.
    pub max_age_years: Option<u32>,
    /// DocumentReference elements passed on, as paths (`content.attachment.title`).
    pub fields: Vec<String>,
    /// What the paths select, by FHIR R4 shape.
    pub selection: Selection,
    /// Largest input accepted, in bytes.
    pub max_input_bytes: usize,
    /// Deepest JSON nesting accepted.
    pub max_depth: usize,
}

/// DocumentReference elements FHIR R4 defines; a projection may name only these.
const DOCREF_ELEMENTS: [&str; 22] = [
    "resourceType",
    "id",
    "meta",
    "implicitRules",
    "language",
    "text",
    "contained",
    "extension",
    "masterIdentifier",
    "identifier",
    "status",
    "docStatus",
    "type",
    "category",
    "subject",
    "date",
    "author",
    "authenticator",
    "custodian",
    "relatesTo",
    "description",
    "securityLabel",
];
const DOCREF_MORE: [&str; 2] = ["content", "context"];
const ATTACHMENT_ELEMENTS: [&str; 9] = [
    "contentType",
    "language",
    "data",
    "url",
    "size",
    "hash",
    "title",
    "creation",
    "id",
];

/// The shipped default policy (version 2; `maxInputBytes` is 64 MiB). Kept as text: a
/// `json!` literal of this size costs ~12 KB of wasm code. Its paths are what a clinician's
/// document list shows: the document's id and unique id, kind, date, status, description and
/// labels; whose it is; who wrote it and where (the contained Organization/Practitioner the
/// references point to); of the attachment, what retrieval and display need (type,
/// language, url, size, hash, title, creation; never inline `data`); the content format and
/// the clinical context's period and setting.
const DEFAULT_POLICY: &str = r#"{
    "version": 2,
    "documentKinds": [
        { "code": "A00-1", "windowYears": null },
        { "code": "E00-1", "windowYears": 5 },
        { "code": "I01-2", "windowYears": 1 },
        { "code": "C00-1", "windowYears": 1 }
    ],
    "blocks": { "codes": ["NORS"], "citizenSeesOwn": true },
    "confidentiality": {
        "R": { "purposes": ["TREAT", "ETREAT", "BTG"], "authorizations": ["LE"], "citizen": true },
        "V": { "purposes": ["TREAT"], "authorizations": ["LE"], "citizen": true }
    },
    "rules": [],
    "maxEntries": null,
    "maxAgeYears": null,
    "fields": ["id", "meta.lastUpdated", "meta.security", "contained", "masterIdentifier", "status", "type", "category",
               "subject", "date", "author", "custodian", "description", "securityLabel",
               "content.attachment.contentType", "content.attachment.language", "content.attachment.url",
               "content.attachment.size", "content.attachment.hash", "content.attachment.title",
               "content.attachment.creation", "content.format",
               "context.period", "context.facilityType", "context.practiceSetting"],
    "limits": { "maxInputBytes": 67108864, "maxDepth": 64 }
}"#;

impl Policy {
    /// The shipped default policy, as JSON.
    pub fn default_json() -> Value {
        serde_json::from_str(DEFAULT_POLICY).expect("the default policy is JSON")
    }

    /// The shipped default policy.
    pub fn default_policy() -> Policy {
        Policy::from_json(&Policy::default_json()).expect("the default policy is valid")
    }

    /// Validates a policy document; errors name the JSON path.
    pub fn from_json(v: &Value) -> Result<Policy> {
        let o = Obj::new(v, "$", CODE)?;
        o.only(&[
            "version",
            "documentKinds",
            "blocks",
            "confidentiality",
            "rules",
            "maxEntries",
            "maxAgeYears",
            "fields",
            "attachmentFields",
            "limits",
        ])?;
        let version = match o.opt_u64("version")? {
            Some(v @ (1 | 2)) => v,
            Some(_) => return Err(o.err("version", "this build reads policy versions 1 and 2")),
            None => return Err(o.err("version", "is required")),
        };
        let kinds_arr = o.req_array("documentKinds")?;
        let mut kinds = Vec::new();
        for (i, k) in kinds_arr.iter().enumerate() {
            let ko = Obj::new(k, format!("$.documentKinds[{i}]"), CODE)?;
            ko.only(&["code", "windowYears"])?;
            let code = ko.req_str("code", 8)?;
            if !is_document_type_code(code) {
                return Err(ko.err("code", "must be a Volven 9602 code such as A00-1 or I01-2"));
            }
            let window_years = ko.opt_u64("windowYears")?.map(|y| y.min(200) as u32);
            if kinds.iter().any(|k: &Kind| k.code == code) {
                return Err(ko.err("code", "is listed twice"));
            }
            kinds.push(Kind {
                code: code.to_string(),
                window_years,
            });
        }
        let (block_codes, citizen_sees_own_blocked) = match o.opt_obj("blocks")? {
            Some(b) => {
                b.only(&["codes", "citizenSeesOwn"])?;
                (
                    strings(&b, "codes")?,
                    b.opt_bool("citizenSeesOwn")?.unwrap_or(true),
                )
            }
            None => (vec!["NORS".to_string()], true),
        };
        let (restricted, very_restricted) = match o.opt_obj("confidentiality")? {
            Some(c) => {
                c.only(&["R", "V"])?;
                (
                    c.opt_obj("R")?.map(|a| read_allow(&a)).transpose()?,
                    c.opt_obj("V")?.map(|a| read_allow(&a)).transpose()?,
                )
            }
            None => (None, None),
        };
        // A confidentiality level without an entry is shown to nobody: fail closed.
        let nobody = Allow {
            purposes: vec![],
            authorizations: vec!["--".into()],
            healthcare_services: vec![],
            citizen: false,
        };
        let mut rules = Vec::new();
        if let Some(arr) = o.get("rules") {
            let arr = arr
                .as_array()
                .ok_or_else(|| o.err("rules", "must be an array"))?;
            for (i, r) in arr.iter().enumerate() {
                let ro = Obj::new(r, format!("$.rules[{i}]"), CODE)?;
                ro.only(&["types", "allow"])?;
                let types = strings(&ro, "types")?;
                if types.is_empty() || types.iter().any(|t| !is_document_type_code(t)) {
                    return Err(ro.err("types", "must list Volven 9602 codes"));
                }
                rules.push(TypeRule {
                    types,
                    allow: read_allow(&ro.req_obj("allow")?)?,
                });
            }
        }
        let fields = if version == 1 {
            version1_paths(&o)?
        } else {
            if o.get("attachmentFields").is_some() {
                return Err(o.err(
                    "attachmentFields",
                    "is version 1: name attachment elements as paths in fields (content.attachment.title)",
                ));
            }
            strings(&o, "fields")?
        };
        // `resourceType` is always written; version 1 policies listed it.
        let paths: Vec<String> = fields
            .iter()
            .filter(|f| *f != "resourceType")
            .cloned()
            .collect();
        let selection = Selection::from_paths(&paths).map_err(|(i, rule)| {
            let at = fields
                .iter()
                .enumerate()
                .filter(|(_, f)| *f != "resourceType")
                .nth(i)
                .map_or(i, |(j, _)| j);
            Error::new(CODE, format!("$.fields[{at}]"), rule)
        })?;
        for req in ["id", "subject", "type"] {
            if !paths
                .iter()
                .any(|f| f == req || f.strip_prefix(req).is_some_and(|r| r.starts_with('.')))
            {
                return Err(o.err(
                    "fields",
                    format!("must keep {req}: the screen and the access log need it"),
                ));
            }
        }
        let (max_input_bytes, max_depth) = match o.opt_obj("limits")? {
            Some(l) => {
                l.only(&["maxInputBytes", "maxDepth"])?;
                let b = l
                    .opt_u64("maxInputBytes")?
                    .unwrap_or(crate::limits::BUNDLE.bytes as u64);
                let d = l
                    .opt_u64("maxDepth")?
                    .unwrap_or(crate::limits::BUNDLE.depth as u64);
                if b == 0 || b > 1 << 30 {
                    return Err(l.err("maxInputBytes", "must be 1 byte to 1 GiB"));
                }
                if !(8..=512).contains(&d) {
                    return Err(l.err("maxDepth", "must be 8 to 512"));
                }
                (b as usize, d as usize)
            }
            None => (crate::limits::BUNDLE.bytes, crate::limits::BUNDLE.depth),
        };
        Ok(Policy {
            kinds,
            block_codes,
            citizen_sees_own_blocked,
            restricted: restricted.unwrap_or_else(|| nobody.clone()),
            very_restricted: very_restricted.unwrap_or(nobody),
            rules,
            max_entries: o.opt_u64("maxEntries")?.map(|n| n as usize),
            max_age_years: o.opt_u64("maxAgeYears")?.map(|n| n.min(200) as u32),
            fields: paths,
            selection,
            max_input_bytes,
            max_depth,
        })
    }

    /// The kind an entry of type `code` falls under: the subtype itself if listed, else its group.
    pub fn kind_of(&self, code: &str) -> Option<&Kind> {
        let group = document_group(code);
        self.kinds
            .iter()
            .find(|k| k.code == code)
            .or_else(|| self.kinds.iter().find(|k| k.code == group))
    }
}

/// A version 1 policy's `fields` (top-level elements) and `attachmentFields` as the paths
/// they meant: `content` kept each item's `format` and the listed attachment elements.
fn version1_paths(o: &Obj<'_>) -> Result<Vec<String>> {
    let fields = strings(o, "fields")?;
    for (i, f) in fields.iter().enumerate() {
        if !DOCREF_ELEMENTS.contains(&f.as_str()) && !DOCREF_MORE.contains(&f.as_str()) {
            return Err(Error::new(
                CODE,
                format!("$.fields[{i}]"),
                "is not a DocumentReference element",
            ));
        }
    }
    let attachment_fields = match o.get("attachmentFields") {
        Some(_) => strings(o, "attachmentFields")?,
        None => ["contentType", "url", "size", "title", "creation"]
            .map(String::from)
            .to_vec(),
    };
    for (i, f) in attachment_fields.iter().enumerate() {
        if !ATTACHMENT_ELEMENTS.contains(&f.as_str()) {
            return Err(Error::new(
                CODE,
                format!("$.attachmentFields[{i}]"),
                "is not an Attachment element",
            ));
        }
    }
    let mut paths = Vec::new();
    for f in fields {
        if f == "content" {
            paths.push("content.format".to_string());
            paths.extend(
                attachment_fields
                    .iter()
                    .map(|a| format!("content.attachment.{a}")),
            );
        } else {
            paths.push(f);
        }
    }
    Ok(paths)
}

fn strings(o: &Obj<'_>, key: &str) -> Result<Vec<String>> {
    let arr = o.req_array(key)?;
    arr.iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str()
                .filter(|s| !s.is_empty() && s.len() <= 64)
                .map(String::from)
                .ok_or_else(|| {
                    Error::new(
                        CODE,
                        format!("{}[{i}]", o.at(key)),
                        "must be a non-empty string of at most 64 bytes",
                    )
                })
        })
        .collect()
}

fn read_allow(a: &Obj<'_>) -> Result<Allow> {
    a.only(&[
        "purposes",
        "authorizations",
        "healthcareServices",
        "citizen",
    ])?;
    let purposes = match a.get("purposes") {
        Some(_) => strings(a, "purposes")?
            .iter()
            .enumerate()
            .map(|(i, p)| {
                PurposeOfUse::parse(p, &format!("{}[{i}]", a.at("purposes")))
                    .map_err(|e| Error::new(CODE, e.path(), e.rule()))
            })
            .collect::<Result<Vec<_>>>()?,
        None => vec![],
    };
    let opt = |k: &str| -> Result<Vec<String>> {
        if a.get(k).is_some() {
            strings(a, k)
        } else {
            Ok(vec![])
        }
    };
    Ok(Allow {
        purposes,
        authorizations: opt("authorizations")?,
        healthcare_services: opt("healthcareServices")?,
        citizen: a.opt_bool("citizen")?.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_policy_text_is_current() {
        let v = Policy::default_json();
        assert_eq!(v["version"], POLICY_VERSION);
        assert_eq!(v["limits"]["maxInputBytes"], 64 * 1024 * 1024);
        assert_eq!(Policy::default_policy().max_depth, 64);
    }

    #[test]
    fn default_policy_is_valid_and_legal_kinds_only() {
        let p = Policy::default_policy();
        let codes: Vec<&str> = p.kinds.iter().map(|k| k.code.as_str()).collect();
        assert_eq!(codes, ["A00-1", "E00-1", "I01-2", "C00-1"]);
        assert_eq!(p.kind_of("A03-2").unwrap().window_years, None);
        assert_eq!(p.kind_of("C04-2").unwrap().window_years, Some(1));
        assert_eq!(p.kind_of("I01-2").unwrap().window_years, Some(1));
        assert!(p.kind_of("I02-2").is_none(), "letters are not referrals");
        assert!(
            p.kind_of("B02-2").is_none(),
            "journal notes are not in the document list"
        );
        assert!(
            !p.fields
                .iter()
                .any(|f| f.ends_with(".data") || f == "content.attachment" || f == "content"),
            "inline content never passes"
        );
    }

    fn err(f: impl FnOnce(&mut Value)) -> Error {
        let mut v = Policy::default_json();
        f(&mut v);
        Policy::from_json(&v).unwrap_err()
    }

    #[test]
    fn policy_errors_name_the_path() {
        assert_eq!(err(|v| v["version"] = json!(3)).path(), "$.version");
        assert_eq!(
            err(|v| v["documentKinds"][1]["code"] = json!("E1")).path(),
            "$.documentKinds[1].code"
        );
        assert_eq!(
            err(|v| v["documentKinds"][1]["code"] = json!("A00-1")).rule(),
            "is listed twice"
        );
        assert_eq!(
            err(|v| v["confidentiality"]["R"]["purposes"][0] = json!("HMARKT")).path(),
            "$.confidentiality.R.purposes[0]"
        );
        assert_eq!(
            err(|v| v["fields"] = json!(["resourceType", "id", "subject"])).rule(),
            "must keep type: the screen and the access log need it"
        );
        assert_eq!(
            err(|v| v["fields"][3] = json!("patient")).path(),
            "$.fields[3]"
        );
        assert_eq!(
            err(|v| v["attachmentFields"] = json!(["title"])).path(),
            "$.attachmentFields"
        );
        assert_eq!(
            err(|v| {
                v["version"] = json!(1);
                v["fields"] = json!(["resourceType", "id", "subject", "type", "content"]);
                v["attachmentFields"] = json!(["body"]);
            })
            .path(),
            "$.attachmentFields[0]"
        );
        assert_eq!(
            err(|v| v["fields"][5] = json!("content.attachment.body")).rule(),
            "names an element DocumentReference or its datatypes do not have"
        );
        assert_eq!(
            err(|v| v["fields"][5] = json!("status.value")).rule(),
            "goes below an element that has no members a policy can name"
        );
        assert_eq!(
            err(|v| v["limits"]["maxDepth"] = json!(2)).path(),
            "$.limits.maxDepth"
        );
        assert_eq!(
            err(|v| v["rules"] = json!([{"types": ["X"], "allow": {}}])).path(),
            "$.rules[0].types"
        );
        assert_eq!(err(|v| v["surprise"] = json!(1)).path(), "$.surprise");
        assert_eq!(err(|v| v["rules"] = json!({})).path(), "$.rules");
    }

    #[test]
    fn version_1_fields_are_read_as_the_paths_they_meant() {
        let mut v = Policy::default_json();
        v["version"] = json!(1);
        v["fields"] = json!(["resourceType", "id", "subject", "type", "content", "meta"]);
        v["attachmentFields"] = json!(["title", "url"]);
        let p = Policy::from_json(&v).unwrap();
        assert_eq!(
            p.fields,
            [
                "id",
                "subject",
                "type",
                "content.format",
                "content.attachment.title",
                "content.attachment.url",
                "meta"
            ]
        );
        // Without attachmentFields, version 1's default attachment elements.
        v.as_object_mut().unwrap().remove("attachmentFields");
        assert!(Policy::from_json(&v)
            .unwrap()
            .fields
            .contains(&"content.attachment.creation".to_string()));
    }

    #[test]
    fn missing_confidentiality_is_nobody() {
        let mut v = Policy::default_json();
        v.as_object_mut().unwrap().remove("confidentiality");
        let p = Policy::from_json(&v).unwrap();
        assert!(!p.restricted.citizen && p.restricted.authorizations == ["--"]);
    }

    #[test]
    fn codes() {
        assert!(is_document_type_code("A00-1") && is_document_type_code("I01-2"));
        assert!(
            !is_document_type_code("a00-1")
                && !is_document_type_code("A00-3")
                && !is_document_type_code("A001")
        );
        assert_eq!(document_group("C04-2"), "C00-1");
    }
}
