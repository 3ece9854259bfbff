//! In-place ops (`add_`, `mul_`, `zero_`, `fill_`, `copy_`, and the `+=`-style operators),
//! with PyTorch's rules: no in-place change of a leaf that requires grad (or a view of one)
//! while grad mode is on; every write bumps the storage's version counter; the op becomes the
//! tensor's new grad_fn, or, on a view, part of its base's `CopySlices` (see `autograd::views`).

use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};
use std::rc::Rc;

use super::elementwise::{with_compact, IntoOperand, Operand, Scalar};
use super::index::write_buffer;
use super::kernel::Element;
use crate::autograd::grad_mode::{is_grad_enabled, no_grad};
use crate::autograd::record::record;
use crate::autograd::views::{rebase_history, view_rebase_error};
use crate::dtype::Category;
use crate::layout::{overlap, Overlap};
use crate::storage::Buffer;
use crate::tensor::Tensor;

/// Raises PyTorch's errors when an in-place change of `t` would break the graph (torch's
/// `check_inplace`, run when grad mode is on and `t` or one of the op's other inputs
/// requires grad): a view made in no_grad mode first, then a view of a leaf, then a leaf.
#[track_caller]
pub(crate) fn check_inplace_allowed(t: &Tensor, inputs_require_grad: bool) {
    if !is_grad_enabled() {
        return;
    }
    let requires_grad = t.requires_grad();
    if !requires_grad && !inputs_require_grad {
        return;
    }
    let meta = t.meta();
    let (grad_fn, output_nr, view) = (meta.grad_fn.clone(), meta.output_nr, meta.view.clone());
    // torch's C++ is_leaf (no grad_fn set, not rebuilt) with requires_grad as a view has it
    // (its base's): a view cut before its base got history is still a leaf there
    let leaf_that_requires_grad = grad_fn.is_none() && requires_grad;
    drop(meta);
    if let Some(view) = view {
        if let Some(message) = view_rebase_error(&view, grad_fn.as_ref(), output_nr, true) {
            crate::raise!("{message}");
        }
        // the base's grad_fn as it is (torch's C++ is_leaf)
        let base_is_leaf = view.base.meta().grad_fn.is_none();
        if requires_grad && base_is_leaf {
            crate::raise!(
                "a view of a leaf Variable that requires grad is being used in an in-place operation."
            );
        }
    }
    if leaf_that_requires_grad {
        crate::raise!("a leaf Variable that requires grad is being used in an in-place operation.");
    }
}

/// Whether several elements of `layout` share one memory location (torch's
/// `has_internal_overlap` answering yes: a dim of stride 0 and size above 1, an expanded
/// tensor; never for a non-overlapping and dense tensor, which any contiguous one is, a tensor
/// of no elements too: `v.expand(2, 0).clamp_(max=1.0)` runs).
pub(crate) fn has_internal_overlap(layout: &crate::layout::Layout) -> bool {
    !layout.is_contiguous()
        && layout.shape.iter().zip(&layout.strides).any(|(&size, &stride)| size > 1 && stride == 0)
}

/// torch's error for a write into a tensor whose elements share memory locations.
#[track_caller]
pub(crate) fn raise_internal_overlap() -> ! {
    crate::raise!(
        "unsupported operation: more than one element of the written-to tensor refers to a single memory \
         location. Please clone() the tensor before performing the operation."
    )
}

/// PyTorch refuses to write into a tensor where several elements share one memory location
/// (an expanded tensor).
#[track_caller]
fn check_no_internal_overlap(t: &Tensor) {
    if t.has_repeats() {
        raise_internal_overlap();
    }
}

