//! `gradcheck`: compares the gradients the engine computes with finite differences, in
//! float64, like `torch.autograd.gradcheck`. Handy in class: write a function, check its
//! derivative.

use crate::autograd::engine::grad_opts;
use crate::autograd::grad_mode::no_grad;
use crate::dtype::DType;
use crate::tensor::Tensor;

/// Step and tolerances of torch's gradcheck.
const EPS: f64 = 1e-6;
const ATOL: f64 = 1e-5;
const RTOL: f64 = 1e-3;

/// Where analytical and numerical Jacobians disagree.
#[derive(Debug, Clone)]
pub struct GradcheckError {
    pub message: String,
}

impl std::fmt::Display for GradcheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn jacobian_text(rows: &[Vec<f64>]) -> String {
    let body: Vec<String> = rows
        .iter()
        .map(|r| format!("[{}]", r.iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>().join(", ")))
        .collect();
    format!("tensor([{}], dtype=torch.float64)", body.join(",\n        "))
}

/// Checks `f`'s gradients at `inputs` and reports the first mismatch.
///
/// Every input that requires grad is differentiated; they are copied to float64 first.
pub fn gradcheck_report(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) -> Result<(), GradcheckError> {
    let inputs: Vec<Tensor> = inputs
        .iter()
        .map(|t| {
            let copy = t.detach().to_dtype(DType::Float64).deep_clone().detach();
            if t.requires_grad() {
                copy.requires_grad_(true)
            } else {
                copy
            }
        })
        .collect();
    let output = f(&inputs);
    let out_n = output.numel();
    let out_shape = output.shape();
    for (index, input) in inputs.iter().enumerate().filter(|(_, t)| t.requires_grad()) {
        let n = input.numel();
        // analytical: one backward per output element
        let mut analytical = vec![vec![0.0; out_n]; n];
        for o in 0..out_n {
            let mut onehot = vec![0.0; out_n];
            onehot[o] = 1.0;
            let g = Tensor::from_vec(onehot, &out_shape, output.dtype());
            let grads = grad_opts(&[&output], &[input], Some(&[&g]), true, false, true);
            if let Some(gi) = &grads[0] {
                for (k, v) in gi.to_vec_f64().into_iter().enumerate() {
                    analytical[k][o] = v;
                }
            }
        }
        // numerical: central differences, one input element at a time
        let mut numerical = vec![vec![0.0; out_n]; n];
        let flat = input.detach();
        for (k, row) in numerical.iter_mut().enumerate() {
            let original = flat.to_vec_f64()[k];
            let eval = |value: f64| {
                let mut values = flat.to_vec_f64();
                values[k] = value;
                no_grad(|| flat.set_data(&Tensor::from_vec(values, &flat.shape(), DType::Float64)));
                input.set_data(&flat);
                f(&inputs).to_vec_f64()
            };
            let plus = eval(original + EPS);
            let minus = eval(original - EPS);
            eval(original);
            for o in 0..out_n {
                row[o] = (plus[o] - minus[o]) / (2.0 * EPS);
            }
        }
        for k in 0..n {
            for o in 0..out_n {
                let (a, b) = (analytical[k][o], numerical[k][o]);
                if (a - b).abs() > ATOL + RTOL * b.abs() {
                    return Err(GradcheckError {
                        message: format!(
                            "Jacobian mismatch for output 0 with respect to input {index},\nnumerical:{}\nanalytical:{}\n",
                            jacobian_text(&numerical),
                            jacobian_text(&analytical)
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

/// `torch.autograd.gradcheck(f, inputs)`: true when the engine's gradients match finite
/// differences; panics with both Jacobians otherwise.
///
/// ```
/// use autograd_core::prelude::*;
/// let x = randn_with(&[3], TensorOptions::default().dtype(DType::Float64).requires_grad(true));
/// assert!(gradcheck(|v| (v[0].sin() * &v[0]).sum(), &[x]));
/// ```
#[track_caller]
pub fn gradcheck(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) -> bool {
    match gradcheck_report(f, inputs) {
        Ok(()) => true,
        // torch raises GradcheckError, a RuntimeError
        Err(e) => crate::raise!("{}", e.message),
    }
}
