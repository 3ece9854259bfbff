//! Error reports: a cell's panic and a compile error turned into Jupyter's `error` (PyTorch's
//! exception name and words, a traceback pointing at the cell's own line, never at
//! autograd-core's source).

use std::sync::{Arc, Mutex};

use super::output::PanicCapture;
use super::Outcome;

/// The cell's panic as an error: autograd-core's errors under PyTorch's exception name (their
/// `type`), pointing at the cell's line (`cell:LINE:COL`) when `source` (the code evcxr
/// generated for the cell) shows which; never at autograd-core's own source.
pub(super) fn take_panic(
    panic: &Arc<Mutex<PanicCapture>>,
    cell: &str,
    source: impl FnOnce() -> Option<String>,
) -> Option<Outcome> {
    let cap = std::mem::take(&mut *panic.lock().unwrap());
    let location = cap.location?;
    let message = cap.message.join("\n");
    // errors raised by autograd-core carry PyTorch's type and words: show them as PyTorch does
    let ename = if message == "KeyboardInterrupt" {
        "KeyboardInterrupt".to_string()
    } else if let Some(error_type) = cap.error_type {
        error_type
    } else if location.contains("autograd-core") {
        "RuntimeError".to_string()
    } else {
        "Panic".to_string()
    };
    let mut traceback = vec![format!("\u{1b}[0;31m{ename}\u{1b}[0m: {message}")];
    let place = if is_generated_cell_file(&location) {
        source().and_then(|source| cell_place(&location, cell, &source))
    } else {
        None
    };
    match place {
        Some((line, column)) => {
            let text = cell.lines().nth(line - 1).unwrap_or_default();
            traceback.push(format!("  --> cell:{line}:{column}\n{line:>4} | {text}"));
        }
        // the engine's own source says nothing to a student
        None if location.contains("autograd-core") || is_generated_cell_file(&location) => {}
        None => traceback.push(format!("(panicked at {location})")),
    }
    Some(Outcome::Err { ename, evalue: message, traceback })
}

/// `file:line:column` → its parts.
fn split_location(location: &str) -> Option<(&str, usize, usize)> {
    let mut parts = location.rsplitn(3, ':');
    let column = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    Some((parts.next()?, line, column))
}

/// Whether a panic location is in the crate evcxr generates for each cell (`src/lib.rs`).
fn is_generated_cell_file(location: &str) -> bool {
    split_location(location).is_some_and(|(file, _, _)| file == "src/lib.rs" || file.ends_with("/src/lib.rs"))
}

/// The cell's own line and column of a panic at `location` in `source`, the code evcxr
/// generated for the cell (it copies the cell's statements, from each statement's first
/// character; a last expression may be wrapped on the same line): the cell's line whose text
/// that line holds; among several, the one whose neighbours match too.
fn cell_place(location: &str, cell: &str, source: &str) -> Option<(usize, usize)> {
    let (_, line, column) = split_location(location)?;
    let source: Vec<&str> = source.lines().collect();
    let cell_lines: Vec<&str> = cell.lines().collect();
    let at = line.checked_sub(1)?;
    let target = *source.get(at)?;
    // how many lines around agree (up to 3 each side)
    let agreement = |i: usize| {
        (1..=3)
            .filter(|&k| {
                let before = i
                    .checked_sub(k)
                    .zip(at.checked_sub(k))
                    .is_some_and(|(c, s)| cell_lines[c].trim() == source[s].trim());
                let after =
                    cell_lines.get(i + k).zip(source.get(at + k)).is_some_and(|(c, s)| c.trim() == s.trim());
                before || after
            })
            .count()
    };
    let (_, best, found_at) = (0..cell_lines.len())
        .filter_map(|i| {
            let text = cell_lines[i].trim();
            let found_at = (!text.is_empty()).then(|| target.find(text)).flatten()?;
            let exact = target.trim() == text;
            // a short line (`}`, `y`) inside a longer one says nothing
            if !exact && text.len() < 6 {
                return None;
            }
            Some(((exact, agreement(i), std::cmp::Reverse(i)), i, found_at))
        })
        .max_by_key(|&(score, _, _)| score)?;
    // the column within the cell's own line
    let indent = cell_lines[best].len() - cell_lines[best].trim_start().len();
    let column = column.saturating_sub(found_at) + indent;
    Some((best + 1, column.max(1)))
}

