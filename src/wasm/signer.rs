//! The server signer's binding: `SigningGate` holds [`crate::signing::Gate`] (its rules,
//! seen `jti`s and rate-limit buckets); this file only converts the configuration, the
//! session and the verdict between JS and the core.

use super::{arg_err, interned, opt_str, opt_u64, prop, prop_str, set, to_js, JsResult};
use crate::ident::{HprNr, NationalId, OrgNr};
use crate::jose::Alg;
use crate::signing::{Config, Gate, Refusal, Session};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

fn strings(obj: &JsValue, key: &str) -> JsResult<Vec<String>> {
    match prop(obj, key) {
        None => Ok(Vec::new()),
        Some(v) if Array::is_array(&v) => Array::from(&v)
            .iter()
            .map(|s| {
                s.as_string()
                    .ok_or_else(|| arg_err(key, "must be an array of strings"))
            })
            .collect(),
        Some(_) => Err(arg_err(key, "must be an array of strings")),
    }
}

fn refusal_to_js(r: Refusal) -> JsValue {
    let e = to_js(r.error);
    let _ = Reflect::set(&e, &interned("reason"), &r.reason.as_str().into());
    e
}

/// A string, or the `key` member of an object (`practitioner: '…'` or `{ id: '…' }`).
fn str_or(obj: &JsValue, key: &str, member: &str, path: &str) -> JsResult<String> {
    match prop(obj, key) {
        Some(v) if v.is_string() => Ok(v.as_string().unwrap_or_default()),
        Some(v) if v.is_object() => {
            prop_str(&v, member).map_err(|_| arg_err(&format!("{path}.{member}"), "is required"))
        }
        _ => Err(arg_err(path, "is required")),
    }
}

fn session(v: &JsValue) -> JsResult<Session> {
    if !v.is_object() {
        return Err(arg_err(
            "session",
            "authorize must return { practitioner, organisation, allowedPatients? }",
        ));
    }
    let pid = str_or(v, "practitioner", "id", "session.practitioner")?;
    let practitioner = NationalId::parse(&pid, "session.practitioner.id").map_err(to_js)?;
    let hpr_nr = match prop(v, "practitioner").filter(JsValue::is_object) {
        Some(p) => opt_str(&p, "hprNr")?
            .map(|h| HprNr::parse(&h, "session.practitioner.hprNr"))
            .transpose()
            .map_err(to_js)?,
        None => None,
    };
    let le = str_or(v, "organisation", "legalEntity", "session.organisation")?;
    let legal_entity = OrgNr::parse(&le, "session.organisation.legalEntity").map_err(to_js)?;
    let point_of_care = match prop(v, "organisation").filter(JsValue::is_object) {
        Some(o) => match opt_str(&o, "pointOfCare")? {
            Some(p) => OrgNr::parse(&p, "session.organisation.pointOfCare").map_err(to_js)?,
            None => legal_entity.clone(),
        },
        None => legal_entity.clone(),
    };
    let allowed_patients = strings(v, "allowedPatients")?
        .iter()
        .enumerate()
        .map(|(i, p)| NationalId::parse(p, &format!("session.allowedPatients[{i}]")))
        .collect::<crate::Result<Vec<_>>>()
        .map_err(to_js)?;
    Ok(Session {
        practitioner,
        hpr_nr,
        legal_entity,
        point_of_care,
        allowed_patients,
    })
}

/// The checked signer's rules and state; see `tillit/server`.
#[wasm_bindgen]
pub struct SigningGate {
    gate: Gate,
}

#[wasm_bindgen]
impl SigningGate {
    /// `{ clientId, issuer, alg, kid?, redirectUris?, scopes?, resources?, skewSeconds?,
    /// allowNarrowAttestation?, rateLimit?: { burst?, perMinute? } }`.
    #[wasm_bindgen(constructor)]
    pub fn new(opts: JsValue) -> JsResult<SigningGate> {
        let alg = Alg::parse(&prop_str(&opts, "alg")?, "alg").map_err(to_js)?;
        let kid = opt_str(&opts, "kid")?;
        let mut c = Config::new(
            &prop_str(&opts, "clientId")?,
            &prop_str(&opts, "issuer")?,
            alg,
            kid.as_deref(),
        )
        .map_err(to_js)?;
        c.redirect_uris = strings(&opts, "redirectUris")?;
        c.scopes = strings(&opts, "scopes")?;
        c.resources = strings(&opts, "resources")?;
        if let Some(s) = opt_u64(&opts, "skewSeconds")? {
            if s > crate::limits::MAX_SKEW_SECS {
                return Err(arg_err("skewSeconds", "must be 0 to 300"));
            }
            c.skew_secs = s;
        }
        c.allow_narrow = prop(&opts, "allowNarrowAttestation")
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| arg_err("allowNarrowAttestation", "must be a boolean"))
            })
            .transpose()?
            .unwrap_or(false);
        if let Some(r) = prop(&opts, "rateLimit") {
            let n = |k: &str, path: &str| -> JsResult<Option<u32>> {
                opt_u64(&r, k)
                    .map_err(|_| arg_err(path, "must be a whole number"))?
                    .map(|v| {
                        u32::try_from(v)
                            .ok()
                            .filter(|v| *v >= 1)
                            .ok_or_else(|| arg_err(path, "must be 1 or more"))
                    })
                    .transpose()
            };
            if let Some(b) = n("burst", "rateLimit.burst")? {
                c.burst = b;
            }
            if let Some(p) = n("perMinute", "rateLimit.perMinute")? {
                c.per_minute = p;
            }
        }
        Ok(SigningGate { gate: Gate::new(c) })
    }

    /// Decides for `input` (the signing input's bytes) and the session `authorize` returned,
    /// at `now_ms`: `{ kind, jti, exp, trustContext? }` (the context as JSON text), or throws
    /// a `SIGNING_REFUSED` error with a `reason`. `session_key` keys the rate limit.
    pub fn check(
        &mut self,
        input: &[u8],
        session_js: JsValue,
        session_key: &str,
        now_ms: f64,
    ) -> JsResult<JsValue> {
        let s = session(&session_js)?;
        let now_ms = if now_ms.is_finite() && now_ms >= 0.0 {
            now_ms as u64
        } else {
            0
        };
        self.gate.take(session_key, now_ms).map_err(refusal_to_js)?;
        let a = self
            .gate
            .check(input, &s, now_ms / 1000)
            .map_err(refusal_to_js)?;
        let o = Object::new();
        set(&o, "kind", &a.kind.name().into());
        set(&o, "jti", &a.jti.as_str().into());
        set(&o, "exp", &(a.exp as f64).into());
        if let Some(tc) = &a.trust_context {
            set(&o, "trustContext", &tc.to_json().to_string().into());
        }
        Ok(o.into())
    }
}
