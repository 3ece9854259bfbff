//! PyTorch's tensor printer, reproduced exactly (`repr(t)` / `print(t)`): precision 4,
//! summarising above 1000 elements with 3 edge items, line width 80, and the automatic
//! choice between integer, fixed and scientific notation. See `tests/repr.rs` for the 122
//! cases measured on real torch.

use std::fmt;

use crate::dtype::DType;
use crate::layout::contiguous_strides;
use crate::storage::Buffer;
use crate::tensor::Tensor;

const PRECISION: usize = 4;
const THRESHOLD: usize = 1000;
const EDGE_ITEMS: usize = 3;
const LINE_WIDTH: usize = 80;

/// One element as the printer sees it.
#[derive(Clone, Copy)]
enum Value {
    Float(f64),
    Int(i64),
    Bool(bool),
}

impl Value {
    fn number(self) -> f64 {
        match self {
            Value::Float(v) => v,
            Value::Int(v) => v as f64,
            Value::Bool(v) => v as u8 as f64,
        }
    }
}

/// The number format chosen for a whole tensor.
struct Formatter {
    floating: bool,
    int_mode: bool,
    sci_mode: bool,
    width: usize,
}

/// Python's `'{:.4e}'`: the exponent has a sign and at least two digits.
fn python_sci(v: f64) -> String {
    let s = format!("{:.*e}", PRECISION, v);
    let (mantissa, exponent) = s.split_once('e').expect("Rust's {:e} has an exponent");
    let (sign, digits) = match exponent.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exponent),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

fn non_finite(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("nan")
    } else if v == f64::INFINITY {
        Some("inf")
    } else if v == f64::NEG_INFINITY {
        Some("-inf")
    } else {
        None
    }
}

impl Formatter {
    fn new(values: &[Value], floating: bool) -> Formatter {
        let mut f = Formatter { floating, int_mode: true, sci_mode: false, width: 1 };
        if !floating {
            for v in values {
                f.width = f.width.max(f.plain(*v).len());
            }
            return f;
        }
        let finite: Vec<f64> = values
            .iter()
            .filter_map(|v| match v {
                Value::Float(x) if x.is_finite() && *x != 0.0 => Some(*x),
                _ => None,
            })
            .collect();
        if finite.is_empty() {
            return f;
        }
        let max = finite.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let min = finite.iter().fold(f64::INFINITY, |m, x| m.min(x.abs()));
        f.int_mode = finite.iter().all(|x| *x == x.ceil());
        if f.int_mode {
            if max / min > 1000.0 || max > 1.0e8 {
                f.sci_mode = true;
                f.width = finite.iter().map(|&x| python_sci(x).len()).max().unwrap_or(1);
            } else {
                f.width = finite.iter().map(|&x| format!("{x:.0}").len() + 1).max().unwrap_or(1);
            }
        } else if max / min > 1000.0 || max > 1.0e8 || min < 1.0e-4 {
            f.sci_mode = true;
            f.width = finite.iter().map(|&x| python_sci(x).len()).max().unwrap_or(1);
        } else {
            f.width = finite.iter().map(|&x| format!("{:.*}", PRECISION, x).len()).max().unwrap_or(1);
        }
        f
    }

    /// The value's text before padding.
    fn plain(&self, v: Value) -> String {
        match v {
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => if b { "True" } else { "False" }.to_string(),
            Value::Float(x) => {
                if let Some(text) = non_finite(x) {
                    return text.to_string();
                }
                if !self.floating {
                    return x.to_string();
                }
                if self.sci_mode {
                    python_sci(x)
                } else if self.int_mode {
                    format!("{x:.0}.")
                } else {
                    format!("{:.*}", PRECISION, x)
                }
            }
        }
    }

    fn format(&self, v: Value) -> String {
        let text = self.plain(v);
        format!("{text:>width$}", width = self.width)
    }
}

/// The elements of a tensor with its shape, for printing.
struct Grid {
    values: Vec<Value>,
    shape: Vec<usize>,
    strides: Vec<usize>,
    summarize: bool,
}

