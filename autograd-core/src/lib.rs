//! # autograd-core
//!
//! A PyTorch-like autograd engine for teaching, built so that PyTorch autograd tutorials can
//! be re-run cell by cell in Rust and show *exactly* what PyTorch shows: the same numbers
//! (`manual_seed` + `rand`/`randn`/`randint` give torch's values bit for bit), the same text
//! (`Display` is PyTorch's tensor repr), the same graph (`grad_fn`, `next_functions`, node
//! names) and the same errors (misuse panics with PyTorch's message).
//!
//! ```
//! use autograd_core::prelude::*;
//!
//! let x = tensor!([10, 20, 30, 40], requires_grad = true, dtype = float64);
//! let f = (x.pow(2) + 20.0).mean();
//! f.backward();
//! assert_eq!(x.grad().unwrap().to_string(), "tensor([ 5., 10., 15., 20.], dtype=torch.float64)");
//! ```
//!
//! ## Map from PyTorch
//! | PyTorch | here |
//! |---|---|
//! | `torch.tensor(x, requires_grad=True, dtype=torch.float64)` | `tensor!(x, requires_grad = true, dtype = float64)` |
//! | `a + b`, `2 * a`, `a ** 2` | `&a + &b`, `2.0 * &a`, `a.pow(2)` |
//! | `x.grad`, `x.grad_fn`, `x.is_leaf` | `x.grad()`, `x.grad_fn()`, `x.is_leaf()` |
//! | `x.data = x.data - lr * x.grad` | `x.set_data(&(x.data() - lr * x.grad().unwrap()))` |
//! | `with torch.no_grad():` | `no_grad(\|\| ...)` or `let _g = NoGradGuard::new();` |
//! | `n[0, 0] = v` | `n.assign(idx![0, 0], &v)` |
//! | `x.clone()` | `x.deep_clone()` (Rust's `clone()` is another handle, like `b = a`) |
//! | `print(a, b)` | `show!(a, b)` |
//! | `-x`, `x.neg()` | `-&x`, `x.neg()` |
//! | `x.isnan()`, `x.isinf()`, `x.isfinite()` | `x.isnan()`, `x.isinf()`, `x.isfinite()` |
//! | `torch.where(c, a, b)` | `where_(&c, &a, &b)` |
//! | `torch.add(a, b, alpha=2)`, `torch.sub(a, b, alpha=2)` | `a.add_alpha(&b, 2.0)`, `a.sub_alpha(&b, 2.0)` |
//! | `x.norm(p)`, `x.norm(p, dim, keepdim)` | `x.norm_p(p)`, `x.norm_dim(p, dim, keepdim)` |
//! | `v, i = x.max(dim, keepdim)`, `x.min(dim)` | `let (v, i) = x.max_dim(dim, keepdim)`, `x.min_dim(dim, false)` |
//! | `x.argmax()`, `x.argmin(dim, keepdim)` | `x.argmax()`, `x.argmin_dim(dim, keepdim)` |
//! | `x.prod()`, `x.prod(dim, keepdim)` | `x.prod()`, `x.prod_dim(dim, keepdim)` |
//! | `x.std()`, `x.var(dim, keepdim=True)` | `x.std()`, `x.var_dim(dim, true)` |
//! | `x.cumsum(dim)` | `x.cumsum(dim)` |
//! | `x.softmax(dim)`, `x.log_softmax(dim)` | `x.softmax(dim)`, `x.log_softmax(dim)` |
//! | `x.index_select(d, i)`, `x.gather(d, i)`, `x.scatter(d, i, src)` | `x.index_select(d, &i)`, `x.gather(d, &i)`, `x.scatter(d, &i, &src)` |
//! | `x[t]` (int64 index tensor or bool mask) | `x.index_with(&t)` |
//! | `a.bmm(b)` | `a.bmm(&b)` |
//! | `y.backward(inputs=[a, b])` | `y.backward_inputs(None, false, &[&a, &b])` |
//!
//! ## Global state
//! Grad mode and the random generator live in one process-wide place shared by every copy of
//! this crate (the notebook kernel links a copy into every cell); see the `global` module.
//!
//! ## Platform note
//! float32 `randn` of 16 or more elements follows torch's x86-64 (AVX2/AVX-512) build; torch
//! itself prints slightly different float32 normals on ARM and macOS.

pub mod autograd;
pub mod cell_variables;
pub mod dtype;
pub mod error;
pub mod factory;
pub mod global;
pub mod gradcheck;
pub mod introspect;
pub(crate) mod layout;
pub mod literal;
pub mod names;
pub mod numpy;
pub mod ops;
pub mod pydisplay;
pub mod random;
pub mod render;
mod repr;
pub mod serialize;
pub(crate) mod storage;
mod sys;
pub mod tensor;
mod zip_archive;

/// Everything a notebook needs: `use autograd_core::prelude::*;`.
pub mod prelude {
    pub use crate::autograd::engine::{backward_order, grad, grad_opts};
    pub use crate::autograd::function::{Context, Function};
    pub use crate::autograd::grad_mode::{
        enable_grad, is_grad_enabled, no_grad, set_grad_enabled, EnableGradGuard, GradModeGuard, NoGradGuard,
    };
    pub use crate::autograd::hooks::HookHandle;
    pub use crate::autograd::node::Node;
    pub use crate::dtype::DType;
    pub use crate::factory::{
        arange, arange_with, eye, full, full_with, initial_seed, linspace, manual_seed, ones, ones_like,
        ones_like_with, ones_with, rand, rand_with, randint, randint_with, randn, randn_with, zeros,
        zeros_like, zeros_like_with, zeros_with, TensorOptions,
    };
    pub use crate::gradcheck::{gradcheck, gradcheck_report};
    pub use crate::introspect::{PYTORCH_VERSION, VERSION};
    pub use crate::numpy::NdArray;
    pub use crate::ops::elementwise::Scalar;
    pub use crate::ops::index::IndexItem;
    pub use crate::ops::linalg::{dot, matmul};
    pub use crate::ops::select::where_;
    pub use crate::ops::shape::{cat, stack};
    pub use crate::pydisplay::PyDisplay;
    pub use crate::render::explain::{explain, Explanation};
    pub use crate::render::stepper::{step_backward, BackwardStepper};
    pub use crate::render::{display, draw_forward, draw_graph, GraphPicture, NotebookDisplay};
    pub use crate::serialize::{load, save};
    pub use crate::tensor::Tensor;
    pub use crate::{idx, show, tensor};
}
