//! The collector's benchmark (run by `bench/collector.sh`, not by the tests):
//!
//! 1. Ingest rate: a signed device log (format 1, a checkpoint every 100 records) sent in
//!    batches of 500 through the collector's ingest (parse, chain and checkpoint checks with
//!    the core's verifier, columns, the conditional head update), against a plain bulk insert
//!    of the same rows (the same NDJSON read into the same columns, no verification) in the
//!    same batches and transactions, into a fresh database each, in one run. The ratio is
//!    verified / plain.
//! 2. ITI-81: the time to search one patient's look-ups (`patient=…&_count=100`, newest
//!    first) among `--query-records` stored records (1,000,000 by default) over 10,000
//!    patients, median of 25 searches.
//!
//! `cargo run --profile emulator -p tillit-collector --example bench -- --db sqlite:/tmp/x.db`

use serde_json::{json, Value};
use std::time::Instant;
use tillit::audit::chain::Head;
use tillit::audit::event::{build, Action, Completion, LookUp, Outcome};
use tillit::audit::format::{declaration, declaration_body, DECLARATION_TYP};
use tillit::jose::{b64u, compact, signing_input, Alg, PublicJwk};
use tillit::trust::TrustContext;
use tillit_collector::ingest::{LogState, Plan, Row};
use tillit_collector::service::{ingest, register, Owner};

fn fnr(seed: u32) -> String {
    let day = 1 + seed % 28;
    let month = 81 + (seed / 28) % 12;
    let year = 30 + (seed / 336) % 60;
    for ind in 0..999u32 {
        let s = format!("{day:02}{month:02}{year:02}{ind:03}");
        let d: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
        if let Some((k1, k2)) = tillit::ident::national_id_check_digits(&d.try_into().unwrap()) {
            return format!("{s}{k1}{k2}");
        }
    }
    unreachable!()
}

