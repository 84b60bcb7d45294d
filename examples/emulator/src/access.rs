//! Admission at the document list, the document source and the status call: the fault that
//! comes first, the DPoP-bound token and proof, the scope and the resource nonce; then
//! whose records the token may read.

use crate::faults::{fault, pre_fault};
use crate::http::{base, json_response, outcome};
use crate::mhd::{AUD_PJD, SCOPE_SEARCH, SCOPE_SEARCH_KJ};
use crate::state::{now, Emulator};
use crate::verify;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

/// Checks a resource request's DPoP-bound token and proof and its scope: the token's claims
/// and the current resource nonce. The shared state is locked only to read the nonces and
/// the token and to record the proof's `jti`: signature checks run in parallel.
/// What a resource endpoint starts from once the request is let in.
pub(crate) struct Admitted {
    /// The fault mode in force for this request.
    pub(crate) fault: Option<String>,
    /// The base URL the client used.
    pub(crate) base: String,
    /// The access token's claims.
    pub(crate) claims: Value,
    /// The current resource nonce, for the answer's `DPoP-Nonce`.
    pub(crate) nonce: String,
}

/// The common start of the document list and the document source: answers a fault that
/// comes before the work, then checks the token, proof and scope (see [`resource_auth`]).
pub(crate) async fn admit(
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

pub(crate) fn resource_auth(
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

/// Whether a token may read `pid`'s records: a patient its attestation names, or the
/// citizen's own. An attestation whose patients name no one (NHN's clients send
/// `patients: [{point_of_care}]`: NorskHelsenett/Pasientens-journaldokumenter,
/// `.NET/PatientHealthRecordsEPJ/.../Controllers/HomeController.cs`) leaves the patient to the
/// request, as PJD does for its reference EHR.
pub(crate) fn may_read(claims: &Value, pid: &str) -> bool {
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

pub(crate) fn is_citizen(claims: &Value) -> bool {
    claims.get("nhn:tillitsrammeverk:parameters").is_none()
}
