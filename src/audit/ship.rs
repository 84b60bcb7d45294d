//! Shipping a device log to the organisation's collector (`tillit-collector`): what to send
//! next, how long to wait after a failure, whether the collector's answer (its head) agrees
//! with the local chain, and how far acknowledged records may be pruned locally.
//!
//! The wrapper does the I/O (HTTP, timers, storage) and asks this module at every step; the
//! rules live here, apart from the plumbing, and are tested natively.
//!
//! The protocol (collector/src/http.rs): `PUT /logs/{logId}` registers the log and answers
//! the head the collector holds; `POST /logs/{logId}/records` takes NDJSON records in chain
//! order and answers the head after them, `{ seq, hash }`, or refuses the batch as
//! `{ error, seq, detail }` with a stable code (`GAP`, `FORK`, `ALTERED`, …).

use crate::audit::format::Anchor;
use crate::error::{Error, ErrorCode, Result};
use serde_json::Value;

/// Records per request by default.
pub const DEFAULT_BATCH: u64 = 500;
/// The most records per request: the collector's `MAX_BATCH_RECORDS`.
pub const MAX_BATCH: u64 = 10_000;
/// Milliseconds between shipping rounds by default (new records are also shipped this long
/// after they are written, so a burst of look-ups goes in one request).
pub const DEFAULT_INTERVAL_MS: u64 = 1_000;
/// The range `intervalMs` may take.
pub const INTERVAL_RANGE_MS: (u64, u64) = (10, 3_600_000);
/// The first wait after a failure (before jitter).
pub const BACKOFF_BASE_MS: u64 = 500;
/// The longest wait after failures by default.
pub const DEFAULT_MAX_BACKOFF_MS: u64 = 60_000;
/// The range `maxBackoffMs` may take.
pub const MAX_BACKOFF_RANGE_MS: (u64, u64) = (100, 3_600_000);
/// The shortest local retention of acknowledged records: 0, pruning as soon as the
/// collector holds them (a device that must keep nothing locally).
pub const MIN_RETAIN_MS: u64 = 0;
/// The longest request, by default, before it counts as failed.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

/// How the wrapper ships: validated options.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// Records per request.
    pub batch: u64,
    /// Milliseconds between rounds.
    pub interval_ms: u64,
    /// The longest wait after failures.
    pub max_backoff_ms: u64,
    /// Acknowledged records older than this may be pruned locally (`None`: never).
    pub retain_ms: Option<u64>,
    /// The longest request.
    pub timeout_ms: u64,
}

fn whole(
    v: Option<&Value>,
    field: &str,
    range: (u64, u64),
    default: Option<u64>,
) -> Result<Option<u64>> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(x) => x
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= range.0 as f64 && *f <= range.1 as f64)
            .map(|f| Some(f as u64))
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidArgument,
                    format!("ship.{field}"),
                    format!("must be an integer from {} to {}", range.0, range.1),
                )
            }),
    }
}

impl Policy {
    /// Reads `{ batch?, intervalMs?, maxBackoffMs?, retainMs?, timeoutMs? }` (other members,
    /// the wrapper's, are ignored here); errors name the field.
    pub fn from_options(o: &Value) -> Result<Policy> {
        let batch = whole(o.get("batch"), "batch", (1, MAX_BATCH), Some(DEFAULT_BATCH))?;
        let interval = whole(
            o.get("intervalMs"),
            "intervalMs",
            INTERVAL_RANGE_MS,
            Some(DEFAULT_INTERVAL_MS),
        )?;
        let backoff = whole(
            o.get("maxBackoffMs"),
            "maxBackoffMs",
            MAX_BACKOFF_RANGE_MS,
            Some(DEFAULT_MAX_BACKOFF_MS),
        )?;
        let retain = whole(
            o.get("retainMs"),
            "retainMs",
            (MIN_RETAIN_MS, u64::from(u32::MAX) * 1000),
            None,
        )?;
        let timeout = whole(
            o.get("timeoutMs"),
            "timeoutMs",
            (100, 600_000),
            Some(DEFAULT_TIMEOUT_MS),
        )?;
        Ok(Policy {
            batch: batch.unwrap_or(DEFAULT_BATCH),
            interval_ms: interval.unwrap_or(DEFAULT_INTERVAL_MS),
            max_backoff_ms: backoff.unwrap_or(DEFAULT_MAX_BACKOFF_MS),
            retain_ms: retain,
            timeout_ms: timeout.unwrap_or(DEFAULT_TIMEOUT_MS),
        })
    }
}

