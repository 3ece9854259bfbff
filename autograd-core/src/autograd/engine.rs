//! The backward engine: an iterative walk over the graph in PyTorch's order.
//!
//! 1. Count, for every node reachable from the roots, how many edges point at it.
//! 2. Start from the roots; a node runs once all gradients flowing into it have arrived.
//!    Among ready nodes the most recently created runs first (PyTorch's sequence-number
//!    priority) and a leaf's AccumulateGrad before any of them, ties broken as torch's heap
//!    breaks them (`ready.rs`), so hooks and prints come in torch's order.
//! 3. Each node's backward gives one gradient per input edge; gradients for the same node are
//!    summed; AccumulateGrad nodes add into the leaf's `.grad`.
//!
//! No recursion anywhere, so a 100,000-step chain cannot overflow the stack.

use std::hash::{BuildHasherDefault, Hasher};

use super::grad_mode::GradModeGuard;
use super::node::{Edge, Grads, Node, NodeKind};
use super::ready::ReadyQueue;
use super::trace::{self, BackwardStep, LeafChange};
use crate::dtype::DType;
use crate::layout::torch_size;
use crate::tensor::Tensor;

/// Node ids are unique counters: a multiply is all the hashing they need (SipHash showed up
/// in profiles of small graphs).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<IdHasher>>;

pub(crate) const SECOND_BACKWARD: &str =
    "Trying to backward through the graph a second time (or directly access saved \
tensors after they have already been freed). Saved intermediate values of the graph are freed when you call \
.backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second \
time or if you need to access saved tensors after calling backward.";

/// Options of one engine run.
pub(crate) struct RunOptions<'a> {
    pub retain_graph: bool,
    pub create_graph: bool,
    /// For `autograd::grad`: capture the gradient arriving at these edges instead of
    /// accumulating into leaves.
    pub capture: Option<Vec<Edge>>,
    /// For teaching (`explain`): every step of the run, recorded as it happens.
    pub trace: Option<&'a mut Vec<BackwardStep>>,
}

/// One node's bookkeeping during a run: how many edges still have to deliver a gradient,
/// and the gradient summed so far.
struct Task {
    node: Node,
    deps: usize,
    grad: Option<Tensor>,
}

/// The work lists of one engine run, kept per thread between runs: a training loop's
/// backward on a small graph made its map and queue anew each time, and allocation
/// was a third of the time of such a step (callgrind). A run inside a run (a hook or a
/// custom Function calling backward) takes a second set; big ones are not kept.
#[derive(Default)]
struct Scratch {
    tasks: HashMap<u64, Task>,
    ready: ReadyQueue,
}

/// Sets larger than this many nodes are freed after the run rather than kept.
const KEEP_SCRATCH: usize = 1024;

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<Scratch>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Scratch {
    fn take() -> Scratch {
        SCRATCH.with(|pool| pool.borrow_mut().pop()).unwrap_or_default()
    }

    /// Empties the lists (dropping what they still hold) and keeps them for the next run.
    fn give_back(mut self) {
        self.tasks.clear();
        self.ready.clear();
        if self.tasks.capacity() <= KEEP_SCRATCH {
            let _ = SCRATCH.try_with(|pool| pool.borrow_mut().push(self));
        }
    }
}

/// Every node reachable from `roots`, with the number of edges pointing at it.
fn collect_tasks<'a>(roots: impl IntoIterator<Item = &'a Node>) -> HashMap<u64, Task> {
    let mut tasks = HashMap::default();
    collect_tasks_into(roots, &mut tasks);
    tasks
}

