//! `explain(&loss)`: the chain rule of one real backward pass written out with its numbers,
//! one step per node in the engine's order, as text (for a slide) and as an HTML table.
//!
//! Every number comes from the engine's own run (see `autograd::trace`): what arrived at a
//! node, what it had saved and what it sent on. The formulas are the local derivatives torch
//! uses for each node, written for reading; the values after `=` are the engine's.

use crate::autograd::node::Node;
use crate::autograd::trace::BackwardStep;
use crate::names::Names;
use crate::render::{escape, Bundle, NotebookDisplay};
use crate::repr::PrintedElements;
use crate::tensor::Tensor;

/// Tensors with more elements than this are shown by their shape.
const SHOWN_ELEMENTS: usize = 6;

/// The local derivative each node applies, for each of its inputs in `next_functions` order,
/// in terms of `grad` (what arrived) and the names the node saved under.
fn formulas(node: &str) -> &'static [&'static str] {
    match node {
        "AddBackward0" => &["grad", "grad"],
        "SubBackward0" => &["grad", "-grad"],
        "RsubBackward1" => &["-grad"],
        "MulBackward0" => &["grad · other", "grad · self"],
        "DivBackward0" => &["grad / other", "-grad · self / other²"],
        "NegBackward0" => &["-grad"],
        "PowBackward0" => &["grad · exponent · self^(exponent-1)"],
        "PowBackward1" => &["grad · exponent · self^(exponent-1)", "grad · result · ln(self)"],
        "ExpBackward0" => &["grad · result"],
        "LogBackward0" => &["grad / self"],
        "SqrtBackward0" => &["grad / (2 · result)"],
        "SinBackward0" => &["grad · cos(self)"],
        "CosBackward0" => &["-grad · sin(self)"],
        "TanhBackward0" => &["grad · (1 - result²)"],
        "SigmoidBackward0" => &["grad · result · (1 - result)"],
        "ReluBackward0" => &["grad where result > 0, else 0"],
        "AbsBackward0" => &["grad · sign(self)"],
        "SumBackward0" => &["grad, copied to every element of the input"],
        "SumBackward1" => &["grad, copied along the summed dims"],
        "MeanBackward0" => &["grad / n, copied to every one of the input's n elements"],
        "MeanBackward1" => &["grad / n, copied along the averaged dims"],
        "MmBackward0" => &["grad @ mat2ᵀ", "selfᵀ @ grad"],
        "DotBackward0" => &["grad · tensor", "grad · self"],
        "CloneBackward0" | "AliasBackward0" => &["grad"],
        "TBackward0" | "TransposeBackward0" => &["gradᵀ"],
        "ViewBackward0"
        | "ReshapeAliasBackward0"
        | "UnsafeViewBackward0"
        | "UnsqueezeBackward0"
        | "SqueezeBackward0"
        | "SqueezeBackward1"
        | "SqueezeBackward4" => &["grad, reshaped to the input's shape"],
        "ExpandBackward0" => &["grad, summed over the expanded dims"],
        "SelectBackward0" | "SliceBackward0" | "IndexBackward0" => {
            &["grad, put in its place in zeros of the input's shape"]
        }
        "torch::autograd::CopySlices" => {
            &["grad, with the assigned place set to 0", "grad, at the assigned place"]
        }
        _ => &[],
    }
}

/// `3.`, `[1., 2.]`, or `a [3, 4] tensor` when it is too big to read in a line.
pub(crate) fn value(t: &Tensor) -> String {
    if t.numel() > SHOWN_ELEMENTS {
        return format!("a {:?} tensor", t.shape());
    }
    PrintedElements::of(t).map(|p| p.inline()).unwrap_or_else(|| "[]".to_string())
}

/// `formula` with every name in `values` replaced by its value; None when a name in the
/// formula has no value (it is then shown as written).
fn substituted(formula: &str, values: &[(&str, String)]) -> Option<String> {
    let mut out = String::new();
    let mut word = String::new();
    let mut complete = true;
    let mut flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        match values.iter().find(|(name, _)| name == word) {
            Some((_, v)) => out.push_str(v),
            None if ["exponent", "self", "other", "result", "grad", "mat2", "tensor"]
                .contains(&word.as_str()) =>
            {
                complete = false;
                out.push_str(word);
            }
            None => out.push_str(word),
        }
        word.clear();
    };
    for c in formula.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    complete.then_some(out)
}

/// The values a step's formulas can name: `grad` and what the node saved.
fn named_values(step: &BackwardStep) -> Vec<(&str, String)> {
    let grad = step.grad.as_ref().map(|g| ("grad", value(g)));
    grad.into_iter().chain(step.saved.iter().map(|(name, t)| (name.as_str(), value(t)))).collect()
}

/// One line of the explanation for what a node called `name` sent along its edge `index`.
fn edge_line(name: &str, values: &[(&str, String)], index: usize, to: &str, sent: &Tensor) -> String {
    let formula = formulas(name).get(index).copied();
    let target = format!("input {index} ({to})");
    match formula {
        // the numbers are written in only where they say more than the result
        Some(f) => match substituted(f, values).filter(|s| s != f && !f.contains(',') && f.contains(' ')) {
            Some(numbers) => format!("→ {target}: {f} = {numbers} = {}", value(sent)),
            None => format!("→ {target}: {f} = {}", value(sent)),
        },
        None => format!("→ {target}: {}", value(sent)),
    }
}

/// The chain rule of one backward pass, step by step (see [`explain`]).
pub struct Explanation {
    title: String,
    steps: Vec<BackwardStep>,
}

