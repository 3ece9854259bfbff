//! Backward graph nodes: the one `Function` abstraction that built-in ops and user-defined
//! functions share, so names, `next_functions` and pictures all come from one code path.

use std::borrow::Cow;
use std::cell::{Cell, RefCell, RefMut};
use std::fmt;
use std::rc::{Rc, Weak};

use crate::global;
use crate::tensor::{Tensor, TensorImpl};

/// What a backward step computes: given the gradient flowing into the node's output, the
/// gradients for each of its inputs (`None` where an input gets none). Built-in ops and
/// user-defined functions both implement this.
pub trait BackwardFunction: 'static {
    /// The node's name as PyTorch prints it (`MulBackward0`).
    fn name(&self) -> Cow<'static, str>;
    /// Gradients for the inputs, in argument order.
    fn backward(&mut self, grad_output: &Tensor) -> Grads;
    /// The tensors this node keeps for backward, by name (for pictures and teaching).
    fn saved_tensors(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
    /// Whether the node keeps anything that `release` frees.
    fn has_saved(&self) -> bool {
        false
    }
    /// Frees what was kept for backward (after a backward without `retain_graph`).
    fn release(&mut self) {}
    /// Whether the function runs again after [`BackwardFunction::release`] and raises only
    /// where it reads what it saved (a user function: torch runs its backward, which fails at
    /// `ctx.saved_tensors`); a built-in node refuses to run at all.
    fn reads_saved_itself(&self) -> bool {
        false
    }
    /// The gradient its backward is called with when none arrived (a user function's: zeros
    /// of its output, as torch materializes them); `None` for a built-in node.
    fn materialized_grad(&self) -> Option<Tensor> {
        None
    }
    /// After an in-place op wrote its result into `output`'s storage: a saved *result* is
    /// that storage now (so a later in-place change of it is caught, as in PyTorch).
    fn rebind_output(&mut self, _output: &Tensor) {}
}

/// A node's backward function, kept in the node's own allocation where it fits (every
/// built-in op's does; a larger one, such as a user's `Function` with its context, goes to
/// the heap). A box of its own was one allocation and one free for every op recorded: a
/// tenth of the instructions of a small graph's step (callgrind).
pub(crate) type FnBox = smallbox::SmallBox<dyn BackwardFunction, smallbox::space::S32>;

/// A tensor hook: gets the gradient, may return a replacement.
pub(crate) type Hook = Rc<dyn Fn(&Tensor) -> Option<Tensor>>;

/// An edge to the node that produced an input, and which of its outputs it was.
#[derive(Clone)]
pub(crate) struct Edge {
    pub node: Node,
    pub input_nr: usize,
}

/// What a node's backward gives: one gradient per input edge, two kept inline (a vector for
/// every node of a backward pass was a sixth of a small graph's allocations).
pub type Grads = smallvec::SmallVec<[Option<Tensor>; 2]>;

/// A node's input edges, two kept inline (every unary and binary op) so that recording an op
/// does not allocate for them.
pub(crate) type Edges = smallvec::SmallVec<[Option<Edge>; 2]>;

pub(crate) enum NodeKind {
    /// An op's backward.
    Function,
    /// The sink for a leaf's gradient (`torch::autograd::AccumulateGrad`).
    AccumulateGrad { variable: Tensor },
}

pub(crate) struct NodeState {
    pub function: Option<FnBox>,
    /// Set once saved tensors were freed by a backward without `retain_graph`.
    pub released: bool,
    /// Hooks on the gradient of this node's output (tensor hooks of non-leaves).
    pub pre_hooks: Vec<(u64, Hook)>,
    /// Non-leaf tensors whose `.grad` this node fills (`retain_grad()`).
    pub retained: Vec<Weak<TensorImpl>>,
    /// For an output whose tensor was given other data since (`x.data = v` of another shape
    /// or dtype): its shape and dtype when this node was made, which torch's engine holds the
    /// gradients sent here to (its `input_metadata`): `(output_nr, shape, dtype)`.
    pub made_as: Vec<(usize, Vec<usize>, crate::dtype::DType)>,
}