/// [`collect_tasks`] into a given (empty) map. The nodes to visit are borrowed from the graph
/// (every one is reachable from a root, which the caller holds), not cloned: two reference
/// count changes less per node (when counts were atomic, `perf annotate` of a small graph's
/// backward showed its time on them). The list of nodes to visit is as long as the
/// graph is wide, on the stack for most graphs.
fn collect_tasks_into<'a>(roots: impl IntoIterator<Item = &'a Node>, tasks: &mut HashMap<u64, Task>) {
    let mut stack: smallvec::SmallVec<[&'a Node; 32]> = smallvec::SmallVec::new();
    for root in roots {
        if let std::collections::hash_map::Entry::Vacant(slot) = tasks.entry(root.id()) {
            slot.insert(Task { node: root.clone(), deps: 0, grad: None });
            stack.push(root);
        }
    }
    while let Some(node) = stack.pop() {
        for edge in node.0.next.iter().flatten() {
            match tasks.entry(edge.node.id()) {
                std::collections::hash_map::Entry::Occupied(mut task) => task.get_mut().deps += 1,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(Task { node: edge.node.clone(), deps: 1, grad: None });
                    stack.push(&edge.node);
                }
            }
        }
    }
}

/// The order in which a backward from `root` would run the nodes (for pictures and teaching).
pub fn backward_order(root: &Node) -> Vec<Node> {
    let mut tasks = collect_tasks(std::slice::from_ref(root));
    let mut order = Vec::with_capacity(tasks.len());
    let mut ready = ReadyQueue::with(root);
    while let Some(id) = ready.pop() {
        let node = tasks.remove(&id).expect("ready node is known").node;
        for edge in node.0.next.iter().flatten() {
            let task = tasks.get_mut(&edge.node.id()).expect("counted");
            task.deps -= 1;
            if task.deps == 0 {
                ready.push(&edge.node);
            }
        }
        order.push(node);
    }
    order
}

fn add_into(slot: &mut Option<Tensor>, grad: Tensor) {
    *slot = Some(match slot.take() {
        None => grad,
        Some(existing) => sum_in_buffer(existing, grad),
    });
}

/// torch's `InputBuffer::accumulate`: without grad mode it adds in place, into the gradient
/// already there or else into the new one, when nothing else holds that one (an efficient
/// zero tensor, what `sgn`'s backward sends, is never written). The sum is the same either
/// way except with a zero tensor: written in place, the zeros are added for real (`-0 + 0`
/// is `+0`), where the out-of-place sum is a copy of the other gradient.
fn sum_in_buffer(existing: Tensor, grad: Tensor) -> Tensor {
    if !crate::autograd::grad_mode::is_grad_enabled() && existing.is_zero_tensor() != grad.is_zero_tensor() {
        let other = if existing.is_zero_tensor() { &grad } else { &existing };
        if writable_in_place(other) {
            return other + &crate::factory::zeros_like(other);
        }
    }
    &existing + &grad
}

/// torch's `can_accumulate_inplace`: a dense tensor whose only handle and storage are these.
fn writable_in_place(t: &Tensor) -> bool {
    std::rc::Rc::strong_count(&t.0) == 1
        && !t.is_zero_tensor()
        && t.with_data(|d| {
            std::rc::Rc::strong_count(&d.storage) == 1 && d.layout.is_non_overlapping_and_dense()
        })
}

/// The roots of a run, each an edge with its incoming gradient (one, for `y.backward()`).
pub(crate) type Roots = smallvec::SmallVec<[(Edge, Tensor); 1]>;

