//! Errors as values with a type, like Python's exceptions.
//!
//! A misuse panics (a notebook cell stops, as a Python cell raises), and the panic's payload
//! is a [`TorchError`]: the exception type PyTorch raises (`IndexError`, `RuntimeError`, ...)
//! and PyTorch's exact message. The notebook kernel reads the type to name the error as
//! Python would; a Rust program can catch it with `catch_unwind` and downcast to
//! `TorchError`. A panic that carries a plain string is a `RuntimeError` for
//! [`TorchError::from_payload`]; the kernel names it `RuntimeError` when it happened inside
//! autograd-core and `Panic` when it is the user's own (`panic!`, `unwrap`).
//!
//! Where an error points: the public functions that raise are `#[track_caller]` (and so are
//! the helpers between them and `raise!`), so a panic's location is the user's line, as a
//! Python traceback ends at the user's call. Errors found while the graph runs (a modified
//! saved tensor, a second backward) are raised again from the `backward()` / `grad()` line
//! by `at_caller`. When you add a function that raises, mark it `#[track_caller]` too, and
//! avoid raising inside closures (`unwrap_or_else(|| raise!(..))`), which lose the caller.
//!
//! ```
//! use autograd_core::prelude::*;
//! use autograd_core::error::{ErrorKind, TorchError};
//! let caught = std::panic::catch_unwind(|| tensor!([1., 2., 3.]).select(0, 5)).unwrap_err();
//! let err = TorchError::from_payload(caught.as_ref());
//! assert_eq!(err.kind, ErrorKind::IndexError);
//! ```

use std::fmt;

/// Python's exception types that PyTorch raises for misuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    RuntimeError,
    IndexError,
    ValueError,
    TypeError,
    NotImplementedError,
}

impl ErrorKind {
    /// The Python name (`IndexError`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::RuntimeError => "RuntimeError",
            ErrorKind::IndexError => "IndexError",
            ErrorKind::ValueError => "ValueError",
            ErrorKind::TypeError => "TypeError",
            ErrorKind::NotImplementedError => "NotImplementedError",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A PyTorch error: its exception type and its message, exactly as torch prints them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorchError {
    pub kind: ErrorKind,
    pub message: String,
}

impl TorchError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> TorchError {
        TorchError { kind, message: message.into() }
    }

    /// Reads a caught panic's payload: a `TorchError` as is, a plain string as a
    /// `RuntimeError` with that text.
    pub fn from_payload(payload: &(dyn std::any::Any + Send)) -> TorchError {
        if let Some(err) = payload.downcast_ref::<TorchError>() {
            err.clone()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            TorchError::new(ErrorKind::RuntimeError, text.clone())
        } else if let Some(text) = payload.downcast_ref::<&str>() {
            TorchError::new(ErrorKind::RuntimeError, *text)
        } else {
            TorchError::new(ErrorKind::RuntimeError, "Box<dyn Any>")
        }
    }

    /// Stops the computation with this error (a panic whose payload is the error).
    #[track_caller]
    pub fn raise(self) -> ! {
        install_panic_hook();
        std::panic::panic_any(self)
    }
}

impl fmt::Display for TorchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TorchError {}

/// Raises a typed PyTorch error: `raise!(IndexError, "index {i} is out of bounds ...")`.
/// Without a type it is a `RuntimeError`: `raise!("...")`.
#[macro_export]
macro_rules! raise {
    ($kind:ident, $($fmt:tt)+) => {
        $crate::error::TorchError::new($crate::error::ErrorKind::$kind, format!($($fmt)+)).raise()
    };
    ($($fmt:tt)+) => {
        $crate::error::TorchError::new($crate::error::ErrorKind::RuntimeError, format!($($fmt)+)).raise()
    };
}

thread_local! {
    /// How many [`at_caller`] calls are running on this thread: their panics are raised again
    /// from the caller's line, so the hooks stay quiet about the first one.
    static HELD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Whether a panic now is caught by [`at_caller`] and raised again (the hooks print nothing).
pub(crate) fn panics_are_held() -> bool {
    HELD.with(|held| held.get() > 0)
}

/// Runs `f` (e.g. the backward pass, which runs the graph's nodes far from the user's code);
/// a panic inside is raised again as a [`TorchError`] from the caller's line (with
/// `#[track_caller]` up to the public function, the user's line), and only that one is
/// printed, as Python names the `backward()` line.
#[track_caller]
pub(crate) fn at_caller<R>(f: impl FnOnce() -> R) -> R {
    install_panic_hook();
    HELD.with(|held| held.set(held.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    HELD.with(|held| held.set(held.get() - 1));
    match result {
        Ok(value) => value,
        Err(payload) => match payload.downcast::<TorchError>() {
            Ok(err) => err.raise(),
            // a plain panic (a user's hook or Function, an interrupt) stays plain
            Err(payload) => match payload.downcast::<String>() {
                Ok(text) => std::panic::panic_any(*text),
                Err(payload) => match payload.downcast::<&'static str>() {
                    Ok(text) => std::panic::panic_any(*text),
                    Err(payload) => std::panic::resume_unwind(payload),
                },
            },
        },
    }
}

/// Rust's default panic hook prints only string payloads ("Box<dyn Any>" otherwise), so the
/// first raised error wraps whatever hook is in place: a `TorchError` is printed as the
/// default hook would print its message, with the type in front (`IndexError: ...`); every
/// other panic goes to the previous hook unchanged. Under the notebook kernel the previous
/// hook is the kernel's reporter, which knows `TorchError` itself.
///
/// This happens by itself at the first raised error. A program that sets a panic hook of its
/// own (to silence or collect panics) calls this first, so that its hook comes after and is
/// the one in force.
pub fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if panics_are_held() {
                return;
            }
            let reported_by_kernel = crate::render::panic_report::is_reporting_to_the_kernel();
            match info.payload().downcast_ref::<TorchError>() {
                Some(err) if !reported_by_kernel => {
                    let thread = std::thread::current();
                    let name = thread.name().unwrap_or("<unnamed>");
                    let location = info
                        .location()
                        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                        .unwrap_or_default();
                    eprintln!("\nthread '{name}' panicked at {location}:\n{}: {}", err.kind, err.message);
                }
                _ => previous(info),
            }
        }));
    });
}
