//! Tensor factories: `ones`, `zeros`, `arange`, `rand`, `randn`, `randint`, ... and their
//! `_with` twins that take [`TensorOptions`].

use crate::dtype::DType;
use crate::global;
use crate::layout::numel;
use crate::storage::Buffer;
use crate::tensor::Tensor;

/// Options for a new tensor: dtype and requires_grad (`dtype=..., requires_grad=...`).
///
/// ```
/// use autograd_core::prelude::*;
/// let x = rand_with(&[2, 3], TensorOptions::default().dtype(DType::Float64).requires_grad(true));
/// assert_eq!(x.dtype(), DType::Float64);
/// assert!(x.requires_grad());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TensorOptions {
    pub dtype: Option<DType>,
    pub requires_grad: bool,
}

impl TensorOptions {
    /// Sets the dtype.
    pub fn dtype(mut self, dtype: DType) -> Self {
        self.dtype = Some(dtype);
        self
    }

    /// Sets requires_grad.
    pub fn requires_grad(mut self, requires_grad: bool) -> Self {
        self.requires_grad = requires_grad;
        self
    }

    pub(crate) fn dtype_or(&self, default: DType) -> DType {
        self.dtype.unwrap_or(default)
    }

    #[track_caller]
    pub(crate) fn finish(&self, t: Tensor) -> Tensor {
        if self.requires_grad {
            if !t.dtype().is_floating_point() {
                // torch.tensor/zeros(..., requires_grad=True) words it apart from requires_grad_()
                crate::raise!("Only Tensors of floating point and complex dtype can require gradients");
            }
            t.requires_grad_(true)
        } else {
            t
        }
    }
}

#[track_caller]
fn filled(value: f64, shape: &[usize], options: TensorOptions) -> Tensor {
    let dtype = options.dtype_or(DType::Float32);
    options.finish(Tensor::from_buffer(Buffer::filled(value, numel(shape), dtype), shape))
}

/// A float32 tensor of ones (`torch.ones(2, 2)`).
#[track_caller]
pub fn ones(shape: &[usize]) -> Tensor {
    filled(1.0, shape, TensorOptions::default())
}

/// `torch.ones(..., dtype=..., requires_grad=...)`.
#[track_caller]
pub fn ones_with(shape: &[usize], options: TensorOptions) -> Tensor {
    filled(1.0, shape, options)
}

/// A float32 tensor of zeros.
#[track_caller]
pub fn zeros(shape: &[usize]) -> Tensor {
    filled(0.0, shape, TensorOptions::default())
}

/// `torch.zeros(..., dtype=..., requires_grad=...)`.
#[track_caller]
pub fn zeros_with(shape: &[usize], options: TensorOptions) -> Tensor {
    filled(0.0, shape, options)
}

/// A tensor filled with `value` (`torch.full`).
#[track_caller]
pub fn full(shape: &[usize], value: f64) -> Tensor {
    filled(value, shape, TensorOptions::default())
}

/// `torch.full(..., dtype=..., requires_grad=...)`.
#[track_caller]
pub fn full_with(shape: &[usize], value: f64, options: TensorOptions) -> Tensor {
    filled(value, shape, options)
}

/// Ones with the shape and dtype of `t` (`torch.ones_like`).
#[track_caller]
pub fn ones_like(t: &Tensor) -> Tensor {
    filled(1.0, &t.dims(), TensorOptions::default().dtype(t.dtype()))
}

/// `torch.ones_like(t, dtype=..., requires_grad=...)`; the dtype defaults to `t`'s.
#[track_caller]
pub fn ones_like_with(t: &Tensor, options: TensorOptions) -> Tensor {
    filled(1.0, &t.dims(), TensorOptions { dtype: Some(options.dtype_or(t.dtype())), ..options })
}

/// Zeros with the shape and dtype of `t`.
#[track_caller]
pub fn zeros_like(t: &Tensor) -> Tensor {
    filled(0.0, &t.dims(), TensorOptions::default().dtype(t.dtype()))
}

/// `torch.zeros_like(t, dtype=..., requires_grad=...)`.
#[track_caller]
pub fn zeros_like_with(t: &Tensor, options: TensorOptions) -> Tensor {
    filled(0.0, &t.dims(), TensorOptions { dtype: Some(options.dtype_or(t.dtype())), ..options })
}

/// `torch.arange(end)`: `0, 1, ..., end-1`. A float `end` (`arange(4.0)`) gives float32, an
/// integer one int64, like torch.
///
/// ```
/// use autograd_core::prelude::*;
/// assert_eq!(arange(4.0).to_string(), "tensor([0., 1., 2., 3.])");
/// assert_eq!(arange(3).to_string(), "tensor([0, 1, 2])");
/// ```
#[track_caller]
pub fn arange(end: impl Into<crate::ops::elementwise::Scalar>) -> Tensor {
    use crate::ops::elementwise::Scalar;
    arange_with(Scalar::Int(0), end, Scalar::Int(1), TensorOptions::default())
}

