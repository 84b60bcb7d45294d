//! The log format's rules (src/audit/format.rs) against its specification,
//! docs/audit-format.md (format 1): the declaration's members, where checkpoints stand,
//! anchors, format 0, and what the verifier reports.

use serde_json::{json, Value};
use tillit::audit::chain::Head;
use tillit::audit::format::{
    declaration_body, verify_records, Anchor, Declaration, DeclaredKey, Expect, LogVerifier,
    Summary, ToSign, VerifyOptions, CHECKPOINT_TYP, DECLARATION_TYP, FORMAT, MAX_EVERY,
};

/// A 43-character base64url thumbprint (the RFC 7638 example's).
const T: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

fn decl(key: bool, every: u64, legacy: u64) -> Declaration {
    Declaration {
        format: FORMAT,
        checkpoint_every: every,
        checkpoint_key: key.then(|| DeclaredKey {
            thumbprint: T.into(),
            alg: "ES256".into(),
        }),
        legacy_records: legacy,
        log_id: "00000000-0000-4000-8000-000000000000".into(),
        created: "2026-12-02T17:00:00Z".into(),
    }
}

fn body(key: bool, every: u64) -> Value {
    declaration_body(&decl(key, every, 0), key.then_some("h.p.s"))
}

/// `d` for a (keyed or not, per `key`) declaration, `e` an event, `c` a checkpoint, `n` a note.
fn log(key: bool, every: u64, pattern: &str) -> Vec<Value> {
    let mut h = Head::default();
    let mut out = Vec::new();
    for c in pattern.chars() {
        let i = out.len();
        out.push(match c {
            'd' => {
                let legacy = i as u64;
                h.append(
                    "declaration",
                    declaration_body(&decl(key, every, legacy), key.then_some("h.p.s")),
                )
            }
            'c' => h.append("checkpoint", json!({ "jws": "h.p.s" })),
            'n' => h.append("note", json!({ "text": "n" })),
            _ => h.append(
                "event",
                json!({ "resourceType": "AuditEvent", "id": i.to_string() }),
            ),
        });
    }
    out
}

fn keyed() -> VerifyOptions {
    VerifyOptions {
        key_thumbprint: Some(T.into()),
        ..Default::default()
    }
}

fn failure(r: &[Value], opts: VerifyOptions) -> (u64, String) {
    let f = verify_records(r, opts).unwrap_err();
    (f.index, f.problem.split(':').next().unwrap().to_string())
}

fn ok(r: &[Value], opts: VerifyOptions) -> Summary {
    verify_records(r, opts)
        .unwrap_or_else(|f| panic!("{f:?}"))
        .0
}

fn parse_err(f: impl FnOnce(&mut Value)) -> String {
    let mut b = body(true, 10);
    f(&mut b);
    Declaration::parse(&b).unwrap_err()
}

#[test]
fn checkpoint_every_is_1_to_1_000_000() {
    assert_eq!(MAX_EVERY, 1_000_000);
    for (n, good) in [
        (0u64, false),
        (1, true),
        (1_000_000, true),
        (1_000_001, false),
    ] {
        let mut b = body(true, 10);
        b["checkpointEvery"] = json!(n);
        let r = Declaration::parse(&b);
        assert_eq!(r.is_ok(), good, "{n}: {r:?}");
        if let Ok((d, _)) = r {
            assert_eq!(d.checkpoint_every, n);
        }
    }
}

#[test]
fn the_declaration_has_exactly_its_members() {
    let (d, jws) = Declaration::parse(&body(true, 10)).unwrap();
    assert_eq!(d, decl(true, 10, 0));
    assert_eq!(jws.as_deref(), Some("h.p.s"));
    assert!(parse_err(|b| b["extra"] = json!(1)).starts_with("DECLARATION"));
    assert!(parse_err(|b| b["format"] = json!(2)).starts_with("FORMAT"));
    assert!(parse_err(|b| b["legacyRecords"] = json!(-1)).starts_with("DECLARATION"));
    assert!(parse_err(|b| {
        b.as_object_mut().unwrap().remove("created");
    })
    .starts_with("DECLARATION"));
    assert!(Declaration::parse(&json!([])).is_err());
}

#[test]
fn log_id_and_created_are_1_to_128_characters() {
    for (s, good) in [
        (String::new(), false),
        ("x".to_string(), true),
        ("ø".repeat(128), true),
        ("x".repeat(129), false),
    ] {
        for k in ["logId", "created"] {
            let mut b = body(false, 10);
            b[k] = json!(s);
            assert_eq!(
                Declaration::parse(&b).is_ok(),
                good,
                "{k} of {} characters",
                s.chars().count()
            );
        }
    }
}

