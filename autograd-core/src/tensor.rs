//! The `Tensor` handle: shared storage, dtype, layout, and the autograd metadata.

use std::cell::{Cell, RefCell, RefMut};
use std::rc::{Rc, Weak};

use crate::autograd::node::{Edge, Hook, Node};
pub(crate) use crate::autograd::views::ViewInfo;
use crate::dtype::DType;
use crate::global;
use crate::layout::{numel, Layout};
use crate::storage::{Buffer, Storage};

/// A tensor: an n-dimensional array of `float32`, `float64`, `int64` or `bool`, that can take
/// part in automatic differentiation.
///
/// `Tensor` is a cheap handle (like a Python reference): cloning it gives another handle to the
/// same tensor. Arithmetic works on `Tensor` and `&Tensor`, mixed freely, and with `f64`
/// numbers on either side.
///
/// A tensor belongs to the thread that made it, as a Python object does to the interpreter
/// that holds the GIL: `Tensor` is neither `Send` nor `Sync`, and hooks and custom functions
/// may hold `Rc`/`RefCell` state. Its reference counts and borrows are plain memory
/// operations: with atomic counts and locks, 42 % of `perf`'s samples of the 100-step chain
/// fell on the instruction after an atomic one. Large ops still use every core, inside the op.
///
/// ```
/// use autograd_core::prelude::*;
/// let x = ones(&[2, 2]).requires_grad_(true);
/// let y = &x + 2.0;
/// let z = &y * &y * 3.0;
/// let out = z.mean();
/// assert_eq!(format!("{}", out), "tensor(27., grad_fn=<MeanBackward0>)");
/// out.backward();
/// assert_eq!(format!("{}", x.grad().unwrap()), "tensor([[4.5000, 4.5000],\n        [4.5000, 4.5000]])");
/// ```
#[derive(Clone)]
pub struct Tensor(pub(crate) Rc<TensorImpl>);

pub(crate) struct TensorImpl {
    pub id: u64,
    pub data: RefCell<TensorData>,
    pub meta: RefCell<AutogradMeta>,
    /// `meta.requires_grad || meta.grad_fn.is_some()`, kept by [`MetaGuard`] each time the
    /// meta is changed, so that `requires_grad()` (asked 3-4 times for each input of every
    /// op) is one read instead of a borrow and its release in the common case.
    tracked: Cell<bool>,
}

/// The autograd metadata, borrowed. Changing it through this guard keeps the tensor's
/// `tracked` flag in step when the guard is dropped.
pub(crate) struct MetaGuard<'a> {
    meta: RefMut<'a, AutogradMeta>,
    tracked: &'a Cell<bool>,
    changed: bool,
}

impl std::ops::Deref for MetaGuard<'_> {
    type Target = AutogradMeta;
    fn deref(&self) -> &AutogradMeta {
        &self.meta
    }
}

impl std::ops::DerefMut for MetaGuard<'_> {
    fn deref_mut(&mut self) -> &mut AutogradMeta {
        self.changed = true;
        &mut self.meta
    }
}

impl Drop for MetaGuard<'_> {
    fn drop(&mut self) {
        if self.changed {
            self.tracked.set(self.meta.requires_grad || self.meta.grad_fn.is_some());
        }
    }
}

/// What `x.data = ...` replaces: the storage and the view into it.
#[derive(Clone)]
pub(crate) struct TensorData {
    pub storage: Rc<Storage>,
    pub layout: Layout,
    pub dtype: DType,
    /// A version counter of its own, where this tensor does not share its storage's: torch's
    /// `x.data` shares the storage but counts in-place changes apart (`x.data.mul_(2)` leaves
    /// `x._version` at 0, so a backward that saved `x` runs, with the new values), and views
    /// of it share its counter. `None`, the usual case, is the storage's counter.
    pub own_version: Option<Rc<Cell<u64>>>,
}

impl TensorData {
    /// The version counter this tensor reads and bumps.
    pub(crate) fn version(&self) -> u64 {
        match &self.own_version {
            Some(counter) => counter.get(),
            None => self.storage.version(),
        }
    }

    /// One more in-place change.
    pub(crate) fn bump_version(&self) {
        match &self.own_version {
            Some(counter) => counter.set(counter.get() + 1),
            None => self.storage.bump_version(),
        }
    }

