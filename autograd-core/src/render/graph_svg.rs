//! Draws a [`GraphModel`] as SVG: torchviz's familiar colours (blue leaves, grey backward
//! functions, green output, orange saved tensors), a numbered step on each node, values and
//! gradients of small tensors ("not computed yet" in its own style, never shown as 0) and a
//! legend inside the picture. Only plain shapes and presentation attributes (no scripts, no
//! CSS, no markers or ids), so the picture survives JupyterLab's sanitiser in untrusted
//! notebooks. Deterministic: the same graph gives the same bytes.

use std::fmt::Write;

use super::escape;
use super::graph::{GraphItem, GraphModel, Kind, Summary, MAX_DRAWN_NODES};
use super::graph_layout::{layout, LayoutBox};

const CHAR_W: f64 = 7.2;
const LINE_H: f64 = 15.0;
const PAD: f64 = 8.0;
const MARGIN: f64 = 14.0;
const INK: &str = "#444";
const GRAD_DONE: &str = "#1a7f37";
const GRAD_MISSING: &str = "#b4542b";
/// The name of the variable a box's tensor is bound to.
const NAME: &str = "#0b3d91";
/// Edges and boxes the backward pass has not reached yet, in a step picture.
const PENDING: &str = "#aaa";
/// The node being run, in a step picture.
const CURRENT: &str = "#d62728";
const EDGE_SPREAD: f64 = 34.0;
/// Width of a character of an edge label (10 px monospace).
const LABEL_CHAR_W: f64 = 6.0;

/// How one step of a backward pass marks the picture (see `render::stepper`).
pub struct StepMarks {
    /// The box of the node being run at this step.
    pub current: Option<usize>,
    /// Per box: not reached yet by the pass (drawn faded).
    pub pending: Vec<bool>,
    /// Per edge: the gradient it carried, `None` while not computed yet.
    pub edge_values: Vec<Option<String>>,
    /// Box sizes shared by every step, so the layout stays put from one step to the next.
    pub sizes: Vec<(f64, f64)>,
}

fn fill(kind: Kind) -> &'static str {
    match kind {
        Kind::Output => "#caff70",
        Kind::Backward => "#d9d9d9",
        Kind::Leaf => "#add8e6",
        Kind::Saved => "#ffc966",
    }
}

fn grad_text(grad: &Option<String>) -> String {
    match grad {
        Some(g) => format!("grad: {g}"),
        None => "grad: not computed yet".to_string(),
    }
}

fn text_lines(item: &GraphItem) -> usize {
    1 + usize::from(item.name.is_some()) + item.lines.len() + usize::from(item.grad.is_some())
}

pub fn box_size(item: &GraphItem) -> (f64, f64) {
    let mut longest = item.title.chars().count();
    if let Some(name) = &item.name {
        longest = longest.max(name.chars().count());
    }
    for line in &item.lines {
        longest = longest.max(line.chars().count());
    }
    if let Some(g) = &item.grad {
        longest = longest.max(grad_text(g).chars().count());
    }
    let extra = if item.step.is_some() { 10.0 } else { 0.0 };
    (longest as f64 * CHAR_W + 2.0 * PAD + extra, text_lines(item) as f64 * LINE_H + PAD + 4.0)
}

fn legend_entries(forward: bool) -> Vec<(Option<&'static str>, &'static str)> {
    if forward {
        vec![
            (Some(fill(Kind::Leaf)), "leaf tensor (requires grad)"),
            (Some(fill(Kind::Backward)), "operation"),
            (Some(fill(Kind::Output)), "result"),
            (None, "n = order the operations ran"),
        ]
    } else {
        vec![
            (Some(fill(Kind::Output)), "output tensor"),
            (Some(fill(Kind::Backward)), "backward function"),
            (Some(fill(Kind::Leaf)), "leaf that requires grad (AccumulateGrad)"),
            (Some(fill(Kind::Saved)), "saved for backward"),
            (None, "n = step of the backward pass"),
        ]
    }
}

