//! The access log's batch of event inputs (the wrapper's JSON text, read with tillit's own
//! reader): never panics, and whatever it accepts, serde_json reads as the same array of
//! objects with the same string members.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use tillit::audit::event::EventInput;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else { return };
    let Ok(events) = EventInput::parse_batch(text, 1 << 20) else { return };
    let reference: Vec<Map<String, Value>> =
        serde_json::from_str(text).expect("what tillit accepts, serde_json reads");
    assert_eq!(events.len(), reference.len());
    for ((ctx, e), r) in events.iter().zip(&reference) {
        assert_eq!(*ctx, r.get("trustContext").and_then(Value::as_u64));
        assert_eq!(Some(e.client_id.as_str()), r["clientId"].as_str());
        assert_eq!(Some(e.server.as_str()), r["server"].as_str());
        assert_eq!(Some(e.transaction_id.as_str()), r["transactionId"].as_str());
        assert_eq!(e.query.as_deref(), r.get("query").and_then(Value::as_str));
        assert_eq!(e.document_id.as_deref(), r.get("documentId").and_then(Value::as_str));
    }
});
