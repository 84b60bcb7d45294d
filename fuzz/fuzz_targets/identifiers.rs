//! The identifier parsers: never panic; an accepted national id is consistent with itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tillit::ident::{HprNr, NationalId, OrgNr};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(id) = NationalId::parse(s, "$") {
        assert_eq!(id.as_str(), s);
        let (y, m, d) = id.birth_date();
        assert!((1..=12).contains(&m) && d >= 1 && d <= tillit::ident::days_in_month(y, m));
        assert!(NationalId::parse_with_system(s, id.system(), "$").is_ok());
        let e = format!("{:?}", id);
        assert!(!e.contains(s));
    } else if let Err(e) = NationalId::parse(s, "$") {
        // No run of six or more digits from the input (a national id, or part of one) may
        // appear in the message. (Input that is itself prose can match the rule text.)
        let msg = e.to_string();
        for run in s.split(|c: char| !c.is_ascii_digit()).filter(|r| r.len() >= 6) {
            assert!(!msg.contains(run), "an error quoted digits of the input");
        }
    }
    let _ = OrgNr::parse(s, "$");
    let _ = HprNr::parse(s, "$");
});
