//! User-defined differentiable functions, like `torch.autograd.Function`.
//!
//! The struct implementing [`Function`] plays the role of PyTorch's `ctx`: whatever forward
//! needs to hand to backward (a constant, a shape) is a field; tensors go through
//! [`Context::save_for_backward`] so they get the same in-place checks as built-in ops. The
//! node's name is the type's name plus `Backward`, as in PyTorch.
//!
//! ```
//! use autograd_core::prelude::*;
//!
//! /// Multiplies by a constant (the seed tutorial's `MulConstant`).
//! struct MulConstant {
//!     constant: f64,
//! }
//!
//! impl Function for MulConstant {
//!     fn forward(&mut self, _ctx: &mut Context, inputs: &[Tensor]) -> Tensor {
//!         &inputs[0] * self.constant
//!     }
//!     fn backward(&mut self, _ctx: &mut Context, grad_output: &Tensor) -> Vec<Option<Tensor>> {
//!         vec![Some(grad_output * self.constant)]
//!     }
//! }
//!
//! let a = ones(&[2]).requires_grad_(true);
//! let b = MulConstant { constant: 5.0 }.apply(&[&a]);
//! assert_eq!(b.to_string(), "tensor([5., 5.], grad_fn=<MulConstantBackward>)");
//! b.backward_with(&ones_like(&a));
//! assert_eq!(a.grad().unwrap().to_string(), "tensor([5., 5.])");
//! ```

use super::grad_mode::no_grad;
use super::node::{BackwardFunction, Node};
use super::record::{needs_grad, set_history};
use super::saved::SavedTensor;
use crate::tensor::Tensor;

/// What forward hands to backward besides the struct's own fields.
#[derive(Default)]
pub struct Context {
    saved: Vec<SavedTensor>,
    /// For each input, whether backward must produce its gradient.
    pub needs_input_grad: Vec<bool>,
    /// Whether a backward without `retain_graph` freed what was saved.
    released: bool,
}

impl Context {
    /// Keeps tensors for backward (`ctx.save_for_backward(a, b)`).
    pub fn save_for_backward(&mut self, tensors: &[&Tensor]) {
        self.saved = tensors.iter().map(|t| SavedTensor::input(t)).collect();
    }

    /// The tensors kept by `save_for_backward`, checked against in-place changes. After a
    /// backward without `retain_graph` freed them, PyTorch's error.
    #[track_caller]
    pub fn saved_tensors(&self) -> Vec<Tensor> {
        if self.released {
            crate::raise!("{}", super::engine::SECOND_BACKWARD);
        }
        self.saved.iter().map(SavedTensor::unpack).collect()
    }
}

