//! Checks `exp_f32`, `log_f32`, `tanh_f32` and `cos_f32` below 1/16 (ops/transcendental.rs) on every
//! one of the 2^32 float32 inputs against what they replaced: the C library's `expf` and `logf`, and its
//! float64 `tanh` and `cos` rounded to float32; the slice forms of `sin_f32` and `cos_f32`
//! against their one-element forms; and the slice forms of SLEEF's exp and torch's vectorized sigmoid
//! (AVX-512 code of their own where the CPU has it) against their one-element forms. Both
//! the one-element functions and the slice functions (the loop in its widest build:
//! AVX-512, AVX2 or FMA, whichever this CPU has) are compared, bit for bit (any NaN equals
//! any NaN). A few minutes on two cores:
//!
//!   cargo run --release -p autograd-core --example f32_math_check [NAME...]
//!
//! With names (e.g. `tanh`), only the checks whose name contains one of them.
//!
//! Prints one line per function with the number of inputs that differ, and the first few.

use std::mem::MaybeUninit;

use autograd_core::ops::transcendental::{
    cos_f32, cos_f32_slice, exp_f32, exp_f32_slice, log_f32, log_f32_slice, log_f32_slice_portable,
    sigmoid_vec_f32, sigmoid_vec_f32_slice, sin_f32, sin_f32_slice, sleef_expf, sleef_expf_slice, tanh_f32,
    tanh_f32_slice,
};
use rayon::prelude::*;

type Slice = fn(&[f32], &mut [MaybeUninit<f32>]);
/// A check: its name, the element function, the slice function, the reference.
type Check = (&'static str, fn(f32) -> f32, Slice, fn(f32) -> f32);

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// The inputs whose element function, slice function or reference disagree.
fn differing(element: fn(f32) -> f32, slice: Slice, reference: fn(f32) -> f32) -> Vec<u32> {
    (0u32..1 << 16)
        .into_par_iter()
        .flat_map_iter(|high| {
            let x: Vec<f32> = (0u32..1 << 16).map(|low| f32::from_bits(high << 16 | low)).collect();
            let mut out = vec![MaybeUninit::uninit(); x.len()];
            slice(&x, &mut out);
            x.into_iter()
                // SAFETY: the slice function wrote every element
                .zip(out.into_iter().map(|o| unsafe { o.assume_init() }))
                .filter(|&(v, s)| {
                    let r = reference(v);
                    !same(element(v), r) || !same(s, r)
                })
                .map(|(v, _)| v.to_bits())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn main() {
    let checks: [Check; 8] = [
        ("exp_f32 vs C expf", exp_f32, exp_f32_slice, |x| x.exp()),
        ("log_f32 vs C logf", log_f32, log_f32_slice, |x| x.ln()),
        ("log_f32_slice_portable vs C logf", log_f32, log_f32_slice_portable, |x| x.ln()),
        ("tanh_f32 vs C tanh(f64) rounded", tanh_f32, tanh_f32_slice, |x| (x as f64).tanh() as f32),
        ("sleef_expf_slice vs sleef_expf", sleef_expf, sleef_expf_slice, sleef_expf),
        ("sigmoid_vec_f32_slice vs sigmoid_vec_f32", sigmoid_vec_f32, sigmoid_vec_f32_slice, sigmoid_vec_f32),
        // below 1/16 the float64 cos rounded (what `cos_small` replaced), SLEEF's above
        ("cos_f32 vs C cos(f64) rounded below 1/16", cos_f32, cos_f32_slice, |x| {
            if x.abs() < 0.0625 {
                (x as f64).cos() as f32
            } else {
                cos_f32(x)
            }
        }),
        ("sin_f32_slice vs sin_f32", sin_f32, sin_f32_slice, sin_f32),
    ];
    let only: Vec<String> = std::env::args().skip(1).collect();
    for (name, element, slice, reference) in checks {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let bad = differing(element, slice, reference);
        let first: Vec<String> =
            bad.iter().take(5).map(|&b| format!("{:e} (0x{b:08x})", f32::from_bits(b))).collect();
        println!("{name}: {} of 2^32 inputs differ {}", bad.len(), first.join(", "));
    }
}