/// Runs backward from `roots` (each an edge with its incoming gradient).
pub(crate) fn run(roots: Roots, mut options: RunOptions) -> Vec<Option<Tensor>> {
    let _mode = GradModeGuard::new(options.create_graph);
    let mut scratch = Scratch::take();
    collect_tasks_into(roots.iter().map(|(e, _)| &e.node), &mut scratch.tasks);
    let Scratch { tasks, ready, .. } = &mut scratch;
    for (index, (edge, grad)) in roots.into_iter().enumerate() {
        let grad = held_to_made_as(None, index, &edge, grad);
        let task = tasks.get_mut(&edge.node.id()).expect("roots are tasks");
        if task.deps == 0 && task.grad.is_none() {
            ready.push(&edge.node);
        }
        add_into(&mut task.grad, grad);
    }
    let capture = options.capture.unwrap_or_default();
    let capturing = !capture.is_empty();
    let mut captured: Vec<Option<Tensor>> = vec![None; capture.len()];
    // `autograd::grad` runs only the nodes that lead to a captured input (torch's `exec_info`):
    // another branch's backward, hooks and `retain_grad` do not run
    let needed = capturing.then(|| ancestors(tasks, capture.iter().map(|e| e.node.id())));
    let executes = |id: u64| match &needed {
        None => true,
        Some(needed) => needed.contains_key(&id) || capture.iter().any(|e| e.node.id() == id),
    };

    while let Some(id) = ready.pop() {
        let Task { node, grad, .. } = tasks.remove(&id).expect("ready node is a task");
        if let Some(needed) = &needed {
            if !needed.contains_key(&id) {
                // a captured input with nothing to run behind it: its hooks (a leaf's too)
                // and retain_grad see the gradient first, as torch's tensor pre-hooks
                let grad = grad.map(|g| match &node.0.kind {
                    NodeKind::AccumulateGrad { variable } => apply_leaf_hooks(variable, g),
                    NodeKind::Function => apply_node_hooks(&node, g),
                });
                capture_into(&mut captured, &capture, &node, &grad);
                continue;
            }
            // needed further on: torch captures the gradient as it arrived, before the hooks
            capture_into(&mut captured, &capture, &node, &grad);
        }
        let grad = grad.map(|g| apply_node_hooks(&node, g));

        // what the node saved is read before it runs (running frees it)
        let mut step = options.trace.is_some().then(|| BackwardStep {
            node: node.clone(),
            grad: grad.clone(),
            saved: node.saved_tensors(),
            sent: Vec::new(),
            leaf: None,
        });
        let input_grads: Grads = match &node.0.kind {
            NodeKind::AccumulateGrad { variable } => {
                let before = step.as_ref().map(|_| variable.grad().map(|g| trace::snapshot(&g)));
                if let (false, Some(g)) = (capturing, grad) {
                    accumulate(variable, g, options.create_graph, node.made_as(0).is_some());
                }
                if let (Some(step), Some(before)) = (step.as_mut(), before) {
                    let after = variable.grad().map(|g| trace::snapshot(&g));
                    step.leaf = Some(LeafChange { variable: variable.clone(), before, after });
                }
                Grads::new()
            }
            NodeKind::Function => call_function(&node, grad.as_ref(), options.retain_graph),
        };
        if let (Some(trace), Some(mut step)) = (options.trace.as_deref_mut(), step) {
            step.sent = input_grads.to_vec();
            trace.push(step);
        }

        for (index, (edge, g)) in node.0.next.iter().zip(input_grads).enumerate() {
            let Some(edge) = edge else { continue };
            if !executes(edge.node.id()) {
                continue;
            }
            let task = tasks.get_mut(&edge.node.id()).expect("dependency counted");
            if let Some(g) = g {
                add_into(&mut task.grad, held_to_made_as(Some(&node), index, edge, g));
            }
            task.deps -= 1;
            if task.deps == 0 {
                ready.push(&edge.node);
            }
        }
    }
    scratch.give_back();
    captured
}

/// Puts `grad` in the slot of every captured input whose node is `node`.
fn capture_into(captured: &mut [Option<Tensor>], capture: &[Edge], node: &Node, grad: &Option<Tensor>) {
    for (slot, edge) in capture.iter().enumerate() {
        if edge.node.same(node) {
            captured[slot] = grad.clone();
        }
    }
}

/// Whether two tensors have one shape (read in place, nothing allocated).
fn same_shape(a: &Tensor, b: &Tensor) -> bool {
    a.with_data(|da| b.with_data(|db| crate::layout::same_shape(&da.layout.shape, &db.layout.shape)))
}

/// torch's `obeys_layout_contract(grad, variable)` for a dense variable: every dim of the
/// gradient that is not of size 1 has the variable's stride at that position, and no dim of
/// size 1 has stride 0. Past the variable's last dim torch reads its stride array out of
/// bounds: for a 0-dim variable the first slot holds 1 (the stride a fresh tensor starts
/// with, so a 1-D gradient of stride 1 is kept as it is), elsewhere nothing it matches.
fn obeys_layout_contract(grad: &Tensor, variable: &Tensor) -> bool {
    let (sizes, strides, variable_strides) = (grad.shape(), grad.stride(), variable.stride());
    let variable_stride = |idx: usize| {
        variable_strides.get(idx).copied().or((variable_strides.is_empty() && idx == 0).then_some(1))
    };
    sizes.iter().zip(&strides).enumerate().all(|(idx, (&size, &stride))| {
        if size != 1 {
            variable_stride(idx) == Some(stride)
        } else {
            stride != 0
        }
    })
}

