//! Indexing with tensors: `index_select`, `gather`, `scatter` and `x[t]` (`index_with`, an
//! int64 index tensor or a bool mask).
//!
//! Every op here is one of two moves over flat positions of a contiguous tensor: *take*
//! (read the elements at some positions) or *put* (write or add elements at some positions
//! of a copy). Their backwards are each other: the gradient of a take is a put of the
//! gradient into zeros (adding where a position was read twice), the gradient of a put is a
//! take of the gradient. So second derivatives come for free.

use std::sync::Arc;

use super::shape::wrap_dim;
use crate::autograd::record::record;
use crate::autograd::saved::SavedTensor;
use crate::dtype::DType;
use crate::layout::contiguous_strides;
use crate::storage::Buffer;
use crate::tensor::Tensor;

/// Where a take reads and a put writes: flat positions of a contiguous tensor in row-major
/// order, one per element, or (for the ops that move whole slices along a dim:
/// `index_select`, `flip`, `x[t]`) runs of `inner` consecutive elements, which are copied and
/// added as slices instead of one position at a time (no position list for 1M elements).
pub(crate) enum Positions {
    /// One flat position per element.
    Each(Vec<usize>),
    /// For each of `outer` blocks of `size * inner` elements and each `pick` in order, the
    /// run of `inner` elements at `(block * size + pick) * inner`.
    Runs { outer: usize, size: usize, inner: usize, picks: Vec<usize> },
}

impl Positions {
    /// How many elements it names.
    pub(crate) fn len(&self) -> usize {
        match self {
            Positions::Each(p) => p.len(),
            Positions::Runs { outer, inner, picks, .. } => outer * picks.len() * inner,
        }
    }

    /// `f(start, inner)` for each run, in order (only for `Runs`).
    fn for_each_run(
        outer: usize,
        size: usize,
        inner: usize,
        picks: &[usize],
        mut f: impl FnMut(usize, usize),
    ) {
        for block in 0..outer {
            for &pick in picks {
                f((block * size + pick) * inner, inner);
            }
        }
    }
}

/// The elements of `v` at `start +` each of `positions`, in order.
fn take_slice<T: Copy>(v: &[T], start: usize, positions: &Positions) -> Vec<T> {
    match positions {
        Positions::Each(p) => p.iter().map(|&p| v[start + p]).collect(),
        Positions::Runs { outer, size, inner, picks } => {
            let mut out = Vec::with_capacity(positions.len());
            Positions::for_each_run(*outer, *size, *inner, picks, |at, len| {
                out.extend_from_slice(&v[start + at..start + at + len]);
            });
            out
        }
    }
}

/// The elements of `buffer` at `start +` each of `positions`, in order.
pub(crate) fn take_buffer(buffer: &Buffer, start: usize, positions: &Positions) -> Buffer {
    match buffer {
        Buffer::F32(v) => Buffer::F32(take_slice(v, start, positions)),
        Buffer::F64(v) => Buffer::F64(take_slice(v, start, positions)),
        Buffer::I64(v) => Buffer::I64(take_slice(v, start, positions)),
        Buffer::Bool(v) => Buffer::Bool(take_slice(v, start, positions)),
    }
}

/// `out[p] = src[k]` (or `add(out[p], src[k])`, when `accumulate`) for the `k`-th of
/// `positions`, in order.
fn put_slice<T: Copy>(
    out: &mut [T],
    positions: &Positions,
    src: &[T],
    accumulate: bool,
    add: impl Fn(T, T) -> T,
) {
    match positions {
        Positions::Each(p) => {
            for (&p, &v) in p.iter().zip(src) {
                out[p] = if accumulate { add(out[p], v) } else { v };
            }
        }
        Positions::Runs { outer, size, inner, picks } => {
            let mut k = 0;
            Positions::for_each_run(*outer, *size, *inner, picks, |at, len| {
                let (dst, from) = (&mut out[at..at + len], &src[k..k + len]);
                if accumulate {
                    for (d, &v) in dst.iter_mut().zip(from) {
                        *d = add(*d, v);
                    }
                } else {
                    dst.copy_from_slice(from);
                }
                k += len;
            });
        }
    }
}

