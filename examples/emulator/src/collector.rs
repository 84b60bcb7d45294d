//! What the organisation's collector (`tillit-collector`) needs from the emulator: the
//! collector's audience and scopes at HelseID, and a Helsenorge-style OpenID provider for
//! citizens, whose tokens name the citizen and the people they may act for (a parent for a
//! child). Helsenorge's claim names are not published: these are the collector's defaults
//! (`CitizenClaims`), configurable there.
//!
//! The citizen provider: discovery at `/helsenorge/.well-known/openid-configuration`,
//! `GET /helsenorge/connect/authorize` (PKCE S256; the test login is `login_hint`, and
//! `represent` picks a person the citizen may act for, else refused), `POST
//! /helsenorge/connect/token` (authorization_code with private_key_jwt and a DPoP proof:
//! a DPoP-bound access token for the collector, and an ID token).

use crate::helseid::authenticate;
use crate::http::{base, fields, json_response, oauth_error, urlencode, FormBody};
use crate::state::{now, own_jwk, Emulator, Shared};
use crate::verify::{self, refuse, Refusal};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use p256::ecdsa::signature::Signer as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use tillit::jose::{b64u, compact, sha256_b64u, signing_input};

/// The collector's audience (its resource at HelseID).
pub const AUD_COLLECTOR: &str = "tillit:collector";
/// Writing audit records to the collector.
pub const SCOPE_AUDIT_WRITE: &str = "tillit:collector/audit.write";
/// Log control at the collector.
pub const SCOPE_LOG_CONTROL: &str = "tillit:collector/log-control";
/// The citizen's national id in a Helsenorge-style token.
pub const CLAIM_PID: &str = "helsenorge://claims/identity/pid";
/// The people the citizen acts for: `[{ pid, relation, name }]`.
pub const CLAIM_REPRESENTATION: &str = "helsenorge://claims/representation";
/// Where the citizen provider lives under the emulator's base URL.
pub const PREFIX: &str = "/helsenorge";

/// The audience of a HelseID token for `scope`: the collector's when it asks only for the
/// collector's scopes, else the document API's.
pub fn audience_for(scope: &str) -> &'static str {
    let mut scopes = scope.split(' ').filter(|s| !s.is_empty()).peekable();
    if scopes.peek().is_some() && scopes.all(|s| s.starts_with("tillit:collector/")) {
        AUD_COLLECTOR
    } else {
        crate::mhd::AUD_PJD
    }
}

/// The citizen provider's routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/helsenorge/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/helsenorge/jwks", get(jwks))
        .route("/helsenorge/connect/authorize", get(authorize))
        .route("/helsenorge/connect/token", post(token))
}

fn signing(s: &Emulator) -> p256::ecdsa::SigningKey {
    let seed = Sha256::digest(format!("tillit-emulator-helsenorge-{}", s.config.seed).as_bytes());
    p256::ecdsa::SigningKey::from_slice(&seed).expect("a 32-byte scalar")
}

fn kid(k: &p256::ecdsa::SigningKey) -> String {
    tillit::jose::PublicJwk::from_value(&own_jwk(k), false, "jwk")
        .expect("own key")
        .thumbprint()
}

async fn discovery(headers: HeaderMap) -> Response {
    let b = format!("{}{PREFIX}", base(&headers));
    json_response(
        StatusCode::OK,
        &json!({
            "issuer": b, "jwks_uri": format!("{b}/jwks"),
            "authorization_endpoint": format!("{b}/connect/authorize"),
            "token_endpoint": format!("{b}/connect/token"),
            "grant_types_supported": ["authorization_code"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "dpop_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [CLAIM_PID, CLAIM_REPRESENTATION, "name"],
        }),
        &[],
    )
}

async fn jwks(State(s): State<Shared>) -> Response {
    let k = signing(&s);
    let mut j = own_jwk(&k);
    j["kid"] = json!(kid(&k));
    j["alg"] = json!("ES256");
    j["use"] = json!("sig");
    json_response(StatusCode::OK, &json!({ "keys": [j] }), &[])
}

struct Pending {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    user: String,
    represented: Option<String>,
    until: u64,
}

fn codes() -> &'static Mutex<HashMap<String, Pending>> {
    static CODES: OnceLock<Mutex<HashMap<String, Pending>>> = OnceLock::new();
    CODES.get_or_init(Default::default)
}

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let bad = |d: &str| oauth_error(&refuse("invalid_request", d), StatusCode::BAD_REQUEST, None);
    let need = |k: &str| q.get(k).filter(|v| !v.is_empty());
    let (Some(client_id), Some(redirect), Some(challenge)) = (
        need("client_id"),
        need("redirect_uri"),
        need("code_challenge"),
    ) else {
        return bad("client_id, redirect_uri and code_challenge are required");
    };
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return bad("code_challenge_method must be S256");
    }
    if !s.config.clients.iter().any(|c| &c.id == client_id) {
        return oauth_error(
            &refuse("invalid_client", "unknown client"),
            StatusCode::BAD_REQUEST,
            None,
        );
    }
    let Some(user) = q
        .get("login_hint")
        .and_then(|h| s.config.users.iter().find(|u| &u.id == h && u.citizen))
    else {
        return oauth_error(
            &refuse("access_denied", "login_hint must name a test citizen"),
            StatusCode::BAD_REQUEST,
            None,
        );
    };
    let represented = match q.get("represent").filter(|r| !r.is_empty()) {
        None => None,
        Some(r) if user.represents.iter().any(|x| x == r) => Some(r.clone()),
        Some(_) => {
            return oauth_error(
                &refuse("access_denied", "the citizen may not act for this person"),
                StatusCode::BAD_REQUEST,
                None,
            )
        }
    };
    let code = b64u(
        &Sha256::digest(format!("hn-code-{}-{}-{client_id}", now(), user.id).as_bytes())[..18],
    ) + &b64u(&rand_bytes());
    codes().lock().expect("codes").insert(
        code.clone(),
        Pending {
            client_id: client_id.clone(),
            redirect_uri: redirect.clone(),
            challenge: challenge.clone(),
            user: user.id.clone(),
            represented,
            until: now() + 60,
        },
    );
    let state = q
        .get("state")
        .map(|st| format!("&state={}", urlencode(st)))
        .unwrap_or_default();
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let mut r = StatusCode::FOUND.into_response();
    r.headers_mut().insert(
        "location",
        format!("{redirect}{sep}code={code}{state}")
            .parse()
            .expect("a header value"),
    );
    r
}

