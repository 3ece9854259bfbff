//! `exp`, `log`, `sin`, `cos`, `tanh` and `sigmoid` on single elements, computed the way
//! torch 2.15's CPU kernels compute them, so that the bits agree and not only the printed
//! digits.
//!
//! torch uses two different implementations, and which one an op gets is what matters:
//!
//! * **The tensor ops `torch.exp / log / sin / cos / tanh`** (and their in-place forms) go
//!   through `at::vml`, which in torch's x86 wheels is Intel MKL's VML (`vmsExp`, `vmdLn`, ...
//!   in `VML_HA` mode) on every element, whatever the tensor's length or layout. Measured:
//!   calling those MKL entry points from torch's own library gives torch's bits for every
//!   input tried. Where MKL itself is installed (PyPI's `mkl`, the release torch links;
//!   `super::mkl_vml`) the tensor ops call it and have torch's bits. Elsewhere: MKL is closed
//!   source, so these cannot be reproduced exactly, and the functions `exp_f32` ...
//!   `tanh_f64` below are the closest public algorithm found for each, chosen by measuring
//!   against torch (each one's doc says how close it is).
//! * **Everything built on torch's `Vectorized<T>::exp()` / `log()`** — `sigmoid`, `softmax`,
//!   `log_softmax` and their backward kernels — runs SLEEF 3.8's 1-ulp exp and log
//!   (`Sleef_expf16_u10`, `Sleef_logd8_u10`, ...: torch runs these kernels with AVX512, whose
//!   SLEEF functions give the same bits as the AVX2 ones). Those are reproduced here exactly
//!   (`sleef_expf`, `sleef_exp`, `sleef_logf`, `sleef_log`): equal to torch's on all 2^32
//!   float32 inputs and on 67 million random float64 inputs of every magnitude, for both
//!   widths. Where those kernels finish a run with a scalar loop, torch calls the C library's
//!   `std::exp`, and so do the callers here (`sigmoid_scalar_f32`, softmax's tails). `pow`
//!   with a float exponent is the same story with SLEEF's `pow` (`sleef_pow.rs`) and
//!   `std::pow`; `vector_lanes` says which elements take which.
//!
//! SLEEF's vector code is written with fused multiply-adds; each one is a `mul_add` here
//! (one rounding), every other operation is the same IEEE operation in the same order, so a
//! lane of the vector and one call here give the same bits. The double-word ("df"/"dd")
//! helpers are SLEEF's FMA variants of them. Each public function runs a copy of itself
//! compiled for the FMA instructions when the CPU has them (`fma_dispatch!`).

// SLEEF's coefficients are kept as its source writes them (more digits than a float holds)
#![allow(clippy::excessive_precision)]

use std::mem::MaybeUninit;
use std::ops::{Add, Div, Mul, Neg, Sub};

use super::mkl_vml::vml_or;

#[cfg(target_arch = "x86_64")]
mod exp_f32_avx2;
#[cfg(target_arch = "x86_64")]
mod exp_f32_avx512;
mod exp_f64_table;
#[cfg(target_arch = "x86_64")]
mod log_f32_avx512;
mod log_f64_table;
#[cfg(target_arch = "x86_64")]
mod sleef_avx2;
#[cfg(target_arch = "x86_64")]
mod sleef_avx512;
mod sleef_pow;
#[cfg(target_arch = "x86_64")]
mod tanh_f32_avx512;

pub use sleef_pow::{sleef_pow, sleef_pow_slice, sleef_powf, sleef_powf_slice};

/// `$body(x)`, compiled a second time for the CPU's fused multiply-add instructions and
/// called in that form when the CPU has them: the functions here are written with `mul_add`
/// (one rounding, as SLEEF's FMA build), which without the instructions is a call into the C
/// library for each. Same bits either way; ten to twenty times faster.
macro_rules! fma_dispatch {
    ($body:ident, $x:expr, $t:ty) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "fma")]
            unsafe fn fused(x: $t) -> $t {
                $body(x)
            }
            if std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has the instructions `fused` was compiled for
                return unsafe { fused($x) };
            }
        }
        $body($x)
    }};
}

/// The float operations the double-word helpers need, for `f32` and `f64`.
trait Fp:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
{
    const ONE: Self;
    /// `self * b + c` with one rounding.
    fn fma(self, b: Self, c: Self) -> Self;
}

impl Fp for f32 {
    const ONE: f32 = 1.0;
    #[inline(always)]
    fn fma(self, b: f32, c: f32) -> f32 {
        self.mul_add(b, c)
    }
}

impl Fp for f64 {
    const ONE: f64 = 1.0;
    #[inline(always)]
    fn fma(self, b: f64, c: f64) -> f64 {
        self.mul_add(b, c)
    }
}

/// A double-word number `hi + lo` (SLEEF's `vfloat2` / `vdouble2`).
#[derive(Clone, Copy)]
struct Dw<T> {
    hi: T,
    lo: T,
}

#[inline(always)]
fn dw<T>(hi: T, lo: T) -> Dw<T> {
    Dw { hi, lo }
}

/// `x + y` of two plain numbers, for `|x| >= |y|` (`dfadd_vf2_vf_vf`).
#[inline(always)]
fn add_ss<T: Fp>(x: T, y: T) -> Dw<T> {
    let s = x + y;
    dw(s, (x - s) + y)
}

/// `x + y` of two plain numbers, any magnitudes (`dfadd2_vf2_vf_vf`).
#[inline(always)]
fn add2_ss<T: Fp>(x: T, y: T) -> Dw<T> {
    let s = x + y;
    let v = s - x;
    dw(s, (x - (s - v)) + (y - v))
}

/// `x + y`, `|x.hi| >= |y|` (`dfadd_vf2_vf2_vf`).
#[inline(always)]
fn add_ds<T: Fp>(x: Dw<T>, y: T) -> Dw<T> {
    let s = x.hi + y;
    dw(s, ((x.hi - s) + y) + x.lo)
}

/// `x + y`, any magnitudes (`dfadd2_vf2_vf2_vf`).
#[inline(always)]
fn add2_ds<T: Fp>(x: Dw<T>, y: T) -> Dw<T> {
    let s = x.hi + y;
    let v = s - x.hi;
    let t = (x.hi - (s - v)) + (y - v);
    dw(s, t + x.lo)
}

/// `x + y`, `|x| >= |y.hi|` (`dfadd_vf2_vf_vf2`).
#[inline(always)]
fn add_sd<T: Fp>(x: T, y: Dw<T>) -> Dw<T> {
    let s = x + y.hi;
    dw(s, ((x - s) + y.hi) + y.lo)
}

/// `x + y`, `|x.hi| >= |y.hi|` (`dfadd_vf2_vf2_vf2`).
#[inline(always)]
fn add_dd<T: Fp>(x: Dw<T>, y: Dw<T>) -> Dw<T> {
    let s = x.hi + y.hi;
    dw(s, (((x.hi - s) + y.hi) + x.lo) + y.lo)
}

/// `x + y`, any magnitudes (`dfadd2_vf2_vf2_vf2`).
#[inline(always)]
fn add2_dd<T: Fp>(x: Dw<T>, y: Dw<T>) -> Dw<T> {
    let s = x.hi + y.hi;
    let v = s - x.hi;
    let t = (x.hi - (s - v)) + (y.hi - v);
    dw(s, t + (x.lo + y.lo))
}

/// `n / d` (`dfdiv_vf2_vf2_vf2`, FMA form).
#[inline(always)]
fn div_dd<T: Fp>(n: Dw<T>, d: Dw<T>) -> Dw<T> {
    let t = T::ONE / d.hi;
    let s = n.hi * t;
    let u = t.fma(n.hi, -s);
    let v = (-d.lo).fma(t, (-d.hi).fma(t, T::ONE));
    dw(s, s.fma(v, n.lo.fma(t, u)))
}

/// `1 / d` (`dfrec_vf2_vf2`, FMA form).
#[inline(always)]
fn rec_d<T: Fp>(d: Dw<T>) -> Dw<T> {
    let s = T::ONE / d.hi;
    dw(s, s * (-d.lo).fma(s, (-d.hi).fma(s, T::ONE)))
}

/// `x * y` of a double-word and a plain number (`dfmul_vf2_vf2_vf`).
#[inline(always)]
fn mul_ds<T: Fp>(x: Dw<T>, y: T) -> Dw<T> {
    let s = x.hi * y;
    dw(s, x.lo.fma(y, x.hi.fma(y, -s)))
}

/// `x * y` of two double-words (`dfmul_vf2_vf2_vf2`).
#[inline(always)]
fn mul_dd<T: Fp>(x: Dw<T>, y: Dw<T>) -> Dw<T> {
    let s = x.hi * y.hi;
    dw(s, x.hi.fma(y.lo, x.lo.fma(y.hi, x.hi.fma(y.hi, -s))))
}

/// `x * y` of two double-words, rounded to one number (`dfmul_vf_vf2_vf2`).
#[inline(always)]
fn mul_dd_to_s<T: Fp>(x: Dw<T>, y: Dw<T>) -> T {
    x.hi.fma(y.hi, x.lo.fma(y.hi, x.hi * y.lo))
}

/// `x * x` (`dfsqu_vf2_vf2`).
#[inline(always)]
fn squ<T: Fp>(x: Dw<T>) -> Dw<T> {
    let s = x.hi * x.hi;
    dw(s, (x.hi + x.hi).fma(x.lo, x.hi.fma(x.hi, -s)))
}

#[inline(always)]
fn scale<T: Fp>(d: Dw<T>, s: T) -> Dw<T> {
    dw(d.hi * s, d.lo * s)
}

#[inline(always)]
fn neg<T: Fp>(d: Dw<T>) -> Dw<T> {
    dw(-d.hi, -d.lo)
}

/// `_mm256_cvtps_epi32`: round half to even; NaN and out-of-range values give `i32::MIN`.
/// Written without a branch before the conversion, so that loops over it vectorize.
#[inline(always)]
fn rint_i32_f32(v: f32) -> i32 {
    let r = v.round_ties_even();
    // `r.abs() < 2^31` is false for NaN too
    if r.abs() < 2147483648.0 {
        // SAFETY: `r` is an integer in i32's range
        unsafe { r.to_int_unchecked::<i32>() }
    } else {
        i32::MIN
    }
}

/// `_mm256_cvtpd_epi32` (same rules, from a double).
#[inline(always)]
fn rint_i32_f64(v: f64) -> i32 {
    let r = v.round_ties_even();
    if r.abs() < 2147483648.0 {
        // SAFETY: `r` is an integer in i32's range
        unsafe { r.to_int_unchecked::<i32>() }
    } else {
        i32::MIN
    }
}

/// `2^q` built from the exponent field alone (`vpow2i_vf_vi2`; only meaningful for
/// `-126 <= q <= 127`, wraps like the integer code outside).
#[inline(always)]
fn pow2i_f32(q: i32) -> f32 {
    f32::from_bits((q.wrapping_add(0x7f) as u32).wrapping_shl(23))
}

/// `d * 2^e` as two multiplications (`vldexp2_vf_vf_vi2`), so `e` may go a little past the
/// exponent range.
#[inline(always)]
fn ldexp2_f32(d: f32, e: i32) -> f32 {
    d * pow2i_f32(e >> 1) * pow2i_f32(e.wrapping_sub(e >> 1))
}

/// `d * 2^q` by adding to the exponent field (`vldexp3_vf_vf_vi2`).
#[inline(always)]
fn ldexp3_f32(d: f32, q: i32) -> f32 {
    f32::from_bits(d.to_bits().wrapping_add((q as u32).wrapping_shl(23)))
}

/// The unbiased exponent field (`vilogb2k_vi2_vf`).
#[inline(always)]
fn ilogb2k_f32(d: f32) -> i32 {
    ((d.to_bits() >> 23) & 0xff) as i32 - 0x7f
}

/// `2^q` from the exponent field (`vpow2i_vd_vi`: the 32-bit `(q + 0x3ff) << 20` is the
/// upper half of the double).
#[inline(always)]
fn pow2i_f64(q: i32) -> f64 {
    let upper = (q.wrapping_add(0x3ff) as u32).wrapping_shl(20);
    f64::from_bits((upper as u64) << 32)
}

/// `d * 2^e` as two multiplications (`vldexp2_vd_vd_vi`).
#[inline(always)]
fn ldexp2_f64(d: f64, e: i32) -> f64 {
    d * pow2i_f64(e >> 1) * pow2i_f64(e.wrapping_sub(e >> 1))
}

/// `d * 2^q` by adding to the upper half's exponent field (`vldexp3_vd_vd_vi`).
#[inline(always)]
fn ldexp3_f64(d: f64, q: i32) -> f64 {
    let add = ((q as u32).wrapping_shl(20) as u64) << 32;
    f64::from_bits(d.to_bits().wrapping_add(add))
}

