//! Elementwise ops: arithmetic with broadcasting and type promotion, powers, the unary math
//! functions, comparisons, and the in-place forms. Each op's backward sits right under its
//! forward, with the derivative as a comment.

use std::mem::MaybeUninit;

use super::kernel::{build_costly_parts, map, map_slices, map_slices_flagged, with_slice, zip_map, Element};
use super::out_layout::{like_torch, like_torch_of};
use super::transcendental::{self, TorchMath};
use super::vector_lanes::{self, Lanes};
use crate::autograd::record::{grads, record, Saved};
use crate::autograd::saved::SavedTensor;
use crate::dtype::{result_type, Category, DType, Operand as PromotionOperand};
use crate::layout::{broadcast_shapes, same_shape, Dims, Layout};
use crate::storage::Buffer;
use crate::tensor::Tensor;

/// A plain number in an op (`a * 2`, `a.pow(2.0)`): it takes part in type promotion like a
/// Python number (an integer keeps int64 tensors integral, a float makes them float32).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Float(f64),
    Int(i64),
    Bool(bool),
}

impl Scalar {
    pub fn as_f64(self) -> f64 {
        match self {
            Scalar::Float(v) => v,
            Scalar::Int(v) => v as f64,
            Scalar::Bool(v) => v as u8 as f64,
        }
    }

    fn dtype(self) -> DType {
        match self {
            Scalar::Float(_) => DType::Float32,
            Scalar::Int(_) => DType::Int64,
            Scalar::Bool(_) => DType::Bool,
        }
    }
}

impl From<f64> for Scalar {
    fn from(v: f64) -> Self {
        Scalar::Float(v)
    }
}
impl From<f32> for Scalar {
    fn from(v: f32) -> Self {
        Scalar::Float(v as f64)
    }
}
impl From<i32> for Scalar {
    fn from(v: i32) -> Self {
        Scalar::Int(v as i64)
    }
}
impl From<i64> for Scalar {
    fn from(v: i64) -> Self {
        Scalar::Int(v)
    }
}
impl From<usize> for Scalar {
    fn from(v: usize) -> Self {
        Scalar::Int(v as i64)
    }
}
impl From<bool> for Scalar {
    fn from(v: bool) -> Self {
        Scalar::Bool(v)
    }
}

/// The right-hand side of a binary op: a tensor or a number.
#[derive(Clone, Copy)]
pub enum Operand<'a> {
    Tensor(&'a Tensor),
    Scalar(Scalar),
}

/// Anything that can stand on the other side of a binary op: `&Tensor`, `f64`, `i32`, ...
pub trait IntoOperand<'a> {
    fn into_operand(self) -> Operand<'a>;
}

impl<'a> IntoOperand<'a> for Operand<'a> {
    fn into_operand(self) -> Operand<'a> {
        self
    }
}

impl<'a> IntoOperand<'a> for &'a Tensor {
    fn into_operand(self) -> Operand<'a> {
        Operand::Tensor(self)
    }
}

macro_rules! scalar_operand {
    ($($t:ty),*) => {$(
        impl<'a> IntoOperand<'a> for $t {
            fn into_operand(self) -> Operand<'a> {
                Operand::Scalar(Scalar::from(self))
            }
        }
    )*};
}
scalar_operand!(f64, f32, i32, i64, usize, bool, Scalar);

impl<'a> Operand<'a> {
    /// The shape and the promotion class, read in one borrow.
    fn shape_and_promotion(&self) -> (Dims, PromotionOperand) {
        match self {
            Operand::Tensor(t) => t.with_data(|d| {
                let shape = crate::layout::dims_of(&d.layout.shape);
                let class = if shape.is_empty() {
                    PromotionOperand::ZeroDim(d.dtype)
                } else {
                    PromotionOperand::Dimensioned(d.dtype)
                };
                (shape, class)
            }),
            Operand::Scalar(s) => (Dims::new(), PromotionOperand::Number(s.dtype())),
        }
    }

    /// A bool tensor or a Python bool.
    pub(crate) fn is_bool(&self) -> bool {
        match self {
            Operand::Tensor(t) => t.dtype() == DType::Bool,
            Operand::Scalar(s) => matches!(s, Scalar::Bool(_)),
        }
    }

    pub(crate) fn tensor(&self) -> Option<&'a Tensor> {
        match self {
            Operand::Tensor(t) => Some(t),
            Operand::Scalar(_) => None,
        }
    }
}

/// Element types with the arithmetic the binary kernels need.
pub(crate) trait Arith: Element + PartialOrd {
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    fn pow(self, o: Self) -> Self;
    /// `pow` as torch's vectorized kernels compute it (SLEEF's, `sleef_pow`), over a slice:
    /// `out[i] = x[i] ** y[i]`, or `x[i] ** y[0]` for one exponent; integers are never
    /// vectorized.
    fn vec_pow_slice(x: &[Self], y: &[Self], out: &mut [MaybeUninit<Self>]) {
        for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
            o.write(v.pow(y[if y.len() == 1 { 0 } else { i }]));
        }
    }
    /// `std::pow(x, e)` with a float64 exponent, as torch's scalar loop for a number exponent
    /// calls it: float32 is raised in float64 and rounded once.
    fn pow_number(self, e: f64) -> Self {
        self.pow(Self::from_f64(e))
    }
    /// NaN-propagating maximum and minimum, like torch.maximum, as torch's vector form computes
    /// them (`vmaxps`/`vminps`: of two equal values, `-0.` and `0.` included, the second).
    fn maximum(self, o: Self) -> Self;
    fn minimum(self, o: Self) -> Self;
    /// The same in torch's scalar form (`std::max`/`std::min`: of two equal values the first).
    fn maximum_scalar(self, o: Self) -> Self {
        self.maximum(o)
    }
    fn minimum_scalar(self, o: Self) -> Self {
        self.minimum(o)
    }
    /// `torch.sqrt` of every element (`pow(0.5)`): MKL's bits where they are modelled (see
    /// `mkl_sqrt`). Integer types never get here (`pow_scalar_values` returns before).
    fn torch_sqrt_values(x: &[Self]) -> Vec<Self> {
        x.iter().map(|&v| Self::from_f64(v.to_f64().sqrt())).collect()
    }
}

macro_rules! float_arith {
    ($t:ty) => {
        impl Arith for $t {
            fn torch_sqrt_values(x: &[Self]) -> Vec<Self> {
                map_slices(x, <$t as TorchMath>::sqrt_slice)
            }
            fn add(self, o: Self) -> Self {
                self + o
            }
            fn sub(self, o: Self) -> Self {
                self - o
            }
            fn mul(self, o: Self) -> Self {
                self * o
            }
            fn div(self, o: Self) -> Self {
                self / o
            }
            fn pow(self, o: Self) -> Self {
                self.powf(o)
            }
            fn vec_pow_slice(x: &[Self], y: &[Self], out: &mut [MaybeUninit<Self>]) {
                <$t as VecPow>::sleef_slice(x, y, out)
            }
            fn pow_number(self, e: f64) -> Self {
                <$t as VecPow>::pow_f64(self, e)
            }
            // (written out: Rust's `f32::max` leaves which zero it returns to the code
            // generator, and it changed with the vector build)
            fn maximum(self, o: Self) -> Self {
                unless_nan(self, o, if self > o { self } else { o })
            }
            fn minimum(self, o: Self) -> Self {
                unless_nan(self, o, if self < o { self } else { o })
            }
            fn maximum_scalar(self, o: Self) -> Self {
                unless_nan(self, o, if self < o { o } else { self })
            }
            fn minimum_scalar(self, o: Self) -> Self {
                unless_nan(self, o, if o < self { o } else { self })
            }
        }
    };
}
/// `value`, or NaN where `a` or `b` is NaN: torch's maximum and minimum, both forms.
#[inline(always)]
fn unless_nan<T: Element + PartialOrd>(a: T, b: T, value: T) -> T {
    #[allow(clippy::eq_op)] // NaN is the one value not equal to itself
    let nan = a != a || b != b;
    if nan {
        T::from_f64(f64::NAN)
    } else {
        value
    }
}

float_arith!(f32);
float_arith!(f64);

/// The two `pow`s of torch's float kernels besides the C library's own.
trait VecPow: Sized {
    fn sleef_slice(x: &[Self], y: &[Self], out: &mut [MaybeUninit<Self>]);
    fn pow_f64(self, e: f64) -> Self;
}

impl VecPow for f32 {
    fn sleef_slice(x: &[f32], y: &[f32], out: &mut [MaybeUninit<f32>]) {
        transcendental::sleef_powf_slice(x, y, out)
    }
    fn pow_f64(self, e: f64) -> f32 {
        (self as f64).powf(e) as f32
    }
}

impl VecPow for f64 {
    fn sleef_slice(x: &[f64], y: &[f64], out: &mut [MaybeUninit<f64>]) {
        transcendental::sleef_pow_slice(x, y, out)
    }
    fn pow_f64(self, e: f64) -> f64 {
        self.powf(e)
    }
}

