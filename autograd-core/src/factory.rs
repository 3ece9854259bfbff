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
    let buffer = if dtype == DType::Int64 {
        // torch steps an int64 range in int64: `arange(0.5, 2, 0.5, dtype=torch.int64)` has
        // the length the floats give, 3, and the values 0 + i * 0 (start and step truncated)
        let (s, st) = (start.as_f64() as i64, step.as_f64() as i64);
        Buffer::I64((0..count as i64).map(|i| s.wrapping_add(i.wrapping_mul(st))).collect())
    } else {
        arange_float_values(s, st, count, dtype)
    };
    options.finish(Tensor::from_buffer(buffer, &[count]))
}

/// The values of a float `arange`, as torch 2.15's x86 kernel computes them (measured against
/// it, every element of 64 random ranges per dtype and of ranges past the parallel grain): in
/// float64 (its accumulation type for both float dtypes), with fused multiply-adds (its
/// compiler contracts `start + step * idx`), in runs of two 256-bit vectors (8 float64 or 16
/// float32 elements: the kernel has no AVX-512 build): each vector from its first element
/// `fma(step, idx, start)`, lane `l` as `fma(l, step, first)` (for float32 the first rounded to
/// float32 before, the lane after), the elements after the last whole run one by one as
/// `fma(step, idx, start)`. Beyond 32768 elements torch's threads each take one part, whose
/// runs start at the part's own first element.
fn arange_float_values(start: f64, step: f64, count: usize, dtype: DType) -> Buffer {
    fn fill<T: Copy>(
        out: &mut [T],
        begin: usize,
        lanes: usize,
        first: impl Fn(usize) -> f64,
        lane: impl Fn(f64, usize) -> T,
        single: impl Fn(usize) -> T,
    ) {
        let mut i = 0;
        while i + 2 * lanes <= out.len() {
            for v in 0..2 {
                let base = first(begin + i + v * lanes);
                for l in 0..lanes {
                    out[i + v * lanes + l] = lane(base, l);
                }
            }
            i += 2 * lanes;
        }
        for (j, slot) in out.iter_mut().enumerate().skip(i) {
            *slot = single(begin + j);
        }
    }
    let at = |idx: usize| step.mul_add(idx as f64, start);
    let parts =
        crate::ops::parallel::torch_split(count).unwrap_or_else(|| std::iter::once(0..count).collect());
    match dtype {
        DType::Float64 => {
            let mut out = vec![0.0f64; count];
            for range in parts {
                let begin = range.start;
                fill(&mut out[range], begin, 4, at, |base, l| (l as f64).mul_add(step, base), at);
            }
            Buffer::F64(out)
        }
        _ => {
            let mut out = vec![0.0f32; count];
            for range in parts {
                let begin = range.start;
                let first = |idx: usize| at(idx) as f32 as f64;
                fill(
                    &mut out[range],
                    begin,
                    8,
                    first,
                    |base, l| (l as f64).mul_add(step, base) as f32,
                    |i| at(i) as f32,
                );
            }
            Buffer::F32(out)
        }
    }
}

/// `torch.linspace(start, end, steps)`.
#[track_caller]
pub fn linspace(start: f64, end: f64, steps: usize) -> Tensor {
    // torch 2.15 computes in the result's dtype, float32: the step, then the first half
    // forwards from the start and the second half backwards from the end, each element with
    // one fused multiply-add (measured: every element of 48 random linspaces); one step is
    // the start
    let (start, end) = (start as f32, end as f32);
    let values: Vec<f32> = if steps == 1 {
        vec![start]
    } else {
        let step = (end - start) / (steps - 1) as f32;
        let half = steps / 2;
        (0..steps)
            .map(|i| {
                if i < half {
                    step.mul_add(i as f32, start)
                } else {
                    (-step).mul_add((steps - 1 - i) as f32, end)
                }
            })
            .collect()
    };
    Tensor::from_buffer(Buffer::F32(values), &[steps])
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