/// The unbiased exponent field, read from the upper half (`vilogb2k_vi_vd`).
#[inline(always)]
fn ilogb2k_f64(d: f64) -> i32 {
    (((d.to_bits() >> 32) as u32 >> 20) & 0x7ff) as i32 - 0x3ff
}

// ---------------------------------------------------------------------------------------
// SLEEF, exactly: torch's Vectorized<float / double>::exp() and ::log()
// ---------------------------------------------------------------------------------------

/// `1/ln 2`, and `ln 2` split in two for an exact-ish `x - q ln 2` (SLEEF's `R_LN2f`,
/// `L2Uf`, `L2Lf`: C float literals; `R_LN2` is `log2(e)` rounded, std's constant).
const R_LN2F: f32 = std::f32::consts::LOG2_E;
const L2UF: f32 = 0.693145751953125;
const L2LF: f32 = 1.428606765330187045e-06;
const R_LN2: f64 = std::f64::consts::LOG2_E;
const L2U: f64 = 0.69314718055966295651160180568695068359375;
const L2L: f64 = 0.28235290563031577122588448175013436025525412068e-12;
/// `ln(DBL_MAX)`, `0x1.62e42fefa39efp+9`: the largest argument whose `exp` is finite.
const LOG_DBL_MAX: f64 = 709.782712893384;

/// `e^x` in float32 as torch's vectorized code computes it (SLEEF `Sleef_expf8_u10`, at most
/// 1 ulp from the true value): `x = q ln2 + s` with `q = rint(x / ln 2)` and `|s| <= ln2/2`,
/// a degree-7 polynomial for `e^s` in Horner form, then `2^q` by two exponent-field
/// multiplications. Exactly 0 below -104, +inf above 100, NaN stays NaN.
///
/// Exact against torch for every float32 input (all 2^32 checked, AVX2 and AVX512 builds).
#[inline]
pub fn sleef_expf(d: f32) -> f32 {
    fma_dispatch!(sleef_expf_body, d, f32)
}

#[inline(always)]
fn sleef_expf_body(d: f32) -> f32 {
    let q = rint_i32_f32(d * R_LN2F);
    let qf = q as f32;
    let s = qf.fma(-L2UF, d);
    let s = qf.fma(-L2LF, s);
    // the coefficients are C double literals, rounded to float
    let mut u = 0.000198527617612853646278381_f64 as f32;
    u = u.fma(s, 0.00139304355252534151077271_f64 as f32);
    u = u.fma(s, 0.00833336077630519866943359_f64 as f32);
    u = u.fma(s, 0.0416664853692054748535156_f64 as f32);
    u = u.fma(s, 0.166666671633720397949219_f64 as f32);
    u = u.fma(s, 0.5);
    u = 1.0 + (s * s).fma(u, s);
    u = ldexp2_f32(u, q);
    if d < -104.0 {
        u = 0.0;
    }
    if 100.0 < d {
        u = f32::INFINITY;
    }
    u
}

/// Estrin's scheme as SLEEF writes it: `POLY2` .. `POLY8`, `POLY10` (`estrin.h`).
#[inline(always)]
fn poly2(x: f64, c1: f64, c0: f64) -> f64 {
    x.fma(c1, c0)
}
#[inline(always)]
fn poly3(x: f64, x2: f64, c2: f64, c1: f64, c0: f64) -> f64 {
    x2.fma(c2, x.fma(c1, c0))
}
#[inline(always)]
fn poly4(x: f64, x2: f64, c: [f64; 4]) -> f64 {
    x2.fma(x.fma(c[0], c[1]), x.fma(c[2], c[3]))
}
#[inline(always)]
fn poly7(x: f64, x2: f64, x4: f64, c: [f64; 7]) -> f64 {
    x4.fma(poly3(x, x2, c[0], c[1], c[2]), poly4(x, x2, [c[3], c[4], c[5], c[6]]))
}
#[inline(always)]
fn poly8(x: f64, x2: f64, x4: f64, c: [f64; 8]) -> f64 {
    x4.fma(poly4(x, x2, [c[0], c[1], c[2], c[3]]), poly4(x, x2, [c[4], c[5], c[6], c[7]]))
}
#[inline(always)]
fn poly10(x: f64, x2: f64, x4: f64, x8: f64, c: [f64; 10]) -> f64 {
    x8.fma(poly2(x, c[0], c[1]), poly8(x, x2, x4, [c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]]))
}

/// The core of SLEEF's float64 exp: `d = q ln 2 + s` (`q` given, already rounded), and its
/// degree-12 polynomial (Estrin up to degree 10, then Horner) up to the last step: returns
/// `(s, p)` with `e^s = p s + 1` (SLEEF's last step, one fused rounding) and `e^s - 1 = p s`.
#[inline(always)]
fn sleef_exp_reduced(d: f64, q: f64) -> (f64, f64) {
    let s = q.fma(-L2U, d);
    let s = q.fma(-L2L, s);
    let s2 = s * s;
    let s4 = s2 * s2;
    let s8 = s4 * s4;
    let u = poly10(
        s,
        s2,
        s4,
        s8,
        [
            0.2081276378237164457e-8,
            0.2511210703042288022e-7,
            0.2755762628169491192e-6,
            0.2755723402025388239e-5,
            0.2480158687479686264e-4,
            0.1984126989855865850e-3,
            0.1388888888914497797e-2,
            0.8333333333314938210e-2,
            0.4166666666666602598e-1,
            0.1666666666666669072e+0,
        ],
    );
    (s, u.fma(s, 0.5).fma(s, 1.0))
}

/// `e^x` in float64 as torch's vectorized code computes it (SLEEF `Sleef_expd4_u10`, FMA
/// build): `x = q ln2 + s`, a degree-12 polynomial for `e^s` (Estrin up to degree 10, then
/// three Horner steps), `2^q` by two multiplications. +inf above `ln(DBL_MAX)`, exactly 0
/// below -1000.
///
/// Exact against torch on 67 million random float64 inputs of every magnitude (and NaN,
/// inf, subnormals), AVX2 and AVX512 builds.
#[inline]
pub fn sleef_exp(d: f64) -> f64 {
    fma_dispatch!(sleef_exp_body, d, f64)
}

#[inline(always)]
fn sleef_exp_body(d: f64) -> f64 {
    let uq = (d * R_LN2).round_ties_even();
    let q = rint_i32_f64(uq);
    let (s, p) = sleef_exp_reduced(d, uq);
    let mut u = ldexp2_f64(p.fma(s, 1.0), q);
    if d > LOG_DBL_MAX {
        u = f64::INFINITY;
    }
    if d < -1000.0 {
        u = 0.0;
    }
    u
}

/// `ln x` in float32 as torch's vectorized code computes it (SLEEF `Sleef_logf8_u10`):
/// `x = m 2^e` with `m` in `[0.75, 1.5)` (subnormals scaled by 2^64 first), then
/// `ln m = 2 atanh((m-1)/(m+1))` in double-float arithmetic with a short odd polynomial, plus
/// `e ln 2` in double-float. `ln 0 = -inf`, `ln(x<0) = NaN`, `ln inf = inf`.
///
/// Exact against torch for every float32 input (all 2^32 checked, AVX2 and AVX512 builds).
#[inline]
pub fn sleef_logf(d: f32) -> f32 {
    fma_dispatch!(sleef_logf_body, d, f32)
}

#[inline(always)]
fn sleef_logf_body(d: f32) -> f32 {
    let tiny = d < f32::MIN_POSITIVE;
    let d = if tiny { d * (4294967296.0f32 * 4294967296.0f32) } else { d };
    let mut e = ilogb2k_f32(d * (1.0f32 / 0.75f32));
    let m = ldexp3_f32(d, e.wrapping_neg());
    if tiny {
        e -= 64;
    }
    let s = mul_ds(dw(0.69314718246459960938f32, -1.904654323148236017e-09f32), e as f32);
    let x = div_dd(add2_ss(-1.0f32, m), add2_ss(1.0f32, m));
    let x2 = x.hi * x.hi;
    let mut t = 0.3027294874e+0f32;
    t = t.fma(x2, 0.3996108174e+0f32);
    t = t.fma(x2, 0.6666694880e+0f32);
    let s = add_dd(s, scale(x, 2.0));
    let s = add_ds(s, (x2 * x.hi) * t);
    let mut r = s.hi + s.lo;
    if d == f32::INFINITY {
        r = f32::INFINITY;
    }
    if d < 0.0 || d.is_nan() {
        r = f32::NAN;
    }
    if d == 0.0 {
        r = f32::NEG_INFINITY;
    }
    r
}

/// `ln x` in float64 as torch's vectorized code computes it (SLEEF `Sleef_logd4_u10`): the
/// same reduction as `sleef_logf`, in double-double, with a degree-13 odd polynomial.
///
/// Exact against torch on 67 million random float64 inputs of every magnitude (and NaN,
/// inf, subnormals, negatives), AVX2 and AVX512 builds.
#[inline]
pub fn sleef_log(d: f64) -> f64 {
    fma_dispatch!(sleef_log_body, d, f64)
}

#[inline(always)]
fn sleef_log_body(d: f64) -> f64 {
    let tiny = d < f64::MIN_POSITIVE;
    let d = if tiny { d * (4294967296.0f64 * 4294967296.0f64) } else { d };
    let mut e = ilogb2k_f64(d * (1.0 / 0.75));
    let m = ldexp3_f64(d, e.wrapping_neg());
    if tiny {
        e -= 64;
    }
    let x = div_dd(add2_ss(-1.0f64, m), add2_ss(1.0f64, m));
    let x2 = x.hi * x.hi;
    let x4 = x2 * x2;
    let x8 = x4 * x4;
    let t = poly7(
        x2,
        x4,
        x8,
        [
            0.1532076988502701353e+0,
            0.1525629051003428716e+0,
            0.1818605932937785996e+0,
            0.2222214519839380009e+0,
            0.2857142932794299317e+0,
            0.3999999999635251990e+0,
            0.6666666666667333541e+0,
        ],
    );
    // ln 2 in two parts: the double nearest it and the rest
    let s = mul_ds(dw(std::f64::consts::LN_2, 2.319046813846299558417771e-17), e as f64);
    let s = add_dd(s, scale(x, 2.0));
    let s = add_ds(s, (x2 * x.hi) * t);
    let mut r = s.hi + s.lo;
    if d == f64::INFINITY {
        r = f64::INFINITY;
    }
    if d < 0.0 || d.is_nan() {
        r = f64::NAN;
    }
    if d == 0.0 {
        r = f64::NEG_INFINITY;
    }
    r
}

// ---------------------------------------------------------------------------------------
// SLEEF's 1-ulp sin and cos (float32) and tanh (float64): the closest public algorithms to
// MKL's for those ops (MKL itself is what torch runs; see the module doc)
// ---------------------------------------------------------------------------------------

/// `pi` split in three float parts (`PI_A2f`, `PI_B2f`, `PI_C2f`), and `1/pi` (`M_1_PI`, a
/// double rounded to float).
const PI_A2F: f32 = 3.1414794921875;
const PI_B2F: f32 = 0.00011315941810607910156;
const PI_C2F: f32 = 1.9841872589410058936e-09;
const ONE_OVER_PI_F: f32 = std::f64::consts::FRAC_1_PI as f32;
/// Below this magnitude SLEEF reduces with the three-part pi (`TRIGRANGEMAX2f`).
const TRIG_RANGE_F: f32 = 125.0;

/// The shared tail of SLEEF's 1-ulp `sinf`/`cosf`: `sin(s)` for the reduced double-float
/// argument `s` (`|s| <= pi/2`), an odd polynomial whose low terms are double-float.
#[inline(always)]
fn sin_kernel_f32(t: Dw<f32>) -> f32 {
    let s = squ(t);
    let mut u = 2.6083159809786593541503e-06f32;
    u = u.fma(s.hi, -0.0001981069071916863322258f32);
    u = u.fma(s.hi, 0.00833307858556509017944336f32);
    let x = add_sd(1.0f32, mul_dd(add_ss(-0.166666597127914428710938f32, u * s.hi), s));
    mul_dd_to_s(t, x)
}

/// `sin x` in float32 with SLEEF's `Sleef_sinf_u10` for `|x| < 125` (`x = q pi + s` with a
/// three-part pi in double-float, then `sin_kernel_f32`, sign flipped for odd `q`; `-0`
/// stays `-0`). Not torch's algorithm (MKL's, closed), only the nearest public one found.
/// Checked on every float32: torch's bits for all `|x| < 2^-13`, for 99.07% of
/// `2^-13 <= |x| < 128` (glibc's `sinf` 97.56%, a correctly rounded sine 97.47%; SLEEF is
/// the closest in every binade), and at `|x| >= 125`, where this is `sin` in float64
/// rounded to float32, for 98.8% (glibc's `sinf` 98.0%).
#[inline]
pub fn sin_f32(d: f32) -> f32 {
    fma_dispatch!(sin_f32_body, d, f32)
}