#[test]
fn the_checkpoint_key_is_null_or_a_thumbprint_and_an_alg() {
    // "T the RFC 7638 SHA-256 thumbprint (base64url, no padding, 43 characters)".
    let with_key = |k: Value| {
        let mut b = body(true, 10);
        b["checkpointKey"] = k;
        Declaration::parse(&b)
    };
    for alg in ["ES256", "RS256", "PS256"] {
        let (d, _) = with_key(json!({"thumbprint": T, "alg": alg})).unwrap();
        assert_eq!(d.checkpoint_key.unwrap().alg, alg);
    }
    for bad in [
        json!({"thumbprint": &T[..42], "alg": "ES256"}),
        json!({"thumbprint": format!("{T}A"), "alg": "ES256"}),
        json!({"thumbprint": format!("{}+", &T[..42]), "alg": "ES256"}),
        json!({"thumbprint": format!("{}=", &T[..42]), "alg": "ES256"}),
        json!({"thumbprint": T, "alg": "HS256"}),
        json!({"thumbprint": T, "alg": "ES256", "kid": "k"}),
        json!({"thumbprint": T}),
        json!("key"),
    ] {
        assert!(
            with_key(bad.clone())
                .unwrap_err()
                .starts_with("DECLARATION"),
            "{bad}"
        );
    }
    let (d, jws) = Declaration::parse(&body(false, 10)).unwrap();
    assert_eq!((d.checkpoint_key, jws), (None, None));
}

#[test]
fn jws_is_present_exactly_when_a_key_is_declared() {
    assert!(parse_err(|b| {
        b.as_object_mut().unwrap().remove("jws");
    })
    .starts_with("UNSIGNED"));
    assert!(parse_err(|b| b["jws"] = json!(1)).starts_with("DECLARATION"));
    let mut b = body(false, 10);
    b["jws"] = json!("h.p.s");
    assert!(Declaration::parse(&b)
        .unwrap_err()
        .starts_with("DECLARATION"));
}

#[test]
fn checkpoints_are_due_after_n_records_and_never_extra() {
    // "after N such records since the declaration or the last checkpoint, the next record,
    // if any, must be a checkpoint"; "a checkpoint must follow at least one such record".
    let s = ok(&log(true, 2, "deecee"), keyed());
    assert_eq!(
        (
            s.entries,
            s.checkpoints,
            s.since_checkpoint,
            s.unsigned_tail
        ),
        (6, 1, 2, 2)
    );
    assert_eq!(
        failure(&log(true, 2, "deee"), keyed()),
        (3, "CHECKPOINT_MISSING".into())
    );
    assert_eq!(
        failure(&log(true, 2, "deecnee"), keyed()),
        (6, "CHECKPOINT_MISSING".into())
    );
    assert_eq!(
        failure(&log(true, 2, "dc"), keyed()),
        (1, "CHECKPOINT_EXTRA".into())
    );
    assert_eq!(
        failure(&log(true, 2, "decc"), keyed()),
        (3, "CHECKPOINT_EXTRA".into())
    );
    // Earlier than due is allowed, and the interval counts again from there.
    let s = ok(&log(true, 3, "decee"), keyed());
    assert_eq!(
        (s.checkpoints, s.since_checkpoint, s.unsigned_tail),
        (1, 2, 2)
    );
    let s = ok(&log(true, 1, "dec"), keyed());
    assert_eq!(
        (s.checkpoints, s.since_checkpoint, s.unsigned_tail),
        (1, 0, 0)
    );
    // Without the key given, places are still checked.
    assert_eq!(
        failure(&log(true, 2, "deee"), VerifyOptions::default()),
        (3, "CHECKPOINT_MISSING".into())
    );
}

#[test]
fn an_unsigned_log_has_no_checkpoints_and_no_interval() {
    let s = ok(&log(false, 1, "deeee"), VerifyOptions::default());
    assert_eq!(
        (s.format, s.checkpoints, s.unsigned_tail, s.since_checkpoint),
        (1, 0, 5, 4)
    );
    assert_eq!(
        failure(&log(false, 1, "dec"), VerifyOptions::default()),
        (2, "CHECKPOINT_EXTRA".into())
    );
    // A key given for a log that declares none.
    assert_eq!(
        failure(&log(false, 1, "de"), keyed()),
        (0, "KEY_MISMATCH".into())
    );
}