/// Draws the legend from `top`, wrapping at `width`; returns the SVG and the height used.
fn legend(forward: bool, top: f64, width: f64) -> (String, f64) {
    let mut svg = String::new();
    let (mut x, mut y) = (MARGIN, top);
    for (colour, label) in legend_entries(forward) {
        let w = 22.0 + label.chars().count() as f64 * 6.6 + 16.0;
        if x + w > width - MARGIN && x > MARGIN {
            x = MARGIN;
            y += 20.0;
        }
        match colour {
            Some(c) => {
                let _ = write!(svg, "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"16\" height=\"12\" rx=\"2\" fill=\"{c}\" stroke=\"{INK}\"/>", y + 2.0);
            }
            None => step_badge(&mut svg, x + 8.0, y + 8.0, "n"),
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-family=\"sans-serif\" font-size=\"11\" fill=\"{INK}\">{}</text>",
            x + 22.0,
            y + 12.0,
            escape(label)
        );
        x += w;
    }
    if !forward {
        let label = "grad: not computed yet";
        let w = label.chars().count() as f64 * 6.6 + 8.0;
        if x + w > width - MARGIN && x > MARGIN {
            x = MARGIN;
            y += 20.0;
        }
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"{:.1}\" font-family=\"monospace\" font-size=\"11\" font-style=\"italic\" fill=\"{GRAD_MISSING}\">{label}</text>",
            y + 12.0
        );
    }
    (svg, y + 20.0 - top)
}

/// How a box is drawn in a step picture.
#[derive(Clone, Copy, PartialEq)]
enum Emphasis {
    Normal,
    Current,
    Pending,
}

fn draw_box(svg: &mut String, item: &GraphItem, (x, y, w, h): (f64, f64, f64, f64), emphasis: Emphasis) {
    let dashed = if item.kind == Kind::Saved { " stroke-dasharray=\"4 2\"" } else { "" };
    if emphasis == Emphasis::Pending {
        // faded, over white, so the lines behind the box stay hidden
        let _ = write!(svg, "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"5\" fill=\"#fff\"/><g opacity=\"0.55\">");
    }
    let (stroke, thick) =
        if emphasis == Emphasis::Current { (CURRENT, " stroke-width=\"3.5\"") } else { (INK, "") };
    let _ = write!(svg, "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"5\" fill=\"{}\" stroke=\"{stroke}\"{thick}{dashed}/>", fill(item.kind));
    let cx = x + w / 2.0 + if item.step.is_some() { 5.0 } else { 0.0 };
    let mut ty = y + PAD / 2.0 + 13.0;
    if let Some(name) = &item.name {
        // the variable the tensor is bound to, above what the box is
        let _ = write!(
            svg,
            "<text x=\"{cx:.1}\" y=\"{ty:.1}\" font-family=\"monospace\" font-size=\"13\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"{NAME}\">{}</text>",
            escape(name)
        );
        ty += LINE_H;
    }
    let _ = write!(
        svg,
        "<text x=\"{cx:.1}\" y=\"{ty:.1}\" font-family=\"monospace\" font-size=\"12\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#111\">{}</text>",
        escape(&item.title)
    );
    for line in &item.lines {
        ty += LINE_H;
        let _ = write!(
            svg,
            "<text x=\"{cx:.1}\" y=\"{ty:.1}\" font-family=\"monospace\" font-size=\"11\" text-anchor=\"middle\" fill=\"#222\">{}</text>",
            escape(line)
        );
    }
    if let Some(grad) = &item.grad {
        ty += LINE_H;
        let (colour, style) = match grad {
            Some(_) => (GRAD_DONE, " font-weight=\"bold\""),
            None => (GRAD_MISSING, " font-style=\"italic\""),
        };
        let _ = write!(
            svg,
            "<text x=\"{cx:.1}\" y=\"{ty:.1}\" font-family=\"monospace\" font-size=\"11\" text-anchor=\"middle\" fill=\"{colour}\"{style}>{}</text>",
            escape(&grad_text(grad))
        );
    }
    if let Some(step) = item.step {
        step_badge(svg, x + 2.0, y + 2.0, &step.to_string());
    }
    if emphasis == Emphasis::Pending {
        svg.push_str("</g>");
    }
}

/// The numbered circle of a step (and its sample in the legend).
fn step_badge(svg: &mut String, cx: f64, cy: f64, label: &str) {
    let _ = write!(
        svg,
        "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"9\" fill=\"#fff\" stroke=\"{INK}\"/>\
         <text x=\"{cx:.1}\" y=\"{:.1}\" font-family=\"sans-serif\" font-size=\"10\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#111\">{label}</text>",
        cy + 3.5
    );
}

