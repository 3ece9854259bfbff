//! Shape ops: views (`reshape`/`view`, `t`, `transpose`, `permute`, `unsqueeze`, `squeeze`,
//! `expand`), copies (`deep_clone`, `contiguous`, dtype conversion) and joins (`cat`, `stack`).

use std::mem::MaybeUninit;
use std::rc::Rc;

use super::reduce::Dims;
use crate::autograd::record::record;
use crate::autograd::views::ViewCreation;
use crate::dtype::DType;
use crate::layout::{contiguous_strides, numel, same_shape, Layout};
use crate::storage::Buffer;
use crate::tensor::{Tensor, ViewInfo};

/// A dim index that may be negative (`-1` is the last), checked like torch.
#[track_caller]
pub(crate) fn wrap_dim(dim: isize, rank: usize) -> usize {
    let rank_i = rank.max(1) as isize;
    if dim < -rank_i || dim >= rank_i {
        crate::raise!(
            IndexError,
            "Dimension out of range (expected to be in range of [{}, {}], but got {})",
            -rank_i,
            rank_i - 1,
            dim
        );
    }
    if dim < 0 {
        (dim + rank_i) as usize
    } else {
        dim as usize
    }
}

/// Resolves a requested shape with at most one `-1`.
#[track_caller]
fn infer_shape(requested: &[isize], total: usize) -> Vec<usize> {
    let known: usize = requested.iter().filter(|&&d| d >= 0).map(|&d| d as usize).product();
    let unknown = requested.iter().filter(|&&d| d == -1).count();
    let shape_text =
        || format!("[{}]", requested.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "));
    if unknown > 1 {
        crate::raise!("only one dimension can be inferred");
    }
    if let Some(at) = requested.iter().position(|&d| d < -1) {
        crate::raise!("invalid shape dimension {} at index {at} of shape {}", requested[at], shape_text());
    }
    if unknown == 1 && known == 0 && total == 0 {
        crate::raise!(
            "cannot reshape tensor of 0 elements into shape {} because the unspecified dimension size -1 can be any value and is ambiguous",
            shape_text()
        );
    }
    let shape: Vec<usize> = requested
        .iter()
        .map(|&d| if d == -1 { total.checked_div(known).unwrap_or(0) } else { d as usize })
        .collect();
    if numel(&shape) != total || (unknown == 1 && known != 0 && !total.is_multiple_of(known)) {
        crate::raise!("shape '{}' is invalid for input of size {}", shape_text(), total);
    }
    shape
}

impl Tensor {
    /// A new tensor sharing this one's storage with another layout (a view).
    pub(crate) fn view_with_layout(&self, layout: Layout) -> Tensor {
        let data = self.read_data();
        let version = data.version();
        let view = Tensor::from_parts_counted(data.storage, layout, data.dtype, data.own_version);
        // a view of a view hangs off the same base
        let parent = self.meta().view.as_ref().map(|v| (v.base.clone(), v.creation));
        let (base, creation) = parent.unwrap_or_else(|| (self.clone(), ViewCreation::GradMode));
        view.meta().view = Some(ViewInfo::new(base, version, creation));
        view
    }

    pub(crate) fn layout(&self) -> Layout {
        self.with_data(|d| d.layout.clone())
    }

    /// `x.reshape(shape)`; one dim may be `-1`. As torch: a contiguous tensor gives a view
    /// (`ViewBackward0`); a strided one that can still be viewed gives a view
    /// (`ReshapeAliasBackward0`); otherwise a contiguous copy reshaped
    /// (`UnsafeViewBackward0` over `CloneBackward0`, not a view).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([1., 2., 3.], requires_grad = true);
    /// assert_eq!(x.reshape([3, 1]).grad_fn().unwrap().name(), "ViewBackward0");
    /// assert_eq!(x.expand([2, 3]).reshape([2, 1, 3]).grad_fn().unwrap().name(), "ReshapeAliasBackward0");
    /// assert_eq!(x.expand([2, 3]).reshape([6]).grad_fn().unwrap().name(), "UnsafeViewBackward0");
    /// ```
    #[track_caller]
    pub fn reshape(&self, shape: impl Dims) -> Tensor {
        self.reshape_dims(shape.dims())
    }

    #[track_caller]
    fn reshape_dims(&self, shape: Vec<isize>) -> Tensor {
        let input_shape = self.shape();
        let new_shape = infer_shape(&shape, numel(&input_shape));
        if self.is_contiguous() {
            return self.view_as_shape(new_shape, "ViewBackward0");
        }
        let layout = self.layout();
        if let Some(strides) = compute_stride(&layout.shape, &layout.strides, &new_shape) {
            let view = Layout { shape: new_shape.into(), strides: strides.into(), offset: layout.offset };
            let out = self.view_with_layout(view);
            // d reshape(x) = the gradient reshaped back
            return record(
                out,
                "ReshapeAliasBackward0",
                &[Some(self)],
                &[],
                |_| vec![],
                move |_, g, _| vec![Some(g.reshape(&input_shape))],
            );
        }
        // torch: _unsafe_view(self.clone(memory_format=contiguous), shape)
        self.record_copy(self.contiguous_values()).unsafe_view(&new_shape)
    }

    /// A contiguous tensor's view with a new shape, recorded as `name`.
    fn view_as_shape(&self, new_shape: Vec<usize>, name: &'static str) -> Tensor {
        let input_shape = self.shape();
        let layout = Layout {
            strides: contiguous_strides(&new_shape),
            shape: new_shape.into(),
            offset: self.layout().offset,
        };
        let out = self.view_with_layout(layout);
        // d view(x) = the gradient reshaped back
        record(out, name, &[Some(self)], &[], |_| vec![], move |_, g, _| vec![Some(g.reshape(&input_shape))])
    }

    /// torch's `_unsafe_view` of a contiguous tensor nobody else sees: the same storage with
    /// another shape, *not* a view (`UnsafeViewBackward0`).
    pub(crate) fn unsafe_view(&self, shape: &[usize]) -> Tensor {
        let input_shape = self.shape();
        let data = self.read_data();
        debug_assert!(data.layout.is_contiguous());
        let layout =
            Layout { shape: shape.into(), strides: contiguous_strides(shape), offset: data.layout.offset };
        let out = Tensor::from_parts_counted(data.storage, layout, data.dtype, data.own_version);
        // d _unsafe_view(x) = the gradient reshaped back
        record(
            out,
            "UnsafeViewBackward0",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| vec![Some(g.reshape(&input_shape))],
        )
    }

    /// `x.view(shape)`: like [`Tensor::reshape`] but never copies (`ViewBackward0`); panics
    /// like torch when the strides do not allow it.
    #[track_caller]
    pub fn view(&self, shape: impl Dims) -> Tensor {
        self.view_dims(shape.dims())
    }

    #[track_caller]
    fn view_dims(&self, shape: Vec<isize>) -> Tensor {
        crate::autograd::views::collect_edge_first(self);
        if self.is_contiguous() {
            return self.reshape(shape);
        }
        let input_shape = self.shape();
        let new_shape = infer_shape(&shape, numel(&input_shape));
        let layout = self.layout();
        let Some(strides) = compute_stride(&layout.shape, &layout.strides, &new_shape) else {
            crate::raise!(
                "view size is not compatible with input tensor's size and stride (at least one dimension spans \
                 across two contiguous subspaces). Use .reshape(...) instead."
            );
        };
        let out = self.view_with_layout(Layout {
            shape: new_shape.into(),
            strides: strides.into(),
            offset: layout.offset,
        });
        // d view(x) = the gradient reshaped back
        record(
            out,
            "ViewBackward0",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| vec![Some(g.reshape(&input_shape))],
        )
    }

    /// All elements in one dimension.
    #[track_caller]
    pub fn flatten(&self) -> Tensor {
        if self.dim() == 1 {
            return self.clone();
        }
        self.reshape([-1])
    }

    /// Transpose of a matrix (`x.t()`, `TBackward0`); 0-D and 1-D tensors come back as they are.
    #[track_caller]
    pub fn t(&self) -> Tensor {
        let rank = self.dim();
        if rank > 2 {
            crate::raise!("t() expects a tensor with <= 2 dimensions, but self is {rank}D");
        }
        let layout = self.layout();
        let layout = if rank == 2 {
            Layout {
                shape: smallvec::smallvec![layout.shape[1], layout.shape[0]],
                strides: smallvec::smallvec![layout.strides[1], layout.strides[0]],
                offset: layout.offset,
            }
        } else {
            layout
        };
        let out = self.view_with_layout(layout);
        // d t(x) = t(grad)
        record(out, "TBackward0", &[Some(self)], &[], |_| vec![], |_, g, _| vec![Some(g.t())])
    }

    /// All dims reversed (Python's `x.T`, `PermuteBackward0`).
    #[allow(non_snake_case)]
    #[track_caller]
    pub fn T(&self) -> Tensor {
        let dims: Vec<isize> = (0..self.dim() as isize).rev().collect();
        self.permute(dims)
    }

    /// Swaps two dims (`TransposeBackward0`).
    #[track_caller]
    pub fn transpose(&self, dim0: isize, dim1: isize) -> Tensor {
        let rank = self.dim();
        let (a, b) = (wrap_dim(dim0, rank), wrap_dim(dim1, rank));
        let mut layout = self.layout();
        if rank > 0 {
            layout.shape.swap(a, b);
            layout.strides.swap(a, b);
        }
        let out = self.view_with_layout(layout);
        // d transpose(x) = transpose(grad)
        record(
            out,
            "TransposeBackward0",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| vec![Some(g.transpose(a as isize, b as isize))],
        )
    }

    /// Reorders dims (`PermuteBackward0`).
    #[track_caller]
    pub fn permute(&self, dims: impl Dims) -> Tensor {
        self.permute_dims(dims.dims())
    }

    #[track_caller]
    fn permute_dims(&self, requested: Vec<isize>) -> Tensor {
        let rank = self.dim();
        if requested.len() != rank {
            crate::raise!("permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = {} is not equal to len(dims) = {}", rank, requested.len());
        }
        let mut dims: Vec<usize> = Vec::with_capacity(rank);
        for &d in &requested {
            let d = wrap_dim(d, rank);
            if dims.contains(&d) {
                crate::raise!("permute(): duplicate dims are not allowed.");
            }
            dims.push(d);
        }
        let layout = self.layout();
        let new = Layout {
            shape: dims.iter().map(|&d| layout.shape[d]).collect(),
            strides: dims.iter().map(|&d| layout.strides[d]).collect(),
            offset: layout.offset,
        };
        let out = self.view_with_layout(new);
        let mut inverse = vec![0isize; rank];
        for (i, &d) in dims.iter().enumerate() {
            inverse[d] = i as isize;
        }
        // d permute(x) = grad permuted back
        record(
            out,
            "PermuteBackward0",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| vec![Some(g.permute(&inverse))],
        )
    }

    /// Inserts a dim of size 1 (`UnsqueezeBackward0`).
    #[track_caller]
    pub fn unsqueeze(&self, dim: isize) -> Tensor {
        let rank = self.dim();
        let d = wrap_dim(dim, rank + 1);
        let mut layout = self.layout();
        let stride = if d < rank { layout.strides[d] * layout.shape[d] } else { 1 };
        layout.shape.insert(d, 1);
        layout.strides.insert(d, stride);
        let out = self.view_with_layout(layout);
        // d unsqueeze(x) = grad with the dim removed
        record(
            out,
            "UnsqueezeBackward0",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| vec![Some(g.squeeze_dim(d as isize))],
        )
    }

    /// Removes every dim of size 1 (`SqueezeBackward0`).
    pub fn squeeze(&self) -> Tensor {
        let input_shape = self.shape();
        let layout = self.layout();
        let keep: Vec<usize> = (0..layout.shape.len()).filter(|&i| layout.shape[i] != 1).collect();
        let new = Layout {
            shape: keep.iter().map(|&i| layout.shape[i]).collect(),
            strides: keep.iter().map(|&i| layout.strides[i]).collect(),
            offset: layout.offset,
        };
        let out = self.view_with_layout(new);
        record(
            out,
            "SqueezeBackward0",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| vec![Some(g.reshape(&input_shape))],
        )
    }

    /// Removes one dim if it has size 1 (`SqueezeBackward1`).
    #[track_caller]
    pub fn squeeze_dim(&self, dim: isize) -> Tensor {
        let input_shape = self.shape();
        let d = wrap_dim(dim, input_shape.len());
        let mut layout = self.layout();
        if layout.shape.get(d) == Some(&1) {
            layout.shape.remove(d);
            layout.strides.remove(d);
        }
        let out = self.view_with_layout(layout);
        record(
            out,
            "SqueezeBackward1",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| vec![Some(g.reshape(&input_shape))],
        )
    }

    /// Broadcasts to a larger shape without copying (`ExpandBackward0`); `-1` keeps a dim.
    #[track_caller]
    pub fn expand(&self, shape: impl Dims) -> Tensor {
        self.expand_dims(shape.dims())
    }

    #[track_caller]
    fn expand_dims(&self, requested: Vec<isize>) -> Tensor {
        let input_shape = self.shape();
        let layout = self.layout();
        let Some(lead) = requested.len().checked_sub(input_shape.len()) else {
            crate::raise!(
                "expand({}{{{:?}}}, size={:?}): the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})",
                self.dtype().legacy_name(),
                input_shape,
                requested,
                requested.len(),
                input_shape.len()
            )
        };
        let mut new_shape = vec![0; requested.len()];
        let mut new_strides = vec![0; requested.len()];
        // from the last dim, as torch's inferExpandGeometry: the last mismatch is the one named
        for (i, &r) in requested.iter().enumerate().rev() {
            if i < lead {
                if r < 0 {
                    crate::raise!("The expanded size of the tensor ({r}) isn't allowed in a leading, non-existing dimension {i}");
                }
                new_shape[i] = r as usize;
                // a new dim of size 1 steps over the dims after it, as torch's (its stride shows,
                // and decides whether a copy into it overlaps its source fully or in part); a
                // 0-dim tensor's expansion has strides 0 throughout
                if r == 1 && !input_shape.is_empty() {
                    new_strides[i] = new_shape[i + 1] * new_strides[i + 1];
                }
                continue;
            }
            let (size, stride) = (input_shape[i - lead], layout.strides[i - lead]);
            if r == -1 || r as usize == size {
                new_shape[i] = size;
                new_strides[i] = stride;
            } else if size == 1 {
                new_shape[i] = r as usize;
            } else {
                crate::raise!(
                    "The expanded size of the tensor ({r}) must match the existing size ({size}) at non-singleton dimension {i}.  Target sizes: {:?}.  Tensor sizes: {:?}",
                    requested, input_shape
                );
            }
        }
        // even to its own shape: a view, `ExpandBackward0` (torch's expand never returns self)
        let out = self.view_with_layout(Layout {
            shape: new_shape.into(),
            strides: new_strides.into(),
            offset: layout.offset,
        });
        // d expand(x) = grad summed over the broadcast dims
        record(
            out,
            "ExpandBackward0",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| vec![Some(g.sum_to_size(&input_shape))],
        )
    }

    /// A copy with its own storage (PyTorch's `x.clone()`, `CloneBackward0`). Rust's
    /// `clone()` on a `Tensor` gives another *handle* to the same tensor, like `b = a` in
    /// Python.
    ///
    /// As torch's `clone()`, the copy keeps the memory order of a transposed or permuted
    /// tensor (`x.t().deep_clone().is_contiguous()` is false).
    pub fn deep_clone(&self) -> Tensor {
        let out = super::out_layout::like_torch_of(self.contiguous_values(), &[self]);
        self.record_copy(out)
    }

    /// The same tensor if contiguous, else a contiguous copy (`CloneBackward0`).
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() {
            self.clone()
        } else {
            self.record_copy(self.contiguous_values())
        }
    }

    // d clone(x) = grad
    fn record_copy(&self, out: Tensor) -> Tensor {
        record(out, "CloneBackward0", &[Some(self)], &[], |_| vec![], |_, g, _| vec![Some(g.clone())])
    }

    /// A contiguous copy of the values, no history.
    pub(crate) fn contiguous_values(&self) -> Tensor {
        Tensor::from_buffer(self.contiguous_buffer(), &self.shape())
    }

    /// Takes this tensor as a stored gradient: reuses its memory when nobody else holds it,
    /// copies otherwise.
    pub(crate) fn into_owned_detached(self) -> Tensor {
        let unique = Rc::strong_count(&self.0) == 1
            && self.with_data(|d| d.owns_whole_storage() && d.layout.is_contiguous())
            && self.grad_fn().is_none();
        if unique {
            self.meta().view = None;
            self
        } else {
            self.contiguous_values()
        }
    }

    /// Converts to another dtype (`x.to(dtype)`, `ToCopyBackward0`); same dtype gives `self`.
    pub fn to_dtype(&self, dtype: DType) -> Tensor {
        if self.dtype() == dtype {
            return self.clone();
        }
        let buffer = super::kernel::cast(self.contiguous_buffer(), dtype);
        let out = Tensor::from_buffer(buffer, &self.shape());
        let source = self.dtype();
        // d to(x) = grad converted back
        record(
            out,
            "ToCopyBackward0",
            &[Some(self)],
            &[],
            |_| vec![],
            move |_, g, _| vec![Some(g.to_dtype(source))],
        )
    }

    /// `x.double()`: float64.
    pub fn double(&self) -> Tensor {
        self.to_dtype(DType::Float64)
    }

    /// `x.float()`: float32.
    pub fn float(&self) -> Tensor {
        self.to_dtype(DType::Float32)
    }

    /// `x.long()`: int64.
    pub fn long(&self) -> Tensor {
        self.to_dtype(DType::Int64)
    }
}