impl Grid {
    fn of(t: &Tensor) -> Grid {
        let shape = t.shape();
        let values = match t.contiguous_buffer() {
            Buffer::F32(v) => v.into_iter().map(|x| Value::Float(x as f64)).collect(),
            Buffer::F64(v) => v.into_iter().map(Value::Float).collect(),
            Buffer::I64(v) => v.into_iter().map(Value::Int).collect(),
            Buffer::Bool(v) => v.into_iter().map(Value::Bool).collect(),
        };
        let summarize = shape.iter().product::<usize>() > THRESHOLD;
        Grid { values, strides: contiguous_strides(&shape).to_vec(), shape, summarize }
    }

    /// Indices shown along a dim: all, or the first and last `EDGE_ITEMS` when summarising.
    fn shown(&self, dim: usize) -> Vec<usize> {
        let n = self.shape[dim];
        if self.summarize && n > 2 * EDGE_ITEMS {
            (0..EDGE_ITEMS).chain(n - EDGE_ITEMS..n).collect()
        } else {
            (0..n).collect()
        }
    }

    /// The elements that appear in the output (they alone decide the format).
    fn shown_values(&self) -> Vec<Value> {
        let mut offsets = vec![0usize];
        for dim in 0..self.shape.len() {
            let shown = self.shown(dim);
            offsets =
                offsets.iter().flat_map(|&o| shown.iter().map(move |&i| o + i * self.strides[dim])).collect();
        }
        offsets.into_iter().map(|o| self.values[o]).collect()
    }

    fn render(&self, f: &Formatter, dim: usize, offset: usize, indent: usize) -> String {
        let rank = self.shape.len();
        if rank == 0 {
            return f.format(self.values[0]);
        }
        let n = self.shape[dim];
        let elided = self.summarize && n > 2 * EDGE_ITEMS;
        if dim == rank - 1 {
            let per_line = ((LINE_WIDTH - indent) / (f.width + 2)).max(1);
            let mut items: Vec<String> = Vec::new();
            for i in self.shown(dim) {
                if elided && i == n - EDGE_ITEMS {
                    items.push(" ...".to_string());
                }
                items.push(f.format(self.values[offset + i * self.strides[dim]]));
            }
            let lines: Vec<String> = items.chunks(per_line).map(|c| c.join(", ")).collect();
            return format!("[{}]", lines.join(&format!(",\n{}", " ".repeat(indent + 1))));
        }
        let mut parts = Vec::new();
        for i in self.shown(dim) {
            if elided && i == n - EDGE_ITEMS {
                parts.push("...".to_string());
            }
            parts.push(self.render(f, dim + 1, offset + i * self.strides[dim], indent + 1));
        }
        let separator = format!(",{}{}", "\n".repeat(rank - dim - 1), " ".repeat(indent + 1));
        format!("[{}]", parts.join(&separator))
    }
}

/// The elements as the printer shows them, for other views of a tensor (the HTML table, the
/// graph picture): which indices appear along each dim (`None` marks the `...` gap) and each
/// element's text in the tensor's shared number format.
pub(crate) struct PrintedElements {
    grid: Grid,
    formatter: Formatter,
}

impl PrintedElements {
    /// `None` for a tensor without elements.
    pub(crate) fn of(t: &Tensor) -> Option<PrintedElements> {
        if t.numel() == 0 {
            return None;
        }
        let grid = Grid::of(t);
        let formatter = Formatter::new(&grid.shown_values(), t.dtype().is_floating_point());
        Some(PrintedElements { grid, formatter })
    }

    /// The indices shown along `dim`, with `None` where the printer writes `...`.
    pub(crate) fn shown(&self, dim: usize) -> Vec<Option<usize>> {
        let n = self.grid.shape[dim];
        let mut out = Vec::new();
        for i in self.grid.shown(dim) {
            if self.grid.summarize && n > 2 * EDGE_ITEMS && i == n - EDGE_ITEMS {
                out.push(None);
            }
            out.push(Some(i));
        }
        out
    }

