//! The platform: WebCrypto (browsers, workers, Node ≥ 20 alike, read from the global
//! object), the clock and randomness.

use super::{arg_err, from_js, interned, prop, prop_str, set, to_js, JsResult};
use crate::error::{Error, ErrorCode};
use crate::jose::{b64u, Alg, PublicJwk};
use js_sys::{Array, Object, Reflect, Uint8Array};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Crypto, CryptoKey, SubtleCrypto};

fn crypto() -> JsResult<Crypto> {
    Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .and_then(|c| c.dyn_into::<Crypto>().ok())
        .ok_or_else(|| {
            to_js(Error::new(
                ErrorCode::CryptoError,
                "crypto",
                "WebCrypto is not available on this platform",
            ))
        })
}

/// The platform's `crypto.subtle`, looked up once (two property reads and a type check
/// per signature otherwise).
fn subtle() -> JsResult<SubtleCrypto> {
    thread_local! {
        static SUBTLE: std::cell::OnceCell<SubtleCrypto> = const { std::cell::OnceCell::new() };
    }
    SUBTLE.with(|c| {
        if let Some(s) = c.get() {
            return Ok(s.clone());
        }
        let s = crypto()?.subtle();
        Ok(c.get_or_init(|| s).clone())
    })
}

fn crypto_err(op: &str) -> impl Fn(JsValue) -> JsValue + '_ {
    move |_| {
        to_js(Error::new(
            ErrorCode::CryptoError,
            op,
            "the platform's WebCrypto refused the operation",
        ))
    }
}

/// `n` random bytes from the platform's CSPRNG.
pub fn random_bytes<const N: usize>() -> JsResult<[u8; N]> {
    const POOL: usize = 4096;
    thread_local! {
        /// Random bytes drawn from the platform's CSPRNG a page at a time (one
        /// getRandomValues call per 256 ids instead of one per id); each byte is used once.
        static POOL_BYTES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    POOL_BYTES.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < N {
            let mut fresh = vec![0u8; POOL.max(N)];
            crypto()?
                .get_random_values_with_u8_array(&mut fresh)
                .map_err(crypto_err("getRandomValues"))?;
            *pool = fresh;
        }
        let mut b = [0u8; N];
        let at = pool.len() - N;
        b.copy_from_slice(&pool[at..]);
        // Used bytes are zeroed and dropped, never handed out twice.
        pool[at..].fill(0);
        pool.truncate(at);
        Ok(b)
    })
}

/// A key's public JWK from its text, parsed once per distinct text by [`crate::memo`].
fn public_jwk_from_text(text: String) -> JsResult<PublicJwk> {
    crate::memo::public_jwk(&text, "key.publicJwk").map_err(to_js)
}

/// A fresh 128-bit random id, base64url (22 characters).
pub fn random_id() -> JsResult<String> {
    Ok(b64u(&random_bytes::<16>()?))
}

/// Unix seconds now.
pub fn now_secs() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

fn obj(pairs: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        set(&o, k, v);
    }
    o
}

/// The WebCrypto algorithm for generating or importing a key of `alg`.
fn key_algorithm(alg: Alg) -> Object {
    match alg {
        Alg::Es256 | Alg::Es384 => obj(&[
            ("name", interned("ECDSA")),
            ("namedCurve", interned(curve(alg))),
        ]),
        Alg::Rs256 | Alg::Ps256 => obj(&[
            (
                "name",
                (if alg == Alg::Rs256 {
                    "RSASSA-PKCS1-v1_5"
                } else {
                    "RSA-PSS"
                })
                .into(),
            ),
            ("modulusLength", 2048.into()),
            ("publicExponent", Uint8Array::from(&[1u8, 0, 1][..]).into()),
            ("hash", "SHA-256".into()),
        ]),
    }
}

/// The WebCrypto parameters for signing with `alg`.
fn sign_algorithm(alg: Alg) -> Object {
    match alg {
        Alg::Es256 => obj(&[("name", interned("ECDSA")), ("hash", interned("SHA-256"))]),
        Alg::Es384 => obj(&[("name", interned("ECDSA")), ("hash", interned("SHA-384"))]),
        Alg::Rs256 => obj(&[("name", interned("RSASSA-PKCS1-v1_5"))]),
        Alg::Ps256 => obj(&[("name", interned("RSA-PSS")), ("saltLength", 32.into())]),
    }
}

