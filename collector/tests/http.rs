//! The collector over HTTP, as a process, against SQLite and PostgreSQL, with tokens from
//! the emulator: authentication and scopes, ingest, ITI-20, ITI-81 (every parameter), the
//! reports, the device logs' state and the citizen's "who looked".

mod common;

use common::net::{emulator, send, Client, Collector, READ, WRITE};
use common::{fnr, Device, Who};
use serde_json::{json, Value};
use tillit::audit::event::Outcome;

fn setup(db: &str) -> (String, Collector) {
    let e = emulator();
    let c = Collector::start(db, &e);
    (e, c)
}

both!(no_route_but_health_is_open, |db: &str| {
    let (e, c) = setup(db);
    assert_eq!(
        send("GET", &format!("{}/health", c.url), &[], None).status,
        200
    );
    for (m, p) in [
        ("GET", "/logs"),
        ("GET", "/logs/x"),
        ("PUT", "/logs/x"),
        ("POST", "/logs/x/records"),
        ("POST", "/AuditEvent"),
        ("GET", "/AuditEvent"),
        ("POST", "/"),
        ("GET", "/reports"),
        ("GET", "/citizen/access"),
    ] {
        let a = send(m, &format!("{}{p}", c.url), &[], Some(b"{}"));
        assert_eq!(a.status, 401, "{m} {p}: {}", a.body);
        assert!(
            a.header("www-authenticate").unwrap().starts_with("DPoP"),
            "{m} {p}"
        );
    }
    // A Bearer token (not DPoP-bound use), a proof for another URL, a replayed proof.
    let w = Client::helseid(&e, "ehr-a", WRITE);
    let url = format!("{}/logs/x/records", c.url);
    let a = send(
        "POST",
        &url,
        &[("authorization", &format!("Bearer {}", w.token))],
        Some(b""),
    );
    assert_eq!(a.status, 401);
    let a = w.call_with_proof_for("POST", &url, &format!("{}/logs/y/records", c.url));
    assert_eq!(
        (a.status, a.json()["error"].as_str()),
        (401, Some("invalid_dpop_proof"))
    );
    let r = Client::helseid(&e, "auditor", READ);
    let (first, again) = r.replay("GET", &format!("{}/logs", c.url));
    assert_eq!((first.status, again.status), (200, 401), "{}", again.body);
    // A citizen token is not a HelseID token, and the reverse.
    let citizen = Client::citizen(&e, "innbygger", None);
    assert_eq!(
        citizen.call("GET", &format!("{}/logs", c.url), None).status,
        401
    );
    assert_eq!(
        r.call("GET", &format!("{}/citizen/access", c.url), None)
            .status,
        401
    );
    // A token of the document API (another audience) is refused.
    let pjd = Client::helseid(&e, "ehr-a", "");
    let a = pjd.call("GET", &format!("{}/logs", c.url), None);
    assert_eq!(a.status, 401, "{}", a.body);
});

both!(wrong_scopes_are_refused, |db: &str| {
    let (e, c) = setup(db);
    let w = Client::helseid(&e, "ehr-a", WRITE);
    let r = Client::helseid(&e, "auditor", READ);
    for p in ["/logs", "/AuditEvent?patient=1", "/reports"] {
        let a = w.call("GET", &format!("{}{p}", c.url), None);
        assert_eq!(
            (a.status, a.json()["error"].as_str()),
            (403, Some("insufficient_scope")),
            "{p}"
        );
    }
    let mut d = Device::unsigned();
    d.done(&fnr(1), &Who::default(), "2026-06-01T10:00:00.000Z");
    let a = r.call(
        "POST",
        &format!("{}/logs/dev/records", c.url),
        Some(&d.batch(0, 1)),
    );
    assert_eq!(a.status, 403);
    assert_eq!(
        w.call(
            "POST",
            &format!("{}/logs/dev/records", c.url),
            Some(&d.batch(0, 1))
        )
        .status,
        200
    );
});