impl NodeState {
    /// A new node's state: its function (none for AccumulateGrad), nothing released or hooked.
    fn holding(function: Option<FnBox>) -> NodeState {
        NodeState {
            function,
            released: false,
            pre_hooks: Vec::new(),
            retained: Vec::new(),
            made_as: Vec::new(),
        }
    }
}

pub(crate) struct NodeInner {
    pub id: u64,
    pub name: Cow<'static, str>,
    pub kind: NodeKind,
    pub next: Edges,
    /// Set once a hook or a `retain_grad` tensor was added to `state` (see
    /// [`Node::add_pre_hook`]): the engine skips borrowing the state of the nodes (nearly all)
    /// that never had one.
    hooked: Cell<bool>,
    /// Set once `made_as` has an entry (see [`Node::keep_made_as`]): the engine checks the
    /// gradients sent to this node only then.
    resized: Cell<bool>,
    /// A function node's output as it was made, its shape and dtype (torch's
    /// `input_metadata`; nothing for an `AccumulateGrad`). Once any tensor has had data of
    /// another shape or dtype, every gradient sent to the node is held to it
    /// (`engine::held_to_made_as`); before that none can differ from it.
    /// (An in-place op's node is made for the op's result, then becomes the written tensor's:
    /// `Node::remade_for`.)
    pub made_with: RefCell<MadeWith>,
    pub state: RefCell<NodeState>,
}

/// A node's output as it was made: shape and dtype.
pub(crate) type MadeWith = (crate::layout::Dims, crate::dtype::DType);

/// What `output` is made with, for the node it is the output of.
#[inline]
fn made_with(output: &crate::tensor::Tensor) -> MadeWith {
    output.with_data(|d| (dims_copy(&d.layout.shape), d.dtype))
}

/// A copy of a shape, by cases for up to four dims (`Dims::from_slice` calls `memcpy` for
/// every node recorded).
#[inline]
fn dims_copy(shape: &[usize]) -> crate::layout::Dims {
    let buf = match *shape {
        [] => [0; 4],
        [a] => [a, 0, 0, 0],
        [a, b] => [a, b, 0, 0],
        [a, b, c] => [a, b, c, 0],
        [a, b, c, d] => [a, b, c, d],
        _ => return crate::layout::Dims::from_slice(shape),
    };
    crate::layout::Dims::from_buf_and_len(buf, shape.len())
}

/// A node of the backward graph (what `grad_fn` and `next_functions` return).
///
/// ```
/// use autograd_core::prelude::*;
/// let x = ones(&[2]).requires_grad_(true);
/// let y = (&x * 2.0).sum();
/// let node = y.grad_fn().unwrap();
/// assert_eq!(node.name(), "SumBackward0");
/// let (mul, _) = &node.next_functions()[0];
/// assert_eq!(mul.as_ref().unwrap().name(), "MulBackward0");
/// ```
#[derive(Clone)]
pub struct Node(pub(crate) Rc<NodeInner>);

// As for tensors (see `TensorImpl`): a caught panic leaves the node usable.
impl std::panic::RefUnwindSafe for NodeInner {}

impl Node {
    /// A function node whose output is `output` (its shape and dtype are kept, see
    /// `NodeInner::made_with`).
    pub(crate) fn new(function: FnBox, next: impl Into<Edges>, output: &crate::tensor::Tensor) -> Node {
        Node::written(function.name(), NodeKind::Function, next.into(), Some(function), Some(output))
    }

