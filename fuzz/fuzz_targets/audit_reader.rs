//! The audit-log reader (NDJSON with torn lines) and chain verification: never panic; a torn
//! tail is only ever at the end.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tillit::audit::chain::{read_ndjson, verify};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = read_ndjson(data) {
        if let Some(at) = r.torn_at {
            assert!(at <= data.len());
            assert!(!data[at..].iter().take(data.len() - at - 1).any(|b| *b == b'\n') || data[at..].ends_with(b"\n"));
        }
        let _ = verify(&r.records);
        let _ = tillit::audit::control::report(&r.records, 1);
        let _ = tillit::audit::control::citizen_report(&r.records, "04818500012");
    }
});
