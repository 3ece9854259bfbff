//! `step_backward(&loss)`: one real backward pass shown as a sequence of states, one per node
//! in the engine's order. Each state is a picture of the graph (the node being run outlined in
//! red, nodes not reached yet faded, every edge labelled with the gradient it carried or "not
//! computed yet") under the chain-rule lines of that step (from [`Explanation`]).
//!
//! Where it is shown decides how it behaves, and every step is always in the output:
//! - trusted output (a live JupyterLab session): a small script keeps one step on screen and
//!   adds controls (first, previous, play/pause, next, last, the step number; ←/→, Home/End
//!   and space when focused);
//! - untrusted notebooks and static viewers drop the script: all steps show one under the
//!   other, each with its own picture (an `<img>` of an SVG, which JupyterLab's sanitiser keeps).

use std::collections::HashMap;
use std::fmt::Write;

use crate::autograd::trace::BackwardStep;
use crate::render::explain::{numbered, pass_title, value, Explanation};
use crate::render::graph::{self, GraphModel, Kind, MAX_DRAWN_NODES};
use crate::render::graph_svg::{self, box_size, StepMarks};
use crate::render::{escape, picture_html, Bundle, NotebookDisplay};
use crate::tensor::Tensor;

/// Graphs with more nodes than this get their steps as text under one picture of the whole
/// graph: a picture per step makes the output grow with the square of the graph (measured:
/// 7 nodes 112 KiB of HTML, 12 nodes 314 KiB, 22 nodes 1 MiB), and a notebook carries it.
pub const MAX_PICTURED_NODES: usize = 30;

/// Milliseconds between steps when playing.
const PLAY_INTERVAL_MS: u32 = 1200;

/// A backward pass, step by step (see [`step_backward`]).
pub struct BackwardStepper {
    explanation: Explanation,
    view: View,
}

/// How the steps are shown, by the size of the graph.
enum View {
    /// One picture per step.
    Pictured(Vec<String>),
    /// Too many nodes for a picture per step: the whole graph once (after the pass), then
    /// each step as text.
    Text { overview: String, nodes: usize },
    /// Too many nodes to step through: the graph's summary (as `draw_graph` gives it).
    Summary { picture: String, text: String },
}

/// Which step (0-based) runs each box's node.
fn steps_of_items(model: &GraphModel, steps: &[BackwardStep]) -> Vec<Option<usize>> {
    let at: HashMap<u64, usize> = steps.iter().enumerate().map(|(k, s)| (s.node.id(), k)).collect();
    let mut of: Vec<Option<usize>> =
        model.items.iter().map(|i| i.node.and_then(|id| at.get(&id).copied())).collect();
    // saved tensors appear and fade with the node that keeps them
    for (i, item) in model.items.iter().enumerate() {
        if let Some(owner) = item.owner {
            of[i] = of[owner];
        }
    }
    of
}

/// The gradient text a box shows at step `s`: what arrived at a backward node once it ran, a
/// leaf's `.grad` before or after its AccumulateGrad step.
fn item_grad(kind: Kind, step: Option<usize>, s: usize, steps: &[BackwardStep]) -> Option<Option<String>> {
    let k = step?;
    let ran = k <= s;
    match kind {
        Kind::Backward => Some(if ran { steps[k].grad.as_ref().map(value) } else { None }),
        Kind::Leaf => {
            let leaf = steps[k].leaf.as_ref()?;
            let grad = if ran { &leaf.after } else { &leaf.before };
            Some(grad.as_ref().map(value))
        }
        Kind::Output | Kind::Saved => None,
    }
}

/// The picture model and marks of step `s` (0-based).
fn step_state(
    model: &GraphModel,
    item_steps: &[Option<usize>],
    steps: &[BackwardStep],
    s: usize,
) -> (GraphModel, StepMarks) {
    let mut items = model.items.clone();
    for (item, &step) in items.iter_mut().zip(item_steps) {
        if matches!(item.kind, Kind::Backward | Kind::Leaf) {
            item.grad = item_grad(item.kind, step, s, steps);
        }
    }
    let edge_values = model
        .edges
        .iter()
        .zip(&model.edge_inputs)
        .map(|(&(from, _), input)| match input {
            // the output's own gradient, seeded before the first step
            None => steps.first().and_then(|first| first.grad.as_ref()).map(value),
            Some(input) => {
                let k = item_steps[from].filter(|&k| k <= s)?;
                Some(match steps[k].sent.get(*input) {
                    Some(Some(g)) => value(g),
                    _ => "no gradient".to_string(),
                })
            }
        })
        .collect();
    let marks = StepMarks {
        current: item_steps.iter().position(|&k| k == Some(s)),
        pending: item_steps.iter().map(|k| k.is_some_and(|k| k > s)).collect(),
        edge_values,
        sizes: Vec::new(),
    };
    let model = GraphModel {
        items,
        edges: model.edges.clone(),
        edge_inputs: model.edge_inputs.clone(),
        summary: None,
        forward: false,
    };
    (model, marks)
}

