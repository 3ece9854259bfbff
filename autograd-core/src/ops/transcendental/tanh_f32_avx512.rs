//! `tanh_f32` over a slice with AVX-512, with the same bits.
//!
//! `tanh_f32` computes `tanh |x| = (e^2a - 1) / (e^2a + 1)` in float64 with SLEEF's
//! degree-12 exp polynomial and a division, then rounds once to float32; a loop over it runs
//! eight lanes at a time and is bound by the division (about 16 cycles per vector). Here the
//! same quotient is computed more cheaply, with an error far below float32's rounding, and
//! each lane checks that its rounding cannot differ from `tanh_f32`'s; the few that cannot
//! tell are computed again by `tanh_f32` itself.
//!
//! For `a = min(|x|, 10)` in float64 lanes (from 10 on the result rounds to 1 either way):
//! 1. `2a = (16 m + j) ln2/16 + r`, `|r| <= ln2/32`, with the 1.5 * 2^52 shift (its low bits
//!    are `k = 16 m + j`); `r = 2a - k ln2/16` in one fused multiply-add with `ln 2` as one
//!    float64 (`|k| <= 462`: its error of at most 2^-58 a step adds under 2^-49 to `r`,
//!    and nothing where `a` is small and `k` is 0).
//! 2. `e^r - 1 = p`, a degree-5 polynomial within 2^-41.1 of it, relative (`EXPM1_COEFFICIENTS`).
//! 3. `S = 2^m 2^(j/16)` from a 16-entry table (one `vpermt2pd`) and the exponent field;
//!    `e^2a - 1 = S p + (S - 1)`, one fused rounding (`S - 1` is exact: no cancellation for
//!    small `a`, where `S` is 1 and the sum is `p`).
//! 4. The quotient by `vrcp14pd`, one Newton step and one correction of the remainder.
//!
//! The float64 quotient is within about 2^-40.9 of the true `tanh`, relative: the
//! polynomial's 2^-41.1, carried into `e^2a - 1` at most 1.1 times (`|S p| <= 1.1 |e^2a - 1|`
//! where `S > 1`), and the table's rounding, magnified where `e^2a - 1` is small against `S`
//! (about 2^-45). So its rounding to float32 is the true value's, and `tanh_f32`'s, unless
//! it lies within 2^13 float64 units in the last place (2^-39 relative) of a point halfway
//! between two float32: those lanes, about one in 2^15, go to `tanh_f32`. Below 2^-13 the result is `x` itself (`x^3/3` is under a quarter of
//! float32's spacing there, subnormals included), and so it is for NaN. Checked on all 2^32
//! float32 inputs against `tanh_f32`'s reference (`examples/f32_math_check.rs`).
//!
//! Against the same steps with `ln 2` in two parts, the distance to halfway as an absolute
//! difference and NaN tested apart (five vector operations more for sixteen lanes):
//! 0.93-0.96 -> 0.86-0.89 ns an element on one thread (`examples/exp_speed.rs`, in turns,
//! Intel Xeon family 6 model 207). Two vectors at a time were slower (1.06-1.2 ns: the
//! float64 halves of two vectors need more registers than there are).
//! The fitted degree-5 polynomial instead of Taylor's degree 6 (one operation fewer for
//! eight lanes): 0.89-0.99 -> 0.86-0.96 ns, medians of six runs in turns 0.974 -> 0.946.

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use super::{by_sixteen, tanh_f32_body, Redo, EXP2_TABLE_32};

/// `ln 2 / 16`.
const LN2_16: f64 = std::f64::consts::LN_2 / 16.0;
/// `e^r - 1 = r + r^2 (P0 + P1 r + P2 r^2 + P3 r^3)` for `|r| <= ln2/32` within 2^-41.1 of
/// its value (relative): fitted here for the least largest relative error (least squares on
/// 4000 Chebyshev points, reweighted 200 times toward the largest errors), where the Taylor
/// coefficients of the same degree give 2^-37.1 and degree 6 was needed.
const EXPM1_COEFFICIENTS: [f64; 4] =
    [0.4999999999046246, 0.16666666668563448, 0.041667480806220826, 0.008333366952402494];
/// `1.5 * 2^52`: adding it rounds to an integer and leaves that integer in the low bits.
const SHIFT: f64 = 6755399441055744.0;
/// `2^(j/16)` less `j << 48` in its bits, so that adding `k << 48` (`k = 16 m + j`) makes
/// `2^m 2^(j/16)`: glibc's `2^(i/32)` table at even `i` (which it stores the same way).
const TABLE: [u64; 16] = {
    let mut t = [0u64; 16];
    let mut j = 0;
    while j < 16 {
        t[j] = EXP2_TABLE_32[2 * j];
        j += 1;
    }
    t
};
/// How close (in float64 units in the last place) to halfway between two float32 a lane's
/// quotient may come before `tanh_f32` computes it again.
const MARGIN_ULPS: i64 = 1 << 13;
/// Below this the result is `x`.
const TINY: f32 = 1.0 / 8192.0; // 2^-13
/// From here on the result rounds to 1.
const SATURATED: f32 = 10.0;

