//! Automatic differentiation: graph nodes, recording, the backward engine, grad modes, hooks
//! and user-defined functions.

pub mod engine;
pub mod function;
pub mod grad_mode;
pub mod hooks;
pub mod node;
pub(crate) mod ready;
pub(crate) mod record;
pub(crate) mod saved;
pub mod trace;
pub(crate) mod views;

use std::sync::atomic::Ordering;

/// Prints PyTorch's warning for reading `.grad` of a non-leaf, once per process.
pub(crate) fn warn_nonleaf_grad() {
    if !crate::global::shared().warned_nonleaf_grad.swap(true, Ordering::Relaxed) {
        eprintln!(
            "UserWarning: The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its \
             .grad attribute won't be populated during autograd.backward(). If you indeed want the .grad \
             field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you \
             access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead. See \
             github.com/pytorch/pytorch/pull/30531 for more information. (Triggered internally at \
             /__w/pytorch/pytorch/build/aten/src/ATen/core/TensorBody.h:488.)"
        );
    }
}
