//! The log's format and the rules a whole log keeps (docs/audit-format.md is the
//! specification): the declaration record that opens a log (format version, checkpoint key
//! thumbprint, checkpoint interval), where checkpoints must stand, and an anchor a party
//! outside the device holds.
//!
//! [`LogVerifier`] checks a log one record at a time in constant memory, natively or in the
//! browser. Signatures are not checked here (that needs the platform's crypto, and is async in
//! browsers): each signed record is handed back as a [`ToSign`] for the caller to check with the
//! declared key, and [`ToSign::holds`] compares the signed claims with what the log requires.
//!
//! @example (Rust)
//! ```
//! use tillit::audit::format::{LogVerifier, VerifyOptions};
//! let mut v = LogVerifier::new(VerifyOptions::default());
//! # let records: Vec<serde_json::Value> = vec![];
//! for r in &records {
//!     if let Some(sig) = v.push(r).expect("verifies") { /* check sig.jws with the key */ }
//! }
//! let summary = v.finish().expect("verifies");
//! assert_eq!(summary.entries, 0);
//! ```

use super::chain::{self, Head};
use serde_json::{json, Map, Value};

/// The format version this build writes and reads (format 0, logs without a declaration
/// record, is read when the caller accepts it).
pub const FORMAT: u64 = 1;
/// The JWS `typ` of a declaration's signature.
pub const DECLARATION_TYP: &str = "tillit-declaration+jwt";
/// The JWS `typ` of a checkpoint's signature.
pub const CHECKPOINT_TYP: &str = "tillit-checkpoint+jwt";
/// The largest checkpoint interval a declaration may state.
pub const MAX_EVERY: u64 = 1_000_000;
/// The record kinds.
pub const KINDS: [&str; 5] = ["declaration", "event", "checkpoint", "recovery", "note"];

/// The checkpoint key a log declares: its RFC 7638 SHA-256 thumbprint and the JWS `alg`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredKey {
    /// RFC 7638 SHA-256 thumbprint, base64url without padding.
    pub thumbprint: String,
    /// `ES256`, `RS256` or `PS256`.
    pub alg: String,
}

/// What a log promises, in its declaration record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declaration {
    /// [`FORMAT`] when written by this build.
    pub format: u64,
    /// A checkpoint follows every this many records (see the checkpoint rule).
    pub checkpoint_every: u64,
    /// The key that signs the declaration and every checkpoint; `None`: the log is unsigned.
    pub checkpoint_key: Option<DeclaredKey>,
    /// Format-0 records before the declaration (0 for a log begun by this build).
    pub legacy_records: u64,
    /// A random UUID naming the log.
    pub log_id: String,
    /// When the declaration was written (RFC 3339, UTC).
    pub created: String,
}

impl Declaration {
    /// The declaration's members without `jws`: what its signature signs.
    pub fn claims(&self) -> Value {
        json!({
            "format": self.format,
            "checkpointEvery": self.checkpoint_every,
            "checkpointKey": self.checkpoint_key.as_ref().map(|k| json!({ "thumbprint": k.thumbprint, "alg": k.alg })),
            "legacyRecords": self.legacy_records,
            "logId": self.log_id,
            "created": self.created,
        })
    }

