//! Where the result of an elementwise op sits in memory, as torch's TensorIterator decides.
//!
//! torch does not always write a new result row-major: `x.t() * 2` keeps `x.t()`'s
//! column-major order (strides `[1, 3]` for a 3x2 result), so `(x.t() * 2).view(-1)` fails
//! and `.flatten()` copies, exactly as for `x.t()` itself. The values are the same either way;
//! the layout decides what `is_contiguous`, `view` and `flatten` do, and the order later sums
//! add in. The rule (TensorIterator's `fast_set_up`, `reorder_dimensions` and the output
//! allocation), measured on torch 2.15 by `tools/layout/record.py`:
//!
//! - every input of the result's shape and all contiguous: the result is contiguous; all
//!   non-overlapping and dense with the same strides: the result takes those strides;
//! - otherwise the dims are sorted fastest first by the inputs' strides (the first input that
//!   tells two dims apart decides; a broadcast dim tells nothing; equal strides put the smaller
//!   dim first), and the result is dense in that order.

use std::rc::Rc;

use crate::layout::{contiguous_strides, Layout};
use crate::storage::{Buffer, Storage};
use crate::tensor::Tensor;

use super::elementwise::Operand;
use super::reduce_layout::{insertion_reorder, operand_order};

/// `out` (a fresh row-major result of an elementwise op over `inputs`) laid out in memory as
/// torch lays out that op's result; the same tensor when torch's layout is row-major too.
pub(crate) fn like_torch(out: Tensor, inputs: &[&Operand]) -> Tensor {
    if only_row_major(&out) {
        return out;
    }
    let shape = out.shape();
    let layouts: Vec<Option<Layout>> = inputs
        .iter()
        .map(|op| match op {
            Operand::Tensor(t) => Some(t.layout()),
            Operand::Scalar(_) => None,
        })
        .collect();
    match output_strides(&shape, &layouts) {
        Some(strides) => relaid(out, strides),
        None => out,
    }
}

/// [`like_torch`] for an op over tensors only.
pub(crate) fn like_torch_of(out: Tensor, inputs: &[&Tensor]) -> Tensor {
    if only_row_major(&out) {
        return out;
    }
    let operands: Vec<Operand> = inputs.iter().map(|&t| Operand::Tensor(t)).collect();
    let refs: Vec<&Operand> = operands.iter().collect();
    like_torch(out, &refs)
}

/// One dim or one element: row-major is the only layout (checked without copying the shape,
/// as this runs for every small op).
fn only_row_major(out: &Tensor) -> bool {
    out.with_data(|d| d.layout.shape.len() < 2 || d.layout.numel() < 2)
}

/// [`output_strides`] with the dims in the order they are laid out, slowest first: a result
/// written element by element in that order (the inputs read as `permuted`) has those
/// strides. None when torch's layout is row-major.
pub(crate) fn output_order(shape: &[usize], inputs: &[Option<Layout>]) -> Option<(Vec<usize>, Vec<usize>)> {
    let strides = output_strides(shape, inputs)?;
    let mut order: Vec<usize> = (0..shape.len()).collect();
    // dense strides: each dim's stride is the product of the sizes of the dims faster than it
    // (a dim of size 1 may sit anywhere: it has one index)
    order.sort_by(|&a, &b| strides[b].cmp(&strides[a]));
    Some((order, strides))
}

/// A layout that reads `layout` (broadcast to `shape`) with its dims in `order`: element `i`
/// of it in row-major order is element `i` of the result laid out in that order.
pub(crate) fn permuted(layout: &Layout, shape: &[usize], order: &[usize]) -> Layout {
    let lead = shape.len() - layout.shape.len();
    let stride = |d: usize| {
        if d < lead || (layout.shape[d - lead] == 1 && shape[d] != 1) {
            0
        } else {
            layout.strides[d - lead]
        }
    };
    Layout {
        shape: order.iter().map(|&d| shape[d]).collect(),
        strides: order.iter().map(|&d| stride(d)).collect(),
        offset: layout.offset,
    }
}