/// torch's `validate_outputs` for a gradient `from` sends (its output `index`) along `edge`,
/// or (`from` None) one the caller gave for a root of the backward pass (torch's message then
/// names no function). Only once some tensor has had data of another shape or dtype
/// (`x.data = v`) can a gradient differ from what its node was made with: a node that saved
/// that tensor computes gradients of its shape for its other inputs too (`a / b` saved `a`;
/// after `a.data = m`, `b`'s gradient has `m`'s shape), and they travel on through function
/// nodes. From then on each is held to the shape and dtype its node was made with: summed
/// back where that shape expands to the gradient's, refused where it does not, then cast.
/// For a function node that is `made_with` (what `made_as` would keep for it too, once its
/// tensor takes other data). For a leaf it is its shape and dtype now (its accumulator is made anew when its dtype
/// changes), or what its accumulator was made with where the leaf's own data changed since
/// the graph was built.
#[track_caller]
fn held_to_made_as(from: Option<&Node>, index: usize, edge: &Edge, grad: Tensor) -> Tensor {
    if !crate::global::shared().data_changed.load(std::sync::atomic::Ordering::Relaxed) {
        return grad;
    }
    let node = &edge.node;
    let (shape, dtype) = match &node.0.kind {
        NodeKind::Function => node.0.made_with.borrow().clone(),
        NodeKind::AccumulateGrad { variable } => match node.made_as(edge.input_nr) {
            Some((shape, dtype)) => (crate::layout::dims_of(&shape), dtype),
            None => variable.with_data(|d| (d.layout.shape.clone(), d.dtype)),
        },
    };
    if grad.with_data(|d| crate::layout::same_shape(&d.layout.shape, &shape) && d.dtype == dtype) {
        return grad;
    }
    held_to(from.map(|node| node.name()).as_deref(), index, &shape, dtype, grad)
}

/// torch's `validate_outputs` for one gradient: one of another shape is summed back to
/// `shape` where `shape` expands to it, refused where it does not (an error naming the
/// function `from` that returned it, when one did), then cast to `dtype`.
#[track_caller]
pub(crate) fn held_to(
    from: Option<&str>,
    index: usize,
    shape: &[usize],
    dtype: DType,
    grad: Tensor,
) -> Tensor {
    let list = crate::layout::shape_list;
    let mut grad = grad;
    let grad_shape = grad.shape();
    if !crate::layout::same_shape(&grad_shape, shape) {
        let expands = crate::layout::broadcast_shapes(shape, &grad_shape)
            .is_some_and(|b| crate::layout::same_shape(&b, &grad_shape));
        if !expands {
            let problem = format!(
                "invalid gradient at index {index} - got {} but expected shape compatible with {}",
                list(&grad_shape),
                list(shape)
            );
            match from {
                Some(name) => crate::raise!("Function {name} returned an {problem}"),
                None => crate::raise!("{problem}"),
            }
        }
        grad = grad.sum_to_size(shape);
    }
    if grad.dtype() != dtype {
        grad = grad.to_dtype(dtype);
    }
    grad
}

/// Runs a function node's backward. A node reached with no gradient (every gradient sent to
/// it was None: a user function returned None for that input) still runs, as in torch: a
/// built-in node reads what it saved (so a second run without `retain_graph` refuses), sends
/// nothing and frees; a user function's backward is called with zeros of its output (torch
/// materializes them).
fn call_function(node: &Node, grad: Option<&Tensor>, retain_graph: bool) -> Grads {
    let mut state = node.state();
    let released = state.released;
    let function = state.function.as_mut().expect("function nodes keep their function");
    if released && !function.reads_saved_itself() {
        drop(state);
        crate::raise!("{SECOND_BACKWARD}");
    }
    let zeros = if grad.is_none() { function.materialized_grad() } else { None };
    let grads = match grad.or(zeros.as_ref()) {
        None => smallvec::smallvec![None; node.0.next.len()],
        Some(grad) => {
            let grads = function.backward(grad);
            if grads.len() != node.0.next.len() {
                crate::raise!(
                    "function {} returned an incorrect number of gradients (expected {}, got {})",
                    node.0.name,
                    node.0.next.len(),
                    grads.len()
                );
            }
            grads
        }
    };
    if !retain_graph {
        // as torch's engine, every node run without retain_graph releases what it keeps (a
        // CopySlices its op's edges too); only a node that saved something refuses to run again
        let saved = function.has_saved();
        function.release();
        state.released = saved;
    }
    grads
}

