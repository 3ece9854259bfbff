//! `tensor!`: tensors from nested literals, like `torch.tensor([[1., 2.], [3., 4.]])`.

use crate::dtype::DType;
use crate::factory::TensorOptions;
use crate::tensor::Tensor;

/// What a nested literal holds: float literals make float32, integer literals int64, bools
/// bool — torch's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiteralKind {
    Float,
    Int,
    Bool,
}

/// A value `tensor!` accepts: a number, a bool, or a (nested) array or `Vec` of them.
pub trait Literal {
    fn kind() -> LiteralKind;
    /// Appends the row-major values and returns the shape. A float is pushed as itself, a bool
    /// as 0 or 1, an integer as its int64 bits (`f64::from_bits`), so that one beyond 2^53
    /// stays exact (`tensor!([9007199254740993i64])`, as `torch.tensor`).
    fn flatten_into(&self, out: &mut Vec<f64>) -> Vec<usize>;
}

macro_rules! scalar_literal {
    ($kind:ident, |$v:ident| $push:expr; $($t:ty),*) => {$(
        impl Literal for $t {
            fn kind() -> LiteralKind { LiteralKind::$kind }
            fn flatten_into(&self, out: &mut Vec<f64>) -> Vec<usize> {
                let $v = *self;
                out.push($push);
                Vec::new()
            }
        }
    )*};
}
scalar_literal!(Float, |v| v as f64; f64, f32);
scalar_literal!(Int, |v| f64::from_bits(v as i64 as u64); i32, i64, usize, u8);

impl Literal for bool {
    fn kind() -> LiteralKind {
        LiteralKind::Bool
    }
    fn flatten_into(&self, out: &mut Vec<f64>) -> Vec<usize> {
        out.push(if *self { 1.0 } else { 0.0 });
        Vec::new()
    }
}

thread_local! {
    /// How deep in the nested literal `flatten_items` is (0: the outer list), for the dim in
    /// the ragged-literal error.
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// One level of a nested literal while it is flattened: its depth (restored when the level is
/// done, also when it raised) and the shape its items have so far. Not generic, like
/// `finish_literal`: a notebook cell with `tensor!` compiles only the loop over its items
/// (each cell is a crate of its own).
struct Level {
    depth: usize,
    inner: Option<Vec<usize>>,
}

impl Level {
    fn enter() -> Level {
        let depth = DEPTH.with(|d| d.replace(d.get() + 1));
        Level { depth, inner: None }
    }

    /// The next item's shape: the same as the items' before it, or a ValueError.
    fn item(&mut self, shape: Vec<usize>) {
        match &self.inner {
            None => self.inner = Some(shape),
            Some(s) if !crate::layout::same_shape(s, &shape) => {
                // like torch, name the first dim (counted from the outer list) whose length differs
                let k = s.iter().zip(&shape).position(|(a, b)| a != b).unwrap_or(s.len().min(shape.len()));
                let expected = s.get(k).copied().unwrap_or(0);
                let got = shape.get(k).copied().unwrap_or(0);
                crate::raise!(
                    ValueError,
                    "expected sequence of length {expected} at dim {} (got {got})",
                    self.depth + 1 + k
                )
            }
            _ => {}
        }
    }

    /// The level's shape: its length, then its items' shape.
    fn shape(&mut self, len: usize) -> Vec<usize> {
        let mut shape = vec![len];
        shape.extend(self.inner.take().unwrap_or_default());
        shape
    }
}

impl Drop for Level {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(self.depth));
    }
}

fn flatten_items<T: Literal>(items: &[T], out: &mut Vec<f64>) -> Vec<usize> {
    let mut level = Level::enter();
    for item in items {
        level.item(item.flatten_into(out));
    }
    level.shape(items.len())
}

impl<T: Literal, const N: usize> Literal for [T; N] {
    fn kind() -> LiteralKind {
        T::kind()
    }
    fn flatten_into(&self, out: &mut Vec<f64>) -> Vec<usize> {
        flatten_items(self, out)
    }
}

impl<T: Literal> Literal for Vec<T> {
    fn kind() -> LiteralKind {
        T::kind()
    }
    fn flatten_into(&self, out: &mut Vec<f64>) -> Vec<usize> {
        flatten_items(self, out)
    }
}

impl<T: Literal> Literal for &[T] {
    fn kind() -> LiteralKind {
        T::kind()
    }
    fn flatten_into(&self, out: &mut Vec<f64>) -> Vec<usize> {
        flatten_items(self, out)
    }
}

/// Builds a tensor from a literal with options (what `tensor!` expands to).
pub fn tensor_from_literal<L: Literal>(literal: L, options: TensorOptions) -> Tensor {
    let mut values = Vec::new();
    let shape = literal.flatten_into(&mut values);
    finish_literal(values, &shape, L::kind(), options)
}

fn finish_literal(values: Vec<f64>, shape: &[usize], kind: LiteralKind, options: TensorOptions) -> Tensor {
    let default = match kind {
        LiteralKind::Float => DType::Float32,
        LiteralKind::Int => DType::Int64,
        LiteralKind::Bool => DType::Bool,
    };
    let dtype = options.dtype_or(default);
    if kind == LiteralKind::Int {
        // the integers' bits (see `Literal::flatten_into`): exact as int64, converted otherwise
        let ints: Vec<i64> = values.iter().map(|v| v.to_bits() as i64).collect();
        if dtype == DType::Int64 {
            return options.finish(Tensor::from_i64(ints, shape));
        }
        return options.finish(Tensor::from_vec(ints.into_iter().map(|i| i as f64).collect(), shape, dtype));
    }
    options.finish(Tensor::from_vec(values, shape, dtype))
}

/// Names `tensor!(.., dtype = float64)` can use, like `torch.float64`.
#[doc(hidden)]
#[allow(non_upper_case_globals)]
pub mod dtype_names {
    use crate::dtype::DType;
    pub const float32: DType = DType::Float32;
    pub const float: DType = DType::Float32;
    pub const float64: DType = DType::Float64;
    pub const double: DType = DType::Float64;
    pub const int64: DType = DType::Int64;
    pub const long: DType = DType::Int64;
    pub const bool: DType = DType::Bool;
}

/// `torch.tensor(...)`: a tensor from a number or nested array literal, with optional
/// `requires_grad = ...` and `dtype = ...` (`float32`, `float64`, `int64`, `bool`, or any
/// `DType` expression).
///
/// ```
/// use autograd_core::prelude::*;
/// let x = tensor!(10, requires_grad = true, dtype = float64);
/// assert_eq!(x.to_string(), "tensor(10., dtype=torch.float64, requires_grad=True)");
/// assert_eq!(tensor!([[1., 2.], [3., 4.]]).shape(), vec![2, 2]);
/// assert_eq!(tensor!([1, 2]).dtype(), DType::Int64);
/// ```
#[macro_export]
macro_rules! tensor {
    ($data:expr $(, $key:ident = $value:expr)* $(,)?) => {{
        #[allow(unused_mut)]
        let mut options = $crate::factory::TensorOptions::default();
        $( options = $crate::__tensor_option!(options, $key, $value); )*
        $crate::literal::tensor_from_literal($data, options)
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __tensor_option {
    ($options:expr, dtype, $value:expr) => {{
        #[allow(unused_imports)]
        use $crate::literal::dtype_names::*;
        $options.dtype($value)
    }};
    ($options:expr, requires_grad, $value:expr) => {
        $options.requires_grad($value)
    };
}
