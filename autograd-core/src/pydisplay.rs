//! Python's way of showing values, for `show!` (Python's `print`) and for notebook results:
//! tensors as their repr, `None` for an empty `Option`, `True`/`False`, floats like Python's
//! `repr`, tuples and lists in Python's brackets.

use crate::autograd::node::Node;
use crate::tensor::Tensor;

/// How a value looks in Python: `py_str` is `str(x)` (what `print` shows), `py_repr` is
/// `repr(x)` (what a container shows for its items), `py_pretty` is how IPython shows a cell's
/// value (the repr, except for objects without their own repr: `<AddBackward0 at 0x...>`).
pub trait PyDisplay {
    fn py_repr(&self) -> String;
    fn py_str(&self) -> String {
        self.py_repr()
    }
    fn py_pretty(&self) -> String {
        self.py_repr()
    }
}

impl PyDisplay for Tensor {
    fn py_repr(&self) -> String {
        self.to_string()
    }
}

impl PyDisplay for Node {
    fn py_repr(&self) -> String {
        self.repr()
    }
    fn py_pretty(&self) -> String {
        self.repr().replacen(" object at ", " at ", 1)
    }
}

impl<T: PyDisplay> PyDisplay for Option<T> {
    fn py_repr(&self) -> String {
        match self {
            Some(v) => v.py_repr(),
            None => "None".to_string(),
        }
    }
    fn py_str(&self) -> String {
        match self {
            Some(v) => v.py_str(),
            None => "None".to_string(),
        }
    }
    fn py_pretty(&self) -> String {
        match self {
            Some(v) => v.py_pretty(),
            None => "None".to_string(),
        }
    }
}

impl PyDisplay for bool {
    fn py_repr(&self) -> String {
        if *self { "True" } else { "False" }.to_string()
    }
}

macro_rules! int_display {
    ($($t:ty),*) => {$(
        impl PyDisplay for $t {
            fn py_repr(&self) -> String { self.to_string() }
        }
    )*};
}
int_display!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

/// Python's `repr(float)`: shortest round-trip digits, `1.0` for whole numbers, exponent form
/// below 1e-4 and from 1e16 on.
pub fn py_float_repr(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    let sci = shortest_nearest(v);
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("integer exponent");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1;
        let text = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        };
        format!("{sign}{text}")
    } else {
        let mantissa = if digits.len() > 1 { format!("{}.{}", &digits[..1], &digits[1..]) } else { digits };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs())
    }
}

/// `v` in exponent form with the fewest digits that read back as `v`, and of those strings the
/// one nearest `v`, an exact tie going to the even last digit: CPython's choice (David Gay's
/// `dtoa`, mode 0). Rust's `{:e}` finds the same number of digits but may round a tie up
/// (`1.6211111450195313e2` for 162.111114501953125, where CPython prints `...312`), so the
/// digits are taken again, correctly rounded (`{:.N$e}` rounds ties to even), when those read
/// back as `v` too.
fn shortest_nearest(v: f64) -> String {
    let shortest = format!("{v:e}");
    let digits = shortest.split_once('e').map_or(0, |(m, _)| m.bytes().filter(u8::is_ascii_digit).count());
    let nearest = format!("{v:.*e}", digits.saturating_sub(1));
    if nearest != shortest && nearest.parse::<f64>() == Ok(v) {
        nearest
    } else {
        shortest
    }
}

impl PyDisplay for f64 {
    fn py_repr(&self) -> String {
        py_float_repr(*self)
    }
}

impl PyDisplay for f32 {
    fn py_repr(&self) -> String {
        py_float_repr(*self as f64)
    }
}

impl PyDisplay for str {
    fn py_repr(&self) -> String {
        format!("'{}'", self.replace('\\', "\\\\").replace('\'', "\\'"))
    }
    fn py_str(&self) -> String {
        self.to_string()
    }
}

impl PyDisplay for String {
    fn py_repr(&self) -> String {
        self.as_str().py_repr()
    }
    fn py_str(&self) -> String {
        self.clone()
    }
}

impl<T: PyDisplay + ?Sized> PyDisplay for &T {
    fn py_repr(&self) -> String {
        (**self).py_repr()
    }
    fn py_str(&self) -> String {
        (**self).py_str()
    }
    fn py_pretty(&self) -> String {
        (**self).py_pretty()
    }
}

