//! The document list (IHE MHD ITI-67): the document API's audience and scopes, and the
//! search, paged, filtered by type and date, with documents the patient blocked withheld from
//! practitioners (and counted in `nhn-securitylabel-nors-count`).

use crate::access::{admit, is_citizen, may_read, Admitted};
use crate::data::{self, World};
use crate::faults::{self, post_fault};
use crate::http::{fields, json_response, outcome, FormBody};
use crate::state::{log_event, Seen, Shared};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

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

/// A searchset entry for document `d`.
pub(crate) fn entry_value(world: &World, d: &data::Doc, base: &str) -> Value {
    json!({ "fullUrl": format!("{base}/R4/fhir/DocumentReference/{}", d.id), "resource": world.document_reference(d, base), "search": { "mode": "match" } })
}

pub(crate) async fn search(
    State(s): State<Shared>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    body: FormBody,
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
    let mut params = query;
    if method == Method::POST {
        params.extend(fields(body));
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
