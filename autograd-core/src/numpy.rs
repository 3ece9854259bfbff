//! `.numpy()`: the values as an n-dimensional array that prints as NumPy's, with PyTorch's
//! rule that a tensor which requires grad must be detached first.

use std::fmt;

use ndarray::{ArrayD, IxDyn};

use crate::dtype::DType;
use crate::storage::Buffer;
use crate::tensor::Tensor;

/// A tensor's values as an n-dimensional array of the matching element type, printed as
/// NumPy prints (`print(x.detach().numpy())`).
///
/// The array type is the engine's own (`ndarray`) and stays inside it: every public part of
/// this type is std's or the crate's, so the kernel's analyser knows the type of anything a
/// cell takes from it without reading ndarray (see the kernel's `analysis_deps`).
#[derive(Clone, Debug, PartialEq)]
pub struct NdArray(Values);

#[derive(Clone, Debug, PartialEq)]
enum Values {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    I64(ArrayD<i64>),
    Bool(ArrayD<bool>),
}

impl NdArray {
    /// The values in row-major order as f64 (exact for every element type).
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.0 {
            Values::F32(a) => a.iter().map(|&v| v as f64).collect(),
            Values::F64(a) => a.iter().copied().collect(),
            Values::I64(a) => a.iter().map(|&v| v as f64).collect(),
            Values::Bool(a) => a.iter().map(|&v| v as u8 as f64).collect(),
        }
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        match &self.0 {
            Values::F32(a) => a.shape().to_vec(),
            Values::F64(a) => a.shape().to_vec(),
            Values::I64(a) => a.shape().to_vec(),
            Values::Bool(a) => a.shape().to_vec(),
        }
    }

    /// The element type (the tensor's).
    pub fn dtype(&self) -> DType {
        match &self.0 {
            Values::F32(_) => DType::Float32,
            Values::F64(_) => DType::Float64,
            Values::I64(_) => DType::Int64,
            Values::Bool(_) => DType::Bool,
        }
    }
}

impl Tensor {
    /// The values as an [`NdArray`] (`x.numpy()`); panics like PyTorch when the tensor
    /// requires grad.
    ///
    /// ```
    /// use autograd_core::prelude::*;
    /// let x = tensor!([10, 20], requires_grad = true, dtype = float64);
    /// assert_eq!(x.detach().numpy().to_string(), "[10. 20.]");
    /// ```
    #[track_caller]
    pub fn numpy(&self) -> NdArray {
        if self.requires_grad() {
            crate::raise!(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
            );
        }
        let shape = IxDyn(&self.shape());
        let values = match self.contiguous_buffer() {
            Buffer::F32(v) => Values::F32(ArrayD::from_shape_vec(shape, v).expect("shape matches")),
            Buffer::F64(v) => Values::F64(ArrayD::from_shape_vec(shape, v).expect("shape matches")),
            Buffer::I64(v) => Values::I64(ArrayD::from_shape_vec(shape, v).expect("shape matches")),
            Buffer::Bool(v) => Values::Bool(ArrayD::from_shape_vec(shape, v).expect("shape matches")),
        };
        NdArray(values)
    }
}

/// NumPy's `str` of a float: shortest round-trip digits, trailing zeros dropped ("10.").
fn numpy_float_parts(v: f64) -> (String, String) {
    if !v.is_finite() {
        let text = if v.is_nan() {
            "nan"
        } else if v > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        return (text.to_string(), String::new());
    }
    let text = crate::pydisplay::py_float_repr(v);
    match text.split_once('.') {
        Some((int, frac)) if !text.contains('e') => {
            let frac = frac.trim_end_matches('0');
            (int.to_string(), format!(".{frac}"))
        }
        _ => (text, String::new()),
    }
}

/// Floats as NumPy aligns them in an array: integer parts to the right, fractions to the left.
fn float_cells(values: impl Iterator<Item = f64>) -> Vec<String> {
    let parts: Vec<(String, String)> = values.map(numpy_float_parts).collect();
    let left = parts.iter().map(|p| p.0.len()).max().unwrap_or(0);
    let right = parts.iter().map(|p| p.1.len()).max().unwrap_or(0);
    parts.into_iter().map(|(i, r)| format!("{i:>left$}{r:<right$}")).collect()
}

impl fmt::Display for NdArray {
    /// NumPy's `print(array)` for the common cases: aligned columns, `[10. 20.]`,
    /// `[[1 2]\n [3 4]]`, `[ True False]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = self.shape();
        let cells: Vec<String> = match &self.0 {
            // float32 by its shortest decimal, as NumPy prints float32 arrays
            Values::F32(a) => {
                float_cells(a.iter().map(|&v| format!("{v}").parse::<f64>().unwrap_or(v as f64)))
            }
            Values::F64(a) => float_cells(a.iter().copied()),
            Values::I64(a) => {
                let texts: Vec<String> = a.iter().map(|v| v.to_string()).collect();
                let width = texts.iter().map(String::len).max().unwrap_or(0);
                texts.into_iter().map(|t| format!("{t:>width$}")).collect()
            }
            Values::Bool(a) => {
                let any_false = a.iter().any(|v| !v);
                a.iter()
                    .map(|&v| {
                        if v {
                            if any_false {
                                " True"
                            } else {
                                "True"
                            }
                        } else {
                            "False"
                        }
                        .to_string()
                    })
                    .collect()
            }
        };
        if shape.is_empty() {
            return f.write_str(cells[0].trim_start());
        }
        fn nest(cells: &[String], shape: &[usize], depth: usize) -> String {
            if shape.len() == 1 {
                return format!("[{}]", cells.join(" "));
            }
            let block = cells.len() / shape[0].max(1);
            let parts: Vec<String> = (0..shape[0])
                .map(|i| nest(&cells[i * block..(i + 1) * block], &shape[1..], depth + 1))
                .collect();
            let separator = format!("{}{}", "\n".repeat(shape.len() - 1), " ".repeat(depth + 1));
            format!("[{}]", parts.join(&separator))
        }
        f.write_str(&nest(&cells, &shape, 0))
    }
}