#[inline(always)]
fn sin_f32_body(d: f32) -> f32 {
    if !sin_in_range(d) {
        return sin_via_f64(d);
    }
    sin_f32_sleef(d)
}

/// Where `sin_f32` is SLEEF's (`|x| < 125`; false for NaN).
#[inline(always)]
fn sin_in_range(d: f32) -> bool {
    d.abs() < TRIG_RANGE_F
}

/// SLEEF's sine without the range check (finite nonsense outside `sin_in_range`).
#[inline(always)]
fn sin_f32_sleef(d: f32) -> f32 {
    let u = (d * ONE_OVER_PI_F).round_ties_even();
    // (not `u as i32`: its saturating conversion is not a vector instruction, and it made the
    // loop over a slice take its lanes one at a time, six times slower; in range the same)
    let q = rint_i32_f32(u);
    let v = u.fma(-PI_A2F, d);
    let s = add2_ss(v, u * -PI_B2F);
    let s = add_ds(s, u * -PI_C2F);
    let mut r = sin_kernel_f32(s);
    if q & 1 == 1 {
        r = -r;
    }
    if d == 0.0 && d.is_sign_negative() {
        r = d;
    }
    r
}

/// `cos x` in float32: for `1/16 <= |x| < 125` SLEEF's `Sleef_cosf_u10` (`x = (q + 1/2) pi +
/// s` with `dq = 2 rint(x/pi - 1/2) + 1`, the sine kernel of `s`, sign from `q`), elsewhere
/// `cos` in float64 rounded to float32. Not MKL's algorithm (closed), the nearest public
/// pieces found, chosen per binade on every float32: MKL's cosine is not correctly rounded
/// near 0 (it rounds `1 - x^2/2` up about a tenth of an ulp early) and nothing public
/// matches it there; a correctly rounded cosine is closest below 1/16 (torch's bits for all
/// `|x| < 2^-12`, 92.3% of `2^-12 <= |x| < 1/16`, like glibc's `cosf`; SLEEF 88.8%),
/// SLEEF's from 1/16 (97.0% of `1/16 <= |x| < 128`; glibc's `cosf` 94.7%), float64 `cos`
/// rounded from 125 on (98.8%; `cosf` 98.0%).
#[inline]
pub fn cos_f32(d: f32) -> f32 {
    fma_dispatch!(cos_f32_body, d, f32)
}

#[inline(always)]
fn cos_f32_body(d: f32) -> f32 {
    if !cos_in_range(d) {
        return cos_via_f64(d);
    }
    cos_f32_inside(d)
}

/// Where `cos_f32` is `cos_f32_inside` (`|x| < 125`; false for NaN).
#[inline(always)]
fn cos_in_range(d: f32) -> bool {
    d.abs() < TRIG_RANGE_F
}

/// `cos_f32` in its range without a branch (so a loop over it vectorizes): SLEEF's from
/// 1/16 on, below it `cos_small`.
#[inline(always)]
fn cos_f32_inside(d: f32) -> f32 {
    let small = cos_small(d);
    let sleef = cos_f32_sleef(d);
    if d.abs() < COS_SLEEF_FROM {
        small
    } else {
        sleef
    }
}

/// `cos x` for `|x| < 1/16` in float64, rounded to float32: the even Taylor polynomial to
/// `x^10` (the next term is below 2^-63, far under float64's rounding of a result near 1),
/// so within about a float64 ulp of the true cosine; the same float32 bits as the C
/// library's float64 `cos` rounded, which this replaced, on every float32 below 1/16
/// (`examples/f32_math_check.rs cos`). Unlike that call, a loop over it vectorizes.
#[inline(always)]
fn cos_small(d: f32) -> f32 {
    let x = d as f64;
    let x2 = x * x;
    let p = -1.0 / 3628800.0;
    let p = p * x2 + 1.0 / 40320.0;
    let p = p * x2 - 1.0 / 720.0;
    let p = p * x2 + 1.0 / 24.0;
    let p = p * x2 - 0.5;
    (p * x2 + 1.0) as f32
}

/// SLEEF's cosine without the range check.
#[inline(always)]
fn cos_f32_sleef(d: f32) -> f32 {
    let dq = d.fma(ONE_OVER_PI_F, -0.5).round_ties_even().fma(2.0, 1.0);
    let q = rint_i32_f32(dq); // (see `sin_f32_sleef`)
    let s = add2_ss(d, dq * (-PI_A2F * 0.5));
    let s = add2_ds(s, dq * (-PI_B2F * 0.5));
    let s = add2_ds(s, dq * (-PI_C2F * 0.5));
    let mut r = sin_kernel_f32(s);
    if q & 2 == 0 {
        r = -r;
    }
    r
}

/// `sin` in float64 rounded to float32 (correctly rounded in practice), out of the way of
/// the loops that call `sin_f32` (kept out of line, so those stay simple).
#[cold]
#[inline(never)]
fn sin_via_f64(d: f32) -> f32 {
    (d as f64).sin() as f32
}

/// `cos` in float64 rounded to float32, out of line like `sin_via_f64`.
#[cold]
#[inline(never)]
fn cos_via_f64(d: f32) -> f32 {
    (d as f64).cos() as f32
}

/// Below this magnitude `cos_f32` is the correctly rounded cosine (closer to MKL there).
const COS_SLEEF_FROM: f32 = 0.0625;

/// `e^d` for a double-double `d`, as a double-double (SLEEF's `expk2`).
#[inline(always)]
fn expk2(d: Dw<f64>) -> Dw<f64> {
    let dq = ((d.hi + d.lo) * R_LN2).round_ties_even();
    let q = rint_i32_f64(dq);
    let s = add2_ds(d, dq * -L2U);
    let s = add2_ds(s, dq * -L2L);
    let s2 = squ(s);
    let s4 = squ(s2);
    let s8 = s4.hi * s4.hi;
    let u = poly10(
        s.hi,
        s2.hi,
        s4.hi,
        s8,
        [
            0.1602472219709932072e-9,
            0.2092255183563157007e-8,
            0.2505230023782644465e-7,
            0.2755724800902135303e-6,
            0.2755731892386044373e-5,
            0.2480158735605815065e-4,
            0.1984126984148071858e-3,
            0.1388888888886763255e-2,
            0.8333333333333347095e-2,
            0.4166666666666669905e-1,
        ],
    );
    let t = add_sd(0.5, mul_ds(s, 0.1666666666666666574e+0));
    let t = add_sd(1.0, mul_dd(t, s));
    let t = add_sd(1.0, mul_dd(t, s));
    let t = add_dd(t, mul_ds(s4, u));
    let mut t = dw(ldexp2_f64(t.hi, q), ldexp2_f64(t.lo, q));
    if d.hi < -1000.0 {
        t = dw(0.0, 0.0);
    }
    t
}

/// `tanh x` in float64 with SLEEF's `Sleef_tanhd4_u10` algorithm: `d = e^|x|` in
/// double-double, `(d - 1/d) / (d + 1/d)` in double-double, the sign of `x`; correctly
/// rounded in practice. Not torch's algorithm (MKL's `vdTanh`, closed, which is not
/// correctly rounded for small `x`), the nearest public one found. One change: SLEEF returns
/// 1 from 18.714973875 on, where the true value still rounds to `1 - 2^-53` up to about
/// 19.06 (as MKL's does), so the formula is used up to 20. Torch's bits for 98.4% of
/// random `|x| <= 20` (half uniform, half log-uniform magnitudes from 2^-30), against 85%
/// for glibc's `tanh`.
#[inline]
pub fn tanh_f64(x: f64) -> f64 {
    fma_dispatch!(tanh_f64_body, x, f64)
}

#[inline(always)]
fn tanh_f64_body(x: f64) -> f64 {
    let a = x.abs();
    let d = expk2(dw(a, 0.0));
    let e = rec_d(d);
    let d = div_dd(add2_dd(d, neg(e)), add2_dd(d, e));
    let mut y = d.hi + d.lo;
    if a > 20.0 || y.is_nan() {
        y = 1.0;
    }
    if x.is_nan() {
        return f64::NAN;
    }
    f64::from_bits(y.to_bits() ^ (x.to_bits() & (1 << 63)))
}

// ---------------------------------------------------------------------------------------
// The tensor ops (MKL in torch): one function per op and dtype
// ---------------------------------------------------------------------------------------

/// `torch.exp` on float32. torch: MKL `vmsExp` (HA), within about 0.56 ulp, not correctly
/// rounded. Here: glibc's `expf` (correctly rounded in practice): torch's bits for 99.42% of
/// the float32 with `2^-24 <= |x| < 128` (all others), checked on every one; a correctly
/// rounded exp does no better (99.43%), SLEEF's worse (96.5%).
///
/// glibc's algorithm (from Arm's optimized-routines), written out so that a loop over it
/// vectorizes instead of calling `expf` per element: in float64, `k = rint(x * 32/ln 2)`,
/// `r = x * 32/ln 2 - k` (one fused multiply-add, as glibc's FMA build computes it),
/// `2^(k/32)` from a 32-entry table and the exponent field, a cubic in `r`, one rounding to
/// float32 at the end. The same bits as the C library's `expf` on all 2^32 float32 inputs
/// (checked with `examples/f32_math_check.rs`, glibc 2.36).
#[inline]
pub fn exp_f32(x: f32) -> f32 {
    fma_dispatch!(exp_f32_body, x, f32)
}

/// `2^(i/32)`, correctly rounded to float64, minus `i << 47` (the exponent bits that the
/// caller adds back from `k`): glibc's `__exp2f_data.tab`.
const EXP2_TABLE_32: [u64; 32] = [
    0x3ff0000000000000,
    0x3fefd9b0d3158574,
    0x3fefb5586cf9890f,
    0x3fef9301d0125b51,
    0x3fef72b83c7d517b,
    0x3fef54873168b9aa,
    0x3fef387a6e756238,
    0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715,
    0x3feef1a7373aa9cb,
    0x3feedea64c123422,
    0x3feece086061892d,
    0x3feebfdad5362a27,
    0x3feeb42b569d4f82,
    0x3feeab07dd485429,
    0x3feea47eb03a5585,
    0x3feea09e667f3bcd,
    0x3fee9f75e8ec5f74,
    0x3feea11473eb0187,
    0x3feea589994cce13,
    0x3feeace5422aa0db,
    0x3feeb737b0cdc5e5,
    0x3feec49182a3f090,
    0x3feed503b23e255d,
    0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47,
    0x3fef199bdd85529c,
    0x3fef3720dcef9069,
    0x3fef5818dcfba487,
    0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da,
    0x3fefd0765b6e4540,
];

#[inline(always)]
fn exp_f32_body(x: f32) -> f32 {
    // 32 / ln 2, and the cubic for 2^(r/32) - 1 (glibc's `invln2_scaled`, `poly_scaled`)
    const INV_LN2_32: f64 = std::f64::consts::LOG2_E * 32.0;
    const C0: f64 = 0.05550361559341535 / 32768.0;
    const C1: f64 = 0.2402284522445722 / 1024.0;
    const C2: f64 = 0.6931471806916203 / 32.0;
    let xd = x as f64;
    let kd = (INV_LN2_32 * xd).round_ties_even();
    let r = INV_LN2_32.mul_add(xd, -kd);
    // |k| < 4800 for every x that reaches the formula; NaN and the rest are replaced below
    let k = if kd.abs() < 8192.0 {
        // SAFETY: an integer in i64's range
        unsafe { kd.to_int_unchecked::<i64>() }
    } else {
        0
    };
    let scale = f64::from_bits(EXP2_TABLE_32[(k & 31) as usize].wrapping_add((k as u64) << 47));
    let y = C0.mul_add(r, C1).mul_add(r * r, C2.mul_add(r, 1.0)) * scale;
    let mut y = y as f32;
    // glibc's limits: above ln(2^128) overflow, below ln(2^-150) zero
    if x > f32::from_bits(0x42b1_7217) {
        y = f32::INFINITY;
    }
    if x < f32::from_bits(0xc2cf_f1b4) {
        y = 0.0;
    }
    if x.is_nan() {
        y = x + x;
    }
    y
}

