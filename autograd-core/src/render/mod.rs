//! Rich display for notebooks: values become MIME bundles (`text/plain` exactly as Python
//! would show the value, plus `text/html` for tensors). Rendering only reads the engine's
//! public state; it never reaches into the graph's internals.
//!
//! The kernel (evcxr-based) calls `.evcxr_display()` on a cell's final value; the
//! [`NotebookDisplay`] trait provides it. [`display`] sends a bundle in the middle of a cell.

pub mod explain;
pub mod graph;
pub mod graph_layout;
pub mod graph_svg;
pub mod panic_report;
pub mod stepper;
pub mod tensor_html;

use crate::autograd::node::Node;
use crate::pydisplay::PyDisplay;
use crate::tensor::Tensor;

/// Text made safe to put inside HTML or SVG, in element content or a quoted attribute.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A MIME bundle: `(mime type, content)` pairs.
pub type Bundle = Vec<(&'static str, String)>;

/// A value that knows how it looks in a notebook.
pub trait NotebookDisplay {
    /// The MIME bundle of the value.
    fn mime_bundle(&self) -> Bundle;

    /// Called by the kernel on a cell's final value: writes the bundle in evcxr's content
    /// protocol on stdout.
    fn evcxr_display(&self) {
        write_content(self.mime_bundle());
    }
}

/// Writes a cell's final value in evcxr's content protocol. Not generic (nor are the other
/// helpers of the generic impls below): a cell showing an `Option<Tensor>` or a `Vec`
/// compiles only the part that depends on the type (each cell is a crate of its own).
fn write_content(bundle: Bundle) {
    let mut out = String::new();
    for (mime, content) in bundle {
        out.push_str(&format!("EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT\n"));
    }
    print!("{out}");
}

/// The bundle of a value shown as text only.
fn plain_bundle(text: String) -> Bundle {
    vec![("text/plain", text)]
}

/// The bundle of a list, from its items' text.
fn list_bundle(items: &mut dyn Iterator<Item = String>) -> Bundle {
    items_bundle(&items.collect::<Vec<_>>(), "[", "]")
}

/// The bundle of a list or tuple, from its items' text (IPython's layout).
fn items_bundle(items: &[String], open: &str, close: &str) -> Bundle {
    plain_bundle(crate::pydisplay::pretty_items(items, open, close))
}

/// The marker that starts a mid-cell `display_data` line on stdout (read by the kernel).
pub const DISPLAY_MARKER: &str = "\u{1}AUTOGRAD_DISPLAY_DATA ";

pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Shows a value now, as its own output in the middle of a cell (IPython's `display(x)`);
/// several per cell are fine. Outside the notebook kernel it prints the plain text.
///
/// ```
/// use autograd_core::prelude::*;
/// display(&tensor!([1., 2.]));
/// ```
pub fn display(value: &dyn NotebookDisplay) {
    let bundle = value.mime_bundle();
    if std::env::var_os("EVCXR_IS_RUNTIME").is_none() {
        if let Some((_, text)) = bundle.iter().find(|(m, _)| *m == "text/plain") {
            println!("{text}");
        }
        return;
    }
    let fields: Vec<String> =
        bundle.iter().map(|(m, c)| format!("{}:{}", json_string(m), json_string(c))).collect();
    println!("{DISPLAY_MARKER}{{{}}}", fields.join(","));
}

impl NotebookDisplay for Tensor {
    fn mime_bundle(&self) -> Bundle {
        vec![("text/plain", self.to_string()), ("text/html", tensor_html::tensor_html(self))]
    }
}

impl NotebookDisplay for Node {
    fn mime_bundle(&self) -> Bundle {
        let picture = draw_graph(self);
        let svg = picture.svg();
        let html = format!("{}{}", tensor_html::node_html(self), picture_html(&svg, &picture.title));
        vec![("text/plain", self.py_pretty()), ("text/html", html), ("image/svg+xml", svg)]
    }
}

/// An SVG picture inside HTML as an `<img>` with a `data:` URL. JupyterLab's sanitiser
/// removes inline `<svg>` from untrusted HTML but keeps images, so the picture shows in
/// untrusted notebooks too (and, being an image, can never run anything).
pub(crate) fn picture_html(svg: &str, title: &str) -> String {
    let mut url = String::with_capacity(svg.len() + svg.len() / 4);
    for b in svg.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b' '
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'('
            | b')'
            | b','
            | b'='
            | b':'
            | b'/'
            | b';'
            | b'+'
            | b'@'
            | b'\'' => url.push(b as char),
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    format!(
        "<div class=\"autograd-graph\" style=\"overflow-x:auto\"><img alt=\"{}\" src=\"data:image/svg+xml,{url}\"></div>",
        escape(title)
    )
}

/// Where a graph picture starts: a tensor (drawn as the green output box) or a node.
pub trait GraphSource {
    fn graph_start(&self) -> (Option<Node>, Option<Tensor>);
}

impl GraphSource for Tensor {
    fn graph_start(&self) -> (Option<Node>, Option<Tensor>) {
        (self.grad_fn(), Some(self.clone()))
    }
}

impl GraphSource for Node {
    fn graph_start(&self) -> (Option<Node>, Option<Tensor>) {
        (Some(self.clone()), None)
    }
}

/// A picture of the autograd graph, ready to show in a notebook (`image/svg+xml`, plus a
/// `text/html` that also shows in untrusted notebooks, plus the steps as text).
pub struct GraphPicture {
    model: graph::GraphModel,
    title: String,
}

impl GraphPicture {
    fn new(source: &dyn GraphSource, forward: bool) -> GraphPicture {
        let (node, tensor) = source.graph_start();
        let start = match (&node, &tensor) {
            (Some(n), _) => n.name(),
            (None, Some(_)) => "a tensor".to_string(),
            (None, None) => String::new(),
        };
        let view = if forward { "forward" } else { "backward" };
        GraphPicture {
            model: graph::build(node.as_ref(), tensor.as_ref(), forward),
            title: format!("{view} graph of {start}"),
        }
    }

    /// The SVG document.
    pub fn svg(&self) -> String {
        graph_svg::render(&self.model, &self.title)
    }

    /// The nodes in the order of the pass, as text.
    pub fn text(&self) -> String {
        graph::describe(&self.model)
    }
}

/// The backward graph behind a tensor or a node: backward functions in grey, leaves
/// (AccumulateGrad) in blue with their values and gradients, the output in green, saved
/// tensors in orange, each node numbered by the step at which `backward()` reaches it.
///
/// ```
/// use autograd_core::prelude::*;
/// let x = tensor!([1., 2.], requires_grad = true);
/// let y = (&x * &x).sum();
/// let before = draw_graph(&y);
/// assert!(before.text().contains("grad: not computed yet"));
/// y.backward();
/// assert!(draw_graph(&y).text().contains("grad: [2., 4.]"));
/// ```
pub fn draw_graph(source: &dyn GraphSource) -> GraphPicture {
    GraphPicture::new(source, false)
}

/// The same graph the way the data flowed: leaves on top, operations numbered in the order
/// they ran, arrows down to the result.
pub fn draw_forward(source: &dyn GraphSource) -> GraphPicture {
    GraphPicture::new(source, true)
}

impl NotebookDisplay for GraphPicture {
    fn mime_bundle(&self) -> Bundle {
        let svg = self.svg();
        let html = picture_html(&svg, &self.title);
        vec![("text/plain", self.text()), ("text/html", html), ("image/svg+xml", svg)]
    }
}

/// `()` (a cell ending in a loop or a block) shows nothing, like Python's `None` result.
impl NotebookDisplay for () {
    fn mime_bundle(&self) -> Bundle {
        Vec::new()
    }
}

impl<T: NotebookDisplay> NotebookDisplay for Option<T> {
    fn mime_bundle(&self) -> Bundle {
        match self {
            Some(v) => v.mime_bundle(),
            None => plain_bundle("None".to_string()),
        }
    }
}

macro_rules! plain_display {
    ($($t:ty),*) => {$(
        impl NotebookDisplay for $t {
            fn mime_bundle(&self) -> Bundle {
                plain_bundle(self.py_repr())
            }
        }
    )*};
}
plain_display!(bool, i32, i64, u32, u64, usize, isize, f32, f64, String, &str, crate::numpy::NdArray);

impl PyDisplay for crate::numpy::NdArray {
    fn py_repr(&self) -> String {
        self.to_string()
    }
}

impl<T: PyDisplay> NotebookDisplay for Vec<T> {
    fn mime_bundle(&self) -> Bundle {
        list_bundle(&mut self.iter().map(PyDisplay::py_pretty))
    }
}

macro_rules! tuple_notebook_display {
    ($($name:ident),+) => {
        impl<$($name: PyDisplay),+> NotebookDisplay for ($($name,)+) {
            #[allow(non_snake_case)]
            fn mime_bundle(&self) -> Bundle {
                let ($($name,)+) = self;
                items_bundle(&[$($name.py_pretty()),+], "(", ")")
            }
        }
    };
}
tuple_notebook_display!(A);
tuple_notebook_display!(A, B);
tuple_notebook_display!(A, B, C);
tuple_notebook_display!(A, B, C, D);
tuple_notebook_display!(A, B, C, D, E);
tuple_notebook_display!(A, B, C, D, E, F);
