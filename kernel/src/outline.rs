//! The outline of a standard-library source file, for the analyser's copy of std: the same
//! items, signatures and attributes, without what only the compiler and rustdoc read.
//!
//! evcxr's rust-analyzer keeps what it learns about std for the whole session, and std is most
//! of what it holds: a kernel after a tutorial held 294 MiB, nearly all of it the analyser.
//! It needs std's items and signatures (a variable's type, completions), not how a function
//! is written or its documentation. So the copy keeps every item, attribute and signature and
//! leaves out:
//! - doc comments and `#[doc = ...]` attributes (also inside `macro_rules!` bodies, where the
//!   integer types' methods get theirs), about a third of std's text;
//! - the bodies of functions that are not `const`: `{ loop {} }` instead. A `const fn`'s body
//!   can give a constant its value (array lengths), so it stays.
//! - the same bodies where a `macro_rules!` writes functions out (its transcribers): the
//!   analyser expands every macro called among std's items (formatting of each integer type,
//!   iterators of slices, ranges' steps, ...) before it can answer, and parses what comes
//!   out. Measured on our 2-core VM, five kernel starts each in turns, start to first tensor
//!   cell: 3.11-3.38 s -> 2.95-3.25 s. (Also leaving out the `const fn` bodies there, most of
//!   the integer methods, changed nothing measurable: those sit in `impl` blocks, whose macros
//!   the analyser expands only when a method is looked up.)
//!
//! Cells are still compiled by rustc against the real std; only the analyser's reading changes.

use ra_ap_syntax::ast::{self, AstNode, AstToken};
use ra_ap_syntax::{Edition, NodeOrToken, SourceFile, SyntaxKind, SyntaxNode, TextRange, WalkEvent};

