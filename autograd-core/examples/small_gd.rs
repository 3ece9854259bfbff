//! Profiling aid: the benchmark's scalar gradient-descent loop (`x.pow(2)`, zero the grad,
//! backward, update `x.data`), a million steps.
use autograd_core::prelude::*;

fn main() {
    let start = std::time::Instant::now();
    let x = tensor!(10, requires_grad = true, dtype = float64);
    let steps: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    for _ in 0..steps {
        let y = x.pow(2);
        if let Some(g) = x.grad() {
            g.data().zero_();
        }
        y.backward();
        x.set_data(&(x.data() - 0.000001 * x.grad().unwrap()));
    }
    println!("{:.3} us per step (x = {})", start.elapsed().as_secs_f64() * 1e6 / steps as f64, x.item());
}
