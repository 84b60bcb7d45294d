//! Tests of the wasm binding shared by the Node and the Chromium runs: keys are made by
//! WebCrypto through the binding, JWTs are signed through it, and WebCrypto's own `verify`
//! checks the signatures.

use js_sys::{Array, Object, Reflect, Uint8Array};
use serde_json::{json, Value};
use tillit::jose::{b64u_decode, parse_compact};
use tillit::wasm::api;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Crypto, CryptoKey, SubtleCrypto};

fn subtle() -> SubtleCrypto {
    Reflect::get(&js_sys::global(), &"crypto".into())
        .unwrap()
        .unchecked_into::<Crypto>()
        .subtle()
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).unwrap()
}

fn js(v: &Value) -> JsValue {
    tillit::wasm::to_js_value(v)
}

fn synthetic_fnr(day: u32) -> String {
    for ind in 0..500u32 {
        let s = format!("{day:02}8185{ind:03}");
        let d: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
        if let Some((k1, k2)) = tillit::ident::national_id_check_digits(&d.try_into().unwrap()) {
            return format!("{s}{k1}{k2}");
        }
    }
    unreachable!()
}

fn attestation() -> Value {
    json!({
        "type": "nhn:tillitsrammeverk:parameters",
        "practitioner": {
            "identifier": {"id": synthetic_fnr(3), "system": "urn:oid:2.16.578.1.12.4.1.4.1"},
            "legal_entity": {"id": "974760673", "system": "urn:oid:2.16.578.1.12.4.1.4.101"},
            "point_of_care": {"id": "974760673", "system": "urn:oid:2.16.578.1.12.4.1.4.101"}
        },
        "care_relationship": {
            "purpose_of_use": {"code": "TREAT", "system": "urn:oid:2.16.840.1.113883.1.11.20448"},
            "purpose_of_use_details": {"code": "BEHANDLER", "system": "urn:AuditEventHL7Norway/CodeSystem/carerelation"},
            "decision_ref": {"id": "d-1", "user_selected": false}
        },
        "patients": [{"identifier": {"id": synthetic_fnr(4), "system": "urn:oid:2.16.578.1.12.4.1.4.1"}}]
    })
}

async fn verify(alg: &str, public_jwk: &JsValue, jws: &str) -> bool {
    let p = parse_compact(jws, "jws").unwrap();
    let (import_alg, verify_alg) = match alg {
        "ES256" => (
            json!({"name": "ECDSA", "namedCurve": "P-256"}),
            json!({"name": "ECDSA", "hash": "SHA-256"}),
        ),
        "RS256" => (
            json!({"name": "RSASSA-PKCS1-v1_5", "hash": "SHA-256"}),
            json!({"name": "RSASSA-PKCS1-v1_5"}),
        ),
        _ => (
            json!({"name": "RSA-PSS", "hash": "SHA-256"}),
            json!({"name": "RSA-PSS", "saltLength": 32}),
        ),
    };
    let usages = Array::of1(&"verify".into());
    let key: CryptoKey = JsFuture::from(
        subtle()
            .import_key_with_object(
                "jwk",
                public_jwk.unchecked_ref(),
                js(&import_alg).unchecked_ref(),
                true,
                &usages,
            )
            .unwrap(),
    )
    .await
    .unwrap()
    .unchecked_into();
    let ok = JsFuture::from(
        subtle()
            .verify_with_object_and_u8_array_and_u8_array(
                js(&verify_alg).unchecked_ref(),
                &key,
                &p.signature,
                p.signing_input.as_bytes(),
            )
            .unwrap(),
    )
    .await
    .unwrap();
    ok.as_bool().unwrap()
}

