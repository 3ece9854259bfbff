//! A first picture of the backward graph behind a node: one row per distance from the node,
//! backward nodes in grey, AccumulateGrad leaves in blue (with the leaf's shape), arrows
//! from each node to the nodes its gradient flows to. Deterministic: the same graph always
//! gives the same SVG text.

use std::collections::HashMap;

use crate::autograd::node::Node;

const BOX_H: f64 = 26.0;
const ROW_GAP: f64 = 50.0;
const COL_GAP: f64 = 16.0;
const CHAR_W: f64 = 7.2;
/// Larger graphs are cut off with a note, so a huge graph never floods the browser.
const MAX_NODES: usize = 200;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn label(node: &Node) -> String {
    match node.variable() {
        Some(leaf) => {
            let dims: Vec<String> = leaf.shape().iter().map(|d| d.to_string()).collect();
            format!("AccumulateGrad ({})", dims.join(", "))
        }
        None => node.name(),
    }
}

/// SVG of the graph reachable from `root` (breadth-first rows, in `next_functions` order).
pub fn graph_svg(root: &Node) -> String {
    let mut rows: Vec<Vec<Node>> = vec![vec![root.clone()]];
    let mut placed: HashMap<u64, (usize, usize)> = HashMap::from([(root.id(), (0, 0))]);
    let mut edges: Vec<(u64, u64)> = Vec::new();
    let mut truncated = false;
    let mut row = 0;
    while row < rows.len() {
        let mut next_row: Vec<Node> = Vec::new();
        for node in rows[row].clone() {
            for (child, _) in node.next_functions() {
                let Some(child) = child else { continue };
                edges.push((node.id(), child.id()));
                if placed.contains_key(&child.id()) {
                    continue;
                }
                if placed.len() >= MAX_NODES {
                    truncated = true;
                    continue;
                }
                placed.insert(child.id(), (row + 1, next_row.len()));
                next_row.push(child);
            }
        }
        if !next_row.is_empty() {
            rows.push(next_row);
        }
        row += 1;
    }
    let widths: Vec<Vec<f64>> = rows.iter().map(|r| r.iter().map(|n| label(n).len() as f64 * CHAR_W + 16.0).collect()).collect();
    let row_width = |w: &Vec<f64>| w.iter().sum::<f64>() + COL_GAP * (w.len().saturating_sub(1)) as f64;
    let width = widths.iter().map(row_width).fold(0.0, f64::max) + 20.0;
    let height = rows.len() as f64 * (BOX_H + ROW_GAP) - ROW_GAP + 20.0 + if truncated { 20.0 } else { 0.0 };
    let mut centers: HashMap<u64, (f64, f64)> = HashMap::new();
    let mut boxes = String::new();
    for (r, nodes) in rows.iter().enumerate() {
        let mut x = 10.0 + (width - 20.0 - row_width(&widths[r])) / 2.0;
        let y = 10.0 + r as f64 * (BOX_H + ROW_GAP);
        for (node, &w) in nodes.iter().zip(&widths[r]) {
            let fill = if node.is_accumulate_grad() { "#cfe2ff" } else { "#e0e0e0" };
            boxes.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{BOX_H}\" rx=\"4\" fill=\"{fill}\" stroke=\"#555\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-family=\"monospace\" font-size=\"12\" text-anchor=\"middle\">{}</text>",
                x + w / 2.0,
                y + 17.0,
                escape(&label(node))
            ));
            centers.insert(node.id(), (x + w / 2.0, y));
            x += w + COL_GAP;
        }
    }
    let mut lines = String::new();
    for (from, to) in edges {
        if let (Some(&(x1, y1)), Some(&(x2, y2))) = (centers.get(&from), centers.get(&to)) {
            lines.push_str(&format!(
                "<line x1=\"{x1:.1}\" y1=\"{:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>",
                y1 + BOX_H
            ));
        }
    }
    let note = if truncated {
        format!("<text x=\"10\" y=\"{:.1}\" font-family=\"sans-serif\" font-size=\"12\">… graph cut at {MAX_NODES} nodes</text>", height - 6.0)
    } else {
        String::new()
    };
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>{lines}{boxes}{note}</svg>"
    )
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;

    #[test]
    fn the_picture_names_every_node_and_is_deterministic() {
        let x = tensor!([1., 2.], requires_grad = true);
        let y = (x.pow(2) + &x * 3.0).sum();
        let node = y.grad_fn().unwrap();
        let svg = super::graph_svg(&node);
        for name in ["SumBackward0", "AddBackward0", "PowBackward0", "MulBackward0", "AccumulateGrad (2)"] {
            assert!(svg.contains(name), "{name} missing");
        }
        assert_eq!(svg.matches("AccumulateGrad (2)").count(), 1, "one AccumulateGrad per leaf");
        assert_eq!(svg, super::graph_svg(&node));
    }
}