/// Joins tensors along an existing dim (`torch.cat`, `CatBackward0`).
#[track_caller]
pub fn cat(tensors: &[&Tensor], dim: isize) -> Tensor {
    if tensors.is_empty() {
        crate::raise!(ValueError, "torch.cat(): expected a non-empty list of Tensors");
    }
    let first = tensors[0].shape();
    for (i, t) in tensors.iter().enumerate() {
        if t.dim() == 0 {
            crate::raise!("zero-dimensional tensor (at position {i}) cannot be concatenated");
        }
        if t.dim() != first.len() {
            crate::raise!("Tensors must have same number of dimensions: got {} and {}", first.len(), t.dim());
        }
    }
    let d = wrap_dim(dim, first.len());
    let dtype = tensors.iter().map(|t| t.dtype()).reduce(DType::promote).expect("non-empty");
    let mut out_shape = first.clone();
    out_shape[d] = 0;
    for (number, t) in tensors.iter().enumerate() {
        let s = t.shape();
        for (i, (&a, &b)) in s.iter().zip(&first).enumerate() {
            if i != d && a != b {
                crate::raise!("Sizes of tensors must match except in dimension {d}. Expected size {b} but got size {a} for tensor number {number} in the list.");
            }
        }
        out_shape[d] += s[d];
    }
    // Row-major: for each outer index, copy each input's block along `d`, in the promoted
    // dtype (each input converted once, as torch's copy into the result does).
    let outer: usize = first[..d].iter().product();
    let datas: Vec<crate::tensor::TensorData> = tensors.iter().map(|t| t.read_data()).collect();
    // an input contiguous and of the result's dtype is read in place, others copied first
    let in_place = |data: &crate::tensor::TensorData| data.layout.is_contiguous() && data.dtype == dtype;
    let copies: Vec<Option<Buffer>> = datas
        .iter()
        .map(|data| {
            (!in_place(data)).then(|| {
                super::kernel::cast(crate::tensor::gather(&data.storage.read(), &data.layout), dtype)
            })
        })
        .collect();
    let guards: Vec<_> = datas.iter().map(|data| data.storage.read()).collect();
    let parts: Vec<(&Buffer, usize, usize)> = datas
        .iter()
        .zip(&copies)
        .zip(&guards)
        .map(|((data, copy), guard)| {
            let block = data.layout.shape[d..].iter().product::<usize>();
            match copy {
                Some(copy) => (copy, 0, block),
                None => (&**guard, data.layout.span().start, block),
            }
        })
        .collect();
    let values = join_blocks(&parts, outer, numel(&out_shape));
    drop(guards);
    let out = Tensor::from_buffer(values, &out_shape);
    let sizes: Vec<usize> = tensors.iter().map(|t| t.shape()[d]).collect();
    let inputs: Vec<Option<&Tensor>> = tensors.iter().map(|t| Some(*t)).collect();
    // d cat(xs) = the matching slice of grad for each input
    record(
        out,
        "CatBackward0",
        &inputs,
        &[],
        |_| vec![],
        move |_, g, needs| {
            let mut start = 0;
            sizes
                .iter()
                .zip(needs)
                .map(|(&size, &need)| {
                    let part = need.then(|| g.narrow(d as isize, start, size));
                    start += size;
                    part
                })
                .collect::<Vec<_>>()
        },
    )
}

