//! Argument checks shared by several ops, each raising PyTorch's exception type and words
//! (see [`crate::error`]). The messages were measured in PyTorch 2.15.

use crate::tensor::Tensor;

/// The dim (of the broadcast rank) where two shapes cannot broadcast, with both sizes: the
/// last such dim, as torch's `infer_size` walks the dims from the end.
pub(crate) fn mismatch(a: &[usize], b: &[usize]) -> Option<(usize, usize, usize)> {
    let rank = a.len().max(b.len());
    (0..rank).rev().find_map(|i| {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        (da != db && da != 1 && db != 1).then_some((i, da, db))
    })
}

/// torch's `sub_check`: subtraction refuses a bool operand, a Python `True` included
/// (`mask - 1`, `1.0 - mask`, `x - mask`, `mask.sub_(1)`), with its words for two bools.
#[track_caller]
pub(crate) fn check_sub_operands(a_is_bool: bool, b_is_bool: bool) {
    if a_is_bool && b_is_bool {
        crate::raise!(
            NotImplementedError,
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead."
        );
    }
    if a_is_bool || b_is_bool {
        crate::raise!(
            NotImplementedError,
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
        );
    }
}

/// An in-place op writes into `dst`: `src`'s shape must broadcast to exactly `dst`'s
/// (`x.copy_(src)`, `x.add_(other)`).
#[track_caller]
pub(crate) fn check_inplace_shapes(dst: &[usize], src: &[usize]) {
    if let Some((dim, a, b)) = mismatch(dst, src) {
        crate::raise!("The size of tensor a ({a}) must match the size of tensor b ({b}) at non-singleton dimension {dim}");
    }
    if src.len() > dst.len() || src.iter().rev().zip(dst.iter().rev()).any(|(s, d)| s != d && *s != 1) {
        let broadcast = crate::layout::broadcast_shapes(dst, src).unwrap_or_default();
        crate::raise!("output with shape {dst:?} doesn't match the broadcast shape {broadcast:?}");
    }
}

/// `x.grad = g`: same dtype, then same size.
#[track_caller]
pub(crate) fn check_assigned_grad(tensor: &Tensor, grad: &Tensor) {
    let (dtype, grad_dtype) = (tensor.dtype(), grad.dtype());
    if dtype != grad_dtype {
        crate::raise!(
            "attempting to assign a gradient with dtype '{}' to a tensor with grad_dtype '{}'. The gradient must match \
             the tensor's grad_dtype (defaults to the tensor's dtype). You can set the tensor's grad_dtype attribute with \
             a specific dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging the dtypes of a tensor \
             and its gradient may break downstream systems that assume they match.",
            grad_dtype.cpp_name(),
            dtype.title()
        );
    }
    let (shape, grad_shape) = (tensor.shape(), grad.shape());
    if !crate::layout::same_shape(&shape, &grad_shape) {
        crate::raise!(
            "attempting to assign a gradient of size '{grad_shape:?}' to a tensor of size '{shape:?}'. Please ensure \
             that the gradient and the tensor are the same size"
        );
    }
}

/// `x.masked_fill(mask, v)`: a bool mask that broadcasts with `x`.
#[track_caller]
pub(crate) fn check_masked_fill(input: &Tensor, mask: &Tensor) {
    if mask.dtype() != crate::dtype::DType::Bool {
        crate::raise!(
            "masked_fill_ only supports boolean masks, but got mask with dtype {}",
            mask.dtype().cpp_name()
        );
    }
    if let Some((dim, a, b)) = mismatch(&mask.shape(), &input.shape()) {
        crate::raise!("The size of tensor a ({a}) must match the size of tensor b ({b}) at non-singleton dimension {dim}");
    }
}

/// `x.clamp(min, max)` needs at least one bound.
#[track_caller]
pub(crate) fn check_clamp_bounds(min: Option<f64>, max: Option<f64>) {
    if min.is_none() && max.is_none() {
        crate::raise!("torch.clamp: At least one of 'min' or 'max' must not be None");
    }
}

/// `x.sum_to_size(shape)`: `shape` must expand to `x`'s shape.
#[track_caller]
pub(crate) fn check_sum_to_size(own: &[usize], shape: &[usize]) {
    let expandable =
        shape.len() <= own.len() && shape.iter().rev().zip(own.iter().rev()).all(|(&s, &o)| s == o || s == 1);
    if !expandable {
        crate::raise!("size {{{shape:?}}} is not expandable to size {{{own:?}}}.");
    }
}

/// The node name in the version-counter error: PyTorch 2.15 drops the `Backward` of a
/// backward node's name (`ExpBackward0` → `Exp`, `SumBackward1` → `Sum1`,
/// `TanhBackwardBackward0` → `TanhBackward`, a custom `MulConstantBackward` → `MulConstant`)
/// and keeps other names (`torch::autograd::CopySlices`).
pub(crate) fn version_error_node_name(name: &str) -> String {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (stem, number) = name.split_at(name.len() - digits);
    match stem.strip_suffix("Backward") {
        Some(op) if number == "0" => op.to_string(),
        Some(op) => format!("{op}{number}"),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_error_names_drop_backward() {
        assert_eq!(version_error_node_name("ExpBackward0"), "Exp");
        assert_eq!(version_error_node_name("SumBackward1"), "Sum1");
        assert_eq!(version_error_node_name("TanhBackwardBackward0"), "TanhBackward");
        assert_eq!(version_error_node_name("MulConstantBackward"), "MulConstant");
        assert_eq!(version_error_node_name("torch::autograd::CopySlices"), "torch::autograd::CopySlices");
        assert_eq!(
            version_error_node_name("torch::autograd::CopyBackwards"),
            "torch::autograd::CopyBackwards"
        );
        assert_eq!(version_error_node_name("CopySlices"), "CopySlices");
    }

    #[test]
    fn in_place_shapes_must_broadcast_to_the_destination() {
        check_inplace_shapes(&[2, 3], &[3]);
        check_inplace_shapes(&[2, 3], &[1, 3]);
        let err = |dst: &'static [usize], src: &'static [usize]| {
            let payload = std::panic::catch_unwind(|| check_inplace_shapes(dst, src)).unwrap_err();
            crate::error::TorchError::from_payload(payload.as_ref()).message
        };
        assert_eq!(
            err(&[3], &[2]),
            "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 0"
        );
        // torch 2.15: torch.ones(3, 2).add_(torch.ones(2, 3)) names the last dim that differs
        assert_eq!(
            err(&[3, 2], &[2, 3]),
            "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 1"
        );
        assert_eq!(err(&[3], &[2, 3]), "output with shape [3] doesn't match the broadcast shape [2, 3]");
        assert_eq!(
            err(&[1, 3], &[2, 3]),
            "output with shape [1, 3] doesn't match the broadcast shape [2, 3]"
        );
        assert_eq!(
            err(&[2, 3], &[1, 1, 3]),
            "output with shape [2, 3] doesn't match the broadcast shape [1, 2, 3]"
        );
    }
}
