//! PJD's patient status call (`POST /status`): the patient's privacy settings.

use crate::access::{admit, Admitted};
use crate::http::{json_response, outcome};
use crate::mhd::SCOPE_SEARCH;
use crate::state::{log_event, Seen, Shared};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

/// The HPR number the blocked status patient has blocked by name (a practitioner who is not
/// the emulator's test user, so both answers can be seen).
pub const BLOCKED_HPR: &str = "9144901";

/// `POST {base}/status` with `{"nin": …}`: the patient's privacy setting (reservation against
/// the core record, restriction, block) and whether this practitioner's HPR number is blocked.
/// Needs a user's DPoP token for the document list and `nhn-access-basis: UNNTAK`. PJD does not
/// log it in the patient's access log; the emulator keeps it in its own request log.
pub(crate) async fn patient_status(
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
