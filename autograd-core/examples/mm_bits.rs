//! The Rust half of `tools/gemm_order/compare.py`: reads the products that script wrote to a
//! folder (`cases.json` and each operand's raw little-endian bytes, stored row-major, a
//! transposed operand as its transpose), multiplies them with `mm`, `mv` (b's one column as
//! the vector) or `bmm` (`batch` matrices each) in the same layouts, and writes each
//! output's bytes next to them for the script to compare with torch's.
//!
//!   cargo run --release -p autograd-core --example mm_bits -- FOLDER

use autograd_core::prelude::*;
use std::io::Write;

fn main() {
    let dir = std::env::args().nth(1).expect("usage: mm_bits FOLDER");
    let cases: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{dir}/cases.json")).expect("cases.json"))
            .expect("json");
    for (i, case) in cases.as_array().expect("a list of cases").iter().enumerate() {
        let size = |key: &str| case[key].as_u64().expect("a size") as usize;
        let (m, k, n) = (size("m"), size("k"), size("n"));
        let layout = case["op"].as_str().expect("a layout");
        let float64 = case["dtype"] == "f64";
        let (ta, tb) = (layout == "at" || layout == "both", layout == "bt" || layout == "both");
        let batch = case["batch"].as_u64().unwrap_or(0) as usize;
        let load = |name: &str, rows: usize, cols: usize| -> Tensor {
            let bytes = std::fs::read(format!("{dir}/{i}_{name}.bin")).expect("operand");
            if float64 {
                let v = bytes.chunks(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
                Tensor::from_vec(v, &[batch.max(1) * rows, cols], DType::Float64)
            } else {
                let v = bytes.chunks(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
                Tensor::from_f32(v, &[batch.max(1) * rows, cols])
            }
        };
        // a batch of `rows x cols` matrices, or their transposes stored
        let operand = |name: &str, rows: usize, cols: usize, transposed: bool| -> Tensor {
            let (r, c) = if transposed { (cols, rows) } else { (rows, cols) };
            let t = load(name, r, c);
            match (batch > 0, transposed) {
                (false, false) => t,
                (false, true) => t.t(),
                (true, false) => t.reshape([batch as isize, r as isize, c as isize]),
                (true, true) => t.reshape([batch as isize, r as isize, c as isize]).transpose(1, 2),
            }
        };
        let a = operand("a", m, k, ta);
        let b = operand("b", k, n, tb);
        let c = match case["fn"].as_str().unwrap_or("mm") {
            "mv" => a.mv(&b.reshape([-1])),
            "dot" => a.reshape([-1]).dot(&b.reshape([-1])),
            "bmm" => a.bmm(&b),
            _ => a.mm(&b),
        }
        .to_vec_f64();
        let mut out = std::fs::File::create(format!("{dir}/{i}_ours.bin")).expect("output file");
        for v in c {
            if float64 {
                out.write_all(&v.to_le_bytes()).expect("write");
            } else {
                out.write_all(&(v as f32).to_le_bytes()).expect("write");
            }
        }
    }
}
