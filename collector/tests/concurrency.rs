//! Several collectors on one PostgreSQL, and a collector killed mid-batch: each log is stored
//! once, as one valid chain; every refused batch is an incident; no acknowledged record is
//! lost and none is stored twice.

mod common;

use common::net::{emulator, Client, Collector, READ, WRITE};
use common::{fnr, Device, Who};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tillit::audit::format::{verify_records, VerifyOptions};

const T: &str = "2026-06-01T10:00:00.000Z";

fn stored(db: &str, log: &str) -> Vec<Value> {
    let s = common::open(db);
    let rows = s
        .rows(
            "SELECT line, seq FROM records WHERE log_id = $1 ORDER BY seq",
            &[log.into()],
        )
        .unwrap();
    rows.iter()
        .map(|r| serde_json::from_str(r[0].as_str().unwrap()).unwrap())
        .collect()
}

/// Verifies stored records as one chain with the core's verifier and the log's key.
fn one_valid_chain(recs: &[Value], key: &Value) {
    let jwk = tillit::jose::PublicJwk::from_value(key, false, "k").unwrap();
    let (summary, sigs) = verify_records(
        recs,
        VerifyOptions {
            key_thumbprint: Some(jwk.thumbprint()),
            accept_legacy: false,
            anchor: None,
            pruned: None,
        },
    )
    .unwrap_or_else(|f| panic!("the stored log does not verify: {f:?}"));
    assert_eq!(summary.entries as usize, recs.len());
    for s in sigs {
        let v = tillit_collector::jws::verify(&s.jws, &jwk).expect("signature");
        assert!(s.holds(&v.header, &v.claims));
    }
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r["seq"], json!(i), "stored once, in order");
    }
}

/// Batches of 1 to 9 records over `lines`, in order (sizes from a fixed pattern).
fn batches(lines: &[String], salt: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut k = salt;
    while i < lines.len() {
        let n = 1 + (k * 7 + 3) % 9;
        out.push((i, (i + n).min(lines.len())));
        i += n;
        k += 1;
    }
    out
}

