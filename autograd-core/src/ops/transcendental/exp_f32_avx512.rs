//! `exp_f32` over a slice in float32 lanes (AVX-512), with the C library's bits.
//!
//! `exp_f32` computes each element in float64 and rounds once, which gives glibc's `expf`
//! bits but only eight lanes per vector, plus a table gather and two conversions. Here the
//! same value is computed in float32 arithmetic, sixteen lanes at a time, carrying the
//! error-free remainders of each step (Dekker's "two-sum" / "two-product" with fused
//! multiply-adds), so that the result before the final rounding is a float32 `y` plus a
//! remainder `e` with `|y + e - e^r 2^(j/32)| <= 2^-35.1` (measured over every float32
//! input with `T_hi r` as an exact product pair; the analysis gives about 2^-34, and the
//! fused form of step 4 below, whose second rounding adds about 2^-48, passes the same
//! all-inputs check). That sum rounds to `y`, the float32 nearest to it. Where `e^x` lies
//! so close to halfway between two float32 that the rounding could go either way — or where
//! glibc's own result, within about 2^-32 of the true value, could be the other neighbour —
//! the lane is recomputed with `exp_f32` itself (Ziv's strategy: a cheap result that knows
//! when it is sure, the exact one otherwise), a batch of such lanes at a time (`Unsure` in
//! transcendental.rs).
//!
//! The margin: a lane is kept when `y + e` is more than 2^-32 (absolute, for `y` in
//! `[1, 2)`; 2^-9 of a unit in the last place) away from every rounding boundary. Checked on
//! all 2^32 float32 inputs (`examples/f32_math_check.rs`): the same bits as `expf` at
//! 2^-32, where 2^-33 gives 13205 inputs with other bits (glibc not correctly rounded
//! there) and 2^-34 gives 62937. A band of 2^-32 on each side of boundaries 2^-23 apart is
//! about one lane in 256 (inputs whose remainders spread evenly) for the float64 path.
//!
//! The steps, three vectors side by side (`by_sixteen`):
//! 1. `x = (32 k + j) ln2/32 + r`, `|r| <= ln2/64`: `k32 = rint(x 32/ln2)` with the
//!    1.5 * 2^23 shift (its low five bits are `j`); `x - k32 C1` is exact in float32 (both
//!    terms are multiples of 2^-29, or of 2^-30 when `|x| < 2^-6`, and the difference is
//!    below 2^-6), and `r_lo = -k32 C2` holds the rest of `ln2/32 = C1 + C2`.
//! 2. `e^r - 1 = r + q` with `q = r_lo + r^2 (1/2 + r/6 + r^2/24)` (`|q| < 2^-13`).
//! 3. `2^(j/32) = T_hi + T_lo` from two 32-entry float32 tables, looked up with one
//!    `vpermt2ps` each (no gather).
//! 4. `T (1 + r + q)`: `s = T_hi + T_hi r_hi` in one fused multiply-add and its rounding
//!    error in a second (`T_hi - s` is exact: `s` is within 2% of `T_hi`); that error plus
//!    `T_hi q + T_lo + T_lo r_hi` is the tail, and `y + e = s + tail` (a two-sum).
//! 5. `y` lies in `[0.989, 1.979]`, so half the spacing of float32 at `y` is 2^-24, or 2^-25
//!    below 1: a lane is sure when `|e|` is below that less the margin (masked compares, no
//!    exponent arithmetic). `2^k` by `vscalefps` with `k32 / 32` (it takes the floor; exact
//!    where the result is a normal float32). A result that is not normal or infinite — `x`
//!    below about -87.3 (subnormal results, rounded twice here), infinite or NaN — is left
//!    to `exp_f32`; one past the largest float32 is infinite either way.
//!
//! Against one vector after another with `T_hi r_hi` as an exact product pair and `x`'s range
//! tested by two compares (`examples/exp_speed.rs`, old and new in turns, Intel Xeon
//! family 6 model 207): 0.414-0.434 -> 0.355-0.374 ns an element on one thread. Two vectors
//! at a time gave about half of that, four no more than three.

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use super::{by_sixteen, exp_f32_body, Redo, EXP2_TABLE_32};

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
    // SAFETY: the caller's CPU has what `vectors` was compiled for
    unsafe { by_sixteen::<VECTORS>(x, out, Redo::Batched, |v| vectors(v, t_hi, t_lo), exp_f32_body) }
}