/// The strides torch gives a new result of `shape` computed from `inputs` (None for a number
/// operand); None when they are the row-major ones.
pub(crate) fn output_strides(shape: &[usize], inputs: &[Option<Layout>]) -> Option<Vec<usize>> {
    let row_major = contiguous_strides(shape);
    // fast_set_up: every operand a tensor of the result's shape
    let same_shape: Option<Vec<&Layout>> =
        inputs.iter().map(|l| l.as_ref().filter(|l| crate::layout::same_shape(&l.shape, shape))).collect();
    if let Some(layouts) = same_shape {
        if layouts.iter().all(|l| l.is_contiguous()) {
            return None;
        }
        let first = &layouts[0].strides;
        if layouts.iter().all(|l| l.is_non_overlapping_and_dense() && &l.strides == first) {
            return (first[..] != row_major[..]).then(|| first.to_vec());
        }
    }
    // reorder_dimensions: strides of each tensor input over the result's dims, 0 where broadcast
    let strides: Vec<Vec<usize>> = inputs
        .iter()
        .flatten()
        .map(|l| {
            let lead = shape.len() - l.shape.len();
            (0..shape.len())
                .map(|d| {
                    if d < lead || (l.shape[d - lead] == 1 && shape[d] != 1) {
                        0
                    } else {
                        l.strides[d - lead]
                    }
                })
                .collect()
        })
        .collect();
    // fastest dim first, each input's strides deciding in turn
    let n = shape.len();
    let mut perm: Vec<usize> = (0..n).rev().collect();
    insertion_reorder(&mut perm, |&a, &b| {
        strides.iter().find_map(|s| operand_order(s[a], s[b], shape[a], shape[b])).unwrap_or(0)
    });
    if perm.iter().enumerate().all(|(i, &d)| d == n - 1 - i) {
        return None;
    }
    let mut out = vec![0; n];
    let mut step = 1;
    for &d in &perm {
        out[d] = step;
        step *= shape[d];
    }
    Some(out)
}

/// The same values as `out` (row-major, fresh, no history) in a new storage laid out with
/// `strides` (dense).
fn relaid(out: Tensor, strides: Vec<usize>) -> Tensor {
    let (shape, dtype) = (out.shape(), out.dtype());
    let layout = Layout { shape: shape.into(), strides: strides.into(), offset: 0 };
    let values = out.contiguous_buffer();
    let mut buffer = super::kernel::cast(Buffer::F64(vec![0.0; values.len()]), dtype);
    super::index::write_buffer(&mut buffer, &layout, &values);
    Tensor::from_parts(Rc::new(Storage::new(buffer)), layout, dtype)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strided(shape: &[usize], strides: &[usize]) -> Option<Layout> {
        Some(Layout { shape: shape.into(), strides: strides.into(), offset: 0 })
    }

    #[test]
    fn torchs_order_of_dims() {
        // a.t() * 2 (a 2x3): the number is no tensor, the transpose decides
        assert_eq!(output_strides(&[3, 2], &[strided(&[3, 2], &[1, 3]), None]), Some(vec![1, 3]));
        // c + a.t(): the first input decides
        assert_eq!(output_strides(&[3, 2], &[strided(&[3, 2], &[2, 1]), strided(&[3, 2], &[1, 3])]), None);
        // a.t().expand(2, 3, 2) * 1: the broadcast dim stays slowest
        assert_eq!(output_strides(&[2, 3, 2], &[strided(&[2, 3, 2], &[0, 1, 3]), None]), Some(vec![6, 1, 3]));
        // a.unsqueeze(2).transpose(0, 2) * 2: equal strides put the smaller dim first
        assert_eq!(output_strides(&[1, 3, 2], &[strided(&[1, 3, 2], &[1, 1, 3]), None]), Some(vec![1, 1, 3]));
        // exp of a transposed tensor of the same shape keeps its strides
        assert_eq!(output_strides(&[3, 2], &[strided(&[3, 2], &[1, 3])]), Some(vec![1, 3]));
    }
}