    /// True when this is the only handle on the storage and it covers all of it from the
    /// start: its values can be taken or written over without anyone seeing (with the
    /// tensor's own handle the only one, which the caller checks).
    pub(crate) fn owns_whole_storage(&self) -> bool {
        Rc::strong_count(&self.storage) == 1
            && self.layout.offset == 0
            && self.storage.read().len() == self.layout.numel()
    }
}

#[derive(Default)]
pub(crate) struct AutogradMeta {
    pub requires_grad: bool,
    pub grad: Option<Tensor>,
    pub grad_fn: Option<Node>,
    pub output_nr: usize,
    pub grad_accumulator: Option<Weak<crate::autograd::node::NodeInner>>,
    pub retains_grad: bool,
    pub hooks: Vec<(u64, Hook)>,
    pub view: Option<ViewInfo>,
}

// A panic in the middle of an op leaves no borrow behind (the guards are released while
// unwinding), as the locks these cells replaced left none (their poisoning was ignored): a
// tensor stays usable after a caught error, so `catch_unwind(|| x.item())` is allowed as it was.
impl std::panic::RefUnwindSafe for TensorImpl {}

impl Tensor {
    pub(crate) fn from_parts(storage: Rc<Storage>, layout: Layout, dtype: DType) -> Tensor {
        Tensor::from_parts_counted(storage, layout, dtype, None)
    }

    /// [`Tensor::from_parts`] for a tensor that shares another's storage and version counter
    /// (its `own_version`): a view, `detach()`.
    pub(crate) fn from_parts_counted(
        storage: Rc<Storage>,
        layout: Layout,
        dtype: DType,
        own_version: Option<Rc<Cell<u64>>>,
    ) -> Tensor {
        global::check_interrupt();
        // written field by field into the new allocation: `Rc::new` of the whole struct built
        // it on the stack and copied it over with a `memcpy` call, 7 % of a scalar gradient-
        // descent step in `perf` (seven tensors a step). `Rc::new` of an uninitialized value,
        // not `Rc::new_uninit`, which computes its layout in a call that is not inlined.
        let mut fresh = Rc::new(std::mem::MaybeUninit::<TensorImpl>::uninit());
        let slot = Rc::get_mut(&mut fresh).expect("a new allocation has one handle").as_mut_ptr();
        // SAFETY: `slot` points at the new, unshared allocation; every field is written once
        // before `assume_init`
        unsafe {
            std::ptr::addr_of_mut!((*slot).id).write(global::next_id());
            std::ptr::addr_of_mut!((*slot).data).write(RefCell::new(TensorData {
                storage,
                layout,
                dtype,
                own_version,
            }));
            std::ptr::addr_of_mut!((*slot).meta).write(RefCell::new(AutogradMeta::default()));
            std::ptr::addr_of_mut!((*slot).tracked).write(Cell::new(false));
            Tensor(fresh.assume_init())
        }
    }

    /// A new contiguous tensor owning `buffer`.
    pub(crate) fn from_buffer(buffer: Buffer, shape: &[usize]) -> Tensor {
        debug_assert_eq!(buffer.len(), numel(shape));
        Tensor::from_buffer_layout(buffer, Layout::contiguous(shape))
    }

    /// A new tensor owning `buffer`, laid out as `layout` says; the dtype is the buffer's.
    pub(crate) fn from_buffer_layout(buffer: Buffer, layout: Layout) -> Tensor {
        let dtype = buffer.dtype();
        Tensor::from_parts(Rc::new(Storage::new(buffer)), layout, dtype)
    }

    /// Like `from_buffer`, taking the shape by value (saves a copy on hot paths).
    pub(crate) fn from_buffer_shape(buffer: Buffer, shape: crate::layout::Dims) -> Tensor {
        debug_assert_eq!(buffer.len(), numel(&shape));
        let strides = crate::layout::contiguous_strides(&shape);
        Tensor::from_buffer_layout(buffer, Layout { shape, strides, offset: 0 })
    }

    /// Builds a tensor from row-major values, rounded or cast to `dtype`.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let t = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2], DType::Float64);
    /// assert_eq!(t.to_string(), "tensor([[1., 2.],\n        [3., 4.]], dtype=torch.float64)");
    /// ```
    #[track_caller]
    pub fn from_vec(values: Vec<f64>, shape: &[usize], dtype: DType) -> Tensor {
        if values.len() != numel(shape) {
            crate::raise!("shape '{:?}' is invalid for input of size {}", shape, values.len());
        }
        Tensor::from_buffer(Buffer::from_f64(values, dtype), shape)
    }

