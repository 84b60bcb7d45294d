//! Values parsed from text, kept for the next call with the same text: a session hands the
//! core the same trust context for every assertion, proof and page, and a key the same public
//! JWK for every proof, and parsing and validating them each time is most of the cost of
//! building an assertion. Parsing is deterministic, so a hit is exact; only the last text of
//! each kind is kept, and a text that does not parse is not kept.

use crate::error::Result;
use crate::jose::PublicJwk;
use crate::limits;
use crate::trust::TrustContext;
use std::cell::RefCell;

/// The last text parsed and its value.
pub struct Last<T> {
    slot: Option<(String, T)>,
}

impl<T: Clone> Last<T> {
    /// Nothing kept yet.
    pub const fn new() -> Self {
        Last { slot: None }
    }

    /// The value of `text`: the kept one if `text` is the last text, else `parse(text)`, kept.
    pub fn get(&mut self, text: &str, parse: impl FnOnce(&str) -> Result<T>) -> Result<T> {
        if let Some((t, v)) = &self.slot {
            if t == text {
                return Ok(v.clone());
            }
        }
        let v = parse(text)?;
        self.slot = Some((text.to_string(), v.clone()));
        Ok(v)
    }
}

impl<T: Clone> Default for Last<T> {
    fn default() -> Self {
        Self::new()
    }
}

thread_local! {
    static CONTEXT: RefCell<Last<TrustContext>> = const { RefCell::new(Last::new()) };
    static JWK: RefCell<Last<PublicJwk>> = const { RefCell::new(Last::new()) };
}

/// A trust context from its JSON text (errors under `path`), parsed once per distinct text.
pub fn trust_context(text: &str, path: &str) -> Result<TrustContext> {
    CONTEXT.with(|c| {
        c.borrow_mut().get(text, |t| {
            let json = crate::json::parse_within(t, limits::TRUST_CONTEXT, path)?;
            TrustContext::from_json(&json).map_err(|e| e.under(path))
        })
    })
}

/// A key's public JWK from its JSON text, parsed once per distinct text.
pub fn public_jwk(text: &str, path: &str) -> Result<PublicJwk> {
    JWK.with(|c| {
        c.borrow_mut().get(text, |t| {
            let json = crate::json::parse_within(t, limits::PUBLIC_JWK, path)?;
            PublicJwk::from_value(&json, false, path)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, ErrorCode};

    #[test]
    fn the_last_text_is_parsed_once_and_a_failure_is_not_kept() {
        let mut last = Last::new();
        let mut parses = 0;
        let mut parse = |t: &str| {
            parses += 1;
            t.parse::<u32>()
                .map_err(|_| Error::new(ErrorCode::InvalidArgument, "n", "must be a number"))
        };
        assert_eq!(last.get("7", &mut parse).unwrap(), 7);
        assert_eq!(last.get("7", &mut parse).unwrap(), 7);
        assert!(last.get("x", &mut parse).is_err());
        assert_eq!(last.get("7", &mut parse).unwrap(), 7);
        assert_eq!(last.get("8", &mut parse).unwrap(), 8);
        // "7" once, "x" once (not kept), "8" once.
        assert_eq!(parses, 3);
    }

    #[test]
    fn a_bad_context_text_is_a_typed_error_under_its_path() {
        let e = trust_context("{\"a\":", "trustContext").unwrap_err();
        assert_eq!(e.code(), ErrorCode::MalformedJson);
        let e = trust_context("{}", "trustContext").unwrap_err();
        assert!(e.path().starts_with("trustContext"), "{}", e.path());
        let e = public_jwk("[]", "key.publicJwk").unwrap_err();
        assert_eq!(e.path(), "key.publicJwk");
    }
}