/// One SVG per step, all with the same layout (each box as big as it gets in any step).
fn step_pictures(model: &GraphModel, steps: &[BackwardStep], title: &str) -> Vec<String> {
    let item_steps = steps_of_items(model, steps);
    let states: Vec<(GraphModel, StepMarks)> =
        (0..steps.len()).map(|s| step_state(model, &item_steps, steps, s)).collect();
    let mut sizes: Vec<(f64, f64)> = vec![(0.0, 0.0); model.items.len()];
    for (state, _) in &states {
        for (size, item) in sizes.iter_mut().zip(&state.items) {
            let (w, h) = box_size(item);
            *size = (size.0.max(w), size.1.max(h));
        }
    }
    states
        .into_iter()
        .enumerate()
        .map(|(s, (state, mut marks))| {
            marks.sizes = sizes.clone();
            let name = steps[s].node.name();
            let caption = format!("{title}: step {} of {}, {name}", s + 1, steps.len());
            graph_svg::render_marked(&state, &caption, Some(&marks))
        })
        .collect()
}

/// The whole graph as it is once the pass has run (every edge with what it carried).
fn after_the_pass(model: &GraphModel, steps: &[BackwardStep], title: &str) -> String {
    let item_steps = steps_of_items(model, steps);
    let last = steps.len().saturating_sub(1);
    let (state, mut marks) = step_state(model, &item_steps, steps, last);
    marks.sizes = state.items.iter().map(box_size).collect();
    marks.current = None;
    graph_svg::render_marked(&state, title, Some(&marks))
}

impl BackwardStepper {
    /// The steps as the engine ran them.
    pub fn steps(&self) -> &[BackwardStep] {
        self.explanation.steps()
    }

    /// The SVG picture of each step (empty when the graph has more than
    /// [`MAX_PICTURED_NODES`] nodes).
    pub fn step_svgs(&self) -> &[String] {
        match &self.view {
            View::Pictured(pictures) => pictures,
            _ => &[],
        }
    }

    /// Said above the steps when the graph is too big to picture each step or to step through.
    fn note(&self) -> Option<String> {
        match &self.view {
            View::Pictured(_) => None,
            View::Text { nodes, .. } => Some(format!(
                "This graph has {nodes} nodes: a picture for every step is drawn up to \
                 {MAX_PICTURED_NODES} nodes, so here is the whole graph once, after the pass, \
                 and each step as text."
            )),
            View::Summary { .. } => Some(format!(
                "This graph has {} nodes, too large to step through (the limit is \
                 {MAX_DRAWN_NODES}): here is its summary; explain(&loss) writes every step as text.",
                self.steps().len()
            )),
        }
    }

    /// The chain-rule lines of every step (none for a graph too large to step through),
    /// made once for both the text and the HTML.
    fn step_lines(&self) -> Vec<(String, Vec<String>)> {
        match &self.view {
            View::Summary { .. } => Vec::new(),
            _ => self.explanation.step_lines(),
        }
    }

    /// The pass as plain text: every step (or, for a graph too large to step through, its
    /// summary), after a note when the graph is too large to picture.
    pub fn text(&self) -> String {
        self.text_of(self.step_lines())
    }

    fn text_of(&self, lines: Vec<(String, Vec<String>)>) -> String {
        let note = self.note().map(|n| format!("{n}\n")).unwrap_or_default();
        match &self.view {
            View::Summary { text, .. } => format!("{note}{text}"),
            _ => format!("{note}{}", self.explanation.text_of(&numbered(lines))),
        }
    }

    fn html_of(&self, lines: &[(String, Vec<String>)]) -> String {
        let n = self.steps().len();
        let mut html = String::from(
            "<div class=\"autograd-stepper\" tabindex=\"0\" style=\"outline:none;padding:2px\">",
        );
        let _ = write!(
            html,
            "<div style=\"font-weight:bold;margin-bottom:4px\">{} ({n} {})</div>",
            escape(self.explanation.title()),
            if n == 1 { "step" } else { "steps" }
        );
        if let Some(note) = self.note() {
            let _ = write!(html, "<div style=\"color:#8a4b00;margin-bottom:4px\">{}</div>", escape(&note));
        }
        let pictures: &[String] = match &self.view {
            View::Summary { picture, .. } => {
                html.push_str(&picture_html(picture, self.explanation.title()));
                html.push_str("</div>");
                return html;
            }
            View::Text { overview, .. } => {
                html.push_str(&picture_html(overview, self.explanation.title()));
                &[]
            }
            View::Pictured(pictures) => pictures,
        };
        for (s, (heading, details)) in lines.iter().enumerate() {
            let _ = write!(
                html,
                "<div class=\"autograd-step\" data-step=\"{}\" style=\"border-top:1px solid #ddd;padding:6px 0\">\
                 <div style=\"font-weight:bold\">Step {} of {n}: {}</div>\
                 <div style=\"font-family:monospace;margin:2px 0 4px 14px\">{}</div>",
                s + 1,
                s + 1,
                escape(heading),
                details.iter().map(|d| escape(d)).collect::<Vec<_>>().join("<br>")
            );
            if let Some(svg) = pictures.get(s) {
                html.push_str(&picture_html(svg, &format!("step {} of {n}: {heading}", s + 1)));
            }
            html.push_str("</div>");
        }
        if n > 1 {
            html.push_str(&controls_script());
        }
        html.push_str("</div>");
        html
    }
}

