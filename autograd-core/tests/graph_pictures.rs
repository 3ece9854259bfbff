//! The graph picture: snapshot tests of the SVG for a few fixed graphs (regenerate with
//! `UPDATE_SNAPSHOTS=1 cargo test -p autograd-core --test graph_pictures` and review the diff),
//! plus the properties a teacher relies on: numbered steps in the engine's order, gradients
//! that are "not computed yet" until backward, and nothing a sanitiser would strip.

use std::path::PathBuf;

use autograd_core::prelude::*;

fn check_snapshot(name: &str, svg: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(format!("{name}.svg"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, svg).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing snapshot {}; run with UPDATE_SNAPSHOTS=1", path.display()));
    assert!(expected == svg, "{name}.svg changed; run with UPDATE_SNAPSHOTS=1 and review the diff");
}

/// The first tutorial's graph: out = mean(3 (x + 2)^2).
fn tutorial() -> (Tensor, Tensor) {
    let x = ones_with(&[2, 2], TensorOptions::default().requires_grad(true));
    let y = &x + 2.0;
    let z = &y * &y * 3.0;
    (x, z.mean())
}

fn sanitiser_safe(svg: &str) {
    for banned in ["<script", "url(", " id=", "<style", "<foreignObject", "href"] {
        assert!(!svg.contains(banned), "{banned} in the SVG");
    }
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
}

#[test]
fn tutorial_graph_before_and_after_backward() {
    let (_x, out) = tutorial();
    let before = draw_graph(&out);
    let svg = before.svg();
    sanitiser_safe(&svg);
    for label in [
        "MeanBackward0",
        "MulBackward0",
        "AddBackward0",
        "AccumulateGrad",
        "(2, 2) float32",
        "[[1., 1.], [1., 1.]]",
        "grad: not computed yet",
        "saved self",
        "output tensor",
        "step of the backward pass",
    ] {
        assert!(svg.contains(label), "{label} missing");
    }
    assert_eq!(svg, draw_graph(&out).svg(), "same graph, same bytes");
    check_snapshot("tutorial-before", &svg);

    out.backward();
    let after = draw_graph(&out).svg();
    assert!(after.contains("grad: [[4.5000, 4.5000], [4.5000, 4.5000]]"));
    assert!(!after.contains("grad: not computed yet</text><circle"), "the leaf's gradient is computed now");
    assert!(!after.contains("saved self"), "saved tensors are freed by backward");
    check_snapshot("tutorial-after", &after);
}

#[test]
fn steps_follow_the_engine_order() {
    let a = tensor!([1., 2., 3.], requires_grad = true);
    let b = tensor!(0.5, requires_grad = true);
    let loss = ((&a * &b).sigmoid() + a.pow(2)).sum();
    let picture = draw_graph(&loss);
    let order: Vec<String> = backward_order(&loss.grad_fn().unwrap()).iter().map(|n| n.name()).collect();
    let text = picture.text();
    for (k, name) in order.iter().enumerate() {
        let short = if name.ends_with("AccumulateGrad") { "AccumulateGrad" } else { name.as_str() };
        assert!(text.contains(&format!("{}. {short}", k + 1)), "step {} should be {short}:\n{text}", k + 1);
    }
    check_snapshot("two-leaves", &picture.svg());
}

#[test]
fn forward_view_numbers_operations_as_they_ran() {
    let (_x, out) = tutorial();
    let picture = draw_forward(&out);
    let text = picture.text();
    assert!(
        text.contains("1. Add")
            && text.contains("2. Mul")
            && text.contains("3. Mul")
            && text.contains("4. Mean"),
        "{text}"
    );
    let svg = picture.svg();
    sanitiser_safe(&svg);
    assert!(svg.contains(">result<") && svg.contains(">leaf<"));
    check_snapshot("tutorial-forward", &svg);
}

#[test]
fn a_huge_graph_is_summarised() {
    let mut w = tensor!([1.], requires_grad = true);
    let leaf = w.clone();
    for _ in 0..5000 {
        w = &w * 1.0001 + 0.0;
    }
    let picture = draw_graph(&w);
    let svg = picture.svg();
    assert!(svg.len() < 10_000, "a summary, not 10,000 boxes");
    assert!(svg.contains("too large to draw") && svg.contains("10001 nodes"));
    assert!(picture.text().contains("5000 × MulBackward0"));
    check_snapshot("ten-thousand-nodes", &svg);
    drop(leaf);
}

#[test]
fn nodes_show_their_picture_in_the_notebook_bundle() {
    let x = tensor!([1., 2.], requires_grad = true);
    let node = (&x * 2.0).grad_fn().unwrap();
    let bundle = node.mime_bundle();
    let mimes: Vec<&str> = bundle.iter().map(|(m, _)| *m).collect();
    assert_eq!(mimes, ["text/plain", "text/html", "image/svg+xml"]);
    assert!(bundle[0].1.starts_with("<MulBackward0 at 0x"));
    // the HTML carries the picture as an image (untrusted notebooks strip inline <svg>)
    assert!(bundle[1]
        .1
        .contains("<img alt=\"backward graph of MulBackward0\" src=\"data:image/svg+xml,%3Csvg "));
    assert!(!bundle[1].1.contains("<svg"));
    assert!(bundle[2].1.contains("MulBackward0"));
    let picture = draw_graph(&x).mime_bundle();
    assert!(picture[0].1.contains("backward graph"));
}
