//! RFC 8785 JSON Canonicalization Scheme (JCS): members sorted by their UTF-16 code units,
//! no insignificant whitespace, strings with minimal escaping, numbers in ECMAScript form.
//!
//! Used for the audit hash chain and the RFC 7638 thumbprint input.

use serde_json::Value;

/// The canonical form of `v`.
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut members: Vec<(&String, &Value)> = m.iter().collect();
            members.sort_by(|(a, _), (b, _)| utf16_cmp(a, b));
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write(v, out);
            }
            out.push('}');
        }
    }
}

/// Orders member names by their UTF-16 code units, as RFC 8785 wants. Byte order is the
/// same for ASCII (the usual case), so that is compared directly.
fn utf16_cmp(a: &str, b: &str) -> core::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.cmp(b)
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

fn write_number(n: &serde_json::Number, out: &mut String) {
    if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else {
        // serde_json holds no NaN or infinity.
        write_double(n.as_f64().unwrap_or(0.0), out);
    }
}

/// ECMAScript's Number::toString(x) (ECMA-262 6.1.6.1.20, which RFC 8785 section 3.2.2.3
/// makes the canonical form), step by step: the shortest digits `s` (k of them) that read
/// back as x, with x = 0.s × 10^n; then positional for −6 < n ≤ 21, else `d.ddde±x`.
/// Agreement with V8 on 10,736 doubles: tests/numbers_oracle.rs.
fn write_double(x: f64, out: &mut String) {
    if x == 0.0 {
        out.push('0'); // -0 too
        return;
    }
    if x.is_sign_negative() {
        out.push('-');
    }
    let (digits, n) = shortest(x.abs());
    let k = digits.len() as i32;
    let zeros = |out: &mut String, count: i32| (0..count).for_each(|_| out.push('0'));
    if k <= n && n <= 21 {
        out.push_str(&digits);
        zeros(out, n - k);
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        zeros(out, -n);
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push_str(&format!("{:+}", n - 1));
    }
}

/// The shortest digits that read back as `x` (> 0), and n: x = 0.digits × 10^n. Rust's
/// shortest form gives them, but where two digit strings of that length are equally close
/// (x lies exactly halfway) it takes the upper, and ECMAScript the even one: the RFC's
/// 1424953923781206.25 is written …206.2 there, …206.3 by Rust.
fn shortest(x: f64) -> (String, i32) {
    let s = format!("{x:e}");
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = m.chars().filter(char::is_ascii_digit).collect();
    let n = e.parse::<i32>().unwrap_or(0) + 1;
    // Only an odd last digit can need the lower of two tied strings (both read back as x:
    // they are as far from it as each other).
    if digits.ends_with(['1', '3', '5', '7', '9']) {
        let lower = digits.parse::<u64>().map_or(0, |d| d - 1);
        if halfway(x, lower, n - digits.len() as i32) {
            return (lower.to_string(), n);
        }
    }
    (digits, n)
}

/// Whether x is exactly (2·lower + 1) × 10^p / 2, halfway between lower × 10^p and the next
/// string up, in integers. Such a tie needs both strings to read back as x, so 10^p is less
/// than x's ulp, and x = m × 2^e (m odd) has e = p − 1 ≥ its ulp's exponent: that leaves
/// only p < 0 and normal doubles, where x × 5^−p × 2^(1−p) = m × 5^−p is the odd 2·lower + 1.
/// (Exact formatting and a float parser would do it too, for 14 KB more gzipped wasm:
/// measured, 243,391 B against 229,342 B with this.)
fn halfway(x: f64, lower: u64, p: i32) -> bool {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        return false; // subnormal: e ≤ −1074 + 52, far below any p − 1 a tie can have
    }
    let mantissa = (bits & ((1 << 52) - 1)) + (1 << 52);
    let zeros = mantissa.trailing_zeros();
    let (m, e) = (u128::from(mantissa >> zeros), biased - 1075 + zeros as i32);
    e == p - 1
        && 5u128
            .checked_pow(p.unsigned_abs())
            .and_then(|f| f.checked_mul(m))
            == Some(2 * u128::from(lower) + 1)
}

/// Writes `s` as a JSON string with RFC 8785's minimal escaping: `"` and `\\`, the five
/// short forms, other controls as `\u00xx`; everything else as it is. One pass that copies
/// the runs between escapes (each escaped byte is ASCII, so the cuts are char boundaries).
pub fn write_string(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[from..i]);
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(short);
        }
        from = i + 1;
    }
    out.push_str(&s[from..]);
    out.push('"');
}

