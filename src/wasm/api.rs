//! The functions the JS wrapper calls. Each reads its arguments, calls the core, and
//! returns plain JS values; the wrapper gives them types and classes.

use super::platform::{self, Signer};
use super::{arg_err, from_js, opt_str, opt_u64, prop, prop_str, to_js, to_js_value, JsResult};
use crate::assertion::{self, AuthorizeParams, Common, Details, Placement, RequestObjectTyp};
use crate::dpop::{self, ProofParams};
use crate::error::{Error, ErrorCode};
use crate::ident::{NationalId, OrgNr};
use crate::jose::{compact, signing_input, Alg, PublicJwk};
use crate::trust::{self, Grant, TenantOrganisation, TrustContext};
use js_sys::Object;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The crate version.
#[wasm_bindgen(js_name = coreVersion)]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// A trust context from JSON text (the wrapper's fast path, parsed once per distinct text by
/// [`crate::memo`]) or a plain object.
fn trust_context(v: &JsValue, path: &str) -> JsResult<TrustContext> {
    match v.as_string() {
        Some(t) => crate::memo::trust_context(&t, path).map_err(to_js),
        None => TrustContext::from_json(&from_js(v, path)?).map_err(|e| to_js(e.under(path))),
    }
}

/// Every limit and default of the core ([`crate::limits::all`]), for the wrapper to use
/// instead of writing them again.
#[wasm_bindgen(js_name = limits)]
pub fn limits() -> JsValue {
    to_js_value(&crate::limits::all())
}

/// JSON given as text (parsed here, within limits) or as a plain JS value.
pub(crate) fn json_arg(v: &JsValue, path: &str) -> JsResult<Value> {
    match v.as_string() {
        Some(text) => {
            crate::json::parse_within(&text, crate::limits::TRUST_CONTEXT, path).map_err(to_js)
        }
        None => from_js(v, path),
    }
}

/// Validates a trust context and returns its canonical wire form.
#[wasm_bindgen(js_name = trustContextParse)]
pub fn trust_context_parse(v: JsValue) -> JsResult<String> {
    let tc = trust_context(&v, "$")?;
    Ok(serde_json::to_string(&tc.to_json()).expect("a Value always serialises"))
}

/// Validates a trust context given as JSON text, without writing it back: the wrapper keeps
/// the text and hands it to the core from then on (the parsed context stays cached by it).
#[wasm_bindgen(js_name = trustContextValidate)]
pub fn trust_context_validate(v: JsValue) -> JsResult<()> {
    trust_context(&v, "$").map(drop)
}

/// A new attestation for other patients, stamped now.
#[wasm_bindgen(js_name = trustContextWithPatients)]
pub fn trust_context_with_patients(ctx: JsValue, patients: JsValue) -> JsResult<JsValue> {
    let tc = trust_context(&ctx, "$")?;
    let p = trust::parse_patients(&from_js(&patients, "patients")?)
        .map_err(|e| to_js(e.under("patients")))?;
    let next = tc.with_patients(p, platform::now_secs()).map_err(to_js)?;
    Ok(to_js_value(&next.to_json()))
}

/// Checks the attestation's age now (60 minutes, with `skewSeconds` tolerance).
#[wasm_bindgen(js_name = trustContextCheckFresh)]
pub fn trust_context_check_fresh(ctx: JsValue, skew_secs: u32) -> JsResult<()> {
    trust_context(&ctx, "$")?
        .check_fresh(platform::now_secs(), u64::from(skew_secs))
        .map_err(to_js)
}

/// Parses a national id: `{ kind, synthetic, birthDate, system }`, or a typed error.
#[wasm_bindgen(js_name = parseNationalId)]
pub fn parse_national_id(id: JsValue, system: JsValue) -> JsResult<JsValue> {
    let id = id.as_string().ok_or_else(|| {
        to_js(Error::new(
            ErrorCode::InvalidIdentifier,
            "identifier",
            "must be a string of 11 digits",
        ))
    })?;
    let id = id.as_str();
    let n = match system.as_string() {
        Some(s) => NationalId::parse_with_system(id, &s, "identifier"),
        None if system.is_undefined() || system.is_null() => NationalId::parse(id, "identifier"),
        None => {
            return Err(to_js(Error::new(
                ErrorCode::InvalidCode,
                "system",
                "must be a string (the OID system)",
            )))
        }
    }
    .map_err(to_js)?;
    let (y, m, d) = n.birth_date();
    let kind = match n.kind() {
        crate::ident::NationalIdKind::Fnr => "fnr",
        crate::ident::NationalIdKind::Dnr => "dnr",
        crate::ident::NationalIdKind::Hnr => "hnr",
    };
    Ok(to_js_value(&serde_json::json!({
        "kind": kind, "synthetic": n.is_synthetic(), "birthDate": format!("{y:04}-{m:02}-{d:02}"), "system": n.system()
    })))
}

