//! A log verified one chunk of lines at a time (streaming: the verifier keeps the head, the
//! declaration and counters, never the records), with its options and its result in the
//! JSON shapes the JS wrapper reads; and the signatures it hands out, as JSON and back.

use super::chain;
use super::format::{self, Expect, Failure, LogVerifier, ToSign, VerifyOptions};
use crate::error::{Error, ErrorCode, Result};
use crate::jose::{Alg, Parsed, PublicJwk};
use crate::limits;
use serde_json::{json, Value};

fn arg(path: &str, rule: &str) -> Error {
    Error::new(ErrorCode::InvalidArgument, path, rule)
}

/// `{ seq, hash }` as `log.head()` gives it (an anchor, a prune point), or nothing; an error
/// naming `field` when it is neither.
pub fn anchor_from_json(v: Option<&Value>, field: &str) -> Result<Option<format::Anchor>> {
    let Some(a) = v.filter(|a| !a.is_null()) else {
        return Ok(None);
    };
    let seq = a.get("seq").and_then(Value::as_u64);
    let hash = a
        .get("hash")
        .and_then(Value::as_str)
        .filter(|h| chain::is_hash_hex(h));
    match (seq, hash) {
        (Some(seq), Some(hash)) => Ok(Some(format::Anchor {
            seq,
            hash: hash.to_string(),
        })),
        _ => Err(arg(field, "must be { seq, hash } as log.head() gives it")),
    }
}

/// The streaming verifier: the log's rules, and the first one broken.
pub struct StreamVerifier {
    v: LogVerifier,
    failure: Option<Failure>,
    /// NDJSON bytes given to [`push_ndjson`](Self::push_ndjson): the line not yet ended.
    stream: chain::NdjsonStream,
}

impl StreamVerifier {
    /// A verifier with `opts`: `{ publicJwk?, acceptLegacy?, anchor?: { seq, hash }, prunedTo?:
    /// { seq, hash } }` (null for none).
    pub fn new(opts: &Value) -> Result<StreamVerifier> {
        let key_thumbprint = match opts.get("publicJwk") {
            None | Some(Value::Null) => None,
            Some(j) => Some(PublicJwk::from_value(j, true, "publicJwk")?.thumbprint()),
        };
        let anchor = anchor_from_json(opts.get("anchor"), "anchor")?;
        let pruned = anchor_from_json(opts.get("prunedTo"), "prunedTo")?;
        let accept_legacy = match opts.get("acceptLegacy") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(arg("acceptLegacy", "must be a boolean")),
        };
        Ok(StreamVerifier {
            v: LogVerifier::new(VerifyOptions {
                key_thumbprint,
                accept_legacy,
                anchor,
                pruned,
            }),
            failure: None,
            stream: chain::NdjsonStream::default(),
        })
    }

    /// Checks the next lines; returns the signatures among them to check (none once a rule is
    /// broken: [`finish`](Self::finish) reports it), as [`to_sign_json`] writes them.
    pub fn push(&mut self, lines: &[String]) -> Vec<Value> {
        let mut sigs = Vec::new();
        for l in lines {
            if self.failure.is_some() {
                break;
            }
            let at = self.v.head().next_seq;
            let rec = match crate::json::parse_within(l, limits::RECORD, "line") {
                Ok(v) if v.is_object() => v,
                _ => {
                    self.failure = Some(Failure {
                        index: at,
                        problem: "MALFORMED: not a JSON record".into(),
                    });
                    break;
                }
            };
            take(&mut self.v, &mut self.failure, &rec, &mut sigs);
        }
        sigs
    }

    /// Checks the next bytes of an NDJSON log as stored (any chunk of it: a line may end in a
    /// later chunk; only that line is kept). Returns the signatures to check, and the records
    /// whose lines ended in this chunk: how many, and their NDJSON bytes.
    pub fn push_ndjson(&mut self, chunk: &[u8]) -> (Vec<Value>, u32, Vec<u8>) {
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
                *failure = Some(Failure {
                    index: line,
                    problem: "MALFORMED: a line that is not a JSON record is followed by more"
                        .into(),
                });
            }
        }
        (sigs, count, bytes)
    }

    /// Whether a rule is broken already ([`finish`](Self::finish) says which).
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// After the last [`push_ndjson`](Self::push_ndjson): the byte offset where a torn last
    /// line begins (a crash mid-write; not a record), or `None`.
    pub fn torn_at(&self) -> Option<u64> {
        self.stream.torn_at()
    }

    /// The most NDJSON bytes held at once while reading (the line not yet ended and the chunk
    /// given): bounded by the chunk size and the longest line, whatever the log's length.
    pub fn peak_buffered(&self) -> u64 {
        self.stream.peak() as u64
    }

    /// The state a writer continues from once the log verified; `None` if it did not.
    pub fn for_writer(&self) -> Option<(chain::Head, LogVerifier)> {
        match self.failure {
            Some(_) => None,
            None => Some((self.v.head(), self.v.for_writer())),
        }
    }

    /// The result: `{ ok, entries, firstBadIndex, problem, format, checkpointKey,
    /// checkpointEvery, checkpoints, unsignedTail, head }`.
    pub fn finish(&self) -> Value {
        let r = match &self.failure {
            Some(f) => Err(f.clone()),
            None => self.v.finish(),
        };
        match r {
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
        }
    }
}

