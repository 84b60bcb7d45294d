//! Log control (src/audit/control.rs): queries, the follow-up report and the citizen's view,
//! over hand-written records (kind `event`, a FHIR AuditEvent body) so that each filter and
//! each report list is pinned at its edge.

use serde_json::{json, Value};
use tillit::audit::control::{citizen_report, events, query, report, Filter};
use tillit::audit::event::ACCESS_BASIS_CODE;

#[derive(Clone)]
struct Ev {
    id: &'static str,
    patient: &'static str,
    user: &'static str,
    purpose: Option<&'static str>,
    iti: Option<&'static str>,
    recorded: &'static str,
    outcome: Option<&'static str>,
    decision_ref: Option<&'static str>,
    user_selected: bool,
    basis: Option<&'static str>,
}

const BASE: Ev = Ev {
    id: "e1",
    patient: "P1",
    user: "HPR1",
    purpose: Some("TREAT"),
    iti: Some("ITI-67"),
    recorded: "2026-03-01T10:00:00Z",
    outcome: Some("0"),
    decision_ref: Some("ref-1"),
    user_selected: false,
    basis: None,
};

fn record(e: &Ev) -> Value {
    let mut ev = json!({
        "resourceType": "AuditEvent",
        "id": e.id,
        "recorded": e.recorded,
        "subtype": [{"code": "rest"}],
        "agent": [
            {"requestor": false, "who": {"identifier": {"value": "SYSTEM"}}},
            {"requestor": true, "who": {"identifier": {"value": e.user}, "display": "Kari Lege"},
             "role": [{"coding": [{"code": "LE", "display": "Lege"}]}],
             "location": {"display": "Legekontoret"}},
        ],
        "entity": [
            {"role": {"code": "1"}, "what": {"identifier": {"value": e.patient}}},
        ],
    });
    if let Some(i) = e.iti {
        ev["subtype"]
            .as_array_mut()
            .unwrap()
            .push(json!({"code": i}));
    }
    if let Some(p) = e.purpose {
        ev["purposeOfEvent"] = json!([{"coding": [{"code": p}]}]);
    }
    if let Some(o) = e.outcome {
        ev["outcome"] = json!(o);
    }
    let mut detail = Vec::new();
    if let Some(r) = e.decision_ref {
        detail.push(json!({"type": "decision_ref", "valueString": r}));
    }
    if e.user_selected {
        detail.push(json!({"type": "user_selected", "valueString": "true"}));
    }
    if !detail.is_empty() {
        let ents = ev["entity"].as_array_mut().unwrap();
        ents.push(json!({"role": {"code": "13"}, "detail": detail}));
    }
    if let Some(b) = e.basis {
        let ents = ev["entity"].as_array_mut().unwrap();
        ents.push(
            json!({"type": {"code": ACCESS_BASIS_CODE}, "what": {"identifier": {"value": b}}}),
        );
    }
    json!({"kind": "event", "body": ev})
}

