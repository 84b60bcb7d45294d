use super::chain::{verify, Head};
use super::control::{self, bundle, citizen_report, query, report, Filter};
use super::event::{build, rfc3339, uuid_v4, Action, Completion, LookUp, Outcome};
use crate::trust::tests::{sample, synthetic_fnr};
use crate::trust::TrustContext;
use serde_json::{json, Value};

fn ctx(purpose: &str, with_decision_desc: bool) -> TrustContext {
    let mut v = sample(&synthetic_fnr(1));
    v["care_relationship"]["purpose_of_use"]["code"] = json!(purpose);
    v["practitioner"]["identifier"]["name"] = json!("Lege Lise Lauritzen");
    if !with_decision_desc {
        v["care_relationship"]["decision_ref"]
            .as_object_mut()
            .unwrap()
            .remove("description");
    }
    TrustContext::from_json(&v).unwrap()
}

fn look_up<'a>(id: &'a str, action: Action, tc: &'a TrustContext, recorded: &'a str) -> LookUp<'a> {
    LookUp {
        id,
        action,
        trust_context: tc,
        client_id: "tillit-ehr",
        server: "https://api.pjd.test.nhn.no",
        transaction_id: "8d0e3b8a-6a55-4f0f-9d43-1c1c2c1c2c1c",
        query: Some("patient.identifier=urn:oid:2.16.578.1.12.4.1.4.1|x&status=current"),
        document_id: Some("2.16.578.1.34.1^1.2.3"),
        token_jti: Some("jti-123"),
        recorded,
    }
}

#[test]
fn search_event_has_balp_shape() {
    let tc = ctx("TREAT", true);
    let ev = build(
        &look_up("e1", Action::Search, &tc, "2026-06-01T10:00:00.000Z"),
        Outcome::Pending,
        &Completion::default(),
    )
    .unwrap();
    assert_eq!(ev["action"], "E");
    assert_eq!(ev["subtype"][1]["code"], "ITI-67");
    assert!(ev.get("outcome").is_none());
    let user = ev["agent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["requestor"] == true)
        .unwrap();
    assert_eq!(user["purposeOfUse"][0]["coding"][0]["code"], "TREAT");
    assert_eq!(user["who"]["identifier"]["value"], "9144900");
    let text = serde_json::to_string(&ev).unwrap();
    assert!(text.contains("urn:ietf:params:oauth:jti:jti-123"));
    assert!(text.contains("dec-123") && text.contains("8d0e3b8a-6a55-4f0f-9d43-1c1c2c1c2c1c"));
    assert!(
        !text.contains(&synthetic_fnr(7)),
        "the practitioner's national id is not logged when an HPR number is"
    );
    let read = build(
        &look_up("e2", Action::Read, &tc, "2026-06-01T10:00:00.000Z"),
        Outcome::Success,
        &Completion::default(),
    )
    .unwrap();
    assert_eq!(
        (read["action"].as_str(), read["outcome"].as_str()),
        (Some("R"), Some("0"))
    );
}

#[test]
fn tokens_are_never_logged() {
    let tc = ctx("TREAT", true);
    let mut l = look_up("e1", Action::Token, &tc, "2026-06-01T10:00:00.000Z");
    l.token_jti = Some("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig");
    assert_eq!(
        build(&l, Outcome::Pending, &Completion::default())
            .unwrap_err()
            .path(),
        "event.tokenJti"
    );
}

#[test]
fn write_ahead_pending_then_completion_and_reports() {
    let treat = ctx("TREAT", true);
    let btg = ctx("BTG", false);
    let mut head = Head::default();
    let mut log = Vec::new();
    let t = "2026-06-01T10:00:00.000Z";
    log.push(
        head.append(
            "event",
            build(
                &look_up("a", Action::Search, &treat, t),
                Outcome::Pending,
                &Completion::default(),
            )
            .unwrap(),
        ),
    );
    let done = Completion {
        http_status: Some(200),
        returned: Some(4),
        withheld: vec![("PATIENT_BLOCK".into(), 1)],
        leaks: Some(0),
        description: None,
    };
    log.push(
        head.append(
            "event",
            build(
                &look_up("a", Action::Search, &treat, t),
                Outcome::Success,
                &done,
            )
            .unwrap(),
        ),
    );
    log.push(
        head.append(
            "event",
            build(
                &look_up("b", Action::Read, &btg, "2026-06-01T11:00:00.000Z"),
                Outcome::Pending,
                &Completion::default(),
            )
            .unwrap(),
        ),
    );
    assert!(verify(&log).ok);
    let all = query(&log, &Filter::default());
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["outcome"], "0");
    assert!(serde_json::to_string(all[0])
        .unwrap()
        .contains("withheld:PATIENT_BLOCK"));
    let by_purpose = query(
        &log,
        &Filter {
            purpose: Some("BTG".into()),
            ..Filter::default()
        },
    );
    assert_eq!(by_purpose.len(), 1);
    assert_eq!(
        query(
            &log,
            &Filter {
                from: Some("2026-06-01T10:30:00Z".into()),
                ..Filter::default()
            }
        )
        .len(),
        1
    );
    assert_eq!(
        query(
            &log,
            &Filter {
                patient: Some(synthetic_fnr(1)),
                action: Some("read".into()),
                ..Filter::default()
            }
        )
        .len(),
        1
    );
    assert_eq!(
        query(
            &log,
            &Filter {
                practitioner: Some("9144900".into()),
                ..Filter::default()
            }
        )
        .len(),
        2
    );
    let r = report(&log, 1);
    assert_eq!(r["emergencyAccess"].as_array().unwrap().len(), 1);
    assert_eq!(r["outcomeUnknown"][0]["id"], "b");
    assert_eq!(r["unusualVolume"][0]["lookUps"], 2);
    assert_eq!(r["missingDecisionRef"].as_array().unwrap().len(), 0);
    let c = citizen_report(&log, &synthetic_fnr(1));
    assert_eq!(c.len(), 2);
    assert_eq!(c[0]["who"], "Lege Lise Lauritzen");
    assert_eq!(c[0]["organisation"], "974760673");
    assert_eq!(c[0]["why"], "Innlagt pasient");
    let text = serde_json::to_string(&c).unwrap();
    assert!(
        !text.contains(&synthetic_fnr(7)) && !text.contains("9144900"),
        "never the practitioner's ids"
    );
    assert!(citizen_report(&log, &synthetic_fnr(2)).is_empty());
    assert_eq!(bundle(&log)["entry"].as_array().unwrap().len(), 2);
}

