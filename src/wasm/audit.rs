//! The access log's binding: `AuditCore` holds the chain head and the records read so far;
//! the JS sinks store the lines it prepares. Appends are two-phase (prepare, then commit
//! once the sink has stored the line), so a failing sink leaves the chain unchanged.

use super::platform::{self, Signer};
use super::{arg_err, from_js, opt_str, to_js, to_js_value, JsResult};
use crate::audit::chain::{self, Head};
use crate::audit::control::{self, Filter};
use crate::audit::event::{self, EventFrame, EventInput};
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
    pending: std::collections::VecDeque<Head>,
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
    /// A log resumed from stored lines; throws if they do not verify. `digest`, if given, is
    /// the platform's native SHA-256 (`Uint8Array` in, 32 bytes out) used to chain new
    /// records; it must agree with RustCrypto's on a test vector or the log does not open.
    #[wasm_bindgen(constructor)]
    pub fn new(lines: JsValue, digest: Option<js_sys::Function>) -> JsResult<AuditCore> {
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
        let mut core = AuditCore {
            head: Head::default(),
            pending: Default::default(),
            context_cache: None,
            digest,
            prefix: Default::default(),
        };
        core.absorb(lines)?;
        Ok(core)
    }

    /// Takes in lines another writer (another tab) appended after our head; they must link.
    pub fn absorb(&mut self, lines: JsValue) -> JsResult<u32> {
        let lines = lines_arg(&lines)?;
        let mut v = chain::Verifier::after(&self.head);
        for (i, l) in lines.iter().enumerate() {
            let rec = parse_line(l, self.head.next_seq as usize + i)?;
            v.push(&rec).map_err(|(at, problem)| {
                to_js(Error::new(
                    ErrorCode::InvalidResource,
                    format!("log[{at}]"),
                    format!("the log does not verify: {problem}"),
                ))
            })?;
        }
        self.head = v.head();
        self.pending.clear();
        Ok(lines.len() as u32)
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
            pending.push_back(h.clone());
        }
        self.pending = pending;
        Ok(out.into_bytes())
    }

    /// Builds a record of another kind (`recovery`, `checkpoint`, `note`), without committing it.
    #[wasm_bindgen(js_name = prepareRecord)]
    pub fn prepare_record(&mut self, kind: &str, body: JsValue) -> JsResult<String> {
        if !matches!(kind, "recovery" | "checkpoint" | "note") {
            return Err(arg_err("kind", "must be recovery, checkpoint or note"));
        }
        let mut h = self.head.clone();
        let body = crate::canon::canonical(&from_js(&body, "body")?);
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
        self.pending = [h].into();
        Ok(line)
    }

    /// Commits the first `count` prepared lines once the sink has stored them (cheaper than
    /// handing each line back: they are committed in the order prepared).
    #[wasm_bindgen(js_name = commitPrepared)]
    pub fn commit_prepared(&mut self, count: u32) -> JsResult<()> {
        if count as usize > self.pending.len() {
            return Err(arg_err("count", "is more than the lines prepared"));
        }
        if let Some(h) = self.pending.drain(..count as usize).next_back() {
            self.head = h;
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

fn report_value(r: &chain::Report) -> Value {
    json!({ "ok": r.ok, "entries": r.entries, "firstBadIndex": r.first_bad_index, "problem": r.problem })
}

/// The checkpoint records as `{ index, jws, prevHash }`.
fn checkpoints(records: &[Value]) -> Value {
    records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.get("kind").and_then(Value::as_str) == Some("checkpoint"))
        .map(|(i, r)| json!({ "index": i, "jws": r.pointer("/body/jws"), "prevHash": r.get("prev") }))
        .collect()
}

/// Verifies stored lines without opening a log (for tooling and tests): `{ ok, entries,
/// firstBadIndex?, problem? }`, and when the chain holds, its `checkpoints` (see
/// [`checkpoints`]) for the wrapper to check their signatures, from the same parse.
#[wasm_bindgen(js_name = auditVerifyLines)]
pub fn audit_verify_lines(lines: JsValue) -> JsResult<JsValue> {
    let lines = lines_arg(&lines)?;
    let mut recs = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        match crate::json::parse_limited(l, 16 << 20, 128, "line") {
            Ok(v) => recs.push(v),
            Err(_) => {
                return Ok(to_js_value(&report_value(&chain::Report {
                    ok: false,
                    entries: lines.len(),
                    first_bad_index: Some(i),
                    problem: Some("MALFORMED: not JSON".into()),
                })))
            }
        }
    }
    let report = chain::verify(&recs);
    let mut out = report_value(&report);
    if report.ok {
        out["checkpoints"] = checkpoints(&recs);
    }
    Ok(to_js_value(&out))
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

/// Signs checkpoint claims `{ head, count, iat }` as a compact JWS with a tillit key.
#[wasm_bindgen(js_name = signCheckpoint)]
pub async fn sign_checkpoint(key: JsValue, claims: JsValue) -> JsResult<String> {
    let opts = js_sys::Object::new();
    super::set(&opts, "key", &key);
    let signer = Signer::from_options(&opts.into())?;
    let claims = from_js(&claims, "claims")?;
    let mut header = json!({ "alg": signer.alg().name(), "typ": "tillit-checkpoint+jwt" });
    if let Some(kid) = signer.kid() {
        header["kid"] = json!(kid);
    }
    let si = signing_input(&header, &claims);
    let sig = signer.sign(si.as_bytes()).await?;
    Ok(compact(&si, &sig))
}

/// Verifies a checkpoint JWS with a public JWK: its claims if the signature holds, else null.
#[wasm_bindgen(js_name = verifyCheckpoint)]
pub async fn verify_checkpoint(public_jwk: JsValue, jws: String) -> JsResult<JsValue> {
    let jwk = PublicJwk::from_value(&from_js(&public_jwk, "publicJwk")?, true, "publicJwk")
        .map_err(to_js)?;
    let parsed = parse_compact(&jws, "jws").map_err(to_js)?;
    let alg = crate::jose::Alg::parse(
        parsed
            .header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or(""),
        "jws.alg",
    )
    .map_err(to_js)?;
    if !jwk.fits(alg) {
        return Ok(JsValue::NULL);
    }
    let ok = platform::verify(
        alg,
        &jwk,
        parsed.signing_input.as_bytes(),
        &parsed.signature,
    )
    .await?;
    Ok(if ok {
        to_js_value(&parsed.claims)
    } else {
        JsValue::NULL
    })
}
