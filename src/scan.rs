//! JSON text read in place: validated as it is read (RFC 8259), within a nesting limit, and
//! without building a tree.
//!
//! The minimiser reads Bundles of thousands of entries with it. The members it passes on are
//! sliced out of the input as they are; the few values the rules read are decoded where they
//! are met. What this reader accepts, serde_json accepts too (a fuzz target
//! and the tests below hold it to that): strings may not hold raw control characters, numbers
//! follow the JSON grammar, and only whitespace may follow the value. As in serde_json when
//! it skips a value, a `\u` escape in a string that is only passed on needs four hex digits
//! but is not checked for lone surrogates; strings that are decoded are.
//!
//! ```
//! use tillit::scan::{Kind, Reader};
//! let mut r = Reader::new(r#"{"id":"d1","n":[1,2]}"#, 64, "doc");
//! let mut seen = Vec::new();
//! r.object(|r, name| {
//!     seen.push((name.into_owned(), r.skip()?));
//!     Ok(())
//! })
//! .unwrap();
//! r.end().unwrap();
//! assert_eq!(seen[1], ("n".to_string(), "[1,2]"));
//! ```

use crate::error::{Error, ErrorCode, Result};
use std::borrow::Cow;

/// A JSON value's type, as its first byte tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `{`
    Object,
    /// `[`
    Array,
    /// `"`
    String,
    /// `-` or a digit
    Number,
    /// `true` or `false`
    Bool,
    /// `null`
    Null,
}

impl Kind {
    /// The JSON type name, for error rules.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Object => "object",
            Kind::Array => "array",
            Kind::String => "string",
            Kind::Number => "number",
            Kind::Bool => "boolean",
            Kind::Null => "null",
        }
    }
}

/// A reader over JSON text. Errors are typed: `MALFORMED_JSON` with the line and column
/// (never the input's text), or `INPUT_TOO_LARGE` past the nesting limit; `what` names the
/// input in them.
pub struct Reader<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
    max_depth: usize,
    what: &'a str,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The bytes of `w` (eight bytes of a string's body) that end a plain run: a quote, a
/// backslash or a control character, flagged by their high bit. The lowest flag is exact
/// (false flags can only appear above a true one), which is all the caller uses.
#[inline(always)]
#[cfg_attr(tillit_speed, optimize(speed))]
fn specials(w: u64) -> u64 {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x;
    let quote = zero(w ^ (ONES * u64::from(b'"')));
    let backslash = zero(w ^ (ONES * u64::from(b'\\')));
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    (quote | backslash | control) & HIGH
}

// `#[inline]` on the small readers the minimiser calls per member (peek, skip, string,
// object, …): at opt-level "s" (Cargo.toml), LLVM inlines only tiny callees unless hinted.
// Measured (10,000-entry minimisation, CPU time against the plain-JS baseline in the same
// run): "s" without the hints 1.045x, with them 0.946x (opt-level 3: 0.81x); the hints cost
// 2,595 B of the gzipped wasm. The package's wasm is built at "z" (scripts/build.sh), where
// LLVM ignores the hints in functions built for size: the readers and the minimiser are
// #[optimize(speed)] there (`tillit_speed`), so the hints count again.
impl<'a> Reader<'a> {
    /// A reader at the start of `text`, allowing `max_depth` levels of nested objects and
    /// arrays.
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn new(text: &'a str, max_depth: usize, what: &'a str) -> Self {
        Reader {
            text,
            pos: 0,
            depth: 0,
            max_depth,
            what,
        }
    }