/// A hook may replace a gradient, not change its dtype or its shape (checked in that order,
/// as torch does). A Rust closure has no name, so it is named as PyTorch names a lambda.
fn check_hook_result(grad: &Tensor, replacement: &Tensor) {
    let (was, got) = (grad.dtype(), replacement.dtype());
    if was != got {
        crate::raise!(
            "hook '<lambda>' has changed the type of value (was {} got {})",
            was.legacy_name(),
            got.legacy_name()
        );
    }
    if !crate::layout::same_shape(&replacement.shape(), &grad.shape()) {
        crate::raise!("hook '<lambda>' has changed the size of value");
    }
}

/// Tensor hooks on a non-leaf's gradient, then `retain_grad`.
fn apply_node_hooks(node: &Node, mut grad: Tensor) -> Tensor {
    if !node.may_have_hooks() {
        return grad;
    }
    let (hooks, retained) = {
        let state = node.state();
        if state.pre_hooks.is_empty() && state.retained.is_empty() {
            // most nodes
            return grad;
        }
        (state.pre_hooks.clone(), state.retained.clone())
    };
    for (_, hook) in hooks {
        if let Some(replacement) = hook(&grad) {
            check_hook_result(&grad, &replacement);
            grad = replacement;
        }
    }
    for weak in retained {
        if let Some(inner) = weak.upgrade() {
            let tensor = Tensor(inner);
            let mut meta = tensor.meta();
            meta.grad = Some(match meta.grad.take() {
                None => grad.contiguous_values(),
                Some(old) => {
                    old.add_raw_(&grad);
                    old
                }
            });
        }
    }
    grad
}

/// A leaf's hooks on `grad`, in the order they were registered.
fn apply_leaf_hooks(variable: &Tensor, mut grad: Tensor) -> Tensor {
    let hooks = variable.meta().hooks.clone();
    for (_, hook) in hooks {
        if let Some(replacement) = hook(&grad) {
            check_hook_result(&grad, &replacement);
            grad = replacement;
        }
    }
    grad
}

