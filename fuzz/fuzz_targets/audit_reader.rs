//! The audit-log reader (NDJSON with torn lines), chain and format verification: never panic; a
//! torn tail is only ever at the end; the streaming verifier agrees with itself record by record.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tillit::audit::chain::{read_ndjson, verify};
use tillit::audit::format::{verify_records, VerifyOptions};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = read_ndjson(data) {
        if let Some(at) = r.torn_at {
            assert!(at <= data.len());
            assert!(!data[at..].iter().take(data.len() - at - 1).any(|b| *b == b'\n') || data[at..].ends_with(b"\n"));
        }
        let chain_ok = verify(&r.records).ok;
        for accept_legacy in [false, true] {
            let opts = VerifyOptions { accept_legacy, ..Default::default() };
            // A log that keeps the format's rules keeps the chain's.
            if verify_records(&r.records, opts).is_ok() {
                assert!(chain_ok);
            }
        }
        let _ = tillit::audit::control::report(&r.records, 1);
        let _ = tillit::audit::control::citizen_report(&r.records, "04818500012");
    }
});
