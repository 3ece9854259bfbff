//! The one place where history is recorded: every differentiable op, built-in or user
//! defined, attaches its output to the graph through [`record`].

use std::borrow::Cow;

use super::grad_mode::is_grad_enabled;
use super::node::{BackwardFunction, Grads, Node};
use super::saved::SavedTensor;
use crate::tensor::Tensor;

/// The node type of every built-in op: a name, saved tensors and a backward rule
/// `(saved tensors, grad_output, which inputs need a gradient) -> grads`.
pub(crate) struct OpBackward<R, G> {
    name: &'static str,
    saved: Saved,
    saved_names: &'static [&'static str],
    needs: Needs,
    rule: R,
    /// What the rule returns: a `Vec` or a `smallvec!` (no allocation on hot ops).
    grads: std::marker::PhantomData<fn() -> G>,
}

/// What an op saved for backward. One saved tensor or number (`x * 2.0` saves its number) is
/// kept inline, so recording the op does not allocate for it; more go to the heap. (Two inline
/// made every node bigger, and moving it cost more than the allocation it saved.)
pub(crate) enum Saved {
    Inline(Option<SavedTensor>),
    Heap(Vec<SavedTensor>),
}

impl Saved {
    pub(crate) fn one(saved: SavedTensor) -> Saved {
        Saved::Inline(Some(saved))
    }

    /// Up to two, in order; the `None`s are left out.
    pub(crate) fn some_of([first, second]: [Option<SavedTensor>; 2]) -> Saved {
        match (first, second) {
            (Some(a), Some(b)) => Saved::Heap(vec![a, b]),
            (a, b) => Saved::Inline(a.or(b)),
        }
    }

    fn as_slice(&self) -> &[SavedTensor] {
        match self {
            Saved::Inline(inline) => inline.as_slice(),
            Saved::Heap(heap) => heap,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [SavedTensor] {
        match self {
            Saved::Inline(inline) => inline.as_mut_slice(),
            Saved::Heap(heap) => heap,
        }
    }
}

impl From<Vec<SavedTensor>> for Saved {
    fn from(saved: Vec<SavedTensor>) -> Saved {
        Saved::Heap(saved)
    }
}

/// Which inputs need a gradient: inline for up to four inputs (every built-in op).
enum Needs {
    Inline([bool; 4], usize),
    Heap(Vec<bool>),
}

impl Needs {
    fn as_slice(&self) -> &[bool] {
        match self {
            Needs::Inline(flags, len) => &flags[..*len],
            Needs::Heap(flags) => flags,
        }
    }
}

impl<R, G> OpBackward<R, G> {
    /// torch's generated backward functions unpack their saved inputs in the alphabetical
    /// order of their names, then their saved outputs, so when several were changed in place
    /// the version error names the first in that order (`a.pow(b)`: `exponent` before `self`;
    /// `m.mv(v)`: `self` before `vec`). Where a saved tensor has no name, the order saved.
    fn check_versions_in_torchs_order(&self) {
        let saved = self.saved.as_slice();
        let mut order: smallvec::SmallVec<[(bool, &str, usize); 4]> = smallvec::SmallVec::new();
        for (i, s) in saved.iter().enumerate() {
            if s.is_number() {
                continue;
            }
            match s.name().or_else(|| self.saved_names.get(i).copied()) {
                Some(name) => order.push((s.is_output(), name, i)),
                None => return,
            }
        }
        order.sort_unstable();
        for &(_, _, i) in &order {
            saved[i].check_version();
        }
    }
}

impl<R, G> BackwardFunction for OpBackward<R, G>
where
    R: FnMut(&[Tensor], &Tensor, &[bool]) -> G + 'static,
    G: Into<Grads> + 'static,
{
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.name)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Grads {
        if self.saved.as_slice().len() > 1 {
            self.check_versions_in_torchs_order();
        }
        // a saved number is kept for pictures and for the second-backward refusal only; the
        // rule has the number itself (making its 0-dim tensor for every `x * 2.0` was costly)
        let saved: smallvec::SmallVec<[Tensor; 2]> =
            self.saved.as_slice().iter().filter(|s| !s.is_number()).map(SavedTensor::unpack).collect();
        (self.rule)(&saved, grad_output, self.needs.as_slice()).into()
    }

    fn saved_tensors(&self) -> Vec<(String, Tensor)> {
        self.saved
            .as_slice()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let name =
                    s.name()
                        .or_else(|| self.saved_names.get(i).copied())
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| {
                            if s.is_output() {
                                "result".to_string()
                            } else {
                                format!("saved{i}")
                            }
                        });
                (name, s.peek())
            })
            .collect()
    }

    fn has_saved(&self) -> bool {
        !self.saved.as_slice().is_empty()
    }

    fn release(&mut self) {
        self.saved = Saved::Heap(Vec::new());
    }

    fn rebind_output(&mut self, output: &Tensor) {
        for s in self.saved.as_mut_slice() {
            s.rebind_output(output);
        }
    }
}

