//! Checking a batch of a device log's records against the head the collector holds, with the
//! core's own chain code (`tillit::audit::chain`): idempotent re-sends, gaps, forks, broken
//! links, checkpoint signatures and the checkpoint interval. Pure: the store applies the plan.

use crate::declare::{declared_key, legacy_checkpoint_overdue, Registration};
use serde_json::Value;
use tillit::audit::chain::{record_hash, Head};
use tillit::audit::control;
use tillit::audit::format::{Declaration, LogVerifier, VerifyOptions};
use tillit::jose::PublicJwk;

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
    /// Records counting toward the checkpoint interval since the last checkpoint (or the
    /// declaration; in a format-0 log, since the start).
    pub since_checkpoint: u64,
    /// The last checkpoint's sequence number.
    pub last_checkpoint: Option<u64>,
    /// What the owner registered (the checkpoint key).
    pub registration: Registration,
    /// The log's declaration record, once held: its seq, content and body as JSON text.
    pub declared: Option<(u64, Declaration, String)>,
}

impl LogState {
    /// The core's verifier, resumed at this state: the declaration, the last checkpoint
    /// after it, and the records since, replayed as written (at most the interval).
    fn verifier(&self) -> LogVerifier {
        let mut v = LogVerifier::new(VerifyOptions {
            key_thumbprint: declared_key(&self.registration).map(PublicJwk::thumbprint),
            accept_legacy: true,
            anchor: None,
            pruned: None,
        });
        let Some((seq, d, _)) = &self.declared else {
            if self.head.next_seq > 0 {
                v.note_written("event", &self.head, None);
            }
            return v;
        };
        let checkpoint_after = self.last_checkpoint.is_some_and(|c| c > *seq);
        let last = !checkpoint_after && self.since_checkpoint == 0;
        let at = if last {
            self.head.clone()
        } else {
            Head {
                next_seq: seq + 1,
                hash: self.head.hash.clone(),
            }
        };
        v.note_written("declaration", &at, Some(d.clone()));
        if checkpoint_after {
            v.note_written("checkpoint", &self.head, None);
        }
        for _ in 0..self.since_checkpoint {
            v.note_written("event", &self.head, None);
        }
        v
    }
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

/// A batch read from NDJSON: each record, and its line exactly as received (what is stored).
pub fn parse_batch(body: &[u8]) -> Result<Vec<(Value, String)>, Refusal> {
    if !body.is_empty() && body.last() != Some(&b'\n') {
        return Err(refuse(
            "MALFORMED",
            None,
            "every line must be a JSON record ended by a newline",
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| refuse("MALFORMED", None, "the batch is not UTF-8"))?;
    let mut out = Vec::new();
    for (i, line) in text.split_terminator('\n').enumerate() {
        if out.len() == MAX_BATCH_RECORDS {
            return Err(refuse(
                "TOO_LARGE",
                None,
                format!("a batch holds at most {MAX_BATCH_RECORDS} records"),
            ));
        }
        let v = tillit::json::parse_limited(line, 16 << 20, 128, "line")
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| {
                refuse(
                    "MALFORMED",
                    None,
                    format!("line {} of the batch is not a JSON record", i + 1),
                )
            })?;
        out.push((v, line.to_string()));
    }
    if out.is_empty() {
        return Err(refuse("MALFORMED", None, "the batch holds no records"));
    }
    Ok(out)
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
            // A re-sent record must be the held one, whole: its hash its own, and held.
            // (Records not held yet are hashed by the core's verifier below.)
            if r.get("hash").and_then(Value::as_str) != Some(record_hash(r).as_str()) {
                return Err(refuse(
                    "ALTERED",
                    Some(seq),
                    "the record does not match its own hash",
                ));
            }
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
    let mut verifier = state.verifier();
    let mut rows = Vec::new();
    for (r, line) in batch.into_iter().skip((overlap_end - first) as usize) {
        let seq = verifier.head().next_seq;
        let kind = r
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let sig = verifier.push(&r).map_err(|f| {
            let code = f.problem.split(':').next().unwrap_or("MALFORMED");
            // The core names the record the next one failed to commit to; a record the
            // collector holds already is not the bad one: then it is this record.
            let (code, at) = match code {
                "ALTERED" if f.index < seq => ("BROKEN_LINK", f.index.max(state.head.next_seq)),
                "ALTERED" => ("ALTERED", f.index),
                "MALFORMED" => ("MALFORMED", f.index),
                "MISSING_OR_REORDERED" => ("GAP", f.index),
                "FORMAT" => ("FORMAT", f.index),
                "DECLARATION" => ("DECLARATION", f.index),
                "KEY_MISMATCH" => ("KEY_MISMATCH", f.index),
                "CHECKPOINT_MISSING" => ("CHECKPOINT_MISSING", f.index),
                "CHECKPOINT_EXTRA" => ("CHECKPOINT_EXTRA", f.index),
                _ => ("INVALID", f.index),
            };
            refuse(code, Some(at), f.problem.clone())
        })?;
        match sig {
            Some(s) => {
                let key = declared_key(&state.registration)
                    .expect("a signature is asked for only with a key");
                let ok =
                    crate::jws::verify(&s.jws, key).is_some_and(|v| s.holds(&v.header, &v.claims));
                if !ok {
                    return Err(refuse(
                        "CHECKPOINT_INVALID",
                        Some(seq),
                        "the signature does not verify with the log's key, or signs another head",
                    ));
                }
            }
            None => {
                let declares_key = kind == "declaration"
                    && verifier
                        .declaration()
                        .is_some_and(|d| d.checkpoint_key.is_some());
                if kind == "checkpoint" || declares_key {
                    return Err(refuse(
                        "UNVERIFIABLE",
                        Some(seq),
                        "the log's checkpoint key was not registered with the collector, so its signatures cannot be verified",
                    ));
                }
            }
        }
        match kind.as_str() {
            "declaration" => {
                after.declared = verifier
                    .declaration()
                    .cloned()
                    .map(|d| (seq, d, r["body"].to_string()));
                after.since_checkpoint = 0;
            }
            "checkpoint" => {
                after.since_checkpoint = 0;
                after.last_checkpoint = Some(seq);
            }
            _ if after.declared.is_some() => after.since_checkpoint = verifier.since_checkpoint(),
            _ => {
                if legacy_checkpoint_overdue(after.since_checkpoint, state.registration.every) {
                    return Err(refuse(
                        "CHECKPOINT_MISSING",
                        Some(seq),
                        "the registered checkpoint interval has passed without a checkpoint",
                    ));
                }
                after.since_checkpoint += 1;
            }
        }
        rows.push(Row::of(&r, line));
    }
    after.head = verifier.head();
    Ok(Plan { rows, after })
}
