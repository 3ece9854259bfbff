//! Reductions: `sum`, `mean` (whole tensor or per dim), `norm`, `max`, `min`, and the
//! `sum_to_size` that undoes broadcasting in backward.

use ndarray::{ArrayD, Axis, IxDyn};
use rayon::prelude::*;

use super::kernel::{with_slice, PARALLEL_MIN};
use super::shape::wrap_dim;
use crate::autograd::record::record;
use crate::autograd::saved::SavedTensor;
use crate::dtype::DType;
use crate::storage::Buffer;
use crate::tensor::Tensor;

/// Dimensions for a reduction: one (`1`, `-1`) or several (`&[0, 1]`).
pub trait Dims {
    fn dims(&self) -> Vec<isize>;
}

macro_rules! dims_int {
    ($($t:ty),*) => {$(
        impl Dims for $t {
            fn dims(&self) -> Vec<isize> { vec![*self as isize] }
        }
        impl Dims for &[$t] {
            fn dims(&self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl<const N: usize> Dims for [$t; N] {
            fn dims(&self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl<const N: usize> Dims for &[$t; N] {
            fn dims(&self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl Dims for &Vec<$t> {
            fn dims(&self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl Dims for Vec<$t> {
            fn dims(&self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
    )*};
}
dims_int!(i32, i64, isize, usize);

/// Sum of all elements, accumulated in f64 (closer to torch's pairwise sums than a plain
/// float32 loop).
fn sum_all_f64(t: &Tensor) -> f64 {
    match t.dtype() {
        DType::Float32 => with_slice(t, |s: &[f32]| {
            if s.len() >= PARALLEL_MIN {
                s.par_chunks(1 << 14).map(|c| c.iter().map(|&x| x as f64).sum::<f64>()).sum()
            } else {
                s.iter().map(|&x| x as f64).sum()
            }
        }),
        _ => with_slice(t, |s: &[f64]| {
            if s.len() >= PARALLEL_MIN {
                s.par_chunks(1 << 14).map(|c| c.iter().sum::<f64>()).sum()
            } else {
                s.iter().sum()
            }
        }),
    }
}

fn scalar_of(value: f64, dtype: DType) -> Tensor {
    Tensor::from_buffer(Buffer::from_f64([value], dtype), &[])
}

/// The dtype of a sum: integers and bools sum to int64.
fn sum_dtype(dtype: DType) -> DType {
    if dtype.is_floating_point() { dtype } else { DType::Int64 }
}

#[track_caller]
fn resolve_dims(dims: &[isize], rank: usize) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::with_capacity(dims.len());
    for &d in dims {
        let d = wrap_dim(d, rank);
        if out.contains(&d) {
            crate::raise!("dim {d} appears multiple times in the list of dims");
        }
        out.push(d);
    }
    out.sort_unstable();
    out
}

/// Sums over `dims` in f64 and returns the values with the kept/removed dims.
fn sum_dims_values(t: &Tensor, dims: &[usize], keepdim: bool) -> (Vec<f64>, Vec<usize>) {
    let shape = t.shape();
    let mut array = ArrayD::from_shape_vec(IxDyn(&shape), t.to_vec_f64()).expect("shape matches");
    for &d in dims.iter().rev() {
        array = array.sum_axis(Axis(d));
        if keepdim {
            array.insert_axis_inplace(Axis(d));
        }
    }
    let out_shape = array.shape().to_vec();
    (array.into_raw_vec_and_offset().0, out_shape)
}

impl Tensor {
    /// Sum of all elements, a 0-dim tensor (`SumBackward0`).
    pub fn sum(&self) -> Tensor {
        let dtype = sum_dtype(self.dtype());
        let out = if dtype == DType::Int64 {
            Tensor::from_i64(vec![super::kernel::to_vec::<i64>(self).iter().sum()], &[])
        } else {
            scalar_of(sum_all_f64(self), dtype)
        };
        let shape = self.shape();
        // d sum(x) = 1 for every element
        record(out, "SumBackward0", &[Some(self)], &[], |_| vec![], move |_, g, _| vec![Some(g.expand(&shape))])
    }

    /// Sum over the given dims (`x.sum(dim, keepdim)`, `SumBackward1`).
    #[track_caller]
    pub fn sum_dim(&self, dims: impl Dims, keepdim: bool) -> Tensor {
        let shape = self.shape();
        let dims = resolve_dims(&dims.dims(), shape.len());
        let (values, out_shape) = sum_dims_values(self, &dims, keepdim);
        let out = Tensor::from_buffer(Buffer::from_f64(values, sum_dtype(self.dtype())), &out_shape);
        // d sum(x, dim) = 1, broadcast back along the summed dims
        record(out, "SumBackward1", &[Some(self)], &[], |_| vec![], move |_, g, _| {
            vec![Some(unsqueeze_dims(g, &dims, keepdim).expand(&shape))]
        })
    }

    /// Mean of all elements (`MeanBackward0`); floating-point tensors only, like torch.
    #[track_caller]
    pub fn mean(&self) -> Tensor {
        let dtype = self.dtype();
        check_mean_dtype(dtype);
        let n = self.numel();
        let out = scalar_of(sum_all_f64(self) / n as f64, dtype);
        let shape = self.shape();
        // d mean(x) = 1/n for every element
        record(out, "MeanBackward0", &[Some(self)], &[], |_| vec![], move |_, g, _| {
            vec![Some(g.div(n as f64).expand(&shape))]
        })
    }

    /// Mean over the given dims (`x.mean(dim, keepdim)`, `MeanBackward1`).
    #[track_caller]
    pub fn mean_dim(&self, dims: impl Dims, keepdim: bool) -> Tensor {
        let dtype = self.dtype();
        check_mean_dtype(dtype);
        let shape = self.shape();
        let dims = resolve_dims(&dims.dims(), shape.len());
        let count: usize = dims.iter().map(|&d| shape[d]).product();
        let (values, out_shape) = sum_dims_values(self, &dims, keepdim);
        let values = values.into_iter().map(|v| v / count as f64);
        let out = Tensor::from_buffer(Buffer::from_f64(values, dtype), &out_shape);
        // d mean(x, dim) = 1/count, broadcast back along the reduced dims
        record(out, "MeanBackward1", &[Some(self)], &[], |_| vec![], move |_, g, _| {
            vec![Some(unsqueeze_dims(&g.div(count as f64), &dims, keepdim).expand(&shape))]
        })
    }

    /// Euclidean norm of all elements (`x.norm()`, node `LinalgVectorNormBackward0`).
    #[track_caller]
    pub fn norm(&self) -> Tensor {
        let dtype = self.dtype();
        if !dtype.is_floating_point() {
            crate::raise!(
                NotImplementedError,
                "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {}",
                dtype.title()
            );
        }
        let sum_sq = match dtype {
            DType::Float32 => with_slice(self, |s: &[f32]| s.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>()),
            _ => with_slice(self, |s: &[f64]| s.iter().map(|&x| x * x).sum::<f64>()),
        };
        let out = scalar_of(sum_sq.sqrt(), dtype);
        // d |x| = x / |x| (0 where |x| = 0)
        record(
            out,
            "LinalgVectorNormBackward0",
            &[Some(self)],
            &["self", "result"],
            |out| vec![SavedTensor::input(self), SavedTensor::output(out)],
            |s, g, _| {
                let (x, norm) = (&s[0], &s[1]);
                let scale = if norm.item() == 0.0 { crate::factory::zeros_like(norm) } else { g.div(norm) };
                vec![Some(x.mul(&scale))]
            },
        )
    }

    /// Largest element (`x.max()`, `MaxBackward1`); the gradient is shared among ties.
    #[track_caller]
    pub fn max(&self) -> Tensor {
        self.extreme(true)
    }

    /// Smallest element (`x.min()`, `MinBackward1`).
    #[track_caller]
    pub fn min(&self) -> Tensor {
        self.extreme(false)
    }

    #[track_caller]
    fn extreme(&self, largest: bool) -> Tensor {
        let values = self.to_vec_f64();
        if values.is_empty() {
            let name = if largest { "max" } else { "min" };
            crate::raise!(
                "{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."
            );
        }
        let pick = values.iter().copied().fold(values[0], |acc, v| {
            if acc.is_nan() || v.is_nan() { f64::NAN } else if (v > acc) == largest && v != acc { v } else { acc }
        });
        let out = scalar_of(pick, self.dtype());
        let name = if largest { "MaxBackward1" } else { "MinBackward1" };
        // the gradient goes to the extreme element(s), split evenly among ties
        record(out, name, &[Some(self)], &["self", "result"], |out| vec![SavedTensor::input(self), SavedTensor::output(out)], |s, g, _| {
            let mask = s[0].eq(&s[1]).to_dtype(g.dtype());
            let count = mask.sum();
            vec![Some(mask.div(&count).mul(g))]
        })
    }

    /// Sums a broadcast tensor back down to `shape` (the reverse of `expand`).
    #[track_caller]
    pub fn sum_to_size(&self, shape: &[usize]) -> Tensor {
        let own = self.shape();
        super::checks::check_sum_to_size(&own, shape);
        if own == shape {
            return self.clone();
        }
        let lead = own.len() - shape.len();
        let mut dims: Vec<isize> = (0..lead as isize).collect();
        for (i, &size) in shape.iter().enumerate() {
            if size == 1 && own[lead + i] != 1 {
                dims.push((lead + i) as isize);
            }
        }
        let summed = if dims.is_empty() { self.clone() } else { self.sum_dim(dims, true) };
        if summed.shape() == shape {
            summed
        } else {
            summed.reshape(&shape.iter().map(|&d| d as isize).collect::<Vec<_>>())
        }
    }
}

#[track_caller]
fn check_mean_dtype(dtype: DType) {
    if !dtype.is_floating_point() {
        let name = if dtype == DType::Bool { "Bool" } else { "Long" };
        crate::raise!(
            NotImplementedError,
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {name}"
        );
    }
}

/// Re-inserts reduced dims (size 1) into a gradient when the reduction dropped them.
fn unsqueeze_dims(g: &Tensor, dims: &[usize], keepdim: bool) -> Tensor {
    if keepdim {
        return g.clone();
    }
    let mut out = g.clone();
    for &d in dims {
        out = out.unsqueeze(d as isize);
    }
    out
}

