//! Writes a few graph pictures as SVG files into a folder (default `graph-pictures/`), to look
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
