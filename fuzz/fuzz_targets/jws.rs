//! The JWS/DPoP parsers used by tests and the emulator: never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tillit::jose::{parse_compact, PublicJwk};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(p) = parse_compact(s, "jws") {
        if let Some(jwk) = p.header.get("jwk") {
            if let Ok(k) = PublicJwk::from_value(jwk, false, "jwk") {
                let _ = k.thumbprint();
            }
        }
    }
    let _ = tillit::dpop::htu(s);
    let _ = tillit::client::dpop_challenge_error(s);
    let _ = tillit::client::clean(s, 300);
    // The document rules have their own target (document.rs); CDA here as before.
    let _ = tillit::document::accept("application/xml", data.to_vec(), &tillit::document::Expected { patient: "13116900216", size: None });
});