/// What the wrapper stores in the sink beside the log, so shipping resumes where it stood
/// after a reload, a crash or a restart.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stored {
    /// The collector's log id for this device log (minted once, kept).
    pub log_id: Option<String>,
    /// The head the collector acknowledged: the anchor `verify({ anchor })` checks.
    pub acked: Option<Anchor>,
    /// The last record pruned locally (the log continues after its declaration at the next).
    pub pruned: Option<Anchor>,
    /// Why shipping stopped, if it did: it stays stopped across restarts.
    pub stopped: Option<Stop>,
}

/// Why shipping stopped: a stable code, the sequence number concerned, and the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    /// `FORK`, `COLLECTOR_BEHIND`, or the collector's refusal code (`ALTERED`, …).
    pub code: String,
    /// The record concerned.
    pub seq: Option<u64>,
    /// In words (never patient data: the collector's `detail` is scrubbed by [`Error`]).
    pub detail: String,
}

impl Stop {
    /// The typed error the wrapper raises: `AUDIT_FORK` for a fork, `SHIPPING_REFUSED` else.
    pub fn error(&self) -> Error {
        let code = if self.code == "FORK" {
            ErrorCode::AuditFork
        } else {
            ErrorCode::ShippingRefused
        };
        let path = match self.seq {
            Some(s) => format!("collector.log[{s}]"),
            None => "collector".to_string(),
        };
        Error::new(code, path, format!("{}: {}", self.code, self.detail))
    }
}

fn anchor_value(a: &Anchor) -> Value {
    serde_json::json!({ "seq": a.seq, "hash": a.hash })
}

fn anchor_of(v: Option<&Value>) -> Option<Anchor> {
    let v = v?;
    let seq = v.get("seq").and_then(Value::as_u64)?;
    let hash = v
        .get("hash")
        .and_then(Value::as_str)
        .filter(|h| crate::audit::chain::is_hash_hex(h))?;
    Some(Anchor {
        seq,
        hash: hash.to_string(),
    })
}

impl Stored {
    /// The stored state as JSON (`{ logId, acked, pruned, stopped }`).
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "logId": self.log_id,
            "acked": self.acked.as_ref().map(anchor_value),
            "pruned": self.pruned.as_ref().map(anchor_value),
            "stopped": self.stopped.as_ref().map(|s| serde_json::json!({ "code": s.code, "seq": s.seq, "detail": s.detail })),
        })
    }

    /// Reads what [`to_value`](Self::to_value) wrote; anything else is refused (fail closed:
    /// unreadable state is not read as "nothing shipped", which would re-send, nor as
    /// "all shipped", which would lose records).
    pub fn from_value(v: &Value) -> Result<Stored> {
        let bad = |f: &str| {
            Error::new(
                ErrorCode::AuditFailure,
                format!("ship.state.{f}"),
                "the stored shipping state is unreadable",
            )
        };
        if !v.is_object() {
            return Err(bad("$"));
        }
        let opt_anchor = |k: &str| -> Result<Option<Anchor>> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(a) => anchor_of(Some(a)).map(Some).ok_or_else(|| bad(k)),
            }
        };
        let log_id = match v.get("logId") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if valid_log_id(s) => Some(s.clone()),
            _ => return Err(bad("logId")),
        };
        let stopped = match v.get("stopped") {
            None | Some(Value::Null) => None,
            Some(s) => Some(Stop {
                code: s
                    .get("code")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("stopped"))?
                    .to_string(),
                seq: s.get("seq").and_then(Value::as_u64),
                detail: s
                    .get("detail")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            }),
        };
        Ok(Stored {
            log_id,
            acked: opt_anchor("acked")?,
            pruned: opt_anchor("pruned")?,
            stopped,
        })
    }
}

