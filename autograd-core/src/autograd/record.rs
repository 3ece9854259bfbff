//! The one place where history is recorded: every differentiable op, built-in or user
//! defined, attaches its output to the graph through [`record`].

use std::borrow::Cow;

use super::grad_mode::is_grad_enabled;
use super::node::{BackwardFunction, Node};
use super::saved::SavedTensor;
use crate::tensor::Tensor;

/// The node type of every built-in op: a name, saved tensors and a backward rule
/// `(saved tensors, grad_output, which inputs need a gradient) -> grads`.
pub(crate) struct OpBackward<R> {
    name: &'static str,
    saved: Vec<SavedTensor>,
    saved_names: &'static [&'static str],
    needs: Vec<bool>,
    rule: R,
}

impl<R> BackwardFunction for OpBackward<R>
where
    R: FnMut(&[Tensor], &Tensor, &[bool]) -> Vec<Option<Tensor>> + Send + 'static,
{
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.name)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Vec<Option<Tensor>> {
        // a saved number is kept for pictures and for the second-backward refusal only; the
        // rule has the number itself (making its 0-dim tensor for every `x * 2.0` was costly)
        let saved: Vec<Tensor> =
            self.saved.iter().filter(|s| !s.is_number()).map(SavedTensor::unpack).collect();
        (self.rule)(&saved, grad_output, &self.needs)
    }

    fn saved_tensors(&self) -> Vec<(String, Tensor)> {
        self.saved
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
        !self.saved.is_empty()
    }

    fn release(&mut self) {
        self.saved.clear();
    }

    fn rebind_output(&mut self, output: &Tensor) {
        for s in &mut self.saved {
            s.rebind_output(output);
        }
    }
}

/// True when an op on these inputs must record history.
pub(crate) fn needs_grad(inputs: &[Option<&Tensor>]) -> bool {
    is_grad_enabled() && inputs.iter().flatten().any(|t| t.requires_grad())
}

/// Attaches `output` to the graph as the result of op `name` on `inputs`, if grad mode is on
/// and any input requires grad. `inputs` lists the op's differentiable arguments in order,
/// `None` for a plain number (PyTorch shows it as `(None, 0)` in `next_functions`). `saved` names what backward needs (called only when
/// recording); `rule` computes the input gradients.
#[track_caller]
pub(crate) fn record(
    output: Tensor,
    name: &'static str,
    inputs: &[Option<&Tensor>],
    saved_names: &'static [&'static str],
    saved: impl FnOnce(&Tensor) -> Vec<SavedTensor>,
    rule: impl FnMut(&[Tensor], &Tensor, &[bool]) -> Vec<Option<Tensor>> + Send + 'static,
) -> Tensor {
    if !needs_grad(inputs) || !output.dtype().is_floating_point() {
        return output;
    }
    // a loop, not a closure, so that an input refused here points at the caller's line
    let mut next = Vec::with_capacity(inputs.len());
    for input in inputs {
        next.push(match input {
            Some(t) => t.gradient_edge(),
            None => None,
        });
    }
    let needs = next.iter().map(Option::is_some).collect();
    let mut saved = saved(&output);
    let node = Node::new_cyclic(next, |weak| {
        for s in &mut saved {
            s.bind_output(weak, name);
        }
        Box::new(OpBackward { name, saved, saved_names, needs, rule })
    });
    set_history(&output, node);
    output
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
