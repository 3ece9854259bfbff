//! Floating-point sums added up in the order torch's CPU kernel adds them, so that a float32
//! `sum`/`mean` (and every gradient that undoes broadcasting) agrees with torch to the last
//! bit, not only to the printed digits.
//!
//! torch sums float32 in float32 (and float64 in float64), not in a wider type. Its reduction
//! first lays the tensor out as its `TensorIterator` does — reduced dims innermost, ordered by
//! the input's strides, neighbouring dims merged when they are one run in memory — and then
//! walks it two dims at a time. Each 2-D step picks one of four loops (contiguous reduced dim:
//! SIMD lanes along it; contiguous kept dim: SIMD lanes across it; otherwise scalar loops), and
//! every loop sums with four interleaved accumulators and a four-level cascade (a partial sum
//! is carried up a level every 16 rows), which keeps the rounding error small. The result is
//! written as `out = 0`, then `out += partial` for each partial sum, in loop order.
//!
//! A SIMD register is modelled as `LANES` independent scalar accumulators: a vector add is a
//! lane-wise float add, so the bits are the same. `LANES` is 256 bits' worth: 8 float32 or 4
//! float64 lanes. Measured: on this project's machines torch reports the `AVX512` capability,
//! yet its sums match 256-bit registers and not 512-bit ones (`tests/sum_order.rs`).
//!
//! A sum of everything over at least 32768 elements is split by torch over its threads
//! (`two_pass_reduction`): each thread sums its part of the iteration, then the parts are
//! added; so it is here, over torch's thread count on this machine (`parallel::torch_threads`).
//! A sum over some dims of such a tensor splits the kept dims: each output stays one
//! thread's, in the single-thread order.

use std::ops::{Add, Deref, DerefMut};

use super::kernel::{wide_build, PARALLEL_MIN};
use super::reduce_layout::{reduction_dims, two_d_loops, two_d_steps, Dim};

/// An element type summed in its own precision, with torch's SIMD width for it (integers are
/// exact in any order; they share the loops for the shapes).
pub(crate) trait SumElement: Copy + Add<Output = Self> + PartialEq + Send + Sync {
    const ZERO: Self;
    const LANES: usize;
}

impl SumElement for f32 {
    const ZERO: f32 = 0.0;
    const LANES: usize = 8;
}

impl SumElement for f64 {
    const ZERO: f64 = 0.0;
    const LANES: usize = 4;
}

impl SumElement for i64 {
    const ZERO: i64 = 0;
    const LANES: usize = 4;
}

/// Accumulators summed side by side in `row_sum` (torch's `ilp_factor`).
const ILP: usize = 4;
/// Levels of the cascade in `multi_row_sum`.
const LEVELS: usize = 4;

/// The most sums carried side by side: `ILP` vectors of float32 lanes.
const MAX_CHAINS: usize = ILP * 8;

/// Up to `MAX_CHAINS` running sums, on the stack: a 1000x1000 `sum(dim)` runs the cascade
/// once per row or column group, and with its levels on the heap the allocations cost more
/// than the adds.
#[derive(Clone, Copy)]
struct Chains<T> {
    len: usize,
    sums: [T; MAX_CHAINS],
}

impl<T: SumElement> Chains<T> {
    fn zeros(len: usize) -> Self {
        assert!(len <= MAX_CHAINS, "{len} chains: at most {MAX_CHAINS}");
        Chains { len, sums: [T::ZERO; MAX_CHAINS] }
    }
}

impl<T> Deref for Chains<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.sums[..self.len]
    }
}

impl<T> DerefMut for Chains<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.sums[..self.len]
    }
}

/// torch's `CeilLog2` (`utils.h`): 1 for 0, 1 and 2.
fn ceil_log2(x: usize) -> usize {
    if x <= 2 {
        1
    } else {
        (usize::BITS - (x - 1).leading_zeros()) as usize
    }
}

/// Where a cascade's rows come from: `add_stretches(stretches, sums)` adds the rows
/// `first..first + count` of each stretch `(first, count)`, one row after the other, into
/// `sums` (one `Chains` per stretch, from zero). A source may sum the stretches side by side
/// (independent chains of adds in flight: a short cascade is bound by the latency of its adds)
/// and in one call of a vector build.
trait Rows<T>: Sync {
    fn add_stretches(&self, stretches: &[(usize, usize)], sums: &mut [Chains<T>]);
}