impl Arith for i64 {
    fn add(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    fn sub(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }
    fn mul(self, o: Self) -> Self {
        self.wrapping_mul(o)
    }
    fn div(self, o: Self) -> Self {
        if o == 0 {
            crate::raise!("ZeroDivisionError")
        }
        self.div_euclid(o)
    }
    /// torch's `powi`: a negative exponent gives 0, except for the bases 1 and -1.
    fn pow(self, o: Self) -> Self {
        if o < 0 {
            return match self {
                1 => 1,
                -1 => {
                    if o % 2 != 0 {
                        -1
                    } else {
                        1
                    }
                }
                _ => 0,
            };
        }
        self.wrapping_pow(o.min(u32::MAX as i64) as u32)
    }
    fn maximum(self, o: Self) -> Self {
        self.max(o)
    }
    fn minimum(self, o: Self) -> Self {
        self.min(o)
    }
}

impl Arith for bool {
    fn add(self, o: Self) -> Self {
        self | o
    }
    fn sub(self, _: Self) -> Self {
        crate::raise!(NotImplementedError, "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead.")
    }
    fn mul(self, o: Self) -> Self {
        self & o
    }
    fn div(self, o: Self) -> Self {
        self & o
    }
    fn pow(self, o: Self) -> Self {
        self | !o
    }
    fn maximum(self, o: Self) -> Self {
        self | o
    }
    fn minimum(self, o: Self) -> Self {
        self & o
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Maximum,
    Minimum,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Calls `f` with the operand's elements as `T` and the shape those elements have. An
/// expanded tensor (stride 0) is passed un-expanded: the broadcasting kernels expand it again
/// for free, so `grad.expand(..)` after `sum()` never materialises a full copy.
pub(crate) fn with_compact<T: Element, R>(op: &Operand, f: impl FnOnce(&[T], &[usize]) -> R) -> R {
    let t = match op {
        Operand::Scalar(s) => return f(&[T::from_f64(s.as_f64())], &[]),
        Operand::Tensor(t) => t,
    };
    t.with_data(|d| {
        let layout = &d.layout;
        let expanded = layout.strides.iter().zip(&layout.shape).any(|(&st, &sz)| st == 0 && sz > 1);
        let compact;
        let (layout, shape) = if expanded {
            let shape: Dims = layout
                .shape
                .iter()
                .zip(&layout.strides)
                .map(|(&sz, &st)| if st == 0 { 1 } else { sz })
                .collect();
            compact = Layout { shape, ..layout.clone() };
            (&compact, &compact.shape)
        } else {
            (layout, &layout.shape)
        };
        let buffer = d.storage.read();
        if layout.numel() == 0 {
            return f(&[], shape);
        }
        if layout.is_contiguous() {
            if let Some(all) = T::slice(&buffer) {
                return f(&all[layout.span()], shape);
            }
        }
        let converted = super::kernel::cast(crate::tensor::gather(&buffer, layout), T::DTYPE);
        drop(buffer);
        f(T::slice(&converted).expect("cast gives the requested dtype"), shape)
    })
}

fn kernel<T: Arith>(a: &Operand, b: &Operand, op: BinaryOp, out_shape: &[usize]) -> Buffer {
    with_compact(a, |sa: &[T], shape_a| {
        with_compact(b, |sb: &[T], shape_b| {
            macro_rules! compare {
                ($f:expr) => {
                    Buffer::Bool(zip_map(sa, shape_a, sb, shape_b, out_shape, $f))
                };
            }
            match op {
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
                    T::wrap(four_ops(op, sa, shape_a, sb, shape_b, out_shape))
                }
                // torch's special cases (x*x, 1/sqrt(x), ...) are for a number exponent only; a
                // tensor exponent, even a 0-dim one, is std::pow (pow(-inf, -0.5) is 0, not nan)
                BinaryOp::Pow => match b {
                    Operand::Scalar(e) if sb.len() == 1 => {
                        T::wrap(number_powers(a.tensor(), sa, shape_a, out_shape, e.as_f64()))
                    }
                    _ => T::wrap(pow_pair_values(a, sa, shape_a, b, sb, shape_b, out_shape)),
                },
                BinaryOp::Maximum | BinaryOp::Minimum => T::wrap(extreme_pair_values(
                    op == BinaryOp::Maximum,
                    a,
                    sa,
                    shape_a,
                    b,
                    sb,
                    shape_b,
                    out_shape,
                )),
                BinaryOp::Eq => compare!(|x: T, y: T| x == y),
                BinaryOp::Ne => compare!(|x: T, y: T| x != y),
                BinaryOp::Lt => compare!(|x: T, y: T| x < y),
                BinaryOp::Le => compare!(|x: T, y: T| x <= y),
                BinaryOp::Gt => compare!(|x: T, y: T| x > y),
                BinaryOp::Ge => compare!(|x: T, y: T| x >= y),
            }
        })
    })
}

/// `torch.maximum(a, b)` (`largest`) or `torch.minimum(a, b)`, broadcast to `out_shape`: the
/// vector form where torch's kernel takes an element a vector at a time, the scalar form
/// elsewhere (`vector_lanes`, with blocks of one vector: the compiler vectorized the scalar
/// loop's whole vectors too). Measured in torch 2.15: `maximum(-zeros(n), zeros(n))` is `0.`
/// in each whole block of 16 float32 (8 float64) of a run and `-0.` in the last `n % 16`, and
/// in every element of a strided run. The forms differ only on `-0.` against `0.`.
#[allow(clippy::too_many_arguments)]
fn extreme_pair_values<T: Arith>(
    largest: bool,
    a: &Operand,
    sa: &[T],
    shape_a: &[usize],
    b: &Operand,
    sb: &[T],
    shape_b: &[usize],
    out_shape: &[usize],
) -> Vec<T> {
    let mut out = if largest {
        zip_map(sa, shape_a, sb, shape_b, out_shape, |x: T, y: T| x.maximum(y))
    } else {
        zip_map(sa, shape_a, sb, shape_b, out_shape, |x: T, y: T| x.minimum(y))
    };
    if !matches!(T::DTYPE, DType::Float32 | DType::Float64) || !out.iter().any(|v| v.to_f64() == 0.0) {
        return out;
    }
    let block = vector_lanes::block(T::DTYPE == DType::Float64) / 2;
    let lanes = pair_lanes(a, b, out_shape, block).unwrap_or_else(Lanes::none);
    // the scalar form's zeros, from both operands at full size
    let (full_a, full_b) = (at_full_size(sa, shape_a, out_shape), at_full_size(sb, shape_b, out_shape));
    let (xs, ys) = (full_a.as_deref().unwrap_or(sa), full_b.as_deref().unwrap_or(sb));
    for (range, vectorized) in lanes.segments(0, out.len()) {
        if vectorized {
            continue;
        }
        for i in range {
            if out[i].to_f64() == 0.0 {
                out[i] = if largest { xs[i].maximum_scalar(ys[i]) } else { xs[i].minimum_scalar(ys[i]) };
            }
        }
    }
    out
}

/// `vector_lanes::binary` for two operands as they are laid out (a number has no
/// layout).
fn pair_lanes(a: &Operand, b: &Operand, out_shape: &[usize], block: usize) -> Option<Lanes> {
    let layout = |o: &Operand| match o {
        Operand::Tensor(t) => Some(t.with_data(|d| (d.layout.shape.clone(), d.layout.strides.clone()))),
        Operand::Scalar(_) => None,
    };
    let (layout_a, layout_b) = (layout(a), layout(b));
    fn operand(l: &Option<(Dims, Dims)>) -> Option<(&[usize], &[usize])> {
        l.as_ref().map(|(shape, strides)| (&shape[..], &strides[..]))
    }
    vector_lanes::binary(out_shape, [operand(&layout_a), operand(&layout_b)], block)
}

/// The values `v` (of `shape`) broadcast to `out_shape`; None when they already are that many.
fn at_full_size<T: Arith>(v: &[T], shape: &[usize], out_shape: &[usize]) -> Option<Vec<T>> {
    (v.len() != crate::layout::numel(out_shape))
        .then(|| zip_map(v, shape, &[T::from_f64(0.0)], &[], out_shape, |x: T, _: T| x))
}

/// `a ** b` with a tensor exponent or a number base (`x.pow(y)`, `2 ** x`), broadcast to
/// `out_shape`: each element through SLEEF's `pow` where torch's kernel takes it a vector at
/// a time (`vector_lanes::binary`), else through `std::pow` (`powf` for float32).
fn pow_pair_values<T: Arith>(
    a: &Operand,
    sa: &[T],
    shape_a: &[usize],
    b: &Operand,
    sb: &[T],
    shape_b: &[usize],
    out_shape: &[usize],
) -> Vec<T> {
    let scalar = || zip_map(sa, shape_a, sb, shape_b, out_shape, |x: T, y: T| x.pow(y));
    if !matches!(T::DTYPE, DType::Float32 | DType::Float64) {
        return scalar();
    }
    let lanes = match pair_lanes(a, b, out_shape, vector_lanes::block(T::DTYPE == DType::Float64)) {
        Some(lanes) if !lanes.is_none() => lanes,
        _ => return scalar(),
    };
    // both operands at full size, then each element its own way, in one pass
    let n = crate::layout::numel(out_shape);
    let (full_a, full_b) = (at_full_size(sa, shape_a, out_shape), at_full_size(sb, shape_b, out_shape));
    let (xs, ys) = (full_a.as_deref().unwrap_or(sa), full_b.as_deref().unwrap_or(sb));
    // SAFETY: every slot of the part is in one segment, whose loop writes it
    unsafe {
        build_costly_parts(n, |start, out| {
            for (range, vectorized) in lanes.segments(start, start + out.len()) {
                let part = &mut out[range.start - start..range.end - start];
                if vectorized {
                    T::vec_pow_slice(&xs[range.clone()], &ys[range], part);
                } else {
                    for ((o, &x), &y) in part.iter_mut().zip(&xs[range.clone()]).zip(&ys[range]) {
                        o.write(x.pow(y));
                    }
                }
            }
        })
    }
}

/// `x op y` for one element of the four arithmetic ops: the one place their element
/// arithmetic is written, for the general path, both fast paths and the in-place one
/// (`overwrite_owned`). Always inlined, so with a literal `op` it is the bare operation.
#[inline(always)]
fn four_op<T: Arith>(op: BinaryOp, x: T, y: T) -> T {
    match op {
        BinaryOp::Add => x.add(y),
        BinaryOp::Sub => x.sub(y),
        BinaryOp::Mul => x.mul(y),
        BinaryOp::Div => x.div(y),
        _ => unreachable!("only the four arithmetic ops come here"),
    }
}

/// `x op y` for the four arithmetic ops, broadcast to `out_shape` (a number is a 1-element
/// operand of shape `[]`). The op is matched once, outside the loop, so each loop vectorises.
#[inline]
fn four_ops<T: Arith>(
    op: BinaryOp,
    x: &[T],
    shape_x: &[usize],
    y: &[T],
    shape_y: &[usize],
    out_shape: &[usize],
) -> Vec<T> {
    macro_rules! each {
        ($op:ident) => {
            zip_map(x, shape_x, y, shape_y, out_shape, |x: T, y: T| four_op(BinaryOp::$op, x, y))
        };
    }
    match op {
        BinaryOp::Add => each!(Add),
        BinaryOp::Sub => each!(Sub),
        BinaryOp::Mul => each!(Mul),
        BinaryOp::Div => each!(Div),
        _ => unreachable!("only the four arithmetic ops come here"),
    }
}

fn is_four_ops(op: BinaryOp) -> bool {
    matches!(op, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div)
}

/// `x ** e` for a fixed exponent over a whole slice, with torch's special cases (`x*x` for
/// 2, `x*x*x` for 3, `sqrt` for 0.5, ...), which give different last bits than a general
/// `powf`. The exponent is matched once, outside the loop, so each loop vectorises.
///
/// Any other exponent: `std::pow(x, e)` with `e` in float64 where torch's loop goes one by
/// one, SLEEF's `pow` (`e` rounded to the dtype) where it goes a vector at a time, as
/// `lanes()` says (asked only then).
fn pow_scalar_values<T: Arith>(input: &[T], e: f64, lanes: impl FnOnce() -> Lanes) -> Vec<T> {
    let one = T::from_f64(1.0);
    if T::DTYPE == DType::Int64 || T::DTYPE == DType::Bool {
        let exponent = T::from_f64(e);
        return map(input, move |x: T| x.pow(exponent));
    }
    match e {
        2.0 => map(input, |x: T| x.mul(x)),
        3.0 => map(input, |x: T| x.mul(x).mul(x)),
        0.5 => T::torch_sqrt_values(input),
        // torch's rsqrt kernel: 1 / std::sqrt, IEEE's root (not MKL's)
        -0.5 => map(input, move |x: T| one.div(sqrt_of(x))),
        -1.0 => map(input, move |x: T| one.div(x)),
        -2.0 => map(input, move |x: T| one.div(x.mul(x))),
        1.0 => input.to_vec(),
        0.0 => vec![one; input.len()],
        _ => {
            let exponent = [T::from_f64(e)];
            let lanes = lanes();
            // SAFETY: every slot of the part is in one segment, whose loop writes it
            unsafe {
                build_costly_parts(input.len(), |start, out| {
                    for (range, vectorized) in lanes.segments(start, start + out.len()) {
                        let part = &mut out[range.start - start..range.end - start];
                        if vectorized {
                            T::vec_pow_slice(&input[range], &exponent, part);
                        } else {
                            for (o, &x) in part.iter_mut().zip(&input[range]) {
                                o.write(x.pow_number(e));
                            }
                        }
                    }
                })
            }
        }
    }
}

/// `unary` lanes of a tensor (see `vector_lanes`), for `len` values read from it: where the
/// tensor is expanded (fewer stored values than elements) no element is taken as vectorized.
fn lanes_of(t: &Tensor, len: usize) -> Lanes {
    t.with_data(|d| {
        if d.layout.numel() != len {
            return Lanes::none();
        }
        vector_lanes::unary(&d.layout.shape, &d.layout.strides, d.dtype == DType::Float64)
    })
}

/// `x ** e` for a number `e`, at the full `shape`, of the values `s` (of shape `shape_s`)
/// read from `t`: compact where `t` is expanded (`with_compact`). Where torch's kernel is
/// `pow` itself it walks the expanded layout, each element its own way (`vector_lanes`), so
/// the values are broadcast first; its own kernels (`x*x`, `sqrt`, ...) are the same on every
/// element, so those are raised once per stored value.
fn number_powers<T: Arith>(
    t: Option<&Tensor>,
    s: &[T],
    shape_s: &[usize],
    shape: &[usize],
    e: f64,
) -> Vec<T> {
    let n = crate::layout::numel(shape);
    let lanes = || t.map_or_else(Lanes::none, |t| lanes_of(t, n));
    if s.len() == n {
        return pow_scalar_values(s, e, lanes);
    }
    let broadcast = |v: &[T]| zip_map(v, shape_s, &[T::from_f64(0.0)], &[], shape, |x: T, _: T| x);
    if has_own_kernel(e) {
        broadcast(&pow_scalar_values(s, e, Lanes::none))
    } else {
        pow_scalar_values(&broadcast(s), e, lanes)
    }
}

/// Whether torch computes `x ** e` for a number `e` with a kernel of its own (the cases of
/// `pow_scalar_values`), the same on every element whatever the layout.
fn has_own_kernel(e: f64) -> bool {
    [2.0, 3.0, 0.5, -0.5, -1.0, -2.0, 1.0, 0.0].contains(&e)
}

fn sqrt_of<T: Arith>(x: T) -> T {
    match T::DTYPE {
        DType::Float32 => T::from_f64((x.to_f64() as f32).sqrt() as f64),
        _ => T::from_f64(x.to_f64().sqrt()),
    }
}

/// A Python number as torch keeps it for backward: a 0-dim int64, float64 or bool tensor.
pub(crate) fn wrapped_number(s: Scalar) -> Tensor {
    match s {
        Scalar::Float(v) => Tensor::from_vec(vec![v], &[], DType::Float64),
        Scalar::Int(v) => Tensor::from_i64(vec![v], &[]),
        Scalar::Bool(v) => Tensor::from_bools(vec![v], &[]),
    }
}

/// The values of `a op b` with broadcasting and promotion; no history.
#[track_caller]
pub(crate) fn binary_values(a: &Operand, b: &Operand, op: BinaryOp) -> Tensor {
    fast_values(a, b, op).unwrap_or_else(|| general_values(a, b, op))
}

/// The fast paths of `binary_values` (see `with_number_values`, `same_shape_values`): their
/// result has the shape and dtype of every tensor operand.
fn fast_values(a: &Operand, b: &Operand, op: BinaryOp) -> Option<Tensor> {
    with_number_values(a, b, op).or_else(|| same_shape_values(a, b, op))
}

/// A binary op's values with what each input's gradient needs to be brought back to it
/// (`input_meta`). After a fast path that is nothing, known without borrowing the input and the
/// result again.
#[track_caller]
fn values_and_input_meta(a: &Operand, b: &Operand, op: BinaryOp) -> (Tensor, InputMeta, InputMeta) {
    if let Some(out) = fast_values(a, b, op) {
        return (out, None, None);
    }
    let out = general_values(a, b, op);
    let (meta_a, meta_b) = (input_meta(a, &out), input_meta(b, &out));
    (out, meta_a, meta_b)
}

/// [`values_and_input_meta`] of `a op b`, or `over` when the values are already there (a fast
/// path's values: nothing to bring back to the inputs).
#[track_caller]
fn values_or(over: Option<Tensor>, a: &Tensor, b: &Operand, op: BinaryOp) -> (Tensor, InputMeta, InputMeta) {
    match over {
        Some(out) => (out, None, None),
        None => values_and_input_meta(&Operand::Tensor(a), b, op),
    }
}

#[track_caller]
fn general_values(a: &Operand, b: &Operand, op: BinaryOp) -> Tensor {
    let (shape_a, promo_a) = a.shape_and_promotion();
    let (shape_b, promo_b) = b.shape_and_promotion();
    let out_shape = if same_shape(&shape_a, &shape_b) {
        shape_a
    } else {
        match broadcast_shapes(&shape_a, &shape_b) {
            Some(shape) => shape,
            None => {
                let dim = mismatch_dim(&shape_a, &shape_b);
                crate::raise!(
                    "The size of tensor a ({}) must match the size of tensor b ({}) at non-singleton dimension {}",
                    dim.1,
                    dim.2,
                    dim.0
                )
            }
        }
    };
    // torch's zero-tensor kernels (`zero_tensor_values`) see a Python number after the zero
    // tensor as a 0-dim tensor of its own dtype, not as a wrapped number: float32 zeros times
    // 3.0 is float64 there (`z * 3.0`, `3.0 * z`, `z + 3.0`, `z - 1.0`, `z / 2.0`); a number
    // first (`1.0 - z`, `2.0 / z`: rsub, rdiv) stays a wrapped number
    let zero_tensor = |o: &Operand| matches!(o, Operand::Tensor(t) if t.is_zero_tensor());
    let promo_b = match promo_b {
        // (a Python float is a double there; `Number`'s Float32 only stands for its category)
        PromotionOperand::Number(d) if is_four_ops(op) && zero_tensor(a) => {
            PromotionOperand::ZeroDim(if d == DType::Float32 { DType::Float64 } else { d })
        }
        p => p,
    };
    let mut dtype = result_type(&[promo_a, promo_b]);
    if op == BinaryOp::Div && dtype.category() != Category::Float {
        dtype = DType::Float32;
    }
    if let Some(out) = zero_tensor_values(a, b, op, &out_shape, dtype) {
        return out;
    }
    // pow's vector lanes follow the layout: computed row-major, then laid out as torch lays
    // it out; every other op straight in torch's layout (`in_memory_order`), which has
    // already found the layout row-major when it declines
    let in_order = op != BinaryOp::Pow;
    if in_order {
        if let Some(out) = in_memory_order(a, b, op, &out_shape, dtype) {
            return out;
        }
    }
    let buffer = match dtype {
        DType::Float32 => kernel::<f32>(a, b, op, &out_shape),
        DType::Float64 => kernel::<f64>(a, b, op, &out_shape),
        DType::Int64 => kernel::<i64>(a, b, op, &out_shape),
        DType::Bool => kernel::<bool>(a, b, op, &out_shape),
    };
    let out = Tensor::from_buffer_shape(buffer, out_shape);
    if in_order {
        out
    } else {
        like_torch(out, &[a, b])
    }
}

/// `a op b` computed in the order of torch's layout for the result, where that is not
/// row-major (`x.t() + y`, a transposed gradient times a transposed input): the inputs read
/// with their dims in that order, the values written one after another, and the result given
/// that layout. Computed row-major and then laid out (`like_torch`), the values were scattered
/// across memory: 12 times torch's time for `x.t() + y` on 1000x1000. Only for the ops whose
/// value does not depend on where an element is computed (not `pow`, whose vector lanes
/// follow the layout: `vector_lanes`). None where torch's layout is row-major.
fn in_memory_order(
    a: &Operand,
    b: &Operand,
    op: BinaryOp,
    out_shape: &[usize],
    dtype: DType,
) -> Option<Tensor> {
    debug_assert!(op != BinaryOp::Pow, "pow's lanes follow the layout it is computed in");
    if out_shape.len() < 2 {
        return None;
    }
    let layout = |o: &Operand| match o {
        Operand::Tensor(t) => Some(t.layout()),
        Operand::Scalar(_) => None,
    };
    let layouts = [layout(a), layout(b)];
    let (order, strides) = super::out_layout::output_order(out_shape, &layouts)?;
    let reread = |o: &Operand, l: &Option<Layout>| match (o, l) {
        (Operand::Tensor(t), Some(l)) => t.with_data(|d| {
            Some(Tensor::from_parts(
                d.storage.clone(),
                super::out_layout::permuted(l, out_shape, &order),
                d.dtype,
            ))
        }),
        _ => None,
    };
    let (ta, tb) = (reread(a, &layouts[0]), reread(b, &layouts[1]));
    fn reread_or<'t>(t: &'t Option<Tensor>, o: &Operand<'t>) -> Operand<'t> {
        match (t, o) {
            (Some(t), _) => Operand::Tensor(t),
            (None, Operand::Scalar(s)) => Operand::Scalar(*s),
            (None, Operand::Tensor(t)) => Operand::Tensor(t),
        }
    }
    let (oa, ob) = (reread_or(&ta, a), reread_or(&tb, b));
    let shape: Vec<usize> = order.iter().map(|&d| out_shape[d]).collect();
    let buffer = match dtype {
        DType::Float32 => kernel::<f32>(&oa, &ob, op, &shape),
        DType::Float64 => kernel::<f64>(&oa, &ob, op, &shape),
        DType::Int64 => kernel::<i64>(&oa, &ob, op, &shape),
        DType::Bool => kernel::<bool>(&oa, &ob, op, &shape),
    };
    // (a comparison's values are bools whatever the dtype it compared in)
    let (layout, dtype) =
        (Layout { shape: out_shape.into(), strides: strides.into(), offset: 0 }, buffer.dtype());
    Some(Tensor::from_parts(std::rc::Rc::new(crate::storage::Storage::new(buffer)), layout, dtype))
}

/// torch's rules for its "efficient zero tensor" (what `sgn`'s backward gives, so it meets these
/// ops in the backward of a second derivative through `abs`) in the four arithmetic ops, which
/// have kernels of their own for it (`mul_zerotensor`, `div_zerotensor`, `add_zerotensor`; `-`
/// is `+` with alpha -1): a product with one is a zero tensor whatever the other holds (no
/// `0 * inf = nan`, no `-0.`), as is one divided by anything but another; anything else
/// divided by one is `inf`, one by another `nan`; a sum takes the other operand's values as
/// they are (`-0. + zero` stays `-0.`), a difference with the zero tensor first negates them.
/// `None` when neither operand is one (every other op computes with its zeros).
fn zero_tensor_values(
    a: &Operand,
    b: &Operand,
    op: BinaryOp,
    shape: &[usize],
    dtype: DType,
) -> Option<Tensor> {
    let zero = |o: &Operand| matches!(o, Operand::Tensor(t) if t.is_zero_tensor());
    let (zero_a, zero_b) = (zero(a), zero(b));
    if !(zero_a || zero_b) || !is_four_ops(op) {
        return None;
    }
    let options = crate::factory::TensorOptions::default().dtype(dtype);
    let zeros = || crate::factory::zeros_with(shape, options).into_zero_tensor();
    let full = |value: f64| crate::factory::full_with(shape, value, options);
    // the other operand's values, broadcast to the result's shape in its dtype
    let like = |o: &Operand| match o {
        Operand::Tensor(t) => {
            crate::autograd::grad_mode::no_grad(|| t.expand(shape).to_dtype(dtype).deep_clone())
        }
        Operand::Scalar(s) => full(s.as_f64()),
    };
    Some(match (op, zero_a, zero_b) {
        (BinaryOp::Mul, ..) => zeros(),
        (BinaryOp::Div, true, true) => full(f64::NAN),
        (BinaryOp::Div, true, false) => zeros(),
        (BinaryOp::Div, false, _) => full(f64::INFINITY),
        (_, true, true) => zeros(),
        (_, false, _) => like(a),
        (BinaryOp::Add, true, false) => like(b),
        _ => crate::autograd::grad_mode::no_grad(|| like(b).mul_scalar(-1.0)),
    })
}

/// `binary_values` of a row-major float tensor and a number (`y * 1.01`, `g * c` in
/// backward, `2 - x`, `x.pow(2)`), the most common op of a small graph, read in one borrow:
/// the result has the tensor's shape and dtype (a number never promotes a float tensor) and is
/// row-major, as the general path finds through broadcasting, promotion and `like_torch` (each
/// of which borrowed the tensor again). The same arithmetic, so the same bits (a `pow`
/// exponent is kept in float64, as torch's kernel takes it).
/// `None` for anything else (other ops, dtypes and layouts, a bool number, a number base, an
/// empty tensor).
fn with_number_values(a: &Operand, b: &Operand, op: BinaryOp) -> Option<Tensor> {
    if !is_four_ops(op) && op != BinaryOp::Pow {
        return None;
    }
    let (tensor, number, number_first) = match (a, b) {
        (Operand::Tensor(t), Operand::Scalar(s)) => (*t, *s, false),
        (Operand::Scalar(s), Operand::Tensor(t)) => (*t, *s, true),
        _ => return None,
    };
    if matches!(number, Scalar::Bool(_)) || (number_first && op == BinaryOp::Pow) {
        return None;
    }
    let number = number.as_f64();
    fn run<T: Arith>(values: &[T], shape: &[usize], number: f64, number_first: bool, op: BinaryOp) -> Buffer {
        let c = [T::from_f64(number)];
        if op == BinaryOp::Pow {
            let float64 = T::DTYPE == DType::Float64;
            let lanes = || vector_lanes::unary(shape, &crate::layout::contiguous_strides(shape), float64);
            return T::wrap(pow_scalar_values(values, number, lanes));
        }
        T::wrap(if number_first {
            four_ops(op, &c, &[], values, shape, shape)
        } else {
            four_ops(op, values, shape, &c, &[], shape)
        })
    }
    let (buffer, layout) = tensor.with_data(|d| {
        let layout = &d.layout;
        let n = layout.numel();
        // (a zero tensor has rules of its own: `zero_tensor_values`)
        if n == 0 || !layout.is_row_major() || d.storage.is_zero_tensor() {
            return None;
        }
        let buffer = d.storage.read();
        let range = layout.span();
        let values = match (&*buffer, d.dtype) {
            (Buffer::F32(v), DType::Float32) => run(&v[range], &layout.shape, number, number_first, op),
            (Buffer::F64(v), DType::Float64) => run(&v[range], &layout.shape, number, number_first, op),
            _ => return None,
        };
        Some((values, layout.restarted()))
    })?;
    Some(Tensor::from_buffer_layout(buffer, layout))
}

/// Runs `write` over the values of `t` in place when nothing else can see them: no other
/// handle holds the tensor or its storage (no view, hook, trace step, retained `.grad` or
/// name), it has no history (or, with `history`, it is an op's result, never a leaf), no
/// `.grad` or hook of its own, and it is all a new result would
/// be (row-major from offset 0 over its whole storage, never written in place: `_version` 0,
/// left at 0). For a value that is about to be dropped, such as the gradient a backward rule
/// gets or an operand given up by value, what is written then cannot be told from a new
/// tensor; a new tensor is three allocations. Small tensors only (below the size ops split
/// over threads). `write` gets the values, layout and dtype and returns whether it wrote
/// (false: a case it does not take).
fn overwrite_sole(
    t: &Tensor,
    history: bool,
    write: impl FnOnce(&mut Buffer, &Layout, DType) -> bool,
) -> bool {
    if std::rc::Rc::strong_count(&t.0) != 1 || std::rc::Rc::weak_count(&t.0) != 0 {
        return false;
    }
    {
        let meta = t.meta();
        // with `history`: an op's result (never a leaf, whose AccumulateGrad holds it anyway)
        let wanted =
            if history { meta.grad_fn.is_some() } else { !meta.requires_grad && meta.grad_fn.is_none() };
        // nothing of its own that a new tensor would not have either
        if !wanted
            || meta.grad.is_some()
            || !meta.hooks.is_empty()
            || meta.retains_grad
            || meta.view.is_some()
        {
            return false;
        }
    }
    // an op's result is an interrupt point (`Tensor::from_parts`), this one too
    crate::global::check_interrupt();
    t.with_data(|d| {
        let (layout, storage) = (&d.layout, &d.storage);
        if !d.owns_whole_storage()
            || storage.is_zero_tensor()
            || d.version() != 0
            || layout.numel() >= super::kernel::PARALLEL_MIN
            || !layout.is_row_major()
        {
            return false;
        }
        write(&mut storage.write(), layout, d.dtype)
    })
}

/// `a op b` for the four arithmetic ops, written over the operand the caller gave up by value
/// (`owned`; `owned_first`: it is `a`), when [`overwrite_sole`] may and the result needs no
/// history: `x.data() - lr * g` in a training loop makes no new tensor for its result, nor
/// does a backward rule's `g * c` (see [`grad_op`]). Only where `binary_values` takes a fast
/// path (a float number, or a row-major tensor of the same shape and dtype), with the same
/// arithmetic, so the same bits. False: nothing was written.
fn overwrite_owned(owned: &Tensor, other: &Operand, owned_first: bool, op: BinaryOp) -> bool {
    let other_needs_grad = other.tensor().is_some_and(Tensor::has_gradient_edge);
    if other_needs_grad && crate::autograd::grad_mode::is_grad_enabled() {
        return false;
    }
    write_over(owned, other, owned_first, op, false)
}

/// The values of `owned op other` (or `other op owned`) written over `owned`, as
/// [`overwrite_sole`] allows (`history`: `owned` is an op's result).
fn write_over(owned: &Tensor, other: &Operand, owned_first: bool, op: BinaryOp, history: bool) -> bool {
    fn run<T: Arith>(values: &mut [T], other: &[T], owned_first: bool, op: BinaryOp) {
        let apply = |v: &mut T, o: T| *v = if owned_first { four_op(op, *v, o) } else { four_op(op, o, *v) };
        match other {
            [o] => values.iter_mut().for_each(|v| apply(v, *o)),
            _ => values.iter_mut().zip(other).for_each(|(v, &o)| apply(v, o)),
        }
    }
    if !is_four_ops(op) {
        return false;
    }
    match other {
        Operand::Scalar(Scalar::Bool(_)) => false,
        Operand::Scalar(number) => {
            let number = number.as_f64();
            overwrite_sole(owned, history, |buffer, _, dtype| {
                match (buffer, dtype) {
                    (Buffer::F32(v), DType::Float32) => run(v, &[f32::from_f64(number)], owned_first, op),
                    (Buffer::F64(v), DType::Float64) => run(v, &[number], owned_first, op),
                    _ => return false,
                }
                true
            })
        }
        // `grad_op(g, Operand::Tensor(g), ..)`: one handle, read while it would be written
        Operand::Tensor(t) if std::rc::Rc::ptr_eq(&owned.0, &t.0) => false,
        Operand::Tensor(t) => t.with_data(|dt| {
            let lt = &dt.layout;
            if !lt.is_row_major() {
                return false;
            }
            let other_values = dt.storage.read();
            let range = lt.span();
            overwrite_sole(owned, history, |buffer, layout, dtype| {
                if dtype != dt.dtype || !same_shape(&layout.shape, &lt.shape) {
                    return false;
                }
                match (buffer, &*other_values, dtype) {
                    (Buffer::F32(v), Buffer::F32(o), DType::Float32) => run(v, &o[range], owned_first, op),
                    (Buffer::F64(v), Buffer::F64(o), DType::Float64) => run(v, &o[range], owned_first, op),
                    _ => return false,
                }
                true
            })
        }),
    }
}

/// `owned op other` (or `other op owned`) for the four arithmetic ops, written over `owned`,
/// an op's result given up by value, and recorded with the node a new tensor would get:
/// `y * 1.01 + 0.5` makes one new tensor, not two. Only where that node keeps nothing of
/// `owned` (its values are gone): `+` and `-` keep no operand; `*` keeps `owned` for the
/// other operand's gradient, so only when that one needs none; `/` as well, and only with
/// `owned` as the dividend (the divisor is kept for both gradients). Grad mode on (else the
/// result has no history, and `owned` still has its own). `Err(owned)`: not written.
fn write_over_recorded(
    owned: Tensor,
    other: Operand,
    owned_first: bool,
    op: BinaryOp,
) -> Result<Tensor, Tensor> {
    let other_needs_grad = other.tensor().is_some_and(Tensor::has_gradient_edge);
    let keeps_nothing_of_owned = match op {
        BinaryOp::Add | BinaryOp::Sub => true,
        BinaryOp::Mul => !other_needs_grad,
        BinaryOp::Div => owned_first && !other_needs_grad,
        _ => false,
    };
    if !keeps_nothing_of_owned
        || !crate::autograd::grad_mode::is_grad_enabled()
        || !write_over(&owned, &other, owned_first, op, true)
    {
        return Err(owned);
    }
    let over = Some(owned.clone());
    Ok(match (other, owned_first) {
        (other, true) => match op {
            BinaryOp::Add => owned.add_into(other, over),
            BinaryOp::Sub => owned.sub_into(other, over),
            BinaryOp::Mul => owned.mul_into(other, over),
            _ => owned.div_into(other, over),
        },
        // as the operators have it: `a op owned`, and `number op owned` through `add`, `rsub`
        // and `mul` of `owned` (a number divided by `owned` is not written over: see above)
        (Operand::Tensor(a), false) => match op {
            BinaryOp::Add => a.add_into(Operand::Tensor(&owned), over),
            BinaryOp::Sub => a.sub_into(Operand::Tensor(&owned), over),
            _ => a.mul_into(Operand::Tensor(&owned), over),
        },
        (Operand::Scalar(number), false) => match op {
            BinaryOp::Add => owned.add_into(Operand::Scalar(number), over),
            BinaryOp::Sub => owned.rsub_into(number, over),
            _ => owned.mul_into(Operand::Scalar(number), over),
        },
    })
}

/// `owned op other` (or `other op owned`) written over `owned`, which the caller gave up by
/// value: [`overwrite_owned`] when it has no history, [`write_over_recorded`] when it has
/// (one or the other can take it, never both: `overwrite_owned` refuses a tensor that
/// requires grad, `write_over_recorded` one without a node). `Err(owned)`: not written.
fn write_over_by_value(
    owned: Tensor,
    other: Operand,
    owned_first: bool,
    op: BinaryOp,
) -> Result<Tensor, Tensor> {
    // the usual refusal first: another handle (`lr * x.grad()`)
    if std::rc::Rc::strong_count(&owned.0) != 1 {
        return Err(owned);
    }
    if owned.requires_grad() {
        write_over_recorded(owned, other, owned_first, op)
    } else if overwrite_owned(&owned, &other, owned_first, op) {
        Ok(owned)
    } else {
        Err(owned)
    }
}

/// `g op other` in a backward rule (`g * 1.01` for `y * 1.01`, `g * result` for `exp`, ...):
/// written over `g` when [`overwrite_owned`] may (the engine holds the only handle on the
/// gradient a rule gets, and drops it right after the rule), else a new tensor. The same
/// arithmetic either way.
pub(crate) fn grad_op(g: &Tensor, other: Operand, op: BinaryOp) -> Tensor {
    if overwrite_owned(g, &other, true, op) {
        return g.clone();
    }
    match op {
        BinaryOp::Mul => g.mul(other),
        BinaryOp::Div => g.div(other),
        BinaryOp::Add => g.add(other),
        BinaryOp::Sub => g.sub(other),
        _ => unreachable!("grad_op takes the four arithmetic ops"),
    }
}

/// `binary_values` of two row-major float tensors of one shape and dtype (`x.data - step`,
/// `a * b`): no broadcasting, no promotion, a row-major result (torch's fast set-up for
/// contiguous operands), each tensor borrowed once. The same arithmetic as the general
/// path, so the same bits; `None` for anything else.
fn same_shape_values(a: &Operand, b: &Operand, op: BinaryOp) -> Option<Tensor> {
    let (Operand::Tensor(a), Operand::Tensor(b)) = (a, b) else { return None };
    if !is_four_ops(op) {
        return None;
    }
    let (buffer, layout) = a.with_data(|da| {
        b.with_data(|db| {
            let (la, lb) = (&da.layout, &db.layout);
            let n = la.numel();
            if n == 0
                || da.dtype != db.dtype
                || !same_shape(&la.shape, &lb.shape)
                || !la.is_row_major()
                || !lb.is_row_major()
                || da.storage.is_zero_tensor()
                || db.storage.is_zero_tensor()
            {
                return None;
            }
            let (ra, rb) = (la.span(), lb.span());
            let (buffer_a, buffer_b) = (da.storage.read(), db.storage.read());
            let shape = &la.shape;
            let values = match (&*buffer_a, &*buffer_b, da.dtype) {
                (Buffer::F32(x), Buffer::F32(y), DType::Float32) => {
                    Buffer::F32(four_ops(op, &x[ra], shape, &y[rb], shape, shape))
                }
                (Buffer::F64(x), Buffer::F64(y), DType::Float64) => {
                    Buffer::F64(four_ops(op, &x[ra], shape, &y[rb], shape, shape))
                }
                _ => return None,
            };
            Some((values, la.restarted()))
        })
    })?;
    Some(Tensor::from_buffer_layout(buffer, layout))
}

/// Where two shapes that do not broadcast differ, as torch names it (see `checks::mismatch`).
fn mismatch_dim(a: &[usize], b: &[usize]) -> (usize, usize, usize) {
    super::checks::mismatch(a, b).unwrap_or((0, 0, 0))
}

/// [`pow_backward_values`] written into `g` (see [`overwrite_sole`]; its caller runs with grad
/// mode off) when `g` has `a`'s shape and dtype and `a` is row-major: the same operations on
/// each element, so the same bits.
fn pow_backward_in_place(g: &Tensor, a: &Tensor, e: f64) -> bool {
    fn run<T: Arith>(gv: &mut [T], av: &[T], e: f64) {
        let factor = T::from_f64(e);
        match e {
            2.0 => gv.iter_mut().zip(av).for_each(|(gv, &x)| *gv = gv.mul(x.mul(factor))),
            3.0 => gv.iter_mut().zip(av).for_each(|(gv, &x)| *gv = gv.mul(x.mul(x).mul(factor))),
            _ => {
                let lanes = || vector_lanes::unary(&[av.len()], &[1], T::DTYPE == DType::Float64);
                let powered = pow_scalar_values(av, e - 1.0, lanes);
                gv.iter_mut().zip(&powered).for_each(|(gv, &p)| *gv = gv.mul(p.mul(factor)));
            }
        }
    }
    a.with_data(|da| {
        if !da.layout.is_row_major() {
            return false;
        }
        let buffer_a = da.storage.read();
        let ra = da.layout.span();
        overwrite_sole(g, false, |buffer, layout, dtype| {
            if dtype != da.dtype || !same_shape(&layout.shape, &da.layout.shape) {
                return false;
            }
            match (buffer, &*buffer_a, dtype) {
                (Buffer::F32(gv), Buffer::F32(av), DType::Float32) => run(gv, &av[ra], e),
                (Buffer::F64(gv), Buffer::F64(av), DType::Float64) => run(gv, &av[ra], e),
                _ => return false,
            }
            true
        })
    })
}

/// `grad * (e * a^(e-1))` in one pass over float data (the backward of `a.pow(e)`).
fn pow_backward_values(g: &Tensor, a: &Tensor, e: f64) -> Tensor {
    fn run<T: Arith>(g: &Tensor, a: &Tensor, e: f64) -> Buffer {
        let shape = a.dims();
        let factor = T::from_f64(e);
        with_compact(&Operand::Tensor(g), |sg: &[T], shape_g| {
            with_compact(&Operand::Tensor(a), |sa: &[T], shape_a| {
                match e {
                    // a.pow(1) is a itself, a.pow(2) is a*a: grad * (e * a^(e-1))
                    2.0 => T::wrap(zip_map(sg, shape_g, sa, shape_a, &shape, move |gv: T, x: T| {
                        gv.mul(x.mul(factor))
                    })),
                    3.0 => T::wrap(zip_map(sg, shape_g, sa, shape_a, &shape, move |gv: T, x: T| {
                        gv.mul(x.mul(x).mul(factor))
                    })),
                    _ => {
                        let powered = number_powers(Some(a), sa, shape_a, &shape, e - 1.0);
                        T::wrap(zip_map(sg, shape_g, &powered, &shape, &shape, move |gv: T, p: T| {
                            gv.mul(p.mul(factor))
                        }))
                    }
                }
            })
        })
    }
    let buffer = match a.dtype() {
        DType::Float64 => run::<f64>(g, a, e),
        _ => run::<f32>(g, a, e),
    };
    Tensor::from_buffer_shape(buffer, a.dims())
}

/// Sums a broadcast gradient back to an input's shape and dtype.
pub(crate) fn reduce_grad(grad: Tensor, shape: &[usize], dtype: DType) -> Tensor {
    let g = if same_shape(&grad.shape(), shape) { grad } else { grad.sum_to_size(shape) };
    if g.dtype() != dtype && dtype.is_floating_point() {
        g.to_dtype(dtype)
    } else {
        g
    }
}

/// What a binary op's backward needs to know of an input to undo broadcasting and
/// promotion: `None` when the gradient already has the input's shape and dtype. Boxed: two
/// of them are in every binary op's backward closure, nearly always `None` (48 bytes each
/// inline made the boxed functions of `*` and `+` 264-288 bytes).
type InputMeta = Option<Box<(Dims, DType)>>;

/// See [`InputMeta`].
fn input_meta(op: &Operand, out: &Tensor) -> InputMeta {
    let Operand::Tensor(t) = op else { return None };
    if !crate::autograd::grad_mode::is_grad_enabled() || !t.requires_grad() {
        return None; // no gradient will be computed for it
    }
    if let Some((shape, dtype)) = t.made_as() {
        // its data changed shape or dtype after its node was made (`x.data = v`): torch's
        // engine brings the gradient to what the node was made with, not to the tensor's
        // shape now (`held_to_made_as`)
        // (where that shape does not expand to the result's, the gradient goes on as it is and
        // the engine refuses it with torch's "returned an invalid gradient")
        let (same, expands) = out.with_data(|o| {
            let expands =
                broadcast_shapes(&shape, &o.layout.shape).is_some_and(|b| same_shape(&b, &o.layout.shape));
            (same_shape(&shape, &o.layout.shape) && dtype == o.dtype, expands)
        });
        return (!same && expands).then(|| Box::new((crate::layout::dims_of(&shape), dtype)));
    }
    let same = t
        .with_data(|d| out.with_data(|o| same_shape(&d.layout.shape, &o.layout.shape) && d.dtype == o.dtype));
    if same {
        return None;
    }
    Some(Box::new(t.with_data(|d| (crate::layout::dims_of(&d.layout.shape), d.dtype))))
}

/// Brings a gradient to an input's shape and dtype (see `input_meta`).
fn fit(grad: Tensor, meta: &InputMeta) -> Tensor {
    match meta {
        None => grad,
        Some(meta) => reduce_grad(grad, &meta.0, meta.1),
    }
}

// The public ops are generic over what stands on the other side (`&Tensor`, `f64`, `i32`,
// ...). Each only converts it and calls a private method that is not generic, so the code of
// the op and its backward is compiled here, once, optimised. Otherwise every caller compiles
// its own copy: a notebook cell, built at opt-level 0, compiled `w.pow(2) + 20.0` into 855
// functions (the op, its backward closures, `record`, and the ops those call) in 0.23 s of
// rustc; 261 functions and 0.13 s this way. The same for `impl Dims` (shape.rs, reduce.rs)
// and the in-place ops.
impl Tensor {
    /// `a + b` (also the `+` operator); `b` may be a tensor or a number.
    #[track_caller]
    pub fn add<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        self.add_into(other.into_operand(), None)
    }