    /// Reads a declaration's body: the declaration and its `jws` (present exactly when a key
    /// is declared). Members other than those specified are refused.
    pub fn parse(body: &Value) -> core::result::Result<(Declaration, Option<String>), String> {
        let m = body
            .as_object()
            .ok_or("DECLARATION: the body must be an object")?;
        const MEMBERS: [&str; 7] = [
            "format",
            "checkpointEvery",
            "checkpointKey",
            "legacyRecords",
            "logId",
            "created",
            "jws",
        ];
        if let Some(k) = m.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
            return Err(format!("DECLARATION: unknown member {k:?}"));
        }
        let uint = |k: &str| {
            m.get(k)
                .and_then(Value::as_u64)
                .ok_or(format!("DECLARATION: {k} must be a non-negative integer"))
        };
        let string = |k: &str| {
            m.get(k)
                .and_then(Value::as_str)
                .filter(|s| (1..=128).contains(&s.chars().count()))
                .map(str::to_string)
                .ok_or(format!(
                    "DECLARATION: {k} must be a string of 1 to 128 characters"
                ))
        };
        let format = uint("format")?;
        if format != FORMAT {
            return Err(format!(
                "FORMAT: the log declares format {format}; this build reads format {FORMAT}"
            ));
        }
        let every = uint("checkpointEvery")?;
        if !(1..=MAX_EVERY).contains(&every) {
            return Err(format!(
                "DECLARATION: checkpointEvery must be 1 to {MAX_EVERY}"
            ));
        }
        let key = match m.get("checkpointKey") {
            Some(Value::Null) => None,
            Some(Value::Object(k)) => {
                let t = k.get("thumbprint").and_then(Value::as_str);
                let a = k.get("alg").and_then(Value::as_str);
                match (t, a, k.len()) {
                    (Some(t), Some(a), 2)
                        if t.len() == 43
                            && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                            && crate::jose::Alg::ALL.iter().any(|x| x.name() == a) =>
                    {
                        Some(DeclaredKey {
                            thumbprint: t.to_string(),
                            alg: a.to_string(),
                        })
                    }
                    _ => return Err("DECLARATION: checkpointKey must be null or { thumbprint (RFC 7638, base64url), alg (ES256, RS256 or PS256) }".into()),
                }
            }
            _ => return Err("DECLARATION: checkpointKey must be null or an object".into()),
        };
        let jws = match (m.get("jws"), &key) {
            (None, None) => None,
            (Some(Value::String(j)), Some(_)) => Some(j.clone()),
            (None, Some(_)) => {
                return Err(
                    "UNSIGNED: the declaration names a checkpoint key but is not signed".into(),
                )
            }
            (Some(_), None) => return Err("DECLARATION: jws without a checkpoint key".into()),
            (Some(_), Some(_)) => return Err("DECLARATION: jws must be a string".into()),
        };
        Ok((
            Declaration {
                format,
                checkpoint_every: every,
                checkpoint_key: key,
                legacy_records: uint("legacyRecords")?,
                log_id: string("logId")?,
                created: string("created")?,
            },
            jws,
        ))
    }
}

/// A head held outside the device: the last record's `seq` and `hash` at some moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The record's sequence number.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
}

/// How to verify a log.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// The thumbprint of the public key the caller checks signatures with. Given, the log must
    /// declare this key; not given, checkpoints are checked for place but not signature.
    pub key_thumbprint: Option<String>,
    /// Read a log that begins with format-0 records (written before the declaration record).
    pub accept_legacy: bool,
    /// The log must hold this record (or, pruned, continue right after it).
    pub anchor: Option<Anchor>,
    /// The records up to this one were pruned locally after the collector acknowledged
    /// them: the log may continue, right after its declaration, at the next record, which
    /// must link to this one's hash (see `audit::ship`).
    pub pruned: Option<Anchor>,
}

/// What a signature must sign.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// The declaration's members without `jws` ([`Declaration::claims`]).
    Declaration(Value),
    /// A checkpoint: `head` the record's `prev`, `count` its `seq`.
    Checkpoint {
        /// The hash of the record before the checkpoint.
        head: String,
        /// The checkpoint's `seq` (the records before it).
        count: u64,
    },
}

/// A signed record for the caller to check with the declared key.
#[derive(Clone, Debug, PartialEq)]
pub struct ToSign {
    /// The record's index.
    pub index: u64,
    /// The compact JWS.
    pub jws: String,
    /// The JWS `typ` it must carry.
    pub typ: &'static str,
    /// The declared `alg` (None in a format-0 part: any supported).
    pub alg: Option<String>,
    /// What it must sign.
    pub expect: Expect,
}

impl ToSign {
    /// Whether a JWS whose signature held (with the declared key) signs what the log requires:
    /// `header` and `claims` are its decoded parts.
    pub fn holds(&self, header: &Value, claims: &Value) -> bool {
        let alg_ok = match &self.alg {
            Some(a) => header.get("alg").and_then(Value::as_str) == Some(a),
            None => true,
        };
        // Format-0 checkpoints carry the same typ; the declaration's must be its own.
        let typ_ok = header.get("typ").and_then(Value::as_str) == Some(self.typ);
        alg_ok
            && typ_ok
            && match &self.expect {
                Expect::Declaration(c) => claims == c,
                Expect::Checkpoint { head, count } => {
                    claims.get("head").and_then(Value::as_str) == Some(head)
                        && claims.get("count").and_then(Value::as_u64) == Some(*count)
                }
            }
    }
}