/// Writes (or adds, when `accumulate`) `values[k]` at the `k`-th of `positions` of `buffer`,
/// in order, so a later write to the same position wins (torch's CPU order).
fn put_buffer(buffer: &mut Buffer, positions: &Positions, values: &Buffer, accumulate: bool) {
    match (buffer, values) {
        (Buffer::F32(out), Buffer::F32(src)) => put_slice(out, positions, src, accumulate, |a, b| a + b),
        (Buffer::F64(out), Buffer::F64(src)) => put_slice(out, positions, src, accumulate, |a, b| a + b),
        (Buffer::I64(out), Buffer::I64(src)) => put_slice(out, positions, src, accumulate, i64::wrapping_add),
        (Buffer::Bool(out), Buffer::Bool(src)) => put_slice(out, positions, src, accumulate, |a, b| a | b),
        _ => unreachable!("put_buffer is called with matching dtypes"),
    }
}

/// The names of a take op's node and of the put op its backward uses (and the other way
/// round), so that double-backward graphs show torch's pairs.
#[derive(Clone, Copy)]
pub(crate) struct TakeNames {
    pub take: &'static str,
    pub put: &'static str,
    /// Whether the put adds into its zeros (torch's `index_add_`, `scatter_add_`,
    /// `index_put_(accumulate)`: `0 + -0.` is `0.`) or writes (`scatter_`, `flip`: a `-0.`
    /// gradient stays `-0.`).
    pub adds: bool,
}

/// The elements at flat `positions` of a tensor's row-major order, read from its storage in
/// place where it is contiguous (a copy in row-major order first where it is not).
pub(crate) fn take_positions(d: &crate::tensor::TensorData, positions: &Positions) -> Buffer {
    let buffer = d.storage.read();
    if !d.layout.is_contiguous() {
        return take_buffer(&crate::tensor::gather(&buffer, &d.layout), 0, positions);
    }
    take_buffer(&buffer, d.layout.span().start, positions)
}

/// `self`'s elements at flat (row-major) `positions`, shaped `shape`; the gradient goes back
/// to the positions it came from, added up where one was read twice.
pub(crate) fn take_op(
    input: &Tensor,
    positions: Arc<Positions>,
    shape: &[usize],
    names: TakeNames,
) -> Tensor {
    let buffer = input.with_data(|d| take_positions(d, &positions));
    let out = Tensor::from_buffer(buffer, shape);
    let input_shape = input.shape();
    // torch's gather_backward takes `self` itself (the others only its sizes), so
    // GatherBackward0 keeps the input: changing it in place later is torch's version error
    let keeps_input = names.take == "GatherBackward0";
    // d take(x)[k] = 1 at the position it read: grad put back (summed) into zeros
    record(
        out,
        names.take,
        &[Some(input)],
        &[],
        |_| if keeps_input { vec![SavedTensor::input(input).named("self")] } else { vec![] },
        move |_, g, _| vec![Some(put_op(&input_shape, positions.clone(), g, names))],
    )
}

/// Zeros of `shape` with `src`'s elements added (or, unless `names.adds`, written) at flat
/// `positions` (one per element of `src`, row-major). Torch's
/// `zeros.index_add_`/`scatter_add_`/`index_put_(accumulate)`, or `scatter_`.
pub(crate) fn put_op(shape: &[usize], positions: Arc<Positions>, src: &Tensor, names: TakeNames) -> Tensor {
    let n = crate::layout::numel(shape);
    let mut buffer = Buffer::filled(0.0, n, src.dtype());
    put_buffer(&mut buffer, &positions, &src.contiguous_buffer(), names.adds);
    let out = Tensor::from_buffer(buffer, shape);
    let src_shape = src.shape();
    // d put(src) = grad read back at the positions src was put to
    record(
        out,
        names.put,
        &[None, Some(src)],
        &[],
        |_| vec![],
        move |_, g, needs| vec![None, needs[1].then(|| take_op(g, positions.clone(), &src_shape, names))],
    )
}