/// Checks an organisation number.
#[wasm_bindgen(js_name = isValidOrgNr)]
pub fn is_valid_orgnr(s: JsValue) -> bool {
    s.as_string()
        .is_some_and(|s| OrgNr::parse(&s, "orgnr").is_ok())
}

/// Generates a non-extractable key pair.
#[wasm_bindgen(js_name = generateKeyPair)]
pub async fn generate_key_pair(alg: JsValue) -> JsResult<Object> {
    platform::generate(alg_arg(&alg)?).await
}

fn alg_arg(alg: &JsValue) -> JsResult<Alg> {
    Alg::parse(&alg.as_string().unwrap_or_default(), "alg").map_err(to_js)
}

/// Imports a private key (JWK object or PKCS#8 PEM) as non-extractable.
#[wasm_bindgen(js_name = importPrivateKey)]
pub async fn import_private_key(input: JsValue, alg: JsValue) -> JsResult<Object> {
    platform::import_private(&input, alg_arg(&alg)?).await
}

/// The RFC 7638 thumbprint of a public (or private: the private members are ignored) JWK.
#[wasm_bindgen(js_name = jwkThumbprint)]
pub fn jwk_thumbprint(jwk: JsValue) -> JsResult<String> {
    let v = from_js(&jwk, "jwk")?;
    Ok(PublicJwk::from_value(&v, true, "jwk")
        .map_err(to_js)?
        .thumbprint())
}

fn details(opts: &JsValue) -> JsResult<Option<Details>> {
    let trust_context = prop(opts, "trustContext")
        .map(|tc| trust_context(&tc, "trustContext"))
        .transpose()?;
    let tenant = match prop(opts, "tenant") {
        Some(t) => {
            let org = |k: &str| -> JsResult<Option<OrgNr>> {
                opt_str(&t, k)?
                    .map(|v| OrgNr::parse(&v, &format!("tenant.{k}")))
                    .transpose()
                    .map_err(to_js)
            };
            let (parent, child) = (org("parent")?, org("child")?);
            Some(TenantOrganisation::from_parts(parent, child, "tenant").map_err(to_js)?)
        }
        None => None,
    };
    if trust_context.is_none() && tenant.is_none() {
        return Ok(None);
    }
    Ok(Some(Details {
        trust_context,
        tenant,
    }))
}

struct Owned {
    client_id: String,
    issuer: String,
    jti: String,
    lifetime: u64,
    now: u64,
}

impl Owned {
    /// The inputs every signed JWT of a flow shares.
    fn common<'a>(&'a self, signer: &'a Signer) -> Common<'a> {
        Common {
            client_id: &self.client_id,
            issuer: &self.issuer,
            alg: signer.alg(),
            kid: signer.kid(),
            now: self.now,
            lifetime_secs: self.lifetime,
            jti: &self.jti,
        }
    }
}

fn owned_common(opts: &JsValue) -> JsResult<Owned> {
    Ok(Owned {
        client_id: prop_str(opts, "clientId")?,
        issuer: prop_str(opts, "issuer")?,
        jti: platform::random_id()?,
        lifetime: opt_u64(opts, "lifetimeSeconds")?.unwrap_or(assertion::DEFAULT_LIFETIME_SECS),
        now: opt_u64(opts, "now")?.unwrap_or_else(platform::now_secs),
    })
}

async fn sign_jwt(signer: &Signer, header: &Value, claims: &Value) -> JsResult<String> {
    let si = signing_input(header, claims);
    let sig = signer.sign(si.as_bytes()).await?;
    Ok(compact(&si, &sig))
}

