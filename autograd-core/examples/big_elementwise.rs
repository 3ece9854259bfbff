//! Profiling aid: the large elementwise benchmark case in a loop (`perf record` this).
use autograd_core::prelude::*;

fn main() {
    manual_seed(0);
    let a = rand_with(&[1000, 1000], TensorOptions::default().requires_grad(true));
    let b = rand_with(&[1000, 1000], TensorOptions::default().requires_grad(true));
    // one step first, as the kernel benchmark's setup cell does
    (a.pow(2) + b.pow(3) + &a * &b).sum().backward();
    let start = std::time::Instant::now();
    for _ in 0..200 {
        (a.pow(2) + b.pow(3) + &a * &b).sum().backward();
    }
    println!("{:.3} ms per step", start.elapsed().as_secs_f64() * 1e3 / 200.0);
}