/// `torch.exp` on float64. torch: MKL `vmdExp`. Here: glibc's `exp`: torch's bits for 99.6%
/// of random `|x| <= 20` (half uniform, half log-uniform from 2^-30); SLEEF's 96.1%.
///
/// glibc's algorithm (Arm's optimized-routines), its steps as glibc 2.36's FMA build runs them
/// (read from its machine code), written out so that a loop over it vectorizes: `k =
/// rint(x 128/ln2)` by the 1.5 * 2^52 shift, `r = x - k ln2/128` by two fused steps (`ln2/128`
/// in two parts), `2^(k/128) = 2^m 2^(j/128)` from a 128-entry table (`exp_f64_table.rs`) that
/// also holds each entry's rounding error ("tail"), and `e^x = S + S (tail + r + r^2 (C2 +
/// C3 r) + r^4 (C4 + C5 r))`. Only for `2^-54 <= |x| < 512`, where glibc takes that path
/// and nothing under- or overflows; the rest (tiny, huge, infinite, NaN) goes to the C library
/// itself. The same bits as the C library's `exp` on every input tried
/// (`examples/f64_math_check.rs`).
#[inline]
pub fn exp_f64(x: f64) -> f64 {
    if !exp_f64_in_range(x) {
        return exp_f64_outside(x);
    }
    fma_dispatch!(exp_f64_formula, x, f64)
}

/// Where `exp_f64_formula` is `exp_f64`: `2^-54 <= |x| < 512`.
#[inline(always)]
fn exp_f64_in_range(x: f64) -> bool {
    ((x.to_bits() >> 52) & 0x7ff).wrapping_sub(0x3c9) < 0x3f
}

/// `exp_f64` outside `exp_f64_in_range`: the C library's `exp`.
#[inline(always)]
fn exp_f64_outside(x: f64) -> f64 {
    x.exp()
}

/// `exp_f64` for `exp_f64_in_range(x)`, without a branch (any other input gives some value).
#[inline(always)]
fn exp_f64_formula(x: f64) -> f64 {
    // glibc's `__exp_data`: 128/ln2, -ln2/128 in two parts, C2..C5, the shift
    const INV_LN2_128: f64 = f64::from_bits(0x40671547652b82fe);
    const NEG_LN2_128_HI: f64 = f64::from_bits(0xbf762e42fefa0000);
    const NEG_LN2_128_LO: f64 = f64::from_bits(0xbd0cf79abc9e3b3a);
    const C2: f64 = f64::from_bits(0x3fdffffffffffdbd);
    const C3: f64 = f64::from_bits(0x3fc555555555543c);
    const C4: f64 = f64::from_bits(0x3fa55555cf172b91);
    const C5: f64 = f64::from_bits(0x3f81111167a4d017);
    const SHIFT: f64 = 6755399441055744.0; // 1.5 * 2^52
    let shifted = x.mul_add(INV_LN2_128, SHIFT);
    let k_bits = shifted.to_bits();
    let k = shifted - SHIFT;
    let r = k.mul_add(NEG_LN2_128_LO, k.mul_add(NEG_LN2_128_HI, x));
    let (tail, scale_bits) = exp_f64_table::EXP_TABLE_128[(k_bits & 127) as usize];
    let scale = f64::from_bits(scale_bits.wrapping_add(k_bits << 45));
    let r2 = r * r;
    let low = C3.mul_add(r, C2).mul_add(r2, r + f64::from_bits(tail));
    let tmp = (r2 * r2).mul_add(C5.mul_add(r, C4), low);
    scale.mul_add(tmp, scale)
}

/// `torch.log` on float32. torch: MKL `vmsLn`, within about 0.8 ulp. Here: glibc's `logf`:
/// torch's bits for 99.4% of the positive float32, checked on every one (SLEEF's and a
/// correctly rounded log: the same to 0.01%).
///
/// glibc's algorithm (Arm's optimized-routines) written out, as `exp_f32` is, so that a loop
/// over it vectorizes: for a normal positive `x = 2^k z` with `z` in `[0.7, 1.4)`, in float64,
/// `r = z / c - 1` by one fused multiply-add with `1/c` from a 16-entry table (`c` near the
/// middle of `z`'s sixteenth of the range), `log x = k ln2 + log c + r + r^2 (A0 + A1 r +
/// A2 r^2)` with `log c` from the same table, one rounding to float32 at the end, each
/// product and sum fused as glibc's FMA build has them. Zero, negative, subnormal, infinite
/// and NaN inputs go to the C library itself. The same bits as the C library's `logf` on
/// all 2^32 float32 inputs (`examples/f32_math_check.rs`, glibc 2.36).
#[inline]
pub fn log_f32(x: f32) -> f32 {
    if !log_f32_in_range(x) {
        return log_f32_outside(x);
    }
    fma_dispatch!(log_f32_formula, x, f32)
}

/// Where `log_f32_formula` is `log_f32`: the normal positive float32 (not infinite).
#[inline(always)]
fn log_f32_in_range(x: f32) -> bool {
    x.to_bits().wrapping_sub(0x0080_0000) < 0x7f80_0000 - 0x0080_0000
}

/// `log_f32` outside `log_f32_in_range`: the C library's `logf`.
#[inline(always)]
fn log_f32_outside(x: f32) -> f32 {
    x.ln()
}

/// `(1/c, log c)` for the sixteen parts of `[0.7, 1.4)` that `log_f32` splits `z` into
/// (glibc's `__logf_data.tab`, as float64 bits).
const LOGF_TABLE: [(u64, u64); 16] = [
    (0x3ff661ec79f8f3be, 0xbfd57bf7808caade),
    (0x3ff571ed4aaf883d, 0xbfd2bef0a7c06ddb),
    (0x3ff49539f0f010b0, 0xbfd01eae7f513a67),
    (0x3ff3c995b0b80385, 0xbfcb31d8a68224e9),
    (0x3ff30d190c8864a5, 0xbfc6574f0ac07758),
    (0x3ff25e227b0b8ea0, 0xbfc1aa2bc79c8100),
    (0x3ff1bb4a4a1a343f, 0xbfba4e76ce8c0e5e),
    (0x3ff12358f08ae5ba, 0xbfb1973c5a611ccc),
    (0x3ff0953f419900a7, 0xbfa252f438e10c1e),
    (0x3ff0000000000000, 0x0000000000000000),
    (0x3fee608cfd9a47ac, 0x3faaa5aa5df25984),
    (0x3feca4b31f026aa0, 0x3fbc5e53aa362eb4),
    (0x3feb2036576afce6, 0x3fc526e57720db08),
    (0x3fe9c2d163a1aa2d, 0x3fcbc2860d224770),
    (0x3fe886e6037841ed, 0x3fd1058bc8a07ee1),
    (0x3fe767dcf5534862, 0x3fd4043057b6ee09),
];

/// The coefficients of `r^2`, `r^3` and `r^4` in `log_f32`'s polynomial for `log(1 + r)`
/// (glibc's `__logf_data.poly`, highest first).
const LOGF_POLY: [f64; 3] = [
    f64::from_bits(0xbfd00ea348b88334),
    f64::from_bits(0x3fd5575b0be00b6a),
    f64::from_bits(0xbfdffffef20a4123),
];

/// The bits of the float32 `0.7` about which `log_f32` splits the exponent from `z`.
const LOGF_OFF: u32 = 0x3f33_0000;

/// `log_f32` for `log_f32_in_range(x)`, without a branch (any other input gives some value).
#[inline(always)]
fn log_f32_formula(x: f32) -> f32 {
    let ix = x.to_bits();
    // x = 2^k z: k from the bits above OFF, the table's part from the four below them
    let tmp = ix.wrapping_sub(LOGF_OFF);
    let part = ((tmp >> 19) & 15) as usize;
    let k = (tmp as i32) >> 23;
    let z = f32::from_bits(ix.wrapping_sub(tmp & 0xff80_0000)) as f64;
    let (inv_c, log_c) = (f64::from_bits(LOGF_TABLE[part].0), f64::from_bits(LOGF_TABLE[part].1));
    let [a0, a1, a2] = LOGF_POLY;
    let r = z.mul_add(inv_c, -1.0);
    let y0 = (k as f64).mul_add(std::f64::consts::LN_2, log_c);
    let r2 = r * r;
    let y = a0.mul_add(r2, a1.mul_add(r, a2));
    y.mul_add(r2, y0 + r) as f32
}

/// `torch.log` on float64. torch: MKL `vmdLn`. Here: glibc's `log`: torch's bits for 99.98%
/// of random positive inputs (SLEEF's 99.3%).
///
/// glibc's algorithm (Arm's optimized-routines), its steps as glibc 2.36's FMA build runs them
/// (read from its machine code), written out so that a loop over it vectorizes. For a normal
/// positive `x = 2^k z`, `z` in `[0.6875, 1.375)`: `r = z/c - 1` by one fused step with `1/c`
/// from a 128-entry table (`log_f64_table.rs`), `log x = (k ln2_hi + log c + r) + (the rounding
/// error of that sum + k ln2_lo + r^2 A0 + r^3 (A1 + A2 r + r^2 (A3 + A4 r)))`. Near 1
/// (`x` in `[1 - 2^-4, 1 + 0x1.09p-4)`) it is a degree-11 polynomial in `r = x - 1` instead,
/// its first terms `r - r^2/2` carried in two parts (`r`'s top 26 bits and the rest). Both
/// are computed and one is kept (a branch would stop the loop vectorizing). Zero, negative,
/// subnormal, infinite and NaN inputs go to the C library itself. The same bits as the C
/// library's `log` on every input tried (`examples/f64_math_check.rs`).
#[inline]
pub fn log_f64(x: f64) -> f64 {
    if !log_f64_in_range(x) {
        return log_f64_outside(x);
    }
    fma_dispatch!(log_f64_formula, x, f64)
}

/// Where `log_f64_formula` is `log_f64`: the normal positive float64 (not infinite).
#[inline(always)]
fn log_f64_in_range(x: f64) -> bool {
    (x.to_bits() >> 48).wrapping_sub(0x0010) < 0x7ff0 - 0x0010
}

/// `log_f64` outside `log_f64_in_range`: the C library's `log`.
#[inline(always)]
fn log_f64_outside(x: f64) -> f64 {
    x.ln()
}

/// `log_f64` for `log_f64_in_range(x)`, without a branch (any other input gives some value).
#[inline(always)]
fn log_f64_formula(x: f64) -> f64 {
    // glibc's `__log_data`: ln 2 in two parts, the polynomial away from 1 (A0..A4) and near
    // 1 (B0..B10)
    const LN2_HI: f64 = f64::from_bits(0x3fe62e42fefa3800);
    const LN2_LO: f64 = f64::from_bits(0x3d2ef35793c76730);
    const A: [f64; 5] = [
        f64::from_bits(0xbfe0000000000001),
        f64::from_bits(0x3fd555555551305b),
        f64::from_bits(0xbfcfffffffeb4590),
        f64::from_bits(0x3fc999b324f10111),
        f64::from_bits(0xbfc55575e506c89f),
    ];
    const B: [f64; 11] = [
        -0.5,
        f64::from_bits(0x3fd5555555555577),
        f64::from_bits(0xbfcffffffffffdcb),
        f64::from_bits(0x3fc999999995dd0c),
        f64::from_bits(0xbfc55555556745a7),
        f64::from_bits(0x3fc24924a344de30),
        f64::from_bits(0xbfbfffffa4423d65),
        f64::from_bits(0x3fbc7184282ad6ca),
        f64::from_bits(0xbfb999eb43b068ff),
        f64::from_bits(0x3fb78182f7afd085),
        f64::from_bits(0xbfb5521375d145cd),
    ];
    /// The bits of 0.6875, about which `x = 2^k z` is split.
    const OFF: u64 = 0x3fe6_0000_0000_0000;
    const TWO_27: f64 = 134217728.0;
    let ix = x.to_bits();
    // away from 1
    let tmp = ix.wrapping_sub(OFF);
    let (inv_c, log_c) = log_f64_table::LOG_TABLE_128[((tmp >> 45) & 127) as usize];
    let (inv_c, log_c) = (f64::from_bits(inv_c), f64::from_bits(log_c));
    let k = ((tmp as i64) >> 52) as i32 as f64;
    let z = f64::from_bits(ix.wrapping_sub(tmp & 0xfff0_0000_0000_0000));
    let w = k.mul_add(LN2_HI, log_c);
    let r = z.mul_add(inv_c, -1.0);
    let hi = r + w;
    let r2 = r * r;
    let lo = k.mul_add(LN2_LO, (w - hi) + r);
    let poly = A[4].mul_add(r, A[3]).mul_add(r2, A[2].mul_add(r, A[1]));
    let away = (r * r2).mul_add(poly, r2.mul_add(A[0], lo)) + hi;
    // near 1
    let r = x - 1.0;
    let r2 = r * r;
    let r3 = r * r2;
    let inner = r3.mul_add(B[10], r2.mul_add(B[9], B[8].mul_add(r, B[7])));
    let middle = inner.mul_add(r3, r2.mul_add(B[6], B[5].mul_add(r, B[4])));
    let poly = middle.mul_add(r3, r2.mul_add(B[3], B[2].mul_add(r, B[1])));
    let r_hi = (-TWO_27).mul_add(r, r.mul_add(TWO_27, r));
    let r_lo = r - r_hi;
    let hi = (r_hi * r_hi).mul_add(B[0], r);
    let lo = (r_hi * r_hi).mul_add(B[0], r - hi);
    let lo = (B[0] * r_lo).mul_add(r + r_hi, lo);
    let near = poly.mul_add(r3, lo) + hi;
    // glibc's test: ix - bits(1 - 2^-4) below bits(1 + 0x1.09p-4) - bits(1 - 2^-4) (at 1 itself the
    // polynomial gives +0, the value glibc returns there before it)
    if ix.wrapping_sub(0x3fee_0000_0000_0000) < 0x0003_0900_0000_0000 {
        near
    } else {
        away
    }
}

