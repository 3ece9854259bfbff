//! In-place ops (`add_`, `mul_`, `zero_`, `fill_`, `copy_`, and the `+=`-style operators),
//! with PyTorch's rules: no in-place change of a leaf that requires grad (or a view of one)
//! while grad mode is on; every write bumps the storage's version counter; on a non-leaf the
//! op becomes the tensor's new grad_fn.

use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use super::elementwise::{IntoOperand, Scalar};
use super::index::write_buffer;
use crate::autograd::grad_mode::{is_grad_enabled, no_grad};
use crate::dtype::Category;
use crate::tensor::Tensor;

/// Panics with PyTorch's words when an in-place change of `t` would break the graph.
#[track_caller]
pub(crate) fn check_inplace_allowed(t: &Tensor) {
    if !is_grad_enabled() {
        return;
    }
    let meta = t.meta();
    if meta.grad_fn.is_none() && meta.requires_grad {
        drop(meta);
        crate::raise!("a leaf Variable that requires grad is being used in an in-place operation.");
    }
    if let Some(view) = &meta.view {
        let base = view.base.clone();
        drop(meta);
        if base.is_leaf() && base.requires_grad() {
            crate::raise!("a view of a leaf Variable that requires grad is being used in an in-place operation.");
        }
    }
}

fn category_name(dtype: crate::dtype::DType) -> &'static str {
    match dtype {
        crate::dtype::DType::Float32 => "Float",
        crate::dtype::DType::Float64 => "Double",
        crate::dtype::DType::Int64 => "Long",
        crate::dtype::DType::Bool => "Bool",
    }
}

impl Tensor {
    /// Runs an out-of-place op and writes its result into this tensor's storage.
    #[track_caller]
    fn apply_inplace(&self, op: impl FnOnce(&Tensor) -> Tensor) -> Tensor {
        check_inplace_allowed(self);
        let result = op(self);
        let (mine, theirs) = (self.dtype(), result.dtype());
        if theirs.category() > mine.category() || (mine.category() != Category::Float && theirs.category() == Category::Float) {
            crate::raise!("result type {} can't be cast to the desired output type {}", category_name(theirs), category_name(mine));
        }
        if result.shape() != self.shape() {
            crate::raise!(
                "output with shape {:?} doesn't match the broadcast shape {:?}",
                self.shape(),
                result.shape()
            );
        }
        let values = result.contiguous_buffer();
        self.with_data(|d| {
            write_buffer(&mut d.storage.write(), &d.layout, &values);
            d.storage.bump_version();
        });
        if let Some(node) = result.grad_fn() {
            let mut meta = self.meta();
            meta.grad_fn = Some(node);
            meta.output_nr = 0;
        }
        self.clone()
    }

    /// `x.add_(other)`: in-place addition.
    #[track_caller]
    pub fn add_<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        let other = other.into_operand();
        self.apply_inplace(|t| t.add(other))
    }

    /// `x.sub_(other)`: in-place subtraction.
    #[track_caller]
    pub fn sub_<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        let other = other.into_operand();
        self.apply_inplace(|t| t.sub(other))
    }

    /// `x.mul_(other)`: in-place multiplication.
    #[track_caller]
    pub fn mul_<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        let other = other.into_operand();
        self.apply_inplace(|t| t.mul(other))
    }

    /// `x.div_(other)`: in-place division.
    #[track_caller]
    pub fn div_<'a>(&self, other: impl IntoOperand<'a>) -> Tensor {
        let other = other.into_operand();
        self.apply_inplace(|t| t.div(other))
    }

    /// `x.pow_(e)`: in-place power.
    #[track_caller]
    pub fn pow_<'a>(&self, exponent: impl IntoOperand<'a>) -> Tensor {
        let exponent = exponent.into_operand();
        self.apply_inplace(|t| t.pow(exponent))
    }

    /// `x.zero_()`: sets every element to 0, in place. On the tensor `x.grad()` returns, this
    /// clears the stored gradient.
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
        self.fill_(0.0)
    }

    /// `x.fill_(value)`: sets every element to `value`, in place (`FillBackward0` on a
    /// non-leaf: no gradient flows to the old values).
    #[track_caller]
    pub fn fill_(&self, value: impl Into<Scalar>) -> Tensor {
        let value = value.into().as_f64();
        check_inplace_allowed(self);
        let filled = crate::factory::full_with(&self.shape(), value, crate::factory::TensorOptions::default().dtype(self.dtype()));
        self.with_data(|d| {
            write_buffer(&mut d.storage.write(), &d.layout, &filled.contiguous_buffer());
            d.storage.bump_version();
        });
        if is_grad_enabled() && self.grad_fn().is_some() {
            let out = crate::autograd::record::record(
                filled.requires_grad_(false),
                "FillBackward0",
                &[Some(self)],
                &[],
                |_| vec![],
                |_, g, _| vec![Some(crate::factory::zeros_like(g))],
            );
            if let Some(node) = out.grad_fn() {
                self.meta().grad_fn = Some(node);
            }
        }
        self.clone()
    }

    /// `x.copy_(src)`: copies `src`'s values (broadcast) into this tensor, in place.
    #[track_caller]
    pub fn copy_(&self, src: &Tensor) -> Tensor {
        let shape = self.shape();
        super::checks::check_inplace_shapes(&shape, &src.shape());
        self.apply_inplace(|t| {
            // d copy_(src) = grad for src, nothing for the old values
            let expanded = src.expand(&shape).to_dtype(t.dtype());
            expanded.add(&t.detach().mul(0.0))
        })
    }

    /// Adds `other` into this tensor's storage without any autograd checks (the engine's
    /// gradient accumulation): one pass, no temporary when both are contiguous and alike.
    pub(crate) fn add_raw_(&self, other: &Tensor) {
        use crate::storage::Buffer;
        let other = if other.shares_storage(self) { other.contiguous_values() } else { other.clone() };
        let done = self.with_data(|d| {
            if !d.layout.is_contiguous() || other.shape() != d.layout.shape || other.dtype() != d.dtype {
                return false;
            }
            let range = d.layout.offset..d.layout.offset + d.layout.numel();
            let mut buffer = d.storage.write();
            match &mut *buffer {
                Buffer::F32(v) => super::kernel::with_slice(&other, |o: &[f32]| add_into(&mut v[range], o)),
                Buffer::F64(v) => super::kernel::with_slice(&other, |o: &[f64]| add_into(&mut v[range], o)),
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

fn add_into<T: Copy + Send + Sync + std::ops::AddAssign>(dst: &mut [T], src: &[T]) {
    use rayon::prelude::*;
    if dst.len() >= super::kernel::PARALLEL_MIN {
        dst.par_iter_mut().zip(src.par_iter()).for_each(|(d, &s)| *d += s);
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
