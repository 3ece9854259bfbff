//! `exp_f32` over a slice in float32 lanes (AVX-512), with the C library's bits.
//!
//! `exp_f32` computes each element in float64 and rounds once, which gives glibc's `expf`
//! bits but only eight lanes per vector, plus a table gather and two conversions. Here the
//! same value is computed in float32 arithmetic, sixteen lanes at a time, carrying the
//! error-free remainders of each step (Dekker's "two-sum" / "two-product" with fused
//! multiply-adds), so that the result before the final rounding is a float32 `y` plus a
//! remainder `e` with `|y + e - e^r 2^(j/32)| <= 2^-35.1` (measured over every float32
//! input; the analysis gives about 2^-34). That sum rounds to `y`, the float32 nearest to
//! it. Where `e^x` lies so close to halfway between two float32 that the rounding could go
//! either way — or where glibc's own result, within about 2^-32 of the true value, could be
//! the other neighbour — the lane is recomputed with `exp_f32` itself (Ziv's strategy:
//! a cheap result that knows when it is sure, the exact one otherwise).
//!
//! The margin: a lane is kept when `y + e` is more than 2^-32 (absolute, for `y` in
//! `[1, 2)`; 2^-9 of a unit in the last place) away from every rounding boundary. Checked on
//! all 2^32 float32 inputs (`examples/f32_math_check.rs`): the same bits as `expf` at
//! 2^-32, where 2^-33 gives 13205 inputs with other bits (glibc not correctly rounded
//! there) and 2^-34 gives 62937. A band of 2^-32 on each side of boundaries 2^-23 apart is
//! about one lane in 256 (inputs whose remainders spread evenly) for the float64 path.
//!
//! The steps, for `x` in `[-87, 88]` (others go to `exp_f32`: results near or past the
//! ends of float32's normal range, infinities and NaN):
//! 1. `x = (32 k + j) ln2/32 + r`, `|r| <= ln2/64`: `k32 = rint(x 32/ln2)` with the
//!    1.5 * 2^23 shift (its low five bits are `j`); `x - k32 C1` is exact in float32 (both
//!    terms are multiples of 2^-29, or of 2^-30 when `|x| < 2^-6`, and the difference is
//!    below 2^-6), and `r_lo = -k32 C2` holds the rest of `ln2/32 = C1 + C2`.
//! 2. `e^r - 1 = r + q` with `q = r_lo + r^2 (1/2 + r/6 + r^2/24)` (`|q| < 2^-13`).
//! 3. `2^(j/32) = T_hi + T_lo` from two 32-entry float32 tables, looked up with one
//!    `vpermt2ps` each (no gather).
//! 4. `T (1 + r + q) = T_hi + T_hi r + (T_lo + T_lo r + T_hi q)`: `T_hi r` as an exact
//!    product pair, the sum as two exact two-sums; `y + e` is the result.
//! 5. `y` lies in `[0.989, 1.979]`, so half the spacing of float32 at `y` is 2^-24, or 2^-25
//!    below 1: a lane is sure when `|e|` is below that less the margin (masked compares, no
//!    exponent arithmetic). `2^k` by `vscalefps` with `k32 / 32` (it takes the floor; exact:
//!    the result is a normal float32).

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use super::{by_sixteen, exp_f32_body, EXP2_TABLE_32};

/// `ln 2 / 32` split as `C1 + C2` (float32 each; `C1` the nearest float32).
const LN2_32: f64 = std::f64::consts::LN_2 / 32.0;
const C1: f32 = LN2_32 as f32;
const C2: f32 = (LN2_32 - C1 as f64) as f32;

/// `2^(j/32)` in float64 (glibc's table, with the exponent bits it leaves out put back).
const fn exp2_j32(j: usize) -> f64 {
    f64::from_bits(EXP2_TABLE_32[j].wrapping_add((j as u64) << 47))
}

/// `2^(j/N)` for `j < N` (`N` divides 32) rounded to float32 (`hi`), and what is left of it
/// (`lo`).
pub(super) const fn exp2_tables<const N: usize>() -> ([f32; N], [f32; N]) {
    let mut hi = [0.0f32; N];
    let mut lo = [0.0f32; N];
    let mut j = 0;
    while j < N {
        let t = exp2_j32(j * (32 / N));
        hi[j] = t as f32;
        lo[j] = (t - hi[j] as f64) as f32;
        j += 1;
    }
    (hi, lo)
}

const TABLES: ([f32; 32], [f32; 32]) = exp2_tables();

