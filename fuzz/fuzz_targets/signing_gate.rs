//! The server signer's gate (`tillit::signing`) on arbitrary signing inputs: never panics,
//! and whatever it approves is, read independently with serde_json, one of the two shapes
//! it may sign: the configured key's header, the configured client and issuer, at most 60 s,
//! issued now, and a jti it never approved before.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashSet;
use tillit::ident::{HprNr, NationalId, OrgNr};
use tillit::jose::{b64u_decode, Alg};
use tillit::signing::{Config, Gate, Session};

/// The clock the seeds (fuzz/seeds/signing_gate) were made for.
const NOW: u64 = 1_800_000_000;

thread_local! {
    static GATE: RefCell<(Gate, HashSet<String>)> = RefCell::new({
        let mut c = Config::new("tillit-demo", "https://helseid.example", Alg::Es256, Some("k1")).unwrap();
        c.redirect_uris = vec!["https://ehr.example/cb".into()];
        c.scopes = vec!["openid".into(), "nhn:phr/mhd/read-documentreferences".into()];
        (Gate::new(c), HashSet::new())
    });
}

fn session() -> Session {
    Session {
        practitioner: NationalId::parse("03818500083", "$").unwrap(),
        hpr_nr: Some(HprNr::parse("9144900", "$").unwrap()),
        legal_entity: OrgNr::parse("974760673", "$").unwrap(),
        point_of_care: OrgNr::parse("974760673", "$").unwrap(),
        allowed_patients: vec![NationalId::parse("04818500012", "$").unwrap()],
    }
}

fuzz_target!(|data: &[u8]| {
    GATE.with(|g| {
        let (gate, approved) = &mut *g.borrow_mut();
        let Ok(a) = gate.check(data, &session(), NOW) else {
            return;
        };
        let text = std::str::from_utf8(data).expect("approved input is UTF-8");
        let (h, c) = text.split_once('.').expect("approved input has two parts");
        let read =
            |p: &str| -> Value { serde_json::from_slice(&b64u_decode(p, "$").unwrap()).unwrap() };
        let (h, c) = (read(h), read(c));
        assert_eq!(h["alg"], "ES256");
        assert_eq!(h["kid"], "k1");
        assert!(h["typ"] == "client-authentication+jwt" || h["typ"] == "oauth-authz-req+jwt");
        assert_eq!(c["iss"], "tillit-demo");
        assert_eq!(c["aud"], "https://helseid.example");
        let (iat, exp) = (c["iat"].as_u64().unwrap(), c["exp"].as_u64().unwrap());
        assert!(exp > iat && exp - iat <= 60 && exp > NOW && iat.abs_diff(NOW) <= 30);
        assert_eq!(c["jti"].as_str(), Some(a.jti.as_str()));
        assert!(approved.insert(a.jti), "a jti approved twice");
    });
});
