//! The client's decisions, free of any platform: how to read a response (success, a DPoP
//! nonce challenge, a retryable failure, an OAuth error, a FHIR OperationOutcome), how long to
//! wait before a retry, what a token cache is keyed by, how forms are encoded, and how server
//! text is cleaned of national ids and tokens.
//! The JS layer does the I/O (fetch, timers, AbortSignal) and asks these functions.

use crate::canon::canonical;
use crate::jose::sha256_b64u;
use serde_json::Value;

/// What to do with a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: use the body.
    Ok,
    /// The server wants (another) DPoP nonce: retry once with the nonce it sent.
    UseNonce,
    /// A transient failure of an idempotent read: retry after this many milliseconds.
    Retry {
        /// Milliseconds to wait.
        after_ms: u64,
    },
    /// An OAuth error (`error`, `error_description`).
    OAuth {
        /// HTTP status.
        status: u16,
        /// `error`.
        error: String,
        /// `error_description`, cleaned of national ids.
        description: String,
    },
    /// A FHIR OperationOutcome.
    Fhir {
        /// HTTP status.
        status: u16,
        /// The first issue's code.
        code: String,
        /// The diagnostics, cleaned of national ids.
        diagnostics: String,
    },
    /// Any other HTTP failure.
    Http {
        /// HTTP status.
        status: u16,
    },
}

/// The retry policy: at most `max_retries`, exponential backoff from `base_ms` with jitter,
/// `Retry-After` honoured up to `max_wait_ms`.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff.
    pub base_ms: u64,
    /// Longest single wait.
    pub max_wait_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: crate::limits::MAX_RETRIES,
            base_ms: crate::limits::RETRY_BASE_MS,
            max_wait_ms: crate::limits::MAX_RETRY_WAIT_MS,
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1-based), given `Retry-After` (seconds or
    /// HTTP date, already parsed to seconds by the caller when a date) and a jitter in [0, 1).
    pub fn wait_ms(&self, attempt: u32, retry_after: Option<&str>, jitter: f64) -> u64 {
        if let Some(secs) = retry_after.and_then(|r| r.trim().parse::<u64>().ok()) {
            return (secs.saturating_mul(1000)).min(self.max_wait_ms);
        }
        let exp = self
            .base_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(16));
        let jittered = exp as f64 * (0.5 + jitter.clamp(0.0, 0.999) / 2.0);
        (jittered as u64).min(self.max_wait_ms)
    }
}

/// The `error` of a `WWW-Authenticate: DPoP error="…"` challenge, if it is one.
pub fn dpop_challenge_error(www_authenticate: &str) -> Option<&str> {
    let rest = www_authenticate.trim_start().strip_prefix("DPoP")?;
    let i = rest.find("error=\"")? + 7;
    let end = rest[i..].find('"')? + i;
    Some(&rest[i..end])
}

/// Reads a response. `idempotent` reads may be retried; `attempt` counts retries so far.
#[allow(clippy::too_many_arguments)] // the response's parts and the retry state, each used once
pub fn classify(
    status: u16,
    www_authenticate: Option<&str>,
    retry_after: Option<&str>,
    body: &[u8],
    idempotent: bool,
    attempt: u32,
    policy: &RetryPolicy,
    jitter: f64,
) -> Verdict {
    if (200..300).contains(&status) {
        return Verdict::Ok;
    }
    if status == 401 && www_authenticate.and_then(dpop_challenge_error) == Some("use_dpop_nonce") {
        return Verdict::UseNonce;
    }
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if status == 400
        && json
            .as_ref()
            .and_then(|j| j.get("error"))
            .and_then(Value::as_str)
            == Some("use_dpop_nonce")
    {
        return Verdict::UseNonce;
    }
    if idempotent && matches!(status, 429 | 502 | 503 | 504) && attempt < policy.max_retries {
        return Verdict::Retry {
            after_ms: policy.wait_ms(attempt + 1, retry_after, jitter),
        };
    }
    if let Some(j) = &json {
        // A server's text member, cleaned and bounded (absent: `default`).
        let text = |v: Option<&Value>, key: &str, default: &str, max: usize| {
            clean(
                v.and_then(|v| v.get(key))
                    .and_then(Value::as_str)
                    .unwrap_or(default),
                max,
            )
        };
        if let Some(e) = j.get("error").and_then(Value::as_str) {
            return Verdict::OAuth {
                status,
                error: clean(e, 64),
                description: text(Some(j), "error_description", "", 300),
            };
        }
        if j.get("resourceType").and_then(Value::as_str) == Some("OperationOutcome") {
            let issue = j.pointer("/issue/0");
            return Verdict::Fhir {
                status,
                code: text(issue, "code", "unknown", 64),
                diagnostics: text(issue, "diagnostics", "", 300),
            };
        }
    }
    if let Some(err) = www_authenticate.and_then(dpop_challenge_error) {
        return Verdict::OAuth {
            status,
            error: clean(err, 64),
            description: String::new(),
        };
    }
    Verdict::Http { status }
}