/// `torch.sin` on float64. torch: MKL `vmdSin`. Here: glibc's `sin`: torch's bits for 99.9%
/// of random `|x| <= 20` (SLEEF's 1-ulp sine about 98.5% in a smaller sample).
#[inline(always)]
pub fn sin_f64(x: f64) -> f64 {
    x.sin()
}

/// `torch.cos` on float64. torch: MKL `vmdCos`. Here: glibc's `cos`: torch's bits for 99.9%
/// of random `|x| <= 20`.
#[inline(always)]
pub fn cos_f64(x: f64) -> f64 {
    x.cos()
}

/// `torch.tanh` on float32. torch: MKL `vmsTanh`, within about 0.51 ulp. Here: `tanh` in
/// float64 rounded to float32, correctly rounded in practice: torch's bits for 99.97% of the
/// float32 with `|x| < 16` (all others), checked on every one; glibc's `tanhf`, which the
/// crate used before, only 75.6% (it is off for small `x`).
///
/// The float64 value is `(e^2a - 1) / (e^2a + 1)`, `a = |x|`, with `e^2a - 1` from SLEEF's
/// float64 exp polynomial stopped before its final `+ 1` (no cancellation for small `a`), a
/// few float64 ulps from the truth, far inside float32's rounding. Unlike glibc's `tanh`,
/// which this used before, a loop over it vectorizes. The same float32 bits as glibc's
/// float64 `tanh` rounded, on all 2^32 inputs (`examples/f32_math_check.rs`, AVX-512 and
/// AVX2 builds). Over a slice on a CPU with AVX-512, `tanh_f32_avx512` gives the same bits
/// without the division.
#[inline]
pub fn tanh_f32(x: f32) -> f32 {
    fma_dispatch!(tanh_f32_body, x, f32)
}

#[inline(always)]
fn tanh_f32_body(x: f32) -> f32 {
    // tanh a = (e^2a - 1) / (e^2a - 1 + 2) for a = |x|, with e^2a - 1 from SLEEF's float64
    // exp polynomial stopped before its last `+ 1` (so small `a` loses nothing)
    let a = (x as f64).abs();
    let v = a + a;
    let q = (v * R_LN2).round_ties_even();
    let (s, p) = sleef_exp_reduced(v, q);
    let expm1_s = p * s;
    // 0 <= q <= 58 below (a < 20); 2^q - 1 is exact
    let two_q = pow2i_f64(rint_i32_f64(q.min(60.0)));
    let expm1_v = two_q.fma(expm1_s, two_q - 1.0);
    let mut y = expm1_v / (expm1_v + 2.0);
    if a > 20.0 {
        y = 1.0;
    }
    (y as f32).copysign(x)
}

// ---------------------------------------------------------------------------------------
// sigmoid
// ---------------------------------------------------------------------------------------

/// One element of `torch.sigmoid` on float32 in the kernel's vectorized loop:
/// `1 / (1 + exp(0 - x))` with SLEEF's exp (exact).
#[inline]
pub fn sigmoid_vec_f32(x: f32) -> f32 {
    fma_dispatch!(sigmoid_vec_f32_body, x, f32)
}

#[inline(always)]
fn sigmoid_vec_f32_body(x: f32) -> f32 {
    1.0 / (1.0 + sleef_expf_body(0.0 - x))
}

