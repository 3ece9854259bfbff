//! Views and in-place changes, tracked as PyTorch tracks them.
//!
//! A view (`y[0]`, `y.t()`, `y.unsqueeze(0)`, ...) shares its base's storage, and so its
//! version counter. Two things follow, both measured on torch 2.15:
//!
//! - **In-place on a view rewires the base.** `y.select(0, 0).mul_(10)` makes `y.grad_fn` a
//!   `CopySlices` node that wraps the in-place op's backward: the gradient flowing into `y`
//!   has the view's region replaced by what the op sends back for its input, and the op's
//!   other inputs (a `w` in `v.mul_(w)`) get their gradients from it.
//! - **Views go stale.** After any in-place change of the storage (through the base or any
//!   view), a view's `grad_fn` is rebuilt the next time it is asked for, as
//!   `AsStridedBackward0` on the base's current history — so `v.sum().backward()` after
//!   `y.mul_(3)` sees the multiplication.
//!
//! Everything here works in storage positions (a view is a layout in the same storage as its
//! base), which covers every view op at once: select, slices, transpose, permute, expand, ...

use std::borrow::Cow;

use super::grad_mode::is_grad_enabled;
use super::node::{BackwardFunction, Node};
use super::record::set_history;
use crate::layout::Layout;
use crate::storage::Buffer;
use crate::tensor::{gather, Tensor};

/// Whether a view was made with grad mode on (the normal case), inside `no_grad`, or is the
/// output of a user function (torch's `CreationMeta`: `IN_CUSTOM_FUNCTION`, an input
/// returned as it is or a view made in forward).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ViewCreation {
    GradMode,
    NoGrad,
    InCustomFunction,
}

/// The tensor a view was cut from (PyTorch's `._base`, never itself a view), how the view was
/// made, and the storage version its `grad_fn` was built against.
#[derive(Clone)]
pub(crate) struct ViewInfo {
    pub base: Tensor,
    pub creation: ViewCreation,
    pub attr_version: u64,
}

impl ViewInfo {
    /// A view of `base` made now; `parent` is how the tensor it was cut from was made (a view
    /// of a view made in no_grad mode counts as made in no_grad mode too, as torch's
    /// `propagate_creation_meta` has it).
    pub fn new(base: Tensor, version: u64, parent: ViewCreation) -> ViewInfo {
        let creation = if is_grad_enabled() { parent } else { ViewCreation::NoGrad };
        ViewInfo { base, creation, attr_version: version }
    }
}

/// torch's `handle_view_on_rebase`: the error when a view made in no_grad mode (or a view of
/// one), or a user function's output that is a view, takes part in an in-place change with
/// grad mode on, `directly` by an in-place op on it, or else through its base or another view
/// of its base (found when its grad_fn is next asked for). `grad_fn` is the view's own (a
/// view of a no_grad view made with grad mode on has one, a user function's output has the
/// function's node); None for any other view.
pub(crate) fn view_rebase_error(
    view: &ViewInfo,
    grad_fn: Option<&Node>,
    output_nr: usize,
    directly: bool,
) -> Option<String> {
    let modified = if directly { "is being" } else { "its base or another view of its base has been" };
    let name = |node: &Node| crate::ops::checks::version_error_node_name(&node.name());
    let head = match (view.creation, grad_fn) {
        (ViewCreation::GradMode, _) => return None,
        (ViewCreation::InCustomFunction, Some(node)) => {
            format!("Output {output_nr} of {} is a view and {modified} modified inplace.", name(node))
        }
        (ViewCreation::NoGrad, Some(node)) => format!(
            "Output {output_nr} of {} is a view of a view which was created in no_grad mode and {modified} modified inplace \
             with grad mode enabled.",
            name(node)
        ),
        (_, None) => format!("A view was created in no_grad mode and {modified} modified inplace with grad mode enabled."),
    };
    let why = if view.creation == ViewCreation::NoGrad {
        "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by moving \
         both the view and the inplace either both inside the no_grad block (if you don't want the inplace to be \
         tracked) or both outside (if you want the inplace to be tracked)."
    } else {
        "This view was created inside a custom Function (or because an input was returned as-is) and the autograd \
         logic to handle view+inplace would override the custom backward associated with the custom Function, \
         leading to incorrect gradients. This behavior is forbidden. You can fix this by cloning the output of the \
         custom Function."
    };
    Some(format!("{head} {why}"))
}