/// AccumulateGrad: add `grad` into the leaf's `.grad`, after the leaf's hooks.
fn accumulate(variable: &Tensor, mut grad: Tensor, create_graph: bool, resized: bool) {
    // one borrow for the usual case (no hooks): the hooks and the gradient there is
    let (hooks, existing) = {
        let meta = variable.meta();
        (meta.hooks.clone(), meta.grad.clone())
    };
    let existing = if hooks.is_empty() {
        existing
    } else {
        grad = apply_leaf_hooks(variable, grad);
        // a hook may have set or cleared .grad itself
        variable.meta().grad.clone()
    };
    if !variable.meta().requires_grad {
        // detached in place since the graph was built (torch's AccumulateGrad returns here)
        return;
    }
    // (a gradient held to the dtype the accumulator was made with, `held_to_made_as`, stays
    // in it: torch's x.grad keeps float32 when x.data became float64 after the graph was built)
    let dtype = if resized { grad.dtype() } else { variable.dtype() };
    let (grad_dtype, mut zero_tensor) = grad.with_data(|d| (d.dtype, d.storage.is_zero_tensor()));
    if grad_dtype != dtype {
        grad = grad.to_dtype(dtype);
        zero_tensor = grad.with_data(|d| d.storage.is_zero_tensor());
    }
    if let Some(old) = existing.as_ref().filter(|_| !create_graph) {
        // adding into the old gradient in place: torch refuses when it is an efficient zero
        // tensor (before anything changes), or of a shape the sum does not keep (x.data of
        // another shape since the last backward)
        old.check_not_zero_tensor();
        if !same_shape(old, &grad) {
            let (old_shape, new_shape) = (old.shape(), grad.shape());
            let sum = crate::ops::elementwise::broadcast_or_raise(&old_shape, &new_shape);
            if !crate::layout::same_shape(&sum, &old_shape) {
                crate::raise!(
                    "output with shape {} doesn't match the broadcast shape {}",
                    crate::layout::shape_list(&old_shape),
                    crate::layout::shape_list(&sum)
                );
            }
        }
    }
    if existing.is_none()
        && !create_graph
        && !same_shape(&grad, variable)
        && !obeys_layout_contract(&grad, variable)
    {
        // a first gradient of another shape than the variable's (x.data of another shape since
        // the graph was built): torch keeps it as it is only where its strides happen to fit
        // the variable's, else copies it into a tensor laid out as the variable (broadcast,
        // or refused as copy_ refuses), in the gradient's dtype
        let target = crate::factory::zeros_with(
            &variable.shape(),
            crate::factory::TensorOptions::default().dtype(grad.dtype()),
        );
        grad = super::grad_mode::no_grad(|| target.copy_(&grad));
        zero_tensor = false;
    }
    let mut meta = variable.meta();
    meta.grad = Some(match meta.grad.take() {
        // torch keeps a copy that is part of the graph (`CopyBackwards` from the gradient)
        None if create_graph => crate::factory::zeros_like(&grad).copy_(&grad),
        // torch stores the gradient itself (an efficient zero tensor stays one)
        None if zero_tensor => grad.into_owned_detached().into_zero_tensor(),
        None => grad.into_owned_detached(),
        Some(old) if create_graph => &old + &grad,
        Some(old) => {
            old.add_raw_(&grad);
            old
        }
    });
}

impl Tensor {
    /// Computes the gradient of this scalar with respect to every leaf that requires grad and
    /// adds it into their `.grad` (`y.backward()`). The graph's saved values are freed.
    #[track_caller]
    pub fn backward(&self) {
        self.backward_opts(None, false);
    }

    /// `y.backward(gradient)`: backward with an explicit gradient of the same shape as `y`.
    #[track_caller]
    pub fn backward_with(&self, gradient: &Tensor) {
        self.backward_opts(Some(gradient), false);
    }

    /// `y.backward(gradient=None or g, retain_graph=...)`.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([3.], requires_grad = true);
    /// let y = &x * 2.0 + x.pow(2) + 3.0;
    /// y.backward_opts(None, true);
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([8.])");
    /// y.backward_opts(None, false);
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([16.])");
    /// ```
    #[track_caller]
    pub fn backward_opts(&self, gradient: Option<&Tensor>, retain_graph: bool) {
        let edge = self.root_edge();
        let grad = self.initial_grad(gradient, 0);
        // an error inside the graph (a modified saved tensor, a second backward) is reported
        // at the caller's line, as Python points at the `backward()` line
        crate::error::at_caller(|| {
            run(
                smallvec::smallvec![(edge, grad)],
                RunOptions { retain_graph, create_graph: false, capture: None, trace: None },
            )
        });
    }

    /// `backward()` that also records every step as it runs (for `explain`).
    #[track_caller]
    pub(crate) fn backward_traced(&self) -> Vec<BackwardStep> {
        let edge = self.root_edge();
        let grad = self.initial_grad(None, 0);
        let mut steps = Vec::new();
        crate::error::at_caller(|| {
            let options = RunOptions {
                retain_graph: false,
                create_graph: false,
                capture: None,
                trace: Some(&mut steps),
            };
            run(smallvec::smallvec![(edge, grad)], options)
        });
        steps
    }

    /// Backward that also records the backward computation itself (for higher derivatives).
    #[track_caller]
    pub fn backward_create_graph(&self, gradient: Option<&Tensor>) {
        let edge = self.root_edge();
        let grad = self.initial_grad(gradient, 0);
        crate::error::at_caller(|| {
            run(
                smallvec::smallvec![(edge, grad)],
                RunOptions { retain_graph: true, create_graph: true, capture: None, trace: None },
            )
        });
    }

