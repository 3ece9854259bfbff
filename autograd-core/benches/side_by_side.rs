//! The Rust half of the side-by-side benchmark with PyTorch (`bench/side_by_side.py` runs both
//! halves in turns and prints the ratios). Every case here has a twin, written the same way, in
//! that script; the timing protocol is the same on both sides: one warm-up, then best of 5
//! samples, each the mean of `runs` runs.
//!
//!   cargo bench -p autograd-core --bench side_by_side            every case, one line each
//!   cargo bench -p autograd-core --bench side_by_side -- --memory big_elementwise
//!       runs one case once and prints the process's peak resident memory (VmHWM)
//!   cargo bench -p autograd-core --bench side_by_side -- exp tanh
//!       only the cases whose names contain one of the words (e.g. to profile one)
//!   cargo bench -p autograd-core --bench side_by_side -- --serve
//!       prints `READY`, then runs the case named on each line of stdin (how the script takes
//!       turns with PyTorch case by case, each side in one process that stays warm)
//!
//! Output lines: `CASE <name> <best ms> <sample ms,...>` and `MEMORY <name> <before KiB> <peak KiB>`.

use autograd_core::prelude::*;

mod common;

use common::{chain_100_steps, gradient_descent, samples, status_kib};

/// A case: its name, runs per sample, and a maker that builds the inputs (seeded) and returns
/// the work to time.
type Case = (&'static str, usize, fn() -> Box<dyn FnMut()>);

fn leaf(shape: &[usize]) -> Tensor {
    rand_with(shape, TensorOptions::default().requires_grad(true))
}

fn cases() -> Vec<Case> {
    vec![
        ("gradient_descent_1000_steps", 20, || {
            Box::new(|| {
                gradient_descent(1000);
            })
        }),
        ("chain_100_steps", 20, || Box::new(chain_100_steps)),
        ("big_elementwise", 1, || {
            let (a, b) = (leaf(&[1000, 1000]), leaf(&[1000, 1000]));
            Box::new(move || (a.pow(2) + b.pow(3) + &a * &b).sum().backward())
        }),
        ("matmul_512", 1, || {
            let (m1, m2) = (leaf(&[512, 512]), leaf(&[512, 512]));
            Box::new(move || m1.matmul(&m2).mean().backward())
        }),
        ("broadcast_row_add", 1, || {
            let (m, row) = (leaf(&[1000, 1000]), leaf(&[1000]));
            Box::new(move || (&m + &row).sum().backward())
        }),
        ("exp_1m", 1, || {
            let x = rand(&[1000, 1000]);
            Box::new(move || drop(x.exp()))
        }),
        ("tanh_1m", 1, || {
            let x = rand(&[1000, 1000]);
            Box::new(move || drop(x.tanh()))
        }),
        ("sigmoid_1m", 1, || {
            let x = rand(&[1000, 1000]);
            Box::new(move || drop(x.sigmoid()))
        }),
        ("softmax_backward", 1, || {
            let x = leaf(&[1000, 1000]);
            Box::new(move || (x.softmax(1) * 2.0).sum().backward())
        }),
        ("mlp_step_batch_64", 5, || {
            let x = rand(&[64, 100]);
            let (w1, b1) = (leaf(&[100, 256]), leaf(&[256]));
            let (w2, b2) = (leaf(&[256, 10]), leaf(&[10]));
            Box::new(move || {
                let hidden = (x.matmul(&w1) + &b1).relu();
                let out = hidden.matmul(&w2) + &b2;
                out.pow(2).mean().backward();
                no_grad(|| {
                    for p in [&w1, &b1, &w2, &b2] {
                        let g = p.grad().unwrap();
                        p.sub_(&(&g * 0.01));
                        g.zero_();
                    }
                });
            })
        }),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--memory") {
        let name = args.get(at + 1).expect("--memory takes a case name");
        let (_, _, make) = cases().into_iter().find(|c| c.0 == name).expect("no such case");
        let before = status_kib("VmHWM:");
        manual_seed(0);
        let mut work = make();
        work();
        println!("MEMORY {name} {before} {}", status_kib("VmHWM:"));
        return;
    }
    if args.iter().any(|a| a == "--serve") {
        println!("READY");
        let all = cases();
        for line in std::io::stdin().lines() {
            let line = line.expect("stdin is readable");
            let case = all.iter().find(|c| c.0 == line.trim()).expect("no such case");
            run_case(case);
        }
        return;
    }
    let words: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    for case in cases() {
        if words.is_empty() || words.iter().any(|w| case.0.contains(w.as_str())) {
            run_case(&case);
        }
    }
}

/// Times one case and prints its `CASE` line.
fn run_case(&(name, runs, make): &Case) {
    manual_seed(0);
    let mut work = make();
    let s = samples(runs, &mut *work);
    let best = s.iter().copied().fold(f64::INFINITY, f64::min);
    let all: Vec<String> = s.iter().map(|v| format!("{v:.4}")).collect();
    println!("CASE {name} {best:.4} {}", all.join(","));
    // the script reads each line as it comes
    std::io::Write::flush(&mut std::io::stdout()).expect("stdout is writable");
}
