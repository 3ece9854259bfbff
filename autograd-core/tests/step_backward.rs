//! `step_backward`: the states are the engine's real run, in its order, each with its picture;
//! every step stays in the output when a sanitiser removes the script.
use autograd_core::autograd::engine::backward_order;
use autograd_core::prelude::*;

/// The `text/html` of a value.
fn html_of(value: &dyn NotebookDisplay) -> String {
    value.mime_bundle().into_iter().find(|(m, _)| *m == "text/html").unwrap().1
}

/// The bold title texts of an SVG's boxes, in drawing order, and the one outlined in red.
fn outlined_node(svg: &str) -> Option<String> {
    let at = svg.find("stroke=\"#d62728\"")?;
    let rest = &svg[at..];
    let title = rest.find("font-weight=\"bold\" text-anchor=\"middle\"")?;
    let text = &rest[title..];
    let start = text.find('>')? + 1;
    let end = text.find("</text>")?;
    Some(text[start..end].to_string())
}

#[test]
fn one_state_per_node_in_the_engines_order_with_the_node_outlined() {
    let x = tensor!([1., 2.], requires_grad = true);
    let w = tensor!([3., 4.], requires_grad = true);
    let loss = (&x * &w).sum();
    let order: Vec<String> = backward_order(&loss.grad_fn().unwrap()).iter().map(|n| n.name()).collect();
    let stepper = step_backward(&loss);
    let ran: Vec<String> = stepper.steps().iter().map(|s| s.node.name()).collect();
    assert_eq!(ran, order);
    assert_eq!(stepper.step_svgs().len(), order.len());
    for (svg, name) in stepper.step_svgs().iter().zip(&order) {
        let shown = if name.ends_with("AccumulateGrad") { "AccumulateGrad" } else { name.as_str() };
        assert_eq!(outlined_node(svg).as_deref(), Some(shown), "{svg}");
        assert_eq!(svg.matches("stroke=\"#d62728\"").count(), 1);
    }
    // the .grads are a plain backward's
    let (x2, w2) = (tensor!([1., 2.], requires_grad = true), tensor!([3., 4.], requires_grad = true));
    (&x2 * &w2).sum().backward();
    assert_eq!(x.grad().unwrap().to_string(), x2.grad().unwrap().to_string());
    assert_eq!(w.grad().unwrap().to_string(), w2.grad().unwrap().to_string());
}

#[test]
fn edges_carry_the_engines_values_once_reached_and_say_not_computed_yet_before() {
    let x = tensor!(3., requires_grad = true);
    let w = tensor!(2., requires_grad = true);
    let stepper = step_backward(&(&x * &w));
    let svgs = stepper.step_svgs();
    assert_eq!(svgs.len(), 3);
    // step 1: MulBackward0 runs; what it sends (grad · other = 2, grad · self = 3) is on its
    // edges already, and both leaves still have no .grad
    assert!(svgs[0].contains(">2.</text>") && svgs[0].contains(">3.</text>"), "{}", svgs[0]);
    assert_eq!(svgs[0].matches("grad: not computed yet").count(), 2 + 1, "two leaves + the legend");
    // the values on the edges are what the engine sent, recorded while it ran
    let sent: Vec<String> = stepper.steps()[0].sent.iter().map(|g| g.as_ref().unwrap().to_string()).collect();
    assert_eq!(sent, ["tensor(2.)", "tensor(3.)"]);
    // the last step: every leaf has its .grad
    assert!(svgs[2].contains("grad: 2.") && svgs[2].contains("grad: 3."), "{}", svgs[2]);
    assert_eq!(svgs[2].matches("grad: not computed yet").count(), 1, "the legend only");
    // a pending edge is dashed and says so; none is ever labelled 0
    let z = tensor!(1., requires_grad = true);
    let deep = step_backward(&((&z * 2.0).exp() * 3.0));
    let first = &deep.step_svgs()[0];
    assert!(
        first.contains("stroke-dasharray=\"5 4\"") && first.contains(">not computed yet</text>"),
        "{first}"
    );
    assert!(!first.contains(">0.</text>"), "{first}");
    let last = deep.step_svgs().last().unwrap();
    assert!(!last.contains(">not computed yet</text>"), "{last}");
}