/// Marks `t`, a view, as a user function's output (see [`ViewCreation::InCustomFunction`]).
pub(crate) fn mark_made_in_custom_function(t: &Tensor) {
    if let Some(view) = t.meta().view.as_mut() {
        view.creation = ViewCreation::InCustomFunction;
    }
}

/// The `grad_fn` of `t`, rebuilt first when `t` is a view whose storage changed in place since
/// its `grad_fn` was set; raises for a view made in no_grad mode whose storage changed (see
/// [`try_current_grad_fn`]).
#[track_caller]
pub(crate) fn current_grad_fn(t: &Tensor) -> Option<Node> {
    match try_current_grad_fn(t) {
        Ok(node) => node,
        Err(message) => crate::raise!("{message}"),
    }
}

/// [`current_grad_fn`], with torch's refusal as an `Err`: a view made in no_grad mode cannot
/// have its history rebuilt after an in-place change of its storage (through its base or
/// another view, with or without grad mode), since it is ambiguous whether that change
/// should be tracked. A view without history of a base that requires no grad is left as is.
pub(crate) fn try_current_grad_fn(t: &Tensor) -> Result<Option<Node>, String> {
    let (view, node, output_nr) = {
        let meta = t.meta();
        match &meta.view {
            None => return Ok(meta.grad_fn.clone()),
            Some(view) => (view.clone(), meta.grad_fn.clone(), meta.output_nr),
        }
    };
    if node.is_none() && !view.base.requires_grad() {
        return Ok(node);
    }
    let version = t.version();
    if view.attr_version == version {
        return Ok(node);
    }
    if let Some(message) = view_rebase_error(&view, node.as_ref(), output_nr, false) {
        return Err(message);
    }
    let Some(base_edge) = view.base.gradient_edge() else {
        return Ok(node);
    };
    let (base_layout, view_layout) = (view.base.layout(), t.layout());
    let storage_len = t.with_data(|d| d.storage.read().len());
    let regenerated = Node::new(
        smallbox::smallbox!(AsStridedBackward { base_layout, view_layout, storage_len }),
        vec![Some(base_edge)],
        t,
    );
    set_history(t, regenerated.clone());
    Ok(Some(regenerated))
}

/// What torch does first when an op with grad mode on takes `t` (before the op checks its
/// own arguments): it collects `t`'s gradient edge, so a view that may not be used any more
/// (see [`try_current_grad_fn`]) is refused before, say, a shape error of the op.
#[track_caller]
pub(crate) fn collect_edge_first(t: &Tensor) {
    if is_grad_enabled() && t.requires_grad() {
        current_grad_fn(t);
    }
}

/// Marks a view's `grad_fn` as built against the storage's current version.
pub(crate) fn mark_fresh(t: &Tensor) {
    if t.meta().view.is_none() {
        // most tensors: no storage version to read
        return;
    }
    let version = t.version();
    if let Some(view) = t.meta().view.as_mut() {
        view.attr_version = version;
    }
}

/// Makes `node` (the backward of an in-place op just applied to `t`) part of `t`'s history:
/// `t`'s new `grad_fn` when `t` is not a view; for a view, the base's new `grad_fn` becomes a
/// `CopySlices` wrapping `node`, and the view's own `grad_fn` is rebuilt from the base at once
/// (an `AsStridedBackward0`), as torch's `rebase_history` does. Returns the node that now holds
/// the op's backward function (`node`, or the `CopySlices`).
pub(crate) fn rebase_history(t: &Tensor, node: Node) -> Node {
    let view = t.meta().view.clone();
    match view {
        None => {
            node.remade_for(t);
            set_history(t, node.clone());
            node
        }
        Some(view) => {
            let base = view.base;
            let function = node.state().function.take().expect("a fresh node keeps its function");
            let mut next = vec![base.gradient_edge()];
            next.extend(node.0.next.iter().skip(1).cloned());
            let copy_slices = CopySlices {
                base_layout: base.layout(),
                view_layout: t.layout(),
                storage_len: t.with_data(|d| d.storage.read().len()),
                function,
                op_edges: node.0.next.clone(),
            };
            let copy_slices = Node::new(smallbox::smallbox!(copy_slices), next, &base);
            set_history(&base, copy_slices.clone());
            current_grad_fn(t);
            copy_slices
        }
    }
}