#[test]
fn helpers() {
    assert_eq!(rfc3339(1_781_481_600_123), "2026-06-15T00:00:00.123Z");
    let u = uuid_v4([0xff; 16]);
    assert_eq!(u.len(), 36);
    assert_eq!(&u[14..15], "4");
    assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    let bytes: [u8; 16] = core::array::from_fn(|i| i as u8 * 17);
    assert_eq!(uuid_v4(bytes), "00112233-4455-4677-8899-aabbccddeeff");
    let _: Value = json!(null);
}

#[test]
/// The writer gives members in canonical order for every shape an event can take (checked
/// against the tree canonicaliser; the debug-build order assertions also run here).
fn written_events_are_canonical() {
    use crate::canon::canonical;
    let mut contexts = vec![ctx("TREAT", true), ctx("BTG", false)];
    let mut v = sample(&synthetic_fnr(1));
    v["care_relationship"]["purpose_of_use"]["text"] = json!("Behandling \"x\"\n");
    v["practitioner"]["authorization"]["text"] = json!("Lege");
    v["practitioner"]["point_of_care"]["name"] = json!("Sykehus æøå");
    contexts.push(TrustContext::from_json(&v).unwrap());
    let mut v = sample(&synthetic_fnr(1));
    v["practitioner"].as_object_mut().unwrap().remove("hpr_nr");
    v["practitioner"]
        .as_object_mut()
        .unwrap()
        .remove("authorization");
    v["care_relationship"]
        .as_object_mut()
        .unwrap()
        .remove("purpose_of_use_details");
    contexts.push(TrustContext::from_json(&v).unwrap());
    for rep in [true, false] {
        let me = synthetic_fnr(11);
        let mut v = json!({"type": "tillit:citizen", "citizen": {"identifier": {"id": me, "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}});
        if rep {
            v["represented"] = json!({"identifier": {"id": synthetic_fnr(12), "system": "urn:oid:2.16.578.1.12.4.1.4.1"}, "basis": "parent"});
        }
        contexts.push(TrustContext::from_json(&v).unwrap());
    }
    let completions = [
        Completion::default(),
        Completion {
            http_status: Some(200),
            description: Some("ok \\ \u{1}".into()),
            returned: Some(3),
            withheld: vec![("PATIENT_BLOCK".into(), 2), ("OTHER_PATIENT".into(), 1)],
            leaks: Some(1),
        },
        Completion {
            http_status: Some(503),
            ..Default::default()
        },
    ];
    let mut n = 0;
    for tc in &contexts {
        for action in [Action::Search, Action::Read, Action::Token] {
            for outcome in [
                Outcome::Pending,
                Outcome::Success,
                Outcome::Failure,
                Outcome::Error,
            ] {
                for c in &completions {
                    for jti in [None, Some("j-1")] {
                        let mut l = look_up("e\"1", action, tc, "2026-06-01T10:00:00.000Z");
                        l.token_jti = jti;
                        if action != Action::Search {
                            l.query = None;
                        }
                        let text = super::event::write(&l, outcome, c).unwrap();
                        let tree: Value = serde_json::from_str(&text).unwrap();
                        assert_eq!(canonical(&tree), text);
                        assert_eq!(build(&l, outcome, c).unwrap(), tree);
                        n += 1;
                    }
                }
            }
        }
    }
    assert_eq!(n, 432);
}

#[test]
fn batch_inputs_name_the_bad_member() {
    use super::event::EventInput;
    let ok = r#"[{"kind":"search","trustContext":0,"clientId":"c","server":"s","transactionId":"t","id":"i1"},
                 {"kind":"read","trustContext":1,"clientId":"c","server":"s","transactionId":"t2","documentId":"d","completion":{"httpStatus":200,"withheld":{"B":1,"A":2}}}]"#;
    let got = EventInput::parse_batch(ok, 1 << 20).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, Some(0));
    assert_eq!(got[1].1.action, Action::Read);
    assert_eq!(
        got[1].1.completion.withheld,
        vec![("A".into(), 2), ("B".into(), 1)]
    );
    // Escapes are decoded; members the reader does not know are passed over, whatever they hold.
    let got = EventInput::parse_batch(
        r#"[ {"x":{"y":[1,{"z":null}]},"kind":"token","clientId":"c\u00e6\n","server":"s","transactionId":"t","trustContext":null} ]"#,
        1 << 20,
    )
    .unwrap();
    assert_eq!((got[0].0, got[0].1.client_id.as_str()), (None, "cæ\n"));
    for (text, path) in [
        (
            r#"[{"trustContext":0,"clientId":"c","server":"s","transactionId":"t"}]"#,
            "event.kind",
        ),
        (
            r#"[{"kind":"search","clientId":1,"server":"s","transactionId":"t"}]"#,
            "event.clientId",
        ),
        (
            r#"[{"kind":"search","clientId":"c","server":"s"}]"#,
            "event.transactionId",
        ),
        (
            r#"[{"kind":"search","clientId":"c","server":"s","transactionId":"t","completion":{"returned":-1}}]"#,
            "event.completion.returned",
        ),
        (
            r#"[{"kind":"delete","clientId":"c","server":"s","transactionId":"t"}]"#,
            "event.kind",
        ),
        (r#"{"kind":"search"}"#, "events"),
        ("[1", "events"),
        ("[1]", "events"),
        ("[{}] x", "events"),
        (r#"[{"kind":"search","kind":"read"}]"#, "event.kind"),
        (
            r#"[{"kind":"search","completion":{"returned":1]}]"#,
            "events",
        ),
    ] {
        let e = EventInput::parse_batch(text, 1 << 20).unwrap_err();
        assert_eq!(e.path(), path, "{text}");
    }
    assert_eq!(
        EventInput::parse_batch("[]", 1).unwrap_err().path(),
        "events"
    );
    let deep = format!("[{{\"x\":{}{}}}]", "[".repeat(100), "]".repeat(100));
    let e = EventInput::parse_batch(&deep, 1 << 20).unwrap_err();
    assert_eq!(
        (e.code(), e.path()),
        (crate::ErrorCode::InputTooLarge, "events")
    );
}

#[test]
fn a_frame_serves_only_its_client_and_server() {
    use super::event::{write_framed, EventFrame};
    let tc = ctx("TREAT", true);
    let l = look_up("e1", Action::Search, &tc, "2026-06-01T10:00:00.000Z");
    let frame = EventFrame::new(&tc, l.client_id, l.server);
    let mut a = String::new();
    write_framed(&mut a, &l, Outcome::Pending, &Completion::default(), &frame).unwrap();
    assert_eq!(
        a,
        super::event::write(&l, Outcome::Pending, &Completion::default()).unwrap()
    );
    let other = EventFrame::new(&tc, "another-app", l.server);
    let mut b = String::new();
    assert_eq!(
        write_framed(&mut b, &l, Outcome::Pending, &Completion::default(), &other)
            .unwrap_err()
            .path(),
        "event.clientId"
    );
}

#[test]
fn a_platform_digest_must_give_sha256_hex() {
    let mut h = Head::default();
    let body = |out: &mut String| {
        out.push_str("{}");
        Ok(())
    };
    for bad in ["", "ABCDEF", &"A".repeat(64), &"0".repeat(63)] {
        let e = h
            .append_written("note", body, &mut |_| Ok(bad.to_string()))
            .unwrap_err();
        assert_eq!(e.path(), "digest");
    }
    assert_eq!(h, Head::default(), "a refused digest leaves the head");
    let (line, hash) = h
        .append_written("note", body, &mut |b| Ok(super::chain::sha256_hex(b)))
        .unwrap();
    assert!(line.contains(&hash));
    assert_eq!(h.next_seq, 1);
}

#[test]
fn a_later_record_never_hides_an_earlier_look_up() {
    // Attack 4 of issue 17: a pending record reusing an earlier look-up's id, for another
    // patient, and a completion that names another patient, each stay look-ups of their own.
    let mine = ctx("TREAT", true);
    let other = TrustContext::from_json(&sample(&synthetic_fnr(9))).unwrap();
    let t = "2026-06-01T10:00:00.000Z";
    let pending = |tc: &TrustContext| {
        build(
            &look_up("a", Action::Search, tc, t),
            Outcome::Pending,
            &Completion::default(),
        )
        .unwrap()
    };
    let done = |tc: &TrustContext| {
        build(
            &look_up("a", Action::Search, tc, t),
            Outcome::Success,
            &Completion::default(),
        )
        .unwrap()
    };
    let patient = synthetic_fnr(1);
    let mut head = Head::default();
    let honest = vec![
        head.append("event", pending(&mine)),
        head.append("event", done(&mine)),
    ];
    assert_eq!(
        control::events(&honest).len(),
        1,
        "a completion stands for its pending record"
    );
    assert_eq!(control::events(&honest)[0]["outcome"], "0");
    let mut head = Head::default();
    let reused = vec![
        head.append("event", pending(&mine)),
        head.append("event", pending(&other)),
    ];
    assert_eq!(control::events(&reused).len(), 2);
    assert_eq!(control::citizen_report(&reused, &patient).len(), 1);
    let mut head = Head::default();
    let hijack = vec![
        head.append("event", pending(&mine)),
        head.append("event", done(&other)),
    ];
    assert_eq!(control::events(&hijack).len(), 2);
    assert_eq!(control::citizen_report(&hijack, &patient).len(), 1);
    assert_eq!(
        control::query(
            &hijack,
            &control::Filter {
                patient: Some(patient.clone()),
                ..Default::default()
            }
        )
        .len(),
        1
    );
    // A second completion of a completed look-up is a record of its own too.
    let mut head = Head::default();
    let twice = vec![
        head.append("event", pending(&mine)),
        head.append("event", done(&mine)),
        head.append("event", done(&mine)),
    ];
    assert_eq!(control::events(&twice).len(), 2);
}
