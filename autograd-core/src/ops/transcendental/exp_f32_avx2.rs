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
//!   first term left out is below 2^-44; the polynomial in Estrin's form, two independent
//!   halves), `|q| < 2^-10`;
//! * `T (1 + r + q)` with `T = T_hi + T_lo`: `s = T_hi + T_hi r_hi` in one fused
//!   multiply-add, and its rounding error in a second one (`T_hi - s` is exact: `s` is
//!   within 5% of `T_hi`); that error plus `T_hi q + T_lo + T_lo r_hi` is the tail, and
//!   `y = s + tail` with its remainder `e` (a two-sum);
//! * the larger `q` rounds with larger errors (about 2^-34 against 2^-37), so a lane must
//!   keep twice the margin, 2^-31, from a rounding boundary: about one lane in 128 is
//!   computed again;
//! * `2^k`: `k` added to the exponent field of `y` (exact: the lanes that are kept have
//!   `|x| <= 87`, so normal results);
//! * three vectors at a time, step by step side by side (see `by_eight`; two took 8% more
//!   time, four the same, six 35% more: the sixteen vector registers no longer hold them).
//!
//! Checked on all 2^32 float32 inputs (`examples/f32_math_check.rs`): the same bits as
//! `expf`. On an AMD EPYC (Zen) 2.1-2.3 ns an element on one thread (`examples/exp_speed.rs`),
//! where one vector after another with a product pair for `T_hi r_hi` took 2.8-3.0 ns and
//! the loop over `exp_f32` (float64 lanes, a gathered table) 3.9-5.0 ns. `exp_f32`'s own
//! float64 steps in four float64 lanes, with `vpgatherqq` for the table (no check needed),
//! took 20% more than that one-vector float32 code.

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use super::exp_f32_avx512::{exp2_tables, HALF_ULP, SHIFT};
use super::{by_eight, exp_f32_body};

/// `ln 2 / 8` split as `C1 + C2` (float32 each; `C1` the nearest float32).
const LN2_8: f64 = std::f64::consts::LN_2 / 8.0;
const C1: f32 = LN2_8 as f32;
const C2: f32 = (LN2_8 - C1 as f64) as f32;
/// The margin to a rounding boundary a lane must keep: twice `exp_f32_avx512`'s, for the
/// larger rounding errors of a polynomial on `|r| <= ln2/16`.
const MARGIN: f32 = 1.0 / 2147483648.0; // 2^-31
/// The inputs the float32 path keeps: results stay normal float32.
const IN_RANGE: f32 = 87.0;

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
    // SAFETY: the caller's CPU has what `vectors` was compiled for
    unsafe { by_eight::<3>(x, out, |v| vectors(v, t_hi, t_lo), exp_f32_body) }
}

/// `e^x` for `N` vectors of eight lanes, each step for all of them before the next, and
/// (one bit each, vector `j` at bits `8j..8j+8`) the lanes whose result is sure to be
/// `exp_f32`'s.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn vectors<const N: usize>(x: [__m256; N], t_hi: __m256, t_lo: __m256) -> ([__m256; N], u64) {
    // each step a loop over the vectors (a closure given to `array::map` would be compiled
    // without AVX and called, not inlined)
    let splat = _mm256_set1_ps;
    let c = |v: f64| splat(v as f32);
    let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let zero = _mm256_setzero_ps();
    let (mut shifted, mut r_hi, mut r_lo, mut r2, mut q) =
        ([zero; N], [zero; N], [zero; N], [zero; N], [zero; N]);
    for j in 0..N {
        // 1. x = k8 ln2/8 + r_hi + r_lo
        shifted[j] = _mm256_fmadd_ps(x[j], c(1.0 / LN2_8), splat(SHIFT));
        let k8 = _mm256_sub_ps(shifted[j], splat(SHIFT));
        r_hi[j] = _mm256_fnmadd_ps(k8, splat(C1), x[j]);
        r_lo[j] = _mm256_mul_ps(k8, splat(-C2));
    }
    for j in 0..N {
        // 2. e^r - 1 = r_hi + q, Taylor to degree 6: q = r_lo + r^2 (a + r^2 (b + r^2/720))
        let r = _mm256_add_ps(r_hi[j], r_lo[j]);
        r2[j] = _mm256_mul_ps(r, r);
        let a = _mm256_fmadd_ps(c(1.0 / 6.0), r, c(0.5));
        let b = _mm256_fmadd_ps(c(1.0 / 720.0), r2[j], _mm256_fmadd_ps(c(1.0 / 120.0), r, c(1.0 / 24.0)));
        q[j] = _mm256_fmadd_ps(r2[j], _mm256_fmadd_ps(b, r2[j], a), r_lo[j]);
    }
    let (mut y, mut sure) = ([zero; N], 0u64);
    for j in 0..N {
        // 3. 2^(j/8) = T_hi + T_lo, j the low three bits of `shifted` (what `vpermps` reads)
        let bits = _mm256_castps_si256(shifted[j]);
        let th = _mm256_permutevar8x32_ps(t_hi, bits);
        let tl = _mm256_permutevar8x32_ps(t_lo, bits);
        // 4. s = T_hi + T_hi r_hi rounded, its error, the tail T_hi q + T_lo + T_lo r_hi,
        //    and y + e = s + tail
        let sum = _mm256_fmadd_ps(th, r_hi[j], th);
        let sum_rest = _mm256_fmadd_ps(th, r_hi[j], _mm256_sub_ps(th, sum));
        let small = _mm256_fmadd_ps(th, q[j], _mm256_fmadd_ps(tl, r_hi[j], tl));
        let tail = _mm256_add_ps(sum_rest, small);
        y[j] = _mm256_add_ps(sum, tail);
        let e = _mm256_sub_ps(tail, _mm256_sub_ps(y[j], sum));
        // 5. sure when |e| keeps the margin from half a unit in the last place of y (y lies
        //    in [0.958, 1.963]: 2^-24, or 2^-25 below 1), and |x| <= 87 (false for NaN)
        let below_one = _mm256_cmp_ps::<_CMP_LE_OQ>(y[j], splat(1.0));
        let bound = _mm256_blendv_ps(splat(HALF_ULP - MARGIN), splat(HALF_ULP / 2.0 - MARGIN), below_one);
        let in_range = _mm256_cmp_ps::<_CMP_LE_OQ>(_mm256_and_ps(x[j], abs_mask), splat(IN_RANGE));
        let clear = _mm256_and_ps(in_range, _mm256_cmp_ps::<_CMP_LT_OQ>(_mm256_and_ps(e, abs_mask), bound));
        sure |= u64::from(_mm256_movemask_ps(clear) as u8) << (8 * j);
        // 2^k y, k = floor(k8 / 8): k8 is the integer in the low bits of `shifted` (less the
        // shift's own, whose bits all leave in the shift by 20); shifted to the exponent
        // field with the fraction bits cleared, that is k << 23
        let k = _mm256_and_si256(_mm256_slli_epi32::<20>(bits), _mm256_set1_epi32(0xff80_0000_u32 as i32));
        y[j] = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(y[j]), k));
    }
    (y, sure)
}
