//! HTTP test support: the emulator in-process (HelseID and the Helsenorge-style citizen
//! issuer), collectors as real processes (the `tillit-collector` binary), and a client that
//! gets DPoP-bound tokens with private_key_jwt and calls the collector as a device would.

use p256::ecdsa::signature::Signer as _;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use tillit::jose::{b64u, compact, sha256_b64u, signing_input};

static N: AtomicU64 = AtomicU64::new(0);

fn unique() -> String {
    format!(
        "{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// A client's P-256 key from `seed`.
pub fn key(seed: &str) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&super::sha2_32(seed.as_bytes())).unwrap()
}

pub fn public_jwk(k: &p256::ecdsa::SigningKey) -> Value {
    let p = k.verifying_key().to_encoded_point(false);
    json!({ "kty": "EC", "crv": "P-256", "x": b64u(p.x().unwrap()), "y": b64u(p.y().unwrap()) })
}

fn sign(k: &p256::ecdsa::SigningKey, header: &Value, claims: &Value) -> String {
    let si = signing_input(header, claims);
    let sig: p256::ecdsa::Signature = k.sign(si.as_bytes());
    compact(&si, &sig.to_bytes())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub const WRITE: &str = "tillit:collector/audit.write";
pub const READ: &str = "tillit:collector/log-control";

/// The emulator's registrations for these tests: clients with the collector's scopes, and
/// citizens (one may act for a child).
fn config() -> Value {
    let client = |id: &str, scopes: &[&str]| json!({ "client_id": id, "jwks": { "keys": [public_jwk(&key(id))] }, "scopes": scopes });
    json!({
        "clients": [
            client("ehr-a", &[WRITE]),
            client("ehr-b", &[WRITE]),
            client("auditor", &[READ]),
            client("citizen-app", &[]),
        ],
        "users": [
            { "id": "lege", "kind": "practitioner", "pid": super::practitioner_pid(), "hpr": "9144900", "name": "Lege Lise Lauritzen" },
            { "id": "innbygger", "kind": "citizen", "pid": super::fnr(1), "name": "Kari Testborger", "represents": ["barn"] },
            { "id": "barn", "kind": "citizen", "pid": super::fnr(2), "name": "Ola Testborger" },
            { "id": "nabo", "kind": "citizen", "pid": super::fnr(3), "name": "Nils Nabo" }
        ]
    })
}

/// The emulator, served in-process on a loopback port: its base URL.
pub fn emulator() -> String {
    let cfg = tillit_emulator::Config::from_json(&config()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            axum::serve(
                l,
                tillit_emulator::router(tillit_emulator::Emulator::new(cfg)),
            )
            .await
            .unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

/// A running `tillit-collector` process.
pub struct Collector {
    pub child: Child,
    pub url: String,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Collector {
    pub fn start(db: &str, emulator: &str) -> Collector {
        Self::start_on(db, emulator, 0)
    }

    pub fn start_on(db: &str, emulator: &str, port: u16) -> Collector {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tillit-collector"))
            .args([
                "--port",
                &port.to_string(),
                "--db",
                db,
                "--issuer",
                emulator,
            ])
            .args(["--citizen-issuer", &format!("{emulator}/helsenorge")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&l);
                s.push('\n');
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("tillit-collector listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "no ready line: {line:?}; stderr: {}",
                    stderr.lock().unwrap()
                )
            })
            .to_string();
        Collector { child, url, stderr }
    }

    /// Stops it with SIGTERM (graceful) and waits.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }

    /// Kills it outright (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
}

pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Answer {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let mut req = agent.request(method, url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let r = match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    };
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string())))
        .collect();
    Answer {
        status,
        headers,
        body: resp.into_string().unwrap_or_default(),
    }
}

/// A client of the collector with its DPoP key and access token.
pub struct Client {
    pub dpop: p256::ecdsa::SigningKey,
    pub token: String,
}

fn dpop_proof(
    k: &p256::ecdsa::SigningKey,
    method: &str,
    url: &str,
    token: Option<&str>,
    nonce: Option<&str>,
) -> String {
    let htu = url.split(['?', '#']).next().unwrap();
    let mut c = json!({ "jti": unique(), "htm": method, "htu": htu, "iat": now() });
    if let Some(t) = token {
        c["ath"] = json!(sha256_b64u(t.as_bytes()));
    }
    if let Some(n) = nonce {
        c["nonce"] = json!(n);
    }
    sign(
        k,
        &json!({ "alg": "ES256", "typ": "dpop+jwt", "jwk": public_jwk(k) }),
        &c,
    )
}