fn ids(evs: &[&Value]) -> Vec<String> {
    evs.iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

fn log() -> Vec<Value> {
    [
        Ev { ..BASE },
        Ev {
            id: "e2",
            patient: "P2",
            user: "HPR2",
            purpose: Some("ETREAT"),
            iti: Some("ITI-68"),
            recorded: "2026-03-02T00:00:00Z",
            decision_ref: None,
            ..BASE
        },
        Ev {
            id: "e3",
            purpose: None,
            user: "P1",
            recorded: "2026-03-03T00:00:00Z",
            decision_ref: None,
            ..BASE
        },
        Ev {
            id: "e4",
            iti: None,
            recorded: "2026-03-04T00:00:00Z",
            ..BASE
        },
    ]
    .iter()
    .map(record)
    .collect()
}

#[test]
fn query_from_is_inclusive_and_to_exclusive() {
    // Filter's contract: `from` = recorded at or after, `to` = recorded before.
    let log = log();
    let f = |from: Option<&str>, to: Option<&str>| {
        ids(&query(
            &log,
            &Filter {
                from: from.map(Into::into),
                to: to.map(Into::into),
                ..Filter::default()
            },
        ))
    };
    assert_eq!(f(Some("2026-03-02T00:00:00Z"), None), ["e2", "e3", "e4"]);
    assert_eq!(f(None, Some("2026-03-02T00:00:00Z")), ["e1"]);
    assert_eq!(
        f(Some("2026-03-02T00:00:00Z"), Some("2026-03-03T00:00:00Z")),
        ["e2"]
    );
    assert_eq!(f(Some("2026-03-05T00:00:00Z"), None), Vec::<String>::new());
}

#[test]
fn query_matches_purpose_action_patient_and_practitioner_exactly() {
    let log = log();
    let q = |f: Filter| ids(&query(&log, &f));
    assert_eq!(
        q(Filter {
            purpose: Some("ETREAT".into()),
            ..Filter::default()
        }),
        ["e2"]
    );
    assert_eq!(
        q(Filter {
            purpose: Some("TREAT".into()),
            ..Filter::default()
        }),
        ["e1", "e4"]
    );
    assert_eq!(
        q(Filter {
            action: Some("read".into()),
            ..Filter::default()
        }),
        ["e2"]
    );
    assert_eq!(
        q(Filter {
            action: Some("search".into()),
            ..Filter::default()
        }),
        ["e1", "e3"]
    );
    assert_eq!(
        q(Filter {
            action: Some("token".into()),
            ..Filter::default()
        }),
        ["e4"]
    );
    assert_eq!(
        q(Filter {
            patient: Some("P2".into()),
            ..Filter::default()
        }),
        ["e2"]
    );
    assert_eq!(
        q(Filter {
            practitioner: Some("HPR2".into()),
            ..Filter::default()
        }),
        ["e2"]
    );
    assert_eq!(q(Filter::default()).len(), 4);
}

#[test]
fn report_lists_each_follow_up_case_and_only_those() {
    let mut evs = vec![
        // A practitioner's look-up with a decision reference: in no list.
        Ev { ..BASE },
        // Without a decision reference: missing.
        Ev {
            id: "m1",
            decision_ref: None,
            ..BASE
        },
        // A citizen's own look-up has no decision reference and is not missing one.
        Ev {
            id: "c1",
            purpose: None,
            decision_ref: None,
            user: "P1",
            ..BASE
        },
        // Emergency by purpose, and by PJD's raised access basis.
        Ev {
            id: "x1",
            purpose: Some("BTG"),
            ..BASE
        },
        Ev {
            id: "x2",
            basis: Some("FORHOYET_TILGANG"),
            ..BASE
        },
        // A normal access basis is not an emergency.
        Ev {
            id: "n1",
            basis: Some("ORDINAER"),
            ..BASE
        },
        // Self-granted care relationship.
        Ev {
            id: "s1",
            user_selected: true,
            ..BASE
        },
        // Outcome never recorded.
        Ev {
            id: "u1",
            outcome: None,
            ..BASE
        },
    ];
    for e in &mut evs {
        e.user = if e.purpose.is_none() { "P1" } else { "HPR9" };
    }
    let log: Vec<Value> = evs.iter().map(record).collect();
    let r = report(&log, 100);
    let list = |k: &str| -> Vec<String> {
        r[k].as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(r["lookUps"], 8);
    assert_eq!(list("missingDecisionRef"), ["m1"]);
    assert_eq!(list("emergencyAccess"), ["x1", "x2"]);
    assert_eq!(list("selfGranted"), ["s1"]);
    assert_eq!(list("outcomeUnknown"), ["u1"]);
    assert_eq!(r["unusualVolume"], json!([]));
    let s1 = &r["selfGranted"][0];
    assert_eq!(s1["userSelected"], true);
    assert_eq!(s1["decisionRef"], "ref-1");
    assert_eq!(s1["practitioner"], "HPR9");
    assert_eq!(r["emergencyAccess"][1]["accessBasis"], "FORHOYET_TILGANG");
    assert_eq!(r["missingDecisionRef"][0]["userSelected"], false);
}

#[test]
fn report_volume_is_strictly_above_the_threshold_per_practitioner_and_day() {
    // Three document look-ups by HPR1 on one day, one on the next, a token fetch and a
    // citizen's own look-up on the same day (neither counts), and two by HPR2.
    let log: Vec<Value> = [
        Ev {
            id: "a",
            recorded: "2026-03-01T08:00:00Z",
            ..BASE
        },
        Ev {
            id: "b",
            recorded: "2026-03-01T09:00:00Z",
            iti: Some("ITI-68"),
            ..BASE
        },
        Ev {
            id: "c",
            recorded: "2026-03-01T23:59:59Z",
            ..BASE
        },
        Ev {
            id: "d",
            recorded: "2026-03-02T00:00:00Z",
            ..BASE
        },
        Ev {
            id: "t",
            recorded: "2026-03-01T10:00:00Z",
            iti: None,
            ..BASE
        },
        Ev {
            id: "o",
            recorded: "2026-03-01T10:00:00Z",
            purpose: None,
            user: "HPR1",
            ..BASE
        },
        Ev {
            id: "e",
            recorded: "2026-03-01T10:00:00Z",
            user: "HPR2",
            ..BASE
        },
        Ev {
            id: "f",
            recorded: "2026-03-01T11:00:00Z",
            user: "HPR2",
            ..BASE
        },
    ]
    .iter()
    .map(record)
    .collect();
    assert_eq!(
        report(&log, 2)["unusualVolume"],
        json!([{"practitioner": "HPR1", "day": "2026-03-01", "lookUps": 3}])
    );
    assert_eq!(report(&log, 3)["unusualVolume"], json!([]));
    assert_eq!(
        report(&log, 1)["unusualVolume"],
        json!([
            {"practitioner": "HPR1", "day": "2026-03-01", "lookUps": 3},
            {"practitioner": "HPR2", "day": "2026-03-01", "lookUps": 2},
        ])
    );
}

#[test]
fn citizen_report_shows_document_look_ups_of_that_patient_only() {
    let log = log();
    let c = citizen_report(&log, "P1");
    // e1 (search), e3 (the citizen's own); e4 is a token fetch; e2 is another patient.
    assert_eq!(c.len(), 2);
    assert_eq!(c[0]["what"], "documentList");
    assert_eq!(c[0]["who"], "Kari Lege");
    assert_eq!(c[0]["role"], "Lege");
    assert_eq!(c[0]["organisation"], "Legekontoret");
    assert_eq!(c[0]["purpose"], "TREAT");
    assert_eq!(c[1]["who"], "you (or someone you represent)");
    let c2 = citizen_report(&log, "P2");
    assert_eq!(c2.len(), 1);
    assert_eq!(c2[0]["what"], "document");
}

#[test]
fn a_completion_replaces_its_pending_record_only_when_it_matches() {
    let pending = Ev {
        outcome: None,
        ..BASE
    };
    let done = Ev { ..BASE };
    let other = Ev {
        user: "HPR2",
        ..BASE
    };
    let log: Vec<Value> = [&pending, &done].into_iter().map(record).collect();
    let e = events(&log);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["outcome"], "0");
    let log: Vec<Value> = [&pending, &other].into_iter().map(record).collect();
    assert_eq!(events(&log).len(), 2);
}

#[test]
fn a_completion_must_name_the_same_patient_user_and_action() {
    let pending = Ev {
        outcome: None,
        ..BASE
    };
    for other in [
        Ev {
            patient: "P2",
            ..BASE
        },
        Ev {
            user: "HPR2",
            ..BASE
        },
        Ev {
            iti: Some("ITI-68"),
            ..BASE
        },
    ] {
        let log: Vec<Value> = [&pending, &other].into_iter().map(record).collect();
        let e = events(&log);
        assert_eq!(e.len(), 2, "a completion of another look-up hides none");
        assert!(e[0].get("outcome").is_none());
    }
    // Records of other kinds, and events without a body id, are not look-ups.
    let mut log: Vec<Value> = vec![record(&BASE)];
    log.push(json!({"kind": "checkpoint", "body": {"id": "x", "jws": "a.b.c"}}));
    log.push(json!({"kind": "event", "body": {"resourceType": "AuditEvent"}}));
    log.push(json!({"kind": "event"}));
    assert_eq!(events(&log).len(), 1);
}

#[test]
fn the_bundle_is_a_fhir_collection_of_the_current_look_ups() {
    // FHIR R4 Bundle: type `collection`, each entry a fullUrl and the resource.
    let log: Vec<Value> = [
        Ev {
            outcome: None,
            ..BASE
        },
        Ev { ..BASE },
        Ev { id: "e2", ..BASE },
    ]
    .iter()
    .map(record)
    .collect();
    let b = tillit::audit::control::bundle(&log);
    assert_eq!(b["resourceType"], "Bundle");
    assert_eq!(b["type"], "collection");
    let entries = b["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["fullUrl"], "urn:uuid:e1");
    assert_eq!(entries[0]["resource"]["outcome"], "0");
    assert_eq!(entries[1]["fullUrl"], "urn:uuid:e2");
    assert_eq!(b["meta"]["tag"][0]["code"], "access-log");
}
