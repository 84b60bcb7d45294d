//! The wasm-bindgen layer: translates between JS values and the core, and reaches the
//! platform (WebCrypto, clock, randomness). No domain logic lives here.

pub mod api;
pub mod audit;
pub mod platform;
pub mod ship;
pub mod signer;

use crate::error::{Error, ErrorCode};
use js_sys::{Object, Reflect};
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;

/// A core error as a JS `Error` with `name`, `code`, `path` and `rule`; the JS wrapper turns
/// it into the matching `TillitError` subclass.
pub(crate) fn to_js(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name("TillitError");
    let o: &Object = err.as_ref();
    let _ = Reflect::set(o, &"code".into(), &e.code().as_str().into());
    let _ = Reflect::set(o, &"path".into(), &e.path().into());
    let _ = Reflect::set(o, &"rule".into(), &e.rule().into());
    err.into()
}

pub(crate) type JsResult<T> = Result<T, JsValue>;

/// An argument error, already in JS form.
pub(crate) fn arg_err(path: &str, rule: &str) -> JsValue {
    to_js(Error::new(ErrorCode::InvalidArgument, path, rule))
}

/// Reads a JS value into JSON through `JSON.stringify` and the core's limited parser, so a
/// cyclic, enormous or deeply nested object is a typed error, never a stack overflow in wasm.
pub(crate) fn from_js(v: &JsValue, path: &str) -> JsResult<Value> {
    if v.is_undefined() {
        return Ok(Value::Null);
    }
    let text = js_sys::JSON::stringify(v)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| arg_err(path, "must be plain JSON data (objects, arrays, strings, numbers, booleans; no cycles, no BigInt)"))?;
    crate::json::parse_limited(&text, 16 << 20, 128, path).map_err(to_js)
}

/// Writes JSON to a JS value, objects as plain objects.
pub fn to_js_value(v: &Value) -> JsValue {
    let ser = serde_wasm_bindgen::Serializer::json_compatible();
    v.serialize(&ser).unwrap_or(JsValue::NULL)
}

/// Property `key` of `obj`, `None` when undefined or null.
pub(crate) fn prop(obj: &JsValue, key: &str) -> Option<JsValue> {
    if !obj.is_object() {
        return None;
    }
    Reflect::get(obj, &interned(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// A fixed string (a property name, an algorithm name) as a JS string, made once (wasm-bindgen's
/// interning): each new JS string from Rust text costs a `TextDecoder` call, and the same few
/// are used on every call.
pub(crate) fn interned(key: &str) -> JsValue {
    JsValue::from_str(wasm_bindgen::intern(key))
}

/// A required string property.
pub(crate) fn prop_str(obj: &JsValue, key: &str) -> JsResult<String> {
    opt_str(obj, key)?.ok_or_else(|| arg_err(key, "is required"))
}

/// An optional string property.
pub(crate) fn opt_str(obj: &JsValue, key: &str) -> JsResult<Option<String>> {
    match prop(obj, key) {
        None => Ok(None),
        Some(v) => v
            .as_string()
            .map(Some)
            .ok_or_else(|| arg_err(key, "must be a string")),
    }
}

/// An optional non-negative whole-number property.
pub(crate) fn opt_u64(obj: &JsValue, key: &str) -> JsResult<Option<u64>> {
    match prop(obj, key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= 9.0e15 => Ok(Some(f as u64)),
            _ => Err(arg_err(key, "must be a non-negative whole number")),
        },
    }
}

/// Sets `key` on a plain object.
pub(crate) fn set(o: &Object, key: &str, v: &JsValue) {
    let _ = Reflect::set(o, &interned(key), v);
}
