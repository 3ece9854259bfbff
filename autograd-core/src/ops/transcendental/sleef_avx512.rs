//! SLEEF's float32 exp, and torch's sigmoid built on it, sixteen lanes at a time with
//! AVX-512 instructions chosen as SLEEF's own AVX-512 build chooses them.
//!
//! `sleef_expf_body` is written per element so that any build of the loop gives SLEEF's
//! bits; the compiler turns its rounding to an integer and its `2^q` into several vector
//! instructions each. Here they are one each: `vcvtps2dq` rounds to the nearest integer
//! (ties to even, `i32::MIN` for NaN and out-of-range values: exactly `rint_i32_f32`), and
//! `vscalefps` multiplies by `2^q` with one rounding. `ldexp2_f32` multiplies by `2^(q>>1)`
//! and then `2^(q-(q>>1))`; for every `q` that can reach the result (`-150 <= q <= 145`,
//! from `-104 <= d <= 100`; outside that the result is replaced by 0 or infinity) the first
//! product is an exact normal float32, so both round once, to the same float32. Every other
//! step is the same IEEE operation in the same order. Checked: the same bits as
//! `sleef_expf` and `sigmoid_vec_f32` on all 2^32 float32 inputs
//! (`examples/f32_math_check.rs`).

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use super::{by_sixteen, sigmoid_vec_f32_body, sleef_expf_body, Redo, L2LF, L2UF, R_LN2F};

/// `sleef_expf` on sixteen lanes.
#[inline]
#[target_feature(enable = "avx512f,fma")]
fn expf16(d: __m512) -> __m512 {
    let splat = _mm512_set1_ps;
    let q = _mm512_cvtps_epi32(_mm512_mul_ps(d, splat(R_LN2F)));
    let qf = _mm512_cvtepi32_ps(q);
    let s = _mm512_fmadd_ps(qf, splat(-L2UF), d);
    let s = _mm512_fmadd_ps(qf, splat(-L2LF), s);
    // the coefficients are C double literals, rounded to float (as `sleef_expf_body`)
    let mut u = splat(0.000198527617612853646278381_f64 as f32);
    u = _mm512_fmadd_ps(u, s, splat(0.00139304355252534151077271_f64 as f32));
    u = _mm512_fmadd_ps(u, s, splat(0.00833336077630519866943359_f64 as f32));
    u = _mm512_fmadd_ps(u, s, splat(0.0416664853692054748535156_f64 as f32));
    u = _mm512_fmadd_ps(u, s, splat(0.166666671633720397949219_f64 as f32));
    u = _mm512_fmadd_ps(u, s, splat(0.5));
    u = _mm512_add_ps(splat(1.0), _mm512_fmadd_ps(_mm512_mul_ps(s, s), u, s));
    u = _mm512_scalef_ps(u, qf);
    let u = _mm512_maskz_mov_ps(!_mm512_cmp_ps_mask::<_CMP_LT_OQ>(d, splat(-104.0)), u);
    _mm512_mask_mov_ps(u, _mm512_cmp_ps_mask::<_CMP_LT_OQ>(splat(100.0), d), splat(f32::INFINITY))
}

/// `1 / (1 + exp(0 - v))` on sixteen lanes (`one` is 1 in every lane).
#[inline]
#[target_feature(enable = "avx512f,fma")]
fn sigmoid16(v: __m512, one: __m512) -> __m512 {
    _mm512_div_ps(one, _mm512_add_ps(one, expf16(_mm512_sub_ps(_mm512_setzero_ps(), v))))
}

/// `sleef_expf` over a slice.
///
/// # Safety
/// The CPU must have AVX-512F and FMA.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn sleef_expf_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    // SAFETY: the caller's CPU has what `expf16` was compiled for
    unsafe {
        by_sixteen::<2>(
            x,
            out,
            Redo::AtOnce,
            |[d0, d1]| ([expf16(d0), expf16(d1)], u64::MAX),
            sleef_expf_body,
        )
    }
}

/// `sigmoid_vec_f32` over a slice: `1 / (1 + exp(0 - x))` as torch's vectorized kernel.
///
/// # Safety
/// The CPU must have AVX-512F and FMA.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn sigmoid_vec_f32_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    let one = _mm512_set1_ps(1.0);
    // SAFETY: as above
    unsafe {
        by_sixteen::<2>(
            x,
            out,
            Redo::AtOnce,
            |[v0, v1]| ([sigmoid16(v0, one), sigmoid16(v1, one)], u64::MAX),
            sigmoid_vec_f32_body,
        )
    }
}
