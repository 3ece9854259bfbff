//! Float sums and means agree with torch's to the last bit: the summation order of torch's CPU
//! kernel (`src/ops/sum_order.rs`) against `fixtures/sum_order.json`, recorded from torch 2.15
//! by `tools/sum_order/record.py` (seeded `randn` tensors, contiguous, transposed and
//! expanded, reduced over each dim, pairs of dims and everything).

use autograd_core::prelude::*;
use serde_json::Value;

fn bits(t: &Tensor) -> Vec<String> {
    let values = t.to_vec_f64();
    match t.dtype() {
        DType::Float32 => values.iter().map(|&v| format!("{:x}", (v as f32).to_bits())).collect(),
        _ => values.iter().map(|&v| format!("{:x}", v.to_bits())).collect(),
    }
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect()
}

#[test]
fn sums_and_means_match_torch_bit_for_bit() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sum_order.json"))
        .unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in fixture["cases"].as_array().unwrap() {
        let dtype = if case["dtype"] == "float32" { DType::Float32 } else { DType::Float64 };
        manual_seed(case["seed"].as_u64().unwrap());
        let base = randn_with(&usizes(&case["base_shape"]), TensorOptions::default().dtype(dtype));
        let shape = usizes(&case["shape"]);
        let x = match case["layout"].as_str().unwrap() {
            "transposed" => base.transpose(0, 1),
            "expanded" => base.expand(&shape),
            _ => base,
        };
        assert_eq!(x.shape(), shape);
        for result in case["results"].as_array().unwrap() {
            let (sum, mean) = match result["dims"].as_array() {
                None => (x.sum(), x.mean()),
                Some(dims) => {
                    let dims: Vec<i64> = dims.iter().map(|d| d.as_i64().unwrap()).collect();
                    (x.sum_dim(&dims, false), x.mean_dim(&dims, false))
                }
            };
            assert_eq!(sum.shape(), usizes(&result["sum_shape"]));
            let want = |key: &str| -> Vec<String> {
                result[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
            };
            for (what, got, want) in [("sum", bits(&sum), want("sum")), ("mean", bits(&mean), want("mean"))] {
                checked += 1;
                if got != want {
                    let wrong = got.iter().zip(&want).filter(|(a, b)| a != b).count();
                    failures.push(format!(
                        "{what} {:?} {} {:?} dims {}: {wrong} of {} values differ",
                        dtype,
                        case["layout"],
                        shape,
                        result["dims"],
                        want.len()
                    ));
                }
            }
        }
    }
    assert!(checked > 500, "the fixture holds the cases ({checked})");
    assert!(
        failures.is_empty(),
        "{} of {checked} results differ from torch's bits:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
