//! Cells keep their variables in the engine's store instead of compiling evcxr's own.
//!
//! evcxr writes the code of its variable store (a `HashMap<String, Box<dyn Any>>` and the
//! methods on it) into every cell that has a variable, as a module `evcxr_internal_runtime`,
//! so every such cell's build compiled that map's code again. Measured on our 2-core VM by
//! replaying a kernel's recorded `rustc` command over the 24 cells of `bench/kernel_latency.py`,
//! three runs each in turns: p50 0.159-0.169 s with evcxr's module, 0.122-0.131 s with the
//! re-export below (`-Z time-passes` on the cell with five tensors, three runs each: total
//! 0.165-0.197 s -> 0.123-0.133 s, of it type checking 0.012-0.015 -> 0.007-0.008, the
//! monomorphization walk 0.037-0.046 -> 0.028-0.033, LLVM 0.031-0.043 -> 0.019-0.024). Whole
//! warm cells through a client, three runs each in turns: p50 0.209-0.225 s -> 0.153-0.192 s.
//!
//! So before rustc builds a cell, the kernel replaces that module by a re-export of
//! `autograd_core::cell_variables`, which has the same items (see there) with the map's code
//! compiled once, in the engine's shared library. It does so in the cell's `src/lib.rs`
//! itself, for every build of the cell crate (cargo's and the replays of `cell_build`), so
//! every cell of a session uses the same store type, and the store one cell hands on is the
//! one the next cell reads. The lines stay where they were (the module becomes one line and
//! blank ones), so rustc's line numbers still map to the student's code in evcxr's errors.
//!
//! Only evcxr's module as we know it is replaced: its text is compared by hash with the one
//! of the evcxr version this kernel was built with (a test checks the hash against that
//! version's sources). Any other text, or a cell that does not link autograd-core, is built
//! as evcxr wrote it.

use std::ffi::OsString;
use std::path::Path;

/// The line that opens evcxr's module in a cell.
const RUNTIME_OPEN: &str = "mod evcxr_internal_runtime {";
/// The line that follows the module's closing `}`: the cell's entry point.
const AFTER_RUNTIME: &str = "#[unsafe(no_mangle)]";
/// FNV-1a of the module's body (between the two lines above, without the closing `}`) as
/// evcxr 0.22 writes it.
const EVCXR_RUNTIME_HASH: u64 = 0x76be_c620_db97_ffb5;
/// What the module becomes.
const SHARED_RUNTIME: &str = "mod evcxr_internal_runtime { pub use autograd_core::cell_variables::*; }";

/// The cell's source with evcxr's store module replaced by the engine's, line for line; None
/// when the source has no such module or it is not the one we know.
pub fn with_shared_store(source: &str) -> Option<String> {
    let mut lines: Vec<&str> = source.split('\n').collect();
    let open = lines.iter().position(|line| *line == RUNTIME_OPEN)?;
    let after = open + lines[open..].iter().position(|line| *line == AFTER_RUNTIME)?;
    if after < open + 2 || lines[after - 1] != "}" {
        return None;
    }
    let body = lines[open + 1..after - 1].join("\n");
    if crate::toolchain::stable_hash(body.as_bytes()) != EVCXR_RUNTIME_HASH {
        return None;
    }
    lines[open] = SHARED_RUNTIME;
    lines[open + 1..after].iter_mut().for_each(|line| *line = "");
    Some(lines.join("\n"))
}