    #[track_caller]
    pub(crate) fn root_edge(&self) -> Edge {
        match self.gradient_edge() {
            Some(edge) => edge,
            None => crate::raise!("element 0 of tensors does not require grad and does not have a grad_fn"),
        }
    }

    #[track_caller]
    pub(crate) fn initial_grad(&self, gradient: Option<&Tensor>, index: usize) -> Tensor {
        match gradient {
            None => {
                if self.numel() != 1 {
                    crate::raise!("grad can be implicitly created only for scalar outputs");
                }
                crate::factory::ones_like(self)
            }
            Some(g) => {
                let (gs, s) = (g.shape(), self.shape());
                if !crate::layout::same_shape(&gs, &s) {
                    crate::raise!(
                        "Mismatch in shape: grad_output[{index}] has a shape of {} and output[{index}] has a shape of {}.",
                        torch_size(&gs),
                        torch_size(&s)
                    );
                }
                if g.dtype() != self.dtype() {
                    g.to_dtype(self.dtype())
                } else {
                    g.clone()
                }
            }
        }
    }
}

/// `torch.autograd.grad(outputs, inputs, create_graph=...)`: the gradients of the (scalar)
/// outputs with respect to `inputs`, without touching any `.grad`.
///
/// ```
/// use autograd_core::prelude::*;
/// let x = tensor!(3., requires_grad = true, dtype = float64);
/// let y = x.pow(3);
/// let dy = grad(&[&y], &[&x], true);
/// assert_eq!(dy[0].item(), 27.0);
/// let d2y = grad(&[&dy[0]], &[&x], false);
/// assert_eq!(d2y[0].item(), 18.0);
/// ```
#[track_caller]
pub fn grad(outputs: &[&Tensor], inputs: &[&Tensor], create_graph: bool) -> Vec<Tensor> {
    grad_opts(outputs, inputs, None, create_graph, create_graph, false)
        .into_iter()
        .map(|g| g.expect("allow_unused is false, so every gradient is present"))
        .collect()
}

/// The full form of [`grad`]: explicit output gradients, `retain_graph`, `allow_unused`.
#[track_caller]
pub fn grad_opts(
    outputs: &[&Tensor],
    inputs: &[&Tensor],
    grad_outputs: Option<&[&Tensor]>,
    retain_graph: bool,
    create_graph: bool,
    allow_unused: bool,
) -> Vec<Option<Tensor>> {
    // plain loops, not closures: the errors point at the caller's line (#[track_caller])
    if let Some(given) = grad_outputs.filter(|g| g.len() != outputs.len()) {
        crate::raise!("got {} tensors and {} gradients", outputs.len(), given.len());
    }
    let mut roots = Roots::with_capacity(outputs.len());
    for (i, out) in outputs.iter().enumerate() {
        let Some(edge) = out.gradient_edge() else {
            crate::raise!("element {i} of tensors does not require grad and does not have a grad_fn")
        };
        roots.push((edge, out.initial_grad(grad_outputs.map(|g| g[i]), i)));
    }
    let mut capture: Vec<Edge> = Vec::with_capacity(inputs.len());
    for t in inputs {
        let Some(edge) = t.gradient_edge() else {
            crate::raise!("One of the differentiated Tensors does not require grad")
        };
        capture.push(edge);
    }
    let grads = crate::error::at_caller(|| {
        run(roots, RunOptions { retain_graph, create_graph, capture: Some(capture), trace: None })
    });
    if !allow_unused {
        if let Some(unused) = grads.iter().position(Option::is_none) {
            crate::raise!(
                "The differentiated Tensor at index {unused} appears to not have been used in the graph. Set \
                 allow_unused=True if this is the desired behavior."
            );
        }
    }
    grads
}

