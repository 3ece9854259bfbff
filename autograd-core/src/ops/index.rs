//! Indexing: `select` (`M[0]`, `M[:, 1]`), `narrow`/slices, the `idx!` index lists, and
//! index assignment (`n[0, 0] = expr`, recorded as `CopySlices`).

use std::ops::{Range, RangeFrom, RangeFull, RangeTo};

use super::elementwise::{IntoOperand, Operand};
use super::shape::wrap_dim;
use crate::autograd::grad_mode::is_grad_enabled;
use crate::autograd::node::{BackwardFunction, Node};
use crate::autograd::record::{record, set_history};
use crate::layout::Layout;
use crate::tensor::Tensor;

/// One entry of an index list: a single position (drops the dim) or a range (keeps it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexItem {
    /// `M[i]`: picks one position; negative counts from the end.
    At(isize),
    /// `M[start:end]`; `None` means from the start / to the end.
    Range(Option<isize>, Option<isize>),
    /// `M[:]`.
    Full,
}

impl From<RangeFull> for IndexItem {
    fn from(_: RangeFull) -> Self {
        IndexItem::Full
    }
}

macro_rules! index_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for IndexItem {
            fn from(i: $t) -> Self { IndexItem::At(i as isize) }
        }
        impl From<Range<$t>> for IndexItem {
            fn from(r: Range<$t>) -> Self { IndexItem::Range(Some(r.start as isize), Some(r.end as isize)) }
        }
        impl From<RangeFrom<$t>> for IndexItem {
            fn from(r: RangeFrom<$t>) -> Self { IndexItem::Range(Some(r.start as isize), None) }
        }
        impl From<RangeTo<$t>> for IndexItem {
            fn from(r: RangeTo<$t>) -> Self { IndexItem::Range(None, Some(r.end as isize)) }
        }
    )*};
}
index_from_int!(i32, i64, isize, usize);

/// An index list, like Python's `[0, :, 1:3]`: `idx![0, .., 1..3]`.
///
/// ```
/// use autograd_core::prelude::*;
/// let m = tensor!([[2., 3.]]);
/// assert_eq!(m.index(idx![0, 1]).to_string(), "tensor(3.)");
/// assert_eq!(m.index(idx![.., 1]).to_string(), "tensor([3.])");
/// ```
#[macro_export]
macro_rules! idx {
    ($($item:expr),* $(,)?) => {
        vec![$($crate::ops::index::IndexItem::from($item)),*]
    };
}

fn clamp_bound(value: Option<isize>, size: usize, default: usize) -> usize {
    match value {
        None => default,
        Some(v) if v < 0 => (v + size as isize).max(0) as usize,
        Some(v) => (v as usize).min(size),
    }
}

#[track_caller]
fn check_index(index: isize, dim: usize, size: usize) -> usize {
    let s = size as isize;
    if index < -s || index >= s {
        crate::raise!(IndexError, "index {index} is out of bounds for dimension {dim} with size {size}");
    }
    if index < 0 { (index + s) as usize } else { index as usize }
}

impl Tensor {
    /// `x.select(dim, i)`: the slice at position `i` along `dim`, a view (`SelectBackward0`).
    #[track_caller]
    pub fn select(&self, dim: isize, index: isize) -> Tensor {
        let shape = self.shape();
        if shape.is_empty() {
            crate::raise!(IndexError, "select() cannot be applied to a 0-dim tensor.");
        }
        let d = wrap_dim(dim, shape.len());
        let size = shape[d] as isize;
        if index < -size || index >= size {
            crate::raise!(IndexError, "select(): index {index} out of range for tensor of size {shape:?} at dimension {d}");
        }
        let i = check_index(index, d, shape[d]);
        let mut layout = self.layout();
        layout.offset += i * layout.strides[d];
        layout.shape.remove(d);
        layout.strides.remove(d);
        let mut item = vec![IndexItem::Full; d];
        item.push(IndexItem::At(i as isize));
        let out = self.view_with_layout(layout);
        // d select(x) = grad placed at the selected position, zeros elsewhere
        record(out, "SelectBackward0", &[Some(self)], &[], |_| vec![], move |_, g, _| {
            vec![Some(scatter_into_zeros(g, &shape, &item))]
        })
    }

