//! PyTorch's CPU random numbers, bit for bit (see the crate docs and `tests/rng.rs`).
//!
//! One MT19937 engine, seeded like `torch.manual_seed`, feeds `rand`, `randn` and `randint`
//! in row-major element order. `randn` has two paths, exactly as torch's CPU kernel: a
//! vectorised Box-Muller over blocks of 16 for 16 or more elements, and a scalar Box-Muller
//! with a one-value cache otherwise. For float32 the vector path uses the Cephes-style
//! `log_ps`/`sincos_ps` approximations of torch's x86 build, fused multiply-adds included;
//! on other CPUs torch itself may print slightly different float32 `randn` values.

use std::time::{SystemTime, UNIX_EPOCH};

const N: usize = 624;
const M: usize = 397;

/// The MT19937 engine plus torch's cached normal value.
#[derive(Clone)]
pub struct Generator {
    state: [u32; N],
    index: usize,
    seed: u64,
    next_normal: Option<f64>,
}

impl Generator {
    /// A generator seeded like `torch.manual_seed(seed)`.
    pub fn new(seed: u64) -> Self {
        let mut state = [0u32; N];
        state[0] = (seed & 0xFFFF_FFFF) as u32;
        for j in 1..N {
            let prev = state[j - 1];
            state[j] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(j as u32);
        }
        Generator { state, index: N, seed, next_normal: None }
    }

    /// Seeded from the clock, like torch's default generator at start-up.
    pub fn from_entropy() -> Self {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        Generator::new((nanos as u64) ^ ((std::process::id() as u64) << 32))
    }

    /// The seed this generator was last seeded with (`torch.initial_seed()`).
    pub fn initial_seed(&self) -> u64 {
        self.seed
    }

    fn twist(&mut self) {
        for i in 0..N {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % N] & 0x7FFF_FFFF);
            let mut next = self.state[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= 0x9908_B0DF;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    /// One 32-bit output (`random()` in torch's CPU generator).
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9D2C_5680;
        y ^= (y << 15) & 0xEFC6_0000;
        y ^ (y >> 18)
    }

    /// Two outputs, the first one high (`random64()`).
    pub fn next_u64(&mut self) -> u64 {
        let hi = self.next_u32() as u64;
        let lo = self.next_u32() as u64;
        (hi << 32) | lo
    }

