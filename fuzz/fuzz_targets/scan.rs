//! The JSON reader the minimiser uses: it accepts exactly what serde_json accepts (within its
//! nesting limit), hands back each value's own text, and decodes strings as serde_json does.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tillit::scan::Reader;
use tillit::ErrorCode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut r = Reader::new(text, 64, "x");
    let ours = r.skip().and_then(|v| r.end().map(|()| v));
    let theirs = serde_json::from_str::<serde::de::IgnoredAny>(text);
    match &ours {
        Err(e) if e.code() == ErrorCode::InputTooLarge => return,
        Err(e) => assert_eq!(e.code(), ErrorCode::MalformedJson),
        Ok(v) => assert_eq!(*v, text.trim_matches([' ', '\t', '\n', '\r'])),
    }
    assert_eq!(ours.is_ok(), theirs.is_ok(), "ours {ours:?}, serde_json {theirs:?}");
    // A string value decodes as serde_json decodes it (both refuse lone surrogates).
    if ours.is_ok() && text.trim_start().starts_with('"') {
        let decoded = Reader::new(text, 64, "x").string().map(|s| s.into_owned());
        let theirs = serde_json::from_str::<String>(text);
        assert_eq!(decoded.ok(), theirs.ok());
    }
});