    /// A node written field by field into its allocation (`Rc::new` of the whole struct built
    /// it on the stack and copied it over with a `memcpy` call, one per op recorded).
    fn written(
        name: Cow<'static, str>,
        kind: NodeKind,
        next: Edges,
        function: Option<FnBox>,
        output: Option<&crate::tensor::Tensor>,
    ) -> Node {
        let made_with = match output {
            Some(output) => made_with(output),
            None => (crate::layout::Dims::new(), crate::dtype::DType::Float32),
        };
        let mut fresh = Rc::new(std::mem::MaybeUninit::<NodeInner>::uninit());
        let slot = Rc::get_mut(&mut fresh).expect("a new allocation has one handle").as_mut_ptr();
        // SAFETY: `slot` points at the new, unshared allocation; every field is written once
        // before `assume_init`
        unsafe {
            std::ptr::addr_of_mut!((*slot).id).write(global::next_id());
            std::ptr::addr_of_mut!((*slot).name).write(name);
            std::ptr::addr_of_mut!((*slot).kind).write(kind);
            std::ptr::addr_of_mut!((*slot).next).write(next);
            std::ptr::addr_of_mut!((*slot).hooked).write(Cell::new(false));
            std::ptr::addr_of_mut!((*slot).resized).write(Cell::new(false));
            std::ptr::addr_of_mut!((*slot).made_with).write(RefCell::new(made_with));
            std::ptr::addr_of_mut!((*slot).state).write(RefCell::new(NodeState::holding(function)));
            Node(fresh.assume_init())
        }
    }

    /// Like `new`, for functions that keep a weak link to their own node (saved outputs).
    pub(crate) fn new_cyclic(
        next: Edges,
        output: &crate::tensor::Tensor,
        make: impl FnOnce(&Weak<NodeInner>) -> FnBox,
    ) -> Node {
        Node(Rc::new_cyclic(|weak| {
            let function = make(weak);
            NodeInner {
                id: global::next_id(),
                name: function.name(),
                kind: NodeKind::Function,
                next,
                hooked: Cell::new(false),
                resized: Cell::new(false),
                made_with: RefCell::new(made_with(output)),
                state: RefCell::new(NodeState::holding(Some(function))),
            }
        }))
    }

    pub(crate) fn accumulate_grad(variable: Tensor) -> Node {
        let name = Cow::Borrowed("torch::autograd::AccumulateGrad");
        Node::written(name, NodeKind::AccumulateGrad { variable }, Edges::new(), None, None)
    }