fn rand_bytes() -> [u8; 12] {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let h = Sha256::digest(format!("hn-{t}-{:?}", std::thread::current().id()).as_bytes());
    h[..12].try_into().expect("12 bytes")
}

async fn token(State(s): State<Shared>, headers: HeaderMap, uri: Uri, body: FormBody) -> Response {
    let issuer = format!("{}{PREFIX}", base(&headers));
    let f = fields(body);
    let result: Result<Value, Refusal> = (|| {
        let (client, _) = {
            let mut m = s.m.lock().expect("lock");
            authenticate(&s, &mut m, &f, &issuer)?
        };
        let url = format!("{}{}", base(&headers), uri.path());
        let proof = verify::dpop(
            headers.get("dpop").and_then(|h| h.to_str().ok()),
            "POST",
            &url,
            now(),
            None,
            None,
            &mut |jti, n, until| s.m.lock().expect("lock").replay_proofs.fresh(jti, n, until),
        )?;
        if f.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return Err(refuse(
                "unsupported_grant_type",
                "grant_type must be authorization_code",
            ));
        }
        let code = f
            .get("code")
            .ok_or_else(|| refuse("invalid_request", "code is required"))?;
        let p = codes()
            .lock()
            .expect("codes")
            .remove(code)
            .ok_or_else(|| refuse("invalid_grant", "unknown or used code"))?;
        if p.until < now() || p.client_id != client.id {
            return Err(refuse(
                "invalid_grant",
                "the code expired or belongs to another client",
            ));
        }
        if f.get("redirect_uri") != Some(&p.redirect_uri) {
            return Err(refuse("invalid_grant", "redirect_uri does not match"));
        }
        let verifier = f
            .get("code_verifier")
            .ok_or_else(|| refuse("invalid_grant", "code_verifier is required"))?;
        if sha256_b64u(verifier.as_bytes()) != p.challenge {
            return Err(refuse("invalid_grant", "PKCE verification failed"));
        }
        let user = s
            .config
            .users
            .iter()
            .find(|u| u.id == p.user)
            .ok_or_else(|| refuse("invalid_grant", "unknown user"))?;
        let n = now();
        let mut c = json!({
            "iss": issuer, "aud": f.get("resource").map_or(AUD_COLLECTOR, String::as_str), "client_id": client.id,
            "sub": b64u(&Sha256::digest(user.pid.as_bytes())[..16]), "iat": n, "nbf": n, "exp": n + s.config.token_secs,
            "jti": b64u(&rand_bytes()), "cnf": { "jkt": proof.jkt }, "scope": "openid",
            "name": user.name, CLAIM_PID: user.pid, "helsenorge://claims/identity/security_level": "4",
        });
        if let Some(r) = &p.represented {
            let who = s
                .config
                .users
                .iter()
                .find(|u| &u.id == r)
                .ok_or_else(|| refuse("invalid_grant", "unknown person"))?;
            c[CLAIM_REPRESENTATION] =
                json!([{ "pid": who.pid, "name": who.name, "relation": "parent" }]);
        }
        let k = signing(&s);
        let sign = |typ: &str, claims: &Value| {
            let si = signing_input(
                &json!({ "alg": "ES256", "typ": typ, "kid": kid(&k) }),
                claims,
            );
            let sig: p256::ecdsa::Signature = k.sign(si.as_bytes());
            compact(&si, &sig.to_bytes())
        };
        let access = sign("at+jwt", &c);
        let mut id = c.clone();
        id["aud"] = json!(client.id);
        id.as_object_mut().expect("claims").remove("cnf");
        Ok(
            json!({ "access_token": access, "token_type": "DPoP", "expires_in": s.config.token_secs, "id_token": sign("JWT", &id) }),
        )
    })();
    match result {
        Ok(b) => json_response(StatusCode::OK, &b, &[("cache-control", "no-store".into())]),
        Err(r) => oauth_error(&r, StatusCode::BAD_REQUEST, None),
    }
}