both!(ingest_over_http, |db: &str| {
    let (e, c) = setup(db);
    let w = Client::helseid(&e, "ehr-a", WRITE);
    let mut d = Device::signed(5, 3);
    let reg = w.call(
        "PUT",
        &format!("{}/logs/tab-1", c.url),
        Some(
            json!({ "checkpointKey": d.public_jwk() })
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(reg.status, 200, "{}", reg.body);
    for i in 0..7 {
        d.done(&fnr(1), &Who::default(), "2026-06-01T10:00:00.000Z");
        if i % 3 == 2 {
            d.checkpoint();
        }
    }
    let url = format!("{}/logs/tab-1/records", c.url);
    let a = w.call("POST", &url, Some(&d.batch(0, d.lines.len())));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.json(),
        json!({ "seq": d.lines.len() - 1, "hash": d.head.hash })
    );
    // Re-sent: the same answer.
    assert_eq!(w.call("POST", &url, Some(&d.batch(2, 5))).json(), a.json());
    // A gap: a typed error naming the expected seq.
    d.done(&fnr(1), &Who::default(), "2026-06-01T10:00:00.000Z");
    d.done(&fnr(1), &Who::default(), "2026-06-01T10:00:00.000Z");
    let n = d.lines.len();
    let g = w.call("POST", &url, Some(&d.batch(n - 1, n)));
    assert_eq!(g.status, 409);
    assert_eq!(
        (g.json()["error"].as_str(), g.json()["seq"].as_u64()),
        (Some("GAP"), Some(n as u64 - 2))
    );
    // Another client may not write to this log.
    let other = Client::helseid(&e, "ehr-b", WRITE);
    assert_eq!(
        other.call("POST", &url, Some(&d.batch(n - 2, n))).status,
        403
    );
    // The log's state for log control: head, last checkpoint, the refused gap.
    let r = Client::helseid(&e, "auditor", READ);
    let s = r.call("GET", &format!("{}/logs/tab-1", c.url), None).json();
    assert_eq!(s["head"], a.json());
    assert_eq!(s["lastCheckpoint"], json!(d.lines.len() - 4));
    assert_eq!(s["signed"], json!(true));
    assert_eq!(s["lastRecorded"], "2026-06-01T10:00:00.000Z");
    assert_eq!(s["gaps"][0]["expectedSeq"], json!(n - 2));
    assert_eq!(s["incidents"].as_array().unwrap().len(), 1);
    let all = r.call("GET", &format!("{}/logs", c.url), None).json();
    assert_eq!(all["logs"].as_array().unwrap().len(), 1);
    // The structured logs name routes and codes, never a patient.
    let logs = c.stderr.lock().unwrap().clone();
    assert!(logs.contains("\"code\":\"GAP\""), "{logs}");
    assert!(!logs.contains(&fnr(1)));
});

/// A change to a valid AuditEvent that makes it invalid.
type Mutation = Box<dyn Fn(&mut Value)>;

fn audit_event(patient: &str, recorded: &str, outcome: &str) -> Value {
    json!({
        "resourceType": "AuditEvent",
        "id": "ehr-ev-1",
        "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest" },
        "subtype": [{ "system": "http://hl7.org/fhir/restful-interaction", "code": "read" }],
        "action": "R",
        "recorded": recorded,
        "outcome": outcome,
        "purposeOfEvent": [{ "coding": [{ "system": "urn:oid:2.16.840.1.113883.1.11.20448", "code": "TREAT" }] }],
        "agent": [{
            "requestor": true,
            "who": { "identifier": { "system": "urn:oid:2.16.578.1.12.4.1.4.4", "value": "565505933" }, "display": "Sykepleier Siri" },
            "location": { "identifier": { "value": "974760673" }, "display": "Testsykehuset HF" }
        }],
        "source": { "observer": { "display": "EHR server" } },
        "entity": [
            { "what": { "identifier": { "system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": patient } }, "role": { "system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1" } },
            { "role": { "system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "13" }, "detail": [{ "type": "decision_ref", "valueString": "vedtak-9" }] }
        ]
    })
}

both!(
    iti20_stores_valid_audit_events_and_refuses_invalid_ones,
    |db: &str| {
        let (e, c) = setup(db);
        let w = Client::helseid(&e, "ehr-a", WRITE);
        let url = format!("{}/AuditEvent", c.url);
        let ev = audit_event(&fnr(4), "2026-06-02T12:00:00+02:00", "0");
        let a = w.call("POST", &url, Some(ev.to_string().as_bytes()));
        assert_eq!(a.status, 201, "{}", a.body);
        // Each invalid AuditEvent: 400 with an OperationOutcome naming the element.
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("recorded");
                }),
                "AuditEvent.recorded",
            ),
            (
                Box::new(|v| v["recorded"] = json!("2026-06-02")),
                "AuditEvent.recorded",
            ),
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("type");
                }),
                "AuditEvent.type",
            ),
            (Box::new(|v| v["agent"] = json!([])), "AuditEvent.agent"),
            (
                Box::new(|v| v["agent"][0]["requestor"] = json!("yes")),
                "AuditEvent.agent[0].requestor",
            ),
            (
                Box::new(|v| {
                    v["source"].as_object_mut().unwrap().remove("observer");
                }),
                "AuditEvent.source.observer",
            ),
            (Box::new(|v| v["action"] = json!("X")), "AuditEvent.action"),
            (Box::new(|v| v["outcome"] = json!(0)), "AuditEvent.outcome"),
            (
                Box::new(|v| v["resourceType"] = json!("Patient")),
                "AuditEvent.resourceType",
            ),
            (
                Box::new(|v| v["entity"][0]["what"] = json!("Patient/1")),
                "AuditEvent.entity[0].what",
            ),
        ];
        for (f, path) in &cases {
            let mut bad = ev.clone();
            f(&mut bad);
            let a = w.call("POST", &url, Some(bad.to_string().as_bytes()));
            assert_eq!(a.status, 400, "{path}: {}", a.body);
            assert_eq!(
                a.json()["issue"][0]["expression"][0],
                json!(path),
                "{}",
                a.body
            );
        }
        // A batch Bundle: the valid entries stored, the invalid one answered 400.
        let mut bad = ev.clone();
        bad.as_object_mut().unwrap().remove("agent");
        let bundle = json!({ "resourceType": "Bundle", "type": "batch", "entry": [
            { "resource": audit_event(&fnr(4), "2026-06-03T08:00:00Z", "4"), "request": { "method": "POST", "url": "AuditEvent" } },
            { "resource": bad, "request": { "method": "POST", "url": "AuditEvent" } },
            { "resource": audit_event(&fnr(5), "2026-06-03T09:00:00Z", "0"), "request": { "method": "POST", "url": "AuditEvent" } },
        ]});
        let a = w.call(
            "POST",
            &format!("{}/", c.url),
            Some(bundle.to_string().as_bytes()),
        );
        assert_eq!(a.status, 200, "{}", a.body);
        let answers = a.json();
        let st: Vec<&str> = answers["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| &x["response"]["status"].as_str().unwrap()[..3])
            .collect();
        assert_eq!(st, ["201", "400", "201"]);
        let a = w.call(
            "POST",
            &format!("{}/", c.url),
            Some(
                json!({ "resourceType": "Bundle", "type": "transaction" })
                    .to_string()
                    .as_bytes(),
            ),
        );
        assert_eq!(a.status, 400);
        // Stored, searchable, with the time in UTC.
        let r = Client::helseid(&e, "auditor", READ);
        let b = r
            .call(
                "GET",
                &format!("{}/AuditEvent?patient={}", c.url, fnr(4)),
                None,
            )
            .json();
        assert_eq!(b["total"], json!(2));
        let b = r
            .call(
                "GET",
                &format!(
                    "{}/AuditEvent?date=ge2026-06-02T10:00:00Z&date=le2026-06-02T10:00:00Z",
                    c.url
                ),
                None,
            )
            .json();
        assert_eq!(b["total"], json!(1), "12:00+02:00 is 10:00Z");
        let l = r
            .call("GET", &format!("{}/logs/iti20:ehr-a", c.url), None)
            .json();
        assert_eq!(l["head"]["seq"], json!(2));
    }
);