/// Rows added by a closure `f(first, count, acc)`, one stretch after the other.
struct ByClosure<F>(F);

impl<T: SumElement, F: Fn(usize, usize, &mut [T]) + Sync> Rows<T> for ByClosure<F> {
    fn add_stretches(&self, stretches: &[(usize, usize)], sums: &mut [Chains<T>]) {
        for (&(first, count), sum) in stretches.iter().zip(sums) {
            (self.0)(first, count, sum)
        }
    }
}

/// Rows of as many elements as there are chains, in memory, row `i` at `start + i * stride`: a
/// contiguous reduced dim's blocks for `row_sum`'s four interleaved accumulators (`stride` =
/// the width), or a group of columns of a sum over a contiguous kept dim.
struct Strided<'a, T> {
    data: &'a [T],
    start: usize,
    stride: usize,
}

impl<T: SumElement> Rows<T> for Strided<'_, T> {
    fn add_stretches(&self, stretches: &[(usize, usize)], sums: &mut [Chains<T>]) {
        add_rows_of(self, stretches, sums)
    }
}

/// `chains` independent sums over `size` rows, with torch's cascade: every `2^level_power`
/// rows a level's partial sums are carried into the next level (`multi_row_sum`).
/// `add_row(i, acc)` adds row `i` of every chain into `acc` (one slot per chain).
fn multi_row_sum<T: SumElement>(
    chains: usize,
    size: usize,
    add_row: &(impl Fn(usize, &mut [T]) + Sync),
) -> Chains<T> {
    let add_rows = |first, count, acc: &mut [T]| {
        for i in first..first + count {
            add_row(i, acc)
        }
    };
    multi_row_sum_by(chains, size, &ByClosure(add_rows), true)
}

/// `multi_row_sum` with the rows from `rows`, a whole step of the cascade at a time (the
/// source can keep the accumulators in registers across the rows).
///
/// Long sums are cut where the cascade carries into its top level: every block of
/// `2^(level_power * (LEVELS - 1))` rows starts with the lower levels at zero and hands the
/// top level one partial sum, so if `parallel` (the tests compare both ways) the blocks are
/// summed on all cores and their partials then added into the top level in order, as the
/// single loop adds them: the same bits.
fn multi_row_sum_by<T: SumElement>(
    chains: usize,
    size: usize,
    rows: &impl Rows<T>,
    parallel: bool,
) -> Chains<T> {
    let level_power = (ceil_log2(size) / LEVELS).max(4);
    let mut acc = [Chains::zeros(chains); LEVELS];
    let block = 1usize << (level_power * (LEVELS - 1));
    let blocks = size / block;
    let mut i = 0;
    if parallel && blocks >= 2 && chains * block * blocks >= PARALLEL_MIN {
        let mut partials = vec![Chains::zeros(chains); blocks];
        super::parallel::for_each_part(&mut partials, 1, |b, slot| {
            // the levels under the top one, from zero: the block's last carry leaves its
            // partial sum in the highest of them
            let mut lower = [Chains::zeros(chains); LEVELS - 1];
            cascade(&mut lower, level_power, b * block, (b + 1) * block, rows);
            slot[0] = lower[LEVELS - 2];
        });
        for partial in &partials {
            for (a, &p) in acc[LEVELS - 1].iter_mut().zip(partial.iter()) {
                *a = *a + p;
            }
        }
        i = blocks * block;
    }
    cascade(&mut acc, level_power, i, size, rows);
    let (first, rest) = acc.split_at_mut(1);
    for level in rest.iter() {
        add_into(&mut first[0], level);
    }
    acc[0]
}

/// Stretches of rows summed in one call of `Rows::add_stretches`.
const BATCH: usize = 8;

