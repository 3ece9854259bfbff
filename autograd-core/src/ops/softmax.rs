//! `softmax` and `log_softmax` along a dim, computed like torch's CPU kernels: subtract the
//! lane's maximum first (so large inputs do not overflow), exponentiate, normalise.
//!
//! The values are torch's to the last bit: its kernels (AVX512 here: 16 float32 or 8 float64
//! lanes; measured, the sums of a row come out of 512-bit registers)
//! exponentiate with SLEEF's vectorized exp and take the log with SLEEF's log
//! (`transcendental::sleef_*`), except the leftover positions of the kernels that finish
//! with a scalar loop, which call the C library's `exp`; sums and maxima along the last dim
//! are `vec::reduce_all`'s: lane-wise over whole vectors, the tail into the first lanes, then
//! the lanes folded together. Along another dim every position is reduced on its own, in
//! order. (Above 32768 elements torch splits the work between threads; where a split falls
//! inside a run of positions, the exp torch uses there can differ.)

use std::ops::Range;

use super::kernel::{as_slots, filled, with_fma, with_slice, FloatElement, PARALLEL_CHUNK, PARALLEL_MIN};
use super::reduce::lanes;
use super::shape::wrap_dim;
use super::transcendental::{widest_build, TorchMath};
use super::vector_lanes::Lanes;
use crate::autograd::record::{record, Saved};
use crate::autograd::saved::SavedTensor;
use crate::dtype::DType;
use crate::storage::Buffer;
use crate::tensor::Tensor;

/// A float type with its lane count in the vectors of torch's softmax kernels (AVX512).
trait SoftmaxFloat: FloatElement + TorchMath {
    const LANES: usize;
}

impl SoftmaxFloat for f32 {
    const LANES: usize = 16;
}

impl SoftmaxFloat for f64 {
    const LANES: usize = 8;
}

/// `vec::maximum`: NaN if either is NaN, else `_mm256_max_ps` (the second on a tie, so
/// `max(-0, +0)` is `+0`).
#[inline(always)]
fn vmax<T: SoftmaxFloat>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        T::nan()
    } else if a > b {
        a
    } else {
        b
    }
}

/// torch's `vec::map_reduce_all(map, op, data)` (and `reduce_all` with `map` the identity):
/// fewer elements than a vector are folded in order; otherwise the lanes accumulate whole
/// vectors, the tail goes into the first lanes, and the lanes are folded (`fold_lanes`).
#[inline(always)]
fn reduce_all<T: SoftmaxFloat>(data: &[T], map: impl Fn(T) -> T, op: impl Fn(T, T) -> T) -> T {
    let w = T::LANES;
    let n = data.len();
    if n < w {
        return data[1..].iter().fold(map(data[0]), |acc, &x| op(acc, map(x)));
    }
    let mut acc = [T::from_f64(0.0); 16];
    for (a, &x) in acc.iter_mut().zip(&data[..w]) {
        *a = map(x);
    }
    let full = n - n % w;
    for chunk in data[w..full].chunks_exact(w) {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a = op(*a, map(x));
        }
    }
    for (a, &x) in acc.iter_mut().zip(&data[full..]) {
        *a = op(*a, map(x));
    }
    fold_lanes(&mut acc[..w], op)
}

/// `vec_reduce_all` of one register: float32 by shuffles, each lane combined with the lane
/// 8, 4, 2, then 1 away (lane 0 ends up `((0 8)(4 12))((2 10)(6 14))` with the odd lanes
/// likewise); float64 (no shuffle version) lane by lane in order.
#[inline(always)]
fn fold_lanes<T: SoftmaxFloat>(acc: &mut [T], op: impl Fn(T, T) -> T) -> T {
    let w = acc.len();
    if std::mem::size_of::<T>() == 8 {
        return acc[1..].iter().fold(acc[0], |a, &b| op(a, b));
    }
    // the register before each step, on the stack (a vector per step was four allocations
    // per row of a float32 softmax)
    let mut before = [T::from_f64(0.0); 16];
    let mut d = w / 2;
    while d >= 1 {
        before[..w].copy_from_slice(acc);
        for (i, a) in acc.iter_mut().enumerate() {
            *a = op(before[i], before[i ^ d]);
        }
        d /= 2;
    }
    acc[0]
}

