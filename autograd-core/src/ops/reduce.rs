//! Reductions: `sum`, `mean` (whole tensor or per dim), `norm`, `max`, `min`, and the
//! `sum_to_size` that undoes broadcasting in backward.

use super::kernel::{with_slice, Element};
use super::reduce_loops::{contiguous_lanes, reduce_vec, reduced_lanes, squared_deviations, with_strided};
use super::shape::wrap_dim;
use super::sum_order::{torch_sum, SumElement};
use crate::autograd::record::{grads, record, Saved};
use crate::autograd::saved::SavedTensor;
use crate::dtype::DType;
use crate::storage::Buffer;
use crate::tensor::Tensor;

/// Dimensions for a reduction: one (`1`, `-1`) or several (`&[0, 1]`).
pub trait Dims {
    fn dims(&self) -> Vec<isize>;
}

macro_rules! dims_int {
    ($($t:ty),*) => {$(
        impl Dims for $t {
            fn dims(&self) -> Vec<isize> { vec![*self as isize] }
        }
        impl Dims for &[$t] {
            fn dims(&self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl<const N: usize> Dims for [$t; N] {
            fn dims(&self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl<const N: usize> Dims for &[$t; N] {
            fn dims(&self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl Dims for &Vec<$t> {
            fn dims(&self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl Dims for Vec<$t> {
            fn dims(&self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
    )*};
}
dims_int!(i32, i64, isize, usize);

/// Sums of a floating-point tensor over the dims where `reduce` is true, in torch's order
/// and precision (`sum_order`), row-major over the kept dims; `divisor` divides each sum in
/// the tensor's dtype afterwards (torch's `mean` is `sum(...).div_(count)`).
fn float_sums(t: &Tensor, reduce: &[bool], divisor: Option<usize>) -> Buffer {
    fn run<T: SumElement + Element + std::ops::Div<Output = T>>(
        t: &Tensor,
        reduce: &[bool],
        divisor: Option<usize>,
    ) -> Vec<T> {
        let sums =
            with_strided(t, |data, offset, shape, strides| torch_sum(data, offset, shape, strides, reduce));
        match divisor {
            Some(n) => sums.into_iter().map(|s| s / T::from_f64(n as f64)).collect(),
            None => sums,
        }
    }
    match t.dtype() {
        DType::Float64 => Buffer::F64(run::<f64>(t, reduce, divisor)),
        _ => Buffer::F32(run::<f32>(t, reduce, divisor)),
    }
}

fn scalar_of(value: f64, dtype: DType) -> Tensor {
    Tensor::from_buffer(Buffer::from_f64([value], dtype), &[])
}

/// The dtype of a sum: integers and bools sum to int64.
fn sum_dtype(dtype: DType) -> DType {
    if dtype.is_floating_point() {
        dtype
    } else {
        DType::Int64
    }
}

/// The dims to reduce, sorted. A 0-dim tensor accepts dim 0 and -1 (as torch does) and has
/// nothing to reduce; a dim given twice is torch's error.
#[track_caller]
fn resolve_dims(dims: &[isize], rank: usize) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::with_capacity(dims.len());
    for &d in dims {
        let d = wrap_dim(d, rank);
        if out.contains(&d) {
            crate::raise!("dim {d} appears multiple times in the list of dims");
        }
        out.push(d);
    }
    if rank == 0 {
        return Vec::new();
    }
    out.sort_unstable();
    out
}

/// The reduce mask of a reduction over the one dim `d` of a `rank`-dim tensor.
fn only_dim(rank: usize, d: usize) -> Vec<bool> {
    (0..rank).map(|k| k == d).collect()
}

/// Sums over `dims` (torch's order for floats, exact for integers), divided by `divisor` when
/// given, with the output shape (reduced dims kept as 1 or removed).
fn sum_dims(t: &Tensor, dims: &[usize], keepdim: bool, divisor: Option<usize>) -> Tensor {
    let shape = t.shape();
    let reduce: Vec<bool> = (0..shape.len()).map(|d| dims.contains(&d)).collect();
    let out_shape: Vec<usize> = shape
        .iter()
        .enumerate()
        .filter(|&(d, _)| keepdim || !reduce[d])
        .map(|(d, &s)| if reduce[d] { 1 } else { s })
        .collect();
    let buffer = if t.dtype().is_floating_point() {
        float_sums(t, &reduce, divisor)
    } else {
        // integers and bools sum exactly, to int64
        let strides = crate::layout::contiguous_strides(&shape);
        Buffer::I64(torch_sum(&super::kernel::to_vec::<i64>(t), 0, &shape, &strides, &reduce))
    };
    Tensor::from_buffer(buffer, &out_shape)
}

impl Tensor {
    /// Sum of all elements, a 0-dim tensor (`SumBackward0`).
    pub fn sum(&self) -> Tensor {
        let dtype = sum_dtype(self.dtype());
        let out = if dtype == DType::Int64 {
            Tensor::from_i64(vec![super::kernel::to_vec::<i64>(self).iter().sum()], &[])
        } else {
            Tensor::from_buffer(float_sums(self, &vec![true; self.dim()], None), &[])
        };
        let shape = self.shape();
        // d sum(x) = 1 for every element
        record(
            out,
            "SumBackward0",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| grads![Some(g.expand(&shape))],
        )
    }

    /// Sum over the given dims (`x.sum(dim, keepdim)`, `SumBackward1`).
    #[track_caller]
    pub fn sum_dim(&self, dims: impl Dims, keepdim: bool) -> Tensor {
        self.sum_over(dims.dims(), keepdim)
    }

    #[track_caller]
    fn sum_over(&self, dims: Vec<isize>, keepdim: bool) -> Tensor {
        let shape = self.shape();
        let dims = resolve_dims(&dims, shape.len());
        let out = sum_dims(self, &dims, keepdim, None);
        // d sum(x, dim) = 1, broadcast back along the summed dims
        record(
            out,
            "SumBackward1",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| grads![Some(unsqueeze_dims(g, &dims, keepdim).expand(&shape))],
        )
    }

    /// Mean of all elements (`MeanBackward0`); floating-point tensors only, like torch.
    #[track_caller]
    pub fn mean(&self) -> Tensor {
        let dtype = self.dtype();
        check_mean_dtype(dtype);
        let n = self.numel();
        let out = Tensor::from_buffer(float_sums(self, &vec![true; self.dim()], Some(n)), &[]);
        let shape = self.shape();
        // d mean(x) = 1/n for every element; torch: grad.expand(sizes) / numel
        record(
            out,
            "MeanBackward0",
            &[Some(self)],
            &[],
            |_| vec![],
            // materialised, as torch's: the same values expanded (stride 0) would be summed in
            // another order downstream (`(m + s).mean()` gives `s` the sum of twelve 1/12: torch
            // 0.99999988, the expanded tensor's sum 1.0)
            move |_, g, _| grads![Some(g.expand(&shape).div_scalar(n as f64))],
        )
    }

    /// Mean over the given dims (`x.mean(dim, keepdim)`, `MeanBackward1`).
    #[track_caller]
    pub fn mean_dim(&self, dims: impl Dims, keepdim: bool) -> Tensor {
        self.mean_over(dims.dims(), keepdim)
    }

    #[track_caller]
    fn mean_over(&self, dims: Vec<isize>, keepdim: bool) -> Tensor {
        let dtype = self.dtype();
        check_mean_dtype(dtype);
        let shape = self.shape();
        let dims = resolve_dims(&dims, shape.len());
        let count: usize = dims.iter().map(|&d| shape[d]).product();
        let out = sum_dims(self, &dims, keepdim, Some(count));
        // d mean(x, dim) = 1/count, broadcast back along the reduced dims; torch:
        // sum_backward(grad, sizes, dims, keepdim) / count
        record(
            out,
            "MeanBackward1",
            &[Some(self)],
            &[],
            |_| vec![],
            // materialised in torch's layout, as `mean` (all dims) above
            move |_, g, _| {
                grads![Some(unsqueeze_dims(g, &dims, keepdim).expand(&shape).div_scalar(count as f64))]
            },
        )
    }

    /// Euclidean norm of all elements (`x.norm()`, node `LinalgVectorNormBackward0`).
    #[track_caller]
    pub fn norm(&self) -> Tensor {
        // the 2-norm, summed in torch's order and with torch's backward (see `norm_p`)
        self.norm_p(2.0)
    }

    /// Largest element (`x.max()`, `MaxBackward1`); the gradient is shared among ties.
    #[track_caller]
    pub fn max(&self) -> Tensor {
        self.extreme(true)
    }

    /// Smallest element (`x.min()`, `MinBackward1`).
    #[track_caller]
    pub fn min(&self) -> Tensor {
        self.extreme(false)
    }

    #[track_caller]
    fn extreme(&self, largest: bool) -> Tensor {
        if self.numel() == 0 {
            let name = if largest { "max" } else { "min" };
            crate::raise!(
                "{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."
            );
        }
        if self.dtype() == DType::Int64 {
            // compared as integers: a float64 copy loses the last bits beyond 2^53
            let ints = self.to_vec_i64();
            let pick = if largest { ints.iter().max() } else { ints.iter().min() };
            return Tensor::from_i64(vec![*pick.expect("not empty")], &[]);
        }
        let pick = match self.dtype() {
            DType::Float32 => with_slice(self, |v: &[f32]| extreme_value(v, largest)) as f64,
            _ => with_slice(self, |v: &[f64]| extreme_value(v, largest)),
        };
        let out = scalar_of(pick, self.dtype());
        let name = if largest { "MaxBackward1" } else { "MinBackward1" };
        // the gradient goes to the extreme element(s), split evenly among ties (to the NaNs
        // when the result is NaN); torch: zeros.masked_fill_(mask, grad / mask.sum())
        record(
            out,
            name,
            &[Some(self)],
            &["self", "result"],
            |out| vec![SavedTensor::input(self), SavedTensor::output(out)],
            |s, g, _| {
                let (input, result) = (&s[0], &s[1]);
                let mask = if result.item().is_nan() { input.ne(input) } else { input.eq(result) };
                let share = g.div(&mask.sum());
                grads![Some(masked_fill_with_tensor(&crate::factory::zeros_like(input), &mask, &share))]
            },
        )
    }

    /// Sums a broadcast tensor back down to `shape` (the reverse of `expand`).
    #[track_caller]
    pub fn sum_to_size(&self, shape: &[usize]) -> Tensor {
        let own = self.shape();
        super::checks::check_sum_to_size(&own, shape);
        if own == shape {
            return self.clone();
        }
        let lead = own.len() - shape.len();
        let mut dims: Vec<isize> = (0..lead as isize).collect();
        for (i, &size) in shape.iter().enumerate() {
            if size == 1 && own[lead + i] != 1 {
                dims.push((lead + i) as isize);
            }
        }
        let summed = if dims.is_empty() { self.clone() } else { self.sum_dim(dims, true) };
        if crate::layout::same_shape(&summed.shape(), shape) {
            summed
        } else {
            summed.reshape(shape.iter().map(|&d| d as isize).collect::<Vec<_>>())
        }
    }
}

#[track_caller]
fn check_mean_dtype(dtype: DType) {
    if !dtype.is_floating_point() {
        crate::raise!(
            NotImplementedError,
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {}",
            dtype.title()
        );
    }
}

/// Re-inserts reduced dims (size 1) into a gradient when the reduction dropped them.
fn unsqueeze_dims(g: &Tensor, dims: &[usize], keepdim: bool) -> Tensor {
    if keepdim {
        return g.clone();
    }
    let mut out = g.clone();
    for &d in dims {
        out = out.unsqueeze(d as isize);
    }
    out
}

/// `base.masked_fill(mask, value)` for a 0-dim `value` tensor, as torch's backward of
/// `max()`/`min()` builds it on fresh zeros (node `MaskedFillBackward1`, inputs `base` and
/// `value`).
fn masked_fill_with_tensor(base: &Tensor, mask: &Tensor, value: &Tensor) -> Tensor {
    let out = super::elementwise::masked_fill_values(base, mask, value.item());
    let mask = mask.detach();
    // d/d base = grad where the mask is false;  d/d value = the sum of grad where it is true
    record(
        out,
        "MaskedFillBackward1",
        &[Some(base), Some(value)],
        &["mask"],
        |_| Saved::one(SavedTensor::input(&mask)),
        |s, g, needs| {
            vec![
                needs[0].then(|| g.masked_fill(&s[0], 0.0)),
                needs[1].then(|| g.masked_fill(&s[0].logical_not(), 0.0).sum()),
            ]
        },
    )
}

// ----- reductions over one dim with indices, products, spread, cumulative sums, p-norms ----

/// `(outer, size, inner)` of a row-major tensor of `shape` split around `dim`: element
/// `[o, k, i]` sits at `(o * size + k) * inner + i`. A 0-dim tensor is one lane of size 1.
pub(crate) fn lanes(shape: &[usize], dim: usize) -> (usize, usize, usize) {
    if shape.is_empty() {
        return (1, 1, 1);
    }
    let outer = shape[..dim].iter().product();
    let inner = shape[dim + 1..].iter().product();
    (outer, shape[dim], inner)
}

/// The shape after reducing `dim` (kept as size 1 with `keepdim`); 0-dim stays 0-dim.
fn reduced_shape(shape: &[usize], dim: usize, keepdim: bool) -> Vec<usize> {
    let mut out = shape.to_vec();
    if shape.is_empty() {
        return out;
    }
    if keepdim {
        out[dim] = 1;
    } else {
        out.remove(dim);
    }
    out
}

/// Applies `f` to every lane along `dim` (as f64 values) and collects one value per lane.
fn reduce_lanes<T: Copy + Sync, R: Send>(
    values: &[T],
    shape: &[usize],
    dim: usize,
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    let (outer, size, inner) = lanes(shape, dim);
    // each lane on one thread (a big tensor's lanes shared out among them), in its order
    super::parallel::map_units(outer * inner, size, true, |lane| {
        if inner == 1 {
            // a run of the values already
            return f(&values[lane * size..][..size]);
        }
        let (o, i) = (lane / inner, lane % inner);
        let gathered: Vec<T> = (0..size).map(|k| values[(o * size + k) * inner + i]).collect();
        f(&gathered)
    })
}

/// Index of the largest (or smallest) value, torch's rule: the first NaN wins, ties go to
/// the lowest index. The extreme first (`running_extreme`, vectorized), then where it is.
fn arg_extreme<T: Ordered>(lane: &[T], largest: bool) -> usize {
    let (best, nan) = running_extreme(lane, largest);
    if nan {
        return lane.iter().position(|v| v.nan()).expect("a NaN was seen");
    }
    // -0. and 0. compare equal: the first of either is the one a strict compare keeps
    lane.iter().position(|&v| v == best).expect("the extreme is one of the values")
}

/// Values compared for max, min and their positions: float64, or int64 as integers (a
/// float64 copy of 2^53 + 1 ties with 2^53).
trait Ordered: Copy + PartialOrd + Default {
    fn nan(self) -> bool;
}

impl Ordered for f64 {
    fn nan(self) -> bool {
        self.is_nan()
    }
}

impl Ordered for f32 {
    fn nan(self) -> bool {
        self.is_nan()
    }
}

impl Ordered for i64 {
    fn nan(self) -> bool {
        false
    }
}

/// For each lane along `dim`, the position `arg_extreme` picks, comparing int64 exactly.
fn lane_extremes(t: &Tensor, shape: &[usize], dim: usize, largest: bool) -> Vec<usize> {
    match t.dtype() {
        DType::Int64 => {
            with_slice(t, |v: &[i64]| reduce_lanes(v, shape, dim, |lane| arg_extreme(lane, largest)))
        }
        DType::Float32 => {
            with_slice(t, |v: &[f32]| reduce_lanes(v, shape, dim, |lane| arg_extreme(lane, largest)))
        }
        _ => with_slice(t, |v: &[f64]| reduce_lanes(v, shape, dim, |lane| arg_extreme(lane, largest))),
    }
}

/// Says once per process what torch warns about when a spread has no degrees of freedom.
fn warn_no_dof(op: &str) {
    static WARNED: [std::sync::atomic::AtomicBool; 2] =
        [std::sync::atomic::AtomicBool::new(false), std::sync::atomic::AtomicBool::new(false)];
    let slot = usize::from(op == "var");
    if !WARNED[slot].swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!(
            "UserWarning: {op}(): degrees of freedom is <= 0. Correction should be strictly less than the \
             reduction factor (input numel divided by output numel). (Triggered internally at \
             /__w/pytorch/pytorch/aten/src/ATen/native/ReduceOps.cpp:1927.)"
        );
    }
}

fn check_spread_dtype(t: &Tensor) {
    if !t.dtype().is_floating_point() {
        crate::raise!(NotImplementedError, "std and var only support floating point and complex dtypes");
    }
}

/// torch's `min()` / `max()` of all elements when the result is a zero and both zeros may be
/// among the elements: its `reduce_all` loop keeps one accumulator lane per vector lane (8
/// float32 or 4 float64: the AVX2 kernel torch 2.15 runs), takes the elements a vector at a
/// time, the last partial vector into the first lanes only, then folds the lanes left to
/// right; each step is `_mm256_min_ps(a, b)` (`a < b ? a : b`), which keeps the *second* of
/// two equal values (`max`: `a > b ? a : b`). So `[-0., 0.]` has min `0.`, `[0., -0.]` `-0.`,
/// and with 6 float64 values the 4th decides (measured on torch 2.15.0, every position of one
/// `-0.` among `0.`s, 2 to 33 elements). Above 32768 elements torch splits the work between
/// threads; that split is not modelled (the result is that of one thread).
fn tied_zero<T: Copy + PartialOrd>(values: &[T], largest: bool) -> T {
    let step = |a: T, b: T| if (largest && a > b) || (!largest && a < b) { a } else { b };
    let lanes = 32 / std::mem::size_of::<T>();
    let n = values.len();
    if n < lanes {
        return values[1..].iter().fold(values[0], |acc, &v| step(acc, v));
    }
    let mut acc = values[..lanes].to_vec();
    for chunk in values[lanes..].chunks(lanes) {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a = step(*a, v);
        }
    }
    acc[1..].iter().fold(acc[0], |r, &v| step(r, v))
}

/// The largest (or smallest) of `values` (not empty), NaN where there is one, and where
/// `-0.` and `0.` tie for it the one torch's vector loop keeps (`tied_zero`).
fn extreme_value<T: Copy + PartialOrd + Into<f64>>(values: &[T], largest: bool) -> T {
    let (best, nan) = running_extreme(values, largest);
    if nan {
        return values.iter().copied().find(|&v| v.into().is_nan()).expect("a NaN was seen");
    }
    if best.into() == 0.0 {
        return tied_zero(values, largest);
    }
    best
}

/// The largest (or smallest) of `values` (not empty) by strict compares, and whether a NaN
/// is among them. Sixteen running extremes side by side, so the loop vectorizes (each
/// compare-and-keep is one `maxps`/`minps`).
fn running_extreme<T: Copy + PartialOrd>(values: &[T], largest: bool) -> (T, bool) {
    const LANES: usize = 16;
    #[inline(always)]
    fn run<T: Copy + PartialOrd>(values: &[T], keep: impl Fn(T, T) -> bool) -> (T, bool) {
        let (mut acc, mut nan) = ([values[0]; LANES], [false; LANES]);
        let chunks = values.chunks_exact(LANES);
        let rest = chunks.remainder();
        for chunk in chunks {
            for j in 0..LANES {
                let v = chunk[j];
                #[allow(clippy::eq_op)] // NaN is the one value not equal to itself
                let is_nan = v != v;
                nan[j] |= is_nan;
                acc[j] = if keep(v, acc[j]) { v } else { acc[j] };
            }
        }
        let mut best = acc[0];
        let mut any_nan = nan.iter().any(|&n| n);
        for &v in acc[1..].iter().chain(rest) {
            #[allow(clippy::eq_op)]
            let is_nan = v != v;
            any_nan |= is_nan;
            best = if keep(v, best) { v } else { best };
        }
        (best, any_nan)
    }
    if largest {
        run(values, |v, acc| v > acc)
    } else {
        run(values, |v, acc| v < acc)
    }
}

/// `cumsum`'s values: along each lane (`size` values `inner` apart, `outer` blocks of
/// them) the running sum from `zero`, each value converted `to` the accumulator's type,
/// `add`ed, and each sum converted `back`. Lanes `inner` apart are summed side by side, a
/// row of them at a time, so memory is read in order and the adds vectorize; each lane gets
/// the same adds in the same order as one by one. Values past `outer` blocks (a 0-dim
/// tensor's one value) are copied as they are.
#[allow(clippy::too_many_arguments)]
fn running_sums<T: Copy + Send + Sync, A: Copy + Sync>(
    values: &[T],
    outer: usize,
    size: usize,
    inner: usize,
    zero: A,
    to: impl Fn(T) -> A + Sync,
    add: impl Fn(A, A) -> A + Sync,
    back: impl Fn(A) -> T + Sync,
) -> Vec<T> {
    let mut out = values.to_vec();
    let block = size * inner;
    if outer == 0 || block == 0 {
        return out;
    }
    // blocks shared out among the threads, each block's lanes on one (about 64K values a part)
    let per_part = (65536 / block).max(1);
    super::parallel::for_each_part(&mut out[..outer * block], per_part * block, |start, part| {
        let values = &values[start..start + part.len()];
        if inner == 1 {
            for (lane, slots) in values.chunks_exact(size).zip(part.chunks_exact_mut(size)) {
                let mut acc = zero;
                for (&x, slot) in lane.iter().zip(slots) {
                    acc = add(acc, to(x));
                    *slot = back(acc);
                }
            }
            return;
        }
        let mut acc = vec![zero; inner];
        for (blk, slots) in values.chunks_exact(block).zip(part.chunks_exact_mut(block)) {
            acc.fill(zero);
            for (row, row_slots) in blk.chunks_exact(inner).zip(slots.chunks_exact_mut(inner)) {
                for ((a, &x), slot) in acc.iter_mut().zip(row).zip(row_slots) {
                    *a = add(*a, to(x));
                    *slot = back(*a);
                }
            }
        }
    });
    out
}

impl Tensor {
    fn extreme_dim(&self, dim: isize, keepdim: bool, largest: bool) -> (Tensor, Tensor) {
        let shape = self.shape();
        let d = wrap_dim(dim, shape.len());
        let name = if largest { "max" } else { "min" };
        if !shape.is_empty() && shape[d] == 0 {
            crate::raise!(IndexError, "{name}(): Expected reduction dim {d} to have non-zero size.");
        }
        let (_, size, inner) = lanes(&shape, d);
        let picked = lane_extremes(self, &shape, d, largest);
        let positions = super::gather::Positions::Each(
            picked
                .iter()
                .enumerate()
                .map(|(lane_nr, &k)| (lane_nr / inner * size + k) * inner + lane_nr % inner)
                .collect(),
        );
        let picks: Vec<i64> = picked.into_iter().map(|k| k as i64).collect();
        let out_shape = reduced_shape(&shape, d, keepdim);
        let values =
            Tensor::from_buffer(self.with_data(|d| super::gather::take_positions(d, &positions)), &out_shape);
        let indices = Tensor::from_i64(picks, &out_shape);
        let node = if largest { "MaxBackward0" } else { "MinBackward0" };
        let positions = std::sync::Arc::new(positions);
        // d max(x, dim) = grad at the position of the maximum, zeros elsewhere
        let values = record(
            values,
            node,
            &[Some(self)],
            &["indices"],
            |_| Saved::one(SavedTensor::input(&indices)),
            move |_, g, _| {
                let names = super::gather::TakeNames {
                    take: "GatherBackward0",
                    put: "ScatterBackward0",
                    adds: false,
                };
                let g = if keepdim || shape.is_empty() { g.clone() } else { g.unsqueeze(d as isize) };
                grads![Some(super::gather::put_op(&shape, positions.clone(), &g, names))]
            },
        );
        (values, indices)
    }

    /// The largest value along `dim` and where it is (`x.max(dim, keepdim)`): values with
    /// node `MaxBackward0` and int64 indices. Ties go to the first index, a NaN wins.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]], requires_grad = true);
    /// let (values, indices) = x.max_dim(1, false);
    /// assert_eq!(values.to_string(), "tensor([5., 6.], grad_fn=<MaxBackward0>)");
    /// assert_eq!(indices.to_string(), "tensor([1, 1])");
    /// values.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([[0., 1., 0.],\n        [0., 1., 0.]])");
    /// ```
    pub fn max_dim(&self, dim: isize, keepdim: bool) -> (Tensor, Tensor) {
        self.extreme_dim(dim, keepdim, true)
    }

    /// The smallest value along `dim` and where it is (`x.min(dim, keepdim)`, `MinBackward0`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let (values, indices) = tensor!([[1., 5., 3.], [4., 6., 6.]]).min_dim(0, true);
    /// assert_eq!(values.to_string(), "tensor([[1., 5., 3.]])");
    /// assert_eq!(indices.to_string(), "tensor([[0, 0, 0]])");
    /// ```
    pub fn min_dim(&self, dim: isize, keepdim: bool) -> (Tensor, Tensor) {
        self.extreme_dim(dim, keepdim, false)
    }

    /// torch's argmax and argmin have no bool kernel.
    #[track_caller]
    fn check_arg_dtype(&self, largest: bool) {
        if self.dtype() == DType::Bool {
            let name = if largest { "argmax" } else { "argmin" };
            crate::raise!(NotImplementedError, "{name}(): does not support bool input");
        }
    }

    fn arg_all(&self, largest: bool) -> Tensor {
        self.check_arg_dtype(largest);
        if self.numel() == 0 {
            let name = if largest { "argmax" } else { "argmin" };
            crate::raise!(
                IndexError,
                "{name}(): Expected reduction dim to be specified for input.numel() == 0."
            );
        }
        let at = if self.dtype() == DType::Int64 {
            arg_extreme(&self.to_vec_i64(), largest)
        } else {
            arg_extreme(&self.to_vec_f64(), largest)
        };
        Tensor::from_i64(vec![at as i64], &[])
    }

    fn arg_dim(&self, dim: isize, keepdim: bool, largest: bool) -> Tensor {
        self.check_arg_dtype(largest);
        let shape = self.shape();
        let d = wrap_dim(dim, shape.len());
        if !shape.is_empty() && shape[d] == 0 {
            let name = if largest { "argmax" } else { "argmin" };
            crate::raise!(IndexError, "{name}(): Expected reduction dim {d} to have non-zero size.");
        }
        let picks = lane_extremes(self, &shape, d, largest).into_iter().map(|k| k as i64).collect();
        Tensor::from_i64(picks, &reduced_shape(&shape, d, keepdim))
    }

    /// Flat index of the largest element (`x.argmax()`), an int64 0-dim tensor.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// assert_eq!(tensor!([[1., 5., 3.], [4., 6., 6.]]).argmax().to_string(), "tensor(4)");
    /// ```
    pub fn argmax(&self) -> Tensor {
        self.arg_all(true)
    }

    /// Flat index of the smallest element (`x.argmin()`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// assert_eq!(tensor!([[1., 5., 3.], [4., 6., 6.]]).argmin().to_string(), "tensor(0)");
    /// ```
    pub fn argmin(&self) -> Tensor {
        self.arg_all(false)
    }

    /// Index of the largest element along `dim` (`x.argmax(dim, keepdim)`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// assert_eq!(tensor!([[1., 5., 3.], [4., 6., 6.]]).argmax_dim(1, false).to_string(), "tensor([1, 1])");
    /// ```
    pub fn argmax_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        self.arg_dim(dim, keepdim, true)
    }

    /// Index of the smallest element along `dim` (`x.argmin(dim, keepdim)`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// assert_eq!(tensor!([[1., 5., 3.], [4., 6., 6.]]).argmin_dim(0, true).to_string(), "tensor([[0, 0, 0]])");
    /// ```
    pub fn argmin_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        self.arg_dim(dim, keepdim, false)
    }

    /// Product of all elements (`x.prod()`, `ProdBackward0`); integers and bools give int64.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]], requires_grad = true);
    /// let p = x.prod();
    /// assert_eq!(p.to_string(), "tensor(2160., grad_fn=<ProdBackward0>)");
    /// p.backward();
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([[2160.,  432.,  720.],\n        [ 540.,  360.,  360.]])");
    /// ```
    pub fn prod(&self) -> Tensor {
        let out = product_lanes(self, &vec![true; self.dim()], &[]);
        let is_0dim = self.dim() == 0;
        // d prod(x) = prod(x) / x, or the product of the others where x has a zero
        record(
            out,
            "ProdBackward0",
            &[Some(self)],
            &["self", "result"],
            |out| vec![SavedTensor::input(self), SavedTensor::output(out)],
            move |s, g, _| {
                let (x, result) = (&s[0], &s[1]);
                if is_0dim {
                    return grads![Some(g.clone())];
                }
                let zeros = x.eq(0.0).to_vec_f64().iter().filter(|&&z| z != 0.0).count();
                let grad = if zeros == 0 {
                    g.mul(&result.div(x))
                } else if !crate::autograd::grad_mode::is_grad_enabled() && zeros > 1 {
                    crate::factory::zeros_like(x)
                } else {
                    g.mul(&others_product_any(x, &[x.numel()], 0))
                };
                grads![Some(grad)]
            },
        )
    }

    /// Product along `dim` (`x.prod(dim, keepdim)`, `ProdBackward1`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]], requires_grad = true);
    /// let p = x.prod_dim(1, false);
    /// assert_eq!(p.to_string(), "tensor([ 15., 144.], grad_fn=<ProdBackward1>)");
    /// ```
    pub fn prod_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        let shape = self.shape();
        let d = wrap_dim(dim, shape.len());
        let out_shape = reduced_shape(&shape, d, keepdim);
        let out = product_lanes(self, &only_dim(shape.len(), d), &out_shape);
        // d prod(x, dim) = prod / x, or the product of the others in the lane where it has a zero
        record(
            out,
            "ProdBackward1",
            &[Some(self)],
            &["self", "result"],
            |out| vec![SavedTensor::input(self), SavedTensor::output(out)],
            move |s, g, _| {
                let (x, result) = (&s[0], &s[1]);
                if shape.is_empty() {
                    return grads![Some(g.clone())];
                }
                let (g, result) = if keepdim {
                    (g.clone(), result.clone())
                } else {
                    (g.unsqueeze(d as isize), result.unsqueeze(d as isize))
                };
                let any_zero = x.eq(0.0).any();
                let grad =
                    if !any_zero { g.mul(&result.div(x)) } else { g.mul(&others_product_any(x, &shape, d)) };
                grads![Some(grad)]
            },
        )
    }

    fn spread(&self, take_sqrt: bool) -> Tensor {
        check_spread_dtype(self);
        let n = self.numel();
        // like torch: the mean in the tensor's dtype, the squared deviations summed in f64
        // in memory order
        let mean = crate::autograd::grad_mode::no_grad(|| self.mean()).item();
        let total = match self.dtype() {
            DType::Float64 => with_strided::<f64, _>(self, |data, offset, shape, strides| {
                squared_deviations(data, offset, shape, strides, mean)
            }),
            _ => with_strided::<f32, _>(self, |data, offset, shape, strides| {
                squared_deviations(data, offset, shape, strides, mean)
            }),
        };
        let dof = n as f64 - 1.0;
        if dof <= 0.0 {
            warn_no_dof(if take_sqrt { "std" } else { "var" });
        }
        let var = total / dof.max(0.0);
        scalar_of(if take_sqrt { var.sqrt() } else { var }, self.dtype())
    }

    fn spread_dim(&self, dim: isize, keepdim: bool, take_sqrt: bool) -> (Tensor, usize, Vec<usize>) {
        check_spread_dtype(self);
        let shape = self.shape();
        let d = wrap_dim(dim, shape.len());
        let count = lanes(&shape, d).1;
        let out_shape = reduced_shape(&shape, d, keepdim);
        if out_shape.iter().product::<usize>() == 1 && count > 0 {
            // one result: torch's all-reduce (`std_var_all_cpu`: the mean, then the squared
            // deviations), whatever the dim (`x.std(dim=-1)` of a 1-D x is `x.std()`)
            let all = crate::autograd::grad_mode::no_grad(|| self.spread(take_sqrt)).item();
            return (Tensor::from_buffer(Buffer::from_f64(vec![all], self.dtype()), &out_shape), d, shape);
        }
        if count <= 1 {
            warn_no_dof(if take_sqrt { "std" } else { "var" });
        }
        // torch reduces over a dim with Welford's running mean and squared deviation, in f64
        let values = reduce_lanes(&self.to_vec_f64(), &shape, d, |lane| {
            let (mut mean, mut m2) = (0.0, 0.0);
            for (k, &v) in lane.iter().enumerate() {
                let delta = v - mean;
                mean += delta / (k + 1) as f64;
                m2 += delta * (v - mean);
            }
            let var = m2 / (lane.len() as f64 - 1.0).max(0.0);
            if take_sqrt {
                var.sqrt()
            } else {
                var
            }
        });
        (Tensor::from_buffer(Buffer::from_f64(values, self.dtype()), &out_shape), d, shape)
    }

    /// Variance of all elements, unbiased (`x.var()`, torch's default correction=1, node
    /// `VarBackward0`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]], requires_grad = true);
    /// let v = x.var();
    /// assert_eq!(v.to_string(), "tensor(3.7667, grad_fn=<VarBackward0>)");
    /// v.backward();
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([[-1.2667,  0.3333, -0.4667],\n        [-0.0667,  0.7333,  0.7333]])");
    /// ```
    pub fn var(&self) -> Tensor {
        let out = self.spread(false);
        // d var(x) = 2 (x - mean) / (n - 1)
        record(
            out,
            "VarBackward0",
            &[Some(self)],
            &["self"],
            |_| Saved::one(SavedTensor::input(self)),
            |s, g, _| grads![Some(var_backward(g, &s[0], None))],
        )
    }

    /// Standard deviation of all elements, unbiased (`x.std()`, `StdBackward0`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]], requires_grad = true);
    /// assert_eq!(x.std().to_string(), "tensor(1.9408, grad_fn=<StdBackward0>)");
    /// ```
    pub fn std(&self) -> Tensor {
        let out = self.spread(true);
        // d std(x) = d var(x) / (2 std(x)), 0 where std(x) = 0
        record(
            out,
            "StdBackward0",
            &[Some(self)],
            &["self", "result"],
            |out| vec![SavedTensor::input(self), SavedTensor::output(out)],
            |s, g, _| grads![Some(var_backward(&std_to_var_grad(g, &s[1]), &s[0], None))],
        )
    }

    /// Variance along `dim`, unbiased (`x.var(dim, keepdim=...)`, `VarBackward0`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]]);
    /// assert_eq!(x.var_dim(0, true).to_string(), "tensor([[4.5000, 0.5000, 4.5000]])");
    /// ```
    pub fn var_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        let (out, d, shape) = self.spread_dim(dim, keepdim, false);
        record(
            out,
            "VarBackward0",
            &[Some(self)],
            &["self"],
            |_| Saved::one(SavedTensor::input(self)),
            move |s, g, _| {
                let g = if keepdim || shape.len() <= 1 { g.clone() } else { g.unsqueeze(d as isize) };
                grads![Some(var_backward(&g, &s[0], Some(d)))]
            },
        )
    }

    /// Standard deviation along `dim`, unbiased (`x.std(dim, keepdim=...)`, `StdBackward0`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]]);
    /// assert_eq!(x.std_dim(1, false).to_string(), "tensor([2.0000, 1.1547])");
    /// ```
    pub fn std_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        let (out, d, shape) = self.spread_dim(dim, keepdim, true);
        record(
            out,
            "StdBackward0",
            &[Some(self)],
            &["self", "result"],
            |out| vec![SavedTensor::input(self), SavedTensor::output(out)],
            move |s, g, _| {
                let grad_var = std_to_var_grad(g, &s[1]);
                let grad_var =
                    if keepdim || shape.len() <= 1 { grad_var } else { grad_var.unsqueeze(d as isize) };
                grads![Some(var_backward(&grad_var, &s[0], Some(d)))]
            },
        )
    }

    /// Running sum along `dim` (`x.cumsum(dim)`, `CumsumBackward0`); integers and bools
    /// give int64. Sums are accumulated in float64, like torch on the CPU.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]], requires_grad = true);
    /// let c = x.cumsum(1);
    /// assert_eq!(c.to_string(), "tensor([[ 1.,  6.,  9.],\n        [ 4., 10., 16.]], grad_fn=<CumsumBackward0>)");
    /// c.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([[3., 2., 1.],\n        [3., 2., 1.]])");
    /// ```
    pub fn cumsum(&self, dim: isize) -> Tensor {
        let shape = self.shape();
        let d = wrap_dim(dim, shape.len());
        let dtype = sum_dtype(self.dtype());
        let (outer, size, inner) = lanes(&shape, d);
        // a 0-dim tensor is copied as it is (torch: cumsum of tensor(-0.) is -0., of
        // tensor([-0.]) 0.: the sum starts from +0 only along a real dim)
        let outer = if shape.is_empty() { 0 } else { outer };
        let out = match dtype {
            DType::Int64 => Buffer::I64(with_slice(self, |v: &[i64]| {
                running_sums(v, outer, size, inner, 0i64, |x| x, |acc, x| acc.wrapping_add(x), |acc| acc)
            })),
            // float32 sums in float64 (torch's CPU accumulation type), rounded at each step
            DType::Float32 => Buffer::F32(with_slice(self, |v: &[f32]| {
                running_sums(v, outer, size, inner, 0.0f64, |x| x as f64, |acc, x| acc + x, |acc| acc as f32)
            })),
            _ => Buffer::F64(with_slice(self, |v: &[f64]| {
                running_sums(v, outer, size, inner, 0.0f64, |x| x, |acc, x| acc + x, |acc| acc)
            })),
        };
        let out = Tensor::from_buffer(out, &shape);
        // d cumsum(x)_k / d x_j = 1 for k >= j: the gradient summed from the end
        record(
            out,
            "CumsumBackward0",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| {
                if g.numel() <= 1 || size == 1 {
                    return grads![Some(g.clone())];
                }
                grads![Some(g.flip_dim(d).cumsum(d as isize).flip_dim(d))]
            },
        )
    }

    /// The elements in reverse order along `dim` (torch's `flip`, `FlipBackward0`).
    pub(crate) fn flip_dim(&self, dim: usize) -> Tensor {
        let shape = self.shape();
        // each block's slices along `dim` in reverse (a 0-dim tensor: its one element)
        let (_, size, _) = lanes(&shape, dim);
        let positions = super::gather::select_positions(&shape, dim, (0..size).rev().collect());
        let names = super::gather::TakeNames { take: "FlipBackward0", put: "FlipBackward0", adds: false };
        super::gather::take_op(self, std::sync::Arc::new(positions), &shape, names)
    }

    /// The p-norm of all elements, `(sum |x|^p)^(1/p)` (`x.norm(p)`, node
    /// `LinalgVectorNormBackward0`); `p` may be `f64::INFINITY` (largest `|x|`), `0` (count
    /// of nonzeros) or any other number.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]], requires_grad = true);
    /// let n = x.norm_p(1.0);
    /// assert_eq!(n.to_string(), "tensor(25., grad_fn=<LinalgVectorNormBackward0>)");
    /// n.backward();
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([[1., 1., 1.],\n        [1., 1., 1.]])");
    /// ```
    pub fn norm_p(&self, p: f64) -> Tensor {
        check_norm_dtype(self);
        let out = Tensor::from_buffer(norm_values(self, &vec![true; self.dim()], p), &[]);
        // d |x|_p, torch's norm_backward: by cases of p
        record(
            out,
            "LinalgVectorNormBackward0",
            &[Some(self)],
            &["self", "result"],
            |out| vec![SavedTensor::input(self), SavedTensor::output(out)],
            move |s, g, _| vec![norm_backward(g, &s[0], &s[1], p, None)],
        )
    }

    /// The p-norm along `dim` (`x.norm(p, dim, keepdim)`, `LinalgVectorNormBackward0`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]]);
    /// assert_eq!(x.norm_dim(2.0, 1, false).to_string(), "tensor([5.9161, 9.3808])");
    /// ```
    pub fn norm_dim(&self, p: f64, dim: isize, keepdim: bool) -> Tensor {
        check_norm_dtype(self);
        let shape = self.shape();
        let d = wrap_dim(dim, shape.len());
        let general_p = !(p == 0.0 || p == 1.0 || p == 2.0 || p.is_infinite());
        let out = if shape.is_empty() && general_p {
            // a 0-dim tensor along a dim: torch runs its p-norm steps on the one element,
            // (|x|^p)^(1/p) in float64 (`x.norm(p=3.0, dim=-1)` of tensor(4.) is
            // 3.9999999999999996), where the other reductions of one element give |x|
            let x = self.item().abs();
            Tensor::from_buffer(Buffer::from_f64(vec![x.powf(p).powf(1.0 / p)], self.dtype()), &[])
        } else {
            Tensor::from_buffer(
                norm_values(self, &only_dim(shape.len(), d), p),
                &reduced_shape(&shape, d, keepdim),
            )
        };
        record(
            out,
            "LinalgVectorNormBackward0",
            &[Some(self)],
            &["self", "result"],
            |out| vec![SavedTensor::input(self), SavedTensor::output(out)],
            move |s, g, _| {
                let (g, norm) = if keepdim || shape.is_empty() {
                    (g.clone(), s[1].clone())
                } else {
                    (g.unsqueeze(d as isize), s[1].unsqueeze(d as isize))
                };
                vec![norm_backward(&g, &s[0], &norm, p, Some(d))]
            },
        )
    }
}

/// Products over the dims where `reduce` is true, in the tensor's own dtype (int64 for
/// integers and bools), in torch's order (`reduce_loops::reduce_vec`).
fn product_lanes(t: &Tensor, reduce: &[bool], out_shape: &[usize]) -> Tensor {
    fn run<T: super::kernel::Element>(
        t: &Tensor,
        reduce: &[bool],
        one: T,
        mul: impl Fn(T, T) -> T + Sync,
    ) -> Vec<T> {
        with_strided(t, |data, offset, shape, strides| {
            // each output one run in memory (and more than one output, where `reduce_vec` would
            // split the one run between the threads): each run on one thread, in the order
            // `reduce_vec` takes it
            if let Some((starts, size)) =
                contiguous_lanes(shape, strides, offset, reduce).filter(|(starts, _)| starts.len() >= 2)
            {
                return super::parallel::map_units(starts.len(), size, true, |o| {
                    super::reduce_loops::inner_row(&data[starts[o]..][..size], one, &mul)
                });
            }
            reduce_vec(data, offset, shape, strides, reduce, one, mul)
        })
    }
    let buffer = match t.dtype() {
        DType::Float32 => Buffer::F32(run(t, reduce, 1.0, |a: f32, b: f32| a * b)),
        DType::Float64 => Buffer::F64(run(t, reduce, 1.0, |a: f64, b: f64| a * b)),
        _ => Buffer::I64(run(t, reduce, 1, |a: i64, b: i64| a.wrapping_mul(b))),
    };
    Tensor::from_buffer(buffer, out_shape)
}

/// For every element, the product of the other elements of its lane along `dim`, computed
/// like torch's `prod_safe_zeros_backward` (an exclusive running product from the left
/// times one from the right), so zeros are handled exactly. Values only: a teaching
/// simplification; torch's version is itself differentiable.
fn others_product(x: &Tensor, shape: &[usize], dim: usize) -> Tensor {
    let (outer, size, inner) = lanes(shape, dim);
    macro_rules! others {
        ($ty:ty) => {{
            let values = super::kernel::to_vec::<$ty>(x);
            let mut out = vec![0.0 as $ty; values.len()];
            for o in 0..outer {
                for i in 0..inner {
                    let at = |k: usize| (o * size + k) * inner + i;
                    let mut left = vec![1.0 as $ty; size];
                    for k in 1..size {
                        left[k] = left[k - 1] * values[at(k - 1)];
                    }
                    let mut right = vec![1.0 as $ty; size];
                    for k in (0..size.saturating_sub(1)).rev() {
                        right[k] = right[k + 1] * values[at(k + 1)];
                    }
                    for k in 0..size {
                        out[at(k)] = if size == 1 { 1.0 } else { left[k] * right[k] };
                    }
                }
            }
            out
        }};
    }
    let buffer = match x.dtype() {
        DType::Float32 => Buffer::F32(others!(f32)),
        _ => Buffer::F64(others!(f64)),
    };
    Tensor::from_buffer(buffer, &x.shape())
}

/// [`others_product`], or, when the backward itself is being recorded (`create_graph`), the
/// same products built from differentiable ops: each lane repeated once per element with
/// that element replaced by 1, then multiplied out (so second derivatives work with zeros).
fn others_product_any(x: &Tensor, shape: &[usize], dim: usize) -> Tensor {
    if !crate::autograd::grad_mode::is_grad_enabled() {
        return others_product(x, shape, dim);
    }
    let flat = x.reshape(shape.iter().map(|&s| s as isize).collect::<Vec<_>>());
    let n = shape[dim];
    let mut repeated: Vec<usize> = shape.to_vec();
    repeated.insert(dim, n);
    let lanes = flat.unsqueeze(dim as isize).expand(repeated);
    let mut mask_shape = vec![n as isize, n as isize];
    mask_shape.extend(std::iter::repeat_n(1, shape.len() - dim - 1));
    let mask = crate::factory::eye(n).eq(1.0).reshape(mask_shape);
    let one = crate::factory::ones_with(&[], crate::factory::TensorOptions::default().dtype(x.dtype()));
    let others = super::select::where_(&mask, &one, &lanes).prod_dim(dim as isize + 1, false);
    others.reshape(x.shape().iter().map(|&s| s as isize).collect::<Vec<_>>())
}

/// `grad / (2 std)`, 0 where the std is 0 (selected, never multiplied).
fn std_to_var_grad(g: &Tensor, std: &Tensor) -> Tensor {
    let zero = crate::factory::zeros_like(std);
    super::select::where_(&std.eq(0.0), &zero, &g.div(&std.mul(2.0)))
}

/// torch's `var_backward`: `(2 / (n - 1)) * grad * (x - mean)`, in that order; with no
/// degrees of freedom, NaN where x equals the mean and infinity elsewhere.
fn var_backward(g: &Tensor, x: &Tensor, dim: Option<usize>) -> Tensor {
    match dim {
        Some(d) if x.dim() > 0 => {
            let n = x.shape()[d] as f64;
            g.mul(2.0 / (n - 1.0)).mul(&x.sub(&x.mean_dim(d as isize, true)))
        }
        _ => {
            let dof = x.numel() as f64 - 1.0;
            if dof <= 0.0 {
                let mean = x.mean();
                let nan = crate::factory::full_with(
                    &x.shape(),
                    f64::NAN,
                    crate::factory::TensorOptions::default().dtype(x.dtype()),
                );
                let inf = crate::factory::full_with(
                    &x.shape(),
                    f64::INFINITY,
                    crate::factory::TensorOptions::default().dtype(x.dtype()),
                );
                g.mul(&super::select::where_(&x.eq(&mean), &nan, &inf))
            } else {
                g.mul(2.0 / dof).mul(&x.sub(&x.mean()))
            }
        }
    }
}

fn check_norm_dtype(t: &Tensor) {
    if !t.dtype().is_floating_point() {
        crate::raise!(
            NotImplementedError,
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {}",
            t.dtype().title()
        );
    }
}

/// `(sum |x|^p)^(1/p)` with torch's special cases for p = 0, 1, 2 and ±inf, summed in the
/// tensor's own dtype in torch's CPU order (measured against torch 2.15 bit for bit): for
/// p = 2 along the last (contiguous) dim, `W` running lanes of `x*x` (a 256-bit vector: 8
/// float32 or 4 float64), added up left to right, then the leftover elements one by one
/// (float32: the first four as plain products and adds, the rest fused; float64: fused);
/// every other p, and p = 2 over any other layout, one running sum in torch's order.
///
/// A lane of one element is not reduced at all: torch's `linalg_vector_norm` returns `|x|`
/// (`x != 0` for p = 0) when every reduced dim has size 1, so `(|x|^p)^(1/p)` never rounds.
fn vector_norm<T: super::kernel::FloatElement>(values: &[T], p: f64, lastdim: bool, only_output: bool) -> T {
    let zero = T::from_f64(0.0);
    if let [x] = values {
        return if p == 0.0 { T::from_f64(f64::from(u8::from(*x != zero))) } else { x.abs() };
    }
    if p == 2.0 {
        let n = values.len();
        let width = if T::DTYPE == DType::Float64 { 4 } else { 8 };
        if !lastdim {
            return split_sum(values, only_output, |acc, x| acc + x * x).sqrt();
        }
        // one running sum per vector lane (a fixed count, so the loop is a vector loop)
        fn lane_sums<T: super::kernel::FloatElement, const W: usize>(values: &[T]) -> T {
            let mut lanes = [T::from_f64(0.0); W];
            for chunk in values.chunks_exact(W) {
                for (acc, &x) in lanes.iter_mut().zip(chunk) {
                    *acc = *acc + x * x;
                }
            }
            lanes.iter().skip(1).fold(lanes[0], |acc, &v| acc + v)
        }
        let full = n - n % width;
        let mut total =
            if width == 4 { lane_sums::<T, 4>(&values[..full]) } else { lane_sums::<T, 8>(&values[..full]) };
        // the leftover loop as torch's compiler built it: float32 squares four at a time
        // (rounded, then added one by one) while four are left, the rest with a fused
        // multiply-add each; float64 fused throughout
        let plain = if T::DTYPE == DType::Float32 && n - full >= 4 { 4 } else { 0 };
        for (k, &x) in values[full..].iter().enumerate() {
            total = if k < plain { total + x * x } else { x.mul_add(x, total) };
        }
        total.sqrt()
    } else if p == 1.0 {
        split_sum(values, only_output, |acc, x| acc + x.abs())
    } else if p == 0.0 {
        T::from_f64(values.iter().filter(|&&v| v != zero).count() as f64)
    } else if p.is_infinite() {
        let largest = p > 0.0;
        let start = if largest { zero } else { T::infinity() };
        values.iter().fold(start, |m, &v| {
            let a = v.abs();
            if m.is_nan() || a.is_nan() {
                T::nan()
            } else if largest {
                m.max(a)
            } else {
                m.min(a)
            }
        })
    } else {
        let e = T::from_f64(p);
        split_sum(values, only_output, |acc, x| acc + x.abs().powf(e)).powf(T::from_f64(1.0 / p))
    }
}

/// `binary_kernel_reduce`'s running sum of `step` over one output's values: from zero, in
/// order; the only output's lane of at least 32768 values split over the threads as torch's
/// `parallel_for` parts, each summed from zero, the parts' sums then added to zero one after
/// another (with several outputs torch shares the outputs out instead, each lane in one run).
fn split_sum<T: super::kernel::FloatElement>(values: &[T], only_output: bool, step: impl Fn(T, T) -> T) -> T {
    let zero = T::from_f64(0.0);
    let run = |part: &[T]| part.iter().fold(zero, |acc, &x| step(acc, x));
    match only_output.then(|| super::parallel::torch_split(values.len())).flatten() {
        Some(parts) => {
            parts.into_iter().map(|part| run(&values[part])).fold(zero, |total, part| total + part)
        }
        None => run(values),
    }
}

/// The p-norm over the dims where `reduce` is true, in the tensor's dtype, each output's
/// values taken in torch's order (`reduce_loops`).
fn norm_values(t: &Tensor, reduce: &[bool], p: f64) -> Buffer {
    fn run<T: super::kernel::FloatElement>(t: &Tensor, reduce: &[bool], p: f64) -> Vec<T> {
        with_strided(t, |data: &[T], offset, shape, strides| {
            if let Some((starts, size)) = contiguous_lanes(shape, strides, offset, reduce) {
                // each lane one run in memory (torch's "last dim" loop): read where it is
                let only_output = starts.len() == 1;
                return starts
                    .iter()
                    .map(|&s| vector_norm(&data[s..s + size], p, true, only_output))
                    .collect();
            }
            let lanes = reduced_lanes(data, offset, shape, strides, reduce);
            let only_output = lanes.len() == 1;
            lanes.iter().map(|lane| vector_norm(lane, p, false, only_output)).collect()
        })
    }
    match t.dtype() {
        DType::Float64 => Buffer::F64(run::<f64>(t, reduce, p)),
        _ => Buffer::F32(run::<f32>(t, reduce, p)),
    }
}

/// torch's `norm_backward` (FunctionsManual.cpp), case by case, in its operation order.
/// `norm` and `g` already have the reduced dim re-inserted.
fn norm_backward(g: &Tensor, x: &Tensor, norm: &Tensor, p: f64, dim: Option<usize>) -> Option<Tensor> {
    let zero_where =
        |t: Tensor, cond: &Tensor| super::select::where_(cond, &crate::factory::zeros_like(&t), &t);
    if p == 0.0 {
        None
    } else if p == 1.0 {
        Some(x.sign().mul(g))
    } else if p == 2.0 {
        // torch: grad * (self / norm).masked_fill_(norm == 0, 0)
        Some(g.mul(&x.div(norm).masked_fill(&norm.eq(0.0), 0.0)))
    } else if p.is_infinite() {
        let abs = x.abs();
        let mask = abs.eq(norm).logical_or_nan(&abs.isnan());
        let count = match dim {
            Some(d) if x.dim() > 0 => mask.to_dtype(g.dtype()).sum_dim(d, true),
            _ => mask.to_dtype(g.dtype()).sum(),
        };
        Some(x.sign().mul(&g.div(&count).mul(&mask.to_dtype(g.dtype()))))
    } else if p < 1.0 {
        let scaled = x.sign().mul(&zero_where(x.abs().pow(p - 1.0), &x.eq(0.0)));
        Some(scaled.mul(g).mul(&norm.pow(1.0 - p)))
    } else if p < 2.0 {
        let scaled = x.sign().mul(&x.abs().pow(p - 1.0));
        let scale = zero_where(g.div(&norm.pow(p - 1.0)), &norm.eq(0.0));
        Some(scaled.mul(&scale))
    } else {
        let scaled = x.mul(&x.abs().pow(p - 2.0));
        let scale = zero_where(g.div(&norm.pow(p - 1.0)), &norm.eq(0.0));
        Some(scaled.mul(&scale))
    }
}

impl Tensor {
    /// Elementwise `a or b` of two bool tensors (internal).
    fn logical_or_nan(&self, other: &Tensor) -> Tensor {
        let (a, b) = (super::kernel::to_vec::<bool>(self), super::kernel::to_vec::<bool>(other));
        Tensor::from_bools(a.iter().zip(&b).map(|(&x, &y)| x || y).collect(), &self.shape())
    }
}

#[cfg(test)]
mod tests {
    use super::{arg_extreme, extreme_value, reduce_lanes};

    /// Lanes reduced on the threads come back in order, each reduced over its own values in
    /// their order: along a contiguous last dim and along a strided first dim, big enough to
    /// be shared out, on one thread and on two.
    #[test]
    fn lanes_on_the_threads_are_each_reduced_in_order() {
        let values: Vec<f64> = (0..70_000).map(|i| ((i * 7919) % 1013) as f64 * 0.37 - 150.0).collect();
        // order-sensitive: a different order (or a lane's values mixed up) gives other bits
        let reduce = |lane: &[f64]| lane.iter().fold(0.1, |acc, &v| acc * 0.75 + v / 3.0);
        for (shape, dim) in [([70, 1000], 1), ([70, 1000], 0)] {
            let (rows, cols) = (shape[0], shape[1]);
            let expected: Vec<u64> = if dim == 1 {
                (0..rows).map(|r| reduce(&values[r * cols..][..cols]).to_bits()).collect()
            } else {
                (0..cols)
                    .map(|c| reduce(&(0..rows).map(|r| values[r * cols + c]).collect::<Vec<_>>()).to_bits())
                    .collect()
            };
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let got = pool.install(|| reduce_lanes(&values, &shape, dim, reduce));
                let got: Vec<u64> = got.iter().map(|v| v.to_bits()).collect();
                assert!(got == expected, "dim {dim}, {threads} threads");
            }
        }
    }

    /// `prod` along the last dim of a contiguous tensor, its rows shared out among the threads,
    /// has the bits of `reduce_vec` over the whole tensor (torch's loop: blocks of four
    /// vectors per row, then the tail): rows shorter than a block, with a tail, long, on
    /// one thread and on two, float32, float64 and int64, and rows of a narrowed view.
    #[test]
    fn products_of_rows_on_the_threads_are_reduce_vec_s() {
        use crate::prelude::*;
        for (rows, size) in [(3, 5), (40, 33), (70, 1000), (2, 70_000)] {
            let n = rows * size;
            let v32: Vec<f32> = (0..n).map(|i| 1.0 + (((i * 7919) % 1013) as f32 - 506.0) / 4000.0).collect();
            let v64: Vec<f64> = v32.iter().map(|&v| v as f64 * 1.0001).collect();
            let vi: Vec<i64> = (0..n).map(|i| (i % 7) as i64 - 3).collect();
            let shape = [rows, size];
            let strides = [size, 1];
            let reduce = [false, true];
            let e32 = super::reduce_vec(&v32, 0, &shape, &strides, &reduce, 1.0f32, |a, b| a * b);
            let e64 = super::reduce_vec(&v64, 0, &shape, &strides, &reduce, 1.0f64, |a, b| a * b);
            let ei = super::reduce_vec(&vi, 0, &shape, &strides, &reduce, 1i64, i64::wrapping_mul);
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| {
                    let p32 = Tensor::from_f32(v32.clone(), &shape).prod_dim(1, false).to_vec_f32();
                    let p64 = Tensor::from_vec(v64.clone(), &shape, DType::Float64)
                        .prod_dim(-1, false)
                        .to_vec_f64();
                    let pi = Tensor::from_i64(vi.clone(), &shape).prod_dim(1, false).to_vec_i64();
                    let bits32: Vec<u32> = p32.iter().map(|v| v.to_bits()).collect();
                    let bits64: Vec<u64> = p64.iter().map(|v| v.to_bits()).collect();
                    assert!(
                        bits32 == e32.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        "{rows}x{size}, {threads}"
                    );
                    assert!(
                        bits64 == e64.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        "{rows}x{size}, {threads}"
                    );
                    assert_eq!(pi, ei);
                    // rows that are not next to each other: columns 2..size + 2 of a wider tensor
                    let wide: Vec<f32> = (0..rows * (size + 4)).map(|i| v32[(i * 31) % n]).collect();
                    let expected =
                        super::reduce_vec(&wide, 2, &shape, &[size + 4, 1], &reduce, 1.0f32, |a, b| a * b);
                    let narrowed = Tensor::from_f32(wide.clone(), &[rows, size + 4]).narrow(1, 2, size);
                    let got: Vec<u32> =
                        narrowed.prod_dim(1, false).to_vec_f32().iter().map(|v| v.to_bits()).collect();
                    assert!(
                        got == expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        "narrowed {rows}x{size}"
                    );
                });
            }
        }
    }

    /// torch's rule written one element at a time: the first NaN wins, else the first strict
    /// extreme (ties, `-0.` with `0.` too, to the lowest index).
    fn arg_one_by_one(lane: &[f64], largest: bool) -> usize {
        let mut best = 0;
        for (k, &v) in lane.iter().enumerate().skip(1) {
            let b = lane[best];
            if b.is_nan() {
                break;
            }
            if v.is_nan() || (largest && v > b) || (!largest && v < b) {
                best = k;
            }
        }
        best
    }

    /// Lanes of every length up to 70 (inside and past the sixteen running extremes) with
    /// ties, zeros of both signs and NaNs in every position.
    fn lanes() -> Vec<Vec<f64>> {
        let pool = [1.0, -1.0, 0.0, -0.0, 2.5, 2.5, -3.0, f64::NAN, 7.0, -7.0, f64::INFINITY];
        let mut state = 7u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        (1..70)
            .flat_map(|n| (0..12).map(move |_| n))
            .map(|n| {
                let nan_allowed = next() % 3 == 0;
                (0..n)
                    .map(|_| loop {
                        let v = pool[next() % pool.len()];
                        if nan_allowed || !v.is_nan() {
                            break v;
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn positions_of_extremes_follow_torchs_rule() {
        for lane in lanes() {
            for largest in [true, false] {
                assert_eq!(arg_extreme(&lane, largest), arg_one_by_one(&lane, largest), "{lane:?} {largest}");
                let as_f32: Vec<f32> = lane.iter().map(|&v| v as f32).collect();
                assert_eq!(
                    arg_extreme(&as_f32, largest),
                    arg_one_by_one(&lane, largest),
                    "{lane:?} {largest}"
                );
            }
        }
    }

    #[test]
    fn extremes_are_nan_or_the_strict_extreme() {
        for lane in lanes() {
            for largest in [true, false] {
                let got = extreme_value(&lane, largest);
                let expected = lane[arg_one_by_one(&lane, largest)];
                if expected.is_nan() {
                    assert!(got.is_nan(), "{lane:?} {largest}");
                } else {
                    // which zero wins a tie is `tied_zero`'s (torch's vector loop), tested
                    // through the conformance fixtures
                    assert_eq!(got, expected, "{lane:?} {largest}");
                }
            }
        }
    }
}