/// The WebCrypto curve of an ECDSA algorithm.
fn curve(alg: Alg) -> &'static str {
    if alg == Alg::Es384 {
        "P-384"
    } else {
        "P-256"
    }
}

fn webcrypto_name(alg: Alg) -> &'static str {
    match alg {
        Alg::Es256 | Alg::Es384 => "ECDSA",
        Alg::Rs256 => "RSASSA-PKCS1-v1_5",
        Alg::Ps256 => "RSA-PSS",
    }
}

/// A signing key as JS sees it: `{ alg, kid, publicJwk, privateKey }`, the private key a
/// non-extractable `CryptoKey`.
pub fn key_handle(alg: Alg, private_key: &CryptoKey, public: &PublicJwk) -> Object {
    let thumb = public.thumbprint();
    obj(&[
        ("alg", alg.name().into()),
        ("kid", thumb.into()),
        ("publicJwk", super::to_js_value(&public.to_value())),
        // The same JWK as text: the signer reads this instead of walking the object each time.
        (
            "publicJwkJson",
            serde_json::to_string(&public.to_value())
                .expect("serialises")
                .into(),
        ),
        ("privateKey", private_key.into()),
    ])
}

/// Generates a non-extractable key pair for `alg`.
pub async fn generate(alg: Alg) -> JsResult<Object> {
    let usages = Array::of2(&"sign".into(), &"verify".into());
    let p = subtle()?
        .generate_key_with_object(&key_algorithm(alg), false, &usages)
        .map_err(crypto_err("generateKey"))?;
    let pair = JsFuture::from(p).await.map_err(crypto_err("generateKey"))?;
    let private_key: CryptoKey = Reflect::get(&pair, &"privateKey".into())
        .map_err(crypto_err("generateKey"))?
        .unchecked_into();
    let public_key: CryptoKey = Reflect::get(&pair, &"publicKey".into())
        .map_err(crypto_err("generateKey"))?
        .unchecked_into();
    let jwk = export_jwk(&public_key).await?;
    let public = PublicJwk::from_value(&jwk, false, "publicKey").map_err(to_js)?;
    Ok(key_handle(alg, &private_key, &public))
}

async fn export_jwk(key: &CryptoKey) -> JsResult<Value> {
    let p = subtle()?
        .export_key("jwk", key)
        .map_err(crypto_err("exportKey"))?;
    let jwk = JsFuture::from(p).await.map_err(crypto_err("exportKey"))?;
    from_js(&jwk, "jwk")
}

async fn import(format: &str, data: &JsValue, alg: Alg, extractable: bool) -> JsResult<CryptoKey> {
    let usages = Array::of1(&"sign".into());
    let s = subtle()?;
    let algo = key_algorithm(alg);
    let p = s
        .import_key_with_object(format, data.unchecked_ref(), &algo, extractable, &usages)
        .map_err(|_| {
            to_js(Error::new(
                ErrorCode::KeyError,
                "key",
                "the platform refused to import this key for the algorithm",
            ))
        })?;
    let k = JsFuture::from(p).await.map_err(|_| {
        to_js(Error::new(
            ErrorCode::KeyError,
            "key",
            "the key is not a valid private key for the algorithm",
        ))
    })?;
    Ok(k.unchecked_into())
}

