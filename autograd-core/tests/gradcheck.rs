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
    let mut cases: Vec<Case> = vec![
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
    ];
    cases.extend(new_op_cases());
    cases
}

/// The ops added for issue 11 ("the missing API"); the same rows are checked for second
/// derivatives below.
fn new_op_cases() -> Vec<Case> {
    let pos = || f64_input(&[0.7, 1.3, 2.1, 0.4, 1.9, 0.6], &[2, 3]);
    let any = || f64_input(&[-0.8, 0.3, 1.7, -1.2, 0.9, 0.25], &[2, 3]);
    let row = || f64_input(&[0.5, -1.5, 2.0], &[3]);
    let cube = || f64_input(&[0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, 0.8, -0.9, 1.0, 1.1, -1.2], &[2, 2, 3]);
    let cond = || Tensor::from_bools(vec![true, false, true], &[3]);
    let long = |v: &[i64], shape: &[usize]| Tensor::from_i64(v.to_vec(), shape);
    vec![
        ("neg()", Box::new(|v| v[0].neg()), vec![any()]),
        ("where_", Box::new(move |v| where_(&cond(), &v[0], &v[1])), vec![any(), row()]),
        ("add_alpha", Box::new(|v| v[0].add_alpha(&v[1], 2.7)), vec![any(), row()]),
        ("sub_alpha", Box::new(|v| v[0].sub_alpha(&v[1], -0.3)), vec![any(), row()]),
        ("norm_p 1", Box::new(|v| v[0].norm_p(1.0)), vec![any()]),
        ("norm_p 2", Box::new(|v| v[0].norm_p(2.0)), vec![any()]),
        ("norm_p 3", Box::new(|v| v[0].norm_p(3.0)), vec![any()]),
        ("norm_p 1.5", Box::new(|v| v[0].norm_p(1.5)), vec![any()]),
        ("norm_p 0.5", Box::new(|v| v[0].norm_p(0.5)), vec![any()]),
        ("norm_p inf", Box::new(|v| v[0].norm_p(f64::INFINITY)), vec![any()]),
        ("norm_dim", Box::new(|v| v[0].norm_dim(2.0, 1, false)), vec![any()]),
        ("norm_dim keepdim p=3", Box::new(|v| v[0].norm_dim(3.0, 0, true)), vec![any()]),
        ("max_dim", Box::new(|v| v[0].max_dim(1, false).0), vec![any()]),
        ("min_dim keepdim", Box::new(|v| v[0].min_dim(0, true).0), vec![any()]),
        ("prod", Box::new(|v| v[0].prod()), vec![any()]),
        ("prod_dim", Box::new(|v| v[0].prod_dim(1, false)), vec![any()]),
        (
            "prod with a zero",
            Box::new(|v| v[0].prod()),
            vec![f64_input(&[0.0, 0.3, 1.7, -1.2, 0.9, 0.25], &[2, 3])],
        ),
        (
            "prod_dim with zeros",
            Box::new(|v| v[0].prod_dim(1, true)),
            vec![f64_input(&[0.0, 0.3, 0.0, -1.2, 0.9, 0.25], &[2, 3])],
        ),
        ("std", Box::new(|v| v[0].std()), vec![any()]),
        ("var", Box::new(|v| v[0].var()), vec![any()]),
        ("std_dim", Box::new(|v| v[0].std_dim(1, false)), vec![any()]),
        ("var_dim keepdim", Box::new(|v| v[0].var_dim(0, true)), vec![any()]),
        ("cumsum", Box::new(|v| v[0].cumsum(1)), vec![any()]),
        ("cumsum dim 0", Box::new(|v| v[0].cumsum(0)), vec![any()]),
        ("softmax", Box::new(|v| v[0].softmax(1)), vec![any()]),
        ("softmax dim 0", Box::new(|v| v[0].softmax(0)), vec![any()]),
        ("log_softmax", Box::new(|v| v[0].log_softmax(-1)), vec![any()]),
        ("index_select", Box::new(move |v| v[0].index_select(1, &long(&[2, 0, 2], &[3]))), vec![any()]),
        ("gather", Box::new(move |v| v[0].gather(1, &long(&[0, 0, 2, 1], &[2, 2]))), vec![any()]),
        (
            "scatter",
            Box::new(move |v| v[0].scatter(1, &long(&[0, 2, 2, 1], &[2, 2]), &v[1])),
            vec![pos(), f64_input(&[1., 2., 3., 4.], &[2, 2])],
        ),
        ("index_with long", Box::new(move |v| v[0].index_with(&long(&[1, 0, -1], &[3]))), vec![any()]),
        ("index_with mask", Box::new(|v| v[0].index_with(&v[0].gt(0.0))), vec![any()]),
        ("bmm", Box::new(|v| v[0].bmm(&v[1].transpose(1, 2))), vec![cube(), cube()]),
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
    assert!(
        err.message.starts_with("Jacobian mismatch for output 0 with respect to input 0"),
        "{}",
        err.message
    );
}

#[test]
fn new_ops_second_derivatives_match_finite_differences() {
    // gradcheck of x -> d/dx sum(w * f(x)) (create_graph), for every row of new_op_cases
    let mut failures = Vec::new();
    for (name, f, inputs) in new_op_cases() {
        let first = |v: &[Tensor]| {
            let y = f(v);
            let weights = Tensor::from_vec(
                (0..y.numel()).map(|k| 0.5 + 0.25 * k as f64).collect(),
                &y.shape(),
                DType::Float64,
            );
            let total = (&y * &weights).sum();
            let wrt: Vec<&Tensor> = v.iter().filter(|t| t.requires_grad()).collect();
            let grads = grad_opts(&[&total], &wrt, None, true, true, true);
            let parts: Vec<Tensor> = grads.into_iter().flatten().map(|g| g.reshape([-1])).collect();
            let refs: Vec<&Tensor> = parts.iter().collect();
            cat(&refs, 0)
        };
        if !first(&inputs).requires_grad() {
            // a linear op: its first derivative does not depend on x, so the second is zero;
            // check that the first is the same at another point
            let moved: Vec<Tensor> =
                inputs.iter().map(|t| (t.detach() + 0.125).requires_grad_(t.requires_grad())).collect();
            if !first(&inputs).equal(&first(&moved)) {
                failures.push(format!("{name}: the first derivative has no history but changes with x"));
            }
            continue;
        }
        if let Err(e) = gradcheck_report(first, &inputs) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