/// `exp` of each of `x` into `out`: torch's vectorized exp, or the C library's in a kernel's
/// scalar tail.
#[inline(always)]
fn exp_into<T: SoftmaxFloat>(vectorized: bool, x: &[T], out: &mut [T]) {
    if vectorized {
        // SAFETY: the slice function writes initialized values only
        T::vec_exp_slice(x, unsafe { as_slots(out) });
    } else {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = v.scalar_exp();
        }
    }
}

/// Along the last dim (torch's `_vec_log_softmax_lastdim` / `_vec_softmax_lastdim`): every
/// element through the vectorized exp (partial vectors included). `scratch` is a row long.
///
/// The row's loops are ones the compiler vectorizes itself; built for SSE only they were a
/// third of a 1000x1000 softmax forward and backward, so both last-dim row functions run in
/// the widest build the CPU has (`widest_build!`). Only the width of the registers changes:
/// each operation stays the same IEEE operation (Rust fuses no multiply and add on its own,
/// and `reduce_all` keeps its lanes explicitly), so every build gives the same bits.
fn lastdim_forward<T: SoftmaxFloat>(x: &[T], out: &mut [T], scratch: &mut [T], log: bool) {
    widest_build!(lastdim_forward_body<T: SoftmaxFloat>(x: &[T], out: &mut [T], scratch: &mut [T], log: bool))
}

#[inline(always)]
fn lastdim_forward_body<T: SoftmaxFloat>(x: &[T], out: &mut [T], scratch: &mut [T], log: bool) {
    let max = reduce_all(x, |v| v, vmax);
    for (d, &v) in scratch.iter_mut().zip(x) {
        *d = v - max;
    }
    if log {
        exp_into(true, scratch, out);
        let sum = reduce_all(out, |v| v, |a, b| a + b);
        let log_sum = sum.vec_log();
        for (o, &v) in out.iter_mut().zip(x) {
            *o = v - max - log_sum;
        }
    } else {
        exp_into(true, scratch, out);
        let sum = reduce_all(out, |v| v, |a, b| a + b);
        let scale = T::from_f64(1.0) / sum;
        for o in out.iter_mut() {
            *o = *o * scale;
        }
    }
}

/// A vector of `len` elements (whole rows of `size`) made by `work(scratch, r, out_row)` for
/// every row `r`, on all cores when the tensor is large, whole rows per task; `scratch` is a
/// row-long buffer of the task's, and each row is zeroed by its task just before `work`
/// (not the whole vector by one thread first: three such fills were a sixth of a 1M-element
/// softmax forward and backward). Each row is computed the same way wherever it runs: the
/// bits do not depend on the split.
fn by_rows<T: SoftmaxFloat>(
    len: usize,
    size: usize,
    work: impl Fn(&mut [T], usize, &mut [T]) + Sync + Send,
) -> Vec<T> {
    assert!(size > 0 && len.is_multiple_of(size), "whole rows");
    let zero = T::from_f64(0.0);
    let scratch = || vec![zero; size];
    let mut out: Vec<T> = Vec::with_capacity(len);
    let rows = &mut out.spare_capacity_mut()[..len];
    if len >= PARALLEL_MIN && len > size {
        // whole rows per part, about `PARALLEL_CHUNK` elements each
        let rows_per_part = (PARALLEL_CHUNK / size).max(1);
        super::parallel::for_each_part(rows, rows_per_part * size, |start, part| {
            let mut s = scratch();
            for (k, row) in part.chunks_exact_mut(size).enumerate() {
                work(&mut s, start / size + k, filled(row, zero));
            }
        });
    } else {
        let mut s = scratch();
        rows.chunks_exact_mut(size).enumerate().for_each(|(r, row)| work(&mut s, r, filled(row, zero)));
    }
    // SAFETY: `filled` wrote every row, and the rows cover all `len` slots (`size` divides
    // `len`); a panic in `work` leaves the length 0
    unsafe { out.set_len(len) };
    out
}

/// torch's chunk of inner positions in `_vec_logsoftmax` and `_vec_log_softmax_backward`:
/// 128 KiB of a chunk's column, a whole number of vectors; the last `size % lanes`
/// positions of each chunk are the kernel's scalar tail.
fn chunked_vector_position<T: SoftmaxFloat>(j: usize, inner: usize, dim_size: usize) -> bool {
    let w = T::LANES;
    let max_chunk = (131072 / dim_size.max(1) / std::mem::size_of::<T>()).max(w) / w * w;
    let chunk = max_chunk.min(inner);
    let start = j / chunk * chunk;
    let size = chunk.min(inner - start);
    j - start < size - size % w
}

