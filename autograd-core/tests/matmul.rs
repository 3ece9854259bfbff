//! `matmul` (`a @ b`) on inputs of 1 to 4 dims against torch 2.15: the result's bits and
//! shape, every node of its graph, both gradients, or torch's error (`fixtures/matmul.json`,
//! recorded by `tools/matmul/record.py`). torch picks `dot`, `mv`, `mm` on folded batch
//! dims (transposed when the right side is the larger) or `bmm` on inputs expanded to their
//! broadcast batch shape, by ranks, strides and which input requires grad; a teacher sees
//! the choice in `grad_fn` and in the last digits. The gradients are checked twice: from
//! `(out * 1.0).sum()` and from `out.sum()`, whose gradient arrives expanded (stride 0), which
//! torch's `mv` sums in its own loop rather than in MKL's order.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use autograd_core::error::TorchError;
use autograd_core::prelude::*;
use serde_json::Value;

mod fixture_bits;
use fixture_bits::{as_recorded, assert_all_match, same_as_recorded as same, tensor_bits as bits};

/// Held by each test while it draws random numbers (the generator is the process's, and the
/// tests of one binary run on threads side by side).
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn dims(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect()
}

/// The graph's nodes depth first, a node met again named but not walked again (as the
/// recorder's `graph`).
fn graph(node: Option<Node>, out: &mut Vec<String>, seen: &mut HashSet<u64>) {
    let Some(node) = node else { return };
    out.push(node.name());
    if !seen.insert(node.id()) {
        return;
    }
    for (child, _) in node.next_functions() {
        graph(child, out, seen);
    }
}

/// What differs from the recorded case (empty when nothing does).
fn check(case: &Value) -> Vec<String> {
    manual_seed(case["seed"].as_u64().unwrap());
    let dtype = if case["dtype"] == "float64" { DType::Float64 } else { DType::Float32 };
    let float64 = dtype == DType::Float64;
    let opts = TensorOptions::default().dtype(dtype);
    let a = randn_with(&dims(&case["a"]), opts);
    let b = randn_with(&dims(&case["b"]), opts);
    let rg = case["requires_grad"].as_array().unwrap();
    let a = a.requires_grad_(rg[0].as_bool().unwrap());
    let b = b.requires_grad_(rg[1].as_bool().unwrap());
    let x = if case["transposed"].as_bool().unwrap() { a.transpose(-2, -1) } else { a.clone() };
    let out = catch_unwind(AssertUnwindSafe(|| x.matmul(&b)));
    let mut wrong = Vec::new();
    let out = match (out, case.get("error")) {
        (Err(payload), Some(want)) => {
            let e = TorchError::from_payload(&*payload);
            let got = format!("{}: {}", e.kind.name(), e.message);
            if got != want.as_str().unwrap() {
                wrong.push(format!("error {got:?}, torch's {want}"));
            }
            return wrong;
        }
        (Err(_), None) => return vec!["raised where torch ran".into()],
        (Ok(_), Some(want)) => return vec![format!("ran where torch raised {want}")],
        (Ok(out), None) => out,
    };
    if out.shape() != dims(&case["out_shape"]) || !same(&bits(&out), &case["out"], float64) {
        wrong.push(format!("values (shape {:?})", out.shape()));
    }
    let mut names = Vec::new();
    graph(out.grad_fn(), &mut names, &mut HashSet::new());
    let want: Vec<&str> = case["graph"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    if names != want {
        wrong.push(format!("graph {names:?}, torch's {want:?}"));
    }
    (&out * 1.0).sum().backward();
    let mut gradients = |names: [&str; 2]| {
        for (name, t) in names.into_iter().zip([&a, &b]) {
            let same_grad = match t.grad() {
                Some(g) => same(&bits(&g), &case[name], float64),
                None => case[name].is_null(),
            };
            if !same_grad {
                wrong.push(name.to_string());
            }
        }
    };
    gradients(["grad_a", "grad_b"]);
    // again from `out.sum()`, whose gradient reaches the product expanded (stride 0)
    a.set_grad(None);
    b.set_grad(None);
    x.matmul(&b).sum().backward();
    gradients(["grad_a_sum", "grad_b_sum"]);
    wrong
}

#[test]
fn matmul_matches_torch_values_graph_and_gradients() {
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/matmul.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let wrong: Vec<String> = as_recorded(&fixture, || {
        cases
            .iter()
            .filter_map(|case| {
                // (a panic of the check itself is a difference too, never a silent failure)
                let w = catch_unwind(AssertUnwindSafe(|| check(case)))
                    .unwrap_or_else(|p| vec![format!("panicked: {}", TorchError::from_payload(&*p).message)]);
                (!w.is_empty()).then(|| {
                    format!(
                        "{:?}{} @ {:?} {} rg {}: {}",
                        dims(&case["a"]),
                        if case["transposed"].as_bool().unwrap() { ".mT" } else { "" },
                        dims(&case["b"]),
                        case["dtype"],
                        case["requires_grad"],
                        w.join("; ")
                    )
                })
            })
            .collect()
    });
    std::panic::set_hook(hook);
    assert_all_match(&wrong, cases.len(), 200);
}

/// One operand of a `bmm_layouts` case, as the recorder makes it: seeded `randn` in the
/// layout's stored shape, some elements made signed zeros (`x * (mask > 0)`), then viewed.
fn bmm_operand(batch: usize, rows: usize, cols: usize, layout: &str, dtype: DType) -> Tensor {
    let stored = match layout {
        "contiguous" => [batch, rows, cols],
        "transposed" => [batch, cols, rows],
        _ => [rows, cols, batch],
    };
    let opts = TensorOptions::default().dtype(dtype);
    let x = randn_with(&stored, opts);
    let x = &x * &randn_with(&stored, opts).gt(0.0);
    match layout {
        "contiguous" => x,
        "transposed" => x.transpose(1, 2),
        _ => x.permute([2, 0, 1]),
    }
}

#[test]
fn bmm_of_each_layout_matches_torch() {
    // torch multiplies batch by batch with addmm where an operand's matrices are neither row-
    // nor column-major (a one-term sum is then the product itself: -0 stays -0), else with its
    // batched gemm (the product added to +0)
    let _seeded = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/matmul.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let cases = fixture["bmm_layouts"].as_array().unwrap();
    let wrong: Vec<String> = as_recorded(&fixture, || {
        cases
            .iter()
            .filter(|case| {
                manual_seed(case["seed"].as_u64().unwrap());
                let float64 = case["dtype"] == "float64";
                let dtype = if float64 { DType::Float64 } else { DType::Float32 };
                let [b, m, k, n] = <[usize; 4]>::try_from(dims(&case["shape"])).unwrap();
                let layouts = &case["layouts"];
                let x = bmm_operand(b, m, k, layouts[0].as_str().unwrap(), dtype);
                let y = bmm_operand(b, k, n, layouts[1].as_str().unwrap(), dtype);
                !same(&bits(&x.bmm(&y)), &case["out"], float64)
            })
            .map(|case| format!("{} {} {}", case["shape"], case["layouts"], case["dtype"]))
            .collect()
    });
    assert_all_match(&wrong, cases.len(), 50);
}
