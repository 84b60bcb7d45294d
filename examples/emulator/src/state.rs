//! The emulator's state: the configuration and the synthetic world it was made from, the
//! signing key, and what requests leave behind (PAR sessions, codes, refresh tokens, issued
//! tokens, nonces, replay caches and the emulator's own bounded request log).

use crate::config::{Config, User};
use crate::data::{self, World};
use crate::mhd::entry_value;
use crate::verify::Replay;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tillit::jose::b64u;

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) struct Session {
    pub(crate) client_id: String,
    pub(crate) user: Option<User>,
    pub(crate) scope: String,
    /// The attestation the PAR request object carried, if any.
    pub(crate) par_details: Option<Value>,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
    /// The APIs (RFC 8707 `resource`) the login asked for; a token names one of them.
    pub(crate) resources: Vec<String>,
}

#[derive(Clone)]
pub(crate) struct TokenInfo {
    pub(crate) claims: Value,
}

pub(crate) struct Mutable {
    pub(crate) replay_assertions: Replay,
    pub(crate) replay_proofs: Replay,
    pub(crate) par: HashMap<String, Session>,
    pub(crate) codes: HashMap<String, (Session, u64)>,
    pub(crate) refresh: HashMap<String, Session>,
    pub(crate) tokens: HashMap<String, TokenInfo>,
    pub(crate) nonce_as: Vec<String>,
    pub(crate) nonce_rs: Vec<String>,
    pub(crate) nonce_at: u64,
    pub(crate) counter: u64,
    /// The source's own log: the latest [`LOG_LIMIT`] requests, and how many older ones were
    /// let go (a long load run must not grow the emulator without bound).
    pub(crate) log: std::collections::VecDeque<Value>,
    pub(crate) log_dropped: u64,
    /// The token count after which expired tokens are next let go.
    pub(crate) tokens_prune_at: usize,
}

/// Requests the emulator's own log keeps.
pub const LOG_LIMIT: usize = 10_000;

/// Appends to a bounded log: past `limit` entries the oldest is let go and counted.
pub(crate) fn push_bounded(
    log: &mut std::collections::VecDeque<Value>,
    dropped: &mut u64,
    limit: usize,
    e: Value,
) {
    if log.len() >= limit {
        log.pop_front();
        *dropped += 1;
    }
    log.push_back(e);
}

/// Shared state.
pub struct Emulator {
    pub(crate) config: Config,
    pub(crate) world: World,
    pub(crate) signing: p256::ecdsa::SigningKey,
    pub(crate) kid: String,
    pub(crate) m: Mutex<Mutable>,
    /// Search entries already written as JSON, per document id, for one base URL: the world
    /// does not change, so a page is assembled from these instead of serialised anew.
    pub(crate) entries: Mutex<(String, HashMap<String, Arc<str>>)>,
}

pub type Shared = Arc<Emulator>;

impl Emulator {
    /// Makes an emulator for `config`.
    pub fn new(config: Config) -> Shared {
        let fixed: Vec<String> = config
            .users
            .iter()
            .filter(|u| u.citizen)
            .map(|u| u.pid.clone())
            .collect();
        let world = World::generate(
            config.seed,
            &fixed,
            config.patients,
            config.big,
            now() / 86_400,
        );
        let seed_bytes =
            Sha256::digest(format!("tillit-emulator-signing-{}", config.seed).as_bytes());
        let signing = p256::ecdsa::SigningKey::from_slice(&seed_bytes).expect("a 32-byte scalar");
        let kid = tillit::jose::PublicJwk::from_value(&own_jwk(&signing), false, "jwk")
            .expect("own key")
            .thumbprint();
        Arc::new(Emulator {
            config,
            world,
            signing,
            kid,
            m: Mutex::new(Mutable {
                replay_assertions: Replay::default(),
                replay_proofs: Replay::default(),
                par: HashMap::new(),
                codes: HashMap::new(),
                refresh: HashMap::new(),
                tokens: HashMap::new(),
                nonce_as: Vec::new(),
                nonce_rs: Vec::new(),
                nonce_at: 0,
                counter: 0,
                log: Default::default(),
                log_dropped: 0,
                tokens_prune_at: 1024,
            }),
            entries: Mutex::new((String::new(), HashMap::new())),
        })
    }