/// A signed client assertion (private_key_jwt); the trust context, if given, goes in
/// `assertion_details`.
#[wasm_bindgen(js_name = createClientAssertion)]
pub async fn create_client_assertion(opts: JsValue) -> JsResult<String> {
    let signer = Signer::from_options(&opts)?;
    let o = owned_common(&opts)?;
    let placement = details(&opts)?
        .map(Placement::ClientAssertion)
        .unwrap_or(Placement::None);
    // The grant the assertion is for; unstated, it is taken as client_credentials (no user
    // login), so an attestation that leaves the user to the login is refused (fail closed).
    let grant = match opt_str(&opts, "grantType")? {
        Some(g) => Grant::parse(&g, "grantType").map_err(to_js)?,
        None => Grant::ClientCredentials,
    };
    let common = o.common(&signer);
    let (h, c) = assertion::client_assertion(&common, &placement, grant).map_err(to_js)?;
    sign_jwt(&signer, &h, &c).await
}

/// A signed PAR request object; the trust context, if given, goes in `authorization_details`.
#[wasm_bindgen(js_name = createRequestObject)]
pub async fn create_request_object(opts: JsValue) -> JsResult<String> {
    let signer = Signer::from_options(&opts)?;
    let o = owned_common(&opts)?;
    let placement = details(&opts)?
        .map(Placement::RequestObject)
        .unwrap_or(Placement::None);
    let resources: Vec<String> = match prop(&opts, "resources") {
        Some(r) => serde_wasm_bindgen::from_value(r)
            .map_err(|_| arg_err("resources", "must be an array of strings"))?,
        None => Vec::new(),
    };
    let (redirect_uri, scope, state, nonce, code_challenge) = (
        prop_str(&opts, "redirectUri")?,
        prop_str(&opts, "scope")?,
        prop_str(&opts, "state")?,
        opt_str(&opts, "nonce")?.unwrap_or_default(),
        prop_str(&opts, "codeChallenge")?,
    );
    let typ = match opt_str(&opts, "typ")? {
        Some(t) => RequestObjectTyp::parse(&t, "typ").map_err(to_js)?,
        None => RequestObjectTyp::default(),
    };
    let params = AuthorizeParams {
        typ,
        redirect_uri: &redirect_uri,
        scope: &scope,
        state: &state,
        nonce: &nonce,
        code_challenge: &code_challenge,
        resources: &resources,
    };
    let common = o.common(&signer);
    let (h, c) = assertion::request_object(&common, &params, &placement).map_err(to_js)?;
    sign_jwt(&signer, &h, &c).await
}

/// A signed DPoP proof.
#[wasm_bindgen(js_name = createDpopProof)]
pub async fn create_dpop_proof(opts: JsValue) -> JsResult<String> {
    let signer = Signer::from_options(&opts)?;
    let public = signer
        .public()
        .ok_or_else(|| {
            to_js(Error::new(
                ErrorCode::KeyError,
                "signer.publicJwk",
                "is required for DPoP: the proof embeds the public key",
            ))
        })?
        .clone();
    let method = prop_str(&opts, "method")?;
    let url = prop_str(&opts, "url")?;
    let access_token = opt_str(&opts, "accessToken")?;
    let nonce = opt_str(&opts, "nonce")?;
    let jti = platform::random_id()?;
    let now = opt_u64(&opts, "now")?.unwrap_or_else(platform::now_secs);
    let p = ProofParams {
        jwk: &public,
        alg: signer.alg(),
        method: &method,
        url: &url,
        now,
        jti: &jti,
        access_token: access_token.as_deref(),
        nonce: nonce.as_deref(),
    };
    let (h, c) = dpop::proof(&p).map_err(to_js)?;
    sign_jwt(&signer, &h, &c).await
}

fn policy_arg(v: &JsValue) -> JsResult<crate::policy::Policy> {
    match prop_or_self(v) {
        None => Ok(crate::policy::Policy::default_policy()),
        Some(p) => crate::policy::Policy::from_json(&from_js(&p, "policy")?).map_err(to_js),
    }
}

fn prop_or_self(v: &JsValue) -> Option<JsValue> {
    (!v.is_undefined() && !v.is_null()).then(|| v.clone())
}

fn bytes_arg(v: &JsValue, path: &str) -> JsResult<Vec<u8>> {
    if let Some(s) = v.dyn_ref::<js_sys::JsString>() {
        super::platform::utf8_of(s, path)
    } else if let Some(u) = v.dyn_ref::<js_sys::Uint8Array>() {
        Ok(u.to_vec())
    } else if v.is_instance_of::<js_sys::ArrayBuffer>() {
        Ok(js_sys::Uint8Array::new(v).to_vec())
    } else {
        Err(arg_err(
            path,
            "must be JSON text (string) or bytes (Uint8Array, ArrayBuffer)",
        ))
    }
}