#[test]
fn an_input_used_twice_has_two_edges_with_a_contribution_each() {
    let y = tensor!(3., requires_grad = true);
    let stepper = step_backward(&(&y * &y));
    let svg = &stepper.step_svgs()[0];
    // two curves from MulBackward0 to the one leaf, each labelled 3.
    assert_eq!(svg.matches("paint-order=\"stroke\" font-weight=\"bold\">3.</text>").count(), 2, "{svg}");
    let paths: Vec<&str> = svg.split("<path d=\"").skip(1).map(|p| &p[..p.find('"').unwrap()]).collect();
    assert_eq!(paths.len(), 3, "output→Mul, Mul→leaf twice: {paths:?}");
    assert_ne!(paths[1], paths[2], "the two edges are drawn apart");
    // the leaf's step shows the two contributions summed
    assert!(stepper.to_string().contains(".grad of the leaf 3.: None + 6. = 6."));
    // and draw_graph also draws the two edges apart
    let again = (&y * &y).sum();
    let picture = draw_graph(&again).svg();
    let paths: Vec<&str> = picture.split("<path d=\"").skip(1).map(|p| &p[..p.find('"').unwrap()]).collect();
    assert_eq!(paths.len(), 4);
    assert_ne!(paths[2], paths[3]);
}

#[test]
fn a_second_pass_shows_the_grad_before_and_after() {
    let x = tensor!([1., 2.], requires_grad = true);
    step_backward(&(&x * 2.0).sum());
    let stepper = step_backward(&(&x * 2.0).sum());
    let svgs = stepper.step_svgs();
    // before the leaf's step its box shows the .grad of the first pass; after, the sum
    assert!(svgs[0].contains("grad: [2., 2.]"), "{}", svgs[0]);
    assert!(svgs.last().unwrap().contains("grad: [4., 4.]"));
    assert!(stepper.to_string().contains("[2., 2.] + [2., 2.] = [4., 4.]"));
}

#[test]
fn every_step_is_in_the_html_and_visible_without_the_script() {
    let x = tensor!([1., 2.], requires_grad = true);
    let stepper = step_backward(&x.exp().sum());
    let html = html_of(&stepper);
    let n = stepper.steps().len();
    assert_eq!(html.matches("class=\"autograd-step\"").count(), n);
    assert_eq!(html.matches("<img alt=\"step ").count(), n);
    // nothing is hidden in the HTML itself: only the script (trusted output) hides steps
    let (before_script, script) = html.split_at(html.find("<script>").unwrap());
    assert!(!before_script.contains("display:none"), "{before_script}");
    for action in ["first", "previous", "play", "next", "last"] {
        assert!(script.contains(&format!("'{action}'")), "{action}");
    }
    assert!(script.contains("ArrowRight") && script.contains("document.currentScript"));
    // the same pass gives the same bytes (no generated ids), so saved notebooks compare
    let y = tensor!([1., 2.], requires_grad = true);
    assert_eq!(html, html_of(&step_backward(&y.exp().sum())));
    assert!(stepper.to_string().contains("ExpBackward0 received grad = [1., 1.]"));
}

#[test]
fn big_graphs_get_text_steps_and_huge_ones_the_summary_with_a_note() {
    let x = tensor!(1., requires_grad = true);
    let mut y = x.clone();
    for _ in 0..60 {
        y = &y * 1.0;
    }
    let stepper = step_backward(&y);
    assert!(stepper.step_svgs().is_empty());
    let html = html_of(&stepper);
    assert!(html.contains("61 nodes"), "{html}");
    assert_eq!(html.matches("class=\"autograd-step\"").count(), 61);
    assert_eq!(html.matches("<img ").count(), 1, "one picture of the whole graph");
    let mut z = x.clone();
    for _ in 0..300 {
        z = &z * 1.0;
    }
    let huge = step_backward(&z);
    let html = html_of(&huge);
    assert!(html.contains("too large to step through") && !html.contains("autograd-step\""), "{html}");
    assert!(huge.to_string().contains("too large to draw"));
    assert_eq!(huge.steps().len(), 301);
    assert_eq!(x.grad().unwrap().to_string(), "tensor(2.)");
}

