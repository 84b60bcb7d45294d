//! Checking a batch of a device log's records against the head the collector holds, with the
//! core's own chain code (`tillit::audit::chain`): idempotent re-sends, gaps, forks, broken
//! links, checkpoint signatures and the checkpoint interval. Pure: the store applies the plan.

use crate::declare::{checkpoint_overdue, declared_key, Declaration};
use serde_json::Value;
use tillit::audit::chain::{read_ndjson, record_hash, Head, Verifier};
use tillit::audit::control;

/// The most records one batch may hold.
pub const MAX_BATCH_RECORDS: usize = 10_000;

/// Why a batch was refused: a stable code, the sequence number it concerns, and the rule.
/// Never patient data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// `MALFORMED`, `GAP`, `FORK`, `BROKEN_LINK`, `ALTERED`, `BAD_CHECKPOINT`,
    /// `MISSING_CHECKPOINT`, `UNDECLARED_CHECKPOINT`, `TOO_LARGE`.
    pub code: &'static str,
    /// The sequence number of the first record the refusal is about.
    pub seq: Option<u64>,
    /// The rule, in words.
    pub detail: String,
}

fn refuse(code: &'static str, seq: Option<u64>, detail: impl Into<String>) -> Refusal {
    Refusal {
        code,
        seq,
        detail: detail.into(),
    }
}

/// What the collector holds of one device log.
#[derive(Clone, Debug)]
pub struct LogState {
    /// The head: the next sequence number and the last record's hash.
    pub head: Head,
    /// Non-checkpoint records since the last checkpoint (or the start).
    pub since_checkpoint: u64,
    /// The last checkpoint's sequence number.
    pub last_checkpoint: Option<u64>,
    /// The log's checkpoint key and interval.
    pub declaration: Declaration,
}

/// One record as stored: the chain fields, the line, and the columns queries use.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    /// Sequence number in its log.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// The previous record's hash.
    pub prev: String,
    /// `event`, `checkpoint`, `recovery`, `note`.
    pub kind: String,
    /// The record as JSON text.
    pub line: String,
    /// The AuditEvent's id.
    pub event_id: Option<String>,
    /// When it was recorded (RFC 3339).
    pub recorded: Option<String>,
    /// The patient's national id.
    pub patient: Option<String>,
    /// The practitioner's HPR number (or national id when they have none).
    pub practitioner: Option<String>,
    /// The organisation (point of care) the user acted for.
    pub organisation: Option<String>,
    /// Purpose of use.
    pub purpose: Option<String>,
    /// `search`, `read`, `token`.
    pub action: Option<String>,
    /// FHIR outcome code (`None`: pending).
    pub outcome: Option<String>,
    /// The local decision reference.
    pub decision_ref: Option<String>,
    /// Whether the user granted the access to themselves.
    pub user_selected: bool,
}

impl Row {
    /// The row for a chain record (an AuditEvent's columns when it is an event).
    pub fn of(record: &Value, line: String) -> Row {
        let s = |k: &str| {
            record
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let mut row = Row {
            seq: record.get("seq").and_then(Value::as_u64).unwrap_or(0),
            hash: s("hash"),
            prev: s("prev"),
            kind: s("kind"),
            line,
            ..Row::default()
        };
        if row.kind == "event" {
            if let Some(ev) = record.get("body") {
                row.set_event(ev);
            }
        }
        row
    }

    /// Fills the query columns from an AuditEvent.
    pub fn set_event(&mut self, ev: &Value) {
        let own = |v: Option<&str>| v.map(str::to_string);
        self.event_id = own(ev.get("id").and_then(Value::as_str));
        self.recorded = own(Some(control::recorded(ev)).filter(|r| !r.is_empty()));
        self.patient = own(control::patients(ev).next());
        self.practitioner = own(control::user_id(ev));
        self.organisation = own(control::user(ev)
            .and_then(|u| u.pointer("/location/identifier/value"))
            .and_then(Value::as_str));
        self.purpose = own(control::purpose(ev));
        self.action = Some(control::action(ev).to_string());
        self.outcome = own(ev.get("outcome").and_then(Value::as_str));
        self.decision_ref = own(control::care_detail(ev, "decision_ref"));
        self.user_selected = control::care_detail(ev, "user_selected") == Some("true");
    }
}

/// A batch read from NDJSON, each record with its line.
pub fn parse_batch(body: &[u8]) -> Result<Vec<(Value, String)>, Refusal> {
    let read = read_ndjson(body).map_err(|e| refuse("MALFORMED", None, e.rule().to_string()))?;
    if read.torn_at.is_some() {
        return Err(refuse(
            "MALFORMED",
            None,
            "every line must be a JSON record ended by a newline",
        ));
    }
    if read.records.is_empty() {
        return Err(refuse("MALFORMED", None, "the batch holds no records"));
    }
    if read.records.len() > MAX_BATCH_RECORDS {
        return Err(refuse(
            "TOO_LARGE",
            None,
            format!("a batch holds at most {MAX_BATCH_RECORDS} records"),
        ));
    }
    Ok(read
        .records
        .into_iter()
        .map(|r| {
            let line = serde_json::to_string(&r).expect("a parsed value serialises");
            (r, line)
        })
        .collect())
}

/// What a batch does to a log.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The records not held yet, in order.
    pub rows: Vec<Row>,
    /// The state after them.
    pub after: LogState,
}