/// Rows `from..to` in whole steps of `2^level_power` rows, each step added into level 0 and
/// then carried up `levels` as torch's cascade carries it (by the absolute row number), then
/// the rows left (fewer than a step) added into level 0.
///
/// Level 0 is zero whenever a step starts (the carry empties it), so each step, and the rows
/// left, is a chain of adds from zero of its own: up to `BATCH` of them are summed at once
/// (`Rows::add_stretches`) and then put in place one after the other, with the same bits as
/// one after the other from the start.
fn cascade<T: SumElement>(
    levels: &mut [Chains<T>],
    level_power: usize,
    from: usize,
    to: usize,
    rows: &impl Rows<T>,
) {
    let level_step = 1usize << level_power;
    let level_mask = level_step - 1;
    debug_assert!(levels[0].iter().all(|&x| x == T::ZERO), "level 0 starts empty");
    let chains = levels[0].len();
    // a whole step's sum ending at row `i` into level 1 (as level 0 filled, then carried up
    // and emptied), and the carries above it
    let carry = |levels: &mut [Chains<T>], sum: &Chains<T>, i: usize| {
        for (a, &b) in levels[1].iter_mut().zip(sum.iter()) {
            *a = *a + b;
        }
        for j in 1..levels.len() {
            if i & (level_mask << (j * level_power)) != 0 {
                break;
            }
            if j + 1 < levels.len() {
                let (lower, upper) = levels.split_at_mut(j + 1);
                for (a, b) in upper[0].iter_mut().zip(lower[j].iter_mut()) {
                    *a = *a + *b;
                    *b = T::ZERO;
                }
            }
        }
    };
    let mut i = from;
    while i < to {
        // up to BATCH stretches from `i`: whole steps, then the rest
        let mut stretches = [(0usize, 0usize); BATCH];
        let mut n = 0;
        let mut at = i;
        while n < BATCH && at < to {
            let count = level_step.min(to - at);
            stretches[n] = (at, count);
            n += 1;
            at += count;
        }
        let mut sums = [Chains::zeros(chains); BATCH];
        rows.add_stretches(&stretches[..n], &mut sums[..n]);
        for (&(first, count), sum) in stretches[..n].iter().zip(&sums) {
            if count == level_step {
                carry(levels, sum, first + count);
            } else {
                // the rows left: level 0 is zero, and a sum from zero is never -0
                levels[0] = *sum;
            }
        }
        i = at;
    }
}

/// `chains` sums over `size` rows, each split into four interleaved accumulators that are
/// cascaded, then the leftover rows, then the four folded together (`row_sum`).
fn row_sum<T: SumElement>(
    chains: usize,
    size: usize,
    add_row: &(impl Fn(usize, &mut [T]) + Sync),
) -> Chains<T> {
    let interleaved = |first, count, acc: &mut [T]| {
        for i in first..first + count {
            for (k, part) in acc.chunks_mut(chains).enumerate() {
                add_row(i * ILP + k, part);
            }
        }
    };
    row_sum_by(chains, size, add_row, &ByClosure(interleaved))
}

/// `row_sum` with `interleaved` doing for rows `first..first + count` what the four
/// interleaved accumulators do: row `i` of the `k`-th goes into `acc[k * chains..][..chains]`
/// as `add_row(i * ILP + k, ..)` would add it.
fn row_sum_by<T: SumElement>(
    chains: usize,
    size: usize,
    add_row: &(impl Fn(usize, &mut [T]) + Sync),
    interleaved: &impl Rows<T>,
) -> Chains<T> {
    let size_ilp = size / ILP;
    let partial = multi_row_sum_by(ILP * chains, size_ilp, interleaved, true);
    let mut sums = Chains::zeros(chains);
    sums.copy_from_slice(&partial[..chains]);
    for i in size_ilp * ILP..size {
        add_row(i, &mut sums);
    }
    for part in partial.chunks(chains).skip(1) {
        add_into(&mut sums, part);
    }
    sums
}

