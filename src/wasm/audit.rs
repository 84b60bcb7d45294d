//! The access log's binding: `AuditCore` holds the chain head and the records read so far;
//! the JS sinks store the lines it prepares. Appends are two-phase (prepare, then commit
//! once the sink has stored the line), so a failing sink leaves the chain unchanged.

use super::platform::{self, Signer};
use super::{arg_err, from_js, opt_str, prop, prop_str, to_js, to_js_value, JsResult};
use crate::audit::chain::{self, Head};
use crate::audit::control::{self, Filter};
use crate::audit::event::{self, Action, Completion, LookUp, Outcome};
use crate::error::{Error, ErrorCode};
use crate::jose::{compact, parse_compact, signing_input, PublicJwk};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

/// The chain state of one log: the head, the stored lines (parsed only when a query needs
/// them), and the lines prepared but not yet stored by the sink.
#[wasm_bindgen]
pub struct AuditCore {
    head: Head,
    lines: Vec<String>,
    pending: Vec<(String, Head)>,
    context_cache: Option<(String, crate::trust::TrustContext)>,
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
    /// A log resumed from stored lines; throws if they do not verify.
    #[wasm_bindgen(constructor)]
    pub fn new(lines: JsValue) -> JsResult<AuditCore> {
        let mut core = AuditCore {
            head: Head::default(),
            lines: Vec::new(),
            pending: Vec::new(),
            context_cache: None,
        };
        core.absorb(lines)?;
        Ok(core)
    }

    /// Takes in lines another writer (another tab) appended after our head; they must link.
    pub fn absorb(&mut self, lines: JsValue) -> JsResult<u32> {
        let lines = lines_arg(&lines)?;
        let mut v = chain::Verifier::after(&self.head);
        for (i, l) in lines.iter().enumerate() {
            let rec = parse_line(l, self.lines.len() + i)?;
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
        let n = lines.len() as u32;
        self.lines.extend(lines);
        Ok(n)
    }

    /// The number of records.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> u32 {
        self.lines.len() as u32
    }

    /// The head: `{ nextSeq, hash }`.
    pub fn head(&self) -> JsValue {
        to_js_value(&json!({ "nextSeq": self.head.next_seq, "hash": self.head.hash }))
    }

    /// Builds the lines for look-up events, chained one after another from the head, without
    /// committing them (a sink stores a batch in one write). Returns `[line, …]`.
    #[wasm_bindgen(js_name = prepareEvents)]
    pub fn prepare_events(&mut self, inputs: js_sys::Array) -> JsResult<Vec<String>> {
        let mut h = self.head.clone();
        let mut out = Vec::with_capacity(inputs.length() as usize);
        let mut pending = Vec::with_capacity(out.capacity());
        for input in inputs.iter() {
            let body = self.build_event(&input)?;
            let (line, _) = h.append_line("event", &body);
            pending.push((line.clone(), h.clone()));
            out.push(line);
        }
        self.pending = pending;
        Ok(out)
    }

    /// Builds a record of another kind (`recovery`, `checkpoint`, `note`), without committing it.
    #[wasm_bindgen(js_name = prepareRecord)]
    pub fn prepare_record(&mut self, kind: &str, body: JsValue) -> JsResult<String> {
        if !matches!(kind, "recovery" | "checkpoint" | "note") {
            return Err(arg_err("kind", "must be recovery, checkpoint or note"));
        }
        let mut h = self.head.clone();
        let (line, _) = h.append_line(kind, &from_js(&body, "body")?);
        self.pending = vec![(line.clone(), h)];
        Ok(line)
    }

    /// Commits a prepared line once the sink has stored it (in the order prepared).
    pub fn commit(&mut self, line: &str) -> JsResult<()> {
        match self.pending.first() {
            Some((l, _)) if l == line => {
                let (l, h) = self.pending.remove(0);
                self.head = h;
                self.lines.push(l);
                Ok(())
            }
            _ => Err(to_js(Error::new(
                ErrorCode::InvalidArgument,
                "line",
                "was not prepared by this log at its head: another writer appended first",
            ))),
        }
    }

    fn records(&self) -> JsResult<Vec<Value>> {
        self.lines
            .iter()
            .enumerate()
            .map(|(i, l)| parse_line(l, i))
            .collect()
    }

    /// The head as claims for a checkpoint: `{ head, count, iat }`.
    #[wasm_bindgen(js_name = checkpointClaims)]
    pub fn checkpoint_claims(&self) -> JsValue {
        to_js_value(
            &json!({ "head": self.head.hash, "count": self.head.next_seq, "iat": platform::now_secs() }),
        )
    }

    /// Verifies the chain: `{ ok, entries, firstBadIndex?, problem? }`.
    pub fn verify(&self) -> JsResult<JsValue> {
        Ok(report_js(&chain::verify(&self.records()?)))
    }

    /// The checkpoint records as `{ index, jws, prevHash }`.
    pub fn checkpoints(&self) -> JsResult<JsValue> {
        let list: Vec<Value> = self
            .records()?
            .iter()
            .enumerate()
            .filter(|(_, r)| r.get("kind").and_then(Value::as_str) == Some("checkpoint"))
            .map(|(i, r)| json!({ "index": i, "jws": r.pointer("/body/jws"), "prevHash": r.get("prev") }))
            .collect();
        Ok(to_js_value(&Value::Array(list)))
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
        let records = self.records()?;
        let found: Vec<Value> = control::query(&records, &f).into_iter().cloned().collect();
        Ok(to_js_value(&Value::Array(found)))
    }

