//! How fast the float32 slice kernels of `ops/transcendental.rs` (exp, log, sigmoid, SLEEF's
//! exp, tanh) are on this CPU: nanoseconds per element on one thread (best of 20 calls over 2^20
//! inputs in [0, 1), six rounds in turns), and `Tensor::exp` on a 1000x1000 tensor with the
//! thread pool (best of 20, three rounds). Prints numbers, asserts nothing:
//!
//!   cargo run --release -p autograd-core --example exp_speed
//!
//! To compare two versions, build this example from each and run the binaries in turns.

use std::mem::MaybeUninit;

use autograd_core::ops::transcendental::{
    exp_f32_slice, log_f32_slice, sigmoid_vec_f32_slice, sleef_expf_slice, tanh_f32_slice,
};
use autograd_core::prelude::*;

type Slice = fn(&[f32], &mut [MaybeUninit<f32>]);

fn best_of(times: usize, mut f: impl FnMut()) -> f64 {
    (0..times)
        .map(|_| {
            let start = std::time::Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    let n = 1 << 20;
    // a linear congruential generator: the same inputs in every build
    let mut state = 12345u32;
    let x: Vec<f32> = (0..n)
        .map(|_| {
            state = state.wrapping_mul(1664525).wrapping_add(1013904223);
            (state >> 8) as f32 / 16777216.0
        })
        .collect();
    let mut out: Vec<MaybeUninit<f32>> = vec![MaybeUninit::uninit(); n];
    let tensor = rand(&[1000, 1000]);
    for round in 0..3 {
        let seconds = best_of(20, || drop(tensor.exp()));
        println!("round {round} Tensor::exp 1000x1000: {:.3} ms", seconds * 1e3);
    }
    let kernels: [(&str, Slice); 5] = [
        ("exp", exp_f32_slice),
        ("log", log_f32_slice),
        ("sigmoid", sigmoid_vec_f32_slice),
        ("sleef_expf", sleef_expf_slice),
        ("tanh", tanh_f32_slice),
    ];
    for round in 0..6 {
        for (name, kernel) in kernels {
            let seconds = best_of(20, || kernel(&x, &mut out));
            println!("round {round} {name}: {:.3} ns an element", seconds * 1e9 / n as f64);
        }
    }
}
