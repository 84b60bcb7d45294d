//! tillit-emulator: HelseID, the document list (IHE MHD ITI-67) and a document source
//! (ITI-68) as a consumer sees them, on loopback, strict where NHN is strict.
//!
//! Faults for reliability tests come from `--fault MODE` or, per request, the test-only
//! header `x-emulator-fault`: `latency=MS`, `500`, `503`, `truncated`, `malformed`,
//! `nonce` (a new nonce on every request), `expired-token`, `leak-patient`, `leak-type`, and
//! the retrieval and paging faults of [`faults`].

pub mod collector;
pub mod data;
pub mod faults;
pub mod verify;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use data::World;
use p256::ecdsa::signature::Signer as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tillit::jose::{b64u, compact, sha256_b64u, signing_input};
use tillit::trust::{
    Grant, TenantOrganisation, TrustContext, TYPE_HELSEID_AUTHORIZATION, TYPE_TRUST_FRAMEWORK,
};
use verify::{refuse, Refusal, Replay};

/// The resource (audience) of the document API.
pub const AUD_PJD: &str = "nhn:phr";
/// A second API's audience, for tokens per API (RFC 8707): the core record (kjernejournal).
pub const AUD_KJ: &str = "nhn:kjernejournal";
/// Scopes of the document API.
pub const SCOPE_SEARCH: &str = "nhn:phr/mhd/read-documentreferences";
/// Search under kjernejournalforskriften (needs `nhn-access-basis`).
pub const SCOPE_SEARCH_KJ: &str = "nhn:phr/mhd/read-documentreferences/kjernejournalforskriften";
/// Retrieval.
pub const SCOPE_READ: &str = "nhn:phr/mhd/read-document";

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A registered client.
#[derive(Clone, Debug)]
pub struct Client {
    /// client_id.
    pub id: String,
    /// Public JWKs.
    pub keys: Vec<Value>,
    /// Scopes it may ask for.
    pub scopes: Vec<String>,
}

/// A test user the authorize endpoint logs in.
#[derive(Clone, Debug)]
pub struct User {
    /// Login hint.
    pub id: String,
    /// National id.
    pub pid: String,
    /// HPR number.
    pub hpr: Option<String>,
    /// Name.
    pub name: String,
    /// `practitioner` or `citizen`.
    pub citizen: bool,
    /// Ids of the users this citizen may act for (a parent for a child): `represents`.
    pub represents: Vec<String>,
}

/// Emulator configuration (from the JSON config file).
#[derive(Clone, Debug)]
pub struct Config {
    /// Registered clients.
    pub clients: Vec<Client>,
    /// Test users.
    pub users: Vec<User>,
    /// Seed of the synthetic world.
    pub seed: u64,
    /// Generated patients beyond the config's citizens.
    pub patients: usize,
    /// Documents of the last generated patient (benchmarks); 0 for the usual mix.
    pub big: usize,
    /// Fault applied to every request.
    pub fault: Option<String>,
    /// Seconds between nonce rotations.
    pub nonce_secs: u64,
    /// Access-token lifetime, seconds.
    pub token_secs: u64,
    /// Whether the document list and source demand a DPoP nonce. PJD does not: NHN's clients
    /// send none to it (NorskHelsenett/Pasientens-journaldokumenter, ApiCaller.cs builds the
    /// proof without one). Off by default; config `"resource_nonce": true`, or the `nonce`
    /// fault, turns it on.
    pub resource_nonce: bool,
}