    /// `add`, its values already in `over` when given (see [`write_over_recorded`]).
    #[track_caller]
    fn add_into(&self, b: Operand<'_>, over: Option<Tensor>) -> Tensor {
        let (out, meta_a, meta_b) = values_or(over, self, &b, BinaryOp::Add);
        // d(a + b) = da + db
        record(
            out,
            "AddBackward0",
            &[Some(self), b.tensor()],
            &[],
            |_| vec![],
            move |_, g, needs| {
                grads![needs[0].then(|| fit(g.clone(), &meta_a)), needs[1].then(|| fit(g.clone(), &meta_b))]
            },
        )
    }

    /// `a - b` (also the `-` operator).
    #[track_caller]
    pub fn sub<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        self.sub_into(other.into_operand(), None)
    }

    /// `sub`, its values already in `over` when given (see [`write_over_recorded`]).
    #[track_caller]
    fn sub_into(&self, b: Operand<'_>, over: Option<Tensor>) -> Tensor {
        super::checks::check_sub_operands(self.dtype() == DType::Bool, b.is_bool());
        let (out, meta_a, meta_b) = values_or(over, self, &b, BinaryOp::Sub);
        // d(a - b) = da - db
        record(
            out,
            "SubBackward0",
            &[Some(self), b.tensor()],
            &[],
            |_| vec![],
            move |_, g, needs| {
                grads![needs[0].then(|| fit(g.clone(), &meta_a)), needs[1].then(|| fit(-g, &meta_b))]
            },
        )
    }

