//! Indexing: `select` (`M[0]`, `M[:, 1]`), `narrow`/slices, the `idx!` index lists, and
//! index assignment (`n[0, 0] = expr`, recorded as `CopySlices`).

use std::ops::{Range, RangeFrom, RangeFull, RangeTo};

use super::elementwise::{IntoOperand, Operand};
use super::shape::wrap_dim;
use crate::autograd::record::record;
use crate::layout::{same_shape, Layout};
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

impl IndexItem {
    /// The positions `start..end` a range (or `..`) covers in a dim of `size`, clamped as
    /// Python clamps slice bounds.
    fn bounds(self, size: usize) -> (usize, usize) {
        match self {
            IndexItem::Range(start, end) => {
                let s = clamp_bound(start, size, 0);
                (s, clamp_bound(end, size, size).max(s))
            }
            _ => (0, size),
        }
    }

    /// Whether indexing skips this slice as "everything" (torch 2.15's shortcut: a start of
    /// none or 0 and an end at or past the size; `-2:` on a dim of 2 is still a slice).
    fn is_whole(self, size: usize) -> bool {
        match self {
            IndexItem::Full => true,
            IndexItem::Range(start, end) => {
                matches!(start, None | Some(0)) && end.is_none_or(|e| e >= size as isize)
            }
            IndexItem::At(_) => false,
        }
    }
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
    if index < 0 {
        (index + s) as usize
    } else {
        index as usize
    }
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
            crate::raise!(
                IndexError,
                "select(): index {index} out of range for tensor of size {shape:?} at dimension {d}"
            );
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
        record(
            out,
            "SelectBackward0",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| vec![Some(scatter_into_zeros(g, &shape, &item, "SelectBackwardBackward0"))],
        )
    }

    /// `x.narrow(dim, start, length)`: positions `start..start+length` along `dim`, a view
    /// (`SliceBackward0`).
    #[track_caller]
    pub fn narrow(&self, dim: isize, start: usize, length: usize) -> Tensor {
        let shape = self.shape();
        let d = wrap_dim(dim, shape.len());
        if start > shape[d] {
            crate::raise!(
                IndexError,
                "start out of range (expected to be in range of [-{0}, {0}], but got {start})",
                shape[d]
            );
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
        record(
            out,
            "SliceBackward0",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| vec![Some(scatter_into_zeros(g, &shape, &item, "SliceBackwardBackward0"))],
        )
    }

    /// `x[items]` with an index list from [`idx!`]: positions drop their dim, ranges keep it.
    #[track_caller]
    pub fn index(&self, items: Vec<IndexItem>) -> Tensor {
        // Python's `x[a:b]` (one slice) is always a slice view, even over the whole range;
        // with several items, whole-range slices are skipped and an index that picks
        // everything gives an alias of `x` (torch 2.15: `x[:, :]` is `AliasBackward0`)
        if let [IndexItem::Full | IndexItem::Range(..)] = items.as_slice() {
            let size = *self
                .shape()
                .first()
                .unwrap_or_else(|| crate::raise!(IndexError, "slice() cannot be applied to a 0-dim tensor."));
            let (s, e) = items[0].bounds(size);
            return self.narrow(0, s, e - s);
        }
        self.index_picking(items).unwrap_or_else(|| self.alias())
    }

    /// The view `items` pick, skipping whole-range slices; `None` when nothing is left to do
    /// (the index picks the whole tensor).
    #[track_caller]
    fn index_picking(&self, items: Vec<IndexItem>) -> Option<Tensor> {
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
        let mut out: Option<Tensor> = None;
        let mut dim = 0isize;
        for item in items {
            let current = out.clone().unwrap_or_else(|| self.clone());
            match item {
                IndexItem::At(i) => out = Some(current.select(dim, i)),
                IndexItem::Full => dim += 1,
                IndexItem::Range(..) => {
                    let size = current.shape()[dim as usize];
                    if !item.is_whole(size) {
                        let (s, e) = item.bounds(size);
                        out = Some(current.narrow(dim, s, e - s));
                    }
                    dim += 1;
                }
            }
        }
        out
    }

    /// `x.alias()`: a view of all of `x` (`AliasBackward0`).
    #[track_caller]
    pub fn alias(&self) -> Tensor {
        let out = self.view_with_layout(self.layout());
        // d alias(x) = grad
        record(out, "AliasBackward0", &[Some(self)], &[], |_| vec![], |_, g, _| vec![Some(g.clone())])
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
        self.assign_operand(items, value.into_operand())
    }

    #[track_caller]
    fn assign_operand(&self, items: Vec<IndexItem>, value: Operand<'_>) -> Tensor {
        // as Python does it: `n[items]` is a view, then `copy_` or `fill_` in place, which
        // rewires `n`'s history through CopySlices; an index that picks everything writes
        // into `n` itself (`FillBackward2`, `FillBackward3` for a 0-dim tensor, `CopyBackwards`)
        match (self.index_picking(items), value) {
            // Python's setitem copies a value of the region's shape as it is, fills from a
            // 0-dim one, and otherwise copies from the value with its leading 1s viewed away
            // and expanded to the region (recorded: ExpandBackward0 <- ViewBackward0); that is
            // also what torch's overlap check sees
            (Some(view), Operand::Tensor(t)) if same_shape(&t.shape(), &view.shape()) => {
                view.copy_reading(t, Some(t))
            }
            (Some(view), Operand::Tensor(t)) if t.dim() == 0 => view.copy_reading(t, None),
            (Some(view), Operand::Tensor(t)) => {
                let source = setitem_source(t, &view.shape());
                view.copy_reading(&source, Some(&source))
            }
            (Some(view), Operand::Scalar(s)) => view.fill_(s),
            (None, Operand::Tensor(t)) if t.dim() == 0 => self.fill_tensor_(t),
            (None, Operand::Tensor(t)) if same_shape(&t.shape(), &self.shape()) => self.copy_(t),
            (None, Operand::Tensor(t)) => self.copy_(&setitem_source(t, &self.shape())),
            (None, Operand::Scalar(s)) => self.fill_(s),
        };
        self.clone()
    }
}

