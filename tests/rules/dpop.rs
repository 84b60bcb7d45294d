//! DPoP proofs and their parts (src/dpop.rs) against RFC 9449.

use serde_json::json;
use tillit::dpop::{htm, htu, proof, ProofParams};
use tillit::jose::{b64u, Alg, PublicJwk};
use tillit::ErrorCode;

fn key() -> PublicJwk {
    PublicJwk::from_value(
        &json!({"kty": "EC", "crv": "P-256", "x": b64u(&[1; 32]), "y": b64u(&[2; 32])}),
        false,
        "$",
    )
    .unwrap()
}

fn params(k: &PublicJwk) -> ProofParams<'_> {
    ProofParams {
        jwk: k,
        alg: Alg::Es256,
        method: "GET",
        url: "https://api.example/fhir/DocumentReference",
        now: 1_700_000_000,
        jti: "0123456789abcdef",
        access_token: None,
        nonce: None,
    }
}

/// A URL of exactly `len` bytes.
fn url_of(len: usize) -> String {
    let base = "https://a.example/";
    format!("{base}{}", "p".repeat(len - base.len()))
}

#[test]
fn htu_accepts_a_url_of_8_kib_and_refuses_one_byte_more() {
    // tillit's documented limit ("at most 8 KiB", src/dpop.rs): the edge itself is allowed.
    let at = url_of(8192);
    assert_eq!(htu(&at).unwrap(), at);
    let over = url_of(8193);
    let e = htu(&over).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
}

#[test]
fn htm_is_a_non_empty_method_token() {
    // RFC 9449 §4.2: htm is "the value of the HTTP method (Section 9.1 of RFC 9110) of the
    // request"; RFC 9110 §9.1: method = token, and a token is 1*tchar: never empty.
    assert!(htm("").is_err());
    assert_eq!(htm("get").unwrap(), "GET");
    // The longest method tillit accepts (16 letters) and one letter more.
    assert_eq!(htm(&"A".repeat(16)).unwrap(), "A".repeat(16));
    assert!(htm(&"A".repeat(17)).is_err());
}

#[test]
fn proof_jti_carries_at_least_96_bits() {
    // RFC 9449 §4.2: jti "can be accomplished by encoding (base64url or any other suitable
    // encoding) at least 96 bits of pseudorandom data": 96 bits are 16 base64url characters.
    let k = key();
    let ok = params(&k);
    assert!(proof(&ok).is_ok());
    let short = ProofParams {
        jti: "0123456789abcde",
        ..ok
    };
    assert_eq!(
        proof(&short).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn proof_refuses_an_empty_access_token() {
    // RFC 9449 §4.2: ath is the hash of "the ASCII encoding of the associated access token's
    // value"; RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / ... ): an access token is never
    // empty, so an empty one is a caller's mistake, not "no token".
    let k = key();
    let p = ProofParams {
        access_token: Some(""),
        ..params(&k)
    };
    let e = proof(&p).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert_eq!(e.path(), "accessToken");
}

#[test]
fn proof_nonce_is_1_to_1024_nqchars() {
    // RFC 9449 §8.1: nonce = 1*NQCHAR; NQCHAR = %x21 / %x23-5B / %x5D-7E (visible ASCII but
    // the double quote and the backslash). 1024 is tillit's bound on what it echoes.
    let k = key();
    let base = params(&k);
    for (nonce, ok) in [
        ("".to_string(), false),
        ("n".to_string(), true),
        ("x".repeat(1024), true),
        ("x".repeat(1025), false),
        ("a\"b".to_string(), false),
        ("a\\b".to_string(), false),
        ("!#[]~".to_string(), true),
    ] {
        let p = ProofParams {
            nonce: Some(&nonce),
            ..base.clone()
        };
        match proof(&p) {
            Ok((_, c)) => {
                assert!(ok, "nonce {nonce:?} accepted");
                assert_eq!(c["nonce"], nonce.as_str());
            }
            Err(e) => {
                assert!(!ok, "nonce {nonce:?} refused");
                assert_eq!(e.path(), "nonce");
            }
        }
    }
}
