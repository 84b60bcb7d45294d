//! The Bundle minimiser: never panics, never passes an entry of another patient, and every
//! input entry is either returned or withheld.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tillit::minimise::minimise;
use tillit::policy::Policy;
use tillit::trust::TrustContext;

fuzz_target!(|data: &[u8]| {
    let ctx = TrustContext::from_json(&serde_json::json!({
        "type": "tillit:citizen",
        "citizen": {"identifier": {"id": "04818500012", "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}
    }))
    .unwrap();
    let policy = Policy::default_policy();
    if let Ok(out) = minimise(data, &ctx, &policy, 1_781_481_600) {
        let bundle = out.bundle().unwrap();
        let entries = bundle["entry"].as_array().unwrap();
        for e in entries {
            assert_eq!(e.pointer("/resource/subject/identifier/value").and_then(|v| v.as_str()), Some("04818500012"));
        }
        let input: serde_json::Value = serde_json::from_slice(data).unwrap();
        let n = input.get("entry").and_then(|e| e.as_array()).map_or(0, |a| a.len());
        assert_eq!(entries.len() + out.withheld.len(), n);
    }
});
