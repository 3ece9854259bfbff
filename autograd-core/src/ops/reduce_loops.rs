//! torch's generic CPU reduction loops, for the reductions whose order is not `sum`'s
//! cascade: `prod` runs `binary_kernel_reduce_vec` (four vector accumulators along a
//! contiguous reduced dim, one running product otherwise), the p-norms `binary_kernel_reduce`
//! (one running value per output, in the iteration order) or, for p = 2 along one contiguous
//! reduced dim, their own vectorised loop (`reduce.rs`). Both walk the tensor as its
//! `TensorIterator` lays it out (`reduce_layout`): for a transposed, permuted or expanded
//! input that is memory order, not the order of the values as printed, and the rounding
//! follows it.
//!
//! Vectors are 256 bits wide here (8 float32 or 4 float64 lanes), as measured for `prod`
//! against torch 2.15 on AVX-512 machines too (like `sum_order`).

use super::kernel::Element;
use super::reduce_layout::{reduction_dims, two_d_loops, two_d_steps, Dim};
use crate::tensor::Tensor;

/// `f(data, offset, shape, strides)` on the tensor's own storage when it holds `T`, else on
/// a contiguous copy of its values.
pub(crate) fn with_strided<T: Element, R>(
    t: &Tensor,
    f: impl FnOnce(&[T], usize, &[usize], &[usize]) -> R,
) -> R {
    t.with_data(|d| {
        let buffer = d.storage.read();
        match T::slice(&buffer) {
            Some(all) => f(all, d.layout.offset, &d.layout.shape, &d.layout.strides),
            None => {
                drop(buffer);
                let shape = d.layout.shape.to_vec();
                let strides = crate::layout::contiguous_strides(&shape);
                f(&super::kernel::to_vec::<T>(t), 0, &shape, &strides)
            }
        }
    })
}

/// The number of outputs of reducing `shape` over `reduce`.
fn out_len(shape: &[usize], reduce: &[bool]) -> usize {
    shape.iter().zip(reduce).filter(|(_, &r)| !r).map(|(&s, _)| s).product()
}

/// The lanes of a 256-bit vector for an element of `size_of::<T>()` bytes.
fn lanes<T>() -> usize {
    32 / std::mem::size_of::<T>()
}

/// torch's `binary_kernel_reduce_vec` with `op` (associative in exact arithmetic, not in
/// floats) and its identity: the reductions of `data[offset + Σ index·stride]` over the dims
/// where `reduce` is true, row-major over the kept dims.
pub(crate) fn reduce_vec<T: Copy>(
    data: &[T],
    offset: usize,
    shape: &[usize],
    strides: &[usize],
    reduce: &[bool],
    identity: T,
    op: impl Fn(T, T) -> T,
) -> Vec<T> {
    let mut out = vec![identity; out_len(shape, reduce)];
    if shape.contains(&0) {
        return out;
    }
    let dims = reduction_dims(shape, strides, reduce);
    let split = if out.len() == 1 { super::parallel::torch_split(shape.iter().product()) } else { None };
    if let Some(parts) = split {
        // `parallel_reduce`'s two passes: each thread's part of the iteration into its own
        // slot (from the identity), then the slots reduced as a row into the output
        let mut slots: Vec<T> = parts
            .into_iter()
            .map(|range| {
                let mut acc = [identity];
                two_d_steps(&dims, offset, range, |in_base, _, d0, d1| {
                    loop_2d_vec(data, &mut acc, in_base, 0, d0, d1, &op)
                });
                acc[0]
            })
            .collect();
        // one slot per thread, those without a part left at the identity
        slots.resize(super::parallel::torch_threads().max(slots.len()), identity);
        return reduce_vec(&slots, 0, &[slots.len()], &[1], &[true], identity, op);
    }
    two_d_loops(&dims, offset, |in_base, out_base, d0, d1| {
        loop_2d_vec(data, &mut out, in_base, out_base, d0, d1, &op)
    });
    out
}

/// torch's `vectorized_inner_reduction` of one contiguous row into `init`: the row in blocks
/// of four vectors (one accumulator each), the vectors combined pairwise, their lanes left
/// to right, then the row's tail one element at a time.
pub(crate) fn inner_row<T: Copy>(row: &[T], init: T, op: &impl Fn(T, T) -> T) -> T {
    let w = lanes::<T>();
    let block = 4 * w;
    let count = row.len() / block;
    let mut o = init;
    if count > 0 {
        // four vectors of 256 bits: 128 values at most (of a one-byte T)
        let mut acc = [row[0]; 128];
        let acc = &mut acc[..block];
        acc.copy_from_slice(&row[..block]);
        for chunk in row[block..count * block].chunks_exact(block) {
            for (a, &x) in acc.iter_mut().zip(chunk) {
                *a = op(*a, x);
            }
        }
        let pair = |v: usize, u: usize, l: usize| op(acc[v * w + l], acc[u * w + l]);
        let mut lanes = op(pair(0, 1, 0), pair(2, 3, 0));
        for l in 1..w {
            lanes = op(lanes, op(pair(0, 1, l), pair(2, 3, l)));
        }
        o = op(o, lanes);
    }
    for &x in &row[count * block..] {
        o = op(o, x);
    }
    o
}

