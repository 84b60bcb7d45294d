//! Test support: device logs written with tillit's own code (events from
//! `tillit::audit::event`, records from `tillit::audit::chain`, checkpoints signed as the JS
//! writer signs them), and a fresh store per test in SQLite or in the throwaway PostgreSQL
//! that `scripts/pg.sh` starts (its URL in `TILLIT_TEST_PG`).
#![allow(dead_code)]

use p256::ecdsa::signature::Signer as _;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use tillit::audit::chain::Head;
use tillit::audit::event::{build, Action, Completion, LookUp, Outcome};
use tillit::jose::{b64u, compact, signing_input};
use tillit::trust::TrustContext;
use tillit_collector::store::Store;

pub mod net;

/// A synthetic fødselsnummer (month + 80) for `seed`.
pub fn fnr(seed: u32) -> String {
    let day = 1 + seed % 28;
    let month = 81 + (seed / 28) % 12;
    for ind in (seed % 400)..999 {
        let s = format!("{day:02}{month:02}85{ind:03}");
        let d: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
        if let Some((k1, k2)) = tillit::ident::national_id_check_digits(&d.try_into().unwrap()) {
            return format!("{s}{k1}{k2}");
        }
    }
    unreachable!()
}

/// Who looks and why.
#[derive(Clone, Debug)]
pub struct Who {
    pub hpr: String,
    pub name: String,
    pub org: String,
    pub purpose: String,
    pub decision_ref: Option<String>,
    pub user_selected: bool,
}

impl Default for Who {
    fn default() -> Self {
        Who {
            hpr: "9144900".into(),
            name: "Lege Lise Lauritzen".into(),
            org: "974760673".into(),
            purpose: "TREAT".into(),
            decision_ref: Some("dec-123".into()),
            user_selected: false,
        }
    }
}

/// The practitioner's own national id in every sample (never shown to a citizen).
pub fn practitioner_pid() -> String {
    fnr(7)
}

