//! The routes. Every one but `/health` needs a DPoP-bound access token: writers the write
//! scope, log control the log-control scope, the citizen route a citizen issuer's token.
//! Database work and token checks run on blocking threads; structured logs carry the route,
//! status, client and timing, never a query string, a token or patient data.

use crate::auth::{self, CitizenClaims, Denied, Issuer, Presented, Replay};
use crate::service::{self, Owner, ServiceError};
use crate::store::Store;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;

/// The largest request body (a batch of records), bytes.
pub const MAX_BODY: usize = 64 << 20;

/// What the routes share.
pub struct App {
    /// The store.
    pub store: Store,
    /// Issuers of practitioner and system tokens (HelseID).
    pub issuers: Vec<Arc<Issuer>>,
    /// Issuers of citizen tokens (Helsenorge-style).
    pub citizen_issuers: Vec<Arc<Issuer>>,
    /// The claim names of citizen tokens.
    pub citizen_claims: CitizenClaims,
    /// The audience tokens must carry.
    pub audience: String,
    /// The URL clients call (DPoP `htu` is checked against it).
    pub public_url: String,
    /// Default threshold of the unusual-volume report.
    pub volume_threshold: u64,
    /// DPoP proof ids seen.
    pub replay: Replay,
    /// Web origins whose pages may call the collector (CORS): an EHR page shipping its log,
    /// the citizen's and the privacy officer's pages. Exact `scheme://host[:port]` matches.
    pub allowed_origins: Vec<String>,
}

type Shared = Arc<App>;

/// One JSON line on stderr.
pub fn log(level: &str, msg: &str, fields: Value) {
    let mut line = json!({ "ts": service::now_rfc3339(), "level": level, "msg": msg });
    if let (Some(l), Some(f)) = (line.as_object_mut(), fields.as_object()) {
        for (k, v) in f {
            l.insert(k.clone(), v.clone());
        }
    }
    eprintln!("{line}");
}

/// The router.
pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/logs", get(logs_all))
        .route("/logs/{log_id}", get(log_one).put(register))
        .route("/logs/{log_id}/records", post(records))
        .route("/AuditEvent", post(audit_event).get(iti81))
        .route("/", post(bundle))
        .route("/reports", get(reports))
        .route("/citizen/access", get(citizen))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(app.clone(), cors))
        .layer(axum::middleware::from_fn(access_log))
        .with_state(app)
}

/// CORS for the configured origins only: a preflight is answered here (the methods and the
/// headers the routes read: `authorization`, `dpop`, `content-type`), and answers carry
/// `Access-Control-Allow-Origin` for that origin. Another origin gets no CORS headers, so
/// its pages cannot read an answer; tokens are never cookies, so no credentials mode.
async fn cors(
    State(app): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let origin = req
        .headers()
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .filter(|o| app.allowed_origins.iter().any(|a| a == o))
        .map(String::from);
    let Some(origin) = origin else {
        return next.run(req).await;
    };
    let allow = HeaderValue::from_str(&origin).unwrap_or(HeaderValue::from_static("null"));
    let preflight = req.method() == Method::OPTIONS
        && req.headers().contains_key("access-control-request-method");
    let mut r = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            "access-control-allow-methods",
            HeaderValue::from_static("GET, PUT, POST"),
        );
        h.insert(
            "access-control-allow-headers",
            HeaderValue::from_static("authorization, dpop, content-type"),
        );
        h.insert("access-control-max-age", HeaderValue::from_static("600"));
        r
    } else {
        next.run(req).await
    };
    let h = r.headers_mut();
    h.insert("access-control-allow-origin", allow);
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("www-authenticate, dpop-nonce"),
    );
    h.append("vary", HeaderValue::from_static("origin"));
    r
}

async fn access_log(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let t = std::time::Instant::now();
    let method = req.method().to_string();
    // The route's pattern, not the path: a log id is fine, but a pattern never carries data.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".into());
    let r = next.run(req).await;
    log(
        "info",
        "request",
        json!({ "method": method, "route": route, "status": r.status().as_u16(), "ms": t.elapsed().as_millis() as u64 }),
    );
    r
}

fn json_response(status: StatusCode, body: &Value, content_type: &'static str) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    r
}

fn ok_json(body: &Value) -> Response {
    json_response(StatusCode::OK, body, "application/json")
}

fn fhir(status: StatusCode, body: &Value) -> Response {
    json_response(status, body, "application/fhir+json")
}

fn outcome(status: StatusCode, code: &str, path: &str, text: &str) -> Response {
    fhir(
        status,
        &json!({ "resourceType": "OperationOutcome", "issue": [{ "severity": "error", "code": code, "expression": [path], "diagnostics": text }] }),
    )
}