/// One element of `torch.sigmoid` on float32 in the kernel's scalar loop (the tail of a run
/// that does not fill two vectors, and strided runs): `1 / (1 + std::exp(-x))`, glibc's
/// `expf` (exact: torch calls the same glibc).
#[inline(always)]
pub fn sigmoid_scalar_f32(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `sigmoid_vec_f32` for float64 (SLEEF's double exp).
#[inline]
pub fn sigmoid_vec_f64(x: f64) -> f64 {
    fma_dispatch!(sigmoid_vec_f64_body, x, f64)
}

#[inline(always)]
fn sigmoid_vec_f64_body(x: f64) -> f64 {
    1.0 / (1.0 + sleef_exp_body(0.0 - x))
}

/// `sigmoid_scalar_f32` for float64 (glibc's `exp`).
#[inline(always)]
pub fn sigmoid_scalar_f64(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

// ---------------------------------------------------------------------------------------
// Over slices: the loop compiled for the widest vector instructions the CPU has
// ---------------------------------------------------------------------------------------

/// `$run(args)` through the widest of its builds that the CPU can run: compiled for
/// AVX-512, for AVX2 with FMA, for FMA alone, or plain. The element functions use only IEEE
/// operations and explicit `mul_add`s, so every build gives the same bits; the wider ones
/// only let the loop take 16 or 8 float32 lanes at a time (the plain build pays a C library
/// call for each `mul_add`). `$run<T: Bound>(...)` for a generic `$run` (softmax's rows).
macro_rules! widest_build {
    ($run:ident$(<$g:ident: $bound:path>)?($($arg:ident: $ty:ty),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
            unsafe fn avx512$(<$g: $bound>)?($($arg: $ty),*) {
                $run($($arg),*)
            }
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2$(<$g: $bound>)?($($arg: $ty),*) {
                $run($($arg),*)
            }
            #[target_feature(enable = "fma")]
            unsafe fn fma$(<$g: $bound>)?($($arg: $ty),*) {
                $run($($arg),*)
            }
            if has!("avx512f") && has!("avx512dq") && has!("avx512vl") && has!("avx2") && has!("fma") {
                // SAFETY: the CPU has the instructions this build was compiled for
                return unsafe { avx512($($arg),*) };
            }
            if has!("avx2") && has!("fma") {
                // SAFETY: as above
                return unsafe { avx2($($arg),*) };
            }
            if has!("fma") {
                // SAFETY: as above
                return unsafe { fma($($arg),*) };
            }
        }
        $run($($arg),*)
    }};
}
pub(crate) use widest_build;

/// Defines `pub fn $name(x: &[T], out: &mut [T])`, `out[i] = $body(x[i])`, the whole loop
/// in the widest build the CPU runs (`widest_build!`: one check per slice, and the element
/// function inlined into the loop).
macro_rules! slice_fn {
    ($(#[$doc:meta])* $name:ident, $body:ident, $t:ty) => {
        $(#[$doc])*
        pub fn $name(x: &[$t], out: &mut [MaybeUninit<$t>]) {
            #[inline(always)]
            fn run(x: &[$t], out: &mut [MaybeUninit<$t>]) {
                for (o, &v) in out.iter_mut().zip(x) {
                    o.write($body(v));
                }
            }
            widest_build!(run(x: &[$t], out: &mut [MaybeUninit<$t>]))
        }
    };
}

/// `slice_fn!` for a function that is one formula in a range and another outside: the
/// formula over the whole slice first (no branch, so the loop vectorizes), then the
/// elements outside the range again, looked for a block at a time (a test of the whole
/// block, which vectorizes too: element by element, the search took as long as the sine).
macro_rules! split_slice_fn {
    ($(#[$doc:meta])* $name:ident, $inside:ident, $in_range:ident, $outside:ident, $t:ty) => {
        $(#[$doc])*
        pub fn $name(x: &[$t], out: &mut [MaybeUninit<$t>]) {
            #[inline(always)]
            fn run(x: &[$t], out: &mut [MaybeUninit<$t>]) {
                for (o, &v) in out.iter_mut().zip(x) {
                    o.write($inside(v));
                }
                for (xs, os) in x.chunks(64).zip(out.chunks_mut(64)) {
                    if xs.iter().fold(true, |all, &v| all & $in_range(v)) {
                        continue;
                    }
                    for (o, &v) in os.iter_mut().zip(xs) {
                        if !$in_range(v) {
                            o.write($outside(v));
                        }
                    }
                }
            }
            widest_build!(run(x: &[$t], out: &mut [MaybeUninit<$t>]))
        }
    };
}

/// `out[start + lane] = redo(x[start + lane])` for each lane whose bit is set in `unsure`
/// (the lanes a vector's result was not sure of).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn redo_lanes(
    x: &[f32],
    out: &mut [MaybeUninit<f32>],
    start: usize,
    mut unsure: u64,
    redo: &impl Fn(f32) -> f32,
) {
    while unsure != 0 {
        let lane = unsure.trailing_zeros() as usize;
        out[start + lane].write(redo(x[start + lane]));
        unsure &= unsure - 1;
    }
}

/// When `by_sixteen` computes again the lanes it was not sure of (`by_eight` does it at once).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, PartialEq, Eq)]
enum Redo {
    /// Right after their block: where that is rare (`tanh`: a lane in 2^15) or never (SLEEF's
    /// functions), a branch the CPU predicts.
    AtOnce,
    /// Noted without a branch and computed a batch at a time (`Unsure`): where a block
    /// with such a lane is common (`exp` with AVX-512: a lane in 256, a block in six).
    Batched,
}

/// The blocks of a vector loop with lanes it was not sure of, noted without a branch and
/// computed again a batch at a time. For `exp` (three vectors of sixteen, a lane in 256
/// unsure) about one block in six has such a lane, a branch the CPU cannot predict, and
/// each misprediction throws away the vector work in flight after it. A lane computed again
/// cost about 22 ns in the loop (it took 0.26 ns an element more with the margin, and so the
/// lanes computed again, four times as large): a fifth of `exp`'s time. Batched, `exp` took
/// 0.390-0.416 instead of 0.387-0.440 ns an element (medians of six runs in turns 0.398 and
/// 0.426); gathering the lanes and computing them sixteen at a time in float64 gave nothing
/// more. `tanh` and SLEEF's functions, whose lanes are (nearly) always sure, took 2-7% more
/// batched, so they keep the branch (`examples/exp_speed.rs`, Intel Xeon family 6 model 207).
/// So does `exp` with AVX2 (`by_eight`; eight lanes a vector, a lane in 128 unsure): on the
/// same Xeon with its AVX-512 code turned off, batched took 0.74-0.85 against 0.72-0.75 ns
/// an element (six runs in turns; not measured on an AVX2-only CPU).
#[cfg(target_arch = "x86_64")]
struct Unsure {
    blocks: [(usize, u64); Unsure::BATCH],
    count: usize,
}

#[cfg(target_arch = "x86_64")]
impl Unsure {
    const BATCH: usize = 32;

    fn new() -> Unsure {
        Unsure { blocks: [(0, 0); Unsure::BATCH], count: 0 }
    }

    /// Notes the block at `start` with its `unsure` lanes (kept only if there are any);
    /// computes the batch again once it is full.
    #[inline(always)]
    fn note(
        &mut self,
        x: &[f32],
        out: &mut [MaybeUninit<f32>],
        start: usize,
        unsure: u64,
        redo: &impl Fn(f32) -> f32,
    ) {
        self.blocks[self.count] = (start, unsure);
        self.count += usize::from(unsure != 0);
        if self.count == Unsure::BATCH {
            self.redo(x, out, redo);
        }
    }

    /// Computes the noted lanes again, with `redo`, and empties the batch.
    #[inline(always)]
    fn redo(&mut self, x: &[f32], out: &mut [MaybeUninit<f32>], redo: &impl Fn(f32) -> f32) {
        for &(start, unsure) in &self.blocks[..self.count] {
            redo_lanes(x, out, start, unsure, redo);
        }
        self.count = 0;
    }
}

/// `out[i] = f(x[i])` sixteen float32 lanes a vector (AVX-512), `N` vectors at a time: `f`
/// gives the results of `N` vectors and a bit for each lane it is sure of (vector `j`'s
/// lanes are bits `16j..16j+16`); each other lane is computed again by `redo` from its
/// element. Whole blocks go with plain loads and stores, only the last, partly filled one
/// masked: with a masked load and store for every vector, one thread took 0.25-0.31 ms for
/// `sigmoid` on 1M float32 and 0.41-0.59 ms for `exp`; with plain ones 0.20-0.21 and
/// 0.34-0.42 (three alternating runs each, AMD EPYC Zen 5). A body that steps through
/// several independent vectors side by side keeps the CPU busy while each waits for its
/// previous step (as `by_eight`).
///
/// # Safety
/// The CPU must have AVX-512F (the caller's `target_feature`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn by_sixteen<const N: usize>(
    x: &[f32],
    out: &mut [MaybeUninit<f32>],
    when: Redo,
    f: impl Fn([std::arch::x86_64::__m512; N]) -> ([std::arch::x86_64::__m512; N], u64),
    redo: impl Fn(f32) -> f32,
) {
    use std::arch::x86_64::{
        _mm512_loadu_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_setzero_ps, _mm512_storeu_ps,
    };
    const { assert!(N >= 1 && N <= 4, "a bit for each lane of N vectors: up to 64") };
    let n = x.len().min(out.len());
    let all = u64::MAX >> (64 - 16 * N);
    let mut unsure = Unsure::new();
    let mut i = 0;
    while i + 16 * N <= n {
        let mut v = [_mm512_setzero_ps(); N];
        for (j, v) in v.iter_mut().enumerate() {
            // SAFETY: `i + 16 N <= n` keeps the block inside both slices
            *v = unsafe { _mm512_loadu_ps(x.as_ptr().add(i + 16 * j)) };
        }
        let (results, sure) = f(v);
        for (j, result) in results.into_iter().enumerate() {
            // SAFETY: as above
            unsafe { _mm512_storeu_ps(out.as_mut_ptr().add(i + 16 * j).cast::<f32>(), result) };
        }
        match when {
            Redo::AtOnce => redo_lanes(x, out, i, !sure & all, &redo),
            Redo::Batched => unsure.note(x, out, i, !sure & all, &redo),
        }
        i += 16 * N;
    }
    unsure.redo(x, out, &redo);
    if i < n {
        // the last block: each vector's lanes inside the slices, loaded and stored masked
        let lanes = |j: usize| -> u16 {
            let left = (n - i).saturating_sub(16 * j);
            if left >= 16 {
                u16::MAX
            } else {
                ((1u32 << left) - 1) as u16
            }
        };
        let mut v = [_mm512_setzero_ps(); N];
        for (j, v) in v.iter_mut().enumerate() {
            if lanes(j) != 0 {
                // SAFETY: the mask keeps the load inside `x`
                *v = unsafe { _mm512_maskz_loadu_ps(lanes(j), x.as_ptr().add(i + 16 * j)) };
            }
        }
        let (results, sure) = f(v);
        let mut inside = 0u64;
        for (j, result) in results.into_iter().enumerate() {
            if lanes(j) != 0 {
                // SAFETY: the mask keeps the store inside `out`
                unsafe {
                    _mm512_mask_storeu_ps(out.as_mut_ptr().add(i + 16 * j).cast::<f32>(), lanes(j), result)
                };
            }
            inside |= u64::from(lanes(j)) << (16 * j);
        }
        redo_lanes(x, out, i, inside & !sure, &redo);
    }
}

/// `by_sixteen` for AVX2: eight float32 lanes a vector, `N` vectors at a time. `f` gives
/// the results of `N` vectors and a bit for each lane it is sure of (vector `j`'s lanes are
/// bits `8j..8j+8`). A body that steps through several independent vectors side by side
/// keeps the CPU busy while each waits for its previous step: on an AMD EPYC (Zen), whose
/// 256-bit operations are two halves each, `exp` with four vectors at a time took about 15%
/// less than one vector after another, with the same steps. The last block (fewer than
/// `8 N` elements) goes through a copy padded with zeros, so no load or store reaches past
/// the slices.
///
/// # Safety
/// The CPU must have AVX2 (the caller's `target_feature`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn by_eight<const N: usize>(
    x: &[f32],
    out: &mut [MaybeUninit<f32>],
    f: impl Fn([std::arch::x86_64::__m256; N]) -> ([std::arch::x86_64::__m256; N], u64),
    redo: impl Fn(f32) -> f32,
) {
    const { assert!(N >= 1 && N <= 8, "a bit for each lane of N vectors: up to 64") };
    let n = x.len().min(out.len());
    let mut i = 0;
    while i + 8 * N <= n {
        // SAFETY: `i + 8 N <= n` keeps the block inside both slices
        let sure = unsafe { eight_block(x.as_ptr().add(i), out.as_mut_ptr().add(i).cast::<f32>(), &f) };
        redo_lanes(x, out, i, !sure & (u64::MAX >> (64 - 8 * N)), &redo);
        i += 8 * N;
    }
    if i < n {
        let mut lanes = [[0.0f32; 8]; N];
        for (k, &v) in x[i..n].iter().enumerate() {
            lanes[k / 8][k % 8] = v;
        }
        let block = lanes.as_mut_ptr().cast::<f32>();
        // SAFETY: `lanes` holds the `8 N` floats of a block, read and then overwritten
        let sure = unsafe { eight_block(block, block, &f) };
        for k in 0..n - i {
            let v = if sure >> k & 1 != 0 { lanes[k / 8][k % 8] } else { redo(x[i + k]) };
            out[i + k].write(v);
        }
    }
}

/// `by_eight`'s block: `N` vectors loaded from `src`, given to `f`, its results stored at
/// `dst`; returns `f`'s bits. Loops, not closures: a closure given to `array::map` or
/// `from_fn` is compiled without AVX and called, not inlined.
///
/// # Safety
/// `src` and `dst` must each hold `8 N` floats (they may be the same); the CPU must have
/// AVX2 (the caller's `target_feature`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn eight_block<const N: usize>(
    src: *const f32,
    dst: *mut f32,
    f: &impl Fn([std::arch::x86_64::__m256; N]) -> ([std::arch::x86_64::__m256; N], u64),
) -> u64 {
    use std::arch::x86_64::{_mm256_loadu_ps, _mm256_setzero_ps, _mm256_storeu_ps};
    let mut v = [_mm256_setzero_ps(); N];
    for (j, v) in v.iter_mut().enumerate() {
        // SAFETY: the caller's promise: `8 j + 8 <= 8 N` floats at `src`
        *v = unsafe { _mm256_loadu_ps(src.add(8 * j)) };
    }
    let (results, sure) = f(v);
    for (j, result) in results.into_iter().enumerate() {
        // SAFETY: as above, at `dst`
        unsafe { _mm256_storeu_ps(dst.add(8 * j), result) };
    }
    sure
}

/// Defines `pub fn $name(x: &[f32], out)`: `$avx512(x, out)` where the CPU has AVX-512F
/// and FMA, `$avx2(x, out)` (if the brackets name one) where it has AVX2 and FMA, else `$portable` (a
/// `slice_fn!` of `$body`, defined here too). All give the same bits.
macro_rules! simd_or_portable {
    ($(#[$doc:meta])* $name:ident, $avx512:path, [$($avx2:path)?], $portable:ident, $body:ident) => {
        $(#[$doc])*
        pub fn $name(x: &[f32], out: &mut [MaybeUninit<f32>]) {
            #[cfg(target_arch = "x86_64")]
            {
                use std::arch::is_x86_feature_detected as has;
                if has!("avx512f") && has!("fma") {
                    // SAFETY: the CPU has the instructions the function was compiled for
                    return unsafe { $avx512(x, out) };
                }
                $(if has!("avx2") && has!("fma") {
                    // SAFETY: as above
                    return unsafe { $avx2(x, out) };
                })?
            }
            $portable(x, out)
        }
        slice_fn!(/// The loop of `$body` in its widest build (without AVX-512's own version).
            $portable, $body, f32);
    };
}

simd_or_portable!(/// `exp_f32` over a slice: with AVX-512 or AVX2 in float32 lanes with a check of
    /// each lane's rounding (`exp_f32_avx512`, `exp_f32_avx2`), otherwise each element in float64.
    exp_f32_slice, exp_f32_avx512::exp_f32_slice, [exp_f32_avx2::exp_f32_slice], exp_f32_slice_portable, exp_f32_body);
split_slice_fn!(/// `exp_f64` over a slice: the formula's loop in its widest build (the table looked up by
    /// gathers), then the elements outside its range again.
    exp_f64_slice, exp_f64_formula, exp_f64_in_range, exp_f64_outside, f64);
/// `log_f32` over a slice: with AVX-512 its float64 steps eight lanes at a time with the table
/// in registers (`log_f32_avx512`), otherwise `log_f32_slice_portable`.
pub fn log_f32_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the instructions the function was compiled for
        return unsafe { log_f32_avx512::log_f32_slice(x, out) };
    }
    log_f32_slice_portable(x, out)
}
split_slice_fn!(/// `log_f32` over a slice without AVX-512's own code: the formula's loop in its widest
    /// build (the table looked up by gathers), then the elements outside its range again.
    log_f32_slice_portable, log_f32_formula, log_f32_in_range, log_f32_outside, f32);
split_slice_fn!(/// `log_f64` over a slice: the formula's loop in its widest build (the table looked up by
    /// gathers), then the elements outside its range again.
    log_f64_slice, log_f64_formula, log_f64_in_range, log_f64_outside, f64);
split_slice_fn!(/// `sin_f32` over a slice.
    sin_f32_slice, sin_f32_sleef, sin_in_range, sin_via_f64, f32);
slice_fn!(/// `sin_f64` over a slice.
    sin_f64_slice, sin_f64, f64);
split_slice_fn!(/// `cos_f32` over a slice.
    cos_f32_slice, cos_f32_inside, cos_in_range, cos_via_f64, f32);
slice_fn!(/// `cos_f64` over a slice.
    cos_f64_slice, cos_f64, f64);
simd_or_portable!(/// `tanh_f32` over a slice: with AVX-512 with a cheaper quotient and a check of each
    /// lane's rounding (`tanh_f32_avx512`), otherwise each element as `tanh_f32` (an AVX2
    /// port of the AVX-512 code was no faster than the loop on an AMD EPYC Zen: its table
    /// lookups take four `vpermps` and three blends for four lanes; nor was one with an
    /// eight-entry table (two `vpermd`, one blend), a degree-7 polynomial and `vdivpd`: 5.8-5.9
    /// against 5.7-5.8 ns an element, `examples/exp_speed.rs`. Nor, by enough to keep, was one
    /// in eight float32 lanes: `e^2a - 1` and the quotient as pairs of float32 (a value and
    /// its remainder, about 2^-35 from `tanh`, one lane in 500 computed again), 5.52-5.61
    /// against 5.73-5.79 ns: the pairs' arithmetic takes about 90 instructions for eight lanes
    /// where `exp_f32_avx2` takes 40, and this CPU runs about one a cycle).
    tanh_f32_slice, tanh_f32_avx512::tanh_f32_slice, [], tanh_f32_slice_portable, tanh_f32_body);
slice_fn!(/// `tanh_f64` over a slice.
    tanh_f64_slice, tanh_f64_body, f64);
simd_or_portable!(/// `sigmoid_vec_f32` over a slice (`sleef_avx512`, `sleef_avx2`).
    sigmoid_vec_f32_slice, sleef_avx512::sigmoid_vec_f32_slice, [sleef_avx2::sigmoid_vec_f32_slice], sigmoid_vec_f32_slice_portable, sigmoid_vec_f32_body);
slice_fn!(/// `sigmoid_vec_f64` over a slice.
    sigmoid_vec_f64_slice, sigmoid_vec_f64_body, f64);
simd_or_portable!(/// `sleef_expf` over a slice (`sleef_avx512`, `sleef_avx2`).
    sleef_expf_slice, sleef_avx512::sleef_expf_slice, [sleef_avx2::sleef_expf_slice], sleef_expf_slice_portable, sleef_expf_body);
slice_fn!(/// `sleef_exp` over a slice.
    sleef_exp_slice, sleef_exp_body, f64);

/// Defines `pub fn $name(x, vectorized, out)`: `torch.sigmoid` over a slice, element `i`
/// through the vectorized form if `vectorized[i]`, else the scalar form.
macro_rules! sigmoid_slice_fn {
    ($(#[$doc:meta])* $name:ident, $vector:ident, $scalar:ident, $t:ty) => {
        $(#[$doc])*
        pub fn $name(x: &[$t], vectorized: &[bool], out: &mut [MaybeUninit<$t>]) {
            #[inline(always)]
            fn run(x: &[$t], vectorized: &[bool], out: &mut [MaybeUninit<$t>]) {
                // runs of one kind at a time, each a plain loop
                let mut i = 0;
                while i < x.len() {
                    let vector = vectorized[i];
                    let end = vectorized[i..].iter().position(|&v| v != vector).map_or(x.len(), |k| i + k);
                    if vector {
                        for (o, &v) in out[i..end].iter_mut().zip(&x[i..end]) {
                            o.write($vector(v));
                        }
                    } else {
                        for (o, &v) in out[i..end].iter_mut().zip(&x[i..end]) {
                            o.write($scalar(v));
                        }
                    }
                    i = end;
                }
            }
            widest_build!(run(x: &[$t], vectorized: &[bool], out: &mut [MaybeUninit<$t>]))
        }
    };
}

sigmoid_slice_fn!(/// `torch.sigmoid` on float32 over a slice (see `sigmoid_vec_f32`, `sigmoid_scalar_f32`).
    sigmoid_f32_slice, sigmoid_vec_f32_body, sigmoid_scalar_f32, f32);
sigmoid_slice_fn!(/// `torch.sigmoid` on float64 over a slice (see `sigmoid_vec_f64`, `sigmoid_scalar_f64`).
    sigmoid_f64_slice, sigmoid_vec_f64_body, sigmoid_scalar_f64, f64);

// ---------------------------------------------------------------------------------------
// The same, generic over the dtype (for code written once for both)
// ---------------------------------------------------------------------------------------

/// The functions above by dtype: `T::exp(x)` is `exp_f32` or `exp_f64`, and so on.
pub trait TorchMath: Copy {
    /// `torch.exp` (the tensor op).
    fn torch_exp(self) -> Self;
    /// `torch.log`.
    fn torch_log(self) -> Self;
    /// `torch.sin`.
    fn torch_sin(self) -> Self;
    /// `torch.cos`.
    fn torch_cos(self) -> Self;
    /// `torch.tanh`.
    fn torch_tanh(self) -> Self;
    /// torch's `Vectorized<T>::exp()` (SLEEF).
    fn vec_exp(self) -> Self;
    /// torch's `Vectorized<T>::log()` (SLEEF).
    fn vec_log(self) -> Self;
    /// `std::exp` in torch's scalar loops (the C library's).
    fn scalar_exp(self) -> Self;
    /// `torch.exp` over a slice, and likewise the others: MKL's own where it is installed
    /// (`super::mkl_vml`), else the functions above (see `slice_fn!`).
    fn exp_slice(x: &[Self], out: &mut [MaybeUninit<Self>]);
    fn log_slice(x: &[Self], out: &mut [MaybeUninit<Self>]);
    fn sin_slice(x: &[Self], out: &mut [MaybeUninit<Self>]);
    fn cos_slice(x: &[Self], out: &mut [MaybeUninit<Self>]);
    fn tanh_slice(x: &[Self], out: &mut [MaybeUninit<Self>]);
    /// `torch.sqrt` over a slice (MKL's, else `super::mkl_sqrt`).
    fn sqrt_slice(x: &[Self], out: &mut [MaybeUninit<Self>]);
    /// torch's `Vectorized<T>::exp()` over a slice.
    fn vec_exp_slice(x: &[Self], out: &mut [MaybeUninit<Self>]);
    /// `torch.sigmoid` over a slice (see `sigmoid_slice_fn!`).
    fn sigmoid_slice(x: &[Self], vectorized: &[bool], out: &mut [MaybeUninit<Self>]);
}

impl TorchMath for f32 {
    #[inline(always)]
    fn torch_exp(self) -> f32 {
        exp_f32(self)
    }
    #[inline(always)]
    fn torch_log(self) -> f32 {
        log_f32(self)
    }
    #[inline(always)]
    fn torch_sin(self) -> f32 {
        sin_f32(self)
    }
    #[inline(always)]
    fn torch_cos(self) -> f32 {
        cos_f32(self)
    }
    #[inline(always)]
    fn torch_tanh(self) -> f32 {
        tanh_f32(self)
    }
    #[inline(always)]
    fn vec_exp(self) -> f32 {
        sleef_expf(self)
    }
    #[inline(always)]
    fn vec_log(self) -> f32 {
        sleef_logf(self)
    }
    #[inline(always)]
    fn scalar_exp(self) -> f32 {
        self.exp()
    }
    fn exp_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
        vml_or(|v| v.exp, exp_f32_slice, x, out)
    }
    fn log_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
        vml_or(|v| v.ln, log_f32_slice, x, out)
    }
    fn sin_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
        vml_or(|v| v.sin, sin_f32_slice, x, out)
    }
    fn cos_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
        vml_or(|v| v.cos, cos_f32_slice, x, out)
    }
    fn tanh_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
        vml_or(|v| v.tanh, tanh_f32_slice, x, out)
    }
    fn sqrt_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
        vml_or(|v| v.sqrt, super::mkl_sqrt::sqrt_f32_slice, x, out)
    }
    fn vec_exp_slice(x: &[f32], out: &mut [MaybeUninit<f32>]) {
        sleef_expf_slice(x, out)
    }
    fn sigmoid_slice(x: &[f32], vectorized: &[bool], out: &mut [MaybeUninit<f32>]) {
        sigmoid_f32_slice(x, vectorized, out)
    }
}

