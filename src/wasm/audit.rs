//! The access log's binding: `AuditCore` holds the chain head and the records read so far;
//! the JS sinks store the lines it prepares. Appends are two-phase (prepare, then commit
//! once the sink has stored the line), so a failing sink leaves the chain unchanged.

use super::platform::{self, Signer};
use super::{arg_err, from_js, opt_str, to_js, to_js_value, JsResult};
use crate::audit::chain;
use crate::audit::control::{self, Filter};
use crate::audit::event;
use crate::audit::stream::{self, StreamVerifier};
use crate::audit::writer::{self, Writer};
use crate::error::{Error, ErrorCode};
use crate::jose::{compact, parse_compact, signing_input, PublicJwk};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

/// One log's writer ([`Writer`]: the chain head, the rules, the lines prepared), and the
/// platform's native SHA-256 if it offers one.
#[wasm_bindgen]
pub struct AuditCore {
    w: Writer,
    /// A native SHA-256 the platform offers (Node's `crypto`), checked at construction.
    digest: Option<Native>,
}

/// A native SHA-256 the platform offers: `f(view) -> hex`, and the module's memory the view is made on.
struct Native {
    f: js_sys::Function,
    memory: js_sys::WebAssembly::Memory,
}

impl Native {
    /// SHA-256 of `bytes` as lowercase hex, by the platform.
    fn hex(&self, bytes: &[u8]) -> crate::error::Result<String> {
        // A view of the bytes where they lie in the module's memory (no copy, no new
        // ArrayBuffer): `f` reads it synchronously, before anything here runs again.
        let view = js_sys::Uint8Array::new_with_byte_offset_and_length(
            &self.memory.buffer(),
            bytes.as_ptr() as usize as u32,
            bytes.len() as u32,
        );
        self.f
            .call1(&JsValue::NULL, &view)
            .ok()
            .and_then(|h| h.as_string())
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidArgument,
                    "digest",
                    "the platform's SHA-256 failed or did not return hex",
                )
            })
    }
}

/// `n` (at most 1,024) random version-4 UUIDs, 36 characters each, one after another: the
/// wrapper takes its look-up ids from them (one crossing per run of ids; the randomness comes
/// from the pooled CSPRNG page).
#[wasm_bindgen(js_name = uuids)]
pub fn uuids(n: u32) -> JsResult<String> {
    let n = n.min(1024) as usize;
    let mut s = String::with_capacity(36 * n);
    for _ in 0..n {
        s.push_str(&new_uuid().map_err(to_js)?);
    }
    Ok(s)
}

/// A random version-4 UUID from the platform's CSPRNG.
fn new_uuid() -> crate::error::Result<String> {
    platform::random_bytes::<16>()
        .map(event::uuid_v4)
        .map_err(|_| {
            Error::new(
                ErrorCode::CryptoError,
                "random",
                "the platform's CSPRNG failed",
            )
        })
}

fn lines_arg(lines: &JsValue) -> JsResult<Vec<String>> {
    serde_wasm_bindgen::from_value(lines.clone())
        .map_err(|_| arg_err("lines", "must be an array of JSON lines"))
}

