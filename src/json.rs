//! Strict reading of JSON objects with errors that name the path: the one place where
//! "required string", "optional object" and "no unknown members" are decided.
//!
//! **Which JSON reader for new input.** Text from outside (JS, a server, a file) is parsed
//! within one of the [`limits`](crate::limits) ([`parse_within`]), never with a bare
//! `serde_json::from_str`. Then:
//! - a small object a rule reads member by member (an attestation, a policy, JWT claims):
//!   [`Obj`] over the parsed `serde_json::Value`, so each error names its path and unknown
//!   members are refused;
//! - large or hostile text that need not become a tree (a Bundle to minimise, a batch of
//!   audit events): [`crate::scan::Reader`], which validates as it reads and slices what it
//!   passes on;
//! - writing JSON that is hashed or signed: [`crate::canon`] (RFC 8785), never `to_string`.

use crate::error::{Error, ErrorCode, Result};
use serde_json::{Map, Value};

/// A JSON object being read, with its path for errors.
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
    code: ErrorCode,
}

/// The JSON type name of a value, for error rules.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl<'a> Obj<'a> {
    /// Reads `v` as an object at `path`; errors carry `code`.
    pub fn new(v: &'a Value, path: impl Into<String>, code: ErrorCode) -> Result<Self> {
        let path = path.into();
        match v {
            Value::Object(map) => Ok(Obj { map, path, code }),
            other => Err(Error::new(
                code,
                path,
                format!("must be an object, not {}", type_name(other)),
            )),
        }
    }

    /// The path of member `key`.
    pub fn at(&self, key: &str) -> String {
        format!("{}.{}", self.path, key)
    }

    /// This object's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// An error about member `key`.
    pub fn err(&self, key: &str, rule: impl Into<String>) -> Error {
        Error::new(self.code, self.at(key), rule)
    }

    /// Member `key`, if present and not null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// The member names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &'a String> {
        self.map.keys()
    }

    /// A required member.
    pub fn req(&self, key: &str) -> Result<&'a Value> {
        self.get(key).ok_or_else(|| self.err(key, "is required"))
    }

    /// A required non-empty string of at most `max` bytes.
    pub fn req_str(&self, key: &str, max: usize) -> Result<&'a str> {
        self.opt_str(key, max)?
            .ok_or_else(|| self.err(key, "is required"))
    }

    /// An optional string (absent or null → `None`); if present, non-empty and at most `max` bytes.
    pub fn opt_str(&self, key: &str, max: usize) -> Result<Option<&'a str>> {
        opt_str_in(self.get(key), max).map_err(|rule| self.err(key, rule))
    }

    /// An optional boolean.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => {
                Err(self.err(key, format!("must be a boolean, not {}", type_name(other))))
            }
        }
    }

    /// An optional non-negative integer.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        opt_u64_in(self.get(key)).map_err(|rule| self.err(key, rule))
    }

    /// An optional member read as an object.
    pub fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>> {
        self.get(key)
            .map(|v| Obj::new(v, self.at(key), self.code))
            .transpose()
    }

    /// A required member read as an object.
    pub fn req_obj(&self, key: &str) -> Result<Obj<'a>> {
        Obj::new(self.req(key)?, self.at(key), self.code)
    }

    /// A required array.
    pub fn req_array(&self, key: &str) -> Result<&'a Vec<Value>> {
        match self.req(key)? {
            Value::Array(a) => Ok(a),
            other => Err(self.err(key, format!("must be an array, not {}", type_name(other)))),
        }
    }

    /// Rejects members other than `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<()> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(Error::new(
                self.code,
                format!("{}.{}", self.path, k),
                format!(
                    "is not a member of this object (allowed: {})",
                    allowed.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }
}

/// A member value read as an optional string (null → `None`): non-empty, at most `max`
/// bytes; on failure, the rule broken (the caller names the path).
pub fn opt_str_in(v: Option<&Value>, max: usize) -> core::result::Result<Option<&str>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Err("must not be empty".into()),
        Some(Value::String(s)) if s.len() > max => Err(format!("must be at most {max} bytes")),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("must be a string, not {}", type_name(other))),
    }
}

