//! Which key a device log's checkpoints verify with, and how often they are due.
//!
//! A format-1 log declares, in its declaration record, its checkpoint key's RFC 7638
//! thumbprint and the interval (`tillit::audit::format`, docs/audit-format.md). A thumbprint
//! does not verify a signature: the client that owns the log registers the public key
//! (`PUT /logs/{logId}` with `checkpointKey`), and the declared thumbprint must be that key's
//! (the core's `LogVerifier` checks it: `KEY_MISMATCH`). A log that declares a key nobody
//! registered cannot be verified and is refused (fail closed). A format-0 log (written
//! before the declaration existed) declares nothing: its key and interval come from the
//! registration alone.

use serde_json::Value;
use tillit::jose::PublicJwk;

/// The records tillit's format-0 writer stored in one batch at most (`BATCH` in
/// `js/audit.ts` before format 1): it wrote a checkpoint after the batch that reached the
/// interval, so up to `every + WRITER_BATCH - 1` records could precede it.
pub const WRITER_BATCH: u64 = 256;

/// What the owner registered for a log.
#[derive(Clone, Debug, Default)]
pub struct Registration {
    /// The public key checkpoints (and a signed declaration) verify with.
    pub key: Option<PublicJwk>,
    /// The interval a format-0 log promised (a format-1 log declares its own).
    pub every: Option<u64>,
}

/// Reads a registration body `{ checkpointKey?, checkpointEvery? }`; errors name the field.
pub fn from_registration(body: &Value) -> Result<Registration, (&'static str, &'static str)> {
    let Some(obj) = body.as_object() else {
        return Err(("body", "must be a JSON object"));
    };
    for k in obj.keys() {
        if k != "checkpointKey" && k != "checkpointEvery" {
            return Err(("body", "may hold only checkpointKey and checkpointEvery"));
        }
    }
    let key = match obj.get("checkpointKey") {
        None | Some(Value::Null) => None,
        Some(k) => Some(
            PublicJwk::from_value(k, false, "checkpointKey").map_err(|_| {
                (
                    "checkpointKey",
                    "must be a public EC P-256 or RSA JWK without private members",
                )
            })?,
        ),
    };
    let every = match obj.get("checkpointEvery") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| (1..=tillit::audit::format::MAX_EVERY).contains(n))
                .ok_or(("checkpointEvery", "must be an integer from 1 to 1000000"))?,
        ),
    };
    if every.is_some() && key.is_none() {
        return Err(("checkpointEvery", "needs a checkpointKey"));
    }
    Ok(Registration { key, every })
}

/// The key this log's signatures must verify with: the registered key, which the core
/// checks against the thumbprint the log declares. `None`: nothing can verify them.
pub fn declared_key(reg: &Registration) -> Option<&PublicJwk> {
    reg.key.as_ref()
}

/// In a format-0 log, whether a record after `since` records without a checkpoint breaks
/// the registered interval.
pub fn legacy_checkpoint_overdue(since: u64, every: Option<u64>) -> bool {
    every.is_some_and(|n| since >= n + WRITER_BATCH - 1)
}
