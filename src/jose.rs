//! The JOSE pieces tillit needs: the three signing algorithms, base64url, compact JWS
//! assembly and reading, and public JWKs with their RFC 7638 thumbprints.
//!
//! Signing itself happens in the platform (WebCrypto, or a caller's signer); this module
//! builds exactly the bytes that are signed and assembles the result.

use crate::error::{Error, ErrorCode, Result};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The algorithms tillit signs and verifies with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384 (HelseID lists it for DPoP and client assertions).
    Es384,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256 and MGF1, salt length 32.
    Ps256,
}

impl Alg {
    /// All supported algorithms.
    pub const ALL: [Alg; 4] = [Alg::Es256, Alg::Es384, Alg::Rs256, Alg::Ps256];

    /// The JOSE name.
    pub const fn name(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::Rs256 => "RS256",
            Alg::Ps256 => "PS256",
        }
    }

    /// Parses a JOSE `alg`, refusing anything but the four.
    pub fn parse(s: &str, path: &str) -> Result<Self> {
        Alg::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            Error::new(
                ErrorCode::UnsupportedAlgorithm,
                path,
                "must be ES256, ES384, RS256 or PS256",
            )
        })
    }

    /// The JWK `kty` a key for this algorithm has.
    pub const fn kty(self) -> &'static str {
        match self {
            Alg::Es256 | Alg::Es384 => "EC",
            Alg::Rs256 | Alg::Ps256 => "RSA",
        }
    }
}

/// base64url without padding.
pub fn b64u(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes base64url without padding.
pub fn b64u_decode(s: &str, path: &str) -> Result<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(s).map_err(|_| {
        Error::new(
            ErrorCode::InvalidArgument,
            path,
            "is not base64url without padding",
        )
    })
}

/// base64url(SHA-256(bytes)): DPoP `ath`, PKCE `S256`.
pub fn sha256_b64u(bytes: &[u8]) -> String {
    b64u(&Sha256::digest(bytes))
}

/// The JWS signing input `b64u(header) "." b64u(claims)`.
pub fn signing_input(header: &Value, claims: &Value) -> String {
    let h = serde_json::to_vec(header).expect("a Value always serialises");
    let c = serde_json::to_vec(claims).expect("a Value always serialises");
    format!("{}.{}", b64u(&h), b64u(&c))
}

/// Completes a compact JWS from its signing input and signature bytes.
pub fn compact(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", b64u(signature))
}

/// A compact JWS split into its parts, decoded but not verified.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// The protected header.
    pub header: Value,
    /// The claims.
    pub claims: Value,
    /// The signature bytes.
    pub signature: Vec<u8>,
    /// The signing input (what the signature covers).
    pub signing_input: String,
}

/// Splits and decodes a compact JWS (at most 64 KiB); verifies nothing.
pub fn parse_compact(jws: &str, path: &str) -> Result<Parsed> {
    if jws.len() > 65_536 {
        return Err(Error::new(
            ErrorCode::InputTooLarge,
            path,
            "a JWS longer than 64 KiB is refused",
        ));
    }
    let mut parts = jws.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            path,
            "a compact JWS has exactly three dot-separated parts",
        ));
    };
    let decode_json = |part: &str, what: &str| -> Result<Value> {
        let bytes = b64u_decode(part, &format!("{path}.{what}"))?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| {
            Error::new(
                ErrorCode::MalformedJson,
                format!("{path}.{what}"),
                "is not JSON",
            )
        })?;
        if !v.is_object() {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("{path}.{what}"),
                "must be a JSON object",
            ));
        }
        Ok(v)
    };
    Ok(Parsed {
        header: decode_json(h, "header")?,
        claims: decode_json(c, "claims")?,
        signature: b64u_decode(s, &format!("{path}.signature"))?,
        signing_input: format!("{h}.{c}"),
    })
}

/// A public key as a JWK, checked to be public (no private members) and of a supported type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicJwk {
    key: PublicKey,
}

/// The public key material of a supported JWK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// P-256: the point's coordinates, 32 bytes each.
    P256 {
        /// x
        x: [u8; 32],
        /// y
        y: [u8; 32],
    },
    /// P-384: the point's coordinates, 48 bytes each.
    P384 {
        /// x
        x: [u8; 48],
        /// y
        y: [u8; 48],
    },
    /// RSA: modulus and public exponent, big-endian.
    Rsa {
        /// The modulus (at least 2048 bits).
        n: Vec<u8>,
        /// The public exponent.
        e: Vec<u8>,
    },
}

const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