/// Pushes one record into the verifier: its signature (if any) joins `sigs`; the first rule
/// broken is kept in `failure`.
fn take(v: &mut LogVerifier, failure: &mut Option<Failure>, rec: &Value, sigs: &mut Vec<Value>) {
    match v.push(rec) {
        Ok(Some(s)) => sigs.push(to_sign_json(&s)),
        Ok(None) => {}
        Err(f) => *failure = Some(f),
    }
}

/// A signature to check, as JSON: `{ index, jws, typ, alg, expect }`.
pub fn to_sign_json(s: &ToSign) -> Value {
    let expect = match &s.expect {
        Expect::Declaration(c) => json!({ "declaration": c }),
        Expect::Checkpoint { head, count } => json!({ "head": head, "count": count }),
    };
    json!({ "index": s.index, "jws": s.jws, "typ": s.typ, "alg": s.alg, "expect": expect })
}

/// A signature to check from [`to_sign_json`]'s JSON; `None` if it is not that shape.
pub fn to_sign_of(v: &Value) -> Option<ToSign> {
    let expect = match v.get("expect")? {
        e if e.get("declaration").is_some() => Expect::Declaration(e["declaration"].clone()),
        e => Expect::Checkpoint {
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

/// The algorithm to verify `parsed` (the JWS of `s`) with `jwk`, if the JWS names one that
/// fits the key and signs what the log requires there; `None` means it does not hold.
pub fn signature_alg(s: &ToSign, jwk: &PublicJwk, parsed: &Parsed) -> Option<Alg> {
    let name = parsed
        .header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or("");
    let alg = Alg::parse(name, "jws.alg").ok()?;
    (jwk.fits(alg) && s.holds(&parsed.header, &parsed.claims)).then_some(alg)
}

/// The typ a log's signed claims must carry: a checkpoint's or a declaration's.
pub fn signed_typ(typ: &str) -> Result<&'static str> {
    [format::CHECKPOINT_TYP, format::DECLARATION_TYP]
        .into_iter()
        .find(|t| *t == typ)
        .ok_or_else(|| arg("typ", "must be a checkpoint's or a declaration's"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::writer::Writer;

    #[test]
    fn a_stream_reports_the_first_bad_line_and_its_options_are_checked() {
        let mut w = Writer::default();
        let d = w
            .declaration_claims(None, None, 10, "log".into(), "2026-01-01T00:00:00Z".into())
            .unwrap();
        let decl = w.prepare_record("declaration", &d, None).unwrap();
        w.commit_prepared(1).unwrap();
        let note = w
            .prepare_record("note", &json!({ "text": "x" }), None)
            .unwrap();
        let mut v = StreamVerifier::new(&json!({})).unwrap();
        assert!(v.push(&[decl.clone(), note.clone()]).is_empty());
        let ok = v.finish();
        assert_eq!(
            (ok["ok"].clone(), ok["entries"].clone()),
            (json!(true), json!(2))
        );
        let mut v = StreamVerifier::new(&json!({ "acceptLegacy": null })).unwrap();
        v.push(&[decl, "not json".into(), note]);
        let bad = v.finish();
        assert_eq!(bad["firstBadIndex"], 1);
        assert!(bad["problem"].as_str().unwrap().starts_with("MALFORMED"));
        for o in [
            json!({ "acceptLegacy": 1 }),
            json!({ "anchor": { "seq": 1 } }),
        ] {
            assert_eq!(
                StreamVerifier::new(&o).err().map(|e| e.code()),
                Some(ErrorCode::InvalidArgument)
            );
        }
        assert!(signed_typ("tillit-checkpoint+jwt").is_ok());
        assert!(signed_typ("JWT").is_err());
    }

    #[test]
    fn a_signature_to_check_survives_its_json() {
        for expect in [
            Expect::Declaration(json!({ "format": 1 })),
            Expect::Checkpoint {
                head: "ab".repeat(32),
                count: 7,
            },
        ] {
            let s = ToSign {
                index: 3,
                jws: "a.b.c".into(),
                typ: format::CHECKPOINT_TYP,
                alg: Some("ES256".into()),
                expect,
            };
            assert_eq!(to_sign_of(&to_sign_json(&s)), Some(s));
        }
        assert_eq!(to_sign_of(&json!({ "index": 1 })), None);
    }
}
