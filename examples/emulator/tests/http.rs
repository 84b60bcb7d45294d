//! Drives every endpoint of the emulator over real HTTP on loopback: happy paths, every
//! rejection, every fault mode.

use p256::ecdsa::signature::Signer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use tillit::assertion::{self, AuthorizeParams, Common, Details, Placement};
use tillit::jose::{b64u, compact, signing_input, Alg, PublicJwk};
use tillit::trust::{Grant, TrustContext};
use tillit_emulator::{now, router, Config, Emulator};

const PRACTITIONER: &str = "03818500083";
const CITIZEN: &str = "04818500012";

fn key(n: u8) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&Sha256::digest([n; 8])).unwrap()
}

fn jwk(k: &p256::ecdsa::SigningKey) -> Value {
    let p = k.verifying_key().to_encoded_point(false);
    json!({ "kty": "EC", "crv": "P-256", "x": b64u(p.x().unwrap()), "y": b64u(p.y().unwrap()) })
}

fn sign(k: &p256::ecdsa::SigningKey, header: &Value, claims: &Value) -> String {
    let si = signing_input(header, claims);
    let sig: p256::ecdsa::Signature = k.sign(si.as_bytes());
    compact(&si, &sig.to_bytes())
}

static JTI: AtomicU64 = AtomicU64::new(0);
fn jti() -> String {
    format!("jti-{:016}-{}", JTI.fetch_add(1, Ordering::SeqCst), now())
}

struct Emu {
    base: String,
    client: p256::ecdsa::SigningKey,
    dpop: p256::ecdsa::SigningKey,
    patients: Vec<String>,
}

fn start(fault: Option<&str>) -> Emu {
    start_with(fault, true)
}

fn start_with(fault: Option<&str>, resource_nonce: bool) -> Emu {
    let client = key(1);
    let cfg = json!({
        "clients": [{ "client_id": "test-client", "jwks": { "keys": [jwk(&client)] }, "scopes": ["nhn:phr/mhd/read-documentreferences", "nhn:phr/mhd/read-document", "tillit:collector/log-control"] }],
        "users": [
            { "id": "lege", "kind": "practitioner", "pid": PRACTITIONER, "hpr": "9144900", "name": "Lege Test" },
            { "id": "innbygger", "kind": "citizen", "pid": CITIZEN, "name": "Kari" }
        ]
    });
    let mut config = Config::from_json(&cfg).unwrap();
    config.fault = fault.map(String::from);
    // These tests drive the nonce dance at the resource too; PJD itself demands none
    // (see `resource_needs_no_nonce_unless_asked`).
    config.resource_nonce = resource_nonce;
    let state = Emulator::new(config);
    let patients = state.patients().to_vec();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            axum::serve(l, router(state)).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    Emu {
        base: format!("http://{addr}"),
        client,
        dpop: key(2),
        patients,
    }
}

fn attestation(patient: &str) -> Value {
    json!({
        "type": "nhn:tillitsrammeverk:parameters",
        "practitioner": {
            "identifier": { "id": PRACTITIONER, "system": "urn:oid:2.16.578.1.12.4.1.4.1" },
            "hpr_nr": { "id": "9144900", "system": "urn:oid:2.16.578.1.12.4.1.4.4" },
            "authorization": { "code": "LE", "system": "urn:oid:2.16.578.1.12.4.1.1.9060" },
            "legal_entity": { "id": "974760673", "system": "urn:oid:2.16.578.1.12.4.1.4.101" },
            "point_of_care": { "id": "974760673", "system": "urn:oid:2.16.578.1.12.4.1.4.101" }
        },
        "care_relationship": {
            "purpose_of_use": { "code": "TREAT", "system": "urn:oid:2.16.840.1.113883.1.11.20448" },
            "purpose_of_use_details": { "code": "BEHANDLER", "system": "urn:AuditEventHL7Norway/CodeSystem/carerelation" },
            "decision_ref": { "id": "dec-1", "user_selected": false }
        },
        "patients": [{ "identifier": { "id": patient, "system": "urn:oid:2.16.578.1.12.4.1.4.1" } }]
    })
}

struct Resp {
    status: u16,
    body: String,
    nonce: Option<String>,
    headers: Vec<(String, String)>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
}

fn call(r: Result<ureq::Response, ureq::Error>) -> Resp {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport: {e}"),
    };
    let status = resp.status();
    let headers: Vec<(String, String)> = resp
        .headers_names()
        .into_iter()
        .map(|n| (n.clone(), resp.header(&n).unwrap_or("").to_string()))
        .collect();
    let nonce = resp.header("dpop-nonce").map(String::from);
    let body = resp.into_string().unwrap_or_default();
    Resp {
        status,
        body,
        nonce,
        headers,
    }
}

impl Emu {
    fn assertion_with(&self, f: impl FnOnce(&mut Value, &mut Value)) -> String {
        let common = Common {
            client_id: "test-client",
            issuer: &self.base,
            alg: Alg::Es256,
            kid: None,
            now: now(),
            lifetime_secs: 10,
            jti: &jti(),
        };
        let (mut h, mut c) =
            assertion::client_assertion(&common, &Placement::None, Grant::ClientCredentials)
                .unwrap();
        f(&mut h, &mut c);
        sign(&self.client, &h, &c)
    }

    fn assertion(&self, details: Option<Value>) -> String {
        self.assertion_with(|_, c| {
            if let Some(d) = details {
                c["assertion_details"] = d;
            }
        })
    }

