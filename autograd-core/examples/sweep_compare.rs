//! Compares autograd-core with a recording of `tools/sweep/record.py`, op by op, bit for bit:
//! the result and every input's gradient of each case (any NaN matching any NaN). Prints one
//! line for each case that differs (how many elements, the first few positions), then a
//! count. A dev-time tool: differences in MKL's ops (exp, log, sin, cos, tanh) are expected
//! in a few elements (see `ops::transcendental`); anything else is worth a fixture.
//!
//!   /work/torch-venv/bin/python tools/sweep/record.py --out /tmp/sweep.json
//!   cargo run --release -p autograd-core --example sweep_compare -- /tmp/sweep.json

use autograd_core::prelude::*;
use serde_json::Value;

#[path = "../tests/fixture_bits/mod.rs"]
mod fixture_bits;
use fixture_bits::{decode, hash, tensor_bits};

fn shape(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|n| n.as_u64().unwrap() as usize).collect()
}

fn tensor(bits: &[u64], shape: &[usize], dtype: DType) -> Tensor {
    let values = bits
        .iter()
        .map(|&b| if dtype == DType::Float64 { f64::from_bits(b) } else { f32::from_bits(b as u32) as f64 })
        .collect();
    Tensor::from_vec(values, shape, dtype)
}

/// record.py's `uniform`: the gradient.
fn uniform(seed: u64, shape: &[usize], dtype: DType) -> Tensor {
    let n: usize = shape.iter().product();
    let values =
        (0..n as u64).map(|i| (hash(seed, i) >> 11) as f64 / 9007199254740992.0 * 4.0 - 2.0).collect();
    Tensor::from_vec(values, shape, dtype)
}

/// A number as Python wrote it in an op's name: an int, else a float.
fn number(text: &str) -> Scalar {
    text.parse::<i64>().map(Scalar::Int).unwrap_or_else(|_| Scalar::Float(text.parse().unwrap()))
}

/// The op of a case, as the Rust a user writes (record.py's `WIDE_OPS` and `SHAPED_OPS`).
fn apply(op: &str, t: &[Tensor]) -> Tensor {
    let x = &t[0];
    let y = || &t[1];
    if let Some(e) = op.strip_prefix("pow_").filter(|e| !e.ends_with("_abs")) {
        return match number(e) {
            Scalar::Int(i) => x.pow(i),
            e => x.pow(e.as_f64()),
        };
    }
    if let Some(base) = op.strip_prefix("rpow_") {
        return x.rpow(number(base));
    }
    match op {
        "u_exp" => x.exp(),
        "u_log" => x.log(),
        "u_sin" => x.sin(),
        "u_cos" => x.cos(),
        "u_tanh" | "tanh" => x.tanh(),
        "u_sigmoid" | "sigmoid" => x.sigmoid(),
        "u_relu" => x.relu(),
        "u_sqrt" => x.sqrt(),
        "u_abs" => x.abs(),
        "u_neg" => -x,
        "add" => x + y(),
        "sub" => x - y(),
        "mul" => x * y(),
        "div" => x / y(),
        "powt" => x.pow(y()),
        "maximum" => x.maximum(y()),
        "minimum" => x.minimum(y()),
        "add_alpha" => x.add_alpha(y(), 2.5),
        "sub_alpha" => x.sub_alpha(y(), 0.3),
        "rdiv" => 3.0 / x,
        "rsub" => 2.0 - x,
        "mul_number" => x * 0.1,
        "div_number" => x / 3.0,
        "add_number" => x + 0.1,
        "clamp" => x.clamp(Some(-1.0), Some(2.0)),
        "clamp_min" => x.clamp(Some(0.5), None),
        "square" => x * x,
        "sgn_times" => x.sgn() * x,
        "norm" => x.norm(),
        "norm_p1" => x.norm_p(1.0),
        "norm_p3" => x.norm_p(3.0),
        "norm_p1.5" => x.norm_p(1.5),
        "norm_inf" => x.norm_p(f64::INFINITY),
        "norm_dim" => x.norm_dim(2.0, -1, false),
        "norm_p3_dim0" => x.norm_dim(3.0, 0, false),
        "std" => x.std(),
        "var" => x.var(),
        "std_dim" => x.std_dim(-1, false),
        "var_dim0" => x.var_dim(0, false),
        "mean" => x.mean(),
        "mean_dim0" => x.mean_dim(0, false),
        "sum" => x.sum(),
        "prod" => (x / 1e4 + 1.0).prod(),
        "prod_dim" => (x / 1e4 + 1.0).prod_dim(-1, false),
        "cumsum" => x.cumsum(-1),
        "softmax" => x.softmax(-1),
        "log_softmax" => x.log_softmax(-1),
        "max" => x.max(),
        "max_dim" => x.max_dim(-1, false).0,
        "min" => x.min(),
        "div_abs" => x / &(x.abs() + 1.0),
        "matmul_self" if x.dim() == 2 => x.matmul(&x.t()),
        "matmul_self" => x.dot(x),
        "pow_2.5_abs" => x.abs().pow(2.5),
        _ => panic!("sweep_compare knows no op {op}"),
    }
}