    pub(crate) fn state(&self) -> RefMut<'_, NodeState> {
        self.0.state.borrow_mut()
    }

    /// A hook on the gradient of this node's output (a non-leaf tensor's `register_hook`).
    pub(crate) fn add_pre_hook(&self, id: u64, hook: Hook) {
        let mut state = self.state();
        state.pre_hooks.push((id, hook));
        self.0.hooked.set(true);
    }

    /// A non-leaf tensor whose `.grad` this node fills (`retain_grad()`).
    pub(crate) fn add_retained(&self, tensor: Weak<TensorImpl>) {
        let mut state = self.state();
        state.retained.push(tensor);
        self.0.hooked.set(true);
    }

    /// Keeps the shape and dtype output `nr` had when this node was made, before its tensor
    /// takes other data (`x.data = v`); the first call for an output is the one that counts.
    pub(crate) fn keep_made_as(&self, nr: usize, shape: Vec<usize>, dtype: crate::dtype::DType) {
        let mut state = self.state();
        if !state.made_as.iter().any(|(n, ..)| *n == nr) {
            state.made_as.push((nr, shape, dtype));
        }
        self.0.resized.set(true);
    }

    /// The shape and dtype output `nr` had when this node was made, where its tensor has had
    /// other data since (else `None`: the gradient needs no check).
    pub(crate) fn made_as(&self, nr: usize) -> Option<(Vec<usize>, crate::dtype::DType)> {
        if !self.0.resized.get() {
            return None;
        }
        self.state().made_as.iter().find(|(n, ..)| *n == nr).map(|(_, shape, dtype)| (shape.clone(), *dtype))
    }

    /// Makes this node's output `output` as it is now: an in-place op's node, made for the
    /// op's result (`x * y` for `x.mul_(y)`, of the promoted dtype), is the written tensor's
    /// once the result is stored there, and torch holds its gradients to that tensor.
    pub(crate) fn remade_for(&self, output: &crate::tensor::Tensor) {
        *self.0.made_with.borrow_mut() = made_with(output);
    }

    /// False when no hook or retained tensor was ever added, so there is nothing to run.
    pub(crate) fn may_have_hooks(&self) -> bool {
        self.0.hooked.get()
    }

    /// The node's name: `AddBackward0`, `torch::autograd::AccumulateGrad`, `MulConstantBackward`.
    pub fn name(&self) -> String {
        self.0.name.to_string()
    }

    /// The nodes that produced this node's inputs, with the output index of each
    /// (`(None, 0)` for an input that needs no gradient), in argument order.
    pub fn next_functions(&self) -> Vec<(Option<Node>, usize)> {
        self.0
            .next
            .iter()
            .map(|edge| match edge {
                Some(edge) => (Some(edge.node.clone()), edge.input_nr),
                None => (None, 0),
            })
            .collect()
    }

    /// For an AccumulateGrad node, the leaf tensor it accumulates into.
    pub fn variable(&self) -> Option<Tensor> {
        match &self.0.kind {
            NodeKind::AccumulateGrad { variable } => Some(variable.clone()),
            NodeKind::Function => None,
        }
    }

    /// A process-wide unique id; later nodes have larger ids (PyTorch's sequence number).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// True for the AccumulateGrad sink of a leaf.
    pub fn is_accumulate_grad(&self) -> bool {
        matches!(self.0.kind, NodeKind::AccumulateGrad { .. })
    }

    /// The tensors this node saved for backward, by name (empty after they were freed).
    pub fn saved_tensors(&self) -> Vec<(String, Tensor)> {
        let state = self.state();
        state.function.as_ref().map(|f| f.saved_tensors()).unwrap_or_default()
    }

    /// True when two handles are the same node.
    pub fn same(&self, other: &Node) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    /// Python's `repr` of the node: `<MulBackward0 object at 0x7f...>`.
    pub fn repr(&self) -> String {
        // Python shows the class name: `torch::autograd::AccumulateGrad` is class `AccumulateGrad`
        let class = self.0.name.rsplit("::").next().unwrap_or(&self.0.name);
        format!("<{} object at {:#x}>", class, Rc::as_ptr(&self.0) as usize)
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repr())
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repr())
    }
}

impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        self.same(other)
    }
}

impl Drop for NodeInner {
    /// Long chains (a million-step loop) would otherwise drop recursively and overflow the
    /// stack: unlink the chain iteratively instead.
    fn drop(&mut self) {
        // inline for small graphs: a training step drops its graph every time
        let mut pending: smallvec::SmallVec<[Node; 4]> = smallvec::SmallVec::new();
        take_nodes(&mut self.next, &mut pending);
        while let Some(mut node) = pending.pop() {
            // the last handle: unlink the node's inputs here instead of in its own drop. In
            // place when nothing else refers to it (moving it out of its allocation was a
            // `memcpy` per node); moved out when only weak handles remain.
            let mut moved;
            let inner = match Rc::get_mut(&mut node.0) {
                Some(inner) => inner,
                None => match Rc::try_unwrap(node.0) {
                    Ok(inner) => {
                        moved = inner;
                        &mut moved
                    }
                    Err(_) => continue,
                },
            };
            take_nodes(&mut inner.next, &mut pending);
            // Saved tensors can hold further chains through their own grad_fn.
            drop(inner.state.get_mut().function.take());
        }
    }
}

/// Moves the nodes of `edges` onto `pending`, a push each, leaving `None`s behind (`SmallVec`'s
/// generic `extend` over a flattened drain was 2-4 % of a small graph's step in `perf`, and
/// the drain's own drop another 1 %).
fn take_nodes(edges: &mut Edges, pending: &mut smallvec::SmallVec<[Node; 4]>) {
    for edge in edges.iter_mut() {
        if let Some(edge) = edge.take() {
            pending.push(edge.node);
        }
    }
}
