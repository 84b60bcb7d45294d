//! Log control over the chain: the current view of each look-up, queries, the reports the
//! organisation's follow-up needs, and the citizen's "who looked at my record".

use super::event::DETAIL_SYSTEM;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// Each look-up once, in the order the look-ups began: its completion if one is stored,
/// else its pending record. A completion stands for the pending record of the same id that
/// is not yet completed, and only if it names the same patients, user and action; any other
/// record (a second pending record with an id in use, a completion without its pending
/// record, or one that names someone else) is a look-up of its own: a later record never
/// hides an earlier look-up.
pub fn events(records: &[Value]) -> Vec<&Value> {
    let mut slots: Vec<&Value> = Vec::new();
    // Open look-ups: id → slot of its pending record.
    let mut open: HashMap<&str, usize> = HashMap::new();
    for r in records {
        if r.get("kind").and_then(Value::as_str) != Some("event") {
            continue;
        }
        let Some(ev) = r.get("body") else { continue };
        let Some(id) = ev.get("id").and_then(Value::as_str) else {
            continue;
        };
        if ev.get("outcome").is_none() {
            // A pending record: a new look-up (a reused id does not replace the open one).
            slots.push(ev);
            open.entry(id).or_insert(slots.len() - 1);
            continue;
        }
        match open.get(id).copied() {
            Some(at) if same_look_up(slots[at], ev) => {
                slots[at] = ev;
                open.remove(id);
            }
            _ => slots.push(ev),
        }
    }
    slots
}

/// Whether a completion is of the same look-up as a pending record: the same patients,
/// user and action.
fn same_look_up(pending: &Value, done: &Value) -> bool {
    patients(pending).eq(patients(done))
        && user_id(pending) == user_id(done)
        && action(pending) == action(done)
}

/// A query over look-ups; every given field must match.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// The patient's national id.
    pub patient: Option<String>,
    /// The practitioner's HPR number (or national id when they have none).
    pub practitioner: Option<String>,
    /// Recorded at or after (RFC 3339, UTC).
    pub from: Option<String>,
    /// Recorded before (RFC 3339, UTC).
    pub to: Option<String>,
    /// Purpose of use code.
    pub purpose: Option<String>,
    /// `search`, `read` or `token`.
    pub action: Option<String>,
}

/// The user agent (`requestor: true`) of an AuditEvent.
pub fn user(ev: &Value) -> Option<&Value> {
    ev.get("agent")?
        .as_array()?
        .iter()
        .find(|a| a.get("requestor").and_then(Value::as_bool) == Some(true))
}

/// The user's identifier (HPR number, or national id when they have none): the user agent's
/// `who.identifier`, else (a record in HL7 Norway's profile alone) the identifier of the
/// Practitioner behind the PractitionerRole its `who` references, the HPR number first.
pub fn user_id(ev: &Value) -> Option<&str> {
    let u = user(ev)?;
    if let Some(id) = u.pointer("/who/identifier/value") {
        return id.as_str();
    }
    let role = contained(ev, u.get("who")?)?;
    let ids = contained(ev, role.get("practitioner")?)?
        .get("identifier")?
        .as_array()?;
    ids.iter()
        .find(|i| i.get("system").and_then(Value::as_str) == Some(crate::ident::SYSTEM_HPR))
        .or(ids.first())?
        .get("value")?
        .as_str()
}

/// The contained resource a local reference (`{ "reference": "#id" }`) points at.
fn contained<'a>(ev: &'a Value, reference: &Value) -> Option<&'a Value> {
    let id = reference.get("reference")?.as_str()?.strip_prefix('#')?;
    ev.get("contained")?
        .as_array()?
        .iter()
        .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
}

/// The extension of an AuditEvent with `url`.
fn extension<'a>(ev: &'a Value, url: &str) -> Option<&'a Value> {
    ev.get("extension")?
        .as_array()?
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(url))
}

fn entity_patients(ev: &Value) -> impl Iterator<Item = &str> {
    ev.get("entity")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.pointer("/role/code").and_then(Value::as_str) == Some("1"))
        .filter_map(|e| e.pointer("/what/identifier/value").and_then(Value::as_str))
}

/// The patients' national ids an AuditEvent names: its patient entities (role 1), else (a
/// record in HL7 Norway's profile alone) the Patient its patient extension references.
pub fn patients(ev: &Value) -> impl Iterator<Item = &str> {
    let norway = || {
        let p = contained(
            ev,
            extension(ev, super::norway::EXT_PATIENT)?.get("valueReference")?,
        )?;
        p.pointer("/identifier/0/value")?.as_str()
    };
    entity_patients(ev).chain(
        std::iter::once(())
            .filter(move |()| entity_patients(ev).next().is_none())
            .filter_map(move |()| norway()),
    )
}

