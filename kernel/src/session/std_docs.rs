//! What Shift-Tab shows for an item of the standard library.
//!
//! The analyser reads an outline of std without its documentation (see `outline.rs`: the
//! docs were 28 MiB of every kernel), so hovering `Vec::new` gives its signature and no text.
//! The reply then links rustdoc's search for the item on doc.rust-lang.org, where the full
//! page is one click away; autograd-core's own items keep their documentation.

/// The analyser's hover (plain text and HTML), with a link to std's documentation when it
/// names an item of core, alloc or std.
pub(super) fn with_link(plain: String, html: String) -> (String, String) {
    match search_link(&plain) {
        Some(url) => (
            format!("{plain}\n\nstd's documentation: {url}"),
            format!("{html}<p>std's documentation: <a href=\"{url}\" target=\"_blank\">{url}</a></p>\n"),
        ),
        None => (plain, html),
    }
}

/// rustdoc's search for the item a hover (`plain`: the item's module path, then its
/// signature) names, when it is an item of core, alloc or std.
fn search_link(plain: &str) -> Option<String> {
    let mut lines = plain.lines().map(str::trim).filter(|l| !l.is_empty());
    let path = lines.next()?;
    let crate_name = path.split("::").next()?;
    if !matches!(crate_name, "core" | "alloc" | "std") {
        return None;
    }
    let name = lines.find_map(item_name)?;
    // a method or associated item: its type is the path's last segment (`alloc::vec::Vec`)
    let owner = path.rsplit("::").next().filter(|s| s.starts_with(|c: char| c.is_ascii_uppercase()));
    let term = match owner {
        Some(owner) if owner != name => format!("{owner}::{name}"),
        _ => name.to_string(),
    };
    Some(format!("https://doc.rust-lang.org/std/index.html?search={}", term.replace("::", "%3A%3A")))
}

/// The name an item's signature line declares (`pub const fn new() -> Self`: `new`).
fn item_name(line: &str) -> Option<&str> {
    let words: Vec<&str> = line.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '!')).collect();
    let at = words.iter().position(|w| {
        matches!(
            *w,
            "fn" | "struct"
                | "enum"
                | "trait"
                | "union"
                | "type"
                | "const"
                | "static"
                | "mod"
                | "macro_rules!"
        )
    })?;
    words[at + 1..].iter().copied().find(|w| !w.is_empty() && *w != "fn")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_items_get_a_link_to_their_documentation() {
        let search = |term: &str| format!("https://doc.rust-lang.org/std/index.html?search={term}");
        let hint = search_link;
        assert_eq!(
            hint("alloc::vec\n\npub struct Vec<T, A = Global>\nwhere\n    A: Allocator,\n{ /* … */ }"),
            Some(search("Vec"))
        );
        assert_eq!(
            hint("alloc::vec::Vec\n\nimpl<T> Vec<T, Global>\npub const fn new() -> Self\n\n\nT = u8"),
            Some(search("Vec%3A%3Anew"))
        );
        assert_eq!(
            hint("alloc::string::String\n\npub const fn len(&self) -> usize"),
            Some(search("String%3A%3Alen"))
        );
        assert_eq!(hint("core::mem\n\npub fn swap<T>(x: &mut T, y: &mut T)"), Some(search("swap")));
        assert_eq!(hint("std::macros\n\nmacro_rules! println"), Some(search("println")));
    }

    #[test]
    fn other_items_get_none() {
        let hint = search_link;
        assert_eq!(hint("autograd_core::factory\n\npub fn ones(shape: &[usize]) -> Tensor"), None);
        assert_eq!(hint("ctx\n\nlet x: Tensor"), None);
        assert_eq!(hint(""), None);
    }

    #[test]
    fn the_link_goes_into_both_forms_of_the_reply() {
        let (plain, html) = with_link("alloc::vec\n\npub struct Vec<T>".into(), "<pre>Vec</pre>\n".into());
        assert!(
            plain.ends_with("\n\nstd's documentation: https://doc.rust-lang.org/std/index.html?search=Vec"),
            "{plain}"
        );
        assert!(html.starts_with("<pre>Vec</pre>\n<p>std's documentation: <a href=\"https://doc.rust-lang.org/std/index.html?search=Vec\""), "{html}");
        let ours = with_link("autograd_core::factory\n\npub fn ones()".into(), "<p>ones</p>".into());
        assert_eq!(ours, ("autograd_core::factory\n\npub fn ones()".to_string(), "<p>ones</p>".to_string()));
    }
}
