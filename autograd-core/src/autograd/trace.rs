//! A record of one real backward pass, node by node, in the engine's order: what arrived at
//! each node, what it had saved, what it sent along each of its `next_functions` edges, and
//! for a leaf its `.grad` before and after. Filled by the engine while it runs (never computed
//! again afterwards by a second formula that could disagree); read by [`crate::explain`].

use super::node::Node;
use crate::tensor::Tensor;

/// One node run by the backward pass.
pub struct BackwardStep {
    /// The node that ran (a backward function, or a leaf's AccumulateGrad).
    pub node: Node,
    /// The gradient that arrived at it (after hooks); `None` when nothing flowed here.
    pub grad: Option<Tensor>,
    /// What the node had saved for backward, named as torch names it (`self`, `other`,
    /// `result`, ...), as it was when the node ran.
    pub saved: Vec<(String, Tensor)>,
    /// What it sent along each `next_functions` edge, in order (`None`: nothing, or no edge).
    pub sent: Vec<Option<Tensor>>,
    /// For AccumulateGrad: the leaf and its `.grad` before and after this step (copies).
    pub leaf: Option<LeafChange>,
}

/// A leaf's `.grad` around its AccumulateGrad step.
pub struct LeafChange {
    pub variable: Tensor,
    pub before: Option<Tensor>,
    pub after: Option<Tensor>,
}

/// A copy of `t`'s values, so a later in-place accumulation does not change what was recorded.
pub(crate) fn snapshot(t: &Tensor) -> Tensor {
    t.detach().contiguous_values()
}