/// torch's deprecation warning for `masked_fill_` / `index_fill_` on an expanded tensor,
/// which they still write (once per process for each, as Python shows a warning once).
pub(crate) fn warn_fill_of_expanded(op: &str) {
    static WARNED: [std::sync::atomic::AtomicBool; 2] =
        [std::sync::atomic::AtomicBool::new(false), std::sync::atomic::AtomicBool::new(false)];
    let (slot, line) = if op == "masked_fill_" { (0, 2469) } else { (1, 1929) };
    if !WARNED[slot].swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!(
            "UserWarning: Use of {op} on expanded tensors is deprecated. Please clone() the tensor before \
             performing this operation. This also applies to advanced indexing e.g. tensor[mask] = scalar \
             (Triggered internally at /__w/pytorch/pytorch/aten/src/ATen/native/TensorAdvancedIndexing.cpp:{line}.)"
        );
    }
}

/// How `input`'s elements meet those of `written` (torch's `get_overlap_status`): `No` unless
/// both live in one storage.
fn overlap_status(written: &Tensor, input: &Tensor) -> Overlap {
    if written.same(input) {
        return Overlap::Full;
    }
    let (a, a_storage) = written.with_data(|d| (d.layout.clone(), Rc::as_ptr(&d.storage)));
    let (b, b_storage) = input.with_data(|d| (d.layout.clone(), Rc::as_ptr(&d.storage)));
    if !std::ptr::eq(a_storage, b_storage) {
        return Overlap::No;
    }
    overlap(&a, &b)
}

const OVERLAP_MESSAGE: &str = "unsupported operation: some elements of the input tensor and the written-to tensor refer \
                               to a single memory location. Please clone() the tensor before performing the operation.";

/// torch's `assert_no_partial_overlap`: an elementwise in-place op may read exactly the tensor
/// it writes (`x.add_(x)`), not a part of it or the same elements in another order
/// (`x.add_(x[3])`, `x[0:2].add_(x[1:3])`, `m.add_(m.t())`).
#[track_caller]
pub(crate) fn check_no_partial_overlap(written: &Tensor, input: &Tensor) {
    if overlap_status(written, input) == Overlap::Partial {
        crate::raise!("{OVERLAP_MESSAGE}");
    }
}

/// torch's `assert_no_overlap` (`index_put_`'s values and indices): no element in common at
/// all, not even the tensor itself.
#[track_caller]
pub(crate) fn check_no_overlap(written: &Tensor, input: &Tensor) {
    if matches!(overlap_status(written, input), Overlap::Partial | Overlap::Full) {
        crate::raise!("{OVERLAP_MESSAGE}");
    }
}

impl Tensor {
    /// The input an in-place op computes from, while grad mode is on: this tensor's values
    /// (copied, since the op overwrites them) with this tensor's place in the graph. What the
    /// op's backward saves of its input is then the value *before* the change, as PyTorch's
    /// in-place formulas have it, and no false version error can come from it. The copy has
    /// this tensor's strides where it can (the part of the storage the tensor spans, copied):
    /// torch's kernel runs over the tensor itself, and which elements it takes a vector at a
    /// time follows its layout (`vector_lanes`: `x.t().pow_(1.5)`, `x[:, 1:].sigmoid_()`).
    /// Where the tensor is spread thin over its storage, a copy laid out as torch's `clone()`.
    #[track_caller]
    fn inplace_input(&self) -> Tensor {
        let copy = self
            .strided_copy()
            .unwrap_or_else(|| super::out_layout::like_torch_of(self.contiguous_values(), &[self]));
        let edge = self.gradient_edge();
        let requires_grad = self.requires_grad();
        let mut meta = copy.meta();
        match edge {
            Some(edge) if !edge.node.is_accumulate_grad() => {
                meta.grad_fn = Some(edge.node);
                meta.output_nr = edge.input_nr;
            }
            _ => meta.requires_grad = requires_grad && self.dtype().is_floating_point(),
        }
        drop(meta);
        copy
    }

    /// This tensor's values in a storage of their own with the same strides: the storage
    /// range it spans, copied (None where that is over twice its elements, or it has none).
    fn strided_copy(&self) -> Option<Tensor> {
        self.with_data(|d| {
            let layout = &d.layout;
            let (n, extent) = (layout.numel(), layout.extent());
            if n == 0 || extent > 2 * n + 64 {
                return None;
            }
            let buffer = d.storage.read().copy_range(layout.offset..layout.offset + extent);
            Some(Tensor::from_parts(
                std::rc::Rc::new(crate::storage::Storage::new(buffer)),
                layout.restarted(),
                d.dtype,
            ))
        })
    }