/// How many vectors `vectors` takes at a time (see the module's doc).
const VECTORS: usize = 3;

/// `e^x` for `N` vectors of sixteen lanes, each step for all of them before the next, and
/// (one bit each, vector `j` at bits `16j..16j+16`) the lanes whose result is sure to be
/// `exp_f32`'s.
#[inline]
#[target_feature(enable = "avx512f,fma")]
fn vectors<const N: usize>(
    x: [__m512; N],
    t_hi: (__m512, __m512),
    t_lo: (__m512, __m512),
) -> ([__m512; N], u64) {
    let splat = _mm512_set1_ps;
    let zero = _mm512_setzero_ps();
    let (mut k32, mut j, mut r_hi, mut q) = ([zero; N], [_mm512_setzero_si512(); N], [zero; N], [zero; N]);
    for v in 0..N {
        // 1. x = k32 ln2/32 + r_hi + r_lo
        let shifted = _mm512_fmadd_ps(x[v], splat((1.0 / LN2_32) as f32), splat(SHIFT));
        j[v] = _mm512_castps_si512(shifted);
        k32[v] = _mm512_sub_ps(shifted, splat(SHIFT));
        r_hi[v] = _mm512_fnmadd_ps(k32[v], splat(C1), x[v]);
    }
    for v in 0..N {
        // 2. e^r - 1 = r_hi + q
        let r_lo = _mm512_mul_ps(k32[v], splat(-C2));
        let r = _mm512_add_ps(r_hi[v], r_lo);
        let taylor = _mm512_fmadd_ps(
            _mm512_fmadd_ps(splat((1.0f64 / 24.0) as f32), r, splat((1.0f64 / 6.0) as f32)),
            r,
            splat(0.5),
        );
        q[v] = _mm512_fmadd_ps(_mm512_mul_ps(r, r), taylor, r_lo);
    }
    let (mut y, mut sure) = ([zero; N], 0u64);
    for v in 0..N {
        // 3. 2^(j/32) = T_hi + T_lo, j the low five bits of `shifted`
        let th = _mm512_permutex2var_ps(t_hi.0, j[v], t_hi.1);
        let tl = _mm512_permutex2var_ps(t_lo.0, j[v], t_lo.1);
        // 4. s = T_hi + T_hi r_hi rounded, its error (`T_hi - s` is exact: s is within 2%
        //    of T_hi), the tail T_hi q + T_lo + T_lo r_hi, and y + e = s + tail
        let sum = _mm512_fmadd_ps(th, r_hi[v], th);
        let sum_rest = _mm512_fmadd_ps(th, r_hi[v], _mm512_sub_ps(th, sum));
        let small = _mm512_fmadd_ps(th, q[v], _mm512_fmadd_ps(tl, r_hi[v], tl));
        let tail = _mm512_add_ps(sum_rest, small);
        let yv = _mm512_add_ps(sum, tail);
        let e = _mm512_sub_ps(tail, _mm512_sub_ps(yv, sum));
        // 5. sure when |e| keeps the margin from half a unit in the last place of y: y lies
        //    in [0.989, 1.979], so that is 2^-24, or 2^-25 below 1 (at y = 1 too, for e < 0;
        //    for e >= 0 the smaller bound only sends a few more lanes to `exp_f32`)
        let below_one = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(yv, splat(1.0));
        let bound = _mm512_mask_mov_ps(splat(HALF_ULP - MARGIN), below_one, splat(HALF_ULP / 2.0 - MARGIN));
        let abs_e =
            _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(e), _mm512_set1_epi32(0x7fff_ffff)));
        // 2^k, k = floor(k32 / 32) (exact where the result is a normal float32)
        y[v] = _mm512_scalef_ps(yv, _mm512_mul_ps(k32[v], splat(1.0 / 32.0)));
        // and a result below the normal float32 (zero, subnormal, negative or NaN: x out of
        // range) is left to `exp_f32`; an infinite one is `exp_f32`'s too (y rounded right,
        // then scaled past the largest float32)
        let normal = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(y[v], splat(f32::MIN_POSITIVE));
        let clear = _mm512_mask_cmp_ps_mask::<_CMP_LT_OQ>(normal, abs_e, bound);
        sure |= u64::from(clear) << (16 * v);
    }
    (y, sure)
}
