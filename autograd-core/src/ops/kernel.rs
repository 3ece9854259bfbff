//! Numeric loops shared by the ops: typed access to a tensor's elements, broadcasting maps,
//! and the switch to both cores for large tensors.

use ndarray::{ArrayViewD, IxDyn, Zip};
use rayon::prelude::*;

use crate::dtype::DType;
use crate::layout::numel;
use crate::storage::Buffer;
use crate::tensor::{gather, Tensor};

/// Tensors at least this large are processed on all cores.
pub(crate) const PARALLEL_MIN: usize = 1 << 16;

/// An element type the kernels work on.
pub(crate) trait Element: Copy + Send + Sync + 'static {
    const DTYPE: DType;
    fn slice(buffer: &Buffer) -> Option<&[Self]>;
    fn wrap(values: Vec<Self>) -> Buffer;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
}

macro_rules! element {
    ($t:ty, $variant:ident, $dtype:ident, |$v:ident| $from:expr, |$s:ident| $to:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$dtype;
            fn slice(buffer: &Buffer) -> Option<&[Self]> {
                match buffer {
                    Buffer::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn wrap(values: Vec<Self>) -> Buffer {
                Buffer::$variant(values)
            }
            fn from_f64($v: f64) -> Self {
                $from
            }
            fn to_f64(self) -> f64 {
                let $s = self;
                $to
            }
        }
    };
}

element!(f32, F32, Float32, |v| v as f32, |s| s as f64);
element!(f64, F64, Float64, |v| v, |s| s);
element!(i64, I64, Int64, |v| v as i64, |s| s as f64);
element!(bool, Bool, Bool, |v| v != 0.0, |s| s as u8 as f64);

/// Floating-point element types.
pub(crate) trait FloatElement: Element + num_traits::Float + std::iter::Sum + std::fmt::Debug {}
impl FloatElement for f32 {}
impl FloatElement for f64 {}

/// Converts a buffer to another dtype.
pub(crate) fn cast(buffer: Buffer, dtype: DType) -> Buffer {
    if buffer.dtype() == dtype {
        return buffer;
    }
    match (&buffer, dtype) {
        (Buffer::F32(v), DType::Float64) => Buffer::F64(v.iter().map(|&x| x as f64).collect()),
        (Buffer::F64(v), DType::Float32) => Buffer::F32(v.iter().map(|&x| x as f32).collect()),
        (Buffer::I64(v), DType::Float32) => Buffer::F32(v.iter().map(|&x| x as f32).collect()),
        (Buffer::I64(v), DType::Float64) => Buffer::F64(v.iter().map(|&x| x as f64).collect()),
        (Buffer::Bool(v), DType::Int64) => Buffer::I64(v.iter().map(|&x| x as i64).collect()),
        (Buffer::I64(v), DType::Bool) => Buffer::Bool(v.iter().map(|&x| x != 0).collect()),
        _ => Buffer::from_f64((0..buffer.len()).map(|i| buffer.get_f64(i)), dtype),
    }
}

/// Calls `f` with the tensor's elements as a row-major slice of `T`, borrowing the storage
/// when it already is contiguous `T`, converting otherwise.
pub(crate) fn with_slice<T: Element, R>(t: &Tensor, f: impl FnOnce(&[T]) -> R) -> R {
    t.with_data(|d| {
        let buffer = d.storage.read();
        if d.layout.numel() == 0 {
            return f(&[]);
        }
        if d.layout.is_contiguous() {
            if let Some(all) = T::slice(&buffer) {
                return f(&all[d.layout.offset..d.layout.offset + d.layout.numel()]);
            }
        }
        let converted = cast(gather(&buffer, &d.layout), T::DTYPE);
        drop(buffer);
        f(T::slice(&converted).expect("cast gives the requested dtype"))
    })
}

/// Row-major elements converted to `T`, as an owned vector.
pub(crate) fn to_vec<T: Element>(t: &Tensor) -> Vec<T> {
    with_slice(t, |s: &[T]| s.to_vec())
}

/// Elementwise map, in parallel for large inputs.
pub(crate) fn map<T: Element, U: Element>(input: &[T], f: impl Fn(T) -> U + Sync + Send) -> Vec<U> {
    if input.len() >= PARALLEL_MIN {
        input.par_iter().map(|&x| f(x)).collect()
    } else {
        input.iter().map(|&x| f(x)).collect()
    }
}

/// Runs `f` compiled for the CPU's fused multiply-add instructions when it has them:
/// softmax's kernels use `mul_add` (one rounding, as torch's fused kernels), which without
/// the instructions is a call into the C library's `fma` for each. Same bits either way.
/// `f` profits when what it calls is inlined into it (`#[inline(always)]`).
#[inline(always)]
pub(crate) fn with_fma<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the instructions `fma_enabled` may use
        return unsafe { fma_enabled(f) };
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn fma_enabled<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Elements per task when a slice map runs on all cores.
const PARALLEL_CHUNK: usize = 1 << 14;

/// Elementwise map done a slice at a time, `f(input, out)` (in parallel for large inputs, a
/// part per task): for the functions in `transcendental.rs`, whose slice forms run the
/// whole loop in a copy compiled for the CPU's FMA instructions.
pub(crate) fn map_slices<T: Element, U: Element>(
    input: &[T],
    f: impl Fn(&[T], &mut [U]) + Sync + Send,
) -> Vec<U> {
    let mut out = vec![U::from_f64(0.0); input.len()];
    if input.len() >= PARALLEL_MIN {
        out.par_chunks_mut(PARALLEL_CHUNK).zip(input.par_chunks(PARALLEL_CHUNK)).for_each(|(o, i)| f(i, o));
    } else {
        f(input, &mut out);
    }
    out
}

/// `map_slices` with a flag per element passed along (`f(input, flags, out)`).
pub(crate) fn map_slices_flagged<T: Element, U: Element>(
    input: &[T],
    flags: &[bool],
    f: impl Fn(&[T], &[bool], &mut [U]) + Sync + Send,
) -> Vec<U> {
    let mut out = vec![U::from_f64(0.0); input.len()];
    if input.len() >= PARALLEL_MIN {
        out.par_chunks_mut(PARALLEL_CHUNK)
            .zip(input.par_chunks(PARALLEL_CHUNK).zip(flags.par_chunks(PARALLEL_CHUNK)))
            .for_each(|(o, (i, fl))| f(i, fl, o));
    } else {
        f(input, flags, &mut out);
    }
    out
}

/// Elementwise binary map with NumPy broadcasting; `out_shape` is the broadcast shape.
pub(crate) fn zip_map<A: Element, B: Element, U: Element>(
    a: &[A],
    a_shape: &[usize],
    b: &[B],
    b_shape: &[usize],
    out_shape: &[usize],
    f: impl Fn(A, B) -> U + Sync + Send,
) -> Vec<U> {
    let n = numel(out_shape);
    let parallel = n >= PARALLEL_MIN;
    if a.len() == n && b.len() == n {
        if parallel {
            return a.par_iter().zip(b.par_iter()).map(|(&x, &y)| f(x, y)).collect();
        }
        return a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect();
    }
    if b.len() == 1 && a.len() == n {
        let y = b[0];
        return map(a, |x| f(x, y));
    }
    if a.len() == 1 && b.len() == n {
        let x = a[0];
        return map(b, |y| f(x, y));
    }
    let av = ArrayViewD::from_shape(IxDyn(a_shape), a).expect("shape matches data");
    let bv = ArrayViewD::from_shape(IxDyn(b_shape), b).expect("shape matches data");
    let av = av.broadcast(IxDyn(out_shape)).expect("shapes were checked to broadcast");
    let bv = bv.broadcast(IxDyn(out_shape)).expect("shapes were checked to broadcast");
    let zip = Zip::from(&av).and(&bv);
    let out =
        if parallel { zip.par_map_collect(|&x, &y| f(x, y)) } else { zip.map_collect(|&x, &y| f(x, y)) };
    // Zip lays its result out in the order it prefers for its inputs (column-major for an
    // input like a [2, 1] column expanded to [2, 3]); the caller wants row-major
    if out.is_standard_layout() {
        out.into_raw_vec_and_offset().0
    } else {
        out.iter().copied().collect()
    }
}
