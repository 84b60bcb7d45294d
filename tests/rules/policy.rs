//! The minimisation policy's reader (src/policy.rs): each limit at its edge, each default.

use serde_json::{json, Value};
use tillit::policy::{document_group, is_document_type_code, Policy};
use tillit::ErrorCode;

fn base() -> Value {
    json!({
        "version": 2,
        "documentKinds": [{"code": "A00-1", "windowYears": 5}],
        "fields": ["id", "subject", "type"]
    })
}

fn read(f: impl FnOnce(&mut Value)) -> Result<Policy, tillit::Error> {
    let mut v = base();
    f(&mut v);
    Policy::from_json(&v)
}

fn refused_at(f: impl FnOnce(&mut Value), path: &str) {
    let e = read(f).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidPolicy);
    assert_eq!(e.path(), path);
}

#[test]
fn limits_default_to_64_mib_and_depth_64_with_or_without_a_limits_member() {
    for p in [
        read(|_| {}).unwrap(),
        read(|v| v["limits"] = json!({})).unwrap(),
    ] {
        assert_eq!(p.max_input_bytes, 64 * 1024 * 1024);
        assert_eq!(p.max_depth, 64);
    }
}

#[test]
fn max_input_bytes_is_1_byte_to_1_gib() {
    for (b, ok) in [
        (0u64, false),
        (1, true),
        (1 << 30, true),
        ((1 << 30) + 1, false),
    ] {
        let r = read(|v| v["limits"] = json!({"maxInputBytes": b}));
        match r {
            Ok(p) => {
                assert!(ok, "{b} accepted");
                assert_eq!(p.max_input_bytes as u64, b);
            }
            Err(e) => {
                assert!(!ok, "{b} refused");
                assert_eq!(e.path(), "$.limits.maxInputBytes");
            }
        }
    }
}

#[test]
fn max_depth_is_8_to_512() {
    for (d, ok) in [(7u64, false), (8, true), (512, true), (513, false)] {
        match read(|v| v["limits"] = json!({"maxDepth": d})) {
            Ok(p) => {
                assert!(ok, "{d} accepted");
                assert_eq!(p.max_depth as u64, d);
            }
            Err(e) => {
                assert!(!ok, "{d} refused");
                assert_eq!(e.path(), "$.limits.maxDepth");
            }
        }
    }
}

#[test]
fn listed_strings_are_1_to_64_bytes() {
    assert!(read(|v| v["blocks"] = json!({"codes": ["N".repeat(64)]})).is_ok());
    refused_at(
        |v| v["blocks"] = json!({"codes": ["N".repeat(65)]}),
        "$.blocks.codes[0]",
    );
    refused_at(
        |v| v["blocks"] = json!({"codes": [""]}),
        "$.blocks.codes[0]",
    );
}

#[test]
fn blocks_default_to_nors_seen_by_the_citizen() {
    let p = read(|_| {}).unwrap();
    assert_eq!(p.block_codes, ["NORS"]);
    assert!(p.citizen_sees_own_blocked);
    let p = read(|v| v["blocks"] = json!({"codes": ["NORS", "X"]})).unwrap();
    assert!(p.citizen_sees_own_blocked);
    let p = read(|v| v["blocks"] = json!({"codes": ["NORS"], "citizenSeesOwn": false})).unwrap();
    assert!(!p.citizen_sees_own_blocked);
}

#[test]
fn a_confidentiality_level_without_an_entry_is_shown_to_nobody() {
    let p = read(|_| {}).unwrap();
    for a in [&p.restricted, &p.very_restricted] {
        assert!(!a.citizen);
        // An authorisation list no practitioner's 9060 code matches.
        assert!(!a.authorizations.is_empty());
        assert!(a.authorizations.iter().all(|c| c.len() < 2 || c == "--"));
    }
    let p = read(|v| v["confidentiality"] = json!({"R": {"citizen": true}})).unwrap();
    assert!(p.restricted.citizen);
    assert!(p.restricted.authorizations.is_empty());
    assert!(!p.very_restricted.citizen);
}