    /// The follow-up reports.
    pub fn report(&self, volume_threshold: u32) -> JsResult<JsValue> {
        Ok(to_js_value(&control::report(
            &self.records()?,
            volume_threshold as usize,
        )))
    }

    /// "Who looked at my record" for one patient.
    #[wasm_bindgen(js_name = citizenReport)]
    pub fn citizen_report(&self, patient: &str) -> JsResult<JsValue> {
        Ok(to_js_value(&Value::Array(control::citizen_report(
            &self.records()?,
            patient,
        ))))
    }

    /// The records as NDJSON.
    #[wasm_bindgen(js_name = exportNdjson)]
    pub fn export_ndjson(&self) -> String {
        self.lines.iter().map(|l| format!("{l}\n")).collect()
    }

    /// The current AuditEvents as a FHIR `collection` Bundle.
    #[wasm_bindgen(js_name = exportBundle)]
    pub fn export_bundle(&self) -> JsResult<JsValue> {
        Ok(to_js_value(&control::bundle(&self.records()?)))
    }
}

impl AuditCore {
    /// The trust context of an event input, given as JSON text (parsed once per distinct text)
    /// or as an object.
    fn context(&mut self, v: &JsValue) -> JsResult<crate::trust::TrustContext> {
        if let Some(text) = v.as_string() {
            if let Some((t, tc)) = &self.context_cache {
                if *t == text {
                    return Ok(tc.clone());
                }
            }
            let json = crate::json::parse_limited(&text, 1 << 20, 64, "event.trustContext")
                .map_err(to_js)?;
            let tc = crate::trust::TrustContext::from_json(&json)
                .map_err(|e| to_js(e.under("event.trustContext")))?;
            self.context_cache = Some((text, tc.clone()));
            return Ok(tc);
        }
        let json = from_js(v, "event.trustContext")?;
        crate::trust::TrustContext::from_json(&json)
            .map_err(|e| to_js(e.under("event.trustContext")))
    }

    fn build_event(&mut self, input: &JsValue) -> JsResult<Value> {
        let tc = self.context(
            &prop(input, "trustContext")
                .ok_or_else(|| arg_err("event.trustContext", "is required"))?,
        )?;
        build_event(input, &tc)
    }
}

fn report_js(r: &chain::Report) -> JsValue {
    to_js_value(
        &json!({ "ok": r.ok, "entries": r.entries, "firstBadIndex": r.first_bad_index, "problem": r.problem }),
    )
}

/// Verifies stored lines without opening a log (for tooling and tests).
#[wasm_bindgen(js_name = auditVerifyLines)]
pub fn audit_verify_lines(lines: JsValue) -> JsResult<JsValue> {
    let lines = lines_arg(&lines)?;
    let mut recs = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        match crate::json::parse_limited(l, 16 << 20, 128, "line") {
            Ok(v) => recs.push(v),
            Err(_) => {
                return Ok(report_js(&chain::Report {
                    ok: false,
                    entries: lines.len(),
                    first_bad_index: Some(i),
                    problem: Some("MALFORMED: not JSON".into()),
                }))
            }
        }
    }
    Ok(report_js(&chain::verify(&recs)))
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

fn build_event(input: &JsValue, tc: &crate::trust::TrustContext) -> JsResult<Value> {
    let action =
        Action::parse(&prop_str(input, "kind").map_err(|_| arg_err("event.kind", "is required"))?)
            .map_err(to_js)?;
    let outcome = Outcome::parse(&opt_str(input, "outcome")?.unwrap_or_else(|| "pending".into()))
        .map_err(to_js)?;
    let id = match opt_str(input, "id")? {
        Some(id) => id,
        None => event::uuid_v4(platform::random_bytes::<16>()?),
    };
    let recorded = event::rfc3339(js_sys::Date::now() as u64);
    let (client_id, server, transaction_id) = (
        prop_str(input, "clientId")?,
        prop_str(input, "server")?,
        prop_str(input, "transactionId")?,
    );
    let (query, document_id, token_jti) = (
        opt_str(input, "query")?,
        opt_str(input, "documentId")?,
        opt_str(input, "tokenJti")?,
    );
    let l = LookUp {
        id: &id,
        action,
        trust_context: tc,
        client_id: &client_id,
        server: &server,
        transaction_id: &transaction_id,
        query: query.as_deref(),
        document_id: document_id.as_deref(),
        token_jti: token_jti.as_deref(),
        recorded: &recorded,
    };
    let mut c = Completion::default();
    if let Some(done) = prop(input, "completion") {
        c.http_status = super::opt_u64(&done, "httpStatus")?.map(|s| s.min(999) as u16);
        c.description = opt_str(&done, "description")?.map(|d| d.chars().take(200).collect());
        c.returned = super::opt_u64(&done, "returned")?;
        c.leaks = super::opt_u64(&done, "leaks")?;
        if let Some(w) = prop(&done, "withheld") {
            let map: std::collections::BTreeMap<String, u64> = serde_wasm_bindgen::from_value(w)
                .map_err(|_| arg_err("completion.withheld", "must map reason codes to counts"))?;
            c.withheld = map.into_iter().collect();
        }
    }
    event::build(&l, outcome, &c).map_err(to_js)
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
