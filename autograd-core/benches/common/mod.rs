//! What the benchmarks (and the profiling examples) share: the small-graph cases, the timing
//! protocol and reading the process's memory.

use std::time::Instant;

use autograd_core::prelude::*;

/// One step of the seed tutorial's scalar gradient descent on `x`: `y = x**2`, zero the old
/// gradient through `.data`, backward, then `x.data = x.data - lr * x.grad`.
pub fn gradient_descent_step(x: &Tensor, lr: f64) {
    let y = x.pow(2);
    if let Some(g) = x.grad() {
        g.data().zero_();
    }
    y.backward();
    x.set_data(&(x.data() - lr * x.grad().unwrap()));
}

/// `steps` steps of [`gradient_descent_step`] from `x = 10` (float64), learning rate 0.001.
pub fn gradient_descent(steps: usize) -> f64 {
    let x = tensor!(10, requires_grad = true, dtype = float64);
    for _ in 0..steps {
        gradient_descent_step(&x, 0.001);
    }
    x.item()
}

/// The 100-step chain `y = y*1.01 + 0.5` on 4 float64 values, then `mean().backward()`.
pub fn chain_100_steps() {
    let x = tensor!([1., 2., 3., 4.], requires_grad = true, dtype = float64);
    let mut y = x.clone();
    for _ in 0..100 {
        y = &y * 1.01 + 0.5;
    }
    y.mean().backward();
}

/// One warm-up run, then 5 samples (ms), each the mean of `runs` runs.
pub fn samples(runs: usize, mut f: impl FnMut()) -> Vec<f64> {
    f();
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..runs {
                f();
            }
            start.elapsed().as_secs_f64() * 1e3 / runs as f64
        })
        .collect()
}

/// A field of /proc/self/status in KiB (`VmRSS:`, `VmHWM:`); 0 where there is none.
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
