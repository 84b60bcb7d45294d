//! `tillit::canon` writes numbers as ECMAScript does (RFC 8785 section 3.2.2.3), checked
//! against an implementation independent of tillit's: V8's Number#toString, on a seeded
//! corpus of doubles (RFC 8785 Appendix B's samples, every power of ten and its neighbours,
//! random bit patterns). `tests/oracles/numbers.mjs --check` (in scripts/test.sh) proves the
//! committed fixture is V8's own output.
#![cfg(not(target_arch = "wasm32"))]

use serde_json::{Number, Value};
use tillit::canon::canonical;

const CORPUS: &str = include_str!("fixtures/jcs-numbers.tsv");

#[test]
fn every_double_is_written_as_v8_writes_it() {
    let mut disagreements = Vec::new();
    let (mut n, mut exponential, mut positional) = (0, 0, 0);
    for line in CORPUS.lines().filter(|l| !l.starts_with('#')) {
        let (bits, v8) = line.split_once('\t').expect("a line of bits and text");
        let x = f64::from_bits(u64::from_str_radix(bits, 16).expect("16 hex digits"));
        let ours = canonical(&Value::Number(
            Number::from_f64(x).expect("a finite double"),
        ));
        if ours != v8 {
            disagreements.push(format!("{bits}: V8 {v8}, tillit {ours}"));
        }
        n += 1;
        if v8.contains('e') {
            exponential += 1;
        } else if v8.contains('.') {
            positional += 1;
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {n} doubles written differently from V8, first: {:?}",
        disagreements.len(),
        &disagreements[..disagreements.len().min(5)]
    );
    // A corpus cut short, or without one of the forms, must not pass quietly.
    assert!(
        n >= 8000 && exponential >= 1000 && positional >= 1000,
        "{n} doubles, {exponential} exponential, {positional} positional"
    );
}

/// RFC 8785 Appendix B, as printed there (not computed here).
#[test]
fn rfc8785_appendix_b() {
    for (bits, text) in [
        (0x0000000000000000u64, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0xffefffffffffffff, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xc340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44b52d02c7e14af5, "9.999999999999997e+22"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
        (0x444b1ae4d6e2ef4e, "999999999999999700000"),
        (0x444b1ae4d6e2ef4f, "999999999999999900000"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x41b3de4355555553, "333333333.3333332"),
        (0x41b3de4355555554, "333333333.33333325"),
        (0x41b3de4355555555, "333333333.3333333"),
        (0x41b3de4355555556, "333333333.3333334"),
        (0x41b3de4355555557, "333333333.33333343"),
        (0xbecbf647612f3696, "-0.0000033333333333333333"),
        (0x43143ff3c1cb0959, "1424953923781206.2"),
    ] {
        let x = f64::from_bits(bits);
        let v = Value::Number(Number::from_f64(x).unwrap());
        assert_eq!(canonical(&v), text, "{bits:016x}");
    }
}