    /// `number - a` (`2 - a` in Python, node `RsubBackward1`).
    #[track_caller]
    pub fn rsub(&self, number: impl Into<Scalar>) -> Tensor {
        self.rsub_into(number.into(), None)
    }

    /// `rsub`, its values already in `over` when given (see [`write_over_recorded`]).
    #[track_caller]
    fn rsub_into(&self, number: Scalar, over: Option<Tensor>) -> Tensor {
        super::checks::check_sub_operands(matches!(number, Scalar::Bool(_)), self.dtype() == DType::Bool);
        let number = Operand::Scalar(number);
        let out = over.unwrap_or_else(|| binary_values(&number, &Operand::Tensor(self), BinaryOp::Sub));
        let (shape, dtype) = (self.shape(), self.dtype());
        // d(c - a) = -da
        record(
            out,
            "RsubBackward1",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| grads![Some(reduce_grad(-g, &shape, dtype))],
        )
    }

    /// `a * b` (also the `*` operator).
    #[track_caller]
    pub fn mul<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        self.mul_into(other.into_operand(), None)
    }

    /// `mul`, its values already in `over` when given (see [`write_over_recorded`]).
    #[track_caller]
    fn mul_into(&self, b: Operand<'_>, over: Option<Tensor>) -> Tensor {
        let (out, meta_a, meta_b) = values_or(over, self, &b, BinaryOp::Mul);
        let (a_req, b_req) = (self.has_gradient_edge(), b.tensor().is_some_and(Tensor::has_gradient_edge));
        let scalar = match b {
            Operand::Scalar(s) => Some(s.as_f64()),
            Operand::Tensor(_) => None,
        };
        let b_tensor = b.tensor();
        // d(a * b) = b da + a db
        record(
            out,
            "MulBackward0",
            &[Some(self), b_tensor],
            &["other", "self"],
            |_| {
                // like torch, keep only what the needed gradients use; a number is kept as
                // torch keeps it (a 0-dim "wrapped number"), so a second backward without
                // retain_graph fails here as it does there
                match (b_tensor, b) {
                    (Some(bt), _) => Saved::some_of([
                        a_req.then(|| SavedTensor::input(bt).named("other")),
                        b_req.then(|| SavedTensor::input(self).named("self")),
                    ]),
                    (None, Operand::Scalar(s)) => Saved::one(SavedTensor::number(s).named("other")),
                    (None, Operand::Tensor(_)) => unreachable!("a tensor operand has a tensor"),
                }
            },
            move |saved, g, needs| match scalar {
                Some(c) => grads![
                    Some(fit(grad_op(g, Operand::Scalar(Scalar::Float(c)), BinaryOp::Mul), &meta_a)),
                    None
                ],
                None => {
                    let other = a_req.then(|| &saved[0]);
                    let this = b_req.then(|| &saved[usize::from(a_req)]);
                    grads![
                        // `g` may be written over by its last use only
                        needs[0].then(|| {
                            let other = Operand::Tensor(other.expect("saved"));
                            fit(
                                if needs[1] { g.mul(other) } else { grad_op(g, other, BinaryOp::Mul) },
                                &meta_a,
                            )
                        }),
                        needs[1].then(|| fit(
                            grad_op(g, Operand::Tensor(this.expect("saved")), BinaryOp::Mul),
                            &meta_b
                        )),
                    ]
                }
            },
        )
    }

    /// `a / b` (true division, also the `/` operator).
    #[track_caller]
    pub fn div<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        self.div_into(other.into_operand(), None)
    }

    /// `div`, its values already in `over` when given (see [`write_over_recorded`]).
    #[track_caller]
    fn div_into(&self, b: Operand<'_>, over: Option<Tensor>) -> Tensor {
        let (out, meta_a, meta_b) = values_or(over, self, &b, BinaryOp::Div);
        let scalar = match b {
            Operand::Scalar(s) => Some(s.as_f64()),
            Operand::Tensor(_) => None,
        };
        let b_tensor = b.tensor();
        let b_req = b_tensor.is_some_and(Tensor::has_gradient_edge);
        // d(a / b) = da / b - a db / b^2
        record(
            out,
            "DivBackward0",
            &[Some(self), b_tensor],
            &["self", "other"],
            // like torch, `self` is kept only when b's gradient needs it (so changing `a` in
            // place afterwards is fine when b needs no gradient)
            |_| match (b_tensor, b) {
                (Some(bt), _) if b_req => {
                    vec![SavedTensor::input(bt).named("other"), SavedTensor::input(self).named("self")]
                }
                (Some(bt), _) => vec![SavedTensor::input(bt).named("other")],
                // a number is kept as torch keeps it (see `mul`)
                (None, Operand::Scalar(s)) => vec![SavedTensor::number(s).named("other")],
                (None, Operand::Tensor(_)) => unreachable!("a tensor operand has a tensor"),
            },
            move |saved, g, needs| match scalar {
                Some(c) => grads![
                    Some(fit(grad_op(g, Operand::Scalar(Scalar::Float(c)), BinaryOp::Div), &meta_a)),
                    None
                ],
                None => {
                    let b = &saved[0];
                    grads![
                        needs[0].then(|| fit(g.div(b), &meta_a)),
                        // torch: -grad * ((self / other) / other), so x / x gives exactly 0
                        needs[1].then(|| fit((-g).mul(&saved[1].div(b).div(b)), &meta_b)),
                    ]
                }
            },
        )
    }

    /// `number / a` (Python's `2 / a`), computed like torch as `a.reciprocal() * number`.
    #[track_caller]
    pub fn rdiv(&self, number: impl Into<Scalar>) -> Tensor {
        self.rdiv_number(number.into())
    }

    #[track_caller]
    fn rdiv_number(&self, number: Scalar) -> Tensor {
        self.reciprocal().mul_into(Operand::Scalar(number), None)
    }

    /// `a ** exponent`: a number (`a.pow(2)`, `a.pow(0.5)`) or a tensor (`a.pow(&b)`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!(10., requires_grad = true, dtype = float64);
    /// let f = x.pow(2) + 20.0;
    /// f.backward();
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor(20., dtype=torch.float64)");
    /// ```
    #[track_caller]
    pub fn pow<'a>(&self, exponent: impl IntoOperand<'a>) -> Tensor {
        self.pow_operand(exponent.into_operand())
    }

    #[track_caller]
    fn pow_operand(&self, exponent: Operand<'_>) -> Tensor {
        if self.dtype() == DType::Bool && exponent.is_bool() {
            // (the result would be bool: torch has no bool kernel for pow)
            crate::raise!(NotImplementedError, "\"pow\" not implemented for 'Bool'");
        }
        match exponent {
            Operand::Scalar(e) => {
                if let Scalar::Int(i) = e {
                    if i < 0 && !self.dtype().is_floating_point() {
                        crate::raise!("Integers to negative integer powers are not allowed.");
                    }
                }
                let out = binary_values(&Operand::Tensor(self), &Operand::Scalar(e), BinaryOp::Pow);
                let e = e.as_f64();
                // d(a^e) = e a^(e-1) da
                record(
                    out,
                    "PowBackward0",
                    &[Some(self)],
                    &["self"],
                    |_| Saved::one(SavedTensor::input(self)),
                    move |s, g, _| {
                        let a = &s[0];
                        let grad = if e == 0.0 {
                            crate::factory::zeros_like(a)
                        } else if !crate::autograd::grad_mode::is_grad_enabled()
                            && a.dtype().is_floating_point()
                            && !g.is_zero_tensor()
                        {
                            // one fused pass, same operation order (so the same bits) as below;
                            // into the gradient's own values when nothing else holds them
                            if pow_backward_in_place(g, a, e) {
                                g.clone()
                            } else {
                                pow_backward_values(g, a, e)
                            }
                        } else {
                            // torch: grad * (exponent * self.pow(exponent - 1))
                            g.mul(&a.pow(e - 1.0).mul_scalar(e))
                        };
                        grads![Some(grad)]
                    },
                )
            }
            Operand::Tensor(b) => {
                let out = binary_values(&Operand::Tensor(self), &Operand::Tensor(b), BinaryOp::Pow);
                let (meta_a, meta_b) =
                    (input_meta(&Operand::Tensor(self), &out), input_meta(&Operand::Tensor(b), &out));
                // d(a^b) = b a^(b-1) da + a^b ln(a) db
                record(
                    out,
                    "PowBackward1",
                    &[Some(self), Some(b)],
                    &["self", "exponent", "result"],
                    |out| vec![SavedTensor::input(self), SavedTensor::input(b), SavedTensor::output(out)],
                    move |s, g, needs| {
                        let (a, b, result) = (&s[0], &s[1], &s[2]);
                        let zero = Operand::Scalar(Scalar::Float(0.0));
                        vec![
                            // torch: where(exponent == 0, 0, grad * (exponent * self.pow(exponent - 1)))
                            needs[0].then(|| {
                                // (torch's `exponent - 1` refuses a bool exponent here)
                                super::checks::check_sub_operands(b.dtype() == DType::Bool, false);
                                let d = g.mul(&b.mul(&a.pow(&b.sub_scalar(1.0))));
                                fit(where_op(&b.eq(0.0), zero, Operand::Tensor(&d)), &meta_a)
                            }),
                            // torch: grad * where(self == 0 & exponent >= 0, 0, result * self_.log()),
                            // self_ = self in the promoted dtype (result's): float32 8 ** a
                            // float64 exponent takes the float64 log of 8
                            needs[1].then(|| {
                                let zero_base = a.eq(0.0).logical_and(&b.ge(0.0));
                                let promoted = if a.dtype() == result.dtype() {
                                    a.clone()
                                } else {
                                    a.to_dtype(result.dtype())
                                };
                                let d = result.mul(&promoted.log());
                                fit(g.mul(&where_op(&zero_base, zero, Operand::Tensor(&d))), &meta_b)
                            }),
                        ]
                    },
                )
            }
        }
    }

    /// `base ** a` for a number `base` (Python's `2 ** a`, node `PowBackward2`).
    #[track_caller]
    pub fn rpow(&self, base: impl Into<Scalar>) -> Tensor {
        self.rpow_number(base.into())
    }

    #[track_caller]
    fn rpow_number(&self, base: Scalar) -> Tensor {
        let out = binary_values(&Operand::Scalar(base), &Operand::Tensor(self), BinaryOp::Pow);
        // torch's `Scalar::log` of a negative base: NaN, the positive one (measured: it reaches
        // the gradient's bits)
        let ln_base = Some(base.as_f64().ln()).filter(|v| !v.is_nan()).unwrap_or(f64::NAN);
        let zero_base = base.as_f64() == 0.0;
        // d(c^a) = c^a ln(c) da; torch: grad * (result * log(c)), and 0 where c == 0 and a >= 0
        let names: &'static [&'static str] = if zero_base { &["result", "exponent"] } else { &["result"] };
        let input = self.clone();
        record(
            out,
            "PowBackward2",
            &[Some(self)],
            names,
            move |out| {
                let mut saved = vec![SavedTensor::output(out)];
                if zero_base {
                    saved.push(SavedTensor::input(&input));
                }
                saved
            },
            move |s, g, _| {
                let d = s[0].mul_scalar(ln_base);
                if zero_base {
                    let zero = Operand::Scalar(Scalar::Float(0.0));
                    grads![Some(g.mul(&where_op(&s[1].ge(0.0), zero, Operand::Tensor(&d))))]
                } else {
                    grads![Some(g.mul(&d))]
                }
            },
        )
    }

    /// `torch.maximum(a, b)`, elementwise.
    #[track_caller]
    pub fn maximum(&self, other: &Tensor) -> Tensor {
        self.min_max(other, BinaryOp::Maximum, "MaximumBackward0")
    }

    /// `torch.minimum(a, b)`, elementwise.
    #[track_caller]
    pub fn minimum(&self, other: &Tensor) -> Tensor {
        self.min_max(other, BinaryOp::Minimum, "MinimumBackward0")
    }

    fn min_max(&self, other: &Tensor, op: BinaryOp, name: &'static str) -> Tensor {
        let out = binary_values(&Operand::Tensor(self), &Operand::Tensor(other), op);
        let (meta_a, meta_b) =
            (input_meta(&Operand::Tensor(self), &out), input_meta(&Operand::Tensor(other), &out));
        let maximum = op == BinaryOp::Maximum;
        // the larger (smaller) input gets the gradient, ties split it in half; with a NaN
        // neither comparison holds, so both get it. torch (maximum):
        //   self:  where(self == other, grad / 2, grad).masked_fill_(self < other, 0)
        //   other: where(self == other, grad / 2, grad).masked_fill_(self > other, 0)
        record(
            out,
            name,
            &[Some(self), Some(other)],
            &["self", "other"],
            |_| vec![SavedTensor::input(self), SavedTensor::input(other)],
            move |s, g, needs| {
                let (a, b) = (&s[0], &s[1]);
                let shared = || where_op(&a.eq(b), Operand::Tensor(&g.div_scalar(2.0)), Operand::Tensor(g));
                let (lose_a, lose_b) = if maximum { (a.lt(b), a.gt(b)) } else { (a.gt(b), a.lt(b)) };
                grads![
                    needs[0].then(|| fit(shared().masked_fill(&lose_a, 0.0), &meta_a)),
                    needs[1].then(|| fit(shared().masked_fill(&lose_b, 0.0), &meta_b)),
                ]
            },
        )
    }

    /// Elementwise `a == b` as a bool tensor (Python's `a == b`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = arange(4.0);
    /// assert_eq!((&x * 4.0).eq(&(4.0 * &x)).to_string(), "tensor([True, True, True, True])");
    /// ```
    #[track_caller]
    pub fn eq<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        binary_values(&Operand::Tensor(self), &other.into_operand(), BinaryOp::Eq)
    }
    /// Elementwise `a != b`.
    #[track_caller]
    pub fn ne<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        binary_values(&Operand::Tensor(self), &other.into_operand(), BinaryOp::Ne)
    }
    /// Elementwise `a < b`.
    #[track_caller]
    pub fn lt<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        binary_values(&Operand::Tensor(self), &other.into_operand(), BinaryOp::Lt)
    }
    /// Elementwise `a <= b`.
    #[track_caller]
    pub fn le<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        binary_values(&Operand::Tensor(self), &other.into_operand(), BinaryOp::Le)
    }
    /// Elementwise `a > b`.
    #[track_caller]
    pub fn gt<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        binary_values(&Operand::Tensor(self), &other.into_operand(), BinaryOp::Gt)
    }
    /// Elementwise `a >= b`.
    #[track_caller]
    pub fn ge<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        binary_values(&Operand::Tensor(self), &other.into_operand(), BinaryOp::Ge)
    }

    /// Elementwise logical and of two tensors (nonzero is true).
    pub fn logical_and(&self, other: &Tensor) -> Tensor {
        let a = self.to_dtype(DType::Bool);
        let b = other.to_dtype(DType::Bool);
        binary_values(&Operand::Tensor(&a), &Operand::Tensor(&b), BinaryOp::Mul)
    }

    /// True when every element is nonzero (Python's `bool(t.all())`).
    pub fn all(&self) -> bool {
        self.to_vec_f64().iter().all(|&v| v != 0.0)
    }

    /// True when some element is nonzero.
    pub fn any(&self) -> bool {
        self.to_vec_f64().iter().any(|&v| v != 0.0)
    }

    /// True when both have the same shape and elements (`torch.equal`).
    pub fn equal(&self, other: &Tensor) -> bool {
        same_shape(&self.shape(), &other.shape()) && self.to_vec_f64() == other.to_vec_f64()
    }

    /// True when all elements are close: `|a - b| <= atol + rtol |b|` (`torch.allclose`).
    pub fn allclose(&self, other: &Tensor, rtol: f64, atol: f64) -> bool {
        let (a, b) = (self.to_vec_f64(), other.to_vec_f64());
        a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= atol + rtol * y.abs() || x == y)
    }

    /// `t.masked_fill(mask, value)`: `value` where `mask` (a bool tensor) is true, the
    /// element of `t` elsewhere; the result has the broadcast shape of both and `t`'s dtype.
    /// The value is selected, never multiplied in, so a NaN or infinity stays where it is.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([1., 2., 3.], requires_grad = true);
    /// let y = x.masked_fill(&x.gt(2.0), f64::NEG_INFINITY);
    /// assert_eq!(y.to_string(), "tensor([1., 2., -inf], grad_fn=<MaskedFillBackward0>)");
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([1., 1., 0.])");
    /// ```
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Tensor {
        super::checks::check_masked_fill(self, mask);
        let out = masked_fill_values(self, mask, value);
        let (meta, mask) = (input_meta(&Operand::Tensor(self), &out), mask.detach());
        // d masked_fill(x, m, v) = grad where m is false, 0 where it is true (selected)
        record(
            out,
            "MaskedFillBackward0",
            &[Some(self)],
            &["mask"],
            |_| Saved::one(SavedTensor::input(&mask)),
            move |s, g, _| grads![Some(fit(g.masked_fill(&s[0], 0.0), &meta))],
        )
    }

    /// Elementwise logical not.
    pub fn logical_not(&self) -> Tensor {
        let values = super::kernel::to_vec::<bool>(self);
        Tensor::from_bools(values.into_iter().map(|v| !v).collect(), &self.shape())
    }
}

