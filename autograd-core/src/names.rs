//! Names for tensors in pictures: the variable a tensor is bound to (`x`, `w`, `loss`), shown
//! on its box in `draw_graph`, `draw_forward`, node pictures, `explain` and `step_backward`,
//! like torchviz's `params=` but without passing anything.
//!
//! The notebook kernel names tensors itself: after each top-level `let` (and assignment) of a
//! cell it calls [`name_binding`], which names the value when it is a tensor and does nothing
//! otherwise. Outside the kernel, [`Tensor::set_label`] names a tensor explicitly.
//!
//! A name belongs to the tensor, not to the variable: the latest name given wins, a tensor
//! that was dropped loses its name, and a result is found by its current `grad_fn` when a
//! picture is drawn (so an in-place op moves the name along with the tensor's history). The
//! registry holds weak references only; it never keeps a tensor alive.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use crate::tensor::{Tensor, TensorImpl};

thread_local! {
    /// Named tensors, oldest first (per thread, as tensors are).
    static NAMES: RefCell<Vec<(Weak<TensorImpl>, String)>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on the registry.
fn with_names<R>(f: impl FnOnce(&mut Vec<(Weak<TensorImpl>, String)>) -> R) -> R {
    NAMES.with(|names| f(&mut names.borrow_mut()))
}

impl Tensor {
    /// Names this tensor in graph pictures (`x`, `loss`); returns the tensor, so it chains.
    /// In the notebook kernel, tensors bound with `let` are named after their variable already.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let w = tensor!([2.], requires_grad = true);
    /// w.set_label("weight");
    /// let loss = (&w * 3.0).sum();
    /// loss.set_label("loss");
    /// assert!(draw_graph(&loss).text().contains("AccumulateGrad (weight)"));
    /// assert_eq!(w.label().as_deref(), Some("weight"));
    /// ```
    pub fn set_label(&self, name: &str) -> &Tensor {
        with_names(|names| {
            names.retain(|(t, _)| t.strong_count() > 0 && !std::ptr::eq(t.as_ptr(), Rc::as_ptr(&self.0)));
            names.push((Rc::downgrade(&self.0), name.to_string()));
        });
        self
    }

    /// The name given with [`Tensor::set_label`] (or by the kernel), if any.
    pub fn label(&self) -> Option<String> {
        with_names(|names| {
            names
                .iter()
                .rev()
                .find(|(t, _)| std::ptr::eq(t.as_ptr(), Rc::as_ptr(&self.0)))
                .map(|(_, n)| n.clone())
        })
    }
}

/// Names `value` `name` when it is a tensor; does nothing for any other type. The kernel calls
/// it after a cell's `let` statements, where the value may be of any type, not always known
/// from the code alone (so it cannot be a trait bound, and `Any` would need `'static`).
#[doc(hidden)]
pub fn name_binding<T>(value: &T, name: &str) {
    if std::any::type_name::<T>() == std::any::type_name::<Tensor>()
        && std::mem::size_of::<T>() == std::mem::size_of::<Tensor>()
        && std::mem::align_of::<T>() == std::mem::align_of::<Tensor>()
    {
        // SAFETY: T is autograd_core's Tensor (the same full path, size and alignment: one
        // crate of that name is linked into the cell), so the reference points at a Tensor.
        let tensor = unsafe { &*(value as *const T as *const Tensor) };
        tensor.set_label(name);
    }
}

/// The names to draw: by tensor id (leaves) and by the id of each named tensor's `grad_fn`
/// (results), as they are now.
pub(crate) struct Names {
    tensors: HashMap<u64, String>,
    nodes: HashMap<u64, String>,
}

impl Names {
    pub(crate) fn now() -> Names {
        let live: Vec<(Tensor, String)> = with_names(|names| {
            names.iter().filter_map(|(t, n)| Some((Tensor(t.upgrade()?), n.clone()))).collect()
        });
        let mut tensors = HashMap::new();
        let mut nodes = HashMap::new();
        // later names win
        for (t, name) in live {
            if let Some(node) = t.grad_fn() {
                nodes.insert(node.id(), name.clone());
            }
            tensors.insert(t.id(), name);
        }
        Names { tensors, nodes }
    }

    /// The name of a tensor.
    pub(crate) fn of_tensor(&self, t: &Tensor) -> Option<&str> {
        self.tensors.get(&t.id()).map(String::as_str)
    }

    /// The name of the tensor a node stands for: the leaf of an AccumulateGrad, or the named
    /// tensor whose `grad_fn` it is.
    pub(crate) fn of_node(&self, node: &crate::autograd::node::Node) -> Option<&str> {
        match node.variable() {
            Some(leaf) => self.of_tensor(&leaf),
            None => self.nodes.get(&node.id()).map(String::as_str),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor;

    #[test]
    fn only_tensors_get_named_and_the_latest_name_wins() {
        let x = tensor!([1., 2.], requires_grad = true);
        name_binding(&x, "x");
        name_binding(&3.0f64, "three");
        name_binding(&vec![x.clone()], "list");
        name_binding(&&x, "reference");
        assert_eq!(x.label().as_deref(), Some("x"));
        let y = x.clone(); // the same tensor, bound again
        name_binding(&y, "y");
        assert_eq!(x.label().as_deref(), Some("y"));
        let z = &x * 2.0;
        name_binding(&z, "z");
        let names = Names::now();
        assert_eq!(names.of_node(&z.grad_fn().unwrap()), Some("z"));
        assert_eq!(names.of_tensor(&x), Some("y"));
    }

    #[test]
    fn a_dropped_tensor_loses_its_name() {
        let id = {
            let t = tensor!([1.]);
            t.set_label("gone");
            t.id()
        };
        assert!(!with_names(|names| names.iter().any(|(t, n)| n == "gone" && t.strong_count() > 0)), "{id}");
        let kept = tensor!([2.]);
        kept.set_label("kept");
        assert!(!with_names(|names| names.iter().any(|(_, n)| n == "gone")), "dead entries are swept");
    }
}