/// `cat`'s values: for each of `outer` rows, each part's next block (every part of one dtype,
/// each given as a buffer, where its row-major elements start in it, and its block). A big
/// result is written by both cores, each a stretch of it (`kernel::build_parts`): 2 x 1M
/// float32 joined in 0.58 ms on one thread, mostly the first touch of the result's pages.
fn join_blocks(parts: &[(&Buffer, usize, usize)], outer: usize, total: usize) -> Buffer {
    fn join<T: super::kernel::Element>(parts: &[(&[T], usize)], outer: usize, total: usize) -> Vec<T> {
        let row: usize = parts.iter().map(|&(_, block)| block).sum();
        debug_assert_eq!(row * outer, total);
        let fill = |start: usize, out: &mut [MaybeUninit<T>]| {
            // from output position `start` on: the row it lies in, then the part and the
            // place in that part's block, a run of that block at a time
            let mut written = 0;
            while written < out.len() {
                let at = start + written;
                let (o, mut within) = (at / row, at % row);
                let mut p = 0;
                while within >= parts[p].1 {
                    within -= parts[p].1;
                    p += 1;
                }
                let (v, block) = parts[p];
                let n = (block - within).min(out.len() - written);
                for (slot, &x) in out[written..written + n].iter_mut().zip(&v[o * block + within..][..n]) {
                    slot.write(x);
                }
                written += n;
            }
        };
        // SAFETY: `fill` writes every element of the stretch it is given
        unsafe { super::kernel::build_parts(total, fill) }
    }
    macro_rules! typed {
        ($variant:ident) => {{
            let typed: Vec<_> = parts
                .iter()
                .map(|&(b, start, block)| match b {
                    Buffer::$variant(v) => (&v[start..], block),
                    _ => unreachable!("every part is in the promoted dtype"),
                })
                .collect();
            Buffer::$variant(join(&typed, outer, total))
        }};
    }
    match parts[0].0 {
        Buffer::F32(_) => typed!(F32),
        Buffer::F64(_) => typed!(F64),
        Buffer::I64(_) => typed!(I64),
        Buffer::Bool(_) => typed!(Bool),
    }
}

