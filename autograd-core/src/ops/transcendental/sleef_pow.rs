//! SLEEF's 1-ulp `pow` (`Sleef_powf16_u10`, `Sleef_powd8_u10`), exactly: what torch's
//! `Vectorized<float / double>::pow()` computes, so what `x ** 2.5`, `2 ** x` and `x.pow(y)`
//! give on the elements torch's kernels take a vector at a time (the rest go through the C
//! library's `std::pow`, as the callers in `elementwise.rs` do).
//!
//! The algorithm is SLEEF 3.8's for AVX-512, the kernels torch runs on this kind of CPU:
//! `|x|` split into a mantissa in `[0.75, 1.5)` and an exponent (`getmant` / `getexp`), its
//! logarithm as a double-word number (`logk`), times `y`, then a double-word exponential
//! (`expk`), and the sign and the special values of C's `pow` settled by comparisons at the
//! end. SLEEF's AVX2 build splits the number by integer arithmetic instead; both give the
//! same mantissa and exponent for every finite positive input, so the same bits.
//!
//! Each step is the same IEEE operation as SLEEF's (fused multiply-adds as `mul_add`), with
//! the double-word helpers of `transcendental.rs`; checked against torch's own
//! `Sleef_powf16_u10` and `Sleef_powd8_u10` on random inputs of every magnitude
//! (`tools/pow/record.py` records the cases `tests/pow.rs` replays).

use std::mem::MaybeUninit;

use super::{
    add2_dd, add2_ds, add2_ss, add_dd, add_sd, div_dd, dw, ldexp2_f64, mul_dd, mul_ds, poly2, poly8,
    rint_i32_f32, rint_i32_f64, scale, squ, Dw, L2L, L2LF, L2U, L2UF, LOG_DBL_MAX, R_LN2, R_LN2F,
};

/// `x ** y` on float32 as torch's vectorized kernels compute it (`Sleef_powf16_u10`).
#[inline]
pub fn sleef_powf(x: f32, y: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "fma")]
        unsafe fn fused(x: f32, y: f32) -> f32 {
            powf_body(x, y)
        }
        if std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the instructions `fused` was compiled for
            return unsafe { fused(x, y) };
        }
    }
    powf_body(x, y)
}

/// `x ** y` on float64 as torch's vectorized kernels compute it (`Sleef_powd8_u10`).
#[inline]
pub fn sleef_pow(x: f64, y: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "fma")]
        unsafe fn fused(x: f64, y: f64) -> f64 {
            pow_body(x, y)
        }
        if std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the instructions `fused` was compiled for
            return unsafe { fused(x, y) };
        }
    }
    pow_body(x, y)
}

