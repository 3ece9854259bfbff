//! What the analyser is told about the cell crate's dependencies: the engine's private ones
//! left out.
//!
//! evcxr's rust-analyzer learns the cell crate's dependencies from `cargo metadata`, run
//! through the kernel's `cargo` (see `cell_build`), and then knows every crate in that graph:
//! for autograd-core that is also rayon, rayon-core, three crossbeam crates, either and
//! matrixmultiply, which the engine uses inside (threads, matrix kernels) and which no cell can
//! name or receive. evcxr gives the analyser every file as one local source root, so with each
//! new cell it re-checks what it knows of every crate before it can answer (see the issue
//! notes: salsa's `deep_verify_edges`), and the first cell waits for all of them to be read.
//! Told of the graph without those crates (measured on our 2-core VM, four kernel starts each
//! in turns, `/proc` of the kernel): from start to the first tensor cell's result, the
//! kernel's own CPU 1.64-1.80 s -> 1.31-1.52 s and the wall time 2.51-2.96 s -> 2.28-2.53 s.
//! Warm cells gain little (the kernel's CPU per cell 0.048-0.056 s -> 0.045-0.056 s): most of
//! what the analyser re-checks is std.
//!
//! Left out only when nothing else the cell crate depends on reaches them: after a `:dep` on a
//! crate that uses rayon (or on ndarray itself), the analyser sees rayon as before. The build
//! itself never sees this: it is only the answer to `cargo metadata` with dependencies.

use crate::cell_build::CELL_CRATE;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The package the kernel preloads into every cell.
const ENGINE: &str = "autograd-core";
/// autograd-core's dependencies (direct or through ndarray) that appear in none of its public
/// items. Not smallvec (`Grads`, `Node::backward`'s type), not ndarray and its number crates
/// (`.numpy()`).
const ENGINE_INTERNALS: &[&str] = &[
    "rayon",
    "rayon-core",
    "crossbeam-deque",
    "crossbeam-epoch",
    "crossbeam-utils",
    "either",
    "matrixmultiply",
];

/// `cargo metadata` asked for the dependency graph (not `--no-deps`).
pub fn is_graph_metadata(args: &[std::ffi::OsString]) -> bool {
    let mut words = args.iter().filter_map(|a| a.to_str()).filter(|a| !a.starts_with('-'));
    words.next() == Some("metadata") && !args.iter().any(|a| a == "--no-deps")
}