/// Server text made safe for an error message: national ids (also written in groups) and
/// tokens masked, control characters dropped, length bounded (see [`crate::error::scrub`]).
pub fn clean(text: &str, max: usize) -> String {
    crate::error::scrub(text, max)
}

/// The token cache key: resource, scope and the trust context's canonical form (hashed), so a
/// token for one patient or care relationship is never used for another.
pub fn cache_key(resource: &str, scope: &str, trust_context: Option<&Value>) -> String {
    let ctx = trust_context
        .map(|v| sha256_b64u(canonical(v).as_bytes()))
        .unwrap_or_else(|| "-".into());
    format!("{resource}\u{1f}{scope}\u{1f}{ctx}")
}

/// `application/x-www-form-urlencoded` for `pairs`.
pub fn form_encode(pairs: &[(String, String)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// PJD's access basis, sent as `nhn-access-basis` with the kjernejournalforskriften search scope
/// (and `UNNTAK` with the status call), as NHN's developer portal lists the values. A raised
/// (`FORHOYET_*`) basis opens what the patient has blocked: an emergency-class look-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessBasis {
    /// `UNNTAK`: by exception.
    Unntak,
    /// `SAMTYKKE`: consent.
    Samtykke,
    /// `FORHOYET_SAMTYKKE`: raised consent (opens blocked data).
    ForhoyetSamtykke,
    /// `AKUTT`: emergency.
    Akutt,
    /// `FORHOYET_AKUTT`: raised emergency (opens blocked data).
    ForhoyetAkutt,
}

impl AccessBasis {
    /// All values.
    pub const ALL: [AccessBasis; 5] = [
        AccessBasis::Unntak,
        AccessBasis::Samtykke,
        AccessBasis::ForhoyetSamtykke,
        AccessBasis::Akutt,
        AccessBasis::ForhoyetAkutt,
    ];

    /// The header value.
    pub const fn code(self) -> &'static str {
        match self {
            AccessBasis::Unntak => "UNNTAK",
            AccessBasis::Samtykke => "SAMTYKKE",
            AccessBasis::ForhoyetSamtykke => "FORHOYET_SAMTYKKE",
            AccessBasis::Akutt => "AKUTT",
            AccessBasis::ForhoyetAkutt => "FORHOYET_AKUTT",
        }
    }

    /// Whether the basis is raised (opens blocked data): an emergency-class look-up that the
    /// access log and the follow-up reports show as such.
    pub const fn is_raised(self) -> bool {
        matches!(
            self,
            AccessBasis::ForhoyetSamtykke | AccessBasis::ForhoyetAkutt
        )
    }

    /// Reads a value. NHN's sources disagree on the spelling: the developer portal lists upper
    /// case, the reference EHR sends `akutt`, `samtykke`, `unntak`
    /// (NorskHelsenett/Pasientens-journaldokumenter, `.NET/PatientHealthRecordsEPJ/.../Models/
    /// PasientvalgViewModel.cs`). Both are read; [`AccessBasis::code`] is what is sent.
    pub fn parse(s: &str, path: &str) -> crate::error::Result<Self> {
        AccessBasis::ALL
            .into_iter()
            .find(|b| b.code() == s || (!b.is_raised() && b.code().eq_ignore_ascii_case(s) && s.bytes().all(|c| c.is_ascii_lowercase())))
            .ok_or_else(|| {
                crate::error::Error::new(
                    crate::error::ErrorCode::InvalidArgument,
                    path,
                    "must be UNNTAK, SAMTYKKE, FORHOYET_SAMTYKKE, AKUTT or FORHOYET_AKUTT (or the reference EHR's akutt, samtykke, unntak)",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn verdicts() {
        let p = RetryPolicy::default();
        assert_eq!(
            classify(200, None, None, b"{}", true, 0, &p, 0.5),
            Verdict::Ok
        );
        assert_eq!(
            classify(
                401,
                Some("DPoP error=\"use_dpop_nonce\", error_description=\"x\""),
                None,
                b"",
                true,
                0,
                &p,
                0.5
            ),
            Verdict::UseNonce
        );
        assert_eq!(
            classify(
                400,
                None,
                None,
                br#"{"error":"use_dpop_nonce"}"#,
                false,
                0,
                &p,
                0.5
            ),
            Verdict::UseNonce
        );
        assert_eq!(
            classify(503, None, Some("1"), b"", true, 0, &p, 0.5),
            Verdict::Retry { after_ms: 1000 }
        );
        assert_eq!(
            classify(503, None, Some("999"), b"", true, 0, &p, 0.5),
            Verdict::Retry { after_ms: 5000 }
        );
        assert!(
            matches!(
                classify(503, None, None, b"", true, 2, &p, 0.5),
                Verdict::Http { status: 503 }
            ),
            "bounded"
        );
        assert!(
            matches!(
                classify(503, None, None, b"", false, 0, &p, 0.5),
                Verdict::Http { status: 503 }
            ),
            "only idempotent reads"
        );
        assert_eq!(
            classify(
                400,
                None,
                None,
                br#"{"error":"invalid_request","error_description":"patient 01018512345 unknown"}"#,
                false,
                0,
                &p,
                0.5
            ),
            Verdict::OAuth {
                status: 400,
                error: "invalid_request".into(),
                description: "patient *********** unknown".into()
            }
        );
        assert_eq!(
            classify(403, None, None, br#"{"resourceType":"OperationOutcome","issue":[{"code":"forbidden","diagnostics":"no"}]}"#, true, 0, &p, 0.5),
            Verdict::Fhir { status: 403, code: "forbidden".into(), diagnostics: "no".into() }
        );
        assert!(
            matches!(classify(401, Some("DPoP error=\"invalid_token\""), None, b"", true, 0, &p, 0.5), Verdict::OAuth { ref error, .. } if error == "invalid_token")
        );
        assert_eq!(
            classify(500, None, None, b"<html>", true, 0, &p, 0.5),
            Verdict::Http { status: 500 }
        );
    }

    #[test]
    fn backoff_grows_and_is_bounded() {
        let p = RetryPolicy::default();
        assert_eq!(p.wait_ms(1, None, 0.0), 100);
        assert_eq!(p.wait_ms(2, None, 0.0), 200);
        assert!(p.wait_ms(3, None, 0.99) < 800);
        assert_eq!(p.wait_ms(30, None, 0.5), 5000);
    }

    #[test]
    fn cache_keys_separate_contexts() {
        let a = json!({"patients": [{"id": 1}], "x": 1});
        let a2 = json!({"x": 1, "patients": [{"id": 1}]});
        let b = json!({"patients": [{"id": 2}], "x": 1});
        assert_eq!(
            cache_key("r", "s", Some(&a)),
            cache_key("r", "s", Some(&a2))
        );
        assert_ne!(cache_key("r", "s", Some(&a)), cache_key("r", "s", Some(&b)));
        assert_ne!(cache_key("r", "s", None), cache_key("r", "t", None));
    }

    #[test]
    fn forms_and_cleaning() {
        assert_eq!(
            form_encode(&[
                ("patient.identifier".into(), "urn:oid:1|2".into()),
                ("a b".into(), "æ".into())
            ]),
            "patient.identifier=urn%3Aoid%3A1%7C2&a+b=%C3%A6"
        );
        assert_eq!(
            clean("id 12345678901 and 123", 100),
            "id *********** and 123"
        );
        assert_eq!(clean("a\u{0}b\nc", 100), "abc");
        assert_eq!(dpop_challenge_error("Bearer error=\"x\""), None);
    }

    #[test]
    fn access_basis() {
        for b in AccessBasis::ALL {
            assert_eq!(AccessBasis::parse(b.code(), "$").unwrap(), b);
        }
        // The reference EHR's spelling (Pasientens-journaldokumenter, PasientvalgViewModel.cs).
        assert_eq!(
            AccessBasis::parse("akutt", "$").unwrap(),
            AccessBasis::Akutt
        );
        assert_eq!(AccessBasis::parse("unntak", "$").unwrap().code(), "UNNTAK");
        for bad in ["forhoyet_akutt", "Akutt", "BTG", ""] {
            assert_eq!(
                AccessBasis::parse(bad, "accessBasis").unwrap_err().path(),
                "accessBasis"
            );
        }
        assert!(AccessBasis::ForhoyetAkutt.is_raised() && !AccessBasis::Akutt.is_raised());
    }
}
