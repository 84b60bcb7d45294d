//! The access log's binding: `AuditCore` holds the chain head and the records read so far;
//! the JS sinks store the lines it prepares. Appends are two-phase (prepare, then commit
//! once the sink has stored the line), so a failing sink leaves the chain unchanged.

use super::platform::{self, Signer};
use super::{arg_err, from_js, opt_str, to_js, to_js_value, JsResult};
use crate::audit::chain::{self, Head};
use crate::audit::control::{self, Filter};
use crate::audit::event::{self, EventFrame, EventInput};
use crate::audit::format::{self, Declaration, LogVerifier, ToSign, VerifyOptions};
use crate::audit::midstate::Prefix;
use crate::error::{Error, ErrorCode};
use crate::jose::{compact, parse_compact, signing_input, PublicJwk};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

/// The chain state of one log's writer: the head, and the lines prepared but not yet stored
/// by the sink. The records themselves live in the sink and the wrapper (JS strings), not
/// in wasm memory, so a long-lived log does not fill the module's 4 GiB address space.
#[wasm_bindgen]
pub struct AuditCore {
    head: Head,
    /// The log's rules as they stand after the committed records: the declaration and the
    /// records since the last checkpoint.
    state: LogVerifier,
    /// Lines prepared, not yet stored: the head after each, its kind, and a declaration's
    /// contents.
    pending: std::collections::VecDeque<(Head, &'static str, Option<Declaration>)>,
    /// The last trust context: its JSON text, the parsed context, and its event frame for
    /// the last client and server.
    context_cache: Option<(String, crate::trust::TrustContext, Option<EventFrame>)>,
    /// A native SHA-256 the platform offers (Node's `crypto`), checked at construction.
    digest: Option<Native>,
    /// Without a native SHA-256: the states of a recent record's beginning, which the next
    /// records of the same look-up context share (see `midstate::Prefix`).
    prefix: Prefix,
}

/// A native SHA-256 the platform offers: `f(view) -> hex`, and the module's memory the view is made on.
struct Native {
    f: js_sys::Function,
    memory: js_sys::WebAssembly::Memory,
}

/// SHA-256 as lowercase hex: the platform's native function if it offers one, else RustCrypto's.
fn digest_hex(native: &Option<Native>, bytes: &[u8]) -> crate::error::Result<String> {
    let Some(n) = native else {
        return Ok(chain::sha256_hex(bytes));
    };
    let failed = || {
        Error::new(
            ErrorCode::InvalidArgument,
            "digest",
            "the platform's SHA-256 failed or did not return hex",
        )
    };
    // A view of the bytes where they lie in the module's memory (no copy, no new
    // ArrayBuffer): `f` reads it synchronously, before anything here runs again.
    let view = js_sys::Uint8Array::new_with_byte_offset_and_length(
        &n.memory.buffer(),
        bytes.as_ptr() as usize as u32,
        bytes.len() as u32,
    );
    n.f.call1(&JsValue::NULL, &view)
        .ok()
        .and_then(|h| h.as_string())
        .ok_or_else(failed)
}

/// `n` (at most 1,024) random version-4 UUIDs, 36 characters each, one after another: the
/// wrapper takes its look-up ids from them (one crossing per run of ids; the randomness comes
/// from the pooled CSPRNG page).
#[wasm_bindgen(js_name = uuids)]
pub fn uuids(n: u32) -> JsResult<String> {
    let n = n.min(1024) as usize;
    let mut s = String::with_capacity(36 * n);
    for _ in 0..n {
        s.push_str(&event::uuid_v4(platform::random_bytes::<16>()?));
    }
    Ok(s)
}

fn parse_line(line: &str, i: usize) -> JsResult<Value> {
    crate::json::parse_limited(line, 16 << 20, 128, &format!("log[{i}]")).map_err(to_js)
}

fn lines_arg(lines: &JsValue) -> JsResult<Vec<String>> {
    serde_wasm_bindgen::from_value(lines.clone())
        .map_err(|_| arg_err("lines", "must be an array of JSON lines"))
}

#[wasm_bindgen]
impl AuditCore {
    /// A log resumed where `verified` ended: the wrapper read the stored log through it
    /// (chunk by chunk, with the caller's key and options) and it verified; throws if it did
    /// not. `digest`, if given, is the platform's native SHA-256 (`Uint8Array` in, 32 bytes
    /// out) used to chain new records; it must agree with RustCrypto's on a test vector or the
    /// log does not open.
    #[wasm_bindgen(constructor)]
    pub fn new(verified: &AuditVerifier, digest: Option<js_sys::Function>) -> JsResult<AuditCore> {
        if verified.failure.is_some() {
            return Err(arg_err("verified", "must be a verifier whose log verified"));
        }
        let digest = digest.map(|f| Native {
            f,
            memory: wasm_bindgen::memory().unchecked_into(),
        });
        if digest.is_some() {
            let probe = b"tillit: the platform's SHA-256 must agree with RustCrypto's";
            if digest_hex(&digest, probe).map_err(to_js)? != chain::sha256_hex(probe) {
                return Err(arg_err("digest", "is not SHA-256"));
            }
        }
        Ok(AuditCore {
            head: verified.v.head(),
            state: verified.v.for_writer(),
            pending: Default::default(),
            context_cache: None,
            digest,
            prefix: Default::default(),
        })
    }