    /// `x.narrow(dim, start, length)`: positions `start..start+length` along `dim`, a view
    /// (`SliceBackward0`).
    #[track_caller]
    pub fn narrow(&self, dim: isize, start: usize, length: usize) -> Tensor {
        let shape = self.shape();
        let d = wrap_dim(dim, shape.len());
        if start > shape[d] {
            crate::raise!(IndexError, "start out of range (expected to be in range of [-{0}, {0}], but got {start})", shape[d]);
        }
        if start + length > shape[d] {
            crate::raise!("start ({start}) + length ({length}) exceeds dimension size ({}).", shape[d]);
        }
        let mut layout = self.layout();
        layout.offset += start * layout.strides[d];
        layout.shape[d] = length;
        let mut item = vec![IndexItem::Full; d];
        item.push(IndexItem::Range(Some(start as isize), Some((start + length) as isize)));
        let out = self.view_with_layout(layout);
        record(out, "SliceBackward0", &[Some(self)], &[], |_| vec![], move |_, g, _| {
            vec![Some(scatter_into_zeros(g, &shape, &item))]
        })
    }

    /// `x[items]` with an index list from [`idx!`]: positions drop their dim, ranges keep it.
    #[track_caller]
    pub fn index(&self, items: Vec<IndexItem>) -> Tensor {
        let shape = self.shape();
        if shape.is_empty() {
            match items.first() {
                Some(IndexItem::At(_)) => crate::raise!(
                    IndexError,
                    "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a number"
                ),
                Some(_) => crate::raise!(IndexError, "slice() cannot be applied to a 0-dim tensor."),
                None => {}
            }
        }
        if items.len() > shape.len() {
            crate::raise!(IndexError, "too many indices for tensor of dimension {}", shape.len());
        }
        // positions are checked against the dim they index in `self` (x[0, 5] names dim 1)
        for (d, item) in items.iter().enumerate() {
            if let IndexItem::At(i) = *item {
                check_index(i, d, shape[d]);
            }
        }
        let mut out = self.clone();
        let mut dim = 0isize;
        for item in items {
            match item {
                IndexItem::At(i) => out = out.select(dim, i),
                IndexItem::Full => dim += 1,
                IndexItem::Range(start, end) => {
                    let size = out.shape()[dim as usize];
                    let s = clamp_bound(start, size, 0);
                    let e = clamp_bound(end, size, size).max(s);
                    if s != 0 || e != size {
                        out = out.narrow(dim, s, e - s);
                    }
                    dim += 1;
                }
            }
        }
        out
    }

    /// `x[i, j, ...]` for single positions: a 0-dim tensor when every dim is given.
    #[track_caller]
    pub fn at(&self, positions: &[isize]) -> Tensor {
        self.index(positions.iter().map(|&p| IndexItem::At(p)).collect())
    }

