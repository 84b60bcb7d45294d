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
    /// A retrieved document is of a type a page could execute (HTML, SVG, XML other than
    /// CDA, script, unknown), or its bytes are not the type promised: never handed over.
    UnsafeContent,
    /// A retrieved document is not whole: shorter or longer than promised, a PDF without its
    /// end marker, a CDA that does not parse.
    IncompleteDocument,
    /// The organisation's collector holds a head that is not on the local chain (a fork):
    /// shipping the access log stops.
    AuditFork,
    /// The collector refused the access log for good (a code other than a fork), or lost
    /// records it had acknowledged and that were pruned here: shipping stops.
    ShippingRefused,
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
            ErrorCode::UnsafeContent => "UNSAFE_CONTENT",
            ErrorCode::IncompleteDocument => "INCOMPLETE_DOCUMENT",
            ErrorCode::AuditFork => "AUDIT_FORK",
            ErrorCode::ShippingRefused => "SHIPPING_REFUSED",
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
    /// Makes an error. `rule` must describe the rule, not quote the input. Both are passed
    /// through [`scrub`] all the same: a path can carry a member name taken from the input
    /// (an unknown member named by a national id), and a rule can carry server text.
    pub fn new(code: ErrorCode, path: impl Into<String>, rule: impl Into<String>) -> Self {
        Error {
            code,
            path: scrub_owned(path.into(), MAX_PATH),
            rule: scrub_owned(rule.into(), MAX_RULE),
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
        self.path = scrub_owned(format!("{prefix}{rest}"), MAX_PATH);
        self
    }
}

/// The longest path an error carries (characters).
const MAX_PATH: usize = 300;
/// The longest rule an error carries (characters).
const MAX_RULE: usize = 1000;
/// The shortest run of token characters read as an opaque token (an access or refresh token
/// echoed without its scheme).
const MIN_OPAQUE_TOKEN: usize = 32;

fn scrub_owned(s: String, max: usize) -> String {
    scrub(&s, max)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~+/=".contains(c)
}

/// Text made safe for an error message, whoever wrote it (a server, the input, a path):
///
/// - an 11-digit national id, also written in groups separated by single spaces, hyphens or
///   dots (`131169 00216`, `131169-00216`, `13.11.69.002.16`), becomes `*` (any run of at
///   least 11 digits so written: a false positive costs a masked number, a miss a leak);
/// - a JWT (`eyJ…`, with or without its signature part), a token after `Bearer`/`DPoP`, and
///   any run of at least 32 token characters holding both letters and digits (an opaque
///   token) becomes `[token]`;
/// - control characters are dropped and the text bounded to `max` characters.
pub fn scrub(text: &str, max: usize) -> String {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_control()).take(max).collect();
    mask_numbers(&mask_tokens(&chars))
}

/// Pass 1: words of token characters that are tokens become `[token]`.
fn mask_tokens(chars: &[char]) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    let mut after_scheme = false;
    while i < chars.len() {
        if !is_token_char(chars[i]) {
            if !chars[i].is_whitespace() {
                after_scheme = false;
            }
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let j = i + chars[i..].iter().take_while(|c| is_token_char(**c)).count();
        let word = &chars[i..j];
        // Trailing sentence punctuation is not part of a token.
        let core_len = word.len() - word.iter().rev().take_while(|c| **c == '.').count();
        let core = &word[..core_len];
        let jwt = core.len() >= 10 && core.starts_with(&['e', 'y', 'J']);
        let opaque = core.len() >= MIN_OPAQUE_TOKEN
            && core.iter().any(char::is_ascii_digit)
            && core.iter().any(char::is_ascii_alphabetic);
        if jwt || opaque || (after_scheme && core.len() >= 8) {
            out.extend("[token]".chars());
            out.extend(&word[core_len..]);
            after_scheme = false;
        } else {
            let w: String = word.iter().collect();
            after_scheme = w.eq_ignore_ascii_case("bearer") || w.eq_ignore_ascii_case("dpop");
            out.extend(word);
        }
        i = j;
    }
    out
}

