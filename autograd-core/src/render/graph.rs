//! What a picture of the autograd graph shows, before any geometry: the boxes (output tensor,
//! backward nodes, AccumulateGrad leaves, saved tensors), the edges between them, and the
//! step at which the backward pass visits each node. Built only from the public graph API
//! (`next_functions`, `variable`, `saved_tensors`) plus the engine's visiting order.

use std::collections::HashMap;

use crate::autograd::engine::backward_order;
use crate::autograd::node::Node;
use crate::names::Names;
use crate::pydisplay::shape_tuple;
use crate::repr::PrintedElements;
use crate::tensor::Tensor;

/// Graphs with more nodes than this are summarised instead of drawn.
pub const MAX_DRAWN_NODES: usize = 200;
/// Tensors with at most this many elements show their values (and gradients).
pub const MAX_SHOWN_ELEMENTS: usize = 6;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// The tensor the picture was drawn from (green).
    Output,
    /// A backward function (grey).
    Backward,
    /// The AccumulateGrad sink of a leaf that requires grad (blue).
    Leaf,
    /// A tensor a backward node saved for its gradient (orange).
    Saved,
}

/// One box of the picture.
#[derive(Clone, Debug)]
pub struct GraphItem {
    pub kind: Kind,
    /// First line, in bold (`MulBackward0`, `AccumulateGrad`).
    pub title: String,
    /// Further lines (shape, values).
    pub lines: Vec<String>,
    /// The gradient line of a leaf: `Some(text)` once computed, `None` when not computed yet.
    pub grad: Option<Option<String>>,
    /// 1-based step of the backward pass (or of the forward pass, in the forward view).
    pub step: Option<usize>,
    /// For saved tensors: the item that keeps them.
    pub owner: Option<usize>,
    /// The graph node this box draws (`Node::id`), for backward functions and leaves.
    pub node: Option<u64>,
    /// The name of the variable holding the tensor the box stands for (see `crate::names`).
    pub name: Option<String>,
}

/// The picture's content. Edges run from an item to the items its gradient flows to.
pub struct GraphModel {
    pub items: Vec<GraphItem>,
    pub edges: Vec<(usize, usize)>,
    /// For each edge out of a node: which of its `next_functions` it is (`None` for the edge
    /// from the output tensor to its `grad_fn`).
    pub edge_inputs: Vec<Option<usize>>,
    /// Set when the graph was too large to draw: node count per name, most common first.
    pub summary: Option<Summary>,
    pub forward: bool,
}

pub struct Summary {
    pub nodes: usize,
    pub leaves: usize,
    pub depth: usize,
    pub counts: Vec<(String, usize)>,
}

/// `[1.0000, 2.0000]` for tensors small enough to show, else nothing.
fn small_values(t: &Tensor) -> Option<String> {
    if t.numel() > MAX_SHOWN_ELEMENTS {
        return None;
    }
    Some(PrintedElements::of(t).map(|p| p.inline()).unwrap_or_else(|| "[]".to_string()))
}

fn tensor_lines(t: &Tensor) -> Vec<String> {
    let mut lines =
        vec![format!("{} {}", shape_tuple(&t.shape()), t.dtype().torch_name().trim_start_matches("torch."))];
    if let Some(values) = small_values(t) {
        lines.push(values);
    }
    lines
}

/// A leaf's gradient line: its values (or "computed" when too large), `None` until backward.
fn leaf_grad(leaf: &Tensor) -> Option<String> {
    let grad = leaf.stored_grad()?;
    Some(small_values(&grad).unwrap_or_else(|| "computed".to_string()))
}

/// The forward operation of a backward node: `MulBackward0` → `Mul`.
fn forward_name(name: &str) -> String {
    let short = name.rsplit("::").next().unwrap_or(name);
    match short.find("Backward") {
        Some(p) if p > 0 => short[..p].to_string(),
        _ => short.to_string(),
    }
}

/// Every node reachable from `root`, breadth first in `next_functions` order, with edges.
/// Each edge is `(from, to, input)`: `to` is `from`'s `next_functions[input]`.
fn reachable(root: &Node) -> (Vec<Node>, Vec<(usize, usize, usize)>) {
    let mut nodes = vec![root.clone()];
    let mut index: HashMap<u64, usize> = HashMap::from([(root.id(), 0)]);
    let mut edges = Vec::new();
    let mut next = 0;
    while next < nodes.len() {
        let node = nodes[next].clone();
        for (input, (child, _)) in node.next_functions().into_iter().enumerate() {
            let Some(child) = child else { continue };
            let at = *index.entry(child.id()).or_insert_with(|| {
                nodes.push(child.clone());
                nodes.len() - 1
            });
            edges.push((next, at, input));
        }
        next += 1;
    }
    (nodes, edges)
}

