//! The minimiser's generative test (issue 16): random DocumentReference Bundles, built from
//! a stream of bytes, with a unique canary string planted at a random depth and member and
//! random labels in random legal (and some illegal) shapes. The property:
//!
//! - every entry is kept exactly when the *reference below* says so, and a withheld entry's
//!   reason is one the recipe calls for; the recipe includes the display windows: each entry's
//!   date (or its attachment's creation) is recent, older than some window, undated or
//!   unreadable, under the shipped policy or the same with `maxAgeYears`;
//! - a canary appears in the output only where the shipped policy's projection allows that
//!   exact path, and it does appear there when its entry is kept;
//! - every member in the output is one the shipped policy's paths allow;
//! - no entry of another patient, with disagreeing subject forms or with an unreadable label
//!   is ever kept, and `leaks` counts exactly the entries naming someone else.
//!
//! The reference is written plainly from the shipped policy (docs: SECURITY.md, the default
//! policy in src/policy.rs) and from how each case was built; it shares no code with the
//! minimiser's rules. The same `check` runs as the fuzz target `minimise_generative`
//! (fuzz/fuzz_targets/minimise_generative.rs includes this file).
#![cfg(not(target_arch = "wasm32"))]
#![allow(dead_code)]

use serde_json::{json, Value};
use tillit::minimise::{minimise_with, Options};
use tillit::policy::Policy;
use tillit::trust::TrustContext;

/// The patient every search is for; another patient the same context names; a third.
pub const A: &str = "04818500012";
pub const B: &str = "09818500189";
pub const C: &str = "05818500051";
const FNR: &str = "urn:oid:2.16.578.1.12.4.1.4.1";
/// 2026-06-15T00:00:00Z.
pub const NOW: u64 = 1_781_481_600;

/// The forms each code system may be written in (the reference's own list).
const CONF_FORMS: [&str; 3] = [
    "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
    "urn:oid:2.16.840.1.113883.5.25",
    "http://hl7.org/fhir/v3/Confidentiality",
];
const BLOCK_FORMS: [&str; 2] = [
    "urn:oid:2.16.578.1.12.4.1.1.9603",
    "http://helsedir.no/fhir/CodeSystem/no-kodeverk-9603",
];
const TYPE_FORMS: [&str; 2] = [
    "urn:oid:2.16.578.1.12.4.1.1.9602",
    "http://helsedir.no/fhir/CodeSystem/no-kodeverk-9602",
];

/// Bytes as choices; zeros when they run out.
pub struct Src<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Src<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Src { data, pos: 0 }
    }
    fn pick(&mut self, n: usize) -> usize {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        usize::from(b) % n
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.pick(one_in) == 0
    }
}

/// Who looks: what each may see of R, V and NORS under the shipped policy.
#[derive(Clone, Copy, Debug)]
enum Viewer {
    TreatPhysician,
    CocPhysician,
    TreatNurse,
    Citizen,
}

impl Viewer {
    fn sees_r(self) -> bool {
        matches!(self, Viewer::TreatPhysician | Viewer::Citizen)
    }
    fn sees_v(self) -> bool {
        matches!(self, Viewer::TreatPhysician | Viewer::Citizen)
    }
    fn sees_nors(self) -> bool {
        matches!(self, Viewer::Citizen)
    }
    fn context(self) -> Value {
        if let Viewer::Citizen = self {
            return json!({"type": "tillit:citizen", "citizen": {"identifier": {"id": A, "system": FNR}}});
        }
        let (purpose, auth) = match self {
            Viewer::CocPhysician => ("COC", "LE"),
            Viewer::TreatNurse => ("TREAT", "SP"),
            _ => ("TREAT", "LE"),
        };
        json!({
            "type": "nhn:tillitsrammeverk:parameters",
            "practitioner": {
                "identifier": {"id": "07818500100", "system": FNR},
                "hpr_nr": {"id": "9144900", "system": "urn:oid:2.16.578.1.12.4.1.4.4"},
                "authorization": {"code": auth, "system": "urn:oid:2.16.578.1.12.4.1.1.9060"},
                "legal_entity": {"id": "974760673", "system": "urn:oid:2.16.578.1.12.4.1.4.101", "name": "Testsykehuset HF"},
                "point_of_care": {"id": "974760673", "system": "urn:oid:2.16.578.1.12.4.1.4.101"},
                "department": {"id": "705592", "system": "urn:oid:2.16.578.1.12.4.1.4.102"}
            },
            "care_relationship": {
                "healthcare_service": {"code": "S03", "system": "urn:oid:2.16.578.1.12.4.1.1.8655"},
                "purpose_of_use": {"code": purpose, "system": "urn:oid:2.16.840.1.113883.1.11.20448"},
                "purpose_of_use_details": {"code": "BEHANDLER", "system": "urn:AuditEventHL7Norway/CodeSystem/carerelation"},
                "decision_ref": {"id": "dec-123", "description": "Innlagt pasient", "user_selected": false}
            },
            // Two patients in one context: the search is for A, B's documents are leaks.
            "patients": [{"identifier": {"id": A, "system": FNR}}, {"identifier": {"id": B, "system": FNR}}]
        })
    }
}