/// A backward rule's gradients as [`Grads`], without allocating for up to two:
/// `grads![Some(g * 2.0), None]`, `grads![None; n]`.
macro_rules! grads {
    ($value:expr; $n:expr) => {{
        let grads: $crate::autograd::node::Grads = smallvec::smallvec![$value; $n];
        grads
    }};
    ($($value:expr),* $(,)?) => {{
        let grads: $crate::autograd::node::Grads = smallvec::smallvec![$($value),*];
        grads
    }};
}
pub(crate) use grads;

/// True when an op on these inputs must record history.
pub(crate) fn needs_grad(inputs: &[Option<&Tensor>]) -> bool {
    is_grad_enabled() && inputs.iter().flatten().any(|t| t.requires_grad())
}

/// Attaches `output` to the graph as the result of op `name` on `inputs`, if grad mode is on
/// and any input requires grad. `inputs` lists the op's differentiable arguments in order,
/// `None` for a plain number (PyTorch shows it as `(None, 0)` in `next_functions`). `saved` names what backward needs (called only when
/// recording); `rule` computes the input gradients.
#[track_caller]
pub(crate) fn record<S: Into<Saved>, G: Into<Grads> + 'static>(
    output: Tensor,
    name: &'static str,
    inputs: &[Option<&Tensor>],
    saved_names: &'static [&'static str],
    saved: impl FnOnce(&Tensor) -> S,
    rule: impl FnMut(&[Tensor], &Tensor, &[bool]) -> G + 'static,
) -> Tensor {
    if !needs_grad(inputs) || !output.dtype().is_floating_point() {
        return output;
    }
    // a loop, not a closure, so that an input refused here points at the caller's line
    let mut next = super::node::Edges::with_capacity(inputs.len());
    for input in inputs {
        next.push(match input {
            Some(t) => t.gradient_edge(),
            None => None,
        });
    }
    let needs = if next.len() <= 4 {
        let mut flags = [false; 4];
        for (flag, edge) in flags.iter_mut().zip(&next) {
            *flag = edge.is_some();
        }
        Needs::Inline(flags, next.len())
    } else {
        Needs::Heap(next.iter().map(Option::is_some).collect())
    };
    let mut saved: Saved = saved(&output).into();
    let node = if saved.as_slice().iter().any(SavedTensor::is_output) {
        // a saved output keeps a weak link to its node
        Node::new_cyclic(next, &output, |weak| {
            for s in saved.as_mut_slice() {
                s.bind_output(weak, name);
            }
            OpBackward::boxed(name, saved, saved_names, needs, rule)
        })
    } else {
        Node::new(OpBackward::boxed(name, saved, saved_names, needs, rule), next, &output)
    };
    set_history(&output, node);
    output
}

impl<R, G> OpBackward<R, G>
where
    R: FnMut(&[Tensor], &Tensor, &[bool]) -> G + 'static,
    G: Into<Grads> + 'static,
{
    /// The node's function, kept in the node (see `FnBox`).
    fn boxed(
        name: &'static str,
        saved: Saved,
        saved_names: &'static [&'static str],
        needs: Needs,
        rule: R,
    ) -> super::node::FnBox {
        smallbox::smallbox!(OpBackward {
            name,
            saved,
            saved_names,
            needs,
            rule,
            grads: std::marker::PhantomData
        })
    }
}

/// Makes `node` the grad_fn of `output`.
pub(crate) fn set_history(output: &Tensor, node: Node) {
    let is_view = {
        let mut meta = output.meta();
        meta.grad_fn = Some(node);
        meta.output_nr = 0;
        meta.requires_grad = true;
        meta.view.is_some()
    };
    if is_view {
        super::views::mark_fresh(output);
    }
}