/// Defines `pub fn $name(x: &[T], y: &[T], out: &mut [MaybeUninit<T>])`: `out[i] = x[i] ** y[i]`
/// as `$body` computes it, or `x[i] ** y[0]` when `y` has one element (a number exponent), the
/// whole loop in the widest build the CPU runs (`widest_build!`), where it vectorizes: the
/// element function is branch-free once inlined. One element at a time, through the dispatch
/// of `sleef_powf`, it was about 40 ns an element (a chain of dependent double-word steps).
macro_rules! pow_slice_fn {
    ($(#[$doc:meta])* $name:ident, $body:ident, $t:ty) => {
        $(#[$doc])*
        pub fn $name(x: &[$t], y: &[$t], out: &mut [MaybeUninit<$t>]) {
            #[inline(always)]
            fn run(x: &[$t], y: &[$t], out: &mut [MaybeUninit<$t>]) {
                if let [e] = *y {
                    for (o, &v) in out.iter_mut().zip(x) {
                        o.write($body(v, e));
                    }
                } else {
                    for ((o, &v), &e) in out.iter_mut().zip(x).zip(y) {
                        o.write($body(v, e));
                    }
                }
            }
            super::widest_build!(run(x: &[$t], y: &[$t], out: &mut [MaybeUninit<$t>]))
        }
    };
}

pow_slice_fn!(/// [`sleef_powf`] over a slice (`y` one exponent for all, or one for each element).
    sleef_powf_slice, powf_body, f32);
pow_slice_fn!(/// [`sleef_pow`] over a slice (`y` one exponent for all, or one for each element).
    sleef_pow_slice, pow_body, f64);

// ---------------------------------------------------------------------------------------
// AVX-512's getexp / getmant on one positive number
// ---------------------------------------------------------------------------------------

/// `_mm512_getexp_ps` of a non-negative number: `floor(log2 d)` as a float (subnormals by
/// their true exponent), `-inf` for 0, `inf` for inf, NaN for NaN.
#[inline(always)]
fn getexp_f32(d: f32) -> f32 {
    let bits = d.to_bits() & 0x7fff_ffff;
    let field = bits >> 23;
    if d.is_nan() || field == 0xff {
        return if d.is_nan() { d } else { f32::INFINITY };
    }
    if field == 0 {
        if bits == 0 {
            return f32::NEG_INFINITY;
        }
        // a subnormal: bits * 2^-149
        return (31 - bits.leading_zeros() as i32 - 149) as f32;
    }
    (field as i32 - 127) as f32
}

/// `_mm512_getmant_ps(d, _MM_MANT_NORM_p75_1p5, ..)` of a positive finite number: its
/// significand scaled into `[0.75, 1.5)`.
#[inline(always)]
fn getmant_f32(d: f32) -> f32 {
    let mut bits = d.to_bits() & 0x7fff_ffff;
    if bits >> 23 == 0 {
        // a subnormal: the same significand, normalized (2^64 is exact)
        bits = (d * 18446744073709551616.0).to_bits() & 0x7fff_ffff;
    }
    let fraction = bits & 0x007f_ffff;
    let field: u32 = if fraction & 0x0040_0000 != 0 { 126 } else { 127 };
    f32::from_bits(fraction | field << 23)
}

/// `_mm512_getexp_pd`, as [`getexp_f32`].
#[inline(always)]
fn getexp_f64(d: f64) -> f64 {
    let bits = d.to_bits() & 0x7fff_ffff_ffff_ffff;
    let field = bits >> 52;
    if d.is_nan() || field == 0x7ff {
        return if d.is_nan() { d } else { f64::INFINITY };
    }
    if field == 0 {
        if bits == 0 {
            return f64::NEG_INFINITY;
        }
        return (63 - bits.leading_zeros() as i64 - 1074) as f64;
    }
    (field as i64 - 1023) as f64
}

/// `_mm512_getmant_pd(d, _MM_MANT_NORM_p75_1p5, ..)`, as [`getmant_f32`].
#[inline(always)]
fn getmant_f64(d: f64) -> f64 {
    let mut bits = d.to_bits() & 0x7fff_ffff_ffff_ffff;
    if bits >> 52 == 0 {
        bits = (d * 18446744073709551616.0).to_bits() & 0x7fff_ffff_ffff_ffff;
    }
    let fraction = bits & 0x000f_ffff_ffff_ffff;
    let field: u64 = if fraction & 0x0008_0000_0000_0000 != 0 { 1022 } else { 1023 };
    f64::from_bits(fraction | field << 52)
}

// ---------------------------------------------------------------------------------------
// float32
// ---------------------------------------------------------------------------------------

/// `ln d` as a double-word number (SLEEF's `logkf`, AVX-512 form).
#[inline(always)]
fn logkf(d: f32) -> Dw<f32> {
    let mut e = getexp_f32(d * (1.0f32 / 0.75f32));
    if e == f32::INFINITY {
        e = 128.0;
    }
    let m = getmant_f32(d);
    let x = div_dd(add2_ss(-1.0f32, m), add2_ss(1.0f32, m));
    let x2 = squ(x);
    let t = 0.240320354700088500976562f32.mul_add(x2.hi, 0.285112679004669189453125);
    let t = t.mul_add(x2.hi, 0.400007992982864379882812);
    let c = dw(0.66666662693023681640625f32, 3.69183861259614332084311e-09f32);
    let s = mul_ds(dw(0.69314718246459960938f32, -1.904654323148236017e-09f32), e);
    let s = add_dd(s, scale(x, 2.0));
    add_dd(s, mul_dd(mul_dd(x2, x), add2_dd(mul_ds(x2, t), c)))
}

/// `d * 2^q` in four steps, so any `q` an exponential can need is fine (SLEEF's
/// `vldexp_vf_vf_vi2`).
#[inline(always)]
fn ldexp_f32(x: f32, q: i32) -> f32 {
    let sign = q >> 31;
    let m = ((sign.wrapping_add(q) >> 6).wrapping_sub(sign)) << 4;
    let q = q.wrapping_sub(m << 2);
    let m = (m + 0x7f).clamp(0, 0xff);
    let u = f32::from_bits((m as u32) << 23);
    let x = x * u * u * u * u;
    x * f32::from_bits((q.wrapping_add(0x7f) as u32) << 23)
}

/// `e^d` of a double-word number (SLEEF's `expkf`).
#[inline(always)]
fn expkf(d: Dw<f32>) -> f32 {
    let q = rint_i32_f32((d.hi + d.lo) * R_LN2F);
    let s = add2_ds(d, q as f32 * -L2UF);
    let s = add2_ds(s, q as f32 * -L2LF);
    let s = normalize(s);
    let u = 0.00136324646882712841033936f32.mul_add(s.hi, 0.00836596917361021041870117);
    let u = u.mul_add(s.hi, 0.0416710823774337768554688);
    let u = u.mul_add(s.hi, 0.166665524244308471679688);
    let u = u.mul_add(s.hi, 0.499999850988388061523438);
    let t = add_dd(s, mul_ds(squ(s), u));
    let t = add_sd(1.0f32, t);
    let u = ldexp_f32(t.hi + t.lo, q);
    if d.hi < -104.0 {
        0.0
    } else {
        u
    }
}

#[inline(always)]
fn normalize<T: super::Fp>(t: Dw<T>) -> Dw<T> {
    let s = t.hi + t.lo;
    dw(s, (t.hi - s) + t.lo)
}

#[inline(always)]
fn powf_body(x: f32, y: f32) -> f32 {
    const TWO_24: f32 = 16777216.0;
    let y_is_int = y.trunc() == y || y.abs() > TWO_24;
    // cvttps2dq: NaN and out-of-range give i32::MIN, which is even
    let truncated = if y.abs() < 2147483648.0 { y as i32 } else { i32::MIN };
    let y_is_odd = truncated & 1 == 1 && y_is_int && y.abs() < TWO_24;

    let mut result = expkf(mul_ds(logkf(x.abs()), y));
    if result.is_nan() {
        result = f32::INFINITY;
    }
    settle(x, y, result, y_is_int, y_is_odd)
}

// ---------------------------------------------------------------------------------------
// float64
// ---------------------------------------------------------------------------------------

/// `ln d` as a double-word number (SLEEF's `logk`, AVX-512 form).
#[inline(always)]
fn logk(d: f64) -> Dw<f64> {
    let mut e = getexp_f64(d * (1.0 / 0.75));
    if e == f64::INFINITY {
        e = 1024.0;
    }
    let m = getmant_f64(d);
    let x = div_dd(add2_ss(-1.0, m), add2_ss(1.0, m));
    let x2 = squ(x);
    let x4 = x2.hi * x2.hi;
    let x8 = x4 * x4;
    let x16 = x8 * x8;
    // SLEEF's POLY9: the highest coefficient times x^16, plus POLY8 of the rest
    let t = x16.mul_add(
        0.116255524079935043668677,
        poly8(
            x2.hi,
            x4,
            x8,
            [
                0.103239680901072952701192,
                0.117754809412463995466069,
                0.13332981086846273921509,
                0.153846227114512262845736,
                0.181818180850050775676507,
                0.222222222230083560345903,
                0.285714285714249172087875,
                0.400000000000000077715612,
            ],
        ),
    );
    let c = dw(0.666666666666666629659233, 3.80554962542412056336616e-17);
    let s = mul_ds(dw(std::f64::consts::LN_2, 2.319046813846299558417771e-17), e);
    let s = add_dd(s, scale(x, 2.0));
    let x = mul_dd(x2, x);
    let s = add_dd(s, mul_dd(x, c));
    let x = mul_dd(x2, x);
    add_dd(s, mul_ds(x, t))
}

/// `e^d` of a double-word number (SLEEF's `expk`).
#[inline(always)]
fn expk(d: Dw<f64>) -> f64 {
    let dq = ((d.hi + d.lo) * R_LN2).round_ties_even();
    let q = rint_i32_f64(dq);
    let s = add2_ds(d, dq * -L2U);
    let s = add2_ds(s, dq * -L2L);
    let s = normalize(s);
    let s2 = s.hi * s.hi;
    let s4 = s2 * s2;
    let s8 = s4 * s4;
    // SLEEF's POLY10
    let u = s8.mul_add(
        poly2(s.hi, 2.51069683420950419527139e-08, 2.76286166770270649116855e-07),
        poly8(
            s.hi,
            s2,
            s4,
            [
                2.75572496725023574143864e-06,
                2.48014973989819794114153e-05,
                0.000198412698809069797676111,
                0.0013888888939977128960529,
                0.00833333333332371417601081,
                0.0416666666665409524128449,
                0.166666666666666740681535,
                0.500000000000000999200722,
            ],
        ),
    );
    let t = add_sd(1.0, s);
    let t = add_dd(t, mul_ds(squ(s), u));
    let u = ldexp2_f64(t.hi + t.lo, q);
    if d.hi < -1000.0 {
        0.0
    } else {
        u
    }
}

#[inline(always)]
fn pow_body(x: f64, y: f64) -> f64 {
    let y_is_int = y.round_ties_even() == y;
    let half = y * 0.5;
    let y_is_odd = half.round_ties_even() != half && y_is_int;

    let d = mul_ds(logk(x.abs()), y);
    let mut result = expk(d);
    if d.hi > LOG_DBL_MAX {
        result = f64::INFINITY;
    }
    settle(x, y, result, y_is_int, y_is_odd)
}

// ---------------------------------------------------------------------------------------
// the sign and C's special values, both widths
// ---------------------------------------------------------------------------------------

/// What `settle` needs of a float.
trait PowFloat: super::Fp + PartialOrd {
    const ZERO: Self;
    const INFINITY: Self;
    /// SLEEF's `SLEEF_NAN`: the positive quiet NaN.
    const NAN: Self;
    /// Every bit set: the NaN SLEEF returns for a NaN argument.
    const ALL_ONES: Self;
    fn abs(self) -> Self;
    fn is_nan(self) -> bool;
    fn is_infinite(self) -> bool;
    fn is_sign_negative(self) -> bool;
    /// `self` with its sign flipped where `b` is negative (SLEEF's `vmulsign`).
    fn mulsign(self, b: Self) -> Self;
}

macro_rules! pow_float {
    ($t:ty, $bits:ty) => {
        impl PowFloat for $t {
            const ZERO: $t = 0.0;
            const INFINITY: $t = <$t>::INFINITY;
            const NAN: $t = <$t>::NAN;
            const ALL_ONES: $t = <$t>::from_bits(<$bits>::MAX);
            fn abs(self) -> $t {
                <$t>::abs(self)
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn is_infinite(self) -> bool {
                <$t>::is_infinite(self)
            }
            fn is_sign_negative(self) -> bool {
                <$t>::is_sign_negative(self)
            }
            fn mulsign(self, b: $t) -> $t {
                const SIGN: $bits = 1 << (<$bits>::BITS - 1);
                <$t>::from_bits(self.to_bits() ^ (b.to_bits() & SIGN))
            }
        }
    };
}
pow_float!(f32, u32);
pow_float!(f64, u64);

/// The end of SLEEF's `pow`: `|x|^y` (`result`) given the sign a negative base gives it (NaN
/// for a fraction), then C's special values for infinite `y`, zero or infinite `x`, NaN, and
/// `y = 0` or `x = 1`, in SLEEF's order.
#[inline(always)]
fn settle<T: PowFloat>(x: T, y: T, result: T, y_is_int: bool, y_is_odd: bool) -> T {
    let one = T::ONE;
    let mut result = result
        * if x > T::ZERO {
            one
        } else if y_is_int {
            if y_is_odd {
                -one
            } else {
                one
            }
        } else {
            T::NAN
        };
    let efx = (x.abs() - one).mulsign(y);
    if y.is_infinite() {
        result = if efx < T::ZERO {
            T::ZERO
        } else if efx == T::ZERO {
            one
        } else {
            T::INFINITY
        };
    }
    if x.is_infinite() || x == T::ZERO {
        let magnitude = if y.is_sign_negative() ^ (x == T::ZERO) { T::ZERO } else { T::INFINITY };
        result = magnitude.mulsign(if y_is_odd { x } else { one });
    }
    if x.is_nan() || y.is_nan() {
        // as SLEEF writes it (torch's gradient carries that NaN on)
        result = T::ALL_ONES;
    }
    if y == T::ZERO || x == one {
        result = one;
    }
    result
}