/// Before `command` (a rustc command line, run in `cwd`) builds the cell crate: rewrites the
/// cell's source to use the engine's store, when the command links autograd-core. Leaves the
/// file as it is when anything does not fit.
pub fn use_shared_store(command: &[OsString], cwd: &Path) {
    if !crate::cell_build::externs(command).iter().any(|(name, _)| *name == "autograd_core") {
        return;
    }
    for source in command.iter().map(Path::new).filter(|arg| arg.ends_with("src/lib.rs")) {
        let path = cwd.join(source);
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        if let Some(shared) = with_shared_store(&text) {
            // written over in place: the file rustc reads is the one evcxr wrote, and evcxr
            // writes it anew for the next cell
            if let Err(e) = std::fs::write(&path, shared) {
                eprintln!("autograd-kernel: rewriting {} failed: {e}", path.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// evcxr's module text, from the sources of the evcxr version in Cargo.lock.
    fn evcxr_runtime() -> String {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        // this platform's packages only: the others' need not have been downloaded
        let platform = format!("{}-unknown-{}-gnu", std::env::consts::ARCH, std::env::consts::OS);
        let out = std::process::Command::new(cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--offline",
                "--filter-platform",
                &platform,
                "--manifest-path",
            ])
            .arg(&manifest)
            .output()
            .expect("cargo metadata runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let evcxr = metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "evcxr")
            .expect("evcxr is a dependency");
        let dir = Path::new(evcxr["manifest_path"].as_str().unwrap()).parent().unwrap().to_owned();
        std::fs::read_to_string(dir.join("src/evcxr_internal_runtime.rs")).expect("evcxr's runtime module")
    }

    /// A cell as evcxr 0.22 lays it out: prelude, the module, the entry point with user code.
    fn cell(module_body: &str) -> String {
        format!(
            "#![allow(unused_imports, unused_mut, dead_code)]\nuse autograd_core::prelude::*;\n{RUNTIME_OPEN}\n{}\n}}\n{AFTER_RUNTIME}\npub extern \"C\" fn run_user_code_3(\nlet y = &x * 2.0;\n}}\n",
            module_body.trim_end_matches('\n')
        )
    }

    #[test]
    fn the_known_module_is_the_one_of_the_evcxr_version_we_build_with() {
        let body = evcxr_runtime();
        assert_eq!(crate::toolchain::stable_hash(body.trim_end_matches('\n').as_bytes()), EVCXR_RUNTIME_HASH);
    }

    #[test]
    fn evcxrs_module_becomes_one_line_and_every_other_line_stays_where_it_was() {
        let source = cell(&evcxr_runtime());
        let shared = with_shared_store(&source).expect("the module is replaced");
        let (before, after): (Vec<&str>, Vec<&str>) =
            (source.split('\n').collect(), shared.split('\n').collect());
        assert_eq!(before.len(), after.len());
        let open = before.iter().position(|l| *l == RUNTIME_OPEN).unwrap();
        let entry = before.iter().position(|l| *l == AFTER_RUNTIME).unwrap();
        assert_eq!(after[open], SHARED_RUNTIME);
        assert!(after[open + 1..entry].iter().all(|l| l.is_empty()));
        assert_eq!(before[..open], after[..open]);
        assert_eq!(before[entry..], after[entry..]);
        // already shared: nothing more to do
        assert_eq!(with_shared_store(&shared), None);
    }

    #[test]
    fn another_module_text_or_layout_is_left_as_evcxr_wrote_it() {
        let runtime = evcxr_runtime();
        let changed = runtime.replacen("HashMap::new()", "HashMap::with_capacity(8)", 1);
        assert_ne!(changed, runtime);
        assert_eq!(with_shared_store(&cell(&changed)), None);
        // a cell without a variable has no module
        assert_eq!(
            with_shared_store("#[unsafe(no_mangle)]\npub extern \"C\" fn run_user_code_1() {}\n"),
            None
        );
        // the module not followed by the entry point
        let unclosed = cell(&runtime).replace(AFTER_RUNTIME, "#[no_mangle]");
        assert_eq!(with_shared_store(&unclosed), None);
    }

    #[test]
    fn only_a_cell_built_against_autograd_core_is_rewritten() {
        let dir = std::env::temp_dir().join(format!("autograd-cell-store-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        let source = cell(&evcxr_runtime());
        let os = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
        std::fs::write(dir.join("src/lib.rs"), &source).unwrap();
        use_shared_store(
            &os(&["rustc", "--crate-name", "ctx", "src/lib.rs", "--extern", "other=/t/libother.so"]),
            &dir,
        );
        assert_eq!(std::fs::read_to_string(dir.join("src/lib.rs")).unwrap(), source);
        let linking = os(&[
            "rustc",
            "--crate-name",
            "ctx",
            "src/lib.rs",
            "--extern",
            "autograd_core=/t/libautograd_core.so",
        ]);
        use_shared_store(&linking, &dir);
        assert_eq!(
            std::fs::read_to_string(dir.join("src/lib.rs")).unwrap(),
            with_shared_store(&source).unwrap()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