/// A member value read as an optional non-negative integer (null → `None`).
pub fn opt_u64_in(v: Option<&Value>) -> core::result::Result<Option<u64>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| "must be a non-negative whole number".into()),
        Some(other) => Err(format!("must be a number, not {}", type_name(other))),
    }
}

/// [`parse_limited`] within one of the [`limits`](crate::limits).
pub fn parse_within(text: &str, limit: crate::limits::JsonLimit, what: &str) -> Result<Value> {
    parse_limited(text, limit.bytes, limit.depth, what)
}

/// Parses JSON text with a size limit and a nesting limit, so hostile input cannot exhaust
/// memory or the stack: the text is checked by [`crate::scan::Reader`] (which knows the
/// nesting as it reads) before serde_json builds the tree. `what` names the argument in
/// errors.
pub fn parse_limited(text: &str, max_bytes: usize, max_depth: usize, what: &str) -> Result<Value> {
    if text.len() > max_bytes {
        return Err(Error::new(
            ErrorCode::InputTooLarge,
            what,
            format!("is larger than the limit of {max_bytes} bytes"),
        ));
    }
    let mut r = crate::scan::Reader::new(text, max_depth, what);
    r.skip()?;
    r.end()?;
    serde_json::from_str(text).map_err(|e| json_error(&e, what))
}

/// A serde_json error as a typed error: the kind of problem, line and column, never the input.
pub fn json_error(e: &serde_json::Error, what: &str) -> Error {
    let kind = match e.classify() {
        serde_json::error::Category::Eof => "ends too early",
        serde_json::error::Category::Syntax => "is not valid JSON",
        serde_json::error::Category::Data => "has data of the wrong type",
        serde_json::error::Category::Io => "could not be read",
    };
    Error::new(
        ErrorCode::MalformedJson,
        what,
        format!("{kind} (line {}, column {})", e.line(), e.column()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_members() {
        let v = json!({"a": "x", "b": 1, "c": ""});
        let o = Obj::new(&v, "$", ErrorCode::InvalidArgument).unwrap();
        assert_eq!(o.req_str("a", 10).unwrap(), "x");
        assert_eq!(
            o.req_str("b", 10).unwrap_err().rule(),
            "must be a string, not number"
        );
        assert_eq!(o.req_str("c", 10).unwrap_err().rule(), "must not be empty");
        assert_eq!(o.req_str("d", 10).unwrap_err().path(), "$.d");
        assert_eq!(o.only(&["a", "b"]).unwrap_err().path(), "$.c");
        assert!(Obj::new(&json!([]), "$", ErrorCode::InvalidArgument).is_err());
    }

    #[test]
    fn limits() {
        assert_eq!(
            parse_limited("[1]", 2, 10, "x").unwrap_err().code(),
            ErrorCode::InputTooLarge
        );
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(
            parse_limited(&deep, 1 << 20, 64, "x").unwrap_err().code(),
            ErrorCode::InputTooLarge
        );
        assert!(parse_limited(r#"{"a":"[[[[[[[[[[[["}"#, 1 << 20, 3, "x").is_ok());
        // Escaped quotes and backslashes inside strings do not end them.
        assert!(parse_limited(r#"{"a":"\"[[[[\\\"[[[["}"#, 1 << 20, 3, "x").is_ok());
        assert_eq!(
            parse_limited(r#"{"a":"\\","b":[[[[]]]]}"#, 1 << 20, 3, "x")
                .unwrap_err()
                .code(),
            ErrorCode::InputTooLarge
        );
        let e = parse_limited("{\"a\": 12345678901", 1 << 20, 64, "bundle").unwrap_err();
        assert_eq!(e.code(), ErrorCode::MalformedJson);
        assert!(!e.rule().contains("12345678901"));
    }
}
