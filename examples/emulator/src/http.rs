//! Plumbing shared by the endpoints: the base URL a client used, form bodies, JSON, OAuth and
//! FHIR error answers.

use crate::verify::Refusal;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde_json::{json, Value};
use std::collections::HashMap;

/// A form body (`application/x-www-form-urlencoded`), decoded by axum.
pub(crate) type FormBody = Result<Form<HashMap<String, String>>, FormRejection>;

/// The fields of a form body. A body that is not a form reads as no fields: each handler then
/// refuses the first field it requires, by name (and a token request still gets its nonce).
pub(crate) fn fields(body: FormBody) -> HashMap<String, String> {
    body.map(|Form(f)| f).unwrap_or_default()
}

pub(crate) fn base(headers: &HeaderMap) -> String {
    format!(
        "http://{}",
        headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1")
    )
}

pub(crate) fn json_response(
    status: StatusCode,
    body: &Value,
    extra: &[(&'static str, String)],
) -> Response {
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

pub(crate) fn oauth_error(r: &Refusal, status: StatusCode, nonce: Option<&str>) -> Response {
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

pub(crate) fn urlencode(s: &str) -> String {
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

pub(crate) fn outcome(status: StatusCode, code: &str, text: &str) -> Response {
    json_response(
        status,
        &json!({ "resourceType": "OperationOutcome", "issue": [{ "severity": "error", "code": code, "diagnostics": text }] }),
        &[("content-type", "application/fhir+json".into())],
    )
}
