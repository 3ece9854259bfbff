//! Profiling aid: the benchmark's scalar gradient-descent step (`x.pow(2)`, zero the grad,
//! backward, update `x.data`; the same code, from `benches/common`), a million steps.
use autograd_core::prelude::*;

#[path = "../benches/common/mod.rs"]
#[allow(dead_code)]
mod common;

fn main() {
    let start = std::time::Instant::now();
    let x = tensor!(10, requires_grad = true, dtype = float64);
    let steps: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    for _ in 0..steps {
        common::gradient_descent_step(&x, 0.000001);
    }
    println!("{:.3} us per step (x = {})", start.elapsed().as_secs_f64() * 1e6 / steps as f64, x.item());
}
