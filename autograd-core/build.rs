//! Lists the public methods of `Tensor` and `Node` for `dir()` (Python's `dir(x)`).
//!
//! Rust has no run-time reflection, so the list is read from the sources at build time: every
//! `pub fn` directly inside an `impl Tensor {` / `impl Node {` block. The list can therefore
//! never drift from the code.

use std::collections::BTreeSet;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=src");
    let mut tensor = BTreeSet::new();
    let mut node = BTreeSet::new();
    visit(Path::new("src"), &mut |text| {
        collect(text, "impl Tensor {", &mut tensor);
        collect(text, "impl Node {", &mut node);
    });
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let list =
        |names: &BTreeSet<String>| names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ");
    let code = format!(
        "/// Public methods of `Tensor`, sorted.\npub const TENSOR_METHODS: &[&str] = &[{}];\n\
         /// Public methods of `Node`, sorted.\npub const NODE_METHODS: &[&str] = &[{}];\n",
        list(&tensor),
        list(&node)
    );
    std::fs::write(Path::new(&out).join("methods.rs"), code).expect("write methods.rs");
}

fn visit(dir: &Path, f: &mut dyn FnMut(&str)) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            visit(&path, f);
        } else if path.extension().is_some_and(|e| e == "rs") {
            if let Ok(text) = std::fs::read_to_string(&path) {
                f(&text);
            }
        }
    }
}

/// Names of `pub fn`s one level inside each block that starts with the line `header`, and of
/// methods made by a macro invoked there (`unary_float_op!(/// doc\n exp, ...)`: the first
/// identifier of the invocation that is followed by a comma).
fn collect(text: &str, header: &str, names: &mut BTreeSet<String>) {
    let mut depth: Option<i32> = None;
    let mut in_macro = false;
    for line in text.lines() {
        let trimmed = line.trim();
        match depth {
            None => {
                if line.starts_with(header) {
                    depth = Some(1);
                }
            }
            Some(d) => {
                let ident = |s: &str| -> String {
                    s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
                };
                if d == 1 {
                    if let Some(rest) = trimmed.strip_prefix("pub fn ") {
                        let name = ident(rest);
                        if !name.is_empty() {
                            names.insert(name);
                        }
                    }
                    in_macro = trimmed.ends_with("!(");
                } else if in_macro && d == 2 && !trimmed.starts_with("//") && !trimmed.starts_with('#') {
                    let name = ident(trimmed);
                    if !name.is_empty() && trimmed[name.len()..].starts_with(',') {
                        names.insert(name);
                    }
                    in_macro = false;
                }
                // brackets in comments do not count (a doc comment may write `[1, 4)`)
                let code = if trimmed.starts_with("//") { "" } else { line };
                let opens = code.matches(['{', '(']).count() as i32;
                let closes = code.matches(['}', ')']).count() as i32;
                let now = d + opens - closes;
                depth = if now <= 0 { None } else { Some(now) };
            }
        }
    }
}
