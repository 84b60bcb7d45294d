//! The one error type of the core: a stable machine code, the JSON path of the offending
//! field and the rule it broke.
//!
//! Messages are built from the path and the rule only, never from the value, so no national
//! id, token or document content can reach a log through an error.

use core::fmt;

/// Stable error codes. The JS wrapper maps each to a `TillitError` subclass; the string form
/// (see [`ErrorCode::as_str`]) is part of the public API and never changes meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A Norwegian identifier (national id, organisation number, HPR number) is malformed.
    InvalidIdentifier,
    /// A code is not in its code system, or the code system is not the one the field allows.
    InvalidCode,
    /// The attestation (trust context) breaks a shape or business rule.
    InvalidTrustContext,
    /// The attestation is older than allowed, or from the future.
    AttestationExpired,
    /// An argument of an API call is missing, of the wrong type or out of range.
    InvalidArgument,
    /// The algorithm is not one tillit signs with (RS256, PS256, ES256).
    UnsupportedAlgorithm,
    /// A key cannot be used the way it was asked to (wrong type, not found, extractable).
    KeyError,
    /// The platform's crypto refused an operation.
    CryptoError,
    /// Input JSON could not be parsed, or is not the JSON type expected.
    MalformedJson,
    /// A minimisation policy is invalid.
    InvalidPolicy,
    /// A FHIR resource or Bundle breaks a rule tillit relies on.
    InvalidResource,
    /// Input larger or deeper than the configured limit.
    InputTooLarge,
    /// A document the policy withholds was asked for.
    DocumentWithheld,
    /// The access log could not be written or read: the look-up must not happen.
    AuditFailure,
    /// The server-side signer refused to sign (see `signing`): the bytes were not a client
    /// assertion or request object this session may have signed.
    SigningRefused,
}

impl ErrorCode {
    /// The stable string code, as `TillitError.code` in JS.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidIdentifier => "INVALID_IDENTIFIER",
            ErrorCode::InvalidCode => "INVALID_CODE",
            ErrorCode::InvalidTrustContext => "INVALID_TRUST_CONTEXT",
            ErrorCode::AttestationExpired => "ATTESTATION_EXPIRED",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::UnsupportedAlgorithm => "UNSUPPORTED_ALGORITHM",
            ErrorCode::KeyError => "KEY_ERROR",
            ErrorCode::CryptoError => "CRYPTO_ERROR",
            ErrorCode::MalformedJson => "MALFORMED_JSON",
            ErrorCode::InvalidPolicy => "INVALID_POLICY",
            ErrorCode::InvalidResource => "INVALID_RESOURCE",
            ErrorCode::InputTooLarge => "INPUT_TOO_LARGE",
            ErrorCode::DocumentWithheld => "DOCUMENT_WITHHELD",
            ErrorCode::AuditFailure => "AUDIT_FAILURE",
            ErrorCode::SigningRefused => "SIGNING_REFUSED",
        }
    }
}

/// An error with a stable code, the JSON path (`$.practitioner.identifier.id`) or argument
/// name it concerns, and the rule that was broken. Never carries the offending value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    path: String,
    rule: String,
}

impl Error {
    /// Makes an error. `rule` must describe the rule, not quote the input.
    pub fn new(code: ErrorCode, path: impl Into<String>, rule: impl Into<String>) -> Self {
        Error {
            code,
            path: path.into(),
            rule: rule.into(),
        }
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The JSON path or argument name.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The rule that was broken.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// Re-roots the error under `prefix` (`$.patients[0]` + `$.identifier` →
    /// `$.patients[0].identifier`), for errors raised by a nested parser.
    pub fn under(mut self, prefix: &str) -> Self {
        let rest = self.path.strip_prefix('$').unwrap_or(&self.path);
        self.path = format!("{prefix}{rest}");
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}: {}", self.code.as_str(), self.path, self.rule)
    }
}

impl std::error::Error for Error {}

/// Result alias of the core.
pub type Result<T> = core::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_code_path_and_rule() {
        let e = Error::new(ErrorCode::InvalidIdentifier, "$.id", "must be 11 digits");
        assert_eq!(
            e.to_string(),
            "INVALID_IDENTIFIER at $.id: must be 11 digits"
        );
    }

    #[test]
    fn under_reroots_path() {
        let e =
            Error::new(ErrorCode::InvalidIdentifier, "$.id", "r").under("$.patients[2].identifier");
        assert_eq!(e.path(), "$.patients[2].identifier.id");
    }
}
