//! The access log's writer (`tillit::audit::writer`, what the wasm binding's `prepareEvents`
//! hands to): for any batch text, never panics; whatever it accepts, the platform-digest path
//! and the core's midstate path make the same lines, and the committed lines verify.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tillit::audit::chain;
use tillit::audit::stream::StreamVerifier;
use tillit::audit::writer::Writer;

const NOW: &str = "2026-01-02T03:04:05.000Z";

fn declared() -> (Writer, String) {
    let mut w = Writer::default();
    let d = w
        .declaration_claims(None, None, 1_000_000, "log".into(), NOW.into())
        .expect("claims");
    let line = w.prepare_record("declaration", &d, None).expect("declaration");
    w.commit_prepared(1).expect("commit");
    (w, line)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else { return };
    // The batch, then (after a NUL) the contexts, one per line.
    let (events, contexts) = text.split_once('\0').unwrap_or((text, ""));
    let contexts: Vec<String> = contexts.lines().map(String::from).collect();
    let (mut a, decl) = declared();
    let (mut b, _) = declared();
    let mut n = 0;
    let mut ids = || {
        n += 1;
        Ok(format!("id-{n}"))
    };
    let core = a.prepare_events(events, &contexts, NOW, &mut ids, None);
    let mut m = 0;
    let mut ids = || {
        m += 1;
        Ok(format!("id-{m}"))
    };
    let mut native = |bytes: &[u8]| Ok(chain::sha256_hex(bytes));
    let platform = b.prepare_events(events, &contexts, NOW, &mut ids, Some(&mut native));
    match (core, platform) {
        (Ok(x), Ok(y)) => {
            assert_eq!(x, y, "both hashing paths make the same lines");
            let lines: Vec<String> = x.lines().map(String::from).collect();
            a.commit_prepared(lines.len()).expect("commit what was prepared");
            let mut v = StreamVerifier::new(&serde_json::json!({})).expect("options");
            v.push(&[decl]);
            v.push(&lines);
            assert_eq!(v.finish()["ok"], true, "the writer's lines verify");
            let last = a.head_record().map(|h| h["seq"].clone());
            assert_eq!(last, Some(lines.len().into()));
        }
        (Err(x), Err(y)) => assert_eq!(x.code(), y.code()),
        _ => panic!("one hashing path accepted what the other refused"),
    }
});
