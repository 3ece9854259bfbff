//! Profiling aid: the side-by-side benchmark's broadcast case, `(m + row).sum().backward()` on
//! 1000x1000 + 1000 float32, in a loop, with each stage timed (`perf record` this).
use autograd_core::prelude::*;

fn main() {
    manual_seed(0);
    let m = rand_with(&[1000, 1000], TensorOptions::default().requires_grad(true));
    let row = rand_with(&[1000], TensorOptions::default().requires_grad(true));
    (&m + &row).sum().backward();
    let (mut forward, mut backward) = (0.0, 0.0);
    for _ in 0..200 {
        let t = std::time::Instant::now();
        let s = (&m + &row).sum();
        forward += t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        s.backward();
        backward += t.elapsed().as_secs_f64();
    }
    println!("forward {:.3} ms, backward {:.3} ms per step", forward * 5.0, backward * 5.0);
}