#[test]
fn windows_and_ages_are_capped_at_200_years() {
    let p = read(|v| {
        v["documentKinds"][0]["windowYears"] = json!(1000);
        v["maxAgeYears"] = json!(1000);
        v["maxEntries"] = json!(7);
    })
    .unwrap();
    assert_eq!(p.kinds[0].window_years, Some(200));
    assert_eq!(p.max_age_years, Some(200));
    assert_eq!(p.max_entries, Some(7));
    let p = read(|v| v["documentKinds"][0]["windowYears"] = json!(null)).unwrap();
    assert_eq!(p.kinds[0].window_years, None);
}

#[test]
fn a_kind_is_listed_once() {
    refused_at(
        |v| v["documentKinds"] = json!([{"code": "A00-1"}, {"code": "A00-1"}]),
        "$.documentKinds[1].code",
    );
}

#[test]
fn the_projection_keeps_id_subject_and_type_by_their_own_names() {
    // `identifier` starts with "id" but is another element.
    refused_at(
        |v| v["fields"] = json!(["identifier", "subject", "type"]),
        "$.fields",
    );
    refused_at(|v| v["fields"] = json!(["id", "type"]), "$.fields");
    refused_at(|v| v["fields"] = json!(["id", "subject"]), "$.fields");
    // A part of the element keeps it.
    assert!(read(|v| v["fields"] = json!(["id", "subject.reference", "type.coding"])).is_ok());
}

#[test]
fn a_rule_lists_volven_9602_codes() {
    let allow = json!({"purposes": ["TREAT"]});
    assert!(read(|v| v["rules"] = json!([{"types": ["I01-2"], "allow": allow}])).is_ok());
    refused_at(
        |v| v["rules"] = json!([{"types": [], "allow": allow}]),
        "$.rules[0].types",
    );
    refused_at(
        |v| v["rules"] = json!([{"types": ["I01-2", "x"], "allow": allow}]),
        "$.rules[0].types",
    );
}

#[test]
fn volven_9602_codes_and_groups() {
    // Volven 9602 (Helsedirektoratet, "Dokumenttype"): a letter, two digits, `-1` for a
    // group or `-2` for a subtype.
    for c in ["A00-1", "I01-2", "Z99-2"] {
        assert!(is_document_type_code(c), "{c}");
    }
    for c in [
        "a00-1", "A00-3", "A0001", "A0-01", "A00-12", "100-1", "AA0-1", "A0A-1", "",
    ] {
        assert!(!is_document_type_code(c), "{c}");
    }
    assert_eq!(document_group("A03-2"), "A00-1");
    assert_eq!(document_group("Z99-2"), "Z00-1");
    assert_eq!(document_group("I01-2"), "I00-1");
    assert_eq!(document_group(""), "");
    assert_eq!(document_group("a00-1"), "");
}

#[test]
fn a_listed_subtype_takes_precedence_over_its_group() {
    let p = read(|v| {
        v["documentKinds"] =
            json!([{"code": "I00-1", "windowYears": 10}, {"code": "I01-2", "windowYears": 1}])
    })
    .unwrap();
    assert_eq!(p.kind_of("I01-2").unwrap().window_years, Some(1));
    assert_eq!(p.kind_of("I02-2").unwrap().window_years, Some(10));
    assert!(p.kind_of("A01-2").is_none());
}

#[test]
fn a_bad_field_is_named_by_its_own_index_when_resource_type_is_listed() {
    // `resourceType` is always written and may be listed; an error names the listed index.
    let p = read(|v| v["fields"] = json!(["resourceType", "id", "subject", "type"])).unwrap();
    assert!(!p.fields.iter().any(|f| f == "resourceType"));
    refused_at(
        |v| v["fields"] = json!(["resourceType", "id", "subject", "type", "nonsense.x"]),
        "$.fields[4]",
    );
    refused_at(
        |v| v["fields"] = json!(["id", "resourceType", "subject", "content.nonsense", "type"]),
        "$.fields[3]",
    );
}