    /// Runs an out-of-place op on this tensor's values and writes the result into this
    /// tensor's storage; the op's node becomes this tensor's history (through `CopySlices`
    /// for a view).
    #[track_caller]
    pub(crate) fn apply_inplace(&self, op: impl FnOnce(&Tensor) -> Tensor) -> Tensor {
        self.check_inplace_write(&[], &[]);
        self.write_inplace(op)
    }

    /// [`Tensor::apply_inplace`] for an op that also reads `inputs` (`other` of `x.add_(other)`):
    /// as torch's TensorIterator, none of them may partly overlap this tensor. Where one shares
    /// memory with it in a way torch does not check (a strided view, `v.sub_(v[0])` for a
    /// column `v`), torch's element loop reads that input as it writes: the values are then
    /// computed element by element in its order (see [`Tensor::values_read_as_written`]).
    #[track_caller]
    pub(crate) fn apply_inplace_reading(&self, inputs: &[&Tensor], op: impl Fn(&Tensor) -> Tensor) -> Tensor {
        self.check_inplace_write(inputs, inputs);
        let as_written = self.values_read_as_written(inputs, &op);
        let written = self.write_inplace(&op);
        if let Some(values) = as_written {
            self.with_data(|d| write_buffer(&mut d.storage.write(), &d.layout, &values));
        }
        written
    }

    /// The values `op` writes into this tensor when torch's loop computes them one element
    /// after another, in memory order, each from the memory as the elements before left it:
    /// what torch's scalar loop does when an input shares memory with the written tensor and
    /// its overlap check cannot tell (a strided view; `Overlap::TooHard`). None where no
    /// input does, or where torch's loop would go a vector at a time (a contiguous run as
    /// long as a block) or the tensor is large (a thousand elements). The memory is left as
    /// it was.
    fn values_read_as_written(&self, inputs: &[&Tensor], op: &impl Fn(&Tensor) -> Tensor) -> Option<Buffer> {
        // (cheap checks first: every in-place op with an input comes through here)
        let unsure: Vec<&&Tensor> =
            inputs.iter().filter(|i| overlap_status(self, i) == Overlap::TooHard).collect();
        if unsure.is_empty() || self.numel() > 1024 {
            return None;
        }
        let offsets = |t: &Tensor| t.with_data(|d| d.layout.positions().collect::<Vec<usize>>());
        let mine = offsets(self);
        let shares = |input: &&&Tensor| {
            let theirs: std::collections::HashSet<usize> = offsets(input).into_iter().collect();
            mine.iter().any(|o| theirs.contains(o))
        };
        if !unsure.iter().any(shares) {
            return None;
        }
        let block = super::vector_lanes::block(self.dtype() == crate::dtype::DType::Float64);
        let inner_run = self.with_data(|d| {
            let l = &d.layout;
            (0..l.shape.len()).rev().find(|&k| l.shape[k] > 1).map_or(1, |k| {
                if l.strides[k] == 1 {
                    l.shape[k]
                } else {
                    1
                }
            })
        });
        if inner_run >= block {
            return None;
        }
        let live = self.detach();
        // (a result of another dtype or shape is refused by `write_inplace`, with torch's words)
        let probe = no_grad(|| op(&live));
        if probe.dtype() != self.dtype() || !crate::layout::same_shape(&probe.shape(), &self.shape()) {
            return None;
        }
        let original = self.with_data(|d| d.storage.read().clone());
        let mut order: Vec<usize> = (0..mine.len()).collect();
        order.sort_by_key(|&i| mine[i]);
        for i in order {
            let value = no_grad(|| op(&live)).with_data(|d| {
                let at = d.layout.positions().nth(i).expect("the result has this tensor's shape");
                d.storage.read().copy_range(at..at + 1)
            });
            // the one element, written where it lives
            let element = crate::layout::Layout {
                shape: Default::default(),
                strides: Default::default(),
                offset: mine[i],
            };
            self.with_data(|d| write_buffer(&mut d.storage.write(), &element, &value));
        }
        let values = self.contiguous_buffer();
        self.with_data(|d| *d.storage.write() = original);
        Some(values)
    }

