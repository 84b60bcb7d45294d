//! The audit-log reader (NDJSON with torn lines), chain and format verification: never panic;
//! one record per complete line and a torn tail only ever at the end; the streaming verifier
//! agrees with itself record by record; the bytes read in chunks (as a log is opened) give what
//! they give read whole.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tillit::audit::chain::{read_ndjson, verify, NdjsonStream};
use tillit::audit::format::{verify_records, VerifyOptions};

fuzz_target!(|data: &[u8]| {
    let whole = read_ndjson(data);
    // Chunks of 1 to 61 bytes (the first byte decides): the same records, torn tail and error.
    let size = data.first().map_or(1, |b| *b as usize % 61 + 1);
    let mut s = NdjsonStream::default();
    let mut records = Vec::new();
    let streamed: Result<(), u64> = data
        .chunks(size)
        .try_for_each(|c| s.push(c, |r, _| records.push(r)));
    match (&whole, streamed) {
        (Ok(w), Ok(())) => {
            assert!(w.records == records && w.torn_at == s.torn_at().map(|a| a as usize))
        }
        (Err(_), Err(_)) => {}
        _ => panic!("read whole and read in chunks of {size} disagree"),
    }
    if let Ok(r) = whole {
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
