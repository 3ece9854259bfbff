//! Profiling aid: the benchmark's 100-step small-tensor chain (the same code, from
//! `benches/common`) in a loop.
#[path = "../benches/common/mod.rs"]
#[allow(dead_code)]
mod common;

fn main() {
    let start = std::time::Instant::now();
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5000);
    for _ in 0..n {
        common::chain_100_steps();
    }
    println!("{:.4} ms per chain", start.elapsed().as_secs_f64() * 1e3 / n as f64);
}
