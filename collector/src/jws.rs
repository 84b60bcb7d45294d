//! JWS signature verification natively (checkpoints, access tokens, DPoP proofs): ES256 with
//! RustCrypto `p256`, RS256 and PS256 with `rsa`. Keys and compact serialisations are parsed
//! by the core (`tillit::jose`), so the collector reads them exactly as tillit writes them.

use serde_json::Value;
use tillit::jose::{parse_compact, Alg, Parsed, PublicJwk, PublicKey};

/// A compact JWS whose signature verified: its header and claims.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The protected header.
    pub header: Value,
    /// The payload as JSON.
    pub claims: Value,
    /// The algorithm it was signed with.
    pub alg: Alg,
}

/// Parses a compact JWS (without checking the signature).
pub fn parse(jws: &str) -> Option<(Parsed, Alg)> {
    let p = parse_compact(jws, "jws").ok()?;
    let alg = Alg::parse(p.header.get("alg").and_then(Value::as_str)?, "alg").ok()?;
    Some((p, alg))
}

/// Whether `p`'s signature verifies with `jwk` under `alg`.
pub fn signature_ok(p: &Parsed, alg: Alg, jwk: &PublicJwk) -> bool {
    if !jwk.fits(alg) {
        return false;
    }
    let msg = p.signing_input.as_bytes();
    match (alg, jwk.key()) {
        (Alg::Es256, PublicKey::P256 { x, y }) => {
            use p256::ecdsa::signature::Verifier;
            let mut sec1 = [0u8; 65];
            sec1[0] = 4;
            sec1[1..33].copy_from_slice(x);
            sec1[33..].copy_from_slice(y);
            let (Ok(key), Ok(sig)) = (
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1),
                p256::ecdsa::Signature::from_slice(&p.signature),
            ) else {
                return false;
            };
            key.verify(msg, &sig).is_ok()
        }
        (Alg::Rs256 | Alg::Ps256, PublicKey::Rsa { n, e }) => {
            use rsa::signature::Verifier;
            let Ok(key) = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(n),
                rsa::BigUint::from_bytes_be(e),
            ) else {
                return false;
            };
            if alg == Alg::Rs256 {
                rsa::pkcs1v15::Signature::try_from(p.signature.as_slice()).is_ok_and(|sig| {
                    rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key)
                        .verify(msg, &sig)
                        .is_ok()
                })
            } else {
                rsa::pss::Signature::try_from(p.signature.as_slice()).is_ok_and(|sig| {
                    rsa::pss::VerifyingKey::<sha2::Sha256>::new(key)
                        .verify(msg, &sig)
                        .is_ok()
                })
            }
        }
        _ => false,
    }
}

/// Verifies a compact JWS with one public JWK: its header and claims, or `None`.
pub fn verify(jws: &str, jwk: &PublicJwk) -> Option<Verified> {
    let (p, alg) = parse(jws)?;
    signature_ok(&p, alg, jwk).then(|| Verified {
        header: p.header,
        claims: p.claims,
        alg,
    })
}
