//! A first cell that defines no variable, answered before the analyser has read std.
//!
//! evcxr asks its rust-analyzer for the type of every variable a cell defines (its top-level
//! `let`s), and asks it about every cell: with std loaded, the first question makes the
//! analyser resolve std's names and expand its macros, 2.1 s of a 3.3 s first cell measured
//! on our 2-core VMs. A cell without a top-level `let` gets nothing from that answer. So when
//! the first cell (built together with the preload) defines no variable, the analyser reads
//! the empty `core` evcxr's context was created with (see `environment`), and std is loaded
//! right after the cell's reply, before the session takes another request: no later question
//! (Run All's next cell, a completion) is ever answered without std.
//!
//! evcxr reloads the analyser's workspace only when the cell crate's `Cargo.toml` differs from
//! the last one it read, and it writes that file itself before every question. So std is
//! loaded with two questions: one with the crate's optimisation level changed (a different
//! manifest: the analyser reloads, reading the sources the link now names), one with the level
//! back at the kernel's 0 (see `context`), so the next cell's manifest is the one the analyser
//! last read and it does not reload again.

use evcxr::CommandContext;
use ra_ap_syntax::ast::{self, HasModuleItem};
use ra_ap_syntax::{Edition, SourceFile};

use super::analyse;
use super::context::timing;
use super::environment::Environment;

/// Whether evcxr would ask the analyser for variables' types in `code`: a top-level `let`
/// (or code that does not parse, where that cannot be told).
pub(super) fn defines_variables(code: &str) -> bool {
    let wrapped = format!("fn cell() {{\n{code}\n}}");
    let parse = SourceFile::parse(&wrapped, Edition::Edition2024);
    if !parse.errors().is_empty() {
        return true;
    }
    let Some(ast::Item::Fn(function)) = parse.tree().items().next() else { return true };
    let Some(body) = function.body() else { return true };
    let Some(statements) = body.stmt_list() else { return true };
    statements.statements().any(|s| matches!(s, ast::Stmt::LetStmt(_)))
}

/// Points the analyser at the empty `core` for the first evaluation; whether it did (not
/// without an analysis link: the analyser then reads the user's sources as it always does).
pub(super) fn without_std(environment: &Environment) -> bool {
    environment.analysis.as_ref().is_some_and(|analysis| analysis.point_at(&analysis.first_load).is_ok())
}

/// Points the analyser at std's sources and has it reload its workspace, so the next question
/// (or cell) is answered with std.
pub(super) fn load_std(context: &mut CommandContext, environment: &Environment) {
    let began = std::time::Instant::now();
    if !environment.analysis.as_ref().is_some_and(|analysis| analysis.point_at_std()) {
        return;
    }
    for level in ["1", "0"] {
        if context.set_opt_level(level).is_ok() {
            // evcxr writes the manifest, the analyser reloads; the answer itself is not needed
            let _ = analyse(|| context.hover_at("", 0));
        }
    }
    if timing() {
        eprintln!("[timing] analyser given std: {:.2} s", began.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_top_level_lets_define_variables() {
        for code in [
            "let x = ones(&[2, 2]);",
            "// a comment\nlet (a, b) = (1, 2);\na + b",
            "let mut y = 1;\ny += 1;",
            "let x = 1 +", // does not parse: cannot tell
        ] {
            assert!(defines_variables(code), "{code:?}");
        }
        for code in [
            "tensor!([1., 2.]) * 2.0",
            "// torch 与 numpy 的功能都在已导入的 prelude 里",
            "",
            "{ let hidden = 1; hidden }",
            "fn square(x: f64) -> f64 { let y = x * x; y }\nprintln!(\"{}\", square(2.0));",
            "for i in 0..3 { let j = i * 2; println!(\"{j}\"); }",
        ] {
            assert!(!defines_variables(code), "{code:?}");
        }
    }
}