/// An edge from `from` to `to`; `offset` bends it sideways, so that two edges between the same
/// boxes (an input used twice, `y * y`) are two arrows. Returns the middle of the curve.
fn draw_edge(svg: &mut String, from: (f64, f64), to: (f64, f64), offset: f64, pending: bool) -> (f64, f64) {
    let (x1, y1) = from;
    let (x2, y2) = to;
    let bend = (y2 - y1) / 2.0;
    let (colour, dash) = if pending { (PENDING, " stroke-dasharray=\"5 4\"") } else { (INK, "") };
    let _ = write!(
        svg,
        "<path d=\"M{x1:.1},{y1:.1} C{:.1},{:.1} {:.1},{:.1} {x2:.1},{:.1}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.2\"{dash}/>\
         <polygon points=\"{:.1},{:.1} {:.1},{:.1} {x2:.1},{y2:.1}\" fill=\"{colour}\"/>",
        x1 + offset,
        y1 + bend,
        x2 + offset,
        y2 - bend,
        y2 - 6.0,
        x2 - 4.0,
        y2 - 7.0,
        x2 + 4.0,
        y2 - 7.0
    );
    ((x1 + x2) / 2.0 + 0.75 * offset, (y1 + y2) / 2.0)
}

/// The value an edge carried (or "not computed yet"), written at its middle; beside the curve
/// when it bends sideways (one of two edges between the same boxes), so the two labels part.
/// Returns how far the text reaches left and right.
fn edge_label(svg: &mut String, (x, y): (f64, f64), offset: f64, value: &Option<String>) -> (f64, f64) {
    let (text, colour, style) = match value {
        Some(v) => (v.as_str(), GRAD_DONE, " font-weight=\"bold\""),
        None => ("not computed yet", GRAD_MISSING, " font-style=\"italic\""),
    };
    let (x, anchor) = match offset {
        o if o < 0.0 => (x - 4.0, "end"),
        o if o > 0.0 => (x + 4.0, "start"),
        _ => (x, "middle"),
    };
    let _ = write!(
        svg,
        "<text x=\"{x:.1}\" y=\"{:.1}\" font-family=\"monospace\" font-size=\"10\" text-anchor=\"{anchor}\" fill=\"{colour}\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\"{style}>{}</text>",
        y + 3.5,
        escape(text)
    );
    let w = text.chars().count() as f64 * LABEL_CHAR_W;
    match anchor {
        "end" => (x - w, x),
        "start" => (x, x + w),
        _ => (x - w / 2.0, x + w / 2.0),
    }
}

/// Sideways offsets of the edges, so that edges joining the same two boxes spread apart.
fn edge_offsets(edges: &[(usize, usize)]) -> Vec<f64> {
    let pair = |&(a, b): &(usize, usize)| (a.min(b), a.max(b));
    edges
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let same: Vec<usize> = (0..edges.len()).filter(|&j| pair(&edges[j]) == pair(e)).collect();
            let k = same.iter().position(|&j| j == i).unwrap_or(0) as f64;
            (k - (same.len() as f64 - 1.0) / 2.0) * EDGE_SPREAD
        })
        .collect()
}

/// The SVG's start; `left` (0 or less) widens the canvas to the left of x = 0.
fn svg_open(left: f64, width: f64, height: f64, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"{left:.0} 0 {width:.0} {height:.0}\" role=\"img\">\
         <title>{}</title><rect x=\"{left:.0}\" y=\"0\" width=\"{width:.0}\" height=\"{height:.0}\" fill=\"#fff\"/>",
        escape(title)
    )
}

/// The SVG picture of `model`.
pub fn render(model: &GraphModel, title: &str) -> String {
    render_marked(model, title, None)
}

