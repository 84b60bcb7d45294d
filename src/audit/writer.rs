//! The writer of one access log: the chain head, the log's rules as they stand, and the lines
//! prepared but not yet stored. Appends are two-phase (prepare, then commit once the sink has
//! stored the lines), so a failing sink leaves the chain unchanged.
//!
//! Everything a batch of look-up records needs is decided here: the declaration and the
//! checkpoint that must come first, the trust context parsed once per distinct text and its
//! event frame once per client and server, the record ids, and how each record is hashed (the
//! platform's native SHA-256 when it offers one, else RustCrypto's from the state the record
//! shares with a recent one: see [`midstate`](super::midstate)). The wasm binding only
//! converts its arguments and hands in the platform's clock, randomness and SHA-256.

use super::chain::{self, Head};
use super::event::{EventFrame, EventInput};
use super::format::{self, Anchor, Declaration, LogVerifier, VerifyOptions};
use super::midstate::Prefix;
use crate::error::{Error, ErrorCode, Result};
use crate::jose::{Alg, PublicJwk};
use crate::limits;
use crate::trust::TrustContext;
use serde_json::{json, Value};
use std::collections::VecDeque;

/// SHA-256 of a record's hashed form as lowercase hex.
pub type Digest<'a> = &'a mut dyn FnMut(&[u8]) -> Result<String>;

fn arg(path: &str, rule: &str) -> Error {
    Error::new(ErrorCode::InvalidArgument, path, rule)
}

/// The kinds of record other than an event the writer makes.
const OTHER_KINDS: [&str; 4] = ["declaration", "recovery", "checkpoint", "note"];

/// The writer's state (see the module docs). The records themselves live in the sink, not
/// here, so a long-lived log does not fill memory.
#[derive(Clone)]
pub struct Writer {
    head: Head,
    /// The log's rules as they stand after the committed records: the declaration and the
    /// records since the last checkpoint.
    state: LogVerifier,
    /// Lines prepared, not yet stored: the head after each, its kind, and a declaration's
    /// contents.
    pending: VecDeque<(Head, &'static str, Option<Declaration>)>,
    /// The last trust context: its JSON text, the parsed context, and its event frame for
    /// the last client and server.
    context: Option<(String, TrustContext, Option<EventFrame>)>,
    /// The states of a recent record's beginning, which the next records of the same
    /// look-up context share (used without a native SHA-256).
    prefix: Prefix,
}

impl Default for Writer {
    fn default() -> Self {
        Writer {
            head: Head::default(),
            // The wrapper verified the stored log with the caller's options (signatures,
            // format 0 accepted or not) before; here the chain and the rules are followed.
            state: LogVerifier::new(VerifyOptions {
                accept_legacy: true,
                ..Default::default()
            }),
            pending: VecDeque::new(),
            context: None,
            prefix: Prefix::default(),
        }
    }
}

/// Reads a stored line as a record, within the record limits.
pub fn parse_line(line: &str, path: &str) -> Result<Value> {
    crate::json::parse_within(line, limits::RECORD, path)
}

impl Writer {
    /// A writer resumed after stored `lines` (JSON texts, in order); an error if they do not
    /// link or break the log's rules.
    pub fn resume(lines: &[String], pruned: Option<Anchor>) -> Result<Writer> {
        // A log pruned locally after the collector acknowledged it starts after `pruned`.
        let mut w = Writer {
            state: LogVerifier::new(VerifyOptions {
                accept_legacy: true,
                pruned,
                ..Default::default()
            }),
            ..Writer::default()
        };
        w.absorb(lines)?;
        Ok(w)
    }

