//! Runs one differential-test program (the JSON statements of `tools/difftest/generate.py`)
//! through autograd-core's public API, the way the rendered Rust program does: one match arm
//! per statement kind, each making the same call a user would write (`&a * 2.0`,
//! `a.sum_dim(1, true)`, `no_grad(|| ...)`, ...). What the program prints is collected as
//! text, observation by observation; an error stops it and adds `Kind: message`, as the
//! Python side prints `type(e).__name__: str(e)`.
//!
//! Shared by `tests/differential.rs` and `examples/difftest_run.rs`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use autograd_core::error::TorchError;
use autograd_core::prelude::*;
use serde_json::Value;

/// The payload of a statement this build cannot run (an API not there yet).
#[derive(Debug, Clone)]
pub struct Unsupported(pub String);

fn unsupported(what: &str) -> ! {
    std::panic::panic_any(Unsupported(what.to_string()))
}

/// `torch.where(cond, a, b)` (`where` is a Rust keyword).
fn api_where(cond: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
    where_(cond, a, b)
}

/// One program's result.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Ran to the end or stopped at an error; `observations` holds (statement kind, printed
    /// text) per print, the error line last.
    Ran { observations: Vec<(String, String)>, error: Option<TorchError> },
    /// Stopped at an API this build does not have.
    Unsupported { what: String, observations: Vec<(String, String)> },
}

impl Outcome {
    /// The whole printed text, as the Python program prints it.
    pub fn text(&self) -> String {
        let (obs, err) = match self {
            Outcome::Ran { observations, error } => (observations, error.as_ref()),
            Outcome::Unsupported { observations, .. } => (observations, None),
        };
        let mut out = String::new();
        for (_, text) in obs {
            out.push_str(text);
            out.push('\n');
        }
        if let Some(e) = err {
            out.push_str(&format!("{}: {}\n", e.kind, e.message));
        }
        out
    }
}

#[derive(Clone, Copy)]
enum Num {
    F(f64),
    I(i32),
}

enum Operand {
    T(Tensor),
    N(Num),
}

fn float(v: &Value) -> f64 {
    match v {
        Value::String(s) => match s.as_str() {
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            "nan" => f64::NAN,
            other => panic!("difftest: bad number {other:?}"),
        },
        Value::Bool(b) => *b as u8 as f64,
        other => other.as_f64().unwrap_or_else(|| panic!("difftest: bad number {other}")),
    }
}

fn int(v: &Value) -> isize {
    v.as_i64().unwrap_or_else(|| panic!("difftest: bad integer {v}")) as isize
}

fn str_of<'v>(s: &'v Value, key: &str) -> &'v str {
    s[key].as_str().unwrap_or_else(|| panic!("difftest: {key} missing in {s}"))
}

fn dims(v: &Value) -> Vec<i64> {
    v.as_array().expect("difftest: dims").iter().map(|d| d.as_i64().expect("difftest: dim")).collect()
}

/// The program's variables.
struct Env {
    vars: HashMap<String, Tensor>,
    /// The hook handles, by name (`h.remove()` takes one out; a second remove does nothing,
    /// as in torch).
    handles: HashMap<String, HookHandle>,
    out: Vec<(String, String)>,
}