/// The dtype of `x.clamp(min, max)`: a bound takes part in promotion as a Python number, a
/// whole one as an int (`k.clamp(min=0)` keeps int64; a bool tensor becomes int64), a
/// fractional one as a float (`k.clamp(max=1.5)` is float32).
fn clamp_dtype(dtype: DType, min: Option<f64>, max: Option<f64>) -> DType {
    let whole = |b: Option<f64>| b.is_none_or(|v| v.fract() == 0.0);
    match dtype {
        DType::Int64 | DType::Bool if whole(min) && whole(max) => DType::Int64,
        DType::Int64 | DType::Bool => DType::Float32,
        float => float,
    }
}

/// Defines a unary float op: forward kernel, node name, what to save, and the backward rule.
macro_rules! unary_float_op {
    ($(#[$doc:meta])* $name:ident, $node:literal, |$x:ident| $forward:expr, saves $save:ident, |$s:ident, $g:ident| $backward:expr) => {
        $(#[$doc])*
        pub fn $name(&self) -> Tensor {
            let out = unary_float(self, |$x| $forward, |$x| $forward);
            record(out, $node, &[Some(self)], &[stringify!($save)], |out| { let _ = out; vec![unary_saved!($save, self, out)] }, move |saved, $g, _| {
                let $s = &saved[0];
                grads![Some($backward)]
            })
        }
    };
}

/// `unary_float_op!` for the functions of `transcendental.rs`, computed a slice at a time
/// (`TorchMath::exp_slice` and so on).
macro_rules! unary_slice_op {
    ($(#[$doc:meta])* $name:ident, $node:literal, $slice:ident, saves $save:ident, |$s:ident, $g:ident| $backward:expr) => {
        $(#[$doc])*
        pub fn $name(&self) -> Tensor {
            let out = unary_float_slices(self, <f32 as TorchMath>::$slice, <f64 as TorchMath>::$slice);
            record(out, $node, &[Some(self)], &[stringify!($save)], |out| { let _ = out; vec![unary_saved!($save, self, out)] }, move |saved, $g, _| {
                let $s = &saved[0];
                grads![Some($backward)]
            })
        }
    };
}

macro_rules! unary_saved {
    (self, $input:expr, $out:expr) => {
        SavedTensor::input($input)
    };
    (result, $input:expr, $out:expr) => {
        SavedTensor::output($out)
    };
}

/// Applies a float function elementwise; integer inputs are promoted to float32 like torch.
pub(crate) fn unary_float(
    t: &Tensor,
    f32_fn: impl Fn(f32) -> f32 + Sync + Send,
    f64_fn: impl Fn(f64) -> f64 + Sync + Send,
) -> Tensor {
    let shape = t.shape();
    let buffer = match t.dtype() {
        DType::Float64 => Buffer::F64(with_slice(t, |s: &[f64]| map(s, &f64_fn))),
        _ => Buffer::F32(with_slice(t, |s: &[f32]| map(s, &f32_fn))),
    };
    like_torch_of(Tensor::from_buffer(buffer, &shape), &[t])
}

/// `unary_float` with slice functions (integer inputs promoted to float32 like torch).
fn unary_float_slices(
    t: &Tensor,
    f32_fn: fn(&[f32], &mut [MaybeUninit<f32>]),
    f64_fn: fn(&[f64], &mut [MaybeUninit<f64>]),
) -> Tensor {
    let shape = t.shape();
    let buffer = match t.dtype() {
        DType::Float64 => Buffer::F64(with_slice(t, |s: &[f64]| map_slices(s, f64_fn))),
        _ => Buffer::F32(with_slice(t, |s: &[f32]| map_slices(s, f32_fn))),
    };
    like_torch_of(Tensor::from_buffer(buffer, &shape), &[t])
}

/// `sigmoid`'s values: each element through the vectorized or the scalar form of torch's
/// kernel, as `vector_lanes::unary` says for this tensor's layout (for one run in memory on
/// one thread, the usual case: all but the tail vectorized, without a flag per element).
fn sigmoid_values(t: &Tensor) -> Tensor {
    let shape = t.shape();
    let float64 = t.dtype() == DType::Float64;
    // (measured: torch dispatches sigmoid to its AVX512 kernel)
    let lanes = t.with_data(|d| vector_lanes::unary(&d.layout.shape, &d.layout.strides, float64));
    let buffer = if float64 {
        Buffer::F64(with_slice(t, |s: &[f64]| match &lanes {
            Lanes::Ranges(_) => {
                by_lanes(s, &lanes, transcendental::sigmoid_vec_f64_slice, transcendental::sigmoid_scalar_f64)
            }
            Lanes::Flags(flags) => map_slices_flagged(s, flags, transcendental::sigmoid_f64_slice),
        }))
    } else {
        Buffer::F32(with_slice(t, |s: &[f32]| match &lanes {
            Lanes::Ranges(_) => {
                by_lanes(s, &lanes, transcendental::sigmoid_vec_f32_slice, transcendental::sigmoid_scalar_f32)
            }
            Lanes::Flags(flags) => map_slices_flagged(s, flags, transcendental::sigmoid_f32_slice),
        }))
    };
    like_torch_of(Tensor::from_buffer(buffer, &shape), &[t])
}

/// `x` mapped through `vector` (a slice function) where `lanes` says, through `scalar`
/// elsewhere, a part at a time (`build_costly_parts`).
fn by_lanes<T: Element>(
    x: &[T],
    lanes: &Lanes,
    vector: fn(&[T], &mut [MaybeUninit<T>]),
    scalar: fn(T) -> T,
) -> Vec<T> {
    // SAFETY: every slot of the part is in one segment, which `vector` writes (the slice
    // functions' contract) or the loop does
    unsafe {
        build_costly_parts(x.len(), |start, out| {
            for (range, vectorized) in lanes.segments(start, start + out.len()) {
                let (x, out) = (&x[range.clone()], &mut out[range.start - start..range.end - start]);
                if vectorized {
                    vector(x, out);
                } else {
                    for (o, &v) in out.iter_mut().zip(x) {
                        o.write(scalar(v));
                    }
                }
            }
        })
    }
}

impl Tensor {
    unary_slice_op!(
        /// `e^x` elementwise (as close to torch's MKL bits as a public algorithm gets: see
        /// `ops::transcendental`).
        exp, "ExpBackward0", exp_slice, saves result,
        // d exp(x) = exp(x)
        |r, g| grad_op(g, Operand::Tensor(r), BinaryOp::Mul)
    );
    unary_slice_op!(
        /// Natural logarithm (torch runs MKL's; see `ops::transcendental` for how close this is).
        log, "LogBackward0", log_slice, saves self,
        // d ln(x) = 1 / x
        |x, g| grad_op(g, Operand::Tensor(x), BinaryOp::Div)
    );
    unary_slice_op!(
        /// Sine (torch runs MKL's; see `ops::transcendental` for how close this is).
        sin, "SinBackward0", sin_slice, saves self,
        // d sin(x) = cos(x)
        |x, g| grad_op(g, Operand::Tensor(&x.cos()), BinaryOp::Mul)
    );
    unary_slice_op!(
        /// Cosine (torch runs MKL's; see `ops::transcendental` for how close this is).
        cos, "CosBackward0", cos_slice, saves self,
        // d cos(x) = -sin(x)
        |x, g| grad_op(g, Operand::Tensor(&x.sin().neg_impl()), BinaryOp::Mul)
    );
    unary_slice_op!(
        /// Hyperbolic tangent (torch runs MKL's; see `ops::transcendental` for how close this is).
        tanh, "TanhBackward0", tanh_slice, saves result,
        // d tanh(x) = 1 - tanh(x)^2  (torch's tanh_backward; TanhBackwardBackward0 under create_graph)
        |r, g| tanh_backward(g, r)
    );
    /// The logistic function `1 / (1 + e^-x)`, with torch's bits: its CPU kernel (AVX512)
    /// computes whole pairs of vectors with SLEEF's exp and the rest of each run (the last
    /// `len % 32` float32 or `len % 16` float64 elements, and strided runs) with the C
    /// library's, and so does this (`transcendental::sigmoid_vec_f32` / `sigmoid_scalar_f32`).
    pub fn sigmoid(&self) -> Tensor {
        let out = sigmoid_values(self);
        // d sigmoid(x) = sigmoid(x) (1 - sigmoid(x))  (torch's sigmoid_backward)
        record(
            out,
            "SigmoidBackward0",
            &[Some(self)],
            &["result"],
            |out| Saved::one(SavedTensor::output(out)),
            |s, g, _| grads![Some(sigmoid_backward(g, &s[0]))],
        )
    }
    unary_slice_op!(
        /// Square root as torch computes it: MKL's `vmsSqrt` / `vmdSqrt`, which on an Intel
        /// processor with AVX-512 rounds one unit in the last place low on about 0.6% of inputs
        /// (float64 `sqrt(0.5)` is 0.7071067811865475 there, IEEE's 0.7071067811865476): its
        /// bits there (see `mkl_sqrt`), IEEE's correctly rounded root elsewhere.
        sqrt, "SqrtBackward0", sqrt_slice, saves result,
        // d sqrt(x) = 1 / (2 sqrt(x)); torch: grad / (2 * result)
        |r, g| g.div(&r.mul_scalar(2.0))
    );
    unary_float_op!(
        /// `1 / x` elementwise.
        reciprocal, "ReciprocalBackward0", |x| 1.0 / x, saves result,
        // d (1/x) = -1/x^2; torch: -grad * (result * result)
        |r, g| (-g).mul(&r.mul(r))
    );

    /// Absolute value (keeps integer dtypes).
    #[track_caller]
    pub fn abs(&self) -> Tensor {
        let out = match self.dtype() {
            DType::Int64 => Tensor::from_i64(
                super::kernel::to_vec::<i64>(self).into_iter().map(i64::abs).collect(),
                &self.shape(),
            ),
            DType::Bool => crate::raise!(NotImplementedError, "\"abs_cpu\" not implemented for 'Bool'"),
            _ => unary_float(self, f32::abs, f64::abs),
        };
        // d |x| = sgn(x); torch: grad * self.sgn()
        record(
            out,
            "AbsBackward0",
            &[Some(self)],
            &["self"],
            |_| Saved::one(SavedTensor::input(self)),
            |s, g, _| grads![Some(g.mul(&s[0].sgn_impl()))],
        )
    }

    /// The sign of each element: -1, 0 or 1 (0 for NaN and -0, like torch).
    pub fn sign(&self) -> Tensor {
        let out = sign_values(self);
        // d sign(x) = 0
        record(
            out,
            "SignBackward0",
            &[Some(self)],
            &[],
            |_| vec![],
            |_, g, _| grads![Some(crate::factory::zeros_like(g))],
        )
    }

    /// `x.sgn()` (the same values as `sign` for real tensors; node `SgnBackward0`), also used
    /// by the backward of `abs` so that its double-backward graph shows torch's node. Its
    /// gradient is torch's immutable zero tensor.
    pub fn sgn(&self) -> Tensor {
        self.sgn_impl()
    }

    pub(crate) fn sgn_impl(&self) -> Tensor {
        let out = sign_values(self);
        // d sgn(x) = 0 for real x; torch's sgn_backward of a real tensor is an efficient zero tensor (immutable)
        record(
            out,
            "SgnBackward0",
            &[Some(self)],
            &[],
            |_| vec![],
            |_, g, _| grads![Some(crate::factory::zeros_like(g).into_zero_tensor())],
        )
    }

    /// `max(x, 0)` elementwise, keeping the dtype; NaN stays NaN and -0 stays -0, like torch.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// assert_eq!(tensor!([f64::NAN, -1., 2.]).relu().to_string(), "tensor([nan, 0., 2.])");
    /// assert_eq!(tensor!([3, -2]).relu().to_string(), "tensor([3, 0])");
    /// ```
    pub fn relu(&self) -> Tensor {
        let out = match self.dtype() {
            DType::Int64 => Tensor::from_i64(
                super::kernel::to_vec::<i64>(self).into_iter().map(|x| x.max(0)).collect(),
                &self.shape(),
            ),
            DType::Bool => crate::raise!(NotImplementedError, "Boolean inputs not supported for relu"),
            _ => unary_float(self, |x| if x < 0.0 { 0.0 } else { x }, |x| if x < 0.0 { 0.0 } else { x }),
        };
        // d relu(x) = grad where the result is > 0 (or NaN), 0 elsewhere: torch's
        // threshold_backward(grad, result, 0), which selects and never multiplies
        record(
            out,
            "ReluBackward0",
            &[Some(self)],
            &["result"],
            |out| Saved::one(SavedTensor::output(out)),
            |s, g, _| grads![Some(threshold_backward(g, &s[0], 0.0))],
        )
    }

    /// `clamp` in place: the dtype of `clamp`'s result must be this tensor's, in torch's words
    /// for that check (which name the tensor's dtype as C++ does: `long int`, `bool`).
    #[track_caller]
    pub(crate) fn check_clamp_in_place(&self, min: Option<f64>, max: Option<f64>) {
        let (mine, result) = (self.dtype(), clamp_dtype(self.dtype(), min, max));
        if result != mine {
            crate::raise!(
                "result type {} can't be cast to the desired output type {}",
                result.title(),
                mine.cpp_name()
            );
        }
    }

    /// Limits every element to `[min, max]` (either bound optional), like `torch.clamp`:
    /// `min(max(x, min), max)`, so `min > max` gives `max`; NaN stays NaN. An int64 tensor
    /// with whole-number bounds stays int64.
    ///
    /// The gradient flows only strictly inside the bounds (torch 2.15: `[1, .5, -1, 3]
    /// .clamp(-1, 1)` has gradient `[0, 1, 0, 0]`), selected, never multiplied by a mask.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([1., 0.5, -1., 3.], requires_grad = true);
    /// let y = x.clamp(Some(-1.0), Some(1.0));
    /// assert_eq!(y.to_string(), "tensor([ 1.0000,  0.5000, -1.0000,  1.0000], grad_fn=<ClampBackward1>)");
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([0., 1., 0., 0.])");
    /// ```
    #[track_caller]
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Tensor {
        super::checks::check_clamp_bounds(min, max);
        let (lo, hi) = (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY));
        // std::max / std::min as torch's kernel uses them: max(-0., 0.) is -0.
        fn clamp_one<T: PartialOrd + Copy>(x: T, lo: T, hi: T, nan: bool) -> T {
            if nan {
                return x;
            }
            let v = if x < lo { lo } else { x };
            if hi < v {
                hi
            } else {
                v
            }
        }
        let out = match clamp_dtype(self.dtype(), min, max) {
            DType::Int64 => {
                let (l, h) = (min.map_or(i64::MIN, |v| v as i64), max.map_or(i64::MAX, |v| v as i64));
                Tensor::from_i64(
                    super::kernel::to_vec::<i64>(self)
                        .into_iter()
                        .map(|x| clamp_one(x, l, h, false))
                        .collect(),
                    &self.shape(),
                )
            }
            _ => unary_float(
                self,
                move |x| clamp_one(x, lo as f32, hi as f32, x.is_nan()),
                move |x| clamp_one(x, lo, hi, x.is_nan()),
            ),
        };
        // d clamp(x) = grad where min < x < max, 0 elsewhere; torch: where(mask, grad, 0)
        record(
            out,
            "ClampBackward1",
            &[Some(self)],
            &["self"],
            |_| Saved::one(SavedTensor::input(self)),
            move |s, g, _| {
                let x = &s[0];
                let inside = match (min, max) {
                    (Some(_), Some(_)) => x.gt(lo).logical_and(&x.lt(hi)),
                    (Some(_), None) => x.gt(lo),
                    (None, _) => x.lt(hi),
                };
                grads![Some(where_op(&inside, Operand::Tensor(g), Operand::Scalar(Scalar::Float(0.0))))]
            },
        )
    }

    /// A real negation (not `0 - x`): `-0.` for `0.`, the dtype kept; bool raises like torch.
    pub(crate) fn neg_impl(&self) -> Tensor {
        let shape = self.shape();
        let out = match self.dtype() {
            DType::Int64 => Tensor::from_i64(super::kernel::to_vec::<i64>(self).into_iter().map(i64::wrapping_neg).collect(), &shape),
            DType::Bool => crate::raise!(
                NotImplementedError,
                "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
            ),
            _ => unary_float(self, |x| -x, |x| -x),
        };
        // d(-a) = -da
        record(out, "NegBackward0", &[Some(self)], &[], |_| vec![], |_, g, _| grads![Some(g.neg_impl())])
    }

    /// A copy of the values without history (internal helper for non-float dtypes).
    pub(crate) fn clone_values(&self) -> Tensor {
        Tensor::from_buffer(self.contiguous_buffer(), &self.shape())
    }
}

// ----- operators -------------------------------------------------------------------------

macro_rules! operator {
    ($trait:ident, $method:ident, $op:ident, $binary:ident, $rev:expr) => {
        impl std::ops::$trait<&Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor { Tensor::$op(self, rhs) }
        }
        // an operand given by value may hold the result (see `write_over_by_value`)
        impl std::ops::$trait<Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                let this = match write_over_by_value(self, Operand::Tensor(&rhs), true, BinaryOp::$binary) {
                    Ok(out) => return out,
                    Err(this) => this,
                };
                match write_over_by_value(rhs, Operand::Tensor(&this), false, BinaryOp::$binary) {
                    Ok(out) => out,
                    Err(rhs) => Tensor::$op(&this, &rhs),
                }
            }
        }
        impl std::ops::$trait<&Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                match write_over_by_value(self, Operand::Tensor(rhs), true, BinaryOp::$binary) {
                    Ok(out) => out,
                    Err(this) => Tensor::$op(&this, rhs),
                }
            }
        }
        impl std::ops::$trait<Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                match write_over_by_value(rhs, Operand::Tensor(self), false, BinaryOp::$binary) {
                    Ok(out) => out,
                    Err(rhs) => Tensor::$op(self, &rhs),
                }
            }
        }
        operator!(@scalar $trait, $method, $op, $binary, $rev, f64, i32);
    };
    (@scalar $trait:ident, $method:ident, $op:ident, $binary:ident, $rev:expr, $($t:ty),*) => {$(
        impl std::ops::$trait<$t> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: $t) -> Tensor { Tensor::$op(self, rhs) }
        }
        impl std::ops::$trait<$t> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: $t) -> Tensor {
                match write_over_by_value(self, Operand::Scalar(Scalar::from(rhs)), true, BinaryOp::$binary) {
                    Ok(out) => out,
                    Err(this) => Tensor::$op(&this, rhs),
                }
            }
        }
        impl std::ops::$trait<&Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor { ($rev)(rhs, Scalar::from(self)) }
        }
        impl std::ops::$trait<Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                match write_over_by_value(rhs, Operand::Scalar(Scalar::from(self)), false, BinaryOp::$binary) {
                    Ok(out) => out,
                    Err(rhs) => ($rev)(&rhs, Scalar::from(self)),
                }
            }
        }
    )*};
}