/// A log with look-ups by two practitioners on three patients over two days, and the
/// collector's answers.
fn populated(db: &str) -> (String, Collector, Device) {
    let (e, c) = setup(db);
    let w = Client::helseid(&e, "ehr-a", WRITE);
    let mut d = Device::unsigned();
    let lise = Who::default();
    let per = Who {
        hpr: "1234567".into(),
        name: "Lege Per Pettersen".into(),
        org: "983658725".into(),
        ..Who::default()
    };
    d.done(&fnr(1), &lise, "2026-06-01T08:00:00.000Z");
    d.done(&fnr(1), &per, "2026-06-01T09:00:00.000Z");
    d.done(
        &fnr(2),
        &Who {
            purpose: "ETREAT".into(),
            ..lise.clone()
        },
        "2026-06-01T10:00:00.000Z",
    );
    d.done(
        &fnr(2),
        &Who {
            user_selected: true,
            ..per.clone()
        },
        "2026-06-02T08:00:00.000Z",
    );
    d.done(
        &fnr(6),
        &Who {
            decision_ref: None,
            ..per.clone()
        },
        "2026-06-02T09:00:00.000Z",
    );
    // A look-up completed later (pending, then its completion: one look-up), and one whose
    // outcome was never recorded.
    let id = d.look_up(
        None,
        &fnr(1),
        &per,
        Outcome::Pending,
        "2026-06-02T10:00:00.000Z",
    );
    d.look_up(
        Some(&id),
        &fnr(1),
        &per,
        Outcome::Failure,
        "2026-06-02T10:00:00.000Z",
    );
    d.look_up(
        None,
        &fnr(6),
        &per,
        Outcome::Pending,
        "2026-06-02T11:00:00.000Z",
    );
    let a = w.call(
        "POST",
        &format!("{}/logs/ward-3/records", c.url),
        Some(&d.batch(0, d.lines.len())),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    (e, c, d)
}

fn ids(b: &Value) -> Vec<String> {
    b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["recorded"].as_str().unwrap()[5..13].to_string())
        .collect()
}

