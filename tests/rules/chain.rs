//! The audit log's chain (src/audit/chain.rs), against the format it documents: each record
//! `{seq, prev, kind, body, hash}`, `hash` = SHA-256 (lowercase hex) of the RFC 8785 canonical
//! form without `hash`, `prev` the previous record's hash and GENESIS for the first.

use serde_json::{json, Value};
use tillit::audit::chain::{
    hex, is_hash_hex, read_ndjson, record_hash, sha256_hex, verify, Head, Verifier, GENESIS,
};

fn chain(n: usize) -> Vec<Value> {
    let mut h = Head::default();
    (0..n).map(|i| h.append("event", json!({"n": i}))).collect()
}

#[test]
fn hashes_are_sha256_in_lowercase_hex() {
    // FIPS 180-2, appendix B.1: SHA-256("abc").
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(hex(&[0x00, 0xff, 0x1a, 0x9b]), "00ff1a9b");
    assert_eq!(GENESIS, "0".repeat(64));
    assert!(is_hash_hex(&"0123456789abcdef".repeat(4)));
    for bad in [
        "0".repeat(63),
        "0".repeat(65),
        "A".repeat(64),
        "g".repeat(64),
        format!("{}/", "0".repeat(63)),
        format!("{}`", "0".repeat(63)),
    ] {
        assert!(!is_hash_hex(&bad), "{bad}");
    }
}

#[test]
fn a_record_hash_is_over_its_canonical_form_without_hash() {
    // Computed outside tillit: Python's hashlib.sha256 over the canonical text
    // {"body":{"a":1},"kind":"event","prev":"000…0","seq":0}.
    let expected = "f2d1bc8428e7548563d6c3822baee30fcae85738861900c7920f7e0f23ce7689";
    let r = json!({"seq": 0, "prev": GENESIS, "kind": "event", "body": {"a": 1}});
    assert_eq!(record_hash(&r), expected);
    let mut with_hash = r.clone();
    with_hash["hash"] = json!("whatever");
    assert_eq!(record_hash(&with_hash), expected);
    let mut h = Head::default();
    assert_eq!(h.append("event", json!({"a": 1}))["hash"], expected);
    let mut h = Head::default();
    let (line, hash) = h.append_line("event", &json!({"a": 1}));
    assert_eq!(hash, expected);
    assert_eq!(
        line,
        format!(
            r#"{{"body":{{"a":1}},"hash":"{expected}","kind":"event","prev":"{GENESIS}","seq":0}}"#
        )
    );
    assert_eq!((h.next_seq, h.hash.as_str()), (1, expected));
}

#[test]
fn a_digest_that_is_not_lowercase_sha256_hex_is_refused() {
    let mut h = Head::default();
    let r = h.append_written(
        "event",
        |s| {
            s.push_str("{}");
            Ok(())
        },
        &mut |_| Ok("G".repeat(64)),
    );
    assert!(r.is_err());
    assert_eq!(
        h,
        Head::default(),
        "a refused record does not advance the head"
    );
}

#[test]
fn every_member_is_required() {
    for m in ["seq", "prev", "kind", "hash"] {
        let mut c = chain(1);
        c[0].as_object_mut().unwrap().remove(m);
        if m != "hash" {
            let h = record_hash(&c[0]);
            c[0]["hash"] = json!(h);
        }
        let r = verify(&c);
        assert!(!r.ok, "{m}");
        assert!(r.problem.unwrap().starts_with("MALFORMED"), "{m}");
    }
}

#[test]
fn the_first_record_links_to_genesis() {
    let mut h = Head {
        next_seq: 0,
        hash: "ab".repeat(32),
    };
    let r = h.append("event", json!({}));
    let rep = verify(std::slice::from_ref(&r));
    assert!(!rep.ok);
    assert_eq!(rep.first_bad_index, Some(0));
    // A verifier at an empty log wants GENESIS whatever hash its head names.
    let mut v = Verifier::after(&Head {
        next_seq: 0,
        hash: "ab".repeat(32),
    });
    assert!(v.push(&r).is_err());
    let mut v = Verifier::after(&Head {
        next_seq: 0,
        hash: "ab".repeat(32),
    });
    assert!(v.push(&chain(1)[0]).is_ok());
}

#[test]
fn continuing_from_a_head_takes_only_records_that_link_to_it() {
    let c = chain(4);
    let head = Head::after(&c[..2]).unwrap();
    assert_eq!(head.next_seq, 2);
    assert_eq!(head.hash, c[1]["hash"].as_str().unwrap());
    let mut v = Verifier::after(&head);
    assert_eq!(v.head(), head);
    v.push(&c[2]).unwrap();
    v.push(&c[3]).unwrap();
    assert_eq!(v.head(), Head::after(&c).unwrap());
    // Another writer's records with the right sequence numbers but another history.
    let mut other = Head::default();
    let o: Vec<Value> = (0..4)
        .map(|i| other.append("event", json!({"other": i})))
        .collect();
    let mut v = Verifier::after(&head);
    assert_eq!(
        v.push(&o[2]),
        Err((
            1,
            "ALTERED: the record does not match the hash the next record committed to"
        ))
    );
    // A gap.
    let mut v = Verifier::after(&head);
    assert!(v
        .push(&c[3])
        .unwrap_err()
        .1
        .starts_with("MISSING_OR_REORDERED"));
    // The head of a fresh verifier is the empty log's.
    assert_eq!(Verifier::default().head(), Head::default());
}

#[test]
fn head_after_refuses_a_log_that_does_not_verify() {
    let mut c = chain(3);
    c[1]["body"] = json!({"n": 99});
    let e = Head::after(&c).unwrap_err();
    assert_eq!(e.path(), "log[1]");
    assert_eq!(Head::after(&[]).unwrap(), Head::default());
}

#[test]
fn ndjson_only_the_last_line_may_be_torn() {
    let c = chain(2);
    let mut text = String::new();
    for r in &c {
        text.push_str(&r.to_string());
        text.push('\n');
    }
    let whole = read_ndjson(text.as_bytes()).unwrap();
    assert_eq!((whole.records.len(), whole.torn_at), (2, None));
    let torn = format!("{text}{{\"seq\":2");
    let r = read_ndjson(torn.as_bytes()).unwrap();
    assert_eq!((r.records.len(), r.torn_at), (2, Some(text.len())));
    let torn_nl = format!("{text}{{\"seq\":2\n");
    let r = read_ndjson(torn_nl.as_bytes()).unwrap();
    assert_eq!((r.records.len(), r.torn_at), (2, Some(text.len())));
    let corrupt = format!("{}\nnot json\n{}", c[0], text);
    assert_eq!(
        read_ndjson(corrupt.as_bytes()).unwrap_err().path(),
        "log line 2"
    );
}
