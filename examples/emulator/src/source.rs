//! The document source (IHE ITI-68): one document by its unique id, for the patient the
//! request names, refused where the patient has blocked it.

use crate::access::{admit, is_citizen, may_read, Admitted};
use crate::data;
use crate::faults;
use crate::http::outcome;
use crate::mhd::SCOPE_READ;
use crate::state::{log_event, Seen, Shared};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

pub(crate) async fn retrieve(
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