impl Config {
    /// Reads the config JSON: `{ clients: [{ client_id, jwks: { keys }, scopes }], users: [...] }`.
    pub fn from_json(v: &Value) -> Result<Config, String> {
        let clients = v["clients"]
            .as_array()
            .ok_or("config: clients must be an array")?
            .iter()
            .map(|c| {
                Ok(Client {
                    id: c["client_id"]
                        .as_str()
                        .ok_or("config: client_id")?
                        .to_string(),
                    keys: c["jwks"]["keys"]
                        .as_array()
                        .ok_or("config: jwks.keys")?
                        .clone(),
                    scopes: c["scopes"]
                        .as_array()
                        .map(|s| {
                            s.iter()
                                .filter_map(|x| x.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, &str>>()?;
        let users = v["users"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|u| User {
                        id: u["id"].as_str().unwrap_or_default().to_string(),
                        pid: u["pid"].as_str().unwrap_or_default().to_string(),
                        hpr: u["hpr"].as_str().map(String::from),
                        name: u["name"].as_str().unwrap_or_default().to_string(),
                        citizen: u["kind"].as_str() == Some("citizen"),
                        represents: u["represents"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|x| x.as_str().map(String::from))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Config {
            clients,
            users,
            seed: 1,
            patients: 5,
            big: 0,
            fault: None,
            nonce_secs: 60,
            token_secs: 300,
            resource_nonce: v["resource_nonce"].as_bool().unwrap_or(false),
        })
    }
}

/// What a successful grant yields: the user, the scope, the attestation, the session to refresh.
type Granted = (Option<User>, String, Option<Value>, Option<Session>);

struct Session {
    client_id: String,
    user: Option<User>,
    scope: String,
    /// The attestation the PAR request object carried, if any.
    par_details: Option<Value>,
    redirect_uri: String,
    code_challenge: String,
    /// The APIs (RFC 8707 `resource`) the login asked for; a token names one of them.
    resources: Vec<String>,
}

#[derive(Clone)]
struct TokenInfo {
    claims: Value,
}

struct Mutable {
    replay_assertions: Replay,
    replay_proofs: Replay,
    par: HashMap<String, Session>,
    codes: HashMap<String, (Session, u64)>,
    refresh: HashMap<String, Session>,
    tokens: HashMap<String, TokenInfo>,
    nonce_as: Vec<String>,
    nonce_rs: Vec<String>,
    nonce_at: u64,
    counter: u64,
    /// The source's own log: the latest [`LOG_LIMIT`] requests, and how many older ones were
    /// let go (a long load run must not grow the emulator without bound).
    log: std::collections::VecDeque<Value>,
    log_dropped: u64,
    /// The token count after which expired tokens are next let go.
    tokens_prune_at: usize,
}

/// Requests the emulator's own log keeps.
pub const LOG_LIMIT: usize = 10_000;

/// Appends to a bounded log: past `limit` entries the oldest is let go and counted.
fn push_bounded(
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
    config: Config,
    world: World,
    signing: p256::ecdsa::SigningKey,
    kid: String,
    m: Mutex<Mutable>,
    /// Search entries already written as JSON, per document id, for one base URL: the world
    /// does not change, so a page is assembled from these instead of serialised anew.
    entries: Mutex<(String, HashMap<String, Arc<str>>)>,
}

type Shared = Arc<Emulator>;

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
    fn entry_json(&self, d: &data::Doc, base: &str) -> Arc<str> {
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

fn own_jwk(k: &p256::ecdsa::SigningKey) -> Value {
    let p = k.verifying_key().to_encoded_point(false);
    json!({ "kty": "EC", "crv": "P-256", "x": b64u(p.x().expect("x")), "y": b64u(p.y().expect("y")) })
}

impl Mutable {
    fn random(&mut self, what: &str) -> String {
        self.counter += 1;
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b64u(&Sha256::digest(format!("{what}-{}-{t}", self.counter).as_bytes())[..18])
    }

    fn rotate(&mut self, every: u64, force: bool) {
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

/// The router for `base` (the URL clients use, e.g. `http://127.0.0.1:8080`).
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/connect/par", post(par))
        .route("/connect/authorize", get(authorize))
        .route("/connect/token", post(token))
        .route("/R4/fhir/DocumentReference/_search", post(search))
        // The path PJD's own clients use (NorskHelsenett/Pasientens-journaldokumenter,
        // .NET/PatientHealthRecordsEPJ/.../appsettings.json).
        .route("/R4/fhir/documentreference/_search", post(search))
        .route("/R4/fhir/DocumentReference", get(search))
        .route("/mhd/document", get(retrieve))
        .route("/mhd/iti68/document", get(retrieve))
        .route("/_emulator/log", get(emulator_log))
        .route("/_emulator/patients", get(emulator_patients))
        .route("/_emulator/status-patients", get(emulator_status_patients))
        // PJD's patient status (privacy settings), as its API documents it.
        .route("/status", post(patient_status))
        .merge(collector::routes())
        .layer(axum::middleware::from_fn(cors))
        .with_state(state)
}

/// CORS for browser clients on loopback pages (the demo and the e2e tests): preflights are
/// answered, and the headers a DPoP client must read are exposed.
async fn cors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let origin = req.headers().get("origin").cloned();
    let preflight = req.method() == Method::OPTIONS;
    let mut r = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    if let Some(o) = origin {
        let h = r.headers_mut();
        h.insert("access-control-allow-origin", o);
        h.insert("vary", HeaderValue::from_static("origin"));
        h.insert(
            "access-control-allow-methods",
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            "access-control-allow-headers",
            HeaderValue::from_static("authorization, dpop, content-type, accept, nhn-event-id, nhn-source-system, nhn-patient-nin, nhn-access-basis, x-emulator-fault"),
        );
        h.insert(
            "access-control-expose-headers",
            HeaderValue::from_static(
                "dpop-nonce, www-authenticate, retry-after, nhn-securitylabel-nors-count, location",
            ),
        );
    }
    r
}

fn base(headers: &HeaderMap) -> String {
    format!(
        "http://{}",
        headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1")
    )
}

fn fault(s: &Emulator, headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-emulator-fault")
        .and_then(|h| h.to_str().ok())
        .map(String::from)
        .or_else(|| s.config.fault.clone())
}

/// A searchset entry for document `d`.
fn entry_value(world: &World, d: &data::Doc, base: &str) -> Value {
    json!({ "fullUrl": format!("{base}/R4/fhir/DocumentReference/{}", d.id), "resource": world.document_reference(d, base), "search": { "mode": "match" } })
}

fn json_response(status: StatusCode, body: &Value, extra: &[(&'static str, String)]) -> Response {
    let mut r = (status, serde_json::to_string(body).unwrap_or_default()).into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    for (k, v) in extra {
        if let Ok(v) = HeaderValue::from_str(v) {
            r.headers_mut().insert(*k, v);
        }
    }
    r
}

fn oauth_error(r: &Refusal, status: StatusCode, nonce: Option<&str>) -> Response {
    let mut extra = vec![("cache-control", "no-store".to_string())];
    if let Some(n) = nonce {
        extra.push(("dpop-nonce", n.to_string()));
    }
    json_response(
        status,
        &json!({ "error": r.error, "error_description": r.description }),
        &extra,
    )
}

/// Applies the fault modes that act before the handler; `Some` replaces the response.
async fn pre_fault(f: Option<&str>) -> Option<Response> {
    match f? {
        f if f.starts_with("latency=") => {
            let ms: u64 = f["latency=".len()..].parse().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms.min(120_000))).await;
            None
        }
        "500" => Some(json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception", "diagnostics": "emulated failure"}]}),
            &[],
        )),
        "503" => Some(json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "transient", "diagnostics": "emulated overload"}]}),
            &[("retry-after", "1".into())],
        )),
        _ => None,
    }
}

/// Applies the fault modes that damage a successful body.
fn post_fault(f: Option<&str>, mut r: Response, body: String) -> Response {
    let body = match f {
        Some("truncated") => body[..body.len() / 2].to_string(),
        Some("malformed") => format!(
            "{{\"resourceType\": \"Bundle\", {}",
            &body[1..body.len() / 3]
        ),
        _ => body,
    };
    *r.body_mut() = axum::body::Body::from(body);
    r.headers_mut().remove("content-length");
    r
}

async fn discovery(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let b = base(&headers);
    let _ = &s;
    json_response(
        StatusCode::OK,
        &json!({
            "issuer": b,
            "jwks_uri": format!("{b}/jwks"),
            "authorization_endpoint": format!("{b}/connect/authorize"),
            "token_endpoint": format!("{b}/connect/token"),
            "pushed_authorization_request_endpoint": format!("{b}/connect/par"),
            "require_pushed_authorization_requests": true,
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            // HelseID's production discovery lists ES384 too (NorskHelsenett/HelseID.Library,
            // HelseId.Library.Tests/Services/Endpoints/DiscoveryDocumentGetterTests.cs).
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256", "ES384"],
            "request_object_signing_alg_values_supported": ["RS256", "PS256", "ES256", "ES384"],
            "dpop_signing_alg_values_supported": ["RS256", "PS256", "ES256", "ES384"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_details_types_supported": [TYPE_TRUST_FRAMEWORK, TYPE_HELSEID_AUTHORIZATION],
            "response_types_supported": ["code"],
            "scopes_supported": ["openid", "profile", "helseid://scopes/identity/pid", SCOPE_SEARCH, SCOPE_SEARCH_KJ, SCOPE_READ, collector::SCOPE_AUDIT_WRITE, collector::SCOPE_LOG_CONTROL]
        }),
        &[],
    )
}

async fn jwks(State(s): State<Shared>) -> Response {
    let mut k = own_jwk(&s.signing);
    k["kid"] = json!(s.kid);
    k["alg"] = json!("ES256");
    k["use"] = json!("sig");
    json_response(StatusCode::OK, &json!({ "keys": [k] }), &[])
}

fn form(body: &Bytes) -> HashMap<String, String> {
    url_decode_pairs(std::str::from_utf8(body).unwrap_or(""))
}

fn url_decode_pairs(s: &str) -> HashMap<String, String> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                if let Ok(v) =
                    u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    out.push(v);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Authenticates the client by its assertion; returns the client and the assertion claims.
fn authenticate(
    s: &Emulator,
    m: &mut Mutable,
    f: &HashMap<String, String>,
    issuer: &str,
) -> Result<(Client, Value), Refusal> {
    if f.get("client_assertion_type").map(String::as_str)
        != Some(tillit::assertion::CLIENT_ASSERTION_TYPE)
    {
        return Err(refuse(
            "invalid_client",
            "client_assertion_type must be jwt-bearer: only private_key_jwt is accepted",
        ));
    }
    let jwt = f
        .get("client_assertion")
        .ok_or_else(|| refuse("invalid_client", "client_assertion is required"))?;
    let iss = tillit::jose::parse_compact(jwt, "a")
        .ok()
        .and_then(|p| {
            p.claims
                .get("iss")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .unwrap_or_default();
    let client_id = f.get("client_id").cloned().unwrap_or(iss);
    let client = s
        .config
        .clients
        .iter()
        .find(|c| c.id == client_id)
        .cloned()
        .ok_or_else(|| refuse("invalid_client", "unknown client"))?;
    let v = verify::client_jwt(
        jwt,
        "client-authentication+jwt",
        &client.keys,
        &client.id,
        issuer,
        now(),
        &mut m.replay_assertions,
        true,
    )?;
    Ok((client, v.claims))
}

/// HelseID takes the user from the login: an attestation without `practitioner.identifier`
/// (the narrow one NHN's clients send; NorskHelsenett/Pasientens-journaldokumenter,
/// `.NET/PatientHealthRecordsEPJ/.../Controllers/HomeController.cs`) gets the logged-in user's
/// number in the token, as HelseID fills in what it knows itself. One that names a user must
/// name this one.
fn bind_user(att: &mut Value, user: &User, what: &str) -> Result<(), Refusal> {
    match att
        .pointer("/practitioner/identifier/id")
        .and_then(Value::as_str)
    {
        Some(id) if id == user.pid => Ok(()),
        Some(_) => Err(refuse(
            "invalid_request",
            format!("{what}: practitioner.identifier does not match the logged-in user"),
        )),
        None => {
            let system = tillit::ident::NationalId::parse(&user.pid, "pid")
                .map(|n| n.system())
                .unwrap_or(tillit::ident::SYSTEM_FNR);
            if let Some(p) = att.get_mut("practitioner").and_then(Value::as_object_mut) {
                let mut m = serde_json::Map::new();
                m.insert(
                    "identifier".into(),
                    json!({ "id": user.pid, "system": system }),
                );
                m.extend(std::mem::take(p));
                *p = m;
            }
            Ok(())
        }
    }
}

/// Validates `authorization_details`/`assertion_details` (one object, or an array of them as
/// HelseID.Library sends when there are several types): the attestation and tenant entries.
/// An attestation that leaves the user to the login is refused where `grant` has no login.
fn check_details(
    details: &Value,
    user: Option<&User>,
    what: &str,
    grant: Grant,
) -> Result<Option<Value>, Refusal> {
    let items: Vec<&Value> = match details {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![details],
        _ => {
            return Err(refuse(
                "invalid_request",
                format!("{what} must be an object or an array"),
            ))
        }
    };
    let mut attestation = None;
    for it in items {
        match it.get("type").and_then(Value::as_str) {
            Some(TYPE_TRUST_FRAMEWORK) => {
                let rule = |e: tillit::error::Error| {
                    refuse(
                        "invalid_request",
                        format!(
                            "{what}: {} at {}: {}",
                            e.code().as_str(),
                            e.path(),
                            e.rule()
                        ),
                    )
                };
                let tc = TrustContext::from_json(it).map_err(rule)?;
                tc.check_grant(grant).map_err(rule)?;
                tc.check_fresh(now(), verify::SKEW)
                    .map_err(|e| refuse("invalid_request", format!("{what}: {}", e.rule())))?;
                if tc.attestation().is_none() {
                    return Err(refuse(
                        "invalid_request",
                        format!("{what}: not an attestation"),
                    ));
                }
                let mut a = tc.to_json();
                if let Some(u) = user {
                    bind_user(&mut a, u, what)?;
                }
                attestation = Some(a);
            }
            Some(TYPE_HELSEID_AUTHORIZATION) => {
                TenantOrganisation::from_json(it).map_err(|e| {
                    refuse(
                        "invalid_request",
                        format!("{what}: {} at {}", e.rule(), e.path()),
                    )
                })?;
            }
            _ => return Err(refuse("invalid_request", format!("{what}: unknown type"))),
        }
    }
    Ok(attestation)
}

/// One line of the source's own access log.
#[derive(Default)]
struct Seen<'a> {
    endpoint: &'a str,
    client: Option<&'a str>,
    user: Option<&'a str>,
    attestation: Option<&'a Value>,
    patient: Option<&'a str>,
    /// How the search named the patient: `number` (NHN's clients) or `token` (`system|value`).
    patient_form: Option<&'a str>,
    document: Option<&'a str>,
    event_id: Option<&'a str>,
    status: u16,
}

fn log_event(m: &mut Mutable, e: Seen<'_>) {
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

async fn par(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = pre_fault(fault(&s, &headers).as_deref()).await {
        return r;
    }
    let issuer = base(&headers);
    let f = form(&body);
    let mut m = s.m.lock().expect("lock");
    let (client, _) = match authenticate(&s, &mut m, &f, &issuer) {
        Ok(x) => x,
        Err(r) => return oauth_error(&r, StatusCode::UNAUTHORIZED, None),
    };
    let Some(request) = f.get("request") else {
        return oauth_error(
            &refuse(
                "invalid_request",
                "a signed request object (request) is required",
            ),
            StatusCode::BAD_REQUEST,
            None,
        );
    };
    // The request object's typ: client-authentication+jwt as NHN's code sets it
    // (Pasientens-journaldokumenter HomeController.cs BuildHelseIdJwt), or RFC 9101's
    // oauth-authz-req+jwt; anything else is refused.
    let typ = match request
        .split('.')
        .next()
        .and_then(|h| tillit::jose::b64u_decode(h, "request").ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|h| h.get("typ").and_then(Value::as_str).map(String::from))
    {
        Some(t) if t == "oauth-authz-req+jwt" => "oauth-authz-req+jwt",
        _ => "client-authentication+jwt",
    };
    let ro = match verify::client_jwt(
        request,
        typ,
        &client.keys,
        &client.id,
        &issuer,
        now(),
        &mut m.replay_assertions,
        false,
    ) {
        Ok(v) => v.claims,
        Err(r) => return oauth_error(&r, StatusCode::BAD_REQUEST, None),
    };
    if ro.get("client_id").and_then(Value::as_str) != Some(client.id.as_str()) {
        return oauth_error(
            &refuse("invalid_request_object", "client_id must be the client"),
            StatusCode::BAD_REQUEST,
            None,
        );
    }
    // NHN's reference EHR repeats the authorisation parameters beside the request object
    // (Pasientens-journaldokumenter HomeController.cs, GetParametersForPushedAuthorizationRequest):
    // each one sent must say what the signed request object says.
    for k in [
        "scope",
        "redirect_uri",
        "response_type",
        "code_challenge",
        "code_challenge_method",
        "state",
    ] {
        if let Some(v) = f.get(k) {
            if ro.get(k).and_then(Value::as_str) != Some(v.as_str()) {
                return oauth_error(
                    &refuse(
                        "invalid_request",
                        format!("{k} in the PAR body differs from the request object"),
                    ),
                    StatusCode::BAD_REQUEST,
                    None,
                );
            }
        }
    }
    let par_details = match ro.get("authorization_details") {
        Some(d) => {
            match check_details(d, None, "authorization_details", Grant::AuthorizationCode) {
                Ok(a) => a,
                Err(r) => return oauth_error(&r, StatusCode::BAD_REQUEST, None),
            }
        }
        None => None,
    };
    let (Some(redirect_uri), Some(challenge)) = (
        ro.get("redirect_uri").and_then(Value::as_str),
        ro.get("code_challenge").and_then(Value::as_str),
    ) else {
        return oauth_error(
            &refuse(
                "invalid_request",
                "redirect_uri and code_challenge are required",
            ),
            StatusCode::BAD_REQUEST,
            None,
        );
    };
    if ro.get("code_challenge_method").and_then(Value::as_str) != Some("S256") {
        return oauth_error(
            &refuse("invalid_request", "code_challenge_method must be S256"),
            StatusCode::BAD_REQUEST,
            None,
        );
    }
    let uri = format!("urn:ietf:params:oauth:request_uri:{}", m.random("par"));
    let state = ro
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    m.par.insert(
        uri.clone(),
        Session {
            client_id: client.id.clone(),
            user: None,
            scope: ro
                .get("scope")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            par_details,
            redirect_uri: format!("{redirect_uri}\u{0}{state}"),
            code_challenge: challenge.to_string(),
            resources: match ro.get("resource") {
                Some(Value::String(r)) => vec![r.clone()],
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect(),
                _ => Vec::new(),
            },
        },
    );
    log_event(
        &mut m,
        Seen {
            endpoint: "par",
            client: Some(&client.id),
            status: 201,
            ..Seen::default()
        },
    );
    json_response(
        StatusCode::CREATED,
        &json!({ "request_uri": uri, "expires_in": 60 }),
        &[],
    )
}

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut m = s.m.lock().expect("lock");
    let Some(uri) = q.get("request_uri") else {
        return (
            StatusCode::BAD_REQUEST,
            "request_uri is required (PAR only)",
        )
            .into_response();
    };
    let Some(mut session) = m.par.remove(uri) else {
        return (StatusCode::BAD_REQUEST, "unknown or used request_uri").into_response();
    };
    if q.get("client_id") != Some(&session.client_id) {
        return (
            StatusCode::BAD_REQUEST,
            "client_id does not match the pushed request",
        )
            .into_response();
    }
    let hint = q.get("login_hint").cloned();
    let user = s
        .config
        .users
        .iter()
        .find(|u| hint.as_deref().map_or(!u.citizen, |h| u.id == h))
        .cloned();
    let Some(user) = user else {
        return (StatusCode::BAD_REQUEST, "no such test user").into_response();
    };
    if let Some(att) = session.par_details.as_mut() {
        if let Err(r) = bind_user(att, &user, "authorization_details") {
            return (StatusCode::BAD_REQUEST, r.description).into_response();
        }
    }
    let (redirect, state) = session
        .redirect_uri
        .split_once('\u{0}')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap_or_default();
    session.redirect_uri = redirect.clone();
    session.user = Some(user);
    let code = m.random("code");
    m.codes.insert(code.clone(), (session, now() + 60));
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let location = format!(
        "{redirect}{sep}code={code}&state={}&iss={}",
        urlencode(&state),
        urlencode(&q.get("iss").cloned().unwrap_or_default())
    );
    let mut r = StatusCode::FOUND.into_response();
    r.headers_mut().insert(
        "location",
        HeaderValue::from_str(&location).unwrap_or(HeaderValue::from_static("/")),
    );
    r
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)] // the token's parts, each a claim; a struct would only rename them
fn issue(
    s: &Emulator,
    m: &mut Mutable,
    issuer: &str,
    client: &str,
    user: Option<&User>,
    scope: &str,
    attestation: Option<&Value>,
    jkt: &str,
    aud: &str,
) -> (String, u64) {
    let n = now();
    let mut c = json!({
        // A token for the collector has the collector as its audience; others the API asked for.
        "iss": issuer, "aud": if collector::audience_for(scope) == collector::AUD_COLLECTOR { collector::AUD_COLLECTOR } else { aud }, "client_id": client, "scope": scope, "iat": n, "nbf": n,
        "exp": n + s.config.token_secs, "jti": m.random("jti"), "cnf": { "jkt": jkt },
        "helseid://claims/client/claims/orgnr_parent": s.world.orgs[0].orgnr,
    });
    if let Some(u) = user {
        c["sub"] = json!(b64u(&Sha256::digest(u.pid.as_bytes())[..16]));
        c["helseid://claims/identity/pid"] = json!(u.pid);
        c["helseid://claims/identity/security_level"] = json!("4");
        c["name"] = json!(u.name);
        if let Some(h) = &u.hpr {
            c["helseid://claims/hpr/hpr_number"] = json!(h);
        }
    }
    if let Some(a) = attestation {
        c["nhn:tillitsrammeverk:parameters"] = a.clone();
    }
    let header = json!({ "alg": "ES256", "typ": "at+jwt", "kid": s.kid });
    let si = signing_input(&header, &c);
    let sig: p256::ecdsa::Signature = s.signing.sign(si.as_bytes());
    let token = compact(&si, &sig.to_bytes());
    m.tokens.insert(token.clone(), TokenInfo { claims: c });
    // Tokens that expired over an hour ago (until then they are refused as expired, not as
    // unknown) are let go once the map has doubled since the last time: amortised, and a
    // long load run does not grow the emulator without bound.
    if m.tokens.len() >= m.tokens_prune_at {
        let t = now();
        m.tokens
            .retain(|_, i| i.claims["exp"].as_u64().is_some_and(|exp| exp + 3600 > t));
        m.tokens_prune_at = (2 * m.tokens.len()).max(1024);
    }
    (token, s.config.token_secs)
}

async fn token(State(s): State<Shared>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    let fl = fault(&s, &headers);
    if let Some(r) = pre_fault(fl.as_deref()).await {
        return r;
    }
    let issuer = base(&headers);
    let f = form(&body);
    let mut m = s.m.lock().expect("lock");
    m.rotate(s.config.nonce_secs, fl.as_deref() == Some("nonce"));
    let nonce = m.nonce_as[0].clone();
    let (client, assertion) = match authenticate(&s, &mut m, &f, &issuer) {
        Ok(x) => x,
        Err(r) => {
            log_event(
                &mut m,
                Seen {
                    endpoint: "token",
                    status: 401,
                    ..Seen::default()
                },
            );
            return oauth_error(&r, StatusCode::UNAUTHORIZED, Some(&nonce));
        }
    };
    let url = format!("{issuer}{}", uri.path());
    let accepted = m.nonce_as.clone();
    let proof = headers.get("dpop").and_then(|h| h.to_str().ok());
    let jkt = match verify::dpop(
        proof,
        "POST",
        &url,
        now(),
        Some(&accepted),
        None,
        &mut |jti, now, until| m.replay_proofs.fresh(jti, now, until),
    ) {
        Ok(p) => p.jkt,
        Err(r) => {
            return refuse_token(&mut m, &client.id, &r, &nonce);
        }
    };
    let grant = f.get("grant_type").map(String::as_str).unwrap_or("");
    let result: Result<Granted, Refusal> = (|| {
        let assertion_details = assertion.get("assertion_details");
        match grant {
            "client_credentials" => {
                let scope = f.get("scope").cloned().unwrap_or_default();
                for sc in scope.split(' ').filter(|x| !x.is_empty()) {
                    if !client.scopes.iter().any(|c| c == sc) {
                        return Err(refuse("invalid_scope", "the client may not ask for this scope"));
                    }
                }
                let att = assertion_details.map(|d| check_details(d, None, "assertion_details", Grant::ClientCredentials)).transpose()?.flatten();
                Ok((None, scope, att, None))
            }
            "authorization_code" => {
                let code = f.get("code").ok_or_else(|| refuse("invalid_request", "code is required"))?;
                let (session, exp) = m.codes.remove(code).ok_or_else(|| refuse("invalid_grant", "unknown or used code"))?;
                if exp < now() || session.client_id != client.id {
                    return Err(refuse("invalid_grant", "the code expired or belongs to another client"));
                }
                if f.get("redirect_uri") != Some(&session.redirect_uri) {
                    return Err(refuse("invalid_grant", "redirect_uri does not match"));
                }
                let verifier = f.get("code_verifier").ok_or_else(|| refuse("invalid_grant", "code_verifier is required"))?;
                if sha256_b64u(verifier.as_bytes()) != session.code_challenge {
                    return Err(refuse("invalid_grant", "PKCE verification failed"));
                }
                finish_user_grant(session, assertion_details, Grant::AuthorizationCode)
            }
            "refresh_token" => {
                let rt = f.get("refresh_token").ok_or_else(|| refuse("invalid_request", "refresh_token is required"))?;
                let session = m.refresh.remove(rt).ok_or_else(|| refuse("invalid_grant", "unknown refresh token"))?;
                if session.client_id != client.id {
                    return Err(refuse("invalid_grant", "the refresh token belongs to another client"));
                }
                finish_user_grant(session, assertion_details, Grant::RefreshToken)
            }
            "urn:ietf:params:oauth:grant-type:token-exchange" => {
                let st = f.get("subject_token").ok_or_else(|| refuse("invalid_request", "subject_token is required"))?;
                if f.get("subject_token_type").map(String::as_str) != Some("urn:ietf:params:oauth:token-type:access_token") {
                    return Err(refuse("invalid_request", "subject_token_type must be an access token"));
                }
                let info = m.tokens.get(st).cloned().ok_or_else(|| refuse("invalid_grant", "unknown subject token"))?;
                if info.claims["exp"].as_u64().unwrap_or(0) < now() {
                    return Err(refuse("invalid_grant", "the subject token has expired"));
                }
                let pid = info.claims.get("helseid://claims/identity/pid").and_then(Value::as_str);
                let user = s.config.users.iter().find(|u| Some(u.pid.as_str()) == pid).cloned();
                let att = match assertion_details {
                    Some(d) => check_details(d, user.as_ref(), "assertion_details", Grant::TokenExchange)?,
                    None => info.claims.get("nhn:tillitsrammeverk:parameters").cloned(),
                };
                Ok((user, f.get("scope").cloned().unwrap_or_else(|| info.claims["scope"].as_str().unwrap_or("").to_string()), att, None))
            }
            _ => Err(refuse("unsupported_grant_type", "grant_type must be authorization_code, refresh_token, client_credentials or token-exchange")),
        }
    })();
    match result {
        Ok((user, scope, att, session)) => {
            // RFC 8707: one API per token. A user grant may name one of the APIs its login
            // asked for (HelseID: one single-audience token per API, by refresh); without
            // `resource` the token is for the document list.
            let aud = match f.get("resource").map(String::as_str) {
                None => AUD_PJD,
                Some(r) => {
                    let asked = session.as_ref().is_none_or(|sess| {
                        sess.resources.is_empty() || sess.resources.iter().any(|x| x == r)
                    });
                    // The organisation's collector is an API too (its audience).
                    match [AUD_PJD, AUD_KJ, collector::AUD_COLLECTOR]
                        .into_iter()
                        .find(|k| *k == r)
                    {
                        Some(k) if asked => k,
                        _ => {
                            let e = refuse(
                                "invalid_target",
                                "resource is not an API this login asked for",
                            );
                            return refuse_token(&mut m, &client.id, &e, &nonce);
                        }
                    }
                }
            };
            let (access, exp) = issue(
                &s,
                &mut m,
                &issuer,
                &client.id,
                user.as_ref(),
                &scope,
                att.as_ref(),
                &jkt,
                aud,
            );
            let mut body = json!({ "access_token": access, "token_type": "DPoP", "expires_in": exp, "scope": scope });
            // HelseID issues a refresh token only for offline_access (NorskHelsenett/
            // kjernejournal-innlogging-klient, helseid/HelseID.kt: "Mangler refresh token, er
            // offline_access med som scope?").
            let offline = |sess: &Session| sess.scope.split(' ').any(|x| x == "offline_access");
            if let Some(sess) = session.filter(offline) {
                let rt = m.random("rt");
                body["refresh_token"] = json!(rt);
                body["rt_expires_in"] = json!(3600);
                m.refresh.insert(rt, sess);
            }
            log_event(
                &mut m,
                Seen {
                    endpoint: "token",
                    client: Some(&client.id),
                    user: user.as_ref().map(|u| u.id.as_str()),
                    attestation: att.as_ref(),
                    status: 200,
                    ..Seen::default()
                },
            );
            json_response(
                StatusCode::OK,
                &body,
                &[("cache-control", "no-store".into()), ("dpop-nonce", nonce)],
            )
        }
        Err(r) => refuse_token(&mut m, &client.id, &r, &nonce),
    }
}

/// A refused token request: logged at the source, answered as an OAuth error with a nonce.
fn refuse_token(m: &mut Mutable, client: &str, r: &Refusal, nonce: &str) -> Response {
    log_event(
        m,
        Seen {
            endpoint: "token",
            client: Some(client),
            status: 400,
            ..Seen::default()
        },
    );
    oauth_error(r, StatusCode::BAD_REQUEST, Some(nonce))
}

/// The end of a user-bound grant: the attestation from the PAR or the assertion, never both.
fn finish_user_grant(
    session: Session,
    assertion_details: Option<&Value>,
    grant: Grant,
) -> Result<Granted, Refusal> {
    let att = match (session.par_details.as_ref(), assertion_details) {
        (Some(_), Some(_)) => return Err(refuse("access_denied", "HID-DOUBLE-STRUCTURE: the attestation was given both in the request object and in the client assertion")),
        (Some(p), None) => Some(p.clone()),
        (None, Some(d)) => check_details(d, session.user.as_ref(), "assertion_details", grant)?,
        (None, None) => None,
    };
    let user = session.user.clone();
    let scope = session.scope.clone();
    Ok((user, scope, att, Some(session)))
}

/// Checks a resource request's DPoP-bound token and proof and its scope: the token's claims
/// and the current resource nonce. The shared state is locked only to read the nonces and
/// the token and to record the proof's `jti`: signature checks run in parallel.
/// What a resource endpoint starts from once the request is let in.
struct Admitted {
    /// The fault mode in force for this request.
    fault: Option<String>,
    /// The base URL the client used.
    base: String,
    /// The access token's claims.
    claims: Value,
    /// The current resource nonce, for the answer's `DPoP-Nonce`.
    nonce: String,
}

/// The common start of the document list and the document source: answers a fault that
/// comes before the work, then checks the token, proof and scope (see [`resource_auth`]).
async fn admit(
    s: &Emulator,
    headers: &HeaderMap,
    method: &str,
    uri: &Uri,
    scope: &str,
) -> Result<Admitted, Box<Response>> {
    let mode = fault(s, headers);
    if let Some(r) = pre_fault(mode.as_deref()).await {
        return Err(Box::new(r));
    }
    let base = base(headers);
    let url = format!("{base}{}", uri.path());
    let (claims, nonce) = resource_auth(s, headers, method, &url, scope, mode.as_deref())?;
    Ok(Admitted {
        fault: mode,
        base,
        claims,
        nonce,
    })
}

fn resource_auth(
    s: &Emulator,
    headers: &HeaderMap,
    method: &str,
    url: &str,
    scope: &str,
    fault: Option<&str>,
) -> Result<(Value, String), Box<Response>> {
    let auth = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let token = auth.strip_prefix("DPoP ");
    let (nonce, accepted, info) = {
        let mut m = s.m.lock().expect("lock");
        m.rotate(s.config.nonce_secs, fault == Some("nonce"));
        let info = token.and_then(|t| m.tokens.get(t).cloned());
        (m.nonce_rs[0].clone(), m.nonce_rs.clone(), info)
    };
    let challenge = |error: &str, desc: &str| {
        let mut r = json_response(
            StatusCode::UNAUTHORIZED,
            &json!({ "error": error, "error_description": desc }),
            &[("dpop-nonce", nonce.clone())],
        );
        let v = format!(
            "DPoP error=\"{error}\", error_description=\"{desc}\", algs=\"ES256 ES384 RS256 PS256\""
        );
        r.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static("DPoP")),
        );
        Box::new(r)
    };
    let Some(token) = token else {
        return Err(challenge(
            "invalid_token",
            "a DPoP-bound access token is required",
        ));
    };
    let info = info.ok_or_else(|| challenge("invalid_token", "unknown token"))?;
    let expired =
        fault == Some("expired-token") || info.claims["exp"].as_u64().unwrap_or(0) < now();
    if expired {
        return Err(challenge("invalid_token", "the access token has expired"));
    }
    if info.claims["aud"].as_str() != Some(AUD_PJD) {
        return Err(challenge(
            "invalid_token",
            "the token's audience is another API (RFC 8707: one token per API)",
        ));
    }
    let demand_nonce = s.config.resource_nonce || fault == Some("nonce");
    let proof = verify::dpop(
        headers.get("dpop").and_then(|h| h.to_str().ok()),
        method,
        url,
        now(),
        demand_nonce.then_some(accepted.as_slice()),
        Some(token),
        &mut |jti, now, until| {
            s.m.lock()
                .expect("lock")
                .replay_proofs
                .fresh(jti, now, until)
        },
    )
    .map_err(|r| challenge(r.error, &r.description))?;
    if info.claims.pointer("/cnf/jkt").and_then(Value::as_str) != Some(proof.jkt.as_str()) {
        return Err(challenge(
            "invalid_token",
            "the proof key does not match the token's cnf.jkt",
        ));
    }
    let scopes: Vec<&str> = info.claims["scope"]
        .as_str()
        .unwrap_or("")
        .split(' ')
        .collect();
    let ok =
        scopes.contains(&scope) || (scope == SCOPE_SEARCH && scopes.contains(&SCOPE_SEARCH_KJ));
    if !ok {
        let mut r = json_response(
            StatusCode::FORBIDDEN,
            &json!({ "error": "insufficient_scope", "error_description": format!("needs scope {scope}") }),
            &[],
        );
        r.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("DPoP error=\"insufficient_scope\""),
        );
        return Err(Box::new(r));
    }
    if scope == SCOPE_SEARCH && !scopes.contains(&SCOPE_SEARCH) {
        let basis = headers
            .get("nhn-access-basis")
            .and_then(|h| h.to_str().ok());
        if basis
            .and_then(|b| tillit::client::AccessBasis::parse(b, "nhn-access-basis").ok())
            .is_none()
        {
            return Err(Box::new(outcome(StatusCode::FORBIDDEN, "forbidden", "the kjernejournalforskriften scope needs the nhn-access-basis header (UNNTAK, SAMTYKKE, FORHOYET_SAMTYKKE, AKUTT, FORHOYET_AKUTT)")));
        }
    }
    Ok((info.claims, nonce))
}

fn outcome(status: StatusCode, code: &str, text: &str) -> Response {
    json_response(
        status,
        &json!({ "resourceType": "OperationOutcome", "issue": [{ "severity": "error", "code": code, "diagnostics": text }] }),
        &[("content-type", "application/fhir+json".into())],
    )
}

/// Whether a token may read `pid`'s records: a patient its attestation names, or the
/// citizen's own. An attestation whose patients name no one (NHN's clients send
/// `patients: [{point_of_care}]`: NorskHelsenett/Pasientens-journaldokumenter,
/// `.NET/PatientHealthRecordsEPJ/.../Controllers/HomeController.cs`) leaves the patient to the
/// request, as PJD does for its reference EHR.
fn may_read(claims: &Value, pid: &str) -> bool {
    if let Some(a) = claims.get("nhn:tillitsrammeverk:parameters") {
        let named: Vec<&str> = a["patients"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(|x| x.pointer("/identifier/id").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        return named.is_empty() || named.contains(&pid);
    }
    claims
        .get("helseid://claims/identity/pid")
        .and_then(Value::as_str)
        == Some(pid)
}

fn is_citizen(claims: &Value) -> bool {
    claims.get("nhn:tillitsrammeverk:parameters").is_none()
}

async fn search(
    State(s): State<Shared>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let Admitted {
        fault: fl,
        base: b,
        claims,
        nonce: nonce_now,
    } = match admit(&s, &headers, method.as_str(), &uri, SCOPE_SEARCH).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let mut params = uri.query().map(url_decode_pairs).unwrap_or_default();
    if method == Method::POST {
        params.extend(form(&body));
    }
    let event_id = headers
        .get("nhn-event-id")
        .and_then(|h| h.to_str().ok())
        .map(String::from);
    let client = claims["client_id"].as_str().unwrap_or("").to_string();
    let att = claims.get("nhn:tillitsrammeverk:parameters").cloned();
    // Both forms: the bare number NHN's clients send (Pasientens-journaldokumenter,
    // DocumentsController.cs) and the FHIR token `system|value`, whose system must be a
    // national-id system.
    let Some(raw) = params.get("patient.identifier") else {
        return outcome(
            StatusCode::BAD_REQUEST,
            "required",
            "patient.identifier is required",
        );
    };
    let (pid, patient_form) = match raw.split_once('|') {
        None => (raw.clone(), "number"),
        Some((sys, v)) if tillit::ident::NationalIdKind::from_system(sys).is_some() => {
            (v.to_string(), "token")
        }
        Some(_) => return outcome(
            StatusCode::BAD_REQUEST,
            "value",
            "patient.identifier: the system must be the fødselsnummer, D-number or H-number OID",
        ),
    };
    let record = |status: u16| {
        let seen = Seen {
            endpoint: "search",
            client: Some(&client),
            attestation: att.as_ref(),
            patient: Some(&pid),
            patient_form: Some(patient_form),
            event_id: event_id.as_deref(),
            status,
            ..Seen::default()
        };
        log_event(&mut s.m.lock().expect("lock"), seen);
    };
    if !may_read(&claims, &pid) {
        record(403);
        return outcome(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the token's attestation does not name this patient",
        );
    }
    let Some(pi) = s.world.patients.iter().position(|p| *p == pid) else {
        record(200);
        return json_response(
            StatusCode::OK,
            &json!({ "resourceType": "Bundle", "type": "searchset", "total": 0, "entry": [] }),
            &[("nhn-securitylabel-nors-count", "0".into())],
        );
    };
    let citizen = is_citizen(&claims);
    // A patient who has blocked access to their documents: only a raised access basis
    // (FORHOYET_*) opens them to a practitioner.
    let raised = headers
        .get("nhn-access-basis")
        .and_then(|h| h.to_str().ok())
        .and_then(|b| tillit::client::AccessBasis::parse(b, "nhn-access-basis").ok())
        .is_some_and(tillit::client::AccessBasis::is_raised);
    if !citizen && s.world.status[pi].blocked && !raised {
        record(403);
        return outcome(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the patient has blocked access to their documents: a raised access basis (FORHOYET_AKUTT or FORHOYET_SAMTYKKE) is needed",
        );
    }
    let types: Vec<String> = params
        .get("type")
        .map(|t| {
            t.split(',')
                .map(|x| x.rsplit('|').next().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    let dates: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k.as_str() == "date")
        .map(|(_, v)| {
            (
                v.get(..2).unwrap_or("").to_string(),
                v.get(2..).unwrap_or("").to_string(),
            )
        })
        .collect();
    let mut nors = 0;
    let matching: Vec<&data::Doc> = s
        .world
        .docs
        .iter()
        .filter(|d| d.patient == pi)
        .filter(|d| {
            types.is_empty()
                || types
                    .iter()
                    .any(|t| t == d.type_code || *t == format!("{}00-1", &d.type_code[..1]))
        })
        .filter(|d| {
            dates.iter().all(|(op, v)| match op.as_str() {
                "ge" => d.date.as_str() >= v.as_str(),
                "gt" => d.date.as_str() > v.as_str(),
                "le" => d.date.as_str() <= v.get(..10).unwrap_or(v),
                "lt" => d.date.as_str() < v.as_str(),
                _ => true,
            })
        })
        .filter(|d| {
            let blocked = d
                .labels
                .iter()
                .any(|(sy, c)| *sy == data::SYSTEM_BLOCKS && *c == "NORS");
            if blocked && !citizen {
                nors += 1;
            }
            citizen || !blocked
        })
        .collect();
    let count: usize = params
        .get("_count")
        .and_then(|c| c.parse().ok())
        .unwrap_or(50)
        .clamp(1, 1000);
    let page: usize = params
        .get("_page")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1)
        .max(1);
    let total = matching.len();
    let mut entries: Vec<Arc<str>> = matching
        .iter()
        .skip((page - 1) * count)
        .take(count)
        .map(|d| s.entry_json(d, &b))
        .collect();
    match fl.as_deref() {
        Some("leak-patient") => {
            let other = s.world.docs.iter().find(|d| d.patient != pi).cloned();
            if let Some(o) = other {
                entries.push(entry_value(&s.world, &o, &b).to_string().into());
            }
        }
        Some("leak-type") => {
            let n = s.world.illegal_doc(pi);
            entries.push(entry_value(&s.world, &n, &b).to_string().into());
        }
        other => entries.extend(faults::search_entries(other, &s.world, &matching, page, &b)),
    }
    let mut links = vec![
        json!({ "relation": "self", "url": format!("{b}/R4/fhir/DocumentReference/_search?_count={count}&_page={page}") }),
    ];
    if page * count < total || faults::endless_next(fl.as_deref()) {
        links.push(json!({ "relation": "next", "url": format!("{b}/R4/fhir/DocumentReference/_search?_count={count}&_page={}", page + 1) }));
    }
    record(200);
    // The searchset Bundle, assembled from the entries' JSON.
    let mut body = String::with_capacity(256 + entries.iter().map(|e| e.len() + 1).sum::<usize>());
    body.push_str(&format!(
        "{{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"total\":{total},\"link\":{},\"entry\":[",
        Value::Array(links)
    ));
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(e);
    }
    body.push_str("]}");
    let r = json_response(
        StatusCode::OK,
        &json!(null),
        &[
            (
                "content-type",
                "application/fhir+json; fhirVersion=4.0".into(),
            ),
            ("nhn-securitylabel-nors-count", nors.to_string()),
            ("dpop-nonce", nonce_now.clone()),
        ],
    );
    post_fault(fl.as_deref(), r, body)
}

async fn retrieve(
    State(s): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Admitted {
        fault: fl,
        claims,
        nonce,
        ..
    } = match admit(&s, &headers, "GET", &uri, SCOPE_READ).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let (Some(nin), Some(_source), Some(event_id)) = (
        h("nhn-patient-nin"),
        h("nhn-source-system"),
        h("nhn-event-id"),
    ) else {
        return outcome(
            StatusCode::BAD_REQUEST,
            "required",
            "nhn-patient-nin, nhn-source-system and nhn-event-id are required",
        );
    };
    let client = claims["client_id"].as_str().unwrap_or("").to_string();
    let att = claims.get("nhn:tillitsrammeverk:parameters").cloned();
    let (Some(unique), Some(repo), Some(_home)) = (
        q.get("documentUniqueId"),
        q.get("repositoryUniqueId"),
        q.get("homeCommunityId"),
    ) else {
        return outcome(
            StatusCode::BAD_REQUEST,
            "required",
            "documentUniqueId, repositoryUniqueId and homeCommunityId are required",
        );
    };
    let seen = |status: u16| Seen {
        endpoint: "retrieve",
        client: Some(&client),
        attestation: att.as_ref(),
        patient: Some(&nin),
        document: Some(unique),
        event_id: Some(&event_id),
        status,
        ..Seen::default()
    };
    let Some(doc) = s.world.by_unique_id(unique).cloned() else {
        log_event(&mut s.m.lock().expect("lock"), seen(404));
        return outcome(StatusCode::NOT_FOUND, "not-found", "no such document");
    };
    if s.world.orgs[doc.org].repository != repo.as_str()
        || s.world.patients[doc.patient] != nin
        || !may_read(&claims, &nin)
    {
        log_event(&mut s.m.lock().expect("lock"), seen(403));
        return outcome(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the document is not this patient's, or the token does not name the patient",
        );
    }
    if !is_citizen(&claims)
        && doc
            .labels
            .iter()
            .any(|(sy, c)| *sy == data::SYSTEM_BLOCKS && *c == "NORS")
    {
        log_event(&mut s.m.lock().expect("lock"), seen(403));
        return outcome(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the patient has blocked this document",
        );
    }
    log_event(&mut s.m.lock().expect("lock"), seen(200));
    let (ct, body) = if doc.kith {
        (
            "application/xml",
            data::cda_kith(&doc.title, &nin).into_bytes(),
        )
    } else if doc.cda {
        ("application/xml", data::cda(&doc.title, &nin).into_bytes())
    } else {
        ("application/pdf", data::pdf(&doc.title))
    };
    let (ct, body) = faults::document(fl.as_deref(), &s.world, &doc).unwrap_or((ct, body));
    let mut r = (StatusCode::OK, body.clone()).into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(ct));
    r.headers_mut().insert(
        "dpop-nonce",
        HeaderValue::from_str(&nonce).unwrap_or(HeaderValue::from_static("")),
    );
    if fl.as_deref() == Some("truncated") {
        *r.body_mut() = axum::body::Body::from(body[..body.len() / 2].to_vec());
    }
    r
}

async fn emulator_log(State(s): State<Shared>) -> Response {
    let m = s.m.lock().expect("lock");
    json_response(
        StatusCode::OK,
        &Value::Array(m.log.iter().cloned().collect()),
        &[("x-emulator-log-dropped", m.log_dropped.to_string())],
    )
}

async fn emulator_patients(State(s): State<Shared>) -> Response {
    json_response(
        StatusCode::OK,
        &json!(s.world.patients[..s.world.listed]),
        &[],
    )
}

/// The three status patients: `{ reserved, restricted, blocked }` national ids.
async fn emulator_status_patients(State(s): State<Shared>) -> Response {
    let w = &s.world;
    let find = |f: fn(&data::PatientStatus) -> bool| {
        w.status.iter().position(f).map(|i| w.patients[i].clone())
    };
    json_response(
        StatusCode::OK,
        &json!({
            "reserved": find(|x| x.reserved),
            "restricted": find(|x| x.restricted),
            "blocked": find(|x| x.blocked),
        }),
        &[],
    )
}

/// The HPR number the blocked status patient has blocked by name (a practitioner who is not
/// the emulator's test user, so both answers can be seen).
pub const BLOCKED_HPR: &str = "9144901";

/// `POST {base}/status` with `{"nin": …}`: the patient's privacy setting (reservation against
/// the core record, restriction, block) and whether this practitioner's HPR number is blocked.
/// Needs a user's DPoP token for the document list and `nhn-access-basis: UNNTAK`. PJD does not
/// log it in the patient's access log; the emulator keeps it in its own request log.
async fn patient_status(
    State(s): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let Admitted {
        claims,
        nonce: nonce_now,
        ..
    } = match admit(&s, &headers, "POST", &uri, SCOPE_SEARCH).await {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let basis = headers
        .get("nhn-access-basis")
        .and_then(|h| h.to_str().ok())
        .and_then(|b| tillit::client::AccessBasis::parse(b, "nhn-access-basis").ok());
    if basis != Some(tillit::client::AccessBasis::Unntak) {
        return outcome(
            StatusCode::BAD_REQUEST,
            "required",
            "the status call needs nhn-access-basis: UNNTAK",
        );
    }
    let Some(nin) = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("nin").and_then(Value::as_str).map(String::from))
    else {
        return outcome(
            StatusCode::BAD_REQUEST,
            "required",
            "the body must be JSON {\"nin\": national id}",
        );
    };
    let pid = claims
        .get("helseid://claims/identity/pid")
        .and_then(Value::as_str);
    let practitioner = s
        .config
        .users
        .iter()
        .any(|u| Some(u.pid.as_str()) == pid && !u.citizen);
    if !practitioner {
        return outcome(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the status call needs a practitioner's user token",
        );
    }
    let Some(pi) = s.world.patients.iter().position(|p| *p == nin) else {
        return outcome(StatusCode::NOT_FOUND, "not-found", "no such patient");
    };
    let st = s.world.status[pi];
    let hpr = claims
        .get("helseid://claims/hpr/hpr_number")
        .and_then(Value::as_str);
    let event_id = headers
        .get("nhn-event-id")
        .and_then(|h| h.to_str().ok())
        .map(String::from);
    log_event(
        &mut s.m.lock().expect("lock"),
        Seen {
            endpoint: "status",
            client: claims["client_id"].as_str(),
            patient: Some(&nin),
            event_id: event_id.as_deref(),
            status: 200,
            ..Seen::default()
        },
    );
    json_response(
        StatusCode::OK,
        &json!({
            "privacySetting": {
                "hasReservationKjernejournal": st.reserved,
                "isRestricted": st.restricted,
                "isBlocked": st.blocked,
            },
            "isHprNumberBlocked": st.blocked && hpr == Some(BLOCKED_HPR),
        }),
        &[("dpop-nonce", nonce_now)],
    )
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
