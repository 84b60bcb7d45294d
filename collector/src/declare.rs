//! What a device log declares about its checkpoints: the key that signs them and how often.
//!
//! The one place that answers "which key does this log declare". Today's log format names no
//! key in its records, so the declaration comes from the log's registration (`PUT
//! /logs/{logId}` with `checkpointKey` and `checkpointEvery`) made by the client that owns the
//! log. When the format gains a declaration record at the start of each log (the tamper issue),
//! this function also reads it and requires the registered key's thumbprint to match it.

use serde_json::Value;
use tillit::jose::PublicJwk;

/// The records tillit's writer stores in one batch at most (`BATCH` in `js/audit.ts`): a
/// checkpoint follows the batch that reaches the interval, so up to `every + WRITER_BATCH - 1`
/// records can precede it.
pub const WRITER_BATCH: u64 = 256;

/// A log's checkpoint promise.
#[derive(Clone, Debug, Default)]
pub struct Declaration {
    /// The public key checkpoints must verify with (`None`: an unsigned log, whose checkpoint
    /// records are refused because nothing can verify them).
    pub key: Option<PublicJwk>,
    /// The checkpoint interval in records (`None`: no interval promised).
    pub every: Option<u64>,
}

/// Reads a registration body `{ checkpointKey?, checkpointEvery? }`; errors name the field.
pub fn from_registration(body: &Value) -> Result<Declaration, (&'static str, &'static str)> {
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
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or(("checkpointEvery", "must be an integer from 1 to 1000000"))?,
        ),
    };
    if every.is_some() && key.is_none() {
        return Err(("checkpointEvery", "needs a checkpointKey"));
    }
    Ok(Declaration { key, every })
}

/// The key this log's checkpoints must verify with: the registered one. (With a declaration
/// record in the log, also checked against its thumbprint here.)
pub fn declared_key<'a>(
    decl: &'a Declaration,
    _first_record: Option<&Value>,
) -> Option<&'a PublicJwk> {
    decl.key.as_ref()
}

/// Whether a record after `since` records without a checkpoint breaks the interval.
pub fn checkpoint_overdue(since: u64, every: Option<u64>) -> bool {
    every.is_some_and(|n| since >= n + WRITER_BATCH - 1)
}
