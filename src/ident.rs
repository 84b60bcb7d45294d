//! Norwegian identifiers as parsed types: a value of these types is valid by construction.
//!
//! - [`NationalId`]: fødselsnummer, D-number, H-number, and synthetic test numbers
//!   (month + 80, Skatteetaten's Tenor; month + 40 is read as an H-number), with both mod-11
//!   check digits and a real calendar date (century from the individual number).
//! - [`OrgNr`]: organisation number, 9 digits, mod-11.
//! - [`HprNr`]: HPR number (helsepersonellnummer), digits only.
//!
//! `Debug` of a [`NationalId`] never prints the number; errors never contain it either.

use crate::error::{Error, ErrorCode, Result};
use core::fmt;

/// OID system of fødselsnummer.
pub const SYSTEM_FNR: &str = "urn:oid:2.16.578.1.12.4.1.4.1";
/// OID system of D-numbers.
pub const SYSTEM_DNR: &str = "urn:oid:2.16.578.1.12.4.1.4.2";
/// OID system of H-numbers (help numbers).
pub const SYSTEM_HNR: &str = "urn:oid:2.16.578.1.12.4.1.4.3";
/// OID system of HPR numbers.
pub const SYSTEM_HPR: &str = "urn:oid:2.16.578.1.12.4.1.4.4";
/// OID system of organisation numbers (Enhetsregisteret).
pub const SYSTEM_ORGNR: &str = "urn:oid:2.16.578.1.12.4.1.4.101";
/// OID system of RESH ids (the register of health-service units).
pub const SYSTEM_RESH: &str = "urn:oid:2.16.578.1.12.4.1.4.102";

/// Which kind of national id the digits encode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NationalIdKind {
    /// Fødselsnummer.
    Fnr,
    /// D-number (day + 40).
    Dnr,
    /// H-number (month + 40).
    Hnr,
}

impl NationalIdKind {
    /// The OID system for this kind.
    pub const fn system(self) -> &'static str {
        match self {
            NationalIdKind::Fnr => SYSTEM_FNR,
            NationalIdKind::Dnr => SYSTEM_DNR,
            NationalIdKind::Hnr => SYSTEM_HNR,
        }
    }

    /// The kind a system OID names, if any.
    pub fn from_system(system: &str) -> Option<Self> {
        match system {
            SYSTEM_FNR => Some(NationalIdKind::Fnr),
            SYSTEM_DNR => Some(NationalIdKind::Dnr),
            SYSTEM_HNR => Some(NationalIdKind::Hnr),
            _ => None,
        }
    }
}

/// A valid Norwegian national identity number.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NationalId {
    digits: String,
    kind: NationalIdKind,
    synthetic: bool,
    birth: (u16, u8, u8),
}

const W1: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const W2: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// Mod-11 check digit over `digits` with `weights`; `None` when the rule gives 10 (invalid).
fn mod11(digits: &[u32], weights: &[u32]) -> Option<u32> {
    let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        k => Some(k),
    }
}

fn digits_of(s: &str, len: usize, path: &str, what: &str) -> Result<Vec<u32>> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::new(
            ErrorCode::InvalidIdentifier,
            path,
            format!("{what} must be exactly {len} digits"),
        ));
    }
    Ok(s.bytes().map(|b| u32::from(b - b'0')).collect())
}