    /// Index assignment, Python's `n[items] = value` (a tensor or a number, broadcast to the
    /// indexed region). When `value` requires grad, `n` becomes part of the graph with a
    /// `CopySlices` node.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let m = tensor!([[2., 3.]], requires_grad = true);
    /// let n = zeros(&[1, 2]);
    /// n.assign(idx![0, 0], &m.at(&[0, 0]).pow(2));
    /// n.assign(idx![0, 1], &m.at(&[0, 1]).pow(3));
    /// assert_eq!(n.to_string(), "tensor([[ 4., 27.]], grad_fn=<CopySlices>)");
    /// n.backward_with(&ones_like(&n));
    /// assert_eq!(m.grad().unwrap().to_string(), "tensor([[ 4., 27.]])");
    /// ```
    #[track_caller]
    pub fn assign<'a>(&self, items: Vec<IndexItem>, value: impl IntoOperand<'a>) -> Tensor {
        let value = value.into_operand();
        let value_tensor = match value {
            Operand::Tensor(t) => Some(t),
            Operand::Scalar(_) => None,
        };
        let records = is_grad_enabled() && (self.requires_grad() || value_tensor.is_some_and(Tensor::requires_grad));
        let target = {
            let _guard = crate::autograd::grad_mode::NoGradGuard::new();
            self.index(items.clone())
        };
        if records {
            // torch writes through the indexed view: `x[0] = v` on a leaf is "a view of a leaf"
            super::inplace::check_inplace_allowed(&target);
        }
        let region_shape = target.shape();
        let source = match value {
            Operand::Tensor(t) => t.detach(),
            Operand::Scalar(s) => Tensor::from_vec(vec![s.as_f64()], &[], self.dtype()),
        };
        let source = crate::autograd::grad_mode::no_grad(|| source.expand(&region_shape).to_dtype(self.dtype()));
        write_values(&target, &source);
        self.with_data(|d| d.storage.bump_version());
        if records {
            let next = vec![self.gradient_edge(), value_tensor.and_then(Tensor::gradient_edge)];
            let value_shape = value_tensor.map(Tensor::shape).unwrap_or_default();
            let node = Node::new(Box::new(CopySlices { items, value_shape }), next);
            set_history(self, node);
        }
        self.clone()
    }
}

/// Writes `source`'s values (same shape) into `target`'s storage positions.
pub(crate) fn write_values(target: &Tensor, source: &Tensor) {
    let values = source.contiguous_buffer();
    let data = target.read_data();
    let mut buffer = data.storage.write();
    write_buffer(&mut buffer, &data.layout, &values);
}

pub(crate) fn write_buffer(buffer: &mut crate::storage::Buffer, layout: &Layout, values: &crate::storage::Buffer) {
    use crate::storage::Buffer as B;
    fn put<T: Copy>(dst: &mut [T], layout: &Layout, src: &[T]) {
        if layout.is_contiguous() {
            dst[layout.offset..layout.offset + src.len()].copy_from_slice(src);
        } else {
            for (p, &v) in layout.positions().zip(src) {
                dst[p] = v;
            }
        }
    }
    let converted;
    let values = if values.dtype() == buffer.dtype() {
        values
    } else {
        converted = super::kernel::cast(values.clone(), buffer.dtype());
        &converted
    };
    match (buffer, values) {
        (B::F32(d), B::F32(s)) => put(d, layout, s),
        (B::F64(d), B::F64(s)) => put(d, layout, s),
        (B::I64(d), B::I64(s)) => put(d, layout, s),
        (B::Bool(d), B::Bool(s)) => put(d, layout, s),
        _ => unreachable!("values were cast to the buffer's dtype"),
    }
}

/// Zeros of `shape` with `grad` written at `items` (the backward of select and slices).
fn scatter_into_zeros(grad: &Tensor, shape: &[usize], items: &[IndexItem]) -> Tensor {
    let out = crate::factory::zeros_with(shape, crate::factory::TensorOptions::default().dtype(grad.dtype()));
    let region = crate::autograd::grad_mode::no_grad(|| out.index(items.to_vec()));
    write_values(&region, grad);
    let items = items.to_vec();
    // the double backward: the gradient of a scatter is the same index of its gradient
    record(out, "SelectBackwardBackward0", &[Some(grad)], &[], |_| vec![], move |_, g, _| vec![Some(g.index(items.clone()))])
}

/// The node of an index assignment: the old values' gradient is zero in the written region;
/// the assigned value gets the region of the gradient.
struct CopySlices {
    items: Vec<IndexItem>,
    value_shape: Vec<usize>,
}

impl BackwardFunction for CopySlices {
    fn name(&self) -> std::borrow::Cow<'static, str> {
        "CopySlices".into()
    }

    fn backward(&mut self, grad: &Tensor) -> Vec<Option<Tensor>> {
        let for_value = grad.index(self.items.clone()).sum_to_size(&self.value_shape);
        let for_base = grad.deep_clone();
        let region = crate::autograd::grad_mode::no_grad(|| for_base.index(self.items.clone()));
        write_values(&region, &crate::factory::zeros_like(&region));
        vec![Some(for_base), Some(for_value)]
    }
}