impl TorchMath for f64 {
    #[inline(always)]
    fn torch_exp(self) -> f64 {
        exp_f64(self)
    }
    #[inline(always)]
    fn torch_log(self) -> f64 {
        log_f64(self)
    }
    #[inline(always)]
    fn torch_sin(self) -> f64 {
        sin_f64(self)
    }
    #[inline(always)]
    fn torch_cos(self) -> f64 {
        cos_f64(self)
    }
    #[inline(always)]
    fn torch_tanh(self) -> f64 {
        tanh_f64(self)
    }
    #[inline(always)]
    fn vec_exp(self) -> f64 {
        sleef_exp(self)
    }
    #[inline(always)]
    fn vec_log(self) -> f64 {
        sleef_log(self)
    }
    #[inline(always)]
    fn scalar_exp(self) -> f64 {
        self.exp()
    }
    fn exp_slice(x: &[f64], out: &mut [MaybeUninit<f64>]) {
        vml_or(|v| v.exp, exp_f64_slice, x, out)
    }
    fn log_slice(x: &[f64], out: &mut [MaybeUninit<f64>]) {
        vml_or(|v| v.ln, log_f64_slice, x, out)
    }
    fn sin_slice(x: &[f64], out: &mut [MaybeUninit<f64>]) {
        vml_or(|v| v.sin, sin_f64_slice, x, out)
    }
    fn cos_slice(x: &[f64], out: &mut [MaybeUninit<f64>]) {
        vml_or(|v| v.cos, cos_f64_slice, x, out)
    }
    fn tanh_slice(x: &[f64], out: &mut [MaybeUninit<f64>]) {
        vml_or(|v| v.tanh, tanh_f64_slice, x, out)
    }
    fn sqrt_slice(x: &[f64], out: &mut [MaybeUninit<f64>]) {
        vml_or(|v| v.sqrt, super::mkl_sqrt::sqrt_f64_slice, x, out)
    }
    fn vec_exp_slice(x: &[f64], out: &mut [MaybeUninit<f64>]) {
        sleef_exp_slice(x, out)
    }
    fn sigmoid_slice(x: &[f64], vectorized: &[bool], out: &mut [MaybeUninit<f64>]) {
        sigmoid_f64_slice(x, vectorized, out)
    }
}

/// `torch.exp` for either dtype.
#[inline(always)]
pub fn exp<T: TorchMath>(x: T) -> T {
    x.torch_exp()
}

/// `torch.log` for either dtype.
#[inline(always)]
pub fn log<T: TorchMath>(x: T) -> T {
    x.torch_log()
}

/// `torch.sin` for either dtype.
#[inline(always)]
pub fn sin<T: TorchMath>(x: T) -> T {
    x.torch_sin()
}

/// `torch.cos` for either dtype.
#[inline(always)]
pub fn cos<T: TorchMath>(x: T) -> T {
    x.torch_cos()
}