/// Flat positions of a contiguous tensor of `shape` along `dim`: for each `index` value `j`
/// and each (outer, inner) pair, the element `[outer, j, inner]`, in row-major output order.
pub(crate) fn select_positions(shape: &[usize], dim: usize, index: Vec<usize>) -> Positions {
    let (outer, size, inner) = super::reduce::lanes(shape, dim);
    Positions::Runs { outer, size, inner, picks: index }
}

/// The multi-index of every element of a tensor of `shape`, row-major, as a flat position
/// in a tensor with `strides`, with dim `dim` replaced by `index[k]`.
fn along_positions(shape: &[usize], dim: usize, index: &[i64], strides: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(index.len());
    let mut counter = vec![0usize; shape.len()];
    for &j in index {
        let mut p = 0;
        for (d, (&c, &s)) in counter.iter().zip(strides).enumerate() {
            p += if d == dim { j as usize } else { c } * s;
        }
        out.push(p);
        for d in (0..shape.len()).rev() {
            counter[d] += 1;
            if counter[d] < shape[d] {
                break;
            }
            counter[d] = 0;
        }
    }
    out
}

fn shape_text(shape: &[usize]) -> String {
    format!("[{}]", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))
}

fn check_gather_like(op: &str, input: &Tensor, dim: isize, index: &Tensor) -> (usize, Vec<i64>) {
    if index.dtype() != DType::Int64 {
        crate::raise!("{op}(): Expected dtype int32/int64 for index");
    }
    let (shape, ishape) = (input.shape(), index.shape());
    let d = wrap_dim(dim, shape.len());
    if ishape.len().max(1) != shape.len().max(1) {
        // torch's words name gather's tensor `input`, scatter's (and scatter_add's) `self`
        let whose = if op == "gather" { "input" } else { "self" };
        crate::raise!("Index tensor must have the same number of dimensions as {whose} tensor");
    }
    let size = shape.get(d).copied().unwrap_or(1);
    let values = index.to_vec_i64();
    for &v in &values {
        if v < 0 || v as usize >= size {
            crate::raise!("index {v} is out of bounds for dimension {d} with size {size}");
        }
    }
    (d, values)
}

/// A copy of `t` with zeros at flat `positions` (torch's `t.scatter(dim, index, 0)`, node
/// `ScatterBackward1`); its gradient is the same op on the incoming gradient.
fn zero_positions(t: &Tensor, positions: Arc<Positions>) -> Tensor {
    let mut buffer = t.contiguous_buffer();
    let zeros = Buffer::filled(0.0, positions.len(), t.dtype());
    put_buffer(&mut buffer, &positions, &zeros, false);
    let out = Tensor::from_buffer(buffer, &t.shape());
    // d scatter(t, value) = grad with zeros where the value was written
    record(
        out,
        "ScatterBackward1",
        &[Some(t)],
        &[],
        |_| vec![],
        move |_, g, _| vec![Some(zero_positions(g, positions.clone()))],
    )
}