/// Now as RFC 3339, from the platform's clock.
fn now_rfc3339() -> String {
    event::rfc3339(js_sys::Date::now() as u64)
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
        let digest = digest.map(|f| Native {
            f,
            memory: wasm_bindgen::memory().unchecked_into(),
        });
        if let Some(n) = &digest {
            let probe = b"tillit: the platform's SHA-256 must agree with RustCrypto's";
            if n.hex(probe).map_err(to_js)? != chain::sha256_hex(probe) {
                return Err(arg_err("digest", "is not SHA-256"));
            }
        }
        let w = Writer::from_verified(&verified.v).map_err(to_js)?;
        Ok(AuditCore { w, digest })
    }

    /// Takes in lines another writer (another tab) appended after our head; they must link
    /// and keep the log's rules.
    pub fn absorb(&mut self, lines: JsValue) -> JsResult<u32> {
        let n = self.w.absorb(&lines_arg(&lines)?).map_err(to_js)?;
        Ok(n as u32)
    }

    /// Records since the last checkpoint (or the declaration): the wrapper writes a
    /// checkpoint when they reach the declared interval.
    #[wasm_bindgen(getter, js_name = sinceCheckpoint)]
    pub fn since_checkpoint(&self) -> f64 {
        self.w.since_checkpoint() as f64
    }

    /// The declaration as `{ format, checkpointEvery, checkpointKey, legacyRecords, logId,
    /// created }`, or null (a new log, or format 0).
    #[wasm_bindgen(getter)]
    pub fn declared(&self) -> JsValue {
        self.w
            .declaration()
            .map_or(JsValue::NULL, |d| to_js_value(&d.claims()))
    }

    /// The head: `{ seq, hash }` of the last record, or null for an empty log.
    #[wasm_bindgen(js_name = headRecord)]
    pub fn head_record(&self) -> JsValue {
        self.w
            .head_record()
            .map_or(JsValue::NULL, |h| to_js_value(&h))
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
        let key = match public_jwk.is_null() || public_jwk.is_undefined() {
            true => None,
            false => Some(
                PublicJwk::from_value(&from_js(&public_jwk, "publicJwk")?, true, "publicJwk")
                    .map_err(to_js)?,
            ),
        };
        let alg = alg
            .map(|a| crate::jose::Alg::parse(&a, "checkpointKey.alg"))
            .transpose()
            .map_err(to_js)?;
        let claims = self
            .w
            .declaration_claims(
                key.as_ref(),
                alg,
                every.into(),
                new_uuid().map_err(to_js)?,
                now_rfc3339(),
            )
            .map_err(to_js)?;
        Ok(to_js_value(&claims))
    }

    /// Builds the lines for look-up events, chained one after another from the head, without
    /// committing them (a sink stores a batch in one write). `events` is the JSON text of an
    /// array of event inputs whose `trustContext` is an index into `contexts` (JSON texts of
    /// trust contexts): one crossing per batch. Returns the lines as NDJSON bytes, each line
    /// ended by `\n` (a canonical line never holds a raw newline): one copy out, and text is
    /// made of it only where a sink or a reader needs text.
    #[wasm_bindgen(js_name = prepareEvents)]
    pub fn prepare_events(&mut self, events: &str, contexts: Vec<String>) -> JsResult<Vec<u8>> {
        let mut native = self.digest.as_ref().map(|n| move |b: &[u8]| n.hex(b));
        let native = native.as_mut().map(|f| f as writer::Digest<'_>);
        let out = self
            .w
            .prepare_events(events, &contexts, &now_rfc3339(), &mut new_uuid, native)
            .map_err(to_js)?;
        Ok(out.into_bytes())
    }

    /// Builds a record of another kind (`declaration`, `recovery`, `checkpoint`, `note`),
    /// without committing it. A declaration must be the log's first (or follow format-0
    /// records); a checkpoint needs a declared key and a record since the last one.
    #[wasm_bindgen(js_name = prepareRecord)]
    pub fn prepare_record(&mut self, kind: &str, body: JsValue) -> JsResult<String> {
        let body = from_js(&body, "body")?;
        let mut native = self.digest.as_ref().map(|n| move |b: &[u8]| n.hex(b));
        let native = native.as_mut().map(|f| f as writer::Digest<'_>);
        self.w.prepare_record(kind, &body, native).map_err(to_js)
    }

    /// Commits the first `count` prepared lines once the sink has stored them (cheaper than
    /// handing each line back: they are committed in the order prepared).
    #[wasm_bindgen(js_name = commitPrepared)]
    pub fn commit_prepared(&mut self, count: u32) -> JsResult<()> {
        self.w.commit_prepared(count as usize).map_err(to_js)
    }

    /// The head as claims for a checkpoint: `{ head, count, iat }`.
    #[wasm_bindgen(js_name = checkpointClaims)]
    pub fn checkpoint_claims(&self) -> JsValue {
        to_js_value(&self.w.checkpoint_claims(platform::now_secs()))
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

/// A log verified one chunk of lines at a time (streaming: the verifier keeps the head, the
/// declaration and counters, never the records). Each `push` returns the signatures in that
/// chunk for the wrapper to check with `auditCheckSigned`.
#[wasm_bindgen]
pub struct AuditVerifier {
    v: StreamVerifier,
}

#[wasm_bindgen]
impl AuditVerifier {
    /// `opts`: `{ publicJwk?, acceptLegacy?, anchor?: { seq, hash }, prunedTo?: { seq, hash } }`.
    #[wasm_bindgen(constructor)]
    pub fn new(opts: JsValue) -> JsResult<AuditVerifier> {
        let o = match opts.is_undefined() || opts.is_null() {
            true => json!({}),
            false => from_js(&opts, "options")?,
        };
        let v = StreamVerifier::new(&o).map_err(to_js)?;
        Ok(AuditVerifier { v })
    }

    /// Checks the next lines; returns the signatures among them to check (none once a rule
    /// is broken: `finish` reports it).
    pub fn push(&mut self, lines: JsValue) -> JsResult<JsValue> {
        let sigs = self.v.push(&lines_arg(&lines)?);
        Ok(to_js_value(&Value::Array(sigs)))
    }

    /// Checks the next bytes of an NDJSON log as stored (any chunk of it: a line may end in a
    /// later chunk; only that line is kept). Returns `{ sigs, count, bytes }`: the signatures
    /// to check, and the records whose lines ended in this chunk, as their NDJSON bytes.
    #[wasm_bindgen(js_name = pushNdjson)]
    pub fn push_ndjson(&mut self, chunk: &[u8]) -> JsValue {
        let (sigs, count, bytes) = self.v.push_ndjson(chunk);
        let out = js_sys::Object::new();
        super::set(&out, "sigs", &to_js_value(&Value::Array(sigs)));
        super::set(&out, "count", &JsValue::from(count));
        super::set(&out, "bytes", &js_sys::Uint8Array::from(&bytes[..]));
        out.into()
    }

    /// Whether a rule is broken already (`finish` says which).
    #[wasm_bindgen(getter)]
    pub fn failed(&self) -> bool {
        self.v.failed()
    }

    /// After the last `pushNdjson`: the byte offset where a torn last line begins (a crash
    /// mid-write; not a record), or null.
    #[wasm_bindgen(getter, js_name = tornAt)]
    pub fn torn_at(&self) -> Option<f64> {
        self.v.torn_at().map(|a| a as f64)
    }

    /// The most NDJSON bytes held at once while reading (the line not yet ended and the chunk
    /// given): bounded by the chunk size and the longest line, whatever the log's length.
    #[wasm_bindgen(getter, js_name = peakBuffered)]
    pub fn peak_buffered(&self) -> f64 {
        self.v.peak_buffered() as f64
    }

    /// The result: `{ ok, entries, firstBadIndex, problem, format, checkpointKey, checkpoints,
    /// unsignedTail, head }`.
    pub fn finish(&self) -> JsValue {
        to_js_value(&self.v.finish())
    }
}

/// Checks a signature `AuditVerifier.push` handed back with the checkpoint key's public JWK:
/// whether it verifies and signs what the log requires there.
#[wasm_bindgen(js_name = auditCheckSigned)]
pub async fn audit_check_signed(public_jwk: JsValue, to_sign: JsValue) -> JsResult<bool> {
    let jwk = PublicJwk::from_value(&from_js(&public_jwk, "publicJwk")?, true, "publicJwk")
        .map_err(to_js)?;
    let s = stream::to_sign_of(&from_js(&to_sign, "toSign")?)
        .ok_or_else(|| arg_err("toSign", "must be what AuditVerifier.push returned"))?;
    let Ok(parsed) = parse_compact(&s.jws, "jws") else {
        return Ok(false);
    };
    let Some(alg) = stream::signature_alg(&s, &jwk, &parsed) else {
        return Ok(false);
    };
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
    let typ = stream::signed_typ(&typ).map_err(to_js)?;
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
