//! The tamper-evident chain: each record carries the SHA-256 of the previous record's RFC 8785
//! canonical form, and its own hash; checkpoints sign the head.
//!
//! A record is `{ seq, prev, kind, body, hash }` where `kind` is `event` (an AuditEvent,
//! pending or completed), `checkpoint` (a signed head), or `recovery` (a torn tail was found
//! and set aside). `hash` = SHA-256 of the canonical form of the record without `hash`.
//! [`verify`] reports the first missing, reordered, altered or unlinked record.

use crate::canon::canonical;
use crate::error::{Error, ErrorCode, Result};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Lowercase hex, the form records carry hashes in.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// SHA-256, the chain's hash function (RustCrypto `sha2`). A platform may hand
/// [`Head::append_written`] its own native implementation of the same function.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// [`sha256`] as lowercase hex, the form records carry.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha256(bytes))
}

/// Whether `h` is a SHA-256 in the records' form: 64 lowercase hex digits.
pub fn is_hash_hex(h: &str) -> bool {
    h.len() == 64
        && h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The hash of a record: SHA-256 over the canonical form without its `hash` member.
pub fn record_hash(record: &Value) -> String {
    let mut r = record.clone();
    if let Some(m) = r.as_object_mut() {
        m.remove("hash");
    }
    hex(&Sha256::digest(canonical(&r).as_bytes()))
}

/// The head of a chain: the next sequence number and the last record's hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The next record's `seq`.
    pub next_seq: u64,
    /// The last record's hash (or [`GENESIS`]).
    pub hash: String,
}

impl Default for Head {
    fn default() -> Self {
        Head {
            next_seq: 0,
            hash: GENESIS.to_string(),
        }
    }
}

/// How every record's line begins: its body follows, and nothing before it depends on the
/// chain (the browser path hashes records from the state after the blocks they share; see
/// `midstate`).
pub const BODY_PREFIX: &str = "{\"body\":";

impl Head {
    /// Makes the next record's line (its RFC 8785 canonical form, `hash` included) and advances
    /// the head: `(line, hash)`. `body` is written as a tree; see [`Head::append_written`].
    pub fn append_line(&mut self, kind: &str, body: &Value) -> (String, String) {
        let body_c = canonical(body);
        self.append_written(
            kind,
            |out| {
                out.push_str(&body_c);
                Ok(())
            },
            &mut |b| Ok(sha256_hex(b)),
        )
        .expect("writing a finished body with sha2 cannot fail")
    }

    /// Makes the next record's line with a body that `write_body` writes in canonical form
    /// (an event from [`crate::audit::event::write_into`]), hashed with `digest` (SHA-256 as
    /// lowercase hex: [`sha256_hex`] or a platform's native one), in one buffer: `body < hash < kind < prev < seq`
    /// is already the canonical member order, so the hashed form is the line without `hash`.
    pub fn append_written(
        &mut self,
        kind: &str,
        write_body: impl FnOnce(&mut String) -> Result<()>,
        digest: &mut dyn FnMut(&[u8]) -> Result<String>,
    ) -> Result<(String, String)> {
        let mut line = String::with_capacity(4096);
        line.push_str(BODY_PREFIX);
        write_body(&mut line)?;
        self.append_body(kind, line, digest)
    }

