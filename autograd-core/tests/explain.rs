//! `explain`: the steps are the engine's real run (its order, its values), written out.
use autograd_core::autograd::engine::backward_order;
use autograd_core::prelude::*;

#[test]
fn the_steps_follow_the_engines_order_and_values() {
    let x = tensor!([1., 2.], requires_grad = true);
    let w = tensor!([3., 4.], requires_grad = true);
    let z = &x * &w;
    let loss = (z.pow(2) + 1.0).mean();
    let order: Vec<String> = backward_order(&loss.grad_fn().unwrap()).iter().map(|n| n.name()).collect();
    let explanation = explain(&loss);
    let ran: Vec<String> = explanation.steps().iter().map(|s| s.node.name()).collect();
    assert_eq!(ran, order);
    // the leaves got exactly what a plain backward gives
    let (x2, w2) = (tensor!([1., 2.], requires_grad = true), tensor!([3., 4.], requires_grad = true));
    ((&x2 * &w2).pow(2) + 1.0).mean().backward();
    assert_eq!(x.grad().unwrap().to_string(), x2.grad().unwrap().to_string());
    assert_eq!(w.grad().unwrap().to_string(), w2.grad().unwrap().to_string());
    // and what each leaf step shows as its new .grad is that gradient
    let leaf_after: Vec<String> = explanation
        .steps()
        .iter()
        .filter_map(|s| s.leaf.as_ref()?.after.as_ref().map(|g| g.to_string()))
        .collect();
    assert!(leaf_after.contains(&x.grad().unwrap().to_string()), "{leaf_after:?}");
    let text = explanation.to_string();
    assert!(text.starts_with("backward from MeanBackward0"), "{text}");
    assert!(text.contains("1. MeanBackward0 received grad = 1."), "{text}");
    // PowBackward0's exponent is a number it keeps outside its saved tensors: the formula is
    // written out, and the value is the engine's
    assert!(text.contains("PowBackward0 received grad = [0.5000, 0.5000]"), "{text}");
    assert!(
        text.contains("→ input 0 (MulBackward0): grad · exponent · self^(exponent-1) = [3., 8.]"),
        "{text}"
    );
    // a gradient passed on unchanged is not written twice
    assert!(text.contains("→ input 0 (PowBackward0): grad = [0.5000, 0.5000]\n"), "{text}");
}

#[test]
fn mul_shows_its_local_derivative_with_the_numbers() {
    let x = tensor!(3., requires_grad = true);
    let w = tensor!(2., requires_grad = true);
    let text = explain(&(&x * &w)).to_string();
    assert!(text.contains("1. MulBackward0 received grad = 1."), "{text}");
    assert!(
        text.contains("→ input 0 (torch::autograd::AccumulateGrad): grad · other = 1. · 2. = 2."),
        "{text}"
    );
    assert!(
        text.contains("→ input 1 (torch::autograd::AccumulateGrad): grad · self = 1. · 3. = 3."),
        "{text}"
    );
}

#[test]
fn an_input_used_twice_shows_both_contributions_and_accumulation_shows_before_and_after() {
    let y = tensor!(3., requires_grad = true);
    let text = explain(&(&y * &y)).to_string();
    // two edges from MulBackward0 to the same leaf: 3 and 3, summed into 6
    assert_eq!(text.matches("AccumulateGrad): grad · ").count(), 2, "{text}");
    assert!(text.contains(".grad of the leaf 3.: None + 6. = 6."), "{text}");
    // a second pass adds into the .grad that is there
    let again = explain(&(&y * &y)).to_string();
    assert!(again.contains(".grad of the leaf 3.: 6. + 6. = 12."), "{again}");
    assert_eq!(y.grad().unwrap().to_string(), "tensor(12.)");
}

#[test]
fn a_big_tensor_is_shown_by_its_shape_and_the_html_is_a_table() {
    let x = ones(&[3, 4]).requires_grad_(true);
    let e = explain(&(&x * 2.0).sum());
    let text = e.to_string();
    assert!(text.contains("a [3, 4] tensor"), "{text}");
    let bundle = e.mime_bundle();
    let html = &bundle.iter().find(|(m, _)| *m == "text/html").unwrap().1;
    assert!(html.contains("<table>") && html.contains("MulBackward0"), "{html}");
}
