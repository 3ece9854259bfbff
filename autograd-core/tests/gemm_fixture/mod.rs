//! The check shared by `gemm_order.rs` and `gemm_order_avx2.rs`: a fixture's products,
//! regenerated from its seeds, against torch's hashes.

use autograd_core::ops::linalg::{set_mkl_kernels, MklKernels};
use autograd_core::prelude::*;
use serde_json::Value;

const MASK: u64 = u64::MAX;

/// The recorder's generator: splitmix64.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15) & MASK;
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The recorder's `values`: uniform on [-1, 1) on the dtype's grid, or many signed zeros.
fn values(seed: u64, count: usize, float32: bool, zeros: bool) -> Vec<f64> {
    const ZEROS: [f64; 7] = [-1.0, -0.5, -0.0, 0.0, 0.0, 0.5, 1.0];
    let mut state = seed;
    (0..count)
        .map(|_| {
            let z = splitmix64(&mut state);
            if zeros {
                ZEROS[(z % 7) as usize]
            } else if float32 {
                ((z >> 40) as f64 - (1u64 << 23) as f64) / (1u64 << 23) as f64
            } else {
                ((z >> 11) as f64 - (1u64 << 52) as f64) / (1u64 << 52) as f64
            }
        })
        .collect()
}

fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01B3))
}

/// Every product of `fixtures/<file>` (recorded by `tools/gemm_order/record_fixture.py` on
/// a CPU whose MKL runs `kernels`) has torch's bits when autograd-core follows `kernels`.
pub fn products_match_torch(file: &str, kernels: MklKernels, min_cases: usize) {
    set_mkl_kernels(kernels);
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let mut failures = Vec::new();
    let cases = fixture["cases"].as_array().unwrap();
    for case in cases {
        let size = |key: &str| case[key].as_u64().unwrap() as usize;
        let (m, k, n) = (size("m"), size("k"), size("n"));
        let layout = case["layout"].as_str().unwrap();
        let float32 = case["dtype"] == "float32";
        let dtype = if float32 { DType::Float32 } else { DType::Float64 };
        let zeros = case["dist"] == "zeros";
        let seed = case["seed"].as_u64().unwrap();
        let (ta, tb) = (layout == "at" || layout == "both", layout == "bt" || layout == "both");
        // on as many threads as torch had (one unless the case says two)
        let threads = case["threads"].as_u64().unwrap_or(1) as usize;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let c = pool.install(|| {
            let a = if ta {
                Tensor::from_vec(values(seed, m * k, float32, zeros), &[k, m], dtype).t()
            } else {
                Tensor::from_vec(values(seed, m * k, float32, zeros), &[m, k], dtype)
            };
            let b = if tb {
                Tensor::from_vec(values(seed ^ 0x5555, k * n, float32, zeros), &[n, k], dtype).t()
            } else {
                Tensor::from_vec(values(seed ^ 0x5555, k * n, float32, zeros), &[k, n], dtype)
            };
            if case["fn"] == "dot" { a.reshape([-1]).dot(&b.reshape([-1])) } else { a.mm(&b) }.to_vec_f64()
        });
        let hash = if float32 {
            fnv1a(c.iter().flat_map(|&v| (v as f32).to_le_bytes()))
        } else {
            fnv1a(c.iter().flat_map(|&v| v.to_le_bytes()))
        };
        if format!("{hash:016x}") != case["fnv1a"].as_str().unwrap() {
            failures.push(format!(
                "{m}x{k}x{n} {layout} {} {} on {threads} thread(s): first elements {:?}, torch {}",
                case["dtype"],
                case["dist"],
                &c[..c.len().min(4)],
                case["head"]
            ));
        }
    }
    assert!(cases.len() >= min_cases, "the fixture lists {} products", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} products differ from torch:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