    /// A writer that goes on where `verified` ended: the stored log was read through it (chunk
    /// by chunk, with the caller's key and options); an error if it did not verify.
    pub fn from_verified(verified: &super::stream::StreamVerifier) -> Result<Writer> {
        let (head, state) = verified.for_writer().ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidArgument,
                "verified",
                "must be a verifier whose log verified",
            )
        })?;
        Ok(Writer {
            head,
            state,
            ..Writer::default()
        })
    }

    /// Takes in lines another writer (another tab) appended after our head; they must link
    /// and keep the log's rules. Drops what was prepared and not committed.
    pub fn absorb(&mut self, lines: &[String]) -> Result<usize> {
        let mut v = self.state.clone();
        for (i, l) in lines.iter().enumerate() {
            let rec = parse_line(l, &format!("log[{}]", self.head.next_seq as usize + i))?;
            v.push(&rec).map_err(|f| {
                Error::new(
                    ErrorCode::InvalidResource,
                    format!("log[{}]", f.index),
                    format!("the log does not verify: {}", f.problem),
                )
            })?;
        }
        self.head = v.head();
        self.state = v;
        self.pending.clear();
        Ok(lines.len())
    }

    /// Records since the last checkpoint (or the declaration).
    pub fn since_checkpoint(&self) -> u64 {
        self.state.since_checkpoint()
    }

    /// The log's declaration, if it has one.
    pub fn declaration(&self) -> Option<&Declaration> {
        self.state.declaration()
    }

    /// The last record's `{ seq, hash }`, or `None` for an empty log.
    pub fn head_record(&self) -> Option<Value> {
        (self.head.next_seq > 0)
            .then(|| json!({ "seq": self.head.next_seq - 1, "hash": self.head.hash }))
    }

    /// A new declaration's claims (the body without `jws`) for the records so far: `key` and
    /// `alg` the checkpoint key's (both or neither), a checkpoint every `every` records.
    pub fn declaration_claims(
        &self,
        key: Option<&PublicJwk>,
        alg: Option<Alg>,
        every: u64,
        log_id: String,
        created: String,
    ) -> Result<Value> {
        if key.is_some() && alg.is_none_or(|a| !key.is_some_and(|k| k.fits(a))) {
            return Err(arg("checkpointKey", "its alg must fit its public key"));
        }
        if !(1..=format::MAX_EVERY).contains(&every) {
            return Err(arg("checkpointEvery", "must be 1 to 1,000,000"));
        }
        let d = format::declaration(key, alg, every, self.head.next_seq, log_id, created);
        Ok(d.claims())
    }

    /// Builds the lines for look-up events, chained one after another from the head, without
    /// committing them. `events` is the JSON text of an array of event inputs whose
    /// `trustContext` is an index into `contexts` (JSON texts of trust contexts); `now` is the
    /// records' time (RFC 3339), `new_id` makes an id for an event without one, and `native`
    /// is the platform's SHA-256 if it offers one. Returns NDJSON: each line ended by `\n`.
    pub fn prepare_events(
        &mut self,
        events: &str,
        contexts: &[String],
        now: &str,
        new_id: &mut dyn FnMut() -> Result<String>,
        native: Option<Digest<'_>>,
    ) -> Result<String> {
        let events = EventInput::parse_batch(events, limits::EVENT_BATCH_BYTES)?;
        let Some(d) = self.state.declaration() else {
            return Err(arg(
                "log",
                "has no declaration record: open it with AuditLog.open",
            ));
        };
        if d.checkpoint_key.is_some()
            && self.state.since_checkpoint() + events.len() as u64 > d.checkpoint_every
        {
            return Err(arg("events", "a checkpoint is due before these records"));
        }
        // Each record's text up to the end of its body, `{"body":<event>`: it does not
        // depend on the chain, so it is written for the whole batch first.
        let mut bodies = Vec::with_capacity(events.len());
        // The context index loaded last in this batch: the same index is the same text, so
        // it is not compared again (a context's text is ~3 KB).
        let mut loaded = None;
        for (ctx, input) in &events {
            let text = ctx
                .and_then(|i| contexts.get(i as usize))
                .ok_or_else(|| arg("event.trustContext", "is required"))?;
            if loaded != *ctx {
                self.load_context(text)?;
                loaded = *ctx;
            }
            let (_, tc, frame) = self.context.as_mut().expect("just loaded");
            if !frame
                .as_ref()
                .is_some_and(|f| f.is_for(&input.client_id, &input.server))
            {
                *frame = Some(EventFrame::new(tc, &input.client_id, &input.server));
            }
            let frame = frame.as_ref().expect("just written");
            let id = match &input.id {
                Some(id) => id.clone(),
                None => new_id()?,
            };
            let mut pre = String::with_capacity(4096);
            pre.push_str(chain::BODY_PREFIX);
            input.write_into(&mut pre, tc, frame, &id, now)?;
            bodies.push(pre);
        }
        // Without a native SHA-256 the core hashes: each record from the state after the
        // blocks it shares with a recent one (see `midstate`), in chain order.
        let mids = match native {
            Some(_) => None,
            None => Some(
                self.prefix
                    .starts(&bodies.iter().map(|b| b.as_bytes()).collect::<Vec<_>>()),
            ),
        };
        let mut native = native;
        let mut h = self.head.clone();
        let mut out = String::with_capacity(bodies.len() * 4096);
        let mut pending = VecDeque::with_capacity(bodies.len());
        for (i, pre) in bodies.into_iter().enumerate() {
            let (line, _) = h.append_body("event", pre, &mut |b| match (&mids, &mut native) {
                (Some(m), _) => Ok(chain::hex(&m[i].finish(b))),
                (None, Some(f)) => f(b),
                (None, None) => Ok(chain::sha256_hex(b)),
            })?;
            out.push_str(&line);
            out.push('\n');
            pending.push_back((h.clone(), "event", None));
        }
        self.pending = pending;
        Ok(out)
    }

    /// Builds a record of another kind (`declaration`, `recovery`, `checkpoint`, `note`),
    /// without committing it. A declaration must be the log's first (or follow format-0
    /// records); a checkpoint needs a declared key and a record since the last one.
    pub fn prepare_record(
        &mut self,
        kind: &str,
        body: &Value,
        native: Option<Digest<'_>>,
    ) -> Result<String> {
        let kind: &'static str = OTHER_KINDS
            .into_iter()
            .find(|k| *k == kind)
            .ok_or_else(|| arg("kind", "must be declaration, recovery, checkpoint or note"))?;
        let declared = self.state.declaration();
        let decl = match kind {
            "declaration" => {
                if declared.is_some() {
                    return Err(arg("kind", "the log has its declaration already"));
                }
                let (d, _) = Declaration::parse(body).map_err(|p| arg("body", &p))?;
                if d.legacy_records != self.head.next_seq {
                    return Err(arg("body.legacyRecords", "must be the records before it"));
                }
                Some(d)
            }
            "checkpoint"
                if declared.is_none_or(|d| d.checkpoint_key.is_none())
                    || self.state.since_checkpoint() == 0 =>
            {
                return Err(arg(
                    "kind",
                    "a checkpoint needs a declared key and a record since the last one",
                ))
            }
            _ if declared.is_none() => return Err(arg("log", "has no declaration record")),
            _ => None,
        };
        let mut h = self.head.clone();
        let body = crate::canon::canonical(body);
        let mut native = native;
        let (line, _) = h.append_written(
            kind,
            |out| {
                out.push_str(&body);
                Ok(())
            },
            &mut |b| match &mut native {
                Some(f) => f(b),
                None => Ok(chain::sha256_hex(b)),
            },
        )?;
        self.pending = [(h, kind, decl)].into();
        Ok(line)
    }

    /// Commits the first `count` prepared lines once the sink has stored them, in the order
    /// prepared.
    pub fn commit_prepared(&mut self, count: usize) -> Result<()> {
        if count > self.pending.len() {
            return Err(arg("count", "is more than the lines prepared"));
        }
        // A run of events advances the rules' state once, at its end.
        let mut events = 0;
        for (h, kind, decl) in self.pending.drain(..count) {
            if kind == "event" {
                events += 1;
            } else {
                if events > 0 {
                    self.state.note_events(events, &self.head);
                    events = 0;
                }
                self.state.note_written(kind, &h, decl);
            }
            self.head = h;
        }
        if events > 0 {
            self.state.note_events(events, &self.head);
        }
        Ok(())
    }

    /// The head as claims for a checkpoint issued at `iat`: `{ head, count, iat }`.
    pub fn checkpoint_claims(&self, iat: u64) -> Value {
        json!({ "head": self.head.hash, "count": self.head.next_seq, "iat": iat })
    }

    /// Parses a trust context's JSON text, once per distinct text (a log writes many entries
    /// for one context in a row).
    fn load_context(&mut self, text: &str) -> Result<()> {
        if !matches!(&self.context, Some((t, _, _)) if t == text) {
            let json =
                crate::json::parse_within(text, limits::TRUST_CONTEXT, "event.trustContext")?;
            let tc = TrustContext::from_json(&json).map_err(|e| e.under("event.trustContext"))?;
            self.context = Some((text.to_string(), tc, None));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::tests::{sample, synthetic_fnr};

    const NOW: &str = "2026-01-02T03:04:05.000Z";

    fn declared() -> Writer {
        let mut w = Writer::default();
        let d = w
            .declaration_claims(None, None, 100, "log-1".into(), NOW.into())
            .unwrap();
        w.prepare_record("declaration", &d, None).unwrap();
        w.commit_prepared(1).unwrap();
        w
    }

    fn batch(n: usize) -> String {
        let e: Vec<Value> = (0..n)
            .map(|i| json!({ "kind": "search", "trustContext": i % 2, "clientId": "c", "server": "s", "transactionId": format!("t{i}") }))
            .collect();
        Value::Array(e).to_string()
    }

    fn contexts() -> Vec<String> {
        vec![
            sample(&synthetic_fnr(1)).to_string(),
            sample(&synthetic_fnr(2)).to_string(),
        ]
    }

    fn ids() -> impl FnMut() -> Result<String> {
        let mut n = 0;
        move || {
            n += 1;
            Ok(format!("id-{n}"))
        }
    }

    #[test]
    fn events_chain_from_the_head_and_commit_only_when_stored() {
        let mut w = declared();
        let out = w
            .prepare_events(&batch(5), &contexts(), NOW, &mut ids(), None)
            .unwrap();
        let lines: Vec<String> = out.lines().map(String::from).collect();
        assert_eq!(lines.len(), 5);
        assert!(out.ends_with('\n'));
        // Not stored: the head stays where it was.
        assert_eq!(w.head_record().unwrap()["seq"], 0);
        w.commit_prepared(3).unwrap();
        assert_eq!(w.head_record().unwrap()["seq"], 3);
        assert_eq!(w.since_checkpoint(), 3);
        assert!(w.commit_prepared(3).is_err(), "only two lines are left");
        w.commit_prepared(2).unwrap();
        // A writer resumed from the stored lines is where this one is.
        let mut stored = vec![];
        let mut fresh = Writer::default();
        let d = fresh
            .declaration_claims(None, None, 100, "log-1".into(), NOW.into())
            .unwrap();
        stored.push(fresh.prepare_record("declaration", &d, None).unwrap());
        stored.extend(lines);
        let resumed = Writer::resume(&stored, None).unwrap();
        assert_eq!(resumed.head_record(), w.head_record());
    }

    #[test]
    fn the_platform_digest_and_the_core_make_the_same_lines() {
        let (mut a, mut b) = (declared(), declared());
        let core = a
            .prepare_events(&batch(7), &contexts(), NOW, &mut ids(), None)
            .unwrap();
        let mut calls = 0;
        let mut native = |bytes: &[u8]| {
            calls += 1;
            Ok(chain::sha256_hex(bytes))
        };
        let platform = b
            .prepare_events(&batch(7), &contexts(), NOW, &mut ids(), Some(&mut native))
            .unwrap();
        assert_eq!(core, platform);
        assert_eq!(calls, 7);
        // A digest that is not SHA-256 hex is refused, and nothing is prepared.
        let mut bad = |_: &[u8]| Ok("x".to_string());
        assert!(b
            .prepare_events(&batch(1), &contexts(), NOW, &mut ids(), Some(&mut bad))
            .is_err());
    }

    #[test]
    fn the_rules_come_before_the_records() {
        let mut w = Writer::default();
        let e = w
            .prepare_events(&batch(1), &contexts(), NOW, &mut ids(), None)
            .unwrap_err();
        assert_eq!(e.path(), "log");
        assert!(w.prepare_record("note", &json!({}), None).is_err());
        assert!(w.prepare_record("event", &json!({}), None).is_err());
        let mut w = declared();
        let d = w
            .declaration_claims(None, None, 100, "log-2".into(), NOW.into())
            .unwrap();
        assert!(w.prepare_record("declaration", &d, None).is_err());
        assert!(w.prepare_record("checkpoint", &json!({}), None).is_err());
        // An event whose context index names no context.
        let e = w
            .prepare_events(&batch(3), &contexts()[..1], NOW, &mut ids(), None)
            .unwrap_err();
        assert_eq!(e.path(), "event.trustContext");
        // A context that is not one: a typed error under its path.
        let e = w
            .prepare_events(&batch(1), &["{}".into()], NOW, &mut ids(), None)
            .unwrap_err();
        assert!(e.path().starts_with("event.trustContext"));
        assert!(w
            .declaration_claims(None, None, 0, "x".into(), NOW.into())
            .is_err());
    }
    fn key() -> PublicJwk {
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": crate::jose::b64u(&[1; 32]), "y": crate::jose::b64u(&[2; 32])});
        PublicJwk::from_value(&jwk, true, "$").unwrap()
    }

    /// A writer whose log declares a key and a checkpoint every `every` records, with its
    /// stored lines.
    fn keyed(every: u64) -> (Writer, Vec<String>) {
        let mut w = Writer::default();
        let mut d = w
            .declaration_claims(
                Some(&key()),
                Some(Alg::Es256),
                every,
                "log-1".into(),
                NOW.into(),
            )
            .unwrap();
        d["jws"] = json!("d.p.s");
        let line = w.prepare_record("declaration", &d, None).unwrap();
        w.commit_prepared(1).unwrap();
        (w, vec![line])
    }

    /// Prepares and commits one record of `kind`; its line joins `lines`.
    fn write(w: &mut Writer, lines: &mut Vec<String>, kind: &str, body: Value) {
        lines.push(w.prepare_record(kind, &body, None).unwrap());
        w.commit_prepared(1).unwrap();
    }

    fn hash_of(line: &str) -> String {
        parse_line(line, "line").unwrap()["hash"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The keyed log (a checkpoint every 2): declaration, two notes, a checkpoint, a note.
    fn checkpointed() -> (Writer, Vec<String>) {
        let (mut w, mut lines) = keyed(2);
        write(&mut w, &mut lines, "note", json!({ "n": 1 }));
        write(&mut w, &mut lines, "note", json!({ "n": 2 }));
        write(&mut w, &mut lines, "checkpoint", json!({ "jws": "c.p.s" }));
        write(&mut w, &mut lines, "note", json!({ "n": 4 }));
        (w, lines)
    }

    #[test]
    fn an_empty_log_has_no_head_record_and_a_written_one_its_last() {
        assert_eq!(Writer::default().head_record(), None);
        let (w, lines) = checkpointed();
        assert_eq!(
            w.head_record(),
            Some(json!({ "seq": 4, "hash": hash_of(&lines[4]) }))
        );
        assert_eq!(
            w.checkpoint_claims(1_700_000_000),
            json!({ "head": hash_of(&lines[4]), "count": 5, "iat": 1_700_000_000u64 })
        );
        let d = w.declaration().unwrap();
        assert_eq!(
            (
                d.checkpoint_every,
                d.log_id.as_str(),
                d.checkpoint_key.is_some()
            ),
            (2, "log-1", true)
        );
    }

    #[test]
    fn a_declared_key_needs_an_alg_that_fits_it() {
        let w = Writer::default();
        let claims = |alg| w.declaration_claims(Some(&key()), alg, 5, "l".into(), NOW.into());
        assert_eq!(
            claims(Some(Alg::Es256)).unwrap()["checkpointKey"],
            json!({ "thumbprint": key().thumbprint(), "alg": "ES256" })
        );
        for alg in [None, Some(Alg::Es384), Some(Alg::Rs256)] {
            assert_eq!(claims(alg).unwrap_err().path(), "checkpointKey", "{alg:?}");
        }
        let unkeyed = w
            .declaration_claims(None, None, 5, "l".into(), NOW.into())
            .unwrap();
        assert_eq!(unkeyed["checkpointKey"], Value::Null);
    }

    #[test]
    fn a_resumed_writer_reads_format_0_records_and_a_pruned_log() {
        // Format 0: records before the declaration.
        let mut h = Head::default();
        let mut lines: Vec<String> = (0..2)
            .map(|i| h.append("event", json!({ "n": i })).to_string())
            .collect();
        let mut w = Writer::resume(&lines, None).unwrap();
        let d = w
            .declaration_claims(None, None, 10, "l".into(), NOW.into())
            .unwrap();
        assert_eq!(d["legacyRecords"], 2);
        write(&mut w, &mut lines, "declaration", d);
        let resumed = Writer::resume(&lines, None).unwrap();
        assert_eq!(resumed.head_record(), w.head_record());
        assert_eq!(resumed.declaration().map(|d| d.legacy_records), Some(2));
        // Pruned up to the checkpoint: the declaration, then the record after it.
        let (w, lines) = checkpointed();
        let pruned = Anchor {
            seq: 3,
            hash: hash_of(&lines[3]),
        };
        let kept = [lines[0].clone(), lines[4].clone()];
        let resumed = Writer::resume(&kept, Some(pruned)).unwrap();
        assert_eq!(resumed.head_record(), w.head_record());
        assert_eq!(resumed.since_checkpoint(), 1);
        assert_eq!(
            Writer::resume(&kept, None)
                .err()
                .map(|e| e.path().to_string()),
            Some("log[1]".to_string()),
            "not pruned: the record after the declaration must be seq 1"
        );
    }

    #[test]
    fn a_writer_from_a_verified_log_goes_on_where_it_ended() {
        let (w, lines) = checkpointed();
        let mut v = super::super::stream::StreamVerifier::new(&json!({})).unwrap();
        v.push(&lines);
        let mut from = Writer::from_verified(&v).unwrap();
        assert_eq!(from.head_record(), w.head_record());
        assert_eq!(from.declaration(), w.declaration());
        assert_eq!(from.since_checkpoint(), 1);
        // One record is left before the checkpoint is due; the next line links to the head.
        let next = from
            .prepare_record("note", &json!({ "n": 5 }), None)
            .unwrap();
        assert_eq!(parse_line(&next, "l").unwrap()["prev"], hash_of(&lines[4]));
        from.commit_prepared(1).unwrap();
        assert!(from
            .prepare_events(&batch(1), &contexts(), NOW, &mut ids(), None)
            .is_err());
        // A verifier whose log did not verify gives no writer.
        let mut bad = super::super::stream::StreamVerifier::new(&json!({})).unwrap();
        bad.push(&[lines[1].clone()]);
        assert!(Writer::from_verified(&bad).is_err());
    }

    #[test]
    fn a_writer_from_a_verified_pruned_log_takes_the_records_after_the_prune_point() {
        let (_, lines) = checkpointed();
        let pruned = json!({ "seq": 3, "hash": hash_of(&lines[3]) });
        let mut v =
            super::super::stream::StreamVerifier::new(&json!({ "prunedTo": pruned })).unwrap();
        v.push(&lines[..1]);
        let mut w = Writer::from_verified(&v).unwrap();
        // Another tab wrote the record after the prune point.
        assert_eq!(w.absorb(&lines[4..]).unwrap(), 1);
        assert_eq!(w.head_record().unwrap()["seq"], 4);
    }

    #[test]
    fn events_must_leave_room_for_a_due_checkpoint() {
        let (mut w, mut lines) = keyed(3);
        write(&mut w, &mut lines, "note", json!({}));
        // One record since the declaration: two more fit before the checkpoint, not three.
        let e = w
            .prepare_events(&batch(3), &contexts(), NOW, &mut ids(), None)
            .unwrap_err();
        assert_eq!(
            (e.path(), e.rule()),
            ("events", "a checkpoint is due before these records")
        );
        let out = w
            .prepare_events(&batch(2), &contexts(), NOW, &mut ids(), None)
            .unwrap();
        assert_eq!(out.lines().count(), 2);
        w.commit_prepared(2).unwrap();
        assert!(w
            .prepare_events(&batch(1), &contexts(), NOW, &mut ids(), None)
            .is_err());
        // Without a key no checkpoint is ever due.
        let mut w = declared();
        for _ in 0..3 {
            let out = w
                .prepare_events(&batch(50), &contexts(), NOW, &mut ids(), None)
                .unwrap();
            assert_eq!(out.lines().count(), 50);
            w.commit_prepared(50).unwrap();
        }
        assert_eq!(w.since_checkpoint(), 150);
    }

    #[test]
    fn a_checkpoint_needs_a_declared_key_and_a_record_since_the_last() {
        let (mut w, mut lines) = keyed(2);
        let cp = json!({ "jws": "c.p.s" });
        assert_eq!(
            w.prepare_record("checkpoint", &cp, None)
                .unwrap_err()
                .path(),
            "kind",
            "no record since the declaration"
        );
        write(&mut w, &mut lines, "note", json!({}));
        write(&mut w, &mut lines, "checkpoint", cp.clone());
        assert_eq!(w.since_checkpoint(), 0);
        assert!(w.prepare_record("checkpoint", &cp, None).is_err());
        write(&mut w, &mut lines, "note", json!({}));
        assert_eq!(w.since_checkpoint(), 1);
        // Unkeyed: never, whatever was written since.
        let mut w = declared();
        w.prepare_record("note", &json!({}), None).unwrap();
        w.commit_prepared(1).unwrap();
        assert_eq!(
            w.prepare_record("checkpoint", &cp, None)
                .unwrap_err()
                .path(),
            "kind"
        );
    }
}