#[test]
fn the_given_key_must_be_the_declared_one() {
    let other = VerifyOptions {
        key_thumbprint: Some(format!("{}A", &T[..42])),
        ..Default::default()
    };
    assert_eq!(
        failure(&log(true, 5, "de"), other),
        (0, "KEY_MISMATCH".into())
    );
    // With the key, the declaration and each checkpoint are handed back to be checked.
    let (_, sigs) = verify_records(&log(true, 1, "dec"), keyed()).unwrap();
    assert_eq!(sigs.len(), 2);
    assert_eq!((sigs[0].index, sigs[0].typ), (0, DECLARATION_TYP));
    assert_eq!(
        sigs[0].expect,
        Expect::Declaration(decl(true, 1, 0).claims())
    );
    assert_eq!(
        (sigs[1].index, sigs[1].typ, sigs[1].alg.as_deref()),
        (2, CHECKPOINT_TYP, Some("ES256"))
    );
    // Without it, none.
    let (_, sigs) = verify_records(&log(true, 1, "dec"), VerifyOptions::default()).unwrap();
    assert!(sigs.is_empty());
}

#[test]
fn one_declaration_and_records_of_five_members() {
    assert_eq!(
        failure(&log(false, 1, "ded"), VerifyOptions::default()),
        (2, "DECLARATION".into())
    );
    let mut h = Head::default();
    let mut r = vec![h.append("declaration", body(false, 1))];
    let mut odd = h.clone();
    let mut six = odd.append("event", json!({}));
    six.as_object_mut().unwrap().remove("hash");
    six["extra"] = json!(1);
    let hash = tillit::audit::chain::record_hash(&six);
    six["hash"] = json!(hash);
    r.push(six);
    assert_eq!(
        failure(&r, VerifyOptions::default()),
        (1, "MALFORMED".into())
    );
    let mut r2 = r[..1].to_vec();
    r2.push(h.clone().append("event", json!("not an object")));
    assert_eq!(
        failure(&r2, VerifyOptions::default()),
        (1, "MALFORMED".into())
    );
    let mut r3 = r[..1].to_vec();
    r3.push(h.clone().append("comment", json!({})));
    assert_eq!(
        failure(&r3, VerifyOptions::default()),
        (1, "MALFORMED".into())
    );
}

#[test]
fn format_0_is_read_only_when_accepted_and_then_declared_at_its_length() {
    let legacy = VerifyOptions {
        accept_legacy: true,
        ..Default::default()
    };
    assert_eq!(
        failure(&log(false, 1, "ee"), VerifyOptions::default()),
        (0, "FORMAT".into())
    );
    let s = ok(&log(false, 1, "ee"), legacy.clone());
    assert_eq!((s.format, s.entries, s.declaration), (0, 2, None));
    // Format-0 checkpoints stand anywhere.
    let s = ok(&log(false, 1, "cece"), legacy.clone());
    assert_eq!((s.format, s.checkpoints, s.unsigned_tail), (0, 2, 1));
    // A declaration after format-0 records says how many there were.
    let s = ok(&log(false, 1, "eede"), legacy.clone());
    assert_eq!((s.format, s.entries), (1, 4));
    assert_eq!(s.declaration.unwrap().legacy_records, 2);
    assert_eq!(
        failure(&log(false, 1, "eede"), VerifyOptions::default()),
        (0, "FORMAT".into())
    );
    let mut h = Head::default();
    let bad: Vec<Value> = vec![
        h.append("event", json!({})),
        h.append("declaration", body(false, 1)),
    ];
    assert_eq!(failure(&bad, legacy), (1, "DECLARATION".into()));
}

#[test]
fn an_anchor_must_be_in_the_log_with_its_hash() {
    let r = log(false, 1, "deee");
    let at = |seq: u64, hash: &Value| VerifyOptions {
        anchor: Some(Anchor {
            seq,
            hash: hash.as_str().unwrap().to_string(),
        }),
        ..Default::default()
    };
    ok(&r, at(2, &r[2]["hash"]));
    ok(&r, at(3, &r[3]["hash"]));
    ok(&r, at(0, &r[0]["hash"]));
    assert_eq!(
        failure(&r, at(2, &r[1]["hash"])),
        (2, "ANCHOR_MISMATCH".into())
    );
    assert_eq!(failure(&r, at(4, &r[3]["hash"])), (4, "TRUNCATED".into()));
    assert_eq!(
        failure(&r[..2], at(3, &r[3]["hash"])),
        (2, "TRUNCATED".into())
    );
}