/// The value Python's setitem copies into a region of `shape` when the value's shape
/// differs (torch's `copy_to`): leading 1s viewed away, then expanded to the region.
#[track_caller]
fn setitem_source(value: &Tensor, shape: &[usize]) -> Tensor {
    let viewed = value.view(without_leading_ones(&value.shape()));
    if same_shape(&viewed.shape(), shape) {
        viewed
    } else {
        viewed.expand(shape)
    }
}

/// A value's shape with its leading 1s dropped (torch's `slicePrefix1sSize`), for the view
/// Python's setitem takes of the value before it writes it.
fn without_leading_ones(dims: &[usize]) -> Vec<isize> {
    dims.iter().skip_while(|&&d| d == 1).map(|&d| d as isize).collect()
}

/// Writes `source`'s values (same shape) into `target`'s storage positions.
pub(crate) fn write_values(target: &Tensor, source: &Tensor) {
    let values = source.contiguous_buffer();
    let data = target.read_data();
    let mut buffer = data.storage.write();
    write_buffer(&mut buffer, &data.layout, &values);
}

pub(crate) fn write_buffer(
    buffer: &mut crate::storage::Buffer,
    layout: &Layout,
    values: &crate::storage::Buffer,
) {
    use crate::storage::Buffer as B;
    fn put<T: Copy>(dst: &mut [T], layout: &Layout, src: &[T]) {
        if layout.is_contiguous() {
            dst[layout.span()].copy_from_slice(src);
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

/// Sets every element of `layout` in `buffer` to `value` (cast as torch casts a fill value).
pub(crate) fn fill_buffer(buffer: &mut crate::storage::Buffer, layout: &Layout, value: f64) {
    fill_buffer_where(buffer, layout, None, value)
}

/// [`fill_buffer`] for the elements (row-major) whose flag in `selected` is set, or all of
/// them for `None`.
pub(crate) fn fill_buffer_where(
    buffer: &mut crate::storage::Buffer,
    layout: &Layout,
    selected: Option<&[bool]>,
    value: f64,
) {
    use crate::storage::Buffer as B;
    fn put<T: Copy>(dst: &mut [T], layout: &Layout, selected: Option<&[bool]>, value: T) {
        match selected {
            None if layout.is_contiguous() => dst[layout.span()].fill(value),
            None => layout.positions().for_each(|p| dst[p] = value),
            Some(selected) => {
                layout.positions().zip(selected).filter(|(_, &s)| s).for_each(|(p, _)| dst[p] = value)
            }
        }
    }
    match buffer {
        B::F32(d) => put(d, layout, selected, value as f32),
        B::F64(d) => put(d, layout, selected, value),
        B::I64(d) => put(d, layout, selected, value as i64),
        B::Bool(d) => put(d, layout, selected, value != 0.0),
    }
}

/// Zeros of `shape` with `grad` written at `items` (the backward of select and slices; `name`
/// is torch's node for it, seen in double-backward graphs).
fn scatter_into_zeros(grad: &Tensor, shape: &[usize], items: &[IndexItem], name: &'static str) -> Tensor {
    let out = crate::factory::zeros_with(shape, crate::factory::TensorOptions::default().dtype(grad.dtype()));
    let region = crate::autograd::grad_mode::no_grad(|| out.index(items.to_vec()));
    write_values(&region, grad);
    let items = items.to_vec();
    // the double backward: the gradient of a scatter is the same index of its gradient
    record(out, name, &[Some(grad)], &[], |_| vec![], move |_, g, _| vec![Some(g.index(items.clone()))])
}

/// The rows an index tensor picks: a bool mask over the leading dims, or int64 positions
/// along dim 0 (negative ones count from the end). Returns the row numbers (in the flattened
/// leading dims) and how many leading dims the index covers.
#[track_caller]
fn index_rows(t_shape: &[usize], index: &Tensor) -> (Vec<usize>, usize) {
    match index.dtype() {
        crate::dtype::DType::Bool => {
            let mask_shape = index.shape();
            let covered = mask_shape.len();
            if covered > t_shape.len() {
                crate::raise!(IndexError, "too many indices for tensor of dimension {}", t_shape.len());
            }
            for (i, (&m, &s)) in mask_shape.iter().zip(t_shape).enumerate() {
                if m != s {
                    crate::raise!(
                        IndexError,
                        "The shape of the mask {} at index {i} does not match the shape of the indexed tensor {} at index {i}",
                        crate::layout::shape_list(&mask_shape),
                        crate::layout::shape_list(t_shape)
                    );
                }
            }
            let rows =
                index.to_vec_f64().iter().enumerate().filter(|(_, &v)| v != 0.0).map(|(i, _)| i).collect();
            (rows, covered)
        }
        crate::dtype::DType::Int64 => {
            if t_shape.is_empty() {
                crate::raise!(IndexError, "too many indices for tensor of dimension 0");
            }
            let size = t_shape[0];
            let rows = index
                .to_vec_i64()
                .into_iter()
                .map(|i| {
                    if i < -(size as i64) || i >= size as i64 {
                        crate::raise!(
                            IndexError,
                            "index {i} is out of bounds for dimension 0 with size {size}"
                        );
                    }
                    if i < 0 {
                        (i + size as i64) as usize
                    } else {
                        i as usize
                    }
                })
                .collect();
            (rows, 1)
        }
        _ => crate::raise!(IndexError, "tensors used as indices must be long, int, byte or bool tensors"),
    }
}

/// Copies of `rows` (each `block` elements long) of `values`, in order.
fn take_rows(values: &[f64], rows: &[usize], block: usize) -> Vec<f64> {
    rows.iter().flat_map(|&r| values[r * block..(r + 1) * block].iter().copied()).collect()
}

impl Tensor {
    /// `x.index_put(index, values)` out of place: `x` with the rows `index` picks (a bool mask
    /// or int64 positions along dim 0) replaced by `values` (broadcast), `IndexPutBackward0`.
    #[track_caller]
    pub(crate) fn index_put(&self, index: &Tensor, values: &Operand) -> Tensor {
        let shape = self.shape();
        let positions = index.dtype() == crate::dtype::DType::Int64 && index.numel() > 0;
        if matches!(values, Operand::Tensor(_)) && positions && shape.first() == Some(&0) {
            // torch's index_put_ kernel words an empty dim without the numbers, before it
            // looks at the value's shape
            crate::raise!(IndexError, "index is out of bounds for dimension with size 0");
        }
        let (rows, covered) = index_rows(&shape, index);
        let rest: Vec<usize> = match index.dtype() {
            crate::dtype::DType::Bool => shape[covered..].to_vec(),
            _ => shape[1..].to_vec(),
        };
        let block: usize = rest.iter().product();
        let mut region_shape = vec![rows.len()];
        region_shape.extend(&rest);
        let dtype = self.dtype();
        let source = match values {
            Operand::Tensor(t) => *t,
            Operand::Scalar(_) => &Tensor::from_vec(vec![0.0], &[], dtype),
        };
        let fill: Vec<f64> = match values {
            Operand::Tensor(t) => {
                let broadcast = crate::layout::broadcast_shapes(&t.shape(), &region_shape);
                if broadcast.as_deref() != Some(region_shape.as_slice()) {
                    crate::raise!(
                        "shape mismatch: value tensor of shape {} cannot be broadcast to indexing result of shape {}",
                        crate::layout::shape_list(&t.shape()),
                        crate::layout::shape_list(&region_shape)
                    );
                }
                crate::autograd::grad_mode::no_grad(|| t.expand(&region_shape).to_vec_f64())
            }
            Operand::Scalar(s) => vec![s.as_f64(); rows.len() * block],
        };
        let mut out = self.to_vec_f64();
        for (j, &r) in rows.iter().enumerate() {
            out[r * block..(r + 1) * block].copy_from_slice(&fill[j * block..(j + 1) * block]);
        }
        let out = Tensor::from_vec(out, &shape, dtype);
        let (value_shape, value_dtype) = (source.shape(), source.dtype());
        // a number at int64 positions is torch's `index_fill` (one input), a tensor `index_put`
        let (name, inputs): (&'static str, Vec<Option<&Tensor>>) = match values {
            Operand::Tensor(t) => ("IndexPutBackward0", vec![Some(self), Some(*t)]),
            Operand::Scalar(_) => ("IndexFillBackward0", vec![Some(self)]),
        };
        // d index_put(x, rows, v) = grad with the rows zeroed for x, the rows of grad for v
        record(
            out,
            name,
            &inputs,
            &[],
            |_| vec![],
            move |_, g, needs| {
                let grad = g.to_vec_f64();
                let for_self = needs[0].then(|| {
                    let mut kept = grad.clone();
                    for &r in &rows {
                        kept[r * block..(r + 1) * block].iter_mut().for_each(|v| *v = 0.0);
                    }
                    Tensor::from_vec(kept, &g.shape(), g.dtype())
                });
                let mut grads = vec![for_self];
                if let Some(&need) = needs.get(1) {
                    grads.push(need.then(|| {
                        let picked =
                            Tensor::from_vec(take_rows(&grad, &rows, block), &region_shape, g.dtype());
                        super::elementwise::reduce_grad(picked, &value_shape, value_dtype)
                    }));
                }
                grads
            },
        )
    }

    /// Assignment through an index tensor, Python's `x[mask] = value` (a bool mask over the
    /// leading dims) or `x[positions] = value` (int64 positions along dim 0); `value` is a
    /// number or a tensor broadcast to the picked rows (`IndexPutBackward0`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([1., -2., 3.]);
    /// x.assign_with(&x.lt(0.0), 0.0);
    /// assert_eq!(x.to_string(), "tensor([1., 0., 3.])");
    /// x.assign_with(&tensor!([0, 2]), &tensor!([7., 8.]));
    /// assert_eq!(x.to_string(), "tensor([7., 0., 8.])");
    /// ```
    #[track_caller]
    pub fn assign_with<'a>(&self, index: &Tensor, value: impl IntoOperand<'a>) -> Tensor {
        self.assign_with_operand(index, value.into_operand())
    }

    #[track_caller]
    fn assign_with_operand(&self, index: &Tensor, value: Operand<'_>) -> Tensor {
        if let Operand::Tensor(t) = value {
            self.check_index_put_dtype(index, t);
        }
        // which in-place op Python's `x[t] = v` becomes decides the node (torch 2.15):
        // a 0-dim bool is basic indexing (CopySlices), a number into a bool mask is
        // `masked_fill_`, a number at int64 positions `index_fill_`, a tensor `index_put_`
        if index.dtype() == crate::dtype::DType::Bool && index.dim() == 0 {
            let picked = self.unsqueeze(0);
            let view = if index.item() != 0.0 { picked } else { picked.narrow(0, 0, 0) };
            match value {
                Operand::Tensor(t) => view.copy_(t),
                Operand::Scalar(s) => view.fill_(s),
            };
            return self.clone();
        }
        match (value, index.dtype()) {
            (Operand::Scalar(s), crate::dtype::DType::Bool) => {
                let (_, covered) = index_rows(&self.shape(), index);
                let mut mask_shape = index.shape();
                mask_shape.extend(std::iter::repeat_n(1, self.dim() - covered));
                let mask = crate::autograd::grad_mode::no_grad(|| {
                    index.reshape(mask_shape.iter().map(|&d| d as isize).collect::<Vec<_>>())
                });
                self.masked_fill_(&mask, s.as_f64())
            }
            _ => {
                // as Python's setitem: a tensor value has its leading 1s viewed away first
                // (`x[i] = w` with w of shape [1] puts w viewed as 0-dim: ViewBackward0)
                let viewed;
                let value = match value {
                    Operand::Tensor(t) if t.shape().first() == Some(&1) => {
                        viewed = t.view(without_leading_ones(&t.shape()));
                        Operand::Tensor(&viewed)
                    }
                    other => other,
                };
                // a number at int64 positions is torch's index_fill_, which writes an expanded
                // tensor (with a warning) where index_put_ refuses
                let fill = match value {
                    Operand::Scalar(s) if index.dim() > 0 && self.dim() > 0 => Some(s.as_f64()),
                    _ => None,
                };
                let repeats = fill.is_some() && self.has_repeats();
                if repeats {
                    crate::ops::inplace::warn_fill_of_expanded("index_fill_");
                }
                self.check_index_put_write(index, value.tensor(), repeats);
                let nothing_to_fill;
                let index = match value {
                    Operand::Scalar(_) if index.dim() > 0 && self.dim() > 0 => {
                        self.check_index_fill_fits(index.numel());
                        // torch's index_fill walks no element (and checks no position) when
                        // the filled region is empty
                        nothing_to_fill = Tensor::from_i64(vec![], &[0]);
                        let empty = self.shape()[1..].contains(&0);
                        if empty {
                            &nothing_to_fill
                        } else {
                            index
                        }
                    }
                    _ => index,
                };
                let out = self.write_inplace(|t| t.index_put(index, &value));
                if let (true, Some(v)) = (repeats, fill) {
                    self.refill_selected(&self.rows_selected(index), v);
                }
                out
            }
        }
    }

    /// One flag per element (row-major): whether its position along dim 0 is in `index`
    /// (negative positions count from the end).
    fn rows_selected(&self, index: &Tensor) -> Vec<bool> {
        let shape = self.shape();
        let rows = shape[0];
        let mut chosen = vec![false; rows];
        for i in index.to_vec_f64() {
            let i = i as i64;
            let i = if i < 0 { i + rows as i64 } else { i };
            if let Some(flag) = usize::try_from(i).ok().and_then(|i| chosen.get_mut(i)) {
                *flag = true;
            }
        }
        let per_row = shape[1..].iter().product::<usize>();
        chosen.iter().flat_map(|&c| std::iter::repeat_n(c, per_row)).collect()
    }

    /// The checks before `index_put_` / `index_fill_` writes: the in-place rules, then no
    /// element in common with the value or the indices (torch reads neither from the tensor it
    /// writes into, not even the whole tensor itself).
    #[track_caller]
    fn check_index_put_write(&self, index: &Tensor, value: Option<&Tensor>, repeats_allowed: bool) {
        self.check_inplace_write_allowing_repeats(
            &value.into_iter().collect::<Vec<_>>(),
            &[],
            repeats_allowed,
        );
        for input in value.into_iter().chain([index]) {
            crate::ops::inplace::check_no_overlap(self, input);
        }
    }

    /// torch's `index_put_` takes a tensor value of the written tensor's dtype only (a Python
    /// number is made in that dtype first): a value of another dtype is refused, after the
    /// in-place and overlap checks. Except for one element into a bool mask, which torch hands
    /// to `masked_fill_` as a number (`x[mask] = torch.tensor(2.0)` into float64 runs).
    #[track_caller]
    fn check_index_put_dtype(&self, index: &Tensor, value: &Tensor) {
        let (dtype, value_dtype) = (self.dtype(), value.dtype());
        let masked_fill = index.dtype() == crate::dtype::DType::Bool && index.dim() > 0 && value.numel() == 1;
        if dtype == value_dtype || masked_fill {
            return;
        }
        self.check_index_put_write(index, Some(value), false);
        crate::raise!(
            "Index put requires the source and destination dtypes match, got {} for the destination and {} for the source.",
            dtype.title(),
            value_dtype.title()
        );
    }

    /// torch's `index_fill_` views `self` with dim 0 replaced by `count` rows of stride 0
    /// before it checks any position, and that view must fit in the storage: into an empty
    /// tensor this raises torch's `setStorage` error (`x = zeros(0); x[tensor([0])] = 0.5`).
    #[track_caller]
    fn check_index_fill_fits(&self, count: usize) {
        let (layout, dtype, storage_len) =
            self.with_data(|d| (d.layout.clone(), d.dtype, d.storage.read().len()));
        let mut sizes = layout.shape.clone();
        let mut strides = layout.strides.clone();
        sizes[0] = count;
        strides[0] = 0;
        let itemsize = dtype.size_of();
        let needed = if sizes.contains(&0) {
            0
        } else {
            itemsize
                * (layout.offset + 1 + sizes.iter().zip(&strides).map(|(&n, &s)| (n - 1) * s).sum::<usize>())
        };
        if needed > storage_len * itemsize {
            crate::raise!(
                "setStorage: sizes {}, strides {}, storage offset {}, and itemsize {itemsize} requiring a storage size of {needed} are out of bounds for storage of size {}",
                crate::layout::shape_list(&sizes),
                crate::layout::shape_list(&strides),
                layout.offset,
                storage_len * itemsize
            );
        }
    }
}
