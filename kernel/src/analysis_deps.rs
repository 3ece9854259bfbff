//! What the analyser is told about the cell crate's dependencies: the engine's private ones
//! left out.
//!
//! evcxr's rust-analyzer learns the cell crate's dependencies from `cargo metadata`, run
//! through the kernel's `cargo` (see `cell_build`), and then knows every crate in that graph:
//! for autograd-core that is also ndarray and its number crates, rayon, rayon-core, three
//! crossbeam crates, either, matrixmultiply and portable-atomic, which the engine uses inside
//! (arrays, threads, matrix kernels) and which no cell can name or receive. The first cell
//! waits for the analyser to read every one of them (parse them, expand their macros, resolve
//! their names); and evcxr gives the analyser every file as one local source root, so with
//! each new cell it re-checks what it knows of every crate before it can answer (see the
//! issue notes: salsa's `deep_verify_edges`).
//!
//! Measured on our 2-core VMs, kernel starts taken in turns, from start to the first tensor
//! cell's result: with the whole graph 2.51-2.96 s; without rayon and the crates below it
//! 2.28-2.53 s (`/proc` of the kernel: its own CPU 1.64-1.80 s -> 1.31-1.52 s). On another
//! VM, five starts each in turns: without rayon and below 3.04-3.17 s, with only smallvec
//! left 2.38-2.80 s (the analyser's time is parsing and macro expansion, most of it in the
//! crates' sources; ndarray's alone is 0.9 MB).
//!
//! So only the crates that autograd-core's public items name stay (`ENGINE_PUBLIC_DEPS`), and
//! what they depend on; everything else the engine reaches goes, unless something else the
//! cell crate depends on reaches it too: after a `:dep` on a crate that uses rayon (or on
//! ndarray itself), the analyser sees it as before. The build itself never sees this: it is
//! only the answer to `cargo metadata` with dependencies.

use crate::cell_build::CELL_CRATE;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The package the kernel preloads into every cell.
const ENGINE: &str = "autograd-core";
/// The engine's dependencies that its public items name, which the analyser must know to
/// give a cell's variables their types: smallvec (`Grads`, `Node::backward`'s type). Every
/// other crate the engine depends on (directly or not) is used only inside it.
const ENGINE_PUBLIC_DEPS: &[&str] = &["smallvec"];

/// `cargo metadata` asked for the dependency graph (not `--no-deps`).
pub fn is_graph_metadata(args: &[std::ffi::OsString]) -> bool {
    let mut words = args.iter().filter_map(|a| a.to_str()).filter(|a| !a.starts_with('-'));
    words.next() == Some("metadata") && !args.iter().any(|a| a == "--no-deps")
}

