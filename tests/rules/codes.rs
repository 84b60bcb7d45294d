//! Code systems and codes of the trust framework (src/codes.rs).

use tillit::codes::{
    Authorization, CareRelation, CodeSystem, HealthcareService, PurposeDetails, PurposeOfUse,
    HEALTHCARE_SERVICE_SYSTEMS, SYSTEM_AUTHORIZATION, SYSTEM_CARE_RELATION, SYSTEM_PURPOSE_OF_USE,
    SYSTEM_VOLVEN_9151, VOLVEN_9060,
};
use tillit::ErrorCode;

#[test]
fn each_code_system_is_known_by_every_name_and_written_in_its_canonical_form() {
    // HL7 terminology: canonical URL, OID and the FHIR DSTU2/STU3 URL name one system;
    // HL7Norway/kodeverk (input/fsh/codesystems/no-kodeverk-9603.fsh) gives Volven's URL and OID.
    for (cs, canonical, others) in [
        (
            CodeSystem::Confidentiality,
            "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
            &[
                "urn:oid:2.16.840.1.113883.5.25",
                "http://hl7.org/fhir/v3/Confidentiality",
            ][..],
        ),
        (
            CodeSystem::DocumentType,
            "urn:oid:2.16.578.1.12.4.1.1.9602",
            &["http://helsedir.no/fhir/CodeSystem/no-kodeverk-9602"][..],
        ),
        (
            CodeSystem::Blocks,
            "urn:oid:2.16.578.1.12.4.1.1.9603",
            &["http://helsedir.no/fhir/CodeSystem/no-kodeverk-9603"][..],
        ),
        (
            CodeSystem::PurposeOfUse,
            SYSTEM_PURPOSE_OF_USE,
            &[
                "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                "urn:oid:2.16.840.1.113883.5.8",
                "http://hl7.org/fhir/v3/ActReason",
            ][..],
        ),
    ] {
        assert_eq!(cs.canonical(), canonical);
        assert_eq!(cs.forms().len(), others.len() + 1, "{cs:?}");
        for form in others.iter().chain([&canonical]) {
            assert!(cs.is(form), "{form}");
            assert_eq!(CodeSystem::of(form), Some(cs), "{form}");
            for other in CodeSystem::ALL.into_iter().filter(|o| *o != cs) {
                assert!(!other.is(form), "{other:?} {form}");
            }
        }
    }
    assert_eq!(CodeSystem::ALL.len(), 4);
}

#[test]
fn purpose_of_use_is_one_of_four_and_two_are_emergencies() {
    // The trust framework's purposes (NorskHelsenett/Tillitsrammeverk,
    // `specs/informasjons_og_datamodell.md`): TREAT, ETREAT, COC, BTG; emergency access (ETREAT,
    // BTG) is reviewed in log control.
    for (code, emergency) in [
        ("TREAT", false),
        ("ETREAT", true),
        ("COC", false),
        ("BTG", true),
    ] {
        let p = PurposeOfUse::parse(code, "$").unwrap();
        assert_eq!(p.code(), code);
        assert_eq!(p.is_emergency(), emergency, "{code}");
        assert_eq!(p.system(), "urn:oid:2.16.840.1.113883.1.11.20448");
    }
    assert_eq!(
        PurposeOfUse::parse("HMARKT", "$.c").unwrap_err().path(),
        "$.c"
    );
    assert!(PurposeOfUse::parse("treat", "$").is_err());
}

#[test]
fn purpose_details_are_care_relations_or_volven_9151_codes() {
    for code in [
        "BEHANDLER",
        "HENV_BEH",
        "HENVISNING",
        "BLAALYS",
        "ITSYSARB",
        "POLBESOK",
    ] {
        let d = PurposeDetails::parse(code, SYSTEM_CARE_RELATION, "$").unwrap();
        assert_eq!(d.code(), code);
        assert_eq!(
            d.system(),
            "urn:AuditEventHL7Norway/CodeSystem/carerelation"
        );
        assert!(matches!(d, PurposeDetails::CareRelation(_)));
    }
    assert_eq!(CareRelation::ALL.len(), 6);
    let e = PurposeDetails::parse("NABO", SYSTEM_CARE_RELATION, "$.d").unwrap_err();
    assert_eq!(e.path(), "$.d.code");
    for (code, ok) in [
        ("1", true),
        ("12345678", true),
        ("", false),
        ("123456789", false),
        ("12a", false),
    ] {
        match PurposeDetails::parse(code, SYSTEM_VOLVEN_9151, "$.d") {
            Ok(d) => {
                assert!(ok, "{code:?} accepted");
                assert_eq!(d.code(), code);
                assert_eq!(d.system(), "urn:oid:2.16.578.1.12.4.1.1.9151");
            }
            Err(e) => {
                assert!(!ok, "{code:?} refused");
                assert_eq!(e.path(), "$.d.code");
            }
        }
    }
    let e = PurposeDetails::parse("BEHANDLER", "urn:x", "$.d").unwrap_err();
    assert_eq!(e.path(), "$.d.system");
}

#[test]
fn healthcare_service_codes_of_each_allowed_system() {
    // ATT-37 (NorskHelsenett/Tillitsrammeverk, `specs/forretningsregler_for_bruk_av_attestering.md`)
    // lists the allowed systems, 8627 among them.
    assert_eq!(HEALTHCARE_SERVICE_SYSTEMS.len(), 10);
    for system in HEALTHCARE_SERVICE_SYSTEMS {
        let h = HealthcareService::parse("KX17", system, "$.h").unwrap();
        assert_eq!((h.code(), h.system()), ("KX17", system));
    }
    let s = "urn:oid:2.16.578.1.12.4.1.1.8655";
    for (code, ok) in [
        ("S03", true),
        ("1", true),
        (&*"A".repeat(16), true),
        ("a-b.c", true),
        ("", false),
        (&*"A".repeat(17), false),
        ("a b", false),
        ("a_b", false),
    ] {
        match HealthcareService::parse(code, s, "$.h") {
            Ok(h) => assert!(ok && h.code() == code, "{code:?} accepted"),
            Err(e) => {
                assert!(!ok, "{code:?} refused");
                assert_eq!(e.path(), "$.h.code");
                assert_eq!(e.code(), ErrorCode::InvalidCode);
            }
        }
    }
    let e = HealthcareService::parse("S03", "urn:oid:2.16.578.1.12.4.1.1.9999", "$.h").unwrap_err();
    assert_eq!(e.path(), "$.h.system");
}

#[test]
fn authorisations_are_the_36_codes_of_volven_9060() {
    // NorskHelsenett/Pasientens-journaldokumenter, `Models/HomeViewModel.cs` (AuthorizationList).
    assert_eq!(VOLVEN_9060.len(), 36);
    for (code, text) in VOLVEN_9060 {
        let a = Authorization::parse(code, SYSTEM_AUTHORIZATION, "$.a").unwrap();
        assert_eq!((a.code(), a.text()), (code, text));
    }
    let le = Authorization::parse("LE", SYSTEM_AUTHORIZATION, "$.a").unwrap();
    assert_eq!(le.text(), "Lege");
    let fa1 = Authorization::parse("FA1", SYSTEM_AUTHORIZATION, "$.a").unwrap();
    assert_eq!(fa1.text(), "Provisorfarmasøyt");
    assert_eq!(
        Authorization::parse("FA3", SYSTEM_AUTHORIZATION, "$.a")
            .unwrap_err()
            .path(),
        "$.a.code"
    );
    assert_eq!(
        Authorization::parse("LE", "urn:x", "$.a")
            .unwrap_err()
            .path(),
        "$.a.system"
    );
}
