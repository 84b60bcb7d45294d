//! The audit-log reader (NDJSON with torn lines), chain and format verification: never panic; a
//! torn tail is only ever at the end; the streaming verifier agrees with itself record by record.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tillit::audit::chain::{read_ndjson, verify};
use tillit::audit::format::{verify_records, VerifyOptions};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = read_ndjson(data) {
        // Every record is one complete line before the torn tail; the torn tail, if any, is one
        // line: no newline in it, or only its last byte (an unparsable last line).
        let at = r.torn_at.unwrap_or(data.len());
        assert!(at <= data.len());
        let (complete, tail) = data.split_at(at);
        assert!(
            complete.is_empty() || complete.ends_with(b"\n"),
            "records end at a line end"
        );
        let lines = |b: &[u8]| b.iter().filter(|c| **c == b'\n').count();
        assert_eq!(
            lines(complete),
            r.records.len(),
            "one record per complete line"
        );
        if r.torn_at.is_some() {
            assert!(!tail.is_empty(), "a torn tail holds something");
            let n = lines(tail);
            assert!(
                n == 0 || (n == 1 && tail.ends_with(b"\n")),
                "only the last line may be torn"
            );
        }
        let chain_ok = verify(&r.records).ok;
        for accept_legacy in [false, true] {
            let opts = VerifyOptions {
                accept_legacy,
                ..Default::default()
            };
            // A log that keeps the format's rules keeps the chain's.
            if verify_records(&r.records, opts).is_ok() {
                assert!(chain_ok);
            }
        }
        let _ = tillit::audit::control::report(&r.records, 1);
        let _ = tillit::audit::control::citizen_report(&r.records, "04818500012");
    }
});
