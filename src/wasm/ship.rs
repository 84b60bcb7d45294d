//! The shipper's binding: `AuditShipper` asks `audit::ship` what to send, how long to wait
//! and whether the collector's answer agrees with the local chain; the JS wrapper does the
//! HTTP, the timers and the storage.

use super::{arg_err, from_js, to_js, to_js_value, JsResult};
use crate::audit::format::Anchor;
use crate::audit::ship::{self, Acked, Next, Policy, Shipper, Stored};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

/// One device log's shipping state.
#[wasm_bindgen]
pub struct AuditShipper {
    s: Shipper,
}

fn anchor(v: &Value, field: &str) -> JsResult<Option<Anchor>> {
    if v.is_null() {
        return Ok(None);
    }
    let seq = v.get("seq").and_then(Value::as_u64);
    let hash = v
        .get("hash")
        .and_then(Value::as_str)
        .filter(|h| crate::audit::chain::is_hash_hex(h));
    match (seq, hash) {
        (Some(seq), Some(hash)) => Ok(Some(Anchor {
            seq,
            hash: hash.to_string(),
        })),
        _ => Err(arg_err(field, "must be { seq, hash }")),
    }
}

fn seq_arg(n: f64, field: &str) -> JsResult<u64> {
    if n >= 0.0 && n.fract() == 0.0 && n <= 9.0e15 {
        Ok(n as u64)
    } else {
        Err(arg_err(field, "must be a non-negative whole number"))
    }
}