fn assertion(client_id: &str, aud: &str) -> String {
    let n = now();
    sign(
        &key(client_id),
        &json!({ "alg": "ES256", "typ": "client-authentication+jwt" }),
        &json!({ "iss": client_id, "sub": client_id, "aud": aud, "iat": n, "nbf": n, "exp": n + 30, "jti": unique() }),
    )
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
}

impl Client {
    /// A HelseID client_credentials token with `scope` for `client_id` (DPoP nonce retry).
    pub fn helseid(emulator: &str, client_id: &str, scope: &str) -> Client {
        let dpop = key(&format!("dpop-{}", unique()));
        let url = format!("{emulator}/connect/token");
        let mut nonce: Option<String> = None;
        for _ in 0..2 {
            let body = form(&[
                ("grant_type", "client_credentials"),
                ("scope", scope),
                ("client_id", client_id),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion(client_id, emulator)),
            ]);
            let proof = dpop_proof(&dpop, "POST", &url, None, nonce.as_deref());
            let a = send(
                "POST",
                &url,
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("dpop", &proof),
                ],
                Some(&body),
            );
            if a.status == 200 {
                return Client {
                    dpop,
                    token: a.json()["access_token"].as_str().unwrap().to_string(),
                };
            }
            nonce = a.header("dpop-nonce").map(String::from);
        }
        panic!("no token for {client_id}");
    }

    /// A citizen's token from the Helsenorge-style issuer (optionally acting for `represent`).
    pub fn citizen(emulator: &str, login: &str, represent: Option<&str>) -> Client {
        let hn = format!("{emulator}/helsenorge");
        let verifier = format!("verifier-{}", unique());
        let challenge = sha256_b64u(verifier.as_bytes());
        let mut url = format!(
            "{hn}/connect/authorize?client_id=citizen-app&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&code_challenge={challenge}&code_challenge_method=S256&login_hint={login}"
        );
        if let Some(r) = represent {
            url.push_str(&format!("&represent={r}"));
        }
        let a = send("GET", &url, &[], None);
        assert_eq!(a.status, 302, "{}", a.body);
        let loc = a.header("location").unwrap().to_string();
        let code = loc
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_string();
        let dpop = key(&format!("dpop-{}", unique()));
        let turl = format!("{hn}/connect/token");
        let body = form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &verifier),
            ("redirect_uri", "http://127.0.0.1/cb"),
            ("client_id", "citizen-app"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion("citizen-app", &hn)),
        ]);
        let proof = dpop_proof(&dpop, "POST", &turl, None, None);
        let a = send(
            "POST",
            &turl,
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("dpop", &proof),
            ],
            Some(&body),
        );
        assert_eq!(a.status, 200, "{}", a.body);
        Client {
            dpop,
            token: a.json()["access_token"].as_str().unwrap().to_string(),
        }
    }

    /// Calls the collector with the token and a fresh proof.
    pub fn call(&self, method: &str, url: &str, body: Option<&[u8]>) -> Answer {
        let proof = dpop_proof(&self.dpop, method, url, Some(&self.token), None);
        let auth = format!("DPoP {}", self.token);
        send(
            method,
            url,
            &[
                ("authorization", &auth),
                ("dpop", &proof),
                ("content-type", "application/json"),
            ],
            body,
        )
    }

    /// A proof for another URL than the one called (for refusal tests).
    pub fn call_with_proof_for(&self, method: &str, url: &str, proof_url: &str) -> Answer {
        let proof = dpop_proof(&self.dpop, method, proof_url, Some(&self.token), None);
        let auth = format!("DPoP {}", self.token);
        send(
            method,
            url,
            &[("authorization", &auth), ("dpop", &proof)],
            None,
        )
    }

    /// The same proof twice (replay).
    pub fn replay(&self, method: &str, url: &str) -> (Answer, Answer) {
        let proof = dpop_proof(&self.dpop, method, url, Some(&self.token), None);
        let auth = format!("DPoP {}", self.token);
        let h = [("authorization", auth.as_str()), ("dpop", proof.as_str())];
        (send(method, url, &h, None), send(method, url, &h, None))
    }
}
