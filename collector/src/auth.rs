//! Who may call: DPoP-bound access tokens (RFC 9449) from a configured OpenID issuer, verified
//! against the issuer's JWKS: HelseID for writers and log control, a Helsenorge-style issuer
//! for citizens. Every refusal is a [`Denied`] with an OAuth error code; nothing here logs or
//! returns a token or a national id.

use crate::jws;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use tillit::jose::{sha256_b64u, PublicJwk};

/// The audience a collector token must carry (the collector's HelseID resource).
pub const AUDIENCE: &str = "tillit:collector";
/// Writing audit records (device logs, ITI-20).
pub const SCOPE_WRITE: &str = "tillit:collector/audit.write";
/// Log control: ITI-81, reports, the device logs' state.
pub const SCOPE_LOG_CONTROL: &str = "tillit:collector/log-control";
/// HelseID's claim for the client's organisation (the log's owner).
pub const CLAIM_ORG: &str = "helseid://claims/client/claims/orgnr_parent";
/// Clock skew allowed, seconds.
pub const SKEW: u64 = 30;
/// How long a DPoP proof is accepted after its `iat`, seconds.
pub const PROOF_LIFETIME: u64 = 60;

/// The citizen token's claims, configurable in one place: Helsenorge's claim names are not
/// published (national-infrastructure.md, "Citizens").
#[derive(Clone, Debug)]
pub struct CitizenClaims {
    /// The logged-in citizen's national id.
    pub pid: String,
    /// The people they act for: an array of `{ pid, relation }` (or one such object).
    pub represented: String,
}

impl Default for CitizenClaims {
    fn default() -> Self {
        CitizenClaims {
            pid: "helsenorge://claims/identity/pid".into(),
            represented: "helsenorge://claims/representation".into(),
        }
    }
}

/// A refusal: HTTP status, OAuth error, description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    /// 401 or 403.
    pub status: u16,
    /// `invalid_token`, `invalid_dpop_proof`, `insufficient_scope`.
    pub error: &'static str,
    /// Why, in words.
    pub description: String,
}

fn deny(error: &'static str, description: impl Into<String>) -> Denied {
    Denied {
        status: if error == "insufficient_scope" {
            403
        } else {
            401
        },
        error,
        description: description.into(),
    }
}

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An OpenID issuer: its identifier and signing keys (fetched from its JWKS, again when a
/// token names an unknown `kid`, at most every 30 s).
pub struct Issuer {
    /// `issuer` from its discovery document.
    pub issuer: String,
    jwks_uri: String,
    keys: RwLock<Vec<(Option<String>, PublicJwk)>>,
    fetched_at: Mutex<u64>,
}

fn get_json(url: &str) -> Result<Value, String> {
    ureq::get(url)
        .timeout(std::time::Duration::from_secs(10))
        .call()
        .map_err(|e| format!("{url}: {e}"))?
        .into_json::<Value>()
        .map_err(|e| format!("{url}: not JSON: {e}"))
}

fn parse_jwks(v: &Value) -> Vec<(Option<String>, PublicJwk)> {
    v.get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|k| {
            k.get("use")
                .and_then(Value::as_str)
                .is_none_or(|u| u == "sig")
        })
        .filter_map(|k| {
            let jwk = PublicJwk::from_value(k, true, "jwks").ok()?;
            Some((k.get("kid").and_then(Value::as_str).map(String::from), jwk))
        })
        .collect()
}

impl Issuer {
    /// Reads `{url}/.well-known/openid-configuration` and the JWKS it names.
    pub fn discover(url: &str) -> Result<Issuer, String> {
        let d = get_json(&format!(
            "{}/.well-known/openid-configuration",
            url.trim_end_matches('/')
        ))?;
        let issuer = d
            .get("issuer")
            .and_then(Value::as_str)
            .ok_or("discovery: issuer is missing")?
            .to_string();
        let jwks_uri = d
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or("discovery: jwks_uri is missing")?
            .to_string();
        let keys = parse_jwks(&get_json(&jwks_uri)?);
        if keys.is_empty() {
            return Err(format!("{jwks_uri}: no usable signing keys"));
        }
        Ok(Issuer {
            issuer,
            jwks_uri,
            keys: RwLock::new(keys),
            fetched_at: Mutex::new(now()),
        })
    }