/// An AuditEvent in HL7 Norway's trust-framework profile alone, as another system sends it
/// (no BALP entities; the user only as a contained PractitionerRole):
/// tests/fixtures/norway-auditevent.json, shaped after the guide's hospital example,
/// HL7Norway/AuditEvent, igs/AuditEvent/input/fsh/no-domain-Trustframework-Auditevent-instance1.fsh
/// (profile no-domain-Trustframework-Auditevent.fsh).
fn norway_audit_event(patient: &str) -> Value {
    let mut ev: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/norway-auditevent.json")).unwrap();
    ev["contained"][4]["identifier"][0]["value"] = json!(patient);
    ev
}

both!(
    iti20_reads_a_record_in_hl7_norways_profile_alone,
    |db: &str| {
        let (e, c) = setup(db);
        let w = Client::helseid(&e, "ehr-a", WRITE);
        let ev = norway_audit_event(&fnr(1));
        let a = w.call(
            "POST",
            &format!("{}/AuditEvent", c.url),
            Some(ev.to_string().as_bytes()),
        );
        assert_eq!(a.status, 201, "{}", a.body);
        let r = Client::helseid(&e, "auditor", READ);
        let q = |q: &str| {
            r.call("GET", &format!("{}/AuditEvent?{q}", c.url), None)
                .json()["total"]
                .clone()
        };
        // The patient from the patient extension, the practitioner from the PractitionerRole,
        // the purpose from its PurposeOfUse coding (not the first), a read by its `action`.
        assert_eq!(q(&format!("patient={}", fnr(1))), json!(1));
        assert_eq!(q("agent=9144897"), json!(1));
        assert_eq!(q("purpose=ETREAT"), json!(1));
        assert_eq!(q("action=R"), json!(1));
        let rep = r.call("GET", &format!("{}/reports", c.url), None).json();
        assert_eq!(rep["emergencyAccess"]["total"], json!(1));
        assert_eq!(rep["selfGranted"]["total"], json!(1));
        assert_eq!(rep["selfGranted"]["items"][0]["decisionRef"], "23423255");
        assert_eq!(rep["missingDecisionRef"]["total"], json!(0));
        // The citizen sees who looked, by name, profession and organisation.
        let kari = Client::citizen(&e, "innbygger", None);
        let v = kari
            .call("GET", &format!("{}/citizen/access", c.url), None)
            .json();
        let seen = &v["subjects"][0]["accesses"];
        assert_eq!(seen.as_array().unwrap().len(), 1, "{v}");
        assert_eq!(
            (
                &seen[0]["who"],
                &seen[0]["role"],
                &seen[0]["organisation"],
                &seen[0]["why"]
            ),
            (
                &json!("August September"),
                &json!("Lege"),
                &json!("Oslo universitetssykehus HF"),
                &json!("Blålys")
            )
        );
    }
);