impl Tensor {
    /// `y.backward(gradient, retain_graph=..., inputs=[a, b])`: backward from `y` that fills
    /// only the given tensors' `.grad`, running only the part of the graph that leads to them.
    ///
    /// As in torch, an input that is not a leaf is marked with `retain_grad()` (its `.grad` is
    /// filled, now and in later backward calls); an input that does not require grad is an
    /// error; an input the graph does not reach is left alone.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([1., 2.], requires_grad = true);
    /// let w = tensor!([3., 4.], requires_grad = true);
    /// let y = (&x * &w).pow(2).sum();
    /// y.backward_inputs(None, false, &[&x]);
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([18., 64.])");
    /// assert!(w.grad().is_none());
    /// ```
    pub fn backward_inputs(&self, gradient: Option<&Tensor>, retain_graph: bool, inputs: &[&Tensor]) {
        if inputs.is_empty() {
            crate::raise!("`inputs` argument to `backward()` cannot be empty.");
        }
        let grad = self.initial_grad(gradient, 0);
        let edge = self.root_edge();
        let mut targets = Vec::with_capacity(inputs.len());
        for input in inputs {
            super::hooks::retain_grad(input);
            if let Some(target) = input.gradient_edge() {
                targets.push(target.node);
            }
        }
        run_towards(edge, grad, &targets, retain_graph);
    }
}

/// The tasks from which one of `targets` can be reached (a target itself only where another
/// target lies behind it): torch's `needed_` of `exec_info`.
fn ancestors(tasks: &HashMap<u64, Task>, targets: impl IntoIterator<Item = u64>) -> HashMap<u64, ()> {
    let mut parents: HashMap<u64, Vec<u64>> = HashMap::default();
    for task in tasks.values() {
        for edge in task.node.0.next.iter().flatten() {
            parents.entry(edge.node.id()).or_default().push(task.node.id());
        }
    }
    let mut needed: HashMap<u64, ()> = HashMap::default();
    let mut stack: Vec<u64> = targets
        .into_iter()
        .filter(|id| tasks.contains_key(id))
        .flat_map(|id| parents.get(&id))
        .flatten()
        .copied()
        .collect();
    while let Some(id) = stack.pop() {
        if needed.insert(id, ()).is_none() {
            stack.extend(parents.get(&id).into_iter().flatten().copied());
        }
    }
    needed
}

/// Like [`run`], but only the nodes on a path from the root to one of `targets` run (torch's
/// `exec_info` when `inputs` is given): a target's own backward runs, its inputs' nodes do not
/// unless they lead to another target.
fn run_towards(root: Edge, grad: Tensor, targets: &[Node], retain_graph: bool) {
    let _mode = GradModeGuard::new(false);
    let mut tasks = collect_tasks(std::slice::from_ref(&root.node));
    let mut needed = ancestors(&tasks, targets.iter().map(Node::id));
    for target in targets {
        if tasks.contains_key(&target.id()) {
            needed.insert(target.id(), ());
        }
    }
    if !needed.contains_key(&root.node.id()) {
        // nothing leads to the inputs, but the root's own hooks still see its gradient (torch
        // 2.15: `y.retain_grad(); y.backward(inputs=[x])` fills `y.grad` even then)
        apply_node_hooks(&root.node, grad);
        return;
    }
    let grad = held_to_made_as(None, 0, &root, grad);
    let root_task = tasks.get_mut(&root.node.id()).expect("the root is a task");
    root_task.grad = Some(grad);
    let mut ready = ReadyQueue::with(&root.node);
    while let Some(id) = ready.pop() {
        let Task { node, grad, .. } = tasks.remove(&id).expect("ready node is a task");
        let grad = grad.map(|g| apply_node_hooks(&node, g));
        let input_grads: Grads = match &node.0.kind {
            NodeKind::AccumulateGrad { variable } => {
                if let Some(g) = grad {
                    accumulate(variable, g, false, node.made_as(0).is_some());
                }
                Grads::new()
            }
            NodeKind::Function => call_function(&node, grad.as_ref(), retain_graph),
        };
        for (index, (edge, g)) in node.0.next.iter().zip(input_grads).enumerate() {
            let Some(edge) = edge else { continue };
            if !needed.contains_key(&edge.node.id()) {
                continue;
            }
            let task = tasks.get_mut(&edge.node.id()).expect("dependency counted");
            if let Some(g) = g {
                add_into(&mut task.grad, held_to_made_as(Some(&node), index, edge, g));
            }
            task.deps -= 1;
            if task.deps == 0 {
                ready.push(&edge.node);
            }
        }
    }
}