/// The SVG picture of `model`, marked with one step of the backward pass when `marks` is given:
/// the node being run outlined in red, nodes not reached yet faded, every edge labelled with
/// the gradient it carried or "not computed yet" (dashed).
pub fn render_marked(model: &GraphModel, title: &str, marks: Option<&StepMarks>) -> String {
    if let Some(summary) = &model.summary {
        return render_summary(summary, model.forward, title);
    }
    let sizes: Vec<(f64, f64)> = match marks {
        Some(m) => m.sizes.clone(),
        None => model.items.iter().map(box_size).collect(),
    };
    let boxes: Vec<LayoutBox> = model
        .items
        .iter()
        .zip(&sizes)
        .map(|(item, &(width, height))| LayoutBox { width, height, owner: item.owner })
        .collect();
    let placed = layout(&boxes, &model.edges, MARGIN, model.forward);
    let width = placed.width.max(380.0);
    let (legend_svg, legend_h) = legend(model.forward, placed.height, width);
    let height = placed.height + legend_h + 6.0;
    let mut svg = String::new();
    let at = |i: usize| (placed.positions[i].0, placed.positions[i].1, sizes[i].0, sizes[i].1);
    let mut labels = Vec::new();
    for (e, (&(a, b), offset)) in model.edges.iter().zip(edge_offsets(&model.edges)).enumerate() {
        let ((ax, ay, aw, ah), (bx, by, bw, bh)) = (at(a), at(b));
        // always from the upper box's bottom to the lower box's top
        let (upper, lower) =
            if ay < by { ((ax, ay, aw, ah), (bx, by, bw)) } else { ((bx, by, bw, bh), (ax, ay, aw)) };
        let value = marks.map(|m| m.edge_values.get(e).cloned().flatten());
        let middle = draw_edge(
            &mut svg,
            (upper.0 + upper.2 / 2.0, upper.1 + upper.3),
            (lower.0 + lower.2 / 2.0, lower.1),
            offset,
            matches!(value, Some(None)),
        );
        if let Some(value) = value {
            labels.push((middle, offset, value));
        }
    }
    for (i, item) in model.items.iter().enumerate() {
        if let Some(owner) = item.owner {
            let ((ox, oy, ow, oh), (sx, sy, _, sh)) = (at(owner), at(i));
            let _ = write!(
                svg,
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{sx:.1}\" y2=\"{:.1}\" stroke=\"#c77800\" stroke-dasharray=\"3 3\"/>",
                ox + ow,
                oy + oh / 2.0,
                sy + sh / 2.0
            );
        }
    }
    for (i, item) in model.items.iter().enumerate() {
        let emphasis = match marks {
            Some(m) if m.current == Some(i) => Emphasis::Current,
            Some(m) if m.pending.get(i).copied().unwrap_or(false) => Emphasis::Pending,
            _ => Emphasis::Normal,
        };
        draw_box(&mut svg, item, at(i), emphasis);
    }
    // labels last, so no box hides them
    let (mut left, mut right) = (0.0f64, width);
    for (middle, offset, value) in &labels {
        let (from, to) = edge_label(&mut svg, *middle, *offset, value);
        if from < left {
            left = (from - 4.0).floor();
        }
        right = right.max(to + 4.0);
    }
    svg.push_str(&legend_svg);
    svg.push_str("</svg>");
    svg_open(left, right - left, height, title) + &svg
}

/// A graph too large to draw: its size and what it is made of, as a bar chart.
fn render_summary(summary: &Summary, forward: bool, title: &str) -> String {
    let shown: Vec<&(String, usize)> = summary.counts.iter().take(12).collect();
    let label_w = shown.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(8) as f64 * CHAR_W;
    let bar_max = 260.0;
    let width = (MARGIN * 2.0 + label_w + bar_max + 90.0).max(520.0);
    let height =
        86.0 + shown.len() as f64 * 20.0 + if summary.counts.len() > shown.len() { 18.0 } else { 0.0 };
    let mut svg = svg_open(0.0, width, height, title);
    let view = if forward { "Forward" } else { "Backward" };
    let _ = write!(
        svg,
        "<text x=\"{MARGIN}\" y=\"24\" font-family=\"sans-serif\" font-size=\"14\" font-weight=\"bold\" fill=\"#111\">{view} graph of {} nodes: too large to draw (limit {MAX_DRAWN_NODES})</text>\
         <text x=\"{MARGIN}\" y=\"44\" font-family=\"sans-serif\" font-size=\"12\" fill=\"{INK}\">{} {}, {} levels deep. Nodes by kind:</text>",
        summary.nodes,
        summary.leaves,
        if summary.leaves == 1 { "leaf tensor that requires grad" } else { "leaf tensors that require grad" },
        summary.depth
    );
    let top = shown.first().map_or(1, |c| c.1).max(1) as f64;
    for (k, (name, count)) in shown.iter().enumerate() {
        let y = 60.0 + k as f64 * 20.0;
        let kind = if name.ends_with("AccumulateGrad") { Kind::Leaf } else { Kind::Backward };
        let w = (*count as f64 / top * bar_max).max(2.0);
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-family=\"monospace\" font-size=\"12\" text-anchor=\"end\" fill=\"#111\">{}</text>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"14\" fill=\"{}\" stroke=\"{INK}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-family=\"monospace\" font-size=\"12\" fill=\"#111\">{count}</text>",
            MARGIN + label_w,
            y + 11.0,
            escape(name),
            MARGIN + label_w + 8.0,
            y,
            fill(kind),
            MARGIN + label_w + 14.0 + w,
            y + 11.0
        );
    }
    if summary.counts.len() > shown.len() {
        let _ = write!(
            svg,
            "<text x=\"{MARGIN}\" y=\"{:.1}\" font-family=\"sans-serif\" font-size=\"11\" fill=\"{INK}\">… and {} more kinds</text>",
            height - 14.0,
            summary.counts.len() - shown.len()
        );
    }
    svg.push_str("</svg>");
    svg
}