/// The graph of `metadata` (cargo's JSON) without the engine's internal crates, when it is the
/// cell crate's graph; None when there is nothing to leave out.
pub fn without_engine_internals(metadata: &Value) -> Option<Value> {
    let packages = metadata["packages"].as_array()?;
    let root = metadata["resolve"]["root"].as_str().or_else(|| metadata["workspace_members"][0].as_str())?;
    let name_of: HashMap<&str, &str> =
        packages.iter().filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?))).collect();
    if name_of.get(root) != Some(&CELL_CRATE) {
        return None;
    }
    let nodes = metadata["resolve"]["nodes"].as_array()?;
    let deps_of: HashMap<&str, Vec<&str>> = nodes
        .iter()
        .filter_map(|n| {
            let deps = n["deps"].as_array()?.iter().filter_map(|d| d["pkg"].as_str()).collect();
            Some((n["id"].as_str()?, deps))
        })
        .collect();
    // what the cell crate reaches without going through the engine (a `:dep` of the user's)
    let mut theirs: HashSet<&str> = HashSet::new();
    let mut todo = vec![root];
    while let Some(id) = todo.pop() {
        if name_of.get(id) == Some(&ENGINE) || !theirs.insert(id) {
            continue;
        }
        todo.extend(deps_of.get(id).into_iter().flatten());
    }
    let hidden: HashSet<&str> = name_of
        .iter()
        .filter(|(id, name)| ENGINE_INTERNALS.contains(name) && !theirs.contains(*id))
        .map(|(id, _)| *id)
        .collect();
    if hidden.is_empty() {
        return None;
    }
    let hidden_names: HashSet<&str> = hidden.iter().map(|id| name_of[id]).collect();
    let mut trimmed = metadata.clone();
    let kept = |v: &Value| v.as_str().is_none_or(|id| !hidden.contains(id));
    if let Some(packages) = trimmed["packages"].as_array_mut() {
        packages.retain(|p| kept(&p["id"]));
        for package in packages {
            if let Some(dependencies) = package["dependencies"].as_array_mut() {
                dependencies.retain(|d| d["name"].as_str().is_none_or(|n| !hidden_names.contains(n)));
            }
        }
    }
    if let Some(nodes) = trimmed["resolve"]["nodes"].as_array_mut() {
        nodes.retain(|n| kept(&n["id"]));
        for node in nodes {
            if let Some(ids) = node["dependencies"].as_array_mut() {
                ids.retain(kept);
            }
            if let Some(deps) = node["deps"].as_array_mut() {
                deps.retain(|d| kept(&d["pkg"]));
            }
        }
    }
    Some(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// cargo's metadata for a graph given as (package, its dependencies).
    fn metadata(graph: &[(&str, &[&str])]) -> Value {
        let id = |name: &str| format!("registry+https://example#{name}@1.0.0");
        let packages: Vec<Value> = graph
            .iter()
            .map(|(name, deps)| {
                let dependencies: Vec<Value> =
                    deps.iter().map(|d| json!({ "name": d, "req": "^1" })).collect();
                json!({ "name": name, "id": id(name), "dependencies": dependencies })
            })
            .collect();
        let nodes: Vec<Value> = graph
            .iter()
            .map(|(name, deps)| {
                let ids: Vec<String> = deps.iter().map(|d| id(d)).collect();
                let deps: Vec<Value> =
                    deps.iter().map(|d| json!({ "name": d.replace('-', "_"), "pkg": id(d) })).collect();
                json!({ "id": id(name), "dependencies": ids, "deps": deps, "features": [] })
            })
            .collect();
        json!({
            "packages": packages,
            "workspace_members": [id("ctx")],
            "resolve": { "root": id("ctx"), "nodes": nodes },
            "version": 1,
        })
    }

    fn names(metadata: &Value) -> Vec<String> {
        let mut names: Vec<String> = metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }

    /// Every dependency a package or node names is a package of the graph.
    fn is_whole(metadata: &Value) -> bool {
        let ids: HashSet<&str> =
            metadata["packages"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
        let names: HashSet<&str> =
            metadata["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        metadata["packages"].as_array().unwrap().iter().all(|p| {
            p["dependencies"].as_array().unwrap().iter().all(|d| names.contains(d["name"].as_str().unwrap()))
        }) && metadata["resolve"]["nodes"].as_array().unwrap().iter().all(|n| {
            ids.contains(n["id"].as_str().unwrap())
                && n["dependencies"].as_array().unwrap().iter().all(|d| ids.contains(d.as_str().unwrap()))
                && n["deps"].as_array().unwrap().iter().all(|d| ids.contains(d["pkg"].as_str().unwrap()))
        })
    }

    const ENGINE_GRAPH: &[(&str, &[&str])] = &[
        ("ctx", &["autograd-core"]),
        ("autograd-core", &["ndarray", "rayon", "smallvec", "matrixmultiply", "num-traits"]),
        ("ndarray", &["rayon", "matrixmultiply", "num-traits"]),
        ("rayon", &["rayon-core", "either"]),
        ("rayon-core", &["crossbeam-deque", "crossbeam-utils"]),
        ("crossbeam-deque", &["crossbeam-epoch", "crossbeam-utils"]),
        ("crossbeam-epoch", &["crossbeam-utils"]),
        ("crossbeam-utils", &[]),
        ("either", &[]),
        ("matrixmultiply", &[]),
        ("num-traits", &[]),
        ("smallvec", &[]),
    ];

    #[test]
    fn the_cell_crate_sees_the_engine_without_its_internal_crates() {
        let trimmed = without_engine_internals(&metadata(ENGINE_GRAPH)).expect("something left out");
        assert_eq!(names(&trimmed), ["autograd-core", "ctx", "ndarray", "num-traits", "smallvec"]);
        assert!(is_whole(&trimmed));
        let ndarray =
            trimmed["packages"].as_array().unwrap().iter().find(|p| p["name"] == "ndarray").unwrap();
        assert_eq!(ndarray["dependencies"], json!([{ "name": "num-traits", "req": "^1" }]));
    }

    #[test]
    fn a_crate_the_user_added_keeps_what_it_uses() {
        let mut graph = ENGINE_GRAPH.to_vec();
        graph[0] = ("ctx", &["autograd-core", "their-crate"]);
        graph.push(("their-crate", &["rayon"]));
        let trimmed = without_engine_internals(&metadata(&graph)).expect("something left out");
        // rayon and what it needs stay; matrixmultiply, only the engine's, goes
        assert_eq!(
            names(&trimmed),
            [
                "autograd-core",
                "crossbeam-deque",
                "crossbeam-epoch",
                "crossbeam-utils",
                "ctx",
                "either",
                "ndarray",
                "num-traits",
                "rayon",
                "rayon-core",
                "smallvec",
                "their-crate"
            ]
        );
        assert!(is_whole(&trimmed));
        // ndarray added by the user: everything stays
        graph[0] = ("ctx", &["autograd-core", "ndarray"]);
        graph.pop();
        assert_eq!(without_engine_internals(&metadata(&graph)), None);
    }

    #[test]
    fn other_graphs_are_left_as_they_are() {
        // not the cell crate (evcxr checks a `:dep` in a crate of its own)
        let mut graph = ENGINE_GRAPH.to_vec();
        graph[0] = ("evcxr_dummy_validate_dep", &["autograd-core"]);
        let mut other = metadata(&graph);
        other["workspace_members"] = json!(["registry+https://example#evcxr_dummy_validate_dep@1.0.0"]);
        other["resolve"]["root"] = other["workspace_members"][0].clone();
        assert_eq!(without_engine_internals(&other), None);
        // nothing of the engine's to leave out
        assert_eq!(
            without_engine_internals(&metadata(&[("ctx", &["their-crate"]), ("their-crate", &[])])),
            None
        );
        assert_eq!(without_engine_internals(&json!({ "message": "not metadata" })), None);
    }

    #[test]
    fn only_metadata_with_dependencies_is_changed() {
        let os = |args: &[&str]| args.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert!(is_graph_metadata(&os(&[
            "metadata",
            "--format-version",
            "1",
            "--manifest-path",
            "/s/Cargo.toml"
        ])));
        assert!(is_graph_metadata(&os(&["--offline", "metadata", "--format-version=1"])));
        assert!(!is_graph_metadata(&os(&["metadata", "--format-version", "1", "--no-deps"])));
        assert!(!is_graph_metadata(&os(&["build", "--message-format=json"])));
        assert!(!is_graph_metadata(&os(&["locate-project", "--workspace"])));
    }
}