    /// [`append_written`](Self::append_written) for a line whose beginning is written
    /// already: `line` holds [`BODY_PREFIX`] and the canonical body, and the record is
    /// finished in that buffer.
    pub fn append_body(
        &mut self,
        kind: &str,
        mut line: String,
        digest: &mut dyn FnMut(&[u8]) -> Result<String>,
    ) -> Result<(String, String)> {
        debug_assert!(line.starts_with(BODY_PREFIX));
        let body_end = line.len();
        line.push_str(",\"kind\":");
        crate::canon::write_string(kind, &mut line);
        line.push_str(",\"prev\":\"");
        line.push_str(&self.hash);
        line.push_str("\",\"seq\":");
        line.push_str(&self.next_seq.to_string());
        line.push('}');
        let h = digest(line.as_bytes())?;
        if !is_hash_hex(&h) {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "digest",
                "must give SHA-256 as 64 lowercase hex digits",
            ));
        }
        let tail = line.split_off(body_end);
        line.push_str(",\"hash\":\"");
        line.push_str(&h);
        line.push('"');
        line.push_str(&tail);
        self.next_seq += 1;
        self.hash.clone_from(&h);
        Ok((line, h))
    }

    /// Makes the next record of `kind` with `body` and advances the head.
    pub fn append(&mut self, kind: &str, body: Value) -> Value {
        let mut m = Map::new();
        m.insert("seq".into(), json!(self.next_seq));
        m.insert("prev".into(), json!(self.hash));
        m.insert("kind".into(), json!(kind));
        m.insert("body".into(), body);
        let mut rec = Value::Object(m);
        let h = record_hash(&rec);
        rec["hash"] = json!(h);
        self.next_seq += 1;
        self.hash = h;
        rec
    }

    /// The head after `records`, which must verify.
    pub fn after(records: &[Value]) -> Result<Head> {
        let report = verify(records);
        if !report.ok {
            return Err(Error::new(
                ErrorCode::InvalidResource,
                format!("log[{}]", report.first_bad_index.unwrap_or(0)),
                format!(
                    "the log does not verify: {}",
                    report.problem.unwrap_or_default()
                ),
            ));
        }
        Ok(match records.last() {
            Some(r) => Head {
                next_seq: r["seq"].as_u64().unwrap_or(0) + 1,
                hash: r["hash"].as_str().unwrap_or(GENESIS).to_string(),
            },
            None => Head::default(),
        })
    }
}

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Whether the whole chain verifies.
    pub ok: bool,
    /// Records read.
    pub entries: usize,
    /// The first bad record.
    pub first_bad_index: Option<usize>,
    /// What is wrong there: `MALFORMED`, `ALTERED`, `MISSING_OR_REORDERED`, `UNLINKED`.
    pub problem: Option<String>,
}

fn bad(i: usize, n: usize, problem: &str) -> Report {
    Report {
        ok: false,
        entries: n,
        first_bad_index: Some(i),
        problem: Some(problem.to_string()),
    }
}

/// Checks records one at a time, so a long log need not be held in memory to be verified.
#[derive(Clone, Debug, Default)]
pub struct Verifier {
    next: usize,
    prev: Option<String>,
}

impl Verifier {
    /// A verifier that continues after `head` (records already checked).
    pub fn after(head: &Head) -> Self {
        Verifier {
            next: head.next_seq as usize,
            prev: (head.next_seq > 0).then(|| head.hash.clone()),
        }
    }

    /// Checks the next record; on failure, the index of the first bad record and the problem.
    pub fn push(&mut self, r: &Value) -> core::result::Result<(), (usize, &'static str)> {
        let i = self.next;
        let (Some(seq), Some(p), Some(h), Some(_kind)) = (
            r.get("seq").and_then(Value::as_u64),
            r.get("prev").and_then(Value::as_str),
            r.get("hash").and_then(Value::as_str),
            r.get("kind").and_then(Value::as_str),
        ) else {
            return Err((i, "MALFORMED: a record needs seq, prev, kind and hash"));
        };
        if record_hash(r) != h {
            return Err((i, "ALTERED: the record does not match its own hash"));
        }
        if seq != i as u64 {
            return Err((
                i,
                "MISSING_OR_REORDERED: sequence numbers are not consecutive",
            ));
        }
        if p != self.prev.as_deref().unwrap_or(GENESIS) {
            // The record before was replaced (its hash recomputed) or removed: it is the bad one.
            return Err((
                i.saturating_sub(1),
                "ALTERED: the record does not match the hash the next record committed to",
            ));
        }
        self.prev = Some(h.to_string());
        self.next += 1;
        Ok(())
    }

    /// The head after the records pushed so far.
    pub fn head(&self) -> Head {
        Head {
            next_seq: self.next as u64,
            hash: self.prev.clone().unwrap_or_else(|| GENESIS.to_string()),
        }
    }
}

/// Verifies a chain from its first record: sequence numbers consecutive from 0, each
/// record's hash its own, each `prev` the previous record's hash.
pub fn verify(records: &[Value]) -> Report {
    let n = records.len();
    let mut v = Verifier::default();
    for r in records {
        if let Err((i, problem)) = v.push(r) {
            return bad(i, n, problem);
        }
    }
    Report {
        ok: true,
        entries: n,
        first_bad_index: None,
        problem: None,
    }
}