thread_local! {
    /// What `print` hooks printed during the running statement (a hook outlives the borrow of
    /// the program's `Env`): moved to its output after each statement, before any error.
    static HOOK_PRINTS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A tensor hook as `register_hook` takes it.
type HookFn = Box<dyn Fn(&Tensor) -> Option<Tensor>>;

/// The hooks of the `hook` statement (`fn`: double, none, add1, neg, print).
fn hook_fn(name: &str) -> HookFn {
    match name {
        "double" => Box::new(|g| Some(g * 2.0)),
        "none" => Box::new(|_| None),
        "add1" => Box::new(|g| Some(g + 1.0)),
        "neg" => Box::new(|g| Some(-g)),
        "print" => Box::new(|g| {
            HOOK_PRINTS.with(|p| p.borrow_mut().push(g.py_str()));
            None
        }),
        other => panic!("difftest: unknown hook {other}"),
    }
}

impl Env {
    /// Moves what hooks printed into the program's output.
    fn take_hook_prints(&mut self) {
        let printed = HOOK_PRINTS.with(|p| std::mem::take(&mut *p.borrow_mut()));
        self.out.extend(printed.into_iter().map(|text| ("hook".to_string(), text)));
    }
}

impl Env {
    fn get(&self, name: &str) -> Tensor {
        self.vars.get(name).unwrap_or_else(|| panic!("difftest: unknown variable {name}")).clone()
    }

    fn var(&self, s: &Value, key: &str) -> Tensor {
        self.get(str_of(s, key))
    }

    /// The tensors a list of variable names under `key` stands for.
    fn vars(&self, s: &Value, key: &str) -> Vec<Tensor> {
        let names = s[key].as_array().unwrap_or_else(|| panic!("difftest: {key} is a list"));
        names.iter().map(|n| self.get(n.as_str().expect("difftest: a variable name"))).collect()
    }

    fn set(&mut self, s: &Value, t: Tensor) {
        self.vars.insert(str_of(s, "out").to_string(), t);
    }

    fn operand(&self, o: &Value) -> Operand {
        if let Some(v) = o.get("v") {
            Operand::T(self.get(v.as_str().expect("difftest: var")))
        } else if let Some(n) = o.get("n") {
            Operand::N(Num::F(float(n)))
        } else {
            Operand::N(Num::I(o["i"].as_i64().expect("difftest: int operand") as i32))
        }
    }

    fn opt_float(&self, o: &Value) -> Option<f64> {
        if o.is_null() {
            None
        } else {
            match self.operand(o) {
                Operand::N(Num::F(f)) => Some(f),
                Operand::N(Num::I(i)) => Some(i as f64),
                Operand::T(_) => panic!("difftest: a bound must be a number"),
            }
        }
    }

    fn print(&mut self, what: &str, text: String) {
        self.out.push((what.to_string(), text));
    }
}

fn items(v: &Value) -> Vec<IndexItem> {
    v.as_array()
        .expect("difftest: items")
        .iter()
        .map(|it| {
            let it = it.as_array().expect("difftest: item");
            let bound = |b: &Value| b.as_i64().map(|b| b as isize);
            match it[0].as_str().expect("difftest: item kind") {
                "i" => IndexItem::At(int(&it[1])),
                "f" => IndexItem::Full,
                _ => IndexItem::Range(bound(&it[1]), bound(&it[2])),
            }
        })
        .collect()
}

fn flatten_data(v: &Value, values: &mut Vec<f64>) -> Vec<usize> {
    match v {
        Value::Array(items) => {
            let mut inner = Vec::new();
            for item in items {
                inner = flatten_data(item, values);
            }
            let mut shape = vec![items.len()];
            shape.extend(inner);
            shape
        }
        other => {
            values.push(float(other));
            Vec::new()
        }
    }
}

fn dtype_of(name: &str) -> DType {
    match name {
        "float32" => DType::Float32,
        "float64" => DType::Float64,
        "int64" => DType::Int64,
        "bool" => DType::Bool,
        other => panic!("difftest: dtype {other}"),
    }
}

macro_rules! binary_op {
    ($a:expr, $b:expr, $op:tt) => {
        match ($a, $b) {
            (Operand::T(x), Operand::T(y)) => &x $op &y,
            (Operand::T(x), Operand::N(Num::F(f))) => &x $op f,
            (Operand::T(x), Operand::N(Num::I(i))) => &x $op i,
            (Operand::N(Num::F(f)), Operand::T(y)) => f $op &y,
            (Operand::N(Num::I(i)), Operand::T(y)) => i $op &y,
            (Operand::N(_), Operand::N(_)) => panic!("difftest: two numbers"),
        }
    };
}

macro_rules! inplace_op {
    ($t:expr, $b:expr, $method:ident) => {
        match $b {
            Operand::T(y) => $t.$method(&y),
            Operand::N(Num::F(f)) => $t.$method(f),
            Operand::N(Num::I(i)) => $t.$method(i),
        }
    };
}

macro_rules! assign_op {
    ($t:expr, $b:expr, $op:tt) => {{
        let mut t = $t;
        match $b {
            Operand::T(y) => t $op &y,
            Operand::N(Num::F(f)) => t $op f,
            Operand::N(Num::I(i)) => t $op i,
        }
    }};
}

/// Runs one statement.
/// The user-defined functions of `generate.py`'s CUSTOM, one type standing for each (the
/// rendered Rust has one struct per function): the same calls in forward and backward.
struct Custom {
    kind: String,
}

impl Function for Custom {
    fn forward(&mut self, ctx: &mut Context, inputs: &[Tensor]) -> Tensor {
        let x = &inputs[0];
        match self.kind.as_str() {
            "Scale" => x * 3.0,
            "Square" => {
                ctx.save_for_backward(&[x]);
                x * x
            }
            "Relu" => {
                ctx.save_for_backward(&[x]);
                x.clamp(Some(0.0), None)
            }
            "ExpOut" => {
                let y = x.exp();
                ctx.save_for_backward(&[&y]);
                y
            }
            "Mul2" => {
                ctx.save_for_backward(&[x, &inputs[1]]);
                x * &inputs[1]
            }
            "FirstOnly" => x + &inputs[1],
            "NeedsGrad" => x - &inputs[1],
            "Ident" => x.clone(),
            "SumBad" | "ExtraNone" | "ExtraBad" => x * 2.0,
            other => panic!("difftest: unknown custom function {other}"),
        }
    }

    fn backward(&mut self, ctx: &mut Context, g: &Tensor) -> Vec<Option<Tensor>> {
        match self.kind.as_str() {
            "Scale" | "Ident" => vec![Some(g * 3.0)],
            "Square" => {
                let x = &ctx.saved_tensors()[0];
                vec![Some(&(2.0 * x) * g)]
            }
            "Relu" => {
                let x = &ctx.saved_tensors()[0];
                vec![Some(g * &x.gt(0.0))]
            }
            "ExpOut" => {
                let y = &ctx.saved_tensors()[0];
                vec![Some(g * y)]
            }
            "Mul2" => {
                let saved = ctx.saved_tensors();
                vec![Some(g * &saved[1]), Some(g * &saved[0])]
            }
            "FirstOnly" => vec![Some(g.clone()), None],
            "NeedsGrad" => {
                vec![ctx.needs_input_grad[0].then(|| g.clone()), ctx.needs_input_grad[1].then(|| -g)]
            }
            "SumBad" => vec![Some((g * 2.0).sum())],
            "ExtraNone" => vec![Some(g * 2.0), None],
            "ExtraBad" => vec![Some(g * 2.0), Some(g.clone())],
            other => panic!("difftest: unknown custom function {other}"),
        }
    }

    fn name(&self) -> String {
        format!("{}Backward", self.kind)
    }
}

fn exec(env: &mut Env, s: &Value) {
    let kind = str_of(s, "k");
    match kind {
        "leaf" => {
            let mut values = Vec::new();
            let shape = flatten_data(&s["data"], &mut values);
            let dtype = dtype_of(str_of(s, "dtype"));
            // what `tensor!(data, dtype = .., requires_grad = ..)` builds
            let rg = s["rg"].as_bool() == Some(true);
            if rg && !dtype.is_floating_point() {
                // `tensor!([1, 2], requires_grad = true)`: the literal's own check and words
                let options = TensorOptions::default().dtype(dtype).requires_grad(true);
                drop(autograd_core::literal::tensor_from_literal(values.clone(), options));
            }
            let t = Tensor::from_vec(values, &shape, dtype);
            let t = if rg { t.requires_grad_(true) } else { t };
            env.set(s, t);
        }
        "random" => {
            let shape: Vec<usize> = dims(&s["shape"]).into_iter().map(|d| d as usize).collect();
            manual_seed(s["seed"].as_u64().expect("difftest: a seed"));
            let opts = TensorOptions::default()
                .dtype(dtype_of(str_of(s, "dtype")))
                .requires_grad(s["rg"].as_bool() == Some(true));
            let t = match str_of(s, "fn") {
                "randn" => randn_with(&shape, opts),
                "rand" => rand_with(&shape, opts),
                "randint" => randint(int(&s["low"]) as i64, int(&s["high"]) as i64, &shape),
                other => unsupported(&format!("random {other}")),
            };
            env.set(s, t);
        }
        "factory" => {
            let shape: Vec<usize> = dims(&s["shape"]).into_iter().map(|d| d as usize).collect();
            let opts = TensorOptions::default().dtype(dtype_of(str_of(s, "dtype")));
            let t = match str_of(s, "fn") {
                "zeros" => zeros_with(&shape, opts),
                "ones" => ones_with(&shape, opts),
                "full" => full_with(&shape, float(&s["value"]), opts),
                other => unsupported(&format!("factory {other}")),
            };
            env.set(s, t);
        }
        "binary" => {
            let (a, b) = (env.operand(&s["a"]), env.operand(&s["b"]));
            let t = match str_of(s, "op") {
                "+" => binary_op!(a, b, +),
                "-" => binary_op!(a, b, -),
                "*" => binary_op!(a, b, *),
                "/" => binary_op!(a, b, /),
                other => unsupported(&format!("binary {other}")),
            };
            env.set(s, t);
        }
        "alpha" => {
            let (a, b, alpha) = (env.var(s, "a"), env.var(s, "b"), float(&s["alpha"]));
            let t = match str_of(s, "fn") {
                "add" => a.add_alpha(&b, alpha),
                _ => a.sub_alpha(&b, alpha),
            };
            env.set(s, t);
        }
        "pow" => {
            let a = env.var(s, "a");
            let t = match env.operand(&s["b"]) {
                Operand::T(b) => a.pow(&b),
                Operand::N(Num::F(f)) => a.pow(f),
                Operand::N(Num::I(i)) => a.pow(i),
            };
            env.set(s, t);
        }
        "rpow" => {
            let a = env.var(s, "a");
            let t = match env.operand(&s["base"]) {
                Operand::N(Num::F(f)) => a.rpow(f),
                Operand::N(Num::I(i)) => a.rpow(i),
                Operand::T(_) => panic!("difftest: rpow base"),
            };
            env.set(s, t);
        }
        "maxmin" => {
            let (a, b) = (env.var(s, "a"), env.var(s, "b"));
            let t = if str_of(s, "fn") == "maximum" { a.maximum(&b) } else { a.minimum(&b) };
            env.set(s, t);
        }
        "mm" => {
            let (a, b) = (env.var(s, "a"), env.var(s, "b"));
            let t = match str_of(s, "fn") {
                "matmul" | "@" => a.matmul(&b),
                "mm" => a.mm(&b),
                "mv" => a.mv(&b),
                "dot" => a.dot(&b),
                "bmm" => a.bmm(&b),
                other => unsupported(&format!("mm {other}")),
            };
            env.set(s, t);
        }
        "unary" => {
            let a = env.var(s, "a");
            let t = match str_of(s, "fn") {
                "exp" => a.exp(),
                "log" => a.log(),
                "sin" => a.sin(),
                "cos" => a.cos(),
                "tanh" => a.tanh(),
                "sigmoid" => a.sigmoid(),
                "relu" => a.relu(),
                "sqrt" => a.sqrt(),
                "abs" => a.abs(),
                "neg" => a.neg(),
                "negop" => -&a,
                "reciprocal" => a.reciprocal(),
                "double" => a.double(),
                "float" => a.float(),
                "isnan" => a.isnan(),
                "isinf" => a.isinf(),
                "isfinite" => a.isfinite(),
                "sign" => a.sign(),
                "sgn" => a.sgn(),
                "long" => a.long(),
                "logical_not" => a.logical_not(),
                other => unsupported(&format!("unary {other}")),
            };
            env.set(s, t);
        }
        "reduce" => {
            let a = env.var(s, "a");
            let keepdim = s["keepdim"].as_bool() == Some(true);
            let dim = s["dim"].as_i64().map(|d| d as isize);
            let t = match (str_of(s, "fn"), dim) {
                ("sum", None) => a.sum(),
                ("sum", Some(d)) => a.sum_dim(d, keepdim),
                ("mean", None) => a.mean(),
                ("mean", Some(d)) => a.mean_dim(d, keepdim),
                ("prod", None) => a.prod(),
                ("prod", Some(d)) => a.prod_dim(d, keepdim),
                ("std", None) => a.std(),
                ("std", Some(d)) => a.std_dim(d, keepdim),
                ("var", None) => a.var(),
                ("var", Some(d)) => a.var_dim(d, keepdim),
                ("argmax", None) => a.argmax(),
                ("argmax", Some(d)) => a.argmax_dim(d, keepdim),
                ("argmin", None) => a.argmin(),
                ("argmin", Some(d)) => a.argmin_dim(d, keepdim),
                ("max", None) => a.max(),
                ("min", None) => a.min(),
                ("norm", None) if s["p"].is_null() => a.norm(),
                ("norm", None) => a.norm_p(float(&s["p"])),
                ("norm", Some(d)) => a.norm_dim(float(&s["p"]), d, keepdim),
                (other, _) => unsupported(&format!("reduce {other}")),
            };
            env.set(s, t);
        }
        "reduce2" => {
            let a = env.var(s, "a");
            let (dim, keepdim) = (int(&s["dim"]), s["keepdim"].as_bool() == Some(true));
            let (v, i) =
                if str_of(s, "fn") == "max" { a.max_dim(dim, keepdim) } else { a.min_dim(dim, keepdim) };
            let outs = s["out"].as_array().expect("difftest: outs");
            env.vars.insert(outs[0].as_str().expect("difftest: out").to_string(), v);
            env.vars.insert(outs[1].as_str().expect("difftest: out").to_string(), i);
        }
        "dimop" => {
            let (a, dim) = (env.var(s, "a"), int(&s["dim"]));
            let t = match str_of(s, "fn") {
                "cumsum" => a.cumsum(dim),
                "softmax" => a.softmax(dim),
                "log_softmax" => a.log_softmax(dim),
                other => unsupported(&format!("dimop {other}")),
            };
            env.set(s, t);
        }
        "view" => {
            let a = env.var(s, "a");
            let args = s["args"].as_array().cloned().unwrap_or_default();
            let arg = |i: usize| int(&args[i]);
            let t = match str_of(s, "fn") {
                "select" => a.select(arg(0), arg(1)),
                "narrow" => a.narrow(arg(0), arg(1) as usize, arg(2) as usize),
                "transpose" => a.transpose(arg(0), arg(1)),
                "t" => a.t(),
                "T" => a.T(),
                "unsqueeze" => a.unsqueeze(arg(0)),
                "squeeze" => a.squeeze(),
                "squeeze_dim" => a.squeeze_dim(arg(0)),
                "expand" => a.expand(dims(&args[0])),
                "reshape" => a.reshape(dims(&args[0])),
                "view" => a.view(dims(&args[0])),
                "permute" => a.permute(dims(&args[0])),
                "flatten" => a.flatten(),
                "detach" => a.detach(),
                "clone" => a.deep_clone(),
                "contiguous" => a.contiguous(),
                other => unsupported(&format!("view {other}")),
            };
            env.set(s, t);
        }
        "index" => {
            let t = env.var(s, "a").index(items(&s["items"]));
            env.set(s, t);
        }
        "inplace" => {
            let t = env.var(s, "t");
            let args = s["args"].as_array().cloned().unwrap_or_default();
            match str_of(s, "fn") {
                "add_" => drop(inplace_op!(t, env.operand(&args[0]), add_)),
                "sub_" => drop(inplace_op!(t, env.operand(&args[0]), sub_)),
                "mul_" => drop(inplace_op!(t, env.operand(&args[0]), mul_)),
                "div_" => drop(inplace_op!(t, env.operand(&args[0]), div_)),
                "pow_" => drop(inplace_op!(t, env.operand(&args[0]), pow_)),
                "iadd" => assign_op!(t, env.operand(&args[0]), +=),
                "isub" => assign_op!(t, env.operand(&args[0]), -=),
                "imul" => assign_op!(t, env.operand(&args[0]), *=),
                "idiv" => assign_op!(t, env.operand(&args[0]), /=),
                "zero_" => drop(t.zero_()),
                "fill_" => drop(match env.operand(&args[0]) {
                    Operand::N(Num::F(f)) => t.fill_(f),
                    Operand::N(Num::I(i)) => t.fill_(i),
                    Operand::T(_) => panic!("difftest: fill_ takes a number"),
                }),
                "copy_" => drop(t.copy_(&env.get(args[0]["v"].as_str().expect("difftest: copy_ source")))),
                "clamp_" => drop(t.clamp_(env.opt_float(&args[0]), env.opt_float(&args[1]))),
                "masked_fill_" => {
                    let mask = env.get(args[0]["v"].as_str().expect("difftest: mask"));
                    drop(t.masked_fill_(&mask, env.opt_float(&args[1]).expect("difftest: fill value")))
                }
                "exp_" => drop(t.exp_()),
                "relu_" => drop(t.relu_()),
                "neg_" => drop(t.neg_()),
                "abs_" => drop(t.abs_()),
                "sigmoid_" => drop(t.sigmoid_()),
                "tanh_" => drop(t.tanh_()),
                "sqrt_" => drop(t.sqrt_()),
                "log_" => drop(t.log_()),
                "sin_" => drop(t.sin_()),
                "cos_" => drop(t.cos_()),
                other => unsupported(&format!("inplace {other}")),
            }
        }
        "assign" => {
            let t = env.var(s, "t");
            let items = items(&s["items"]);
            drop(match env.operand(&s["value"]) {
                Operand::T(v) => t.assign(items, &v),
                Operand::N(Num::F(f)) => t.assign(items, f),
                Operand::N(Num::I(i)) => t.assign(items, i),
            });
        }
        "assign_with" => {
            let (t, index) = (env.var(s, "t"), env.var(s, "index"));
            drop(match env.operand(&s["value"]) {
                Operand::T(v) => t.assign_with(&index, &v),
                Operand::N(Num::F(f)) => t.assign_with(&index, f),
                Operand::N(Num::I(i)) => t.assign_with(&index, i),
            });
        }
        "compare" => {
            let a = env.var(s, "a");
            let b = env.operand(&s["b"]);
            macro_rules! cmp {
                ($m:ident) => {
                    match b {
                        Operand::T(y) => a.$m(&y),
                        Operand::N(Num::F(f)) => a.$m(f),
                        Operand::N(Num::I(i)) => a.$m(i),
                    }
                };
            }
            let t = match str_of(s, "fn") {
                "gt" => cmp!(gt),
                "lt" => cmp!(lt),
                "ge" => cmp!(ge),
                "le" => cmp!(le),
                "eq" => cmp!(eq),
                "ne" => cmp!(ne),
                other => unsupported(&format!("compare {other}")),
            };
            env.set(s, t);
        }
        "masked_fill" => {
            let (a, mask) = (env.var(s, "a"), env.var(s, "mask"));
            let value = env.opt_float(&s["value"]).expect("difftest: fill value");
            env.set(s, a.masked_fill(&mask, value));
        }
        "clamp" => {
            let a = env.var(s, "a");
            let t = a.clamp(env.opt_float(&s["min"]), env.opt_float(&s["max"]));
            env.set(s, t);
        }
        "custom" => {
            let args = env.vars(s, "args");
            let refs: Vec<&Tensor> = args.iter().collect();
            let t = Custom { kind: str_of(s, "fn").to_string() }.apply(&refs);
            env.set(s, t);
        }
        "logical_and" => {
            let t = env.var(s, "a").logical_and(&env.var(s, "b"));
            env.set(s, t);
        }
        "range" => {
            let args: Vec<Operand> =
                s["args"].as_array().expect("difftest: range args").iter().map(|a| env.operand(a)).collect();
            let scalar = |i: usize| match &args[i] {
                Operand::N(Num::F(f)) => Scalar::from(*f),
                Operand::N(Num::I(i)) => Scalar::from(*i),
                Operand::T(_) => panic!("difftest: a range bound must be a number"),
            };
            let count = |i: usize| match &args[i] {
                Operand::N(Num::I(i)) => *i as usize,
                _ => panic!("difftest: a count must be an integer"),
            };
            let tensor = |i: usize| match &args[i] {
                Operand::T(t) => t.clone(),
                _ => panic!("difftest: zeros_like takes a tensor"),
            };
            let mut opts = TensorOptions::default();
            if let Some(d) = s["dtype"].as_str() {
                opts = opts.dtype(dtype_of(d));
            }
            let t = match str_of(s, "fn") {
                "arange" if s["dtype"].is_null() => arange(scalar(0)),
                "arange" => arange_with(0, scalar(0), 1, opts),
                "arange3" => arange_with(scalar(0), scalar(1), scalar(2), opts),
                "linspace" => linspace(float(&s["args"][0]["n"]), float(&s["args"][1]["n"]), count(2)),
                "eye" => eye(count(0)),
                "zeros_like" => zeros_like(&tensor(0)),
                "ones_like" => ones_like(&tensor(0)),
                other => unsupported(&format!("range {other}")),
            };
            env.set(s, t);
        }
        "where" => {
            let t = api_where(&env.var(s, "cond"), &env.var(s, "a"), &env.var(s, "b"));
            env.set(s, t);
        }
        "gather" => {
            let (a, index, dim) = (env.var(s, "a"), env.var(s, "index"), int(&s["dim"]));
            let t = match str_of(s, "fn") {
                "gather" => a.gather(dim, &index),
                "index_select" => a.index_select(dim, &index),
                "scatter" => a.scatter(dim, &index, &env.var(s, "src")),
                "index_with" => a.index_with(&index),
                other => unsupported(&format!("gather {other}")),
            };
            env.set(s, t);
        }
        "cat" => {
            let list = env.vars(s, "items");
            let refs: Vec<&Tensor> = list.iter().collect();
            let dim = int(&s["dim"]);
            let t = if str_of(s, "fn") == "cat" { cat(&refs, dim) } else { stack(&refs, dim) };
            env.set(s, t);
        }
        "no_grad" => no_grad(|| exec(env, &s["body"])),
        "backward" => {
            let t = env.var(s, "t");
            let gradient = s["grad"].as_str().map(|g| env.get(g));
            let retain = s["retain"].as_bool() == Some(true);
            if let Some(inputs) = s["inputs"].as_array() {
                let inputs: Vec<Tensor> =
                    inputs.iter().map(|n| env.get(n.as_str().expect("difftest: input"))).collect();
                let refs: Vec<&Tensor> = inputs.iter().collect();
                t.backward_inputs(gradient.as_ref(), retain, &refs);
            } else if s["create"].as_bool() == Some(true) {
                t.backward_create_graph(gradient.as_ref());
            } else if retain {
                t.backward_opts(gradient.as_ref(), true);
            } else if let Some(g) = gradient {
                t.backward_with(&g);
            } else {
                t.backward();
            }
        }
        "grad" => {
            let names = |key: &str| -> Vec<Tensor> {
                s[key]
                    .as_array()
                    .expect("difftest: list")
                    .iter()
                    .map(|n| env.get(n.as_str().expect("difftest: name")))
                    .collect()
            };
            let (outputs, inputs) = (names("outputs"), names("inputs"));
            let (o, i): (Vec<&Tensor>, Vec<&Tensor>) = (outputs.iter().collect(), inputs.iter().collect());
            let grads = grad(&o, &i, s["create"].as_bool() == Some(true));
            for (name, g) in s["outs"].as_array().expect("difftest: outs").iter().zip(grads) {
                env.vars.insert(name.as_str().expect("difftest: out").to_string(), g);
            }
        }
        "requires_grad_" => drop(env.var(s, "t").requires_grad_(s["flag"].as_bool() == Some(true))),
        "retain_grad" => env.var(s, "t").retain_grad(),
        "hook" => {
            let hook = hook_fn(str_of(s, "fn"));
            let handle = env.var(s, "t").register_hook(move |g| hook(g));
            env.handles.insert(str_of(s, "out").to_string(), handle);
        }
        "unhook" => {
            if let Some(handle) = env.handles.remove(str_of(s, "h")) {
                handle.remove();
            }
        }
        "detach_" => drop(env.var(s, "t").detach_()),
        "set_data" => env.var(s, "t").set_data(&env.var(s, "v")),
        "set_grad_none" => env.var(s, "t").set_grad(None),
        "print" => {
            let t = env.var(s, "t");
            let what = str_of(s, "what");
            let text = match what {
                "value" => t.py_str(),
                "grad" => t.grad().py_str(),
                "grad_fn" => t.grad_fn().map(|f| f.name()).py_str(),
                "requires_grad" => t.requires_grad().py_str(),
                "is_leaf" => t.is_leaf().py_str(),
                "next_functions" => t
                    .grad_fn()
                    .map(|node| {
                        node.next_functions()
                            .iter()
                            .map(|(f, i)| (f.as_ref().map(|f| f.name()), *i))
                            .collect::<Vec<_>>()
                    })
                    .py_str(),
                "item" => t.item().py_str(),
                "any" => t.any().py_str(),
                "all" => t.all().py_str(),
                other => unsupported(&format!("print {other}")),
            };
            env.print(what, text);
        }
        other => unsupported(other),
    }
}

/// The statement kinds of a program, nested `no_grad` bodies included (for the summary).
pub fn kinds(stmts: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for s in stmts {
        let k = s["k"].as_str().unwrap_or("?");
        if k == "no_grad" {
            out.push("no_grad".to_string());
            out.extend(kinds(std::slice::from_ref(&s["body"])));
        } else {
            let f = s.get("fn").and_then(Value::as_str).or_else(|| s.get("what").and_then(Value::as_str));
            out.push(match f {
                Some(f) => format!("{k}.{f}"),
                None => k.to_string(),
            });
        }
    }
    out
}

/// Runs a program's statements. Panics are caught here (the caller silences the panic hook);
/// grad mode is on again afterwards whatever happened.
pub fn run_program(stmts: &[Value]) -> Outcome {
    HOOK_PRINTS.with(|p| p.borrow_mut().clear());
    let mut env = Env { vars: HashMap::new(), handles: HashMap::new(), out: Vec::new() };
    let result = catch_unwind(AssertUnwindSafe(|| {
        for s in stmts {
            exec(&mut env, s);
            env.take_hook_prints();
        }
    }));
    env.take_hook_prints();
    set_grad_enabled(true);
    let observations = std::mem::take(&mut env.out);
    match result {
        Ok(()) => Outcome::Ran { observations, error: None },
        Err(payload) => {
            if let Some(Unsupported(what)) = payload.downcast_ref::<Unsupported>() {
                return Outcome::Unsupported { what: what.clone(), observations };
            }
            Outcome::Ran { observations, error: Some(TorchError::from_payload(&*payload)) }
        }
    }
}

/// Silences the panic hook while `f` runs (every caught panic would print otherwise), after
/// letting autograd-core install its own hook, which would wrap ours if it came later.
pub fn quietly<R>(f: impl FnOnce() -> R) -> R {
    // autograd-core's own hook (which prints typed errors) goes in first, so the silent one wins
    autograd_core::error::install_panic_hook();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    match result {
        Ok(r) => r,
        Err(p) => std::panic::resume_unwind(p),
    }
}