#[test]
fn two_collectors_on_one_postgres_three_writers() {
    let db = common::fresh_pg();
    let e = emulator();
    let c1 = Collector::start(&db, &e);
    let c2 = Collector::start(&db, &e);
    // The device's log, and a competing writer's chain from the same declaration and first
    // 20 records (a cloned device, a restored backup: a fork).
    let mut d = Device::signed(1, 5);
    for i in 0..120 {
        d.done(&fnr(1 + i % 4), &Who::default(), T);
        if d.lines.len().is_multiple_of(6) {
            d.checkpoint();
        }
    }
    let mut fork = d.clone();
    fork.truncate(21);
    while fork.lines.len() < d.lines.len() {
        fork.done(&fnr(9), &Who::default(), T);
        if fork.lines.len().is_multiple_of(6) {
            fork.checkpoint();
        }
    }
    let w = Client::helseid(&e, "ehr-a", WRITE);
    let reg = json!({ "checkpointKey": d.public_jwk() }).to_string();
    assert_eq!(
        w.call(
            "PUT",
            &format!("{}/logs/shared", c1.url),
            Some(reg.as_bytes())
        )
        .status,
        200
    );
    let refused = Arc::new(Mutex::new(Vec::<(u64, String)>::new()));
    let urls = [c1.url.clone(), c2.url.clone()];
    let writers: Vec<_> = [
        (d.lines.clone(), 0usize),
        (d.lines.clone(), 1),
        (fork.lines.clone(), 2),
    ]
    .into_iter()
    .map(|(lines, salt)| {
        let (urls, refused, e) = (urls.clone(), refused.clone(), e.clone());
        std::thread::spawn(move || {
            let w = Client::helseid(&e, "ehr-a", WRITE);
            for (k, (a, b)) in batches(&lines, salt).into_iter().enumerate() {
                let url = format!("{}/logs/shared/records", urls[(k + salt) % 2]);
                let r = w.call("POST", &url, Some(&common::ndjson(&lines[a..b])));
                match r.status {
                    200 => {}
                    409 | 422 => {
                        let v = r.json();
                        refused.lock().unwrap().push((
                            v["seq"].as_u64().unwrap(),
                            v["error"].as_str().unwrap().to_string(),
                        ));
                    }
                    s => panic!("unexpected {s}: {}", r.body),
                }
            }
        })
    })
    .collect();
    for t in writers {
        t.join().unwrap();
    }
    let recs = stored(&db, "shared");
    one_valid_chain(&recs, &d.public_jwk());
    // One branch won at the fork; the whole of it is stored.
    let winner = if recs[21]["hash"] == serde_json::from_str::<Value>(&d.lines[21]).unwrap()["hash"]
    {
        &d
    } else {
        &fork
    };
    assert_eq!(recs.len(), winner.lines.len());
    assert_eq!(recs.last().unwrap()["hash"], json!(winner.head.hash));
    // Every refused batch is an incident, and the loser's batches were refused.
    let r = Client::helseid(&e, "auditor", READ);
    let state = r
        .call("GET", &format!("{}/logs/shared", c2.url), None)
        .json();
    let incidents: Vec<(u64, String)> = state["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["seq"].as_u64().unwrap(),
                i["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut mine = refused.lock().unwrap().clone();
    mine.sort();
    let mut theirs = incidents.clone();
    theirs.sort();
    assert_eq!(mine, theirs);
    // The losing writer's batches: a fork where its chain parts from the stored one (or a
    // broken link when its batch starts right at the stored head), then gaps (the records
    // before them were refused).
    assert!(mine.iter().any(|(_, c)| c == "FORK"), "{mine:?}");
    assert!(
        mine.iter()
            .all(|(_, c)| c == "FORK" || c == "GAP" || c == "BROKEN_LINK"),
        "{mine:?}"
    );
    assert_eq!(
        state["head"],
        json!({ "seq": recs.len() - 1, "hash": winner.head.hash })
    );
}

/// Kills the collector while a writer's big batches are in flight, restarts it on the same
/// database, and checks that every acknowledged head is held, nothing is stored twice, and a
/// re-send completes the log.
fn killed_mid_batch(db: &str) {
    let e = emulator();
    let mut d = Device::signed(2, 100);
    for _ in 0..1500 {
        d.done(&fnr(1), &Who::default(), T);
        if (d.lines.len() - 1) % 101 == 100 {
            d.checkpoint();
        }
    }
    let mut c = Collector::start(db, &e);
    let w = Client::helseid(&e, "ehr-a", WRITE);
    let reg = json!({ "checkpointKey": d.public_jwk() }).to_string();
    assert_eq!(
        w.call(
            "PUT",
            &format!("{}/logs/crash", c.url),
            Some(reg.as_bytes())
        )
        .status,
        200
    );
    let acked = Arc::new(Mutex::new(None::<u64>));
    let (lines, url, a2, e2) = (d.lines.clone(), c.url.clone(), acked.clone(), e.clone());
    let writer = std::thread::spawn(move || {
        let w = Client::helseid(&e2, "ehr-a", WRITE);
        for chunk in (0..lines.len()).step_by(150) {
            let end = (chunk + 150).min(lines.len());
            let agent = std::panic::catch_unwind(|| {
                w.call(
                    "POST",
                    &format!("{url}/logs/crash/records"),
                    Some(&common::ndjson(&lines[chunk..end])),
                )
            });
            match agent {
                Ok(r) if r.status == 200 => {
                    *a2.lock().unwrap() = Some(r.json()["seq"].as_u64().unwrap())
                }
                _ => return, // the collector died mid-request
            }
        }
    });
    // Kill it while the third batch is in flight.
    while acked.lock().unwrap().is_none_or(|a| a < 299) {
        assert!(!writer.is_finished(), "the writer stopped before the kill");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
    c.kill();
    writer.join().unwrap();
    let acked = acked
        .lock()
        .unwrap()
        .expect("at least one batch was acknowledged before the kill");
    assert!(
        (acked as usize) < d.lines.len() - 1,
        "the kill came before the last batch (acknowledged {acked})"
    );
    let recs = stored(db, "crash");
    assert!(
        recs.len() as u64 > acked,
        "every acknowledged record is held ({} stored, {acked} acknowledged)",
        recs.len()
    );
    one_valid_chain(&recs, &d.public_jwk());
    // Restarted on the same database, the device re-sends from its anchor, then everything.
    let c = Collector::start(db, &e);
    let w = Client::helseid(&e, "ehr-a", WRITE);
    for chunk in (acked as usize + 1..d.lines.len()).step_by(150) {
        let end = (chunk + 150).min(d.lines.len());
        let r = w.call(
            "POST",
            &format!("{}/logs/crash/records", c.url),
            Some(&common::ndjson(&d.lines[chunk..end])),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = w.call(
        "POST",
        &format!("{}/logs/crash/records", c.url),
        Some(&d.batch(0, d.lines.len())),
    );
    assert_eq!(
        r.json(),
        json!({ "seq": d.lines.len() - 1, "hash": d.head.hash })
    );
    let recs = stored(db, "crash");
    assert_eq!(recs.len(), d.lines.len());
    one_valid_chain(&recs, &d.public_jwk());
}

#[test]
fn killed_mid_batch_sqlite() {
    let dir = common::TempDir::new();
    killed_mid_batch(&common::fresh_db("sqlite", &dir));
}

#[test]
fn killed_mid_batch_postgres() {
    killed_mid_batch(&common::fresh_pg());
}
