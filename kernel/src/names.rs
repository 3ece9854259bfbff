//! Names on the graph: after each top-level `let` of a cell (and each top-level assignment
//! `w = ...;`), the kernel puts a call that names the value after its variable when the value
//! is a tensor ([`autograd_core::names::name_binding`]; for any other type it does nothing), so
//! `draw_graph`, `step_backward` and `explain` label boxes `x`, `w`, `loss` as the student does.
//!
//! Inserted on the same line, right after the statement's `;`, so line numbers stay; the
//! value is only borrowed, right after it was bound, so a variable moved or shadowed later in
//! the cell is not touched. Only the cell's top level: a `let` inside a block or closure is
//! gone when the cell ends. Bindings whose name starts with `_` or an upper-case letter
//! (unused, or a constant or enum variant in a pattern) are left out.

use ra_ap_syntax::ast::{self, HasName};
use ra_ap_syntax::{AstNode, SyntaxKind, TextSize};

/// The start of every inserted call (how the kernel recognises its own text in an error).
pub const CALL: &str = "autograd_core::names::name_binding";

/// The calls to insert for the top-level statements of `body` (evcxr's function body of the
/// cell): (where, in the code `body` was parsed from, the text).
pub fn insertions(body: &ast::StmtList) -> Vec<(TextSize, String)> {
    let mut found = Vec::new();
    for stmt in body.statements() {
        let (names, end) = match &stmt {
            ast::Stmt::LetStmt(l) if l.initializer().is_some() => {
                let Some(pat) = l.pat() else { continue };
                let names: Vec<String> = pat
                    .syntax()
                    .descendants()
                    .filter_map(ast::IdentPat::cast)
                    .filter_map(|p| p.name())
                    .map(|n| n.text().to_string())
                    .collect();
                (names, l.syntax().text_range().end())
            }
            ast::Stmt::ExprStmt(e) => {
                let Some(semicolon) = e.semicolon_token() else { continue };
                match assigned_variable(e.expr()) {
                    Some(name) => (vec![name], semicolon.text_range().end()),
                    None => continue,
                }
            }
            _ => continue,
        };
        let calls: String = names
            .iter()
            .filter(|n| {
                let plain = n.trim_start_matches("r#");
                !plain.starts_with('_') && !plain.starts_with(|c: char| c.is_uppercase())
            })
            .map(|n| format!(" {CALL}(&{n}, \"{}\");", n.trim_start_matches("r#")))
            .collect();
        if !calls.is_empty() {
            found.push((end, calls));
        }
    }
    found
}

/// `w` in `w = ...` (a plain assignment to a variable).
fn assigned_variable(expr: Option<ast::Expr>) -> Option<String> {
    let ast::Expr::BinExpr(bin) = expr? else { return None };
    let op = bin.op_token()?;
    if op.kind() != SyntaxKind::EQ {
        return None;
    }
    let ast::Expr::PathExpr(path) = bin.lhs()? else { return None };
    let path = path.path()?;
    if path.qualifier().is_some() {
        return None;
    }
    Some(path.segment()?.name_ref()?.text().to_string())
}

#[cfg(test)]
mod tests {
    use crate::interruptible::{execute, Rewritten};
    use crate::session::Outcome;

    fn named(cell: &str) -> String {
        let code = Rewritten::with_names(cell).code;
        assert_eq!(code.lines().count(), cell.lines().count(), "{code}");
        code
    }

    fn call(name: &str) -> String {
        format!(" autograd_core::names::name_binding(&{name}, \"{name}\");")
    }

    #[test]
    fn top_level_lets_and_assignments_name_their_values() {
        assert_eq!(
            named("let x = ones(&[2]);\nlet loss = x.sum(); // the loss\nloss"),
            format!(
                "let x = ones(&[2]);{}\nlet loss = x.sum();{} // the loss\nloss",
                call("x"),
                call("loss")
            )
        );
        assert_eq!(
            named("let (a, mut b) = (x.clone(), y);\nw = w.detach();"),
            format!(
                "let (a, mut b) = (x.clone(), y);{}{}\nw = w.detach();{}",
                call("a"),
                call("b"),
                call("w")
            )
        );
        // with interrupt points in the same cell
        let cell = "let mut w = t;\nfor _ in 0..3 { w = &w * 2.0; }";
        let code = named(cell);
        assert!(code.starts_with(&format!("let mut w = t;{}\nfor _ in 0..3 {{", call("w"))), "{code}");
        assert_eq!(code.matches("name_binding").count(), 1, "not inside the loop: {code}");
    }

    #[test]
    fn what_is_not_a_plain_top_level_binding_is_left_alone() {
        for cell in [
            "let x;",
            "let _ = f();",
            "let _unused = f();",
            "{ let inner = 1; }",
            "v[0] = 1;",
            "a.b = 2;",
            "w += 1;",
            "fn g() { let z = 1; }",
            "x",
        ] {
            assert_eq!(named(cell), cell);
        }
        // a closure is named (a no-op for a value that is not a tensor), what is inside it is not
        assert_eq!(
            named("let f = |t: Tensor| { let y = t; y };"),
            format!("let f = |t: Tensor| {{ let y = t; y }};{}", call("f"))
        );
        // a destructured binding is named, the pattern's constant is not
        assert_eq!(
            named("let Some(v) = opt else { return };"),
            format!("let Some(v) = opt else {{ return }};{}", call("v"))
        );
        assert_eq!(
            named("let r#type = 1;"),
            "let r#type = 1; autograd_core::names::name_binding(&r#type, \"type\");"
        );
    }

    #[test]
    fn a_students_error_on_a_let_line_is_compiled_once() {
        let cell = "let x: String = 1;";
        let mut tries = Vec::new();
        execute(cell, |code, retry| {
            tries.push((code.to_string(), retry));
            Outcome::Err {
                ename: "CompilationError".into(),
                evalue: "mismatched types".into(),
                traceback: vec!["error[E0308]: mismatched types\n  --> cell:1:17".into()],
            }
        });
        assert_eq!(tries.len(), 1, "{tries:?}");
        assert!(tries[0].0.contains("name_binding(&x"));
        // an error that names the inserted call sends the student's own cell instead
        let mut tries = Vec::new();
        execute(cell, |code, retry| {
            tries.push(retry);
            assert_eq!(code == cell, retry);
            Outcome::Err {
                ename: "CompilationError".into(),
                evalue: "e".into(),
                traceback: vec!["error: in autograd_core::names::name_binding\n  --> cell:1:20".into()],
            }
        });
        assert_eq!(tries, [false, true]);
    }
}