/// Writes canonical JSON straight into a string, without building a tree: the caller gives
/// members in canonical order (ASCII names, ascending; checked in debug builds, and the
/// callers' tests check that the output is its own canonical form).
///
/// ```
/// use tillit::canon::Members;
/// let mut out = String::new();
/// Members::write(&mut out, |m| {
///     m.str("a", "x\"y");
///     m.obj("b", |m| { m.num("n", 3); });
///     m.arr("c", |a| { a.str("z"); a.raw("true"); });
/// });
/// assert_eq!(out, r#"{"a":"x\"y","b":{"n":3},"c":["z",true]}"#);
/// ```
pub struct Members<'a> {
    out: &'a mut String,
    first: bool,
    last: &'static str,
}

impl<'a> Members<'a> {
    /// Writes one object whose members `f` gives.
    pub fn write(out: &'a mut String, f: impl FnOnce(&mut Members<'_>)) {
        out.push('{');
        let mut m = Members {
            out,
            first: true,
            last: "",
        };
        f(&mut m);
        m.out.push('}');
    }

    fn key(&mut self, k: &'static str) -> &mut String {
        debug_assert!(
            k.is_ascii() && (self.first || self.last < k),
            "member {k} after {} is out of canonical order",
            self.last
        );
        self.last = k;
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(k);
        self.out.push_str("\":");
        self.out
    }

    /// A string member.
    pub fn str(&mut self, k: &'static str, v: &str) -> &mut Self {
        write_string(v, self.key(k));
        self
    }

    /// A string member, if there is a value.
    pub fn opt_str(&mut self, k: &'static str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.str(k, v);
        }
        self
    }

    /// An unsigned integer member.
    pub fn num(&mut self, k: &'static str, v: u64) -> &mut Self {
        use core::fmt::Write;
        let _ = write!(self.key(k), "{v}");
        self
    }

    /// A member whose value is already canonical JSON (`true`, a fragment written earlier).
    pub fn raw(&mut self, k: &'static str, json: &str) -> &mut Self {
        self.key(k).push_str(json);
        self
    }

    /// An object member.
    pub fn obj(&mut self, k: &'static str, f: impl FnOnce(&mut Members<'_>)) -> &mut Self {
        Members::write(self.key(k), f);
        self
    }

    /// An array member.
    pub fn arr(&mut self, k: &'static str, f: impl FnOnce(&mut Items<'_>)) -> &mut Self {
        Items::write(self.key(k), f);
        self
    }
}

/// The items of an array written by [`Members`].
pub struct Items<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Items<'a> {
    /// Writes one array whose items `f` gives.
    pub fn write(out: &'a mut String, f: impl FnOnce(&mut Items<'_>)) {
        out.push('[');
        let mut a = Items { out, first: true };
        f(&mut a);
        a.out.push(']');
    }

    fn next(&mut self) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out
    }

    /// A string item.
    pub fn str(&mut self, v: &str) -> &mut Self {
        write_string(v, self.next());
        self
    }

    /// An item (or several, comma-separated) that is already canonical JSON.
    pub fn raw(&mut self, json: &str) -> &mut Self {
        self.next().push_str(json);
        self
    }

    /// An object item.
    pub fn obj(&mut self, f: impl FnOnce(&mut Members<'_>)) -> &mut Self {
        Members::write(self.next(), f);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_by_utf16_and_escapes_minimally() {
        // RFC 8785 section 3.2.3 sorting example (subset).
        let v = json!({"\u{20ac}": "Euro Sign", "\r": "Carriage Return", "\u{fb33}": "Hebrew", "1": "One", "\u{1f600}": "Emoji", "\u{0080}": "Control", "\u{00f6}": "Latin"});
        assert_eq!(
            canonical(&v),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{0080}\":\"Control\",\"\u{00f6}\":\"Latin\",\"\u{20ac}\":\"Euro Sign\",\"\u{1f600}\":\"Emoji\",\"\u{fb33}\":\"Hebrew\"}"
        );
    }

    #[test]
    fn strings_escape_as_serde_json_does() {
        // serde_json's writer escapes the same minimal set RFC 8785 asks for (`"`, `\\`, the
        // short forms, other controls as lowercase `\u00xx`, nothing else): the same rule
        // in code that shares nothing with ours. Every ASCII char alone, and between text
        // with a space and a multi-byte char on each side.
        let mut samples: Vec<String> = vec![
            String::new(),
            "plain".into(),
            "æøå \u{1f600}".into(),
            "\u{7f}\u{80}\u{2028}\u{fffd}".into(),
        ];
        for c in (0u8..0x80).map(char::from) {
            samples.push(c.to_string());
            samples.push(format!("a {c}æ{c}{c} z"));
        }
        for s in samples {
            let mut out = String::new();
            write_string(&s, &mut out);
            assert_eq!(out, serde_json::to_string(&s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn numbers_literals_nesting() {
        let v =
            json!({"b": [1, -2, 3.5, true, null, 1e30, 0.000001], "a": {"z": "\u{1}", "y": "æøå"}});
        assert_eq!(
            canonical(&v),
            "{\"a\":{\"y\":\"æøå\",\"z\":\"\\u0001\"},\"b\":[1,-2,3.5,true,null,1e+30,0.000001]}"
        );
    }
}