/// `torch.arange(start, end, step, dtype=..., requires_grad=...)`.
#[track_caller]
pub fn arange_with(
    start: impl Into<crate::ops::elementwise::Scalar>,
    end: impl Into<crate::ops::elementwise::Scalar>,
    step: impl Into<crate::ops::elementwise::Scalar>,
    options: TensorOptions,
) -> Tensor {
    use crate::ops::elementwise::Scalar;
    let (start, end, step) = (start.into(), end.into(), step.into());
    let all_int = [start, end, step].iter().all(|s| matches!(s, Scalar::Int(_)));
    let default = if all_int { DType::Int64 } else { DType::Float32 };
    let dtype = options.dtype_or(default);
    let (s, e, st) = (start.as_f64(), end.as_f64(), step.as_f64());
    if st == 0.0 {
        crate::raise!("step must be nonzero");
    }
    if (e - s) * st < 0.0 {
        crate::raise!("upper bound and lower bound inconsistent with step sign");
    }
    let count = ((e - s) / st).ceil().max(0.0) as usize;
    let values = (0..count).map(|i| s + i as f64 * st);
    options.finish(Tensor::from_buffer(Buffer::from_f64(values, dtype), &[count]))
}

/// `torch.linspace(start, end, steps)`.
#[track_caller]
pub fn linspace(start: f64, end: f64, steps: usize) -> Tensor {
    let step = if steps > 1 { (end - start) / (steps - 1) as f64 } else { 0.0 };
    let half = steps / 2;
    // torch fills the first half from the start and the second half from the end.
    let values =
        (0..steps)
            .map(|i| if i < half { start + step * i as f64 } else { end - step * (steps - 1 - i) as f64 });
    Tensor::from_buffer(Buffer::from_f64(values, DType::Float32), &[steps])
}

/// An identity matrix (`torch.eye(n)`).
#[track_caller]
pub fn eye(n: usize) -> Tensor {
    let values = (0..n * n).map(|i| if i / n == i % n { 1.0 } else { 0.0 });
    Tensor::from_buffer(Buffer::from_f64(values, DType::Float32), &[n, n])
}

/// Seeds the process-wide generator (`torch.manual_seed`); clears the cached normal value.
///
/// ```
/// use autograd_core::prelude::*;
/// manual_seed(666);
/// let a = rand(&[20, 4]);
/// assert_eq!(a.to_string().lines().next().unwrap(), "tensor([[0.3119, 0.2701, 0.1118, 0.1012],");
/// ```
pub fn manual_seed(seed: u64) {
    *generator() = crate::random::Generator::new(seed);
}

/// The seed the generator was last seeded with (`torch.initial_seed()`).
pub fn initial_seed() -> u64 {
    generator().initial_seed()
}

fn generator() -> std::sync::MutexGuard<'static, crate::random::Generator> {
    global::shared().generator.lock().unwrap_or_else(|e| e.into_inner())
}

/// Uniform numbers in [0, 1), float32 (`torch.rand`).
#[track_caller]
pub fn rand(shape: &[usize]) -> Tensor {
    rand_with(shape, TensorOptions::default())
}

/// `torch.rand(..., dtype=..., requires_grad=...)`.
#[track_caller]
pub fn rand_with(shape: &[usize], options: TensorOptions) -> Tensor {
    let n = numel(shape);
    let buffer = match options.dtype_or(DType::Float32) {
        DType::Float32 => Buffer::F32(generator().rand_f32(n)),
        DType::Float64 => Buffer::F64(generator().rand_f64(n)),
        other => crate::raise!(
            NotImplementedError,
            "\"check_uniform_bounds\" not implemented for '{}'",
            other.title()
        ),
    };
    options.finish(Tensor::from_buffer(buffer, shape))
}

/// Standard normal numbers, float32 (`torch.randn`); `randn(&[])` is a 0-dim scalar.
#[track_caller]
pub fn randn(shape: &[usize]) -> Tensor {
    randn_with(shape, TensorOptions::default())
}

/// `torch.randn(..., dtype=..., requires_grad=...)`.
#[track_caller]
pub fn randn_with(shape: &[usize], options: TensorOptions) -> Tensor {
    let n = numel(shape);
    let buffer = match options.dtype_or(DType::Float32) {
        DType::Float32 => Buffer::F32(generator().randn_f32(n)),
        DType::Float64 => Buffer::F64(generator().randn_f64(n)),
        other => crate::raise!(
            NotImplementedError,
            "\"normal_kernel_cpu\" not implemented for '{}'",
            other.title()
        ),
    };
    options.finish(Tensor::from_buffer(buffer, shape))
}

/// Integers in `[low, high)`, int64 (`torch.randint(low, high, shape)`).
#[track_caller]
pub fn randint(low: i64, high: i64, shape: &[usize]) -> Tensor {
    randint_with(low, high, shape, TensorOptions::default())
}

/// `torch.randint(low, high, shape, dtype=...)`.
#[track_caller]
pub fn randint_with(low: i64, high: i64, shape: &[usize], options: TensorOptions) -> Tensor {
    if low >= high {
        crate::raise!("random_ expects 'from' to be less than 'to', but got from={low} >= to={high}");
    }
    let values = generator().randint(low, high, numel(shape));
    let t = Tensor::from_buffer(Buffer::I64(values), shape);
    let dtype = options.dtype_or(DType::Int64);
    options.finish(if dtype == DType::Int64 { t } else { t.to_dtype(dtype) })
}