/// The purpose of use code (`None` for a citizen's own look-up): the `purposeOfEvent` coding
/// in the PurposeOfUse system (any of its names), else the first coding.
pub fn purpose(ev: &Value) -> Option<&str> {
    let codings = || {
        ev.get("purposeOfEvent")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("coding").and_then(Value::as_array))
            .flatten()
    };
    codings()
        .find(|c| {
            c.get("system")
                .and_then(Value::as_str)
                .is_some_and(|s| crate::codes::CodeSystem::PurposeOfUse.is(s))
        })
        .or_else(|| codings().next())?
        .get("code")?
        .as_str()
}

/// `search`, `read` or `token`: by the IHE transaction (ITI-67, ITI-68) among the subtypes;
/// a record without one (another system's, e.g. in HL7 Norway's profile alone) by its
/// RESTful interaction or `action` (`E` search, `R` read), unless it is a token request.
pub fn action(ev: &Value) -> &'static str {
    let subtypes = || {
        ev.get("subtype")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("code").and_then(Value::as_str))
    };
    if let Some(a) = subtypes().find_map(|c| match c {
        "ITI-67" => Some("search"),
        "ITI-68" => Some("read"),
        _ => None,
    }) {
        return a;
    }
    if subtypes().any(|c| c == "token-request") {
        return "token";
    }
    match ev.get("action").and_then(Value::as_str) {
        Some("E") => "search",
        Some("R") => "read",
        _ => "token",
    }
}

/// A care-relationship detail (`decision_ref`, `user_selected`, …) of an AuditEvent: from
/// the care-relationship entity (role 13), else (a record in HL7 Norway's profile alone) from
/// the care-relation metadata extension (`decision_ref`, `decision_description`,
/// `user_selected`).
pub fn care_detail<'a>(ev: &'a Value, kind: &str) -> Option<&'a str> {
    let from_entity = ev
        .get("entity")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.pointer("/role/code").and_then(Value::as_str) == Some("13"))
        .flat_map(|e| {
            e.get("detail")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .find(|d| d.get("type").and_then(Value::as_str) == Some(kind))
        .and_then(|d| d.get("valueString").and_then(Value::as_str));
    if from_entity.is_some() || has_care_entity(ev) {
        return from_entity;
    }
    let sub = |url: &str| {
        extension(ev, super::norway::EXT_CARE_RELATION)?
            .get("extension")?
            .as_array()?
            .iter()
            .find(|e| e.get("url").and_then(Value::as_str) == Some(url))
    };
    match kind {
        "decision_ref" => sub("decision-ref-id")?.get("valueString")?.as_str(),
        "decision_description" => sub("decision-ref-description")?
            .get("valueString")?
            .as_str(),
        "user_selected" => match sub("decision-ref-user-selected")?.get("valueBoolean")? {
            Value::Bool(true) => Some("true"),
            Value::Bool(false) => Some("false"),
            _ => None,
        },
        _ => None,
    }
}

/// Whether the AuditEvent has a care-relationship entity (then it alone is read).
fn has_care_entity(ev: &Value) -> bool {
    ev.get("entity")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|e| e.pointer("/role/code").and_then(Value::as_str) == Some("13"))
}

/// PJD's access basis the look-up was sent with, if any.
fn access_basis(ev: &Value) -> Option<&str> {
    ev.get("entity")?
        .as_array()?
        .iter()
        .find(|e| {
            e.pointer("/type/code").and_then(Value::as_str) == Some(super::event::ACCESS_BASIS_CODE)
        })?
        .pointer("/what/identifier/value")?
        .as_str()
}

/// When the AuditEvent was recorded (RFC 3339), or empty.
pub fn recorded(ev: &Value) -> &str {
    ev.get("recorded").and_then(Value::as_str).unwrap_or("")
}

/// The look-ups matching `f`.
pub fn query<'a>(records: &'a [Value], f: &Filter) -> Vec<&'a Value> {
    events(records)
        .into_iter()
        .filter(|ev| {
            f.patient
                .as_deref()
                .is_none_or(|p| patients(ev).any(|x| x == p))
        })
        .filter(|ev| {
            f.practitioner
                .as_deref()
                .is_none_or(|p| user_id(ev) == Some(p))
        })
        .filter(|ev| f.from.as_deref().is_none_or(|t| recorded(ev) >= t))
        .filter(|ev| f.to.as_deref().is_none_or(|t| recorded(ev) < t))
        .filter(|ev| f.purpose.as_deref().is_none_or(|p| purpose(ev) == Some(p)))
        .filter(|ev| f.action.as_deref().is_none_or(|a| action(ev) == a))
        .collect()
}