/// A gradient laid out in storage positions, for moving gradients between a base and its views.
struct StorageGrad {
    values: Vec<f64>,
}

impl StorageGrad {
    fn zeros(len: usize) -> StorageGrad {
        StorageGrad { values: vec![0.0; len] }
    }

    /// Writes (or, for `accumulate`, adds) `grad`'s row-major values at `layout`'s positions.
    fn put(&mut self, layout: &Layout, grad: &Tensor, accumulate: bool) {
        for (p, v) in layout.positions().zip(grad.to_vec_f64()) {
            if accumulate {
                self.values[p] += v;
            } else {
                self.values[p] = v;
            }
        }
    }

    fn zero(&mut self, layout: &Layout) {
        for p in layout.positions() {
            self.values[p] = 0.0;
        }
    }

    /// The values at `layout`'s positions, as a tensor of `layout`'s shape and `like`'s dtype.
    fn take(&self, layout: &Layout, like: &Tensor) -> Tensor {
        let values = gather(&Buffer::F64(self.values.clone()), layout);
        let Buffer::F64(values) = values else { unreachable!("gathered from f64") };
        Tensor::from_vec(values, &layout.shape, like.dtype())
    }
}

/// The backward of a view rebuilt after an in-place change: the gradient placed at the view's
/// positions of the base (summed where an expanded view repeats a position), zero elsewhere.
struct AsStridedBackward {
    base_layout: Layout,
    view_layout: Layout,
    storage_len: usize,
}

impl BackwardFunction for AsStridedBackward {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("AsStridedBackward0")
    }

    // d as_strided(base) = grad scattered back to the base's positions
    fn backward(&mut self, grad: &Tensor) -> super::node::Grads {
        let mut flat = StorageGrad::zeros(self.storage_len);
        // as torch's as_strided_backward: the view's dims of size 1 left out and its repeated
        // (stride 0) dims summed first; then copied where no two elements of what is left can
        // share a position (a -0. gradient stays -0.), added up where they may
        let (grad_left, left) = without_unit_and_repeated_dims(&self.view_layout, grad);
        flat.put(&left, &grad_left, maybe_overlapping(&left));
        smallvec::smallvec![Some(flat.take(&self.base_layout, grad))]
    }
}

/// The first step of torch's `as_strided_backward`, from the last dim to the first: a dim of
/// size 1 is dropped, one of stride 0 (an expanded dim) is summed over (`grad.sum(dim)`, in
/// torch's order) and dropped. Returns the gradient and the view's layout without those dims.
fn without_unit_and_repeated_dims(view: &Layout, grad: &Tensor) -> (Tensor, Layout) {
    let mut grad = grad.clone();
    let mut left = view.clone();
    for dim in (0..view.shape.len()).rev() {
        let (size, stride) = (view.shape[dim], view.strides[dim]);
        if size == 1 || stride == 0 {
            grad = if size == 1 { grad.squeeze_dim(dim as isize) } else { grad.sum_dim(dim, false) };
            left.shape.remove(dim);
            left.strides.remove(dim);
        }
    }
    (grad, left)
}

/// torch's `_maybe_overlapping_memory`: the dims by stride, smallest first, each stride must
/// step past every position the smaller ones reach (`as_strided_backward` asks it after
/// dropping dims of size 1 and summing those of stride 0).
fn maybe_overlapping(layout: &Layout) -> bool {
    let mut dims: Vec<(usize, usize)> =
        layout.strides.iter().copied().zip(layout.shape.iter().copied()).collect();
    dims.sort_by_key(|&(stride, _)| stride);
    let mut reach = 0;
    for (stride, size) in dims {
        if stride <= reach {
            return true;
        }
        reach += stride * size.saturating_sub(1);
    }
    false
}