    fn proof(&self, method: &str, url: &str, token: Option<&str>, nonce: Option<&str>) -> String {
        let pk = PublicJwk::from_value(&jwk(&self.dpop), false, "j").unwrap();
        let p = tillit::dpop::ProofParams {
            jwk: &pk,
            alg: Alg::Es256,
            method,
            url,
            now: now(),
            jti: &jti(),
            access_token: token,
            nonce,
        };
        let (h, c) = tillit::dpop::proof(&p).unwrap();
        sign(&self.dpop, &h, &c)
    }

    fn token_raw(&self, form: &[(&str, &str)], nonce: Option<&str>, fault: Option<&str>) -> Resp {
        let url = format!("{}/connect/token", self.base);
        let mut req = ureq::post(&url).set("DPoP", &self.proof("POST", &url, None, nonce));
        if let Some(f) = fault {
            req = req.set("x-emulator-fault", f);
        }
        call(req.send_form(form))
    }

    /// A token request with the nonce dance: exactly one retry.
    fn token(&self, extra: &[(&str, &str)], details: Option<Value>) -> Resp {
        let a1 = self.assertion(details.clone());
        let mut form: Vec<(&str, &str)> = vec![
            (
                "client_assertion_type",
                tillit::assertion::CLIENT_ASSERTION_TYPE,
            ),
            ("client_assertion", &a1),
        ];
        form.extend_from_slice(extra);
        let first = self.token_raw(&form, None, None);
        assert_eq!(first.status, 400);
        assert_eq!(first.json()["error"], "use_dpop_nonce");
        let a2 = self.assertion(details);
        let mut form: Vec<(&str, &str)> = vec![
            (
                "client_assertion_type",
                tillit::assertion::CLIENT_ASSERTION_TYPE,
            ),
            ("client_assertion", &a2),
        ];
        form.extend_from_slice(extra);
        self.token_raw(&form, first.nonce.as_deref(), None)
    }

    fn cc_token(&self, patient: &str, scope: &str) -> String {
        let r = self.token(
            &[("grant_type", "client_credentials"), ("scope", scope)],
            Some(json!([attestation(patient)])),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["access_token"].as_str().unwrap().to_string()
    }

    fn search(&self, token: &str, patient: &str, nonce: Option<&str>, fault: Option<&str>) -> Resp {
        self.search_count(token, patient, nonce, fault, 5)
    }

    /// A search for `patient`'s current documents, `count` a page.
    fn search_count(
        &self,
        token: &str,
        patient: &str,
        nonce: Option<&str>,
        fault: Option<&str>,
        count: usize,
    ) -> Resp {
        let url = format!("{}/R4/fhir/DocumentReference/_search", self.base);
        let mut req = ureq::post(&url)
            .set("Authorization", &format!("DPoP {token}"))
            .set("DPoP", &self.proof("POST", &url, Some(token), nonce))
            .set("nhn-event-id", "0b8e2f3c-0000-4000-8000-000000000001")
            .set("nhn-source-system", "tillit-test");
        if let Some(f) = fault {
            req = req.set("x-emulator-fault", f);
        }
        call(req.send_form(&[
            (
                "patient.identifier",
                &format!("urn:oid:2.16.578.1.12.4.1.4.1|{patient}"),
            ),
            ("status", "current"),
            ("_count", &count.to_string()),
        ]))
    }

    /// Every current document of `patient` on one page (the server allows up to 1000), after
    /// the nonce dance.
    fn search_all(&self, token: &str, patient: &str) -> Resp {
        let first = self.search_count(token, patient, None, None, 1000);
        assert_eq!(first.status, 401, "{}", first.body);
        let r = self.search_count(token, patient, first.nonce.as_deref(), None, 1000);
        assert_eq!(r.status, 200, "{}", r.body);
        r
    }

    fn search_ok(&self, token: &str, patient: &str) -> Resp {
        let first = self.search(token, patient, None, None);
        assert_eq!(first.status, 401);
        assert!(first
            .header("www-authenticate")
            .unwrap()
            .contains("use_dpop_nonce"));
        self.search(token, patient, first.nonce.as_deref(), None)
    }
}

#[test]
fn discovery_and_jwks() {
    let e = start(None);
    let d = call(ureq::get(&format!("{}/.well-known/openid-configuration", e.base)).call()).json();
    assert_eq!(d["issuer"], e.base);
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt"])
    );
    let k = call(ureq::get(&format!("{}/jwks", e.base)).call()).json();
    assert_eq!(k["keys"][0]["kty"], "EC");
}

#[test]
fn client_credentials_with_nonce_and_token_claims() {
    let e = start(None);
    let p = e.patients[0].clone();
    let r = e.token(
        &[
            ("grant_type", "client_credentials"),
            ("scope", "nhn:phr/mhd/read-documentreferences"),
        ],
        Some(json!([attestation(&p)])),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["token_type"], "DPoP");
    let claims = tillit::jose::parse_compact(body["access_token"].as_str().unwrap(), "t")
        .unwrap()
        .claims;
    assert_eq!(
        claims["cnf"]["jkt"],
        PublicJwk::from_value(&jwk(&e.dpop), false, "j")
            .unwrap()
            .thumbprint()
    );
    assert_eq!(
        claims["nhn:tillitsrammeverk:parameters"]["care_relationship"]["decision_ref"]["id"],
        "dec-1"
    );
    assert_eq!(claims["aud"], "nhn:phr");
}