#[wasm_bindgen_test]
async fn keys_sign_assertions_and_proofs_for_all_algorithms() {
    for alg in ["ES256", "RS256", "PS256"] {
        let key: JsValue = api::generate_key_pair(alg.into()).await.unwrap().into();
        let private: CryptoKey = get(&key, "privateKey").unchecked_into();
        assert!(
            !private.extractable(),
            "{alg}: private key must be non-extractable"
        );
        // exportKey on the private key is refused.
        let exported = subtle().export_key("jwk", &private);
        let refused = match exported {
            Err(_) => true,
            Ok(p) => JsFuture::from(p).await.is_err(),
        };
        assert!(refused, "{alg}: exportKey must fail");

        let opts = Object::new();
        Reflect::set(&opts, &"key".into(), &key).unwrap();
        Reflect::set(&opts, &"clientId".into(), &"demo-client".into()).unwrap();
        Reflect::set(&opts, &"issuer".into(), &"https://helseid.example".into()).unwrap();
        Reflect::set(&opts, &"trustContext".into(), &js(&attestation())).unwrap();
        let jws = api::create_client_assertion(opts.into()).await.unwrap();
        assert!(
            verify(alg, &get(&key, "publicJwk"), &jws).await,
            "{alg}: assertion signature"
        );
        let p = parse_compact(&jws, "jws").unwrap();
        assert_eq!(p.header["typ"], "client-authentication+jwt");
        assert_eq!(p.header["alg"], alg);
        assert_eq!(
            p.claims["assertion_details"]["care_relationship"]["purpose_of_use"]["code"],
            "TREAT"
        );

        let opts = Object::new();
        Reflect::set(&opts, &"key".into(), &key).unwrap();
        Reflect::set(&opts, &"method".into(), &"GET".into()).unwrap();
        Reflect::set(
            &opts,
            &"url".into(),
            &"https://api.example/R4/fhir/DocumentReference?x=1".into(),
        )
        .unwrap();
        Reflect::set(&opts, &"accessToken".into(), &"token-abc".into()).unwrap();
        let proof = api::create_dpop_proof(opts.into()).await.unwrap();
        assert!(
            verify(alg, &get(&key, "publicJwk"), &proof).await,
            "{alg}: proof signature"
        );
        let p = parse_compact(&proof, "proof").unwrap();
        assert_eq!(
            p.claims["htu"],
            "https://api.example/R4/fhir/DocumentReference"
        );
        assert_eq!(
            b64u_decode(p.claims["ath"].as_str().unwrap(), "ath")
                .unwrap()
                .len(),
            32
        );
    }
}

#[wasm_bindgen_test]
async fn extractable_keys_are_refused() {
    let algo = js(&json!({"name": "ECDSA", "namedCurve": "P-256"}));
    let usages = Array::of2(&"sign".into(), &"verify".into());
    let pair = JsFuture::from(
        subtle()
            .generate_key_with_object(algo.unchecked_ref(), true, &usages)
            .unwrap(),
    )
    .await
    .unwrap();
    let generated: JsValue = api::generate_key_pair("ES256".into()).await.unwrap().into();
    let key = Object::new();
    Reflect::set(&key, &"alg".into(), &"ES256".into()).unwrap();
    Reflect::set(&key, &"privateKey".into(), &get(&pair, "privateKey")).unwrap();
    Reflect::set(&key, &"publicJwk".into(), &get(&generated, "publicJwk")).unwrap();
    let opts = Object::new();
    Reflect::set(&opts, &"key".into(), &key).unwrap();
    Reflect::set(&opts, &"method".into(), &"GET".into()).unwrap();
    Reflect::set(&opts, &"url".into(), &"https://a.example/".into()).unwrap();
    let err = api::create_dpop_proof(opts.into()).await.unwrap_err();
    assert_eq!(get(&err, "code").as_string().unwrap(), "KEY_ERROR");
    assert!(get(&err, "rule")
        .as_string()
        .unwrap()
        .contains("extractable"));
}

#[wasm_bindgen_test]
fn trust_context_errors_are_typed_and_never_echo_ids() {
    let mut bad = attestation();
    bad["patients"][0]["identifier"]["id"] = json!("01018512345");
    let err = api::trust_context_parse(js(&bad)).unwrap_err();
    assert_eq!(get(&err, "code").as_string().unwrap(), "INVALID_IDENTIFIER");
    assert_eq!(
        get(&err, "path").as_string().unwrap(),
        "$.patients[0].identifier.id"
    );
    let msg = get(&err, "message").as_string().unwrap();
    assert!(!msg.contains("01018512345"));
    let ok = api::trust_context_parse(js(&attestation())).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&ok).unwrap(), attestation());
    // JSON text is read the same way.
    let text = api::trust_context_parse(JsValue::from_str(&attestation().to_string())).unwrap();
    assert_eq!(text, ok);
}