/// Whether `year` is a Gregorian leap year.
pub const fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` (1–12) of `year`.
pub const fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Whether `day` is a day of `month` (1–12) in `year`.
pub const fn is_calendar_day(year: u16, month: u8, day: u8) -> bool {
    day != 0 && day <= days_in_month(year, month)
}

/// The century a fødselsnummer's individual number (digits 7–9) and two-digit year give.
fn full_year(yy: u16, individual: u16) -> Option<u16> {
    match individual {
        0..=499 => Some(1900 + yy),
        500..=749 if yy >= 54 => Some(1800 + yy),
        500..=999 if yy <= 39 => Some(2000 + yy),
        // yy 40-99 (00-39 took the arm above).
        900..=999 => Some(1900 + yy),
        _ => None,
    }
}

impl NationalId {
    /// Parses 11 digits. `path` names the field in errors; the number itself is never quoted.
    pub fn parse(s: &str, path: &str) -> Result<Self> {
        let d = digits_of(s, 11, path, "a national id")?;
        let bad = |rule: &str| Error::new(ErrorCode::InvalidIdentifier, path, rule.to_string());
        let k1 = mod11(&d[..9], &W1).ok_or_else(|| {
            bad("first check digit computes to 10: no valid number has these first nine digits")
        })?;
        if k1 != d[9] {
            return Err(bad("first mod-11 check digit does not match"));
        }
        let k2 = mod11(&d[..10], &W2).ok_or_else(|| {
            bad("second check digit computes to 10: no valid number has these first ten digits")
        })?;
        if k2 != d[10] {
            return Err(bad("second mod-11 check digit does not match"));
        }
        let mut day = (d[0] * 10 + d[1]) as u8;
        let mut month = (d[2] * 10 + d[3]) as u8;
        let yy = (d[4] * 10 + d[5]) as u16;
        let individual = (d[6] * 100 + d[7] * 10 + d[8]) as u16;

        let mut kind = NationalIdKind::Fnr;
        let mut synthetic = false;
        // The offsets apply to a day or month they turn into one (41-71: D-number day;
        // 81-92: synthetic month; 41-52: H-number month); anything else is left for the
        // calendar checks below to refuse by name.
        if (41..=71).contains(&day) {
            day -= 40;
            kind = NationalIdKind::Dnr;
        }
        if (81..=92).contains(&month) {
            month -= 80;
            synthetic = true;
        } else if (41..=52).contains(&month) {
            month -= 40;
            if kind == NationalIdKind::Dnr {
                return Err(bad(
                    "day + 40 (D-number) and month + 40 (H-number) cannot both apply",
                ));
            }
            kind = NationalIdKind::Hnr;
        }
        let year = full_year(yy, individual)
            .ok_or_else(|| bad("individual number does not fit the year of birth (no century)"))?;
        if !(1..=12).contains(&month) {
            return Err(bad(
                "month of birth is not 1-12 (after the D/H/synthetic offsets)",
            ));
        }
        if !is_calendar_day(year, month, day) {
            return Err(bad("day of birth is not a day of that month and year"));
        }
        Ok(NationalId {
            digits: s.to_string(),
            kind,
            synthetic,
            birth: (year, month, day),
        })
    }

    /// Parses and checks that the digits are of the kind `system` names.
    pub fn parse_with_system(s: &str, system: &str, path: &str) -> Result<Self> {
        let sys_path = format!("{path}.system");
        let want = NationalIdKind::from_system(system).ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidCode,
                sys_path.clone(),
                "must be the OID of fødselsnummer (…4.1.4.1), D-number (…4.1.4.2) or H-number (…4.1.4.3)",
            )
        })?;
        let id = NationalId::parse(s, &format!("{path}.id"))?;
        if id.kind != want {
            return Err(Error::new(
                ErrorCode::InvalidIdentifier,
                format!("{path}.id"),
                format!(
                    "digits are a {} but system says {}",
                    id.kind.label(),
                    want.label()
                ),
            ));
        }
        Ok(id)
    }

    /// The 11 digits. Handle with care: this is personal data.
    pub fn as_str(&self) -> &str {
        &self.digits
    }

    /// Which kind of number this is.
    pub fn kind(&self) -> NationalIdKind {
        self.kind
    }

    /// Whether this is a synthetic test number (month + 80).
    pub fn is_synthetic(&self) -> bool {
        self.synthetic
    }

    /// Date of birth as (year, month, day), as the number encodes it.
    pub fn birth_date(&self) -> (u16, u8, u8) {
        self.birth
    }

    /// The OID system of this number.
    pub fn system(&self) -> &'static str {
        self.kind.system()
    }
}

impl NationalIdKind {
    fn label(self) -> &'static str {
        match self {
            NationalIdKind::Fnr => "fødselsnummer",
            NationalIdKind::Dnr => "D-number",
            NationalIdKind::Hnr => "H-number",
        }
    }
}

impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NationalId({:?}, synthetic: {}, ***********)",
            self.kind, self.synthetic
        )
    }
}

/// A valid 9-digit organisation number (Enhetsregisteret), mod-11 checked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrgNr(String);

impl OrgNr {
    /// Parses 9 digits with the mod-11 check (weights 3 2 7 6 5 4 3 2).
    pub fn parse(s: &str, path: &str) -> Result<Self> {
        let d = digits_of(s, 9, path, "an organisation number")?;
        match mod11(&d[..8], &[3, 2, 7, 6, 5, 4, 3, 2]) {
            Some(k) if k == d[8] => Ok(OrgNr(s.to_string())),
            Some(_) => Err(Error::new(
                ErrorCode::InvalidIdentifier,
                path,
                "organisation number mod-11 check digit does not match",
            )),
            None => Err(Error::new(
                ErrorCode::InvalidIdentifier,
                path,
                "organisation number check digit computes to 10: not a valid number",
            )),
        }
    }

    /// The 9 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A valid HPR number: digits only, 1 to 9 of them, not all zero.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HprNr(String);

impl HprNr {
    /// Parses an HPR number.
    pub fn parse(s: &str, path: &str) -> Result<Self> {
        if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::new(
                ErrorCode::InvalidIdentifier,
                path,
                "an HPR number must be 1 to 9 digits",
            ));
        }
        if s.bytes().all(|b| b == b'0') {
            return Err(Error::new(
                ErrorCode::InvalidIdentifier,
                path,
                "an HPR number cannot be zero",
            ));
        }
        Ok(HprNr(s.to_string()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Computes the two check digits for the first nine digits of a national id, or `None` if
/// either is 10. Used by the synthetic-patient generator and by tests.
pub fn national_id_check_digits(first9: &[u32; 9]) -> Option<(u32, u32)> {
    let k1 = mod11(first9, &W1)?;
    let mut ten = [0u32; 10];
    ten[..9].copy_from_slice(first9);
    ten[9] = k1;
    let k2 = mod11(&ten, &W2)?;
    Some((k1, k2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a valid number from a date-ish prefix and individual number, if one exists.
    fn make(ddmmyy: &str, individual: u32) -> Option<String> {
        let s = format!("{ddmmyy}{individual:03}");
        let d: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
        let (k1, k2) = national_id_check_digits(&d.try_into().unwrap())?;
        Some(format!("{s}{k1}{k2}"))
    }

    fn first_valid(ddmmyy: &str, range: core::ops::RangeInclusive<u32>) -> String {
        range
            .filter_map(|i| make(ddmmyy, i))
            .next()
            .expect("some individual number works")
    }

    #[test]
    fn known_valid_fnr() {
        // A well-known published test number pattern computed here, not a real person.
        let n = first_valid("010190", 0..=499);
        let id = NationalId::parse(&n, "$.id").unwrap();
        assert_eq!(id.kind(), NationalIdKind::Fnr);
        assert!(!id.is_synthetic());
        assert_eq!(id.birth_date(), (1990, 1, 1));
    }

    #[test]
    fn wrong_length_and_non_digits() {
        for s in [
            "",
            "1234567890",
            "123456789012",
            "0101901234a",
            "01019O12345",
            " 1010901234",
        ] {
            let e = NationalId::parse(s, "$.x").unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidIdentifier);
            assert!(e.rule().contains("11 digits"), "{s:?}");
        }
    }

    #[test]
    fn each_check_digit_is_checked() {
        let n = first_valid("150285", 100..=499);
        let mut b = n.clone().into_bytes();
        b[9] = b'0' + (b[9] - b'0' + 1) % 10;
        let e = NationalId::parse(core::str::from_utf8(&b).unwrap(), "$").unwrap_err();
        assert!(e.rule().contains("first"), "{}", e.rule());
        let mut b = n.into_bytes();
        b[10] = b'0' + (b[10] - b'0' + 1) % 10;
        let e = NationalId::parse(core::str::from_utf8(&b).unwrap(), "$").unwrap_err();
        assert!(e.rule().contains("second"));
    }

    #[test]
    fn check_digit_ten_never_valid_and_eleven_is_zero() {
        // Find prefixes where k1 would be 10, and where the sum is 0 mod 11 (k = 0).
        let mut saw_ten = false;
        let mut saw_zero = false;
        for i in 0..500u32 {
            let s = format!("010190{i:03}");
            let d: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
            match mod11(&d, &W1) {
                None => {
                    saw_ten = true;
                    for k in 0..10 {
                        for k2 in 0..10 {
                            let cand = format!("{s}{k}{k2}");
                            assert!(NationalId::parse(&cand, "$").is_err());
                        }
                    }
                }
                Some(0) => {
                    saw_zero = true;
                    let full = make("010190", i);
                    if let Some(full) = full {
                        assert_eq!(&full[9..10], "0");
                        assert!(NationalId::parse(&full, "$").is_ok());
                    }
                }
                _ => {}
            }
        }
        assert!(saw_ten && saw_zero);
    }

    #[test]
    fn february_29_only_in_leap_years_and_century_rules() {
        // 2000 is a leap year (individual 500-999 with yy <= 39 → 20yy).
        assert!(NationalId::parse(&first_valid("290200", 500..=999), "$").is_ok());
        // 1900 is not (individual 000-499 → 19yy).
        assert!(make_range_all_invalid("290200", 0..=499));
        // 1996 is, 1997 is not.
        assert!(NationalId::parse(&first_valid("290296", 0..=499), "$").is_ok());
        assert!(make_range_all_invalid("290297", 0..=499));
        // 2024 leap; 2023 not.
        assert!(NationalId::parse(&first_valid("290224", 500..=999), "$").is_ok());
        assert!(make_range_all_invalid("290223", 500..=999));
    }

    fn make_range_all_invalid(ddmmyy: &str, r: core::ops::RangeInclusive<u32>) -> bool {
        r.filter_map(|i| make(ddmmyy, i)).all(|n| {
            let e = NationalId::parse(&n, "$").unwrap_err();
            e.rule().contains("day of birth")
        })
    }

    #[test]
    fn impossible_dates() {
        for p in ["000190", "320190", "310490"] {
            assert!(make_range_all_invalid(p, 0..=499), "{p}");
        }
        for p in ["011390", "010090", "015390", "019390"] {
            assert!(
                make_range_all_invalid_rule(p, 0..=499, "month of birth"),
                "{p}"
            );
        }
    }

    #[test]
    fn century_gaps_rejected() {
        // Individual 500-749 with yy 40-53 fits no century.
        for n in (500..=749).filter_map(|i| make("010145", i)) {
            let e = NationalId::parse(&n, "$").unwrap_err();
            assert!(e.rule().contains("century"), "{}", e.rule());
        }
        // 1854-1899 with 500-749.
        let n = first_valid("010160", 500..=749);
        assert_eq!(NationalId::parse(&n, "$").unwrap().birth_date().0, 1860);
        // 900-999 with yy >= 40 → 19yy.
        let n = first_valid("010145", 900..=999);
        assert_eq!(NationalId::parse(&n, "$").unwrap().birth_date().0, 1945);
    }

    #[test]
    fn d_h_and_synthetic_numbers() {
        let d = NationalId::parse(&first_valid("410190", 0..=499), "$").unwrap();
        assert_eq!(d.kind(), NationalIdKind::Dnr);
        assert_eq!(d.birth_date(), (1990, 1, 1));
        let h = NationalId::parse(&first_valid("014190", 0..=499), "$").unwrap();
        assert_eq!(h.kind(), NationalIdKind::Hnr);
        let s = NationalId::parse(&first_valid("018190", 0..=499), "$").unwrap();
        assert_eq!(s.kind(), NationalIdKind::Fnr);
        assert!(s.is_synthetic());
        let ds = NationalId::parse(&first_valid("418190", 0..=499), "$").unwrap();
        assert_eq!(ds.kind(), NationalIdKind::Dnr);
        assert!(ds.is_synthetic());
        // D and H at once is contradictory.
        assert!(make_range_all_invalid_rule(
            "414190",
            0..=499,
            "cannot both"
        ));
        // Synthetic 29 Feb in a leap year.
        assert!(NationalId::parse(&first_valid("298200", 500..=999), "$").is_ok());
        // D-number day 71 (31+40) in a 30-day month.
        assert!(make_range_all_invalid("710490", 0..=499));
    }

    fn make_range_all_invalid_rule(p: &str, r: core::ops::RangeInclusive<u32>, rule: &str) -> bool {
        r.filter_map(|i| make(p, i)).all(|n| {
            NationalId::parse(&n, "$")
                .unwrap_err()
                .rule()
                .contains(rule)
        })
    }

    #[test]
    fn system_must_match_kind() {
        let f = first_valid("010190", 0..=499);
        assert!(NationalId::parse_with_system(&f, SYSTEM_FNR, "$.identifier").is_ok());
        let e = NationalId::parse_with_system(&f, SYSTEM_DNR, "$.identifier").unwrap_err();
        assert_eq!(e.path(), "$.identifier.id");
        let e = NationalId::parse_with_system(&f, "urn:oid:1.2.3", "$.identifier").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidCode);
        assert_eq!(e.path(), "$.identifier.system");
    }

    #[test]
    fn errors_and_debug_never_show_the_number() {
        let f = first_valid("010190", 0..=499);
        assert!(!format!("{:?}", NationalId::parse(&f, "$").unwrap()).contains(&f));
        let mut bad = f.clone().into_bytes();
        bad[10] = b'0' + (bad[10] - b'0' + 1) % 10;
        let bad = String::from_utf8(bad).unwrap();
        let e = NationalId::parse(&bad, "$").unwrap_err();
        assert!(!e.to_string().contains(&bad));
        assert!(!e.to_string().contains(&bad[..6]));
    }

    #[test]
    fn orgnr() {
        // 974760673 (Brønnøysundregistrene) and 983044778 are public valid org numbers.
        assert!(OrgNr::parse("974760673", "$").is_ok());
        assert!(OrgNr::parse("983044778", "$").is_ok());
        assert!(OrgNr::parse("974760674", "$")
            .unwrap_err()
            .rule()
            .contains("check digit"));
        assert!(OrgNr::parse("97476067", "$")
            .unwrap_err()
            .rule()
            .contains("9 digits"));
        assert!(OrgNr::parse("97476067x", "$").is_err());
        // A prefix whose check digit would be 10 never validates.
        let ten = (0..100_000_000u32)
            .step_by(7919)
            .map(|n| format!("{n:08}"))
            .find(|p| {
                mod11(
                    &p.bytes().map(|b| u32::from(b - b'0')).collect::<Vec<_>>(),
                    &[3, 2, 7, 6, 5, 4, 3, 2],
                )
                .is_none()
            })
            .unwrap();
        for k in 0..10 {
            assert!(OrgNr::parse(&format!("{ten}{k}"), "$").is_err());
        }
    }

    #[test]
    fn hpr() {
        assert!(HprNr::parse("9144900", "$").is_ok());
        assert!(HprNr::parse("", "$").is_err());
        assert!(HprNr::parse("12a", "$").is_err());
        assert!(HprNr::parse("1234567890", "$").is_err());
        assert!(HprNr::parse("000", "$").is_err());
    }

    #[test]
    fn leap_years() {
        assert!(is_leap_year(2000) && is_leap_year(2024) && is_leap_year(1996));
        assert!(!is_leap_year(1900) && !is_leap_year(2023) && !is_leap_year(2100));
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
    }
}