/// The follow-up reports: look-ups without a decision reference, emergency access for
/// review, practitioners above `volume_threshold` look-ups in one day, and look-ups whose
/// outcome was never recorded (the request may have been sent).
pub fn report(records: &[Value], volume_threshold: usize) -> Value {
    let evs = events(records);
    let summary = |ev: &Value| {
        json!({
            "id": ev.get("id"), "recorded": recorded(ev), "action": action(ev), "practitioner": user_id(ev),
            "purpose": purpose(ev), "decisionRef": care_detail(ev, "decision_ref"),
            "userSelected": care_detail(ev, "user_selected") == Some("true"),
            "accessBasis": access_basis(ev),
        })
    };
    let citizen = |ev: &Value| purpose(ev).is_none();
    let missing: Vec<Value> = evs
        .iter()
        .filter(|ev| !citizen(ev) && care_detail(ev, "decision_ref").is_none())
        .map(|ev| summary(ev))
        .collect();
    let emergency: Vec<Value> = evs
        .iter()
        // Emergency purposes, and PJD's raised access bases (FORHOYET_*: blocked data opened).
        .filter(|ev| {
            matches!(purpose(ev), Some("ETREAT" | "BTG"))
                || access_basis(ev).is_some_and(|b| b.starts_with("FORHOYET_"))
        })
        .map(|ev| summary(ev))
        .collect();
    let self_granted: Vec<Value> = evs
        .iter()
        .filter(|ev| care_detail(ev, "user_selected") == Some("true"))
        .map(|ev| summary(ev))
        .collect();
    let pending: Vec<Value> = evs
        .iter()
        .filter(|ev| ev.get("outcome").is_none())
        .map(|ev| summary(ev))
        .collect();
    let mut per_day: BTreeMap<(String, String), usize> = BTreeMap::new();
    for ev in evs
        .iter()
        .filter(|ev| !citizen(ev) && action(ev) != "token")
    {
        if let Some(u) = user_id(ev) {
            *per_day
                .entry((
                    u.to_string(),
                    recorded(ev).get(..10).unwrap_or("").to_string(),
                ))
                .or_default() += 1;
        }
    }
    let volume: Vec<Value> = per_day
        .into_iter()
        .filter(|(_, n)| *n > volume_threshold)
        .map(|((p, day), n)| json!({ "practitioner": p, "day": day, "lookUps": n }))
        .collect();
    json!({
        "lookUps": evs.len(),
        "missingDecisionRef": missing,
        "emergencyAccess": emergency,
        "selfGranted": self_granted,
        "unusualVolume": volume,
        "outcomeUnknown": pending,
    })
}

/// "Who looked at my record": for one patient, when, who (name), as what (profession), from
/// which organisation, and why. Never the practitioner's national id.
pub fn citizen_report(records: &[Value], patient: &str) -> Vec<Value> {
    events(records)
        .into_iter()
        .filter(|ev| patients(ev).any(|p| p == patient) && action(ev) != "token")
        .map(|ev| {
            let u = user(ev);
            let is_citizen = purpose(ev).is_none();
            // A record in HL7 Norway's profile alone names the user through the contained
            // PractitionerRole: its Practitioner (name, qualification) and point of care.
            let pr_role = u.and_then(|u| contained(ev, u.get("who")?));
            let pr = pr_role.and_then(|r| contained(ev, r.get("practitioner")?));
            let name = u
                .and_then(|u| u.pointer("/who/display"))
                .or_else(|| pr?.pointer("/name/0/text"))
                .and_then(Value::as_str);
            let role = u
                .and_then(|u| u.pointer("/role/0/coding/0"))
                .or_else(|| pr?.pointer("/qualification/0/code/coding/0"))
                .map(|c| c.get("display").or(c.get("code")).cloned().unwrap_or(Value::Null));
            let poc = || {
                let loc = contained(ev, pr_role?.pointer("/location/0")?)?;
                contained(ev, loc.get("managingOrganization")?)
            };
            let org = u
                .and_then(|u| u.get("location"))
                .map(|l| l.get("display").or(l.pointer("/identifier/value")))
                .or_else(|| poc().map(|o| o.get("name").or(o.pointer("/identifier/0/value"))))
                .map(|v| v.cloned().unwrap_or(Value::Null));
            json!({
                "when": recorded(ev),
                "what": if action(ev) == "search" { "documentList" } else { "document" },
                "who": if is_citizen { json!("you (or someone you represent)") } else { json!(name.unwrap_or("health-care practitioner (name not recorded)")) },
                "role": role,
                "organisation": org,
                "purpose": purpose(ev),
                "why": care_detail(ev, "decision_description"),
                "outcome": ev.get("outcome"),
            })
        })
        .collect()
}

/// A FHIR R4 `collection` Bundle of the current AuditEvents.
pub fn bundle(records: &[Value]) -> Value {
    let entries: Vec<Value> = events(records).into_iter().map(|ev| json!({ "fullUrl": format!("urn:uuid:{}", ev["id"].as_str().unwrap_or("")), "resource": ev })).collect();
    json!({ "resourceType": "Bundle", "type": "collection", "entry": entries, "meta": { "tag": [{ "system": DETAIL_SYSTEM, "code": "access-log" }] } })
}