pub fn trust_context(patient: &str, w: &Who) -> TrustContext {
    let mut v = json!({
        "type": "nhn:tillitsrammeverk:parameters",
        "practitioner": {
            "identifier": {"id": practitioner_pid(), "system": "urn:oid:2.16.578.1.12.4.1.4.1", "name": w.name},
            "hpr_nr": {"id": w.hpr, "system": "urn:oid:2.16.578.1.12.4.1.4.4"},
            "authorization": {"code": "LE", "system": "urn:oid:2.16.578.1.12.4.1.1.9060"},
            "legal_entity": {"id": w.org, "system": "urn:oid:2.16.578.1.12.4.1.4.101", "name": "Testsykehuset HF"},
            "point_of_care": {"id": w.org, "system": "urn:oid:2.16.578.1.12.4.1.4.101"}
        },
        "care_relationship": {
            "healthcare_service": {"code": "S03", "system": "urn:oid:2.16.578.1.12.4.1.1.8655"},
            "purpose_of_use": {"code": w.purpose, "system": "urn:oid:2.16.840.1.113883.1.11.20448"},
            "decision_ref": {"id": w.decision_ref.clone().unwrap_or_default(), "description": "Innlagt pasient", "user_selected": w.user_selected}
        },
        "patients": [{"identifier": {"id": patient, "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}]
    });
    if w.decision_ref.is_none() {
        // A context without a decision reference does not validate in the core; the event
        // is written with one and the reference removed below (see `look_up`).
        v["care_relationship"]["decision_ref"]["id"] = json!("x");
    }
    TrustContext::from_json(&v).expect("a valid trust context")
}

static EVENT: AtomicU64 = AtomicU64::new(1);

/// A tillit device log being written (format 1: a declaration record first).
#[derive(Clone)]
pub struct Device {
    pub head: Head,
    key: Option<p256::ecdsa::SigningKey>,
    pub lines: Vec<String>,
}

fn key_of(seed: u8) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&sha2_32(&[b"checkpoint-key-", &[seed][..]].concat()))
        .unwrap()
}

impl Device {
    /// A log without a checkpoint key (its declaration says so).
    pub fn unsigned() -> Device {
        let mut d = Device::legacy(None);
        d.declare(100);
        d
    }

    /// A log whose declaration and checkpoints are signed with a P-256 key made from `seed`,
    /// a checkpoint due every `every` records.
    pub fn signed(seed: u8, every: u64) -> Device {
        let mut d = Device::legacy(Some(seed));
        d.declare(every);
        d
    }

    /// A format-0 log (no declaration), as builds before format 1 wrote.
    pub fn legacy(seed: Option<u8>) -> Device {
        Device {
            head: Head::default(),
            key: seed.map(key_of),
            lines: Vec::new(),
        }
    }

    /// Appends the declaration record (signed when the log has a key).
    pub fn declare(&mut self, every: u64) {
        use tillit::audit::format::{declaration, declaration_body, DECLARATION_TYP};
        let jwk = self
            .key
            .as_ref()
            .map(|_| tillit::jose::PublicJwk::from_value(&self.public_jwk(), false, "k").unwrap());
        let d = declaration(
            jwk.as_ref(),
            jwk.as_ref().map(|_| tillit::jose::Alg::Es256),
            every,
            self.head.next_seq,
            format!("log-{}", EVENT.fetch_add(1, Ordering::Relaxed)),
            "2026-06-01T07:00:00.000Z".into(),
        );
        let jws = self.key.as_ref().map(|k| {
            let si = signing_input(
                &json!({ "alg": "ES256", "typ": DECLARATION_TYP }),
                &d.claims(),
            );
            let sig: p256::ecdsa::Signature = k.sign(si.as_bytes());
            compact(&si, &sig.to_bytes())
        });
        self.record("declaration", &declaration_body(&d, jws.as_deref()));
    }

    /// Signs the next checkpoints with another key (a forger's).
    pub fn sign_with(&mut self, seed: u8) {
        self.key = Some(key_of(seed));
    }

    /// Keeps the first `n` records (another writer continues from there).
    pub fn truncate(&mut self, n: usize) {
        self.lines.truncate(n);
        let recs: Vec<Value> = self
            .lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        self.head = Head::after(&recs).unwrap();
    }

    /// The public JWK of the checkpoint key.
    pub fn public_jwk(&self) -> Value {
        let p = self
            .key
            .as_ref()
            .unwrap()
            .verifying_key()
            .to_encoded_point(false);
        json!({ "kty": "EC", "crv": "P-256", "x": b64u(p.x().unwrap()), "y": b64u(p.y().unwrap()) })
    }

    /// Appends a record of `kind` with `body` (a line as tillit writes it).
    pub fn record(&mut self, kind: &str, body: &Value) -> String {
        let (line, _) = self.head.append_line(kind, body);
        self.lines.push(line.clone());
        line
    }

    /// Appends a look-up (pending when `outcome` is `Pending`); returns its event id.
    pub fn look_up(
        &mut self,
        id: Option<&str>,
        patient: &str,
        w: &Who,
        outcome: Outcome,
        recorded: &str,
    ) -> String {
        let id = id
            .map(str::to_string)
            .unwrap_or_else(|| format!("ev-{}", EVENT.fetch_add(1, Ordering::Relaxed)));
        let tc = trust_context(patient, w);
        let mut ev = build(
            &LookUp {
                id: &id,
                action: Action::Search,
                trust_context: &tc,
                client_id: "tillit-ehr",
                server: "https://api.pjd.test.nhn.no",
                transaction_id: "8d0e3b8a-6a55-4f0f-9d43-1c1c2c1c2c1c",
                query: Some("status=current"),
                document_id: None,
                token_jti: Some("jti-1"),
                recorded,
                access_basis: None,
            },
            outcome,
            &Completion::default(),
        )
        .unwrap();
        if w.decision_ref.is_none() {
            for e in ev["entity"].as_array_mut().unwrap() {
                if let Some(d) = e.get_mut("detail").and_then(Value::as_array_mut) {
                    d.retain(|x| x["type"] != "decision_ref");
                }
            }
        }
        self.record("event", &ev);
        id
    }

    /// A completed look-up (one record with an outcome).
    pub fn done(&mut self, patient: &str, w: &Who, recorded: &str) -> String {
        self.look_up(None, patient, w, Outcome::Success, recorded)
    }

    /// Appends a checkpoint signed as tillit's writer signs it.
    pub fn checkpoint(&mut self) -> String {
        let key = self.key.clone().expect("a signed log");
        let jws = sign_checkpoint(&key, &self.head.hash, self.head.next_seq);
        self.record("checkpoint", &json!({ "jws": jws, "kid": "k1" }))
    }

    /// Lines `from..to` as an NDJSON body.
    pub fn batch(&self, from: usize, to: usize) -> Vec<u8> {
        ndjson(&self.lines[from..to])
    }
}

/// A checkpoint JWS over `{ head, count, iat }`.
pub fn sign_checkpoint(key: &p256::ecdsa::SigningKey, head: &str, count: u64) -> String {
    let header = json!({ "alg": "ES256", "typ": "tillit-checkpoint+jwt", "kid": "k1" });
    let si = signing_input(
        &header,
        &json!({ "head": head, "count": count, "iat": 1_780_000_000u64 }),
    );
    let sig: p256::ecdsa::Signature = key.sign(si.as_bytes());
    compact(&si, &sig.to_bytes())
}

pub fn sha2_32(b: &[u8]) -> [u8; 32] {
    tillit::audit::chain::sha256(b)
}

/// Lines as an NDJSON body.
pub fn ndjson(lines: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.push(b'\n');
    }
    out
}