/// The inputs the float32 path takes: results stay normal float32 and `2^k` fits.
pub(super) const LOWEST: f32 = -87.0;
pub(super) const HIGHEST: f32 = 88.0;
/// The margin to a rounding boundary a lane must keep (see the module's doc).
const MARGIN: f32 = 1.0 / 4294967296.0; // 2^-32
/// Half a unit in the last place of a float32 in `[1, 2)`.
pub(super) const HALF_ULP: f32 = 1.0 / 16777216.0; // 2^-24
/// `1.5 * 2^23`: adding it rounds to an integer and leaves that integer in the low bits.
pub(super) const SHIFT: f32 = 12582912.0;

/// `out[i] = exp_f32(x[i])` for every `i`, bit for bit.
///
/// # Safety
/// The CPU must have AVX-512F and FMA.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn exp_f32_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    let (hi, lo) = &TABLES;
    let t_hi = (_mm512_loadu_ps(hi.as_ptr()), _mm512_loadu_ps(hi.as_ptr().add(16)));
    let t_lo = (_mm512_loadu_ps(lo.as_ptr()), _mm512_loadu_ps(lo.as_ptr().add(16)));
    // SAFETY: the caller's CPU has what `sixteen` was compiled for
    unsafe { by_sixteen(x, out, |v| sixteen(v, t_hi, t_lo), exp_f32_body) }
}

/// `e^x` for sixteen lanes, and the lanes whose result is sure to be `exp_f32`'s.
#[inline]
#[target_feature(enable = "avx512f,fma")]
fn sixteen(x: __m512, t_hi: (__m512, __m512), t_lo: (__m512, __m512)) -> (__m512, u16) {
    let splat = _mm512_set1_ps;
    // 1. x = k32 ln2/32 + r_hi + r_lo
    let shifted = _mm512_fmadd_ps(x, splat((1.0 / LN2_32) as f32), splat(SHIFT));
    let k32 = _mm512_sub_ps(shifted, splat(SHIFT));
    let r_hi = _mm512_fnmadd_ps(k32, splat(C1), x);
    let r_lo = _mm512_mul_ps(k32, splat(-C2));
    // 2. e^r - 1 = r_hi + q
    let r = _mm512_add_ps(r_hi, r_lo);
    let taylor = _mm512_fmadd_ps(
        _mm512_fmadd_ps(splat((1.0f64 / 24.0) as f32), r, splat((1.0f64 / 6.0) as f32)),
        r,
        splat(0.5),
    );
    let q = _mm512_fmadd_ps(_mm512_mul_ps(r, r), taylor, r_lo);
    // 3. 2^(j/32) = T_hi + T_lo, j the low five bits of `shifted`
    let j = _mm512_castps_si512(shifted);
    let th = _mm512_permutex2var_ps(t_hi.0, j, t_hi.1);
    let tl = _mm512_permutex2var_ps(t_lo.0, j, t_lo.1);
    // 4. T_hi + T_hi r_hi + (T_lo + T_lo r_hi + T_hi q) as y + e
    let product = _mm512_mul_ps(th, r_hi);
    let product_rest = _mm512_fmsub_ps(th, r_hi, product);
    let small = _mm512_fmadd_ps(th, q, _mm512_add_ps(_mm512_fmadd_ps(tl, r_hi, tl), product_rest));
    let sum = _mm512_add_ps(th, product);
    let sum_rest = _mm512_sub_ps(product, _mm512_sub_ps(sum, th));
    let tail = _mm512_add_ps(sum_rest, small);
    let y = _mm512_add_ps(sum, tail);
    let e = _mm512_sub_ps(tail, _mm512_sub_ps(y, sum));
    // 5. sure when |e| keeps the margin from half a unit in the last place of y: y lies in
    //    [0.989, 1.979], so that is 2^-24, or 2^-25 below 1 (at y = 1 too, for e < 0; for
    //    e >= 0 the smaller bound only sends a few more lanes to `exp_f32`)
    let below_one = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(y, splat(1.0));
    let bound = _mm512_mask_mov_ps(splat(HALF_ULP - MARGIN), below_one, splat(HALF_ULP / 2.0 - MARGIN));
    let abs_e = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(e), _mm512_set1_epi32(0x7fff_ffff)));
    // false for NaN too
    let in_range = _mm512_mask_cmp_ps_mask::<_CMP_LE_OQ>(
        _mm512_cmp_ps_mask::<_CMP_GE_OQ>(x, splat(LOWEST)),
        x,
        splat(HIGHEST),
    );
    let clear = _mm512_mask_cmp_ps_mask::<_CMP_LT_OQ>(in_range, abs_e, bound);
    // 2^k, k = floor(k32 / 32) (exact: k32 / 32 is a multiple of 1/32 below 2^8)
    (_mm512_scalef_ps(y, _mm512_mul_ps(k32, splat(1.0 / 32.0))), clear)
}
