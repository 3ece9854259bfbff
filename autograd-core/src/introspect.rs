//! Looking at objects the way a Python user does: `dir(x)` lists what can be called on a tensor
//! or a graph node, and the version constants answer `torch.__version__`.

use crate::autograd::node::Node;
use crate::tensor::Tensor;

include!(concat!(env!("OUT_DIR"), "/methods.rs"));

/// This crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The PyTorch release whose printed output, random numbers and error texts this crate follows.
pub const PYTORCH_VERSION: &str = "2.15.0";

impl Tensor {
    /// The names of the tensor's methods, sorted (Python's `dir(x)`). Operators (`+`, `*`, ...)
    /// and traits are not methods and are not listed.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let names = tensor!([1.]).dir();
    /// assert!(names.iter().any(|n| n == "backward"));
    /// ```
    pub fn dir(&self) -> Vec<String> {
        TENSOR_METHODS.iter().map(|s| s.to_string()).collect()
    }
}

impl Node {
    /// The names of a graph node's methods, sorted (Python's `dir(x.grad_fn)`).
    pub fn dir(&self) -> Vec<String> {
        NODE_METHODS.iter().map(|s| s.to_string()).collect()
    }
}