/// One built entry: its JSON, the reasons its recipe calls for (empty: kept), whether it
/// names someone other than A, and its canary (the path it should be found at when kept
/// and allowed, or `None` when the projection must drop it).
pub struct Built {
    entry: Value,
    reasons: Vec<&'static str>,
    leak: bool,
    canary: String,
    canary_path: Option<&'static str>,
}

fn base(id: &str, type_code: &str) -> Value {
    json!({
        "resourceType": "DocumentReference",
        "id": id,
        "contained": [
            {"resourceType": "Organization", "id": "org", "name": "Testsykehuset HF", "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.101", "value": "974760673"}]},
            {"resourceType": "Practitioner", "id": "pr", "name": [{"text": "Lege Legesen"}]}
        ],
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:oid:1.2.3.{id}")},
        "status": "current",
        "type": {"coding": [{"system": TYPE_FORMS[0], "code": type_code}]},
        "category": [{"coding": [{"system": TYPE_FORMS[0], "code": format!("{}00-1", &type_code[..1])}]}],
        "subject": {"identifier": {"system": FNR, "value": A}},
        "date": "2026-03-01T12:00:00+01:00",
        "author": [{"reference": "#org"}, {"reference": "#pr"}],
        "custodian": {"reference": "#org"},
        "content": [{"attachment": {"contentType": "application/pdf", "title": "Dokument", "url": format!("https://src.example/mhd/document?documentUniqueId={id}"), "size": 2048, "creation": "2026-03-01T12:00:00+01:00"}}]
    })
}