    /// Takes in lines another writer (another tab) appended after our head; they must link
    /// and keep the log's rules.
    pub fn absorb(&mut self, lines: JsValue) -> JsResult<u32> {
        let lines = lines_arg(&lines)?;
        let mut v = self.state.clone();
        for (i, l) in lines.iter().enumerate() {
            let rec = parse_line(l, self.head.next_seq as usize + i)?;
            v.push(&rec).map_err(|f| {
                to_js(Error::new(
                    ErrorCode::InvalidResource,
                    format!("log[{}]", f.index),
                    format!("the log does not verify: {}", f.problem),
                ))
            })?;
        }
        self.head = v.head();
        self.state = v;
        self.pending.clear();
        Ok(lines.len() as u32)
    }

    /// Records since the last checkpoint (or the declaration): the wrapper writes a
    /// checkpoint when they reach the declared interval.
    #[wasm_bindgen(getter, js_name = sinceCheckpoint)]
    pub fn since_checkpoint(&self) -> f64 {
        self.state.since_checkpoint() as f64
    }

    /// The declaration as `{ format, checkpointEvery, checkpointKey, legacyRecords, logId,
    /// created }`, or null (a new log, or format 0).
    #[wasm_bindgen(getter)]
    pub fn declared(&self) -> JsValue {
        match self.state.declaration() {
            Some(d) => to_js_value(&d.claims()),
            None => JsValue::NULL,
        }
    }

    /// The head: `{ seq, hash }` of the last record, or null for an empty log.
    #[wasm_bindgen(js_name = headRecord)]
    pub fn head_record(&self) -> JsValue {
        if self.head.next_seq == 0 {
            return JsValue::NULL;
        }
        to_js_value(&json!({ "seq": self.head.next_seq - 1, "hash": self.head.hash }))
    }

    /// A new declaration's claims (the body without `jws`), for the records so far:
    /// `publicJwk` and `alg` the checkpoint key's, or null for an unsigned log.
    #[wasm_bindgen(js_name = declarationClaims)]
    pub fn declaration_claims(
        &self,
        public_jwk: JsValue,
        alg: Option<String>,
        every: u32,
    ) -> JsResult<JsValue> {
        let key = if public_jwk.is_null() || public_jwk.is_undefined() {
            None
        } else {
            Some(
                PublicJwk::from_value(&from_js(&public_jwk, "publicJwk")?, true, "publicJwk")
                    .map_err(to_js)?,
            )
        };
        let alg = alg
            .map(|a| crate::jose::Alg::parse(&a, "checkpointKey.alg"))
            .transpose()
            .map_err(to_js)?;
        if key.is_some() && alg.is_none_or(|a| !key.as_ref().is_some_and(|k| k.fits(a))) {
            return Err(arg_err("checkpointKey", "its alg must fit its public key"));
        }
        if !(1..=format::MAX_EVERY).contains(&(every as u64)) {
            return Err(arg_err("checkpointEvery", "must be 1 to 1,000,000"));
        }
        let d = format::declaration(
            key.as_ref(),
            alg,
            every as u64,
            self.head.next_seq,
            event::uuid_v4(platform::random_bytes::<16>()?),
            event::rfc3339(js_sys::Date::now() as u64),
        );
        Ok(to_js_value(&d.claims()))
    }