/// Whether a log id is one the collector takes: 1 to 128 of `A-Z a-z 0-9 . _ : -`.
pub fn valid_log_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// What to do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Register (and learn the collector's head) first: at start, and after a `GAP`.
    Register,
    /// Send `count` records from `from`.
    Send {
        /// The first record's seq.
        from: u64,
        /// How many.
        count: u64,
    },
    /// Everything written is acknowledged.
    Idle,
    /// Shipping stopped (see [`Stored::stopped`]).
    Stopped,
}

/// How an answer moved the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acked {
    /// The collector holds the log up to the new anchor (or an empty log).
    Advanced,
    /// The collector held less than it had acknowledged before (its database was restored
    /// from a backup, or another collector lost records): the records from its head on are
    /// sent again. The wrapper reports it.
    Rewound {
        /// The head it had acknowledged before.
        was: u64,
    },
}

/// The shipping state machine for one device log.
#[derive(Clone, Debug)]
pub struct Shipper {
    /// The options.
    pub policy: Policy,
    /// What is kept in the sink.
    pub stored: Stored,
    /// Failures since the last success.
    pub attempts: u32,
    /// The records per request now (halved when the collector finds a request too large).
    pub batch: u64,
    registered: bool,
}

impl Shipper {
    /// A shipper resumed from the stored state.
    pub fn new(policy: Policy, stored: Stored) -> Shipper {
        let batch = policy.batch;
        Shipper {
            policy,
            stored,
            attempts: 0,
            batch,
            registered: false,
        }
    }

    /// The first seq not acknowledged.
    pub fn acked_next(&self) -> u64 {
        self.stored.acked.as_ref().map_or(0, |a| a.seq + 1)
    }

    /// Records written and not acknowledged, for a log whose next seq is `local_next`.
    pub fn queued(&self, local_next: u64) -> u64 {
        local_next.saturating_sub(self.acked_next())
    }

    /// What to do next, for a log whose next seq is `local_next`.
    pub fn next(&self, local_next: u64) -> Next {
        if self.stored.stopped.is_some() {
            return Next::Stopped;
        }
        if !self.registered {
            return Next::Register;
        }
        let from = self.acked_next();
        if from >= local_next {
            return Next::Idle;
        }
        Next::Send {
            from,
            count: (local_next - from).min(self.batch),
        }
    }

    fn stop(&mut self, code: &str, seq: Option<u64>, detail: impl Into<String>) -> Error {
        let s = Stop {
            code: code.to_string(),
            seq,
            detail: detail.into(),
        };
        let e = s.error();
        self.stored.stopped = Some(s);
        e
    }

    /// The collector answered with its head (`None`: it holds nothing of the log). The local
    /// log's next seq is `local_next`, and `local_hash` is the local record's hash at the
    /// head's seq (`None` when that record is not held locally: pruned, or past the end).
    /// A head that does not lie on the local chain is a fork: shipping stops.
    pub fn acknowledge(
        &mut self,
        head: Option<Anchor>,
        local_next: u64,
        local_hash: Option<&str>,
    ) -> Result<Acked> {
        self.registered = true;
        self.attempts = 0;
        let was = self.stored.acked.clone();
        let Some(h) = head else {
            if let Some(p) = &self.stored.pruned {
                return Err(self.stop("COLLECTOR_BEHIND", Some(0), format!("the collector holds nothing of the log, and the records up to {} were pruned here after it acknowledged them", p.seq)));
            }
            self.stored.acked = None;
            return Ok(match was {
                Some(w) => Acked::Rewound { was: w.seq },
                None => Acked::Advanced,
            });
        };
        if h.seq >= local_next {
            return Err(self.stop(
                "FORK",
                Some(h.seq),
                format!(
                    "the collector holds records up to {}, past this log's head {}",
                    h.seq,
                    local_next.saturating_sub(1)
                ),
            ));
        }
        let known = match local_hash {
            Some(l) => Some(l.to_string()),
            None => [&self.stored.pruned, &self.stored.acked]
                .into_iter()
                .flatten()
                .find(|a| a.seq == h.seq)
                .map(|a| a.hash.clone()),
        };
        match known {
            Some(l) if l == h.hash => {}
            Some(_) => return Err(self.stop("FORK", Some(h.seq), "the collector's head is another record than this log holds at that sequence number")),
            None => {
                return Err(self.stop("COLLECTOR_BEHIND", Some(h.seq), "the collector's head is a record pruned here after it was acknowledged: the collector lost records"));
            }
        }
        if self.stored.pruned.as_ref().is_some_and(|p| h.seq < p.seq) {
            return Err(self.stop("COLLECTOR_BEHIND", Some(h.seq), "the collector holds less than it acknowledged, and the records after its head were pruned here"));
        }
        self.stored.acked = Some(h.clone());
        Ok(match was {
            Some(w) if w.seq > h.seq => Acked::Rewound { was: w.seq },
            _ => Acked::Advanced,
        })
    }

