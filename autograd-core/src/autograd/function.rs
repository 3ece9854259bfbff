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
}

impl Context {
    /// Keeps tensors for backward (`ctx.save_for_backward(a, b)`).
    pub fn save_for_backward(&mut self, tensors: &[&Tensor]) {
        self.saved = tensors.iter().map(|t| SavedTensor::input(t)).collect();
    }

    /// The tensors kept by `save_for_backward`, checked against in-place changes.
    pub fn saved_tensors(&self) -> Vec<Tensor> {
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
        };
        let owned: Vec<Tensor> = inputs.iter().map(|t| (*t).clone()).collect();
        let output = no_grad(|| self.forward(&mut ctx, &owned));
        // a fresh handle, so returning an input unchanged never rewires that input
        let output = output.detach();
        let maybe: Vec<Option<&Tensor>> = inputs.iter().map(|t| Some(*t)).collect();
        if !needs_grad(&maybe) || !output.dtype().is_floating_point() {
            return output;
        }
        let shapes = inputs.iter().map(|t| t.shape()).collect();
        let next: super::node::Edges = inputs.iter().map(|t| t.gradient_edge()).collect();
        let node = Node::new(Box::new(UserFunctionNode { function: self, ctx, shapes }), next);
        set_history(&output, node);
        output
    }
}

struct UserFunctionNode<F: Function> {
    function: F,
    ctx: Context,
    shapes: Vec<Vec<usize>>,
}

impl<F: Function> BackwardFunction for UserFunctionNode<F> {
    fn name(&self) -> std::borrow::Cow<'static, str> {
        self.function.name().into()
    }

    fn backward(&mut self, grad_output: &Tensor) -> super::node::Grads {
        let grads = self.function.backward(&mut self.ctx, grad_output);
        for (i, (g, shape)) in grads.iter().zip(&self.shapes).enumerate() {
            if let Some(g) = g {
                let gs = g.shape();
                if gs != *shape
                    && crate::layout::broadcast_shapes(&gs, shape).as_deref() != Some(shape.as_slice())
                {
                    crate::raise!(
                        "Function {} returned an invalid gradient at index {} - got {:?} but expected shape compatible with {:?}",
                        self.function.name(),
                        i,
                        gs,
                        shape
                    );
                }
            }
        }
        super::node::Grads::from_vec(grads)
            .into_iter()
            .zip(&self.shapes)
            .map(|(g, shape)| {
                g.map(|g| if crate::layout::same_shape(&g.shape(), shape) { g } else { g.expand(shape) })
            })
            .collect()
    }

    fn saved_tensors(&self) -> Vec<(String, Tensor)> {
        self.ctx.saved.iter().enumerate().map(|(i, s)| (format!("saved{i}"), s.peek())).collect()
    }

    fn has_saved(&self) -> bool {
        !self.ctx.saved.is_empty()
    }

    fn release(&mut self) {
        self.ctx.saved.clear();
    }
}