/// Where `ours` and the recorded values differ (any NaN matching any NaN).
fn differing(ours: &[u64], recorded: &str, float64: bool) -> Vec<usize> {
    let theirs = decode(recorded, float64);
    let nan = |b: u64| if float64 { f64::from_bits(b).is_nan() } else { f32::from_bits(b as u32).is_nan() };
    (0..theirs.len().max(ours.len()))
        .filter(|&i| match (ours.get(i), theirs.get(i)) {
            (Some(&a), Some(&b)) => a != b && !(nan(a) && nan(b)),
            _ => true,
        })
        .collect()
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: sweep_compare RECORDING.json");
    let recording: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let (mut same, mut other) = (0, 0);
    for case in recording["cases"].as_array().unwrap() {
        let (op, float64) = (case["op"].as_str().unwrap(), case["dtype"] == "float64");
        let dtype = if float64 { DType::Float64 } else { DType::Float32 };
        let inputs: Vec<Tensor> = case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .zip(case["shapes"].as_array().unwrap())
            .map(|(bits, s)| {
                tensor(&decode(bits.as_str().unwrap(), float64), &shape(s), dtype).requires_grad_(true)
            })
            .collect();
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let out = apply(op, &inputs);
            let bits = tensor_bits(&out);
            let grad_seed = case["grad_seed"].as_u64().unwrap_or(0);
            out.backward_with(&uniform(grad_seed, &out.shape(), dtype));
            (bits, inputs.iter().map(|t| t.grad().map(|g| tensor_bits(&g))).collect::<Vec<_>>())
        }));
        let mut found = Vec::new();
        match (ran, case.get("error")) {
            (Err(_), Some(_)) => {}
            (Err(_), None) => found.push("we raised, torch ran".to_string()),
            (Ok(_), Some(e)) => found.push(format!("torch raised ({e}), we ran")),
            (Ok((out, grads)), None) => {
                let mut compare =
                    |what: String, ours: Option<&Vec<u64>>, theirs: &Value| match (ours, theirs.as_str()) {
                        (None, None) => {}
                        (Some(ours), Some(theirs)) => {
                            let d = differing(ours, theirs, float64);
                            if !d.is_empty() {
                                found.push(format!(
                                    "{what}: {} of {} differ, at {:?}",
                                    d.len(),
                                    ours.len(),
                                    &d[..d.len().min(5)]
                                ));
                            }
                        }
                        (ours, _) => {
                            found.push(format!("{what}: ours {}, torch's {}", ours.is_some(), theirs))
                        }
                    };
                compare("result".into(), Some(&out), &case["out"]);
                for (k, g) in grads.iter().enumerate() {
                    compare(format!("grad {k}"), g.as_ref(), &case["grads"][k]);
                }
            }
        }
        if found.is_empty() {
            same += 1;
        } else {
            other += 1;
            println!("{op} {} {}: {}", case["dtype"], case["shapes"], found.join("; "));
        }
    }
    println!("{same} cases the same as torch's, {other} differ");
}
