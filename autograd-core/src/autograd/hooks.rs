//! Tensor hooks (`register_hook`) and `retain_grad`.

use std::rc::{Rc, Weak};

use super::node::{Hook, NodeInner};
use crate::global;
use crate::tensor::{Tensor, TensorImpl};

/// Removes a hook again (`handle.remove()`).
pub struct HookHandle {
    id: u64,
    target: HookTarget,
}

enum HookTarget {
    Leaf(Weak<TensorImpl>),
    Node(Weak<NodeInner>),
}

impl HookHandle {
    /// Unregisters the hook; later backward passes no longer call it.
    pub fn remove(self) {
        match &self.target {
            HookTarget::Leaf(weak) => {
                if let Some(inner) = weak.upgrade() {
                    Tensor(inner).meta().hooks.retain(|(id, _)| *id != self.id);
                }
            }
            HookTarget::Node(weak) => {
                if let Some(inner) = weak.upgrade() {
                    let mut state = inner.state.borrow_mut();
                    state.pre_hooks.retain(|(id, _)| *id != self.id);
                }
            }
        }
    }
}

impl Tensor {
    /// Calls `hook` with this tensor's gradient during backward; returning `Some(t)` replaces
    /// the gradient (on a leaf: before it is accumulated into `.grad`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([1., 2.], requires_grad = true);
    /// let handle = x.register_hook(|g| Some(g * 2.0));
    /// (&x * 3.0).sum().backward();
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([6., 6.])");
    /// handle.remove();
    /// ```
    #[track_caller]
    pub fn register_hook(&self, hook: impl Fn(&Tensor) -> Option<Tensor> + 'static) -> HookHandle {
        if !self.requires_grad() {
            crate::raise!("cannot register a hook on a tensor that doesn't require gradient");
        }
        let id = global::next_id();
        let hook: Hook = Rc::new(hook);
        let grad_fn = self.grad_fn();
        match grad_fn {
            None => {
                self.meta().hooks.push((id, hook));
                HookHandle { id, target: HookTarget::Leaf(Rc::downgrade(&self.0)) }
            }
            Some(node) => {
                node.add_pre_hook(id, hook);
                HookHandle { id, target: HookTarget::Node(Rc::downgrade(&node.0)) }
            }
        }
    }
}

#[track_caller]
pub(crate) fn retain_grad(tensor: &Tensor) {
    if !tensor.requires_grad() {
        crate::raise!("can't retain_grad on Tensor that has requires_grad=False");
    }
    // torch's C++ is_leaf (the grad_fn as it is) decides; only a non-leaf's is rebuilt
    if tensor.meta().grad_fn.is_none() {
        return;
    }
    let Some(node) = tensor.grad_fn() else { return };
    let mut meta = tensor.meta();
    if meta.retains_grad {
        return;
    }
    meta.retains_grad = true;
    drop(meta);
    node.add_retained(Rc::downgrade(&tensor.0));
}