    /// Builds a float32 tensor from f32 values.
    #[track_caller]
    pub fn from_f32(values: Vec<f32>, shape: &[usize]) -> Tensor {
        if values.len() != numel(shape) {
            crate::raise!("shape '{:?}' is invalid for input of size {}", shape, values.len());
        }
        Tensor::from_buffer(Buffer::F32(values), shape)
    }

    /// Builds an int64 tensor from i64 values.
    #[track_caller]
    pub fn from_i64(values: Vec<i64>, shape: &[usize]) -> Tensor {
        if values.len() != numel(shape) {
            crate::raise!("shape '{:?}' is invalid for input of size {}", shape, values.len());
        }
        Tensor::from_buffer(Buffer::I64(values), shape)
    }

    /// Builds a bool tensor.
    #[track_caller]
    pub fn from_bools(values: Vec<bool>, shape: &[usize]) -> Tensor {
        if values.len() != numel(shape) {
            crate::raise!("shape '{:?}' is invalid for input of size {}", shape, values.len());
        }
        Tensor::from_buffer(Buffer::Bool(values), shape)
    }

    pub(crate) fn read_data(&self) -> TensorData {
        self.0.data.borrow().clone()
    }

    pub(crate) fn with_data<R>(&self, f: impl FnOnce(&TensorData) -> R) -> R {
        let guard = self.0.data.borrow();
        f(&guard)
    }