/// The first rule a log breaks: the record's index and the problem (a code, a colon, words).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The index (`seq`) of the first bad record, or the log's length when records are missing
    /// at the end.
    pub index: u64,
    /// `CODE: words`, the code one of `MALFORMED`, `ALTERED`, `MISSING_OR_REORDERED`,
    /// `FORMAT`, `DECLARATION`, `KEY_MISMATCH`, `UNSIGNED`, `CHECKPOINT_MISSING`,
    /// `CHECKPOINT_EXTRA`, `CHECKPOINT_INVALID`, `ANCHOR_MISMATCH`, `ANCHOR_PRUNED`,
    /// `TRUNCATED`.
    pub problem: String,
}

fn fail(index: u64, problem: impl Into<String>) -> Failure {
    Failure {
        index,
        problem: problem.into(),
    }
}

/// What a log that verified holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Records read.
    pub entries: u64,
    /// The head after them.
    pub head: Head,
    /// 1 with a declaration; 0 for a format-0 log (accepted by the caller).
    pub format: u64,
    /// The declaration, if any.
    pub declaration: Option<Declaration>,
    /// Checkpoint records read.
    pub checkpoints: u64,
    /// Records after the last signed record (a checkpoint, or a signed declaration): all of
    /// them in an unsigned log.
    pub unsigned_tail: u64,
    /// Records since the last checkpoint (or the declaration) that count toward the interval.
    pub since_checkpoint: u64,
}

/// Checks a log one record at a time: the chain ([`chain::Verifier`]), the declaration, where
/// checkpoints stand, and an anchor. Constant memory.
#[derive(Clone, Debug)]
pub struct LogVerifier {
    opts: VerifyOptions,
    chain: chain::Verifier,
    decl: Option<Declaration>,
    checkpoints: u64,
    since: u64,
    last_signed: Option<u64>,
    /// The seq of the declaration when it was the last record pushed (a pruned log may
    /// continue after it at the record after an anchor).
    after_declaration: bool,
}

impl LogVerifier {
    /// A verifier for a log from its first record.
    pub fn new(opts: VerifyOptions) -> Self {
        LogVerifier {
            opts,
            chain: chain::Verifier::default(),
            decl: None,
            checkpoints: 0,
            since: 0,
            last_signed: None,
            after_declaration: false,
        }
    }

    /// A log that continues after its declaration at the record after `pruned` or the
    /// anchor (the records between were pruned): the chain resumes from that anchor. The
    /// checkpoint interval counts from there (a log is pruned up to a checkpoint).
    fn resume_pruned(&mut self, r: &Value) -> core::result::Result<(), Failure> {
        let i = self.chain.head().next_seq;
        let (Some(seq), Some(prev)) = (
            r.get("seq").and_then(Value::as_u64),
            r.get("prev").and_then(Value::as_str),
        ) else {
            return Ok(());
        };
        if !self.after_declaration || seq <= i {
            return Ok(());
        }
        let Some(a) = [&self.opts.pruned, &self.opts.anchor]
            .into_iter()
            .flatten()
            .find(|a| a.seq + 1 == seq && a.hash == prev)
            .cloned()
        else {
            return Ok(());
        };
        if let Some(an) = &self.opts.anchor {
            if an.seq >= i && an.seq < a.seq {
                return Err(fail(
                    an.seq,
                    "ANCHOR_PRUNED: the anchored record was pruned here; verify with a later anchor (the collector's head)",
                ));
            }
        }
        self.chain = chain::Verifier::after(&Head {
            next_seq: seq,
            hash: a.hash,
        });
        self.since = 0;
        Ok(())
    }

    /// The state a writer continues from once the log verified: the same chain and rules,
    /// without the reader's key and anchor (the writer's own records need neither).
    pub fn for_writer(&self) -> LogVerifier {
        LogVerifier {
            opts: VerifyOptions {
                accept_legacy: true,
                pruned: self.opts.pruned.clone(),
                ..Default::default()
            },
            ..self.clone()
        }
    }

    /// The declaration read so far.
    pub fn declaration(&self) -> Option<&Declaration> {
        self.decl.as_ref()
    }

    /// The head after the records pushed so far.
    pub fn head(&self) -> Head {
        self.chain.head()
    }