/// The controls, for trusted output only (a sanitiser removes the script, and every step then
/// stays on screen). The script finds its output through `document.currentScript`, so the
/// output holds no generated ids and the same pass always gives the same bytes.
fn controls_script() -> String {
    format!(
        "<script>(function(){{\
var me=document.currentScript,root=me&&me.closest('.autograd-stepper');if(!root)return;\
var steps=root.querySelectorAll('.autograd-step'),n=steps.length,k=0,timer=null;\
var bar=document.createElement('div');bar.className='autograd-stepper-controls';\
bar.style.cssText='display:flex;gap:6px;align-items:center;margin:4px 0;font-family:sans-serif';\
var label=document.createElement('span');label.className='autograd-stepper-position';label.style.marginLeft='8px';\
function show(i){{k=Math.max(0,Math.min(n-1,i));for(var j=0;j<n;j++)steps[j].style.display=j===k?'':'none';\
label.textContent='step '+(k+1)+' of '+n;root.setAttribute('data-current-step',String(k+1));}}\
function stop(){{if(timer){{clearInterval(timer);timer=null;}}play.textContent='\u{25b6} play';}}\
function button(action,text,title,fn){{var b=document.createElement('button');b.type='button';b.textContent=text;b.title=title;\
b.setAttribute('aria-label',title);b.setAttribute('data-action',action);b.addEventListener('click',function(e){{e.stopPropagation();fn();root.focus();}});bar.appendChild(b);return b;}}\
function toggle(){{if(timer){{stop();return;}}if(k>=n-1)show(0);play.textContent='\u{275a}\u{275a} pause';\
timer=setInterval(function(){{if(!root.isConnected||k>=n-1)stop();else show(k+1);}},{PLAY_INTERVAL_MS});}}\
button('first','|\u{25c0}','first step',function(){{stop();show(0);}});\
button('previous','\u{25c0}','previous step',function(){{stop();show(k-1);}});\
var play=button('play','','play / pause',toggle);\
button('next','\u{25b6}','next step',function(){{stop();show(k+1);}});\
button('last','\u{25b6}|','last step',function(){{stop();show(n-1);}});\
bar.appendChild(label);root.insertBefore(bar,steps[0]);\
root.addEventListener('keydown',function(e){{var go={{ArrowRight:function(){{show(k+1);}},ArrowLeft:function(){{show(k-1);}},\
Home:function(){{show(0);}},End:function(){{show(n-1);}}}}[e.key];\
if(e.key===' '){{toggle();}}else if(go){{stop();go();}}else return;e.preventDefault();e.stopPropagation();}});\
stop();show(0);}})();</script>"
    )
}

impl std::fmt::Display for BackwardStepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

impl NotebookDisplay for BackwardStepper {
    fn mime_bundle(&self) -> Bundle {
        let lines = self.step_lines();
        let html = self.html_of(&lines);
        vec![("text/plain", self.text_of(lines)), ("text/html", html)]
    }
}

/// Runs `loss.backward()` and shows it step by step, in the engine's real order: at each step
/// the node being run (outlined in the graph), the gradient that arrived, its local derivative
/// written out with the numbers, what it sent along each `next_functions` edge (edges not
/// reached yet say "not computed yet", never 0), and for a leaf its `.grad` before → after.
/// An input used twice (`y * y`) has two edges, each with its own contribution.
///
/// In a live JupyterLab session the output has controls (first, previous, play/pause, next,
/// last; ←/→ when focused); opened untrusted or in a static viewer it shows every step one
/// under the other. The values are the engine's own, recorded while it ran; the `.grad`s
/// change exactly as `loss.backward()` changes them.
///
/// ```
/// use autograd_core::prelude::*;
/// let x = tensor!(3., requires_grad = true);
/// let w = tensor!(2., requires_grad = true);
/// let stepper = step_backward(&(&x * &w));
/// assert_eq!(stepper.steps().len(), 3); // MulBackward0, then each leaf's AccumulateGrad
/// assert!(stepper.to_string().contains("grad · other = 1. · 2. = 2."));
/// assert_eq!(x.grad().unwrap().to_string(), "tensor(2.)");
/// ```
#[track_caller]
pub fn step_backward(loss: &Tensor) -> BackwardStepper {
    // the picture is built before the pass: it frees what the nodes saved
    let model = graph::build(loss.grad_fn().as_ref(), Some(loss), false);
    let title = pass_title(loss);
    let steps = loss.backward_traced();
    let nodes = model.items.iter().filter(|i| i.node.is_some()).count();
    let view = if model.summary.is_some() {
        View::Summary { picture: graph_svg::render(&model, &title), text: graph::describe(&model) }
    } else if nodes > MAX_PICTURED_NODES {
        View::Text { overview: after_the_pass(&model, &steps, &title), nodes }
    } else {
        View::Pictured(step_pictures(&model, &steps, &title))
    };
    BackwardStepper { explanation: Explanation::new(title, steps), view }
}
