//! `torch.sqrt` (and `pow(0.5)`) with the bits torch gives on an Intel processor with
//! AVX-512.
//!
//! torch's CPU `sqrt` calls Intel MKL's `vmsSqrt` / `vmdSqrt` (`VML_HA`), whose result is not
//! IEEE's correctly rounded root: on this kind of CPU it is one unit in the last place low on
//! about 0.6% of inputs (`sqrt(0.5)` is 0.7071067811865475 in float64, IEEE's is
//! ...476), so `x.pow(0.5).log()`'s gradient at 0.5 prints `1.` in torch and `1.0000` from a
//! correctly rounded root. MKL is closed source; the steps below were found by measuring
//! candidates against torch 2.15 on an Intel Xeon (family 6 model 207), and give torch's bits:
//!
//! * float32, every input: all 2^24 float32 in `[1, 4)` (the root of `4^k x` is `2^k` times
//!   the root of `x` in both, for every `k` tried), every input below `2^-95` and above
//!   `2^125`, zeros, infinities, NaN and negatives. The steps: `r = vrsqrt14(x)` (the
//!   processor's approximation of `1/sqrt(x)` to 14 bits, the same on every Intel processor
//!   with AVX-512), `y = x r` and `h = r / 2` in float32, `d = x - y y` in one float32 fused
//!   multiply-add, then `y + d h` in one float64 fused multiply-add rounded to float32.
//! * float64, 4 million random inputs of every magnitude and 20,000 in each of the 87 lowest
//!   and highest binades: `r = vrsqrt14(x)`, one Newton step `r += (r/2) (1 - (x r) r)`, then
//!   `y = x r`, `h = r/2`, and `y + (x - y y) h` (fused multiply-adds).
//! * For tiny inputs MKL takes the root of the input scaled up by an even power of two and
//!   scales the result back: the steps above alone differ from torch below about `2^-103`
//!   (float32: 46% of subnormals, 1.8% in `[2^-123, 2^-122)`, then fewer down to one input in
//!   `[2^-103, 2^-102)`; every float32 checked) and `2^-1003` (float64: 60,000 random inputs in
//!   each binade), where `d` or `x - y y` loses bits below the normal range. Scaled by `2^64`
//!   (float32) or `2^256` (float64) they give torch's bits on every float32 below `2^-95` and
//!   on the sampled float64 below `2^-933`; the switch is made at `2^-100` and `2^-959`.
//!
//! Elsewhere — another processor, or [`super::linalg::set_mkl_kernels`] set to
//! `MklKernels::Avx2` — MKL runs other code whose bits were not modelled here (its AVX2 path,
//! forced on this Xeon with `MKL_ENABLE_INSTRUCTIONS=AVX2`, rounds low on 1.4% of float64
//! inputs and 0.09% of float32 ones, and would differ between Intel's and AMD's
//! approximation instructions), and the root is IEEE's, correctly rounded.
//!
//! The fixture `tests/fixtures/mkl_sqrt.json` (`tools/mkl_sqrt/record.py`) holds torch's
//! results for the inputs where they differ from IEEE's and for the edge cases.

use std::mem::MaybeUninit;

use super::gemm_order::{mkl_kernels, MklKernels};

/// Whether `sqrt` follows MKL's AVX-512 steps here (see the module's doc).
pub fn mkl_sqrt_active() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        mkl_kernels() == MklKernels::Avx512 && std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `torch.sqrt` of a float32.
pub fn sqrt_f32(x: f32) -> f32 {
    let mut out = [MaybeUninit::uninit()];
    sqrt_f32_slice(&[x], &mut out);
    // SAFETY: written just above
    unsafe { out[0].assume_init() }
}

/// `torch.sqrt` of a float64.
pub fn sqrt_f64(x: f64) -> f64 {
    let mut out = [MaybeUninit::uninit()];
    sqrt_f64_slice(&[x], &mut out);
    // SAFETY: written just above
    unsafe { out[0].assume_init() }
}

/// `torch.sqrt` over a slice of float32.
pub fn sqrt_f32_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    #[cfg(target_arch = "x86_64")]
    if mkl_sqrt_active() {
        // SAFETY: the CPU has AVX-512F (checked just above)
        return unsafe { avx512::sqrt_f32_slice(x, out) };
    }
    for (o, &v) in out.iter_mut().zip(x) {
        o.write(v.sqrt());
    }
}