#[test]
fn every_assertion_rejection() {
    let e = start(None);
    // Get a valid nonce first.
    let nonce = e
        .token_raw(&[("grant_type", "client_credentials")], None, None)
        .nonce
        .unwrap();
    let try_with = |a: String| {
        let r = e.token_raw(
            &[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    tillit::assertion::CLIENT_ASSERTION_TYPE,
                ),
                ("client_assertion", &a),
            ],
            Some(&nonce),
            None,
        );
        (
            r.status,
            r.json()["error_description"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        )
    };
    let other = key(9);
    let (status, d) = try_with({
        let (h, c) = (
            json!({"alg": "ES256", "typ": "client-authentication+jwt"}),
            json!({"iss": "test-client", "sub": "test-client", "aud": e.base, "iat": now(), "exp": now() + 10, "jti": jti()}),
        );
        sign(&other, &h, &c)
    });
    assert_eq!(
        (status, d.contains("signature")),
        (401, true),
        "bad signature"
    );
    assert!(
        try_with(e.assertion_with(|_, c| c["aud"] = json!("https://other")))
            .1
            .contains("aud")
    );
    assert!(
        try_with(e.assertion_with(|_, c| c["exp"] = json!(now() - 100)))
            .1
            .contains("expired")
            || try_with(e.assertion_with(|_, c| {
                c["iat"] = json!(now() - 120);
                c["exp"] = json!(now() - 100);
            }))
            .1
            .contains("expired")
    );
    assert!(
        try_with(e.assertion_with(|_, c| c["exp"] = json!(now() + 120)))
            .1
            .contains("60 seconds")
    );
    assert!(try_with(e.assertion_with(|h, _| h["typ"] = json!("JWT")))
        .1
        .contains("typ"));
    assert!(try_with(e.assertion_with(|_, c| c["sub"] = json!("x")))
        .1
        .contains("sub"));
    assert!(
        try_with(e.assertion_with(|_, c| c["nbf"] = json!(now() + 300)))
            .1
            .contains("not yet valid")
    );
    let once = e.assertion(None);
    assert_eq!(try_with(once.clone()).0, 200);
    assert!(try_with(once).1.contains("replay"));
    // Bad attestation field.
    let mut att = attestation(&e.patients[0]);
    att["care_relationship"]["purpose_of_use"]["code"] = json!("HMARKT");
    let (s, d) = try_with(e.assertion(Some(json!([att]))));
    assert_eq!(s, 400);
    assert!(d.contains("purpose_of_use.code"), "{d}");
    let mut att = attestation(&e.patients[0]);
    att["toa"] = json!(now() - 4000);
    assert!(try_with(e.assertion(Some(json!([att]))))
        .1
        .contains("60 minutes"));
    // Wrong scope.
    let r = e.token(
        &[
            ("grant_type", "client_credentials"),
            ("scope", "nhn:phr/admin"),
        ],
        None,
    );
    assert_eq!(r.json()["error"], "invalid_scope");
}

#[test]
fn dpop_rejections() {
    let e = start(None);
    let url = format!("{}/connect/token", e.base);
    let nonce = e.token_raw(&[], None, None).nonce.unwrap();
    let form = |a: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            (
                "client_assertion_type",
                tillit::assertion::CLIENT_ASSERTION_TYPE.to_string(),
            ),
            ("client_assertion", a.to_string()),
        ]
    };
    let send = |proof: Option<String>| {
        let a = e.assertion(None);
        let f = form(&a);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut req = ureq::post(&url);
        if let Some(p) = proof {
            req = req.set("DPoP", &p);
        }
        call(req.send_form(&f))
    };
    assert!(send(None).json()["error_description"]
        .as_str()
        .unwrap()
        .contains("DPoP header"));
    assert_eq!(
        send(Some(e.proof("POST", &url, None, Some("stale")))).json()["error"],
        "use_dpop_nonce"
    );
    assert!(
        send(Some(e.proof("GET", &url, None, Some(&nonce)))).json()["error_description"]
            .as_str()
            .unwrap()
            .contains("htm")
    );
    assert!(send(Some(e.proof(
        "POST",
        "http://elsewhere/connect/token",
        None,
        Some(&nonce)
    )))
    .json()["error_description"]
        .as_str()
        .unwrap()
        .contains("htu"));
    let p = e.proof("POST", &url, None, Some(&nonce));
    assert_eq!(send(Some(p.clone())).status, 200);
    assert!(send(Some(p)).json()["error_description"]
        .as_str()
        .unwrap()
        .contains("replay"));
}

#[test]
fn search_paging_and_patient_scope() {
    let e = start(None);
    let p = e.patients[0].clone();
    let token = e.cc_token(
        &p,
        "nhn:phr/mhd/read-documentreferences nhn:phr/mhd/read-document",
    );
    let r = e.search_ok(&token, &p);
    assert_eq!(r.status, 200, "{}", r.body);
    let b = r.json();
    assert_eq!(b["resourceType"], "Bundle");
    assert!(b["total"].as_u64().unwrap() >= 5);
    assert_eq!(b["entry"].as_array().unwrap().len(), 5);
    assert!(r.header("nhn-securitylabel-nors-count").is_some());
    assert_eq!(b["link"][1]["relation"], "next");
    // A patient the attestation does not name.
    let other = e.patients[1].clone();
    let r = e.search(&token, &other, r.nonce.as_deref(), None);
    assert_eq!(r.status, 403);
    // Wrong scope: a token without the search scope.
    let t2 = e.cc_token(&p, "nhn:phr/mhd/read-document");
    let first = e.search(&t2, &p, None, None);
    assert_eq!(e.search(&t2, &p, first.nonce.as_deref(), None).status, 403);
    // The emulator's own log names the attestation.
    let log = call(ureq::get(&format!("{}/_emulator/log", e.base)).call()).json();
    let searches: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["endpoint"] == "search" && l["status"] == 200)
        .collect();
    assert_eq!(searches[0]["attestation"]["decision_ref"], "dec-1");
    assert_eq!(
        searches[0]["event_id"],
        "0b8e2f3c-0000-4000-8000-000000000001"
    );
}