    pub(crate) fn meta(&self) -> MetaGuard<'_> {
        MetaGuard { meta: self.0.meta.borrow_mut(), tracked: &self.0.tracked, changed: false }
    }

    /// The size of each dimension (`x.shape` in PyTorch).
    pub fn shape(&self) -> Vec<usize> {
        self.with_data(|d| d.layout.shape.to_vec())
    }

    /// The shape without allocating (up to four dims inline), for the engine's hot paths.
    pub(crate) fn dims(&self) -> crate::layout::Dims {
        self.with_data(|d| crate::layout::dims_of(&d.layout.shape))
    }

    /// `x.size(dim)`; negative dims count from the end.
    pub fn size(&self, dim: isize) -> usize {
        let shape = self.dims();
        shape[crate::ops::shape::wrap_dim(dim, shape.len())]
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.with_data(|d| d.dtype)
    }

    /// Number of dimensions.
    pub fn dim(&self) -> usize {
        self.with_data(|d| d.layout.shape.len())
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.with_data(|d| d.layout.numel())
    }

    /// Whether the elements are laid out densely in row-major order.
    pub fn is_contiguous(&self) -> bool {
        self.with_data(|d| d.layout.is_contiguous())
    }

    /// Steps in memory (in elements) from one index to the next along each dim, torch's
    /// `x.stride()`. A transpose swaps them; an elementwise result keeps its input's order.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let a = arange(6.0).reshape([2, 3]);
    /// assert_eq!(a.stride(), vec![3, 1]);
    /// assert_eq!(a.t().stride(), vec![1, 3]);
    /// assert_eq!((a.t() * 2.0).stride(), vec![1, 3]);
    /// ```
    pub fn stride(&self) -> Vec<usize> {
        self.with_data(|d| d.layout.strides.to_vec())
    }

    /// Whether the storage was modified in place since the tensor was made (`x._version`).
    pub fn version(&self) -> u64 {
        self.with_data(TensorData::version)
    }

    /// A process-wide unique id of this tensor (Python's `id(x)`).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// True when both handles are the same tensor (`a is b` in Python).
    pub fn same(&self, other: &Tensor) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    /// True when both share one storage (writing through one shows in the other).
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        let a = self.with_data(|d| Rc::as_ptr(&d.storage));
        let b = other.with_data(|d| Rc::as_ptr(&d.storage));
        std::ptr::eq(a, b)
    }

    /// Whether gradients are tracked for this tensor (a view tracks them when its base does).
    #[inline]
    pub fn requires_grad(&self) -> bool {
        if self.0.tracked.get() {
            return true;
        }
        let meta = self.meta();
        if meta.requires_grad || meta.grad_fn.is_some() {
            return true;
        }
        if meta.view.is_none() {
            return false;
        }
        drop(meta);
        self.base_requires_grad()
    }

    /// For a view without history of its own: whether its base tracks gradients.
    #[inline(never)]
    fn base_requires_grad(&self) -> bool {
        let base = self.meta().view.as_ref().map(|v| v.base.clone());
        base.is_some_and(|b| b.requires_grad())
    }

    /// Sets `requires_grad` on a leaf and returns the same tensor (`x.requires_grad_(True)`).
    ///
    /// Panics like PyTorch on an integer tensor or when turning it off on a non-leaf.
    #[track_caller]
    pub fn requires_grad_(&self, requires_grad: bool) -> Tensor {
        let dtype = self.dtype();
        let mut meta = self.meta();
        if meta.grad_fn.is_some() {
            if !requires_grad {
                drop(meta);
                crate::raise!(
                    "you can only change requires_grad flags of leaf variables. If you want to use a \
                     computed variable in a subgraph that doesn't require differentiation use \
                     var_no_grad = var.detach()."
                );
            }
            return self.clone();
        }
        if requires_grad && !dtype.is_floating_point() {
            drop(meta);
            crate::raise!("only Tensors of floating point dtype can require gradients");
        }
        meta.requires_grad = requires_grad;
        drop(meta);
        self.clone()
    }

    /// True for tensors made by the user or not requiring grad; false for op results that
    /// require grad.
    #[track_caller]
    pub fn is_leaf(&self) -> bool {
        self.grad_fn().is_none()
    }

    /// The node that made this tensor (`x.grad_fn`), `None` for leaves. A view whose storage
    /// was changed in place since gets a fresh `AsStridedBackward0` first, as in PyTorch.
    ///
    /// Panics like PyTorch for a view made under `no_grad` whose storage was changed in place
    /// since (through its base or another view of it).
    #[track_caller]
    pub fn grad_fn(&self) -> Option<Node> {
        crate::autograd::views::current_grad_fn(self)
    }

    /// The accumulated gradient (`x.grad`). The returned tensor *is* the stored gradient, so
    /// `x.grad().unwrap().zero_()` clears it.
    ///
    /// Reading it on a non-leaf without `retain_grad()` returns `None` and warns once, as
    /// PyTorch does.
    pub fn grad(&self) -> Option<Tensor> {
        // torch's C++ is_leaf: the grad_fn as it is, not rebuilt (which could refuse)
        let meta = self.meta();
        let leaf = meta.grad_fn.is_none();
        if !leaf && !meta.retains_grad && meta.grad.is_none() {
            drop(meta);
            crate::autograd::warn_nonleaf_grad();
            return None;
        }
        meta.grad.clone()
    }

    /// The stored gradient without PyTorch's non-leaf warning (for pictures of the graph).
    pub(crate) fn stored_grad(&self) -> Option<Tensor> {
        self.meta().grad.clone()
    }

    /// Replaces the stored gradient (`x.grad = None` clears it).
    #[track_caller]
    pub fn set_grad(&self, grad: Option<Tensor>) {
        if let Some(g) = &grad {
            crate::ops::checks::check_assigned_grad(self, g);
        }
        self.meta().grad = grad;
    }

    /// Makes this tensor fill its `.grad` during backward even though it is not a leaf.
    #[track_caller]
    pub fn retain_grad(&self) {
        crate::autograd::hooks::retain_grad(self);
    }

    /// A tensor sharing this one's storage, cut off from the graph: no grad_fn, requires_grad
    /// false, a leaf. Writing into one changes the other.
    pub fn detach(&self) -> Tensor {
        let data = self.read_data();
        Tensor::from_parts_counted(data.storage, data.layout, data.dtype, data.own_version)
    }

    /// Detaches in place: this tensor becomes a leaf that requires no grad. A view cannot be
    /// (torch's error; `detach()` can).
    #[track_caller]
    pub fn detach_(&self) -> Tensor {
        if self.meta().view.is_some() {
            crate::raise!(
                "Can't detach views in-place. Use detach() instead. If you are using DistributedDataParallel (DDP) \
                 for training, and gradient_as_bucket_view is set as True, gradients are views of DDP buckets, and \
                 hence detach_() cannot be called on these gradients. To fix this error, please refer to the \
                 Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution."
            );
        }
        let mut meta = self.meta();
        meta.grad_fn = None;
        meta.requires_grad = false;
        meta.view = None;
        drop(meta);
        self.clone()
    }

    /// `x.data`: the values without history, sharing storage but not the version counter
    /// (unlike [`Tensor::detach`]): an in-place change through it is not seen by autograd,
    /// as in torch (`w.data -= lr * w.grad` after a backward that saved `w` still runs).
    pub fn data(&self) -> Tensor {
        let data = self.read_data();
        Tensor::from_parts_counted(data.storage, data.layout, data.dtype, Some(Rc::new(Cell::new(0))))
    }

    /// The shape and dtype this tensor had when its node (its grad_fn, or a leaf's gradient
    /// accumulator) was made, where its data changed them since (`x.data = v`); else `None`.
    pub(crate) fn made_as(&self) -> Option<(Vec<usize>, DType)> {
        self.own_node().and_then(|(node, nr)| node.made_as(nr))
    }

    /// The node this tensor's gradient goes to, as it stands (none is made): its grad_fn with
    /// its output number, or a leaf's gradient accumulator while a graph holds it.
    fn own_node(&self) -> Option<(Node, usize)> {
        let meta = self.meta();
        match &meta.grad_fn {
            Some(node) => Some((node.clone(), meta.output_nr)),
            None => meta.grad_accumulator.as_ref().and_then(Weak::upgrade).map(|inner| (Node(inner), 0)),
        }
    }

    /// `x.data = value`: this tensor now shows `value`'s storage, shape and dtype, keeping its
    /// own autograd identity (requires_grad, grad, grad_fn). The seeds' gradient-descent step
    /// `x.data = x.data - lr * x.grad` reads `x.set_data(&(x.data() - lr * x.grad().unwrap()))`.
    ///
    /// As torch: a tensor that requires grad takes floating-point data only. Where the shape
    /// or dtype changes, the graph already built still expects the old ones: its node for this
    /// tensor keeps them (gradients sent there are summed back to the old shape where they
    /// can be, refused where they cannot, and cast to the old dtype), and a leaf whose dtype
    /// changes gets a new gradient accumulator for the ops that follow.
    #[track_caller]
    pub fn set_data(&self, value: &Tensor) {
        let new = value.read_data();
        if !new.dtype.is_floating_point() && self.requires_grad() {
            crate::raise!(
                "data set to a tensor that requires gradients must be floating point or complex dtype"
            );
        }
        // (one borrow and no allocation when nothing changes: `x.data = x.data - lr * x.grad`
        // in every step of a training loop)
        let (reshaped, dtype) = {
            let old = self.0.data.borrow();
            (!crate::layout::same_shape(&old.layout.shape, &new.layout.shape), old.dtype)
        };
        if reshaped || dtype != new.dtype {
            crate::global::shared().data_changed.store(true, std::sync::atomic::Ordering::Relaxed);
            let shape = self.shape();
            let node = self.own_node();
            let mut meta = self.meta();
            if meta.grad_fn.is_none() && dtype != new.dtype {
                // torch resets the accumulator when the type changes
                meta.grad_accumulator = None;
            }
            drop(meta);
            if let Some((node, nr)) = node {
                node.keep_made_as(nr, shape, dtype);
            }
        }
        *self.0.data.borrow_mut() = new;
    }

    /// Whether `gradient_edge` would give an edge (without making an `AccumulateGrad`): what
    /// torch's `should_compute_output` asks of an op's input when deciding what to save. Not
    /// the same as `requires_grad`: a view made under no_grad of a tensor that requires grad
    /// requires grad but has no edge (`v = x[2].expand(2)` under no_grad; `a / v` then keeps
    /// no `a`, so changing `a` in place afterwards is fine, as in torch).
    /// False with grad mode off (nothing is recorded, and a stale view's history is not asked
    /// for).
    #[track_caller]
    pub(crate) fn has_gradient_edge(&self) -> bool {
        if !self.requires_grad() || !crate::autograd::grad_mode::is_grad_enabled() {
            return false;
        }
        let meta = self.meta();
        if meta.view.is_some() {
            drop(meta);
            return self.grad_fn().is_some() || self.meta().requires_grad;
        }
        meta.grad_fn.is_some() || meta.requires_grad
    }

    /// The gradient edge into the graph: the grad_fn, or the AccumulateGrad node of a leaf
    /// that requires grad, or None.
    #[track_caller]
    pub(crate) fn gradient_edge(&self) -> Option<Edge> {
        let mut meta = self.meta();
        if meta.view.is_some() {
            // a view's history may have to be rebuilt first
            drop(meta);
            if let Some(node) = self.grad_fn() {
                return Some(Edge { node, input_nr: self.meta().output_nr });
            }
            meta = self.meta();
        } else if let Some(node) = &meta.grad_fn {
            return Some(Edge { node: node.clone(), input_nr: meta.output_nr });
        }
        if !meta.requires_grad {
            return None;
        }
        if let Some(existing) = meta.grad_accumulator.as_ref().and_then(Weak::upgrade) {
            return Some(Edge { node: Node(existing), input_nr: 0 });
        }
        let node = Node::accumulate_grad(self.clone());
        meta.grad_accumulator = Some(Rc::downgrade(&node.0));
        Some(Edge { node, input_nr: 0 })
    }

    /// Row-major values as f64 (`x.flatten().tolist()`); exact for every dtype.
    pub fn to_vec_f64(&self) -> Vec<f64> {
        self.with_data(|d| match &*d.storage.read() {
            Buffer::F32(v) => gather_map(v, &d.layout, |x| x as f64),
            Buffer::F64(v) => gather_map(v, &d.layout, |x| x),
            Buffer::I64(v) => gather_map(v, &d.layout, |x| x as f64),
            Buffer::Bool(v) => gather_map(v, &d.layout, |x| x as u8 as f64),
        })
    }

    /// Row-major values as f32 (casts from other dtypes).
    pub fn to_vec_f32(&self) -> Vec<f32> {
        self.with_data(|d| match &*d.storage.read() {
            Buffer::F32(v) => gather_slice(v, &d.layout),
            Buffer::F64(v) => gather_map(v, &d.layout, |x| x as f32),
            Buffer::I64(v) => gather_map(v, &d.layout, |x| x as f64 as f32),
            Buffer::Bool(v) => gather_map(v, &d.layout, |x| x as u8 as f32),
        })
    }

    /// Row-major values as i64 (floats truncate, like `.long()`).
    pub fn to_vec_i64(&self) -> Vec<i64> {
        self.with_data(|d| match &*d.storage.read() {
            Buffer::F32(v) => gather_map(v, &d.layout, |x| crate::storage::float_to_i64(x as f64)),
            Buffer::F64(v) => gather_map(v, &d.layout, crate::storage::float_to_i64),
            Buffer::I64(v) => gather_map(v, &d.layout, |x| x),
            Buffer::Bool(v) => gather_map(v, &d.layout, i64::from),
        })
    }

    /// The one value of a one-element tensor (`x.item()`).
    #[track_caller]
    pub fn item(&self) -> f64 {
        let n = self.numel();
        if n != 1 {
            crate::raise!("a Tensor with {n} elements cannot be converted to Scalar");
        }
        self.to_vec_f64()[0]
    }

    /// A contiguous row-major copy of the elements, as a buffer of the tensor's dtype.
    pub(crate) fn contiguous_buffer(&self) -> Buffer {
        self.with_data(|d| gather(&d.storage.read(), &d.layout))
    }
}