fn denied(d: &Denied) -> Response {
    let mut r = json_response(
        StatusCode::from_u16(d.status).unwrap_or(StatusCode::UNAUTHORIZED),
        &json!({ "error": d.error, "error_description": d.description }),
        "application/json",
    );
    let h = format!("DPoP error=\"{}\", algs=\"ES256 RS256 PS256\"", d.error);
    r.headers_mut().insert(
        "www-authenticate",
        HeaderValue::from_str(&h).unwrap_or(HeaderValue::from_static("DPoP")),
    );
    r
}

fn service_error(e: ServiceError) -> Response {
    match e {
        ServiceError::Refused(r) => {
            let status = match r.code {
                "GAP" | "FORK" => StatusCode::CONFLICT,
                "MALFORMED" => StatusCode::BAD_REQUEST,
                "TOO_LARGE" => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            json_response(
                status,
                &json!({ "error": r.code, "seq": r.seq, "detail": r.detail }),
                "application/json",
            )
        }
        ServiceError::NotOwner => json_response(
            StatusCode::FORBIDDEN,
            &json!({ "error": "NOT_OWNER", "detail": "the log belongs to another client or organisation" }),
            "application/json",
        ),
        ServiceError::Invalid(field, rule) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "INVALID", "field": field, "detail": rule }),
            "application/json",
        ),
        ServiceError::Store(e) => {
            log("error", "storage failed", json!({ "error": e.0 }));
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({ "error": "STORAGE_UNAVAILABLE", "detail": "the database failed; nothing was stored, send again" }),
                "application/json",
            )
        }
    }
}

/// Which token a route takes.
#[derive(Clone, Copy)]
enum Need {
    Scope(&'static str),
    Citizen,
}

/// Authenticates, then runs `f` on a blocking thread with the token's claims.
async fn guarded(
    app: Shared,
    headers: HeaderMap,
    method: Method,
    path: String,
    need: Need,
    f: impl FnOnce(&App, Value) -> Response + Send + 'static,
) -> Response {
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let (authorization, dpop) = (h("authorization"), h("dpop"));
    tokio::task::spawn_blocking(move || {
        let url = format!("{}{}", app.public_url, path);
        let presented = Presented {
            authorization: authorization.as_deref(),
            dpop: dpop.as_deref(),
            method: method.as_str(),
            url: &url,
        };
        let issuers = match need {
            Need::Scope(_) => &app.issuers,
            Need::Citizen => &app.citizen_issuers,
        };
        let claims = match auth::authenticate(&presented, issuers, &app.audience, &app.replay) {
            Ok(c) => c,
            Err(d) => return denied(&d),
        };
        if let Need::Scope(s) = need {
            if let Err(d) = auth::need_scope(&claims, s) {
                return denied(&d);
            }
        }
        f(&app, claims)
    })
    .await
    .unwrap_or_else(|_| {
        json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({ "error": "INTERNAL" }),
            "application/json",
        )
    })
}

fn owner(claims: &Value) -> Result<Owner, Box<Response>> {
    let client_id = claims.get("client_id").and_then(Value::as_str);
    let org = claims.get(auth::CLAIM_ORG).and_then(Value::as_str);
    match (client_id, org) {
        (Some(c), Some(o)) => Ok(Owner {
            client_id: c.into(),
            org: o.into(),
        }),
        _ => Err(Box::new(denied(&Denied {
            status: 403,
            error: "insufficient_scope",
            description: format!("the token must name client_id and {}", auth::CLAIM_ORG),
        }))),
    }
}

async fn health(State(app): State<Shared>) -> Response {
    let ok = tokio::task::spawn_blocking(move || app.store.rows("SELECT 1", &[]).is_ok())
        .await
        .unwrap_or(false);
    if ok {
        ok_json(&json!({ "status": "ok" }))
    } else {
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "status": "database unavailable" }),
            "application/json",
        )
    }
}

async fn register(
    State(app): State<Shared>,
    Path(log_id): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/logs/{log_id}");
    guarded(app, headers, method, path, Need::Scope(auth::SCOPE_WRITE), move |app, claims| {
        let o = match owner(&claims) {
            Ok(o) => o,
            Err(r) => return *r,
        };
        let Ok(v) = serde_json::from_slice::<Value>(&body) else {
            return service_error(ServiceError::Invalid("body", "must be JSON".into()));
        };
        match service::register(&app.store, &log_id, &o, &v) {
            Ok(row) => {
                let next = row.state.head.next_seq;
                ok_json(&json!({ "logId": row.log_id, "head": if next > 0 { json!({ "seq": next - 1, "hash": row.state.head.hash }) } else { Value::Null } }))
            }
            Err(e) => service_error(e),
        }
    })
    .await
}

