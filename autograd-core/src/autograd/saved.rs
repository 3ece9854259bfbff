//! Tensors a node keeps for its backward, with the version they were saved at.

use std::sync::Weak;

use super::node::{Node, NodeInner};
use crate::tensor::Tensor;

/// A tensor saved for backward. An op's own *output* is kept without its grad_fn (which
/// would be a reference cycle) and gets it back, weakly, when unpacked.
pub(crate) struct SavedTensor {
    tensor: Tensor,
    version: u64,
    is_output: bool,
    output_of: Option<(Weak<NodeInner>, usize)>,
    /// The name torch gives it (`self`, `other`, `result`), for pictures and teaching.
    name: Option<&'static str>,
    /// For a saved output, the node that saved it (torch's version error names it, even when
    /// the node was since wrapped by CopySlices).
    producer: Option<(&'static str, usize)>,
}

impl SavedTensor {
    /// Saves an input of the op.
    pub fn input(tensor: &Tensor) -> SavedTensor {
        SavedTensor { tensor: tensor.clone(), version: tensor.version(), is_output: false, output_of: None, name: None, producer: None }
    }

    /// Saves the op's output (the node is not known yet; see `bind_output`).
    pub fn output(tensor: &Tensor) -> SavedTensor {
        SavedTensor { tensor: tensor.detach(), version: tensor.version(), is_output: true, output_of: None, name: None, producer: None }
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
    pub fn bind_output(&mut self, node: &Weak<NodeInner>, name: &'static str) {
        if self.is_output {
            self.output_of = Some((node.clone(), 0));
            self.producer = Some((name, 0));
        }
    }

    /// For a saved output: the output now lives in `output`'s storage (an in-place op).
    pub fn rebind_output(&mut self, output: &Tensor) {
        if self.is_output {
            self.tensor = output.detach();
            self.version = output.version();
        }
    }

    pub fn is_output(&self) -> bool {
        self.is_output
    }

    /// The saved tensor, checked against in-place changes since it was saved.
    pub fn unpack(&self) -> Tensor {
        let current = self.tensor.version();
        if current != self.version {
            let (shape, dtype) = (self.tensor.shape(), self.tensor.dtype());
            let what = format!("[{} [{}]]", dtype.legacy_name(), shape_list(&shape));
            // as torch: a saved input names its tensor's history as it is now, an output the
            // node that saved it
            let producer = match self.producer {
                Some((name, nr)) => Some((name.to_string(), nr)),
                None => self.tensor.grad_fn().map(|n| (n.name(), self.tensor.meta().output_nr)),
            };
            let which = match producer {
                Some((name, nr)) => format!("{what}, which is output {nr} of {},", crate::ops::checks::version_error_node_name(&name)),
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
        match &self.output_of {
            Some((node, nr)) => match node.upgrade() {
                Some(inner) => {
                    let t = self.tensor.detach();
                    {
                        let mut meta = t.meta();
                        meta.grad_fn = Some(Node(inner));
                        meta.output_nr = *nr;
                    }
                    t
                }
                None => self.tensor.clone(),
            },
            None => self.tensor.clone(),
        }
    }

    /// The tensor as saved, for display (no version check).
    pub fn peek(&self) -> Tensor {
        self.tensor.clone()
    }
}

fn shape_list(shape: &[usize]) -> String {
    shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
}