/// `torch.sqrt` over a slice of float64.
pub fn sqrt_f64_slice(x: &[f64], out: &mut [MaybeUninit<f64>]) {
    #[cfg(target_arch = "x86_64")]
    if mkl_sqrt_active() {
        // SAFETY: the CPU has AVX-512F (checked just above)
        return unsafe { avx512::sqrt_f64_slice(x, out) };
    }
    for (o, &v) in out.iter_mut().zip(x) {
        o.write(v.sqrt());
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    /// Below this (`2^-100`) MKL's float32 steps run on the input scaled up by `2^64` (see the
    /// module's doc for where the threshold could be).
    const TINY_F32: f32 = f32::from_bits(27 << 23);
    /// Below this (`2^-959`) MKL's float64 steps run on the input scaled up by `2^256`.
    const TINY_F64: f64 = f64::from_bits(64 << 52);

    /// MKL's float32 steps for sixteen lanes `x` in `[2^-100, inf)` (see the module's doc).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sixteen(x: __m512) -> __m512 {
        let r = _mm512_rsqrt14_ps(x);
        let y = _mm512_mul_ps(x, r);
        let h = _mm512_mul_ps(r, _mm512_set1_ps(0.5));
        let d = _mm512_fnmadd_ps(y, y, x);
        let half = |v: __m512, upper: bool| {
            let v256 = if upper {
                _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)))
            } else {
                _mm512_castps512_ps256(v)
            };
            _mm512_cvtps_pd(v256)
        };
        let low = _mm512_cvtpd_ps(_mm512_fmadd_pd(half(d, false), half(h, false), half(y, false)));
        let high = _mm512_cvtpd_ps(_mm512_fmadd_pd(half(d, true), half(h, true), half(y, true)));
        _mm512_castpd_ps(_mm512_insertf64x4::<1>(
            _mm512_castps_pd(_mm512_castps256_ps512(low)),
            _mm256_castps_pd(high),
        ))
    }

    /// MKL's float64 steps for eight lanes `x` in `[2^-959, inf)`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn eight(x: __m512d) -> __m512d {
        let half = _mm512_set1_pd(0.5);
        let r0 = _mm512_rsqrt14_pd(x);
        let e = _mm512_fnmadd_pd(_mm512_mul_pd(x, r0), r0, _mm512_set1_pd(1.0));
        let r = _mm512_fmadd_pd(_mm512_mul_pd(r0, half), e, r0);
        let y = _mm512_mul_pd(x, r);
        let h = _mm512_mul_pd(r, half);
        _mm512_fmadd_pd(_mm512_fnmadd_pd(y, y, x), h, y)
    }

    /// One float32 outside `[2^-100, inf)`: zeros, infinity and NaN as IEEE's root (which is
    /// MKL's there too), negatives NaN, tiny numbers scaled.
    #[target_feature(enable = "avx512f")]
    fn edge_f32(x: f32) -> f32 {
        if x > 0.0 && x < TINY_F32 {
            let scaled = x * 18_446_744_073_709_551_616.0; // 2^64, exact
            let root = _mm512_cvtss_f32(sixteen(_mm512_set1_ps(scaled)));
            root * (1.0 / 4_294_967_296.0) // 2^-32, exact: the root is normal
        } else if x < 0.0 {
            f32::NAN
        } else {
            x.sqrt()
        }
    }

    /// One float64 outside `[2^-959, inf)`, as `edge_f32`.
    #[target_feature(enable = "avx512f")]
    fn edge_f64(x: f64) -> f64 {
        if x > 0.0 && x < TINY_F64 {
            let up = 2f64.powi(256);
            let root = _mm512_cvtsd_f64(eight(_mm512_set1_pd(x * up)));
            root * 2f64.powi(-128)
        } else if x < 0.0 {
            f64::NAN
        } else {
            x.sqrt()
        }
    }

    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn sqrt_f32_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
        let n = x.len().min(out.len());
        let (lo, hi) = (_mm512_set1_ps(TINY_F32), _mm512_set1_ps(f32::INFINITY));
        let mut i = 0;
        while i < n {
            let lanes = (n - i).min(16);
            let mask: u16 = if lanes == 16 { u16::MAX } else { (1u16 << lanes) - 1 };
            // SAFETY: the masked lanes lie in `x[i..n]` and `out[i..n]`
            unsafe {
                let v = _mm512_maskz_loadu_ps(mask, x.as_ptr().add(i));
                _mm512_mask_storeu_ps(out.as_mut_ptr().add(i).cast::<f32>(), mask, sixteen(v));
                // lanes outside [2^-100, inf) (NaN too: the compares are false) again, one by one
                let usual = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(v, lo) & _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, hi);
                let mut edge = !usual & mask;
                while edge != 0 {
                    let lane = edge.trailing_zeros() as usize;
                    out[i + lane].write(edge_f32(x[i + lane]));
                    edge &= edge - 1;
                }
            }
            i += lanes;
        }
    }

    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn sqrt_f64_slice(x: &[f64], out: &mut [MaybeUninit<f64>]) {
        let n = x.len().min(out.len());
        let (lo, hi) = (_mm512_set1_pd(TINY_F64), _mm512_set1_pd(f64::INFINITY));
        let mut i = 0;
        while i < n {
            let lanes = (n - i).min(8);
            let mask: u8 = if lanes == 8 { u8::MAX } else { (1u8 << lanes) - 1 };
            // SAFETY: the masked lanes lie in `x[i..n]` and `out[i..n]`
            unsafe {
                let v = _mm512_maskz_loadu_pd(mask, x.as_ptr().add(i));
                _mm512_mask_storeu_pd(out.as_mut_ptr().add(i).cast::<f64>(), mask, eight(v));
                let usual = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(v, lo) & _mm512_cmp_pd_mask::<_CMP_LT_OQ>(v, hi);
                let mut edge = !usual & mask;
                while edge != 0 {
                    let lane = edge.trailing_zeros() as usize;
                    out[i + lane].write(edge_f64(x[i + lane]));
                    edge &= edge - 1;
                }
            }
            i += lanes;
        }
    }
}
