//! Elementwise ops: arithmetic with broadcasting and type promotion, powers, the unary math
//! functions, comparisons, and the in-place forms. Each op's backward sits right under its
//! forward, with the derivative as a comment.

use super::kernel::{map, with_slice, zip_map, Element};
use crate::autograd::record::record;
use crate::autograd::saved::SavedTensor;
use crate::dtype::{result_type, Category, DType, Operand as PromotionOperand};
use crate::layout::{broadcast_shapes, Layout};
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
    /// The shape and the promotion class, read under one lock.
    fn shape_and_promotion(&self) -> (Vec<usize>, PromotionOperand) {
        match self {
            Operand::Tensor(t) => t.with_data(|d| {
                let shape = d.layout.shape.clone();
                let class = if shape.is_empty() { PromotionOperand::ZeroDim(d.dtype) } else { PromotionOperand::Dimensioned(d.dtype) };
                (shape, class)
            }),
            Operand::Scalar(s) => (Vec::new(), PromotionOperand::Number(s.dtype())),
        }
    }

    fn tensor(&self) -> Option<&'a Tensor> {
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
    /// NaN-propagating maximum and minimum, like torch.maximum.
    fn maximum(self, o: Self) -> Self;
    fn minimum(self, o: Self) -> Self;
}

macro_rules! float_arith {
    ($t:ty) => {
        impl Arith for $t {
            fn add(self, o: Self) -> Self { self + o }
            fn sub(self, o: Self) -> Self { self - o }
            fn mul(self, o: Self) -> Self { self * o }
            fn div(self, o: Self) -> Self { self / o }
            fn pow(self, o: Self) -> Self { self.powf(o) }
            fn maximum(self, o: Self) -> Self { if self.is_nan() || o.is_nan() { <$t>::NAN } else { self.max(o) } }
            fn minimum(self, o: Self) -> Self { if self.is_nan() || o.is_nan() { <$t>::NAN } else { self.min(o) } }
        }
    };
}
float_arith!(f32);
float_arith!(f64);

impl Arith for i64 {
    fn add(self, o: Self) -> Self { self.wrapping_add(o) }
    fn sub(self, o: Self) -> Self { self.wrapping_sub(o) }
    fn mul(self, o: Self) -> Self { self.wrapping_mul(o) }
    fn div(self, o: Self) -> Self {
        if o == 0 { crate::raise!("ZeroDivisionError") }
        self.div_euclid(o)
    }
    fn pow(self, o: Self) -> Self {
        if o < 0 { crate::raise!("Integers to negative integer powers are not allowed.") }
        self.wrapping_pow(o as u32)
    }
    fn maximum(self, o: Self) -> Self { self.max(o) }
    fn minimum(self, o: Self) -> Self { self.min(o) }
}