#[test]
fn retrieval_pdf_and_cda() {
    let e = start(None);
    let p = e.patients[0].clone();
    let token = e.cc_token(
        &p,
        "nhn:phr/mhd/read-documentreferences nhn:phr/mhd/read-document",
    );
    let b = e.search_all(&token, &p).json();
    let mut nonce: Option<String> = None;
    let mut kinds = std::collections::HashSet::new();
    for entry in b["entry"].as_array().unwrap() {
        let url = entry["resource"]["content"][0]["attachment"]["url"]
            .as_str()
            .unwrap()
            .to_string();
        let get = |n: Option<&str>| {
            call(
                ureq::get(&url)
                    .set("Authorization", &format!("DPoP {token}"))
                    .set("DPoP", &e.proof("GET", &url, Some(&token), n))
                    .set("nhn-patient-nin", &p)
                    .set("nhn-source-system", "tillit-test")
                    .set("nhn-event-id", "0b8e2f3c-0000-4000-8000-000000000002")
                    .call(),
            )
        };
        let mut r = get(nonce.as_deref());
        if r.status == 401 {
            nonce = r.nonce.clone();
            r = get(nonce.as_deref());
        }
        assert_eq!(r.status, 200, "{}", r.body);
        let ct = r.header("content-type").unwrap().to_string();
        // The document is served as the reference declares it.
        assert_eq!(
            ct,
            entry["resource"]["content"][0]["attachment"]["contentType"]
                .as_str()
                .unwrap()
        );
        match ct.as_str() {
            "application/pdf" => assert!(r.body.starts_with("%PDF-1.4")),
            "application/xml" => assert!(
                r.body.contains("<ClinicalDocument")
                    && r.body.contains("<nonXMLBody>")
                    && r.body.contains("representation=\"B64\""),
                "a CDA document with a base64 body: {}",
                r.body
            ),
            other => panic!("unexpected content type {other}"),
        }
        kinds.insert(ct);
    }
    // The patient's documents must include both kinds, or this test checks less than it promises.
    let want: std::collections::HashSet<String> = ["application/pdf", "application/xml"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(kinds, want, "both a PDF and a CDA document retrieved");
}

#[test]
fn authorization_code_with_par_refresh_and_double_structure() {
    let e = start(None);
    let p = e.patients[0].clone();
    let verifier = "verifier-0123456789-0123456789-0123456789-abc";
    let challenge = tillit::jose::sha256_b64u(verifier.as_bytes());
    let par = |details: bool| {
        let placement = if details {
            Placement::RequestObject(Details {
                trust_context: Some(TrustContext::from_json(&attestation(&p)).unwrap()),
                tenant: None,
            })
        } else {
            Placement::None
        };
        let r = push(
            &e,
            PushParams {
                scope: "openid offline_access nhn:phr/mhd/read-documentreferences",
                challenge: &challenge,
                placement: &placement,
                ..PushParams::default()
            },
        );
        assert_eq!(r.status, 201, "{}", r.body);
        authorize_code(&e, &r)
    };
    // Attestation in the PAR request object.
    let code = par(true);
    let r = e.token(
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1/cb"),
            ("code_verifier", verifier),
        ],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let rt = r.json()["refresh_token"].as_str().unwrap().to_string();
    // Attestation in both: HID-DOUBLE-STRUCTURE.
    let r = e.token(
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        Some(json!([attestation(&p)])),
    );
    assert_eq!(r.json()["error"], "access_denied");
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .starts_with("HID-DOUBLE-STRUCTURE"));
    // Attestation in the assertion only, switching patient by refresh_token.
    let code = par(false);
    let r = e.token(
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1/cb"),
            ("code_verifier", verifier),
        ],
        Some(json!([attestation(&p)])),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let rt = r.json()["refresh_token"].as_str().unwrap().to_string();
    let p2 = e.patients[1].clone();
    let r = e.token(
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        Some(json!([attestation(&p2)])),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let at = r.json()["access_token"].as_str().unwrap().to_string();
    let claims = tillit::jose::parse_compact(&at, "t").unwrap().claims;
    assert_eq!(
        claims["nhn:tillitsrammeverk:parameters"]["patients"][0]["identifier"]["id"],
        p2
    );
    assert_eq!(claims["helseid://claims/identity/pid"], PRACTITIONER);
    // Attestation for another practitioner than the logged-in user.
    let mut wrong = attestation(&p);
    wrong["practitioner"]["identifier"]["id"] = json!(CITIZEN);
    let rt2 = r.json()["refresh_token"].as_str().unwrap().to_string();
    let r = e.token(
        &[("grant_type", "refresh_token"), ("refresh_token", &rt2)],
        Some(json!([wrong])),
    );
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("logged-in user"));
    // Wrong PKCE verifier.
    let code = par(false);
    let r = e.token(
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1/cb"),
            ("code_verifier", "wrong"),
        ],
        None,
    );
    assert_eq!(r.json()["error"], "invalid_grant");
    // Token exchange.
    let r = e.token(
        &[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", &at),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("scope", "nhn:phr/mhd/read-document"),
        ],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn fault_modes() {
    let e = start(None);
    let p = e.patients[0].clone();
    let token = e.cc_token(&p, "nhn:phr/mhd/read-documentreferences");
    let nonce = e.search(&token, &p, None, None).nonce;
    let n = nonce.as_deref();
    let r = e.search(&token, &p, n, Some("500"));
    assert_eq!(
        (r.status, r.json()["resourceType"].as_str()),
        (500, Some("OperationOutcome"))
    );
    let r = e.search(&token, &p, n, Some("503"));
    assert_eq!((r.status, r.header("retry-after")), (503, Some("1")));
    let r = e.search(&token, &p, n, Some("truncated"));
    assert_eq!(r.status, 200);
    assert!(serde_json::from_str::<Value>(&r.body).is_err());
    let r = e.search(&token, &p, r.nonce.as_deref(), Some("malformed"));
    assert!(serde_json::from_str::<Value>(&r.body).is_err());
    let t0 = std::time::Instant::now();
    let r = e.search(&token, &p, r.nonce.as_deref(), Some("latency=300"));
    assert!(t0.elapsed().as_millis() >= 300 && r.status == 200);
    let r = e.search(&token, &p, r.nonce.as_deref(), Some("leak-patient"));
    let subjects: Vec<String> = r.json()["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x["resource"]["subject"]["identifier"]["value"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(subjects.iter().any(|s| *s != p));
    let r = e.search(&token, &p, r.nonce.as_deref(), Some("leak-type"));
    assert!(r.body.contains("B02-2"));
    let r = e.search(&token, &p, r.nonce.as_deref(), Some("expired-token"));
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
    // A fresh nonce on every request: the previous response's nonce is the one to use.
    let r1 = e.search(&token, &p, r.nonce.as_deref(), Some("nonce"));
    assert_eq!(r1.status, 401);
    let r2 = e.search(&token, &p, r1.nonce.as_deref(), Some("nonce"));
    assert_eq!(r2.status, 401, "rotated again, as this fault mode promises");
    let r3 = e.search(&token, &p, r2.nonce.as_deref(), None);
    assert_eq!(r3.status, 200);
    // Faults at the token endpoint.
    assert_eq!(e.token_raw(&[], None, Some("503")).status, 503);
}

#[test]
fn citizen_sees_own_blocked_documents_practitioner_does_not() {
    let e = start(None);
    let p = CITIZEN.to_string();
    let blocked_in = |r: &Resp| -> Vec<String> {
        r.json()["entry"]
            .as_array()
            .expect("a searchset bundle")
            .iter()
            .filter(|x| {
                x["resource"]["securityLabel"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|c| c["coding"][0]["code"] == "NORS"))
            })
            .map(|x| x["resource"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    // A practitioner (client credentials with an attestation naming the patient): the blocked
    // documents are withheld and only counted in `nhn-securitylabel-nors-count`.
    let t = e.cc_token(&p, "nhn:phr/mhd/read-documentreferences");
    let r = e.search_all(&t, &p);
    let withheld: usize = r
        .header("nhn-securitylabel-nors-count")
        .expect("the practitioner's answer counts the withheld documents")
        .parse()
        .unwrap();
    assert!(
        withheld > 0,
        "the test citizen's generated documents must include a blocked (NORS) one"
    );
    assert_eq!(
        blocked_in(&r),
        Vec::<String>::new(),
        "practitioners never receive blocked documents"
    );
    assert!(!r.body.contains("\"NORS\""));
    let shown_to_practitioner = r.json()["entry"].as_array().unwrap().len();
    // The citizen, logged in as themselves (code flow, no attestation): their own search shows
    // the same blocked documents the practitioner was told were withheld, and nothing else more.
    let verifier = "verifier-0123456789-0123456789-0123456789-abc";
    let challenge = tillit::jose::sha256_b64u(verifier.as_bytes());
    let pushed = push(
        &e,
        PushParams {
            challenge: &challenge,
            ..PushParams::default()
        },
    );
    assert_eq!(pushed.status, 201, "{}", pushed.body);
    let code = authorize_code_as(&e, &pushed, "innbygger");
    let r = redeem(&e, &code, verifier, None);
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = r.json()["access_token"].as_str().unwrap().to_string();
    let claims = tillit::jose::parse_compact(&ct, "t").unwrap().claims;
    assert_eq!(claims["helseid://claims/identity/pid"], CITIZEN);
    assert!(claims.get("nhn:tillitsrammeverk:parameters").is_none());
    let r = e.search_all(&ct, &p);
    let own_blocked = blocked_in(&r);
    assert_eq!(
        own_blocked.len(),
        withheld,
        "the citizen sees every own blocked document: {own_blocked:?}"
    );
    assert_eq!(
        r.json()["entry"].as_array().unwrap().len(),
        shown_to_practitioner + withheld
    );
    assert_eq!(
        r.header("nhn-securitylabel-nors-count"),
        Some("0"),
        "nothing is withheld from the citizen"
    );
}

/// What [`push`] puts in the request object and the PAR body.
struct PushParams<'a> {
    typ: assertion::RequestObjectTyp,
    scope: &'a str,
    challenge: &'a str,
    resources: &'a [String],
    placement: &'a Placement,
    /// Authorisation parameters repeated in the PAR body, as NHN's reference EHR sends them.
    body: &'a [(&'a str, &'a str)],
}

impl Default for PushParams<'_> {
    fn default() -> Self {
        PushParams {
            typ: assertion::RequestObjectTyp::Nhn,
            scope: "openid offline_access nhn:phr/mhd/read-documentreferences",
            challenge: "",
            resources: &[],
            placement: &Placement::None,
            body: &[],
        }
    }
}

/// Pushes an authorisation request (PAR) with a signed request object; the answer.
fn push(e: &Emu, p: PushParams<'_>) -> Resp {
    let common = Common {
        client_id: "test-client",
        issuer: &e.base,
        alg: Alg::Es256,
        kid: None,
        now: now(),
        lifetime_secs: 10,
        jti: &jti(),
    };
    let params = AuthorizeParams {
        typ: p.typ,
        redirect_uri: "http://127.0.0.1/cb",
        scope: p.scope,
        state: "st",
        nonce: "n",
        code_challenge: p.challenge,
        resources: p.resources,
    };
    let (h, c) = assertion::request_object(&common, &params, p.placement).unwrap();
    assert_eq!(h["typ"], p.typ.as_str());
    let ro = sign(&e.client, &h, &c);
    let a = e.assertion(None);
    let mut form = vec![
        ("client_id", "test-client"),
        ("request", ro.as_str()),
        ("client_assertion_type", assertion::CLIENT_ASSERTION_TYPE),
        ("client_assertion", a.as_str()),
    ];
    form.extend_from_slice(p.body);
    call(ureq::post(&format!("{}/connect/par", e.base)).send_form(&form))
}

/// Logs the test practitioner in for a pushed request; the code the redirect carries.
fn authorize_code(e: &Emu, pushed: &Resp) -> String {
    authorize_code_as(e, pushed, "lege")
}

/// Logs the test user `login_hint` in for a pushed request; the code the redirect carries.
fn authorize_code_as(e: &Emu, pushed: &Resp, login_hint: &str) -> String {
    let uri = pushed.json()["request_uri"].as_str().unwrap().to_string();
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let r = call(
        agent
            .get(&format!("{}/connect/authorize", e.base))
            .query("client_id", "test-client")
            .query("request_uri", &uri)
            .query("login_hint", login_hint)
            .call(),
    );
    assert_eq!(r.status, 302);
    let loc = r.header("location").unwrap().to_string();
    assert!(loc.contains("state=st"));
    loc.split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string()
}

/// A user login through PAR without details in the request object; the code it ends with.
fn login_code(e: &Emu, challenge: &str) -> String {
    let r = push(
        e,
        PushParams {
            challenge,
            ..PushParams::default()
        },
    );
    assert_eq!(r.status, 201, "{}", r.body);
    authorize_code(e, &r)
}

/// Redeems an authorisation code (PKCE `verifier`), with `details` in the client assertion.
fn redeem(e: &Emu, code: &str, verifier: &str, details: Option<Value>) -> Resp {
    e.token(
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", "http://127.0.0.1/cb"),
            ("code_verifier", verifier),
        ],
        details,
    )
}

fn nhn_fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/fixtures/nhn/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn narrow_attestation_from_nhn_samples_end_to_end() {
    // The attestations NHN's own clients send: NorskHelsenett/Pasientens-journaldokumenter,
    // .NET/PatientHealthRecordsEPJ/.../Controllers/HomeController.cs (BuildAttestJson) and
    // .NET/NativeClients/SimpleRequestObjectsDemo/Program.cs; one object as assertion_details
    // (HelseID.Library's DetailsCreator.cs: one type, one object).
    let e = start(None);
    let verifier = "verifier-0123456789-0123456789-0123456789-abc";
    let challenge = tillit::jose::sha256_b64u(verifier.as_bytes());
    for name in ["pjd-reference-ehr", "pjd-request-objects-demo"] {
        let sample = nhn_fixture(name);
        // client_credentials acting for a person: no login to take the user from.
        let r = e.token(
            &[
                ("grant_type", "client_credentials"),
                ("scope", "nhn:phr/mhd/read-documentreferences"),
            ],
            Some(sample.clone()),
        );
        assert_eq!(r.status, 400, "{name}: {}", r.body);
        assert!(
            r.json()["error_description"]
                .as_str()
                .unwrap()
                .contains("practitioner.identifier"),
            "{}",
            r.body
        );
        // authorization_code: HelseID takes the user from the login and puts them in the token.
        let code = login_code(&e, &challenge);
        let r = redeem(&e, &code, verifier, Some(sample.clone()));
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let at = r.json()["access_token"].as_str().unwrap().to_string();
        let att = tillit::jose::parse_compact(&at, "t").unwrap().claims
            ["nhn:tillitsrammeverk:parameters"]
            .clone();
        assert_eq!(att["practitioner"]["identifier"]["id"], PRACTITIONER);
        assert_eq!(att["patients"], sample["patients"]);
        // The patient comes from the request, as PJD reads it for the reference EHR.
        let p = e.patients[0].clone();
        let r = e.search_ok(&at, &p);
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        // And by refresh (the flow carries the user) as well.
        let rt = {
            let code = login_code(&e, &challenge);
            let r = redeem(&e, &code, verifier, None);
            r.json()["refresh_token"].as_str().unwrap().to_string()
        };
        let r = e.token(
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            Some(sample),
        );
        assert_eq!(r.status, 200, "{name}: {}", r.body);
    }
}

#[test]
fn details_as_one_object_or_an_array() {
    // NorskHelsenett/HelseID.Library, HelseId.Library/Services/PayloadClaimCreators/
    // DetailsCreators/DetailsCreator.cs: one type is sent as an object, several as an array.
    let e = start(None);
    let p = e.patients[0].clone();
    // A tenant alone in client_credentials, as NorskHelsenett/HelseID.Library (.NET,
    // "NO:ORGNR:<parent>:") and HelseID.Library.Java ("NO:ORGNR:<parent>") send it, and the
    // single-tenant form (OrganizationNumberCreatorForSingleTenantClient.cs).
    let tenant = |system: &str, value: &str| json!({"type": "helseid_authorization", "practitioner_role": {"organization": {"identifier": {"system": system, "type": "ENH", "value": value}}}});
    for details in [
        attestation(&p),
        json!([attestation(&p)]),
        tenant("urn:oid:1.0.6523", "NO:ORGNR:974760673:"),
        tenant("urn:oid:1.0.6523", "NO:ORGNR:974760673"),
        tenant("urn:oid:2.16.578.1.12.4.1.4.101", "983044778"),
        json!([
            attestation(&p),
            tenant("urn:oid:1.0.6523", "NO:ORGNR:974760673:983044778")
        ]),
    ] {
        let r = e.token(
            &[
                ("grant_type", "client_credentials"),
                ("scope", "nhn:phr/mhd/read-documentreferences"),
            ],
            Some(details),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

#[test]
fn pjd_search_as_nhn_clients_send_it() {
    // NorskHelsenett/Pasientens-journaldokumenter, .NET/PatientHealthRecordsEPJ/.../appsettings.json
    // (path /R4/fhir/documentreference/_search), Controllers/DocumentsController.cs
    // (patient.identifier = the bare number) and ApiCaller.cs (a DPoP proof without a nonce).
    let e = start_with(None, false);
    let p = e.patients[0].clone();
    let token = e.cc_token(&p, "nhn:phr/mhd/read-documentreferences");
    for (path, value, form) in [
        ("/R4/fhir/documentreference/_search", p.clone(), "number"),
        (
            "/R4/fhir/DocumentReference/_search",
            format!("urn:oid:2.16.578.1.12.4.1.4.1|{p}"),
            "token",
        ),
    ] {
        let url = format!("{}{path}", e.base);
        let r = call(
            ureq::post(&url)
                .set("Authorization", &format!("DPoP {token}"))
                .set("DPoP", &e.proof("POST", &url, Some(&token), None))
                .set("nhn-event-id", &jti())
                .send_form(&[("patient.identifier", &value), ("status", "current")]),
        );
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(!r.json()["entry"].as_array().unwrap().is_empty());
        // The shapes the reference EHR reads (Views/Documents/Index.cshtml): the institution by
        // the contained Organization's type coding (bare org-number OID), the author's given and
        // family names, masterIdentifier split at '^'.
        let doc = &r.json()["entry"][0]["resource"];
        let org = doc["contained"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["resourceType"] == "Organization")
            .unwrap()
            .clone();
        assert_eq!(
            org["type"][0]["coding"][0]["system"],
            "2.16.578.1.12.4.1.4.101"
        );
        assert!(org["name"].is_string());
        let aut = doc["contained"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["resourceType"] == "Practitioner")
            .unwrap()
            .clone();
        assert!(aut["name"][0]["family"].is_string() && aut["name"][0]["given"].is_array());
        assert_eq!(
            doc["masterIdentifier"]["value"]
                .as_str()
                .unwrap()
                .split('^')
                .count(),
            2
        );
        let log = call(ureq::get(&format!("{}/_emulator/log", e.base)).call()).json();
        let last = log.as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["patient_form"], form);
        assert_eq!(last["patient"], p.as_str());
    }
    // A token form with another system is refused.
    let url = format!("{}/R4/fhir/documentreference/_search", e.base);
    let r = call(
        ureq::post(&url)
            .set("Authorization", &format!("DPoP {token}"))
            .set("DPoP", &e.proof("POST", &url, Some(&token), None))
            .send_form(&[("patient.identifier", &format!("urn:oid:1.2.3|{p}"))]),
    );
    assert_eq!(r.status, 400);
    // The `nonce` fault makes the resource demand one.
    let r = call(
        ureq::post(&url)
            .set("Authorization", &format!("DPoP {token}"))
            .set("DPoP", &e.proof("POST", &url, Some(&token), None))
            .set("x-emulator-fault", "nonce")
            .send_form(&[("patient.identifier", &p)]),
    );
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("use_dpop_nonce"));
}

#[test]
fn par_body_request_object_typ_and_offline_access() {
    // NorskHelsenett/Pasientens-journaldokumenter, .NET/PatientHealthRecordsEPJ/.../Controllers/
    // HomeController.cs: the PAR body repeats scope, redirect_uri, response_type, PKCE and state
    // (GetParametersForPushedAuthorizationRequest) and the request object's typ is
    // client-authentication+jwt (BuildHelseIdJwt).
    let e = start(None);
    let challenge = tillit::jose::sha256_b64u(b"v");
    let par = |typ: assertion::RequestObjectTyp, scope: &str, body_state: &str| {
        push(
            &e,
            PushParams {
                typ,
                scope,
                challenge: &challenge,
                body: &[
                    ("scope", scope),
                    ("redirect_uri", "http://127.0.0.1/cb"),
                    ("response_type", "code"),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                    ("state", body_state),
                ],
                ..PushParams::default()
            },
        )
    };
    for typ in [
        assertion::RequestObjectTyp::Nhn,
        assertion::RequestObjectTyp::Rfc9101,
    ] {
        let r = par(typ, "openid offline_access", "st");
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = par(assertion::RequestObjectTyp::Nhn, "openid", "other");
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("state in the PAR body differs"),
        "{}",
        r.body
    );
    // Without offline_access HelseID issues no refresh token.
    let r = par(
        assertion::RequestObjectTyp::Nhn,
        "openid nhn:phr/mhd/read-documentreferences",
        "st",
    );
    let code = authorize_code(&e, &r);
    let r = redeem(&e, &code, "v", None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json().get("refresh_token").is_none());
}

fn user_token(e: &Emu, resources: &[String], resource: Option<&str>) -> Resp {
    let verifier = "verifier-0123456789-0123456789-0123456789-abc";
    let challenge = tillit::jose::sha256_b64u(verifier.as_bytes());
    let r = push(
        e,
        PushParams {
            scope:
                "openid offline_access nhn:phr/mhd/read-documentreferences/kjernejournalforskriften",
            challenge: &challenge,
            resources,
            ..PushParams::default()
        },
    );
    let code = authorize_code(e, &r);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1/cb"),
        ("code_verifier", verifier),
    ];
    if let Some(r) = resource {
        form.push(("resource", r));
    }
    // The reference EHR's narrow attestation: the patient comes with each request.
    e.token(&form, Some(nhn_fixture("pjd-reference-ehr")))
}

#[test]
fn status_blocked_patient_and_raised_access_basis() {
    // PJD's status call and access bases as NHN's developer portal lists them
    // (see docs/nhn-conformance.md); the search path and number form of NorskHelsenett/
    // Pasientens-journaldokumenter, Controllers/DocumentsController.cs.
    let e = start_with(None, false);
    let st = call(ureq::get(&format!("{}/_emulator/status-patients", e.base)).call()).json();
    let listed = call(ureq::get(&format!("{}/_emulator/patients", e.base)).call()).json();
    let blocked = st["blocked"].as_str().unwrap().to_string();
    assert!(
        !listed.as_array().unwrap().iter().any(|p| *p == blocked),
        "status patients are not listed"
    );
    let r = user_token(&e, &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    let at = r.json()["access_token"].as_str().unwrap().to_string();
    let post = |path: &str, basis: Option<&str>, body: Result<String, (&str, &str)>| {
        let url = format!("{}{path}", e.base);
        let mut req = ureq::post(&url)
            .set("Authorization", &format!("DPoP {at}"))
            .set("DPoP", &e.proof("POST", &url, Some(&at), None));
        if let Some(b) = basis {
            req = req.set("nhn-access-basis", b);
        }
        call(match body {
            Ok(json) => req
                .set("Content-Type", "application/json")
                .send_string(&json),
            Err(pair) => req.send_form(&[pair, ("status", "current")]),
        })
    };
    for (which, field) in [
        ("reserved", "hasReservationKjernejournal"),
        ("restricted", "isRestricted"),
        ("blocked", "isBlocked"),
    ] {
        let nin = st[which].as_str().unwrap();
        let r = post(
            "/status",
            Some("UNNTAK"),
            Ok(json!({ "nin": nin }).to_string()),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let ps = &r.json()["privacySetting"];
        for f in ["hasReservationKjernejournal", "isRestricted", "isBlocked"] {
            assert_eq!(ps[f], f == field, "{which}.{f}");
        }
        assert_eq!(r.json()["isHprNumberBlocked"], false);
    }
    // The status call wants UNNTAK.
    let r = post(
        "/status",
        Some("AKUTT"),
        Ok(json!({ "nin": blocked }).to_string()),
    );
    assert_eq!(r.status, 400);
    // The blocked patient's documents: refused unless a raised basis is sent.
    let path = "/R4/fhir/documentreference/_search";
    let r = post(path, Some("AKUTT"), Err(("patient.identifier", &blocked)));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("raised access basis"));
    for raised in ["FORHOYET_AKUTT", "FORHOYET_SAMTYKKE"] {
        let r = post(path, Some(raised), Err(("patient.identifier", &blocked)));
        assert_eq!(r.status, 200, "{raised}: {}", r.body);
    }
    // The reference EHR's lower-case spelling is read too.
    let restricted = st["restricted"].as_str().unwrap().to_string();
    let r = post(
        path,
        Some("akutt"),
        Err(("patient.identifier", &restricted)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(
        path,
        Some("HASTER"),
        Err(("patient.identifier", &restricted)),
    );
    assert_eq!(r.status, 403);
}

#[test]
fn one_single_audience_token_per_api() {
    // RFC 8707 as HelseID's documentation describes it for clients of several APIs
    // (NorskHelsenett/Pasientens-journaldokumenter, .NET/NativeClients/SimpleResourceIndicatorsDemo).
    let e = start_with(None, false);
    let apis = vec!["nhn:phr".to_string(), "nhn:kjernejournal".to_string()];
    let r = user_token(&e, &apis, Some("nhn:phr"));
    assert_eq!(r.status, 200, "{}", r.body);
    let aud = |t: &str| tillit::jose::parse_compact(t, "t").unwrap().claims["aud"].clone();
    assert_eq!(aud(r.json()["access_token"].as_str().unwrap()), "nhn:phr");
    let rt = r.json()["refresh_token"].as_str().unwrap().to_string();
    let r = e.token(
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("resource", "nhn:kjernejournal"),
        ],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let kj = r.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(aud(&kj), "nhn:kjernejournal");
    // The document list refuses the other API's token.
    let url = format!("{}/R4/fhir/documentreference/_search", e.base);
    let r = call(
        ureq::post(&url)
            .set("Authorization", &format!("DPoP {kj}"))
            .set("DPoP", &e.proof("POST", &url, Some(&kj), None))
            .send_form(&[("patient.identifier", &e.patients[0])]),
    );
    assert_eq!(r.status, 401);
    assert!(r.body.contains("audience"));
    // An API the login did not ask for.
    let r = user_token(&e, &apis[..1], Some("nhn:kjernejournal"));
    assert_eq!(r.json()["error"], "invalid_target", "{}", r.body);
}

#[test]
fn the_collector_is_an_api_for_its_own_scopes_only() {
    // RFC 8707: the organisation's collector is named by its resource, `tillit:collector`
    // (collector/src/auth.rs AUDIENCE); a token for it carries only the collector's scopes.
    let e = start_with(None, false);
    let aud = |t: &str| tillit::jose::parse_compact(t, "t").unwrap().claims["aud"].clone();
    let r = e.token(
        &[
            ("grant_type", "client_credentials"),
            ("scope", "tillit:collector/log-control"),
            ("resource", "tillit:collector"),
        ],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        aud(r.json()["access_token"].as_str().unwrap()),
        "tillit:collector"
    );
    let r = e.token(
        &[
            ("grant_type", "client_credentials"),
            ("scope", "nhn:phr/mhd/read-document"),
            ("resource", "tillit:collector"),
        ],
        None,
    );
    assert_eq!(r.json()["error"], "invalid_target", "{}", r.body);
}
