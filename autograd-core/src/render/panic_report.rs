//! Panics in a notebook cell, reported to the kernel in order with the cell's output.
//!
//! Rust's default panic hook writes the message to stderr, a second pipe that the kernel reads
//! on its own thread; whether the message had arrived when the cell ended was a matter of
//! timing (the kernel used to wait 20 ms and hope). The kernel's runtime calls
//! [`report_panics_to_the_kernel`] once; from then on a panic is one line on stdout, which
//! evcxr reads before the line that ends the cell, so the kernel always knows.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

static REPORTING: AtomicBool = AtomicBool::new(false);

/// Whether this process reports panics to the notebook kernel (see `error`'s hook).
pub(crate) fn is_reporting_to_the_kernel() -> bool {
    REPORTING.load(Ordering::Relaxed)
}

/// The marker that starts a panic line on stdout (read by the kernel), followed by a JSON
/// object with `location` (`file:line:column`), `message` and, for a [`TorchError`], `type`
/// (the Python exception's name).
///
/// [`TorchError`]: crate::error::TorchError
pub const PANIC_MARKER: &str = "\u{1}AUTOGRAD_PANIC ";

/// Installs the panic hook that reports panics on stdout instead of stderr. For the
/// notebook kernel's runtime process; a program of its own keeps Rust's default hook.
pub fn report_panics_to_the_kernel() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        REPORTING.store(true, Ordering::Relaxed);
        std::panic::set_hook(Box::new(|info| {
            if crate::error::panics_are_held() {
                return; // raised again from the caller's line (error::at_caller)
            }
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            let line = panic_line(&location, &panic_message(info.payload()), error_type(info.payload()));
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }));
    });
}

/// What `panic!` was given, as the default hook prints it.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(err) = payload.downcast_ref::<crate::error::TorchError>() {
        err.message.clone()
    } else if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "Box<dyn Any>".to_string()
    }
}

/// The Python exception type of a raised [`crate::error::TorchError`]; `None` for a plain
/// panic (a user's own `panic!` or `unwrap`), which the kernel names by where it happened.
fn error_type(payload: &(dyn std::any::Any + Send)) -> Option<&'static str> {
    payload.downcast_ref::<crate::error::TorchError>().map(|err| err.kind.name())
}

fn panic_line(location: &str, message: &str, error_type: Option<&str>) -> String {
    let typed = error_type.map(|t| format!(",\"type\":{}", super::json_string(t))).unwrap_or_default();
    format!(
        "{PANIC_MARKER}{{\"location\":{},\"message\":{}{typed}}}\n",
        super::json_string(location),
        super::json_string(message),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_one_line_of_json_after_the_marker() {
        let line = panic_line(
            "src/lib.rs:3:5",
            "shape '[2]' is invalid for input of size 3\n\"quoted\"",
            Some("RuntimeError"),
        );
        assert_eq!(
            line,
            "\u{1}AUTOGRAD_PANIC {\"location\":\"src/lib.rs:3:5\",\"message\":\"shape '[2]' is invalid for input of size 3\\n\\\"quoted\\\"\",\"type\":\"RuntimeError\"}\n"
        );
        assert_eq!(line.lines().count(), 1);
        assert_eq!(
            panic_line("src/lib.rs:3:5", "boom", None),
            "\u{1}AUTOGRAD_PANIC {\"location\":\"src/lib.rs:3:5\",\"message\":\"boom\"}\n"
        );
    }

    #[test]
    fn only_raised_errors_have_a_type() {
        let err = crate::error::TorchError::new(crate::error::ErrorKind::IndexError, "index 5");
        assert_eq!(error_type(&err), Some("IndexError"));
        assert_eq!(error_type(&"boom"), None);
        assert_eq!(error_type(&String::from("boom")), None);
    }

    #[test]
    fn the_message_is_what_panic_was_given() {
        let caught = std::panic::catch_unwind(|| {
            let payload: Box<dyn std::any::Any + Send> = Box::new(format!("size {}", 3));
            std::panic::resume_unwind(payload)
        });
        assert_eq!(panic_message(caught.unwrap_err().as_ref()), "size 3");
        assert_eq!(panic_message(&"static text"), "static text");
        assert_eq!(panic_message(&42u8), "Box<dyn Any>");
    }
}
