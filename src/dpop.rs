//! DPoP proofs (RFC 9449): header `typ: dpop+jwt` with the public `jwk`, claims `jti`,
//! `htm`, `htu` (no query, no fragment), `iat`, and `ath`/`nonce` when they apply.

use crate::error::{Error, ErrorCode, Result};
use crate::jose::{sha256_b64u, Alg, PublicJwk};
use serde_json::{json, Map, Value};

/// `typ` of a DPoP proof.
pub const TYP_DPOP: &str = "dpop+jwt";

/// The `htu` of a request URL: scheme, authority and path, without query and fragment.
/// Refuses anything but an absolute http(s) URL with a host.
pub fn htu(url: &str) -> Result<&str> {
    let bad = |rule: &str| Error::new(ErrorCode::InvalidArgument, "url", rule.to_string());
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("must be an absolute http(s) URL"))?;
    let end_of_authority = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if end_of_authority == 0 {
        return Err(bad("must have a host"));
    }
    if url.len() > 8192 || url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad(
            "must not contain spaces or control characters and be at most 8 KiB",
        ));
    }
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    Ok(&url[..cut])
}

/// An HTTP method token, upper-case as DPoP compares it.
pub fn htm(method: &str) -> Result<String> {
    if method.is_empty() || method.len() > 16 || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            "method",
            "must be an HTTP method such as GET or POST",
        ));
    }
    Ok(method.to_ascii_uppercase())
}

/// What a proof binds.
#[derive(Clone, Debug)]
pub struct ProofParams<'a> {
    /// The proof key's public JWK.
    pub jwk: &'a PublicJwk,
    /// Signing algorithm (must fit the key).
    pub alg: Alg,
    /// HTTP method.
    pub method: &'a str,
    /// Request URL (query and fragment are dropped).
    pub url: &'a str,
    /// Unix seconds now.
    pub now: u64,
    /// A fresh unique id.
    pub jti: &'a str,
    /// The access token presented with the request, for `ath`.
    pub access_token: Option<&'a str>,
    /// The server's latest `DPoP-Nonce`.
    pub nonce: Option<&'a str>,
}

/// Header and claims of a DPoP proof.
pub fn proof(p: &ProofParams<'_>) -> Result<(Value, Value)> {
    if !p.jwk.fits(p.alg) {
        return Err(Error::new(
            ErrorCode::KeyError,
            "key",
            "the key does not fit the algorithm",
        ));
    }
    if p.jti.len() < 16 {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            "jti",
            "must have at least 16 characters of randomness",
        ));
    }
    let header = json!({ "typ": TYP_DPOP, "alg": p.alg.name(), "jwk": p.jwk.to_value() });
    let mut c = Map::new();
    c.insert("jti".into(), json!(p.jti));
    c.insert("htm".into(), json!(htm(p.method)?));
    c.insert("htu".into(), json!(htu(p.url)?));
    c.insert("iat".into(), json!(p.now));
    if let Some(t) = p.access_token {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "accessToken",
                "must be a non-empty token of visible ASCII characters",
            ));
        }
        c.insert("ath".into(), json!(sha256_b64u(t.as_bytes())));
    }
    if let Some(n) = p.nonce {
        // RFC 9449 §8.1: nonce = 1*NQCHAR, visible ASCII but `"` and `\`.
        let nqchar = |b: u8| b.is_ascii_graphic() && b != b'"' && b != b'\\';
        if n.is_empty() || n.len() > 1024 || !n.bytes().all(nqchar) {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "nonce",
                "must be 1 to 1024 visible ASCII characters, not a quote or backslash",
            ));
        }
        c.insert("nonce".into(), json!(n));
    }
    Ok((header, Value::Object(c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::b64u;

    fn key() -> PublicJwk {
        PublicJwk::from_value(
            &json!({"kty": "EC", "crv": "P-256", "x": b64u(&[1; 32]), "y": b64u(&[2; 32])}),
            false,
            "$",
        )
        .unwrap()
    }

    #[test]
    fn htu_drops_query_and_fragment() {
        assert_eq!(
            htu("https://a.example/p/q?x=1#f").unwrap(),
            "https://a.example/p/q"
        );
        assert_eq!(htu("https://a.example#f").unwrap(), "https://a.example");
        assert_eq!(
            htu("http://127.0.0.1:8080/connect/token").unwrap(),
            "http://127.0.0.1:8080/connect/token"
        );
        for bad in [
            "ftp://a",
            "/relative",
            "https://",
            "https:///path",
            "https://a b/",
            "",
        ] {
            assert!(htu(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn proof_claims() {
        let k = key();
        let p = ProofParams {
            jwk: &k,
            alg: Alg::Es256,
            method: "post",
            url: "https://x.example/t?a=b",
            now: 5,
            jti: "0123456789abcdef",
            access_token: Some("tok"),
            nonce: Some("n1"),
        };
        let (h, c) = proof(&p).unwrap();
        assert_eq!(h["typ"], "dpop+jwt");
        assert_eq!(h["jwk"]["kty"], "EC");
        assert!(h["jwk"].get("d").is_none());
        assert_eq!(c["htm"], "POST");
        assert_eq!(c["htu"], "https://x.example/t");
        // ath = base64url(SHA-256("tok")).
        assert_eq!(c["ath"], sha256_b64u(b"tok"));
        assert_eq!(c["nonce"], "n1");
        let p2 = ProofParams {
            access_token: None,
            nonce: None,
            ..p.clone()
        };
        let (_, c2) = proof(&p2).unwrap();
        assert!(c2.get("ath").is_none() && c2.get("nonce").is_none());
        let p3 = ProofParams {
            alg: Alg::Rs256,
            ..p.clone()
        };
        assert_eq!(proof(&p3).unwrap_err().code(), ErrorCode::KeyError);
        let p4 = ProofParams {
            method: "GE T",
            ..p
        };
        assert!(proof(&p4).is_err());
    }
}