operator!(Add, add, add, Add, |t: &Tensor, s: Scalar| t.add(s));
operator!(Sub, sub, sub, Sub, |t: &Tensor, s: Scalar| t.rsub(s));
operator!(Mul, mul, mul, Mul, |t: &Tensor, s: Scalar| t.mul(s));
operator!(Div, div, div, Div, |t: &Tensor, s: Scalar| t.rdiv(s));

impl std::ops::Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        self.neg_impl()
    }
}

impl std::ops::Neg for Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        self.neg_impl()
    }
}

// ----- selection kernels and the nodes torch's backward formulas create -------------------

/// The row-major values of `t` broadcast to `shape`, converted to `dtype`.
pub(crate) fn values_as(t: &Tensor, shape: &[usize], dtype: DType) -> Buffer {
    let t = t.detach();
    let t = if same_shape(&t.shape(), shape) { t } else { t.expand(shape.to_vec()) };
    super::kernel::cast(t.contiguous_buffer(), dtype)
}

fn operand_values(op: &Operand, shape: &[usize], dtype: DType) -> Buffer {
    match op {
        Operand::Tensor(t) => values_as(t, shape, dtype),
        Operand::Scalar(s) => Buffer::filled(s.as_f64(), crate::layout::numel(shape), dtype),
    }
}

