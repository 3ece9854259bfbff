//! `dir()` lists the real methods (read from the sources at build time) and the version
//! constants are what the notebooks print.

use autograd_core::prelude::*;

#[test]
fn dir_of_a_tensor_lists_its_methods_sorted() {
    let names = tensor!([1., 2.]).dir();
    for expected in [
        "backward",
        "backward_with",
        "grad",
        "grad_fn",
        "is_leaf",
        "requires_grad_",
        "exp",
        "tanh",
        "sigmoid",
        "register_hook",
        "zero_",
        "dir",
        "T",
        // made by `unary_float_op!` after a doc comment with an unbalanced `(` (`[1, 4)`), which
        // once ended the build script's count of the macro's brackets early
        "sqrt",
        "reciprocal",
        "abs",
        "relu",
        "clamp",
        "sgn",
        "sign",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted);
    // private helpers and free functions are not methods
    assert!(!names.iter().any(|n| n == "from_parts" || n == "rand" || n == "with_data"));
}

#[test]
fn dir_of_a_node_lists_its_methods() {
    let x = tensor!([1., 2.], requires_grad = true);
    let node = (&x * 2.0).grad_fn().unwrap();
    let names = node.dir();
    for expected in ["name", "next_functions", "variable", "saved_tensors"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
    assert!(!names.iter().any(|n| n == "backward"));
}

#[test]
fn versions() {
    assert_eq!(VERSION, env!("CARGO_PKG_VERSION"));
    assert!(PYTORCH_VERSION.starts_with("2."));
}

#[test]
fn ipython_shows_nodes_without_the_word_object() {
    let x = tensor!([1., 2.], requires_grad = true);
    let node = (&x * 2.0).grad_fn().unwrap();
    assert!(node.py_repr().starts_with("<MulBackward0 object at 0x"));
    assert!(node.py_pretty().starts_with("<MulBackward0 at 0x"));
    let pair = (Some(node.clone()), 0usize);
    assert!(pair.py_pretty().starts_with("(<MulBackward0 at 0x"));
    assert!(pair.py_str().starts_with("(<MulBackward0 object at 0x"));
}
