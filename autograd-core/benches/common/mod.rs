//! What the benchmarks share: the timing protocol and reading the process's memory.

use std::time::Instant;

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
