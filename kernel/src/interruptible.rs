//! Makes a cell's own loops and sleeps stop at the interrupt button, as Python's do.
//!
//! The interrupt button sends SIGINT to the runtime, which sets autograd-core's interrupt
//! flag; tensor ops look at it and raise `KeyboardInterrupt`, which keeps the variables of
//! earlier cells. Code that never reaches a tensor op (`loop { i += 1; }`,
//! `std::thread::sleep(..)`) used to be stopped only by restarting the runtime, losing every
//! variable. So before evcxr compiles a cell, the kernel puts an interrupt point
//! ([`autograd_core::global::interrupt_point`]) at the start of every `loop`/`while`/`for` body
//! of the cell, and runs `std::thread::sleep(d)` as
//! [`autograd_core::global::interruptible_sleep`]`(std::thread::sleep).call(d)`.
//!
//! The rewrite only inserts text, never on a new line: the cell keeps its line numbers, and
//! the columns of errors and panics on a changed line are mapped back, so what the student sees
//! names their own code. What the cell computes and prints does not change: an interrupt point
//! is a statement of type `()` that does nothing until an interrupt was requested. The cell is
//! parsed by the parser evcxr itself uses (rust-analyzer's), the same way; a cell that does not
//! parse is left as it is, and so are loops where a call is not allowed (`const` contexts) or a
//! panic would abort (`extern` functions) and code inside macro calls. When the rewritten cell
//! fails to compile on a changed line, the student's own cell is compiled instead, so the
//! rewrite never adds an error. Code deep in another crate is still stopped by restarting the
//! runtime (`server::interrupt`).
//!
//! The same rewrite also names the tensors a cell binds after their variables (the calls
//! `crate::names` places after top-level `let`s): those make no errors of their own, so a
//! compile error on a line that only they changed is the student's and is not compiled twice.

use std::borrow::Cow;
use std::collections::BTreeSet;

use ra_ap_syntax::ast::{self, HasAttrs, HasLoopBody};
use ra_ap_syntax::{AstNode, Edition, SourceFile, SyntaxNode, TextSize};

use crate::session::Outcome;

/// Put at the start of every loop body.
const LOOP_CHECK: &str = "::autograd_core::global::interrupt_point();";
/// Put around a sleep's path: `std::thread::sleep(d)` becomes
/// `autograd_core::global::interruptible_sleep(std::thread::sleep).call(d)`. Not `::...`: at the
/// start of a cell's first line, evcxr would read that as a command (`:dep`).
const SLEEP_BEFORE: &str = "autograd_core::global::interruptible_sleep(";
const SLEEP_AFTER: &str = ").call";

/// Runs a cell through `run` (the session's execute: code, and whether this is the second
/// try), with its loops and sleeps made interruptible; the outcome names the cell's own code.
///
/// Tensors bound at the cell's top level are also named after their variables (see
/// `crate::names`).
pub fn execute(cell: &str, mut run: impl FnMut(&str, bool) -> Outcome) -> Outcome {
    let rewritten = Rewritten::with_names(cell);
    if rewritten.insertions.is_empty() {
        return run(cell, false);
    }
    let outcome = run(&rewritten.code, false);
    if rewritten.may_have_caused(&outcome) {
        // nothing ran: compile the student's own code, whose errors are theirs
        return run(cell, true);
    }
    rewritten.restore(outcome)
}

/// A cell with interrupt points inserted.
pub struct Rewritten<'a> {
    original: &'a str,
    /// The code evcxr compiles.
    pub code: String,
    /// What was inserted where: byte offsets in `original`, in order.
    insertions: Vec<(usize, Cow<'static, str>)>,
}