/// Pass 2: national ids, also written in groups. A group is a run of digits; runs joined by
/// a single space, hyphen or dot follow one another. Up to [`MAX_ID_GROUPS`] consecutive runs
/// of at least two digits each (or one run alone) holding at least 11 digits are masked. OIDs
/// (`2.16.578.1.12.4.1.4.1`) keep their digits: their one-digit arcs are no national id's
/// grouping.
fn mask_numbers(chars: &[char]) -> String {
    // The runs of digits: (start, end), and whether the next run follows by one separator.
    let mut runs: Vec<(usize, usize, bool)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let j = i + chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let joins =
            j + 1 < chars.len() && " -.".contains(chars[j]) && chars[j + 1].is_ascii_digit();
        runs.push((i, j, joins));
        i = j;
    }
    let mut masked = vec![false; runs.len()];
    for k in 0..runs.len() {
        let mut digits = 0;
        for w in 0..MAX_ID_GROUPS {
            let Some(&(a, b, joins)) = runs.get(k + w) else {
                break;
            };
            if w > 0 && (b - a < 2 || runs[k].1 - runs[k].0 < 2) {
                break;
            }
            digits += b - a;
            if digits >= 11 {
                masked[k..=k + w].iter_mut().for_each(|m| *m = true);
                break;
            }
            if !joins {
                break;
            }
        }
    }
    let mut out: String = String::with_capacity(chars.len());
    let mut r = 0;
    for (i, c) in chars.iter().enumerate() {
        while r < runs.len() && runs[r].1 <= i {
            r += 1;
        }
        let in_masked = r < runs.len() && runs[r].0 <= i && masked[r];
        out.push(if in_masked { '*' } else { *c });
    }
    out
}

/// The most groups a national id is written in (`13 11 69 002 16`).
const MAX_ID_GROUPS: usize = 5;

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

    /// Item 11 of issue 16: every way a national id or a token reaches an error text.
    #[test]
    fn scrub_masks_grouped_national_ids_and_tokens() {
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxMzExNjkwMDIxNiJ9.c2lnbmF0dXJl";
        let cases: &[(&str, &str)] = &[
            ("patient 13116900216 unknown", "patient *********** unknown"),
            (
                "patient 131169 00216 unknown",
                "patient ****** ***** unknown",
            ),
            (
                "patient 131169-00216 unknown",
                "patient ******-***** unknown",
            ),
            ("patient 131169.00216.", "patient ******.*****."),
            ("13.11.69.002.16", "**.**.**.***.**"),
            ("13 11 69 00216", "** ** ** *****"),
            ("1311 6900 216", "**** **** ***"),
            ("nin=13116900216&x", "nin=***********&x"),
            (
                "urn:oid:2.16.578.1.12.4.1.4.1|13116900216",
                "urn:oid:2.16.578.1.12.4.1.4.1|***********",
            ),
            (
                "urn:oid:2.16.578.1.12.4.1.4.1 13116900216",
                "urn:oid:2.16.578.1.12.4.1.4.1 ***********",
            ),
            ("id 123456789012345", "id ***************"),
            (
                "token eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxMzExNjkwMDIxNiJ9.c2lnbmF0dXJl was bad.",
                "token [token] was bad.",
            ),
            (
                "unsigned eyJhbGciOiJub25lIn0.eyJ4IjoxfQ.",
                "unsigned [token].",
            ),
            (
                "Authorization: Bearer abcDEF123-_.~+/=",
                "Authorization: Bearer [token]",
            ),
            ("DPoP zzzzzzzzzz", "DPoP [token]"),
            (
                "refresh 4f1c2a9b8e7d6c5b4a39281706f5e4d3c2b1a0ff rejected",
                "refresh [token] rejected",
            ),
            ("a\u{0}b\nc", "abc"),
        ];
        for (input, want) in cases {
            assert_eq!(scrub(input, 300), *want, "{input}");
        }
        // What must survive: OIDs, sizes, times, short numbers, words.
        for keep in [
            "urn:oid:2.16.578.1.12.4.1.1.9602 is required",
            "urn:oid:2.16.578.1.12.4.1.4.101",
            "no complete answer within 15000 ms",
            "is 1234 bytes where the entry's attachment.size promised 2468",
            "$.care_relationship.purpose_of_use_details.system",
            "Bearer realm",
        ] {
            assert_eq!(scrub(keep, 300), keep);
        }
        assert!(!scrub(&format!("echo {jwt}"), 300).contains("eyJ"));
        // Through Error::new: a member name that is a national id, in a path.
        let e = Error::new(
            ErrorCode::InvalidTrustContext,
            "$.practitioner.131169 00216",
            "is not a member",
        );
        assert_eq!(e.path(), "$.practitioner.****** *****");
        let e = Error::new(ErrorCode::InvalidArgument, "$", "x").under("$.patients.13116900216");
        assert!(!e.path().contains("13116900216"));
        assert_eq!(scrub("abcdef", 3), "abc", "bounded");
    }
}