    /// Records since the last checkpoint (or the declaration).
    pub fn since_checkpoint(&self) -> u64 {
        self.since
    }

    /// Checks the next record: `Ok(Some(_))` when it carries a signature for the caller to
    /// check, or the first rule broken.
    pub fn push(&mut self, r: &Value) -> core::result::Result<Option<ToSign>, Failure> {
        let sig = self.push_rules(r)?;
        self.check_anchor(r)?;
        Ok(sig)
    }

    fn push_rules(&mut self, r: &Value) -> core::result::Result<Option<ToSign>, Failure> {
        self.resume_pruned(r)?;
        self.after_declaration = r.get("kind").and_then(Value::as_str) == Some("declaration");
        let i = self.chain.head().next_seq;
        self.chain.push(r).map_err(|(at, p)| fail(at as u64, p))?;
        if r.as_object().map(Map::len) != Some(5) || !r["body"].is_object() {
            return Err(fail(
                i,
                "MALFORMED: a record has exactly seq, prev, kind, body and hash; body an object",
            ));
        }
        let kind = r["kind"].as_str().unwrap_or("");
        if !KINDS.contains(&kind) {
            return Err(fail(i, format!("MALFORMED: unknown record kind {kind:?}")));
        }
        let body = r.get("body").unwrap_or(&Value::Null);
        let keyed = |d: &Option<Declaration>| d.as_ref().and_then(|d| d.checkpoint_key.clone());
        match (kind, &self.decl) {
            ("declaration", Some(_)) => {
                Err(fail(i, "DECLARATION: a log has one declaration record"))
            }
            ("declaration", None) => {
                let (d, jws) = Declaration::parse(body).map_err(|p| fail(i, p))?;
                if d.legacy_records != i {
                    return Err(fail(
                        i,
                        "DECLARATION: legacyRecords must equal the records before the declaration",
                    ));
                }
                if i > 0 && !self.opts.accept_legacy {
                    return Err(fail(0, LEGACY));
                }
                let declared = d.checkpoint_key.as_ref().map(|k| k.thumbprint.clone());
                match (&self.opts.key_thumbprint, &declared) {
                    (Some(_), None) => {
                        return Err(fail(
                            i,
                            "KEY_MISMATCH: the log declares no checkpoint key, and a key was given",
                        ))
                    }
                    (Some(g), Some(t)) if g != t => {
                        return Err(fail(
                            i,
                            "KEY_MISMATCH: the log declares another checkpoint key",
                        ))
                    }
                    _ => {}
                }
                let sig = jws.map(|jws| ToSign {
                    index: i,
                    jws,
                    typ: DECLARATION_TYP,
                    alg: d.checkpoint_key.as_ref().map(|k| k.alg.clone()),
                    expect: Expect::Declaration(d.claims()),
                });
                if sig.is_some() {
                    self.last_signed = Some(i);
                }
                self.decl = Some(d);
                self.since = 0;
                Ok(sig.filter(|_| self.opts.key_thumbprint.is_some()))
            }
            (_, None) if i == 0 && !self.opts.accept_legacy => Err(fail(0, LEGACY)),
            ("checkpoint", None) => {
                // Format 0: checkpoints anywhere, checked for signature when a key is given.
                self.checkpoints += 1;
                self.last_signed = Some(i);
                Ok(self.checkpoint_sig(i, r, body, None))
            }
            (_, None) => Ok(None),
            ("checkpoint", Some(_)) => {
                let Some(k) = keyed(&self.decl) else {
                    return Err(fail(
                        i,
                        "CHECKPOINT_EXTRA: the log declares no checkpoint key",
                    ));
                };
                if self.since == 0 {
                    return Err(fail(
                        i,
                        "CHECKPOINT_EXTRA: no record since the last checkpoint or the declaration",
                    ));
                }
                self.since = 0;
                self.checkpoints += 1;
                self.last_signed = Some(i);
                Ok(self.checkpoint_sig(i, r, body, Some(k.alg)))
            }
            (_, Some(d)) => {
                if d.checkpoint_key.is_some() && self.since >= d.checkpoint_every {
                    return Err(fail(
                        i,
                        format!(
                            "CHECKPOINT_MISSING: a checkpoint was due after {} records",
                            d.checkpoint_every
                        ),
                    ));
                }
                self.since += 1;
                Ok(None)
            }
        }
    }