    /// The collector refused a batch with `code` (its `error`) about `seq`. `Ok(())`: try
    /// again (after registering, or with a smaller batch); an error: shipping stopped.
    pub fn refused(&mut self, code: &str, seq: Option<u64>, detail: &str) -> Result<()> {
        match code {
            // The collector holds less than this shipper thinks: ask it where it stands.
            "GAP" => {
                self.registered = false;
                Ok(())
            }
            "TOO_LARGE" if self.batch > 1 => {
                self.batch = (self.batch / 2).max(1);
                Ok(())
            }
            "FORK" => Err(self.stop(
                "FORK",
                seq,
                "the collector holds another record at this sequence number",
            )),
            _ => Err(self.stop(code, seq, detail.to_string())),
        }
    }

    /// A request failed without an answer the protocol defines (network, time-out, 5xx,
    /// 401, 429): the wait before the next attempt, in ms. Exponential from
    /// [`BACKOFF_BASE_MS`], capped at `max_backoff_ms`, with "equal jitter": between half
    /// the step and the whole step (`jitter` in [0, 1)), so devices that failed together do
    /// not come back together, and no wait is ever longer than the cap.
    pub fn failed(&mut self, jitter: f64) -> u64 {
        self.attempts = self.attempts.saturating_add(1);
        let step = BACKOFF_BASE_MS
            .saturating_mul(1u64 << (self.attempts - 1).min(32))
            .min(self.policy.max_backoff_ms);
        let j = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.5
        };
        step / 2 + ((step - step / 2) as f64 * j) as u64
    }

    /// The last record that may be pruned now: acknowledged, older than the retention, not
    /// the local head, and (in a log with checkpoints) a checkpoint, so the log resumes on a
    /// signed boundary. `records` are the local records from the first one held after the
    /// declaration, in order, as JSON; `keyed` whether the log declares a checkpoint key.
    pub fn prune_point(
        &self,
        records: &[Value],
        keyed: bool,
        local_next: u64,
        now_ms: u64,
    ) -> Option<Anchor> {
        let retain = self.policy.retain_ms?;
        let acked = self.stored.acked.as_ref()?;
        if self.stored.stopped.is_some() {
            return None;
        }
        let cutoff = now_ms.checked_sub(retain)?;
        let mut best = None;
        let mut last_time: Option<u64> = None;
        for r in records {
            let seq = r.get("seq").and_then(Value::as_u64)?;
            if seq > acked.seq || seq + 1 >= local_next {
                break;
            }
            let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
            if let Some(t) = record_time_ms(r) {
                last_time = Some(t);
            }
            // Only records whose time is known to be past the retention (a checkpoint takes
            // the time of the record it follows).
            if last_time.is_none_or(|t| t > cutoff) {
                break;
            }
            let boundary = if keyed {
                kind == "checkpoint"
            } else {
                kind != "declaration"
            };
            if boundary && seq > 0 {
                let hash = r.get("hash").and_then(Value::as_str)?;
                best = Some(Anchor {
                    seq,
                    hash: hash.to_string(),
                });
            }
        }
        best.filter(|b| self.stored.pruned.as_ref().is_none_or(|p| b.seq > p.seq))
    }
}

