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

/// The elements of `buffer` at `positions`, in order.
pub(crate) fn take_buffer(buffer: &Buffer, positions: &[usize]) -> Buffer {
    match buffer {
        Buffer::F32(v) => Buffer::F32(positions.iter().map(|&p| v[p]).collect()),
        Buffer::F64(v) => Buffer::F64(positions.iter().map(|&p| v[p]).collect()),
        Buffer::I64(v) => Buffer::I64(positions.iter().map(|&p| v[p]).collect()),
        Buffer::Bool(v) => Buffer::Bool(positions.iter().map(|&p| v[p]).collect()),
    }
}

/// Writes (or adds, when `accumulate`) `values[k]` at `positions[k]` of `buffer`, in order,
/// so a later write to the same position wins (torch's CPU order).
fn put_buffer(buffer: &mut Buffer, positions: &[usize], values: &Buffer, accumulate: bool) {
    macro_rules! put {
        ($out:expr, $src:expr, $add:expr) => {
            for (&p, &v) in positions.iter().zip($src.iter()) {
                $out[p] = if accumulate { $add($out[p], v) } else { v };
            }
        };
    }
    match (buffer, values) {
        (Buffer::F32(out), Buffer::F32(src)) => put!(out, src, |a: f32, b: f32| a + b),
        (Buffer::F64(out), Buffer::F64(src)) => put!(out, src, |a: f64, b: f64| a + b),
        (Buffer::I64(out), Buffer::I64(src)) => put!(out, src, |a: i64, b: i64| a.wrapping_add(b)),
        (Buffer::Bool(out), Buffer::Bool(src)) => put!(out, src, |a: bool, b: bool| a | b),
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
pub(crate) fn take_positions(d: &crate::tensor::TensorData, positions: &[usize]) -> Buffer {
    let buffer = d.storage.read();
    if !d.layout.is_contiguous() {
        return take_buffer(&crate::tensor::gather(&buffer, &d.layout), positions);
    }
    match d.layout.span().start {
        0 => take_buffer(&buffer, positions),
        start => take_buffer(&buffer, &positions.iter().map(|&p| start + p).collect::<Vec<_>>()),
    }
}

/// `self`'s elements at flat (row-major) `positions`, shaped `shape`; the gradient goes back
/// to the positions it came from, added up where one was read twice.
pub(crate) fn take_op(
    input: &Tensor,
    positions: Arc<Vec<usize>>,
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
pub(crate) fn put_op(shape: &[usize], positions: Arc<Vec<usize>>, src: &Tensor, names: TakeNames) -> Tensor {
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
fn select_positions(shape: &[usize], dim: usize, index: &[usize]) -> Vec<usize> {
    let (outer, size, inner) = super::reduce::lanes(shape, dim);
    let mut out = Vec::with_capacity(outer * index.len() * inner);
    for o in 0..outer {
        for &j in index {
            let start = (o * size + j) * inner;
            out.extend(start..start + inner);
        }
    }
    out
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
fn zero_positions(t: &Tensor, positions: Arc<Vec<usize>>) -> Tensor {
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
        let positions = select_positions(&work_shape, d, &picks);
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
        let positions = along_positions(&ishape, d, &values, &contiguous_strides(&shape));
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
        let targets = Arc::new(along_positions(&ishape, d, &values, &contiguous_strides(&shape)));
        // the src elements that are written: src[i][j] for every index position (i, j)
        let src_strides = contiguous_strides(&sshape);
        let sources = along_positions(&ishape, usize::MAX, &values, &src_strides);
        let mut buffer = self.contiguous_buffer();
        let src_values = take_buffer(&src.contiguous_buffer(), &sources);
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
                take_op(self, Arc::new(select_positions(&shape, 0, &picks)), &out_shape, names)
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
                let positions = select_positions(&[mask.len(), inner], 0, &picks);
                take_op(self, Arc::new(positions), &out_shape, names)
            }
            _ => crate::raise!(IndexError, "tensors used as indices must be long, int, byte or bool tensors"),
        }
    }
}