/// `out[i] = tanh_f32(x[i])` for every `i`, bit for bit.
///
/// # Safety
/// The CPU must have AVX-512F and FMA.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn tanh_f32_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    // SAFETY: 16 values each, from a 16-entry array
    let table = unsafe {
        (_mm512_loadu_pd(TABLE.as_ptr().cast::<f64>()), _mm512_loadu_pd(TABLE.as_ptr().add(8).cast::<f64>()))
    };
    // SAFETY: the caller's CPU has what `sixteen` was compiled for
    unsafe {
        by_sixteen::<1>(
            x,
            out,
            Redo::AtOnce,
            |[v]| {
                let (result, sure) = sixteen(v, table);
                ([result], u64::from(sure))
            },
            tanh_f32_body,
        )
    }
}

/// `tanh x` for sixteen float32 lanes, and the lanes whose result is sure to be `tanh_f32`'s.
#[inline]
#[target_feature(enable = "avx512f,fma")]
fn sixteen(x: __m512, table: (__m512d, __m512d)) -> (__m512, u16) {
    let sign = _mm512_set1_epi32(i32::MIN);
    let abs = _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(x)));
    // NaN stays NaN (`vminps` returns its second operand when one is NaN)
    let a = _mm512_min_ps(_mm512_set1_ps(SATURATED), abs);
    let low = _mm512_cvtps_pd(_mm512_castps512_ps256(a));
    let high = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(a))));
    let (q_low, unsure_low) = eight(low, table);
    let (q_high, unsure_high) = eight(high, table);
    let q = _mm512_castpd_ps(_mm512_insertf64x4::<1>(
        _mm512_castps_pd(_mm512_castps256_ps512(_mm512_cvtpd_ps(q_low))),
        _mm256_castps_pd(_mm512_cvtpd_ps(q_high)),
    ));
    let signed = _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_castps_si512(q),
        _mm512_and_si512(_mm512_castps_si512(x), sign),
    ));
    // below 2^-13 the result is x, and so is it for NaN (unordered: the compare is true)
    let x_itself = _mm512_cmp_ps_mask::<_CMP_NGE_UQ>(abs, _mm512_set1_ps(TINY));
    let unsure = u16::from(unsure_low) | u16::from(unsure_high) << 8;
    (_mm512_mask_blend_ps(x_itself, signed, x), !unsure | x_itself)
}

/// `tanh a` in float64 for eight lanes `0 <= a <= 10`, and the lanes too close to a
/// float32 rounding boundary to be sure of.
#[inline]
#[target_feature(enable = "avx512f,fma")]
fn eight(a: __m512d, table: (__m512d, __m512d)) -> (__m512d, u8) {
    let splat = _mm512_set1_pd;
    // 1. 2a = k ln2/16 + r
    let v = _mm512_add_pd(a, a);
    let shifted = _mm512_fmadd_pd(v, splat(1.0 / LN2_16), splat(SHIFT));
    let k = _mm512_sub_pd(shifted, splat(SHIFT));
    let r = _mm512_fnmadd_pd(k, splat(LN2_16), v);
    // 2. p = e^r - 1 = r + r^2 (P0 + P1 r + r^2 (P2 + P3 r))
    let [p0, p1, p2, p3] = EXPM1_COEFFICIENTS;
    let r2 = _mm512_mul_pd(r, r);
    let inner = _mm512_fmadd_pd(r, splat(p3), splat(p2));
    let outer = _mm512_fmadd_pd(r2, inner, _mm512_fmadd_pd(r, splat(p1), splat(p0)));
    let p = _mm512_fmadd_pd(r2, outer, r);
    // 3. S = 2^m 2^(j/16); e^2a - 1 = S p + (S - 1)
    let k_bits = _mm512_castpd_si512(shifted);
    let t = _mm512_permutex2var_pd(table.0, k_bits, table.1);
    let s = _mm512_castsi512_pd(_mm512_add_epi64(_mm512_castpd_si512(t), _mm512_slli_epi64::<48>(k_bits)));
    let em1 = _mm512_fmadd_pd(s, p, _mm512_sub_pd(s, splat(1.0)));
    // 4. q = em1 / (em1 + 2)
    let d = _mm512_add_pd(em1, splat(2.0));
    let r0 = _mm512_rcp14_pd(d);
    let inv = _mm512_fmadd_pd(r0, _mm512_fnmadd_pd(d, r0, splat(1.0)), r0);
    let q0 = _mm512_mul_pd(em1, inv);
    let q = _mm512_fmadd_pd(_mm512_fnmadd_pd(q0, d, em1), inv, q0);
    // float32 keeps the top 24 bits of the 53: halfway is the 29 below at 2^28; within
    // MARGIN_ULPS of it is where those bits plus 2^28 + MARGIN_ULPS (carry dropped) are at
    // most 2 MARGIN_ULPS
    let shifted_bits = _mm512_add_epi64(_mm512_castpd_si512(q), _mm512_set1_epi64((1 << 28) + MARGIN_ULPS));
    let window = _mm512_and_si512(shifted_bits, _mm512_set1_epi64((1 << 29) - 1));
    (q, _mm512_cmple_epu64_mask(window, _mm512_set1_epi64(2 * MARGIN_ULPS)))
}