/// When a record was written, as Unix ms: an event's `recorded`, a declaration's `created`;
/// `None` for records that carry no time.
pub fn record_time_ms(r: &Value) -> Option<u64> {
    let body = r.get("body")?;
    let t = match r.get("kind").and_then(Value::as_str)? {
        "event" => body.get("recorded"),
        "declaration" => body.get("created"),
        _ => None,
    }?;
    crate::fhirtime::instant_ms(t.as_str()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn h(c: char) -> String {
        core::iter::repeat_n(c, 64).collect()
    }
    fn a(seq: u64, c: char) -> Anchor {
        Anchor { seq, hash: h(c) }
    }
    fn shipper() -> Shipper {
        Shipper::new(
            Policy::from_options(&json!({ "batch": 3 })).unwrap(),
            Stored::default(),
        )
    }

    #[test]
    fn options_are_checked_and_name_the_field() {
        let p = Policy::from_options(&json!({})).unwrap();
        assert_eq!(
            (p.batch, p.interval_ms, p.max_backoff_ms, p.retain_ms),
            (
                DEFAULT_BATCH,
                DEFAULT_INTERVAL_MS,
                DEFAULT_MAX_BACKOFF_MS,
                None
            )
        );
        for (o, field) in [
            (json!({ "batch": 0 }), "ship.batch"),
            (json!({ "batch": 10_001 }), "ship.batch"),
            (json!({ "batch": 1.5 }), "ship.batch"),
            (json!({ "intervalMs": "5" }), "ship.intervalMs"),
            (json!({ "maxBackoffMs": 5 }), "ship.maxBackoffMs"),
            (json!({ "retainMs": -1 }), "ship.retainMs"),
        ] {
            let e = Policy::from_options(&o).unwrap_err();
            assert_eq!(
                (e.code(), e.path()),
                (ErrorCode::InvalidArgument, field),
                "{o}"
            );
        }
    }

    #[test]
    fn registers_first_then_sends_in_batches_from_the_acknowledged_head() {
        let mut s = shipper();
        assert_eq!(s.next(10), Next::Register);
        assert_eq!(s.acknowledge(None, 10, None), Ok(Acked::Advanced));
        assert_eq!(s.next(10), Next::Send { from: 0, count: 3 });
        assert_eq!(
            s.acknowledge(Some(a(2, 'a')), 10, Some(&h('a'))),
            Ok(Acked::Advanced)
        );
        assert_eq!(s.next(10), Next::Send { from: 3, count: 3 });
        assert_eq!(s.queued(10), 7);
        s.acknowledge(Some(a(9, 'b')), 10, Some(&h('b'))).unwrap();
        assert_eq!((s.next(10), s.queued(10)), (Next::Idle, 0));
    }

    #[test]
    fn a_head_off_the_local_chain_is_a_fork_and_stops_for_good() {
        let mut s = shipper();
        let e = s
            .acknowledge(Some(a(4, 'x')), 10, Some(&h('y')))
            .unwrap_err();
        assert_eq!(
            (e.code(), e.code().as_str()),
            (ErrorCode::AuditFork, "AUDIT_FORK")
        );
        assert_eq!(s.next(10), Next::Stopped);
        assert_eq!(s.stored.stopped.as_ref().unwrap().code, "FORK");
        // Past the local head: the collector holds records this log never wrote.
        let mut s = shipper();
        assert_eq!(
            s.acknowledge(Some(a(10, 'x')), 10, None)
                .unwrap_err()
                .code(),
            ErrorCode::AuditFork
        );
        // A refusal coded FORK stops the same way; the state survives a restart.
        let mut s = shipper();
        assert_eq!(
            s.refused("FORK", Some(3), "x").unwrap_err().code(),
            ErrorCode::AuditFork
        );
        let back = Stored::from_value(&s.stored.to_value()).unwrap();
        assert_eq!(Shipper::new(s.policy.clone(), back).next(10), Next::Stopped);
    }

    #[test]
    fn a_gap_asks_the_collector_again_and_a_lost_collector_rewinds_or_stops() {
        let mut s = shipper();
        s.acknowledge(Some(a(5, 'a')), 10, Some(&h('a'))).unwrap();
        s.refused("GAP", Some(3), "").unwrap();
        assert_eq!(s.next(10), Next::Register);
        // The collector now holds up to 2: the records from 3 are sent again.
        assert_eq!(
            s.acknowledge(Some(a(2, 'c')), 10, Some(&h('c'))),
            Ok(Acked::Rewound { was: 5 })
        );
        assert_eq!(s.next(10), Next::Send { from: 3, count: 3 });
        // After pruning, a collector that lost what was pruned cannot be made whole.
        s.stored.pruned = Some(a(4, 'd'));
        let e = s
            .acknowledge(Some(a(2, 'c')), 10, Some(&h('c')))
            .unwrap_err();
        assert_eq!(
            (e.code(), s.stored.stopped.as_ref().unwrap().code.as_str()),
            (ErrorCode::ShippingRefused, "COLLECTOR_BEHIND")
        );
    }

    #[test]
    fn refusals_other_than_gap_stop_with_the_collectors_code() {
        let mut s = shipper();
        s.refused("TOO_LARGE", None, "").unwrap();
        assert_eq!(s.batch, 1);
        assert!(s.refused("TOO_LARGE", None, "").is_err());
        let mut s = shipper();
        let e = s
            .refused("ALTERED", Some(7), "the record does not match its own hash")
            .unwrap_err();
        assert_eq!(
            (e.code(), e.path()),
            (ErrorCode::ShippingRefused, "collector.log[7]")
        );
        assert!(e.rule().starts_with("ALTERED: "));
    }

    #[test]
    fn backoff_grows_to_the_cap_with_jitter_inside_each_step() {
        let mut s = Shipper::new(
            Policy::from_options(&json!({ "maxBackoffMs": 4000 })).unwrap(),
            Stored::default(),
        );
        let waits: Vec<u64> = (0..6).map(|_| s.failed(0.0)).collect();
        assert_eq!(waits, vec![250, 500, 1000, 2000, 2000, 2000]);
        let mut s = Shipper::new(s.policy.clone(), Stored::default());
        let waits: Vec<u64> = (0..6).map(|_| s.failed(0.999_999)).collect();
        assert_eq!(waits, vec![499, 999, 1999, 3999, 3999, 3999]);
        // A success starts again from the first step.
        s.acknowledge(None, 0, None).unwrap();
        assert_eq!(s.failed(f64::NAN), 375);
        for _ in 0..200 {
            assert!(s.failed(1.0) <= 4000);
        }
    }

    fn ev(seq: u64, t: &str) -> Value {
        json!({ "seq": seq, "kind": "event", "hash": h('e'), "body": { "recorded": t } })
    }
    fn cp(seq: u64) -> Value {
        json!({ "seq": seq, "kind": "checkpoint", "hash": h('c'), "body": {} })
    }

    #[test]
    fn prunes_only_acknowledged_old_records_up_to_a_checkpoint_and_never_the_head() {
        let (recs, now) = old_log();
        let mut s = retaining(60_000);
        // Nothing acknowledged: nothing pruned.
        assert_eq!(s.prune_point(&recs, true, 9, now), None);
        s.stored.acked = Some(a(8, 'e'));
        assert_eq!(s.prune_point(&recs, true, 9, now).map(|a| a.seq), Some(5));
        // Acknowledged only up to 4: the checkpoint at 3.
        s.stored.acked = Some(a(4, 'e'));
        assert_eq!(s.prune_point(&recs, true, 9, now).map(|a| a.seq), Some(3));
        // Without checkpoints any acknowledged old record, never the head.
        s.stored.acked = Some(a(8, 'e'));
        assert_eq!(
            s.prune_point(&recs[..2], false, 3, now).map(|a| a.seq),
            Some(1)
        );
        // Not past the point already pruned.
        s.stored.pruned = Some(a(5, 'c'));
        assert_eq!(s.prune_point(&recs[5..], true, 9, now), None);
    }

    #[test]
    fn unreadable_stored_state_is_refused() {
        for bad in [
            json!(null),
            json!({ "acked": { "seq": 1 } }),
            json!({ "logId": "a b" }),
            json!({ "stopped": {} }),
        ] {
            assert_eq!(
                Stored::from_value(&bad).unwrap_err().code(),
                ErrorCode::AuditFailure,
                "{bad}"
            );
        }
        let s = Stored {
            log_id: Some("ehr-1".into()),
            acked: Some(a(3, 'a')),
            pruned: None,
            stopped: None,
        };
        assert_eq!(Stored::from_value(&s.to_value()).unwrap(), s);
    }
    #[test]
    fn retention_may_be_as_long_as_u32_max_seconds_and_no_longer() {
        let max = u64::from(u32::MAX) * 1000;
        let p = Policy::from_options(&json!({ "retainMs": max })).unwrap();
        assert_eq!(p.retain_ms, Some(max));
        let e = Policy::from_options(&json!({ "retainMs": max + 1 })).unwrap_err();
        assert_eq!(e.path(), "ship.retainMs");
    }

    #[test]
    fn the_last_batch_sends_only_the_records_left() {
        let mut s = shipper();
        s.acknowledge(Some(a(8, 'a')), 10, Some(&h('a'))).unwrap();
        assert_eq!(s.next(10), Next::Send { from: 9, count: 1 });
        assert_eq!(s.next(11), Next::Send { from: 9, count: 2 });
    }

    #[test]
    fn a_head_at_or_after_the_acknowledged_one_advances() {
        let mut s = shipper();
        s.acknowledge(Some(a(2, 'a')), 10, Some(&h('a'))).unwrap();
        // The same head again: nothing was lost.
        assert_eq!(
            s.acknowledge(Some(a(2, 'a')), 10, Some(&h('a'))),
            Ok(Acked::Advanced)
        );
        assert_eq!(
            s.acknowledge(Some(a(6, 'b')), 10, Some(&h('b'))),
            Ok(Acked::Advanced)
        );
        assert_eq!(
            s.acknowledge(Some(a(5, 'c')), 10, Some(&h('c'))),
            Ok(Acked::Rewound { was: 6 })
        );
        assert_eq!(s.stored.acked, Some(a(5, 'c')));
    }

    #[test]
    fn a_head_at_the_prune_point_is_known_by_the_pruned_anchor_alone() {
        // The record at 4 was pruned here: its hash is the stored prune point's, not the
        // acknowledged head's (6).
        let mut s = shipper();
        s.stored.pruned = Some(a(4, 'd'));
        s.stored.acked = Some(a(6, 'e'));
        assert_eq!(
            s.acknowledge(Some(a(4, 'd')), 10, None),
            Ok(Acked::Rewound { was: 6 })
        );
        assert_eq!(
            (s.stored.acked.clone(), s.stored.stopped.clone()),
            (Some(a(4, 'd')), None)
        );
        // And the acknowledged head by its own anchor.
        let mut s = shipper();
        s.stored.pruned = Some(a(4, 'd'));
        s.stored.acked = Some(a(6, 'e'));
        assert_eq!(
            s.acknowledge(Some(a(6, 'e')), 10, None),
            Ok(Acked::Advanced)
        );
    }

    #[test]
    fn a_fork_refusal_stops_with_the_fork_rule_not_the_collectors_words() {
        let mut s = shipper();
        s.refused("FORK", Some(3), "collector text").unwrap_err();
        assert_eq!(
            s.stored.stopped,
            Some(Stop {
                code: "FORK".into(),
                seq: Some(3),
                detail: "the collector holds another record at this sequence number".into(),
            })
        );
    }

    #[test]
    fn too_large_halves_the_batch() {
        let mut s = Shipper::new(
            Policy::from_options(&json!({ "batch": 10 })).unwrap(),
            Stored::default(),
        );
        // Bounded, so a rule that never reaches a batch of one fails here instead of hanging.
        let mut batches = vec![];
        for _ in 0..8 {
            if s.refused("TOO_LARGE", None, "").is_err() {
                break;
            }
            batches.push(s.batch);
        }
        assert_eq!(batches, vec![5, 2, 1]);
    }

    fn old_log() -> (Vec<Value>, u64) {
        let old = "2026-12-02T10:00:00.000Z";
        let new = "2026-12-02T11:00:00.000Z";
        let recs = vec![
            ev(1, old),
            ev(2, old),
            cp(3),
            ev(4, old),
            cp(5),
            ev(6, new),
            cp(7),
            ev(8, new),
        ];
        (recs, crate::fhirtime::instant_ms(new).unwrap())
    }

    fn retaining(ms: u64) -> Shipper {
        let p = Policy::from_options(&json!({ "retainMs": ms })).unwrap();
        Shipper::new(p, Stored::default())
    }

    #[test]
    fn a_prune_may_cut_the_acknowledged_record_but_none_after_it() {
        let (recs, now) = old_log();
        let mut s = retaining(60_000);
        s.stored.acked = Some(a(5, 'c'));
        assert_eq!(s.prune_point(&recs, true, 9, now), Some(a(5, 'c')));
        s.stored.acked = Some(a(4, 'e'));
        assert_eq!(s.prune_point(&recs, true, 9, now), Some(a(3, 'c')));
        // Only the declaration (seq 0) acknowledged: none of the records after it.
        s.stored.acked = Some(a(0, 'd'));
        assert_eq!(s.prune_point(&recs, true, 9, now), None);
        assert_eq!(s.prune_point(&recs, false, 9, now), None);
    }

    #[test]
    fn a_prune_never_cuts_the_last_record() {
        let (recs, now) = old_log();
        let mut s = retaining(60_000);
        s.stored.acked = Some(a(8, 'e'));
        // The checkpoint at 5 is the log's last record: it stays.
        assert_eq!(s.prune_point(&recs[..5], true, 6, now), Some(a(3, 'c')));
        assert_eq!(s.prune_point(&recs[..5], true, 7, now), Some(a(5, 'c')));
        assert_eq!(s.prune_point(&recs[..2], false, 2, now), None);
    }

    #[test]
    fn a_record_exactly_as_old_as_the_retention_may_be_pruned() {
        let (recs, _) = old_log();
        let t = crate::fhirtime::instant_ms("2026-12-02T10:00:00.000Z").unwrap();
        let mut s = retaining(60_000);
        s.stored.acked = Some(a(8, 'e'));
        assert_eq!(s.prune_point(&recs, true, 9, t + 60_000), Some(a(5, 'c')));
        assert_eq!(s.prune_point(&recs, true, 9, t + 59_999), None);
        // Retention 0: pruned as soon as acknowledged.
        let mut s = retaining(0);
        s.stored.acked = Some(a(8, 'e'));
        assert_eq!(s.prune_point(&recs, true, 9, t), Some(a(5, 'c')));
    }

    #[test]
    fn a_prune_never_cuts_the_first_record() {
        let (_, now) = old_log();
        let mut s = retaining(60_000);
        s.stored.acked = Some(a(3, 'e'));
        let first = vec![
            ev(0, "2026-12-02T10:00:00.000Z"),
            ev(1, "2026-12-02T10:00:00.000Z"),
        ];
        assert_eq!(s.prune_point(&first[..1], false, 3, now), None);
        assert_eq!(s.prune_point(&first, false, 3, now), Some(a(1, 'e')));
    }

    #[test]
    fn a_prune_goes_only_past_the_previous_prune_point() {
        let (recs, now) = old_log();
        let mut s = retaining(60_000);
        s.stored.acked = Some(a(8, 'e'));
        s.stored.pruned = Some(a(3, 'c'));
        assert_eq!(s.prune_point(&recs[3..], true, 9, now), Some(a(5, 'c')));
        s.stored.pruned = Some(a(5, 'c'));
        assert_eq!(s.prune_point(&recs, true, 9, now), None);
        s.stored.pruned = Some(a(6, 'c'));
        assert_eq!(s.prune_point(&recs, true, 9, now), None);
    }

    #[test]
    fn a_declaration_is_timed_by_its_created() {
        let t = "2026-12-02T10:00:00.000Z";
        let ms = crate::fhirtime::instant_ms(t);
        assert!(ms.is_some());
        let d =
            json!({ "seq": 0, "kind": "declaration", "hash": h('d'), "body": { "created": t } });
        assert_eq!(record_time_ms(&d), ms);
        assert_eq!(record_time_ms(&ev(1, t)), ms);
        assert_eq!(record_time_ms(&cp(2)), None);
        // Its time lets the first records after it be pruned when they carry none.
        let note = json!({ "seq": 1, "kind": "note", "hash": h('n'), "body": {} });
        let mut s = retaining(0);
        s.stored.acked = Some(a(1, 'n'));
        assert_eq!(
            s.prune_point(&[d, note], false, 3, ms.unwrap()),
            Some(a(1, 'n'))
        );
    }
}
