//! `softmax` and `log_softmax` along a dim, computed like torch's CPU kernels: subtract the
//! lane's maximum first (so large inputs do not overflow), exponentiate, normalise.

use super::kernel::{with_slice, FloatElement};
use super::reduce::lanes;
use super::shape::wrap_dim;
use crate::autograd::record::record;
use crate::autograd::saved::SavedTensor;
use crate::dtype::DType;
use crate::storage::Buffer;
use crate::tensor::Tensor;

/// Runs `f` over every lane along `dim` (gathered into a scratch vector), writing its
/// results back in place.
fn map_lanes<T: FloatElement>(values: &[T], shape: &[usize], dim: usize, mut f: impl FnMut(&[T], &mut [T])) -> Vec<T> {
    let (outer, size, inner) = lanes(shape, dim);
    let mut out = values.to_vec();
    let (mut lane, mut result) = (vec![T::from_f64(0.0); size], vec![T::from_f64(0.0); size]);
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| (o * size + k) * inner + i;
            for (k, slot) in lane.iter_mut().enumerate() {
                *slot = values[at(k)];
            }
            f(&lane, &mut result);
            for (k, &v) in result.iter().enumerate() {
                out[at(k)] = v;
            }
        }
    }
    out
}

/// The lane maximum, NaN if any element is NaN.
fn lane_max<T: FloatElement>(lane: &[T]) -> T {
    lane.iter().copied().fold(T::neg_infinity(), |m, v| if m.is_nan() || v.is_nan() { T::nan() } else { m.max(v) })
}

fn softmax_values<T: FloatElement>(values: &[T], shape: &[usize], dim: usize, log: bool) -> Vec<T> {
    // torch divides by the sum along the last dim (times its reciprocal) and divides along others
    let last = shape.is_empty() || dim + 1 == shape.len();
    map_lanes(values, shape, dim, |lane, out| {
        let max = lane_max(lane);
        let mut sum = T::from_f64(0.0);
        for &x in lane {
            sum = sum + (x - max).exp();
        }
        if log {
            let log_sum = sum.ln();
            for (o, &x) in out.iter_mut().zip(lane) {
                *o = x - max - log_sum;
            }
        } else {
            let scale = T::from_f64(1.0) / sum;
            for (o, &x) in out.iter_mut().zip(lane) {
                let e = (x - max).exp();
                *o = if last { e * scale } else { e / sum };
            }
        }
    })
}

/// The gradient of softmax (`y * (g - sum(g * y))`) or log_softmax (`g - exp(y) * sum(g)`)
/// along `dim`, in torch's CPU kernel order: each lane's sum runs left to right in the
/// tensor's dtype, and log_softmax's `g - exp(y) * sum` rounds once, as torch's fused
/// multiply-add does. Used when no graph of the backward is needed. (torch's exp is SLEEF's,
/// which can differ from ours in the last bit.)
fn backward_values<T: FloatElement>(g: &[T], y: &[T], shape: &[usize], dim: usize, log: bool) -> Vec<T> {
    let (outer, size, inner) = lanes(shape, dim);
    let mut out = vec![T::from_f64(0.0); g.len()];
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| (o * size + k) * inner + i;
            let mut sum = T::from_f64(0.0);
            for k in 0..size {
                sum = sum + if log { g[at(k)] } else { g[at(k)] * y[at(k)] };
            }
            for k in 0..size {
                let (gk, yk) = (g[at(k)], y[at(k)]);
                // torch's vectorised `x - exp(y) * sum` is compiled to one fused multiply-add
                out[at(k)] = if log { (-yk.exp()).mul_add(sum, gk) } else { yk * (gk - sum) };
            }
        }
    }
    out
}

fn fused_backward(g: &Tensor, y: &Tensor, dim: usize, log: bool) -> Tensor {
    let shape = y.shape();
    let buffer = match y.dtype() {
        DType::Float64 => Buffer::F64(with_slice(g, |gs: &[f64]| {
            with_slice(y, |ys: &[f64]| backward_values(gs, ys, &shape, dim, log))
        })),
        _ => Buffer::F32(with_slice(g, |gs: &[f32]| {
            with_slice(y, |ys: &[f32]| backward_values(gs, ys, &shape, dim, log))
        })),
    };
    Tensor::from_buffer(buffer, &shape)
}

fn check_dtype(t: &Tensor, kernel: &str) {
    if !t.dtype().is_floating_point() {
        let name = if t.dtype() == DType::Bool { "Bool" } else { "Long" };
        crate::raise!(NotImplementedError, "\"{kernel}_lastdim_kernel_impl\" not implemented for '{name}'");
    }
}

fn forward(t: &Tensor, dim: usize, log: bool) -> Tensor {
    let shape = t.shape();
    let buffer = match t.dtype() {
        DType::Float64 => Buffer::F64(with_slice(t, |s: &[f64]| softmax_values(s, &shape, dim, log))),
        _ => Buffer::F32(with_slice(t, |s: &[f32]| softmax_values(s, &shape, dim, log))),
    };
    Tensor::from_buffer(buffer, &shape)
}

impl Tensor {
    /// `x.softmax(dim)`: `exp(x) / sum(exp(x))` along `dim`, computed as `exp(x - max)` over
    /// its sum (node `SoftmaxBackward0`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]], requires_grad = true);
    /// let s = x.softmax(1);
    /// assert_eq!(s.to_string(), "tensor([[0.0159, 0.8668, 0.1173],\n        [0.0634, 0.4683, 0.4683]], grad_fn=<SoftmaxBackward0>)");
    /// ```
    pub fn softmax(&self, dim: isize) -> Tensor {
        check_dtype(self, "softmax");
        let d = wrap_dim(dim, self.dim());
        let out = forward(self, d, false);
        // d softmax = y * (grad - sum(grad * y)) along dim
        record(
            out,
            "SoftmaxBackward0",
            &[Some(self)],
            &["result"],
            |out| vec![SavedTensor::output(out)],
            move |s, g, _| {
                let y = &s[0];
                if !crate::autograd::grad_mode::is_grad_enabled() {
                    return vec![Some(fused_backward(g, y, d, false))];
                }
                let dot = if y.dim() == 0 { g.mul(y) } else { g.mul(y).sum_dim(d, true) };
                vec![Some(y.mul(&g.sub(&dot)))]
            },
        )
    }

    /// `x.log_softmax(dim)`: `x - max - log(sum(exp(x - max)))` along `dim` (node
    /// `LogSoftmaxBackward0`).
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([[1., 5., 3.], [4., 6., 6.]], requires_grad = true);
    /// let s = x.log_softmax(-1);
    /// assert_eq!(s.to_string(), "tensor([[-4.1429, -0.1429, -2.1429],\n        [-2.7586, -0.7586, -0.7586]], grad_fn=<LogSoftmaxBackward0>)");
    /// ```
    pub fn log_softmax(&self, dim: isize) -> Tensor {
        check_dtype(self, "log_softmax");
        let d = wrap_dim(dim, self.dim());
        let out = forward(self, d, true);
        // d log_softmax = grad - exp(y) * sum(grad) along dim
        record(
            out,
            "LogSoftmaxBackward0",
            &[Some(self)],
            &["result"],
            |out| vec![SavedTensor::output(out)],
            move |s, g, _| {
                let y = &s[0];
                if !crate::autograd::grad_mode::is_grad_enabled() {
                    return vec![Some(fused_backward(g, y, d, true))];
                }
                let total = if y.dim() == 0 { g.clone() } else { g.sum_dim(d, true) };
                vec![Some(g.sub(&y.exp().mul(&total)))]
            },
        )
    }
}