/// Which of `_vec_softmax`'s `positions` (outer index times `inner` plus inner index) it
/// computes in vectors of `w`: torch splits the positions over all its threads however few
/// there are (grain 1), and each thread steps through its own range, a whole vector where
/// one fits in both the row and the range, else one position at a time to the end of the
/// row or of the range.
fn softmax_vector_positions(positions: usize, inner: usize, w: usize) -> Vec<bool> {
    let mut vector = vec![false; positions];
    for range in
        super::parallel::torch_parallel_parts_with_grain(positions, 1, crate::ops::parallel::torch_threads())
    {
        let mut idx = range.start;
        while idx < range.end {
            let inner_idx = idx % inner;
            if inner_idx + w <= inner && idx + w <= range.end {
                vector[idx..idx + w].fill(true);
                idx += w;
            } else {
                idx += (range.end - idx).min(inner - inner_idx);
            }
        }
    }
    vector
}

fn softmax_values<T: SoftmaxFloat>(values: &[T], shape: &[usize], dim: usize, log: bool) -> Vec<T> {
    let (outer, size, inner) = lanes(shape, dim);
    if size == 0 || values.is_empty() {
        return vec![T::from_f64(0.0); values.len()];
    }
    if shape.is_empty() || dim + 1 == shape.len() {
        // rows are independent: on both cores for a large tensor, whole rows per task
        return by_rows(values.len(), size, |scratch, r, o| {
            lastdim_forward(&values[r * size..][..size], o, scratch, log)
        });
    }
    // Each lane (`size` values `inner` apart) gets torch's steps in torch's order; the lanes
    // of one block go side by side, a row of them at a time, so memory is read in order (one
    // lane at a time, gathering a column, a 1000x1000 softmax over dim 0 took 12 times
    // torch's time). Every element is written below.
    let mut out = vec![T::from_f64(0.0); values.len()];
    let zero = T::from_f64(0.0);
    let (mut max, mut sum, mut shifted) = (vec![zero; inner], vec![zero; inner], vec![zero; inner]);
    let vector_at = if log { Vec::new() } else { softmax_vector_positions(outer * inner, inner, T::LANES) };
    let log_flags: Vec<bool> = if log {
        (0..inner).map(|j| chunked_vector_position::<T>(j, inner, size)).collect()
    } else {
        Vec::new()
    };
    for o in 0..outer {
        let block = &values[o * size * inner..(o + 1) * size * inner];
        let out_block = &mut out[o * size * inner..(o + 1) * size * inner];
        let flags = if log { &log_flags[..] } else { &vector_at[o * inner..(o + 1) * inner] };
        let runs = Lanes::Flags(flags.to_vec()).segments(0, inner);
        let buffers = (&mut max[..], &mut sum[..], &mut shifted[..]);
        lanes_block(block, out_block, flags, &runs, buffers, log);
    }
    out
}

/// One block of `softmax_values` along a dim that is not the last: `block` is `size` rows of
/// `inner` lanes, `flags` says which lanes torch computes a vector at a time (`runs` are
/// their runs), and `max`, `sum`, `shifted` are a row long. Compiled for the widest vector
/// build, as the last-dim rows are (`lastdim_forward`): the same IEEE operations.
fn lanes_block<T: SoftmaxFloat>(
    block: &[T],
    out: &mut [T],
    flags: &[bool],
    runs: &[(Range<usize>, bool)],
    buffers: (&mut [T], &mut [T], &mut [T]),
    log: bool,
) {
    widest_build!(lanes_block_body<T: SoftmaxFloat>(
        block: &[T],
        out: &mut [T],
        flags: &[bool],
        runs: &[(Range<usize>, bool)],
        buffers: (&mut [T], &mut [T], &mut [T]),
        log: bool
    ))
}