    fn checkpoint_sig(
        &self,
        i: u64,
        r: &Value,
        body: &Value,
        alg: Option<String>,
    ) -> Option<ToSign> {
        self.opts.key_thumbprint.as_ref()?;
        Some(ToSign {
            index: i,
            // A checkpoint without a JWS string fails its check (the empty JWS does not parse).
            jws: body
                .get("jws")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            typ: CHECKPOINT_TYP,
            alg,
            expect: Expect::Checkpoint {
                head: r["prev"].as_str().unwrap_or("").to_string(),
                count: i,
            },
        })
    }

    /// The writer's own record, known to be well formed (it made it): advances the state
    /// without parsing. `kind` is the record's kind, `head` the head after it.
    pub fn note_written(&mut self, kind: &str, head: &Head, declaration: Option<Declaration>) {
        let i = head.next_seq.saturating_sub(1);
        self.chain = chain::Verifier::after(head);
        match kind {
            "declaration" => {
                self.last_signed = declaration
                    .as_ref()
                    .and_then(|d| d.checkpoint_key.as_ref())
                    .map(|_| i)
                    .or(self.last_signed);
                self.decl = declaration;
                self.since = 0;
            }
            "checkpoint" => {
                self.since = 0;
                self.checkpoints += 1;
                self.last_signed = Some(i);
            }
            _ => {
                if self.decl.is_some() {
                    self.since += 1;
                }
            }
        }
    }

    /// `count` event records the writer made, `head` the head after the last of them: as
    /// [`note_written`](Self::note_written) for each, in one step.
    pub fn note_events(&mut self, count: u64, head: &Head) {
        self.chain = chain::Verifier::after(head);
        if self.decl.is_some() {
            self.since += count;
        }
    }

    /// The end of the log: the anchor (if any) must have been reached.
    pub fn finish(&self) -> core::result::Result<Summary, Failure> {
        let head = self.chain.head();
        if let Some(a) = &self.opts.anchor {
            if head.next_seq <= a.seq {
                return Err(fail(
                    head.next_seq,
                    format!(
                        "TRUNCATED: the log ends before the anchored record {}",
                        a.seq
                    ),
                ));
            }
        }
        Ok(Summary {
            entries: head.next_seq,
            format: if self.decl.is_some() { FORMAT } else { 0 },
            declaration: self.decl.clone(),
            checkpoints: self.checkpoints,
            unsigned_tail: match self.last_signed {
                Some(s) => head.next_seq - s - 1,
                None => head.next_seq,
            },
            since_checkpoint: self.since,
            head,
        })
    }

    /// Checks the anchor against a record just pushed.
    fn check_anchor(&self, r: &Value) -> core::result::Result<(), Failure> {
        let Some(a) = &self.opts.anchor else {
            return Ok(());
        };
        let i = self.chain.head().next_seq.saturating_sub(1);
        if i == a.seq && r.get("hash").and_then(Value::as_str) != Some(a.hash.as_str()) {
            return Err(fail(i, "ANCHOR_MISMATCH: the anchored record was replaced"));
        }
        Ok(())
    }
}

const LEGACY: &str = "FORMAT: the log begins without a declaration record (format 0, written before it existed); read it only when accepting format 0";

/// Verifies whole records (tests, tools): the summary and the signatures to check, or the
/// first failure.
pub fn verify_records(
    records: &[Value],
    opts: VerifyOptions,
) -> core::result::Result<(Summary, Vec<ToSign>), Failure> {
    let mut v = LogVerifier::new(opts);
    let mut sigs = Vec::new();
    for r in records {
        if let Some(s) = v.push(r)? {
            sigs.push(s);
        }
    }
    Ok((v.finish()?, sigs))
}

/// A new declaration's body (without `jws`): `key` the checkpoint key's public JWK, if any.
pub fn declaration(
    key: Option<&crate::jose::PublicJwk>,
    alg: Option<crate::jose::Alg>,
    every: u64,
    legacy_records: u64,
    log_id: String,
    created: String,
) -> Declaration {
    Declaration {
        format: FORMAT,
        checkpoint_every: every,
        checkpoint_key: key.zip(alg).map(|(k, a)| DeclaredKey {
            thumbprint: k.thumbprint(),
            alg: a.name().to_string(),
        }),
        legacy_records,
        log_id,
        created,
    }
}