    fn offset(&self, index: &[usize]) -> usize {
        index.iter().zip(&self.grid.strides).map(|(i, s)| i * s).sum()
    }

    /// The element's text, unpadded (`1.5000`, `-3`, `True`).
    pub(crate) fn text(&self, index: &[usize]) -> String {
        self.formatter.plain(self.grid.values[self.offset(index)])
    }

    /// The element as a number (booleans as 0 and 1).
    pub(crate) fn value(&self, index: &[usize]) -> f64 {
        self.grid.values[self.offset(index)].number()
    }

    /// Every element the printer shows, as numbers.
    pub(crate) fn shown_numbers(&self) -> Vec<f64> {
        self.grid.shown_values().into_iter().map(Value::number).collect()
    }

    /// A short one-line form for small tensors, nested like the repr: `[[1., 2.], [3., 4.]]`,
    /// or the single value of a scalar.
    pub(crate) fn inline(&self) -> String {
        let mut index = Vec::with_capacity(self.grid.shape.len());
        self.inline_from(&mut index)
    }

    fn inline_from(&self, index: &mut Vec<usize>) -> String {
        let dim = index.len();
        if dim == self.grid.shape.len() {
            return self.text(index);
        }
        let mut items = Vec::new();
        for i in self.shown(dim) {
            match i {
                None => items.push("...".to_string()),
                Some(i) => {
                    index.push(i);
                    items.push(self.inline_from(index));
                    index.pop();
                }
            }
        }
        format!("[{}]", items.join(", "))
    }
}

/// `repr(t)`, exactly as PyTorch prints it.
pub(crate) fn tensor_repr(t: &Tensor) -> String {
    const PREFIX: &str = "tensor(";
    let indent = PREFIX.len();
    let dtype = t.dtype();
    let shape = t.shape();
    let mut suffixes = Vec::new();
    let body = if shape.iter().product::<usize>() == 0 {
        if shape.len() != 1 {
            suffixes.push(format!("size={}", crate::pydisplay::shape_tuple(&shape)));
        }
        if dtype != DType::Float32 {
            suffixes.push(format!("dtype={}", dtype.torch_name()));
        }
        "[]".to_string()
    } else {
        if dtype == DType::Float64 {
            suffixes.push(format!("dtype={}", dtype.torch_name()));
        }
        let grid = Grid::of(t);
        let formatter = Formatter::new(&grid.shown_values(), dtype.is_floating_point());
        grid.render(&formatter, 0, 0, indent)
    };
    // torch's repr reads grad_fn and shows `<Invalid>` when reading it raises (a view made
    // in no_grad mode whose storage was changed in place since)
    match crate::autograd::views::try_current_grad_fn(t) {
        Err(_) => suffixes.push("grad_fn=<Invalid>".to_string()),
        Ok(Some(node)) => {
            let name = node.name();
            let short = name.rsplit("::").next().unwrap_or(&name).to_string();
            suffixes.push(format!("grad_fn=<{short}>"));
        }
        Ok(None) if t.requires_grad() => suffixes.push("requires_grad=True".to_string()),
        Ok(None) => {}
    }
    let mut out = format!("{PREFIX}{body}");
    let mut last_line = match out.rfind('\n') {
        Some(p) => out.len() - p + 1,
        None => out.len() + 2,
    };
    for suffix in suffixes {
        if last_line + suffix.len() + 2 > LINE_WIDTH {
            out.push_str(&format!(",\n{}{}", " ".repeat(indent), suffix));
            last_line = indent + suffix.len();
        } else {
            out.push_str(&format!(", {suffix}"));
            last_line += suffix.len() + 2;
        }
    }
    out.push(')');
    out
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&tensor_repr(self))
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&tensor_repr(self))
    }
}

#[cfg(test)]
mod tests {
    use super::python_sci;

    #[test]
    fn scientific_notation_matches_python() {
        assert_eq!(python_sci(1e-5), "1.0000e-05");
        assert_eq!(python_sci(123456789.0), "1.2346e+08");
        assert_eq!(python_sci(-2.5e100), "-2.5000e+100");
    }
}
