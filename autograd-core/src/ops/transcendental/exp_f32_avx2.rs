//! `exp_f32` over a slice in float32 lanes with AVX2, with the C library's bits.
//!
//! The method of `exp_f32_avx512` (its doc has the analysis): `e^x` as a float32 `y` plus a
//! remainder `e`, with each lane checked against the rounding boundaries, and the lanes too
//! close to one computed again by `exp_f32`. Eight lanes at a time, for CPUs without AVX-512
//! (most laptops, and AMD's processors before Zen 4), where a 32-entry table lookup costs
//! four `vpermps` and three blends per table; so here:
//! * `x = (8 k + j) ln2/8 + r`, `|r| <= ln2/16`, and the tables of `2^(j/8)` (high and low
//!   float32 parts) have eight entries: one `vpermps` each, which reads the low three bits
//!   of the shifted `x 8/ln2`;
//! * `e^r - 1 = r + q`, `q = r_lo + r^2 (1/2 + r/6 + ... + r^4/720)`, Taylor to degree 6 (the
//!   first term left out is below 2^-44), `|q| < 2^-10`;
//! * the larger `q` rounds with larger errors (about 2^-34 against 2^-37), so a lane must
//!   keep twice the margin, 2^-31, from a rounding boundary: about one lane in 128 is
//!   computed again;
//! * `2^k`: a float32 made from `k + 127` in the exponent field, and one multiplication
//!   (exact: the lanes that are kept have normal results, so `k >= -126`).
//!
//! Checked on all 2^32 float32 inputs (`examples/f32_math_check.rs`): the same bits as
//! `expf`. On an AMD EPYC (Zen) 2.8 ns an element on one thread, where the loop over
//! `exp_f32` (float64 lanes, a gathered table) takes 3.9-5.0 ns.

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use super::exp_f32_avx512::{exp2_tables, HALF_ULP, HIGHEST, LOWEST, SHIFT};
use super::{by_eight, exp_f32_body};

/// `ln 2 / 8` split as `C1 + C2` (float32 each; `C1` the nearest float32).
const LN2_8: f64 = std::f64::consts::LN_2 / 8.0;
const C1: f32 = LN2_8 as f32;
const C2: f32 = (LN2_8 - C1 as f64) as f32;
/// The margin to a rounding boundary a lane must keep: twice `exp_f32_avx512`'s, for the
/// larger rounding errors of a polynomial on `|r| <= ln2/16`.
const MARGIN: f32 = 1.0 / 2147483648.0; // 2^-31

/// `2^(j/8)` rounded to float32 (`hi`), and what is left of it (`lo`).
const TABLES: ([f32; 8], [f32; 8]) = exp2_tables();

/// `out[i] = exp_f32(x[i])` for every `i`, bit for bit.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn exp_f32_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    let (hi, lo) = &TABLES;
    // SAFETY: eight values from an eight-entry array, each
    let (t_hi, t_lo) = unsafe { (_mm256_loadu_ps(hi.as_ptr()), _mm256_loadu_ps(lo.as_ptr())) };
    // SAFETY: the caller's CPU has what `eight` was compiled for
    unsafe { by_eight(x, out, |v| eight(v, t_hi, t_lo), exp_f32_body) }
}

/// `e^x` for eight lanes, and (one bit each) the lanes whose result is sure to be
/// `exp_f32`'s.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn eight(x: __m256, t_hi: __m256, t_lo: __m256) -> (__m256, u8) {
    let splat = _mm256_set1_ps;
    // 1. x = k8 ln2/8 + r_hi + r_lo
    let shifted = _mm256_fmadd_ps(x, splat((1.0 / LN2_8) as f32), splat(SHIFT));
    let k8 = _mm256_sub_ps(shifted, splat(SHIFT));
    let r_hi = _mm256_fnmadd_ps(k8, splat(C1), x);
    let r_lo = _mm256_mul_ps(k8, splat(-C2));
    // 2. e^r - 1 = r_hi + q, Taylor to degree 6
    let r = _mm256_add_ps(r_hi, r_lo);
    let mut taylor = splat((1.0f64 / 720.0) as f32);
    for c in [1.0f64 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5] {
        taylor = _mm256_fmadd_ps(taylor, r, splat(c as f32));
    }
    let q = _mm256_fmadd_ps(_mm256_mul_ps(r, r), taylor, r_lo);
    // 3. 2^(j/8) = T_hi + T_lo, j the low three bits of `shifted` (what `vpermps` reads)
    let bits = _mm256_castps_si256(shifted);
    let th = _mm256_permutevar8x32_ps(t_hi, bits);
    let tl = _mm256_permutevar8x32_ps(t_lo, bits);
    // 4. T_hi + T_hi r_hi + (T_lo + T_lo r_hi + T_hi q) as y + e
    let product = _mm256_mul_ps(th, r_hi);
    let product_rest = _mm256_fmsub_ps(th, r_hi, product);
    let small = _mm256_fmadd_ps(th, q, _mm256_add_ps(_mm256_fmadd_ps(tl, r_hi, tl), product_rest));
    let sum = _mm256_add_ps(th, product);
    let sum_rest = _mm256_sub_ps(product, _mm256_sub_ps(sum, th));
    let tail = _mm256_add_ps(sum_rest, small);
    let y = _mm256_add_ps(sum, tail);
    let e = _mm256_sub_ps(tail, _mm256_sub_ps(y, sum));
    // 5. sure when |e| keeps the margin from half a unit in the last place of y (y lies in
    //    [0.958, 1.963]: 2^-24, or 2^-25 below 1)
    let below_one = _mm256_cmp_ps::<_CMP_LE_OQ>(y, splat(1.0));
    let bound = _mm256_blendv_ps(splat(HALF_ULP - MARGIN), splat(HALF_ULP / 2.0 - MARGIN), below_one);
    let abs_e = _mm256_and_ps(e, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff)));
    // false for NaN too
    let in_range = _mm256_and_ps(
        _mm256_cmp_ps::<_CMP_GE_OQ>(x, splat(LOWEST)),
        _mm256_cmp_ps::<_CMP_LE_OQ>(x, splat(HIGHEST)),
    );
    let clear = _mm256_and_ps(in_range, _mm256_cmp_ps::<_CMP_LT_OQ>(abs_e, bound));
    // 2^k, k = floor(k8 / 8): k8 is the integer in the low bits of `shifted` (less the
    // shift's own), and an arithmetic shift by three floors the division
    let k = _mm256_srai_epi32::<3>(_mm256_sub_epi32(bits, _mm256_castps_si256(splat(SHIFT))));
    let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(k, _mm256_set1_epi32(127))));
    (_mm256_mul_ps(y, scale), _mm256_movemask_ps(clear) as u8)
}
