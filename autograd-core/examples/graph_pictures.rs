//! Writes a few graph pictures as SVG files, and two `step_backward` outputs as HTML pages (with
//! their controls, as in a trusted notebook), into a folder (default `graph-pictures/`), to look
//! at them in a browser: `cargo run -p autograd-core --example graph_pictures -- /tmp/pics`.

use autograd_core::prelude::*;

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "graph-pictures".into());
    std::fs::create_dir_all(&dir).expect("create the output folder");
    let write = |name: &str, picture: GraphPicture| {
        std::fs::write(format!("{dir}/{name}.svg"), picture.svg()).expect("write svg");
        println!("{name}:\n{}\n", picture.text());
    };
    let x = ones_with(&[2, 2], TensorOptions::default().requires_grad(true));
    let y = &x + 2.0;
    let z = &y * &y * 3.0;
    let out = z.mean();
    write("tutorial-before", draw_graph(&out));
    write("tutorial-forward", draw_forward(&out));
    out.backward();
    write("tutorial-after", draw_graph(&out));

    let page = |name: &str, stepper: BackwardStepper| {
        let html = stepper.mime_bundle().into_iter().find(|(m, _)| *m == "text/html").expect("html").1;
        let page = format!(
            "<!doctype html><meta charset=\"utf-8\"><body style=\"font-family:sans-serif\">{html}</body>"
        );
        std::fs::write(format!("{dir}/{name}.html"), page).expect("write html");
        println!("{name}:\n{stepper}\n");
    };
    let x = ones_with(&[2, 2], TensorOptions::default().requires_grad(true));
    let y = &x + 2.0;
    page("step-tutorial", step_backward(&(&y * &y * 3.0).mean()));
    let m = tensor!([[2., 3.]], requires_grad = true);
    let n = zeros(&[1, 2]);
    n.assign(idx![0, 0], &m.at(&[0, 0]).pow(2));
    n.assign(idx![0, 1], &m.at(&[0, 1]).pow(3));
    page("step-copyslices", step_backward(&n.sum()));

    let a = tensor!([1., 2., 3.], requires_grad = true);
    let b = tensor!(0.5, requires_grad = true);
    let loss = ((&a * &b).sigmoid() + a.pow(2)).sum();
    write("two-leaves", draw_graph(&loss));

    let mut w = tensor!([1.], requires_grad = true);
    let start = w.clone();
    for _ in 0..5000 {
        w = &w * 1.0001 + 0.0;
    }
    let t = std::time::Instant::now();
    let big = draw_graph(&w);
    let svg = big.svg();
    println!("10k-node graph: {} bytes of SVG in {:.3} s", svg.len(), t.elapsed().as_secs_f64());
    write("ten-thousand", big);
    drop(start);
}