fn context(patient: &str, hpr: u32) -> TrustContext {
    TrustContext::from_json(&json!({
        "type": "nhn:tillitsrammeverk:parameters",
        "practitioner": {
            "identifier": {"id": fnr(7), "system": "urn:oid:2.16.578.1.12.4.1.4.1", "name": "Lege"},
            "hpr_nr": {"id": format!("{}", 9_000_000 + hpr), "system": "urn:oid:2.16.578.1.12.4.1.4.4"},
            "legal_entity": {"id": "974760673", "system": "urn:oid:2.16.578.1.12.4.1.4.101"},
            "point_of_care": {"id": "974760673", "system": "urn:oid:2.16.578.1.12.4.1.4.101"}
        },
        "care_relationship": {
            "healthcare_service": {"code": "S03", "system": "urn:oid:2.16.578.1.12.4.1.1.8655"},
            "purpose_of_use": {"code": "TREAT", "system": "urn:oid:2.16.840.1.113883.1.11.20448"},
            "decision_ref": {"id": "dec-1", "user_selected": false}
        },
        "patients": [{"identifier": {"id": patient, "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}]
    }))
    .expect("a valid trust context")
}

fn event(i: u64, tc: &TrustContext) -> Value {
    let id = format!("ev-{i}");
    let recorded = tillit::audit::event::rfc3339(1_780_000_000_000 + i * 1000);
    build(
        &LookUp {
            id: &id,
            action: Action::Search,
            trust_context: tc,
            client_id: "tillit-ehr",
            server: "https://api.pjd.test.nhn.no",
            transaction_id: "8d0e3b8a-6a55-4f0f-9d43-1c1c2c1c2c1c",
            query: Some("status=current"),
            document_id: None,
            token_jti: Some("jti-1"),
            recorded: &recorded,
            access_basis: None,
        },
        Outcome::Success,
        &Completion::default(),
    )
    .expect("an event")
}

fn sign(k: &p256::ecdsa::SigningKey, typ: &str, claims: &Value) -> String {
    use p256::ecdsa::signature::Signer;
    let si = signing_input(&json!({ "alg": "ES256", "typ": typ }), claims);
    let sig: p256::ecdsa::Signature = k.sign(si.as_bytes());
    compact(&si, &sig.to_bytes())
}

/// A signed format-1 device log of `n` records (NDJSON lines) and its public key.
fn device_log(n: usize, contexts: &[TrustContext]) -> (Vec<String>, Value) {
    let k =
        p256::ecdsa::SigningKey::from_slice(&tillit::audit::chain::sha256(b"bench-key")).unwrap();
    let p = k.verifying_key().to_encoded_point(false);
    let jwk = json!({ "kty": "EC", "crv": "P-256", "x": b64u(p.x().unwrap()), "y": b64u(p.y().unwrap()) });
    let pj = PublicJwk::from_value(&jwk, false, "k").unwrap();
    let d = declaration(
        Some(&pj),
        Some(Alg::Es256),
        100,
        0,
        "bench".into(),
        "2026-06-01T00:00:00.000Z".into(),
    );
    let mut h = Head::default();
    let mut lines = vec![
        h.append_line(
            "declaration",
            &declaration_body(&d, Some(&sign(&k, DECLARATION_TYP, &d.claims()))),
        )
        .0,
    ];
    let mut since = 0;
    while lines.len() < n {
        if since == 100 {
            let jws = sign(
                &k,
                "tillit-checkpoint+jwt",
                &json!({ "head": h.hash, "count": h.next_seq, "iat": 1_780_000_000u64 }),
            );
            lines.push(h.append_line("checkpoint", &json!({ "jws": jws })).0);
            since = 0;
            continue;
        }
        let i = lines.len() as u64;
        lines.push(
            h.append_line("event", &event(i, &contexts[i as usize % contexts.len()]))
                .0,
        );
        since += 1;
    }
    (lines, jwk)
}

fn ndjson(lines: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.push(b'\n');
    }
    out
}

fn owner() -> Owner {
    Owner {
        client_id: "bench".into(),
        org: "974760673".into(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let db = arg("--db").expect("--db sqlite:PATH|postgres://…");
    let db_plain =
        arg("--db-plain").expect("--db-plain: a second, empty database for the baseline");
    let n: usize = arg("--records").map_or(20_000, |v| v.parse().unwrap());
    let q: usize = arg("--query-records").map_or(1_000_000, |v| v.parse().unwrap());
    let contexts: Vec<TrustContext> = (0..200).map(|i| context(&fnr(i), i % 20)).collect();
    let (lines, jwk) = device_log(n, &contexts);
    const BATCH: usize = 500;

    // Verified ingest.
    let store = tillit_collector::open_store(&db).expect("db");
    register(&store, "bench", &owner(), &json!({ "checkpointKey": jwk })).unwrap();
    let t = Instant::now();
    for c in lines.chunks(BATCH) {
        ingest(&store, "bench", &owner(), &ndjson(c)).expect("ingest");
    }
    let verified = n as f64 / t.elapsed().as_secs_f64();

    // The plain insert of the same rows: the same NDJSON read into the same columns, the
    // same batches and transactions, without the chain, hash, declaration or signature checks.
    let plain_store = tillit_collector::open_store(&db_plain).expect("db");
    plain_store
        .create_log(
            "plain",
            "bench",
            "974760673",
            &json!({}),
            "2026-06-01T00:00:00.000Z",
        )
        .unwrap();
    let mut state = plain_store.log("plain").unwrap().unwrap().state;
    let t = Instant::now();
    for c in lines.chunks(BATCH) {
        let rows: Vec<Row> = tillit_collector::ingest::parse_batch(&ndjson(c))
            .unwrap()
            .into_iter()
            .map(|(v, line)| Row::of(&v, line))
            .collect();
        let last = rows.last().unwrap();
        let after = LogState {
            head: Head {
                next_seq: last.seq + 1,
                hash: last.hash.clone(),
            },
            ..state.clone()
        };
        assert!(plain_store
            .advance(
                "plain",
                &state.head,
                &Plan {
                    rows,
                    after: after.clone()
                }
            )
            .unwrap());
        state = after;
    }
    let plain = n as f64 / t.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({ "bench": "ingest", "db": db.split(':').next(), "records": n, "verifiedPerSecond": verified.round(),
                "plainInsertPerSecond": plain.round(), "ratio": (verified / plain * 1000.0).round() / 1000.0, "target": 0.5 })
    );

    // ITI-81 over `q` records: 10,000 patients, 100 logs, filled without verification.
    let patients: Vec<TrustContext> = (0..10_000)
        .map(|i| context(&fnr(1000 + i), i % 500))
        .collect();
    let t = Instant::now();
    let per_log = q.div_ceil(100);
    let mut i: u64 = 0;
    for log in 0..100 {
        let id = format!("fill-{log}");
        plain_store
            .create_log(
                &id,
                "bench",
                "974760673",
                &json!({}),
                "2026-06-01T00:00:00.000Z",
            )
            .unwrap();
        let mut st = plain_store.log(&id).unwrap().unwrap().state;
        let mut h = Head::default();
        let mut left = per_log.min(q - (log * per_log).min(q));
        while left > 0 {
            let k = left.min(2000);
            let rows: Vec<Row> = (0..k)
                .map(|_| {
                    i += 1;
                    let (line, _) = h.append_line(
                        "event",
                        &event(i, &patients[(i * 7919) as usize % patients.len()]),
                    );
                    Row::of(&serde_json::from_str(&line).unwrap(), line)
                })
                .collect();
            let after = LogState {
                head: h.clone(),
                ..st.clone()
            };
            assert!(plain_store
                .advance(
                    &id,
                    &st.head,
                    &Plan {
                        rows,
                        after: after.clone()
                    }
                )
                .unwrap());
            st = after;
            left -= k;
        }
    }
    let fill = t.elapsed().as_secs_f64();
    let s =
        tillit_collector::fhir::parse_search(&format!("patient={}&_count=100", fnr(1000 + 4242)))
            .unwrap();
    let mut times = Vec::new();
    let mut total = Value::Null;
    for _ in 0..25 {
        let t = Instant::now();
        let b = tillit_collector::control::search(&plain_store, &s, "http://bench").unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        total = b["total"].clone();
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{}",
        json!({ "bench": "iti81", "db": db.split(':').next(), "storedRecords": i + n as u64 * 2, "fillSeconds": fill.round(),
                "patientLookUps": total, "medianMs": (times[times.len() / 2] * 100.0).round() / 100.0,
                "p90Ms": (times[times.len() * 9 / 10] * 100.0).round() / 100.0 })
    );
}
