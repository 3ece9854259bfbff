//! Tensors a node keeps for its backward, with the version they were saved at.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::rc::{Rc, Weak};

use super::node::{Node, NodeInner};
use crate::ops::elementwise::Scalar;
use crate::tensor::Tensor;

/// A tensor saved for backward. An op's own *output* is kept without its grad_fn (which
/// would be a reference cycle) and gets it back, weakly, when unpacked.
pub(crate) struct SavedTensor {
    /// The saved tensor; `None` for a number operand.
    tensor: Option<Tensor>,
    /// A number operand, and its 0-dim tensor, made only when asked for (a picture of the
    /// saved values), as every `x * 2.0` saves one. Apart from `tensor` so that saving a
    /// tensor is a plain move.
    number: Option<Scalar>,
    number_tensor: OnceCell<Tensor>,
    version: u64,
    is_output: bool,
    output_of: Option<(Weak<NodeInner>, usize)>,
    /// The name torch gives it (`self`, `other`, `result`), for pictures and teaching.
    name: Option<&'static str>,
    /// For a saved output, the node that saved it (torch's version error names it, even when
    /// the node was since wrapped by CopySlices).
    producer: Option<(Cow<'static, str>, usize)>,
    /// For the result of an in-place op on a view: the view's grad_fn just after the op (its
    /// `AsStridedBackward0`), weakly, as torch's `SavedVariable` keeps it. While that node
    /// lives it is the saved tensor's history, and the node the version error names.
    view_grad_fn: Option<Weak<NodeInner>>,
    /// A saved input that had a grad_fn when saved (torch's `!is_leaf_`): if it has none
    /// when unpacked, it was detached in place, which torch refuses.
    input_had_history: bool,
}

impl SavedTensor {
    /// Saves an input of the op.
    pub fn input(tensor: &Tensor) -> SavedTensor {
        SavedTensor {
            tensor: Some(tensor.clone()),
            number: None,
            number_tensor: OnceCell::new(),
            version: tensor.version(),
            is_output: false,
            output_of: None,
            name: None,
            producer: None,
            view_grad_fn: None,
            input_had_history: tensor.meta().grad_fn.is_some(),
        }
    }

    /// Saves the op's output (the node is not known yet; see `bind_output`).
    pub fn output(tensor: &Tensor) -> SavedTensor {
        SavedTensor {
            tensor: Some(tensor.detach()),
            number: None,
            number_tensor: OnceCell::new(),
            version: tensor.version(),
            is_output: true,
            output_of: None,
            name: None,
            producer: None,
            view_grad_fn: None,
            input_had_history: false,
        }
    }

    /// Saves a plain number operand as torch does: a 0-dim "wrapped number" tensor (int64,
    /// float64 or bool), so that a second backward without `retain_graph` refuses as there.
    /// Op rules get the number itself, not this: it is not among the tensors they are given.
    pub fn number(value: Scalar) -> SavedTensor {
        SavedTensor {
            tensor: None,
            number: Some(value),
            number_tensor: OnceCell::new(),
            version: 0,
            is_output: false,
            output_of: None,
            name: None,
            producer: None,
            view_grad_fn: None,
            input_had_history: false,
        }
    }

    fn tensor(&self) -> &Tensor {
        match &self.tensor {
            Some(tensor) => tensor,
            None => self.number_tensor.get_or_init(|| {
                let value = self.number.expect("a saved tensor or a saved number");
                crate::ops::elementwise::wrapped_number(value)
            }),
        }
    }

    /// Gives the saved tensor its name (`SavedTensor::input(b).named("other")`).
    pub fn named(mut self, name: &'static str) -> SavedTensor {
        self.name = Some(name);
        self
    }

    pub fn name(&self) -> Option<&'static str> {
        self.name
    }

    /// Tells an output marker which node it is the output of.
    pub fn bind_output(&mut self, node: &Weak<NodeInner>, name: impl Into<Cow<'static, str>>) {
        if self.is_output {
            self.output_of = Some((node.clone(), 0));
            self.producer = Some((name.into(), 0));
        }
    }

    /// Whether this saves `tensor` itself (the same tensor, not a copy or a view of it).
    pub fn holds(&self, tensor: &Tensor) -> bool {
        self.tensor.as_ref().is_some_and(|t| t.same(tensor))
    }

    /// For a saved output: the output now lives in `output`'s storage (an in-place op, whose
    /// history was just rebased: a view has its new grad_fn already).
    pub fn rebind_output(&mut self, output: &Tensor) {
        if self.is_output {
            self.tensor = Some(output.detach());
            self.version = output.version();
            let meta = output.meta();
            if meta.view.is_some() {
                self.view_grad_fn = meta.grad_fn.as_ref().map(|node| Rc::downgrade(&node.0));
            }
        }
    }

    /// The history torch gives the unpacked tensor: the view's grad_fn for the result of an
    /// in-place op on a view while that node lives, else the node that saved it.
    fn history(&self) -> Option<(Node, usize)> {
        let view_node = self.view_grad_fn.as_ref().and_then(Weak::upgrade).map(|inner| (Node(inner), 0));
        view_node.or_else(|| {
            self.output_of.as_ref().and_then(|(node, nr)| node.upgrade().map(|inner| (Node(inner), *nr)))
        })
    }

    /// Saved with [`SavedTensor::number`].
    pub fn is_number(&self) -> bool {
        self.number.is_some()
    }

    pub fn is_output(&self) -> bool {
        self.is_output
    }

    /// The saved tensor, checked against in-place changes since it was saved.
    pub fn unpack(&self) -> Tensor {
        self.check_version();
        match self.history() {
            Some((node, nr)) => {
                let t = self.tensor().detach();
                {
                    let mut meta = t.meta();
                    meta.grad_fn = Some(node);
                    meta.output_nr = nr;
                }
                t
            }
            None => self.tensor().clone(),
        }
    }

    /// Raises torch's error when the tensor was changed in place since it was saved.
    pub fn check_version(&self) {
        if self.input_had_history && self.tensor().meta().grad_fn.is_none() {
            crate::raise!(
                "Trying to use a saved tensor that has been detached in-place, i.e. with .detach_().This is not \
                 supported, please use out-of-place `.detach()` instead"
            );
        }
        let current = self.tensor().version();
        if current != self.version {
            let (shape, dtype) = (self.tensor().shape(), self.tensor().dtype());
            let what = format!("[{} [{}]]", dtype.legacy_name(), shape_list(&shape));
            // as torch: a saved input names its tensor's history as it is now, an output the
            // node that saved it
            let view_node =
                self.view_grad_fn.as_ref().and_then(Weak::upgrade).map(|inner| (Node(inner).name(), 0));
            let producer = match &self.producer {
                Some((name, nr)) => view_node.or(Some((name.to_string(), *nr))),
                None => self.tensor().grad_fn().map(|n| (n.name(), self.tensor().meta().output_nr)),
            };
            let which = match producer {
                Some((name, nr)) => format!(
                    "{what}, which is output {nr} of {},",
                    crate::ops::checks::version_error_node_name(&name)
                ),
                None => what,
            };
            crate::raise!(
                "one of the variables needed for gradient computation has been modified by an \
                 inplace operation: {which} is at version {current}; expected version {} instead. \
                 Hint: enable anomaly detection to find the operation that failed to compute its \
                 gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).",
                self.version
            );
        }
    }

    /// The tensor as saved, for display (no version check).
    pub fn peek(&self) -> Tensor {
        self.tensor().clone()
    }
}

fn shape_list(shape: &[usize]) -> String {
    shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
}