/// Imports a private key from a JWK object or a PKCS#8 PEM string, as a non-extractable key.
/// A PEM key is read once as extractable to learn its public half, which is then dropped.
pub async fn import_private(input: &JsValue, alg: Alg) -> JsResult<Object> {
    let private_jwk: Value = if let Some(pem) = input.as_string() {
        let der = pem_pkcs8(&pem).map_err(to_js)?;
        let tmp = import("pkcs8", &Uint8Array::from(&der[..]).into(), alg, true).await?;
        export_jwk(&tmp).await?
    } else if input.is_object() {
        from_js(input, "key")?
    } else {
        return Err(arg_err(
            "key",
            "must be a private JWK object or a PKCS#8 PEM string",
        ));
    };
    if private_jwk.get("d").is_none() {
        return Err(to_js(Error::new(
            ErrorCode::KeyError,
            "key.d",
            "is required: this is not a private key",
        )));
    }
    let public = PublicJwk::from_value(&private_jwk, true, "key").map_err(to_js)?;
    if !public.fits(alg) {
        return Err(to_js(Error::new(
            ErrorCode::KeyError,
            "alg",
            "the key type does not fit the algorithm",
        )));
    }
    // Import without `alg`/`use`/`key_ops` members that could contradict the chosen algorithm.
    let mut clean = private_jwk.clone();
    if let Some(m) = clean.as_object_mut() {
        m.retain(|k, _| {
            [
                "kty", "crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi",
            ]
            .contains(&k.as_str())
        });
    }
    let key = import("jwk", &super::to_js_value(&clean), alg, false).await?;
    Ok(key_handle(alg, &key, &public))
}

/// Strips a PKCS#8 PEM armour and decodes the base64 body.
fn pem_pkcs8(pem: &str) -> crate::Result<Vec<u8>> {
    use base64ct::{Base64, Encoding};
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN PRIVATE KEY-----")
        .and_then(|r| r.strip_suffix("-----END PRIVATE KEY-----"))
        .ok_or_else(|| {
            Error::new(
                ErrorCode::KeyError,
                "key",
                "a PEM key must be PKCS#8 (BEGIN PRIVATE KEY)",
            )
        })?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    Base64::decode_vec(&b64)
        .map_err(|_| Error::new(ErrorCode::KeyError, "key", "the PEM body is not base64"))
}

/// A way to sign: a WebCrypto key, or a caller's signer (a backend or HSM).
pub enum Signer {
    /// A non-extractable WebCrypto private key.
    Key {
        /// The algorithm.
        alg: Alg,
        /// The key id.
        kid: String,
        /// The public JWK.
        public: PublicJwk,
        /// The private key.
        key: CryptoKey,
    },
    /// `{ alg, kid?, publicJwk?, sign(data: Uint8Array): Promise<Uint8Array> }`.
    Callback {
        /// The algorithm.
        alg: Alg,
        /// The key id, if any.
        kid: Option<String>,
        /// The public JWK, needed only for DPoP.
        public: Option<PublicJwk>,
        /// The caller's function.
        sign: js_sys::Function,
    },
}

impl Signer {
    /// Reads `{ key }` or `{ signer }` from an options object (exactly one).
    pub fn from_options(opts: &JsValue) -> JsResult<Signer> {
        match (prop(opts, "key"), prop(opts, "signer")) {
            (Some(_), Some(_)) => Err(arg_err("signer", "give key or signer, not both")),
            (None, None) => Err(arg_err("key", "is required (or a signer)")),
            (Some(k), None) => Signer::from_key(&k),
            (None, Some(s)) => {
                let alg = Alg::parse(
                    &prop_str(&s, "alg").map_err(|_| arg_err("signer.alg", "is required"))?,
                    "signer.alg",
                )
                .map_err(to_js)?;
                let sign = prop(&s, "sign")
                    .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
                    .ok_or_else(|| {
                        arg_err(
                            "signer.sign",
                            "must be a function (data: Uint8Array) => Promise<Uint8Array>",
                        )
                    })?;
                let public = match prop(&s, "publicJwk") {
                    Some(j) => Some(
                        PublicJwk::from_value(
                            &from_js(&j, "signer.publicJwk")?,
                            false,
                            "signer.publicJwk",
                        )
                        .map_err(to_js)?,
                    ),
                    None => None,
                };
                let kid = super::opt_str(&s, "kid")?;
                Ok(Signer::Callback {
                    alg,
                    kid,
                    public,
                    sign,
                })
            }
        }
    }

