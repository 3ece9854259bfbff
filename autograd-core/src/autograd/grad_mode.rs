//! Grad mode: one per-thread flag (kept in the process-wide shared state, see `global`), with
//! scope guards and closure forms, like `torch.no_grad()` and `torch.enable_grad()`.

use std::sync::atomic::Ordering;

use crate::global;

/// Whether operations record history now (`torch.is_grad_enabled()`).
pub fn is_grad_enabled() -> bool {
    global::thread().grad_enabled.load(Ordering::Relaxed)
}

/// Turns history recording on or off until changed again (`torch.set_grad_enabled`). Like in
/// Python, the setting persists from notebook cell to notebook cell.
///
/// ```
/// use autograd_core::prelude::*;
/// set_grad_enabled(false);
/// let x = ones(&[1]).requires_grad_(true);
/// assert!(!(&x * 2.0).requires_grad());
/// set_grad_enabled(true);
/// ```
pub fn set_grad_enabled(enabled: bool) {
    global::thread().grad_enabled.store(enabled, Ordering::Relaxed);
}

/// Runs `f` with history recording off (`with torch.no_grad():`), restoring the previous
/// mode afterwards, even if `f` panics.
///
/// ```
/// use autograd_core::prelude::*;
/// let x = tensor!(10., requires_grad = true, dtype = float64);
/// let y = no_grad(|| x.pow(2));
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

/// Runs `f` with history recording on (`with torch.enable_grad():`), even inside `no_grad`.
pub fn enable_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = EnableGradGuard::new();
    f()
}

/// Turns recording off until dropped: `let _g = NoGradGuard::new();`.
#[must_use = "the guard turns grad mode back when dropped"]
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    pub fn new() -> Self {
        let previous = is_grad_enabled();
        set_grad_enabled(false);
        NoGradGuard { previous }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.previous);
    }
}

/// Turns recording on until dropped.
#[must_use = "the guard turns grad mode back when dropped"]
pub struct EnableGradGuard {
    previous: bool,
}

impl EnableGradGuard {
    pub fn new() -> Self {
        let previous = is_grad_enabled();
        set_grad_enabled(true);
        EnableGradGuard { previous }
    }
}

impl Default for EnableGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for EnableGradGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.previous);
    }
}

/// Sets grad mode for a scope to a given value (`with torch.set_grad_enabled(mode):`).
#[must_use = "the guard turns grad mode back when dropped"]
pub struct GradModeGuard {
    previous: bool,
}

impl GradModeGuard {
    pub fn new(enabled: bool) -> Self {
        let previous = is_grad_enabled();
        set_grad_enabled(enabled);
        GradModeGuard { previous }
    }
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.previous);
    }
}
