//! Measuring aid for the size from which ops run on all cores (`ops/kernel.rs`,
//! `PARALLEL_MIN`): times a few elementwise ops on float32 tensors of growing size. Run it
//! with `RAYON_NUM_THREADS=1` (every op on the calling thread) and without (large ops shared
//! out), and compare the two columns size by size:
//!
//!   cargo run --release -p autograd-core --example parallel_threshold
//!   RAYON_NUM_THREADS=1 cargo run --release -p autograd-core --example parallel_threshold
use std::time::Instant;

use autograd_core::prelude::*;

#[path = "../benches/common/mod.rs"]
#[allow(dead_code)]
mod common;

/// Best of `common::samples`' 5 samples (us), each the mean over enough runs to take about
/// 20 ms.
fn best_us(mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    f();
    let once = start.elapsed().as_secs_f64().max(1e-7);
    let runs = ((0.02 / once) as usize).clamp(1, 100_000);
    common::samples(runs, f).into_iter().fold(f64::INFINITY, f64::min) * 1e3
}

fn main() {
    manual_seed(0);
    println!("threads {}", rayon::current_num_threads());
    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>10} {:>10}  (us per op)",
        "elements", "exp", "sigmoid", "x + y", "x * 2", "sum"
    );
    for shift in 12..=18 {
        let n = 1usize << shift;
        let (x, y) = (rand(&[n]), rand(&[n]));
        let exp = best_us(|| drop(x.exp()));
        let sigmoid = best_us(|| drop(x.sigmoid()));
        let add = best_us(|| drop(&x + &y));
        let scale = best_us(|| drop(&x * 2.0));
        let sum = best_us(|| drop(x.sum()));
        println!("{n:>8} {exp:>10.2} {sigmoid:>10.2} {add:>10.2} {scale:>10.2} {sum:>10.2}");
    }
}
