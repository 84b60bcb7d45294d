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

/// The two check digits by Skatteetaten's weights (3 7 6 1 8 9 4 5 2; 5 4 3 2 7 6 5 4 3 2),
/// written here apart from tillit's, or None when either is 10.
fn check_digits(first9: &str) -> Option<String> {
    let d: Vec<u32> = first9.bytes().map(|b| u32::from(b - b'0')).collect();
    let k = |w: &[u32], d: &[u32]| match 11 - d.iter().zip(w).map(|(a, b)| a * b).sum::<u32>() % 11
    {
        11 => Some(0),
        10 => None,
        k => Some(k),
    };
    let k1 = k(&[3, 7, 6, 1, 8, 9, 4, 5, 2], &d)?;
    let mut d10 = d.clone();
    d10.push(k1);
    let k2 = k(&[5, 4, 3, 2, 7, 6, 5, 4, 3, 2], &d10)?;
    Some(format!("{first9}{k1}{k2}"))
}

#[test]
fn synthetic_numbers_carry_the_month_plus_80() {
    // Skatteetaten's synthetic test numbers (Tenor): month + 80. python-stdnum refuses them
    // (tests/identifiers_oracle.rs), so their dates are checked here.
    for (prefix, birth) in [
        ("1505", (1985, 5, 15)),
        ("0312", (1992, 12, 3)),
        ("2801", (1981, 1, 28)),
    ] {
        let (dd, mm) = (&prefix[..2], &prefix[2..]);
        let yy = &birth.0.to_string()[2..];
        let n = (100..500)
            .find_map(|i| check_digits(&format!("{dd}{}{yy}{i}", mm.parse::<u32>().unwrap() + 80)))
            .unwrap();
        let id = NationalId::parse(&n, "$").unwrap();
        assert!(id.is_synthetic());
        assert_eq!(id.kind(), NationalIdKind::Fnr);
        assert_eq!(id.birth_date(), birth, "{prefix}");
    }
}
