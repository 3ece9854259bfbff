//! A compact HTML view of a tensor: badges for shape, dtype, requires_grad and grad_fn, and
//! the values as a table (2-D as a grid; other ranks as the repr text). Plain HTML and inline
//! styles only, so it shows in untrusted notebooks too.

use crate::autograd::node::Node;
use crate::tensor::Tensor;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn badge(label: &str, value: &str, colour: &str) -> String {
    format!(
        "<span style=\"display:inline-block;margin:0 4px 4px 0;padding:1px 6px;border-radius:8px;\
         background:{colour};font:12px monospace\">{label}: <b>{}</b></span>",
        escape(value)
    )
}

/// The HTML view of a tensor.
pub fn tensor_html(t: &Tensor) -> String {
    let shape = t.shape();
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut html = String::from("<div class=\"autograd-tensor\">");
    html.push_str(&badge("shape", &format!("({})", dims.join(", ")), "#eef"));
    html.push_str(&badge("dtype", t.dtype().torch_name(), "#efe"));
    html.push_str(&badge("requires_grad", if t.requires_grad() { "True" } else { "False" }, "#fee"));
    if let Some(node) = t.grad_fn() {
        html.push_str(&badge("grad_fn", &node.name(), "#eee"));
    }
    let repr = t.to_string();
    if shape.len() == 2 && t.numel() <= 400 {
        let values = t.to_vec_f64();
        let (lo, hi) = values.iter().filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        // the cells show the repr's own number text, so the table and the text always agree
        let body = repr.trim_start_matches("tensor(");
        let rows: Vec<Vec<String>> = body
            .split('\n')
            .filter_map(|line| {
                let start = line.rfind('[')? + 1;
                let end = start + line[start..].find(']')?;
                Some(line[start..end].split(',').map(|s| s.trim().to_string()).collect())
            })
            .collect();
        html.push_str("<table style=\"border-collapse:collapse;font:12px monospace\">");
        for (r, row) in rows.iter().enumerate() {
            html.push_str("<tr>");
            for (c, cell) in row.iter().enumerate() {
                let v = values.get(r * shape[1] + c).copied().unwrap_or(0.0);
                let shade = if hi > lo && v.is_finite() { (v - lo) / (hi - lo) } else { 0.0 };
                html.push_str(&format!(
                    "<td style=\"padding:2px 6px;text-align:right;background:rgba(70,130,180,{:.2})\">{}</td>",
                    0.05 + 0.35 * shade,
                    escape(cell)
                ));
            }
            html.push_str("</tr>");
        }
        html.push_str("</table>");
    } else {
        html.push_str(&format!("<pre style=\"margin:0\">{}</pre>", escape(&repr)));
    }
    html.push_str("</div>");
    html
}

/// The HTML view of a graph node: its name and the nodes it leads to.
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
