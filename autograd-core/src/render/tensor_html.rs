//! The HTML view of a tensor: badges for shape, dtype, requires_grad and grad_fn, then the
//! values as tables: a row for 1-D, a grid for 2-D, one grid per leading index for more dims,
//! each cell shaded gently by its value. Large tensors are summarised exactly where the repr
//! summarises them (the same `...` gaps, the same number text). Plain HTML with inline
//! styles only, so it shows in untrusted notebooks too.

use super::escape;
use crate::autograd::node::Node;
use crate::repr::PrintedElements;
use crate::tensor::Tensor;

fn badge(label: &str, value: &str, colour: &str) -> String {
    format!(
        "<span style=\"display:inline-block;margin:0 4px 4px 0;padding:1px 6px;border-radius:8px;\
         background:{colour};font:12px monospace\">{label}: <b>{}</b></span>",
        escape(value)
    )
}

const CELL: &str = "padding:2px 6px;text-align:right;border:1px solid #e4e4e4";
const GAP: &str = "padding:2px 6px;text-align:center;color:#888;border:1px solid #e4e4e4";

/// Shading from the smallest to the largest shown value.
struct Shade {
    lo: f64,
    hi: f64,
}

impl Shade {
    fn background(&self, v: f64) -> String {
        let t = if self.hi > self.lo && v.is_finite() { (v - self.lo) / (self.hi - self.lo) } else { 0.0 };
        format!("rgba(70,130,180,{:.2})", 0.04 + 0.36 * t)
    }
}

/// All index tuples shown for the leading `dims` dims (`None` marks a `...` gap).
fn leading_indices(p: &PrintedElements, dims: usize) -> Vec<Option<Vec<usize>>> {
    let mut out: Vec<Option<Vec<usize>>> = vec![Some(Vec::new())];
    for d in 0..dims {
        let mut next = Vec::new();
        for prefix in out {
            match prefix {
                None => next.push(None),
                Some(prefix) => {
                    for i in p.shown(d) {
                        match i {
                            None => {
                                if next.last().is_some_and(|l: &Option<Vec<usize>>| l.is_some()) {
                                    next.push(None)
                                }
                            }
                            Some(i) => {
                                let mut idx = prefix.clone();
                                idx.push(i);
                                next.push(Some(idx));
                            }
                        }
                    }
                }
            }
        }
        out = next;
    }
    out
}

/// One 2-D (or 1-D, as a single row) table at the given leading index.
fn grid(p: &PrintedElements, prefix: &[usize], rank: usize, shade: &Shade) -> String {
    let rows: Vec<Option<usize>> =
        if rank - prefix.len() == 2 { p.shown(rank - 2) } else { vec![Some(usize::MAX)] };
    let cols = p.shown(rank - 1);
    let mut html =
        String::from("<table style=\"border-collapse:collapse;font:12px monospace;margin:2px 0 6px 0\">");
    for row in rows {
        html.push_str("<tr>");
        for col in &cols {
            match (row, col) {
                (None, _) => html.push_str(&format!("<td style=\"{GAP}\">⋮</td>")),
                (Some(_), None) => html.push_str(&format!("<td style=\"{GAP}\">…</td>")),
                (Some(r), Some(c)) => {
                    let mut index = prefix.to_vec();
                    if r != usize::MAX {
                        index.push(r);
                    }
                    index.push(*c);
                    html.push_str(&format!(
                        "<td style=\"{CELL};background:{}\">{}</td>",
                        shade.background(p.value(&index)),
                        escape(&p.text(&index))
                    ));
                }
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
    html
}

/// The HTML view of a tensor.
pub fn tensor_html(t: &Tensor) -> String {
    let shape = t.shape();
    let rank = shape.len();
    let mut html = String::from("<div class=\"autograd-tensor\">");
    html.push_str(&badge("shape", &crate::pydisplay::shape_tuple(&shape), "#e6ecff"));
    html.push_str(&badge("dtype", t.dtype().torch_name(), "#e6f6e6"));
    html.push_str(&badge("requires_grad", if t.requires_grad() { "True" } else { "False" }, "#fdeaea"));
    match crate::autograd::views::try_current_grad_fn(t) {
        Ok(Some(node)) => html.push_str(&badge("grad_fn", &node.name(), "#eeeeee")),
        Ok(None) => {}
        Err(_) => html.push_str(&badge("grad_fn", "Invalid", "#eeeeee")),
    }
    match PrintedElements::of(t) {
        None => html.push_str(&format!("<pre style=\"margin:0\">{}</pre>", escape(&t.to_string()))),
        Some(p) if rank == 0 => html.push_str(&badge("value", &p.text(&[]), "#f4f4f4")),
        Some(p) => {
            let values: Vec<f64> = p.shown_numbers().into_iter().filter(|v| v.is_finite()).collect();
            let shade = Shade {
                lo: values.iter().copied().fold(f64::INFINITY, f64::min),
                hi: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            };
            let lead = rank.saturating_sub(2);
            for prefix in leading_indices(&p, lead) {
                match prefix {
                    None => {
                        html.push_str("<div style=\"font:12px monospace;color:#888;margin-left:8px\">⋮</div>")
                    }
                    Some(prefix) => {
                        if lead > 0 {
                            let mut label: Vec<String> = prefix.iter().map(|i| i.to_string()).collect();
                            label.extend(std::iter::repeat_n(":".to_string(), rank - lead));
                            html.push_str(&format!(
                                "<div style=\"font:11px monospace;color:#555\">[{}]</div>",
                                label.join(", ")
                            ));
                        }
                        html.push_str(&grid(&p, &prefix, rank, &shade));
                    }
                }
            }
        }
    }
    html.push_str("</div>");
    html
}

/// The HTML header of a graph node: its name and the nodes it leads to.
pub fn node_html(node: &Node) -> String {
    let next: Vec<String> = node
        .next_functions()
        .iter()
        .map(|(n, i)| format!("({}, {})", n.as_ref().map(|n| n.name()).unwrap_or_else(|| "None".into()), i))
        .collect();
    format!(
        "<div class=\"autograd-node\">{}<div style=\"font:12px monospace\">next_functions: {}</div></div>",
        badge("node", &node.name(), "#eee"),
        escape(&next.join(", "))
    )
}

#[cfg(test)]
mod tests {
    use super::tensor_html;
    use crate::prelude::*;

    fn cells(html: &str) -> usize {
        html.matches("<td").count()
    }

    #[test]
    fn grids_follow_the_shape_and_the_repr_summary() {
        let row = tensor_html(&tensor!([1., 2., 3.]));
        assert_eq!(cells(&row), 3);
        assert!(row.contains("shape: <b>(3,)</b>"));
        assert_eq!(cells(&tensor_html(&ones(&[2, 3]))), 6);
        let cube = tensor_html(&ones(&[2, 2, 3]));
        assert_eq!(cells(&cube), 12);
        assert!(cube.contains("[0, :, :]") && cube.contains("[1, :, :]"));
        // 40 x 40 is summarised like the repr: 3 + gap + 3 in each direction
        let big = tensor_html(&zeros(&[40, 40]));
        assert_eq!(cells(&big), 7 * 7);
        assert!(big.contains('⋮') && big.contains('…'));
        let scalar = tensor_html(&tensor!(2.5));
        assert!(scalar.contains("value: <b>2.5000</b>") && !scalar.contains("<table"));
        let t = tensor!([[1., 2.], [3., 4.]], requires_grad = true);
        let y = &t * 2.0;
        let html = tensor_html(&y);
        assert!(html.contains("grad_fn: <b>MulBackward0</b>") && html.contains(">8.<"));
    }
}