impl Tensor {
    /// The slices at `index` (a 1-D int64 tensor) along `dim` (`x.index_select(dim, index)`,
    /// node `IndexSelectBackward0`); a position may repeat, and its gradients add up.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]], requires_grad = true);
    /// let y = x.index_select(1, &tensor!([2, 0, 2]));
    /// assert_eq!(y.to_string(), "tensor([[3., 1., 3.],\n        [6., 4., 6.]], grad_fn=<IndexSelectBackward0>)");
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([[1., 0., 2.],\n        [1., 0., 2.]])");
    /// ```
    #[track_caller]
    pub fn index_select(&self, dim: isize, index: &Tensor) -> Tensor {
        let shape = self.shape();
        let d = wrap_dim(dim, shape.len());
        if index.dim() > 1 {
            crate::raise!(IndexError, "index_select(): Index is supposed to be a vector");
        }
        if shape.is_empty() && index.numel() != 1 {
            crate::raise!(
                "index_select(): Index to scalar can have only 1 value, got {} value(s)",
                index.numel()
            );
        }
        if index.dtype() != DType::Int64 {
            crate::raise!("index_select(): Expected dtype int32 or int64 for index");
        }
        let work_shape = if shape.is_empty() { vec![1] } else { shape.clone() };
        let size = work_shape[d];
        let values = index.to_vec_i64();
        let out_of_range = values.iter().copied().find(|&v| v < 0 || v as usize >= size);
        // torch's CPU kernel, for a matrix or more: an empty one needs the dim to have a size,
        // then it and dim 1 check the indices with one set of words, other dims with another
        // (a vector's or a scalar's indices have the latter)
        if shape.len() > 1 {
            if !values.is_empty() && self.numel() == 0 && size == 0 {
                crate::raise!("index_select(): self indexing axis dim should be positive");
            }
            if let Some(v) = out_of_range.filter(|_| self.numel() == 0 || d == 1) {
                crate::raise!("INDICES element is out of DATA bounds, id={v} axis_dim={size}");
            }
        }
        if out_of_range.is_some() {
            crate::raise!(IndexError, "index out of range in self");
        }
        let picks: Vec<usize> = values.into_iter().map(|v| v as usize).collect();
        let mut out_shape = work_shape.clone();
        out_shape[d] = picks.len();
        if shape.is_empty() {
            out_shape.clear();
        }
        let positions = select_positions(&work_shape, d, picks);
        let names = TakeNames { take: "IndexSelectBackward0", put: "IndexAddBackward0", adds: true };
        take_op(self, Arc::new(positions), &out_shape, names)
    }

    /// `x.gather(dim, index)`: `out[i][j] = x[i][index[i][j]]` for `dim = 1` (node
    /// `GatherBackward0`); `index` is int64 with as many dims as `x`.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]], requires_grad = true);
    /// let y = x.gather(1, &tensor!([[0, 0], [2, 1]]));
    /// assert_eq!(y.to_string(), "tensor([[1., 1.],\n        [6., 6.]], grad_fn=<GatherBackward0>)");
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([[2., 0., 0.],\n        [0., 1., 1.]])");
    /// ```
    pub fn gather(&self, dim: isize, index: &Tensor) -> Tensor {
        let (d, values) = check_gather_like("gather", self, dim, index);
        let (shape, ishape) = (self.shape(), index.shape());
        for (k, (&i, &s)) in ishape.iter().zip(&shape).enumerate() {
            if k != d && i > s {
                crate::raise!(
                    "Size does not match at dimension {k} expected index {} to be no larger than self {} apart from dimension {d}",
                    shape_text(&ishape),
                    shape_text(&shape)
                );
            }
        }
        let positions = Positions::Each(along_positions(&ishape, d, &values, &contiguous_strides(&shape)));
        let names = TakeNames { take: "GatherBackward0", put: "ScatterAddBackward0", adds: true };
        take_op(self, Arc::new(positions), &ishape, names)
    }