/// A declaration's record body: its claims, and `jws` when signed.
pub fn declaration_body(d: &Declaration, jws: Option<&str>) -> Value {
    let mut m: Map<String, Value> = d.claims().as_object().cloned().unwrap_or_default();
    if let Some(j) = jws {
        m.insert("jws".into(), json!(j));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

    fn decl(key: bool, every: u64) -> Value {
        let d = Declaration {
            format: FORMAT,
            checkpoint_every: every,
            checkpoint_key: key.then(|| DeclaredKey {
                thumbprint: T.into(),
                alg: "ES256".into(),
            }),
            legacy_records: 0,
            log_id: "00000000-0000-4000-8000-000000000000".into(),
            created: "2026-12-02T17:00:00Z".into(),
        };
        declaration_body(&d, key.then_some("h.p.s"))
    }

    /// A log: `d` a declaration body, then `e` for an event and `c` for a checkpoint.
    fn log(d: Option<Value>, pattern: &str) -> Vec<Value> {
        let mut h = Head::default();
        let mut out: Vec<Value> = d.into_iter().map(|d| h.append("declaration", d)).collect();
        for c in pattern.chars() {
            out.push(match c {
                'c' => h.append("checkpoint", json!({ "jws": "h.p.s" })),
                _ => h.append(
                    "event",
                    json!({ "resourceType": "AuditEvent", "id": out.len().to_string() }),
                ),
            });
        }
        out
    }

    fn problem(r: &[Value], opts: VerifyOptions) -> (u64, String) {
        let f = verify_records(r, opts).unwrap_err();
        (f.index, f.problem.split(':').next().unwrap().to_string())
    }

    fn keyed() -> VerifyOptions {
        VerifyOptions {
            key_thumbprint: Some(T.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_writer_goes_on_from_the_reader_without_its_key_and_anchor() {
        let good = log(Some(decl(true, 3)), "eeecee");
        let mut reader = LogVerifier::new(VerifyOptions {
            anchor: Some(Anchor {
                seq: 5,
                hash: good[5]["hash"].as_str().unwrap().into(),
            }),
            ..keyed()
        });
        for r in &good {
            reader.push(r).unwrap();
        }
        let writer = reader.for_writer();
        assert_eq!(writer.head(), reader.head());
        assert_eq!(writer.declaration(), reader.declaration());
        assert_eq!(writer.since_checkpoint(), 2);
        assert_eq!(writer.finish().unwrap(), reader.finish().unwrap());
        // Without the reader's key and anchor (format 0 read): its next checkpoint hands back
        // no signature to check, where the reader's does.
        let o = &writer.opts;
        assert!(o.key_thumbprint.is_none() && o.anchor.is_none() && o.accept_legacy);
        let mut more = good.clone();
        let mut h = Head::after(&good).unwrap();
        more.push(h.append("checkpoint", json!({ "jws": "h.p.s" })));
        let mut w = writer.clone();
        assert_eq!(w.push(&more[7]), Ok(None));
        assert_eq!(
            reader.clone().push(&more[7]).unwrap().map(|s| s.index),
            Some(7)
        );
    }

    #[test]
    fn checkpoints_stand_where_the_declaration_says() {
        let good = log(Some(decl(true, 3)), "eeeceeeceec");
        let (s, sigs) = verify_records(&good, keyed()).unwrap();
        assert_eq!(
            (s.format, s.checkpoints, s.unsigned_tail, sigs.len()),
            (1, 3, 0, 4)
        );
        assert!(matches!(sigs[0].expect, Expect::Declaration(_)));
        assert_eq!(
            sigs[1].expect,
            Expect::Checkpoint {
                head: good[3]["hash"].as_str().unwrap().into(),
                count: 4
            }
        );
        // Without the key: places are checked, signatures are not handed back.
        assert_eq!(
            verify_records(&good, VerifyOptions::default())
                .unwrap()
                .1
                .len(),
            0
        );
        // The tail of a log still open.
        assert_eq!(
            verify_records(&log(Some(decl(true, 3)), "eeecee"), keyed())
                .unwrap()
                .0
                .unsigned_tail,
            2
        );
        // Stripped checkpoints (rehashed): one due is missing.
        assert_eq!(
            problem(&log(Some(decl(true, 3)), "eeeeee"), keyed()),
            (4, "CHECKPOINT_MISSING".into())
        );
        assert_eq!(
            problem(
                &log(Some(decl(true, 3)), "eeeceeee"),
                VerifyOptions::default()
            ),
            (8, "CHECKPOINT_MISSING".into())
        );
        // Extra ones.
        assert_eq!(
            problem(&log(Some(decl(true, 3)), "ecc"), keyed()),
            (3, "CHECKPOINT_EXTRA".into())
        );
        assert_eq!(
            problem(&log(Some(decl(true, 3)), "c"), keyed()),
            (1, "CHECKPOINT_EXTRA".into())
        );
        assert_eq!(
            problem(&log(Some(decl(false, 3)), "eec"), VerifyOptions::default()),
            (3, "CHECKPOINT_EXTRA".into())
        );
        // Early checkpoints (a writer closed the log) restart the count.
        assert!(verify_records(&log(Some(decl(true, 3)), "eceeecee"), keyed()).is_ok());
    }

    #[test]
    fn the_declaration_binds_the_key() {
        let unsigned = log(Some(decl(false, 100)), "eee");
        let (s, _) = verify_records(&unsigned, VerifyOptions::default()).unwrap();
        assert_eq!(
            (s.unsigned_tail, s.declaration.unwrap().checkpoint_key),
            (4, None)
        );
        // A key given for a log that says it has none: a rewrite that dropped the key.
        assert_eq!(problem(&unsigned, keyed()), (0, "KEY_MISMATCH".into()));
        let other = VerifyOptions {
            key_thumbprint: Some("x".repeat(43)),
            ..Default::default()
        };
        assert_eq!(
            problem(&log(Some(decl(true, 3)), "e"), other),
            (0, "KEY_MISMATCH".into())
        );
        // A keyed declaration without its signature, a second declaration, a newer format.
        let mut d = decl(true, 3);
        d.as_object_mut().unwrap().remove("jws");
        assert_eq!(problem(&log(Some(d), ""), keyed()), (0, "UNSIGNED".into()));
        let mut two = log(Some(decl(false, 3)), "e");
        let mut h = Head {
            next_seq: 2,
            hash: two[1]["hash"].as_str().unwrap().into(),
        };
        two.push(h.append("declaration", decl(false, 3)));
        assert_eq!(
            problem(&two, VerifyOptions::default()),
            (2, "DECLARATION".into())
        );
        let mut d = decl(false, 3);
        d["format"] = json!(2);
        assert_eq!(
            problem(&log(Some(d), ""), VerifyOptions::default()),
            (0, "FORMAT".into())
        );
        let mut d = decl(false, 3);
        d["extra"] = json!(1);
        assert_eq!(
            problem(&log(Some(d), ""), VerifyOptions::default()),
            (0, "DECLARATION".into())
        );
    }

    #[test]
    fn format_0_is_read_only_when_accepted() {
        let old = log(None, "eece");
        assert_eq!(
            problem(&old, VerifyOptions::default()),
            (0, "FORMAT".into())
        );
        let accept = VerifyOptions {
            accept_legacy: true,
            ..keyed()
        };
        let (s, sigs) = verify_records(&old, accept.clone()).unwrap();
        assert_eq!(
            (s.format, s.checkpoints, sigs.len(), s.unsigned_tail),
            (0, 1, 1, 1)
        );
        // Continued by this build: a declaration with legacyRecords = its seq.
        let mut cont = old.clone();
        let mut h = Head {
            next_seq: 4,
            hash: old[3]["hash"].as_str().unwrap().into(),
        };
        let mut d = decl(true, 2);
        d["legacyRecords"] = json!(4);
        cont.push(h.append("declaration", d));
        cont.push(h.append("event", json!({})));
        cont.push(h.append("event", json!({})));
        cont.push(h.append("checkpoint", json!({ "jws": "h.p.s" })));
        assert_eq!(verify_records(&cont, accept).unwrap().0.format, 1);
        assert_eq!(
            problem(&cont, VerifyOptions::default()),
            (0, "FORMAT".into())
        );
    }

    #[test]
    fn an_anchor_finds_a_cut_tail() {
        let full = log(Some(decl(false, 100)), "eeeee");
        let anchor = |i: usize| VerifyOptions {
            anchor: Some(Anchor {
                seq: i as u64,
                hash: full[i]["hash"].as_str().unwrap().into(),
            }),
            ..Default::default()
        };
        assert!(verify_records(&full, anchor(4)).is_ok());
        assert_eq!(problem(&full[..4], anchor(4)), (4, "TRUNCATED".into()));
        // Cut and rewritten past the anchor: the record there is another.
        let mut other = log(Some(decl(false, 100)), "eeeee");
        other[4]["body"]["id"] = json!("x");
        other[4]["hash"] = json!(chain::record_hash(&other[4]));
        assert_eq!(
            problem(&other[..5], anchor(4)),
            (4, "ANCHOR_MISMATCH".into())
        );
    }

    #[test]
    fn a_pruned_log_continues_after_its_declaration_from_an_anchor() {
        let full = log(Some(decl(true, 2)), "eeceeceec");
        let at = |i: usize| Anchor {
            seq: i as u64,
            hash: full[i]["hash"].as_str().unwrap().into(),
        };
        // Records 1..=6 pruned (up to the checkpoint at 6): the declaration, then 7.
        let pruned: Vec<Value> = [&full[..1], &full[7..]].concat();
        assert_eq!(
            problem(&pruned, keyed()),
            (1, "MISSING_OR_REORDERED".into())
        );
        let with = |pruned: Option<Anchor>, anchor: Option<Anchor>| VerifyOptions {
            pruned,
            anchor,
            ..keyed()
        };
        let (s, _) = verify_records(&pruned, with(Some(at(6)), None)).unwrap();
        assert_eq!((s.entries, s.checkpoints), (10, 1));
        // The anchor alone (the collector's head at the prune point) serves too, and a later
        // anchor is still checked.
        assert!(verify_records(&pruned, with(None, Some(at(6)))).is_ok());
        assert!(verify_records(&pruned, with(Some(at(6)), Some(at(8)))).is_ok());
        // An anchor inside the pruned part cannot be checked: refused, not assumed.
        assert_eq!(
            problem(&pruned, with(Some(at(6)), Some(at(4)))),
            (4, "ANCHOR_PRUNED".into())
        );
        // The prune point must be the record before, by seq and by hash.
        let wrong_hash = Anchor {
            seq: 6,
            hash: full[5]["hash"].as_str().unwrap().into(),
        };
        assert_eq!(
            problem(&pruned, with(Some(wrong_hash), None)),
            (1, "MISSING_OR_REORDERED".into())
        );
        let wrong_seq = Anchor {
            seq: 5,
            hash: full[6]["hash"].as_str().unwrap().into(),
        };
        assert_eq!(
            problem(&pruned, with(Some(wrong_seq), None)),
            (1, "MISSING_OR_REORDERED".into())
        );
        // The record after the gap must link to the anchor; rules still hold after it.
        assert_eq!(
            problem(&pruned, with(Some(at(5)), None)),
            (1, "MISSING_OR_REORDERED".into())
        );
        let bad: Vec<Value> = [&full[..1], &full[7..9]].concat();
        let (s, _) = verify_records(&bad, with(Some(at(6)), None)).unwrap();
        assert_eq!(s.since_checkpoint, 2);
        // A skip anywhere but right after the declaration is a gap.
        let later: Vec<Value> = [&full[..2], &full[7..]].concat();
        assert_eq!(
            problem(&later, with(Some(at(6)), None)),
            (2, "MISSING_OR_REORDERED".into())
        );
    }

    #[test]
    fn signatures_must_sign_the_record_they_stand_in() {
        let s = ToSign {
            index: 4,
            jws: String::new(),
            typ: CHECKPOINT_TYP,
            alg: Some("ES256".into()),
            expect: Expect::Checkpoint {
                head: "ab".into(),
                count: 4,
            },
        };
        let h = json!({ "alg": "ES256", "typ": CHECKPOINT_TYP });
        assert!(s.holds(&h, &json!({ "head": "ab", "count": 4, "iat": 1 })));
        assert!(!s.holds(&h, &json!({ "head": "ab", "count": 3, "iat": 1 })));
        assert!(!s.holds(
            &json!({ "alg": "RS256", "typ": CHECKPOINT_TYP }),
            &json!({ "head": "ab", "count": 4 })
        ));
        assert!(!s.holds(
            &json!({ "alg": "ES256", "typ": DECLARATION_TYP }),
            &json!({ "head": "ab", "count": 4 })
        ));
    }
}
