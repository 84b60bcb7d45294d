//! Ingest of device logs into the store, against SQLite and PostgreSQL: verified records
//! stored once, idempotent re-sends, and gaps, forks, broken links, altered records, bad or
//! missing checkpoints refused with the sequence number, kept as incidents, never half-applied.

mod common;

use common::{Device, Who};
use serde_json::{json, Value};
use tillit::audit::event::Outcome;
use tillit_collector::service::{ingest, register, Owner, ServiceError};
use tillit_collector::store::Store;

const T: &str = "2026-06-01T10:00:00.000Z";

fn owner() -> Owner {
    Owner {
        client_id: "tillit-ehr".into(),
        org: "974760673".into(),
    }
}

fn count(s: &Store, log: &str) -> i64 {
    s.rows(
        "SELECT COUNT(*) FROM records WHERE log_id = $1",
        &[log.into()],
    )
    .unwrap()[0][0]
        .as_i64()
        .unwrap()
}

fn refused(r: Result<tillit::audit::chain::Head, ServiceError>) -> (&'static str, Option<u64>) {
    match r {
        Err(ServiceError::Refused(x)) => (x.code, x.seq),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A signed, registered log of `n` look-ups with a checkpoint after every 5th record.
fn signed_log(s: &Store, log: &str, n: usize) -> Device {
    let mut d = Device::signed(1, 5);
    register(
        s,
        log,
        &owner(),
        &json!({ "checkpointKey": d.public_jwk() }),
    )
    .unwrap();
    for i in 0..n {
        d.done(&common::fnr(1 + (i % 3) as u32), &Who::default(), T);
        if (i + 1) % 5 == 0 {
            d.checkpoint();
        }
    }
    d
}

both!(verified_batches_are_stored_once, |db: &str| {
    let s = common::open(db);
    let d = signed_log(&s, "dev-1", 12);
    let n = d.lines.len();
    let h1 = ingest(&s, "dev-1", &owner(), &d.batch(0, 7)).unwrap();
    assert_eq!(h1.next_seq, 7);
    let h2 = ingest(&s, "dev-1", &owner(), &d.batch(7, n)).unwrap();
    assert_eq!(
        (h2.next_seq, h2.hash.as_str()),
        (n as u64, d.head.hash.as_str())
    );
    assert_eq!(count(&s, "dev-1"), n as i64);
    // Re-sending everything, or a part, is acknowledged with the same head and stores nothing.
    assert_eq!(ingest(&s, "dev-1", &owner(), &d.batch(0, n)).unwrap(), h2);
    assert_eq!(ingest(&s, "dev-1", &owner(), &d.batch(3, 9)).unwrap(), h2);
    assert_eq!(count(&s, "dev-1"), n as i64);
    assert!(s.incidents(Some("dev-1")).unwrap().is_empty());
    // The stored lines are the device's, in order.
    let lines: Vec<String> = s
        .rows(
            "SELECT line FROM records WHERE log_id = $1 ORDER BY seq",
            &["dev-1".into()],
        )
        .unwrap()
        .into_iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect();
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(tillit::audit::chain::verify(&parsed).ok);
    assert_eq!(parsed.last().unwrap()["hash"], json!(d.head.hash));
});

both!(
    a_batch_overlapping_the_head_stores_only_the_rest,
    |db: &str| {
        let s = common::open(db);
        let d = signed_log(&s, "dev-2", 8);
        ingest(&s, "dev-2", &owner(), &d.batch(0, 4)).unwrap();
        let h = ingest(&s, "dev-2", &owner(), &d.batch(2, d.lines.len())).unwrap();
        assert_eq!(h, d.head);
        assert_eq!(count(&s, "dev-2"), d.lines.len() as i64);
    }
);

both!(a_gap_is_refused_naming_the_expected_seq, |db: &str| {
    let s = common::open(db);
    let d = signed_log(&s, "gap", 8);
    ingest(&s, "gap", &owner(), &d.batch(0, 3)).unwrap();
    assert_eq!(
        refused(ingest(&s, "gap", &owner(), &d.batch(4, 7))),
        ("GAP", Some(3))
    );
    // Records missing inside a batch are a gap too.
    let mut lines = d.lines[3..7].to_vec();
    lines.remove(1);
    assert_eq!(
        refused(ingest(&s, "gap", &owner(), &common::ndjson(&lines))),
        ("GAP", Some(4))
    );
    assert_eq!(count(&s, "gap"), 3);
    let inc = s.incidents(Some("gap")).unwrap();
    assert_eq!(inc.len(), 2);
    assert_eq!(
        (inc[0]["code"].as_str(), inc[0]["seq"].as_i64()),
        (Some("GAP"), Some(3))
    );
    assert_eq!(inc[0]["clientId"], "tillit-ehr");
});

both!(a_fork_is_refused_and_never_half_applied, |db: &str| {
    let s = common::open(db);
    let d = signed_log(&s, "fork", 4);
    ingest(&s, "fork", &owner(), &d.batch(0, 3)).unwrap();
    // Another writer's chain from the same declaration: a different record at seq 1.
    let mut other = d.clone();
    other.truncate(1);
    other.done(&common::fnr(9), &Who::default(), T);
    other.done(&common::fnr(9), &Who::default(), T);
    other.done(&common::fnr(9), &Who::default(), T);
    assert_eq!(
        refused(ingest(&s, "fork", &owner(), &other.batch(0, 4))),
        ("FORK", Some(1))
    );
    assert_eq!(count(&s, "fork"), 3);
    assert_eq!(s.incidents(Some("fork")).unwrap()[0]["code"], "FORK");
    // The device's own next records still go in.
    assert_eq!(
        ingest(&s, "fork", &owner(), &d.batch(3, d.lines.len())).unwrap(),
        d.head
    );
});

both!(a_broken_link_or_an_altered_record_is_refused, |db: &str| {
    let s = common::open(db);
    let d = signed_log(&s, "link", 4);
    ingest(&s, "link", &owner(), &d.batch(0, 2)).unwrap();
    // Record 3 rewritten and rehashed: it is consistent alone, but its successor's link breaks.
    let mut recs: Vec<Value> = d
        .lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    recs[2]["body"]["recorded"] = json!("2026-01-01T00:00:00.000Z");
    recs[2]["hash"] = json!(tillit::audit::chain::record_hash(&recs[2]));
    let lines: Vec<String> = recs[2..].iter().map(|r| r.to_string()).collect();
    assert_eq!(
        refused(ingest(&s, "link", &owner(), &common::ndjson(&lines))),
        ("BROKEN_LINK", Some(2))
    );
    // Edited without rehashing: the record does not match its own hash.
    let mut recs: Vec<Value> = d
        .lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    recs[3]["body"]["recorded"] = json!("2026-01-01T00:00:00.000Z");
    let lines: Vec<String> = recs[2..].iter().map(|r| r.to_string()).collect();
    assert_eq!(
        refused(ingest(&s, "link", &owner(), &common::ndjson(&lines))),
        ("ALTERED", Some(3))
    );
    assert_eq!(count(&s, "link"), 2, "nothing of a refused batch is stored");
    // Not JSON at all.
    assert_eq!(
        refused(ingest(&s, "link", &owner(), b"{\"seq\": 2,\n")).0,
        "MALFORMED"
    );
    assert_eq!(s.incidents(Some("link")).unwrap().len(), 3);
});

both!(checkpoints_verify_against_the_declared_key, |db: &str| {
    let s = common::open(db);
    // The key registered is not the one the log declares.
    let mut d = Device::signed(1, 5);
    register(
        &s,
        "other-key",
        &owner(),
        &json!({ "checkpointKey": Device::signed(2, 5).public_jwk() }),
    )
    .unwrap();
    d.done(&common::fnr(1), &Who::default(), T);
    assert_eq!(
        refused(ingest(&s, "other-key", &owner(), &d.batch(0, 2))),
        ("KEY_MISMATCH", Some(0))
    );
    // A checkpoint signed with another key than the declared one.
    let mut d = Device::signed(1, 5);
    register(
        &s,
        "forged",
        &owner(),
        &json!({ "checkpointKey": d.public_jwk() }),
    )
    .unwrap();
    d.done(&common::fnr(1), &Who::default(), T);
    d.sign_with(2);
    d.checkpoint();
    assert_eq!(
        refused(ingest(&s, "forged", &owner(), &d.batch(0, 3))),
        ("CHECKPOINT_INVALID", Some(2))
    );
    // The right key, but it signs another head than the one the checkpoint follows.
    let mut d = Device::signed(3, 5);
    register(
        &s,
        "moved",
        &owner(),
        &json!({ "checkpointKey": d.public_jwk() }),
    )
    .unwrap();
    d.done(&common::fnr(1), &Who::default(), T);
    let copied = {
        let mut other = Device::signed(3, 5);
        other.done(&common::fnr(2), &Who::default(), T);
        other.checkpoint();
        let v: Value = serde_json::from_str(&other.lines[2]).unwrap();
        v["body"].clone()
    };
    d.record("checkpoint", &copied);
    assert_eq!(
        refused(ingest(&s, "moved", &owner(), &d.batch(0, 3))),
        ("CHECKPOINT_INVALID", Some(2))
    );
    // A signed log whose key nobody registered cannot be verified: refused.
    let mut d = Device::signed(4, 5);
    d.done(&common::fnr(1), &Who::default(), T);
    assert_eq!(
        refused(ingest(&s, "nokey", &owner(), &d.batch(0, 2))),
        ("UNVERIFIABLE", Some(0))
    );
    // An unsigned log has no checkpoints.
    let mut d = Device::unsigned();
    d.done(&common::fnr(1), &Who::default(), T);
    d.sign_with(4);
    d.checkpoint();
    assert_eq!(
        refused(ingest(&s, "unsigned", &owner(), &d.batch(0, 3))),
        ("CHECKPOINT_EXTRA", Some(2))
    );
    let total: i64 = ["other-key", "forged", "moved", "nokey", "unsigned"]
        .iter()
        .map(|l| count(&s, l))
        .sum();
    assert_eq!(total, 0);
});

both!(a_missing_checkpoint_is_refused, |db: &str| {
    let s = common::open(db);
    let mut d = Device::signed(1, 2);
    register(
        &s,
        "late",
        &owner(),
        &json!({ "checkpointKey": d.public_jwk() }),
    )
    .unwrap();
    d.done(&common::fnr(1), &Who::default(), T);
    d.done(&common::fnr(1), &Who::default(), T);
    // Stored in two batches: the collector resumes the interval count between them.
    ingest(&s, "late", &owner(), &d.batch(0, 2)).unwrap();
    ingest(&s, "late", &owner(), &d.batch(2, 3)).unwrap();
    d.done(&common::fnr(1), &Who::default(), T);
    assert_eq!(
        refused(ingest(&s, "late", &owner(), &d.batch(3, 4))),
        ("CHECKPOINT_MISSING", Some(3))
    );
    // With the checkpoint in its place, the log goes on.
    d.truncate(3);
    d.checkpoint();
    d.done(&common::fnr(1), &Who::default(), T);
    assert_eq!(
        ingest(&s, "late", &owner(), &d.batch(3, 5)).unwrap(),
        d.head
    );
    d.done(&common::fnr(1), &Who::default(), T);
    d.done(&common::fnr(1), &Who::default(), T);
    assert_eq!(
        refused(ingest(&s, "late", &owner(), &d.batch(5, 7))),
        ("CHECKPOINT_MISSING", Some(6))
    );
});

both!(a_format_0_log_keeps_its_registered_interval, |db: &str| {
    let s = common::open(db);
    let mut d = Device::legacy(Some(1));
    register(
        &s,
        "old",
        &owner(),
        &json!({ "checkpointKey": d.public_jwk(), "checkpointEvery": 2 }),
    )
    .unwrap();
    // The format-0 writer could overshoot the interval by one batch (256 records), not more.
    let limit = 2 + tillit_collector::declare::WRITER_BATCH - 1;
    for _ in 0..limit {
        d.done(&common::fnr(1), &Who::default(), T);
    }
    ingest(&s, "old", &owner(), &d.batch(0, limit as usize)).unwrap();
    d.done(&common::fnr(1), &Who::default(), T);
    let n = d.lines.len();
    assert_eq!(
        refused(ingest(&s, "old", &owner(), &d.batch(n - 1, n))),
        ("CHECKPOINT_MISSING", Some(limit))
    );
    d.truncate(n - 1);
    d.checkpoint();
    // Reopened by a format-1 build: a declaration continues the log.
    d.declare(3);
    d.done(&common::fnr(1), &Who::default(), T);
    let n = d.lines.len();
    assert_eq!(
        ingest(&s, "old", &owner(), &d.batch(n - 3, n)).unwrap(),
        d.head
    );
});

/// A golden log tillit's JS writer wrote (tests/fixtures, format 0), as a device sends it.
fn golden(name: &str) -> Vec<String> {
    let p = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

both!(the_golden_logs_of_tillits_writer_are_stored, |db: &str| {
    let s = common::open(db);
    let key_file = format!(
        "{}/../tests/fixtures/golden-v0-key.public.jwk.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let key: Value = serde_json::from_str(&std::fs::read_to_string(key_file).unwrap()).unwrap();
    for (log, file, reg) in [
        (
            "golden-signed",
            "golden-v0-signed.ndjson",
            json!({ "checkpointKey": key, "checkpointEvery": 4 }),
        ),
        ("golden-unsigned", "golden-v0-unsigned.ndjson", json!({})),
    ] {
        register(&s, log, &owner(), &reg).unwrap();
        let lines = golden(file);
        let last: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
        let mut head = None;
        for chunk in lines.chunks(7) {
            head = Some(ingest(&s, log, &owner(), &common::ndjson(chunk)).unwrap());
        }
        let head = head.unwrap();
        assert_eq!(
            (head.next_seq, head.hash.as_str()),
            (lines.len() as u64, last["hash"].as_str().unwrap()),
            "{file}"
        );
    }
    // Registered with another key, its first checkpoint is refused.
    register(
        &s,
        "golden-wrong",
        &owner(),
        &json!({ "checkpointKey": Device::signed(9, 1).public_jwk() }),
    )
    .unwrap();
    let lines = golden("golden-v0-signed.ndjson");
    let first_cp = lines
        .iter()
        .position(|l| l.contains("\"kind\":\"checkpoint\""))
        .unwrap() as u64;
    assert_eq!(
        refused(ingest(
            &s,
            "golden-wrong",
            &owner(),
            &common::ndjson(&lines)
        )),
        ("CHECKPOINT_INVALID", Some(first_cp))
    );
});

both!(
    a_log_belongs_to_the_client_and_organisation_that_made_it,
    |db: &str| {
        let s = common::open(db);
        let mut d = Device::unsigned();
        d.done(&common::fnr(1), &Who::default(), T);
        ingest(&s, "mine", &owner(), &d.batch(0, 1)).unwrap();
        let other_client = Owner {
            client_id: "other".into(),
            org: "974760673".into(),
        };
        let other_org = Owner {
            client_id: "tillit-ehr".into(),
            org: "999999999".into(),
        };
        assert!(matches!(
            ingest(&s, "mine", &other_client, &d.batch(0, 1)),
            Err(ServiceError::NotOwner)
        ));
        assert!(matches!(
            ingest(&s, "mine", &other_org, &d.batch(0, 1)),
            Err(ServiceError::NotOwner)
        ));
        assert!(matches!(
            register(&s, "mine", &other_client, &json!({})),
            Err(ServiceError::NotOwner)
        ));
    }
);

both!(records_and_incidents_are_append_only, |db: &str| {
    let s = common::open(db);
    let mut d = Device::unsigned();
    d.look_up(None, &common::fnr(1), &Who::default(), Outcome::Pending, T);
    ingest(&s, "ao", &owner(), &d.batch(0, 1)).unwrap();
    let _ = ingest(&s, "ao", &owner(), b"not json\n");
    for sql in [
        "UPDATE records SET patient = 'x'",
        "DELETE FROM records",
        "UPDATE incidents SET code = 'x'",
        "DELETE FROM incidents",
        "DELETE FROM logs",
        "UPDATE logs SET next_seq = 0",
    ] {
        let e = s.backend().exec(sql, &[]).expect_err(sql);
        let m = e.to_string();
        assert!(
            m.contains("append-only")
                || m.contains("permission denied")
                || m.contains("never deleted")
                || m.contains("only moves forward"),
            "{sql}: {m}"
        );
    }
    if db.starts_with("postgres") {
        // The collector's role holds no UPDATE or DELETE on records: refused before the trigger.
        let m = s
            .backend()
            .exec("DELETE FROM records", &[])
            .unwrap_err()
            .to_string();
        assert!(m.contains("permission denied"), "{m}");
    }
    assert_eq!(count(&s, "ao"), 1);
});