    #[inline(always)]
    #[cfg_attr(tillit_speed, optimize(speed))]
    fn at(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    #[inline(always)]
    #[cfg_attr(tillit_speed, optimize(speed))]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.at() {
            self.pos += 1;
        }
    }

    /// The error for the byte at the current position (or the end of the text).
    #[cold]
    fn bad(&self) -> Error {
        self.bad_at(self.pos)
    }

    #[cold]
    fn bad_at(&self, pos: usize) -> Error {
        let before = &self.text.as_bytes()[..pos.min(self.text.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.len()
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
        let kind = if pos >= self.text.len() {
            "ends too early"
        } else {
            "is not valid JSON"
        };
        Error::new(
            ErrorCode::MalformedJson,
            self.what,
            format!("{kind} (line {line}, column {})", column + 1),
        )
    }

    #[cfg_attr(tillit_speed, optimize(speed))]
    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(Error::new(
                ErrorCode::InputTooLarge,
                self.what,
                format!("nests deeper than {} levels", self.max_depth),
            ));
        }
        Ok(())
    }

    /// Skips whitespace and says what kind of value comes next.
    #[inline]
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn peek(&mut self) -> Result<Kind> {
        self.ws();
        match self.at() {
            Some(b'{') => Ok(Kind::Object),
            Some(b'[') => Ok(Kind::Array),
            Some(b'"') => Ok(Kind::String),
            Some(b'-' | b'0'..=b'9') => Ok(Kind::Number),
            Some(b't' | b'f') => Ok(Kind::Bool),
            Some(b'n') => Ok(Kind::Null),
            _ => Err(self.bad()),
        }
    }

    /// Reads one value, validated, and returns its text.
    #[inline]
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn skip(&mut self) -> Result<&'a str> {
        self.ws();
        let start = self.pos;
        self.value()?;
        Ok(&self.text[start..self.pos])
    }

    /// The position in the text (after whitespace), to take the text read from it with
    /// [`since`](Self::since).
    #[inline]
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn offset(&mut self) -> usize {
        self.ws();
        self.pos
    }

    /// The text read since `offset`.
    #[inline]
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn since(&self, offset: usize) -> &'a str {
        &self.text[offset..self.pos]
    }

    /// Reads one string, decoded; a value of another type is read and gives `None`.
    #[inline]
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn opt_string(&mut self) -> Result<Option<Cow<'a, str>>> {
        if self.peek()? == Kind::String {
            self.string().map(Some)
        } else {
            self.skip().map(|_| None)
        }
    }

    /// Like [`object`](Self::object), but a value of another type is read and skipped;
    /// says whether it was an object.
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn object_or_skip(
        &mut self,
        f: impl FnMut(&mut Self, Cow<'a, str>) -> Result<()>,
    ) -> Result<bool> {
        if self.peek()? == Kind::Object {
            self.object(f).map(|()| true)
        } else {
            self.skip().map(|_| false)
        }
    }

    /// Like [`array`](Self::array), but a value of another type is read and skipped; says
    /// whether it was an array.
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn array_or_skip(&mut self, f: impl FnMut(&mut Self) -> Result<()>) -> Result<bool> {
        if self.peek()? == Kind::Array {
            self.array(f).map(|()| true)
        } else {
            self.skip().map(|_| false)
        }
    }

    /// Reads one string, decoded.
    #[inline]
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn string(&mut self) -> Result<Cow<'a, str>> {
        self.ws();
        if self.at() != Some(b'"') {
            return Err(self.bad());
        }
        let start = self.pos + 1;
        let escaped = self.skip_string()?;
        self.decode(start, self.pos - 1, escaped)
    }

    /// Reads an object member by member: `f` gets each member's name (decoded) and must read
    /// its value (with [`skip`](Self::skip), [`string`](Self::string), …).
    #[inline]
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn object(
        &mut self,
        mut f: impl FnMut(&mut Self, Cow<'a, str>) -> Result<()>,
    ) -> Result<()> {
        self.ws();
        if self.at() != Some(b'{') {
            return Err(self.bad());
        }
        self.members(|r, start, end, escaped| {
            let name = r.decode(start, end, escaped)?;
            f(r, name)
        })
    }

    /// Reads an array item by item: `f` must read each item.
    #[inline]
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn array(&mut self, f: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        self.ws();
        if self.at() != Some(b'[') {
            return Err(self.bad());
        }
        self.items(f)
    }

    /// Checks that only whitespace follows.
    #[cfg_attr(tillit_speed, optimize(speed))]
    pub fn end(&mut self) -> Result<()> {
        self.ws();
        if self.pos < self.text.len() {
            return Err(self.bad());
        }
        Ok(())
    }

    /// At `{`: reads the members; `f` gets each name's span and whether it has escapes.
    #[inline(always)]
    #[cfg_attr(tillit_speed, optimize(speed))]
    fn members(
        &mut self,
        mut f: impl FnMut(&mut Self, usize, usize, bool) -> Result<()>,
    ) -> Result<()> {
        self.container(b'}', |r| {
            if r.at() != Some(b'"') {
                return Err(r.bad());
            }
            let start = r.pos + 1;
            let escaped = r.skip_string()?;
            let end = r.pos - 1;
            r.ws();
            if r.at() != Some(b':') {
                return Err(r.bad());
            }
            r.pos += 1;
            r.ws();
            f(r, start, end, escaped)
        })
    }

    /// At `[`: reads the items with `f`.
    #[inline(always)]
    #[cfg_attr(tillit_speed, optimize(speed))]
    fn items(&mut self, f: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        self.container(b']', f)
    }

    /// At an opening bracket: reads what `f` reads, separated by commas, up to `close`.
    #[inline(always)]
    #[cfg_attr(tillit_speed, optimize(speed))]
    fn container(&mut self, close: u8, mut f: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        self.pos += 1;
        self.enter()?;
        self.ws();
        if self.at() != Some(close) {
            loop {
                self.ws();
                f(self)?;
                self.ws();
                match self.at() {
                    Some(b',') => self.pos += 1,
                    Some(c) if c == close => break,
                    _ => return Err(self.bad()),
                }
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(())
    }

    /// Reads one value (whitespace already skipped), validating it.
    #[inline]
    #[cfg_attr(tillit_speed, optimize(speed))]
    fn value(&mut self) -> Result<()> {
        match self.at() {
            Some(b'"') => self.skip_string().map(|_| ()),
            Some(b'{') => self.members(|r, _, _, _| r.value()),
            Some(b'[') => self.items(|r| r.value()),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.bad()),
        }
    }

    #[cfg_attr(tillit_speed, optimize(speed))]
    fn literal(&mut self, word: &[u8]) -> Result<()> {
        let rest = &self.text.as_bytes()[self.pos..];
        if rest.starts_with(word) {
            self.pos += word.len();
            return Ok(());
        }
        // The first byte that differs, or the end of the text.
        let same = rest.iter().zip(word).take_while(|(a, b)| a == b).count();
        Err(self.bad_at(self.pos + same))
    }

    #[cfg_attr(tillit_speed, optimize(speed))]
    fn number(&mut self) -> Result<()> {
        let b = self.text.as_bytes();
        let mut i = self.pos;
        let digits = |mut i: usize| {
            while let Some(b'0'..=b'9') = b.get(i) {
                i += 1;
            }
            i
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits(i + 1),
            _ => return Err(self.bad_at(i)),
        }
        if b.get(i) == Some(&b'.') {
            if !matches!(b.get(i + 1), Some(b'0'..=b'9')) {
                return Err(self.bad_at(i + 1));
            }
            i = digits(i + 1);
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if !matches!(b.get(i), Some(b'0'..=b'9')) {
                return Err(self.bad_at(i));
            }
            i = digits(i);
        }
        self.pos = i;
        Ok(())
    }

    /// At an opening quote: moves past the closing one; says whether the string had escapes.
    /// Plain runs are stepped over eight bytes at a time.
    #[inline(always)]
    #[cfg_attr(tillit_speed, optimize(speed))]
    fn skip_string(&mut self) -> Result<bool> {
        let b = self.text.as_bytes();
        let mut i = self.pos + 1;
        let mut escaped = false;
        loop {
            while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
                let m = specials(u64::from_le_bytes(*chunk));
                if m != 0 {
                    i += (m.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            match b.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    i = self.escape(i)?;
                }
                Some(0..=0x1f) | None => return Err(self.bad_at(i)),
                Some(_) => i += 1,
            }
        }
    }

    /// At a backslash in a string: the position after the escape.
    #[cfg_attr(tillit_speed, optimize(speed))]
    fn escape(&self, i: usize) -> Result<usize> {
        let b = self.text.as_bytes();
        match b.get(i + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 2),
            Some(b'u') => {
                for j in i + 2..i + 6 {
                    if !b.get(j).is_some_and(u8::is_ascii_hexdigit) {
                        return Err(self.bad_at(j));
                    }
                }
                Ok(i + 6)
            }
            _ => Err(self.bad_at(i + 1)),
        }
    }

    /// The string body `start..end` (validated by `skip_string`), decoded.
    #[inline]
    #[cfg_attr(tillit_speed, optimize(speed))]
    fn decode(&self, start: usize, end: usize, escaped: bool) -> Result<Cow<'a, str>> {
        let raw = &self.text[start..end];
        if !escaped {
            return Ok(Cow::Borrowed(raw));
        }
        unescape(raw)
            .map(Cow::Owned)
            .ok_or_else(|| self.bad_at(start))
    }
}

