//! `sqrt` and `pow(0.5)` against torch 2.15's results, bit for bit: `fixtures/mkl_sqrt.json`,
//! recorded by `tools/mkl_sqrt/record.py` on an Intel Xeon with AVX-512, where torch's root is
//! MKL's and not IEEE's on about 0.6% of inputs (the fixture holds thousands of those, the
//! lowest and highest binades, subnormals and special values).
//!
//! Where autograd-core follows MKL's AVX-512 steps (`ops::mkl_sqrt::mkl_sqrt_active`: an Intel
//! processor with AVX-512) every result must be torch's. Elsewhere MKL runs other code, which
//! is not modelled, and the root must be IEEE's; the test says which of the two it checked.

use autograd_core::ops::mkl_sqrt::{mkl_sqrt_active, sqrt_f32, sqrt_f64};
use autograd_core::ops::mkl_vml::mkl_vml_path;
use autograd_core::prelude::*;
use serde_json::Value;

mod fixture_bits;
use fixture_bits::decode;

/// The inputs and torch's results of one dtype, as bits (float32 widened).
fn section(dtype: &str) -> (Vec<u64>, Vec<u64>) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mkl_sqrt.json"))
        .unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let part = &fixture[dtype];
    let float64 = dtype == "float64";
    let (input, torch) =
        (decode(part["input"].as_str().unwrap(), float64), decode(part["torch"].as_str().unwrap(), float64));
    assert_eq!(input.len(), part["count"].as_u64().unwrap() as usize);
    assert_eq!(input.len(), torch.len());
    (input, torch)
}

/// Whether two results are the same: equal bits, or both NaN (torch prints every NaN alike).
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Checks `results` against torch's (where MKL's steps are followed) or IEEE's root
/// (`ieee`), printing the first few that differ. Results of a tensor op come from MKL itself
/// where it is installed (`ops::mkl_vml`): torch's bits on a processor like the fixture's; on
/// another, MKL's code for that processor, which the fixture does not hold (not checked).
fn check(what: &str, inputs: &[f64], torch: &[f64], results: &[f64], ieee: impl Fn(f64) -> f64) {
    let mkl = mkl_sqrt_active();
    if what.contains("Tensor::") && mkl_vml_path().is_some() && !mkl {
        println!("{what}: MKL's own root on a processor unlike the fixture's: not checked");
        return;
    }
    let mut wrong = 0;
    for ((&x, &want), &got) in inputs.iter().zip(torch).zip(results) {
        let expected = if mkl { want } else { ieee(x) };
        if !same(got, expected) {
            wrong += 1;
            if wrong <= 5 {
                eprintln!("{what}: sqrt({x:e}) = {got:e}, expected {expected:e} (torch {want:e})");
            }
        }
    }
    println!(
        "{what}: {} inputs, checked against {}: {wrong} differ",
        inputs.len(),
        if mkl {
            "torch's (MKL's AVX-512 steps)"
        } else {
            "IEEE's root (MKL's steps not modelled on this CPU)"
        }
    );
    assert_eq!(wrong, 0, "{what}");
}

#[test]
fn float32_roots_are_torchs() {
    let (input, torch) = section("float32");
    let x: Vec<f32> = input.iter().map(|&b| f32::from_bits(b as u32)).collect();
    let want: Vec<f64> = torch.iter().map(|&b| f32::from_bits(b as u32) as f64).collect();
    let wide: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    // IEEE's root of a float32 is the float64 root rounded once
    let check32 = |what: &str, got: Vec<f64>| check(what, &wide, &want, &got, |v| (v as f32).sqrt() as f64);
    check32("float32 sqrt_f32", x.iter().map(|&v| sqrt_f32(v) as f64).collect());
    let t = Tensor::from_vec(wide.clone(), &[x.len()], DType::Float32);
    check32("float32 Tensor::sqrt", t.sqrt().to_vec_f64());
    check32("float32 Tensor::pow(0.5)", t.pow(0.5).to_vec_f64());
    // a strided view takes the same path
    let strided =
        Tensor::from_vec(wide.iter().flat_map(|&v| [v, 0.0]).collect(), &[x.len(), 2], DType::Float32);
    check32("float32 Tensor::sqrt of a strided view", strided.select(1, 0).sqrt().to_vec_f64());
}

#[test]
fn float64_roots_are_torchs() {
    let (input, torch) = section("float64");
    let x: Vec<f64> = input.iter().map(|&b| f64::from_bits(b)).collect();
    let want: Vec<f64> = torch.iter().map(|&b| f64::from_bits(b)).collect();
    check("float64 sqrt_f64", &x, &want, &x.iter().map(|&v| sqrt_f64(v)).collect::<Vec<_>>(), f64::sqrt);
    let t = Tensor::from_vec(x.clone(), &[x.len()], DType::Float64);
    check("float64 Tensor::sqrt", &x, &want, &t.sqrt().to_vec_f64(), f64::sqrt);
    check("float64 Tensor::pow(0.5)", &x, &want, &t.pow(0.5).to_vec_f64(), f64::sqrt);
}

#[test]
fn the_gradient_through_a_root_prints_as_torchs() {
    // torch 2.15 on the fixture's machine: x.pow(0.5).log() has gradient exactly 1 at 0.5
    // (MKL's root 0.7071067811865475; IEEE's ...476 gives 0.9999999999999998, `1.0000`)
    let x = tensor!([0.5, 0.0], requires_grad = true, dtype = float64);
    x.pow(0.5).log().sum().backward();
    let text = x.grad().unwrap().to_string();
    if mkl_sqrt_active() {
        assert_eq!(text, "tensor([1., inf], dtype=torch.float64)");
    } else {
        assert_eq!(text, "tensor([1.0000,    inf], dtype=torch.float64)");
    }
}