/// `sums[s][l] += rows.data[rows.start + r * rows.stride + l]` for the rows `r` of each
/// stretch `s` in turn, two stretches at a time side by side. For the widths of four vectors
/// (32 float32 or 16 float64/int64 lanes) the sums are held in registers across the rows
/// (through memory, a 1M-element float32 `sum` was latency-bound on reloading its
/// accumulators), in one call of a build for the widest vectors the CPU has. Each lane gets
/// the same adds in the same order either way, so the bits do not change. (Plain `for`
/// loops: an iterator's `for_each` or `fold` may be a function of its own, built without the
/// vector instructions.)
fn add_rows_of<T: SumElement>(rows: &Strided<'_, T>, stretches: &[(usize, usize)], sums: &mut [Chains<T>]) {
    #[inline(always)]
    fn in_registers<T: SumElement, const W: usize>(
        rows: &Strided<'_, T>,
        stretches: &[(usize, usize)],
        sums: &mut [Chains<T>],
    ) {
        let row = |i: usize| -> &[T; W] {
            rows.data[rows.start + i * rows.stride..][..W].try_into().expect("W values")
        };
        let add = |sums: &mut [T; W], row: &[T; W]| {
            for (s, &x) in sums.iter_mut().zip(row) {
                *s = *s + x;
            }
        };
        let load = |sum: &Chains<T>| -> [T; W] { sum[..W].try_into().expect("W chains") };
        let mut k = 0;
        while k < stretches.len() {
            let (first, count) = stretches[k];
            let mut a = load(&sums[k]);
            if k + 1 == stretches.len() {
                for r in 0..count {
                    add(&mut a, row(first + r));
                }
                sums[k][..W].copy_from_slice(&a);
                break;
            }
            let (first_b, count_b) = stretches[k + 1];
            let mut b = load(&sums[k + 1]);
            let both = count.min(count_b);
            for r in 0..both {
                add(&mut a, row(first + r));
                add(&mut b, row(first_b + r));
            }
            for r in both..count {
                add(&mut a, row(first + r));
            }
            for r in both..count_b {
                add(&mut b, row(first_b + r));
            }
            sums[k][..W].copy_from_slice(&a);
            sums[k + 1][..W].copy_from_slice(&b);
            k += 2;
        }
    }
    #[inline(always)]
    fn width_32<T: SumElement>(rows: &Strided<'_, T>, stretches: &[(usize, usize)], sums: &mut [Chains<T>]) {
        in_registers::<T, 32>(rows, stretches, sums)
    }
    #[inline(always)]
    fn width_16<T: SumElement>(rows: &Strided<'_, T>, stretches: &[(usize, usize)], sums: &mut [Chains<T>]) {
        in_registers::<T, 16>(rows, stretches, sums)
    }
    match sums.first().map_or(0, |s| s.len()) {
        32 => {
            wide_build!(width_32(rows: &Strided<'_, T>, stretches: &[(usize, usize)], sums: &mut [Chains<T>]) for [T: SumElement])
        }
        16 => {
            wide_build!(width_16(rows: &Strided<'_, T>, stretches: &[(usize, usize)], sums: &mut [Chains<T>]) for [T: SumElement])
        }
        _ => {
            for (&(first, count), sum) in stretches.iter().zip(sums) {
                let width = sum.len();
                for i in first..first + count {
                    add_into(sum, &rows.data[rows.start + i * rows.stride..][..width]);
                }
            }
        }
    }
}

/// `acc[c] += values[c]` for every chain (lane-wise, so each chain keeps its own order).
/// Eight chains at a time with a fixed length, which the compiler turns into vector adds;
/// every chain still gets the same adds in the same order, so the bits do not change.
#[inline]
fn add_into<T: SumElement>(acc: &mut [T], values: &[T]) {
    let n = acc.len().min(values.len());
    let (acc, values) = (&mut acc[..n], &values[..n]);
    let mut acc_blocks = acc.chunks_exact_mut(8);
    let mut value_blocks = values.chunks_exact(8);
    for (a, v) in (&mut acc_blocks).zip(&mut value_blocks) {
        let (a, v): (&mut [T; 8], &[T; 8]) = (a.try_into().expect("8"), v.try_into().expect("8"));
        for k in 0..8 {
            a[k] = a[k] + v[k];
        }
    }
    for (a, &v) in acc_blocks.into_remainder().iter_mut().zip(value_blocks.remainder()) {
        *a = *a + v;
    }
}

/// The sums of the tensor `data[offset + Σ index·stride]` (shape `shape`, strides in
/// elements) over the dims where `reduce` is true, in row-major order of the kept dims.
pub(crate) fn torch_sum<T: SumElement>(
    data: &[T],
    offset: usize,
    shape: &[usize],
    strides: &[usize],
    reduce: &[bool],
) -> Vec<T> {
    let out_shape: Vec<usize> = shape.iter().zip(reduce).filter(|(_, &r)| !r).map(|(&s, _)| s).collect();
    let out_len: usize = out_shape.iter().product();
    if shape.contains(&0) {
        return vec![T::ZERO; out_len];
    }
    let dims = reduction_dims(shape, strides, reduce);
    let split = if out_len == 1 { super::parallel::torch_split(shape.iter().product()) } else { None };
    if let Some(parts) = split {
        // torch's `two_pass_reduction`: each thread sums its part of the iteration into its
        // own slot (from zero), then the slots are summed as a row; the parts summed on as
        // many threads here (each its own adds in its own order: the same bits)
        let mut slots: Vec<T> = super::parallel::map_ranges(&parts, |range| {
            let cell = std::cell::Cell::new(T::ZERO);
            let store = |_: usize, value: T| cell.set(cell.get() + value);
            two_d_steps(&dims, offset, range, |in_base, _, d0, d1| {
                loop_2d(data, in_base, 0, d0, d1, false, &store)
            });
            cell.get()
        });
        // one slot per thread, those without a part left at zero
        slots.resize(super::parallel::torch_threads().max(slots.len()), T::ZERO);
        return torch_sum(&slots, 0, &[slots.len()], &[1], &[true]);
    }
    // torch fills the output with zeros, then adds every partial sum into it
    let out_cells = vec![std::cell::Cell::new(T::ZERO); out_len];
    let store = |position: usize, value: T| {
        let cell = &out_cells[position];
        cell.set(cell.get() + value);
    };
    two_d_loops(&dims, offset, |in_base, out_base, d0, d1| {
        loop_2d(data, in_base, out_base, d0, d1, true, &store)
    });
    out_cells.into_iter().map(|c| c.get()).collect()
}

/// `vectorized_elements` for a tensor that is one run in memory (row-major, size-1 dims
/// aside): the first `Some(k)` elements are vectorized (whole blocks), the rest the tail.
/// `None` for any other layout.
pub(crate) fn vectorized_prefix(shape: &[usize], strides: &[usize], block: usize) -> Option<usize> {
    let n: usize = shape.iter().product();
    let row_major = crate::layout::contiguous_strides(shape);
    (0..shape.len()).all(|d| shape[d] == 1 || strides[d] == row_major[d]).then_some(n / block * block)
}

/// Which elements of a unary op's input (flags in row-major order) torch's `cpu_kernel_vec`
/// computes with its vectorized function; the others go through its scalar function.
///
/// TensorIterator orders the dims by the input's strides (the new output is laid out in
/// that order), merges the dims that are one run in memory, and runs its 2-D loop over the
/// inner runs. A run whose input is contiguous (or one broadcast value) is computed `block`
/// elements at a time and its last
/// `len % block` elements one by one; a strided run is computed one by one throughout.
/// (`block` is two vectors of the kernel's width: 32 float32 or 16 float64 with AVX512.)
/// Past 32768 elements torch splits the iteration between its threads
/// (`parallel::torch_split`), and each thread's part starts its runs afresh.
pub(crate) fn vectorized_elements(shape: &[usize], strides: &[usize], block: usize) -> Vec<bool> {
    let n: usize = shape.iter().product();
    if n == 0 {
        return Vec::new();
    }
    let row_major = crate::layout::contiguous_strides(shape);
    // (one run in memory is `vector_lanes::unary`'s, as ranges: every layout walks here)
    let parts: Vec<std::ops::Range<usize>> =
        super::parallel::torch_split(n).unwrap_or_else(|| std::iter::once(0..n).collect());
    // (size, input stride, row-major stride), innermost first, size-1 dims dropped
    let mut dims: Vec<(usize, usize, usize)> = (0..shape.len())
        .rev()
        .filter(|&d| shape[d] != 1)
        .map(|d| (shape[d], strides[d], row_major[d]))
        .collect();
    // `reorder_dimensions` with the input as the only operand that decides: smaller strides
    // inner, broadcast dims undecided, equal strides put the smaller size inner
    let should_swap = |a: (usize, usize, usize), b: (usize, usize, usize)| -> i32 {
        if a.1 == 0 || b.1 == 0 {
            return 0;
        }
        match a.1.cmp(&b.1) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Greater => 1,
            std::cmp::Ordering::Equal => (a.0 > b.0) as i32,
        }
    };
    for i in 1..dims.len() {
        let mut dim1 = i;
        for dim0 in (0..i).rev() {
            match should_swap(dims[dim0], dims[dim1]) {
                c if c > 0 => {
                    dims.swap(dim0, dim1);
                    dim1 = dim0;
                }
                c if c < 0 => break,
                _ => {}
            }
        }
    }
    // the inner run: dims merge while the input stays one run (the output always is)
    let inner_stride = dims.first().map_or(1, |d| d.1);
    let mut run = dims.first().map_or(1, |d| d.0);
    for d in dims.iter().skip(1) {
        if run * inner_stride != d.1 {
            break;
        }
        run *= d.0;
    }
    // walk the elements in iteration order, innermost dim fastest: each piece of a run inside
    // one thread's part goes `block` elements at a time, then one by one
    let mut flags = vec![false; n];
    let mut index = vec![0usize; dims.len()];
    let mut at = 0usize;
    let (mut part, mut run_start) = (0, 0);
    for p in 0..n {
        if p == run_start + run {
            run_start = p;
        }
        while p >= parts[part].end {
            part += 1;
        }
        let (start, end) = (run_start.max(parts[part].start), (run_start + run).min(parts[part].end));
        flags[at] = inner_stride <= 1 && p - start < (end - start) / block * block;
        for (k, d) in dims.iter().enumerate() {
            index[k] += 1;
            at += d.2;
            if index[k] < d.0 {
                break;
            }
            at -= d.2 * d.0;
            index[k] = 0;
        }
    }
    flags
}

/// torch's 2-D loop of `cascade_sum` over `d0` (inner) and `d1`, adding each partial sum into
/// the output with `store(position, value)`. Where its rows (or groups of columns) are
/// summed apart from each other, they may be summed on all cores if `parallel`.
fn loop_2d<T: SumElement>(
    data: &[T],
    in_base: usize,
    out_base: usize,
    d0: Dim,
    d1: Dim,
    parallel: bool,
    store: &impl Fn(usize, T),
) {
    // the reduced dim first
    let (d0, d1) = if d0.out != 0 && d1.out == 0 { (d1, d0) } else { (d0, d1) };
    let at = |i: usize, j: usize| data[in_base + i * d0.input + j * d1.input];
    if d0.out != 0 && d1.out != 0 {
        // nothing reduced here: out += in, element by element
        for j in 0..d1.size {
            for i in 0..d0.size {
                store(out_base + i * d0.out + j * d1.out, at(i, j));
            }
        }
        return;
    }
    let out_at = |j: usize| out_base + j * d1.out;
    let lanes = T::LANES;
    let (size0, size1) = (d0.size, d1.size);
    // one element per chain, anywhere in memory
    let scalar_rows = |j: usize| move |i: usize, acc: &mut [T]| acc[0] = acc[0] + at(i, j);
    if d0.input == 1 && size0 >= lanes {
        // contiguous reduced dim (`vectorized_inner_sum`): lanes along the row, the tail
        // elements first, then the lanes in order
        let vectors = size0 / lanes;
        let row_total = |j: usize| {
            let row = &data[in_base + j * d1.input..][..size0];
            let add_row = |v: usize, acc: &mut [T]| add_into(acc, &row[v * lanes..][..lanes]);
            let blocks = Strided { data: row, start: 0, stride: ILP * lanes };
            let lane_sums = row_sum_by(lanes, vectors, &add_row, &blocks);
            let mut total = T::ZERO;
            for &x in &row[vectors * lanes..] {
                total = total + x;
            }
            for &s in lane_sums.iter() {
                total = total + s;
            }
            total
        };
        for (j, total) in
            super::parallel::map_units(size1, size0, parallel, row_total).into_iter().enumerate()
        {
            store(out_at(j), total);
        }
    } else if d1.input == 1 && size1 >= lanes {
        // contiguous kept dim (`vectorized_outer_sum`): lanes across columns, four registers
        // at once, then one register at a time, then single columns
        let columns = |j: usize, width: usize| {
            move |i: usize, acc: &mut [T]| add_into(acc, &data[in_base + i * d0.input + j..][..width])
        };
        let width = ILP * lanes;
        let groups = size1 / width;
        let group_sums = |g: usize| {
            let rows = Strided { data, start: in_base + g * width, stride: d0.input };
            multi_row_sum_by(width, size0, &rows, true)
        };
        for (g, sums) in
            super::parallel::map_units(groups, size0 * width, parallel, group_sums).into_iter().enumerate()
        {
            for (c, &s) in sums.iter().enumerate() {
                store(out_at(g * width + c), s);
            }
        }
        let mut j = groups * width;
        while j + lanes <= size1 {
            for (c, &s) in row_sum(lanes, size0, &columns(j, lanes)).iter().enumerate() {
                store(out_at(j + c), s);
            }
            j += lanes;
        }
        for j in j..size1 {
            store(out_at(j), row_sum(1, size0, &scalar_rows(j))[0]);
        }
    } else if d1.input == 0 {
        // `scalar_outer_sum` of a broadcast input: every column reads the same values, so
        // each gets the same adds as the first; the sums of the four-column groups and of
        // the single columns are made once
        let first = |i: usize, acc: &mut [T]| acc[0] = acc[0] + at(i, 0);
        let grouped = size1 / ILP * ILP;
        let in_groups = if grouped > 0 { multi_row_sum(1, size0, &first)[0] } else { T::ZERO };
        let single = if grouped < size1 { row_sum(1, size0, &first)[0] } else { T::ZERO };
        for j in 0..size1 {
            store(out_at(j), if j < grouped { in_groups } else { single });
        }
    } else if d0.input < d1.input {
        // `scalar_inner_sum`: one row at a time
        let row_total = |j: usize| row_sum(1, size0, &scalar_rows(j))[0];
        for (j, total) in
            super::parallel::map_units(size1, size0, parallel, row_total).into_iter().enumerate()
        {
            store(out_at(j), total);
        }
    } else {
        // `scalar_outer_sum`: four columns at a time, then single columns
        let mut j = 0;
        while j + ILP <= size1 {
            let four = |i: usize, acc: &mut [T]| {
                for (c, a) in acc.iter_mut().enumerate() {
                    *a = *a + at(i, j + c);
                }
            };
            for (c, &s) in multi_row_sum(ILP, size0, &four).iter().enumerate() {
                store(out_at(j + c), s);
            }
            j += ILP;
        }
        for j in j..size1 {
            store(out_at(j), row_sum(1, size0, &scalar_rows(j))[0]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broadcast_column_is_summed_as_torchs_scalar_outer_loop_sums_it() {
        // 37 rows read by 11 columns through stride 0 (an expanded tensor), every other
        // element (so the reduced dim is not contiguous: torch's scalar loops); the reference
        // is the scalar_outer_sum loop written out: four-column groups through multi_row_sum,
        // the rest through row_sum. Several data sets, so the two orders differ in some.
        let mut orders_differed = false;
        for seed in 0..20u32 {
            let data: Vec<f32> = (0..74u32)
                .map(|i| {
                    let k = (i * 7919 + seed * 104_729) % 1013;
                    k as f32 * 0.731 + if k % 3 == 0 { 3.0e4 } else { 0.013 }
                })
                .collect();
            let sums = torch_sum(&data, 0, &[37, 11], &[2, 0], &[true, false]);
            let at = |i: usize| data[2 * i];
            let four = |i: usize, acc: &mut [f32]| {
                for a in acc.iter_mut() {
                    *a += at(i);
                }
            };
            let grouped = multi_row_sum(ILP, 37, &four);
            let single = row_sum(1, 37, &|i: usize, acc: &mut [f32]| acc[0] += at(i))[0];
            let expected: Vec<u32> =
                (0..11).map(|j| if j < 8 { grouped[j % 4] } else { single }.to_bits()).collect();
            assert_eq!(sums.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), expected, "seed {seed}");
            orders_differed |= grouped[0].to_bits() != single.to_bits();
        }
        assert!(orders_differed, "the data must tell the two orders apart");
    }

    #[test]
    fn long_sums_on_all_cores_have_the_single_loops_bits() {
        // a float32 `sum` of 1M elements: 31250 rows of 32 chains (7 blocks and a tail); a
        // length that ends exactly on a block; one chain
        for (chains, size) in [(32, 31_250), (8, 3 * 4096), (1, 70_000)] {
            let value = |i: usize, c: usize| {
                let k = (i * 31 + c * 7) % 1000;
                (k as f32 * 0.731).sin() * 10f32.powi((k % 7) as i32 - 3)
            };
            let add_rows = |first: usize, count: usize, acc: &mut [f32]| {
                for i in first..first + count {
                    for (c, a) in acc.iter_mut().enumerate() {
                        *a += value(i, c);
                    }
                }
            };
            let parallel = multi_row_sum_by(chains, size, &ByClosure(add_rows), true);
            let single = multi_row_sum_by(chains, size, &ByClosure(add_rows), false);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&parallel), bits(&single), "{chains} chains, {size} rows");
        }
    }

    #[test]
    fn rows_from_memory_two_stretches_at_once_have_the_bits_of_one_row_at_a_time() {
        // a cascade over rows in memory (`Strided`, which sums two stretches side by side)
        // against the same rows added one at a time by a closure, for the widths it keeps in
        // registers and one it does not, over lengths around the cascade's steps
        fn check<T: SumElement + std::fmt::Debug>(value: impl Fn(usize) -> T) {
            for width in [32, 16, 8] {
                for rows in [0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 100, 257, 4096 + 17] {
                    let stride = width + 3;
                    let data: Vec<T> = (0..5 + rows * stride + width).map(&value).collect();
                    let by_row = |first: usize, count: usize, acc: &mut [T]| {
                        for i in first..first + count {
                            for (c, a) in acc.iter_mut().enumerate() {
                                *a = *a + data[5 + i * stride + c];
                            }
                        }
                    };
                    let strided = Strided { data: &data, start: 5, stride };
                    let expected = multi_row_sum_by(width, rows, &ByClosure(by_row), false);
                    let got = multi_row_sum_by(width, rows, &strided, false);
                    assert_eq!(got.to_vec(), expected.to_vec(), "width {width}, {rows} rows");
                }
            }
        }
        let wild = |i: usize| {
            let k = (i * 7919) % 1013;
            (k as f64 * 0.731).sin() * 10f64.powi((k % 9) as i32 - 4)
        };
        check(|i| wild(i) as f32);
        check(wild);
        check(|i| (i as i64 * 7919) % 1013 - 500);
    }

    #[test]
    fn ceil_log2_is_torchs() {
        assert_eq!([0, 1, 2, 3, 4, 5, 16, 17].map(ceil_log2), [1, 1, 1, 2, 2, 3, 4, 5]);
    }

    #[test]
    fn small_sums_are_exact_and_start_from_plus_zero() {
        let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(torch_sum(&x, 0, &[2, 3], &[3, 1], &[true, true]), vec![21.0]);
        assert_eq!(torch_sum(&x, 0, &[2, 3], &[3, 1], &[true, false]), vec![5.0, 7.0, 9.0]);
        assert_eq!(torch_sum(&x, 0, &[2, 3], &[3, 1], &[false, true]), vec![6.0, 15.0]);
        let negative_zeros = [-0.0f64; 3];
        let s = torch_sum(&negative_zeros, 0, &[3], &[1], &[true]);
        assert!(s[0] == 0.0 && s[0].is_sign_positive());
        // nothing reduced (a size-1 dim): still 0 + x
        assert!(torch_sum(&negative_zeros, 0, &[3, 1], &[1, 1], &[false, true])[0].is_sign_positive());
    }
}