    /// A float32 uniform in [0, 1): the low 24 bits of one draw.
    pub fn uniform_f32(&mut self) -> f32 {
        (self.next_u32() & 0x00FF_FFFF) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// A float64 uniform in [0, 1): the low 53 bits of a 64-bit draw.
    pub fn uniform_f64(&mut self) -> f64 {
        (self.next_u64() & ((1u64 << 53) - 1)) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// One standard normal from the scalar path (with its one-value cache).
    pub fn normal_scalar(&mut self) -> f64 {
        if let Some(cached) = self.next_normal.take() {
            return cached;
        }
        let u1 = self.uniform_f64();
        let u2 = self.uniform_f64();
        let r = (-2.0 * (-u2).ln_1p()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u1;
        self.next_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// `n` float32 uniforms, as `torch.rand(n)`.
    pub fn rand_f32(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.uniform_f32()).collect()
    }

    /// `n` float64 uniforms, as `torch.rand(n, dtype=float64)`.
    pub fn rand_f64(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.uniform_f64()).collect()
    }

    /// `n` float32 normals, as `torch.randn(n)`.
    pub fn randn_f32(&mut self, n: usize) -> Vec<f32> {
        if n < 16 {
            return (0..n).map(|_| self.normal_scalar() as f32).collect();
        }
        let mut data = self.rand_f32(n);
        box_muller_blocks_f32(&mut data[..n / 16 * 16]);
        if !n.is_multiple_of(16) {
            let tail = n - 16;
            for value in &mut data[tail..] {
                *value = self.uniform_f32();
            }
            box_muller_block_f32(&mut data[tail..]);
        }
        data
    }

    /// `n` float64 normals, as `torch.randn(n, dtype=float64)`.
    pub fn randn_f64(&mut self, n: usize) -> Vec<f64> {
        if n < 16 {
            return (0..n).map(|_| self.normal_scalar()).collect();
        }
        let mut data = self.rand_f64(n);
        for start in (0..=n - 16).step_by(16) {
            box_muller_block_f64(&mut data[start..start + 16]);
        }
        if !n.is_multiple_of(16) {
            let tail = n - 16;
            for value in &mut data[tail..] {
                *value = self.uniform_f64();
            }
            box_muller_block_f64(&mut data[tail..]);
        }
        data
    }

    /// `n` integers in `[low, high)`, as `torch.randint(low, high, (n,))`.
    pub fn randint(&mut self, low: i64, high: i64, n: usize) -> Vec<i64> {
        let range = high.wrapping_sub(low) as u64;
        (0..n)
            .map(|_| {
                let draw = if range >= (1 << 28) { self.next_u64() } else { self.next_u32() as u64 };
                (draw % range) as i64 + low
            })
            .collect()
    }
}

fn box_muller_block_f64(block: &mut [f64]) {
    for j in 0..8 {
        let u1 = 1.0 - block[j];
        let u2 = block[j + 8];
        let radius = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        block[j] = radius * theta.cos();
        block[j + 8] = radius * theta.sin();
    }
}

/// [`box_muller_block_f32`] on each block of 16 of `data` (a multiple of 16 long), the loop
/// compiled for the widest vector instructions the CPU has (`widest_build!`): the fused
/// multiply-adds of torch's AVX build are then instructions, not calls to the C library's
/// `fmaf` (which made `randn(1000, 1000)` ten times slower than torch's); the same bits.
fn box_muller_blocks_f32(data: &mut [f32]) {
    #[inline(always)]
    fn run(data: &mut [f32]) {
        for block in data.chunks_exact_mut(16) {
            box_muller_block_f32(block);
        }
    }
    crate::ops::transcendental::widest_build!(run(data: &mut [f32]))
}

#[inline(always)]
fn box_muller_block_f32(block: &mut [f32]) {
    for j in 0..8 {
        let u1 = 1.0 - block[j];
        let u2 = block[j + 8];
        let radius = (-2.0f32 * log_ps(u1)).sqrt();
        let theta = (2.0 * std::f64::consts::PI) as f32 * u2;
        let (sin, cos) = sincos_ps(theta);
        block[j] = radius * cos;
        block[j + 8] = radius * sin;
    }
}

/// Cephes' single-precision natural log, in the exact operation order of torch's AVX build.
// The constants keep Cephes' decimal spelling (rounded to f32 by the compiler), so they can be
// checked against the source they come from.
#[allow(clippy::excessive_precision, clippy::approx_constant)]
#[inline(always)]
fn log_ps(x: f32) -> f32 {
    const P: [f32; 9] = [
        7.037_683_6e-2,
        -1.151_461_031_0e-1,
        1.167_699_874_0e-1,
        -1.242_014_084_6e-1,
        1.424_932_278_7e-1,
        -1.666_805_766_5e-1,
        2.000_071_476_5e-1,
        -2.499_999_399_3e-1,
        3.333_333_117_4e-1,
    ];
    const Q1: f32 = -2.121_944_4e-4;
    const Q2: f32 = 0.693_359_375;
    const SQRTHF: f32 = 0.707_106_781_186_547_524;
    let x = x.max(f32::MIN_POSITIVE);
    let bits = x.to_bits();
    let mut e = ((bits >> 23) as i32 - 0x7f) as f32 + 1.0;
    let m = f32::from_bits((bits & 0x807F_FFFF) | 0x3F00_0000); // mantissa in [0.5, 1)
    let mut x = if m < SQRTHF {
        e -= 1.0;
        m - 1.0 + m
    } else {
        m - 1.0
    };
    let z = x * x;
    let mut y = P[0];
    for &p in &P[1..] {
        y = y.mul_add(x, p);
    }
    y *= x;
    y = y.mul_add(z, e * Q1);
    y -= z * 0.5;
    x += y;
    e.mul_add(Q2, x)
}

/// Cephes/Pommier single-precision sincos, in the exact operation order of torch's AVX build.
#[allow(clippy::excessive_precision)] // Cephes' decimal constants, as published
#[inline(always)]
fn sincos_ps(x: f32) -> (f32, f32) {
    const FOPI: f32 = 1.273_239_544_735_16;
    const DP1: f32 = -0.785_156_25;
    const DP2: f32 = -2.418_756_484_985_351_562_5e-4;
    const DP3: f32 = -3.774_894_977_445_941_08e-8;
    let sign_in = x.is_sign_negative();
    let mut x = x.abs();
    let mut j = (x * FOPI) as i32;
    j = (j + 1) & !1;
    let y = j as f32;
    x = y.mul_add(DP1, x);
    x = y.mul_add(DP2, x);
    x = y.mul_add(DP3, x);
    let z = x * x;
    let mut c = 2.443_315_711_809_948e-5f32.mul_add(z, -1.388_731_625_493_765e-3);
    c = c.mul_add(z, 4.166_664_568_298_827e-2);
    c *= z;
    c = c.mul_add(z, -(z * 0.5));
    c += 1.0;
    let mut s = (-1.951_529_589_1e-4f32).mul_add(z, 8.332_160_873_6e-3);
    s = s.mul_add(z, -1.666_665_461_1e-1);
    s *= z;
    s = s.mul_add(x, x);
    let (mut sin, mut cos) = if j & 2 != 0 { (c, s) } else { (s, c) };
    if sign_in ^ (j & 4 != 0) {
        sin = -sin;
    }
    if (!(j - 2)) & 4 != 0 {
        cos = -cos;
    }
    (sin, cos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_the_reference_stream() {
        // std::mt19937 with seed 5489 yields 3499211612 first; the 10000th output is 4123659995.
        let mut g = Generator::new(5489);
        assert_eq!(g.next_u32(), 3_499_211_612);
        for _ in 1..9999 {
            g.next_u32();
        }
        assert_eq!(g.next_u32(), 4_123_659_995);
    }

    #[test]
    fn seeding_clears_the_normal_cache() {
        let mut g = Generator::new(1);
        let first = g.normal_scalar();
        let mut h = Generator::new(1);
        h.normal_scalar();
        h = Generator::new(1);
        assert_eq!(h.normal_scalar(), first);
    }
}