/// Where a canary may be planted: the path it is found at when allowed (`None`: the shipped
/// projection drops it), whether the plant makes the entry unreadable, and the plant.
type Plant = (Option<&'static str>, bool, fn(&mut Value, &str));

fn plants() -> Vec<Plant> {
    fn r(e: &mut Value) -> &mut Value {
        &mut e["resource"]
    }
    vec![
        (Some("description"), false, |e, c| {
            r(e)["description"] = json!(c)
        }),
        (Some("masterIdentifier.value"), false, |e, c| {
            r(e)["masterIdentifier"]["value"] = json!(c)
        }),
        (Some("masterIdentifier.assigner.display"), false, |e, c| {
            r(e)["masterIdentifier"]["assigner"] = json!({"display": c})
        }),
        (None, false, |e, c| {
            r(e)["masterIdentifier"]["extension"] = json!([{"url": "urn:x", "valueString": c}])
        }),
        (Some("content.attachment.title"), false, |e, c| {
            r(e)["content"][0]["attachment"]["title"] = json!(c)
        }),
        (Some("content.attachment.url"), false, |e, c| {
            r(e)["content"][0]["attachment"]["url"] = json!(c)
        }),
        (None, false, |e, c| {
            r(e)["content"][0]["attachment"]["data"] = json!(c)
        }),
        (None, false, |e, c| {
            r(e)["content"][0]["attachment"]["extension"] =
                json!([{"url": "urn:x", "valueString": c}])
        }),
        (
            None,
            false,
            |e, c| r(e)["content"][0]["format"] = json!({"system": "urn:x", "code": "x", "extension": [{"url": "urn:x", "valueAttachment": {"data": c}}]}),
        ),
        (Some("content.format.display"), false, |e, c| {
            r(e)["content"][0]["format"] = json!({"system": "urn:x", "code": "x", "display": c})
        }),
        (None, false, |e, c| r(e)["content"][0]["note"] = json!(c)),
        (None, false, |e, c| {
            r(e)["meta"]["extension"] = json!([{"url": "urn:x", "valueString": c}])
        }),
        (None, false, |e, c| {
            r(e)["meta"]["tag"] = json!([{"system": "urn:x", "code": c}])
        }),
        (None, false, |e, c| r(e)["meta"]["versionId"] = json!(c)),
        (Some("meta.lastUpdated"), false, |e, c| {
            r(e)["meta"]["lastUpdated"] = json!(c)
        }),
        (None, false, |e, c| {
            r(e)["text"] = json!({"status": "generated", "div": c})
        }),
        (None, false, |e, c| {
            r(e)["identifier"] = json!([{"system": "urn:x", "value": c}])
        }),
        (Some("author.display"), false, |e, c| {
            r(e)["author"][0]["display"] = json!(c)
        }),
        (None, false, |e, c| {
            r(e)["author"][0]["extension"] = json!([{"url": "urn:x", "valueString": c}])
        }),
        (Some("subject.display"), false, |e, c| {
            if let Some(s) = r(e)["subject"].as_object_mut() {
                s.insert("display".into(), json!(c));
            }
        }),
        (None, false, |e, c| {
            if let Some(i) = r(e)["subject"]
                .get_mut("identifier")
                .and_then(Value::as_object_mut)
            {
                i.insert(
                    "extension".into(),
                    json!([{"url": "urn:x", "valueString": c}]),
                );
            }
        }),
        (Some("type.text"), false, |e, c| {
            r(e)["type"]["text"] = json!(c)
        }),
        (None, false, |e, c| {
            if let Some(cd) = r(e)["type"]["coding"]
                .get_mut(0)
                .and_then(Value::as_object_mut)
            {
                cd.insert(
                    "extension".into(),
                    json!([{"url": "urn:x", "valueString": c}]),
                );
            }
        }),
        (Some("category.text"), false, |e, c| {
            r(e)["category"][0]["text"] = json!(c)
        }),
        (Some("custodian.identifier.value"), false, |e, c| {
            r(e)["custodian"]["identifier"] = json!({"system": "urn:x", "value": c})
        }),
        (Some("context.period.start"), false, |e, c| {
            r(e)["context"]["period"] = json!({"start": c})
        }),
        (None, false, |e, c| {
            r(e)["context"]["sourcePatientInfo"] = json!({"display": c})
        }),
        (None, false, |e, c| {
            r(e)["context"]["encounter"] = json!([{"display": c}])
        }),
        (None, false, |e, c| {
            r(e)["context"]["related"] = json!([{"display": c}])
        }),
        (None, false, |e, c| {
            r(e)["relatesTo"] = json!([{"code": "replaces", "target": {"display": c}}])
        }),
        (None, false, |e, c| {
            r(e)["extension"] = json!([{"url": "urn:x", "valueString": c}])
        }),
        (
            None,
            false,
            |e, c| {
                r(e)["_description"] = json!({"extension": [{"url": "urn:x", "valueString": c}]})
            },
        ),
        (None, false, |e, c| r(e)["docStatus"] = json!(c)),
        (Some("contained.name"), false, |e, c| {
            r(e)["contained"][0]["name"] = json!(c)
        }),
        (Some("contained.name.text"), false, |e, c| {
            r(e)["contained"][1]["name"][0]["text"] = json!(c)
        }),
        (None, false, |e, c| {
            r(e)["contained"][1]["identifier"] = json!([{"system": FNR, "value": c}])
        }),
        (None, false, |e, c| {
            r(e)["contained"][0]["telecom"] = json!([{"value": c}])
        }),
        (None, false, |e, c| {
            r(e)["contained"]
                .as_array_mut()
                .unwrap()
                .push(json!({"resourceType": "Organization", "id": "org2", "name": c}))
        }),
        (None, false, |e, c| {
            r(e)["contained"].as_array_mut().unwrap().push(json!({"resourceType": "Binary", "id": "bin", "contentType": "application/pdf", "data": c}))
        }),
        (
            None,
            false,
            |e, c| {
                e["search"] =
                    json!({"mode": "match", "extension": [{"url": "urn:x", "valueString": c}]})
            },
        ),
        (None, false, |e, c| {
            e["request"] = json!({"method": "GET", "url": c})
        }),
        // Shapes the datatypes do not have: the entry is unreadable.
        (None, true, |e, c| {
            r(e)["content"] = json!({"attachment": {"title": c}})
        }),
        (None, true, |e, c| {
            r(e)["content"][0]["attachment"] = json!([{"title": c}])
        }),
        (None, true, |e, c| r(e)["author"] = json!({"display": c})),
        (None, true, |e, c| r(e)["description"] = json!([c])),
        (None, true, |e, c| {
            r(e)["content"][0]["attachment"]["size"] = json!(c)
        }),
        (None, true, |e, c| {
            r(e)["masterIdentifier"] = json!([{"value": c}])
        }),
    ]
}

/// Builds entry `i` from `src`.
fn build(i: usize, src: &mut Src<'_>, viewer: Viewer) -> Built {
    let id = format!("d{i}");
    let mut reasons = Vec::new();
    let type_code = ["A03-2", "E01-2", "C01-2", "B02-2"][src.pick(4)];
    if type_code == "B02-2" {
        reasons.push("TYPE_NOT_ALLOWED");
    }
    let mut entry = json!({"fullUrl": format!("https://api.example/R4/fhir/DocumentReference/{id}"), "resource": base(&id, type_code)});
    let res = &mut entry["resource"];
    // The type's shape and forms.
    match src.pick(6) {
        0 => res["type"]["coding"][0]["system"] = json!(TYPE_FORMS[1]),
        1 => {
            // Two 9602 codings of different kinds.
            res["type"]["coding"]
                .as_array_mut()
                .unwrap()
                .push(json!({"system": TYPE_FORMS[src.pick(2)], "code": "B02-2"}));
            reasons.push("AMBIGUOUS_TYPE");
        }
        2 => res["category"][0]["coding"][0]["code"] = json!("Z00-1"),
        3 => {
            res["type"]["coding"] = json!({"system": TYPE_FORMS[0], "code": type_code});
            reasons.push("UNREADABLE_ELEMENT");
        }
        _ => {}
    }
    if res["category"][0]["coding"][0]["code"] == "Z00-1" {
        reasons.push("AMBIGUOUS_TYPE");
    }
    // The subject's forms.
    let mut leak = false;
    match src.pick(10) {
        0 => {}
        1 => {
            res["subject"]["identifier"]["value"] = json!(B);
            reasons.push("OTHER_PATIENT");
            leak = true;
        }
        2 => {
            res["subject"]["identifier"]["value"] = json!(C);
            reasons.push("OTHER_PATIENT");
            leak = true;
        }
        3 => res["subject"] = json!({"reference": format!("Patient?identifier={FNR}|{A}")}),
        4 => {
            res["subject"]["reference"] = json!(format!("Patient?identifier={FNR}|{B}"));
            reasons.push("SUBJECT_MISMATCH");
            leak = true;
        }
        5 | 6 => {
            let who = if src.chance(2) { A } else { B };
            res["subject"]["reference"] = json!("#p");
            res["contained"].as_array_mut().unwrap().push(json!({"resourceType": "Patient", "id": "p", "identifier": [{"system": FNR, "value": who}]}));
            if who != A {
                reasons.push("SUBJECT_MISMATCH");
                leak = true;
            }
        }
        7 => {
            res["subject"]["reference"] = json!("Patient/123");
            reasons.push("SUBJECT_UNKNOWN");
        }
        8 => {
            res["subject"]["identifier"]["system"] = json!("urn:oid:2.16.578.1.12.4.1.4.9");
            reasons.push("SUBJECT_UNKNOWN");
        }
        _ => {
            res["subject"] = json!([{"identifier": {"system": FNR, "value": A}}]);
            reasons.push("SUBJECT_UNKNOWN");
        }
    }
    // Labels: 0 to 3, each in a random legal or illegal shape, system in a random form.
    for _ in 0..src.pick(4) {
        let (system, code) = match src.pick(8) {
            0 => (CONF_FORMS[src.pick(3)], "N"),
            1 => (CONF_FORMS[src.pick(3)], "R"),
            2 => (CONF_FORMS[src.pick(3)], "V"),
            3 => (BLOCK_FORMS[src.pick(2)], "NORS"),
            4 => (BLOCK_FORMS[src.pick(2)], "NORU"),
            5 => (CONF_FORMS[src.pick(3)], "X"),
            6 => ("urn:oid:1.2.3.4", "R"),
            _ => (CONF_FORMS[src.pick(3)], "L"),
        };
        let coding = json!({"system": system, "code": code});
        let shape = src.pick(8);
        let legal = shape < 4;
        let in_meta = src.chance(2);
        let target = if in_meta {
            let meta = res
                .as_object_mut()
                .unwrap()
                .entry("meta")
                .or_insert(json!({}));
            if !meta.is_object() {
                *meta = json!({});
            }
            meta.as_object_mut()
                .unwrap()
                .entry("security")
                .or_insert(json!([]))
        } else {
            res.as_object_mut()
                .unwrap()
                .entry("securityLabel")
                .or_insert(json!([]))
        };
        let item = if in_meta {
            match shape {
                4 => json!({"system": system}),
                5 => json!({"system": system, "code": 7}),
                6 => json!(code),
                _ => coding.clone(),
            }
        } else {
            match shape {
                4 => json!({"coding": coding.clone()}),
                5 => json!({"coding": [{"system": system, "code": 7}]}),
                6 => json!({"text": code}),
                _ => json!({"coding": [coding.clone()]}),
            }
        };
        match (shape, target.as_array_mut()) {
            (7, _) => *target = item, // an object where an array belongs
            (_, Some(a)) => a.push(item),
            (_, None) => *target = item,
        }
        if !legal || !target.is_array() {
            reasons.push("UNREADABLE_LABEL");
        } else {
            match (system, code) {
                (s, "R") if CONF_FORMS.contains(&s) && !viewer.sees_r() => {
                    reasons.push("CONFIDENTIALITY")
                }
                (s, "V") if CONF_FORMS.contains(&s) && !viewer.sees_v() => {
                    reasons.push("CONFIDENTIALITY")
                }
                (s, "X") if CONF_FORMS.contains(&s) => reasons.push("UNREADABLE_LABEL"),
                (s, "NORS") if BLOCK_FORMS.contains(&s) && !viewer.sees_nors() => {
                    reasons.push("PATIENT_BLOCK")
                }
                _ => {}
            }
        }
    }
    // A modifier extension, somewhere.
    if src.chance(8) {
        match src.pick(3) {
            0 => res["modifierExtension"] = json!([{"url": "urn:x", "valueBoolean": true}]),
            1 => {
                res["content"][0]["modifierExtension"] =
                    json!([{"url": "urn:x", "valueBoolean": true}])
            }
            _ => {
                res["context"] =
                    json!({"modifierExtension": [{"url": "urn:x", "valueBoolean": true}]})
            }
        }
        reasons.push("MODIFIER_EXTENSION");
    }
    // The canary.
    let canary = format!("CANARY-{i}-{}", src.pick(256));
    let all = plants();
    let (path, unreadable, plant) = all[src.pick(all.len())];
    plant(&mut entry, &canary);
    if unreadable {
        reasons.push("UNREADABLE_ELEMENT");
    }
    // The date: in `date`, or only in the attachment's creation, or nowhere; the window
    // reasons are the reference's (`date_reasons`), once the policy is chosen.
    let res = &mut entry["resource"];
    match src.pick(8) {
        0 => {}
        1 => res["date"] = json!("2024-11-20"),
        2 => res["date"] = json!("2022-01-10T08:00:00Z"),
        3 => res["date"] = json!("2015"),
        4 => drop(res.as_object_mut().unwrap().remove("date")),
        5 => {
            res.as_object_mut().unwrap().remove("date");
            if let Some(a) = res
                .pointer_mut("/content/0/attachment")
                .and_then(Value::as_object_mut)
            {
                a.insert("creation".into(), json!("2019-05-05T10:00:00Z"));
            }
        }
        6 => {
            res.as_object_mut().unwrap().remove("date");
            if let Some(a) = res
                .pointer_mut("/content/0/attachment")
                .and_then(Value::as_object_mut)
            {
                a.remove("creation");
            }
        }
        _ => res["date"] = json!(["01.03.2026", "2026-3-1", "i fjor"][src.pick(3)]),
    }
    Built {
        entry,
        reasons,
        leak,
        canary,
        canary_path: path,
    }
}

/// Every place `needle` occurs as a string value (or member name) in `v`, as dotted paths
/// without array indices.
fn find(v: &Value, needle: &str, at: &str, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.contains(needle) => out.push(at.to_string()),
        Value::Array(a) => a.iter().for_each(|x| find(x, needle, at, out)),
        Value::Object(o) => {
            for (k, x) in o {
                let p = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                if k.contains(needle) {
                    out.push(p.clone());
                }
                find(x, needle, &p, out);
            }
        }
        _ => {}
    }
}