/// The shipped default policy as JSON.
#[wasm_bindgen(js_name = defaultPolicy)]
pub fn default_policy() -> JsValue {
    to_js_value(&crate::policy::Policy::default_json())
}

/// Validates a policy; returns it unchanged or throws `INVALID_POLICY` naming the path.
#[wasm_bindgen(js_name = validatePolicy)]
pub fn validate_policy(policy: JsValue) -> JsResult<()> {
    crate::policy::Policy::from_json(&from_js(&policy, "policy")?)
        .map(|_| ())
        .map_err(to_js)
}

/// Minimises a Bundle (JSON text or bytes) for one patient (`patient`: required when the
/// context names several) with the ids met on earlier pages of the same search. Returns the
/// JSON text of `{ withheld, leaks, retract, stats, bundle }`; the wrapper parses it once.
#[wasm_bindgen(js_name = minimise)]
#[cfg_attr(tillit_speed, optimize(speed))]
pub fn minimise(
    input: JsValue,
    ctx: JsValue,
    policy: JsValue,
    now: Option<f64>,
    patient: Option<String>,
    earlier_ids: Option<Vec<String>>,
) -> JsResult<String> {
    let bytes = bytes_arg(&input, "input")?;
    let tc = trust_context(&ctx, "trustContext")?;
    let policy = policy_arg(&policy)?;
    let now = now
        .map(|n| n.max(0.0) as u64)
        .unwrap_or_else(platform::now_secs);
    let earlier = earlier_ids.unwrap_or_default();
    let opts = crate::minimise::Options {
        patient: patient.as_deref(),
        earlier_ids: &earlier,
    };
    let out = crate::minimise::minimise_with(&bytes, &tc, &policy, now, &opts).map_err(to_js)?;
    Ok(out.to_json_text())
}

/// Refuses (`DOCUMENT_WITHHELD`) a document whose entry the policy withholds for `patient`
/// (required when the context names several).
#[wasm_bindgen(js_name = checkDocument)]
pub fn check_document(
    entry: JsValue,
    ctx: JsValue,
    policy: JsValue,
    now: Option<f64>,
    patient: Option<String>,
) -> JsResult<()> {
    let e = from_js(&entry, "entry")?;
    let tc = trust_context(&ctx, "trustContext")?;
    let policy = policy_arg(&policy)?;
    let now = now
        .map(|n| n.max(0.0) as u64)
        .unwrap_or_else(platform::now_secs);
    crate::minimise::check_document_with(&e, &tc, &policy, now, patient.as_deref()).map_err(to_js)
}

/// Reads a response: `{ verdict: 'ok' | 'use_nonce' | 'retry' | 'oauth' | 'fhir' | 'http', … }`.
#[allow(clippy::too_many_arguments)]
#[wasm_bindgen(js_name = classifyResponse)]
pub fn classify_response(
    status: u16,
    www_authenticate: Option<String>,
    retry_after: Option<String>,
    body: &[u8],
    idempotent: bool,
    attempt: u32,
    jitter: f64,
) -> JsValue {
    use crate::client::{classify, RetryPolicy, Verdict};
    let v = classify(
        status,
        www_authenticate.as_deref(),
        retry_after.as_deref(),
        body,
        idempotent,
        attempt,
        &RetryPolicy::default(),
        jitter,
    );
    let j = match v {
        Verdict::Ok => serde_json::json!({ "verdict": "ok" }),
        Verdict::UseNonce => serde_json::json!({ "verdict": "use_nonce" }),
        Verdict::Retry { after_ms } => {
            serde_json::json!({ "verdict": "retry", "afterMs": after_ms })
        }
        Verdict::OAuth {
            status,
            error,
            description,
        } => {
            serde_json::json!({ "verdict": "oauth", "status": status, "error": error, "description": description })
        }
        Verdict::Fhir {
            status,
            code,
            diagnostics,
        } => {
            serde_json::json!({ "verdict": "fhir", "status": status, "code": code, "diagnostics": diagnostics })
        }
        Verdict::Http { status } => serde_json::json!({ "verdict": "http", "status": status }),
    };
    to_js_value(&j)
}