/// `text` with doc comments, doc attributes and non-const function bodies left out.
pub fn outline(text: &str) -> String {
    let file = SourceFile::parse(text, Edition::Edition2024).tree();
    let mut edits: Vec<(TextRange, &str)> = Vec::new();
    let mut walk = file.syntax().preorder_with_tokens();
    while let Some(event) = walk.next() {
        let WalkEvent::Enter(element) = event else { continue };
        match element {
            NodeOrToken::Token(token) => {
                if ast::Comment::cast(token.clone()).is_some_and(|c| c.is_doc()) {
                    edits.push((token.text_range(), ""));
                }
            }
            NodeOrToken::Node(node) => {
                if let Some(range) = doc_attribute(&node) {
                    edits.push((range, ""));
                    walk.skip_subtree();
                } else if is_replaceable_body(&node) {
                    edits.push((node.text_range(), "{ loop {} }"));
                    walk.skip_subtree();
                } else if node.kind() == SyntaxKind::MACRO_RULES {
                    edits.extend(bodies_in_macro(&node).into_iter().map(|r| (r, "{ loop {} }")));
                } else if node.kind() == SyntaxKind::TOKEN_TREE {
                    edits.extend(doc_attributes_in_macro(&node).into_iter().map(|r| (r, "")));
                }
            }
        }
    }
    edits.sort_by_key(|(range, _)| range.start());
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (range, replacement) in edits {
        let (start, end) = (usize::from(range.start()), usize::from(range.end()));
        if start < at {
            continue; // inside an edit already made
        }
        out.push_str(&text[at..start]);
        out.push_str(replacement);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// The range of an attribute `#[doc = ...]` or `#![doc = ...]` (not `#[doc(hidden)]`, which
/// changes what completion offers).
fn doc_attribute(node: &SyntaxNode) -> Option<TextRange> {
    let attr = ast::Attr::cast(node.clone())?;
    let ast::Meta::KeyValueMeta(meta) = attr.meta()? else { return None };
    let is_doc = meta.path()?.as_single_name_ref()?.text() == "doc";
    is_doc.then(|| attr.syntax().text_range())
}

/// Whether `node` is the body of a function that is not `const`.
fn is_replaceable_body(node: &SyntaxNode) -> bool {
    let Some(body) = ast::BlockExpr::cast(node.clone()) else { return false };
    let Some(function) = node.parent().and_then(ast::Fn::cast) else { return false };
    function.const_token().is_none() && function.body().as_ref() == Some(&body)
}

/// The bodies of the non-const functions a `macro_rules!` writes out: in the transcriber of
/// each rule (never in a matcher, where tokens are what is matched), every `fn` whose
/// signature is followed by a `{ ... }` tree before anything that starts another item. A
/// macro defined inside a transcriber is left as it is.
///
/// std writes much of itself this way (the integer types' methods, atomics, `NonZero`), and
/// the analyser expands those macros (transcribes, re-parses, indexes) to learn the items.
fn bodies_in_macro(rules: &SyntaxNode) -> Vec<TextRange> {
    let mut found = Vec::new();
    let Some(tree) = rules.children().find(|n| n.kind() == SyntaxKind::TOKEN_TREE) else { return found };
    // the rules: matcher `=>` transcriber `;`, each a tree, so every second tree is a transcriber
    for transcriber in tree.children().filter(|n| n.kind() == SyntaxKind::TOKEN_TREE).skip(1).step_by(2) {
        bodies_in_transcriber(&transcriber, &mut found);
    }
    found
}

fn bodies_in_transcriber(tree: &SyntaxNode, found: &mut Vec<TextRange>) {
    let parts: Vec<_> = tree.children_with_tokens().filter(|c| !c.kind().is_trivia()).collect();
    let mut i = 0;
    while i < parts.len() {
        match &parts[i] {
            NodeOrToken::Token(t) if t.text() == "macro_rules" => {
                // a macro this one defines: past its body untouched
                i += parts[i..].iter().position(|p| p.as_node().is_some()).unwrap_or(parts.len());
            }
            NodeOrToken::Token(t) if t.text() == "fn" && !is_const_fn(&parts[..i]) => {
                if let Some(body) = fn_body_after(&parts[i + 1..]) {
                    found.push(body.text_range());
                    i += parts[i..].iter().position(|p| p.as_node() == Some(&body)).unwrap_or(0);
                }
            }
            NodeOrToken::Node(inner) => bodies_in_transcriber(inner, found),
            NodeOrToken::Token(_) => {}
        }
        i += 1;
    }
}

/// Whether the qualifiers before a `fn` (in a token tree: `pub const unsafe fn`) say `const`.
fn is_const_fn(before: &[ra_ap_syntax::SyntaxElement]) -> bool {
    for part in before.iter().rev() {
        let Some(token) = part.as_token() else { return false };
        match token.text() {
            "const" => return true,
            "unsafe" | "extern" | "async" | "safe" => {}
            _ if token.kind() == SyntaxKind::STRING => {} // an ABI
            _ => return false,
        }
    }
    false
}

/// The `{ ... }` body of the function whose name and signature are `after`: the first brace
/// tree after its parameter list, when nothing between them could start another item (a
/// body given as `$body` is not replaced).
fn fn_body_after(after: &[ra_ap_syntax::SyntaxElement]) -> Option<SyntaxNode> {
    const ITEM_STARTS: &[&str] = &[
        "fn",
        "impl",
        "struct",
        "enum",
        "union",
        "trait",
        "type",
        "const",
        "static",
        "mod",
        "use",
        "pub",
        "#",
        ";",
        "let",
        "macro_rules",
    ];
    let mut seen_parameters = false;
    for (k, part) in after.iter().enumerate() {
        match part {
            NodeOrToken::Node(tree) => {
                let open = tree.first_token().map(|t| t.kind());
                match open {
                    Some(SyntaxKind::L_PAREN) if k == 0 => return None, // `fn(..)`: a pointer type
                    Some(SyntaxKind::L_PAREN) => seen_parameters = true,
                    Some(SyntaxKind::L_CURLY) if seen_parameters => return Some(tree.clone()),
                    Some(SyntaxKind::L_CURLY) => return None,
                    _ => {}
                }
            }
            NodeOrToken::Token(token)
                if token.text() == "fn" && after.get(k + 1).is_some_and(is_parenthesised) =>
            {
                // `-> fn(u8) -> u8`: a pointer type in the signature
            }
            NodeOrToken::Token(token) if ITEM_STARTS.contains(&token.text()) => return None,
            NodeOrToken::Token(_) => {}
        }
    }
    None
}

fn is_parenthesised(part: &ra_ap_syntax::SyntaxElement) -> bool {
    part.as_node().and_then(|n| n.first_token()).is_some_and(|t| t.kind() == SyntaxKind::L_PAREN)
}

/// `#[doc = ...]` inside a macro's token tree: the `#` token and the `[doc = ...]` tree after
/// it (`#![doc = ...]` too).
fn doc_attributes_in_macro(tree: &SyntaxNode) -> Vec<TextRange> {
    let children: Vec<_> = tree.children_with_tokens().collect();
    let mut found = Vec::new();
    for (i, child) in children.iter().enumerate() {
        if child.kind() != SyntaxKind::POUND {
            continue;
        }
        let mut next = children[i + 1..].iter().filter(|c| !c.kind().is_trivia());
        let mut bracket = next.next();
        if bracket.is_some_and(|b| b.kind() == SyntaxKind::BANG) {
            bracket = next.next();
        }
        let Some(NodeOrToken::Node(bracket)) = bracket else { continue };
        if bracket.kind() != SyntaxKind::TOKEN_TREE
            || bracket.first_token().is_none_or(|t| t.kind() != SyntaxKind::L_BRACK)
        {
            continue;
        }
        let mut inside = bracket.children_with_tokens().filter(|c| !c.kind().is_trivia()).skip(1);
        let is_doc = inside.next().is_some_and(|t| t.as_token().is_some_and(|t| t.text() == "doc"))
            && inside.next().is_some_and(|t| t.kind() == SyntaxKind::EQ);
        if is_doc {
            found.push(TextRange::new(child.text_range().start(), bracket.text_range().end()));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_items_and_signatures_and_leaves_out_docs_and_bodies() {
        let text = r#"//! The crate.
#![doc = include_str!("../README.md")]
#![stable(feature = "rust1", since = "1.0.0")]

/// An option.
#[lang = "Option"]
#[doc(hidden)]
pub enum Option<T> { None, Some(T) }

impl<T> Option<T> {
    /** Whether there is one. */
    #[inline]
    pub fn is_some(&self) -> bool { matches!(*self, Some(_)) }
    #[doc = "Size."]
    pub const fn size() -> usize { 8 }
}

pub trait Iterator {
    // a plain comment stays
    fn next(&mut self) -> Option<u8>;
    fn count(self) -> usize where Self: Sized { let mut n = 0; n }
}

macro_rules! int_impl {
    ($T:ty) => {
        /// Docs in a macro.
        #[doc = concat!("The largest ", stringify!($T), ".")]
        #[doc(alias = "max")]
        pub fn max() -> $T { <$T>::MAX }
    };
}
"#;
        let out = outline(text);
        for gone in [
            "The crate",
            "README",
            "An option",
            "Whether",
            "Size.",
            "Docs in a macro",
            "The largest",
            "matches!",
            "n = 0",
        ] {
            assert!(!out.contains(gone), "{gone:?} left in:\n{out}");
        }
        for kept in [
            "#![stable(feature = \"rust1\", since = \"1.0.0\")]",
            "#[lang = \"Option\"]",
            "#[doc(hidden)]",
            "pub enum Option<T> { None, Some(T) }",
            "#[inline]",
            "pub fn is_some(&self) -> bool { loop {} }",
            "pub const fn size() -> usize { 8 }",
            "// a plain comment stays",
            "fn next(&mut self) -> Option<u8>;",
            "fn count(self) -> usize where Self: Sized { loop {} }",
            "#[doc(alias = \"max\")]",
            // in a macro's transcriber too
            "pub fn max() -> $T { loop {} }",
        ] {
            assert!(out.contains(kept), "{kept:?} missing from:\n{out}");
        }
        assert_parses(&out);
    }

    #[test]
    fn in_a_macro_only_the_transcribers_non_const_function_bodies_go() {
        let text = r#"macro_rules! int_impl {
    (fn $name:ident { $($body:tt)* }) => {};
    ($T:ty, $body:block) => {
        impl Num for $T {
            pub const fn bits() -> u32 { <$T>::BITS }
            pub const unsafe fn raw(self) -> $T { self }
            pub fn abs(self) -> $T where $T: Copy { if self < 0 { -self } else { self } }
            pub unsafe extern "C" fn ffi(x: $T) -> fn(u8) -> u8 { x.into() }
            fn given() $body
            impl Other { fn other() { stays_too() } }
            fn declared(&self);
            fn pointer() -> fn() -> u8 { |_| 0 }
            macro_rules! inner { () => { fn kept() { inner_body() } } }
        }
    };
}
"#;
        let out = outline(text);
        for kept in [
            "(fn $name:ident { $($body:tt)* }) => {};",
            "pub const fn bits() -> u32 { <$T>::BITS }",
            "pub const unsafe fn raw(self) -> $T { self }",
            "pub fn abs(self) -> $T where $T: Copy { loop {} }",
            "pub unsafe extern \"C\" fn ffi(x: $T) -> fn(u8) -> u8 { loop {} }",
            "fn given() $body",
            "impl Other { fn other() { loop {} } }",
            "fn declared(&self);",
            "fn pointer() -> fn() -> u8 { loop {} }",
            "macro_rules! inner { () => { fn kept() { inner_body() } } }",
        ] {
            assert!(out.contains(kept), "{kept:?} missing from:\n{out}");
        }
        assert_parses(&out);
    }

    fn assert_parses(out: &str) {
        let reparsed = SourceFile::parse(out, Edition::Edition2024);
        assert!(reparsed.errors().is_empty(), "{:?}\n{out}", reparsed.errors());
    }

    #[test]
    fn a_file_without_anything_to_leave_out_is_unchanged() {
        let text = "pub struct S;\nimpl S { pub const fn new() -> S { S } }\nextern \"C\" { fn abs(x: i32) -> i32; }\n";
        assert_eq!(outline(text), text);
    }

    /// Every file of the toolchain's core, alloc and std (when it has `rust-src`): the outline
    /// parses without errors the original did not have, and keeps every item name.
    #[test]
    fn the_toolchains_std_outlines_cleanly() {
        let Some(toolchain) = crate::toolchain::Toolchain::get() else { return };
        let library = toolchain.library();
        let mut files = 0;
        let mut stack: Vec<_> =
            ["core", "alloc", "std"].iter().map(|c| library.join(c).join("src")).collect();
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&path) else { continue };
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let before = SourceFile::parse(&text, Edition::Edition2024);
                let out = outline(&text);
                let after = SourceFile::parse(&out, Edition::Edition2024);
                assert!(
                    after.errors().len() <= before.errors().len(),
                    "{}: {:?}",
                    path.display(),
                    after.errors()
                );
                assert_eq!(item_names(&after.tree()), item_names(&before.tree()), "{}", path.display());
                files += 1;
            }
        }
        assert!(files == 0 || files > 500, "{files} files");
    }

    /// The names of the items outside function bodies and attributes (what the analyser
    /// indexes).
    fn item_names(file: &SourceFile) -> Vec<String> {
        let mut names = Vec::new();
        let mut walk = file.syntax().preorder();
        while let Some(event) = walk.next() {
            let WalkEvent::Enter(node) = event else { continue };
            if is_replaceable_body(&node) || node.kind() == SyntaxKind::ATTR {
                walk.skip_subtree();
            } else if let Some(item) = ast::Item::cast(node) {
                use ra_ap_syntax::ast::HasName;
                let name = ast::AnyHasName::cast(item.syntax().clone()).and_then(|n| n.name());
                names.push(format!(
                    "{:?} {}",
                    item.syntax().kind(),
                    name.map(|n| n.text().to_string()).unwrap_or_default()
                ));
            }
        }
        names
    }
}