/// The base's node after an in-place op on one of its views: the base's gradient with the
/// view's region replaced by what the op's backward gives for its input; the op's other
/// inputs get theirs from the op's backward.
struct CopySlices {
    base_layout: Layout,
    view_layout: Layout,
    storage_len: usize,
    function: super::node::FnBox,
    /// The op's own next edges, the first to the view's `grad_fn` before the op: never
    /// followed, only kept alive until this node runs without `retain_graph` (`release`), as
    /// torch's `CopySlices` keeps its `fn` node with them. That `grad_fn` (an
    /// `AsStridedBackward0` after an earlier in-place op on the view) is what a saved result of
    /// that earlier op names in its version error ("output 0 of AsStrided").
    op_edges: super::node::Edges,
}

impl BackwardFunction for CopySlices {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("torch::autograd::CopySlices")
    }

    fn backward(&mut self, grad: &Tensor) -> super::node::Grads {
        if is_grad_enabled() {
            // create_graph: the same steps as tensor ops, so they can be differentiated again
            return self.backward_with_graph(grad);
        }
        let mut flat = StorageGrad::zeros(self.storage_len);
        flat.put(&self.base_layout, grad, false);
        let for_view = flat.take(&self.view_layout, grad);
        let mut grads = self.function.backward(&for_view).into_iter();
        refuse_repeated_region(&self.view_layout);
        match grads.next().flatten() {
            Some(g) => flat.put(&self.view_layout, &g, false),
            None => flat.zero(&self.view_layout),
        }
        let mut out = vec![Some(flat.take(&self.base_layout, grad))];
        out.extend(grads);
        out.into()
    }

    fn saved_tensors(&self) -> Vec<(String, Tensor)> {
        self.function.saved_tensors()
    }

    fn has_saved(&self) -> bool {
        self.function.has_saved()
    }

    fn release(&mut self) {
        self.function.release();
        // torch's `CopySlices::release_variables` drops its `fn`, and the edges with it
        self.op_edges.clear();
    }

    fn rebind_output(&mut self, output: &Tensor) {
        self.function.rebind_output(output)
    }
}

/// torch's `CopySlices` copies the op's gradient into the written view's region of the
/// base's gradient (`grad_slice.copy_(res[0])`), which its copy refuses where elements of the
/// view share a position: an in-place fill of an expanded view runs forward and fails here.
#[track_caller]
fn refuse_repeated_region(view_layout: &Layout) {
    if crate::ops::inplace::has_internal_overlap(view_layout) {
        crate::ops::inplace::raise_internal_overlap();
    }
}

impl CopySlices {
    /// torch's `CopySlices::apply` step by step with tensor ops (for `create_graph`): a fresh
    /// tensor laid out as the base takes `grad` (`copy_`), the view's region of it is handed
    /// to the op's backward and overwritten in place (`copy_` into a view, so the result's
    /// history is itself a `CopySlices`).
    fn backward_with_graph(&mut self, grad: &Tensor) -> super::node::Grads {
        let base = &self.base_layout;
        let extent = base.extent();
        let zeros = crate::ops::kernel::cast(Buffer::F64(vec![0.0; extent]), grad.dtype());
        let result = Tensor::from_parts(
            std::rc::Rc::new(crate::storage::Storage::new(zeros)),
            Layout { shape: base.shape.clone(), strides: base.strides.clone(), offset: 0 },
            grad.dtype(),
        );
        result.copy_(grad);
        let region = Layout {
            shape: self.view_layout.shape.clone(),
            strides: self.view_layout.strides.clone(),
            offset: self.view_layout.offset - base.offset,
        };
        let grad_slice = result.view_with_layout(region.clone());
        if let Some(edge) = result.gradient_edge() {
            let backward =
                AsStridedBackward { base_layout: result.layout(), view_layout: region, storage_len: extent };
            set_history(&grad_slice, Node::new(smallbox::smallbox!(backward), vec![Some(edge)], &grad_slice));
        }
        let mut grads = self.function.backward(&grad_slice.deep_clone()).into_iter();
        refuse_repeated_region(&self.view_layout);
        match grads.next().flatten() {
            Some(g) => grad_slice.copy_(&g),
            None => grad_slice.zero_(),
        };
        let mut out = vec![Some(result)];
        out.extend(grads);
        out.into()
    }
}