both!(iti81_every_parameter, |db: &str| {
    let (e, c, _) = populated(db);
    let r = Client::helseid(&e, "auditor", READ);
    let q = |q: &str| {
        let a = r.call("GET", &format!("{}/AuditEvent?{q}", c.url), None);
        assert_eq!(a.status, 200, "{q}: {}", a.body);
        assert_eq!(a.header("content-type"), Some("application/fhir+json"));
        a.json()
    };
    let all = q("");
    assert_eq!(
        (
            all["resourceType"].as_str(),
            all["type"].as_str(),
            all["total"].as_u64()
        ),
        (Some("Bundle"), Some("searchset"), Some(7))
    );
    assert_eq!(q(&format!("patient={}", fnr(1)))["total"], json!(3));
    assert_eq!(
        q(&format!("patient=urn:oid:2.16.578.1.12.4.1.4.1|{}", fnr(2)))["total"],
        json!(2)
    );
    assert_eq!(q(&format!("patient=Patient/{}", fnr(6)))["total"], json!(2));
    assert_eq!(q("agent=1234567")["total"], json!(5));
    assert_eq!(q("agent=9144900")["total"], json!(2));
    assert_eq!(q("date=ge2026-06-02")["total"], json!(4));
    assert_eq!(q("date=le2026-06-01")["total"], json!(3));
    assert_eq!(
        q("date=ge2026-06-01T09:00:00Z&date=le2026-06-02T08:00:00Z")["total"],
        json!(3)
    );
    assert_eq!(
        q("date=gt2026-06-01T09:00:00Z&date=lt2026-06-02T08:00:00Z")["total"],
        json!(1)
    );
    assert_eq!(q("date=2026-06-02")["total"], json!(4));
    assert_eq!(q("purpose=ETREAT")["total"], json!(1));
    assert_eq!(
        q("purpose=urn:oid:2.16.840.1.113883.1.11.20448|TREAT")["total"],
        json!(6)
    );
    assert_eq!(
        q("outcome=4")["total"],
        json!(1),
        "the completed look-up is one, with its outcome"
    );
    assert_eq!(q("outcome=0")["total"], json!(5));
    assert_eq!(
        q("action=E")["total"],
        json!(7),
        "every look-up here is a search"
    );
    assert_eq!(q("action=R")["total"], json!(0));
    assert_eq!(
        q(&format!("patient={}&agent=1234567&outcome=4", fnr(1)))["total"],
        json!(1)
    );
    // Sorting and paging.
    assert_eq!(
        ids(&q("_sort=date&_count=3")),
        ["06-01T08", "06-01T09", "06-01T10"]
    );
    let p1 = q("_sort=-date&_count=3");
    assert_eq!(ids(&p1), ["06-02T11", "06-02T10", "06-02T09"]);
    let next = p1["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    let p2 = r.call("GET", &next, None).json();
    assert_eq!(ids(&p2), ["06-02T08", "06-01T10", "06-01T09"]);
    let p3_url = p2["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    let p3 = r.call("GET", &p3_url, None).json();
    assert_eq!(ids(&p3), ["06-01T08"]);
    assert!(p3["link"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["relation"] != "next"));
    // Unreadable parameters are refused, naming the parameter.
    for bad in [
        "date=2026-06-01T10:00:00",
        "date=xx2026",
        "_count=0",
        "_count=5000",
        "_sort=name",
        "outcome=2",
        "colour=red",
        "date=ge2026-06-01T10:00:00+01:00x",
        "action=X",
    ] {
        let a = r.call("GET", &format!("{}/AuditEvent?{bad}", c.url), None);
        assert_eq!(a.status, 400, "{bad}");
        assert_eq!(a.json()["resourceType"], "OperationOutcome");
    }
});

both!(reports_over_every_log, |db: &str| {
    let (e, c, _) = populated(db);
    let r = Client::helseid(&e, "auditor", READ);
    let rep = r
        .call("GET", &format!("{}/reports?volumeThreshold=2", c.url), None)
        .json();
    assert_eq!(rep["lookUps"], json!(7));
    assert_eq!(rep["emergencyAccess"]["total"], json!(1));
    assert_eq!(rep["emergencyAccess"]["items"][0]["purpose"], "ETREAT");
    assert_eq!(rep["selfGranted"]["total"], json!(1));
    assert_eq!(rep["selfGranted"]["items"][0]["practitioner"], "1234567");
    // The patient, for the privacy officer to follow up.
    assert_eq!(rep["emergencyAccess"]["items"][0]["patient"], json!(fnr(2)));
    assert_eq!(rep["missingDecisionRef"]["total"], json!(1));
    assert_eq!(rep["outcomeUnknown"]["total"], json!(1));
    assert_eq!(
        rep["outcomeUnknown"]["items"][0]["recorded"],
        "2026-06-02T11:00:00.000Z"
    );
    assert_eq!(
        rep["unusualVolume"],
        json!([{ "practitioner": "1234567", "day": "2026-06-02", "lookUps": 4 }])
    );
    // The same rules as the core's log.report() over the same records.
    let rep3 = r
        .call("GET", &format!("{}/reports?volumeThreshold=3", c.url), None)
        .json();
    assert_eq!(rep3["unusualVolume"][0]["lookUps"], json!(4));
    assert_eq!(
        r.call("GET", &format!("{}/reports?volumeThreshold=4", c.url), None)
            .json()["unusualVolume"],
        json!([])
    );
    assert_eq!(
        r.call("GET", &format!("{}/reports?x=1", c.url), None)
            .status,
        400
    );
});

both!(reports_agree_with_the_core, |db: &str| {
    let (e, c, d) = populated(db);
    let r = Client::helseid(&e, "auditor", READ);
    let rep = r
        .call("GET", &format!("{}/reports?volumeThreshold=1", c.url), None)
        .json();
    let recs: Vec<Value> = d
        .lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let core = tillit::audit::control::report(&recs, 1);
    for k in [
        "emergencyAccess",
        "selfGranted",
        "missingDecisionRef",
        "outcomeUnknown",
    ] {
        let ours: Vec<&Value> = rep[k]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["id"])
            .collect();
        let theirs: Vec<&Value> = core[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["id"])
            .collect();
        assert_eq!(ours, theirs, "{k}");
    }
    assert_eq!(rep["unusualVolume"], core["unusualVolume"]);
    assert_eq!(rep["lookUps"], core["lookUps"]);
});

both!(
    the_citizen_sees_who_looked_at_them_and_their_child,
    |db: &str| {
        let (e, c, _) = populated(db);
        let url = format!("{}/citizen/access", c.url);
        // Kari (fnr 1) acting for her child Ola (fnr 2).
        let kari = Client::citizen(&e, "innbygger", Some("barn"));
        let a = kari.call("GET", &url, None);
        assert_eq!(a.status, 200, "{}", a.body);
        let v = a.json();
        let subjects = v["subjects"].as_array().unwrap();
        assert_eq!(subjects.len(), 2);
        assert_eq!(
            (
                subjects[0]["patient"].as_str(),
                subjects[0]["relation"].as_str()
            ),
            (Some(fnr(1).as_str()), Some("self"))
        );
        assert_eq!(subjects[0]["accesses"].as_array().unwrap().len(), 3);
        assert_eq!(
            (
                subjects[1]["patient"].as_str(),
                subjects[1]["relation"].as_str()
            ),
            (Some(fnr(2).as_str()), Some("parent"))
        );
        let child = subjects[1]["accesses"].as_array().unwrap();
        assert_eq!(child.len(), 2);
        assert_eq!(child[0]["who"], "Lege Per Pettersen");
        assert_eq!(child[1]["who"], "Lege Lise Lauritzen");
        assert_eq!(child[1]["purpose"], "ETREAT");
        assert!(child[0]["when"].as_str().unwrap().starts_with("2026-06-02"));
        // Never a practitioner's national id.
        assert!(!a.body.contains(&common::practitioner_pid()));
        // Asking for one person: only people the token acts for.
        assert_eq!(
            kari.call("GET", &format!("{url}?patient={}", fnr(2)), None)
                .json()["subjects"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            kari.call("GET", &format!("{url}?patient={}", fnr(6)), None)
                .status,
            403
        );
        // Without the representation, only her own; a neighbour sees nothing of theirs.
        let own = Client::citizen(&e, "innbygger", None)
            .call("GET", &url, None)
            .json();
        assert_eq!(own["subjects"].as_array().unwrap().len(), 1);
        let nabo = Client::citizen(&e, "nabo", None).call("GET", &url, None);
        assert_eq!(nabo.json()["subjects"][0]["accesses"], json!([]));
        assert_eq!(
            Client::citizen(&e, "nabo", None)
                .call("GET", &format!("{url}?patient={}", fnr(1)), None)
                .status,
            403
        );
        // The emulator refuses to let a citizen act for someone they do not represent.
        let a = send("GET", &format!("{e}/helsenorge/connect/authorize?client_id=citizen-app&redirect_uri=x&code_challenge=abc&code_challenge_method=S256&login_hint=nabo&represent=barn"), &[], None);
        assert_eq!(a.status, 400);
    }
);

both!(graceful_shutdown_and_health, |db: &str| {
    let (_e, mut c) = setup(db);
    assert_eq!(
        send("GET", &format!("{}/health", c.url), &[], None).json()["status"],
        "ok"
    );
    let st = c.stop();
    assert!(st.success(), "{st:?}");
    assert!(c.stderr.lock().unwrap().contains("shutting down"));
});