/// PJD's access basis: `{ code, raised }` (the header value, and whether it is a raised,
/// emergency-class basis); refuses anything else, naming `path`.
#[wasm_bindgen(js_name = accessBasis)]
pub fn access_basis(value: &str, path: &str) -> JsResult<JsValue> {
    let b = crate::client::AccessBasis::parse(value, path).map_err(to_js)?;
    let o = js_sys::Object::new();
    js_sys::Reflect::set(&o, &"code".into(), &b.code().into())?;
    js_sys::Reflect::set(&o, &"raised".into(), &b.is_raised().into())?;
    Ok(o.into())
}

/// The token cache key for a resource, scope and trust context.
#[wasm_bindgen(js_name = tokenCacheKey)]
pub fn token_cache_key(resource: &str, scope: &str, trust_context: JsValue) -> JsResult<String> {
    let tc = if trust_context.is_undefined() || trust_context.is_null() {
        None
    } else {
        Some(json_arg(&trust_context, "trustContext")?)
    };
    Ok(crate::client::cache_key(resource, scope, tc.as_ref()))
}

/// `application/x-www-form-urlencoded` from `[[name, value], …]`.
#[wasm_bindgen(js_name = formEncode)]
pub fn form_encode(pairs: JsValue) -> JsResult<String> {
    let p: Vec<(String, String)> = serde_wasm_bindgen::from_value(pairs)
        .map_err(|_| arg_err("form", "must be [name, value] string pairs"))?;
    Ok(crate::client::form_encode(&p))
}

/// base64url(SHA-256(text)): PKCE S256 challenges.
#[wasm_bindgen(js_name = sha256B64u)]
pub fn sha256_b64u(text: &str) -> String {
    crate::jose::sha256_b64u(text.as_bytes())
}

/// Accepts a retrieved body as a document for `patient` (size checked when given):
/// `{ contentType, bytes, fromCda, displayable }`, or a typed error (`UNSAFE_CONTENT`,
/// `INCOMPLETE_DOCUMENT`, `DOCUMENT_WITHHELD`).
#[wasm_bindgen(js_name = acceptDocument)]
pub fn accept_document(
    content_type: &str,
    bytes: Vec<u8>,
    patient: &str,
    size: Option<f64>,
) -> JsResult<JsValue> {
    let expected = crate::document::Expected {
        patient,
        size: size.map(|s| s.max(0.0) as u64),
    };
    let u = crate::document::accept(content_type, bytes, &expected).map_err(to_js)?;
    let o = js_sys::Object::new();
    super::set(&o, "contentType", &u.content_type.into());
    super::set(
        &o,
        "bytes",
        &js_sys::Uint8Array::from(u.bytes.as_slice()).into(),
    );
    super::set(&o, "fromCda", &u.from_cda.into());
    super::set(&o, "displayable", &u.displayable.into());
    Ok(o.into())
}

/// Checks a streamed PDF's first bytes (`%PDF-`).
#[wasm_bindgen(js_name = checkPdfStart)]
pub fn check_pdf_start(head: &[u8]) -> JsResult<()> {
    crate::document::check_pdf_start(head).map_err(to_js)
}

/// Checks a streamed PDF's end: its last bytes (`%%EOF`) and its length against the
/// promised size.
#[wasm_bindgen(js_name = checkPdfEnd)]
pub fn check_pdf_end(tail: &[u8], len: f64, size: Option<f64>) -> JsResult<()> {
    crate::document::check_size(len.max(0.0) as u64, size.map(|s| s.max(0.0) as u64))
        .and_then(|()| crate::document::check_pdf_end(tail))
        .map_err(to_js)
}

/// Any text made safe for an error message (national ids in groups, tokens), up to `max`
/// characters: the JS error classes pass their path and rule through it.
#[wasm_bindgen(js_name = scrubText)]
pub fn scrub_text(text: &str, max: u32) -> String {
    crate::error::scrub(text, max as usize)
}

/// The `jti` of a JWT access token (for the audit log; the token itself is never logged), or
/// a hash-based reference when the token is opaque.
#[wasm_bindgen(js_name = tokenJti)]
pub fn token_jti(token: &str) -> String {
    crate::jose::parse_compact(token, "token")
        .ok()
        .and_then(|p| {
            p.claims
                .get("jti")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .unwrap_or_else(|| {
            format!(
                "sha256:{}",
                &crate::jose::sha256_b64u(token.as_bytes())[..16]
            )
        })
}
