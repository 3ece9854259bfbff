//! Choosing elements: `where_` (torch.where), and the tests `isnan`, `isinf`, `isfinite`.
//! `where_` picks each element from one side; it never multiplies by a mask, so a NaN or an
//! infinity on the side not taken never leaks into the result or the gradient.

use super::elementwise::{broadcast_or_raise, choose, values_as};
use crate::autograd::record::{record, Saved};
use crate::autograd::saved::SavedTensor;
use crate::dtype::{result_type, DType, Operand};
use crate::storage::Buffer;
use crate::tensor::Tensor;

fn promotion_class(t: &Tensor) -> Operand {
    if t.dim() == 0 {
        Operand::ZeroDim(t.dtype())
    } else {
        Operand::Dimensioned(t.dtype())
    }
}

/// `torch.where(cond, a, b)`: `a`'s element where `cond` is true, `b`'s elsewhere, all three
/// broadcast together (node `WhereBackward0`). `where` is a Rust keyword, hence the `_`.
///
/// ```
/// use autograd_core::prelude::*;
/// let a = tensor!([1., 2., 3.], requires_grad = true);
/// let b = tensor!([10., 20., 30.], requires_grad = true);
/// let y = where_(&tensor!([true, false, true]), &a, &b);
/// assert_eq!(y.to_string(), "tensor([ 1., 20.,  3.], grad_fn=<WhereBackward0>)");
/// y.sum().backward();
/// assert_eq!(a.grad().unwrap().to_string(), "tensor([1., 0., 1.])");
/// assert_eq!(b.grad().unwrap().to_string(), "tensor([0., 1., 0.])");
/// ```
pub fn where_(condition: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
    if condition.dtype() != DType::Bool {
        crate::raise!(
            "where expected condition to be a boolean tensor, but got a tensor with dtype {}",
            condition.dtype().title()
        );
    }
    let (sc, sa, sb) = (condition.shape(), a.shape(), b.shape());
    let shape = broadcast_or_raise(&broadcast_or_raise(&sc, &sa), &sb);
    let dtype = result_type(&[promotion_class(a), promotion_class(b)]);
    let cond = match values_as(condition, &shape, DType::Bool) {
        Buffer::Bool(v) => v,
        _ => unreachable!("cast to bool"),
    };
    let out =
        Tensor::from_buffer(choose(&cond, values_as(a, &shape, dtype), values_as(b, &shape, dtype)), &shape);
    let out = super::out_layout::like_torch_of(out, &[condition, a, b]);
    let (da, db) = (a.dtype(), b.dtype());
    // d where(c, a, b) = grad where c for a, grad where not c for b (selected, never multiplied)
    record(
        out,
        "WhereBackward0",
        &[Some(a), Some(b)],
        &["condition"],
        |_| Saved::one(SavedTensor::input(condition)),
        move |s, g, needs| {
            let (c, zero) = (&s[0], crate::factory::zeros_like(g));
            vec![
                needs[0].then(|| super::elementwise::reduce_grad(where_(c, g, &zero), &sa, da)),
                needs[1].then(|| super::elementwise::reduce_grad(where_(c, &zero, g), &sb, db)),
            ]
        },
    )
}

impl Tensor {
    fn float_test(&self, f32_test: fn(f32) -> bool, f64_test: fn(f64) -> bool, integers: bool) -> Tensor {
        let values = match self.dtype() {
            DType::Float32 => {
                super::kernel::with_slice(self, |s: &[f32]| s.iter().map(|&x| f32_test(x)).collect())
            }
            DType::Float64 => {
                super::kernel::with_slice(self, |s: &[f64]| s.iter().map(|&x| f64_test(x)).collect())
            }
            _ => vec![integers; self.numel()],
        };
        Tensor::from_bools(values, &self.shape())
    }

    /// True where the element is NaN (`x.isnan()`); a bool tensor without history.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([1., f64::NAN, f64::INFINITY]);
    /// assert_eq!(x.isnan().to_string(), "tensor([False,  True, False])");
    /// ```
    pub fn isnan(&self) -> Tensor {
        self.float_test(f32::is_nan, f64::is_nan, false)
    }

    /// True where the element is +inf or -inf (`x.isinf()`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([1., f64::NAN, f64::NEG_INFINITY]);
    /// assert_eq!(x.isinf().to_string(), "tensor([False, False,  True])");
    /// ```
    pub fn isinf(&self) -> Tensor {
        self.float_test(f32::is_infinite, f64::is_infinite, false)
    }

    /// True where the element is neither NaN nor infinite (`x.isfinite()`); integers always are.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([1., f64::NAN, f64::INFINITY]);
    /// assert_eq!(x.isfinite().to_string(), "tensor([ True, False, False])");
    /// ```
    pub fn isfinite(&self) -> Tensor {
        self.float_test(f32::is_finite, f64::is_finite, true)
    }
}
