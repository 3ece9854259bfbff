//! The conformance fixtures measured on real PyTorch (see `fixtures/README.md`): the printer,
//! the random generator, and torch's file format.

use autograd_core::prelude::*;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture exists")).expect("valid JSON")
}

fn dtype(name: &str) -> DType {
    match name {
        "float32" => DType::Float32,
        "float64" => DType::Float64,
        "int64" => DType::Int64,
        "bool" => DType::Bool,
        other => panic!("unknown dtype {other}"),
    }
}

fn shape(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect()
}

fn number(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse::<f64>().unwrap_or_else(|_| panic!("bad float {s}")),
        Value::Bool(b) => *b as u8 as f64,
        Value::Number(n) => n.as_f64().unwrap(),
        other => panic!("unexpected value {other}"),
    }
}

#[test]
fn repr_matches_torch_for_every_fixture() {
    let cases = fixture("repr.json");
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 122);
    let mut failures = Vec::new();
    for case in cases {
        let dt = dtype(case["dtype"].as_str().unwrap());
        let values: Vec<f64> = case["values"].as_array().unwrap().iter().map(number).collect();
        let t = Tensor::from_vec(values, &shape(&case["shape"]), dt);
        if case["requires_grad"].as_bool().unwrap() {
            t.requires_grad_(true);
        }
        let expected = case["expected"].as_str().unwrap();
        let got = format!("{t}");
        if got != expected {
            failures.push(format!(
                "case {} ({}):\nexpected {expected}\n     got {got}",
                case["id"], case["note"]
            ));
        }
        assert_eq!(format!("{t:?}"), got, "Debug and Display agree");
    }
    assert!(failures.is_empty(), "{} of 122 differ:\n{}", failures.len(), failures.join("\n"));
}

fn bits(t: &Tensor) -> Vec<String> {
    match t.dtype() {
        DType::Float32 => t.to_vec_f32().iter().map(|v| format!("{:08x}", v.to_bits())).collect(),
        DType::Float64 => t.to_vec_f64().iter().map(|v| format!("{:016x}", v.to_bits())).collect(),
        _ => t.to_vec_i64().iter().map(|v| v.to_string()).collect(),
    }
}

#[test]
fn random_numbers_match_torch_bit_for_bit() {
    let seeds = fixture("rng.json");
    let mut calls = 0;
    for seed in seeds.as_array().unwrap() {
        manual_seed(seed["seed"].as_u64().unwrap());
        for call in seed["calls"].as_array().unwrap() {
            let sh = shape(&call["shape"]);
            let dt = dtype(call["dtype"].as_str().unwrap());
            let options = TensorOptions::default().dtype(dt);
            let t = match call["op"].as_str().unwrap() {
                "rand" => rand_with(&sh, options),
                "randn" => randn_with(&sh, options),
                "randint" => {
                    randint_with(call["low"].as_i64().unwrap(), call["high"].as_i64().unwrap(), &sh, options)
                }
                other => panic!("unknown op {other}"),
            };
            assert_eq!(t.shape(), sh);
            let expected: Vec<String> = call["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            assert_eq!(
                bits(&t),
                expected,
                "seed {} call {}: {} {:?} {:?}",
                seed["seed"],
                calls,
                call["op"],
                sh,
                dt
            );
            calls += 1;
        }
    }
    assert_eq!(calls, 55);
}

#[test]
fn torch_files_load_with_their_repr() {
    let files = fixture("pt_files.json");
    for (name, info) in files.as_object().unwrap() {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let t = load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.dtype(), dtype(info["dtype"].as_str().unwrap()), "{name}");
        assert_eq!(t.shape(), shape(&info["shape"]), "{name}");
        assert_eq!(t.to_string(), info["repr"].as_str().unwrap(), "{name}");
    }
}

#[test]
fn saved_files_round_trip_and_keep_torch_layout() {
    let dir = std::env::temp_dir().join(format!("autograd-core-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        Tensor::from_vec((0..27).map(|v| v as f64 / 7.0).collect(), &[3, 3, 3], DType::Float32),
        tensor!(20., dtype = float64),
        tensor!([[1, -2], [3, 400000]]),
        tensor!([true, false]),
        Tensor::from_vec((0..6).map(|v| v as f64).collect(), &[2, 3], DType::Float64).t(),
    ];
    for (i, t) in cases.iter().enumerate() {
        let path = dir.join(format!("t{i}.pt"));
        save(t, &path).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(back.to_string(), t.to_string());
        assert_eq!(back.shape(), t.shape());
        // the archive holds what torch.load expects, storage aligned to 64 bytes
        let mut zip = zip_entries(&path);
        zip.sort();
        assert!(zip.iter().any(|n| n.ends_with("/data.pkl")));
        assert!(zip.iter().any(|n| n.ends_with("/data/0")));
        assert!(zip.iter().any(|n| n.ends_with("/version")));
    }
    let requires = tensor!([1., 2.], requires_grad = true);
    let path = dir.join("grad.pt");
    save(&requires, &path).unwrap();
    assert!(load(&path).unwrap().requires_grad());
    assert!(load(dir.join("missing.pt")).is_err());
    std::fs::write(dir.join("junk.pt"), b"not a zip").unwrap();
    assert!(load(dir.join("junk.pt")).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

/// Names of the entries of a zip file, read from its central directory by hand so the test
/// does not trust the same zip code that wrote it.
fn zip_entries(path: &std::path::Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let eocd =
        bytes.windows(4).rposition(|w| w == [0x50, 0x4b, 0x05, 0x06]).expect("end of central directory");
    let count = u16::from_le_bytes([bytes[eocd + 10], bytes[eocd + 11]]) as usize;
    let mut pos = u32::from_le_bytes(bytes[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
    let mut names = Vec::new();
    for _ in 0..count {
        assert_eq!(&bytes[pos..pos + 4], &[0x50, 0x4b, 0x01, 0x02]);
        let name_len = u16::from_le_bytes([bytes[pos + 28], bytes[pos + 29]]) as usize;
        let extra = u16::from_le_bytes([bytes[pos + 30], bytes[pos + 31]]) as usize;
        let comment = u16::from_le_bytes([bytes[pos + 32], bytes[pos + 33]]) as usize;
        let local = u32::from_le_bytes(bytes[pos + 42..pos + 46].try_into().unwrap()) as usize;
        let name = String::from_utf8(bytes[pos + 46..pos + 46 + name_len].to_vec()).unwrap();
        if name.ends_with("/data/0") {
            let local_name = u16::from_le_bytes([bytes[local + 26], bytes[local + 27]]) as usize;
            let local_extra = u16::from_le_bytes([bytes[local + 28], bytes[local + 29]]) as usize;
            assert_eq!((local + 30 + local_name + local_extra) % 64, 0, "storage bytes are 64-byte aligned");
        }
        names.push(name);
        pos += 46 + name_len + extra + comment;
    }
    names
}