/// Picks `a`'s element where `cond` is true and `b`'s elsewhere (all the same length).
pub(crate) fn choose(cond: &[bool], a: Buffer, b: Buffer) -> Buffer {
    macro_rules! pick {
        ($variant:ident, $x:expr, $y:expr) => {
            Buffer::$variant(
                cond.iter().zip($x.into_iter().zip($y)).map(|(&c, (x, y))| if c { x } else { y }).collect(),
            )
        };
    }
    match (a, b) {
        (Buffer::F32(x), Buffer::F32(y)) => pick!(F32, x, y),
        (Buffer::F64(x), Buffer::F64(y)) => pick!(F64, x, y),
        (Buffer::I64(x), Buffer::I64(y)) => pick!(I64, x, y),
        (Buffer::Bool(x), Buffer::Bool(y)) => pick!(Bool, x, y),
        _ => unreachable!("both sides have the result dtype"),
    }
}

/// The broadcast shape of `a` and `b`, or torch's `infer_size` error naming the first
/// mismatch from the last dim.
#[track_caller]
pub(crate) fn broadcast_or_raise(a: &[usize], b: &[usize]) -> Dims {
    if a == b {
        return crate::layout::dims_of(a);
    }
    broadcast_shapes(a, b).unwrap_or_else(|| {
        let (dim, sa, sb) = mismatch_dim(a, b);
        crate::raise!("The size of tensor a ({sa}) must match the size of tensor b ({sb}) at non-singleton dimension {dim}")
    })
}

fn bool_values(buffer: Buffer) -> Vec<bool> {
    match buffer {
        Buffer::Bool(v) => v,
        _ => unreachable!("cast to bool"),
    }
}

/// The values of `t.masked_fill(mask, value)`, without history: `value` (cast to `t`'s
/// dtype, as torch does: `5.5` into int64 is `5`) where `mask` is true, `t`'s element
/// elsewhere, in the broadcast shape of `t` and `mask`. A select, never a multiply, so NaN
/// and infinities stay where they are. `masked_fill_` reuses it.
pub(crate) fn masked_fill_values(t: &Tensor, mask: &Tensor, value: f64) -> Tensor {
    if mask.dtype() != DType::Bool {
        crate::raise!(
            "masked_fill_ only supports boolean masks, but got mask with dtype {}",
            mask.dtype().cpp_name()
        );
    }
    let shape = broadcast_or_raise(&mask.shape(), &t.shape());
    let dtype = t.dtype();
    if dtype == DType::Int64 && !(value.is_finite() && value.abs() < 9.3e18) {
        crate::raise!("value cannot be converted to type int64_t without overflow");
    }
    let cond = bool_values(values_as(mask, &shape, DType::Bool));
    let fill = Buffer::filled(value, cond.len(), dtype);
    Tensor::from_buffer(choose(&cond, fill, values_as(t, &shape, dtype)), &shape)
}

/// `torch.where(cond, a, b)` for the backward formulas (node `WhereBackward0`, inputs `a` and
/// `b`; a number shows as `None` in `next_functions`, like torch's `zeros({})`).
pub(crate) fn where_op(cond: &Tensor, a: Operand, b: Operand) -> Tensor {
    let (shape_a, promo_a) = a.shape_and_promotion();
    let (shape_b, promo_b) = b.shape_and_promotion();
    let shape = broadcast_or_raise(&broadcast_or_raise(&cond.shape(), &shape_a), &shape_b);
    let dtype = result_type(&[promo_a, promo_b]);
    let c = bool_values(values_as(cond, &shape, DType::Bool));
    let out = Tensor::from_buffer(
        choose(&c, operand_values(&a, &shape, dtype), operand_values(&b, &shape, dtype)),
        &shape,
    );
    let out = like_torch(out, &[&Operand::Tensor(cond), &a, &b]);
    let (meta_a, meta_b) = (input_meta(&a, &out), input_meta(&b, &out));
    let cond = cond.detach();
    // d where(c, a, b) = grad where c for a, grad where not c for b
    record(
        out,
        "WhereBackward0",
        &[a.tensor(), b.tensor()],
        &["condition"],
        |_| Saved::one(SavedTensor::input(&cond)),
        move |s, g, needs| {
            let zero = Operand::Scalar(Scalar::Float(0.0));
            grads![
                needs[0].then(|| fit(where_op(&s[0], Operand::Tensor(g), zero), &meta_a)),
                needs[1].then(|| fit(where_op(&s[0], zero, Operand::Tensor(g)), &meta_b)),
            ]
        },
    )
}

