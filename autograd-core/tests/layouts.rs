//! Reductions, softmax and matrix products over non-contiguous layouts against torch 2.15,
//! bit for bit: `fixtures/layouts.json`, recorded by `tools/layouts/record.py`. torch adds up
//! in an order that follows the input's layout (its TensorIterator sorts dims by stride and
//! merges neighbours, and the kernel it picks depends on the result), and its matrix-product
//! backward takes another form for a column-major input; the same values made contiguous
//! first would round differently.

use autograd_core::prelude::*;
use serde_json::Value;

mod fixture_bits;
use fixture_bits::{as_recorded, assert_all_match, same_as_recorded as same, tensor_bits as bits};

fn dims(v: &Value) -> Vec<isize> {
    v.as_array().unwrap().iter().map(|d| d.as_i64().unwrap() as isize).collect()
}

/// The case's op on the base tensor laid out as recorded, and the base (requires grad).
fn run(case: &Value) -> (Tensor, Tensor) {
    manual_seed(case["seed"].as_u64().unwrap());
    let dtype = if case["dtype"] == "float64" { DType::Float64 } else { DType::Float32 };
    let shape: Vec<usize> = dims(&case["shape"]).into_iter().map(|d| d as usize).collect();
    let mut base = randn_with(&shape, TensorOptions::default().dtype(dtype));
    if let Some(scale) = case["scale"].as_f64() {
        base = &base * scale;
    }
    if case["near_one"].as_bool() == Some(true) {
        base = &base + 1.0;
    }
    let base = base.requires_grad_(true);
    let mut t = base.clone();
    for step in case["layout"].as_array().unwrap() {
        let step = step.as_array().unwrap();
        let int = |k: usize| step[k].as_i64().unwrap() as isize;
        t = match step[0].as_str().unwrap() {
            "transpose" => t.transpose(int(1), int(2)),
            "permute" => t.permute(dims(&step[1])),
            "unsqueeze" => t.unsqueeze(int(1)),
            "expand" => t.expand(dims(&step[1])),
            "narrow" => t.narrow(int(1), int(2) as usize, int(3) as usize),
            other => panic!("layout step {other}"),
        };
    }
    let dim = case["dim"].as_i64().map(|d| d as isize);
    let keepdim = case["keepdim"].as_bool().unwrap();
    let p = case["p"].as_str().map(|p| if p == "inf" { f64::INFINITY } else { p.parse().unwrap() });
    let out = match (case["op"].as_str().unwrap(), dim) {
        ("sum", None) => t.sum(),
        ("sum", Some(d)) => t.sum_dim(d, keepdim),
        ("mean", None) => t.mean(),
        ("mean", Some(d)) => t.mean_dim(d, keepdim),
        ("prod", None) => t.prod(),
        ("prod", Some(d)) => t.prod_dim(d, keepdim),
        ("var", None) => t.var(),
        ("var", Some(d)) => t.var_dim(d, keepdim),
        ("std", None) => t.std(),
        ("std", Some(d)) => t.std_dim(d, keepdim),
        ("norm", None) => t.norm_p(p.unwrap()),
        ("norm", Some(d)) => t.norm_dim(p.unwrap(), d, keepdim),
        ("softmax", Some(d)) => t.softmax(d),
        ("log_softmax", Some(d)) => t.log_softmax(d),
        ("cumsum", Some(d)) => t.cumsum(d),
        ("sigmoid", _) => t.sigmoid(),
        ("mul", _) => &t * &t,
        ("mm", _) => {
            let m = t.reshape([t.size(0) as isize, -1]);
            m.t().mm(&m)
        }
        (other, _) => panic!("op {other}"),
    };
    (out, base)
}

#[test]
fn layouts_match_torch_bit_for_bit() {
    // LAYOUTS_FIXTURE: fresh cases of another seed (`record.py --seed`)
    let path = std::env::var("LAYOUTS_FIXTURE")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/layouts.json").to_string());
    let text = std::fs::read_to_string(path).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    let mut wrong = Vec::new();
    as_recorded(&fixture, || {
        for (n, case) in cases.iter().enumerate() {
            let (out, base) = run(case);
            let float64 = case["dtype"] == "float64";
            let mut what = Vec::new();
            if out.shape() != dims(&case["out_shape"]).iter().map(|&d| d as usize).collect::<Vec<_>>()
                || !same(&bits(&out), &case["out"], float64)
            {
                what.push("values");
            }
            (&out * 1.0).sum().backward();
            let same_grad = match base.grad() {
                Some(g) => same(&bits(&g), &case["grad"], float64),
                None => case["grad"].is_null(),
            };
            if !same_grad {
                what.push("gradient");
            }
            if what.is_empty() {
                continue;
            }
            let op = case["op"].as_str().unwrap();
            wrong.push(format!(
                "#{n} {} {} {} {op} dim {} keepdim {} p {}: {}",
                case["dtype"],
                case["shape"],
                case["layout"],
                case["dim"],
                case["keepdim"],
                case["p"],
                what.join(" and ")
            ));
        }
    });
    assert_all_match(&wrong, cases.len(), 400);
}