/// A differentiable function with a hand-written backward.
pub trait Function: Sized + 'static {
    /// Computes the output (grad mode is off in here, like in PyTorch).
    fn forward(&mut self, ctx: &mut Context, inputs: &[Tensor]) -> Tensor;

    /// Given the gradient of the output, the gradient for each input (`None` for inputs that
    /// need none), in input order.
    fn backward(&mut self, ctx: &mut Context, grad_output: &Tensor) -> Vec<Option<Tensor>>;

    /// The node's name: the type's name plus `Backward` (`MulConstantBackward`).
    fn name(&self) -> String {
        let full = std::any::type_name::<Self>();
        let base = full.split('<').next().unwrap_or(full);
        format!("{}Backward", base.rsplit("::").next().unwrap_or(base))
    }

    /// Runs the function and records it in the graph (`MulConstant.apply(a, 5)`).
    fn apply(mut self, inputs: &[&Tensor]) -> Tensor {
        let mut ctx = Context {
            saved: Vec::new(),
            needs_input_grad: inputs.iter().map(|t| t.requires_grad()).collect(),
            released: false,
        };
        let owned: Vec<Tensor> = inputs.iter().map(|t| (*t).clone()).collect();
        let made = no_grad(|| self.forward(&mut ctx, &owned));
        // as torch: an input returned as it is comes back as a view of it (a fresh handle, so
        // the input is never rewired), a view made in forward stays a view, anything else is
        // the output; a view is marked as a user function's (in-place changes are refused)
        let returned_input = owned.iter().any(|t| t.same(&made));
        let output = if returned_input {
            no_grad(|| made.view_with_layout(made.layout()))
        } else if made.meta().view.is_some() && made.meta().grad_fn.is_none() {
            made.clone()
        } else {
            made.detach()
        };
        super::views::mark_made_in_custom_function(&output);
        let maybe: Vec<Option<&Tensor>> = inputs.iter().map(|t| Some(*t)).collect();
        if !needs_grad(&maybe) || !output.dtype().is_floating_point() {
            return output;
        }
        // the output itself saved in forward (`ctx.save_for_backward(y); return y`) is kept as
        // torch keeps a saved output: unpacked with this node as its history (so a second
        // derivative flows through it), and named by this node in the version error
        if !returned_input {
            for saved in ctx.saved.iter_mut().filter(|s| s.holds(&made)) {
                *saved = SavedTensor::output(&output);
            }
        }
        let shapes = inputs.iter().map(|t| (t.shape(), t.dtype())).collect();
        let made_as = (output.shape(), output.dtype());
        let next: super::node::Edges = inputs.iter().map(|t| t.gradient_edge()).collect();
        let node = if ctx.saved.iter().any(SavedTensor::is_output) {
            let name = self.name();
            Node::new_cyclic(next, &output, |weak| {
                for saved in &mut ctx.saved {
                    saved.bind_output(weak, name.clone());
                }
                smallbox::smallbox!(UserFunctionNode { function: self, ctx, shapes, output: made_as })
            })
        } else {
            Node::new(
                smallbox::smallbox!(UserFunctionNode { function: self, ctx, shapes, output: made_as }),
                next,
                &output,
            )
        };
        set_history(&output, node);
        output
    }
}

struct UserFunctionNode<F: Function> {
    function: F,
    ctx: Context,
    /// Each input's shape and dtype, which its gradient is held to.
    shapes: Vec<(Vec<usize>, crate::dtype::DType)>,
    /// The output's shape and dtype (for the zeros backward gets when no gradient arrived).
    output: (Vec<usize>, crate::dtype::DType),
}

impl<F: Function> BackwardFunction for UserFunctionNode<F> {
    fn name(&self) -> std::borrow::Cow<'static, str> {
        self.function.name().into()
    }

    fn backward(&mut self, grad_output: &Tensor) -> super::node::Grads {
        let mut grads = self.function.backward(&mut self.ctx, grad_output);
        // as torch: more gradients than inputs are fine while the extra ones are all None
        // (dropped); any other count is the engine's "incorrect number of gradients"
        if grads.len() > self.shapes.len() && grads[self.shapes.len()..].iter().all(Option::is_none) {
            grads.truncate(self.shapes.len());
        }
        if grads.len() != self.shapes.len() {
            return super::node::Grads::from_vec(grads);
        }
        // each gradient held to its input as torch's engine holds it: summed back where the
        // input's shape expands to it, refused where not (a [1] for a [3] input), cast
        let name = self.function.name();
        let grads = grads
            .into_iter()
            .zip(&self.shapes)
            .enumerate()
            .map(|(i, (g, (shape, dtype)))| {
                g.map(|g| super::engine::held_to(Some(&name), i, shape, *dtype, g))
            })
            .collect();
        super::node::Grads::from_vec(grads)
    }

    fn saved_tensors(&self) -> Vec<(String, Tensor)> {
        self.ctx.saved.iter().enumerate().map(|(i, s)| (format!("saved{i}"), s.peek())).collect()
    }

    fn has_saved(&self) -> bool {
        !self.ctx.saved.is_empty()
    }

    fn release(&mut self) {
        self.ctx.released |= !self.ctx.saved.is_empty();
        self.ctx.saved.clear();
    }

    fn reads_saved_itself(&self) -> bool {
        true
    }

    fn materialized_grad(&self) -> Option<Tensor> {
        let (shape, dtype) = &self.output;
        Some(crate::factory::zeros_with(shape, crate::factory::TensorOptions::default().dtype(*dtype)))
    }
}
