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
    use crate::jose::b64u;

    const NOW: &str = "2026-01-02T03:04:05.000Z";

    fn jwk() -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": b64u(&[1; 32]), "y": b64u(&[2; 32])})
    }

    /// A log that declares a key and a checkpoint every 2 records: the declaration (signed
    /// "d.p.s"), two notes, a checkpoint (signed "c.p.s"), a note.
    fn keyed_log() -> (Vec<String>, Value) {
        let key = PublicJwk::from_value(&jwk(), true, "$").unwrap();
        let mut w = Writer::default();
        let mut d = w
            .declaration_claims(Some(&key), Some(Alg::Es256), 2, "log".into(), NOW.into())
            .unwrap();
        let claims = d.clone();
        d["jws"] = json!("d.p.s");
        let mut lines = vec![];
        for (kind, body) in [
            ("declaration", d),
            ("note", json!({ "text": "1" })),
            ("note", json!({ "text": "2" })),
            ("checkpoint", json!({ "jws": "c.p.s" })),
            ("note", json!({ "text": "4" })),
        ] {
            lines.push(w.prepare_record(kind, &body, None).unwrap());
            w.commit_prepared(1).unwrap();
        }
        (lines, claims)
    }

    fn hash_of(line: &str) -> String {
        serde_json::from_str::<Value>(line).unwrap()["hash"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn an_anchor_is_read_from_its_seq_and_hash() {
        let hash = "ab".repeat(32);
        assert_eq!(
            anchor_from_json(Some(&json!({ "seq": 3, "hash": hash })), "anchor").unwrap(),
            Some(format::Anchor { seq: 3, hash })
        );
        assert_eq!(
            anchor_from_json(Some(&Value::Null), "anchor").unwrap(),
            None
        );
        assert_eq!(anchor_from_json(None, "anchor").unwrap(), None);
        let e = anchor_from_json(Some(&json!({ "seq": 3, "hash": "ab" })), "prunedTo");
        assert_eq!(e.unwrap_err().path(), "prunedTo");
    }

    #[test]
    fn a_line_of_json_that_is_not_an_object_is_malformed() {
        for line in ["5", "[]", "\"x\"", "null"] {
            let mut v = StreamVerifier::new(&json!({})).unwrap();
            assert!(v.push(&[line.to_string()]).is_empty());
            assert!(v.failed());
            let r = v.finish();
            assert_eq!(
                (r["firstBadIndex"].clone(), r["problem"].clone()),
                (json!(0), json!("MALFORMED: not a JSON record")),
                "{line}"
            );
        }
    }

    #[test]
    fn ndjson_chunks_give_the_records_that_end_in_them_and_their_signatures() {
        let (lines, claims) = keyed_log();
        let ndjson: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let mut v = StreamVerifier::new(&json!({ "publicJwk": jwk() })).unwrap();
        // The first chunk ends halfway through the third line.
        let two = lines[0].len() + lines[1].len() + 2;
        let cut = two + lines[2].len() / 2;
        let (sigs, count, bytes) = v.push_ndjson(&ndjson.as_bytes()[..cut]);
        let decl = ToSign {
            index: 0,
            jws: "d.p.s".into(),
            typ: format::DECLARATION_TYP,
            alg: Some("ES256".into()),
            expect: Expect::Declaration(claims),
        };
        assert_eq!(
            (sigs, count, bytes),
            (
                vec![to_sign_json(&decl)],
                2,
                ndjson.as_bytes()[..two].to_vec()
            )
        );
        assert!(!v.failed());
        assert_eq!(
            v.torn_at(),
            Some(two as u64),
            "the third line has not ended"
        );
        let (sigs, count, bytes) = v.push_ndjson(&ndjson.as_bytes()[cut..]);
        let cp = ToSign {
            index: 3,
            jws: "c.p.s".into(),
            typ: format::CHECKPOINT_TYP,
            alg: Some("ES256".into()),
            expect: Expect::Checkpoint {
                head: hash_of(&lines[2]),
                count: 3,
            },
        };
        assert_eq!(
            (sigs, count, bytes),
            (
                vec![to_sign_json(&cp)],
                3,
                ndjson.as_bytes()[two..].to_vec()
            )
        );
        assert_eq!((v.failed(), v.torn_at()), (false, None));
        // The most held at once: the first chunk, or the half line kept and the second.
        let peak = cut.max(cut - two + ndjson.len() - cut);
        assert_eq!(v.peak_buffered(), peak as u64);
        let r = v.finish();
        assert_eq!(
            (
                r["ok"].clone(),
                r["entries"].clone(),
                r["checkpoints"].clone()
            ),
            (json!(true), json!(5), json!(1))
        );
        // What a writer continues from: the head after the last record, the rules as they
        // stand (one record since the checkpoint).
        let (head, state) = v.for_writer().unwrap();
        assert_eq!((head.next_seq, head.hash.clone()), (5, hash_of(&lines[4])));
        assert_eq!(state.head(), head);
        assert_eq!(state.since_checkpoint(), 1);
        assert_eq!(state.declaration().map(|d| d.checkpoint_every), Some(2));
    }

    #[test]
    fn a_torn_last_line_is_located_and_a_bad_line_before_more_fails() {
        let (lines, _) = keyed_log();
        let whole: String = lines[..2].iter().map(|l| format!("{l}\n")).collect();
        let mut v = StreamVerifier::new(&json!({})).unwrap();
        let torn = format!("{whole}{}", &lines[2][..10]);
        let (_, count, _) = v.push_ndjson(torn.as_bytes());
        assert_eq!((count, v.torn_at()), (2, Some(whole.len() as u64)));
        assert_eq!(v.peak_buffered(), torn.len() as u64);
        assert!(!v.failed() && v.for_writer().is_some());
        // A line that is not a record, then more: the verifier fails and takes no more.
        let mut v = StreamVerifier::new(&json!({})).unwrap();
        let bad = format!("{}\nnot json\n{}\n", lines[0], lines[1]);
        let (sigs, count, bytes) = v.push_ndjson(bad.as_bytes());
        assert_eq!(
            (sigs.len(), count, bytes),
            (0, 1, format!("{}\n", lines[0]).into_bytes())
        );
        assert!(v.failed());
        assert!(v.for_writer().is_none());
        assert_eq!(v.finish()["firstBadIndex"], 1);
        assert_eq!(v.push_ndjson(lines[2].as_bytes()), (vec![], 0, vec![]));
    }

    #[test]
    fn a_declarations_signature_to_check_keeps_its_typ() {
        let s = ToSign {
            index: 0,
            jws: "a.b.c".into(),
            typ: format::DECLARATION_TYP,
            alg: Some("ES256".into()),
            expect: Expect::Declaration(json!({ "format": 1 })),
        };
        assert_eq!(to_sign_of(&to_sign_json(&s)), Some(s));
    }

    #[test]
    fn a_signature_holds_only_with_an_alg_that_fits_the_key_and_the_right_claims() {
        let key = PublicJwk::from_value(&jwk(), true, "$").unwrap();
        let s = ToSign {
            index: 3,
            jws: "a.b.c".into(),
            typ: format::CHECKPOINT_TYP,
            alg: None,
            expect: Expect::Checkpoint {
                head: "ab".repeat(32),
                count: 3,
            },
        };
        let parsed = |alg: &str, count: u64| Parsed {
            header: json!({ "alg": alg, "typ": format::CHECKPOINT_TYP }),
            claims: json!({ "head": "ab".repeat(32), "count": count }),
            signature: vec![],
            signing_input: String::new(),
        };
        assert_eq!(
            signature_alg(&s, &key, &parsed("ES256", 3)),
            Some(Alg::Es256)
        );
        // The key is P-256: ES384 does not fit it, though the claims hold.
        assert_eq!(signature_alg(&s, &key, &parsed("ES384", 3)), None);
        // The alg fits, the claims do not.
        assert_eq!(signature_alg(&s, &key, &parsed("ES256", 4)), None);
        assert_eq!(signature_alg(&s, &key, &parsed("none", 3)), None);
    }
}
