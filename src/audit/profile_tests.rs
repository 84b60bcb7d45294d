//! The records against the rules of the two profiles they claim, as explicit assertions:
//! HL7 Norway's `no-domain-Trustframework-Auditevent` and IHE BALP. Each rule cites the
//! file it comes from.

use super::event::{build, Action, Completion, LookUp, Outcome};
use super::norway::{EXT_CARE_RELATION, EXT_PATIENT, PROFILE};
use crate::trust::tests::{sample, synthetic_fnr};
use crate::trust::TrustContext;
use serde_json::{json, Value};

const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const DIPS: &str = "https://terminology.dips.com/decisiontemplate";
const VOLVEN_9151: &str = "urn:oid:2.16.578.1.12.4.1.1.9151";

fn arr(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// The agent that made the look-up (`requestor: true`).
fn requestor(ev: &Value) -> &Value {
    arr(&ev["agent"])
        .iter()
        .find(|a| a["requestor"] == true)
        .expect("the user agent")
}

/// The contained resource a local reference (`#id`) points at.
fn resolve<'a>(ev: &'a Value, reference: &Value) -> &'a Value {
    let r = reference["reference"]
        .as_str()
        .unwrap_or_else(|| panic!("a reference: {reference}"));
    let id = r
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("a local reference: {r}"));
    let found: Vec<&Value> = arr(&ev["contained"])
        .iter()
        .filter(|c| c["id"] == id)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{r} resolves to exactly one contained resource"
    );
    found[0]
}

fn typed<'a>(ev: &'a Value, reference: &Value, resource_type: &str) -> &'a Value {
    let r = resolve(ev, reference);
    assert_eq!(
        r["resourceType"], resource_type,
        "{reference} is a {resource_type}"
    );
    r
}

/// Identifier 1..* with a system and a value each.
fn has_identifiers(r: &Value) {
    let ids = arr(&r["identifier"]);
    assert!(!ids.is_empty(), "identifier 1..*: {r}");
    for i in ids {
        assert!(i["system"].is_string() && i["value"].is_string(), "{i}");
    }
}