    /// A document's search entry (`fullUrl`, `resource`, `search`) as JSON text.
    pub(crate) fn entry_json(&self, d: &data::Doc, base: &str) -> Arc<str> {
        {
            let cache = self.entries.lock().expect("lock");
            if cache.0 == base {
                if let Some(e) = cache.1.get(&d.id) {
                    return e.clone();
                }
            }
        }
        let e: Arc<str> = entry_value(&self.world, d, base).to_string().into();
        let mut cache = self.entries.lock().expect("lock");
        if cache.0 != base {
            *cache = (base.to_string(), HashMap::new());
        }
        cache.1.insert(d.id.clone(), e.clone());
        e
    }

    /// The synthetic patients' national ids.
    pub fn patients(&self) -> &[String] {
        &self.world.patients
    }
}

pub(crate) fn own_jwk(k: &p256::ecdsa::SigningKey) -> Value {
    let p = k.verifying_key().to_encoded_point(false);
    json!({ "kty": "EC", "crv": "P-256", "x": b64u(p.x().expect("x")), "y": b64u(p.y().expect("y")) })
}

impl Mutable {
    pub(crate) fn random(&mut self, what: &str) -> String {
        self.counter += 1;
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b64u(&Sha256::digest(format!("{what}-{}-{t}", self.counter).as_bytes())[..18])
    }

    pub(crate) fn rotate(&mut self, every: u64, force: bool) {
        let n = now();
        if force || self.nonce_as.is_empty() || n >= self.nonce_at + every {
            let (a, r) = (self.random("nonce-as"), self.random("nonce-rs"));
            self.nonce_as.insert(0, a);
            self.nonce_rs.insert(0, r);
            // Normally the previous nonce stays valid across a rotation; the `nonce` fault
            // accepts only the one just issued, which no client can know yet.
            let keep = if force { 1 } else { 2 };
            self.nonce_as.truncate(keep);
            self.nonce_rs.truncate(keep);
            self.nonce_at = n;
        }
    }
}

/// One line of the source's own access log.
#[derive(Default)]
pub(crate) struct Seen<'a> {
    pub(crate) endpoint: &'a str,
    pub(crate) client: Option<&'a str>,
    pub(crate) user: Option<&'a str>,
    pub(crate) attestation: Option<&'a Value>,
    pub(crate) patient: Option<&'a str>,
    /// How the search named the patient: `number` (NHN's clients) or `token` (`system|value`).
    pub(crate) patient_form: Option<&'a str>,
    pub(crate) document: Option<&'a str>,
    pub(crate) event_id: Option<&'a str>,
    pub(crate) status: u16,
}

pub(crate) fn log_event(m: &mut Mutable, e: Seen<'_>) {
    let att = e.attestation.map(|a| {
        json!({
            "purpose_of_use": a.pointer("/care_relationship/purpose_of_use/code"),
            "decision_ref": a.pointer("/care_relationship/decision_ref/id"),
            "practitioner": a.pointer("/practitioner/identifier/id"),
            "patients": a["patients"].as_array().map(|p| p.iter().filter_map(|x| x.pointer("/identifier/id").cloned()).collect::<Vec<_>>()),
        })
    });
    let entry = json!({
        "time": now(), "endpoint": e.endpoint, "client_id": e.client, "user": e.user, "attestation": att,
        "patient": e.patient, "patient_form": e.patient_form, "document": e.document, "event_id": e.event_id, "status": e.status
    });
    push_bounded(&mut m.log, &mut m.log_dropped, LOG_LIMIT, entry);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_the_latest_entries_and_counts_the_rest() {
        let mut log = std::collections::VecDeque::new();
        let mut dropped = 0;
        for i in 0..25 {
            push_bounded(&mut log, &mut dropped, 10, json!(i));
        }
        assert_eq!(log.len(), 10);
        assert_eq!(dropped, 15);
        assert_eq!(
            (log.front(), log.back()),
            (Some(&json!(15)), Some(&json!(24)))
        );
    }
}