    /// `x.scatter(dim, index, src)`: a copy of `x` with `out[i][index[i][j]] = src[i][j]` for
    /// `dim = 1` (node `ScatterBackward0`); where an index repeats, the last write wins.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = zeros(&[2, 3]);
    /// let src = tensor!([[10., 20.], [30., 40.]], requires_grad = true);
    /// let y = x.scatter(1, &tensor!([[0, 2], [2, 1]]), &src);
    /// assert_eq!(y.to_string(), "tensor([[10.,  0., 20.],\n        [ 0., 40., 30.]], grad_fn=<ScatterBackward0>)");
    /// ```
    pub fn scatter(&self, dim: isize, index: &Tensor, src: &Tensor) -> Tensor {
        if index.dtype() != DType::Int64 {
            crate::raise!("scatter(): Expected dtype int32/int64 for index");
        }
        if self.dtype() != src.dtype() {
            crate::raise!("scatter(): Expected self.dtype to be equal to src.dtype");
        }
        let (d, values) = check_gather_like("scatter", self, dim, index);
        let (shape, ishape, sshape) = (self.shape(), index.shape(), src.shape());
        for (k, &i) in ishape.iter().enumerate() {
            if (k != d && i > shape[k]) || sshape.get(k).is_some_and(|&s| i > s) {
                crate::raise!(
                    "Expected index {} to be no larger than self {} apart from dimension {d} and to be no larger size than src {}",
                    shape_text(&ishape),
                    shape_text(&shape),
                    shape_text(&sshape)
                );
            }
        }
        let targets =
            Arc::new(Positions::Each(along_positions(&ishape, d, &values, &contiguous_strides(&shape))));
        // the src elements that are written: src[i][j] for every index position (i, j)
        let src_strides = contiguous_strides(&sshape);
        let sources = along_positions(&ishape, usize::MAX, &values, &src_strides);
        let mut buffer = self.contiguous_buffer();
        let src_values = take_buffer(&src.contiguous_buffer(), 0, &Positions::Each(sources));
        put_buffer(&mut buffer, &targets, &src_values, false);
        let out = Tensor::from_buffer(buffer, &shape);
        // d scatter = grad where x was kept (zeros at the written positions) for x,
        //             grad read at the written positions for src
        record(
            out,
            "ScatterBackward0",
            &[Some(self), Some(src)],
            &[],
            |_| vec![],
            move |_, g, needs| {
                let for_self = needs[0].then(|| zero_positions(g, targets.clone()));
                let for_src = needs[1].then(|| {
                let names = TakeNames { take: "GatherBackward0", put: "ScatterAddBackward0", adds: true };
                if !crate::layout::same_shape(&ishape, &sshape) {
                    // torch's formula gives the index's shape, which its engine rejects
                    crate::raise!(
                        "Function ScatterBackward0 returned an invalid gradient at index 1 - got {} but expected shape compatible with {}",
                        shape_text(&ishape),
                        shape_text(&sshape)
                    );
                }
                take_op(g, targets.clone(), &ishape, names)
            });
                vec![for_self, for_src]
            },
        )
    }