/// Joins tensors along a new dim (`torch.stack`, `StackBackward0`).
#[track_caller]
pub fn stack(tensors: &[&Tensor], dim: isize) -> Tensor {
    if tensors.is_empty() {
        crate::raise!("stack expects a non-empty TensorList");
    }
    let first = tensors[0].shape();
    for (entry, t) in tensors.iter().enumerate() {
        let shape = t.shape();
        if !same_shape(&shape, &first) {
            crate::raise!("stack expects each tensor to be equal size, but got {first:?} at entry 0 and {shape:?} at entry {entry}");
        }
    }
    let rank = tensors[0].dim();
    let d = wrap_dim(dim, rank + 1);
    let unsqueezed: Vec<Tensor> =
        crate::autograd::grad_mode::no_grad(|| tensors.iter().map(|t| t.unsqueeze(d as isize)).collect());
    let refs: Vec<&Tensor> = unsqueezed.iter().collect();
    let joined = crate::autograd::grad_mode::no_grad(|| cat(&refs, d as isize));
    let out = joined.detach();
    let inputs: Vec<Option<&Tensor>> = tensors.iter().map(|t| Some(*t)).collect();
    let count = tensors.len();
    // d stack(xs) = grad selected along the new dim for each input
    record(
        out,
        "StackBackward0",
        &inputs,
        &[],
        |_| vec![],
        move |_, g, needs| {
            (0..count).map(|i| needs[i].then(|| g.select(d as isize, i as isize))).collect::<Vec<_>>()
        },
    )
}