impl PublicJwk {
    /// Reads a JWK; private members are stripped when `strip_private`, refused otherwise.
    /// Only `kty`, `crv`, `x`, `y`, `n` and `e` are read (RFC 7638's members); `kid`, `alg`,
    /// `x5u` and the like are ignored.
    pub fn from_value(v: &Value, strip_private: bool, path: &str) -> Result<Self> {
        let obj = v
            .as_object()
            .ok_or_else(|| Error::new(ErrorCode::KeyError, path, "a JWK must be an object"))?;
        if let Some(k) = obj.keys().find(|k| PRIVATE_MEMBERS.contains(&k.as_str())) {
            if !strip_private {
                return Err(Error::new(
                    ErrorCode::KeyError,
                    format!("{path}.{k}"),
                    "a public JWK must not hold private key members",
                ));
            }
        }
        let member = |k: &str| -> Result<&str> {
            obj.get(k).and_then(Value::as_str).ok_or_else(|| {
                Error::new(
                    ErrorCode::KeyError,
                    format!("{path}.{k}"),
                    "is required and must be a string",
                )
            })
        };
        let bytes = |k: &str| -> Result<Vec<u8>> {
            Base64UrlUnpadded::decode_vec(member(k)?).map_err(|_| {
                Error::new(
                    ErrorCode::KeyError,
                    format!("{path}.{k}"),
                    "is not base64url without padding",
                )
            })
        };
        let key = match member("kty")? {
            "EC" => {
                fn coordinate<const N: usize>(b: Vec<u8>, path: &str, k: &str) -> Result<[u8; N]> {
                    b.try_into().map_err(|_| {
                        Error::new(
                            ErrorCode::KeyError,
                            format!("{path}.{k}"),
                            format!("this curve's JWK has {N}-byte x and y"),
                        )
                    })
                }
                match member("crv")? {
                    "P-256" => PublicKey::P256 {
                        x: coordinate(bytes("x")?, path, "x")?,
                        y: coordinate(bytes("y")?, path, "y")?,
                    },
                    "P-384" => PublicKey::P384 {
                        x: coordinate(bytes("x")?, path, "x")?,
                        y: coordinate(bytes("y")?, path, "y")?,
                    },
                    _ => {
                        return Err(Error::new(
                            ErrorCode::UnsupportedAlgorithm,
                            format!("{path}.crv"),
                            "only the P-256 and P-384 curves are supported",
                        ))
                    }
                }
            }
            "RSA" => {
                let n = bytes("n")?;
                let e = bytes("e")?;
                // A canonical modulus has no leading zero byte; 2048 bits is 256 bytes.
                if n.len() < 256 || n[0] == 0 {
                    return Err(Error::new(
                        ErrorCode::KeyError,
                        format!("{path}.n"),
                        "RSA keys must be at least 2048 bits",
                    ));
                }
                if e.is_empty() || e[0] == 0 {
                    return Err(Error::new(
                        ErrorCode::KeyError,
                        format!("{path}.e"),
                        "must be a positive integer without leading zero bytes",
                    ));
                }
                PublicKey::Rsa { n, e }
            }
            "oct" => {
                return Err(Error::new(
                    ErrorCode::KeyError,
                    format!("{path}.kty"),
                    "a symmetric key is not a public key",
                ))
            }
            _ => {
                return Err(Error::new(
                    ErrorCode::UnsupportedAlgorithm,
                    format!("{path}.kty"),
                    "only EC (P-256, P-384) and RSA keys are supported",
                ))
            }
        };
        Ok(PublicJwk { key })
    }

    /// Whether this key fits `alg`.
    pub fn fits(&self, alg: Alg) -> bool {
        matches!(
            (&self.key, alg),
            (PublicKey::P256 { .. }, Alg::Es256)
                | (PublicKey::P384 { .. }, Alg::Es384)
                | (PublicKey::Rsa { .. }, Alg::Rs256 | Alg::Ps256)
        )
    }

    /// The minimal public JWK (only the members RFC 7638 names), as embedded in DPoP proofs.
    pub fn to_value(&self) -> Value {
        match &self.key {
            PublicKey::P256 { x, y } => {
                json!({ "kty": "EC", "crv": "P-256", "x": b64u(x), "y": b64u(y) })
            }
            PublicKey::P384 { x, y } => {
                json!({ "kty": "EC", "crv": "P-384", "x": b64u(x), "y": b64u(y) })
            }
            PublicKey::Rsa { n, e } => json!({ "kty": "RSA", "n": b64u(n), "e": b64u(e) }),
        }
    }

    /// The RFC 7638 SHA-256 thumbprint, base64url.
    pub fn thumbprint(&self) -> String {
        // Required members in lexicographic order, no whitespace: exactly what to_value()
        // yields once its keys are sorted, which canonical JSON does.
        sha256_b64u(crate::canon::canonical(&self.to_value()).as_bytes())
    }

