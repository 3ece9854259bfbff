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
//!   cargo bench -p autograd-core --bench side_by_side -- --survey
//!       the survey instead (`survey_cases`: one op at a time on 1000x1000 inputs, the twin
//!       of the script's `--survey`); it combines with the other switches
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

/// The inputs of the survey's cases (`survey_cases`): 1000x1000 float32 `x` (in [0, 1)) and
/// `y` (in [0.5, 1.5)), float64 `xd` and `yd`, leaves `a` and `b`, a bool mask `m`, 1000
/// indices, a 1000-vector, two 100x100 matrices and two batches of 32 64x64 matrices.
struct Inputs {
    x: Tensor,
    y: Tensor,
    xd: Tensor,
    yd: Tensor,
    a: Tensor,
    b: Tensor,
    m: Tensor,
    idx: Tensor,
    v: Tensor,
    xs: Tensor,
    ys: Tensor,
    bm1: Tensor,
    bm2: Tensor,
}

fn inputs() -> Inputs {
    let big = || rand(&[1000, 1000]);
    Inputs {
        x: big(),
        y: big() + 0.5,
        xd: rand_with(&[1000, 1000], TensorOptions::default().dtype(DType::Float64)),
        yd: rand_with(&[1000, 1000], TensorOptions::default().dtype(DType::Float64)),
        a: leaf(&[1000, 1000]),
        b: leaf(&[1000, 1000]),
        m: big().gt(0.5),
        idx: randint(0, 1000, &[1000]),
        v: rand(&[1000]),
        xs: rand(&[100, 100]),
        ys: rand(&[100, 100]),
        bm1: rand(&[32, 64, 64]),
        bm2: rand(&[32, 64, 64]),
    }
}

/// The survey (`--survey`): one op at a time on big inputs, the ops and sizes a tutorial
/// reaches for beyond the cases above, each the twin of `survey_cases` in the script.
fn survey_cases() -> Vec<Case> {
    macro_rules! op {
        ($name:literal, |$i:ident| $body:expr) => {
            ($name, 5, || {
                let $i = inputs();
                Box::new(move || {
                    let _ = $body;
                })
            })
        };
    }
    vec![
        op!("add", |i| &i.x + &i.y),
        op!("mul", |i| &i.x * &i.y),
        op!("div", |i| &i.x / &i.y),
        op!("mul_number", |i| &i.x * 2.0),
        op!("add_f64", |i| &i.xd + &i.yd),
        op!("sqrt", |i| i.x.sqrt()),
        op!("log", |i| i.x.log()),
        op!("sin", |i| i.x.sin()),
        op!("cos", |i| i.x.cos()),
        op!("abs", |i| i.x.abs()),
        op!("neg", |i| -&i.x),
        op!("relu", |i| i.x.relu()),
        op!("exp_f64", |i| i.xd.exp()),
        op!("tanh_f64", |i| i.xd.tanh()),
        op!("log_f64", |i| i.xd.log()),
        op!("sin_f64", |i| i.xd.sin()),
        op!("pow_2", |i| i.x.pow(2)),
        op!("pow_0.5", |i| i.x.pow(0.5)),
        op!("pow_2.5", |i| i.x.pow(2.5)),
        op!("pow_tensor", |i| i.x.pow(&i.y)),
        op!("sum", |i| i.x.sum()),
        op!("mean", |i| i.x.mean()),
        op!("sum_dim0", |i| i.x.sum_dim(0, false)),
        op!("sum_dim1", |i| i.x.sum_dim(1, false)),
        op!("sum_f64", |i| i.xd.sum()),
        op!("max", |i| i.x.max()),
        op!("max_dim1", |i| i.x.max_dim(1, false)),
        op!("std", |i| i.x.std()),
        op!("var_dim1", |i| i.x.var_dim(1, false)),
        op!("norm", |i| i.x.norm()),
        op!("prod_dim1", |i| i.x.prod_dim(1, false)),
        op!("softmax_dim1", |i| i.x.softmax(1)),
        op!("softmax_dim0", |i| i.x.softmax(0)),
        op!("log_softmax_dim1", |i| i.x.log_softmax(1)),
        op!("cumsum_dim1", |i| i.x.cumsum(1)),
        op!("cumsum_dim0", |i| i.x.cumsum(0)),
        op!("t_contiguous", |i| i.x.t().contiguous()),
        op!("t_add", |i| &i.x.t() + &i.y),
        op!("gt", |i| i.x.gt(0.5)),
        op!("masked_fill", |i| i.x.masked_fill(&i.m, 0.0)),
        op!("where", |i| where_(&i.m, &i.x, &i.y)),
        op!("clamp", |i| i.x.clamp(Some(0.2), Some(0.8))),
        op!("mm_1000", |i| i.x.matmul(&i.y)),
        op!("mv_1000", |i| i.x.mv(&i.v)),
        op!("bmm_32x64", |i| i.bm1.bmm(&i.bm2)),
        op!("mm_100", |i| i.xs.matmul(&i.ys)),
        op!("index_select", |i| i.x.index_select(0, &i.idx)),
        op!("cat", |i| cat(&[&i.x, &i.y], 0)),
        op!("stack", |i| stack(&[&i.x, &i.y], 0)),
        op!("rand", |_i| rand(&[1000, 1000])),
        op!("randn", |_i| randn(&[1000, 1000])),
        op!("backward_sin", |i| i.a.sin().sum().backward()),
        op!("backward_div", |i| (&i.a / &i.b).sum().backward()),
        op!("backward_relu", |i| i.a.relu().sum().backward()),
        op!("backward_log_softmax", |i| i.a.log_softmax(1).sum().backward()),
        op!("backward_norm", |i| i.a.norm().backward()),
        op!("backward_mean_dim", |i| i.a.mean_dim(1, false).sum().backward()),
        op!("backward_sigmoid", |i| i.a.sigmoid().sum().backward()),
        op!("backward_tanh", |i| i.a.tanh().sum().backward()),
        op!("backward_exp", |i| i.a.exp().sum().backward()),
        op!("backward_std", |i| i.a.std().backward()),
        op!("backward_max_dim", |i| i.a.max_dim(1, false).0.sum().backward()),
        op!("backward_pow_3", |i| i.a.pow(3).sum().backward()),
        op!("backward_t_mm", |i| i.a.t().matmul(&i.b).sum().backward()),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cases = if args.iter().any(|a| a == "--survey") { survey_cases } else { cases };
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