static DB: AtomicU64 = AtomicU64::new(0);

/// The throwaway cluster's URL; the PostgreSQL tests fail without it (run them through
/// `bash scripts/pg.sh cargo test -p tillit-collector`).
pub fn pg_url() -> String {
    std::env::var("TILLIT_TEST_PG")
        .expect("TILLIT_TEST_PG is not set: run the tests through scripts/pg.sh")
}

/// A URL of a fresh database in the throwaway cluster.
pub fn fresh_pg() -> String {
    let base = pg_url();
    let name = format!(
        "t_{}_{}_{}",
        std::process::id(),
        DB.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000
    );
    let mut c = postgres::Client::connect(&base, postgres::NoTls).unwrap();
    c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let (head, _) = base.rsplit_once('/').unwrap();
    format!("{head}/{name}")
}

/// A fresh SQLite file's `--db` value (the directory is left to the OS's temp cleanup
/// only if a test panics; `TempDb` removes it).
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "tillit-collector-test-{}-{}",
            std::process::id(),
            DB.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh store of `kind` (`sqlite` or `postgres`) and the `--db` value that opens it.
pub fn fresh_db(kind: &str, dir: &TempDir) -> String {
    match kind {
        "sqlite" => format!("sqlite:{}", dir.0.join("collector.db").display()),
        _ => fresh_pg(),
    }
}

pub fn open(db: &str) -> Store {
    tillit_collector::open_store(db).unwrap()
}

/// Runs a test body against SQLite and against PostgreSQL: `both!(name, |db: &str| { … })`.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn sqlite() {
                let dir = common::TempDir::new();
                let db = common::fresh_db("sqlite", &dir);
                let f: &dyn Fn(&str) = &$body;
                f(&db);
            }
            #[test]
            fn postgres() {
                let dir = common::TempDir::new();
                let db = common::fresh_db("postgres", &dir);
                let f: &dyn Fn(&str) = &$body;
                f(&db);
            }
        }
    };
}
