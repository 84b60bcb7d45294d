//! Trust contexts and tenants (src/trust.rs): what the reader accepts, member by member, at
//! the edges of each limit. The wire shapes are the trust framework's
//! (NorskHelsenett/Tillitsrammeverk, `specs/informasjons_og_datamodell.md`) and
//! HelseID.Library's (NorskHelsenett/HelseID.Library, `DetailsCreator.cs`).

use serde_json::{json, Value};
use tillit::trust::{TenantOrganisation, TrustContext};
use tillit::ErrorCode;

// The practitioner of the trust framework's example #1 ("August September"), and a number
// python-stdnum marks valid (tests/fixtures/identifiers-stdnum.tsv); the example's own
// patient fails its check digits (tests/nhn_samples.rs).
const PRACTITIONER: &str = "20086600138";
const PATIENT: &str = "08066017800";
// Valid organisation numbers (Brønnøysundregistrene's own, and another public one).
const ORG_A: &str = "974760673";
const ORG_B: &str = "983044778";

fn attestation() -> Value {
    json!({
        "type": "nhn:tillitsrammeverk:parameters",
        "practitioner": {
            "identifier": {"id": PRACTITIONER, "system": "urn:oid:2.16.578.1.12.4.1.4.1"},
            "hpr_nr": {"id": "9144897", "system": "urn:oid:2.16.578.1.12.4.1.4.4"},
            "authorization": {"code": "LE", "system": "urn:oid:2.16.578.1.12.4.1.1.9060"},
            "legal_entity": {"id": ORG_A, "system": "urn:oid:2.16.578.1.12.4.1.4.101"},
            "point_of_care": {"id": ORG_A, "system": "urn:oid:2.16.578.1.12.4.1.4.101"},
            "department": {"id": "705592", "system": "urn:oid:2.16.578.1.12.4.1.4.102"}
        },
        "care_relationship": {
            "healthcare_service": {"code": "S03", "system": "urn:oid:2.16.578.1.12.4.1.1.8655"},
            "purpose_of_use": {"code": "TREAT", "system": "urn:oid:2.16.840.1.113883.1.11.20448"},
            "purpose_of_use_details": {"code": "BEHANDLER", "system": "urn:AuditEventHL7Norway/CodeSystem/carerelation"},
            "decision_ref": {"id": "dec-1", "user_selected": false}
        },
        "patients": [{"identifier": {"id": PATIENT, "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}]
    })
}

fn read(f: impl FnOnce(&mut Value)) -> Result<TrustContext, tillit::Error> {
    let mut v = attestation();
    f(&mut v);
    TrustContext::from_json(&v)
}

#[test]
fn the_base_attestation_is_accepted_and_round_trips() {
    let tc = read(|_| {}).unwrap();
    assert!(tc.is_attestation());
    assert_eq!(tc.to_json(), attestation());
}

#[test]
fn a_resh_id_is_1_to_12_digits() {
    let resh = |id: &str| read(|v| v["practitioner"]["department"]["id"] = json!(id));
    assert!(resh("1").is_ok());
    assert!(resh("123456789012").is_ok());
    let e = resh("1234567890123").unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidIdentifier);
    assert_eq!(e.path(), "$.practitioner.department.id");
    assert!(resh("12345a").is_err());
}

#[test]
fn at_most_100_patients() {
    let many = |n: usize| {
        read(|v| {
            let one = v["patients"][0].clone();
            v["patients"] = Value::Array(vec![one; n]);
        })
    };
    assert_eq!(many(100).unwrap().patients().len(), 100);
    let e = many(101).unwrap_err();
    assert_eq!(e.path(), "$.patients");
}

#[test]
fn a_patient_entry_has_no_unknown_members() {
    let e = read(|v| v["patients"][0]["name"] = json!("Kari")).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidTrustContext);
    assert!(e.path().starts_with("$.patients[0]"), "{}", e.path());
    // Each of the three known members is read.
    let tc = read(|v| {
        v["patients"][0]["point_of_care"] =
            json!({"id": ORG_B, "system": "urn:oid:2.16.578.1.12.4.1.4.101"});
        v["patients"][0]["department"] =
            json!({"id": "4001", "system": "urn:oid:2.16.578.1.12.4.1.4.102"});
    })
    .unwrap();
    assert_eq!(tc.to_json()["patients"][0]["point_of_care"]["id"], ORG_B);
    assert_eq!(tc.to_json()["patients"][0]["department"]["id"], "4001");
}

#[test]
fn the_wrapped_form_takes_care_relation_or_care_relationship_not_both() {
    // The trust framework's §4.6 form `{type, attestation: {...}}` names the care member
    // `care_relation`; NHN's sample shape `care_relationship`.
    let wrapped = |care_keys: &[&str]| {
        let a = attestation();
        let mut inner = serde_json::Map::new();
        inner.insert("practitioner".into(), a["practitioner"].clone());
        for k in care_keys {
            inner.insert((*k).into(), a["care_relationship"].clone());
        }
        inner.insert("patients".into(), a["patients"].clone());
        TrustContext::from_json(
            &json!({"type": "nhn:tillitsrammeverk:parameters", "attestation": inner}),
        )
    };
    assert!(wrapped(&["care_relation"]).is_ok());
    assert!(wrapped(&["care_relationship"]).is_ok());
    let e = wrapped(&["care_relation", "care_relationship"]).unwrap_err();
    assert!(e.rule().contains("not both"), "{}", e.rule());
}

#[test]
fn a_citizen_may_act_for_a_child_a_ward_or_by_power_of_attorney() {
    for basis in ["parent", "guardian", "power_of_attorney"] {
        let v = json!({
            "type": "tillit:citizen",
            "citizen": {"identifier": {"id": PRACTITIONER, "system": "urn:oid:2.16.578.1.12.4.1.4.1"}},
            "represented": {"identifier": {"id": PATIENT, "system": "urn:oid:2.16.578.1.12.4.1.4.1"}, "basis": basis}
        });
        let tc = TrustContext::from_json(&v).unwrap_or_else(|e| panic!("{basis}: {e}"));
        assert!(!tc.is_attestation());
        assert_eq!(tc.to_json(), v);
        assert_eq!(tc.patients()[0].as_str(), PATIENT);
    }
    let v = json!({
        "type": "tillit:citizen",
        "citizen": {"identifier": {"id": PRACTITIONER, "system": "urn:oid:2.16.578.1.12.4.1.4.1"}},
        "represented": {"identifier": {"id": PATIENT, "system": "urn:oid:2.16.578.1.12.4.1.4.1"}, "basis": "neighbour"}
    });
    assert_eq!(
        TrustContext::from_json(&v).unwrap_err().path(),
        "$.represented.basis"
    );
}

fn tenant(system: &str, ty: &str, value: &str) -> Value {
    json!({
        "type": "helseid_authorization",
        "practitioner_role": {"organization": {"identifier": {"system": system, "type": ty, "value": value}}}
    })
}

#[test]
fn a_tenant_value_is_parent_parent_colon_or_parent_colon_child() {
    // HelseID.Library (.NET) writes `NO:ORGNR:<parent>:<child>` or `NO:ORGNR:<parent>:`;
    // the Java library `NO:ORGNR:<parent>`. Nothing has three parts.
    let icd = "urn:oid:1.0.6523";
    for (value, parent, child) in [
        (format!("NO:ORGNR:{ORG_A}"), ORG_A, None),
        (format!("NO:ORGNR:{ORG_A}:"), ORG_A, None),
        (format!("NO:ORGNR:{ORG_A}:{ORG_B}"), ORG_A, Some(ORG_B)),
    ] {
        let t = TenantOrganisation::from_json(&tenant(icd, "ENH", &value)).unwrap();
        assert_eq!(t.parent.as_ref().map(|p| p.as_str()), Some(parent));
        assert_eq!(t.child.as_ref().map(|c| c.as_str()), child);
    }
    let e = TenantOrganisation::from_json(&tenant(
        icd,
        "ENH",
        &format!("NO:ORGNR:{ORG_A}:{ORG_B}:{ORG_A}"),
    ))
    .unwrap_err();
    assert!(e.path().ends_with("identifier.value"), "{}", e.path());
}

#[test]
fn a_tenant_names_its_type_and_system() {
    let icd = "urn:oid:1.0.6523";
    let value = format!("NO:ORGNR:{ORG_A}:");
    assert!(TenantOrganisation::from_json(&tenant(icd, "ENH", &value)).is_ok());
    // type ENH (an enterprise in the register of legal entities) only.
    assert!(TenantOrganisation::from_json(&tenant(icd, "HPR", &value)).is_err());
    // An unknown system is refused, not read as the other one.
    assert!(TenantOrganisation::from_json(&tenant("urn:oid:1.2.3", "ENH", &value)).is_err());
    // The single-tenant system takes a bare organisation number.
    let single =
        TenantOrganisation::from_json(&tenant("urn:oid:2.16.578.1.12.4.1.4.101", "ENH", ORG_B))
            .unwrap();
    assert_eq!(
        (single.parent, single.child.map(|c| c.as_str().to_string())),
        (None, Some(ORG_B.to_string()))
    );
    // The details' own type.
    let mut v = tenant(icd, "ENH", &value);
    v["type"] = json!("nhn:tillitsrammeverk:parameters");
    assert!(TenantOrganisation::from_json(&v).is_err());
}

#[test]
fn a_new_patient_list_is_a_new_attestation_stamped_now() {
    // The trust framework wants a new attestation whenever the patient changes: the new
    // context names only the new patients, and its time of attestation is now.
    let tc = read(|v| v["toa"] = json!(1_000)).unwrap();
    let other = tillit::trust::parse_patients(&json!([
        {"identifier": {"id": "09020957597", "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}
    ]))
    .unwrap();
    let next = tc.with_patients(other, 5_000).unwrap();
    assert_eq!(next.toa(), Some(5_000));
    let ids: Vec<&str> = next.patients().iter().map(|p| p.as_str()).collect();
    assert_eq!(ids, ["09020957597"]);
    assert_eq!(tc.patients()[0].as_str(), PATIENT);
    assert_eq!(
        next.to_json()["practitioner"],
        attestation()["practitioner"]
    );
}