/// Checks `batch` against `state`. `held(from, to)` gives the hashes the collector holds for
/// sequence numbers `from..to` (for a re-sent overlap).
pub fn plan(
    state: &LogState,
    batch: Vec<(Value, String)>,
    held: impl FnOnce(u64, u64) -> Vec<String>,
) -> Result<Plan, Refusal> {
    let seq_of = |r: &Value| r.get("seq").and_then(Value::as_u64);
    let first = seq_of(&batch[0].0)
        .ok_or_else(|| refuse("MALFORMED", None, "record 1 of the batch has no seq"))?;
    // The batch is one run of consecutive records; each one's hash is its own.
    for (i, (r, _)) in batch.iter().enumerate() {
        let want = first + i as u64;
        match seq_of(r) {
            Some(s) if s == want => {}
            Some(_) => {
                return Err(refuse(
                    "GAP",
                    Some(want),
                    "the batch's sequence numbers are not consecutive",
                ))
            }
            None => return Err(refuse("MALFORMED", Some(want), "a record needs seq")),
        }
        if r.get("hash").and_then(Value::as_str) != Some(record_hash(r).as_str()) {
            return Err(refuse(
                "ALTERED",
                Some(want),
                "the record does not match its own hash",
            ));
        }
    }
    let next = state.head.next_seq;
    if first > next {
        return Err(refuse(
            "GAP",
            Some(next),
            format!(
                "the collector holds the log up to seq {next} (exclusive); the batch starts later"
            ),
        ));
    }
    // The part already held must be exactly what is held: a re-send, not a fork.
    let overlap_end = next.min(first + batch.len() as u64);
    if overlap_end > first {
        let hashes = held(first, overlap_end);
        for (i, (r, _)) in batch
            .iter()
            .take((overlap_end - first) as usize)
            .enumerate()
        {
            let seq = first + i as u64;
            if hashes.get(i).map(String::as_str) != r.get("hash").and_then(Value::as_str) {
                return Err(refuse(
                    "FORK",
                    Some(seq),
                    "another record is held at this sequence number",
                ));
            }
        }
    }
    let mut after = state.clone();
    let mut verifier = Verifier::after(&state.head);
    let mut rows = Vec::new();
    for (r, line) in batch.into_iter().skip((overlap_end - first) as usize) {
        let seq = verifier.head().next_seq;
        if let Err((at, problem)) = verifier.push(&r) {
            let code = if problem.starts_with("MALFORMED") {
                "MALFORMED"
            } else {
                "BROKEN_LINK"
            };
            // The core names the record the next one failed to commit to; a record the
            // collector holds already is not the bad one: then it is this record.
            let at = (at as u64).max(state.head.next_seq).min(seq);
            return Err(refuse(code, Some(at), problem));
        }
        let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind == "checkpoint" {
            check_checkpoint(&after, &r, seq)?;
            after.since_checkpoint = 0;
            after.last_checkpoint = Some(seq);
        } else {
            if checkpoint_overdue(after.since_checkpoint, after.declaration.every) {
                return Err(refuse(
                    "MISSING_CHECKPOINT",
                    Some(seq),
                    "the log's checkpoint interval has passed without a checkpoint",
                ));
            }
            after.since_checkpoint += 1;
        }
        rows.push(Row::of(&r, line));
    }
    after.head = verifier.head();
    Ok(Plan { rows, after })
}

/// A checkpoint record `{ body: { jws, kid? } }` signs `{ head, count }` = the previous
/// record's hash and this record's seq, with the log's declared key.
fn check_checkpoint(state: &LogState, r: &Value, seq: u64) -> Result<(), Refusal> {
    let Some(key) = declared_key(&state.declaration, None) else {
        return Err(refuse(
            "UNDECLARED_CHECKPOINT",
            Some(seq),
            "the log declared no checkpoint key, so its checkpoint cannot be verified",
        ));
    };
    let jws = r.pointer("/body/jws").and_then(Value::as_str).unwrap_or("");
    let bad = |why: &str| refuse("BAD_CHECKPOINT", Some(seq), why.to_string());
    let v = crate::jws::verify(jws, key)
        .ok_or_else(|| bad("the signature does not verify with the log's declared key"))?;
    if v.header.get("typ").and_then(Value::as_str) != Some("tillit-checkpoint+jwt") {
        return Err(bad("the JWS header typ must be tillit-checkpoint+jwt"));
    }
    if v.claims.get("head").and_then(Value::as_str) != r.get("prev").and_then(Value::as_str)
        || v.claims.get("count").and_then(Value::as_u64) != Some(seq)
    {
        return Err(bad(
            "the signed head is not the head this checkpoint follows",
        ));
    }
    Ok(())
}
