//! `log_f32` over a slice with AVX-512: the same steps in float64 lanes, with the same bits.
//!
//! `log_f32`'s formula in a plain loop compiled for AVX-512 looks its table up with two
//! gathers per eight lanes. Here the sixteen-entry table sits in two pairs of registers and
//! each lookup is one `vpermt2pd`; the integer steps (the exponent `k`, the table's part,
//! `z`) run on all sixteen float32 lanes at once, and only the float64 steps on two halves
//! of eight. Lanes outside `log_f32`'s range (zero, negative, subnormal, infinite, NaN) go
//! to `log_f32` itself.
//!
//! One thread over 2^20 floats in [0, 1) (`examples/exp_speed.rs`, best rounds, Intel Xeon
//! family 6 model 207): the C library's `logf` per element 3.1 ns an element, the formula's
//! loop with gathers (`log_f32_slice_portable`) 0.85, this 0.54. Two vectors at a time
//! gave nothing more (0.54-0.55).

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use super::{by_sixteen, log_f32, Redo, LOGF_OFF, LOGF_POLY, LOGF_TABLE};

/// The table as two float64 columns (`1/c`, `log c`).
const fn column<const SECOND: bool>() -> [u64; 16] {
    let mut t = [0u64; 16];
    let mut i = 0;
    while i < 16 {
        t[i] = if SECOND { LOGF_TABLE[i].1 } else { LOGF_TABLE[i].0 };
        i += 1;
    }
    t
}
const INV_C: [u64; 16] = column::<false>();
const LOG_C: [u64; 16] = column::<true>();

/// A sixteen-entry float64 table in two registers.
type Table = (__m512d, __m512d);

/// `out[i] = log_f32(x[i])` for every `i`, bit for bit.
///
/// # Safety
/// The CPU must have AVX-512F and FMA.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn log_f32_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    // SAFETY: sixteen values each, from sixteen-entry arrays
    let (inv_c, log_c) = unsafe {
        (
            (_mm512_loadu_pd(INV_C.as_ptr().cast()), _mm512_loadu_pd(INV_C.as_ptr().add(8).cast())),
            (_mm512_loadu_pd(LOG_C.as_ptr().cast()), _mm512_loadu_pd(LOG_C.as_ptr().add(8).cast())),
        )
    };
    // SAFETY: the caller's CPU has what `sixteen` was compiled for
    unsafe {
        by_sixteen::<1>(
            x,
            out,
            Redo::AtOnce,
            |[v]| {
                let (result, sure) = sixteen(v, inv_c, log_c);
                ([result], u64::from(sure))
            },
            log_f32,
        )
    }
}

/// `log x` for sixteen float32 lanes, and the lanes inside `log_f32`'s range (whose result
/// is `log_f32`'s).
#[inline]
#[target_feature(enable = "avx512f,fma")]
fn sixteen(x: __m512, inv_c: Table, log_c: Table) -> (__m512, u16) {
    let ix = _mm512_castps_si512(x);
    let in_range = _mm512_cmplt_epu32_mask(
        _mm512_sub_epi32(ix, _mm512_set1_epi32(0x0080_0000)),
        _mm512_set1_epi32(0x7f80_0000 - 0x0080_0000),
    );
    // x = 2^k z; the table's part is in bits 19..23 of tmp (the permutes read an index's
    // low four bits only)
    let tmp = _mm512_sub_epi32(ix, _mm512_set1_epi32(LOGF_OFF as i32));
    let k = _mm512_srai_epi32::<23>(tmp);
    let part = _mm512_srli_epi32::<19>(tmp);
    let z = _mm512_castsi512_ps(_mm512_sub_epi32(
        ix,
        _mm512_and_si512(tmp, _mm512_set1_epi32(0xff80_0000u32 as i32)),
    ));
    let half = |i: i32| {
        let pick =
            |v: __m512i| if i == 0 { _mm512_castsi512_si256(v) } else { _mm512_extracti64x4_epi64::<1>(v) };
        eight(
            _mm512_cvtps_pd(_mm256_castsi256_ps(pick(_mm512_castps_si512(z)))),
            _mm512_cvtepi32_pd(pick(k)),
            _mm512_cvtepu32_epi64(pick(part)),
            inv_c,
            log_c,
        )
    };
    let (low, high) = (half(0), half(1));
    let y = _mm512_castpd_ps(_mm512_insertf64x4::<1>(
        _mm512_castps_pd(_mm512_castps256_ps512(_mm512_cvtpd_ps(low))),
        _mm256_castps_pd(_mm512_cvtpd_ps(high)),
    ));
    (y, in_range)
}

/// `log_f32`'s float64 steps for eight lanes: `z`, `k` and the table's index.
#[inline]
#[target_feature(enable = "avx512f,fma")]
fn eight(z: __m512d, k: __m512d, part: __m512i, inv_c: Table, log_c: Table) -> __m512d {
    let splat = _mm512_set1_pd;
    let [a0, a1, a2] = LOGF_POLY;
    let r = _mm512_fmsub_pd(z, _mm512_permutex2var_pd(inv_c.0, part, inv_c.1), splat(1.0));
    let y0 =
        _mm512_fmadd_pd(k, splat(std::f64::consts::LN_2), _mm512_permutex2var_pd(log_c.0, part, log_c.1));
    let r2 = _mm512_mul_pd(r, r);
    let y = _mm512_fmadd_pd(splat(a0), r2, _mm512_fmadd_pd(splat(a1), r, splat(a2)));
    _mm512_fmadd_pd(y, r2, _mm512_add_pd(y0, r))
}
