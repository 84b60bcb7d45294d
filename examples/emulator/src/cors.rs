//! CORS for the browser tests and the demo.

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// CORS for browser clients on loopback pages (the demo and the e2e tests): preflights are
/// answered, and the headers a DPoP client must read are exposed.
pub(crate) async fn cors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
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