/// Asserts HL7 Norway's trust-framework AuditEvent profile.
pub fn assert_norway(ev: &Value) {
    // sushi-config.yaml (canonical http://hl7.no/fhir) and the profile's Id:
    // HL7Norway/AuditEvent, igs/AuditEvent/sushi-config.yaml;
    // igs/AuditEvent/input/fsh/no-domain-Trustframework-Auditevent.fsh (`Id: no-domain-Trustframework-Auditevent`).
    assert!(
        arr(&ev["meta"]["profile"]).contains(&json!(PROFILE)),
        "meta.profile names the Norway profile"
    );
    assert_eq!(
        PROFILE,
        "http://hl7.no/fhir/StructureDefinition/no-domain-Trustframework-Auditevent"
    );
    let exts = arr(&ev["extension"]);
    let by_url = |u: &str| exts.iter().filter(|e| e["url"] == u).collect::<Vec<_>>();
    // no-domain-Trustframework-Auditevent.fsh: `AuditEventPatientExtension named _patient
    // 1..1`, `value[x] only Reference(AuditeventPatient)`; no-domain-Trustframework-Patient.fsh:
    // `identifier 1..*`.
    assert_eq!(
        EXT_PATIENT,
        "http://hl7.no/fhir/StructureDefinition/auditevent-patient-extension"
    );
    let patient = by_url(EXT_PATIENT);
    assert_eq!(patient.len(), 1, "_patient 1..1");
    let p = typed(ev, &patient[0]["valueReference"], "Patient");
    has_identifiers(p);
    // no-domain-Trustframework-Auditevent.fsh: `AuditEventCareRelationMetaData named
    // _careRelationMetaData 0..1`; its `extension contains decision-ref-id 1..1 and
    // decision-ref-description 1..1 and decision-ref-user-selected 1..1 and toa 1..1`, typed
    // string, string, boolean, unsignedInt.
    let care = by_url(EXT_CARE_RELATION);
    assert!(care.len() <= 1, "_careRelationMetaData 0..1");
    if let Some(c) = care.first() {
        assert!(c.get("valueReference").is_none() && c.as_object().unwrap().len() == 2);
        let subs = arr(&c["extension"]);
        assert_eq!(subs.len(), 4, "exactly the four sub-extensions: {c}");
        for (url, ty) in [
            ("decision-ref-id", "valueString"),
            ("decision-ref-description", "valueString"),
            ("decision-ref-user-selected", "valueBoolean"),
            ("toa", "valueUnsignedInt"),
        ] {
            let s: Vec<_> = subs.iter().filter(|s| s["url"] == url).collect();
            assert_eq!(s.len(), 1, "{url} 1..1");
            assert_eq!(
                s[0].as_object().unwrap().len(),
                2,
                "{url}: url and one value"
            );
            let v = &s[0][ty];
            match ty {
                "valueString" => assert!(v.as_str().is_some_and(|s| !s.is_empty()), "{url}"),
                "valueBoolean" => assert!(v.is_boolean(), "{url}"),
                // FHIR R4 unsignedInt: 0 to 2^31-1.
                _ => assert!(v.as_u64().is_some_and(|n| n <= 2_147_483_647), "{url}"),
            }
        }
    }
    // no-domain-Trustframework-Auditevent.fsh: `agent.who 1..1`, `agent.who only
    // Reference(AuditeventPractitionerrole)`. The rule is on every agent: an agent's `who`
    // that is a literal reference must be a PractitionerRole; BALP's client and server
    // agents carry logical references (an identifier or a display), which name no type.
    let agents = arr(&ev["agent"]);
    for a in agents {
        assert!(a["who"].is_object(), "agent.who 1..1: {a}");
        assert!(
            a["who"].get("type").is_none_or(|t| t == "PractitionerRole"),
            "agent.who only Reference(PractitionerRole)"
        );
    }
    let user = requestor(ev);
    let role = typed(ev, &user["who"], "PractitionerRole");
    // no-domain-Trustframework-PractitionerRole.fsh: `practitioner 1..1` (AuditEventNorwayPractitioner),
    // `organization 1..1` (AuditeventDepartment or AuditeventPractitionerLegalentity),
    // `location 1..1` (AuditeventPractitionerPointofcare).
    let practitioner = typed(ev, &role["practitioner"], "Practitioner");
    // no-domain-Trustframework-Practitioner.fsh: `identifier 1..*`.
    has_identifiers(practitioner);
    let org = typed(ev, &role["organization"], "Organization");
    has_identifiers(org);
    // no-doc-Trustframework.fsh, AuditeventDepartment: `partOf only
    // Reference(AuditeventPractitionerLegalentity)`.
    if let Some(part_of) = org.get("partOf") {
        let legal = typed(ev, part_of, "Organization");
        assert_eq!(
            legal["identifier"][0]["system"],
            crate::ident::SYSTEM_ORGNR,
            "the legal entity by organisation number"
        );
    }
    let locations = arr(&role["location"]);
    assert_eq!(locations.len(), 1, "PractitionerRole.location 1..1");
    let location = typed(ev, &locations[0], "Location");
    // no-doc-Trustframework.fsh, AuditeventPractitionerPointofcare: `managingOrganization
    // only Reference(AuditeventPractitionerPointofcareOrganization)`.
    let poc = typed(ev, &location["managingOrganization"], "Organization");
    has_identifiers(poc);
    // no-domain-Trustframework-Auditevent.fsh: `purposeOfEvent.coding` sliced by value,
    // `PURPOSE_OF_USE_VALUESET 1..1` from http://terminology.hl7.org/ValueSet/v3-PurposeOfUse,
    // `DIPS_DECISIONTEMPLATE 0..1` from https://terminology.dips.com/decisiontemplate,
    // `VOLVEN_9151 0..1` from urn:oid:2.16.578.1.12.4.1.1.9151; open.
    for pe in arr(&ev["purposeOfEvent"]) {
        let codings = arr(&pe["coding"]);
        let count = |sys: &str| codings.iter().filter(|c| c["system"] == sys).count();
        assert_eq!(count(ACT_REASON), 1, "PURPOSE_OF_USE_VALUESET 1..1: {pe}");
        let pou = codings.iter().find(|c| c["system"] == ACT_REASON).unwrap();
        // v3-PurposeOfUse holds these four of the trust framework's (and more).
        assert!(["TREAT", "ETREAT", "COC", "BTG"].contains(&pou["code"].as_str().unwrap()));
        assert!(count(DIPS) <= 1, "DIPS_DECISIONTEMPLATE 0..1");
        assert!(count(VOLVEN_9151) <= 1, "VOLVEN_9151 0..1");
    }
    assert!(!arr(&ev["purposeOfEvent"]).is_empty());
    dom3(ev);
}

/// FHIR R4 AuditEvent (DomainResource) dom-3: every contained resource is referenced from
/// elsewhere in the resource; dom-2: contained resources hold no contained resources.
fn dom3(ev: &Value) {
    let text = serde_json::to_string(ev).unwrap();
    for c in arr(&ev["contained"]) {
        let id = c["id"].as_str().expect("a contained resource has an id");
        assert!(
            text.contains(&format!("\"reference\":\"#{id}\"")),
            "dom-3: #{id} is referenced"
        );
        assert!(c.get("contained").is_none(), "dom-2");
    }
}

fn context(f: impl FnOnce(&mut Value)) -> TrustContext {
    let mut v = sample(&synthetic_fnr(1));
    v["practitioner"]["identifier"]["name"] = json!("Lege Lise Lauritzen");
    f(&mut v);
    TrustContext::from_json(&v).unwrap()
}