/// NDJSON text split into records, and where a torn (incomplete) last line begins.
#[derive(Clone, Debug, PartialEq)]
pub struct NdjsonRead {
    /// The complete records.
    pub records: Vec<Value>,
    /// Byte offset where a torn or unparsable last line starts (everything from there is not a record).
    pub torn_at: Option<usize>,
}

/// The longest line a log record may take (the JSON reader's limit for a record).
pub const MAX_LINE: usize = crate::limits::RECORD.bytes;

/// Reads NDJSON written by an append-only sink. Only the last line may be torn (a crash
/// mid-write); a bad line before the last is corruption and an error naming the line.
pub fn read_ndjson(bytes: &[u8]) -> Result<NdjsonRead> {
    let mut records = Vec::new();
    let mut s = NdjsonStream::default();
    s.push(bytes, |r, _| records.push(r)).map_err(|line| {
        Error::new(
            ErrorCode::InvalidResource,
            format!("log line {}", line + 1),
            "is not a JSON record and is not the last line: the file is corrupt",
        )
    })?;
    Ok(NdjsonRead {
        records,
        torn_at: s.torn_at().map(|a| a as usize),
    })
}

/// NDJSON read a chunk at a time, with [`read_ndjson`]'s rules: each record is handed out as
/// its line ends, and only the line not yet ended is kept (at most [`MAX_LINE`] bytes; the
/// bytes of a longer one are counted, not kept: it cannot be a record). So a log of any
/// length is read with the memory of one chunk and one line.
#[derive(Clone, Debug, Default)]
pub struct NdjsonStream {
    /// The line not yet ended (empty once it is over [`MAX_LINE`]).
    line: Vec<u8>,
    /// Its length so far.
    line_len: u64,
    /// Where it begins (the bytes before it are whole lines).
    at: u64,
    /// Where a whole line that is not a record begins: only the last line may be one.
    bad: Option<u64>,
    /// Records read.
    records: u64,
    /// The most bytes held at once: the line kept and the chunk being read.
    peak: usize,
}

impl NdjsonStream {
    /// Reads the next bytes; `each(record, line)` gets every record whose line ends in them
    /// (`line` with its newline). `Err(n)`: line `n` (from 0) is not a record and more follows.
    pub fn push(
        &mut self,
        mut chunk: &[u8],
        mut each: impl FnMut(Value, &[u8]),
    ) -> core::result::Result<(), u64> {
        self.peak = self.peak.max(self.line.len() + chunk.len());
        while !chunk.is_empty() {
            if self.bad.is_some() {
                return Err(self.records);
            }
            let Some(p) = chunk.iter().position(|b| *b == b'\n') else {
                self.keep(chunk);
                break;
            };
            let (end, rest) = chunk.split_at(p + 1);
            let whole: &[u8] = if self.line_len == 0 {
                end
            } else {
                self.keep(end);
                &self.line
            };
            let len = self.line_len.max(end.len() as u64);
            let parsed = (len as usize <= MAX_LINE + 1)
                .then(|| core::str::from_utf8(&whole[..whole.len() - 1]).ok())
                .flatten()
                .and_then(|s| crate::json::parse_within(s, crate::limits::RECORD, "line").ok())
                .filter(Value::is_object);
            match parsed {
                Some(v) => {
                    each(v, whole);
                    self.records += 1;
                }
                None => self.bad = Some(self.at),
            }
            self.at += len;
            self.line.clear();
            self.line_len = 0;
            chunk = rest;
        }
        Ok(())
    }

    /// Keeps part of the line not yet ended (its bytes only while it could be a record).
    fn keep(&mut self, part: &[u8]) {
        self.line_len += part.len() as u64;
        if self.line_len as usize > MAX_LINE + 1 {
            self.line = Vec::new();
        } else {
            self.line.extend_from_slice(part);
        }
    }

    /// At the end of the bytes: where a torn last line begins (not ended by a newline, or
    /// ended but not a record), if there is one.
    pub fn torn_at(&self) -> Option<u64> {
        self.bad.or((self.line_len > 0).then_some(self.at))
    }

