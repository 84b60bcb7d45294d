//! Every limit and default tillit applies, in one place: the sizes and depths of JSON it reads,
//! the attestation's age, the clock skew, the HTTP client's time-outs and retry policy.
//!
//! The JS wrapper takes these from the core (`core.limits()`, see [`all`]) instead of
//! writing them again, and `tests/limits_agree.rs` fails when the README or the TypeScript
//! wrapper states a different figure.

use serde_json::{json, Value};

/// How much JSON one reading may take: at most `bytes` bytes and `depth` levels of nesting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonLimit {
    /// The most bytes.
    pub bytes: usize,
    /// The deepest nesting of arrays and objects.
    pub depth: usize,
}

/// A trust context (or another small JSON argument) given as text.
pub const TRUST_CONTEXT: JsonLimit = JsonLimit {
    bytes: 1 << 20,
    depth: 64,
};
/// One access-log record (a stored line), and a plain JS value handed to the core.
pub const RECORD: JsonLimit = JsonLimit {
    bytes: 16 << 20,
    depth: 128,
};
/// A public JWK.
pub const PUBLIC_JWK: JsonLimit = JsonLimit {
    bytes: 64 << 10,
    depth: 8,
};
/// A search result (Bundle) to minimise, unless the policy sets `limits`.
pub const BUNDLE: JsonLimit = JsonLimit {
    bytes: 64 << 20,
    depth: 64,
};
/// One batch of look-up events handed to the access log, as JSON text.
pub const EVENT_BATCH_BYTES: usize = 64 << 20;
/// A request to the server signer (its body), and the nesting of its JSON.
pub const SIGNING_REQUEST: JsonLimit = JsonLimit {
    bytes: 16 * 1024,
    depth: 32,
};

/// The longest an attestation may be valid after it was issued (the trust framework: 60
/// minutes).
pub const MAX_ATTESTATION_AGE_SECS: u64 = 3600;
/// The clock skew allowed by default where times are compared (attestations, tokens, the
/// server signer).
pub const DEFAULT_SKEW_SECS: u64 = 30;
/// The largest clock skew a caller may allow (the server signer's `skewSeconds`).
pub const MAX_SKEW_SECS: u64 = 300;

/// The look-ups by one practitioner in one day above which log control's volume report lists
/// them, by default (the device's `report()` and the collector's `--volume-threshold`).
pub const DEFAULT_VOLUME_THRESHOLD: u64 = 50;

/// The HTTP client's time-out per attempt, body included, by default (milliseconds).
pub const DEFAULT_TIMEOUT_MS: u64 = 15_000;
/// The longest time-out a caller may set (milliseconds).
pub const MAX_TIMEOUT_MS: u64 = 600_000;
/// How many times an idempotent read is tried again after a network error or a retryable
/// answer (429, 502, 503, 504), each after a longer wait.
pub const MAX_RETRIES: u32 = 2;
/// The first wait before a retry (milliseconds): doubled for each further one, with jitter.
pub const RETRY_BASE_MS: u64 = 200;
/// The longest single wait before a retry, `Retry-After` included (milliseconds).
pub const MAX_RETRY_WAIT_MS: u64 = 5_000;

/// All of the above as JSON, with the names the JS wrapper reads (`core.limits()`).
pub fn all() -> Value {
    let lim = |l: JsonLimit| json!({ "bytes": l.bytes, "depth": l.depth });
    json!({
        "trustContext": lim(TRUST_CONTEXT),
        "record": lim(RECORD),
        "publicJwk": lim(PUBLIC_JWK),
        "bundle": lim(BUNDLE),
        "eventBatchBytes": EVENT_BATCH_BYTES,
        "signingRequest": lim(SIGNING_REQUEST),
        "maxAttestationAgeSeconds": MAX_ATTESTATION_AGE_SECS,
        "defaultSkewSeconds": DEFAULT_SKEW_SECS,
        "maxSkewSeconds": MAX_SKEW_SECS,
        "defaultVolumeThreshold": DEFAULT_VOLUME_THRESHOLD,
        "defaultTimeoutMs": DEFAULT_TIMEOUT_MS,
        "maxTimeoutMs": MAX_TIMEOUT_MS,
        "maxRetries": MAX_RETRIES,
        "retryBaseMs": RETRY_BASE_MS,
        "maxRetryWaitMs": MAX_RETRY_WAIT_MS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_is_exported_under_its_js_name() {
        let a = all();
        assert_eq!(a["trustContext"]["bytes"], 1 << 20);
        assert_eq!(a["record"]["depth"], 128);
        assert_eq!(a["maxAttestationAgeSeconds"], 3600);
        assert_eq!(a["defaultSkewSeconds"], 30);
        assert_eq!(a.as_object().map(|o| o.len()), Some(15));
    }
}