/// Every leaf path (no array indices) of `v`.
fn leaves(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| leaves(x, at, out)),
        Value::Object(o) => {
            for (k, x) in o {
                leaves(
                    x,
                    &if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    },
                    out,
                );
            }
        }
        _ => out.push(at.to_string()),
    }
}

/// Whether the shipped policy passes on a leaf at `path` (written out from its paths and the
/// FHIR R4 datatypes, plainly).
fn allowed_leaf(path: &str, resource_type_of_contained: Option<&str>) -> bool {
    let segs: Vec<&str> = path.split('.').collect();
    if segs.iter().any(|s| {
        matches!(*s, "extension" | "modifierExtension" | "data" | "div") || s.starts_with('_')
    }) {
        return false;
    }
    let rest = segs[1..].join(".");
    let coding = |p: &str| {
        matches!(
            p,
            "system" | "version" | "code" | "display" | "userSelected"
        )
    };
    let cc = |p: &str| p == "text" || p.strip_prefix("coding.").is_some_and(coding);
    let identifier = |p: &str| {
        matches!(
            p,
            "use" | "system" | "value" | "period.start" | "period.end"
        ) || p.strip_prefix("type.").is_some_and(cc)
            || p.strip_prefix("assigner.").is_some_and(|q| {
                matches!(q, "reference" | "type" | "display") || q.starts_with("identifier.")
            })
    };
    let reference = |p: &str| {
        matches!(p, "reference" | "type" | "display")
            || p.strip_prefix("identifier.").is_some_and(identifier)
    };
    match segs[0] {
        "resourceType" | "id" | "status" | "date" | "description" => segs.len() == 1,
        "meta" => rest == "lastUpdated" || rest.strip_prefix("security.").is_some_and(coding),
        "masterIdentifier" => identifier(&rest),
        "type" => cc(&rest),
        "category" | "securityLabel" => cc(&rest),
        "subject" | "author" | "custodian" => reference(&rest),
        "content" => {
            rest.strip_prefix("attachment.").is_some_and(|a| {
                matches!(
                    a,
                    "contentType" | "language" | "url" | "size" | "hash" | "title" | "creation"
                )
            }) || rest.strip_prefix("format.").is_some_and(coding)
        }
        "context" => {
            matches!(rest.as_str(), "period.start" | "period.end")
                || rest.strip_prefix("facilityType.").is_some_and(cc)
                || rest.strip_prefix("practiceSetting.").is_some_and(cc)
        }
        "contained" => match resource_type_of_contained {
            Some("Organization") => {
                matches!(rest.as_str(), "resourceType" | "id" | "name")
                    || rest.strip_prefix("identifier.").is_some_and(identifier)
            }
            Some("Practitioner") => {
                matches!(rest.as_str(), "resourceType" | "id")
                    || rest.strip_prefix("name.").is_some_and(|n| {
                        matches!(
                            n,
                            "use"
                                | "text"
                                | "family"
                                | "given"
                                | "prefix"
                                | "suffix"
                                | "period.start"
                                | "period.end"
                        )
                    })
            }
            Some("Patient") => {
                matches!(rest.as_str(), "resourceType" | "id")
                    || rest.strip_prefix("identifier.").is_some_and(identifier)
            }
            _ => false,
        },
        _ => false,
    }
}