    /// Builds the lines for look-up events, chained one after another from the head, without
    /// committing them (a sink stores a batch in one write). `events` is the JSON text of an
    /// array of event inputs whose `trustContext` is an index into `contexts` (JSON texts of
    /// trust contexts): one crossing per batch. Returns the lines as NDJSON bytes, each line
    /// ended by `\n` (a canonical line never holds a raw newline): one copy out, and text is
    /// made of it only where a sink or a reader needs text.
    #[wasm_bindgen(js_name = prepareEvents)]
    pub fn prepare_events(&mut self, events: &str, contexts: Vec<String>) -> JsResult<Vec<u8>> {
        let events = EventInput::parse_batch(events, 64 << 20).map_err(to_js)?;
        let Some(d) = self.state.declaration() else {
            return Err(arg_err(
                "log",
                "has no declaration record: open it with AuditLog.open",
            ));
        };
        if d.checkpoint_key.is_some()
            && self.state.since_checkpoint() + events.len() as u64 > d.checkpoint_every
        {
            return Err(arg_err(
                "events",
                "a checkpoint is due before these records",
            ));
        }
        let now = event::rfc3339(js_sys::Date::now() as u64);
        // Each record's text up to the end of its body, `{"body":<event>`: it does not
        // depend on the chain, so it is written for the whole batch first.
        let mut bodies = Vec::with_capacity(events.len());
        // The context index loaded last in this batch: the same index is the same text, so
        // it is not compared again (a context's text is ~3 KB).
        let mut loaded = None;
        for (ctx, input) in &events {
            let text = ctx
                .and_then(|i| contexts.get(i as usize))
                .ok_or_else(|| arg_err("event.trustContext", "is required"))?;
            if loaded != *ctx {
                self.load_context(text)?;
                loaded = *ctx;
            }
            let (_, tc, frame) = self.context_cache.as_mut().expect("just loaded");
            if !frame
                .as_ref()
                .is_some_and(|f| f.is_for(&input.client_id, &input.server))
            {
                *frame = Some(EventFrame::new(tc, &input.client_id, &input.server));
            }
            let frame = frame.as_ref().expect("just written");
            let id = match &input.id {
                Some(id) => id.clone(),
                None => event::uuid_v4(platform::random_bytes::<16>()?),
            };
            let mut pre = String::with_capacity(4096);
            pre.push_str(chain::BODY_PREFIX);
            input
                .write_into(&mut pre, tc, frame, &id, &now)
                .map_err(to_js)?;
            bodies.push(pre);
        }
        // Without a native SHA-256 the core hashes: each record from the state after the
        // blocks it shares with a recent one (see `midstate`), in chain order.
        let mids = match self.digest {
            Some(_) => None,
            None => Some(
                self.prefix
                    .starts(&bodies.iter().map(|b| b.as_bytes()).collect::<Vec<_>>()),
            ),
        };
        let mut h = self.head.clone();
        let mut out = String::with_capacity(bodies.len() * 4096);
        let mut pending = std::collections::VecDeque::with_capacity(bodies.len());
        for (i, pre) in bodies.into_iter().enumerate() {
            let (line, _) = h
                .append_body("event", pre, &mut |b| match &mids {
                    Some(m) => Ok(chain::hex(&m[i].finish(b))),
                    None => digest_hex(&self.digest, b),
                })
                .map_err(to_js)?;
            out.push_str(&line);
            out.push('\n');
            pending.push_back((h.clone(), "event", None));
        }
        self.pending = pending;
        Ok(out.into_bytes())
    }

