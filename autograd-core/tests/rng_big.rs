//! `rand` and `randn` of big tensors against torch's, bit for bit: `fixtures/rng_big.json`,
//! recorded by `tools/rng_big/record.py` (a 64-bit FNV-1a hash of the values' bytes, and the
//! first and last values' bits). `rng.json` covers the small sizes call by call; these are
//! the sizes where the vectorized Box-Muller blocks and the tail block carry most values.

use autograd_core::prelude::*;
use serde_json::Value;

fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes
        .into_iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[test]
fn big_draws_have_torchs_bits() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rng_big.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 12);
    for case in cases {
        let shape: Vec<usize> =
            case["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let dtype = if case["dtype"] == "float32" { DType::Float32 } else { DType::Float64 };
        manual_seed(case["seed"].as_u64().unwrap());
        let options = TensorOptions::default().dtype(dtype);
        let t = if case["fn"] == "randn" { randn_with(&shape, options) } else { rand_with(&shape, options) };
        let (bytes, first, last): (Vec<u8>, u64, u64) = if dtype == DType::Float32 {
            let v = t.to_vec_f32();
            let bits = |x: f32| u64::from(x.to_bits());
            (v.iter().flat_map(|x| x.to_le_bytes()).collect(), bits(v[0]), bits(v[v.len() - 1]))
        } else {
            let v = t.to_vec_f64();
            (v.iter().flat_map(|x| x.to_le_bytes()).collect(), v[0].to_bits(), v[v.len() - 1].to_bits())
        };
        let what = format!("{} {} seed {} {:?}", case["fn"], case["dtype"], case["seed"], shape);
        assert_eq!(format!("{first:x}"), case["first"].as_str().unwrap(), "{what}: first value");
        assert_eq!(format!("{last:x}"), case["last"].as_str().unwrap(), "{what}: last value");
        assert_eq!(format!("{:016x}", fnv1a64(bytes)), case["fnv1a64"].as_str().unwrap(), "{what}: hash");
    }
}