/// The display window in years of a document of `type_code` under the shipped policy
/// (documentKinds: A00-1 none, E00-1 five years, C00-1 one), narrowed by `max_age`.
fn window_years(type_code: &str, max_age: Option<u32>) -> Option<u32> {
    let kind = match &type_code[..1] {
        "E" => Some(5),
        "C" => Some(1),
        _ => None,
    };
    match (kind, max_age) {
        (Some(k), Some(m)) => Some(k.min(m)),
        (k, m) => k.or(m),
    }
}

/// A FHIR date or dateTime as (year, month, day) (a partial date at its first day), or
/// `None` when it is not one.
fn ymd(s: &str) -> Option<(u32, u32, u32)> {
    let num = |t: &str, n: usize| -> Option<u32> {
        (t.len() == n && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok())?
    };
    let day = s.split('T').next()?;
    let mut parts = day.split('-');
    let y = num(parts.next()?, 4)?;
    let m = parts.next().map_or(Some(1), |t| num(t, 2))?;
    let d = parts.next().map_or(Some(1), |t| num(t, 2))?;
    (parts.next().is_none() && (1..=12).contains(&m) && (1..=31).contains(&d)).then_some((y, m, d))
}

/// What the display window says of a built entry, read from the entry as it stands: its
/// `date`, else its first attachment's `creation`; unreadable withholds whatever the window.
/// NOW is 2026-06-15, so N years back is 2026 - N, June 15th.
fn date_reasons(entry: &Value, max_age: Option<u32>) -> Vec<&'static str> {
    let r = &entry["resource"];
    let stated = match r.get("date") {
        Some(d) => Some(d),
        None => r.pointer("/content/0/attachment/creation"),
    };
    let day = match stated {
        None => None,
        Some(v) => match v.as_str().and_then(ymd) {
            Some(day) => Some(day),
            None => return vec!["UNREADABLE_ELEMENT"],
        },
    };
    let Some(years) = window_years(
        r["type"]["coding"][0]["code"].as_str().unwrap_or("A03-2"),
        max_age,
    ) else {
        return vec![];
    };
    match day {
        None => vec!["UNDATED"],
        Some(day) if day < (2026 - years, 6, 15) => vec!["OUTSIDE_WINDOW"],
        Some(_) => vec![],
    }
}