    /// Builds a record of another kind (`declaration`, `recovery`, `checkpoint`, `note`),
    /// without committing it. A declaration must be the log's first (or follow format-0
    /// records); a checkpoint needs a declared key and a record since the last one.
    #[wasm_bindgen(js_name = prepareRecord)]
    pub fn prepare_record(&mut self, kind: &str, body: JsValue) -> JsResult<String> {
        let kind: &'static str = match kind {
            "declaration" => "declaration",
            "recovery" => "recovery",
            "checkpoint" => "checkpoint",
            "note" => "note",
            _ => {
                return Err(arg_err(
                    "kind",
                    "must be declaration, recovery, checkpoint or note",
                ))
            }
        };
        let body = from_js(&body, "body")?;
        let declared = self.state.declaration();
        let decl = match kind {
            "declaration" => {
                if declared.is_some() {
                    return Err(arg_err("kind", "the log has its declaration already"));
                }
                let (d, _) = Declaration::parse(&body).map_err(|p| arg_err("body", &p))?;
                if d.legacy_records != self.head.next_seq {
                    return Err(arg_err(
                        "body.legacyRecords",
                        "must be the records before it",
                    ));
                }
                Some(d)
            }
            "checkpoint"
                if declared.is_none_or(|d| d.checkpoint_key.is_none())
                    || self.state.since_checkpoint() == 0 =>
            {
                return Err(arg_err(
                    "kind",
                    "a checkpoint needs a declared key and a record since the last one",
                ))
            }
            _ if declared.is_none() => return Err(arg_err("log", "has no declaration record")),
            _ => None,
        };
        let mut h = self.head.clone();
        let body = crate::canon::canonical(&body);
        let (line, _) = h
            .append_written(
                kind,
                |out| {
                    out.push_str(&body);
                    Ok(())
                },
                &mut |b| digest_hex(&self.digest, b),
            )
            .map_err(to_js)?;
        self.pending = [(h, kind, decl)].into();
        Ok(line)
    }