/// The graph of `metadata` (cargo's JSON) without the engine's internal crates, when it is the
/// cell crate's graph; None when there is nothing to leave out.
pub fn without_engine_internals<'a>(metadata: &'a Value) -> Option<Value> {
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
    let reached_from = |starts: Vec<&'a str>, stop_at_engine: bool| {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut todo = starts;
        while let Some(id) = todo.pop() {
            if (stop_at_engine && name_of.get(id) == Some(&ENGINE)) || !seen.insert(id) {
                continue;
            }
            todo.extend(deps_of.get(id).into_iter().flatten());
        }
        seen
    };
    // what the cell crate reaches without going through the engine (a `:dep` of the user's)
    let theirs = reached_from(vec![root], true);
    let engines: Vec<&str> = name_of.iter().filter(|(_, name)| **name == ENGINE).map(|(id, _)| *id).collect();
    let public: Vec<&str> = engines
        .iter()
        .flat_map(|id| deps_of.get(id).into_iter().flatten())
        .copied()
        .filter(|id| name_of.get(id).is_some_and(|name| ENGINE_PUBLIC_DEPS.contains(name)))
        .collect();
    let named_publicly = reached_from(public, false);
    let hidden: HashSet<&str> = reached_from(engines.clone(), false)
        .into_iter()
        .filter(|id| !engines.contains(id) && !theirs.contains(id) && !named_publicly.contains(id))
        .collect();
    if hidden.is_empty() {
        return None;
    }
    let hidden_names: HashSet<&str> = hidden.iter().map(|id| name_of[id]).collect();
    let mut trimmed = metadata.clone();
    let kept = |v: &Value| v.as_str().is_none_or(|id| !hidden.contains(id));
    if let Some(packages) = trimmed["packages"].as_array_mut() {
        packages.retain(|p| kept(&p["id"]));
        // by name, as cargo lists them: only in the engine's part of the graph, where a name is
        // the hidden crate's (a crate of the user's may name another version of it)
        for package in packages.iter_mut().filter(|p| p["id"].as_str().is_none_or(|id| !theirs.contains(id)))
        {
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
        assert_eq!(names(&trimmed), ["autograd-core", "ctx", "smallvec"]);
        assert!(is_whole(&trimmed));
        let engine =
            trimmed["packages"].as_array().unwrap().iter().find(|p| p["name"] == "autograd-core").unwrap();
        assert_eq!(engine["dependencies"], json!([{ "name": "smallvec", "req": "^1" }]));
    }

    #[test]
    fn a_crate_the_user_added_keeps_what_it_uses() {
        let mut graph = ENGINE_GRAPH.to_vec();
        graph[0] = ("ctx", &["autograd-core", "their-crate"]);
        graph.push(("their-crate", &["rayon"]));
        let trimmed = without_engine_internals(&metadata(&graph)).expect("something left out");
        // rayon and what it needs stay; ndarray and the rest, only the engine's, go
        assert_eq!(
            names(&trimmed),
            [
                "autograd-core",
                "crossbeam-deque",
                "crossbeam-epoch",
                "crossbeam-utils",
                "ctx",
                "either",
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
    fn another_version_of_a_hidden_crate_stays_the_users() {
        // the user's crate uses ndarray 0.15 while the engine's ndarray (1.0.0 here) is hidden
        let mut graph = ENGINE_GRAPH.to_vec();
        graph[0] = ("ctx", &["autograd-core", "their-crate"]);
        graph.push(("their-crate", &[]));
        let mut metadata = metadata(&graph);
        let old = "registry+https://example#ndarray@0.15.0";
        metadata["packages"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "name": "ndarray", "id": old, "dependencies": [] }));
        metadata["resolve"]["nodes"].as_array_mut().unwrap().push(json!({
            "id": old, "dependencies": [], "deps": [], "features": []
        }));
        let is_theirs = |p: &&mut Value| p["id"].as_str().unwrap().contains("their-crate");
        let package = metadata["packages"].as_array_mut().unwrap().iter_mut().find(is_theirs).unwrap();
        package["dependencies"] = json!([{ "name": "ndarray", "req": "^0.15" }]);
        let node = metadata["resolve"]["nodes"].as_array_mut().unwrap().iter_mut().find(is_theirs).unwrap();
        node["dependencies"] = json!([old]);
        node["deps"] = json!([{ "name": "ndarray", "pkg": old }]);
        let trimmed = without_engine_internals(&metadata).expect("something left out");
        assert!(is_whole(&trimmed));
        let packages = trimmed["packages"].as_array().unwrap();
        let ndarrays: Vec<&Value> = packages.iter().filter(|p| p["name"] == "ndarray").collect();
        assert_eq!(ndarrays.len(), 1);
        assert_eq!(ndarrays[0]["id"], old);
        let theirs = packages.iter().find(|p| p["name"] == "their-crate").unwrap();
        assert_eq!(theirs["dependencies"], json!([{ "name": "ndarray", "req": "^0.15" }]));
    }

    #[test]
    fn what_a_public_dependency_needs_stays() {
        let mut graph = ENGINE_GRAPH.to_vec();
        graph.retain(|(name, _)| *name != "smallvec");
        graph.push(("smallvec", &["either"]));
        let trimmed = without_engine_internals(&metadata(&graph)).expect("something left out");
        assert_eq!(names(&trimmed), ["autograd-core", "ctx", "either", "smallvec"]);
        assert!(is_whole(&trimmed));
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