    /// The checks before an in-place write, in torch's order: the autograd rules (`inputs`:
    /// the op's other tensor arguments, whose requires_grad counts), then the written
    /// tensor's own overlap, then its overlap with each of `reads`.
    #[track_caller]
    pub(crate) fn check_inplace_write(&self, inputs: &[&Tensor], reads: &[&Tensor]) {
        self.check_inplace_write_allowing_repeats(inputs, reads, false)
    }

    /// [`Tensor::check_inplace_write`] for the writes torch makes even where elements share a
    /// memory location (`repeats_allowed`: fills, and a copy of the very same data), and
    /// whose backward refuses instead (`CopySlices`, see `autograd::views`).
    #[track_caller]
    pub(crate) fn check_inplace_write_allowing_repeats(
        &self,
        inputs: &[&Tensor],
        reads: &[&Tensor],
        repeats_allowed: bool,
    ) {
        check_inplace_allowed(self, inputs.iter().any(|t| t.requires_grad()));
        self.check_not_zero_tensor();
        if !repeats_allowed {
            check_no_internal_overlap(self);
        }
        for input in reads {
            check_no_partial_overlap(self, input);
        }
    }

    /// Whether several of this tensor's elements share one memory location (an expanded
    /// tensor).
    pub(crate) fn has_repeats(&self) -> bool {
        self.with_data(|d| has_internal_overlap(&d.layout))
    }

    /// Sets the elements (row-major) flagged in `selected` to `value` again, after a write
    /// of the whole result into a tensor with repeated positions: a position shared by a
    /// filled element and one left alone is filled, as torch's fill kernels (which write only
    /// the filled elements) leave it.
    pub(crate) fn refill_selected(&self, selected: &[bool], value: f64) {
        self.with_data(|d| {
            crate::ops::index::fill_buffer_where(&mut d.storage.write(), &d.layout, Some(selected), value)
        });
    }

    /// torch's efficient zero tensors (the gradient `sgn` gives, e.g. `x.grad` after a
    /// second derivative of `abs`) cannot be written in place.
    #[track_caller]
    pub(crate) fn check_not_zero_tensor(&self) {
        if self.with_data(|d| d.storage.is_zero_tensor()) {
            crate::raise!("ZeroTensors are immutable. Please use the materialized zero tensor obtained using .clone() if you want a mutable tensor.");
        }
    }

    /// Whether this is torch's efficient zero tensor (see `check_not_zero_tensor`; a view of one
    /// is one too).
    pub(crate) fn is_zero_tensor(&self) -> bool {
        self.with_data(|d| d.storage.is_zero_tensor())
    }

    /// Marks a fresh zeros tensor as torch's efficient zero tensor (see `check_not_zero_tensor`).
    pub(crate) fn into_zero_tensor(self) -> Tensor {
        self.with_data(|d| d.storage.mark_zero_tensor());
        self
    }

    /// The write of [`Tensor::apply_inplace`], once [`Tensor::check_inplace_write`] passed.
    #[track_caller]
    pub(crate) fn write_inplace(&self, op: impl FnOnce(&Tensor) -> Tensor) -> Tensor {
        let recording = is_grad_enabled();
        let input = if recording { self.inplace_input() } else { self.clone() };
        let result = op(&input);
        let (mine, theirs) = (self.dtype(), result.dtype());
        if theirs.category() > mine.category()
            || (mine.category() != Category::Float && theirs.category() == Category::Float)
        {
            crate::raise!(
                "result type {} can't be cast to the desired output type {}",
                theirs.title(),
                mine.title()
            );
        }
        if !crate::layout::same_shape(&result.shape(), &self.shape()) {
            crate::raise!(
                "output with shape {} doesn't match the broadcast shape {}",
                crate::layout::shape_list(&self.shape()),
                crate::layout::shape_list(&result.shape())
            );
        }
        self.store(&result.contiguous_buffer());
        let node = if recording { result.meta().grad_fn.clone() } else { None };
        if let Some(node) = node {
            // after the rebase, as torch saves an in-place op's result: for a view, what is
            // saved keeps the view's new grad_fn
            let holder = rebase_history(self, node);
            if let Some(function) = holder.state().function.as_mut() {
                function.rebind_output(self);
            };
        }
        self.clone()
    }