/// A compile error as rustc says it, pointing at the cell's own lines.
/// `line_offset`: lines of evcxr's text before the cell's first line.
pub(super) fn compile_error(code: &str, errors: &[evcxr::CompilationError], line_offset: usize) -> Outcome {
    let lines: Vec<&str> = code.lines().collect();
    let mut traceback = Vec::new();
    for error in errors {
        let mut text = format!("\u{1b}[1;31merror\u{1b}[0m: {}", error.message());
        if let Some(code) = error.code() {
            text = format!("\u{1b}[1;31merror[{code}]\u{1b}[0m: {}", error.message());
        }
        for spanned in error.spanned_messages() {
            if let Some(span) = &spanned.span {
                let line_number = span.start_line.saturating_sub(line_offset);
                text.push_str(&format!("\n  --> cell:{}:{}", line_number, span.start_column));
                if let Some(line) = lines.get(line_number.saturating_sub(1)) {
                    let width = if span.end_line == span.start_line {
                        span.end_column.saturating_sub(span.start_column).max(1)
                    } else {
                        1
                    };
                    text.push_str(&format!(
                        "\n{:>4} | {line}\n     | {}{} {}",
                        line_number,
                        " ".repeat(span.start_column.saturating_sub(1)),
                        "^".repeat(width),
                        spanned.label
                    ));
                }
            }
        }
        for help in error.help() {
            text.push_str(&format!("\n  = help: {help}"));
        }
        traceback.push(text);
    }
    let evalue = errors.first().map(|e| e.message()).unwrap_or_else(|| "compilation failed".into());
    Outcome::Err { ename: "CompilationError".into(), evalue, traceback }
}

/// evcxr's "Couldn't automatically determine type of variable `b`" names no cause, and asks
/// the student for a type annotation; when the analyser had no standard library sources to
/// read (`sources`, what `RUST_SRC_PATH` names, lacks `core`), that is the cause: say so and
/// how to fix it. Any other message is returned as it is.
pub(super) fn with_missing_sources_hint(message: String, sources: Option<&std::path::Path>) -> String {
    let readable = sources.is_some_and(|s| s.join("core/src/lib.rs").is_file());
    if readable || !message.starts_with("Couldn't automatically determine type of variable") {
        return message;
    }
    // the kernel's own RUST_SRC_PATH is a link: name where it leads
    let place = sources
        .map(|s| {
            format!(" (looked in {})", std::fs::read_link(s).unwrap_or_else(|_| s.to_path_buf()).display())
        })
        .unwrap_or_default();
    format!(
        "{message}\n\nThe kernel could not read the Rust standard library's sources{place}, which it \
         needs to know the type of each variable a cell defines. Install them (rustup: \
         `rustup component add rust-src`; Debian: `apt-get install rust-src`) and restart the kernel."
    )
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_type_the_analyser_missed_for_lack_of_std_sources_says_so() {
        use super::with_missing_sources_hint;
        let message =
            "Couldn't automatically determine type of variable `b`.\nPlease give it an explicit type.";
        let missing = std::path::Path::new("/nonexistent/rust/library");
        let hinted = with_missing_sources_hint(message.to_string(), Some(missing));
        assert!(hinted.starts_with(message), "{hinted}");
        assert!(hinted.contains("(looked in /nonexistent/rust/library)"), "{hinted}");
        assert!(hinted.contains("rustup component add rust-src"), "{hinted}");
        assert!(with_missing_sources_hint(message.to_string(), None).contains("rust-src"));
        // sources that are there: evcxr's words alone (the type really is unknown)
        let dir = std::env::temp_dir().join(format!("rust-src-hint-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("core/src")).unwrap();
        std::fs::write(dir.join("core/src/lib.rs"), "").unwrap();
        assert_eq!(with_missing_sources_hint(message.to_string(), Some(&dir)), message);
        std::fs::remove_dir_all(&dir).unwrap();
        // other errors are left alone
        assert_eq!(with_missing_sources_hint("Unknown command".into(), Some(missing)), "Unknown command");
    }

    #[test]
    fn a_panic_in_the_generated_source_maps_to_the_cells_line() {
        use super::{cell_place, is_generated_cell_file};
        let cell = "let x = tensor!([1., 2., 3.]);\nx.select(0, 5);\nlet w = 1;\nx.select(0, 5);";
        let source = "use autograd_core::prelude::*;\n#[no_mangle]\npub extern \"C\" fn run_user_code_3() {\n    let x = tensor!([1., 2., 3.]);\n    x.select(0, 5);\n    let w = 1;\n    x.select(0, 5);\n}\n";
        assert!(is_generated_cell_file("src/lib.rs:7:7"));
        assert!(!is_generated_cell_file("/home/u/autograd-core/src/ops/index.rs:90:13"));
        // equal lines are told apart by their neighbours; the column drops evcxr's indent
        assert_eq!(cell_place("src/lib.rs:5:7", cell, source), Some((2, 3)));
        assert_eq!(cell_place("src/lib.rs:7:7", cell, source), Some((4, 3)));
        // a last expression wrapped on the same line by evcxr
        let wrapped =
            "fn run() {\n    let x = tensor!([1., 2., 3.]);\n    evcxr_display(x.select(0, 5));\n}\n";
        assert_eq!(
            cell_place("src/lib.rs:3:21", "let x = tensor!([1., 2., 3.]);\nx.select(0, 5)", wrapped),
            Some((2, 3))
        );
        assert_eq!(cell_place("src/lib.rs:1:1", cell, source), None);
        assert_eq!(cell_place("src/lib.rs:99:1", cell, source), None);
    }
}