    /// The key material.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 section 3.1.
        let v = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let k = PublicJwk::from_value(&v, false, "$").unwrap();
        assert_eq!(
            k.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn private_members_refused_or_stripped() {
        let v = json!({"kty": "EC", "crv": "P-256", "x": b64u(&[1; 32]), "y": b64u(&[2; 32]), "d": b64u(&[3; 32])});
        assert_eq!(
            PublicJwk::from_value(&v, false, "$.jwk")
                .unwrap_err()
                .path(),
            "$.jwk.d"
        );
        let k = PublicJwk::from_value(&v, true, "$").unwrap();
        assert!(k.to_value().get("d").is_none());
        assert!(k.fits(Alg::Es256) && !k.fits(Alg::Rs256));
    }

    #[test]
    fn weak_or_unknown_keys_refused() {
        let small = json!({"kty": "RSA", "n": b64u(&[0xff; 128]), "e": "AQAB"});
        assert_eq!(
            PublicJwk::from_value(&small, false, "$")
                .unwrap_err()
                .path(),
            "$.n"
        );
        // P-384 (ES384) is read; P-521 is not; a P-384 key with P-256-sized coordinates is refused.
        let p384 = json!({"kty": "EC", "crv": "P-384", "x": b64u(&[1; 48]), "y": b64u(&[2; 48])});
        let k = PublicJwk::from_value(&p384, false, "$").unwrap();
        assert!(k.fits(Alg::Es384) && !k.fits(Alg::Es256));
        assert_eq!(k.to_value(), p384);
        let p521 = json!({"kty": "EC", "crv": "P-521", "x": b64u(&[1; 66]), "y": b64u(&[2; 66])});
        assert_eq!(
            PublicJwk::from_value(&p521, false, "$").unwrap_err().code(),
            ErrorCode::UnsupportedAlgorithm
        );
        let short384 =
            json!({"kty": "EC", "crv": "P-384", "x": b64u(&[1; 32]), "y": b64u(&[2; 48])});
        assert_eq!(
            PublicJwk::from_value(&short384, false, "$")
                .unwrap_err()
                .path(),
            "$.x"
        );
        let oct = PublicJwk::from_value(&json!({"kty": "oct", "k": "AAAA"}), false, "$");
        assert_eq!(oct.unwrap_err().code(), ErrorCode::KeyError);
        let okp = json!({"kty": "OKP", "crv": "Ed25519", "x": b64u(&[1; 32])});
        assert_eq!(
            PublicJwk::from_value(&okp, false, "$").unwrap_err().path(),
            "$.kty"
        );
        let short = json!({"kty": "EC", "crv": "P-256", "x": b64u(&[1; 31]), "y": b64u(&[2; 32])});
        assert_eq!(
            PublicJwk::from_value(&short, false, "$")
                .unwrap_err()
                .path(),
            "$.x"
        );
        let padded = json!({"kty": "EC", "crv": "P-256", "x": format!("{}=", b64u(&[1; 32])), "y": b64u(&[2; 32])});
        assert_eq!(
            PublicJwk::from_value(&padded, false, "$")
                .unwrap_err()
                .code(),
            ErrorCode::KeyError
        );
        let no_y = json!({"kty": "EC", "crv": "P-256", "x": b64u(&[1; 32])});
        assert_eq!(
            PublicJwk::from_value(&no_y, false, "$").unwrap_err().path(),
            "$.y"
        );
        assert!(PublicJwk::from_value(&json!("x"), false, "$").is_err());
    }

    #[test]
    fn compact_round_trip_and_errors() {
        let si = signing_input(&json!({"alg": "ES256"}), &json!({"a": 1}));
        let jws = compact(&si, &[9, 9, 9]);
        let p = parse_compact(&jws, "$").unwrap();
        assert_eq!(p.header["alg"], "ES256");
        assert_eq!(p.claims["a"], 1);
        assert_eq!(p.signature, vec![9, 9, 9]);
        assert_eq!(p.signing_input, si);
        assert!(parse_compact("a.b", "$").is_err());
        assert!(parse_compact("a.b.c.d", "$").is_err());
        assert!(parse_compact("!!.e30.AA", "$").is_err());
        assert!(parse_compact(&format!("{}.e30.AA", b64u(b"[1]")), "$").is_err());
    }

    #[test]
    fn algorithms() {
        for a in Alg::ALL {
            assert_eq!(Alg::parse(a.name(), "$").unwrap(), a);
        }
        for bad in ["none", "HS256", "es256", "RS512", "ES512", ""] {
            assert_eq!(
                Alg::parse(bad, "$.alg").unwrap_err().code(),
                ErrorCode::UnsupportedAlgorithm
            );
        }
    }
}