/// Decodes a string body whose escapes are well-formed; `None` for a lone surrogate.
#[cfg_attr(tillit_speed, optimize(speed))]
fn unescape(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let b = rest.as_bytes();
        let (c, used) = match b[i + 1] {
            b'b' => ('\u{8}', 2),
            b'f' => ('\u{c}', 2),
            b'n' => ('\n', 2),
            b'r' => ('\r', 2),
            b't' => ('\t', 2),
            b'u' => {
                let hi = hex4(&rest[i + 2..i + 6])?;
                if (0xd800..0xdc00).contains(&hi) {
                    let lo = rest
                        .get(i + 6..i + 12)
                        .and_then(|s| s.strip_prefix("\\u"))
                        .and_then(hex4)
                        .filter(|lo| (0xdc00..0xe000).contains(lo))?;
                    (
                        char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00))?,
                        12,
                    )
                } else {
                    (char::from_u32(hi)?, 6)
                }
            }
            other => (char::from(other), 2),
        };
        out.push(c);
        rest = &rest[i + used..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg_attr(tillit_speed, optimize(speed))]
fn hex4(s: &str) -> Option<u32> {
    u32::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip_all(text: &str, depth: usize) -> Result<&str> {
        let mut r = Reader::new(text, depth, "x");
        let v = r.skip()?;
        r.end()?;
        Ok(v)
    }

    /// Inputs on which validators commonly disagree (after JSONTestSuite's y_/n_ cases).
    const CASES: &[&str] = &[
        "{}",
        "[]",
        "0",
        "-0",
        "-0.0e+1",
        "1E9",
        "1e-0",
        "0.5",
        "\"\"",
        "\"\\u00e5\\n\\\"\"",
        "\"\\ud83d\\ude00\"",
        "\"\\ud800\"",
        "\"\\udc00x\"",
        " [1 , 2 ]\n",
        "true",
        "false",
        "null",
        "{\"a\":{\"b\":[{}]}}",
        "\"å ∑ 😀\"",
        "01",
        "-",
        "1.",
        ".5",
        "1e",
        "1e+",
        "+1",
        "--1",
        "0x10",
        "[1,]",
        "[,1]",
        "{\"a\":1,}",
        "{,}",
        "{\"a\" 1}",
        "{\"a\":}",
        "{1:2}",
        "{'a':1}",
        "[1 2]",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u12G4\"",
        "\"a\tb\"",
        "\"a\u{1}b\"",
        "\"abc",
        "[",
        "{",
        "{\"a\"",
        "{\"a\":1",
        "tru",
        "nul",
        "nulx",
        "[true false]",
        "[]]",
        "{}}",
        "\"\\",
        "\"\\u",
        "[\"abcdefghijklmnopq\\\"rstuvwxyz\"]",
        "1 2",
        "",
        "  ",
        "[-]",
        "[1e5,-1.5E-3,0e0]",
        "{\"\":\"\"}",
        "[\"\\/\"]",
        "\"\u{7f}\"",
        "[NaN]",
        "[Infinity]",
        "[\"a\"\"b\"]",
        "{\"a\":1\"b\":2}",
    ];

    #[test]
    fn accepts_what_serde_json_accepts() {
        for text in CASES {
            let ours = skip_all(text, 64);
            let theirs = serde_json::from_str::<serde::de::IgnoredAny>(text);
            assert_eq!(
                ours.is_ok(),
                theirs.is_ok(),
                "{text:?}: {ours:?} / {theirs:?}"
            );
            if let Ok(v) = ours {
                assert_eq!(v, text.trim());
            }
        }
        // Every position of a long string crosses the eight-byte steps.
        for n in 0..40 {
            let s = "x".repeat(n);
            for tail in ["\"", "\\\"\"", "\\u0041\"", "\u{1}\"", "å\""] {
                let text = format!("\"{s}{tail}");
                assert_eq!(
                    skip_all(&text, 4).is_ok(),
                    serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok(),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn decodes_strings_and_reads_members() {
        let text = r#"{"a\u00e5":"x\ny\ud83d\ude00","n":-1.5e3,"b":[true,{"c":null}],"a\u00e5":7}"#;
        let mut r = Reader::new(text, 8, "x");
        let mut seen = Vec::new();
        r.object(|r, name| {
            let start = r.offset();
            let value = r.opt_string()?;
            seen.push((
                name.into_owned(),
                value.map(Cow::into_owned),
                r.since(start),
            ));
            Ok(())
        })
        .unwrap();
        r.end().unwrap();
        assert_eq!(seen[0].0, "aå");
        assert_eq!(seen[0].1.as_deref(), Some("x\ny\u{1f600}"));
        assert_eq!(seen[1], ("n".into(), None, "-1.5e3"));
        assert_eq!(seen[2].2, r#"[true,{"c":null}]"#);
        assert_eq!(seen[3], ("aå".into(), None, "7"));
        let mut r = Reader::new(" [1, {}] ", 8, "x");
        assert!(!r.object_or_skip(|_, _| unreachable!()).unwrap());
        let mut r = Reader::new(r#"{"k":[1,2]}"#, 8, "x");
        let mut n = 0;
        assert!(r
            .object_or_skip(|r, _| r.array_or_skip(|r| r.skip().map(|_| n += 1)).map(drop))
            .unwrap());
        assert_eq!(n, 2);
        let v: serde_json::Value = serde_json::from_str(r#""x\ny\ud83d\ude00""#).unwrap();
        assert_eq!(
            Reader::new(r#""x\ny\ud83d\ude00""#, 8, "x")
                .string()
                .unwrap(),
            v.as_str().unwrap()
        );
        // A lone surrogate cannot be decoded.
        let e = Reader::new(r#""\ud800x""#, 8, "x").string().unwrap_err();
        assert_eq!(e.code(), ErrorCode::MalformedJson);
        assert!(Reader::new(r#""\udc00""#, 8, "x").string().is_err());
    }

    #[test]
    fn errors_are_typed_and_placed() {
        let e = skip_all("{\"a\":\n  [1,\n  x]}", 8).unwrap_err();
        assert_eq!(e.code(), ErrorCode::MalformedJson);
        assert_eq!(e.path(), "x");
        assert_eq!(e.rule(), "is not valid JSON (line 3, column 3)");
        assert_eq!(
            skip_all("[1,", 8).unwrap_err().rule(),
            "ends too early (line 1, column 4)"
        );
        let deep = format!("{}{}", "[".repeat(9), "]".repeat(9));
        assert_eq!(
            skip_all(&deep, 8).unwrap_err().code(),
            ErrorCode::InputTooLarge
        );
        assert!(skip_all(&deep, 9).is_ok());
        // Brackets inside strings do not count.
        assert!(skip_all(r#"[["[[[[[[[[[[\"[[["]]"#, 2).is_ok());
        // The message never carries the input.
        let e = skip_all("{\"fnr\":\"12345678901\" x}", 8).unwrap_err();
        assert!(!e.rule().contains("12345678901"));
    }
}
