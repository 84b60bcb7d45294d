//! Verification the emulator does as HelseID and the document API would: JWS signatures
//! (ES256, RS256, PS256), client assertions (private_key_jwt), PAR request objects and
//! DPoP proofs, with replay caches and nonces. Every refusal is an `(error, description)`.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::Value;
use std::collections::HashMap;
use tillit::jose::{parse_compact, sha256_b64u, Alg, Parsed, PublicJwk};

/// Allowed clock skew, seconds.
pub const SKEW: u64 = 30;

/// An OAuth-style refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `error`.
    pub error: &'static str,
    /// `error_description`.
    pub description: String,
}

/// Shorthand.
pub fn refuse(error: &'static str, description: impl Into<String>) -> Refusal {
    Refusal {
        error,
        description: description.into(),
    }
}

fn b64(s: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(s).ok()
}

/// Verifies a JWS signature with a public JWK.
pub fn signature_ok(p: &Parsed, alg: Alg, jwk: &Value) -> bool {
    let msg = p.signing_input.as_bytes();
    match alg {
        Alg::Es256 | Alg::Es384 => {
            let (Some(x), Some(y)) = (
                jwk.get("x").and_then(Value::as_str).and_then(b64),
                jwk.get("y").and_then(Value::as_str).and_then(b64),
            ) else {
                return false;
            };
            let (n, ring_alg) = if alg == Alg::Es384 {
                (48, &ring::signature::ECDSA_P384_SHA384_FIXED)
            } else {
                (32, &ring::signature::ECDSA_P256_SHA256_FIXED)
            };
            if x.len() != n || y.len() != n || p.signature.len() != 2 * n {
                return false;
            }
            // SEC1 uncompressed point; ring checks it is on the curve.
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            ring::signature::UnparsedPublicKey::new(ring_alg, &point)
                .verify(msg, &p.signature)
                .is_ok()
        }
        Alg::Rs256 | Alg::Ps256 => {
            use rsa::signature::Verifier;
            let (Some(n), Some(e)) = (
                jwk.get("n").and_then(Value::as_str).and_then(b64),
                jwk.get("e").and_then(Value::as_str).and_then(b64),
            ) else {
                return false;
            };
            let Ok(key) = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(&n),
                rsa::BigUint::from_bytes_be(&e),
            ) else {
                return false;
            };
            if alg == Alg::Rs256 {
                let Ok(sig) = rsa::pkcs1v15::Signature::try_from(p.signature.as_slice()) else {
                    return false;
                };
                rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key)
                    .verify(msg, &sig)
                    .is_ok()
            } else {
                let Ok(sig) = rsa::pss::Signature::try_from(p.signature.as_slice()) else {
                    return false;
                };
                rsa::pss::VerifyingKey::<sha2::Sha256>::new(key)
                    .verify(msg, &sig)
                    .is_ok()
            }
        }
    }
}

/// A cache of seen `jti`s that forgets them after their lifetime.
#[derive(Default)]
pub struct Replay {
    seen: HashMap<String, u64>,
    pruned_at: u64,
}

impl Replay {
    /// Records `jti` until `until`; false if it was seen and is still remembered.
    pub fn fresh(&mut self, jti: &str, now: u64, until: u64) -> bool {
        // Forget expired ids at most once a second: pruning on every call is quadratic under load.
        if now != self.pruned_at {
            self.seen.retain(|_, exp| *exp + SKEW >= now);
            self.pruned_at = now;
        }
        if self.seen.contains_key(jti) {
            return false;
        }
        self.seen.insert(jti.to_string(), until.max(now + 2 * SKEW));
        true
    }
}

fn num(c: &Value, k: &str) -> Option<u64> {
    c.get(k).and_then(Value::as_u64)
}

/// A verified client-signed JWT (client assertion or request object).
pub struct ClientJwt {
    /// The claims.
    pub claims: Value,
}