fn event(tc: &TrustContext, action: Action, outcome: Outcome) -> Value {
    let l = LookUp {
        id: "e1",
        action,
        trust_context: tc,
        client_id: "tillit-ehr",
        server: "https://api.pjd.test.nhn.no",
        transaction_id: "tx-1",
        query: (action == Action::Search).then_some("patient.identifier=x"),
        document_id: (action == Action::Read).then_some("1.2.3^4.5.6"),
        token_jti: Some("jti-1"),
        access_basis: None,
        recorded: "2026-06-01T10:00:00.000Z",
    };
    build(&l, outcome, &Completion::default()).unwrap()
}

fn ext<'a>(ev: &'a Value, url: &str) -> Option<&'a Value> {
    arr(&ev["extension"]).iter().find(|e| e["url"] == url)
}

fn sub<'a>(care: &'a Value, url: &str) -> &'a Value {
    arr(&care["extension"])
        .iter()
        .find(|e| e["url"] == url)
        .unwrap()
}

#[test]
fn a_practitioners_look_ups_follow_the_norway_profile() {
    let toa = 1_780_000_000u64;
    let full = context(|v| {
        v["toa"] = json!(toa);
        v["practitioner"]["point_of_care"] = json!({"id": "874716782", "system": "urn:oid:2.16.578.1.12.4.1.4.101", "name": "Testsykehuset somatikk"});
    });
    for action in [Action::Search, Action::Read, Action::Token] {
        for outcome in [Outcome::Pending, Outcome::Success, Outcome::Failure] {
            let ev = event(&full, action, outcome);
            assert_norway(&ev);
            // The attestation's values, where the profile maps them.
            let care = ext(&ev, EXT_CARE_RELATION).expect("all four parts given");
            assert_eq!(sub(care, "decision-ref-id")["valueString"], "dec-123");
            assert_eq!(
                sub(care, "decision-ref-description")["valueString"],
                "Innlagt pasient"
            );
            assert_eq!(
                sub(care, "decision-ref-user-selected")["valueBoolean"],
                false
            );
            assert_eq!(sub(care, "toa")["valueUnsignedInt"], toa);
            let p = resolve(&ev, &ext(&ev, EXT_PATIENT).unwrap()["valueReference"]);
            assert_eq!(p["identifier"][0]["value"], synthetic_fnr(1));
            let role = resolve(&ev, &requestor(&ev)["who"]);
            let pr = resolve(&ev, &role["practitioner"]);
            assert_eq!(pr["identifier"][0]["value"], "9144900");
            assert_eq!(pr["qualification"][0]["code"]["coding"][0]["code"], "LE");
            let dept = resolve(&ev, &role["organization"]);
            assert_eq!(dept["identifier"][0]["value"], "705592");
            let legal = resolve(&ev, &dept["partOf"]);
            assert_eq!(legal["identifier"][0]["value"], "974760673");
            let poc = resolve(
                &ev,
                &resolve(&ev, &role["location"][0])["managingOrganization"],
            );
            assert_eq!(
                (poc["identifier"][0]["value"].as_str(), poc["name"].as_str()),
                (Some("874716782"), Some("Testsykehuset somatikk"))
            );
            let codes: Vec<_> = arr(&ev["purposeOfEvent"][0]["coding"])
                .iter()
                .map(|c| c["code"].as_str().unwrap())
                .collect();
            assert_eq!(codes, ["TREAT", "BEHANDLER"]);
            // Not logged twice: the HPR number names the practitioner, not the national id.
            assert!(!serde_json::to_string(&ev)
                .unwrap()
                .contains(&synthetic_fnr(7)));
        }
    }
    // A local department vouched for by the legal entity, Volven 9151 details, the point
    // of care that is the legal entity, and a self-granted access.
    let local = context(|v| {
        v["practitioner"]["department"] = json!({"id": "avd-9", "system": "urn:oid:2.16.578.1.12.4.1.4.999", "authority": "974760673"});
        v["care_relationship"]["purpose_of_use"]["code"] = json!("COC");
        v["care_relationship"]["purpose_of_use_details"] =
            json!({"code": "15", "system": VOLVEN_9151, "text": "Helsetjenester i hjemmet"});
        v["care_relationship"]["decision_ref"]["user_selected"] = json!(true);
        v["toa"] = json!(toa);
    });
    let ev = event(&local, Action::Search, Outcome::Success);
    assert_norway(&ev);
    let c = &ev["purposeOfEvent"][0]["coding"];
    assert_eq!(
        (c[0]["code"].as_str(), c[1]["system"].as_str()),
        (Some("COC"), Some(VOLVEN_9151))
    );
    assert_eq!(
        sub(
            ext(&ev, EXT_CARE_RELATION).unwrap(),
            "decision-ref-user-selected"
        )["valueBoolean"],
        true
    );
    let role = resolve(&ev, &ev["agent"][2]["who"]);
    let location = resolve(&ev, &role["location"][0]);
    assert_eq!(
        location["managingOrganization"]["reference"],
        "#legal-entity"
    );
    assert_eq!(
        resolve(&ev, &role["organization"])["identifier"][0]["assigner"]["display"],
        "974760673"
    );
}