fn summarise(nodes: &[Node], edges: &[(usize, usize, usize)]) -> Summary {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for n in nodes {
        *counts.entry(n.name()).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let edges: Vec<(usize, usize)> = edges.iter().map(|&(a, b, _)| (a, b)).collect();
    let depth = super::graph_layout::levels(nodes.len(), &edges);
    Summary {
        nodes: nodes.len(),
        leaves: nodes.iter().filter(|n| n.is_accumulate_grad()).count(),
        depth: depth.into_iter().max().unwrap_or(0) + 1,
        counts,
    }
}

/// The picture of the graph behind `root`; `output` adds the tensor it was drawn from.
pub fn build(root: Option<&Node>, output: Option<&Tensor>, forward: bool) -> GraphModel {
    let names = Names::now();
    let mut items = Vec::new();
    let mut edges = Vec::new();
    if let Some(t) = output {
        let leaf = t.is_leaf() && t.requires_grad();
        let title = match (leaf, forward) {
            (true, _) => "leaf tensor",
            (false, false) => "output",
            (false, true) => "result",
        };
        let grad = if leaf { Some(leaf_grad(t)) } else { None };
        items.push(GraphItem {
            kind: Kind::Output,
            title: title.into(),
            lines: tensor_lines(t),
            grad,
            step: None,
            owner: None,
            node: None,
            name: names.of_tensor(t).map(str::to_string),
        });
    }
    let mut edge_inputs = Vec::new();
    let Some(root) = root else {
        return GraphModel { items, edges, edge_inputs, summary: None, forward };
    };
    let (nodes, node_edges) = reachable(root);
    if nodes.len() > MAX_DRAWN_NODES {
        let summary = Some(summarise(&nodes, &node_edges));
        return GraphModel { items, edges, edge_inputs, summary, forward };
    }
    let base = items.len();
    if base == 1 {
        edges.push((0, base));
        edge_inputs.push(None);
    }
    let steps: HashMap<u64, usize> = if forward {
        // forward view: the order the operations ran (node ids grow with creation)
        let mut ops: Vec<&Node> = nodes.iter().filter(|n| !n.is_accumulate_grad()).collect();
        ops.sort_by_key(|n| n.id());
        ops.iter().enumerate().map(|(i, n)| (n.id(), i + 1)).collect()
    } else {
        backward_order(root).iter().enumerate().map(|(i, n)| (n.id(), i + 1)).collect()
    };
    for node in &nodes {
        let step = steps.get(&node.id()).copied();
        let name = names.of_node(node).map(str::to_string);
        let item = match node.variable() {
            Some(leaf) => GraphItem {
                kind: Kind::Leaf,
                title: if forward { "leaf".into() } else { "AccumulateGrad".into() },
                lines: tensor_lines(&leaf),
                grad: Some(leaf_grad(&leaf)),
                step: if forward { None } else { step },
                owner: None,
                node: Some(node.id()),
                name,
            },
            None => GraphItem {
                kind: Kind::Backward,
                title: if forward { forward_name(&node.name()) } else { node.name() },
                lines: Vec::new(),
                grad: None,
                step,
                owner: None,
                node: Some(node.id()),
                name,
            },
        };
        items.push(item);
    }
    edges.extend(node_edges.iter().map(|&(a, b, _)| (base + a, base + b)));
    edge_inputs.extend(node_edges.iter().map(|&(_, _, input)| Some(input)));
    if !forward {
        for (i, node) in nodes.iter().enumerate() {
            for (name, tensor) in node.saved_tensors() {
                items.push(GraphItem {
                    kind: Kind::Saved,
                    title: format!("saved {name}"),
                    lines: tensor_lines(&tensor),
                    grad: None,
                    step: None,
                    owner: Some(base + i),
                    node: None,
                    name: None,
                });
            }
        }
    }
    GraphModel { items, edges, edge_inputs, summary: None, forward }
}

/// The picture as text: the steps in order (the `text/plain` of the bundle).
pub fn describe(model: &GraphModel) -> String {
    let view = if model.forward { "forward graph" } else { "backward graph" };
    if let Some(s) = &model.summary {
        let kinds: Vec<String> = s.counts.iter().take(8).map(|(n, c)| format!("{c} × {n}")).collect();
        return format!(
            "{view} of {} nodes ({} leaf {}, {} levels deep), too large to draw; summary: {}",
            s.nodes,
            s.leaves,
            if s.leaves == 1 { "tensor" } else { "tensors" },
            s.depth,
            kinds.join(", ")
        );
    }
    let mut steps: Vec<&GraphItem> = model.items.iter().filter(|i| i.step.is_some()).collect();
    steps.sort_by_key(|i| i.step);
    let mut out = format!(
        "{view}, {} nodes; {}:",
        model.items.iter().filter(|i| matches!(i.kind, Kind::Backward | Kind::Leaf)).count(),
        if model.forward { "operations in the order they ran" } else { "the order backward visits them" }
    );
    for item in steps {
        out.push_str(&format!("\n  {}. {}", item.step.unwrap_or(0), item.title));
        if let Some(name) = &item.name {
            out.push_str(&format!(" ({name})"));
        }
        if !item.lines.is_empty() {
            out.push_str(&format!("  {}", item.lines.join("  ")));
        }
        match &item.grad {
            Some(Some(g)) => out.push_str(&format!("  grad: {g}")),
            Some(None) => out.push_str("  grad: not computed yet"),
            None => {}
        }
    }
    out
}