impl Explanation {
    pub(crate) fn new(title: String, steps: Vec<BackwardStep>) -> Explanation {
        Explanation { title, steps }
    }

    pub(crate) fn title(&self) -> &str {
        &self.title
    }

    /// The steps as the engine ran them.
    pub fn steps(&self) -> &[BackwardStep] {
        &self.steps
    }

    /// One entry per step: its heading line, then one line per gradient it sent on (or the
    /// leaf's `.grad` before → after).
    pub fn lines(&self) -> Vec<(String, Vec<String>)> {
        numbered(self.step_lines())
    }

    /// As [`Explanation::lines`], without the step numbers in the headings.
    pub(crate) fn step_lines(&self) -> Vec<(String, Vec<String>)> {
        let names = Names::now();
        // `AddBackward0 of y`: a node and the variable it stands for, when it has a name
        let called = |node: &Node| match names.of_node(node) {
            Some(var) => format!("{} of {var}", node.name()),
            None => node.name(),
        };
        self.steps
            .iter()
            .map(|step| {
                let received = match &step.grad {
                    Some(g) => format!("received grad = {}", value(g)),
                    None => "received nothing".to_string(),
                };
                let heading = format!("{} {received}", called(&step.node));
                let mut details = Vec::new();
                if let Some(leaf) = &step.leaf {
                    let show =
                        |g: &Option<Tensor>| g.as_ref().map(value).unwrap_or_else(|| "None".to_string());
                    let whose = match names.of_tensor(&leaf.variable) {
                        Some(var) => format!("{var}.grad"),
                        None => format!(".grad of the leaf {}", value(&leaf.variable)),
                    };
                    details.push(format!(
                        "{whose}: {} + {} = {}",
                        show(&leaf.before),
                        step.grad.as_ref().map(value).unwrap_or_default(),
                        show(&leaf.after)
                    ));
                }
                let (name, next, values) = (step.node.name(), step.node.next_functions(), named_values(step));
                for (index, sent) in step.sent.iter().enumerate() {
                    if let (Some((Some(to), _)), Some(sent)) = (next.get(index), sent) {
                        details.push(edge_line(&name, &values, index, &called(to), sent));
                    }
                }
                (heading, details)
            })
            .collect()
    }

    /// The explanation as plain text, one step per paragraph.
    pub fn text(&self) -> String {
        self.text_of(&self.lines())
    }

    /// The text of `lines` (numbered, as [`Explanation::lines`] gives them) under the title.
    pub(crate) fn text_of(&self, lines: &[(String, Vec<String>)]) -> String {
        let mut out = format!("{}\n", self.title);
        for (heading, details) in lines {
            out.push_str(heading);
            out.push('\n');
            for d in details {
                out.push_str("     ");
                out.push_str(d);
                out.push('\n');
            }
        }
        out.trim_end().to_string()
    }

    fn html_of(&self, lines: &[(String, Vec<String>)]) -> String {
        let mut rows = String::new();
        for (heading, details) in lines {
            let detail: Vec<String> = details.iter().map(|d| escape(d)).collect();
            rows.push_str(&format!(
                "<tr><td style=\"text-align:left;vertical-align:top;white-space:nowrap\"><b>{}</b></td><td style=\"text-align:left;font-family:monospace\">{}</td></tr>",
                escape(heading),
                detail.join("<br>")
            ));
        }
        format!(
            "<div><div style=\"font-weight:bold;margin-bottom:4px\">{}</div><table>{rows}</table></div>",
            escape(&self.title)
        )
    }
}

/// Step lines with their step numbers in the headings (`1. MulBackward0 received ...`).
pub(crate) fn numbered(lines: Vec<(String, Vec<String>)>) -> Vec<(String, Vec<String>)> {
    lines
        .into_iter()
        .enumerate()
        .map(|(i, (heading, details))| (format!("{}. {heading}", i + 1), details))
        .collect()
}

/// The heading of a pass from `loss`: `backward from MulBackward0, step by step (...)`.
pub(crate) fn pass_title(loss: &Tensor) -> String {
    let root = loss.grad_fn().map(|n| n.name()).unwrap_or_else(|| "a leaf".to_string());
    format!("backward from {root}, step by step (the engine's order)")
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

impl NotebookDisplay for Explanation {
    fn mime_bundle(&self) -> Bundle {
        let lines = self.lines();
        vec![("text/plain", self.text_of(&lines)), ("text/html", self.html_of(&lines))]
    }
}

/// Runs `loss.backward()` and explains it: the chain rule, one line per step in the order the
/// engine ran the nodes, with the gradient that arrived, each node's local derivative written
/// out with its numbers, what it sent to each of its `next_functions`, and each leaf's `.grad`
/// before → after (so accumulation over two backward passes shows). The `.grad`s change
/// exactly as `loss.backward()` changes them.
///
/// ```
/// use autograd_core::prelude::*;
/// let x = tensor!([3.], requires_grad = true);
/// let w = tensor!([2.], requires_grad = true);
/// let y = (&x * &w).sum();
/// let steps = explain(&y).to_string();
/// assert!(steps.contains("MulBackward0 received grad = [1.]"));
/// assert!(steps.contains("grad · other = [1.] · [2.] = [2.]"));
/// assert_eq!(x.grad().unwrap().to_string(), "tensor([2.])");
/// ```
#[track_caller]
pub fn explain(loss: &Tensor) -> Explanation {
    let title = pass_title(loss);
    let steps = loss.backward_traced();
    Explanation { title, steps }
}
