//! Identifiers (src/ident.rs). The numbers here are not computed by tillit: each one is marked
//! valid by python-stdnum in tests/fixtures/identifiers-stdnum.tsv (its `stdnum.no.fodselsnummer`,
//! see tests/identifiers_oracle.rs), and the birth dates are read by hand with Skatteetaten's
//! rules for the fødselsnummer (day + 40: D-number; month + 40: H-number; century from the
//! individual number: 000-499 → 1900-1999, 500-749 with year 54-99 → 1854-1899, 500-999 with
//! year 00-39 → 2000-2039, 900-999 with year 40-99 → 1940-1999).

use tillit::ident::{HprNr, NationalId, NationalIdKind, SYSTEM_DNR, SYSTEM_FNR, SYSTEM_HNR};

#[test]
fn birth_date_and_kind_follow_the_published_rules() {
    for (digits, kind, birth) in [
        // individual 178: 1900s
        ("08066017800", NationalIdKind::Fnr, (1960, 6, 8)),
        // individual 575, year 09: 2009
        ("09020957597", NationalIdKind::Fnr, (2009, 2, 9)),
        // individual 924, year 04: 2004
        ("29030492437", NationalIdKind::Fnr, (2004, 3, 29)),
        // individual 535, year 96: 1896
        ("01059653543", NationalIdKind::Fnr, (1896, 5, 1)),
        // individual 949, year 52: 1952
        ("01045294907", NationalIdKind::Fnr, (1952, 4, 1)),
        // day 65 = 25 + 40: D-number; individual 824, year 11: 2011
        ("65051182477", NationalIdKind::Dnr, (2011, 5, 25)),
        // month 47 = 7 + 40: H-number; individual 438: 1925
        ("30472543861", NationalIdKind::Hnr, (1925, 7, 30)),
    ] {
        let id = NationalId::parse(digits, "$").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.kind(), kind, "{birth:?}");
        assert_eq!(id.birth_date(), birth);
        assert!(!id.is_synthetic());
    }
}

#[test]
fn each_kind_is_known_by_its_system_oid() {
    // The OIDs of the Norwegian identifier systems (Volven/HL7 Norge: 2.16.578.1.12.4.1.4.1
    // fødselsnummer, .2 D-number, .3 H-number).
    for (digits, system) in [
        ("08066017800", SYSTEM_FNR),
        ("65051182477", SYSTEM_DNR),
        ("30472543861", SYSTEM_HNR),
    ] {
        let id = NationalId::parse_with_system(digits, system, "$.identifier").unwrap();
        assert_eq!(id.system(), system);
        assert_eq!(NationalIdKind::from_system(system), Some(id.kind()));
    }
}

#[test]
fn a_kind_and_system_mismatch_names_both_kinds() {
    let e = NationalId::parse_with_system("08066017800", SYSTEM_DNR, "$.identifier").unwrap_err();
    assert_eq!(e.path(), "$.identifier.id");
    assert!(e.rule().contains("fødselsnummer"), "{}", e.rule());
    assert!(e.rule().contains("D-number"), "{}", e.rule());
    let e = NationalId::parse_with_system("30472543861", SYSTEM_FNR, "$.identifier").unwrap_err();
    assert!(e.rule().contains("H-number"), "{}", e.rule());
}

#[test]
fn hpr_numbers_have_up_to_nine_digits() {
    assert!(HprNr::parse("1", "$").is_ok());
    assert!(HprNr::parse("123456789", "$").is_ok());
    assert!(HprNr::parse("1234567890", "$").is_err());
}
