//! The Rust half of `tools/training_bits/compare.py`: trains a small model, full batch, the
//! same way the script does with torch, and prints each parameter's float32 bits (hex) and
//! the last loss, one line each, for the script to compare with torch's.
//!
//!   cargo run --release -p autograd-core --example training_bits -- lr|mlp-relu|mlp-tanh

use autograd_core::prelude::*;

fn bits(t: &Tensor) -> String {
    t.to_vec_f64().iter().map(|v| format!("{:08x}", (*v as f32).to_bits())).collect::<Vec<_>>().join(" ")
}

/// Steps of plain gradient descent on `params`, printing them and the last loss.
fn train(name: &str, params: &[(&str, &Tensor)], steps: usize, lr: f64, loss: impl Fn() -> Tensor) {
    let mut last = None;
    for _ in 0..steps {
        let l = loss();
        l.backward();
        no_grad(|| {
            for (_, p) in params {
                p.sub_(&(p.grad().expect("a gradient") * lr));
                p.grad().expect("a gradient").zero_();
            }
        });
        last = Some(l);
    }
    for (param, p) in params {
        println!("{name} {param} {}", bits(p));
    }
    println!("{name} loss {}", bits(&last.expect("at least one step")));
}

fn main() {
    let model = std::env::args().nth(1).expect("usage: training_bits lr|mlp-relu|mlp-tanh");
    manual_seed(0);
    match model.as_str() {
        "lr" => {
            // linear regression on 1000 samples of 3 features
            let x = randn(&[1000, 3]);
            let y = x.matmul(&tensor!([[1.5], [-2.0], [0.7]])) + randn(&[1000, 1]) * 0.1;
            let w = zeros(&[3, 1]).requires_grad_(true);
            let b = zeros(&[1]).requires_grad_(true);
            train("lr", &[("w", &w), ("b", &b)], 100, 0.1, || (x.matmul(&w) + &b - &y).pow(2).mean());
        }
        "mlp-relu" | "mlp-tanh" => {
            // 2 -> 16 -> 1 on 1000 samples
            let tanh = model == "mlp-tanh";
            let x = randn(&[1000, 2]);
            let z = x.matmul(&tensor!([[1.0], [-1.0]]));
            let y = if tanh { z.sin() } else { z.pow(2) };
            let w1 = (randn(&[2, 16]) * 0.5).requires_grad_(true);
            let b1 = zeros(&[16]).requires_grad_(true);
            let w2 = (randn(&[16, 1]) * 0.5).requires_grad_(true);
            let b2 = zeros(&[1]).requires_grad_(true);
            let params = [("w1", &w1), ("b1", &b1), ("w2", &w2), ("b2", &b2)];
            train(&model, &params, 50, 0.05, || {
                let pre = x.matmul(&w1) + &b1;
                let h = if tanh { pre.tanh() } else { pre.relu() };
                (h.matmul(&w2) + &b2 - &y).pow(2).mean()
            });
        }
        _ => panic!("unknown model {model}: lr, mlp-relu or mlp-tanh"),
    }
}
