//! What the routes do, apart from HTTP: registering a device log, ingesting a batch into it
//! (checked by [`crate::ingest`], applied by [`crate::store`]), and ITI-20 events chained by
//! the collector itself.

use crate::ingest::{self, LogState, Refusal};
use crate::store::{Incident, LogRow, Store, StoreError};
use serde_json::Value;
use tillit::audit::chain::Head;

/// Who sends: the client and organisation of a verified access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The HelseID client id.
    pub client_id: String,
    /// The organisation number (`orgnr_parent`).
    pub org: String,
}

/// Why an ingest or registration did not happen.
#[derive(Debug)]
pub enum ServiceError {
    /// The batch was refused (and kept as an incident).
    Refused(Refusal),
    /// The log belongs to another client or organisation.
    NotOwner,
    /// A request field is wrong: `(field, rule)`.
    Invalid(&'static str, String),
    /// The database failed.
    Store(StoreError),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        ServiceError::Store(e)
    }
}

/// How many times a batch is checked again when another collector moved the head meanwhile.
const RETRIES: usize = 32;

/// Whether a log id is acceptable: 1 to 128 of `A-Z a-z 0-9 . _ : -`.
pub fn valid_log_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Unix time now as RFC 3339 (UTC, milliseconds).
pub fn now_rfc3339() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    tillit::audit::event::rfc3339(ms)
}

fn own(row: &LogRow, owner: &Owner) -> Result<(), ServiceError> {
    if row.client_id == owner.client_id && row.org == owner.org {
        Ok(())
    } else {
        Err(ServiceError::NotOwner)
    }
}

/// Registers a log with its checkpoint declaration, bound to `owner`. Registering again with
/// the same declaration is a no-op; another declaration for a held log is refused.
pub fn register(
    store: &Store,
    log_id: &str,
    owner: &Owner,
    body: &Value,
) -> Result<LogRow, ServiceError> {
    if !valid_log_id(log_id) {
        return Err(ServiceError::Invalid(
            "logId",
            "must be 1 to 128 of A-Z a-z 0-9 . _ : -".into(),
        ));
    }
    crate::declare::from_registration(body)
        .map_err(|(f, r)| ServiceError::Invalid(f, r.to_string()))?;
    let row = store.create_log(log_id, &owner.client_id, &owner.org, body, &now_rfc3339())?;
    own(&row, owner)?;
    let held: Value = serde_json::from_str(&row.declaration).unwrap_or(Value::Null);
    if &held != body {
        return Err(ServiceError::Invalid(
            "body",
            "the log is registered already with another declaration".into(),
        ));
    }
    Ok(row)
}

/// Ingests one NDJSON batch of a device log: the head the collector now holds.
pub fn ingest(
    store: &Store,
    log_id: &str,
    owner: &Owner,
    body: &[u8],
) -> Result<Head, ServiceError> {
    if !valid_log_id(log_id) {
        return Err(ServiceError::Invalid(
            "logId",
            "must be 1 to 128 of A-Z a-z 0-9 . _ : -".into(),
        ));
    }
    let row = match store.log(log_id)? {
        Some(r) => r,
        None => store.create_log(
            log_id,
            &owner.client_id,
            &owner.org,
            &serde_json::json!({}),
            &now_rfc3339(),
        )?,
    };
    own(&row, owner)?;
    let refused = |r: Refusal| -> ServiceError {
        let kept = store.incident(&Incident {
            log_id: log_id.to_string(),
            seq: r.seq,
            code: r.code.to_string(),
            detail: r.detail.clone(),
            client_id: owner.client_id.clone(),
            at: now_rfc3339(),
        });
        match kept {
            Ok(()) => ServiceError::Refused(r),
            Err(e) => ServiceError::Store(e),
        }
    };
    let batch = ingest::parse_batch(body).map_err(refused)?;
    let mut state: LogState = row.state;
    for _ in 0..RETRIES {
        let mut held_err = None;
        let plan = ingest::plan(&state, batch.clone(), |from, to| {
            store.held_hashes(log_id, from, to).unwrap_or_else(|e| {
                held_err = Some(e);
                Vec::new()
            })
        });
        if let Some(e) = held_err {
            return Err(e.into());
        }
        let plan = plan.map_err(refused)?;
        if plan.rows.is_empty() {
            return Ok(state.head);
        }
        if store.advance(log_id, &state.head, &plan)? {
            return Ok(plan.after.head);
        }
        // Another collector moved the head: check the batch again against the new one.
        state = store
            .log(log_id)?
            .ok_or_else(|| StoreError("the log vanished".into()))?
            .state;
    }
    Err(ServiceError::Store(StoreError(
        "the head kept moving; try again".into(),
    )))
}

/// The collector's own log of the ITI-20 events a client records (`iti20:<client>`): it
/// chains them itself with the core's chain code, so they are stored and queried like a
/// device's records. The sequence numbers given to `events`, in order.
pub fn record_events(
    store: &Store,
    owner: &Owner,
    events: &[Value],
) -> Result<Vec<u64>, ServiceError> {
    let log_id: String = format!("iti20:{}", owner.client_id)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect();
    for _ in 0..RETRIES {
        let row = match store.log(&log_id)? {
            Some(r) => r,
            None => store.create_log(
                &log_id,
                &owner.client_id,
                &owner.org,
                &serde_json::json!({}),
                &now_rfc3339(),
            )?,
        };
        own(&row, owner)?;
        let mut head = row.state.head.clone();
        let mut rows = Vec::with_capacity(events.len());
        for ev in events {
            let (line, _) = head.append_line("event", ev);
            let rec: Value = serde_json::from_str(&line).expect("a line the chain wrote");
            let mut r = ingest::Row::of(&rec, line);
            r.recorded = ev
                .get("recorded")
                .and_then(Value::as_str)
                .and_then(crate::fhir::instant_utc);
            if r.action.as_deref() == Some("token") && !is_token_event(ev) {
                r.action = Some(
                    match ev.get("action").and_then(Value::as_str) {
                        Some("R") => "read",
                        Some("E") => "search",
                        Some("C") => "create",
                        Some("U") => "update",
                        Some("D") => "delete",
                        _ => "other",
                    }
                    .to_string(),
                );
            }
            rows.push(r);
        }
        let seqs: Vec<u64> = rows.iter().map(|r| r.seq).collect();
        let plan = ingest::Plan {
            rows,
            after: LogState {
                head,
                since_checkpoint: row.state.since_checkpoint + events.len() as u64,
                ..row.state.clone()
            },
        };
        if store.advance(&log_id, &row.state.head, &plan)? {
            return Ok(seqs);
        }
    }
    Err(ServiceError::Store(StoreError(
        "the head kept moving; try again".into(),
    )))
}

fn is_token_event(ev: &Value) -> bool {
    ev.get("subtype")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter()
                .any(|c| c.get("code").and_then(Value::as_str) == Some("token-request"))
        })
}
