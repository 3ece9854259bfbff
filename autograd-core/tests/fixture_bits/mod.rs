//! Floats stored in the fixtures as base64 of their little-endian bytes (what the recording
//! scripts under `tools/` write), decoded to their bits.

/// The bytes of a standard base64 text (padding allowed).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a') as u32 + 26,
            b'0'..=b'9' => (c - b'0') as u32 + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4) {
        let digits: Vec<u8> = chunk.iter().copied().filter(|&c| c != b'=').collect();
        let mut n = 0u32;
        for (i, &c) in digits.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        for i in 0..digits.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// Floats of one dtype as their bits (float32 widened to u64).
pub fn decode(text: &str, float64: bool) -> Vec<u64> {
    let bytes = base64(text);
    if float64 {
        bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect()
    } else {
        bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap()) as u64).collect()
    }
}

/// CRC-32 (IEEE, reflected), as Python's `zlib.crc32`: what the recorders store instead of
/// the values of a large tensor.
#[allow(dead_code)]
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// The CRC-32 of floats' little-endian bytes, given as their bits (float32 widened to u64).
#[allow(dead_code)]
pub fn crc32_of_bits(bits: &[u64], float64: bool) -> u32 {
    let bytes: Vec<u8> = if float64 {
        bits.iter().flat_map(|b| b.to_le_bytes()).collect()
    } else {
        bits.iter().flat_map(|&b| (b as u32).to_le_bytes()).collect()
    };
    crc32(&bytes)
}

/// A float tensor's values as bits (float32 widened to u64), row-major.
#[allow(dead_code)]
pub fn tensor_bits(t: &autograd_core::prelude::Tensor) -> Vec<u64> {
    match t.dtype() {
        autograd_core::prelude::DType::Float64 => t.to_vec_f64().iter().map(|v| v.to_bits()).collect(),
        _ => t.to_vec_f32().iter().map(|v| u64::from(v.to_bits())).collect(),
    }
}

/// Whether `ours` are the recorded values: base64 of the floats, or `{"crc32": ..}` of their
/// bytes for a large tensor.
#[allow(dead_code)]
pub fn same_as_recorded(ours: &[u64], recorded: &serde_json::Value, float64: bool) -> bool {
    match recorded.get("crc32") {
        Some(crc) => u64::from(crc32_of_bits(ours, float64)) == crc.as_u64().unwrap(),
        None => recorded.as_str().is_some_and(|text| decode(text, float64) == ours),
    }
}

/// Runs `f` as a recorder's fixture was made: on its `"threads"` (torch's threads then:
/// where a split falls decides bits), with products in MKL's AVX-512 order (the recorders
/// ran on an Intel CPU with AVX-512).
#[allow(dead_code)]
pub fn as_recorded<R: Send>(fixture: &serde_json::Value, f: impl FnOnce() -> R + Send) -> R {
    use autograd_core::ops::linalg::{set_mkl_kernels, MklKernels};
    set_mkl_kernels(MklKernels::Avx512);
    let threads = fixture["threads"].as_u64().expect("the fixture names its threads") as usize;
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool").install(f)
}

/// Fails listing every case that differs from the fixture (`wrong`, one line each) among its
/// `cases`, after checking the fixture holds more than `at_least` of them.
#[allow(dead_code)]
pub fn assert_all_match(wrong: &[String], cases: usize, at_least: usize) {
    assert!(cases > at_least, "the fixture holds {cases} cases");
    assert!(wrong.is_empty(), "{} of {cases} cases differ from torch:\n{}", wrong.len(), wrong.join("\n"));
}

#[allow(dead_code)]
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^ (z >> 31)
}

/// record.py's `h`: the hash of `(seed, i)` every recorder draws its inputs from.
#[allow(dead_code)]
pub fn hash(seed: u64, i: u64) -> u64 {
    splitmix64((seed << 32).wrapping_add(i))
}

/// tools/transcendental/record.py's `wide`: floats of every kind and magnitude, as bits.
#[allow(dead_code)]
pub fn wide(float64: bool, seed: u64, n: u64) -> Vec<u64> {
    (0..n)
        .map(|i| {
            let (r, b) = (hash(seed, 2 * i), hash(seed, 2 * i + 1));
            let u = (b >> 11) as f64 / 9007199254740992.0;
            let v = match r % 4 {
                0 => return if float64 { b } else { b & 0xFFFF_FFFF },
                1 => (u * 2.0 - 1.0) * 20.0,
                2 => (u * 2.0 - 1.0) * if float64 { 800.0 } else { 120.0 },
                _ => {
                    let e = if float64 { ((r >> 8) % 601) as i64 - 300 } else { ((r >> 8) % 81) as i64 - 40 };
                    let p = f64::from_bits(((1023 + e) as u64) << 52);
                    (1.0 + u) * p * if (r >> 4) & 1 == 1 { -1.0 } else { 1.0 }
                }
            };
            if float64 {
                v.to_bits()
            } else {
                (v as f32).to_bits() as u64
            }
        })
        .collect()
}
