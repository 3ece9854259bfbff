//! Profiling aid: the 100-step small-tensor chain benchmark case in a loop.
use autograd_core::prelude::*;

fn main() {
    let start = std::time::Instant::now();
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5000);
    for _ in 0..n {
        let x = tensor!([1., 2., 3., 4.], requires_grad = true, dtype = float64);
        let mut y = x.clone();
        for _ in 0..100 {
            y = &y * 1.01 + 0.5;
        }
        y.mean().backward();
    }
    println!("{:.4} ms per chain", start.elapsed().as_secs_f64() * 1e3 / n as f64);
}