#[inline(always)]
fn lanes_block_body<T: SoftmaxFloat>(
    block: &[T],
    out: &mut [T],
    flags: &[bool],
    runs: &[(Range<usize>, bool)],
    (max, sum, shifted): (&mut [T], &mut [T], &mut [T]),
    log: bool,
) {
    let inner = max.len();
    let zero = T::from_f64(0.0);
    let rows = || block.chunks_exact(inner);
    if log {
        // `_vec_logsoftmax`: max from -inf by `x > max`, the sum in order, the vectorized
        // log everywhere
        max.fill(T::neg_infinity());
        for row in rows() {
            for (m, &v) in max.iter_mut().zip(row) {
                *m = if v > *m { v } else { *m };
            }
        }
    } else {
        // `_vec_softmax`: whole vectors of positions, then a scalar loop (`std::max`,
        // `std::exp`) for the positions left in the row or in the thread's range
        max.copy_from_slice(&block[..inner]);
        for row in rows().skip(1) {
            for ((m, &v), &vector) in max.iter_mut().zip(row).zip(flags) {
                *m = if vector {
                    vmax(*m, v)
                } else if *m < v {
                    v
                } else {
                    *m
                };
            }
        }
    }
    sum.fill(zero);
    for (row, out_row) in rows().zip(out.chunks_exact_mut(inner)) {
        for ((d, &v), &m) in shifted.iter_mut().zip(row).zip(max.iter()) {
            *d = v - m;
        }
        for (run, vector) in runs {
            exp_into(*vector, &shifted[run.clone()], &mut out_row[run.clone()]);
        }
        for (acc, &e) in sum.iter_mut().zip(out_row.iter()) {
            *acc = *acc + e;
        }
    }
    if log {
        for s in sum.iter_mut() {
            *s = s.vec_log();
        }
        for (row, out_row) in rows().zip(out.chunks_exact_mut(inner)) {
            for (((o, &v), &m), &l) in out_row.iter_mut().zip(row).zip(max.iter()).zip(sum.iter()) {
                *o = v - m - l;
            }
        }
    } else {
        for out_row in out.chunks_exact_mut(inner) {
            for (o, &s) in out_row.iter_mut().zip(sum.iter()) {
                *o = *o / s;
            }
        }
    }
}

/// The gradient of softmax (`y * (g - sum(g * y))`) or log_softmax (`g - exp(y) * sum(g)`)
/// along `dim`, as torch's fused CPU kernels compute it: along the last dim the sums are
/// `reduce_all`'s and exp is the vectorized one; along another dim each position sums in
/// order and the chunk tails use the C library's exp. `g - exp(y) * sum` rounds once (the
/// compiler fuses it into a multiply-add), and so does each `sum + g * y` along another dim
/// (measured; along the last dim the products are rounded first). Used when no graph of the
/// backward is needed.
fn backward_values<T: SoftmaxFloat>(g: &[T], y: &[T], shape: &[usize], dim: usize, log: bool) -> Vec<T> {
    let (outer, size, inner) = lanes(shape, dim);
    if size == 0 || g.is_empty() {
        return vec![T::from_f64(0.0); g.len()];
    }
    if shape.is_empty() || dim + 1 == shape.len() {
        return by_rows(g.len(), size, |e, r, o| {
            lastdim_backward(&g[r * size..][..size], &y[r * size..][..size], e, o, log)
        });
    }
    let mut out = vec![T::from_f64(0.0); g.len()];
    let mut e = vec![T::from_f64(0.0); size];
    let mut column = vec![T::from_f64(0.0); size];
    for o in 0..outer {
        for j in 0..inner {
            let at = |k: usize| (o * size + k) * inner + j;
            if log {
                let sum = (0..size).fold(T::from_f64(0.0), |acc, k| acc + g[at(k)]);
                for (k, c) in column.iter_mut().enumerate() {
                    *c = y[at(k)];
                }
                exp_into(chunked_vector_position::<T>(j, inner, size), &column, &mut e);
                with_fma(|| {
                    for (k, &ek) in e.iter().enumerate() {
                        out[at(k)] = (-ek).mul_add(sum, g[at(k)]);
                    }
                });
            } else {
                let sum =
                    with_fma(|| (0..size).fold(T::from_f64(0.0), |acc, k| g[at(k)].mul_add(y[at(k)], acc)));
                for k in 0..size {
                    out[at(k)] = y[at(k)] * (g[at(k)] - sum);
                }
            }
        }
    }
    out
}

/// One row of `backward_values` along the last dim: `gs` and `ys` the row's gradient and
/// output, `e` a row of scratch, `o` the row's result (in the widest build, as
/// `lastdim_forward`).
fn lastdim_backward<T: SoftmaxFloat>(gs: &[T], ys: &[T], e: &mut [T], o: &mut [T], log: bool) {
    widest_build!(lastdim_backward_body<T: SoftmaxFloat>(gs: &[T], ys: &[T], e: &mut [T], o: &mut [T], log: bool))
}