#[test]
fn a_signature_holds_only_for_what_the_log_requires() {
    let cp = ToSign {
        index: 5,
        jws: String::new(),
        typ: CHECKPOINT_TYP,
        alg: Some("ES256".into()),
        expect: Expect::Checkpoint {
            head: "abc".into(),
            count: 5,
        },
    };
    let h = json!({"alg": "ES256", "typ": CHECKPOINT_TYP});
    let c = json!({"head": "abc", "count": 5, "iat": 1});
    assert!(cp.holds(&h, &c));
    assert!(!cp.holds(&json!({"alg": "RS256", "typ": CHECKPOINT_TYP}), &c));
    assert!(!cp.holds(&json!({"alg": "ES256", "typ": DECLARATION_TYP}), &c));
    assert!(!cp.holds(&json!({"alg": "ES256"}), &c));
    assert!(!cp.holds(&h, &json!({"head": "abd", "count": 5})));
    assert!(!cp.holds(&h, &json!({"head": "abc", "count": 6})));
    // A format-0 checkpoint: any supported alg.
    let any = ToSign {
        alg: None,
        ..cp.clone()
    };
    assert!(any.holds(&json!({"alg": "RS256", "typ": CHECKPOINT_TYP}), &c));
    let d = ToSign {
        typ: DECLARATION_TYP,
        expect: Expect::Declaration(json!({"a": 1})),
        ..cp
    };
    assert!(d.holds(
        &json!({"alg": "ES256", "typ": DECLARATION_TYP}),
        &json!({"a": 1})
    ));
    assert!(!d.holds(
        &json!({"alg": "ES256", "typ": DECLARATION_TYP}),
        &json!({"a": 2})
    ));
}

#[test]
fn the_writers_own_records_advance_the_state_as_reading_them_does() {
    // note_written / note_events (the writer's path) against push (the reader's).
    let r = log(true, 3, "deecee");
    let mut read = LogVerifier::new(VerifyOptions::default());
    let mut wrote = LogVerifier::new(VerifyOptions::default());
    let mut head = Head::default();
    for (i, rec) in r.iter().enumerate() {
        read.push(rec).unwrap();
        head = Head {
            next_seq: i as u64 + 1,
            hash: rec["hash"].as_str().unwrap().into(),
        };
        let kind = rec["kind"].as_str().unwrap();
        let d = (kind == "declaration").then(|| decl(true, 3, 0));
        if kind == "event" && i == 5 {
            continue; // noted below, with the one before, as a run
        }
        if kind == "event" && i == 4 {
            continue;
        }
        wrote.note_written(kind, &head, d);
    }
    wrote.note_events(2, &head);
    assert_eq!(wrote.finish().unwrap(), read.finish().unwrap());
    assert_eq!(wrote.since_checkpoint(), 2);
    assert_eq!(wrote.head(), head);
    assert_eq!(wrote.declaration(), Some(&decl(true, 3, 0)));
    // A checkpoint due now: the written state says so to the next pushed record.
    let mut more = log(true, 3, "deeceee");
    let extra = Head {
        next_seq: 7,
        hash: more[6]["hash"].as_str().unwrap().into(),
    }
    .append("event", json!({}));
    more.push(extra);
    let mut v = LogVerifier::new(VerifyOptions::default());
    for rec in &more[..7] {
        v.push(rec).unwrap();
    }
    assert!(v
        .push(&more[7])
        .unwrap_err()
        .problem
        .starts_with("CHECKPOINT_MISSING"));
}

#[test]
fn a_log_of_one_format_0_record_is_refused_unless_accepted() {
    // "A verifier reads such a log only when its caller accepts format 0 explicitly (else
    // `FORMAT` at 0)": a log of one record too.
    for p in ["e", "c", "n"] {
        assert_eq!(
            failure(&log(false, 1, p), VerifyOptions::default()),
            (0, "FORMAT".into()),
            "{p}"
        );
    }
    // A writer that noted format-0 records without accepting format 0 cannot declare after them.
    let r = log(false, 1, "ed");
    let mut v = LogVerifier::new(VerifyOptions::default());
    let head = Head {
        next_seq: 1,
        hash: r[0]["hash"].as_str().unwrap().into(),
    };
    v.note_written("event", &head, None);
    let f = v.push(&r[1]).unwrap_err();
    assert_eq!(
        (f.index, f.problem.split(':').next().unwrap()),
        (0, "FORMAT")
    );
    let mut v = LogVerifier::new(VerifyOptions {
        accept_legacy: true,
        ..Default::default()
    });
    v.note_written("event", &head, None);
    assert!(v.push(&r[1]).is_ok());
}

#[test]
fn each_noted_record_counts_toward_the_interval() {
    let r = log(true, 3, "deee");
    let mut v = LogVerifier::new(VerifyOptions::default());
    for (i, rec) in r.iter().enumerate() {
        let head = Head {
            next_seq: i as u64 + 1,
            hash: rec["hash"].as_str().unwrap().into(),
        };
        let kind = rec["kind"].as_str().unwrap();
        v.note_written(
            kind,
            &head,
            (kind == "declaration").then(|| decl(true, 3, 0)),
        );
        assert_eq!(v.since_checkpoint(), i as u64, "after record {i}");
    }
    // Three records since the declaration: the next must be a checkpoint.
    let next = Head {
        next_seq: 4,
        hash: r[3]["hash"].as_str().unwrap().into(),
    }
    .append("event", json!({}));
    assert!(v
        .push(&next)
        .unwrap_err()
        .problem
        .starts_with("CHECKPOINT_MISSING"));
}