#[test]
fn named_tensors_carry_their_names_into_every_picture_and_the_steps() {
    let x = tensor!([1., 2.], requires_grad = true);
    x.set_label("x");
    let y = &x * &x;
    y.set_label("y");
    let loss = y.sum();
    loss.set_label("loss");
    let text = draw_graph(&loss).text();
    assert!(text.contains("MulBackward0 (y)") && text.contains("AccumulateGrad (x)"), "{text}");
    let svg = draw_forward(&loss).svg();
    assert!(svg.contains("fill=\"#0b3d91\">x</text>") && svg.contains(">loss</text>"), "{svg}");
    let node_html =
        y.grad_fn().unwrap().mime_bundle().into_iter().find(|(m, _)| *m == "text/html").unwrap().1;
    assert!(node_html.contains("%3Ey%3C/text%3E"), "the node picture names y");
    let stepper = step_backward(&loss);
    assert!(stepper.step_svgs()[0].contains("fill=\"#0b3d91\">y</text>"));
    let steps = stepper.to_string();
    assert!(steps.contains("2. MulBackward0 of y received grad = [1., 1.]"), "{steps}");
    assert!(steps.contains("→ input 0 (torch::autograd::AccumulateGrad of x): grad · other"), "{steps}");
    assert!(steps.contains("x.grad: None + [2., 4.] = [2., 4.]"), "{steps}");
    // an in-place op moves the name with the tensor's history
    let z = &x * 1.0;
    z.set_label("z");
    z.mul_(2.0);
    assert!(draw_graph(&z).text().contains("MulBackward0 (z)"));
}

#[test]
fn any_graph_steps_custom_functions_a_leaf_alone_and_the_engines_errors() {
    struct Triple;
    impl Function for Triple {
        fn forward(&mut self, _ctx: &mut Context, inputs: &[Tensor]) -> Tensor {
            &inputs[0] * 3.0
        }
        fn backward(&mut self, _ctx: &mut Context, grad_output: &Tensor) -> Vec<Option<Tensor>> {
            vec![Some(grad_output * 3.0)]
        }
    }
    let a = tensor!([1., 2.], requires_grad = true);
    let m = tensor!([[1., 0.], [0., 2.]], requires_grad = true);
    let out = Triple.apply(&[&a]).matmul(&m).sigmoid().sum();
    let stepper = step_backward(&out);
    let names: Vec<String> = stepper.steps().iter().map(|s| s.node.name()).collect();
    assert!(names.contains(&"TripleBackward".to_string()), "{names:?}");
    assert_eq!(stepper.step_svgs().len(), names.len());
    let (a2, m2) =
        (tensor!([1., 2.], requires_grad = true), tensor!([[1., 0.], [0., 2.]], requires_grad = true));
    Triple.apply(&[&a2]).matmul(&m2).sigmoid().sum().backward();
    assert_eq!(a.grad().unwrap().to_string(), a2.grad().unwrap().to_string());
    assert_eq!(m.grad().unwrap().to_string(), m2.grad().unwrap().to_string());
    // a leaf on its own: one step, its AccumulateGrad
    let leaf = tensor!(2., requires_grad = true);
    let alone = step_backward(&leaf);
    assert_eq!(alone.steps().len(), 1);
    assert!(alone.to_string().contains("None + 1. = 1."), "{alone}");
    // what backward refuses, step_backward refuses with the same words
    let message = |f: &dyn Fn()| {
        let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_err();
        let error = autograd_core::error::TorchError::from_payload(payload.as_ref());
        format!("{}: {}", error.kind, error.message)
    };
    let plain = tensor!([1., 2.]);
    let refused = message(&|| {
        step_backward(&plain.sum());
    });
    assert!(refused.contains("element 0 of tensors does not require grad"), "{refused}");
    let twice = (&a * 2.0).sum();
    step_backward(&twice);
    let again = message(&|| {
        step_backward(&twice);
    });
    assert!(again.contains("Trying to backward through the graph a second time"), "{again}");
}