impl Arith for bool {
    fn add(self, o: Self) -> Self { self | o }
    fn sub(self, _: Self) -> Self {
        crate::raise!(NotImplementedError, "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead.")
    }
    fn mul(self, o: Self) -> Self { self & o }
    fn div(self, o: Self) -> Self { self & o }
    fn pow(self, o: Self) -> Self { self | !o }
    fn maximum(self, o: Self) -> Self { self | o }
    fn minimum(self, o: Self) -> Self { self & o }
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
            let shape: Vec<usize> = layout.shape.iter().zip(&layout.strides).map(|(&sz, &st)| if st == 0 { 1 } else { sz }).collect();
            compact = Layout { shape, ..layout.clone() };
            (&compact, &compact.shape)
        } else {
            (layout, &layout.shape)
        };
        let buffer = d.storage.read();
        if layout.is_contiguous() {
            if let Some(all) = T::slice(&buffer) {
                return f(&all[layout.offset..layout.offset + layout.numel()], shape);
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
            macro_rules! arith {
                ($f:expr) => {
                    T::wrap(zip_map(sa, shape_a, sb, shape_b, out_shape, $f))
                };
            }
            macro_rules! compare {
                ($f:expr) => {
                    Buffer::Bool(zip_map(sa, shape_a, sb, shape_b, out_shape, $f))
                };
            }
            match op {
                BinaryOp::Add => arith!(|x: T, y: T| x.add(y)),
                BinaryOp::Sub => arith!(|x: T, y: T| x.sub(y)),
                BinaryOp::Mul => arith!(|x: T, y: T| x.mul(y)),
                BinaryOp::Div => arith!(|x: T, y: T| x.div(y)),
                BinaryOp::Pow => match (sb.len(), sb.first().map(|v| v.to_f64())) {
                    (1, Some(e)) => T::wrap(pow_scalar_values(sa, e)),
                    _ => arith!(|x: T, y: T| x.pow(y)),
                },
                BinaryOp::Maximum => arith!(|x: T, y: T| x.maximum(y)),
                BinaryOp::Minimum => arith!(|x: T, y: T| x.minimum(y)),
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

/// `x ** e` for a fixed exponent over a whole slice, with torch's special cases (`x*x` for
/// 2, `x*x*x` for 3, `sqrt` for 0.5, ...), which give different last bits than a general
/// `powf`. The exponent is matched once, outside the loop, so each loop vectorises.
fn pow_scalar_values<T: Arith>(input: &[T], e: f64) -> Vec<T> {
    let one = T::from_f64(1.0);
    if T::DTYPE == DType::Int64 || T::DTYPE == DType::Bool {
        let exponent = T::from_f64(e);
        return map(input, move |x: T| x.pow(exponent));
    }
    match e {
        2.0 => map(input, |x: T| x.mul(x)),
        3.0 => map(input, |x: T| x.mul(x).mul(x)),
        0.5 => map(input, sqrt_of::<T>),
        -0.5 => map(input, move |x: T| one.div(sqrt_of(x))),
        -1.0 => map(input, move |x: T| one.div(x)),
        -2.0 => map(input, move |x: T| one.div(x.mul(x))),
        1.0 => input.to_vec(),
        0.0 => vec![one; input.len()],
        _ => {
            let exponent = T::from_f64(e);
            map(input, move |x: T| x.pow(exponent))
        }
    }
}

fn sqrt_of<T: Arith>(x: T) -> T {
    match T::DTYPE {
        DType::Float32 => T::from_f64((x.to_f64() as f32).sqrt() as f64),
        _ => T::from_f64(x.to_f64().sqrt()),
    }
}

/// The values of `a op b` with broadcasting and promotion; no history.
#[track_caller]
pub(crate) fn binary_values(a: &Operand, b: &Operand, op: BinaryOp) -> Tensor {
    let (shape_a, promo_a) = a.shape_and_promotion();
    let (shape_b, promo_b) = b.shape_and_promotion();
    let out_shape = if shape_a == shape_b {
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
    let mut dtype = result_type(&[promo_a, promo_b]);
    if op == BinaryOp::Div && dtype.category() != Category::Float {
        dtype = DType::Float32;
    }
    let buffer = match dtype {
        DType::Float32 => kernel::<f32>(a, b, op, &out_shape),
        DType::Float64 => kernel::<f64>(a, b, op, &out_shape),
        DType::Int64 => kernel::<i64>(a, b, op, &out_shape),
        DType::Bool => kernel::<bool>(a, b, op, &out_shape),
    };
    Tensor::from_buffer_shape(buffer, out_shape)
}

fn mismatch_dim(a: &[usize], b: &[usize]) -> (usize, usize, usize) {
    let rank = a.len().max(b.len());
    for i in 0..rank {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        if da != db && da != 1 && db != 1 {
            return (i, da, db);
        }
    }
    (0, 0, 0)
}

/// `grad * (e * a^(e-1))` in one pass over float data (the backward of `a.pow(e)`).
fn pow_backward_values(g: &Tensor, a: &Tensor, e: f64) -> Tensor {
    fn run<T: Arith>(g: &Tensor, a: &Tensor, e: f64) -> Buffer {
        let shape = a.shape();
        let factor = T::from_f64(e);
        with_compact(&Operand::Tensor(g), |sg: &[T], shape_g| {
            with_compact(&Operand::Tensor(a), |sa: &[T], shape_a| {
                match e {
                    // a.pow(1) is a itself, a.pow(2) is a*a: grad * (e * a^(e-1))
                    2.0 => T::wrap(zip_map(sg, shape_g, sa, shape_a, &shape, move |gv: T, x: T| gv.mul(x.mul(factor)))),
                    3.0 => T::wrap(zip_map(sg, shape_g, sa, shape_a, &shape, move |gv: T, x: T| gv.mul(x.mul(x).mul(factor)))),
                    _ => {
                        let powered = pow_scalar_values(sa, e - 1.0);
                        T::wrap(zip_map(sg, shape_g, &powered, shape_a, &shape, move |gv: T, p: T| gv.mul(p.mul(factor))))
                    }
                }
            })
        })
    }
    let buffer = match a.dtype() {
        DType::Float64 => run::<f64>(g, a, e),
        _ => run::<f32>(g, a, e),
    };
    Tensor::from_buffer(buffer, &a.shape())
}

/// Sums a broadcast gradient back to an input's shape and dtype.
pub(crate) fn reduce_grad(grad: Tensor, shape: &[usize], dtype: DType) -> Tensor {
    let g = if grad.shape() == shape { grad } else { grad.sum_to_size(shape) };
    if g.dtype() != dtype && dtype.is_floating_point() {
        g.to_dtype(dtype)
    } else {
        g
    }
}

/// What a binary op's backward needs to know of an input to undo broadcasting and
/// promotion: `None` when the gradient already has the input's shape and dtype.
fn input_meta(op: &Operand, out: &Tensor) -> Option<(Vec<usize>, DType)> {
    let Operand::Tensor(t) = op else { return None };
    if !crate::autograd::grad_mode::is_grad_enabled() || !t.requires_grad() {
        return None; // no gradient will be computed for it
    }
    let same = t.with_data(|d| out.with_data(|o| d.layout.shape == o.layout.shape && d.dtype == o.dtype));
    if same {
        return None;
    }
    Some(t.with_data(|d| (d.layout.shape.clone(), d.dtype)))
}

/// Brings a gradient to an input's shape and dtype (see `input_meta`).
fn fit(grad: Tensor, meta: &Option<(Vec<usize>, DType)>) -> Tensor {
    match meta {
        None => grad,
        Some((shape, dtype)) => reduce_grad(grad, shape, *dtype),
    }
}

impl Tensor {
    /// `a + b` (also the `+` operator); `b` may be a tensor or a number.
    #[track_caller]
    pub fn add<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        let b = other.into_operand();
        let a = Operand::Tensor(self);
        let out = binary_values(&a, &b, BinaryOp::Add);
        let (meta_a, meta_b) = (input_meta(&a, &out), input_meta(&b, &out));
        // d(a + b) = da + db
        record(out, "AddBackward0", &[Some(self), b.tensor()], &[], |_| vec![], move |_, g, needs| {
            vec![
                needs[0].then(|| fit(g.clone(), &meta_a)),
                needs[1].then(|| fit(g.clone(), &meta_b)),
            ]
        })
    }

    /// `a - b` (also the `-` operator).
    #[track_caller]
    pub fn sub<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        let b = other.into_operand();
        let a = Operand::Tensor(self);
        let out = binary_values(&a, &b, BinaryOp::Sub);
        let (meta_a, meta_b) = (input_meta(&a, &out), input_meta(&b, &out));
        // d(a - b) = da - db
        record(out, "SubBackward0", &[Some(self), b.tensor()], &[], |_| vec![], move |_, g, needs| {
            vec![
                needs[0].then(|| fit(g.clone(), &meta_a)),
                needs[1].then(|| fit(-g, &meta_b)),
            ]
        })
    }

    /// `number - a` (`2 - a` in Python, node `RsubBackward1`).
    #[track_caller]
    pub fn rsub(&self, number: impl Into<Scalar>) -> Tensor {
        let number = Operand::Scalar(number.into());
        let out = binary_values(&number, &Operand::Tensor(self), BinaryOp::Sub);
        let (shape, dtype) = (self.shape(), self.dtype());
        // d(c - a) = -da
        record(out, "RsubBackward1", &[Some(self)], &[], |_| vec![], move |_, g, _| {
            vec![Some(reduce_grad(-g, &shape, dtype))]
        })
    }

    /// `a * b` (also the `*` operator).
    #[track_caller]
    pub fn mul<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        let b = other.into_operand();
        let a = Operand::Tensor(self);
        let out = binary_values(&a, &b, BinaryOp::Mul);
        let (meta_a, meta_b) = (input_meta(&a, &out), input_meta(&b, &out));
        let (a_req, b_req) = (self.requires_grad(), b.tensor().map(Tensor::requires_grad).unwrap_or(false));
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
                // like torch, keep only what the needed gradients use
                let mut saved = Vec::new();
                if let Some(bt) = b_tensor {
                    if a_req {
                        saved.push(SavedTensor::input(bt));
                    }
                    if b_req {
                        saved.push(SavedTensor::input(self));
                    }
                }
                saved
            },
            move |saved, g, needs| match scalar {
                Some(c) => vec![Some(fit(g.mul(c), &meta_a)), None],
                None => {
                    let other = a_req.then(|| &saved[0]);
                    let this = b_req.then(|| &saved[usize::from(a_req)]);
                    vec![
                        needs[0].then(|| fit(g.mul(other.expect("saved")), &meta_a)),
                        needs[1].then(|| fit(g.mul(this.expect("saved")), &meta_b)),
                    ]
                }
            },
        )
    }

    /// `a / b` (true division, also the `/` operator).
    #[track_caller]
    pub fn div<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        let b = other.into_operand();
        let a = Operand::Tensor(self);
        let out = binary_values(&a, &b, BinaryOp::Div);
        let (meta_a, meta_b) = (input_meta(&a, &out), input_meta(&b, &out));
        let scalar = match b {
            Operand::Scalar(s) => Some(s.as_f64()),
            Operand::Tensor(_) => None,
        };
        let b_tensor = b.tensor();
        // d(a / b) = da / b - a db / b^2
        record(
            out,
            "DivBackward0",
            &[Some(self), b_tensor],
            &["self", "other"],
            |_| match b_tensor {
                Some(bt) => vec![SavedTensor::input(self), SavedTensor::input(bt)],
                None => vec![],
            },
            move |saved, g, needs| match scalar {
                Some(c) => vec![Some(fit(g.div(c), &meta_a)), None],
                None => {
                    let (a, b) = (&saved[0], &saved[1]);
                    vec![
                        needs[0].then(|| fit(g.div(b), &meta_a)),
                        needs[1].then(|| fit(-(g.mul(a)).div(&b.mul(b)), &meta_b)),
                    ]
                }
            },
        )
    }

    /// `number / a` (Python's `2 / a`), computed like torch as `a.reciprocal() * number`.
    #[track_caller]
    pub fn rdiv(&self, number: impl Into<Scalar>) -> Tensor {
        self.reciprocal().mul(number.into())
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
        match exponent.into_operand() {
            Operand::Scalar(e) => {
                let out = binary_values(&Operand::Tensor(self), &Operand::Scalar(e), BinaryOp::Pow);
                let e = e.as_f64();
                // d(a^e) = e a^(e-1) da
                record(out, "PowBackward0", &[Some(self)], &["self"], |_| vec![SavedTensor::input(self)], move |s, g, _| {
                    let a = &s[0];
                    let grad = if e == 0.0 {
                        crate::factory::zeros_like(a)
                    } else if !crate::autograd::grad_mode::is_grad_enabled() && a.dtype().is_floating_point() {
                        // one fused pass, same operation order (so the same bits) as below
                        pow_backward_values(g, a, e)
                    } else {
                        g.mul(&a.pow(e - 1.0).mul(e))
                    };
                    vec![Some(grad)]
                })
            }
            Operand::Tensor(b) => {
                let out = binary_values(&Operand::Tensor(self), &Operand::Tensor(b), BinaryOp::Pow);
                let (meta_a, meta_b) = (input_meta(&Operand::Tensor(self), &out), input_meta(&Operand::Tensor(b), &out));
                // d(a^b) = b a^(b-1) da + a^b ln(a) db
                record(
                    out,
                    "PowBackward1",
                    &[Some(self), Some(b)],
                    &["self", "exponent", "result"],
                    |out| vec![SavedTensor::input(self), SavedTensor::input(b), SavedTensor::output(out)],
                    move |s, g, needs| {
                        let (a, b, result) = (&s[0], &s[1], &s[2]);
                        vec![
                            needs[0].then(|| fit(g.mul(&b.mul(&a.pow(&b.sub(1.0)))), &meta_a)),
                            needs[1].then(|| {
                                let zero_base = a.eq(0.0).logical_and(&b.ge(0.0));
                                let d = result.mul(&a.log()).masked_fill(&zero_base, 0.0);
                                fit(g.mul(&d), &meta_b)
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
        let base = base.into();
        let out = binary_values(&Operand::Scalar(base), &Operand::Tensor(self), BinaryOp::Pow);
        let ln_base = base.as_f64().ln();
        // d(c^a) = c^a ln(c) da
        record(out, "PowBackward2", &[Some(self)], &["result"], |out| vec![SavedTensor::output(out)], move |s, g, _| {
            vec![Some(g.mul(&s[0].mul(ln_base)))]
        })
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
        let (meta_a, meta_b) = (input_meta(&Operand::Tensor(self), &out), input_meta(&Operand::Tensor(other), &out));
        let pick = if op == BinaryOp::Maximum { BinaryOp::Gt } else { BinaryOp::Lt };
        // the larger (smaller) input gets the gradient; ties split it in half
        record(out, name, &[Some(self), Some(other)], &["self", "other"], |_| vec![SavedTensor::input(self), SavedTensor::input(other)], move |s, g, needs| {
            let (a, b) = (&s[0], &s[1]);
            let a_wins = binary_values(&Operand::Tensor(a), &Operand::Tensor(b), pick).to_dtype(g.dtype());
            let tie = a.eq(b).to_dtype(g.dtype()).mul(0.5);
            let wa = a_wins.add(&tie);
            let wb = wa.rsub(1.0);
            vec![
                needs[0].then(|| fit(g.mul(&wa), &meta_a)),
                needs[1].then(|| fit(g.mul(&wb), &meta_b)),
            ]
        })
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
        self.shape() == other.shape() && self.to_vec_f64() == other.to_vec_f64()
    }

    /// True when all elements are close: `|a - b| <= atol + rtol |b|` (`torch.allclose`).
    pub fn allclose(&self, other: &Tensor, rtol: f64, atol: f64) -> bool {
        let (a, b) = (self.to_vec_f64(), other.to_vec_f64());
        a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= atol + rtol * y.abs() || x == y)
    }

    /// `t.masked_fill(mask, value)`: `value` where `mask` is true.
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Tensor {
        super::checks::check_masked_fill(self, mask);
        let keep = mask.to_dtype(DType::Bool).logical_not().to_dtype(self.dtype());
        let fill = mask.to_dtype(self.dtype()).mul(value);
        // d masked_fill = grad where the mask is false
        self.mul(&keep).add(&fill.detach())
    }

    /// Elementwise logical not.
    pub fn logical_not(&self) -> Tensor {
        let values = super::kernel::to_vec::<bool>(self);
        Tensor::from_bools(values.into_iter().map(|v| !v).collect(), &self.shape())
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
                vec![Some($backward)]
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
pub(crate) fn unary_float(t: &Tensor, f32_fn: impl Fn(f32) -> f32 + Sync + Send, f64_fn: impl Fn(f64) -> f64 + Sync + Send) -> Tensor {
    let shape = t.shape();
    let buffer = match t.dtype() {
        DType::Float64 => Buffer::F64(with_slice(t, |s: &[f64]| map(s, &f64_fn))),
        _ => Buffer::F32(with_slice(t, |s: &[f32]| map(s, &f32_fn))),
    };
    Tensor::from_buffer(buffer, &shape)
}

impl Tensor {
    unary_float_op!(
        /// `e^x` elementwise.
        exp, "ExpBackward0", |x| x.exp(), saves result,
        // d exp(x) = exp(x)
        |r, g| g.mul(r)
    );
    unary_float_op!(
        /// Natural logarithm.
        log, "LogBackward0", |x| x.ln(), saves self,
        // d ln(x) = 1 / x
        |x, g| g.div(x)
    );
    unary_float_op!(
        /// Sine.
        sin, "SinBackward0", |x| x.sin(), saves self,
        // d sin(x) = cos(x)
        |x, g| g.mul(&x.cos())
    );
    unary_float_op!(
        /// Cosine.
        cos, "CosBackward0", |x| x.cos(), saves self,
        // d cos(x) = -sin(x)
        |x, g| g.mul(&x.sin().neg_impl())
    );
    unary_float_op!(
        /// Hyperbolic tangent.
        tanh, "TanhBackward0", |x| x.tanh(), saves result,
        // d tanh(x) = 1 - tanh(x)^2
        |r, g| g.mul(&r.mul(r).rsub(1.0))
    );
    unary_float_op!(
        /// The logistic function `1 / (1 + e^-x)`.
        sigmoid, "SigmoidBackward0", |x| 1.0 / (1.0 + (-x).exp()), saves result,
        // d sigmoid(x) = sigmoid(x) (1 - sigmoid(x))
        |r, g| g.mul(&r.mul(&r.rsub(1.0)))
    );
    unary_float_op!(
        /// Square root.
        sqrt, "SqrtBackward0", |x| x.sqrt(), saves result,
        // d sqrt(x) = 1 / (2 sqrt(x))
        |r, g| g.div(&r.mul(2.0))
    );
    unary_float_op!(
        /// `1 / x` elementwise.
        reciprocal, "ReciprocalBackward0", |x| 1.0 / x, saves result,
        // d (1/x) = -1/x^2
        |r, g| g.mul(&r.mul(r)).neg_impl()
    );

    /// Absolute value (keeps integer dtypes).
    pub fn abs(&self) -> Tensor {
        let out = match self.dtype() {
            DType::Int64 => Tensor::from_i64(super::kernel::to_vec::<i64>(self).into_iter().map(i64::abs).collect(), &self.shape()),
            DType::Bool => self.clone_values(),
            _ => unary_float(self, f32::abs, f64::abs),
        };
        // d |x| = sign(x)
        record(out, "AbsBackward0", &[Some(self)], &["self"], |_| vec![SavedTensor::input(self)], |s, g, _| {
            vec![Some(g.mul(&s[0].sign()))]
        })
    }

    /// The sign of each element: -1, 0 or 1.
    pub fn sign(&self) -> Tensor {
        let out = unary_float(self, |x| if x > 0.0 { 1.0 } else if x < 0.0 { -1.0 } else { 0.0 }, |x| {
            if x > 0.0 { 1.0 } else if x < 0.0 { -1.0 } else { 0.0 }
        });
        // d sign(x) = 0
        record(out, "SignBackward0", &[Some(self)], &[], |_| vec![], |_, g, _| vec![Some(crate::factory::zeros_like(g))])
    }

    /// `max(x, 0)` elementwise.
    pub fn relu(&self) -> Tensor {
        let out = unary_float(self, |x| if x > 0.0 { x } else { 0.0 }, |x| if x > 0.0 { x } else { 0.0 });
        // d relu(x) = 1 where the result is positive
        record(out, "ReluBackward0", &[Some(self)], &["result"], |out| vec![SavedTensor::output(out)], |s, g, _| {
            vec![Some(g.mul(&s[0].gt(0.0).to_dtype(g.dtype())))]
        })
    }

    /// Limits every element to `[min, max]` (either bound optional), like `torch.clamp`.
    #[track_caller]
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Tensor {
        super::checks::check_clamp_bounds(min, max);
        let (lo, hi) = (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY));
        let clamp64 = move |x: f64| if x.is_nan() { x } else { x.max(lo).min(hi) };
        let out = unary_float(self, move |x| clamp64(x as f64) as f32, clamp64);
        // d clamp(x) = 1 inside the bounds, 0 outside
        record(out, "ClampBackward1", &[Some(self)], &["self"], |_| vec![SavedTensor::input(self)], move |s, g, _| {
            let x = &s[0];
            let inside = x.ge(lo).logical_and(&x.le(hi)).to_dtype(g.dtype());
            vec![Some(g.mul(&inside))]
        })
    }

    pub(crate) fn neg_impl(&self) -> Tensor {
        let out = binary_values(&Operand::Scalar(Scalar::Int(0)), &Operand::Tensor(self), BinaryOp::Sub);
        let out = if out.dtype() != self.dtype() { out.to_dtype(self.dtype()) } else { out };
        // d(-a) = -da
        record(out, "NegBackward0", &[Some(self)], &[], |_| vec![], |_, g, _| vec![Some(g.neg_impl())])
    }

    /// A copy of the values without history (internal helper for non-float dtypes).
    pub(crate) fn clone_values(&self) -> Tensor {
        Tensor::from_buffer(self.contiguous_buffer(), &self.shape())
    }
}

// ----- operators -------------------------------------------------------------------------

macro_rules! operator {
    ($trait:ident, $method:ident, $op:ident, $rev:expr) => {
        impl std::ops::$trait<&Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor { Tensor::$op(self, rhs) }
        }
        impl std::ops::$trait<Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor { Tensor::$op(&self, &rhs) }
        }
        impl std::ops::$trait<&Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor { Tensor::$op(&self, rhs) }
        }
        impl std::ops::$trait<Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor { Tensor::$op(self, &rhs) }
        }
        operator!(@scalar $trait, $method, $op, $rev, f64, i32);
    };
    (@scalar $trait:ident, $method:ident, $op:ident, $rev:expr, $($t:ty),*) => {$(
        impl std::ops::$trait<$t> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: $t) -> Tensor { Tensor::$op(self, rhs) }
        }
        impl std::ops::$trait<$t> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: $t) -> Tensor { Tensor::$op(&self, rhs) }
        }
        impl std::ops::$trait<&Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor { ($rev)(rhs, Scalar::from(self)) }
        }
        impl std::ops::$trait<Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor { ($rev)(&rhs, Scalar::from(self)) }
        }
    )*};
}

operator!(Add, add, add, |t: &Tensor, s: Scalar| t.add(s));
operator!(Sub, sub, sub, |t: &Tensor, s: Scalar| t.rsub(s));
operator!(Mul, mul, mul, |t: &Tensor, s: Scalar| t.mul(s));
operator!(Div, div, div, |t: &Tensor, s: Scalar| t.rdiv(s));

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