/// The strides that show a tensor of `old_shape`/`old_strides` as `new_shape` without copying,
/// or `None` when no view can (torch's `computeStride`).
pub(crate) fn compute_stride(
    old_shape: &[usize],
    old_strides: &[usize],
    new_shape: &[usize],
) -> Option<Vec<usize>> {
    if old_shape.is_empty() {
        return Some(vec![1; new_shape.len()]);
    }
    let total = numel(old_shape);
    if total == 0 && old_shape == new_shape {
        return Some(old_strides.to_vec());
    }
    let mut new_strides = vec![0usize; new_shape.len()];
    if total == 0 {
        for d in (0..new_shape.len()).rev() {
            new_strides[d] =
                if d + 1 == new_shape.len() { 1 } else { new_shape[d + 1].max(1) * new_strides[d + 1] };
        }
        return Some(new_strides);
    }
    let mut view_d = new_shape.len() as isize - 1;
    let mut chunk_base_stride = *old_strides.last().expect("non-empty");
    let (mut tensor_numel, mut view_numel) = (1usize, 1usize);
    for tensor_d in (0..old_shape.len()).rev() {
        tensor_numel *= old_shape[tensor_d];
        let chunk_ends = tensor_d == 0
            || (old_shape[tensor_d - 1] != 1
                && old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride);
        if chunk_ends {
            while view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d as usize] == 1) {
                new_strides[view_d as usize] = view_numel * chunk_base_stride;
                view_numel *= new_shape[view_d as usize];
                view_d -= 1;
            }
            if view_numel != tensor_numel {
                return None;
            }
            if tensor_d > 0 {
                chunk_base_stride = old_strides[tensor_d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    if view_d != -1 {
        return None;
    }
    Some(new_strides)
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;

    /// `cat` of tensors big enough to be written by both threads has every element where
    /// the row-major definition puts it: along each dim, parts of unequal (and zero) size,
    /// a transposed part (copied first), on one thread and on two.
    #[test]
    fn big_joins_put_every_element_in_its_place() {
        let make = |shape: &[usize], seed: usize| {
            let n: usize = shape.iter().product();
            Tensor::from_f32((0..n).map(|i| ((i * 7919 + seed * 104729) % 100_003) as f32).collect(), shape)
        };
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                for dim in 0..3 {
                    let mut shapes = [[40usize, 50, 60]; 3];
                    shapes[1][dim] = 7;
                    shapes[2][dim] = 0;
                    let parts: Vec<Tensor> = shapes.iter().enumerate().map(|(k, s)| make(s, k)).collect();
                    // the first part again, transposed and back: not contiguous
                    let odd = make(&[40, 50, 60], 9).transpose(0, 2).contiguous().transpose(0, 2);
                    let all = [&parts[0], &parts[1], &parts[2], &odd];
                    let joined = cat(&all, dim as isize);
                    let out = joined.to_vec_f32();
                    let shape = joined.shape();
                    let mut offset = 0;
                    for t in all {
                        let (ts, tv) = (t.shape(), t.to_vec_f32());
                        for (flat, &v) in tv.iter().enumerate() {
                            let idx = [flat / (ts[1] * ts[2]), flat / ts[2] % ts[1], flat % ts[2]];
                            let mut at = idx;
                            at[dim] += offset;
                            let pos = (at[0] * shape[1] + at[1]) * shape[2] + at[2];
                            assert_eq!(out[pos], v, "dim {dim}, {threads} threads, at {at:?}");
                        }
                        offset += ts[dim];
                    }
                }
            });
        }
    }
}