/// Builds a Bundle from `data`, minimises it and checks the property; panics on a violation.
/// Returns the reasons the recipe called for, entry by entry (empty: kept).
pub fn check(data: &[u8]) -> Vec<Vec<&'static str>> {
    let mut src = Src::new(data);
    let viewer = [
        Viewer::TreatPhysician,
        Viewer::CocPhysician,
        Viewer::TreatNurse,
        Viewer::Citizen,
    ][src.pick(4)];
    let n = src.pick(9);
    let mut built: Vec<Built> = (0..n).map(|i| build(i, &mut src, viewer)).collect();
    // The shipped policy, or the same with every document at most three years old.
    let max_age = (src.pick(3) == 1).then_some(3);
    for b in &mut built {
        let more = date_reasons(&b.entry, max_age);
        b.reasons.extend(more);
    }
    let bundle = json!({"resourceType": "Bundle", "type": "searchset", "total": n, "entry": built.iter().map(|b| b.entry.clone()).collect::<Vec<_>>()});
    let text = serde_json::to_vec(&bundle).unwrap();
    let ctx = TrustContext::from_json(&viewer.context()).unwrap();
    let mut policy_json = Policy::default_json();
    policy_json["maxAgeYears"] = json!(max_age);
    let policy = Policy::from_json(&policy_json).unwrap();
    let out = minimise_with(
        &text,
        &ctx,
        &policy,
        NOW,
        &Options {
            patient: Some(A),
            earlier_ids: &[],
        },
    )
    .expect("a well-formed Bundle minimises");
    let result: Value = serde_json::from_str(&out.bundle_json).expect("the output is JSON");
    let kept = result["entry"].as_array().unwrap();
    assert_eq!(
        kept.len() + out.withheld.len(),
        n,
        "every entry is kept or withheld"
    );
    for (i, b) in built.iter().enumerate() {
        let id = format!("d{i}");
        let k = kept.iter().find(|e| e["resource"]["id"] == json!(id));
        let w = out.withheld.iter().find(|w| w.id == id);
        match (b.reasons.is_empty(), k, w) {
            (true, Some(_), None) => {}
            (false, None, Some(w)) => assert!(
                b.reasons.contains(&w.reason.code()),
                "{id}: withheld for {} but the recipe calls for {:?}\n{}",
                w.reason.code(),
                b.reasons,
                b.entry
            ),
            _ => panic!(
                "{id}: kept {} / withheld {:?}, but the recipe calls for {:?} ({:?})\n{}",
                k.is_some(),
                w.map(|w| w.reason.code()),
                b.reasons,
                viewer,
                b.entry
            ),
        }
        let mut at = Vec::new();
        find(&result, &b.canary, "", &mut at);
        match (k, b.canary_path) {
            (Some(_), Some(p)) => assert_eq!(
                at,
                [format!("entry.resource.{p}")],
                "{id}: the canary where the policy keeps it, once"
            ),
            _ => assert!(
                at.is_empty(),
                "{id}: the canary leaked at {at:?}\n{}",
                b.entry
            ),
        }
    }
    for e in kept {
        assert_eq!(
            e.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["fullUrl", "resource"]
        );
        let r = e["resource"].as_object().unwrap();
        for (k, v) in r {
            if k == "contained" {
                for c in v.as_array().unwrap() {
                    let rt = c["resourceType"].as_str();
                    let mut ls = Vec::new();
                    leaves(c, "contained", &mut ls);
                    for l in ls {
                        assert!(
                            allowed_leaf(&l, rt),
                            "{l} ({rt:?}) is not in the shipped projection"
                        );
                    }
                }
                continue;
            }
            let mut ls = Vec::new();
            leaves(v, k, &mut ls);
            for l in ls {
                // The REDACTED tag the minimiser adds is meta.security's own.
                assert!(
                    allowed_leaf(&l, None),
                    "{l} is not in the shipped projection"
                );
            }
        }
        assert!(
            !(r["subject"].to_string().contains(B) || r["subject"].to_string().contains(C)),
            "another patient's subject is never kept"
        );
    }
    assert_eq!(
        out.leaks,
        built.iter().filter(|b| b.leak).count(),
        "leaks count the entries naming someone else"
    );
    built.into_iter().map(|b| b.reasons).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]
        #[test]
        fn canaries_appear_only_where_the_policy_allows(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            check(&data);
        }
    }

    #[test]
    fn every_plant_and_shape_is_reached() {
        // Each plant once, on an otherwise clean entry, for a treating physician.
        for p in 0..plants().len() {
            // viewer 0, one entry, type A03-2, plain type, subject A, no labels, no modifier,
            // canary byte, plant p.
            check(&[0, 1, 0, 5, 0, 0, 1, 7, p as u8]);
        }
    }

    #[test]
    fn every_date_case_meets_its_window() {
        // Each date case for each allowed kind (A03-2 unlimited, E01-2 five years, C01-2 one)
        // under both policies, on an otherwise clean entry for a treating physician: the
        // reference's verdicts must include every window outcome, or this test proves less.
        assert!(!plants()[0].1, "plant 0 keeps the entry readable");
        let mut seen = std::collections::BTreeMap::new();
        for date in 0..8u8 {
            for kind in 0..3u8 {
                for policy in [0u8, 1] {
                    let mut data = vec![0, 1, kind, 5, 0, 0, 1, 7, 0, date];
                    if date == 7 {
                        data.push(0); // the first unreadable form
                    }
                    data.push(policy);
                    let verdict = check(&data).concat();
                    *seen.entry(verdict).or_insert(0) += 1;
                }
            }
        }
        let verdicts: Vec<_> = seen.keys().cloned().collect();
        assert_eq!(
            verdicts,
            [
                vec![],
                vec!["OUTSIDE_WINDOW"],
                vec!["UNDATED"],
                vec!["UNREADABLE_ELEMENT"]
            ],
            "{seen:?}"
        );
    }
}