    fn from_key(k: &JsValue) -> JsResult<Signer> {
        let alg = Alg::parse(
            &prop_str(k, "alg").map_err(|_| {
                arg_err(
                    "key.alg",
                    "is required: pass a key made by generateKey, loadKey or importPrivateKey",
                )
            })?,
            "key.alg",
        )
        .map_err(to_js)?;
        let key: CryptoKey = prop(k, "privateKey")
            .and_then(|v| v.dyn_into::<CryptoKey>().ok())
            .ok_or_else(|| {
                to_js(Error::new(
                    ErrorCode::KeyError,
                    "key.privateKey",
                    "must be a WebCrypto CryptoKey",
                ))
            })?;
        if key.extractable() {
            return Err(to_js(Error::new(
                ErrorCode::KeyError,
                "key.privateKey",
                "is extractable: tillit signs only with non-extractable keys",
            )));
        }
        if key.type_() != "private" {
            return Err(to_js(Error::new(
                ErrorCode::KeyError,
                "key.privateKey",
                "must be a private key",
            )));
        }
        let algorithm: JsValue = key.algorithm().map_err(crypto_err("algorithm"))?.into();
        let member = |k: &str| {
            Reflect::get(&algorithm, &k.into())
                .ok()
                .and_then(|n| n.as_string())
        };
        let curve_ok = !matches!(alg, Alg::Es256 | Alg::Es384)
            || member("namedCurve").as_deref() == Some(curve(alg));
        if member("name").as_deref() != Some(webcrypto_name(alg)) || !curve_ok {
            return Err(to_js(Error::new(
                ErrorCode::KeyError,
                "key.alg",
                "the CryptoKey's algorithm does not match alg",
            )));
        }
        // Keys tillit made carry their public half as text too (set when the key was made);
        // others (a key reloaded from storage, a hand-built object) are read from `publicJwk`.
        let public = match super::opt_str(k, "publicJwkJson")? {
            Some(text) => public_jwk_from_text(text)?,
            None => PublicJwk::from_value(
                &from_js(
                    &prop(k, "publicJwk").unwrap_or(JsValue::NULL),
                    "key.publicJwk",
                )?,
                false,
                "key.publicJwk",
            )
            .map_err(to_js)?,
        };
        let kid = super::opt_str(k, "kid")?.unwrap_or_else(|| public.thumbprint());
        Ok(Signer::Key {
            alg,
            kid,
            public,
            key,
        })
    }

    /// The algorithm.
    pub fn alg(&self) -> Alg {
        match self {
            Signer::Key { alg, .. } | Signer::Callback { alg, .. } => *alg,
        }
    }

    /// The key id, if known.
    pub fn kid(&self) -> Option<&str> {
        match self {
            Signer::Key { kid, .. } => Some(kid),
            Signer::Callback { kid, .. } => kid.as_deref(),
        }
    }

    /// The public JWK, if known.
    pub fn public(&self) -> Option<&PublicJwk> {
        match self {
            Signer::Key { public, .. } => Some(public),
            Signer::Callback { public, .. } => public.as_ref(),
        }
    }

    /// Signs `data`; for ES256 the result is the 64-byte r‖s JWS wants.
    pub async fn sign(&self, data: &[u8]) -> JsResult<Vec<u8>> {
        let sig = match self {
            Signer::Key { alg, key, .. } => {
                let p = subtle()?
                    .sign_with_object_and_u8_array(&sign_algorithm(*alg), key, data)
                    .map_err(crypto_err("sign"))?;
                JsFuture::from(p).await.map_err(crypto_err("sign"))?
            }
            Signer::Callback { sign, .. } => {
                let r = sign
                    .call1(&JsValue::NULL, &Uint8Array::from(data).into())
                    .map_err(|_| {
                        to_js(Error::new(
                            ErrorCode::CryptoError,
                            "signer.sign",
                            "threw an error",
                        ))
                    })?;
                let p = js_sys::Promise::resolve(&r);
                JsFuture::from(p).await.map_err(|_| {
                    to_js(Error::new(
                        ErrorCode::CryptoError,
                        "signer.sign",
                        "rejected",
                    ))
                })?
            }
        };
        let bytes = if sig.is_instance_of::<js_sys::ArrayBuffer>() {
            Uint8Array::new(&sig).to_vec()
        } else if let Some(u) = sig.dyn_ref::<Uint8Array>() {
            u.to_vec()
        } else if js_sys::ArrayBuffer::is_view(&sig) {
            Uint8Array::new(&Reflect::get(&sig, &"buffer".into()).unwrap_or(JsValue::NULL)).to_vec()
        } else {
            return Err(to_js(Error::new(
                ErrorCode::CryptoError,
                "signer.sign",
                "must resolve to a Uint8Array or ArrayBuffer",
            )));
        };
        let fixed = match self.alg() {
            Alg::Es256 => Some(64),
            Alg::Es384 => Some(96),
            Alg::Rs256 | Alg::Ps256 => None,
        };
        if fixed.is_some_and(|n| bytes.len() != n) {
            return Err(to_js(Error::new(
                ErrorCode::CryptoError,
                "signer.sign",
                "an ECDSA signature is r||s (ES256: 64 bytes, ES384: 96 bytes; not DER)",
            )));
        }
        Ok(bytes)
    }
}

