//! Finite differences (float64) against the engine, over every differentiable op.

use autograd_core::prelude::*;

fn f64_input(values: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape, DType::Float64).requires_grad_(true)
}

type Case = (&'static str, Box<dyn Fn(&[Tensor]) -> Tensor>, Vec<Tensor>);

fn cases() -> Vec<Case> {
    let pos = || f64_input(&[0.7, 1.3, 2.1, 0.4, 1.9, 0.6], &[2, 3]);
    let any = || f64_input(&[-0.8, 0.3, 1.7, -1.2, 0.9, 0.25], &[2, 3]);
    let row = || f64_input(&[0.5, -1.5, 2.0], &[3]);
    let mat = || f64_input(&[0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, 0.8, 0.9, -1.0, 1.1, 1.2], &[3, 4]);
    vec![
        ("add", Box::new(|v| &v[0] + &v[1]), vec![any(), row()]),
        ("add scalar", Box::new(|v| 2.0 + &v[0]), vec![any()]),
        ("sub", Box::new(|v| &v[0] - &v[1]), vec![any(), row()]),
        ("rsub", Box::new(|v| 2.0 - &v[0]), vec![any()]),
        ("mul", Box::new(|v| &v[0] * &v[1]), vec![any(), row()]),
        ("div", Box::new(|v| &v[0] / &v[1]), vec![any(), pos()]),
        ("rdiv", Box::new(|v| 2.0 / &v[0]), vec![pos()]),
        ("neg", Box::new(|v| -&v[0]), vec![any()]),
        ("pow 2", Box::new(|v| v[0].pow(2)), vec![any()]),
        ("pow 3", Box::new(|v| v[0].pow(3)), vec![any()]),
        ("pow 0.5", Box::new(|v| v[0].pow(0.5)), vec![pos()]),
        ("pow -1.5", Box::new(|v| v[0].pow(-1.5)), vec![pos()]),
        ("pow tensor", Box::new(|v| v[0].pow(&v[1])), vec![pos(), any()]),
        ("rpow", Box::new(|v| v[0].rpow(2.0)), vec![any()]),
        ("exp", Box::new(|v| v[0].exp()), vec![any()]),
        ("log", Box::new(|v| v[0].log()), vec![pos()]),
        ("sin", Box::new(|v| v[0].sin()), vec![any()]),
        ("cos", Box::new(|v| v[0].cos()), vec![any()]),
        ("tanh", Box::new(|v| v[0].tanh()), vec![any()]),
        ("sigmoid", Box::new(|v| v[0].sigmoid()), vec![any()]),
        ("relu", Box::new(|v| v[0].relu()), vec![any()]),
        ("sqrt", Box::new(|v| v[0].sqrt()), vec![pos()]),
        ("abs", Box::new(|v| v[0].abs()), vec![any()]),
        ("reciprocal", Box::new(|v| v[0].reciprocal()), vec![pos()]),
        ("clamp", Box::new(|v| v[0].clamp(Some(-0.5), Some(1.0))), vec![any()]),
        ("maximum", Box::new(|v| v[0].maximum(&v[1])), vec![any(), pos()]),
        ("minimum", Box::new(|v| v[0].minimum(&v[1])), vec![any(), pos()]),
        ("sum", Box::new(|v| v[0].sum()), vec![any()]),
        ("sum dim", Box::new(|v| v[0].sum_dim(1, false)), vec![any()]),
        ("sum dims keepdim", Box::new(|v| v[0].sum_dim([0, 1], true)), vec![any()]),
        ("mean", Box::new(|v| v[0].mean()), vec![any()]),
        ("mean dim", Box::new(|v| v[0].mean_dim(-1, true)), vec![any()]),
        ("norm", Box::new(|v| v[0].norm()), vec![any()]),
        ("max", Box::new(|v| v[0].max()), vec![any()]),
        ("min", Box::new(|v| v[0].min()), vec![any()]),
        ("dot", Box::new(|v| v[0].dot(&v[1])), vec![row(), row()]),
        ("mm", Box::new(|v| v[0].matmul(&v[1])), vec![any(), mat()]),
        ("mv", Box::new(|v| v[0].matmul(&v[1])), vec![any(), row()]),
        ("vm", Box::new(|v| v[0].matmul(&v[1])), vec![row(), mat()]),
        ("batched @ matrix", Box::new(|v| v[0].reshape([1, 2, 3]).matmul(&v[1])), vec![any(), mat()]),
        ("reshape", Box::new(|v| v[0].reshape([3, -1]).pow(2)), vec![any()]),
        ("t", Box::new(|v| v[0].t().matmul(&v[0])), vec![any()]),
        ("T", Box::new(|v| &v[0].T() * 2.0), vec![any()]),
        ("transpose", Box::new(|v| v[0].transpose(0, 1).exp()), vec![any()]),
        ("permute", Box::new(|v| v[0].reshape([1, 2, 3]).permute([2, 0, 1]).sin()), vec![any()]),
        ("unsqueeze/squeeze", Box::new(|v| v[0].unsqueeze(1).squeeze().pow(2)), vec![any()]),
        ("expand", Box::new(|v| v[0].unsqueeze(0).expand([4, 3]) * 1.5), vec![row()]),
        ("select", Box::new(|v| v[0].select(1, -1) * 3.0), vec![any()]),
        ("index", Box::new(|v| v[0].index(idx![.., 1..3]).exp()), vec![any()]),
        ("at", Box::new(|v| v[0].at(&[1, 2]).pow(3)), vec![any()]),
        ("deep_clone", Box::new(|v| v[0].deep_clone() * &v[0]), vec![any()]),
        ("cat", Box::new(|v| cat(&[&v[0], &v[1].unsqueeze(0)], 0).sin()), vec![any(), row()]),
        ("stack", Box::new(|v| stack(&[&v[0], &v[1]], 1).cos()), vec![row(), row()]),
        ("masked_fill", Box::new(|v| v[0].masked_fill(&v[0].gt(0.5), 0.0) * 2.0), vec![any()]),
        ("chain", Box::new(|v| ((&v[0] * &v[1]).tanh() + v[0].sigmoid()).mean()), vec![any(), any()]),
    ]
}

#[test]
fn every_differentiable_op_matches_finite_differences() {
    let mut failures = Vec::new();
    for (name, f, inputs) in cases() {
        if let Err(e) = gradcheck_report(|v| f(v), &inputs) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn second_derivatives_match_finite_differences_of_the_first() {
    // grad of (d/dx f) compared numerically: gradcheck over a function that itself calls grad
    let x = Tensor::from_vec(vec![0.3, -0.7, 1.1], &[3], DType::Float64).requires_grad_(true);
    let first = |v: &[Tensor]| {
        let y = (v[0].pow(3) * v[0].sin()).sum();
        grad(&[&y], &[&v[0]], true).remove(0)
    };
    assert!(gradcheck(first, &[x]));
}

#[test]
fn gradcheck_reports_a_wrong_backward() {
    struct Wrong;
    impl Function for Wrong {
        fn forward(&mut self, _: &mut Context, inputs: &[Tensor]) -> Tensor {
            inputs[0].pow(2)
        }
        fn backward(&mut self, _: &mut Context, g: &Tensor) -> Vec<Option<Tensor>> {
            vec![Some(g * 3.0)]
        }
    }
    let x = Tensor::from_vec(vec![1.0, 2.0], &[2], DType::Float64).requires_grad_(true);
    let err = gradcheck_report(|v| Wrong.apply(&[&v[0]]), &[x]).unwrap_err();
    assert!(err.message.starts_with("Jacobian mismatch for output 0 with respect to input 0"), "{}", err.message);
}