/// Copies the elements `layout` selects from `buffer`, in row-major order.
pub(crate) fn gather(buffer: &Buffer, layout: &Layout) -> Buffer {
    match buffer {
        Buffer::F32(v) => Buffer::F32(gather_slice(v, layout)),
        Buffer::F64(v) => Buffer::F64(gather_slice(v, layout)),
        Buffer::I64(v) => Buffer::I64(gather_slice(v, layout)),
        Buffer::Bool(v) => Buffer::Bool(gather_slice(v, layout)),
    }
}

/// Row-major copy of a strided view; the innermost dimension runs as a tight loop.
pub(crate) fn gather_slice<T: Copy + Send + Sync>(v: &[T], layout: &Layout) -> Vec<T> {
    if layout.is_contiguous() && layout.numel() > 0 {
        return v[layout.span()].to_vec();
    }
    gather_map(v, layout, |x| x)
}

/// `f` of each element `layout` selects from `v`, in row-major order (a copy of a strided
/// view, converted on the way); the innermost dimension runs as a tight loop.
pub(crate) fn gather_map<T: Copy + Sync, U: Copy + Send>(
    v: &[T],
    layout: &Layout,
    f: impl Fn(T) -> U + Sync,
) -> Vec<U> {
    let n = layout.numel();
    if n == 0 {
        // an empty view may sit at any offset, even past the end of an empty storage
        return Vec::new();
    }
    if layout.is_contiguous() {
        return v[layout.span()].iter().map(|&x| f(x)).collect();
    }
    if layout.strides.iter().all(|&s| s == 0) {
        return vec![f(v[layout.offset]); n];
    }
    let rank = layout.shape.len();
    if rank >= 2 && layout.strides[rank - 2] == 1 && layout.shape[rank - 2] > 1 && layout.shape[rank - 1] > 1
    {
        return gather_transposed(v, layout, f);
    }
    let mut out = Vec::with_capacity(n);
    let (inner, inner_stride) = (layout.shape[rank - 1], layout.strides[rank - 1]);
    let outer = Layout {
        shape: layout.shape[..rank - 1].into(),
        strides: layout.strides[..rank - 1].into(),
        offset: layout.offset,
    };
    for start in outer.positions() {
        if inner_stride == 1 {
            out.extend(v[start..start + inner].iter().map(|&x| f(x)));
        } else {
            out.extend((0..inner).map(|i| f(v[start + i * inner_stride])));
        }
    }
    out
}