    fn key(&self, kid: Option<&str>) -> Vec<PublicJwk> {
        let pick = |keys: &[(Option<String>, PublicJwk)]| -> Vec<PublicJwk> {
            keys.iter()
                .filter(|(k, _)| kid.is_none() || k.as_deref() == kid)
                .map(|(_, j)| j.clone())
                .collect()
        };
        let found = pick(&self.keys.read().expect("keys"));
        if !found.is_empty() {
            return found;
        }
        // A rotated key: fetch the JWKS again, not more often than every 30 s.
        {
            let mut at = self.fetched_at.lock().expect("fetched_at");
            if now() < *at + 30 {
                return Vec::new();
            }
            *at = now();
        }
        if let Ok(v) = get_json(&self.jwks_uri) {
            let keys = parse_jwks(&v);
            if !keys.is_empty() {
                *self.keys.write().expect("keys") = keys;
            }
        }
        pick(&self.keys.read().expect("keys"))
    }

    /// Verifies an access token of this issuer for `audience`: its claims.
    pub fn verify_token(&self, token: &str, audience: &str) -> Result<Value, Denied> {
        let (p, alg) =
            jws::parse(token).ok_or_else(|| deny("invalid_token", "not a signed JWT"))?;
        if let Some(t) = p.header.get("typ").and_then(Value::as_str) {
            if !t.eq_ignore_ascii_case("at+jwt") && !t.eq_ignore_ascii_case("jwt") {
                return Err(deny("invalid_token", "header typ must be at+jwt"));
            }
        }
        let kid = p.header.get("kid").and_then(Value::as_str);
        if !self.key(kid).iter().any(|k| jws::signature_ok(&p, alg, k)) {
            return Err(deny(
                "invalid_token",
                "the signature does not verify with the issuer's keys",
            ));
        }
        let c = p.claims;
        if c.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(deny("invalid_token", "iss is not the configured issuer"));
        }
        let aud_ok = match c.get("aud") {
            Some(Value::String(a)) => a == audience,
            Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(audience)),
            _ => false,
        };
        if !aud_ok {
            return Err(deny(
                "invalid_token",
                format!("aud must include {audience}"),
            ));
        }
        let n = now();
        let exp = c
            .get("exp")
            .and_then(Value::as_u64)
            .ok_or_else(|| deny("invalid_token", "exp is required"))?;
        if exp + SKEW < n {
            return Err(deny("invalid_token", "the access token has expired"));
        }
        if c.get("nbf")
            .and_then(Value::as_u64)
            .is_some_and(|nbf| nbf > n + SKEW)
        {
            return Err(deny("invalid_token", "the access token is not valid yet"));
        }
        Ok(c)
    }
}

/// A request's authorisation: the token and DPoP proof headers, method and URL.
pub struct Presented<'a> {
    /// `Authorization`.
    pub authorization: Option<&'a str>,
    /// `DPoP`.
    pub dpop: Option<&'a str>,
    /// The method.
    pub method: &'a str,
    /// The URL the client called (the collector's public URL and the path, no query).
    pub url: &'a str,
}

/// Seen DPoP proof ids, forgotten after their lifetime.
#[derive(Default)]
pub struct Replay {
    seen: Mutex<HashMap<String, u64>>,
}

impl Replay {
    fn fresh(&self, jti: &str, n: u64) -> bool {
        let mut s = self.seen.lock().expect("replay");
        if s.len() > 10_000 {
            s.retain(|_, until| *until >= n);
        }
        if s.get(jti).is_some_and(|until| *until >= n) {
            return false;
        }
        s.insert(jti.to_string(), n + PROOF_LIFETIME + 2 * SKEW);
        true
    }
}

