//! HelseID as a consumer meets it: discovery and keys, client authentication by
//! `private_key_jwt`, pushed authorisation requests, the login, and the token endpoint
//! (authorization_code, refresh_token, client_credentials, token exchange), DPoP-bound, with
//! the trust framework's attestation checked and carried into the token.

use crate::collector;
use crate::config::Client;
use crate::config::User;
use crate::faults::{fault, pre_fault};
use crate::http::{base, fields, json_response, oauth_error, urlencode, FormBody};
use crate::mhd::{AUD_KJ, AUD_PJD, SCOPE_READ, SCOPE_SEARCH, SCOPE_SEARCH_KJ};
use crate::state::{log_event, now, own_jwk, Emulator, Mutable, Seen, Session, Shared, TokenInfo};
use crate::verify::{self, refuse, Refusal};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use p256::ecdsa::signature::Signer as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tillit::jose::{b64u, compact, sha256_b64u, signing_input};
use tillit::trust::{
    Grant, TenantOrganisation, TrustContext, TYPE_HELSEID_AUTHORIZATION, TYPE_TRUST_FRAMEWORK,
};

/// What a successful grant yields: the user, the scope, the attestation, the session to refresh.
pub(crate) type Granted = (Option<User>, String, Option<Value>, Option<Session>);

pub(crate) async fn discovery(State(s): State<Shared>, headers: HeaderMap) -> Response {
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

pub(crate) async fn jwks(State(s): State<Shared>) -> Response {
    let mut k = own_jwk(&s.signing);
    k["kid"] = json!(s.kid);
    k["alg"] = json!("ES256");
    k["use"] = json!("sig");
    json_response(StatusCode::OK, &json!({ "keys": [k] }), &[])
}

/// Authenticates the client by its assertion; returns the client and the assertion claims.
pub(crate) fn authenticate(
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
pub(crate) fn bind_user(att: &mut Value, user: &User, what: &str) -> Result<(), Refusal> {
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
pub(crate) fn check_details(
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

pub(crate) async fn par(State(s): State<Shared>, headers: HeaderMap, body: FormBody) -> Response {
    if let Some(r) = pre_fault(fault(&s, &headers).as_deref()).await {
        return r;
    }
    let issuer = base(&headers);
    let f = fields(body);
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

pub(crate) async fn authorize(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
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

#[allow(clippy::too_many_arguments)] // the token's parts, each a claim; a struct would only rename them
pub(crate) fn issue(
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

pub(crate) async fn token(
    State(s): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    body: FormBody,
) -> Response {
    let fl = fault(&s, &headers);
    if let Some(r) = pre_fault(fl.as_deref()).await {
        return r;
    }
    let issuer = base(&headers);
    let f = fields(body);
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
                    // The collector is an API too (`tillit:collector`), for its own scopes only.
                    let fits = |k: &str| {
                        k != collector::AUD_COLLECTOR
                            || collector::audience_for(&scope) == collector::AUD_COLLECTOR
                    };
                    match [AUD_PJD, AUD_KJ, collector::AUD_COLLECTOR]
                        .into_iter()
                        .find(|k| *k == r)
                    {
                        Some(k) if asked && fits(k) => k,
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
pub(crate) fn refuse_token(m: &mut Mutable, client: &str, r: &Refusal, nonce: &str) -> Response {
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
pub(crate) fn finish_user_grant(
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
