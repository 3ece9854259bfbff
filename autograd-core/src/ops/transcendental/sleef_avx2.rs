//! SLEEF's float32 exp, and torch's sigmoid built on it, eight lanes at a time with AVX2,
//! as SLEEF's own AVX2 build computes them (`Sleef_expf8_u10avx2`).
//!
//! As in `sleef_avx512`, except for `2^q`: AVX2 has no `vscalefps`, and SLEEF's AVX2 build
//! multiplies by `2^(q>>1)` and then by `2^(q-(q>>1))`, each a float32 made in the exponent
//! field — which is `ldexp2_f32`, step for step. Rounding `x / ln 2` to an integer is one
//! `vcvtps2dq` (ties to even, `i32::MIN` for NaN and out-of-range values: `rint_i32_f32`).
//! Checked: the same bits as `sleef_expf` and `sigmoid_vec_f32` on all 2^32 float32 inputs
//! (`examples/f32_math_check.rs`).

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use super::{by_eight, sigmoid_vec_f32_body, sleef_expf_body, L2LF, L2UF, R_LN2F};

/// `2^q` as a float32, for `-126 <= q <= 127`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn pow2i(q: __m256i) -> __m256 {
    _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(q, _mm256_set1_epi32(127))))
}

/// `sleef_expf` on eight lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn expf8(d: __m256) -> __m256 {
    let splat = _mm256_set1_ps;
    let q = _mm256_cvtps_epi32(_mm256_mul_ps(d, splat(R_LN2F)));
    let qf = _mm256_cvtepi32_ps(q);
    let s = _mm256_fmadd_ps(qf, splat(-L2UF), d);
    let s = _mm256_fmadd_ps(qf, splat(-L2LF), s);
    // the coefficients are C double literals, rounded to float (as `sleef_expf_body`)
    let mut u = splat(0.000198527617612853646278381_f64 as f32);
    u = _mm256_fmadd_ps(u, s, splat(0.00139304355252534151077271_f64 as f32));
    u = _mm256_fmadd_ps(u, s, splat(0.00833336077630519866943359_f64 as f32));
    u = _mm256_fmadd_ps(u, s, splat(0.0416664853692054748535156_f64 as f32));
    u = _mm256_fmadd_ps(u, s, splat(0.166666671633720397949219_f64 as f32));
    u = _mm256_fmadd_ps(u, s, splat(0.5));
    u = _mm256_add_ps(splat(1.0), _mm256_fmadd_ps(_mm256_mul_ps(s, s), u, s));
    // u 2^q as 2^(q>>1) 2^(q-(q>>1)); where q is out of range the lane is replaced below
    // (or is NaN: u is)
    let half = _mm256_srai_epi32::<1>(q);
    u = _mm256_mul_ps(_mm256_mul_ps(u, pow2i(half)), pow2i(_mm256_sub_epi32(q, half)));
    let u = _mm256_andnot_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(d, splat(-104.0)), u);
    _mm256_blendv_ps(u, splat(f32::INFINITY), _mm256_cmp_ps::<_CMP_LT_OQ>(splat(100.0), d))
}

/// `sleef_expf` over a slice.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn sleef_expf_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    // SAFETY: the caller's CPU has what `expf8` was compiled for
    unsafe { by_eight::<2>(x, out, |[d0, d1]| ([expf8(d0), expf8(d1)], u64::MAX), sleef_expf_body) }
}

/// `1 / (1 + exp(0 - v))` on eight lanes (`one`: 1.0 in each).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn sigmoid8(v: __m256, one: __m256) -> __m256 {
    _mm256_div_ps(one, _mm256_add_ps(one, expf8(_mm256_sub_ps(_mm256_setzero_ps(), v))))
}

/// `sigmoid_vec_f32` over a slice: `1 / (1 + exp(0 - x))` as torch's vectorized kernel.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn sigmoid_vec_f32_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    let one = _mm256_set1_ps(1.0);
    // SAFETY: as above
    unsafe {
        by_eight::<2>(
            x,
            out,
            |[v0, v1]| ([sigmoid8(v0, one), sigmoid8(v1, one)], u64::MAX),
            sigmoid_vec_f32_body,
        )
    }
}
