//! Checks the float64 functions of ops/transcendental.rs that follow the C library's
//! algorithms (`exp_f64`, `log_f64`) against the C library itself, bit for bit, on a few hundred million
//! inputs (2^64 are too many to try them all, as `f32_math_check` does for float32): random
//! bit patterns over every exponent that reaches the formula, uniform ones over the whole
//! range, and every float64 next to the edges of the formula's range. Both the one-element
//! function and the slice function (the loop in its widest build) are compared. About a
//! minute on two cores:
//!
//!   cargo run --release -p autograd-core --example f64_math_check [NAME...] [--millions N]
//!
//! Prints one line per function with the number of inputs that differ, and the first few.

use std::mem::MaybeUninit;

use autograd_core::ops::transcendental::{exp_f64, exp_f64_slice, log_f64, log_f64_slice};
use rayon::prelude::*;

type Slice = fn(&[f64], &mut [MaybeUninit<f64>]);
/// A check: its name, the element function, the slice function, the reference, and the
/// edges of its formula's range (inputs on both sides of each are tried, both signs).
type Check = (&'static str, fn(f64) -> f64, Slice, fn(f64) -> f64, &'static [f64]);

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// SplitMix64: the same inputs on every run.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Block `b`'s inputs (65536 of them), by `b % 3`: random mantissas at one exponent (cycling
/// through 2^-60..2^11, both signs), uniform in [-800, 800], or close to 1.
fn block(b: u64) -> Vec<f64> {
    (0..1u64 << 16)
        .map(|i| {
            let bits = mix(b << 16 | i);
            match b % 3 {
                0 => {
                    let exponent = 1023 - 60 + (b / 3) % 72;
                    (bits & 0x800f_ffff_ffff_ffff) | exponent << 52
                }
                1 => (((bits >> 11) as f64 / (1u64 << 53) as f64) * 1600.0 - 800.0).to_bits(),
                _ => {
                    // 1 plus or minus d, d from 2^-53 to 2^-3 (log-uniform)
                    let exponent = 1023 - 53 + (bits >> 58) % 51;
                    let d = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | exponent << 52);
                    (if bits >> 57 & 1 == 0 { 1.0 + d } else { 1.0 - d }).to_bits()
                }
            }
        })
        .map(f64::from_bits)
        .collect()
}

/// The inputs of `x` where the element function, the slice function or the reference
/// disagree.
fn differing(x: &[f64], element: fn(f64) -> f64, slice: Slice, reference: fn(f64) -> f64) -> Vec<f64> {
    let mut out = vec![MaybeUninit::uninit(); x.len()];
    slice(x, &mut out);
    x.iter()
        // SAFETY: the slice function wrote every element
        .zip(out.into_iter().map(|o| unsafe { o.assume_init() }))
        .filter(|&(&v, s)| {
            let r = reference(v);
            !same(element(v), r) || !same(s, r)
        })
        .map(|(&v, _)| v)
        .collect()
}

fn main() {
    let checks: [Check; 2] = [
        ("exp_f64 vs C exp", exp_f64, exp_f64_slice, |x| x.exp(), &[512.0, 5.551115123125783e-17]),
        // around its polynomial near 1, the smallest normal, the largest
        (
            "log_f64 vs C log",
            log_f64,
            log_f64_slice,
            |x| x.ln(),
            &[1.0, 0.9375, 1.064697265625, 2.2250738585072014e-308, f64::MAX],
        ),
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let millions = args
        .iter()
        .position(|a| a == "--millions")
        .and_then(|i| args.get(i + 1))
        .map_or(200, |m| m.parse::<u64>().expect("--millions N"));
    let only: Vec<&String> =
        args.iter().filter(|a| !a.starts_with("--") && a.parse::<u64>().is_err()).collect();
    let blocks = (millions * 1_000_000) >> 16;
    for (name, element, slice, reference, edges) in checks {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let mut bad: Vec<f64> = (0..blocks)
            .into_par_iter()
            .flat_map_iter(|b| differing(&block(b), element, slice, reference))
            .collect();
        let near: Vec<f64> = edges
            .iter()
            .flat_map(|&e| {
                (e.to_bits() - 1000..e.to_bits() + 1000).flat_map(|b| [f64::from_bits(b), -f64::from_bits(b)])
            })
            .chain([
                0.0,
                -0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                f64::MAX,
                f64::MIN_POSITIVE,
                5e-324,
            ])
            .collect();
        bad.extend(differing(&near, element, slice, reference));
        let tried = (blocks << 16) + near.len() as u64;
        let first: Vec<String> =
            bad.iter().take(5).map(|b| format!("{b:e} (0x{:016x})", b.to_bits())).collect();
        println!("{name}: {} of {tried} inputs differ {}", bad.len(), first.join(", "));
    }
}