/// `torch.tanh` for either dtype.
#[inline(always)]
pub fn tanh<T: TorchMath>(x: T) -> T {
    x.torch_tanh()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::kernel::as_slots;

    /// Inputs of every kind: special values, both signs, many magnitudes.
    fn inputs_f64() -> Vec<f64> {
        let mut x = vec![
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            1e-310,
            f64::MAX,
            0.0625,
            124.9,
            125.0,
            19.0,
            20.0,
            20.1,
        ];
        let mut state = 0x1234_5678_9abc_def0u64;
        for i in 0..20000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let e = (i % 80) - 40;
            let v = (state >> 11) as f64 / 9007199254740992.0 * 2f64.powi(e);
            x.push(if i % 2 == 0 { v } else { -v });
        }
        x
    }

    #[test]
    fn slices_give_the_elementwise_bits() {
        let x64 = inputs_f64();
        let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
        let same32 = |a: &[f32], f: fn(f32) -> f32, name: &str| {
            for (&v, &o) in x32.iter().zip(a) {
                let e = f(v);
                assert!(
                    e.to_bits() == o.to_bits() || (e.is_nan() && o.is_nan()),
                    "{name}({v:e}): slice {o:e}, element {e:e}"
                );
            }
        };
        let same64 = |a: &[f64], f: fn(f64) -> f64, name: &str| {
            for (&v, &o) in x64.iter().zip(a) {
                let e = f(v);
                assert!(
                    e.to_bits() == o.to_bits() || (e.is_nan() && o.is_nan()),
                    "{name}({v:e}): slice {o:e}, element {e:e}"
                );
            }
        };
        let mut out32 = vec![0.0f32; x32.len()];
        let mut out64 = vec![0.0f64; x64.len()];
        for (slice, element, name) in [
            (exp_f32_slice as fn(&[f32], &mut [MaybeUninit<f32>]), exp_f32 as fn(f32) -> f32, "exp_f32"),
            (log_f32_slice, log_f32, "log_f32"),
            (sin_f32_slice, sin_f32, "sin_f32"),
            (cos_f32_slice, cos_f32, "cos_f32"),
            (tanh_f32_slice, tanh_f32, "tanh_f32"),
            (sleef_expf_slice, sleef_expf, "sleef_expf"),
        ] {
            // SAFETY: the slice functions write initialized values
            slice(&x32, unsafe { as_slots(&mut out32) });
            same32(&out32, element, name);
        }
        for (slice, element, name) in [
            (exp_f64_slice as fn(&[f64], &mut [MaybeUninit<f64>]), exp_f64 as fn(f64) -> f64, "exp_f64"),
            (log_f64_slice, log_f64, "log_f64"),
            (sin_f64_slice, sin_f64, "sin_f64"),
            (cos_f64_slice, cos_f64, "cos_f64"),
            (tanh_f64_slice, tanh_f64, "tanh_f64"),
            (sleef_exp_slice, sleef_exp, "sleef_exp"),
        ] {
            // SAFETY: as above
            slice(&x64, unsafe { as_slots(&mut out64) });
            same64(&out64, element, name);
        }
        let flags: Vec<bool> = (0..x32.len()).map(|i| (i / 7) % 3 != 0).collect();
        // SAFETY: as above
        sigmoid_f32_slice(&x32, &flags, unsafe { as_slots(&mut out32) });
        for ((&v, &o), &f) in x32.iter().zip(&out32).zip(&flags) {
            let e = if f { sigmoid_vec_f32(v) } else { sigmoid_scalar_f32(v) };
            assert!(e.to_bits() == o.to_bits() || (e.is_nan() && o.is_nan()), "sigmoid({v:e})");
        }
        // SAFETY: as above
        sigmoid_f64_slice(&x64, &flags, unsafe { as_slots(&mut out64) });
        for ((&v, &o), &f) in x64.iter().zip(&out64).zip(&flags) {
            let e = if f { sigmoid_vec_f64(v) } else { sigmoid_scalar_f64(v) };
            assert!(e.to_bits() == o.to_bits() || (e.is_nan() && o.is_nan()), "sigmoid({v:e})");
        }
    }

    type SliceF32 = fn(&[f32], &mut [MaybeUninit<f32>]);
    /// A function's builds, by name.
    type Builds = Vec<(&'static str, SliceF32)>;
    /// A function's name, its element form and its slice builds.
    type Checked = (&'static str, fn(f32) -> f32, Builds);

    /// Every build of a `simd_or_portable!` function that this CPU runs, by name: the
    /// AVX-512 and AVX2 ones (where the function has one) where it has them, and the
    /// portable loop.
    macro_rules! builds {
        ($avx512:path, [$($avx2:path)?], $portable:path) => {{
            let mut builds: Builds = vec![("portable", $portable)];
            #[cfg(target_arch = "x86_64")]
            {
                use std::arch::is_x86_feature_detected as has;
                $(if has!("avx2") && has!("fma") {
                    // SAFETY: the CPU has the instructions the function was compiled for
                    builds.push(("avx2", |x: &[f32], out: &mut [MaybeUninit<f32>]| unsafe { $avx2(x, out) }));
                })?
                if has!("avx512f") && has!("fma") {
                    // SAFETY: the CPU has the instructions the function was compiled for
                    builds.push(("avx512", |x: &[f32], out: &mut [MaybeUninit<f32>]| unsafe {
                        $avx512(x, out)
                    }));
                }
            }
            builds
        }};
    }

    #[test]
    fn every_build_gives_the_element_bits() {
        // every build this CPU runs, not only the one the dispatch picks: the AVX2 code is
        // checked on AVX-512 machines too
        let mut x: Vec<f32> = inputs_f64().iter().map(|&v| v as f32).collect();
        x.extend(every_f32(0.2, 0.2005));
        x.extend(every_f32(-0.2005, -0.2));
        x.extend(every_f32(1.0 / 10000.0, 1.0 / 9000.0));
        x.extend(every_f32(86.99, 88.01));
        x.extend(every_f32(-104.01, -103.99));
        x.extend(every_f32(99.99, 100.01));
        x.extend(every_f32(8.99, 10.01));
        let mut out = vec![0.0f32; x.len()];
        let all: [Checked; 4] = [
            (
                "exp_f32",
                exp_f32,
                builds!(exp_f32_avx512::exp_f32_slice, [exp_f32_avx2::exp_f32_slice], exp_f32_slice_portable),
            ),
            ("tanh_f32", tanh_f32, builds!(tanh_f32_avx512::tanh_f32_slice, [], tanh_f32_slice_portable)),
            (
                "sleef_expf",
                sleef_expf,
                builds!(
                    sleef_avx512::sleef_expf_slice,
                    [sleef_avx2::sleef_expf_slice],
                    sleef_expf_slice_portable
                ),
            ),
            (
                "sigmoid_vec_f32",
                sigmoid_vec_f32,
                builds!(
                    sleef_avx512::sigmoid_vec_f32_slice,
                    [sleef_avx2::sigmoid_vec_f32_slice],
                    sigmoid_vec_f32_slice_portable
                ),
            ),
        ];
        for (name, element, builds) in all {
            let expected: Vec<f32> = x.iter().map(|&v| element(v)).collect();
            for (build, slice) in builds {
                // whole vectors and every length of a last, partly filled block (up to 63
                // elements with four vectors of sixteen at a time)
                for cut in [x.len(), x.len() - 1, x.len() - 7, x.len() - 31].into_iter().chain(0..=72) {
                    // SAFETY: the slice function writes every element
                    slice(&x[..cut], unsafe { as_slots(&mut out[..cut]) });
                    for ((&v, &o), &e) in x[..cut].iter().zip(&out).zip(&expected) {
                        assert!(
                            e.to_bits() == o.to_bits() || (e.is_nan() && o.is_nan()),
                            "{name} ({build}, {cut} elements) at {v:e}: slice {o:e}, element {e:e}"
                        );
                    }
                }
            }
        }
    }

    /// Every float32 in `[lo, hi)` (by bit pattern; both of one sign).
    fn every_f32(lo: f32, hi: f32) -> Vec<f32> {
        (lo.to_bits().min(hi.to_bits())..lo.to_bits().max(hi.to_bits())).map(f32::from_bits).collect()
    }

    /// `slice` over `x` has `reference`'s bits (any NaN for any NaN), also over shorter
    /// slices whose last vector is partly filled.
    fn same_bits_as_the_c_library(
        slice: fn(&[f32], &mut [MaybeUninit<f32>]),
        reference: fn(f32) -> f32,
        x: &[f32],
        name: &str,
    ) {
        let mut out = vec![0.0f32; x.len()];
        for cut in [x.len(), x.len() - 5, 13] {
            // SAFETY: the slice function writes every element
            slice(&x[..cut], unsafe { as_slots(&mut out[..cut]) });
            for (&v, &o) in x[..cut].iter().zip(&out) {
                let e = reference(v);
                assert!(
                    e.to_bits() == o.to_bits() || (e.is_nan() && o.is_nan()),
                    "{name}({v:e}): slice {o:e}, C library {e:e}"
                );
            }
        }
    }

    #[test]
    fn exp_f32_slice_has_the_element_bits_where_rounding_is_close() {
        // [0.2, 0.224) holds inputs where glibc's expf is not the correctly rounded value
        // (0.20202516, 0.20210288, 0.21027128, 0.22311299, ...): a float32 path that trusted
        // its own rounding with a margin of 2^-33 instead of 2^-32 gives other bits there.
        // [0.6823, 0.6826) lies just below ln 2, where the float32 path's result before
        // scaling is just below 1 and half a unit in its last place is 2^-25, not 2^-24 (a
        // check with 2^-24 there gives other bits at 0.68236643, 0.6823831, ...).
        // The rest: tiny arguments (results next to 1, a power of two, from both sides),
        // the ends of the float32 path's range, and the specials.
        let mut x = every_f32(0.2, 0.224);
        x.extend(every_f32(0.6823, 0.6826));
        x.extend(every_f32(-0.224, -0.2));
        x.extend(every_f32(1e-12, 1e-6));
        x.extend(every_f32(-1e-6, -1e-12));
        x.extend(every_f32(86.9, 89.0));
        x.extend(every_f32(-89.0, -86.9));
        x.extend(every_f32(-104.0, -103.0));
        x.extend([0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MIN_POSITIVE, 1e-45, -1e-45]);
        same_bits_as_the_c_library(exp_f32_slice, |v| v.exp(), &x, "exp");
    }

    #[test]
    fn log_f32_has_the_c_library_bits() {
        // near 1, where `r` is small and `log c` is 0 (the part around 1) or not; across the
        // cuts between the table's parts and between exponents (at 0.7 and 1.4 times a power
        // of two); the ends of the normal range, subnormals, the specials, and every 4099th
        // float32 from the smallest normal to the largest
        let mut x = every_f32(0.99, 1.01);
        for scale in [1.0f32, 2.0, 0.5, 1e-30, 1e30] {
            x.extend(every_f32(0.6995 * scale, 0.7005 * scale));
            x.extend(every_f32(1.3995 * scale, 1.4005 * scale));
        }
        x.extend((1..f32::MIN_POSITIVE.to_bits() + 1000).step_by(97).map(f32::from_bits));
        x.extend((f32::MAX.to_bits() - 1000..=f32::MAX.to_bits()).map(f32::from_bits));
        x.extend((f32::MIN_POSITIVE.to_bits()..f32::INFINITY.to_bits()).step_by(4099).map(f32::from_bits));
        x.extend([0.0, -0.0, -1.0, -1e-45, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -f32::NAN, f32::MAX]);
        same_bits_as_the_c_library(log_f32_slice, |v| v.ln(), &x, "log");
        same_bits_as_the_c_library(log_f32_slice_portable, |v| v.ln(), &x, "log (portable)");
        for &v in &x {
            let (ours, c) = (log_f32(v), v.ln());
            assert!(
                ours.to_bits() == c.to_bits() || (ours.is_nan() && c.is_nan()),
                "log_f32({v:e}) {ours:e}, C {c:e}"
            );
        }
    }

    /// `element` and `slice` over `x` (and over shorter slices, and one element) have
    /// `reference`'s bits (any NaN for any NaN).
    fn same_f64_bits(
        element: fn(f64) -> f64,
        slice: fn(&[f64], &mut [MaybeUninit<f64>]),
        reference: fn(f64) -> f64,
        x: &[f64],
        name: &str,
    ) {
        let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        let mut out = vec![0.0f64; x.len()];
        for cut in [x.len(), x.len() - 3, 7, 1] {
            // SAFETY: the slice function writes every element
            slice(&x[..cut], unsafe { as_slots(&mut out[..cut]) });
            for (&v, &o) in x[..cut].iter().zip(&out) {
                assert!(same(o, reference(v)), "{name}({v:e}): slice {o:e}, C library {:e}", reference(v));
            }
        }
        for &v in x {
            assert!(
                same(element(v), reference(v)),
                "{name}({v:e}): {:e}, C library {:e}",
                element(v),
                reference(v)
            );
        }
    }

    /// Inputs for the float64 checks: `count` random bit patterns at every exponent from
    /// 2^-60 to 2^11 (both signs), 1 plus or minus `count` random small numbers, and the
    /// float64 next to each of `edges` (both signs), and the specials.
    fn f64_inputs(count: u64, edges: &[f64]) -> Vec<f64> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut x = Vec::new();
        for exponent in 1023 - 60..1023 + 12u64 {
            x.extend((0..count).map(|_| f64::from_bits((next() & 0x800f_ffff_ffff_ffff) | exponent << 52)));
        }
        for _ in 0..count * 8 {
            let bits = next();
            let d = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | (1023 - 53 + (bits >> 58) % 51) << 52);
            x.push(if bits >> 57 & 1 == 0 { 1.0 + d } else { 1.0 - d });
        }
        for &e in edges {
            x.extend(
                (e.to_bits() - 300..e.to_bits() + 300).flat_map(|b| [f64::from_bits(b), -f64::from_bits(b)]),
            );
        }
        x.extend([
            0.0,
            -0.0,
            1.0,
            -1.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MAX,
            5e-324,
            1e-310,
        ]);
        x
    }

    #[test]
    fn exp_f64_and_log_f64_have_the_c_library_bits() {
        // the formulas' edges: exp's range 2^-54 <= |x| < 512; log's polynomial near 1
        // (1 - 2^-4, 1 + 0x1.09p-4) and the normal range
        let mut x = f64_inputs(
            300,
            &[512.0, 5.551115123125783e-17, 709.78, 1.0, 0.9375, 1.064697265625, f64::MIN_POSITIVE],
        );
        // where the last step unfused (exp: `S tmp + S`; log near 1: `r^3 poly + lo`) gives
        // other bits
        x.extend(
            [
                0xc076b93596292e60u64,
                0xc070fb7f3f8063a4,
                0x3ff067537880a1c9,
                0x3ff0cf7bfad40a9a,
                0x3fef5876b1e88445,
            ]
            .map(f64::from_bits),
        );
        same_f64_bits(exp_f64, exp_f64_slice, f64::exp, &x, "exp");
        same_f64_bits(log_f64, log_f64_slice, f64::ln, &x, "log");
    }

    #[test]
    fn tanh_f32_slice_has_the_reference_bits_at_its_edges() {
        // against the reference `tanh_f32` was checked against (the C library's float64 tanh,
        // rounded): around the AVX-512 path's cut to `x` itself (2^-13), where it saturates to
        // 1 (the float32 just below 1 ends near 9.01; the path clamps at 10), a dense stretch
        // of ordinary arguments, subnormals and the specials
        let mut x = every_f32(1.0 / 10000.0, 1.0 / 7000.0);
        x.extend(every_f32(-1.0 / 7000.0, -1.0 / 10000.0));
        x.extend(every_f32(8.9, 10.5));
        x.extend(every_f32(-10.5, -8.9));
        x.extend(every_f32(0.3, 0.302));
        x.extend(every_f32(1e-45, 1e-38));
        // where `e^2a - 1` is the polynomial alone and its error counts most (Taylor's degree 5
        // in place of the fitted one gives other bits at 7.7055623e-3, 7.7832066e-3, ...)
        x.extend(every_f32(0.0077, 0.0089));
        // and every 61st float32 up to where `x^3/3` is whole units in the last place
        x.extend(((1e-4f32).to_bits()..(4e-3f32).to_bits()).step_by(61).map(f32::from_bits));
        x.extend([0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -f32::NAN, f32::MAX, f32::MIN]);
        same_bits_as_the_c_library(tanh_f32_slice, |v| (v as f64).tanh() as f32, &x, "tanh");
    }

    #[test]
    fn special_values() {
        assert_eq!(sleef_expf(0.0), 1.0);
        assert_eq!(sleef_expf(-105.0), 0.0);
        assert_eq!(sleef_expf(101.0), f32::INFINITY);
        assert!(sleef_expf(f32::NAN).is_nan());
        assert_eq!(sleef_exp(-1001.0), 0.0);
        assert_eq!(sleef_exp(710.0), f64::INFINITY);
        assert_eq!(sleef_logf(0.0), f32::NEG_INFINITY);
        assert!(sleef_logf(-1.0).is_nan());
        assert_eq!(sleef_logf(f32::INFINITY), f32::INFINITY);
        assert_eq!(sleef_log(1.0), 0.0);
        assert!(sin_f32(-0.0).is_sign_negative());
        assert_eq!(tanh_f64(30.0), 1.0);
        assert_eq!(tanh_f64(-30.0), -1.0);
        assert_eq!(tanh_f64(19.0), 1.0 - f64::EPSILON / 2.0);
    }
}