impl<T: PyDisplay> PyDisplay for Vec<T> {
    fn py_repr(&self) -> String {
        list_text(&mut self.iter().map(PyDisplay::py_repr))
    }
    fn py_pretty(&self) -> String {
        list_text(&mut self.iter().map(PyDisplay::py_pretty))
    }
}

impl<T: PyDisplay> PyDisplay for [T] {
    fn py_repr(&self) -> String {
        list_text(&mut self.iter().map(PyDisplay::py_repr))
    }
    fn py_pretty(&self) -> String {
        list_text(&mut self.iter().map(PyDisplay::py_pretty))
    }
}

/// A list as Python writes it, from its items' text. Not generic, like the other helpers of
/// the generic impls here: a notebook cell that shows a `Vec` or a tuple compiles only the
/// part that depends on the item type (each cell is a crate of its own; see the kernel's
/// `cell_store.rs` for what a cell's build costs).
fn list_text(items: &mut dyn Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

impl PyDisplay for () {
    fn py_repr(&self) -> String {
        "()".to_string()
    }
}

/// A shape as Python writes the tuple: `(3,)`, `(2, 2)`, `()`.
pub(crate) fn shape_tuple(shape: &[usize]) -> String {
    tuple_text(&shape.iter().map(|d| d.to_string()).collect::<Vec<_>>())
}

fn tuple_text(items: &[String]) -> String {
    if items.len() == 1 {
        format!("({},)", items[0])
    } else {
        format!("({})", items.join(", "))
    }
}

macro_rules! tuple_display {
    ($($name:ident),+) => {
        impl<$($name: PyDisplay),+> PyDisplay for ($($name,)+) {
            #[allow(non_snake_case)]
            fn py_repr(&self) -> String {
                let ($($name,)+) = self;
                tuple_text(&[$($name.py_repr()),+])
            }
            #[allow(non_snake_case)]
            fn py_pretty(&self) -> String {
                let ($($name,)+) = self;
                tuple_text(&[$($name.py_pretty()),+])
            }
        }
    };
}
tuple_display!(A);
tuple_display!(A, B);
tuple_display!(A, B, C);
tuple_display!(A, B, C, D);
tuple_display!(A, B, C, D, E);
tuple_display!(A, B, C, D, E, F);

/// How IPython shows a cell's value: like `repr`, but a tuple or list too long for one line
/// (79 characters) puts each item on its own line.
pub fn pretty_items(items: &[String], open: &str, close: &str) -> String {
    let one_line = if items.len() == 1 && open == "(" {
        format!("({},)", items[0])
    } else {
        format!("{open}{}{close}", items.join(", "))
    };
    if one_line.chars().count() <= 79 {
        one_line
    } else {
        format!("{open}{}{close}", items.join(",\n "))
    }
}

/// Python's `print(a, b, ...)`: each argument's `str`, separated by one space, then a newline.
///
/// ```
/// use autograd_core::prelude::*;
/// let x = tensor!([1., 2.]);
/// show!(x, None::<Tensor>, true, (1, 2.5));
/// // prints: tensor([1., 2.]) None True (1, 2.5)
/// ```
#[macro_export]
macro_rules! show {
    () => { println!() };
    ($($value:expr),+ $(,)?) => {
        $crate::pydisplay::print_parts(&[$($crate::pydisplay::PyDisplay::py_str(&$value)),+])
    };
}

/// What `show!` prints: the parts separated by one space, then a newline.
#[doc(hidden)]
pub fn print_parts(parts: &[String]) {
    println!("{}", parts.join(" "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        assert_eq!(py_float_repr(1.0), "1.0");
        assert_eq!(py_float_repr(0.1), "0.1");
        assert_eq!(py_float_repr(1e-5), "1e-05");
        assert_eq!(py_float_repr(1.5e16), "1.5e+16");
        assert_eq!(py_float_repr(123456.789), "123456.789");
        assert_eq!(py_float_repr(-0.00012), "-0.00012");
        assert_eq!(py_float_repr(1e15), "1000000000000000.0");
    }

    #[test]
    fn containers_print_like_python() {
        assert_eq!((1, None::<i32>).py_repr(), "(1, None)");
        assert_eq!((5,).py_repr(), "(5,)");
        assert_eq!(vec!["a"].py_repr(), "['a']");
        assert_eq!("a".py_str(), "a");
    }
}