/// Verifies a JWS signature with a public JWK through WebCrypto.
pub async fn verify(alg: Alg, public: &PublicJwk, data: &[u8], signature: &[u8]) -> JsResult<bool> {
    let usages = Array::of1(&"verify".into());
    let jwk = super::to_js_value(&public.to_value());
    let p = subtle()?
        .import_key_with_object(
            "jwk",
            jwk.unchecked_ref(),
            &key_algorithm(alg),
            true,
            &usages,
        )
        .map_err(crypto_err("importKey"))?;
    let key: CryptoKey = JsFuture::from(p)
        .await
        .map_err(crypto_err("importKey"))?
        .unchecked_into();
    let p = subtle()?
        .verify_with_object_and_u8_array_and_u8_array(&sign_algorithm(alg), &key, signature, data)
        .map_err(crypto_err("verify"))?;
    Ok(JsFuture::from(p)
        .await
        .map_err(crypto_err("verify"))?
        .as_bool()
        == Some(true))
}

#[wasm_bindgen]
extern "C" {
    /// The platform's `TextEncoder` (browsers, workers, Node).
    type TextEncoder;
    #[wasm_bindgen(constructor)]
    fn new() -> TextEncoder;
    #[wasm_bindgen(method, js_name = encodeInto)]
    fn encode_into(this: &TextEncoder, text: &js_sys::JsString, into: &Uint8Array) -> Object;
}

thread_local! {
    static ENCODER: TextEncoder = TextEncoder::new();
}

/// A JS string as UTF-8 bytes, encoded by the platform straight into the core's memory (one
/// copy; wasm-bindgen's own string passing walks ASCII in a JS loop first, and
/// `TextEncoder.encode` allocates a fresh buffer, which in Chromium costs more than the
/// encoding).
pub(crate) fn utf8_of(text: &js_sys::JsString, path: &str) -> JsResult<Vec<u8>> {
    let units = text.length() as usize;
    // One byte per UTF-16 unit is enough for ASCII; what does not fit is encoded after the
    // buffer grows to three bytes per unit left, which always suffices.
    let mut buf = vec![0u8; units];
    let (mut read, mut written) = (0usize, 0usize);
    ENCODER.with(|enc| {
        for round in 0..2 {
            if read == units {
                break;
            }
            if round > 0 {
                buf.resize(written + 3 * (units - read), 0);
            }
            let rest = match read {
                0 => text.clone(),
                _ => text.slice(read as u32, units as u32),
            };
            let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
            let view = Uint8Array::new_with_byte_offset_and_length(
                &memory.buffer(),
                (buf.as_ptr() as usize + written) as u32,
                (buf.len() - written) as u32,
            );
            let r = enc.encode_into(&rest, &view);
            let count = |k: &str| Reflect::get(&r, &k.into()).ok().and_then(|v| v.as_f64());
            read += count("read").unwrap_or(0.0) as usize;
            written += count("written").unwrap_or(0.0) as usize;
        }
    });
    if read != units {
        return Err(arg_err(path, "could not be encoded as UTF-8"));
    }
    buf.truncate(written);
    Ok(buf)
}
