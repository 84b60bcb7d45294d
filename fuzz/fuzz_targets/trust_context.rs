//! The trust-context parser: never panics; whatever parses round-trips.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tillit::trust::TrustContext;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(tc) = TrustContext::from_json(&v) {
        let again = TrustContext::from_json(&tc.to_json()).expect("what tillit writes, tillit reads");
        assert_eq!(again, tc);
        let _ = tc.check_fresh(1_800_000_000, 30);
    }
});