#[wasm_bindgen]
impl AuditShipper {
    /// `options`: the `ship` option (`batch`, `intervalMs`, `maxBackoffMs`, `retainMs`,
    /// `timeoutMs`); `stored`: the state the sink kept (`null`: never shipped).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue, stored: JsValue) -> JsResult<AuditShipper> {
        let policy = Policy::from_options(&from_js(&options, "ship")?).map_err(to_js)?;
        let st = from_js(&stored, "ship.state")?;
        let stored = if st.is_null() {
            Stored::default()
        } else {
            Stored::from_value(&st).map_err(to_js)?
        };
        Ok(AuditShipper {
            s: Shipper::new(policy, stored),
        })
    }

    /// Whether `id` is a log id the collector takes.
    #[wasm_bindgen(js_name = validLogId)]
    pub fn valid_log_id(id: &str) -> bool {
        ship::valid_log_id(id)
    }

    /// The state to keep in the sink: `{ logId, acked, pruned, stopped }`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> JsValue {
        to_js_value(&self.s.stored.to_value())
    }

    /// Sets the log id (once, when minted).
    #[wasm_bindgen(js_name = setLogId)]
    pub fn set_log_id(&mut self, id: &str) -> JsResult<()> {
        if !ship::valid_log_id(id) {
            return Err(arg_err(
                "ship.logId",
                "must be 1 to 128 of A-Z a-z 0-9 . _ : -",
            ));
        }
        self.s.stored.log_id = Some(id.to_string());
        Ok(())
    }

    /// `{ intervalMs, timeoutMs, retainMs, batch }` as validated.
    #[wasm_bindgen(getter)]
    pub fn policy(&self) -> JsValue {
        let p = &self.s.policy;
        to_js_value(
            &json!({ "intervalMs": p.interval_ms, "timeoutMs": p.timeout_ms, "retainMs": p.retain_ms, "batch": self.s.batch }),
        )
    }

    /// What to do now: `{ do: 'register' | 'idle' | 'stopped' }` or `{ do: 'send', from, count }`.
    pub fn next(&self, local_next: f64) -> JsResult<JsValue> {
        let n = seq_arg(local_next, "localNext")?;
        Ok(to_js_value(&match self.s.next(n) {
            Next::Register => json!({ "do": "register" }),
            Next::Send { from, count } => json!({ "do": "send", "from": from, "count": count }),
            Next::Idle => json!({ "do": "idle" }),
            Next::Stopped => json!({ "do": "stopped" }),
        }))
    }

    /// Records written and not acknowledged.
    pub fn queued(&self, local_next: f64) -> JsResult<f64> {
        Ok(self.s.queued(seq_arg(local_next, "localNext")?) as f64)
    }

    /// The collector's head (`null`: it holds nothing), checked against the local chain
    /// (`localHash`: this log's hash at that seq, if held). `{ rewound: false }`, or
    /// `{ rewound: true, was }`; throws `AUDIT_FORK` / `SHIPPING_REFUSED` when shipping stops.
    pub fn acknowledge(
        &mut self,
        head: JsValue,
        local_next: f64,
        local_hash: Option<String>,
    ) -> JsResult<JsValue> {
        let h = anchor(&from_js(&head, "head")?, "head")?;
        let n = seq_arg(local_next, "localNext")?;
        match self
            .s
            .acknowledge(h, n, local_hash.as_deref())
            .map_err(to_js)?
        {
            Acked::Advanced => Ok(to_js_value(&json!({ "rewound": false }))),
            Acked::Rewound { was } => Ok(to_js_value(&json!({ "rewound": true, "was": was }))),
        }
    }

    /// The collector refused a batch (`{ error, seq, detail }`): returns to try again, throws
    /// when shipping stops.
    pub fn refused(&mut self, code: &str, seq: Option<f64>, detail: &str) -> JsResult<()> {
        let seq = seq
            .filter(|s| *s >= 0.0 && s.fract() == 0.0)
            .map(|s| s as u64);
        self.s.refused(code, seq, detail).map_err(to_js)
    }

    /// A failure without a protocol answer: the wait before the next attempt (ms).
    pub fn failed(&mut self, jitter: f64) -> f64 {
        self.s.failed(jitter) as f64
    }

    /// Failures since the last success.
    #[wasm_bindgen(getter)]
    pub fn attempts(&self) -> u32 {
        self.s.attempts
    }

    /// Why shipping stopped, as the typed error (undefined when it did not).
    #[wasm_bindgen(js_name = stopError)]
    pub fn stop_error(&self) -> JsValue {
        self.s
            .stored
            .stopped
            .as_ref()
            .map_or(JsValue::UNDEFINED, |s| to_js(s.error()))
    }

    /// The last record that may be pruned now (`{ seq, hash }` or null): `lines` are the
    /// local records after the declaration, in order.
    #[wasm_bindgen(js_name = prunePoint)]
    pub fn prune_point(
        &self,
        lines: Vec<String>,
        keyed: bool,
        local_next: f64,
        now_ms: f64,
    ) -> JsResult<JsValue> {
        let records: Vec<Value> = lines
            .iter()
            .map(|l| crate::json::parse_limited(l, 16 << 20, 128, "lines").map_err(to_js))
            .collect::<JsResult<_>>()?;
        let n = seq_arg(local_next, "localNext")?;
        Ok(
            match self
                .s
                .prune_point(&records, keyed, n, now_ms.max(0.0) as u64)
            {
                Some(a) => to_js_value(&json!({ "seq": a.seq, "hash": a.hash })),
                None => JsValue::NULL,
            },
        )
    }

    /// Records the pruning (kept in the state before the sink deletes anything).
    #[wasm_bindgen(js_name = notePruned)]
    pub fn note_pruned(&mut self, to: JsValue) -> JsResult<()> {
        self.s.stored.pruned = anchor(&from_js(&to, "prunedTo")?, "prunedTo")?;
        Ok(())
    }

    /// When a record (a JSON line) was written, Unix ms; null when it carries no time.
    #[wasm_bindgen(js_name = recordTimeMs)]
    pub fn record_time_ms(line: &str) -> Option<f64> {
        let v = crate::json::parse_limited(line, 16 << 20, 128, "line").ok()?;
        ship::record_time_ms(&v).map(|t| t as f64)
    }
}