    /// Commits the first `count` prepared lines once the sink has stored them (cheaper than
    /// handing each line back: they are committed in the order prepared).
    #[wasm_bindgen(js_name = commitPrepared)]
    pub fn commit_prepared(&mut self, count: u32) -> JsResult<()> {
        if count as usize > self.pending.len() {
            return Err(arg_err("count", "is more than the lines prepared"));
        }
        // A run of events advances the rules' state once, at its end.
        let mut events = 0;
        for (h, kind, decl) in self.pending.drain(..count as usize) {
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

    /// The head as claims for a checkpoint: `{ head, count, iat }`.
    #[wasm_bindgen(js_name = checkpointClaims)]
    pub fn checkpoint_claims(&self) -> JsValue {
        to_js_value(
            &json!({ "head": self.head.hash, "count": self.head.next_seq, "iat": platform::now_secs() }),
        )
    }
}

/// Stored records, parsed, for log control: queries, reports, the citizen's view, export.
#[wasm_bindgen]
pub struct AuditRecords {
    records: Vec<Value>,
}

#[wasm_bindgen]
impl AuditRecords {
    /// Parses stored records given as NDJSON bytes (each line ended by `\n`, as
    /// `prepareEvents` makes them), with the file sink's reader: a line that is not a JSON
    /// record is an error, the last one too (these bytes come from the wrapper, not a crash).
    #[wasm_bindgen(js_name = fromNdjson)]
    pub fn from_ndjson(bytes: &[u8]) -> JsResult<AuditRecords> {
        let read = chain::read_ndjson(bytes).map_err(to_js)?;
        if read.torn_at.is_some() {
            return Err(arg_err(
                "lines",
                "must be JSON records, each line ended by a newline",
            ));
        }
        Ok(AuditRecords {
            records: read.records,
        })
    }

    /// Look-ups matching a filter.
    pub fn query(&self, filter: JsValue) -> JsResult<JsValue> {
        let f = Filter {
            patient: opt_str(&filter, "patient")?,
            practitioner: opt_str(&filter, "practitioner")?,
            from: opt_str(&filter, "from")?,
            to: opt_str(&filter, "to")?,
            purpose: opt_str(&filter, "purpose")?,
            action: opt_str(&filter, "action")?,
        };
        let found: Vec<Value> = control::query(&self.records, &f)
            .into_iter()
            .cloned()
            .collect();
        Ok(to_js_value(&Value::Array(found)))
    }

    /// The follow-up reports.
    pub fn report(&self, volume_threshold: u32) -> JsResult<JsValue> {
        Ok(to_js_value(&control::report(
            &self.records,
            volume_threshold as usize,
        )))
    }

    /// "Who looked at my record" for one patient.
    #[wasm_bindgen(js_name = citizenReport)]
    pub fn citizen_report(&self, patient: &str) -> JsResult<JsValue> {
        Ok(to_js_value(&Value::Array(control::citizen_report(
            &self.records,
            patient,
        ))))
    }

    /// The current AuditEvents as a FHIR `collection` Bundle.
    #[wasm_bindgen(js_name = exportBundle)]
    pub fn export_bundle(&self) -> JsResult<JsValue> {
        Ok(to_js_value(&control::bundle(&self.records)))
    }
}

impl AuditCore {
    /// Parses a trust context's JSON text, once per distinct text (a log writes many entries
    /// for one context in a row).
    fn load_context(&mut self, text: &str) -> JsResult<()> {
        if !matches!(&self.context_cache, Some((t, _, _)) if t == text) {
            let json = crate::json::parse_limited(text, 1 << 20, 64, "event.trustContext")
                .map_err(to_js)?;
            let tc = crate::trust::TrustContext::from_json(&json)
                .map_err(|e| to_js(e.under("event.trustContext")))?;
            self.context_cache = Some((text.to_string(), tc, None));
        }
        Ok(())
    }
}

/// A log verified one chunk of lines at a time (streaming: the verifier keeps the head, the
/// declaration and counters, never the records). Each `push` returns the signatures in that
/// chunk for the wrapper to check with `auditCheckSigned`.
#[wasm_bindgen]
pub struct AuditVerifier {
    v: LogVerifier,
    failure: Option<format::Failure>,
    /// NDJSON bytes given to `pushNdjson`: the line not yet ended.
    stream: chain::NdjsonStream,
}

#[wasm_bindgen]
impl AuditVerifier {
    /// `opts`: `{ publicJwk?, acceptLegacy?, anchor?: { seq, hash } }`.
    #[wasm_bindgen(constructor)]
    pub fn new(opts: JsValue) -> JsResult<AuditVerifier> {
        let o = if opts.is_undefined() || opts.is_null() {
            json!({})
        } else {
            from_js(&opts, "options")?
        };
        let key_thumbprint = match o.get("publicJwk") {
            None | Some(Value::Null) => None,
            Some(j) => Some(
                PublicJwk::from_value(j, true, "publicJwk")
                    .map_err(to_js)?
                    .thumbprint(),
            ),
        };
        let anchor = match o.get("anchor") {
            None | Some(Value::Null) => None,
            Some(a) => {
                let seq = a.get("seq").and_then(Value::as_u64);
                let hash = a
                    .get("hash")
                    .and_then(Value::as_str)
                    .filter(|h| chain::is_hash_hex(h));
                match (seq, hash) {
                    (Some(seq), Some(hash)) => Some(format::Anchor {
                        seq,
                        hash: hash.to_string(),
                    }),
                    _ => {
                        return Err(arg_err(
                            "anchor",
                            "must be { seq, hash } as log.head() gives it",
                        ))
                    }
                }
            }
        };
        let accept_legacy = match o.get("acceptLegacy") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(arg_err("acceptLegacy", "must be a boolean")),
        };
        Ok(AuditVerifier {
            v: LogVerifier::new(VerifyOptions {
                key_thumbprint,
                accept_legacy,
                anchor,
            }),
            failure: None,
            stream: Default::default(),
        })
    }

    /// Checks the next lines; returns the signatures among them to check (none once a rule
    /// is broken: `finish` reports it).
    pub fn push(&mut self, lines: JsValue) -> JsResult<JsValue> {
        let lines = lines_arg(&lines)?;
        let mut sigs = Vec::new();
        for l in &lines {
            if self.failure.is_some() {
                break;
            }
            let rec = match crate::json::parse_limited(l, chain::MAX_LINE, 128, "line") {
                Ok(v) if v.is_object() => v,
                _ => {
                    self.failure = Some(format::Failure {
                        index: self.v.head().next_seq,
                        problem: "MALFORMED: not a JSON record".into(),
                    });
                    break;
                }
            };
            self.take(&rec, &mut sigs);
        }
        Ok(to_js_value(&Value::Array(sigs)))
    }

    /// Checks the next bytes of an NDJSON log as stored (any chunk of it: a line may end in a
    /// later chunk; only that line is kept). Returns `{ sigs, count, bytes }`: the signatures
    /// to check, and the records whose lines ended in this chunk, as their NDJSON bytes.
    #[wasm_bindgen(js_name = pushNdjson)]
    pub fn push_ndjson(&mut self, chunk: &[u8]) -> JsValue {
        let mut sigs = Vec::new();
        let mut bytes = Vec::new();
        let mut count = 0u32;
        if self.failure.is_none() {
            let (v, failure, stream) = (&mut self.v, &mut self.failure, &mut self.stream);
            let r = stream.push(chunk, |rec, line| {
                if failure.is_none() {
                    take(v, failure, &rec, &mut sigs);
                    bytes.extend_from_slice(line);
                    count += 1;
                }
            });
            if let (Err(line), None) = (r, &failure) {
                *failure = Some(format::Failure {
                    index: line,
                    problem: "MALFORMED: a line that is not a JSON record is followed by more"
                        .into(),
                });
            }
        }
        let out = js_sys::Object::new();
        super::set(&out, "sigs", &to_js_value(&Value::Array(sigs)));
        super::set(&out, "count", &JsValue::from(count));
        super::set(&out, "bytes", &js_sys::Uint8Array::from(&bytes[..]));
        out.into()
    }

    /// Whether a rule is broken already (`finish` says which).
    #[wasm_bindgen(getter)]
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// After the last `pushNdjson`: the byte offset where a torn last line begins (a crash
    /// mid-write; not a record), or null.
    #[wasm_bindgen(getter, js_name = tornAt)]
    pub fn torn_at(&self) -> Option<f64> {
        self.stream.torn_at().map(|a| a as f64)
    }

    /// The most NDJSON bytes held at once while reading (the line not yet ended and the chunk
    /// given): bounded by the chunk size and the longest line, whatever the log's length.
    #[wasm_bindgen(getter, js_name = peakBuffered)]
    pub fn peak_buffered(&self) -> f64 {
        self.stream.peak() as f64
    }

    /// The result: `{ ok, entries, firstBadIndex, problem, format, checkpointKey, checkpoints,
    /// unsignedTail, head }`.
    pub fn finish(&self) -> JsValue {
        let r = match &self.failure {
            Some(f) => Err(f.clone()),
            None => self.v.finish(),
        };
        to_js_value(&match r {
            Ok(s) => json!({
                "ok": true, "entries": s.entries, "firstBadIndex": null, "problem": null,
                "format": s.format,
                "checkpointKey": s.declaration.as_ref().and_then(|d| d.checkpoint_key.as_ref()).map(|k| json!({ "thumbprint": k.thumbprint, "alg": k.alg })),
                "checkpointEvery": s.declaration.as_ref().map(|d| d.checkpoint_every),
                "checkpoints": s.checkpoints, "unsignedTail": s.unsigned_tail,
                "head": if s.entries == 0 { Value::Null } else { json!({ "seq": s.entries - 1, "hash": s.head.hash }) },
            }),
            Err(f) => json!({
                "ok": false, "entries": self.v.head().next_seq.max(f.index), "firstBadIndex": f.index, "problem": f.problem,
            }),
        })
    }
}

/// Pushes one record into the verifier: its signature (if any) joins `sigs`; the first rule
/// broken is kept in `failure`.
fn take(
    v: &mut LogVerifier,
    failure: &mut Option<format::Failure>,
    rec: &Value,
    sigs: &mut Vec<Value>,
) {
    match v.push(rec) {
        Ok(Some(s)) => sigs.push(to_sign_value(&s)),
        Ok(None) => {}
        Err(f) => *failure = Some(f),
    }
}

impl AuditVerifier {
    fn take(&mut self, rec: &Value, sigs: &mut Vec<Value>) {
        take(&mut self.v, &mut self.failure, rec, sigs);
    }
}

fn to_sign_value(s: &ToSign) -> Value {
    let expect = match &s.expect {
        format::Expect::Declaration(c) => json!({ "declaration": c }),
        format::Expect::Checkpoint { head, count } => json!({ "head": head, "count": count }),
    };
    json!({ "index": s.index, "jws": s.jws, "typ": s.typ, "alg": s.alg, "expect": expect })
}

fn to_sign_of(v: &Value) -> Option<ToSign> {
    let expect = match v.get("expect")? {
        e if e.get("declaration").is_some() => {
            format::Expect::Declaration(e["declaration"].clone())
        }
        e => format::Expect::Checkpoint {
            head: e.get("head")?.as_str()?.to_string(),
            count: e.get("count")?.as_u64()?,
        },
    };
    Some(ToSign {
        index: v.get("index")?.as_u64()?,
        jws: v.get("jws")?.as_str()?.to_string(),
        typ: match v.get("typ")?.as_str()? {
            format::DECLARATION_TYP => format::DECLARATION_TYP,
            _ => format::CHECKPOINT_TYP,
        },
        alg: v.get("alg").and_then(Value::as_str).map(str::to_string),
        expect,
    })
}

/// Checks a signature `AuditVerifier.push` handed back with the checkpoint key's public JWK:
/// whether it verifies and signs what the log requires there.
#[wasm_bindgen(js_name = auditCheckSigned)]
pub async fn audit_check_signed(public_jwk: JsValue, to_sign: JsValue) -> JsResult<bool> {
    let jwk = PublicJwk::from_value(&from_js(&public_jwk, "publicJwk")?, true, "publicJwk")
        .map_err(to_js)?;
    let s = to_sign_of(&from_js(&to_sign, "toSign")?)
        .ok_or_else(|| arg_err("toSign", "must be what AuditVerifier.push returned"))?;
    let Ok(parsed) = parse_compact(&s.jws, "jws") else {
        return Ok(false);
    };
    let Ok(alg) = crate::jose::Alg::parse(
        parsed
            .header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or(""),
        "jws.alg",
    ) else {
        return Ok(false);
    };
    if !jwk.fits(alg) || !s.holds(&parsed.header, &parsed.claims) {
        return Ok(false);
    }
    platform::verify(
        alg,
        &jwk,
        parsed.signing_input.as_bytes(),
        &parsed.signature,
    )
    .await
}

/// Splits NDJSON bytes: `{ lines, tornAt }` (a torn last line is not a record).
#[wasm_bindgen(js_name = auditReadNdjson)]
pub fn audit_read_ndjson(bytes: &[u8]) -> JsResult<JsValue> {
    let read = chain::read_ndjson(bytes).map_err(to_js)?;
    let lines: Vec<String> = read
        .records
        .iter()
        .map(|r| serde_json::to_string(r).expect("serialises"))
        .collect();
    Ok(to_js_value(
        &json!({ "lines": lines, "tornAt": read.torn_at }),
    ))
}

/// Signs a log's claims as a compact JWS with a tillit key: a checkpoint's `{ head, count,
/// iat }` (`typ` `tillit-checkpoint+jwt`) or a declaration's (`tillit-declaration+jwt`).
#[wasm_bindgen(js_name = signAuditClaims)]
pub async fn sign_audit_claims(key: JsValue, claims: JsValue, typ: String) -> JsResult<String> {
    if typ != format::CHECKPOINT_TYP && typ != format::DECLARATION_TYP {
        return Err(arg_err("typ", "must be a checkpoint's or a declaration's"));
    }
    let opts = js_sys::Object::new();
    super::set(&opts, "key", &key);
    let signer = Signer::from_options(&opts.into())?;
    let claims = from_js(&claims, "claims")?;
    let mut header = json!({ "alg": signer.alg().name(), "typ": typ });
    if let Some(kid) = signer.kid() {
        header["kid"] = json!(kid);
    }
    let si = signing_input(&header, &claims);
    let sig = signer.sign(si.as_bytes()).await?;
    Ok(compact(&si, &sig))
}