impl<'a> Rewritten<'a> {
    /// The cell with interrupt points only.
    #[cfg(test)]
    pub fn new(original: &'a str) -> Rewritten<'a> {
        Rewritten::build(original, false)
    }

    /// The cell with interrupt points, and tensors named after the variables they are bound to.
    pub fn with_names(original: &'a str) -> Rewritten<'a> {
        Rewritten::build(original, true)
    }

    fn build(original: &'a str, names: bool) -> Rewritten<'a> {
        let insertions = insertions(original, names);
        let mut code = String::with_capacity(original.len() + insertions.len() * LOOP_CHECK.len());
        let mut done = 0;
        for (at, text) in &insertions {
            code.push_str(&original[done..*at]);
            code.push_str(text);
            done = *at;
        }
        code.push_str(&original[done..]);
        Rewritten { original, code, insertions }
    }

    /// The insertions on a (1-based) line: (1-based column in the original line of the
    /// character the text was put before, the text), in order.
    fn insertions_on(&self, line: usize) -> Vec<(usize, &str)> {
        self.insertions
            .iter()
            .filter_map(|(at, text)| {
                let (l, column) = line_column(self.original, *at);
                (l == line).then_some((column, text.as_ref()))
            })
            .collect()
    }

    /// The original column of a (1-based) column of the rewritten line `line`. A column inside
    /// inserted text maps to the place it was inserted at; inside the `).call` of a sleep, to
    /// the start of the sleep's path, where the student's call starts.
    pub fn original_column(&self, line: usize, column: usize) -> usize {
        let mut shift = 0; // inserted characters before the current insertion
        let mut sleep_starts_at = None;
        for (at, text) in self.insertions_on(line) {
            let start = at + shift; // where the inserted text starts in the rewritten line
            if column < start {
                break;
            }
            if text == SLEEP_BEFORE {
                sleep_starts_at = Some(at);
            }
            if column < start + text.chars().count() {
                return if text == SLEEP_AFTER { sleep_starts_at.unwrap_or(at) } else { at };
            }
            shift += text.chars().count();
        }
        column - shift
    }

    /// Whether the rewrite may be the cause of a compile error: one on a line with an interrupt
    /// point (or one with no line at all), or one that names the naming call. A naming call
    /// alone (a generic function of any type, on a variable just bound) does not make errors,
    /// so the student's own errors on `let` lines are not compiled twice.
    fn may_have_caused(&self, outcome: &Outcome) -> bool {
        let Outcome::Err { ename, evalue, traceback } = outcome else { return false };
        if ename != "CompilationError" {
            return false;
        }
        if evalue.contains(crate::names::CALL) || traceback.iter().any(|t| t.contains(crate::names::CALL)) {
            return true;
        }
        let changed: BTreeSet<usize> = self
            .insertions
            .iter()
            .filter(|(_, text)| !text.contains(crate::names::CALL))
            .map(|(at, _)| line_column(self.original, *at).0)
            .collect();
        let places: Vec<usize> =
            traceback.iter().flat_map(|entry| entry.split('\n')).filter_map(place).map(|(l, _)| l).collect();
        places.is_empty() || places.iter().any(|line| changed.contains(line))
    }

    /// The outcome as the student's own cell would show it: on changed lines, the original text
    /// and columns (`  --> cell:LINE:COL`, the quoted line and its `^^^` marker).
    pub fn restore(&self, outcome: Outcome) -> Outcome {
        match outcome {
            Outcome::Err { ename, evalue, traceback } => Outcome::Err {
                ename,
                evalue,
                traceback: traceback.iter().map(|entry| self.restore_entry(entry)).collect(),
            },
            ok => ok,
        }
    }

    fn restore_entry(&self, entry: &str) -> String {
        let mut lines = Vec::new();
        // the line of the last `--> cell:` marker, while its quote may follow
        let mut quoted: Option<usize> = None;
        for text in entry.split('\n') {
            if let Some((line, column)) = place(text) {
                quoted = Some(line);
                lines.push(format!("  --> cell:{line}:{}", self.original_column(line, column)));
                continue;
            }
            if let Some(line) = quoted {
                let prefix = format!("{line:>4} | ");
                let index = line.saturating_sub(1);
                if line > 0 && text.strip_prefix(&prefix) == self.code.lines().nth(index) {
                    lines.push(format!("{prefix}{}", self.original.lines().nth(index).unwrap_or_default()));
                    continue;
                }
                if let Some(marker) = text.strip_prefix("     | ") {
                    // `{spaces}{carets} {label}` under the quoted line
                    let spaces = marker.len() - marker.trim_start_matches(' ').len();
                    let rest = &marker[spaces..];
                    let carets = rest.len() - rest.trim_start_matches('^').len();
                    if carets > 0 {
                        let start = self.original_column(line, spaces + 1);
                        let end = self.original_column(line, spaces + 1 + carets).max(start + 1);
                        lines.push(format!(
                            "     | {}{}{}",
                            " ".repeat(start - 1),
                            "^".repeat(end - start),
                            &rest[carets..]
                        ));
                        quoted = None;
                        continue;
                    }
                }
            }
            lines.push(text.to_string());
        }
        lines.join("\n")
    }
}

/// `  --> cell:LINE:COL` → (LINE, COL).
fn place(text: &str) -> Option<(usize, usize)> {
    let (line, column) = text.strip_prefix("  --> cell:")?.split_once(':')?;
    Some((line.parse().ok()?, column.parse().ok()?))
}

/// The 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

/// Where the cell's Rust code starts, as evcxr reads a cell: after leading evcxr commands
/// (`:dep ...`), shell lines (`!...`), blank lines and `//` comments. None: no code.
fn code_start(cell: &str) -> Option<usize> {
    let mut offset = 0;
    for line in cell.split_inclusive('\n') {
        let text = line.trim_end_matches(['\n', '\r']);
        let command = text.starts_with('!') || text.trim_start_matches(' ').starts_with(':');
        if !(command || text.starts_with("//") || text.trim().is_empty()) {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

/// What to insert where (byte offsets in `cell`, in order); nothing for a cell that does not
/// parse as evcxr parses it.
fn insertions(cell: &str, names: bool) -> Vec<(usize, Cow<'static, str>)> {
    let Some(start) = code_start(cell) else { return Vec::new() };
    // evcxr's own reading of a cell: statements of a function body
    const PRELUDE: &str = "fn f(){";
    let parse = SourceFile::parse(&format!("{PRELUDE}{}\n}}", &cell[start..]), Edition::Edition2024);
    if !parse.errors().is_empty() {
        return Vec::new();
    }
    let root = parse.tree();
    let in_cell = |at: TextSize| usize::from(at).checked_sub(PRELUDE.len()).map(|o| o + start);
    let sleep_imported = imports_std_sleep(root.syntax());
    let mut found = Vec::new();
    for node in root.syntax().descendants() {
        if let Some(body) = loop_body(&node) {
            if calls_not_allowed(&node) {
                continue;
            }
            let Some(list) = body.stmt_list() else { continue };
            let Some(open) = list.l_curly_token() else { continue };
            // after the block's inner attributes (`#![allow(..)]`), which must come first
            let after = list
                .attrs()
                .filter(|attr| attr.excl_token().is_some())
                .map(|attr| attr.syntax().text_range().end())
                .chain([open.text_range().end()])
                .max()
                .expect("at least the brace");
            found.extend(in_cell(after).map(|at| (at, Cow::Borrowed(LOOP_CHECK))));
        } else if let Some(call) = ast::CallExpr::cast(node.clone()) {
            let Some(ast::Expr::PathExpr(path)) = call.expr() else { continue };
            let text: String = path.syntax().text().to_string().split_whitespace().collect();
            let is_std_sleep =
                matches!(text.as_str(), "std::thread::sleep" | "::std::thread::sleep" | "thread::sleep")
                    || (text == "sleep" && sleep_imported);
            if !is_std_sleep || calls_not_allowed(&node) {
                continue;
            }
            let range = path.syntax().text_range();
            if let (Some(before), Some(after)) = (in_cell(range.start()), in_cell(range.end())) {
                found.push((before, Cow::Borrowed(SLEEP_BEFORE)));
                found.push((after, Cow::Borrowed(SLEEP_AFTER)));
            }
        }
    }
    if names {
        let body = root.syntax().descendants().find_map(ast::Fn::cast).and_then(|f| f.body()?.stmt_list());
        for (at, text) in body.iter().flat_map(crate::names::insertions) {
            found.extend(in_cell(at).map(|at| (at, Cow::Owned(text))));
        }
    }
    // preorder: at one place a loop's check comes before a sleep that starts its body (a
    // stable sort; a name comes after a statement, where no loop body starts)
    found.sort_by_key(|(at, _)| *at);
    found
}

/// The body of a `loop`, `while` or `for`.
fn loop_body(node: &SyntaxNode) -> Option<ast::BlockExpr> {
    if let Some(l) = ast::LoopExpr::cast(node.clone()) {
        l.loop_body()
    } else if let Some(w) = ast::WhileExpr::cast(node.clone()) {
        w.loop_body()
    } else {
        ast::ForExpr::cast(node.clone())?.loop_body()
    }
}

/// Whether code at `node` may not call the interrupt point: in a `const` context (a `const`
/// or `static` item, a `const fn`, a `const` block, an array length, a const generic argument,
/// an enum discriminant), where only const functions may be called, or in a function with an
/// explicit ABI (`extern "C"`), where a panic aborts the process.
fn calls_not_allowed(node: &SyntaxNode) -> bool {
    node.ancestors().skip(1).any(|a| {
        if ast::Const::can_cast(a.kind())
            || ast::Static::can_cast(a.kind())
            || ast::ConstArg::can_cast(a.kind())
            || ast::ConstParam::can_cast(a.kind())
        {
            return true;
        }
        if let Some(f) = ast::Fn::cast(a.clone()) {
            return f.const_token().is_some() || f.abi().is_some();
        }
        if let Some(block) = ast::BlockExpr::cast(a.clone()) {
            return block.const_token().is_some();
        }
        if let Some(array) = ast::ArrayExpr::cast(a) {
            // `[value; LENGTH]`: the length is a constant
            return array
                .semicolon_token()
                .is_some_and(|semi| semi.text_range().end() <= node.text_range().start());
        }
        false
    })
}

/// Whether the cell imports `std::thread::sleep` by that name (`use std::thread::sleep;`,
/// `use std::thread::{sleep, ..};`, `use std::thread::*;`).
fn imports_std_sleep(root: &SyntaxNode) -> bool {
    root.descendants().filter_map(ast::UseTree::cast).any(|tree| {
        if tree.rename().is_some() || tree.use_tree_list().is_some() {
            return false;
        }
        // the full path: the paths of the enclosing trees, then this one's
        let mut parts: Vec<String> = tree
            .syntax()
            .ancestors()
            .filter_map(ast::UseTree::cast)
            .filter_map(|t| t.path())
            .map(|p| p.syntax().text().to_string().split_whitespace().collect())
            .collect();
        parts.reverse();
        let path = parts.join("::");
        let path = path.trim_start_matches("::");
        if tree.star_token().is_some() {
            path == "std::thread"
        } else {
            path == "std::thread::sleep"
        }
    })
}

#[cfg(test)]
mod tests {
    use ra_ap_syntax::{Edition, SourceFile};

    use super::{execute, Rewritten, LOOP_CHECK};
    use crate::session::Outcome;

    /// The rewritten cell; it must still parse as evcxr reads a cell, on as many lines.
    fn rewrite(cell: &str) -> String {
        let code = Rewritten::new(cell).code;
        if code != cell {
            // evcxr still finds its commands and the code where they were
            let start = super::code_start(&code);
            assert_eq!(start, super::code_start(cell), "{code}");
            let body = &code[start.unwrap()..];
            let parse = SourceFile::parse(&format!("fn f(){{{body}\n}}"), Edition::Edition2024);
            assert!(parse.errors().is_empty(), "{code}: {:?}", parse.errors());
            assert_eq!(code.lines().count(), cell.lines().count());
        }
        code
    }

    const CHECK: &str = LOOP_CHECK;

    #[test]
    fn every_loop_body_starts_with_an_interrupt_point() {
        assert_eq!(
            rewrite("let mut i = 0u64;\nloop { i = i.wrapping_add(1); }"),
            format!("let mut i = 0u64;\nloop {{{CHECK} i = i.wrapping_add(1); }}")
        );
        assert_eq!(
            rewrite("while i < 3 {\n    i += 1;\n}"),
            format!("while i < 3 {{{CHECK}\n    i += 1;\n}}")
        );
        assert_eq!(rewrite("for x in v.iter() {}"), format!("for x in v.iter() {{{CHECK}}}"));
        assert_eq!(
            rewrite("while let Some(x) = it.next() { s += x; }"),
            format!("while let Some(x) = it.next() {{{CHECK} s += x; }}")
        );
        // nothing else changes
        assert_eq!(rewrite("let x = ones(&[2]);\nx.sum()"), "let x = ones(&[2]);\nx.sum()");
        assert_eq!(rewrite("'a: { break 'a 1; }"), "'a: { break 'a 1; }");
    }

    #[test]
    fn nested_loops_closures_async_blocks_and_items_get_interrupt_points() {
        let cell = "for i in 0..3 {\n    for j in 0..3 { loop { break; } }\n}\nlet f = |n: u32| { let mut k = 0; while k < n { k += 1; } k };\nlet fut = async { loop { tokio_like().await; } };\nfn spin() -> u64 { let mut i = 0; loop { i += 1; if i > 9 { return i; } } }\nimpl S { fn go(&self) { for _ in 0..2 {} } }";
        let out = rewrite(cell);
        assert_eq!(out.matches(CHECK).count(), 7, "{out}");
        assert_eq!(out.lines().count(), cell.lines().count());
        assert!(out.contains(&format!("for j in 0..3 {{{CHECK} loop {{{CHECK} break; }} }}")), "{out}");
        assert!(out.contains(&format!("async {{ loop {{{CHECK} tokio_like().await; }} }}")), "{out}");
    }

    #[test]
    fn labeled_loops_keep_their_labels_and_values() {
        let cell = "let v = 'outer: loop {\n    'inner: while true { break 'outer 7; }\n};";
        assert_eq!(
            rewrite(cell),
            format!(
                "let v = 'outer: loop {{{CHECK}\n    'inner: while true {{{CHECK} break 'outer 7; }}\n}};"
            )
        );
    }

    #[test]
    fn the_check_comes_after_a_blocks_inner_attributes() {
        assert_eq!(
            rewrite("loop { #![allow(unused)] let a = 1; }"),
            format!("loop {{ #![allow(unused)]{CHECK} let a = 1; }}")
        );
    }

    #[test]
    fn const_contexts_extern_functions_and_macros_are_left_alone() {
        for cell in [
            "const N: usize = { let mut i = 0; while i < 3 { i += 1; } i };",
            "static S: u8 = { let mut i = 0; while i < 3 { i += 1; } i };",
            "const fn f() -> u8 { let mut i = 0; while i < 3 { i += 1; } i }",
            "let a = [0u8; { let mut i = 0; while i < 3 { i += 1; } i }];",
            "let a: [u8; { let mut i = 0; while i < 3 { i += 1; } i }] = [0; 3];",
            "let n = const { let mut i = 0; while i < 3 { i += 1; } i };",
            "enum E { A = { let mut i = 0; while i < 3 { i += 1; } i } }",
            "extern \"C\" fn cb() { loop {} }",
            "println!(\"{}\", { let mut i = 0; while i < 3 { i += 1; } i });",
        ] {
            assert_eq!(rewrite(cell), cell);
        }
        // the repeated value of an array is run-time code
        assert_eq!(
            rewrite("let a = [{ loop { break 1 } }; 3];"),
            format!("let a = [{{ loop {{{CHECK} break 1 }} }}; 3];")
        );
    }

    #[test]
    fn stds_sleep_becomes_interruptible() {
        let wrapped = "autograd_core::global::interruptible_sleep(std::thread::sleep).call(std::time::Duration::from_secs(30));";
        assert_eq!(rewrite("std::thread::sleep(std::time::Duration::from_secs(30));"), wrapped);
        assert_eq!(
            rewrite("use std::thread;\nthread::sleep(d);"),
            "use std::thread;\nautograd_core::global::interruptible_sleep(thread::sleep).call(d);"
        );
        assert_eq!(
            rewrite("use std::thread::{sleep, spawn};\nsleep(d);"),
            "use std::thread::{sleep, spawn};\nautograd_core::global::interruptible_sleep(sleep).call(d);"
        );
        // a `sleep` the cell does not import from std may be anything
        assert_eq!(rewrite("sleep(d);"), "sleep(d);");
        assert_eq!(
            rewrite("use std::thread::sleep as nap;\nsleep(d);"),
            "use std::thread::sleep as nap;\nsleep(d);"
        );
        assert_eq!(rewrite("tokio::time::sleep(d).await;"), "tokio::time::sleep(d).await;");
        // in a loop: the check first, then the sleep
        assert_eq!(
            rewrite("loop {std::thread::sleep(d)}"),
            format!("loop {{{CHECK}autograd_core::global::interruptible_sleep(std::thread::sleep).call(d)}}")
        );
    }

    #[test]
    fn cells_that_do_not_parse_and_commands_are_left_alone() {
        for cell in ["loop { i += 1;", "let x = ;\nloop {}", "fn f( { loop {} }", ":vars", "", "// loop {}"] {
            assert_eq!(rewrite(cell), cell);
        }
        // evcxr commands and comments before the code stay, the code after them is rewritten
        assert_eq!(
            rewrite(":dep rand = \"0.8\"\n// spin\nloop { }"),
            format!(":dep rand = \"0.8\"\n// spin\nloop {{{CHECK} }}")
        );
    }

    #[test]
    fn line_numbers_stay_and_columns_map_back() {
        let cell = "let mut i = 0;\nloop { i = i.wrapping_add(1); let s: String = i; }\nlet z = 1;";
        let rewritten = Rewritten::new(cell);
        assert_eq!(rewritten.code.lines().count(), 3);
        assert_eq!(rewritten.code.lines().nth(2), Some("let z = 1;"));
        let shift = CHECK.len();
        // `let s` is at column 31 of the original line 2
        assert_eq!(rewritten.original_column(2, 31 + shift), 31);
        // before the insertion and on other lines, nothing moves; inside it, the brace's place
        assert_eq!(rewritten.original_column(2, 6), 6);
        assert_eq!(rewritten.original_column(2, 7), 7);
        assert_eq!(rewritten.original_column(2, 10), 7);
        assert_eq!(rewritten.original_column(3, 5), 5);
        // a sleep interrupted in its `.call` names the start of the student's call
        let sleep = Rewritten::new("let d = 1; std::thread::sleep(d);");
        let call = sleep.code.find(".call").unwrap() + 1;
        assert_eq!(sleep.original_column(1, call + 1), 12);
        assert_eq!(sleep.original_column(1, sleep.code.find("(d)").unwrap() + 1), 30);
        // columns count characters, not bytes
        let wide = Rewritten::new("let é = 1; loop { é; }");
        assert_eq!(wide.original_column(1, 19 + shift), 19);
    }

    #[test]
    fn errors_on_changed_lines_show_the_students_own_code() {
        let cell = "let mut i = 0;\nloop { i = i.wrapping_add(1); let s: String = i; }";
        let rewritten = Rewritten::new(cell);
        let line = rewritten.code.lines().nth(1).unwrap().to_string();
        let column = line.find("i; }").unwrap() + 1;
        let compile_error = Outcome::Err {
            ename: "CompilationError".into(),
            evalue: "mismatched types".into(),
            traceback: vec![format!(
                "error[E0308]: mismatched types\n  --> cell:2:{column}\n   2 | {line}\n     | {}^ expected `String`, found integer",
                " ".repeat(column - 1)
            )],
        };
        let Outcome::Err { traceback, .. } = rewritten.restore(compile_error) else { panic!() };
        assert_eq!(
            traceback[0],
            format!("error[E0308]: mismatched types\n  --> cell:2:47\n   2 | loop {{ i = i.wrapping_add(1); let s: String = i; }}\n     | {}^ expected `String`, found integer", " ".repeat(46))
        );
        // a panic at the inserted check names the loop's line at its brace
        let column = line.find("::autograd_core").unwrap() + 1;
        let interrupted = Outcome::Err {
            ename: "KeyboardInterrupt".into(),
            evalue: "KeyboardInterrupt".into(),
            traceback: vec!["KeyboardInterrupt".into(), format!("  --> cell:2:{column}\n   2 | {line}")],
        };
        let Outcome::Err { traceback, .. } = rewritten.restore(interrupted) else { panic!() };
        assert_eq!(traceback[1], format!("  --> cell:2:7\n   2 | {}", cell.lines().nth(1).unwrap()));
    }

    #[test]
    fn a_compile_error_on_a_changed_line_compiles_the_students_own_cell() {
        let cell = "let x = 1;\nloop { break; }";
        let error = |line: usize| Outcome::Err {
            ename: "CompilationError".into(),
            evalue: "e".into(),
            traceback: vec![format!("error: e\n  --> cell:{line}:1")],
        };
        for (line, tries) in [(2, vec![false, true]), (1, vec![false])] {
            let mut seen = Vec::new();
            execute(cell, |code, retry| {
                assert_eq!(code == cell, retry);
                seen.push(retry);
                error(line)
            });
            assert_eq!(seen, tries, "an error on line {line}");
        }
        // a panic is not retried (the cell ran), nor is a cell without loops rewritten
        let mut runs = 0;
        execute(cell, |_, _| {
            runs += 1;
            Outcome::Err { ename: "Panic".into(), evalue: "p".into(), traceback: vec![] }
        });
        assert_eq!(runs, 1);
        execute("y + 2", |code, retry| {
            assert_eq!((code, retry), ("y + 2", false));
            Outcome::Ok(vec![])
        });
    }
}