async fn records(
    State(app): State<Shared>,
    Path(log_id): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/logs/{log_id}/records");
    guarded(app, headers, method, path, Need::Scope(auth::SCOPE_WRITE), move |app, claims| {
        let o = match owner(&claims) {
            Ok(o) => o,
            Err(r) => return *r,
        };
        match service::ingest(&app.store, &log_id, &o, &body) {
            Ok(head) => {
                log("info", "batch stored", json!({ "log": log_id, "client": o.client_id, "head": head.next_seq }));
                ok_json(&json!({ "seq": head.next_seq.saturating_sub(1), "hash": head.hash }))
            }
            Err(e) => {
                if let ServiceError::Refused(r) = &e {
                    log("warn", "batch refused", json!({ "log": log_id, "client": o.client_id, "code": r.code, "seq": r.seq }));
                }
                service_error(e)
            }
        }
    })
    .await
}

fn parse_fhir(body: &[u8]) -> Result<Value, Box<Response>> {
    tillit::json::parse_limited(
        std::str::from_utf8(body).unwrap_or(""),
        MAX_BODY,
        64,
        "body",
    )
    .map_err(|_| {
        Box::new(outcome(
            StatusCode::BAD_REQUEST,
            "structure",
            "body",
            "must be a JSON resource",
        ))
    })
}

async fn audit_event(
    State(app): State<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    guarded(
        app,
        headers,
        method,
        "/AuditEvent".into(),
        Need::Scope(auth::SCOPE_WRITE),
        move |app, claims| {
            let o = match owner(&claims) {
                Ok(o) => o,
                Err(r) => return *r,
            };
            let ev = match parse_fhir(&body) {
                Ok(v) => v,
                Err(r) => return *r,
            };
            if let Err(i) = crate::fhir::validate_audit_event(&ev) {
                return outcome(StatusCode::BAD_REQUEST, "invalid", &i.path, &i.rule);
            }
            match service::record_events(&app.store, &o, std::slice::from_ref(&ev)) {
                Ok(_) => fhir(StatusCode::CREATED, &ev),
                Err(e) => service_error(e),
            }
        },
    )
    .await
}

async fn bundle(
    State(app): State<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    guarded(app, headers, method, "/".into(), Need::Scope(auth::SCOPE_WRITE), move |app, claims| {
        let o = match owner(&claims) {
            Ok(o) => o,
            Err(r) => return *r,
        };
        let b = match parse_fhir(&body) {
            Ok(v) => v,
            Err(r) => return *r,
        };
        if b.get("resourceType").and_then(Value::as_str) != Some("Bundle") || b.get("type").and_then(Value::as_str) != Some("batch") {
            return outcome(StatusCode::BAD_REQUEST, "invalid", "Bundle.type", "must be a Bundle of type batch");
        }
        let entries = b.get("entry").and_then(Value::as_array).cloned().unwrap_or_default();
        if entries.len() > 1000 {
            return outcome(StatusCode::PAYLOAD_TOO_LARGE, "too-costly", "Bundle.entry", "at most 1000 entries");
        }
        // Each entry stands alone (batch): the valid ones are stored, each invalid one answered.
        let mut answers: Vec<Value> = Vec::new();
        let mut good = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let ok_req = e.pointer("/request/method").and_then(Value::as_str) == Some("POST")
                && e.pointer("/request/url").and_then(Value::as_str) == Some("AuditEvent");
            let res = e.get("resource").cloned().unwrap_or(Value::Null);
            let check = if ok_req {
                crate::fhir::validate_audit_event(&res)
            } else {
                Err(crate::fhir::Invalid { path: format!("Bundle.entry[{i}].request"), rule: "must be POST AuditEvent".into() })
            };
            match check {
                Ok(()) => {
                    good.push(res);
                    answers.push(json!({ "response": { "status": "201 Created" } }));
                }
                Err(inv) => answers.push(json!({ "response": { "status": "400 Bad Request", "outcome": {
                    "resourceType": "OperationOutcome",
                    "issue": [{ "severity": "error", "code": "invalid", "expression": [format!("Bundle.entry[{i}].resource.{}", inv.path.trim_start_matches("AuditEvent."))], "diagnostics": inv.rule }] } } })),
            }
        }
        if !good.is_empty() {
            if let Err(e) = service::record_events(&app.store, &o, &good) {
                return service_error(e);
            }
        }
        fhir(StatusCode::OK, &json!({ "resourceType": "Bundle", "type": "batch-response", "entry": answers }))
    })
    .await
}

