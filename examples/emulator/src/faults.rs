//! The fault modes for reliability tests, chosen by `--fault MODE` or, per request, by the
//! test-only header `x-emulator-fault` (`fault`).
//!
//! Every endpoint (`pre_fault`, `post_fault`): `latency=MS`, `500`, `503`, `truncated`,
//! `malformed`; the token and resource endpoints: `nonce` (a new nonce on every request),
//! `expired-token`; the document list: `leak-patient`, `leak-type`.
//!
//! The fault modes of the retrieval and paging tests (tillit issue 16): what a compromised or
//! broken document source or document list could send. Chosen like the others, by
//! `--fault MODE` or the test-only header `x-emulator-fault`.
//!
//! Retrieval (`/mhd/document`):
//! - `doc-html`: `text/html` with a script that marks the page (`window.__docScriptRan`);
//! - `doc-svg`: `image/svg+xml` with an `onload` script;
//! - `doc-html-as-pdf`: the HTML again, labelled `application/pdf`;
//! - `doc-xml`: XML that is not CDA (an XHTML page labelled `application/xml`);
//! - `doc-no-eof`: the PDF without its `%%EOF` end marker (and so shorter than its size);
//! - `doc-other-patient`: a CDA naming another patient of the world;
//! - `truncated` (shared with the document list): half the body.
//!
//! Paging (`/R4/fhir/DocumentReference/_search`):
//! - `page-block`: from page 2 on, the first document of page 1 again, now blocked by the
//!   patient (Volven 9603 `NORS`);
//! - `endless-next`: every page links `next`, also the empty ones past the last document.

use crate::data::{self, Doc, World};
use crate::http::json_response;
use crate::state::Emulator;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The script an active-content fault carries: it marks the window it runs in.
pub const SCRIPT: &str = "window.__docScriptRan = (window.__docScriptRan || 0) + 1; try { parent.__docScriptRan = (parent.__docScriptRan || 0) + 1; } catch (e) {}";

/// Entries a paging fault adds to page `page` of `matching`.
pub fn search_entries(
    mode: Option<&str>,
    world: &World,
    matching: &[&Doc],
    page: usize,
    base: &str,
) -> Vec<Arc<str>> {
    match mode {
        Some("page-block") if page >= 2 => matching
            .first()
            .map(|d| {
                let mut blocked = (*d).clone();
                blocked.labels = vec![(data::SYSTEM_BLOCKS, "NORS")];
                crate::mhd::entry_value(world, &blocked, base)
                    .to_string()
                    .into()
            })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether every page links `next`.
pub fn endless_next(mode: Option<&str>) -> bool {
    mode == Some("endless-next")
}

/// The body a retrieval fault sends instead of `doc`: `(content type, bytes)`.
pub fn document(mode: Option<&str>, world: &World, doc: &Doc) -> Option<(&'static str, Vec<u8>)> {
    let html = || {
        format!("<!doctype html><html><body><h1>Epikrise</h1><script>{SCRIPT}</script><img src=x onerror=\"{SCRIPT}\"></body></html>").into_bytes()
    };
    Some(match mode? {
        "doc-html" => ("text/html; charset=utf-8", html()),
        "doc-svg" => (
            "image/svg+xml",
            format!("<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"{SCRIPT}\"><script>{SCRIPT}</script></svg>").into_bytes(),
        ),
        "doc-html-as-pdf" => ("application/pdf", html()),
        "doc-xml" => (
            "application/xml",
            format!("<html xmlns=\"http://www.w3.org/1999/xhtml\"><body><script>{SCRIPT}</script></body></html>").into_bytes(),
        ),
        "doc-no-eof" => {
            let pdf = data::pdf(&doc.title);
            let cut = pdf.len() - "%%EOF\n".len();
            ("application/pdf", pdf[..cut].to_vec())
        }
        "doc-other-patient" => {
            let other = &world.patients[(doc.patient + 1) % world.patients.len()];
            ("application/xml", data::cda(&doc.title, other).into_bytes())
        }
        _ => return None,
    })
}

/// The fault mode of a request: its `x-emulator-fault` header, else the emulator's `--fault`.
pub(crate) fn fault(s: &Emulator, headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-emulator-fault")
        .and_then(|h| h.to_str().ok())
        .map(String::from)
        .or_else(|| s.config.fault.clone())
}

/// Applies the fault modes that act before the handler; `Some` replaces the response.
pub(crate) async fn pre_fault(f: Option<&str>) -> Option<Response> {
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
pub(crate) fn post_fault(f: Option<&str>, mut r: Response, body: String) -> Response {
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