/// [`gather_map`] of a layout whose last two dims are transposed in memory (the one before
/// last has stride 1: `x.t()`): each such matrix copied a 32 x 32 tile at a time, so that
/// both the reads and the writes of a tile stay in the cache (row by row, every read of a
/// 1000 x 1000 float32 transpose was a cache miss), bands of 32 rows of a big matrix on
/// the threads in parallel.
fn gather_transposed<T: Copy + Sync, U: Copy + Send>(
    v: &[T],
    layout: &Layout,
    f: impl Fn(T) -> U + Sync,
) -> Vec<U> {
    const TILE: usize = 32;
    let rank = layout.shape.len();
    let (rows, cols, col_stride) = (layout.shape[rank - 2], layout.shape[rank - 1], layout.strides[rank - 1]);
    let outer = Layout {
        shape: layout.shape[..rank - 2].into(),
        strides: layout.strides[..rank - 2].into(),
        offset: layout.offset,
    };
    // rows r0.. of the matrix whose first element is at `start`, into `band` (those rows)
    let copy_band = |start: usize, r0: usize, band: &mut [std::mem::MaybeUninit<U>]| {
        let band_rows = band.len() / cols;
        for c0 in (0..cols).step_by(TILE) {
            for c in c0..(c0 + TILE).min(cols) {
                let column = &v[start + c * col_stride + r0..][..band_rows];
                for (r, &x) in column.iter().enumerate() {
                    band[r * cols + c].write(f(x));
                }
            }
        }
    };
    let n = layout.numel();
    let mut out: Vec<U> = Vec::with_capacity(n);
    let slots = &mut out.spare_capacity_mut()[..n];
    for (k, start) in outer.positions().enumerate() {
        let matrix = &mut slots[k * rows * cols..(k + 1) * rows * cols];
        if rows * cols >= 65536 {
            crate::ops::parallel::for_each_part(matrix, TILE * cols, |at, band| {
                copy_band(start, at / cols, band)
            });
        } else {
            for (b, band) in matrix.chunks_mut(TILE * cols).enumerate() {
                copy_band(start, b * TILE, band);
            }
        }
    }
    // SAFETY: the bands cover every (row, column) of every matrix: all `n` slots are written
    unsafe { out.set_len(n) };
    out
}

#[cfg(test)]
mod tests {
    use super::{gather_map, Layout};

    /// Transposed layouts (tiles, bands on threads, a batch of matrices, an offset, sizes
    /// that are not multiples of the tile) against the plain walk over their positions.
    #[test]
    fn transposed_gathers_are_the_positions_in_order() {
        let v: Vec<u32> = (0..700_000).collect();
        let cases: [(&[usize], &[usize], usize); 5] = [
            (&[3, 2], &[1, 3], 0),
            (&[33, 65], &[1, 40], 5),
            (&[300, 260], &[1, 300], 7),
            (&[2, 70, 45], &[3200, 1, 70], 1),
            (&[2, 3, 40, 33], &[4000, 1333, 1, 40], 3),
        ];
        for (shape, strides, offset) in cases {
            let layout = Layout { shape: shape.into(), strides: strides.into(), offset };
            let expected: Vec<u64> = layout.positions().map(|p| u64::from(v[p]) * 2).collect();
            assert_eq!(gather_map(&v, &layout, |x| u64::from(x) * 2), expected, "{shape:?} {strides:?}");
        }
    }
}