/// -1, 0 or 1 per element; NaN and -0 give 0 (torch's `sign`).
fn sign_values(t: &Tensor) -> Tensor {
    fn sign<T: Arith>(x: T) -> T {
        let zero = T::from_f64(0.0);
        T::from_f64(if x > zero {
            1.0
        } else if x < zero {
            -1.0
        } else {
            0.0
        })
    }
    let shape = t.shape();
    let out = match t.dtype() {
        DType::Int64 => Tensor::from_i64(with_slice(t, |s: &[i64]| map(s, sign)), &shape),
        DType::Bool => t.clone_values(),
        DType::Float64 => Tensor::from_buffer(Buffer::F64(with_slice(t, |s: &[f64]| map(s, sign))), &shape),
        DType::Float32 => Tensor::from_buffer(Buffer::F32(with_slice(t, |s: &[f32]| map(s, sign))), &shape),
    };
    like_torch_of(out, &[t])
}

/// `f(a, b)` elementwise over two float tensors, broadcast, in their promoted dtype.
fn zip_float(
    a: &Tensor,
    b: &Tensor,
    f32_fn: impl Fn(f32, f32) -> f32 + Sync + Send,
    f64_fn: impl Fn(f64, f64) -> f64 + Sync + Send,
) -> Tensor {
    let shape = broadcast_or_raise(&a.shape(), &b.shape());
    let (oa, ob) = (Operand::Tensor(a), Operand::Tensor(b));
    let buffer = match a.dtype().promote(b.dtype()) {
        DType::Float64 => with_compact(&oa, |x: &[f64], sx| {
            with_compact(&ob, |y: &[f64], sy| Buffer::F64(zip_map(x, sx, y, sy, &shape, f64_fn)))
        }),
        _ => with_compact(&oa, |x: &[f32], sx| {
            with_compact(&ob, |y: &[f32], sy| Buffer::F32(zip_map(x, sx, y, sy, &shape, f32_fn)))
        }),
    };
    Tensor::from_buffer_shape(buffer, shape)
}

/// torch's `add`/`sub` with `alpha` and a single-element `b` (`torch.sub(v, s, alpha=3.0)`, s
/// 0-dim or a number) computes whole blocks of `block` elements with fused multiply-adds (its
/// vector loop), and the rest of the run in a scalar loop its compiler turned into: the first
/// element fused, then `width` elements at a time *not* fused (`a + alpha*b`, two roundings),
/// the last few fused again. Measured on torch 2.15 (x86-64 wheel, Intel Xeon), every tail
/// length of float32 (blocks of 16, width 4) and float64 (blocks of 8, width 2); for runs up to
/// torch's parallel grain (32768 elements: beyond it each thread's part has a tail of its own,
/// not modelled). `unfused(i)` is element `i` computed the unfused way.
fn alpha_tail_unfused<T: Copy>(out: &mut [T], block: usize, width: usize, unfused: impl Fn(usize) -> T) {
    let n = out.len();
    if n > 32768 {
        return;
    }
    let tail = n % block;
    let start = n - tail + 1;
    let body = tail.saturating_sub(1) / width * width;
    for (i, slot) in out.iter_mut().enumerate().skip(start).take(body) {
        *slot = unfused(i);
    }
}

/// torch's `tanh_backward(grad, result)`: `grad * (1 - result * result)`, the parenthesis
/// one fused multiply-add as in torch's vectorised kernel (node `TanhBackwardBackward0`).
pub(crate) fn tanh_backward(grad: &Tensor, result: &Tensor) -> Tensor {
    let out = zip_float(grad, result, |g, r| g * (-r).mul_add(r, 1.0), |g, r| g * (-r).mul_add(r, 1.0));
    // d/d grad = tanh_backward(gg, result);  d/d result = gg * (-2 * result * grad)
    record(
        out,
        "TanhBackwardBackward0",
        &[Some(grad), Some(result)],
        &["grad_output", "output"],
        |_| vec![SavedTensor::input(grad), SavedTensor::input(result)],
        |s, gg, needs| {
            let (grad, result) = (&s[0], &s[1]);
            grads![
                needs[0].then(|| tanh_backward(gg, result)),
                needs[1].then(|| gg.mul(&result.mul_scalar(-2.0).mul(grad))),
            ]
        },
    )
}

/// torch's `sigmoid_backward(grad, result)`: `grad * (1 - result) * result`, in that order
/// (node `SigmoidBackwardBackward0`).
pub(crate) fn sigmoid_backward(grad: &Tensor, result: &Tensor) -> Tensor {
    let out = zip_float(grad, result, |g, r| g * (1.0 - r) * r, |g, r| g * (1.0 - r) * r);
    // d/d grad = sigmoid_backward(gg, result);  d/d result = gg * grad * (-2 * result + 1)
    record(
        out,
        "SigmoidBackwardBackward0",
        &[Some(grad), Some(result)],
        &["grad_output", "output"],
        |_| vec![SavedTensor::input(grad), SavedTensor::input(result)],
        |s, gg, needs| {
            let (grad, result) = (&s[0], &s[1]);
            grads![
                needs[0].then(|| sigmoid_backward(gg, result)),
                needs[1].then(|| gg.mul(grad).mul(&result.mul_scalar(-2.0).add_scalar(1.0))),
            ]
        },
    )
}

/// torch's `threshold_backward(grad, input, threshold)`: 0 where `input <= threshold`,
/// `grad` elsewhere (NaN included), selected (node `ThresholdBackwardBackward0`).
pub(crate) fn threshold_backward(grad: &Tensor, input: &Tensor, threshold: f64) -> Tensor {
    let out = zip_float(
        grad,
        input,
        move |g, x| if x <= threshold as f32 { 0.0 } else { g },
        move |g, x| if x <= threshold { 0.0 } else { g },
    );
    // d/d grad = threshold_backward(gg, input, threshold);  d/d input = 0
    record(
        out,
        "ThresholdBackwardBackward0",
        &[Some(grad), Some(input)],
        &["self"],
        |_| Saved::one(SavedTensor::input(input)),
        move |s, gg, needs| {
            grads![
                needs[0].then(|| threshold_backward(gg, &s[0], threshold)),
                needs[1].then(|| crate::factory::zeros_like(gg)),
            ]
        },
    )
}

impl Tensor {
    /// `self * c` as torch's C++ formulas write it (`mul.Scalar`, node `MulBackward1`).
    pub(crate) fn mul_scalar(&self, c: f64) -> Tensor {
        let out = binary_values(&Operand::Tensor(self), &Operand::Scalar(Scalar::Float(c)), BinaryOp::Mul);
        // d(a c) = c da
        record(
            out,
            "MulBackward1",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| grads![Some(g.mul_scalar(c))],
        )
    }

    /// `self / c` (`div.Scalar`, node `DivBackward1`).
    pub(crate) fn div_scalar(&self, c: f64) -> Tensor {
        let out = binary_values(&Operand::Tensor(self), &Operand::Scalar(Scalar::Float(c)), BinaryOp::Div);
        // d(a / c) = da / c
        record(
            out,
            "DivBackward1",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| grads![Some(g.div_scalar(c))],
        )
    }

    /// `self + c` (`add.Scalar`, node `AddBackward1`).
    pub(crate) fn add_scalar(&self, c: f64) -> Tensor {
        let out = binary_values(&Operand::Tensor(self), &Operand::Scalar(Scalar::Float(c)), BinaryOp::Add);
        // d(a + c) = da
        record(out, "AddBackward1", &[Some(self)], &[], |_| vec![], |_, g, _| grads![Some(g.clone())])
    }

    /// `self - c` (`sub.Scalar`, node `SubBackward1`).
    pub(crate) fn sub_scalar(&self, c: f64) -> Tensor {
        let out = binary_values(&Operand::Tensor(self), &Operand::Scalar(Scalar::Float(c)), BinaryOp::Sub);
        // d(a - c) = da
        record(out, "SubBackward1", &[Some(self)], &[], |_| vec![], |_, g, _| grads![Some(g.clone())])
    }
}

impl Tensor {
    /// `-x` as a method (`x.neg()`, node `NegBackward0`); the same as the `-` operator.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([1., -2.], requires_grad = true);
    /// assert_eq!(x.neg().to_string(), "tensor([-1.,  2.], grad_fn=<NegBackward0>)");
    /// ```
    pub fn neg(&self) -> Tensor {
        self.neg_impl()
    }

    /// `torch.add(a, b, alpha=alpha)`: `a + alpha * b`, computed like torch as one fused
    /// multiply-add per element (node `AddBackward0`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let a = tensor!([1., 2., 3.], requires_grad = true);
    /// let b = tensor!([10., 20., 30.], requires_grad = true);
    /// let y = a.add_alpha(&b, 2.0);
    /// assert_eq!(y.to_string(), "tensor([21., 42., 63.], grad_fn=<AddBackward0>)");
    /// y.sum().backward();
    /// assert_eq!(b.grad().unwrap().to_string(), "tensor([2., 2., 2.])");
    /// ```
    pub fn add_alpha(&self, other: &Tensor, alpha: f64) -> Tensor {
        self.alpha_op(other, alpha, false)
    }

    /// `torch.sub(a, b, alpha=alpha)`: `a - alpha * b` (node `SubBackward0`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let a = tensor!([1., 2., 3.], requires_grad = true);
    /// let b = tensor!([10., 20., 30.], requires_grad = true);
    /// let y = a.sub_alpha(&b, 2.5);
    /// assert_eq!(y.to_string(), "tensor([-24., -48., -72.], grad_fn=<SubBackward0>)");
    /// y.sum().backward();
    /// assert_eq!(b.grad().unwrap().to_string(), "tensor([-2.5000, -2.5000, -2.5000])");
    /// ```
    pub fn sub_alpha(&self, other: &Tensor, alpha: f64) -> Tensor {
        self.alpha_op(other, alpha, true)
    }

    fn alpha_op(&self, other: &Tensor, alpha: f64, subtract: bool) -> Tensor {
        if subtract {
            super::checks::check_sub_operands(self.dtype() == DType::Bool, other.dtype() == DType::Bool);
        }
        let (a, b) = (Operand::Tensor(self), Operand::Tensor(other));
        let (shape_a, promo_a) = a.shape_and_promotion();
        let (shape_b, promo_b) = b.shape_and_promotion();
        let dtype = result_type(&[promo_a, promo_b]);
        if !dtype.is_floating_point() && alpha.fract() != 0.0 {
            crate::raise!("For integral input tensors, argument alpha must not be a floating point number.");
        }
        let out_shape = broadcast_shapes(&shape_a, &shape_b).unwrap_or_else(|| {
            let (dim, sa, sb) = mismatch_dim(&shape_a, &shape_b);
            crate::raise!("The size of tensor a ({sa}) must match the size of tensor b ({sb}) at non-singleton dimension {dim}")
        });
        // torch's kernel: a - alpha*b is a + (-alpha)*b, one fused multiply-add per element
        // (but see `alpha_tail_unfused` for a single-element b)
        let scale = if subtract { -alpha } else { alpha };
        // (a contiguous `a` of the result's shape: its values in `with_compact` are the run)
        let single_b = shape_b.iter().product::<usize>() == 1
            && same_shape(&shape_a, &out_shape)
            && self.is_contiguous();
        let buffer = match dtype {
            DType::Float32 => with_compact(&a, |sa: &[f32], ha| {
                with_compact(&b, |sb: &[f32], hb| {
                    let mut out = zip_map(sa, ha, sb, hb, &out_shape, |x, y| y.mul_add(scale as f32, x));
                    if single_b {
                        let (y, s) = (sb[0], scale as f32);
                        alpha_tail_unfused(&mut out, 16, 4, |i| sa[i] + s * y);
                    }
                    Buffer::F32(out)
                })
            }),
            DType::Float64 => with_compact(&a, |sa: &[f64], ha| {
                with_compact(&b, |sb: &[f64], hb| {
                    let mut out = zip_map(sa, ha, sb, hb, &out_shape, |x, y| y.mul_add(scale, x));
                    if single_b {
                        let y = sb[0];
                        alpha_tail_unfused(&mut out, 8, 2, |i| sa[i] + scale * y);
                    }
                    Buffer::F64(out)
                })
            }),
            DType::Int64 => with_compact(&a, |sa: &[i64], ha| {
                with_compact(&b, |sb: &[i64], hb| {
                    Buffer::I64(zip_map(sa, ha, sb, hb, &out_shape, |x, y| {
                        x.wrapping_add(y.wrapping_mul(scale as i64))
                    }))
                })
            }),
            DType::Bool => with_compact(&a, |sa: &[bool], ha| {
                with_compact(&b, |sb: &[bool], hb| {
                    Buffer::Bool(zip_map(sa, ha, sb, hb, &out_shape, |x, y| x | (y && scale != 0.0)))
                })
            }),
        };
        let out = like_torch(Tensor::from_buffer_shape(buffer, out_shape), &[&a, &b]);
        let (meta_a, meta_b) = (input_meta(&a, &out), input_meta(&b, &out));
        let name = if subtract { "SubBackward0" } else { "AddBackward0" };
        // d(a + alpha b) = da + alpha db;  d(a - alpha b) = da - alpha db
        record(
            out,
            name,
            &[Some(self), Some(other)],
            &[],
            |_| vec![],
            move |_, g, needs| {
                grads![
                    needs[0].then(|| fit(g.clone(), &meta_a)),
                    needs[1].then(|| fit(if subtract { (-g).mul(alpha) } else { g.mul(alpha) }, &meta_b)),
                ]
            },
        )
    }
}