async fn iti81(
    State(app): State<Shared>,
    method: Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    guarded(
        app,
        headers,
        method,
        "/AuditEvent".into(),
        Need::Scope(auth::SCOPE_LOG_CONTROL),
        move |app, _| {
            let s = match crate::fhir::parse_search(q.as_deref().unwrap_or("")) {
                Ok(s) => s,
                Err(i) => return outcome(StatusCode::BAD_REQUEST, "invalid", &i.path, &i.rule),
            };
            match crate::control::search(&app.store, &s, &app.public_url) {
                Ok(b) => fhir(StatusCode::OK, &b),
                Err(e) => service_error(ServiceError::Store(e)),
            }
        },
    )
    .await
}

async fn reports(
    State(app): State<Shared>,
    method: Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    guarded(
        app,
        headers,
        method,
        "/reports".into(),
        Need::Scope(auth::SCOPE_LOG_CONTROL),
        move |app, _| {
            let mut threshold = app.volume_threshold;
            for (k, v) in form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes()) {
                match (k.as_ref(), v.parse::<u64>()) {
                    ("volumeThreshold", Ok(n)) => threshold = n,
                    _ => {
                        return service_error(ServiceError::Invalid(
                            "query",
                            "only volumeThreshold=<integer> is accepted".into(),
                        ))
                    }
                }
            }
            match crate::control::report(&app.store, threshold) {
                Ok(r) => ok_json(&r),
                Err(e) => service_error(ServiceError::Store(e)),
            }
        },
    )
    .await
}

async fn logs_all(State(app): State<Shared>, method: Method, headers: HeaderMap) -> Response {
    guarded(
        app,
        headers,
        method,
        "/logs".into(),
        Need::Scope(auth::SCOPE_LOG_CONTROL),
        move |app, _| match crate::control::logs(&app.store, None) {
            Ok(l) => ok_json(&json!({ "logs": l })),
            Err(e) => service_error(ServiceError::Store(e)),
        },
    )
    .await
}

async fn log_one(
    State(app): State<Shared>,
    Path(log_id): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let path = format!("/logs/{log_id}");
    guarded(
        app,
        headers,
        method,
        path,
        Need::Scope(auth::SCOPE_LOG_CONTROL),
        move |app, _| match crate::control::logs(&app.store, Some(&log_id)) {
            Ok(l) if l.is_empty() => json_response(
                StatusCode::NOT_FOUND,
                &json!({ "error": "NOT_FOUND", "field": "logId" }),
                "application/json",
            ),
            Ok(mut l) => ok_json(&l.remove(0)),
            Err(e) => service_error(ServiceError::Store(e)),
        },
    )
    .await
}

/// The people a citizen token speaks for: `(national id, relation)`, the citizen first.
pub fn citizen_subjects(claims: &Value, names: &CitizenClaims) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(p) = claims.get(&names.pid).and_then(Value::as_str) {
        out.push((p.to_string(), "self".to_string()));
    }
    let reps = match claims.get(&names.represented) {
        Some(Value::Array(a)) => a.clone(),
        Some(o @ Value::Object(_)) => vec![o.clone()],
        _ => Vec::new(),
    };
    for r in reps {
        if let Some(p) = r.get("pid").and_then(Value::as_str) {
            let rel = r
                .get("relation")
                .and_then(Value::as_str)
                .unwrap_or("represented");
            out.push((p.to_string(), rel.to_string()));
        }
    }
    out
}

async fn citizen(
    State(app): State<Shared>,
    method: Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    guarded(
        app,
        headers,
        method,
        "/citizen/access".into(),
        Need::Citizen,
        move |app, claims| {
            let subjects = citizen_subjects(&claims, &app.citizen_claims);
            if subjects.is_empty() {
                return denied(&Denied {
                    status: 403,
                    error: "insufficient_scope",
                    description: format!("the token names no citizen ({})", app.citizen_claims.pid),
                });
            }
            let mut only: Option<String> = None;
            for (k, v) in form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes()) {
                if k == "patient" {
                    only = Some(v.into_owned());
                } else {
                    return service_error(ServiceError::Invalid(
                        "query",
                        "only patient=<national id> is accepted".into(),
                    ));
                }
            }
            if let Some(p) = &only {
                if !subjects.iter().any(|(s, _)| s == p) {
                    return denied(&Denied {
                        status: 403,
                        error: "insufficient_scope",
                        description: "the token does not act for this person".into(),
                    });
                }
            }
            let mut out = Vec::new();
            for (pid, relation) in subjects
                .iter()
                .filter(|(s, _)| only.as_ref().is_none_or(|o| o == s))
            {
                match crate::control::citizen_access(&app.store, pid) {
                    Ok(acc) => {
                        out.push(json!({ "patient": pid, "relation": relation, "accesses": acc }))
                    }
                    Err(e) => return service_error(ServiceError::Store(e)),
                }
            }
            ok_json(&json!({ "subjects": out }))
        },
    )
    .await
}