/// Verifies a client assertion or request object: `typ`, algorithm, signature against one of
/// the client's keys, `iss`(/`sub`) = client, `aud` = issuer, lifetime ≤ 60 s, `nbf`, `exp`,
/// `jti` not replayed.
#[allow(clippy::too_many_arguments)] // each input is a distinct check; a struct would only rename them
pub fn client_jwt(
    jwt: &str,
    typ: &str,
    client_keys: &[Value],
    client_id: &str,
    issuer: &str,
    now: u64,
    replay: &mut Replay,
    need_sub: bool,
) -> Result<ClientJwt, Refusal> {
    let what = if need_sub {
        "client assertion"
    } else {
        "request object"
    };
    let err = if need_sub {
        "invalid_client"
    } else {
        "invalid_request_object"
    };
    let p =
        parse_compact(jwt, "jwt").map_err(|_| refuse(err, format!("{what}: not a compact JWS")))?;
    if p.header.get("typ").and_then(Value::as_str) != Some(typ) {
        return Err(refuse(err, format!("{what}: header typ must be {typ}")));
    }
    let alg = Alg::parse(
        p.header.get("alg").and_then(Value::as_str).unwrap_or(""),
        "alg",
    )
    .map_err(|_| {
        refuse(
            err,
            format!("{what}: alg must be RS256, PS256, ES256 or ES384"),
        )
    })?;
    let kid = p.header.get("kid").and_then(Value::as_str);
    let candidates: Vec<&Value> = client_keys
        .iter()
        .filter(|k| {
            kid.is_none()
                || k.get("kid")
                    .and_then(Value::as_str)
                    .is_none_or(|x| Some(x) == kid)
                || PublicJwk::from_value(k, true, "k")
                    .is_ok_and(|j| Some(j.thumbprint().as_str()) == kid)
        })
        .filter(|k| PublicJwk::from_value(k, true, "k").is_ok_and(|j| j.fits(alg)))
        .collect();
    if !candidates.iter().any(|k| signature_ok(&p, alg, k)) {
        return Err(refuse(
            err,
            format!("{what}: signature does not verify with the client's registered keys"),
        ));
    }
    let c = p.claims;
    if c.get("iss").and_then(Value::as_str) != Some(client_id) {
        return Err(refuse(err, format!("{what}: iss must be the client_id")));
    }
    if need_sub && c.get("sub").and_then(Value::as_str) != Some(client_id) {
        return Err(refuse(err, format!("{what}: sub must be the client_id")));
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == issuer,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(issuer)),
        _ => false,
    };
    if !aud_ok {
        return Err(refuse(err, format!("{what}: aud must be the issuer")));
    }
    let (Some(iat), Some(exp)) = (num(&c, "iat"), num(&c, "exp")) else {
        return Err(refuse(err, format!("{what}: iat and exp are required")));
    };
    if exp < iat || exp - iat > 60 {
        return Err(refuse(
            err,
            format!("{what}: exp must be at most 60 seconds after iat"),
        ));
    }
    if exp + SKEW < now {
        return Err(refuse(err, format!("{what}: expired")));
    }
    if iat > now + SKEW || num(&c, "nbf").is_some_and(|nbf| nbf > now + SKEW) {
        return Err(refuse(
            err,
            format!("{what}: not yet valid (iat/nbf in the future)"),
        ));
    }
    let jti = c
        .get("jti")
        .and_then(Value::as_str)
        .ok_or_else(|| refuse(err, format!("{what}: jti is required")))?;
    if !replay.fresh(jti, now, exp) {
        return Err(refuse(err, format!("{what}: jti was used before (replay)")));
    }
    Ok(ClientJwt { claims: c })
}

/// A verified DPoP proof.
pub struct Proof {
    /// The key's RFC 7638 thumbprint.
    pub jkt: String,
}

/// Verifies a DPoP proof for `method` and `url`; `nonce` is the set of nonces accepted now
/// (`None`: no nonce required); `token` binds `ath`.
#[allow(clippy::too_many_arguments)]
pub fn dpop(
    proof: Option<&str>,
    method: &str,
    url: &str,
    now: u64,
    nonces: Option<&[String]>,
    token: Option<&str>,
    fresh: &mut dyn FnMut(&str, u64, u64) -> bool,
) -> Result<Proof, Refusal> {
    let proof = proof.ok_or_else(|| refuse("invalid_dpop_proof", "the DPoP header is required"))?;
    let p = parse_compact(proof, "dpop")
        .map_err(|_| refuse("invalid_dpop_proof", "not a compact JWS"))?;
    if p.header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(refuse("invalid_dpop_proof", "header typ must be dpop+jwt"));
    }
    let alg = Alg::parse(
        p.header.get("alg").and_then(Value::as_str).unwrap_or(""),
        "alg",
    )
    .map_err(|_| {
        refuse(
            "invalid_dpop_proof",
            "alg must be RS256, PS256, ES256 or ES384",
        )
    })?;
    let jwk_v = p
        .header
        .get("jwk")
        .ok_or_else(|| refuse("invalid_dpop_proof", "header jwk is required"))?;
    let jwk = PublicJwk::from_value(jwk_v, false, "jwk").map_err(|_| {
        refuse(
            "invalid_dpop_proof",
            "header jwk must be a public EC P-256, P-384 or RSA key",
        )
    })?;
    if !jwk.fits(alg) || !signature_ok(&p, alg, &jwk.to_value()) {
        return Err(refuse(
            "invalid_dpop_proof",
            "signature does not verify with the embedded jwk",
        ));
    }
    let c = &p.claims;
    if c.get("htm").and_then(Value::as_str) != Some(method) {
        return Err(refuse(
            "invalid_dpop_proof",
            "htm does not match the request method",
        ));
    }
    let htu = tillit::dpop::htu(url).map_err(|_| refuse("invalid_dpop_proof", "request URL"))?;
    if c.get("htu").and_then(Value::as_str) != Some(htu) {
        return Err(refuse(
            "invalid_dpop_proof",
            "htu does not match the request URL",
        ));
    }
    let iat = num(c, "iat").ok_or_else(|| refuse("invalid_dpop_proof", "iat is required"))?;
    if iat + 60 < now || iat > now + SKEW {
        return Err(refuse(
            "invalid_dpop_proof",
            "iat is outside the accepted window",
        ));
    }
    if let Some(t) = token {
        if c.get("ath").and_then(Value::as_str) != Some(sha256_b64u(t.as_bytes()).as_str()) {
            return Err(refuse(
                "invalid_dpop_proof",
                "ath does not match the access token",
            ));
        }
    }
    if let Some(accepted) = nonces {
        match c.get("nonce").and_then(Value::as_str) {
            Some(n) if accepted.iter().any(|a| a == n) => {}
            Some(_) => return Err(refuse("use_dpop_nonce", "the DPoP nonce is stale")),
            None => return Err(refuse("use_dpop_nonce", "a DPoP nonce is required")),
        }
    }
    let jti = c
        .get("jti")
        .and_then(Value::as_str)
        .ok_or_else(|| refuse("invalid_dpop_proof", "jti is required"))?;
    if !fresh(jti, now, iat + 60) {
        return Err(refuse("invalid_dpop_proof", "jti was used before (replay)"));
    }
    Ok(Proof {
        jkt: jwk.thumbprint(),
    })
}
