//! The Bundle minimiser: never panics, never passes an entry of another patient (in any
//! subject form), and every input entry is either returned or withheld (counted with
//! serde_json). The generative property of issue 16 is the target `minimise_generative`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tillit::minimise::minimise;
use tillit::policy::Policy;
use tillit::trust::TrustContext;

/// JSON text with every surrogate `\u` escape made `\uFFFD`. The reader lets a lone surrogate
/// pass in text it only skips or passes on (as JSON.parse does; see `scan`); serde_json, which
/// checks the results here, cannot hold one. Escapes are walked in order, so an escaped
/// backslash is never taken for the start of one.
fn without_surrogates(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\\' && i + 1 < text.len() {
            let esc = &text[i..(i + 6).min(text.len())];
            let surrogate = esc.len() == 6 && esc[1] == b'u' && matches!(esc[2], b'd' | b'D') && matches!(esc[3], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F');
            if surrogate {
                out.extend_from_slice(b"\\uFFFD");
                i += 6;
            } else {
                out.extend_from_slice(&text[i..i + 2]);
                i += 2;
            }
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let ctx = TrustContext::from_json(&serde_json::json!({
        "type": "tillit:citizen",
        "citizen": {"identifier": {"id": "04818500012", "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}
    }))
    .unwrap();
    let policy = Policy::default_policy();
    if let Ok(out) = minimise(data, &ctx, &policy, 1_781_481_600) {
        let bundle: serde_json::Value = serde_json::from_slice(&without_surrogates(out.bundle_json.as_bytes())).expect("the minimised Bundle is JSON");
        let entries = bundle["entry"].as_array().unwrap();
        for e in entries {
            // Every subject form names the patient (issue 16): the identifier, a conditional
            // reference, or a reference to a contained Patient.
            let s = &e["resource"]["subject"];
            let id = s.pointer("/identifier/value").and_then(|v| v.as_str());
            let r = s.get("reference").and_then(|v| v.as_str());
            assert!(id.is_some() || r.is_some(), "a kept entry names its patient");
            if let Some(id) = id {
                assert_eq!(id, "04818500012");
            }
            if let Some(r) = r {
                assert!(r.ends_with("|04818500012") || r.starts_with('#'), "{r}");
            }
            assert!(!e.as_object().unwrap().contains_key("search"), "an entry keeps fullUrl and resource only");
        }
        let input: serde_json::Value = serde_json::from_slice(&without_surrogates(data)).expect("what minimise accepts is JSON");
        let n = input.get("entry").and_then(|e| e.as_array()).map_or(0, |a| a.len());
        assert_eq!(entries.len() + out.withheld.len(), n);
    }
});