/// One 2-D step of `binary_kernel_reduce_vec` (`d0` inner), into `out` at `out_base`.
fn loop_2d_vec<T: Copy>(
    data: &[T],
    out: &mut [T],
    in_base: usize,
    out_base: usize,
    d0: Dim,
    d1: Dim,
    op: &impl Fn(T, T) -> T,
) {
    let w = lanes::<T>();
    let block = 4 * w;
    let at = |i: usize, j: usize| data[in_base + i * d0.input + j * d1.input];
    if d0.out == 0 && d0.input == 1 {
        // `vectorized_inner_reduction`, row by row
        for j in 0..d1.size {
            let row = &data[in_base + j * d1.input..][..d0.size];
            let o = &mut out[out_base + j * d1.out];
            *o = inner_row(row, *o, op);
        }
    } else if d0.out == 0 && d1.out == 1 && d1.input == 1 {
        // `vectorized_outer_reduction`: columns four vectors at a time, each down its
        // column from the first row, then into the output; the other columns one by one
        let grouped = d1.size / block * block;
        for j in 0..grouped {
            let column = (1..d0.size).fold(at(0, j), |acc, i| op(acc, at(i, j)));
            out[out_base + j] = op(column, out[out_base + j]);
        }
        for j in grouped..d1.size {
            for i in 0..d0.size {
                out[out_base + j] = op(out[out_base + j], at(i, j));
            }
        }
    } else {
        // `basic_loop`: one element at a time into its output
        for j in 0..d1.size {
            for i in 0..d0.size {
                let o = &mut out[out_base + i * d0.out + j * d1.out];
                *o = op(*o, at(i, j));
            }
        }
    }
}

/// The values reduced into each output (row-major over the kept dims), each in the order
/// torch's `binary_kernel_reduce` meets them, copied out (torch's p-norm "last dim" case,
/// where each lane is one run in memory, is read in place: `contiguous_lanes`).
pub(crate) fn reduced_lanes<T: Copy>(
    data: &[T],
    offset: usize,
    shape: &[usize],
    strides: &[usize],
    reduce: &[bool],
) -> Vec<Vec<T>> {
    let lane_len: usize = shape.iter().zip(reduce).filter(|(_, &r)| r).map(|(&s, _)| s).product();
    let mut lanes: Vec<Vec<T>> = (0..out_len(shape, reduce)).map(|_| Vec::with_capacity(lane_len)).collect();
    if shape.contains(&0) {
        return lanes;
    }
    let dims = reduction_dims(shape, strides, reduce);
    two_d_loops(&dims, offset, |in_base, out_base, d0, d1| {
        for j in 0..d1.size {
            let (start, lane) = (in_base + j * d1.input, out_base + j * d1.out);
            if d0.out == 0 && d0.input == 1 {
                // a run of one lane, next to each other in memory
                lanes[lane].extend_from_slice(&data[start..start + d0.size]);
            } else {
                for i in 0..d0.size {
                    lanes[lane + i * d0.out].push(data[start + i * d0.input]);
                }
            }
        }
    });
    lanes
}

/// Where each output's values start (row-major over the kept dims) when every output reduces
/// one run of `size` elements next to each other in memory — torch's p-norm then takes its
/// vectorised "last dim" loop (`is_reduce_lastdim`: one reduced dim, innermost, contiguous),
/// over the same values in the same order as `reduced_lanes` gives them: `Some((starts,
/// size))`, else None.
pub(crate) fn contiguous_lanes(
    shape: &[usize],
    strides: &[usize],
    offset: usize,
    reduce: &[bool],
) -> Option<(Vec<usize>, usize)> {
    if shape.contains(&0) {
        return None;
    }
    let dims = reduction_dims(shape, strides, reduce);
    let last_dim = dims.iter().filter(|d| d.out == 0).count() == 1 && dims[0].out == 0 && dims[0].input == 1;
    if !last_dim {
        return None;
    }
    let mut starts = vec![0; out_len(shape, reduce)];
    two_d_loops(&dims, offset, |in_base, out_base, d0, d1| {
        for j in 0..d1.size {
            starts[out_base + j * d1.out] = in_base + j * d1.input;
        }
        debug_assert_eq!(d0.out, 0);
    });
    Some((starts, dims[0].size))
}

/// `sum((x - mean)^2)` in float64 as torch's `std_var_all_cpu` adds it up: over the tensor
/// as a one-input `TensorIterator` lays it out (memory order), each 2-D block of it summed
/// from zero and then added to its thread's total, and those added up.
pub(crate) fn squared_deviations<T: Copy + Into<f64> + Sync>(
    data: &[T],
    offset: usize,
    shape: &[usize],
    strides: &[usize],
    mean: f64,
) -> f64 {
    if shape.contains(&0) {
        return 0.0;
    }
    // with every dim "reduced" the output strides are all 0: the dims order by the input's
    let dims = reduction_dims(shape, strides, &vec![true; shape.len()]);
    // `parallel_reduce`: one part per thread from 32768 elements on, each part's total from
    // zero, the totals added to zero in thread order
    let numel: usize = shape.iter().product();
    let parts = super::parallel::torch_split(numel).unwrap_or_else(|| std::iter::once(0..numel).collect());
    // (each part on a thread of its own here too: the same adds in the same order)
    let totals = super::parallel::map_ranges(&parts, |range| {
        let mut part = 0.0;
        two_d_steps(&dims, offset, range, |in_base, _, d0, d1| {
            let mut block = 0.0;
            for j in 0..d1.size {
                for i in 0..d0.size {
                    let dx = data[in_base + i * d0.input + j * d1.input].into() - mean;
                    block += dx * dx;
                }
            }
            part += block;
        });
        part
    });
    totals.iter().fold(0.0, |total, &part| total + part)
}