#[test]
fn elements_the_attestation_lacks_are_left_out_never_invented() {
    // The decision's description and `toa` are optional in the trust framework but 1..1 in
    // the care-relation extension (0..1 itself): the extension is left out, the record
    // still conforms, and the care-relationship entity keeps the decision.
    for tc in [
        context(|_| {}),
        context(|v| {
            v["toa"] = json!(1_780_000_000u64);
            v["care_relationship"]["decision_ref"]
                .as_object_mut()
                .unwrap()
                .remove("description");
        }),
    ] {
        let ev = event(&tc, Action::Search, Outcome::Success);
        assert_norway(&ev);
        assert!(ext(&ev, EXT_CARE_RELATION).is_none());
        assert_eq!(
            super::control::care_detail(&ev, "decision_ref"),
            Some("dec-123")
        );
        assert!(!serde_json::to_string(&ev).unwrap().contains("\"toa\""));
    }
    // The narrow attestation names no practitioner: no PractitionerRole (its Practitioner
    // needs an identifier, 1..*), so the record does not claim the profile.
    let narrow = context(|v| {
        let p = v["practitioner"].as_object_mut().unwrap();
        p.remove("identifier");
        p.remove("hpr_nr");
    });
    // Two patients (the profile wants one AuditEvent per patient, `_patient` 1..1), and none.
    let two = context(|v| {
        v["patients"] = json!([
            {"identifier": {"id": synthetic_fnr(1), "system": "urn:oid:2.16.578.1.12.4.1.4.1"}},
            {"identifier": {"id": synthetic_fnr(2), "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}
        ]);
    });
    let none = context(|v| v["patients"] = json!([{}]));
    let citizen = TrustContext::from_json(&json!({"type": "tillit:citizen", "citizen": {"identifier": {"id": synthetic_fnr(11), "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}})).unwrap();
    for (tc, role, patient) in [
        (&narrow, false, true),
        (&two, true, false),
        (&none, true, false),
        (&citizen, false, false),
    ] {
        let ev = event(tc, Action::Search, Outcome::Success);
        assert!(
            !arr(&ev["meta"]["profile"]).contains(&json!(PROFILE)),
            "no claim without every required element"
        );
        // BALP's `entity[patient]` is 1..1 (IHE/ITI.BasicAudit, input/fsh/PatientQuery.fsh).
        let balp = arr(&ev["meta"]["profile"])
            .iter()
            .any(|p| p.as_str().unwrap().contains("BALP"));
        assert_eq!(balp, tc.patients().len() == 1);
        if balp {
            assert_balp(&ev, Action::Search);
        }
        assert_eq!(requestor(&ev)["who"].get("reference").is_some(), role);
        assert_eq!(ext(&ev, EXT_PATIENT).is_some(), patient);
        assert!(arr(&ev["contained"])
            .iter()
            .all(|c| c["resourceType"] != "Patient" || patient));
        dom3(&ev);
    }
}

#[test]
fn the_rule_checks_refuse_a_record_that_breaks_them() {
    let tc = context(|v| v["toa"] = json!(1_780_000_000u64));
    let good = event(&tc, Action::Read, Outcome::Success);
    assert_norway(&good);
    type Break = (&'static str, fn(&mut Value));
    let breaks: [Break; 7] = [
        ("no _patient", |e| {
            e["extension"]
                .as_array_mut()
                .unwrap()
                .retain(|x| x["url"] != EXT_PATIENT)
        }),
        ("toa not unsignedInt", |e| {
            e["extension"][0]["extension"][3]["valueUnsignedInt"] = json!(4_000_000_000u64)
        }),
        ("no decision description", |e| {
            e["extension"][0]["extension"]
                .as_array_mut()
                .unwrap()
                .remove(1);
        }),
        ("user is not a PractitionerRole", |e| {
            e["agent"][2]["who"]["reference"] = json!("#practitioner")
        }),
        ("purpose outside v3-PurposeOfUse", |e| {
            e["purposeOfEvent"][0]["coding"][0]["system"] =
                json!("urn:oid:2.16.840.1.113883.1.11.20448")
        }),
        ("an unreferenced contained resource", |e| {
            e["contained"]
                .as_array_mut()
                .unwrap()
                .push(json!({"id": "x", "resourceType": "Device"}))
        }),
        ("no claim", |e| {
            e["meta"]["profile"].as_array_mut().unwrap().pop();
        }),
    ];
    for (what, f) in breaks {
        let mut ev = good.clone();
        f(&mut ev);
        let r = std::panic::catch_unwind(|| assert_norway(&ev));
        assert!(r.is_err(), "{what} passed the profile's rules");
    }
}

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";

fn has_coding(concept: &Value, system: &str, code: &str) -> bool {
    arr(&concept["coding"])
        .iter()
        .any(|c| c["system"] == system && c["code"] == code)
}

/// Asserts IHE BALP's PatientQuery (a search) or PatientRead (a read), for a successful
/// look-up. Source: IHE/ITI.BasicAudit, input/fsh/PatientQuery.fsh and
/// input/fsh/PatientRead.fsh (profiles Query/PatientQuery and Read/PatientRead).
pub fn assert_balp(ev: &Value, action: Action) {
    let (profile, interaction, act, client, server) = match action {
        Action::Search => (
            "IHE.BasicAudit.PatientQuery",
            "search",
            "E",
            "110153",
            "110152",
        ),
        Action::Read => (
            "IHE.BasicAudit.PatientRead",
            "read",
            "R",
            "110152",
            "110153",
        ),
        Action::Token => unreachable!("the token request is not a BALP look-up"),
    };
    assert!(arr(&ev["meta"]["profile"]).contains(&json!(format!(
        "https://profiles.ihe.net/ITI/BALP/StructureDefinition/{profile}"
    ))));
    // `type = audit-event-type#rest`; `subtype contains anySearch/anyRead 1..1`
    // (restful-interaction); `action = #E` / `#R`; `recorded 1..1`; `outcome = #0`.
    assert_eq!(
        ev["type"]["system"],
        "http://terminology.hl7.org/CodeSystem/audit-event-type"
    );
    assert_eq!(ev["type"]["code"], "rest");
    let subtypes = arr(&ev["subtype"]);
    assert_eq!(
        subtypes
            .iter()
            .filter(|c| c["system"] == "http://hl7.org/fhir/restful-interaction")
            .map(|c| c["code"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [interaction]
    );
    assert_eq!(ev["action"], act);
    assert!(ev["recorded"].is_string());
    assert_eq!(ev["outcome"], "0");
    // `agent 2..`, sliced by type: `client 1..1` (DCM 110153 for a query, 110152 for a
    // read), `server 1..1` (the other), `user 0..1` (`type = v3-ParticipationType#IRCP`,
    // `requestor = true`, `who 1..1`, `network 0..0`, `media 0..0`).
    let agents = arr(&ev["agent"]);
    assert!(agents.len() >= 2);
    let of = |code: &str| {
        agents
            .iter()
            .filter(|a| has_coding(&a["type"], DCM, code))
            .collect::<Vec<_>>()
    };
    let (c, s) = (of(client), of(server));
    assert_eq!((c.len(), s.len()), (1, 1), "one client, one server");
    for a in [c[0], s[0]] {
        assert!(a["who"].is_object(), "who 1..1");
        assert!(a.get("media").is_none(), "media 0..0");
    }
    // `agent[server].network 1..1`. (`agent[client].network 1..1` is the one rule tillit
    // does not meet: the device does not know its own network address, and inventing one
    // would be worse; docs/audit-format.md says so.)
    assert!(s[0]["network"]["address"].is_string());
    let users: Vec<_> = agents
        .iter()
        .filter(|a| {
            has_coding(
                &a["type"],
                "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "IRCP",
            )
        })
        .collect();
    assert_eq!(users.len(), 1, "user 0..1 (tillit always knows its user)");
    let u = users[0];
    assert_eq!(u["requestor"], true);
    assert!(u["who"].is_object());
    assert!(u.get("network").is_none() && u.get("media").is_none());
    // `entity` sliced by type: `transaction 0..1` (BasicAuditEntityType#XrequestId, with
    // `what.identifier.value`), `patient 1..1` (audit-entity-type#1, object-role#1, `what
    // 1..1`), and a query's `query 1..1` (#2, object-role#24, `what 0..0`, `detail 0..0`,
    // `lifecycle 0..0`, `query 1..1`) or a read's `data 1..1` (#2, role from
    // RestObjectRoles 3|4|20, `what 1..1`).
    let entities = arr(&ev["entity"]);
    let typed = |system: &str, code: &str| {
        entities
            .iter()
            .filter(|e| e["type"]["system"] == system && e["type"]["code"] == code)
            .collect::<Vec<_>>()
    };
    let tx = typed(
        "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType",
        "XrequestId",
    );
    assert!(
        tx.len() <= 1
            && tx
                .iter()
                .all(|t| t["what"]["identifier"]["value"].is_string())
    );
    const ENTITY: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
    const ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
    let patients = typed(ENTITY, "1");
    assert_eq!(patients.len(), 1, "patient 1..1");
    assert_eq!(
        (
            patients[0]["role"]["system"].as_str(),
            patients[0]["role"]["code"].as_str()
        ),
        (Some(ROLE), Some("1"))
    );
    assert!(patients[0]["what"].is_object());
    let objects = typed(ENTITY, "2");
    assert_eq!(objects.len(), 1, "one query or data entity");
    let o = objects[0];
    assert_eq!(o["role"]["system"], ROLE);
    match action {
        Action::Search => {
            assert_eq!(o["role"]["code"], "24");
            assert!(o["query"].is_string(), "query 1..1");
            for k in ["what", "detail", "lifecycle"] {
                assert!(o.get(k).is_none(), "{k} 0..0");
            }
        }
        _ => {
            assert!(["3", "4", "20"].contains(&o["role"]["code"].as_str().unwrap()));
            assert!(o["what"].is_object(), "what 1..1");
        }
    }
}

#[test]
fn successful_look_ups_follow_balp_and_others_do_not_claim_it() {
    let citizen = TrustContext::from_json(&json!({"type": "tillit:citizen", "citizen": {"identifier": {"id": synthetic_fnr(11), "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}})).unwrap();
    let narrow = context(|v| {
        let p = v["practitioner"].as_object_mut().unwrap();
        p.remove("identifier");
        p.remove("hpr_nr");
    });
    for tc in [context(|_| {}), narrow, citizen] {
        for action in [Action::Search, Action::Read] {
            let mut ev = event(&tc, action, Outcome::Success);
            assert_balp(&ev, action);
            // With the minimisation counts, a search is still a BALP query.
            if action == Action::Search {
                let l = LookUp {
                    id: "e2",
                    action,
                    trust_context: &tc,
                    client_id: "tillit-ehr",
                    server: "https://api.pjd.test.nhn.no",
                    transaction_id: "tx-2",
                    query: Some("patient.identifier=x"),
                    document_id: None,
                    token_jti: None,
                    access_basis: None,
                    recorded: "2026-06-01T10:00:00.000Z",
                };
                let done = Completion {
                    returned: Some(2),
                    withheld: vec![("PATIENT_BLOCK".into(), 1)],
                    leaks: Some(0),
                    ..Completion::default()
                };
                ev = build(&l, Outcome::Success, &done).unwrap();
                assert_balp(&ev, action);
                let m = arr(&ev["entity"])
                    .iter()
                    .find(|e| e["type"]["code"] == super::event::MINIMISATION_CODE)
                    .unwrap();
                assert_eq!(
                    m["detail"][0],
                    json!({"type": "returned", "valueString": "2"})
                );
            }
            for outcome in [Outcome::Pending, Outcome::Failure, Outcome::Error] {
                let ev = event(&tc, action, outcome);
                let claims = arr(&ev["meta"]["profile"]);
                assert!(
                    !claims.iter().any(|p| p.as_str().unwrap().contains("BALP")),
                    "BALP's profiles are for successful look-ups"
                );
                assert!(ev["meta"].get("profile").is_none_or(|p| !arr(p).is_empty()));
            }
        }
    }
    // The token request: no BALP profile describes it (IHE/ITI.BasicAudit,
    // input/fsh/SAMLaccessToken.fsh is a SAML token's use; input/fsh/IUAgetAccessToken.fsh
    // is DICOM 110114 with closed entities), so only HL7 Norway's is claimed.
    let token = event(&context(|_| {}), Action::Token, Outcome::Success);
    assert_eq!(token["meta"]["profile"], json!([PROFILE]));
    // A broken record fails the checks.
    let good = event(&context(|_| {}), Action::Read, Outcome::Success);
    let breaks: [fn(&mut Value); 4] = [
        |e| e["outcome"] = json!("4"),
        |e| e["agent"][0]["type"]["coding"][0]["code"] = json!("110153"),
        |e| {
            e["agent"][2]["type"]["coding"]
                .as_array_mut()
                .unwrap()
                .remove(0);
        },
        |e| {
            e["entity"]
                .as_array_mut()
                .unwrap()
                .retain(|x| x["type"]["code"] != "1")
        },
    ];
    for f in breaks {
        let mut ev = good.clone();
        f(&mut ev);
        assert!(std::panic::catch_unwind(|| assert_balp(&ev, Action::Read)).is_err());
    }
}

/// A record in HL7 Norway's profile alone (no BALP entities, the user only by reference), as
/// another system would send it to the collector (ITI-20): tests/fixtures/norway-auditevent.json,
/// shaped after the guide's hospital example, HL7Norway/AuditEvent,
/// igs/AuditEvent/input/fsh/no-domain-Trustframework-Auditevent-instance1.fsh.
pub fn norway_only_record(patient: &str) -> Value {
    let mut ev: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/norway-auditevent.json")).unwrap();
    ev["contained"][4]["identifier"][0]["value"] = json!(patient);
    ev
}

#[test]
fn log_control_reads_a_record_in_the_norway_profile_alone() {
    use super::control;
    let patient = synthetic_fnr(3);
    let ev = norway_only_record(&patient);
    assert_norway(&ev);
    assert_eq!(
        control::patients(&ev).collect::<Vec<_>>(),
        [patient.as_str()]
    );
    assert_eq!(
        control::user_id(&ev),
        Some("9144897"),
        "the HPR number first"
    );
    assert_eq!(
        control::purpose(&ev),
        Some("ETREAT"),
        "the PurposeOfUse coding, wherever it stands"
    );
    assert_eq!(control::care_detail(&ev, "decision_ref"), Some("23423255"));
    assert_eq!(
        control::care_detail(&ev, "decision_description"),
        Some("Blålys")
    );
    assert_eq!(control::care_detail(&ev, "user_selected"), Some("true"));
    // A declined selection reads as "false"; a value that is not a boolean is not read.
    fn set_user_selected(v: &mut Value, to: Value) {
        match v {
            Value::Object(o) if o.get("url") == Some(&json!("decision-ref-user-selected")) => {
                o.insert("valueBoolean".into(), to);
            }
            Value::Object(o) => o
                .values_mut()
                .for_each(|c| set_user_selected(c, to.clone())),
            Value::Array(a) => a.iter_mut().for_each(|c| set_user_selected(c, to.clone())),
            _ => {}
        }
    }
    let mut declined = ev.clone();
    set_user_selected(&mut declined, json!(false));
    assert_eq!(
        control::care_detail(&declined, "user_selected"),
        Some("false")
    );
    set_user_selected(&mut declined, json!("true"));
    assert_eq!(control::care_detail(&declined, "user_selected"), None);
    // The citizen's "who looked" and the reports read it too.
    let records = [json!({"kind": "event", "body": ev})];
    let seen = control::citizen_report(&records, &patient);
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (
            &seen[0]["who"],
            &seen[0]["role"],
            &seen[0]["organisation"],
            &seen[0]["why"]
        ),
        (
            &json!("August September"),
            &json!("Lege"),
            &json!("Oslo universitetssykehus HF"),
            &json!("Blålys")
        )
    );
    assert!(
        !serde_json::to_string(&seen)
            .unwrap()
            .contains("07818500100"),
        "never the practitioner's national id"
    );
    let r = control::report(&records, 10);
    assert_eq!(
        (
            r["emergencyAccess"].as_array().unwrap().len(),
            r["selfGranted"].as_array().unwrap().len()
        ),
        (1, 1)
    );
    // tillit's own records: the entities are read (the same values either way).
    let tc = context(|v| v["toa"] = json!(1_780_000_000u64));
    let own = event(&tc, Action::Search, Outcome::Success);
    assert_eq!(control::patients(&own).count(), 1);
    assert_eq!(control::user_id(&own), Some("9144900"));
    assert_eq!(control::purpose(&own), Some("TREAT"));
    assert_eq!(control::care_detail(&own, "decision_ref"), Some("dec-123"));
}

#[test]
fn log_control_fallbacks_read_only_what_is_there() {
    use super::control;
    let patient = synthetic_fnr(3);
    // A practitioner without an HPR number: the first identifier.
    let mut ev = norway_only_record(&patient);
    ev["contained"][0]["identifier"]
        .as_array_mut()
        .unwrap()
        .pop();
    assert_eq!(control::user_id(&ev), Some("07818500100"));
    // No PurposeOfUse coding: the first coding; an `E` without an ITI code is a search, a
    // token request is a token.
    ev["purposeOfEvent"][0]["coding"]
        .as_array_mut()
        .unwrap()
        .pop();
    assert_eq!(control::purpose(&ev), Some("BLAALYS"));
    ev["action"] = json!("E");
    assert_eq!(control::action(&ev), "search");
    ev["subtype"] = json!([{"system": "urn:ietf:params:oauth", "code": "token-request"}]);
    assert_eq!(control::action(&ev), "token");
    ev["subtype"] = json!([{"system": "urn:ihe:event-type-code", "code": "ITI-68"}]);
    assert_eq!(control::action(&ev), "read");
    ev["action"] = json!("U");
    ev["subtype"] = json!([]);
    assert_eq!(control::action(&ev), "token");
    // A care-relationship entity is authoritative: one without a decision reference is not
    // completed from the extension.
    let tc = context(|v| v["toa"] = json!(1_780_000_000u64));
    let mut own = event(&tc, Action::Search, Outcome::Success);
    assert!(ext(&own, EXT_CARE_RELATION).is_some());
    for e in own["entity"].as_array_mut().unwrap() {
        if let Some(d) = e.get_mut("detail").and_then(Value::as_array_mut) {
            d.retain(|x| x["type"] != "decision_ref");
        }
    }
    assert_eq!(control::care_detail(&own, "decision_ref"), None);
    assert_eq!(control::care_detail(&own, "user_selected"), Some("false"));
    // tillit's own records are read from their patient entities (several, or a citizen's,
    // where there is no patient extension).
    let two = context(|v| {
        v["patients"] = json!([
            {"identifier": {"id": synthetic_fnr(1), "system": "urn:oid:2.16.578.1.12.4.1.4.1"}},
            {"identifier": {"id": synthetic_fnr(2), "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}
        ]);
    });
    let ev2 = event(&two, Action::Search, Outcome::Success);
    assert_eq!(
        control::patients(&ev2).collect::<Vec<_>>(),
        [synthetic_fnr(1), synthetic_fnr(2)]
    );
    // Only the three members the extension carries are read from it.
    let ev = norway_only_record(&patient);
    assert_eq!(control::care_detail(&ev, "healthcare_service"), None);
}

#[test]
fn a_toa_beyond_unsigned_int_leaves_the_extension_out() {
    // FHIR R4 unsignedInt is 0 to 2^31-1 (the extension's `toa`, no-domain-Trustframework-Auditevent.fsh).
    for (toa, written) in [(2_147_483_647u64, true), (2_147_483_648u64, false)] {
        let tc = context(|v| v["toa"] = json!(toa));
        let ev = event(&tc, Action::Read, Outcome::Success);
        assert_eq!(ext(&ev, EXT_CARE_RELATION).is_some(), written, "{toa}");
        assert_norway(&ev);
    }
    // An empty decision description never reaches the writer.
    let mut v = sample(&synthetic_fnr(1));
    v["care_relationship"]["decision_ref"]["description"] = json!("");
    assert!(TrustContext::from_json(&v).is_err());
}

#[test]
fn purpose_of_use_displays_are_hl7s() {
    // HL7 terminology, CodeSystem v3-ActReason (the codes of the v3-PurposeOfUse value set the
    // profile's PURPOSE_OF_USE_VALUESET slice binds): the displays a validator checks.
    use crate::codes::PurposeOfUse;
    let displays: Vec<_> = PurposeOfUse::ALL
        .iter()
        .map(|p| (p.code(), p.display()))
        .collect();
    assert_eq!(
        displays,
        [
            ("TREAT", "treatment"),
            ("ETREAT", "Emergency Treatment"),
            ("COC", "coordination of care"),
            ("BTG", "break the glass")
        ]
    );
    let ev = event(&context(|_| {}), Action::Read, Outcome::Success);
    assert_eq!(ev["purposeOfEvent"][0]["coding"][0]["display"], "treatment");
}

/// The practitioner, the department and their codes as the profile's contained resources
/// show them, given `name` for every display member.
fn displays(name: &str, local: bool) -> Value {
    let tc = context(|v| {
        v["practitioner"]["identifier"]["name"] = json!(name);
        v["practitioner"]["authorization"]["text"] = json!(name);
        v["practitioner"]["department"] = if local {
            json!({"id": "avd-9", "system": "urn:oid:2.16.578.1.12.4.1.4.999", "authority": "974760673", "name": name})
        } else {
            json!({"id": "705592", "system": "urn:oid:2.16.578.1.12.4.1.4.102", "name": name})
        };
        v["care_relationship"]["purpose_of_use_details"]["text"] = json!(name);
    });
    let ev = event(&tc, Action::Search, Outcome::Success);
    assert_norway(&ev);
    let role = resolve(&ev, &requestor(&ev)["who"]);
    let pr = resolve(&ev, &role["practitioner"]);
    let dept = resolve(&ev, &role["organization"]);
    json!({
        "practitioner": pr.get("name"),
        "qualification": pr["qualification"][0]["code"]["coding"][0].get("display"),
        "department": dept.get("name"),
        "details": ev["purposeOfEvent"][0]["coding"][1].get("display"),
    })
}

#[test]
fn display_names_are_logged_when_given_and_left_out_when_empty() {
    for local in [false, true] {
        assert_eq!(
            displays("Lege Lise Lauritzen", local),
            json!({
                "practitioner": [{ "text": "Lege Lise Lauritzen" }],
                "qualification": "Lege Lise Lauritzen",
                "department": "Lege Lise Lauritzen",
                "details": "Lege Lise Lauritzen",
            }),
            "local department: {local}"
        );
        // An empty display member is a FHIR string that may not be empty: left out.
        assert_eq!(
            displays("", local),
            json!({
                "practitioner": null,
                "qualification": null,
                "department": null,
                "details": null,
            }),
            "local department: {local}"
        );
    }
}
