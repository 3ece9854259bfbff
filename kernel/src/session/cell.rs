//! Running one cell: the first one built together with the preload (and run again alone
//! when that failed for a reason not its own), the outcome turned into a value or an error,
//! and a runtime that died restarted.

use evcxr::{CommandContext, Error as EvcxrError};

use super::context::{new_context, since_start, timing};
use super::output::PanicCapture;
use super::preload::{execute_offline, preload, preload_code, PRELOAD_LINES};
use super::report::{compile_error, take_panic};
use super::{Outcome, Shared};

/// Runs one cell; with `with_preload`, the first cell, built together with the preload.
pub(super) fn execute(
    ctx: &mut Option<CommandContext>,
    code: &str,
    with_preload: bool,
    shared: &mut Shared,
) -> Outcome {
    let Some(context) = ctx.as_mut() else {
        return Outcome::Err {
            ename: "KernelError".into(),
            evalue: "the Rust runtime could not start (see the kernel log)".into(),
            traceback: vec![],
        };
    };
    *shared.panic.lock().unwrap() = PanicCapture::default();
    let began = std::time::Instant::now();
    let mut line_offset = 0;
    let mut result = if with_preload {
        line_offset = PRELOAD_LINES;
        let result = execute_offline(context, &format!("{}\n{code}", preload_code()));
        if timing() {
            eprintln!("[timing] autograd-core preloaded with the first cell: {:.2} s", since_start());
        }
        result
    } else {
        context.execute(code)
    };
    if with_preload {
        if let Err(error) = &result {
            if !matches!(error, EvcxrError::SubprocessTerminated(_)) {
                // Nothing ran, and the preload may not have taken effect: load autograd-core
                // on its own. When that needs the network, the failure may have been the
                // preload's rather than the cell's: run the cell again, alone.
                let needed_network = match preload(context) {
                    Ok(needed_network) => needed_network,
                    Err(e) => {
                        return Outcome::Err {
                            ename: "KernelError".into(),
                            evalue: format!("preloading autograd-core failed: {e}"),
                            traceback: vec![],
                        };
                    }
                };
                // keep the error only when it is the cell's own compile error; anything else
                // stopped before the cell ran, and the cell alone says it best
                let cells_own = !needed_network
                    && matches!(error, EvcxrError::CompilationErrors(errors) if errors_are_in_user_lines(errors, line_offset));
                if !cells_own {
                    line_offset = 0;
                    *shared.panic.lock().unwrap() = PanicCapture::default();
                    result = context.execute(code);
                }
            }
        }
    }
    if timing() {
        if let Ok(outputs) = &result {
            let phases: Vec<String> = outputs
                .phases
                .iter()
                .map(|p| format!("{} {:.3}", p.name, p.duration.as_secs_f64()))
                .collect();
            eprintln!("[timing] cell {:.3} s: {}", began.elapsed().as_secs_f64(), phases.join(", "));
        }
    }
    shared.wait_for_output();
    match result {
        Ok(outputs) => match take_panic(&shared.panic, code, || context.last_source().ok()) {
            Some(err) => err,
            None => {
                let mut bundle: Vec<(String, String)> = outputs.content_by_mime_type.into_iter().collect();
                bundle.sort();
                Outcome::Ok(bundle)
            }
        },
        Err(EvcxrError::CompilationErrors(errors)) => compile_error(code, &errors, line_offset),
        Err(EvcxrError::SubprocessTerminated(message)) => {
            // the runtime died (or was killed after an interrupt): start anew
            *ctx = new_context(shared).ok();
            Outcome::Err {
                ename: "RuntimeRestarted".into(),
                evalue: format!(
                    "The Rust runtime stopped ({}) and was restarted: variables from earlier cells are gone; re-run the cells you need.",
                    message.trim()
                ),
                traceback: vec![],
            }
        }
        Err(other) => {
            let sources = std::env::var_os("RUST_SRC_PATH").map(std::path::PathBuf::from);
            let evalue = super::report::with_missing_sources_hint(other.to_string(), sources.as_deref());
            Outcome::Err { ename: "Error".into(), evalue, traceback: vec![] }
        }
    }
}

/// Whether a cell has evcxr commands (`:dep`, `:vars`, ...), which start a line.
pub(super) fn has_commands(code: &str) -> bool {
    code.lines().any(|line| line.trim_start().starts_with(':'))
}

/// Whether every error with a place in the code points below the first `offset` lines.
fn errors_are_in_user_lines(errors: &[evcxr::CompilationError], offset: usize) -> bool {
    errors.iter().all(|e| {
        e.spanned_messages().iter().filter_map(|m| m.span.as_ref()).all(|span| span.start_line > offset)
    })
}
