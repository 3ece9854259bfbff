//! The idle warm-up: while nobody is waiting, questions to the analyser that move its
//! lazy indexing of autograd-core out of the student's first cells.

use std::time::Duration;

use evcxr::CommandContext;

use super::analyse;

/// Typical tutorial code, analysed (never run) while the kernel is idle after start-up.
///
/// evcxr asks its built-in rust-analyzer for the type of every variable a cell defines. The
/// analyser works lazily: the first `let x = ones(..)` makes it resolve autograd-core, ndarray
/// and std and index their trait impls, which took 2.8 s on the first such cell (1.3 s more
/// on the first cell with operators). Asking it about this code while nobody is waiting moves
/// that work out of the student's first cells; a request that arrives meanwhile waits for at
/// most the current step.
pub(super) const WARM_UP: &[&str] = &[
    "let x = ones(&[2, 2]).requires_grad_(true);\nlet y = &x + 2.0;\ny.",
    "let x = tensor!([1., 2.], requires_grad = true);\nlet z = &x * &x * 3.0 - 1.0;\nlet out = z.mean();\nout.backward();\nlet g = x.grad();\nlet f = out.grad_fn();\nf.",
    "let w = tensor!([10, 20], requires_grad = true, dtype = float64);\nlet s = (w.pow(2) + 20.0).mean();\ns.",
];

/// How long the kernel must have been idle before a warm-up step starts.
pub(super) const IDLE_BEFORE_WARM_UP: Duration = Duration::from_millis(500);

/// One warm-up step: a completion after the final dot of `code`, which makes the analyser infer
/// every variable in it. The answer is thrown away; the session's state is not touched.
pub(super) fn warm_up(context: &mut CommandContext, code: &str) {
    let began = std::time::Instant::now();
    analyse(|| context.completions(code, code.len()));
    if std::env::var_os("AUTOGRAD_KERNEL_TIMING").is_some() {
        eprintln!("[timing] analyser warm-up step: {:.2} s", began.elapsed().as_secs_f64());
    }
}