#[wasm_bindgen_test]
async fn signer_callback_is_used() {
    let key: JsValue = api::generate_key_pair("ES256".into()).await.unwrap().into();
    // A "remote" signer that signs with the same key through WebCrypto.
    let private = get(&key, "privateKey");
    let f = js_sys::Function::new_with_args(
        "k",
        "return async (data) => new Uint8Array(await crypto.subtle.sign({name: 'ECDSA', hash: 'SHA-256'}, k, data))",
    );
    let sign = f.call1(&JsValue::NULL, &private).unwrap();
    let signer = Object::new();
    Reflect::set(&signer, &"alg".into(), &"ES256".into()).unwrap();
    Reflect::set(&signer, &"kid".into(), &"remote-1".into()).unwrap();
    Reflect::set(&signer, &"sign".into(), &sign).unwrap();
    let opts = Object::new();
    Reflect::set(&opts, &"signer".into(), &signer).unwrap();
    Reflect::set(&opts, &"clientId".into(), &"c".into()).unwrap();
    Reflect::set(&opts, &"issuer".into(), &"https://i.example".into()).unwrap();
    let jws = api::create_client_assertion(opts.into()).await.unwrap();
    assert!(verify("ES256", &get(&key, "publicJwk"), &jws).await);
    assert_eq!(parse_compact(&jws, "j").unwrap().header["kid"], "remote-1");
    let _ = Uint8Array::new_with_length(0);
}

/// The browser path's record hashing as the package runs it (sha2's wasm SIMD backend, from
/// shared-prefix midstates): random batches of messages that share beginnings with each other
/// and with the reference kept from the batch before, every finished midstate against
/// SHA-256 over the whole message.
#[wasm_bindgen_test]
// The constant is the build's: the assertion fails a build that lost the SIMD flags.
#[allow(clippy::assertions_on_constants)]
fn simd_midstates_agree_with_sha2() {
    use sha2::Digest as _;
    use tillit::audit::midstate::Prefix;
    assert!(
        cfg!(target_feature = "simd128"),
        "the tests must run the SIMD SHA-256 the package uses (RUSTFLAGS in scripts/test.sh)"
    );
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let base: Vec<u8> = (0..4000u32).map(|i| (i * 7 + i / 13) as u8).collect();
    // Known answers from another SHA-256 (Python's hashlib), so that the SIMD backend is not
    // only held to itself: the whole message, and one that starts from a shared prefix.
    let hex = |m: &[u8], p: &Prefix| tillit::audit::chain::hex(&p.start(m).finish(m));
    let reference = Prefix::of(&base[..3500]);
    assert_eq!(
        hex(&base[..3500], &Prefix::default()),
        "2e52cfc3c3012d845c89a372712108518867f7097a52dd381ed9c0be22f43aee"
    );
    assert_eq!(
        hex(&base[..1000], &reference),
        "9ca622da925087aab36ad61ae59bf68cffb7e6a71c91803ee2e04bb09832765d"
    );
    assert_eq!(reference.start(&base[..1000]).blocks(), 15);
    let mut prefix = Prefix::default();
    let mut checked = 0;
    for _ in 0..150 {
        let batch: Vec<Vec<u8>> = (0..1 + next(11))
            .map(|_| {
                let mut m = base[..next(3500)].to_vec();
                for _ in 0..next(3) {
                    if !m.is_empty() {
                        let at = next(m.len());
                        m[at] ^= 0x20;
                    }
                }
                m
            })
            .collect();
        let refs: Vec<&[u8]> = batch.iter().map(|m| &m[..]).collect();
        for (m, mid) in refs.iter().zip(prefix.starts(&refs)) {
            let want: [u8; 32] = sha2::Sha256::digest(m).into();
            assert_eq!(mid.finish(m), want, "{} bytes", m.len());
            checked += 1;
        }
    }
    assert!(checked > 500);
}
