//! `pow` with a float exponent against torch 2.15, bit for bit: `fixtures/pow.json`, recorded
//! by `tools/pow/record.py` (see there for each case; the inputs are regenerated here).
//!
//! torch takes `x ** 2.5`, `2 ** x` and `x.pow(y)` through SLEEF's `pow` where its kernel
//! goes a vector at a time and through the C library's `std::pow` elsewhere, so the result
//! and both gradients (`e * x^(e-1)` is a `pow` too) depend on the length, the layout and the
//! thread split. Every case must match exactly: specials and inputs of every magnitude with
//! each kind of exponent, then lengths, views and broadcasting. A NaN matches any NaN: no
//! print shows a NaN's sign or payload, and which of two NaN operands a product keeps is the
//! compiler's choice in torch's kernels.

use autograd_core::prelude::*;
use serde_json::Value;

mod fixture_bits;
use fixture_bits::{as_recorded, assert_all_match, decode, hash, same_as_recorded, tensor_bits, wide};

fn fixture() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pow.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn numbers(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|n| n.as_u64().unwrap() as usize).collect()
}

/// Bits (float32 widened) as the values `Tensor::from_vec` takes.
fn values(bits: &[u64], float64: bool) -> Vec<f64> {
    bits.iter().map(|&b| if float64 { f64::from_bits(b) } else { f32::from_bits(b as u32) as f64 }).collect()
}

/// record.py's `gradient`: uniform in [-2, 2) from the hash, in the dtype.
fn uniform(seed: u64, n: usize, float64: bool) -> Vec<f64> {
    (0..n as u64)
        .map(|i| {
            let v = (hash(seed, i) >> 11) as f64 / 9007199254740992.0 * 4.0 - 2.0;
            if float64 {
                v
            } else {
                v as f32 as f64
            }
        })
        .collect()
}

/// record.py's `tame`: `wide` with non-finite values and magnitudes from 1e6 made 1.5.
fn tame(seed: u64, n: usize, float64: bool, positive: bool) -> Vec<f64> {
    values(&wide(float64, seed, n as u64), float64)
        .into_iter()
        .map(|v| if v.is_finite() && v.abs() < 1e6 { v } else { 1.5 })
        .map(|v| if positive { v.abs() } else { v })
        .collect()
}

/// The case's input (and exponent tensor), as leaves.
fn inputs(f: &Value, case: &Value, dtype: DType) -> (Tensor, Option<Tensor>) {
    let float64 = dtype == DType::Float64;
    let spec = &case["input"];
    let leaf = |v: Vec<f64>, shape: &[usize]| Tensor::from_vec(v, shape, dtype).requires_grad_(true);
    if let Some(w) = spec.get("wide") {
        let specials = values(
            &decode(f["specials"][case["dtype"].as_str().unwrap()].as_str().unwrap(), float64),
            float64,
        );
        let generated =
            |w: &Value| values(&wide(float64, w[0].as_u64().unwrap(), w[1].as_u64().unwrap()), float64);
        let x: Vec<f64> = specials.iter().copied().chain(generated(w)).collect();
        let y = spec.get("exponent").map(|e| {
            let y: Vec<f64> = specials.iter().rev().copied().chain(generated(&e["wide"])).collect();
            leaf(y.clone(), &[y.len()])
        });
        return (leaf(x.clone(), &[x.len()]), y);
    }
    let t = &spec["tame"];
    let (seed, n) = (t[0].as_u64().unwrap(), t[1].as_u64().unwrap() as usize);
    let x = leaf(tame(seed, n, float64, spec["positive"].as_bool().unwrap()), &numbers(&spec["shape"]));
    let y = spec.get("exponent").map(|e| {
        let u = &e["uniform"];
        let v = uniform(u[0].as_u64().unwrap(), u[1].as_u64().unwrap() as usize, float64);
        leaf(v.into_iter().map(|v| v * 1.5).collect(), &numbers(&e["shape"]))
    });
    (x, y)
}

/// Whether `ours` are the recorded values, any NaN matching any NaN (see the module's doc).
fn matches(ours: &[u64], recorded: &Value, float64: bool) -> bool {
    let Some(text) = recorded.as_str() else { return same_as_recorded(ours, recorded, float64) };
    let nan = |b: u64| if float64 { f64::from_bits(b).is_nan() } else { f32::from_bits(b as u32).is_nan() };
    let theirs = decode(text, float64);
    theirs.len() == ours.len() && theirs.iter().zip(ours).all(|(&t, &o)| t == o || (nan(t) && nan(o)))
}

/// The op of a case, as a user writes it.
fn apply(op: &str, x: &Tensor, y: Option<&Tensor>) -> Tensor {
    let number = |text: &str| -> Scalar {
        if text.contains('.') {
            Scalar::Float(text.parse().unwrap())
        } else {
            Scalar::Int(text.parse().unwrap())
        }
    };
    if let Some(e) = op.strip_prefix("pow_") {
        match number(e) {
            Scalar::Int(i) => x.pow(i),
            s => x.pow(s.as_f64()),
        }
    } else if let Some(base) = op.strip_prefix("rpow_") {
        x.rpow(number(base))
    } else {
        x.pow(y.expect("a tensor exponent"))
    }
}

#[test]
fn pow_matches_torch_bit_for_bit() {
    let f = fixture();
    let cases = f["cases"].as_array().unwrap();
    let mut wrong = Vec::new();
    as_recorded(&f, || {
        for (k, case) in cases.iter().enumerate() {
            let op = case["op"].as_str().unwrap();
            let float64 = case["dtype"] == "float64";
            let dtype = if float64 { DType::Float64 } else { DType::Float32 };
            let (x, y) = inputs(&f, case, dtype);
            let seen = match case["input"]["view"].as_str() {
                Some("t") => x.t(),
                Some("narrow") => x.narrow(1, 1, x.shape()[1] - 1),
                Some("expand_rows") => x.expand([50, x.shape()[1]]),
                Some("expand_cols") => x.expand([x.shape()[0], 50]),
                _ => x.clone(),
            };
            let out = match op.strip_prefix("ipow_") {
                // in place, on a view of a copy (record.py)
                Some(e) => {
                    let copy = &x * 1.0;
                    let view = match case["input"]["view"].as_str() {
                        Some("t") => copy.t(),
                        _ => copy.narrow(1, 1, copy.shape()[1] - 1),
                    };
                    match e.contains('.') {
                        true => view.pow_(e.parse::<f64>().unwrap()),
                        false => view.pow_(e.parse::<i64>().unwrap()),
                    };
                    copy
                }
                None => apply(op, &seen, y.as_ref()),
            };
            let g = uniform(case["grad_seed"].as_u64().unwrap(), out.shape().iter().product(), float64);
            let out_bits = tensor_bits(&out);
            out.backward_with(&Tensor::from_vec(g, &out.shape(), dtype));
            let grad_bits = tensor_bits(&x.grad().expect("x gets a gradient"));
            for (what, ours) in [("out", out_bits), ("grad_x", grad_bits)] {
                if !matches(&ours, &case[what], float64) {
                    wrong.push(format!(
                        "case {k} ({op}, {}, {}): {what} differs",
                        case["dtype"], case["input"]
                    ));
                }
            }
        }
    });
    assert_all_match(&wrong, cases.len(), 200);
}