    /// `x[t]` with a tensor index (node `IndexBackward0`): an int64 tensor picks rows (along
    /// dim 0, negative positions count from the end; the result has `t`'s shape followed by
    /// the rest of `x`'s), a bool mask picks the elements where it is true (its shape must
    /// match the leading dims of `x`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]], requires_grad = true);
    /// let y = x.index_with(&x.gt(2.0));
    /// assert_eq!(y.to_string(), "tensor([5., 3., 4., 6., 6.], grad_fn=<IndexBackward0>)");
    /// let z = x.index_with(&tensor!([1, 0, -1]));
    /// assert_eq!(z.shape(), vec![3, 3]);
    /// (y.sum() + z.sum()).backward();
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([[1., 2., 2.],\n        [3., 3., 3.]])");
    /// ```
    pub fn index_with(&self, index: &Tensor) -> Tensor {
        let shape = self.shape();
        let names = TakeNames { take: "IndexBackward0", put: "IndexPutImplBackward0", adds: true };
        match index.dtype() {
            DType::Int64 => {
                if index.dim() == 0 {
                    return self.select(0, index.item() as isize);
                }
                if shape.is_empty() {
                    crate::raise!(IndexError, "too many indices for tensor of dimension 0");
                }
                let size = shape[0];
                let picks: Vec<usize> = index
                    .to_vec_i64()
                    .into_iter()
                    .map(|v| {
                        let s = size as i64;
                        if size == 0 {
                            // torch's index kernel words an empty dim without the numbers
                            crate::raise!(IndexError, "index is out of bounds for dimension with size 0");
                        }
                        if v < -s || v >= s {
                            crate::raise!(
                                IndexError,
                                "index {v} is out of bounds for dimension 0 with size {size}"
                            );
                        }
                        if v < 0 {
                            (v + s) as usize
                        } else {
                            v as usize
                        }
                    })
                    .collect();
                let mut out_shape = index.shape();
                out_shape.extend_from_slice(&shape[1..]);
                take_op(self, Arc::new(select_positions(&shape, 0, picks)), &out_shape, names)
            }
            DType::Bool => {
                if index.dim() == 0 {
                    return self.unsqueeze(0).index_with(&index.reshape([1]));
                }
                let mshape = index.shape();
                if mshape.len() > shape.len() {
                    crate::raise!(IndexError, "too many indices for tensor of dimension {}", shape.len());
                }
                for (k, (&m, &s)) in mshape.iter().zip(&shape).enumerate() {
                    if m != s {
                        crate::raise!(
                            IndexError,
                            "The shape of the mask {} at index {k} does not match the shape of the indexed tensor {} at index {k}",
                            shape_text(&mshape),
                            shape_text(&shape)
                        );
                    }
                }
                let rest = &shape[mshape.len()..];
                let inner: usize = rest.iter().product();
                let mask = super::kernel::to_vec::<bool>(index);
                let picks: Vec<usize> = mask.iter().enumerate().filter(|(_, &m)| m).map(|(k, _)| k).collect();
                let mut out_shape = vec![picks.len()];
                out_shape.extend_from_slice(rest);
                let positions = select_positions(&[mask.len(), inner], 0, picks);
                take_op(self, Arc::new(positions), &out_shape, names)
            }
            _ => crate::raise!(IndexError, "tensors used as indices must be long, int, byte or bool tensors"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(b: Buffer) -> Vec<f32> {
        match b {
            Buffer::F32(v) => v,
            _ => unreachable!("float32 buffers only"),
        }
    }

    /// `Runs` spelled out as one position per element.
    fn each(outer: usize, size: usize, inner: usize, picks: &[usize]) -> Positions {
        let mut p = Vec::new();
        for block in 0..outer {
            for &pick in picks {
                p.extend((block * size + pick) * inner..(block * size + pick + 1) * inner);
            }
        }
        Positions::Each(p)
    }

    #[test]
    fn runs_take_and_put_what_their_positions_do() {
        // repeated and reversed picks, runs of one element and of several, an offset start
        for (outer, size, inner, picks) in [
            (3, 4, 5, vec![2, 0, 2, 3]),
            (1, 6, 1, vec![5, 4, 3, 2, 1, 0]),
            (4, 2, 3, vec![1, 1, 1]),
            (2, 3, 7, vec![]),
        ] {
            let runs = Positions::Runs { outer, size, inner, picks: picks.clone() };
            let flat = each(outer, size, inner, &picks);
            assert_eq!(runs.len(), flat.len());
            let n = outer * size * inner;
            let data = Buffer::F32((0..n + 3).map(|v| v as f32 * 0.37 - 1.5).collect());
            for start in [0, 3] {
                assert_eq!(
                    floats(take_buffer(&data, start, &runs)),
                    floats(take_buffer(&data, start, &flat))
                );
            }
            let values = Buffer::F32((0..runs.len()).map(|v| 1.0 / (v as f32 + 0.3)).collect());
            for accumulate in [true, false] {
                let (mut a, mut b) = (Buffer::F32(vec![0.25; n]), Buffer::F32(vec![0.25; n]));
                put_buffer(&mut a, &runs, &values, accumulate);
                put_buffer(&mut b, &flat, &values, accumulate);
                assert_eq!(
                    floats(a),
                    floats(b),
                    "outer {outer} size {size} inner {inner}, accumulate {accumulate}"
                );
            }
        }
    }
}