/// Checks a DPoP-bound token and its proof with one of `issuers`: the token's claims.
pub fn authenticate(
    p: &Presented<'_>,
    issuers: &[std::sync::Arc<Issuer>],
    audience: &str,
    replay: &Replay,
) -> Result<Value, Denied> {
    let token = p
        .authorization
        .and_then(|a| a.strip_prefix("DPoP "))
        .ok_or_else(|| {
            deny(
                "invalid_token",
                "a DPoP-bound access token is required (Authorization: DPoP …)",
            )
        })?;
    let iss = jws::parse(token)
        .and_then(|(p, _)| {
            p.claims
                .get("iss")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .ok_or_else(|| deny("invalid_token", "not a signed JWT with iss"))?;
    let issuer = issuers
        .iter()
        .find(|i| i.issuer == iss)
        .ok_or_else(|| deny("invalid_token", "the token's issuer is not trusted here"))?;
    let claims = issuer.verify_token(token, audience)?;
    let jkt = claims
        .pointer("/cnf/jkt")
        .and_then(Value::as_str)
        .ok_or_else(|| deny("invalid_token", "the token is not DPoP-bound (cnf.jkt)"))?;
    let proof_jkt = dpop(p, token, replay)?;
    if proof_jkt != jkt {
        return Err(deny(
            "invalid_token",
            "the proof key does not match the token's cnf.jkt",
        ));
    }
    Ok(claims)
}

/// Verifies the DPoP proof of a resource request: the proof key's thumbprint.
fn dpop(p: &Presented<'_>, token: &str, replay: &Replay) -> Result<String, Denied> {
    let bad = |why: &str| deny("invalid_dpop_proof", why.to_string());
    let proof = p.dpop.ok_or_else(|| bad("the DPoP header is required"))?;
    let (parsed, alg) =
        jws::parse(proof).ok_or_else(|| bad("not a compact JWS with a supported alg"))?;
    if parsed.header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(bad("header typ must be dpop+jwt"));
    }
    let jwk = parsed
        .header
        .get("jwk")
        .and_then(|j| PublicJwk::from_value(j, false, "jwk").ok())
        .ok_or_else(|| bad("header jwk must be a public EC P-256 or RSA key"))?;
    if !jws::signature_ok(&parsed, alg, &jwk) {
        return Err(bad("the signature does not verify with the embedded jwk"));
    }
    let c = &parsed.claims;
    if c.get("htm").and_then(Value::as_str) != Some(p.method) {
        return Err(bad("htm does not match the request method"));
    }
    if c.get("htu").and_then(Value::as_str) != Some(p.url) {
        return Err(bad("htu does not match the request URL"));
    }
    let n = now();
    let iat = c
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("iat is required"))?;
    if iat + PROOF_LIFETIME < n || iat > n + SKEW {
        return Err(bad("iat is outside the accepted window"));
    }
    if c.get("ath").and_then(Value::as_str) != Some(sha256_b64u(token.as_bytes()).as_str()) {
        return Err(bad("ath does not match the access token"));
    }
    let jti = c
        .get("jti")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("jti is required"))?;
    if !replay.fresh(jti, n) {
        return Err(bad("jti was used before (replay)"));
    }
    Ok(jwk.thumbprint())
}

/// Whether the token's `scope` holds `scope`.
pub fn has_scope(claims: &Value, scope: &str) -> bool {
    let list = match claims.get("scope") {
        Some(Value::String(s)) => s.split(' ').map(str::to_string).collect::<Vec<_>>(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    list.iter().any(|s| s == scope)
}

/// The scope check: 403 `insufficient_scope` naming the scope.
pub fn need_scope(claims: &Value, scope: &str) -> Result<(), Denied> {
    if has_scope(claims, scope) {
        Ok(())
    } else {
        Err(deny("insufficient_scope", format!("needs scope {scope}")))
    }
}
