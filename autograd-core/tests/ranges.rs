//! `arange` and `linspace` against torch 2.15's values, bit for bit: `fixtures/ranges.json`,
//! recorded by `tools/ranges/record.py` (seeded random float ranges of both dtypes, ranges
//! past torch's parallel grain on two threads, int64 ranges with float arguments, and
//! linspaces of 1 to 1000 points). torch computes these with fused multiply-adds in runs of
//! vectors, so the naive `start + i * step` differs in the last bit on many elements.

use autograd_core::prelude::*;
use serde_json::Value;

mod fixture_bits;
use fixture_bits::{as_recorded, crc32, decode};

/// An argument (Python's repr, as text) as the Rust number a user would pass: an integer
/// literal stays an integer. (Parsed by Rust, which rounds every digit string correctly.)
fn scalar(v: &Value) -> Scalar {
    let text = v.as_str().unwrap();
    match text.parse::<i64>() {
        Ok(i) => Scalar::Int(i),
        Err(_) => Scalar::Float(text.parse().unwrap()),
    }
}

fn float(v: &Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

/// The tensor's values as torch's `numpy().tobytes()` gives them.
fn bytes_of(t: &Tensor) -> Vec<u8> {
    match t.dtype() {
        DType::Float32 => t.to_vec_f32().iter().flat_map(|v| v.to_le_bytes()).collect(),
        DType::Float64 => t.to_vec_f64().iter().flat_map(|v| v.to_le_bytes()).collect(),
        DType::Int64 => t.to_vec_i64().iter().flat_map(|v| v.to_le_bytes()).collect(),
        DType::Bool => panic!("no bool ranges"),
    }
}

fn ours(case: &Value) -> Tensor {
    let dtype = match case["dtype"].as_str().unwrap() {
        "float32" => DType::Float32,
        "float64" => DType::Float64,
        _ => DType::Int64,
    };
    match case["fn"].as_str().unwrap() {
        "arange" => arange_with(
            scalar(&case["start"]),
            scalar(&case["end"]),
            scalar(&case["step"]),
            TensorOptions::default().dtype(dtype),
        ),
        _ => linspace(float(&case["start"]), float(&case["end"]), case["steps"].as_u64().unwrap() as usize),
    }
}

#[test]
fn ranges_match_torch_bit_for_bit() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ranges.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    // the fixture's long ranges were split over torch's threads as on two cores
    let cases = fixture["cases"].as_array().unwrap();
    let mut wrong = Vec::new();
    as_recorded(&fixture, || {
        for case in cases {
            let t = ours(case);
            let len = case["len"].as_u64().unwrap() as usize;
            let got = bytes_of(&t);
            let same = t.numel() == len
                && match case.get("crc32") {
                    Some(crc) => crc32(&got) as u64 == crc.as_u64().unwrap(),
                    None => {
                        let float64 = t.dtype() != DType::Float32;
                        let theirs = decode(case["values"].as_str().unwrap(), float64);
                        let width = if float64 { 8 } else { 4 };
                        let mine: Vec<u64> = got
                            .chunks_exact(width)
                            .map(|c| c.iter().rev().fold(0u64, |acc, &b| (acc << 8) | b as u64))
                            .collect();
                        mine == theirs
                    }
                };
            if !same {
                wrong.push(format!(
                    "{}({}, {}, {}) {}",
                    case["fn"].as_str().unwrap(),
                    case["start"],
                    case["end"],
                    if case["fn"] == "arange" { &case["step"] } else { &case["steps"] },
                    case["dtype"]
                ));
            }
        }
    });
    assert!(cases.len() > 190, "the fixture holds {} cases", cases.len());
    assert!(wrong.is_empty(), "{} of {} ranges differ from torch's: {:?}", wrong.len(), cases.len(), wrong);
}
