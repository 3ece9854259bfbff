//! `py_float_repr` (what `.item()`, `show!` of a float and the printed lists use) prints what
//! CPython's `repr(float)` prints, for the numbers of `fixtures/py_float_repr.json` (made by
//! `tools/py_float_repr/record.py`): float32 values as `.item()` widens them, float64 values
//! of every magnitude, the switches to exponent form. Where two shortest decimal strings are
//! exactly as near the number, CPython takes the one with the even last digit
//! (`162.111114501953125` prints `162.11111450195312`).

// the numbers below are written out exactly (every digit of the float32 value)
#![allow(clippy::excessive_precision)]

use autograd_core::pydisplay::py_float_repr;
use serde_json::Value;

#[test]
fn float_repr_is_cpythons() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/py_float_repr.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() > 6000, "the fixture has its cases");
    let mut wrong = Vec::new();
    for case in cases {
        let bits = u64::from_str_radix(case[0].as_str().unwrap(), 16).unwrap();
        let expected = case[1].as_str().unwrap();
        let got = py_float_repr(f64::from_bits(bits));
        if got != expected {
            wrong.push(format!("{bits:016x}: CPython {expected}, ours {got}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} differ, e.g.\n{}",
        wrong.len(),
        cases.len(),
        wrong[..wrong.len().min(10)].join("\n")
    );
}

#[test]
fn halfway_shortest_digits_take_the_even_one() {
    // torch 2.15: `(3.0 ** x).sum().item()` in a fresh-seed differential program
    assert_eq!(py_float_repr(162.111114501953125), "162.11111450195312");
    assert_eq!(py_float_repr(12.840896606445312), "12.840896606445312");
    assert_eq!(py_float_repr(-162.111114501953125), "-162.11111450195312");
}