    /// Writes row-major `values` into this tensor's elements, one version later.
    fn store(&self, values: &Buffer) {
        self.with_data(|d| {
            write_buffer(&mut d.storage.write(), &d.layout, values);
            d.bump_version();
        });
    }

    /// `x.add_(other)`: in-place addition.
    #[track_caller]
    pub fn add_<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        self.add_in_place(other.into_operand())
    }

    #[track_caller]
    fn add_in_place(&self, other: Operand<'_>) -> Tensor {
        let reads: Vec<&Tensor> = other.tensor().into_iter().collect();
        self.apply_inplace_reading(&reads, |t| t.add(other))
    }

    /// `x.sub_(other)`: in-place subtraction.
    #[track_caller]
    pub fn sub_<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        self.sub_in_place(other.into_operand())
    }

    #[track_caller]
    fn sub_in_place(&self, other: Operand<'_>) -> Tensor {
        super::checks::check_sub_operands(self.dtype() == crate::dtype::DType::Bool, other.is_bool());
        let reads: Vec<&Tensor> = other.tensor().into_iter().collect();
        self.apply_inplace_reading(&reads, |t| t.sub(other))
    }

    /// `x.mul_(other)`: in-place multiplication.
    #[track_caller]
    pub fn mul_<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        self.mul_in_place(other.into_operand())
    }

    #[track_caller]
    fn mul_in_place(&self, other: Operand<'_>) -> Tensor {
        let reads: Vec<&Tensor> = other.tensor().into_iter().collect();
        self.apply_inplace_reading(&reads, |t| t.mul(other))
    }

    /// `x.div_(other)`: in-place division.
    #[track_caller]
    pub fn div_<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        self.div_in_place(other.into_operand())
    }

    #[track_caller]
    fn div_in_place(&self, other: Operand<'_>) -> Tensor {
        let reads: Vec<&Tensor> = other.tensor().into_iter().collect();
        self.apply_inplace_reading(&reads, |t| t.div(other))
    }

    /// `x.pow_(e)`: in-place power.
    #[track_caller]
    pub fn pow_<'a>(&self, exponent: impl IntoOperand<'a>) -> Tensor {
        self.pow_in_place(exponent.into_operand())
    }

    #[track_caller]
    fn pow_in_place(&self, exponent: Operand<'_>) -> Tensor {
        let reads: Vec<&Tensor> = exponent.tensor().into_iter().collect();
        self.apply_inplace_reading(&reads, |t| t.pow(exponent))
    }

    /// `x.exp_()`: in-place `exp`.
    #[track_caller]
    pub fn exp_(&self) -> Tensor {
        self.apply_inplace(Tensor::exp)
    }

    /// `x.log_()`: in-place `log`.
    #[track_caller]
    pub fn log_(&self) -> Tensor {
        self.apply_inplace(Tensor::log)
    }

    /// `x.sin_()`: in-place `sin`.
    #[track_caller]
    pub fn sin_(&self) -> Tensor {
        self.apply_inplace(Tensor::sin)
    }

    /// `x.cos_()`: in-place `cos`.
    #[track_caller]
    pub fn cos_(&self) -> Tensor {
        self.apply_inplace(Tensor::cos)
    }

    /// `x.tanh_()`: in-place `tanh`.
    #[track_caller]
    pub fn tanh_(&self) -> Tensor {
        self.apply_inplace(Tensor::tanh)
    }

    /// `x.sigmoid_()`: in-place `sigmoid`.
    #[track_caller]
    pub fn sigmoid_(&self) -> Tensor {
        self.apply_inplace(Tensor::sigmoid)
    }

    /// `x.sqrt_()`: in-place `sqrt`.
    #[track_caller]
    pub fn sqrt_(&self) -> Tensor {
        self.apply_inplace(Tensor::sqrt)
    }

    /// `x.relu_()`: in-place `relu`.
    #[track_caller]
    pub fn relu_(&self) -> Tensor {
        self.apply_inplace(Tensor::relu)
    }

    /// `x.abs_()`: in-place `abs`.
    #[track_caller]
    pub fn abs_(&self) -> Tensor {
        self.apply_inplace(Tensor::abs)
    }

    /// `x.neg_()`: in-place negation.
    #[track_caller]
    pub fn neg_(&self) -> Tensor {
        self.apply_inplace(Tensor::neg_impl)
    }

    /// `x.clamp_(min, max)`: in-place `clamp`.
    #[track_caller]
    pub fn clamp_(&self, min: Option<f64>, max: Option<f64>) -> Tensor {
        self.check_clamp_in_place(min, max);
        self.apply_inplace(|t| t.clamp(min, max))
    }

    /// `x.masked_fill_(mask, value)`: in-place `masked_fill`.
    #[track_caller]
    pub fn masked_fill_(&self, mask: &Tensor, value: f64) -> Tensor {
        // torch writes an expanded tensor here, with a warning
        let repeats = self.has_repeats();
        if repeats {
            warn_fill_of_expanded("masked_fill_");
        }
        self.check_inplace_write_allowing_repeats(&[mask], &[mask], true);
        let out = self.write_inplace(|t| t.masked_fill(mask, value));
        if repeats {
            let shape: Vec<isize> = self.shape().iter().map(|&d| d as isize).collect();
            let selected: Vec<bool> =
                no_grad(|| mask.expand(shape)).to_vec_f64().into_iter().map(|m| m != 0.0).collect();
            self.refill_selected(&selected, value);
        }
        out
    }

    /// `x.zero_()`: sets every element to 0, in place (`ZeroBackward0` on a tensor with
    /// history). On the tensor `x.grad()` returns, this clears the stored gradient.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = arange(4.0).requires_grad_(true);
    /// (&x * 2.0).sum().backward();
    /// assert_eq!(x.grad().unwrap().zero_().to_string(), "tensor([0., 0., 0., 0.])");
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([0., 0., 0., 0.])");
    /// ```
    #[track_caller]
    pub fn zero_(&self) -> Tensor {
        self.fill_named(0.0, "ZeroBackward0")
    }

    /// `x.fill_(value)`: sets every element to `value`, in place (`FillBackward2` on a tensor
    /// with history: no gradient flows to the old values).
    #[track_caller]
    pub fn fill_(&self, value: impl Into<Scalar>) -> Tensor {
        self.fill_named(value.into().as_f64(), "FillBackward2")
    }

    /// `x.fill_(value)` with a 0-dim tensor `value` (`FillBackward3`: the value gets the sum
    /// of the gradient).
    #[track_caller]
    pub fn fill_tensor_(&self, value: &Tensor) -> Tensor {
        if value.dim() != 0 {
            crate::raise!(
                "fill_ only supports 0-dimension value tensor but got tensor with {} dimensions.",
                value.dim()
            );
        }
        let value_dtype = value.dtype();
        self.check_inplace_write(&[value], &[]);
        self.write_inplace(|t| {
            let filled = crate::factory::full_with(
                &t.shape(),
                value.item(),
                crate::factory::TensorOptions::default().dtype(t.dtype()),
            );
            // d fill(x, v) = 0 for x, sum(grad) for v
            record(
                filled,
                "FillBackward3",
                &[Some(t), Some(value)],
                &[],
                |_| vec![],
                move |_, g, needs| {
                    vec![
                        needs[0].then(|| crate::factory::zeros_like(g)),
                        needs[1].then(|| super::elementwise::reduce_grad(g.sum(), &[], value_dtype)),
                    ]
                },
            )
        })
    }

    #[track_caller]
    fn fill_named(&self, value: f64, name: &'static str) -> Tensor {
        // unlike the other in-place ops, torch's fill_ writes a tensor whose elements share
        // positions (`zeros(1, 3).expand(2, 3).fill_(2.)`, `a[:, 0] = 5.` on it) without
        // complaint: every element gets the one value; with history, the backward through its
        // `CopySlices` refuses instead
        self.check_inplace_write_allowing_repeats(&[], &[], true);
        if !is_grad_enabled() || !self.requires_grad() {
            // nothing to record (`x.grad.zero_()` in every training step): write the value
            // without first copying the old values as the history of the op's input
            self.with_data(|d| {
                crate::ops::index::fill_buffer(&mut d.storage.write(), &d.layout, value);
                d.bump_version();
            });
            return self.clone();
        }
        self.write_inplace(|t| {
            let filled = crate::factory::full_with(
                &t.shape(),
                value,
                crate::factory::TensorOptions::default().dtype(t.dtype()),
            );
            // d fill(x) = 0
            record(
                filled,
                name,
                &[Some(t)],
                &[],
                |_| vec![],
                |_, g, _| vec![Some(crate::factory::zeros_like(g))],
            )
        })
    }

    /// `x.copy_(src)`: copies `src`'s values (broadcast, converted to this tensor's dtype) into
    /// this tensor, in place (`CopyBackwards`: the gradient goes to `src`, none to the old values).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([1., 2.], requires_grad = true);
    /// let y = &x * 2.0;
    /// y.copy_(&tensor!([5., 6.]));
    /// assert_eq!(y.to_string(), "tensor([5., 6.], grad_fn=<CopyBackwards>)");
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_string(), "tensor([0., 0.])");
    /// ```
    #[track_caller]
    pub fn copy_(&self, src: &Tensor) -> Tensor {
        self.copy_reading(src, Some(src))
    }

    /// `copy_` where torch's overlap check sees `reads` in place of `src` (Python's
    /// `x[i] = v` copies from `v` expanded to the region, or fills from a 0-dim `v`: `None`).
    /// The checks run in torch's order: the in-place rules, overlap, then the shapes.
    #[track_caller]
    pub(crate) fn copy_reading(&self, src: &Tensor, reads: Option<&Tensor>) -> Tensor {
        let shape = self.shape();
        let src_shape = src.shape();
        // torch's copy_ returns at once when `src` is this very data, with the same sizes,
        // strides and offset, even where its elements repeat (Python's `e[:3] = a` on
        // `e = a.expand(2, 3)`: setitem hands copy_ `a` expanded to the region); a `src` that
        // only broadcasts onto it is copied, and an expanded `self` refused
        // (`v.expand(3).copy_(v[0:1])`)
        let same_data =
            self.shares_storage(src) && self.dtype() == src.dtype() && src.layout() == self.layout();
        self.check_inplace_write_allowing_repeats(&[src], &reads.into_iter().collect::<Vec<_>>(), same_data);
        super::checks::check_inplace_shapes(&shape, &src_shape);
        self.write_inplace(|t| {
            let dtype = t.dtype();
            let values = crate::autograd::grad_mode::no_grad(|| {
                src.expand(&shape).to_dtype(dtype).contiguous_values()
            });
            let src_dtype = src.dtype();
            // d copy_(self, src) = 0 for the old values, grad for src: torch's CopyBackwards
            // casts it to src's dtype first, and the engine then sums it to src's shape (in that
            // dtype: a float32 gradient for a float64 src is summed in float64)
            record(
                values,
                "torch::autograd::CopyBackwards",
                &[Some(t), Some(src)],
                &[],
                |_| vec![],
                move |_, g, needs| {
                    vec![
                        needs[0].then(|| crate::factory::zeros_like(g)),
                        needs[1].then(|| {
                            let cast = if g.dtype() == src_dtype { g.clone() } else { g.to_dtype(src_dtype) };
                            super::elementwise::reduce_grad(cast, &src_shape, src_dtype)
                        }),
                    ]
                },
            )
        })
    }

    /// Adds `other` into this tensor's storage without any autograd checks (the engine's
    /// gradient accumulation): one pass, no temporary when both are contiguous and alike.
    pub(crate) fn add_raw_(&self, other: &Tensor) {
        use crate::storage::Buffer;
        let other = if other.shares_storage(self) { other.contiguous_values() } else { other.clone() };
        let (other_shape, other_dtype) =
            other.with_data(|o| (crate::layout::dims_of(&o.layout.shape), o.dtype));
        let done = self.with_data(|d| {
            if !d.layout.is_contiguous()
                || !crate::layout::same_shape(&other_shape, &d.layout.shape)
                || other_dtype != d.dtype
            {
                return false;
            }
            let range = d.layout.span();
            let mut buffer = d.storage.write();
            match &mut *buffer {
                Buffer::F32(v) => add_operand_into(&mut v[range], &other),
                Buffer::F64(v) => add_operand_into(&mut v[range], &other),
                _ => return false,
            }
            true
        });
        if !done {
            no_grad(|| {
                let sum = self.add(&other);
                let values = sum.contiguous_buffer();
                self.with_data(|d| write_buffer(&mut d.storage.write(), &d.layout, &values));
            });
        }
    }
}