#[inline(always)]
fn lastdim_backward_body<T: SoftmaxFloat>(gs: &[T], ys: &[T], e: &mut [T], o: &mut [T], log: bool) {
    if log {
        let sum = reduce_all(gs, |v| v, |a, b| a + b);
        exp_into(true, ys, e);
        for ((o, &gk), &ek) in o.iter_mut().zip(gs).zip(e.iter()) {
            *o = (-ek).mul_add(sum, gk);
        }
    } else {
        // `map2_reduce_all`: the products rounded, then summed like `reduce_all`
        for ((p, &a), &b) in e.iter_mut().zip(gs).zip(ys) {
            *p = a * b;
        }
        let sum = reduce_all(e, |v| v, |a, b| a + b);
        for ((o, &gk), &yk) in o.iter_mut().zip(gs).zip(ys) {
            *o = (gk - sum) * yk;
        }
    }
}

fn fused_backward(g: &Tensor, y: &Tensor, dim: usize, log: bool) -> Tensor {
    let shape = y.shape();
    let buffer = match y.dtype() {
        DType::Float64 => Buffer::F64(with_slice(g, |gs: &[f64]| {
            with_slice(y, |ys: &[f64]| backward_values(gs, ys, &shape, dim, log))
        })),
        _ => Buffer::F32(with_slice(g, |gs: &[f32]| {
            with_slice(y, |ys: &[f32]| backward_values(gs, ys, &shape, dim, log))
        })),
    };
    Tensor::from_buffer(buffer, &shape)
}

fn check_dtype(t: &Tensor, kernel: &str) {
    if !t.dtype().is_floating_point() {
        crate::raise!(
            NotImplementedError,
            "\"{kernel}_lastdim_kernel_impl\" not implemented for '{}'",
            t.dtype().title()
        );
    }
}

fn forward(t: &Tensor, dim: usize, log: bool) -> Tensor {
    let shape = t.shape();
    let buffer = match t.dtype() {
        DType::Float64 => Buffer::F64(with_slice(t, |s: &[f64]| softmax_values(s, &shape, dim, log))),
        _ => Buffer::F32(with_slice(t, |s: &[f32]| softmax_values(s, &shape, dim, log))),
    };
    Tensor::from_buffer(buffer, &shape)
}

impl Tensor {
    /// `x.softmax(dim)`: `exp(x) / sum(exp(x))` along `dim`, computed as `exp(x - max)` over
    /// its sum (node `SoftmaxBackward0`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]], requires_grad = true);
    /// let s = x.softmax(1);
    /// assert_eq!(s.to_string(), "tensor([[0.0159, 0.8668, 0.1173],\n        [0.0634, 0.4683, 0.4683]], grad_fn=<SoftmaxBackward0>)");
    /// ```
    pub fn softmax(&self, dim: isize) -> Tensor {
        check_dtype(self, "softmax");
        let d = wrap_dim(dim, self.dim());
        let out = forward(self, d, false);
        // d softmax = y * (grad - sum(grad * y)) along dim
        record(
            out,
            "SoftmaxBackward0",
            &[Some(self)],
            &["result"],
            |out| Saved::one(SavedTensor::output(out)),
            move |s, g, _| {
                let y = &s[0];
                if !crate::autograd::grad_mode::is_grad_enabled() {
                    return vec![Some(fused_backward(g, y, d, false))];
                }
                let dot = if y.dim() == 0 { g.mul(y) } else { g.mul(y).sum_dim(d, true) };
                vec![Some(y.mul(&g.sub(&dot)))]
            },
        )
    }

    /// `x.log_softmax(dim)`: `x - max - log(sum(exp(x - max)))` along `dim` (node
    /// `LogSoftmaxBackward0`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]], requires_grad = true);
    /// let s = x.log_softmax(-1);
    /// assert_eq!(s.to_string(), "tensor([[-4.1429, -0.1429, -2.1429],\n        [-2.7586, -0.7586, -0.7586]], grad_fn=<LogSoftmaxBackward0>)");
    /// ```
    pub fn log_softmax(&self, dim: isize) -> Tensor {
        check_dtype(self, "log_softmax");
        let d = wrap_dim(dim, self.dim());
        let out = forward(self, d, true);
        // d log_softmax = grad - exp(y) * sum(grad) along dim
        record(
            out,
            "LogSoftmaxBackward0",
            &[Some(self)],
            &["result"],
            |out| Saved::one(SavedTensor::output(out)),
            move |s, g, _| {
                let y = &s[0];
                if !crate::autograd::grad_mode::is_grad_enabled() {
                    return vec![Some(fused_backward(g, y, d, true))];
                }
                let total = if y.dim() == 0 { g.clone() } else { g.sum_dim(d, true) };
                vec![Some(g.sub(&y.exp().mul(&total)))]
            },
        )
    }
}
