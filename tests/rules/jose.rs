//! JOSE pieces (src/jose.rs) against RFC 7515, 7517 and 7518.

use serde_json::{json, Value};
use tillit::jose::{b64u, parse_compact, Alg, PublicJwk, PublicKey};
use tillit::ErrorCode;

#[test]
fn each_algorithm_names_its_key_type() {
    // RFC 7518 §3.1: ES256/ES384 are ECDSA (kty EC, §6.2), RS256/PS256 are RSA (kty RSA, §6.3).
    for (alg, name, kty) in [
        (Alg::Es256, "ES256", "EC"),
        (Alg::Es384, "ES384", "EC"),
        (Alg::Rs256, "RS256", "RSA"),
        (Alg::Ps256, "PS256", "RSA"),
    ] {
        assert_eq!(alg.name(), name);
        assert_eq!(alg.kty(), kty);
        assert_eq!(Alg::parse(name, "$").unwrap(), alg);
    }
    // RFC 7515 §4.1.1: "none" and HS256 are never taken.
    for other in ["none", "HS256", "es256", "ES512"] {
        assert_eq!(
            Alg::parse(other, "$").unwrap_err().code(),
            ErrorCode::UnsupportedAlgorithm
        );
    }
}

/// A compact JWS of exactly `len` characters (`len` large), or None if none has that length.
fn jws_of(len: usize) -> String {
    let h = b64u(br#"{"alg":"ES256"}"#);
    for pad in 0..4 {
        let c = b64u(json!({ "p": "x".repeat(pad) }).to_string().as_bytes());
        let k = len - h.len() - c.len() - 2;
        let n = match k % 4 {
            0 => k / 4 * 3,
            2 => k / 4 * 3 + 1,
            3 => k / 4 * 3 + 2,
            _ => continue,
        };
        let s = b64u(&vec![7u8; n]);
        assert_eq!(s.len(), k);
        return format!("{h}.{c}.{s}");
    }
    unreachable!("one of four paddings fits")
}

#[test]
fn a_compact_jws_is_at_most_64_kib() {
    let at = jws_of(65_536);
    assert_eq!(at.len(), 65_536);
    let p = parse_compact(&at, "$").unwrap();
    assert_eq!(p.header["alg"], "ES256");
    let over = jws_of(65_537);
    assert_eq!(over.len(), 65_537);
    assert_eq!(
        parse_compact(&over, "$").unwrap_err().code(),
        ErrorCode::InputTooLarge
    );
}

#[test]
fn a_compact_jws_has_three_parts_of_base64url_json_objects() {
    // RFC 7515 §7.1: BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(signature).
    let h = b64u(br#"{"alg":"ES256"}"#);
    let c = b64u(br#"{"sub":"x"}"#);
    let p = parse_compact(&format!("{h}.{c}.AQID"), "$.jws").unwrap();
    assert_eq!(p.signature, [1, 2, 3]);
    assert_eq!(p.signing_input, format!("{h}.{c}"));
    assert_eq!(p.claims, json!({"sub": "x"}));
    for bad in [format!("{h}.{c}"), format!("{h}.{c}.AQID.AQID")] {
        assert_eq!(
            parse_compact(&bad, "$").unwrap_err().code(),
            ErrorCode::InvalidArgument
        );
    }
    let arr = b64u(b"[1]");
    let e = parse_compact(&format!("{h}.{arr}.AQID"), "$.jws").unwrap_err();
    assert_eq!(
        (e.code(), e.path()),
        (ErrorCode::InvalidArgument, "$.jws.claims")
    );
    let notjson = b64u(b"{x");
    let e = parse_compact(&format!("{notjson}.{c}.AQID"), "$.jws").unwrap_err();
    assert_eq!(
        (e.code(), e.path()),
        (ErrorCode::MalformedJson, "$.jws.header")
    );
    let e = parse_compact(&format!("{h}.{c}.A=="), "$.jws").unwrap_err();
    assert_eq!(e.path(), "$.jws.signature");
}

fn rsa(n: Vec<u8>, e: Vec<u8>) -> Value {
    json!({"kty": "RSA", "n": b64u(&n), "e": b64u(&e)})
}

#[test]
fn rsa_keys_have_at_least_2048_bits_and_canonical_integers() {
    // RFC 7518 §6.3.1: n and e are Base64urlUInt, "the minimum number of octets" (no leading
    // zero octet); §3.3: a key of 2048 bits or larger MUST be used with RS256.
    let e = vec![1, 0, 1];
    let mut n = vec![0xc5; 256];
    assert!(PublicJwk::from_value(&rsa(n.clone(), e.clone()), false, "$").is_ok());
    n[0] = 0;
    let err = PublicJwk::from_value(&rsa(n, e.clone()), false, "$").unwrap_err();
    assert_eq!(err.path(), "$.n");
    let err = PublicJwk::from_value(&rsa(vec![0xc5; 255], e.clone()), false, "$").unwrap_err();
    assert_eq!(err.path(), "$.n");
    let n = vec![0xc5; 256];
    for bad_e in [vec![], vec![0, 1, 0, 1]] {
        let err = PublicJwk::from_value(&rsa(n.clone(), bad_e), false, "$").unwrap_err();
        assert_eq!(err.path(), "$.e");
    }
}

#[test]
fn private_members_are_refused_or_stripped() {
    let mut v = json!({"kty": "EC", "crv": "P-256", "x": b64u(&[1; 32]), "y": b64u(&[2; 32])});
    v["d"] = json!(b64u(&[3; 32]));
    let e = PublicJwk::from_value(&v, false, "$.jwk").unwrap_err();
    assert_eq!((e.code(), e.path()), (ErrorCode::KeyError, "$.jwk.d"));
    let k = PublicJwk::from_value(&v, true, "$.jwk").unwrap();
    assert!(k.to_value().get("d").is_none());
}

#[test]
fn ec_keys_of_p256_and_p384_fit_their_algorithm_only() {
    let p256 = PublicJwk::from_value(
        &json!({"kty": "EC", "crv": "P-256", "x": b64u(&[1; 32]), "y": b64u(&[2; 32])}),
        false,
        "$",
    )
    .unwrap();
    let p384 = PublicJwk::from_value(
        &json!({"kty": "EC", "crv": "P-384", "x": b64u(&[1; 48]), "y": b64u(&[2; 48])}),
        false,
        "$",
    )
    .unwrap();
    let r = PublicJwk::from_value(&rsa(vec![0xc5; 256], vec![1, 0, 1]), false, "$").unwrap();
    assert!(matches!(p384.key(), PublicKey::P384 { .. }));
    for (k, fits) in [
        (&p256, [true, false, false, false]),
        (&p384, [false, true, false, false]),
        (&r, [false, false, true, true]),
    ] {
        for (alg, f) in Alg::ALL.into_iter().zip(fits) {
            assert_eq!(k.fits(alg), f, "{alg:?}");
        }
    }
    // RFC 7518 §6.2.1.2: for P-256 x is 32 octets; P-384 48.
    let short = json!({"kty": "EC", "crv": "P-384", "x": b64u(&[1; 32]), "y": b64u(&[2; 48])});
    assert_eq!(
        PublicJwk::from_value(&short, false, "$")
            .unwrap_err()
            .path(),
        "$.x"
    );
    let p521 = json!({"kty": "EC", "crv": "P-521", "x": b64u(&[1; 66]), "y": b64u(&[2; 66])});
    let e = PublicJwk::from_value(&p521, false, "$").unwrap_err();
    assert_eq!(
        (e.code(), e.path()),
        (ErrorCode::UnsupportedAlgorithm, "$.crv")
    );
    let oct = json!({"kty": "oct", "k": "AQID"});
    assert_eq!(
        PublicJwk::from_value(&oct, false, "$").unwrap_err().code(),
        ErrorCode::KeyError
    );
    let okp = json!({"kty": "OKP", "crv": "Ed25519", "x": "AQID"});
    assert_eq!(
        PublicJwk::from_value(&okp, false, "$").unwrap_err().code(),
        ErrorCode::UnsupportedAlgorithm
    );
}