/// `dst += other` for an `other` of `dst`'s shape. An expanded `other` comes un-expanded
/// (`with_compact`): one value broadcast over the whole shape (`x.sum().backward()`'s
/// gradient) is added as that value, not gathered into a full tensor first.
fn add_operand_into<T: Element + AddAssign>(dst: &mut [T], other: &Tensor) {
    let done = with_compact(&Operand::Tensor(other), |o: &[T], _| {
        if o.len() == 1 {
            add_value_into(dst, o[0]);
        } else if o.len() == dst.len() {
            add_into(dst, o);
        } else {
            return false; // expanded along some dims only: its row-major elements below
        }
        true
    });
    if !done {
        super::kernel::with_slice(other, |o: &[T]| add_into(dst, o));
    }
}

fn add_value_into<T: Copy + Send + Sync + std::ops::AddAssign>(dst: &mut [T], value: T) {
    if dst.len() >= super::kernel::PARALLEL_MIN {
        super::parallel::for_each_part(dst, super::kernel::PARALLEL_CHUNK, |_, part| {
            part.iter_mut().for_each(|d| *d += value)
        });
    } else {
        dst.iter_mut().for_each(|d| *d += value);
    }
}

fn add_into<T: Copy + Send + Sync + std::ops::AddAssign>(dst: &mut [T], src: &[T]) {
    if dst.len() >= super::kernel::PARALLEL_MIN {
        super::parallel::for_each_part(dst, super::kernel::PARALLEL_CHUNK, |start, part| {
            let src = &src[start..start + part.len()];
            part.iter_mut().zip(src).for_each(|(d, &s)| *d += s)
        });
    } else {
        dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
    }
}

macro_rules! assign_operator {
    ($trait:ident, $method:ident, $inplace:ident) => {
        impl $trait<&Tensor> for Tensor {
            #[track_caller]
            fn $method(&mut self, rhs: &Tensor) {
                self.$inplace(rhs);
            }
        }
        impl $trait<Tensor> for Tensor {
            #[track_caller]
            fn $method(&mut self, rhs: Tensor) {
                self.$inplace(&rhs);
            }
        }
        impl $trait<f64> for Tensor {
            #[track_caller]
            fn $method(&mut self, rhs: f64) {
                self.$inplace(rhs);
            }
        }
        impl $trait<i32> for Tensor {
            #[track_caller]
            fn $method(&mut self, rhs: i32) {
                self.$inplace(rhs);
            }
        }
    };
}

assign_operator!(AddAssign, add_assign, add_);
assign_operator!(SubAssign, sub_assign, sub_);
assign_operator!(MulAssign, mul_assign, mul_);
assign_operator!(DivAssign, div_assign, div_);