    /// The most bytes held at once (the line not yet ended and the chunk being read).
    pub fn peak(&self) -> usize {
        self.peak
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<Value> {
        let mut h = Head::default();
        (0..n)
            .map(|i| {
                h.append(
                    "event",
                    json!({"resourceType": "AuditEvent", "id": format!("e{i}"), "n": i}),
                )
            })
            .collect()
    }

    #[test]
    fn a_fresh_chain_verifies_and_resumes() {
        let c = chain(5);
        assert!(verify(&c).ok);
        let mut head = Head::after(&c).unwrap();
        assert_eq!(head.next_seq, 5);
        let mut c2 = c.clone();
        c2.push(head.append("event", json!({"x": 1})));
        assert!(verify(&c2).ok);
        assert!(verify(&[]).ok);
    }

    #[test]
    fn every_tampering_is_found_at_the_right_place() {
        let c = chain(6);
        // Edit without rehashing.
        let mut t = c.clone();
        t[2]["body"]["n"] = json!(99);
        assert_eq!(
            verify(&t),
            bad(2, 6, "ALTERED: the record does not match its own hash")
        );
        // Edit and rehash: the next record's link exposes it.
        let mut t = c.clone();
        t[2]["body"]["n"] = json!(99);
        let h = record_hash(&t[2]);
        t[2]["hash"] = json!(h);
        let r = verify(&t);
        assert_eq!((r.first_bad_index, r.ok), (Some(2), false));
        // Delete.
        let mut t = c.clone();
        t.remove(3);
        assert_eq!(verify(&t).first_bad_index, Some(3));
        assert!(verify(&t)
            .problem
            .unwrap()
            .starts_with("MISSING_OR_REORDERED"));
        // Reorder.
        let mut t = c.clone();
        t.swap(1, 4);
        assert_eq!(verify(&t).first_bad_index, Some(1));
        // Truncate the head: undetectable by the chain alone (checkpoints catch it).
        assert!(verify(&c[..4]).ok);
        // Malformed.
        let mut t = c.clone();
        t[0].as_object_mut().unwrap().remove("prev");
        assert!(verify(&t).problem.unwrap().starts_with("MALFORMED"));
        assert!(Head::after(&t).is_err());
    }

    #[test]
    fn lines_are_canonical_and_hash_like_values() {
        let mut a = Head::default();
        let mut b = Head::default();
        for i in 0..3 {
            let body = json!({"z": i, "a": {"y": "æ\n", "b": [1, 2]}});
            let (line, h) = a.append_line("event", &body);
            let rec = b.append("event", body);
            let parsed: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(parsed, rec);
            assert_eq!(line, canonical(&rec));
            assert_eq!(h, record_hash(&parsed));
        }
        assert_eq!(a, b);
    }

    #[test]
    fn ndjson_torn_tail() {
        let c = chain(3);
        let mut text: Vec<u8> = c
            .iter()
            .flat_map(|r| format!("{}\n", serde_json::to_string(r).unwrap()).into_bytes())
            .collect();
        let full = read_ndjson(&text).unwrap();
        assert_eq!((full.records.len(), full.torn_at), (3, None));
        let len = text.len();
        text.extend_from_slice(b"{\"seq\":3,\"prev\":\"ab");
        let torn = read_ndjson(&text).unwrap();
        assert_eq!((torn.records.len(), torn.torn_at), (3, Some(len)));
        // A torn line that happens to end in a newline but is not JSON is also the tail.
        let mut t2 = text.clone();
        t2.push(b'\n');
        assert_eq!(read_ndjson(&t2).unwrap().torn_at, Some(len));
        // Corruption in the middle is an error.
        let mut mid = b"garbage\n".to_vec();
        mid.extend_from_slice(&text[..len]);
        assert!(read_ndjson(&mid)
            .unwrap_err()
            .path()
            .starts_with("log line 1"));
        assert_eq!(read_ndjson(b"").unwrap().records.len(), 0);
    }

    /// Reads `bytes` `size` bytes at a time: the records, where a torn tail begins, the peak.
    fn streamed(bytes: &[u8], size: usize) -> (Vec<Value>, Vec<u8>, Option<u64>, usize) {
        let (mut records, mut lines) = (Vec::new(), Vec::new());
        let mut s = NdjsonStream::default();
        for c in bytes.chunks(size) {
            s.push(c, |r, l| {
                records.push(r);
                lines.extend_from_slice(l);
            })
            .unwrap();
        }
        (records, lines, s.torn_at(), s.peak())
    }

    #[test]
    fn ndjson_read_in_chunks_is_read_whole() {
        let c = chain(40);
        let mut text: Vec<u8> = c
            .iter()
            .flat_map(|r| format!("{}\n", serde_json::to_string(r).unwrap()).into_bytes())
            .collect();
        let whole_len = text.len();
        let longest = text.split(|b| *b == b'\n').map(<[u8]>::len).max().unwrap();
        for torn in [&b""[..], b"{\"seq\":40,\"pr", b"not json\n"] {
            let mut t = text.clone();
            t.extend_from_slice(torn);
            let whole = read_ndjson(&t).unwrap();
            for size in [1, 2, 7, 64, 100, 333, 4096, t.len()] {
                let (records, lines, torn_at, peak) = streamed(&t, size);
                assert_eq!(records, whole.records, "chunks of {size}");
                assert_eq!(torn_at.map(|a| a as usize), whole.torn_at);
                // The bytes handed out are the whole lines, as stored.
                assert_eq!(lines, text[..whole_len]);
                // Never more than a line and a chunk held, and at least a chunk.
                assert!(peak <= size + longest + 1, "{peak} > {size} + {longest}");
                assert!(peak >= size.min(t.len()), "{peak} < {size}");
            }
        }
        // A bad line followed by more is corruption, whatever the chunks.
        text.splice(0..0, b"garbage\n".iter().copied());
        for size in [1, 5, 4096] {
            let mut s = NdjsonStream::default();
            let r: core::result::Result<Vec<()>, u64> =
                text.chunks(size).map(|c| s.push(c, |_, _| {})).collect();
            assert_eq!(r, Err(0));
        }
    }

    #[test]
    fn a_record_may_take_the_whole_limit_and_corruption_names_its_line() {
        // A record of exactly MAX_LINE bytes (then its newline) is read; a byte more is not.
        let line = |n: usize| {
            let mut l = b"{\"a\":\"".to_vec();
            l.resize(n - 2, b'x');
            l.extend_from_slice(b"\"}\n");
            l
        };
        let mut s = NdjsonStream::default();
        let mut n = 0;
        s.push(&line(MAX_LINE), |_, _| n += 1).unwrap();
        assert_eq!((n, s.torn_at()), (1, None));
        let mut s = NdjsonStream::default();
        s.push(&line(MAX_LINE + 1), |_, _| unreachable!()).unwrap();
        assert_eq!(s.torn_at(), Some(0));
        // The same whole-limit record split just before its newline: the part kept across
        // the chunks is the whole record, and it is read.
        let whole = line(MAX_LINE);
        let (body, newline) = whole.split_at(MAX_LINE);
        let mut s = NdjsonStream::default();
        let mut n = 0;
        s.push(body, |_, _| n += 1).unwrap();
        assert_eq!((n, s.torn_at()), (0, Some(0)));
        s.push(newline, |_, _| n += 1).unwrap();
        assert_eq!((n, s.torn_at()), (1, None));
        // A bad line after two records is line 2 (from 0), and read_ndjson says line 3.
        let mut text: Vec<u8> = chain(3)
            .iter()
            .flat_map(|r| format!("{}\n", serde_json::to_string(r).unwrap()).into_bytes())
            .collect();
        let at = text
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(1)
            .unwrap()
            .0
            + 1;
        text.splice(at..at, b"garbage\n".iter().copied());
        assert_eq!(NdjsonStream::default().push(&text, |_, _| {}), Err(2));
        assert_eq!(read_ndjson(&text).unwrap_err().path(), "log line 3");
    }

    #[test]
    fn a_line_over_the_limit_is_counted_not_kept() {
        let mut s = NdjsonStream::default();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..(MAX_LINE >> 20) + 2 {
            s.push(&chunk, |_, _| unreachable!()).unwrap();
        }
        assert!(s.line.capacity() == 0 && s.peak() <= MAX_LINE + 2 * chunk.len());
        assert_eq!(s.torn_at(), Some(0));
        // Ended, it is not a record; the next line makes it corruption.
        s.push(b"\n", |_, _| unreachable!()).unwrap();
        assert_eq!(s.torn_at(), Some(0));
        assert_eq!(s.push(b"{}\n", |_, _| {}), Err(0));
    }
}
