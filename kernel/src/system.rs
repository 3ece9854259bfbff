//! A system-wide install (`./install.sh --system`), shared by every user of a machine: a class
//! on one JupyterHub server. The admin's install puts, under one read-only directory named by
//! the kernelspec's `AUTOGRAD_KERNEL_SYSTEM`:
//!
//! - `toolchain/`: the compiler cells are built with, reachable by every user (rustup keeps
//!   its toolchains in the admin's home, which students cannot read);
//! - `vendor/`: the sources of autograd-core's dependencies, so no kernel needs a registry;
//! - `cache/`: the admin's prebuilt engine (a build slot) and the analyser's copy of std.
//!
//! A student's kernel builds in a slot under their own home, started from the shared slot:
//! the big compiled dependencies as symbolic links to the admin's files (read-only; a rebuild
//! would replace the student's own link, never the shared file), everything cargo or rustc
//! may write again copied. Not hard links: Linux lets a user hard-link only files they own or
//! may write (`fs.protected_hardlinks`), so a student's hard link to the admin's file fails.
//! Nothing a student writes is ever read by another student's kernel.

use std::path::{Path, PathBuf};

/// The system install's directory, when this kernel belongs to one.
pub fn root() -> Option<PathBuf> {
    std::env::var_os("AUTOGRAD_KERNEL_SYSTEM").filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// The shared, read-only kernel cache.
pub fn cache() -> Option<PathBuf> {
    root().map(|r| r.join("cache")).filter(|c| c.is_dir())
}

/// The `rustc` of the system install's own toolchain, when it has one (a toolchain already
/// readable by everyone, such as Debian's in /usr, is used where it is).
pub fn rustc() -> Option<PathBuf> {
    root().map(|r| r.join("toolchain/bin/rustc")).filter(|p| p.is_file())
}

/// What cargo needs to find autograd-core's dependencies in the install's `vendor/`, offline
/// (appended to the kernel's cargo config); empty without a system install.
pub fn cargo_source_config() -> String {
    source_config_for(root().as_deref())
}

fn source_config_for(root: Option<&Path>) -> String {
    let Some(vendor) = root.map(|r| r.join("vendor")).filter(|v| v.is_dir()) else {
        return String::new();
    };
    format!(
        "\n[source.crates-io]\nreplace-with = \"autograd-kernel-vendor\"\n\n[source.autograd-kernel-vendor]\ndirectory = {:?}\n",
        vendor.display().to_string()
    )
}

/// What identifies the state of the shared slot `source`: the last time its compiled files
/// changed (the admin's re-install rebuilds and re-runs a cell there). Cells and the engine
/// build for the target triple (`<triple>/debug/deps`), build scripts for the host
/// (`debug/deps`): the latest of them all.
pub fn seed_stamp(source: &Path) -> String {
    let mut deps_dirs = vec![source.join("debug/deps")];
    if let Ok(entries) = std::fs::read_dir(source) {
        deps_dirs.extend(entries.flatten().map(|e| e.path().join("debug/deps")));
    }
    let latest = deps_dirs
        .iter()
        .filter_map(|d| std::fs::metadata(d).and_then(|m| m.modified()).ok())
        .max()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    format!("{} {:?}\n", source.display(), latest.map(|d| d.as_nanos()))
}

/// Whether a file of the shared slot is linked from a student's slot rather than copied:
/// the big, never rewritten outputs of the dependencies (rlibs, rmeta, shared objects, build
/// scripts). Small files (fingerprints, dep-info, lock files) are copied: cargo and rustc
/// rewrite those in place. The cell crate evcxr builds again at every cell (`ctx`, whose
/// objects it copies to `code_N`) is always copied.
fn link_rather_than_copy(relative: &Path, len: u64) -> bool {
    const BIG: u64 = 64 << 10;
    let cells_crate = relative.components().any(|c| {
        let name = c.as_os_str().to_string_lossy();
        name.starts_with("ctx") || name.starts_with("libctx") || name.starts_with("code_")
    });
    len >= BIG && !cells_crate
}

/// Makes `to` (not existing yet) a copy of the build directory `from` for this user: see
/// [`link_rather_than_copy`]; `from` must be absolute. Copies keep their modification times, which cargo's freshness
/// checks compare. Returns the bytes linked and the bytes copied.
pub fn link_copy(from: &Path, to: &Path) -> std::io::Result<(u64, u64)> {
    let mut totals = (0, 0);
    walk(from, to, from, &mut totals)?;
    Ok(totals)
}

fn walk(from: &Path, to: &Path, top: &Path, totals: &mut (u64, u64)) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, &target, top, totals)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&path)?, &target)?;
        } else if kind.is_file() {
            let meta = entry.metadata()?;
            let relative = path.strip_prefix(top).unwrap_or(&path);
            if link_rather_than_copy(relative, meta.len()) {
                // cargo and rustc read through the link, and see the shared file's time
                std::os::unix::fs::symlink(&path, &target)?;
                totals.0 += meta.len();
                continue;
            }
            std::fs::copy(&path, &target)?;
            let times =
                std::fs::FileTimes::new().set_modified(meta.modified()?).set_accessed(meta.accessed()?);
            std::fs::File::options().write(true).open(&target)?.set_times(times)?;
            totals.1 += meta.len();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_students_slot_links_the_dependencies_and_copies_what_cargo_rewrites() {
        let scratch = std::env::temp_dir().join(format!("autograd-system-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        let shared = scratch.join("shared/target");
        let write = |relative: &str, len: usize| {
            let path = shared.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, vec![7u8; len]).unwrap();
        };
        write("debug/deps/libndarray-0123.rlib", 300_000);
        write("debug/deps/libndarray-0123.rmeta", 100_000);
        write("debug/deps/ndarray-0123.d", 2_000);
        write("debug/.fingerprint/ndarray-0123/lib-ndarray", 16);
        write("debug/deps/libctx.so", 500_000);
        write("debug/deps/code_3.so", 500_000);
        write("debug/.fingerprint/ctx-99/lib-ctx", 16);
        write("debug/.cargo-lock", 0);
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let dep_info = shared.join("debug/deps/ndarray-0123.d");
        std::fs::File::options().write(true).open(&dep_info).unwrap().set_modified(old).unwrap();

        let mine = scratch.join("student/target");
        let (linked, copied) = link_copy(&shared, &mine).unwrap();
        assert_eq!(linked, 400_000);
        assert_eq!(copied, 2_000 + 16 + 500_000 + 500_000 + 16);
        let same_file = |relative: &str| {
            let a = std::fs::metadata(shared.join(relative)).unwrap();
            let b = std::fs::metadata(mine.join(relative)).unwrap();
            assert_eq!(a.len(), b.len(), "{relative}");
            assert_eq!(a.modified().unwrap(), b.modified().unwrap(), "{relative}: cargo compares the times");
            let linked = std::fs::symlink_metadata(mine.join(relative)).unwrap().file_type().is_symlink();
            assert_eq!(linked, a.ino() == b.ino(), "{relative}");
            linked
        };
        assert!(same_file("debug/deps/libndarray-0123.rlib"));
        assert!(same_file("debug/deps/libndarray-0123.rmeta"));
        assert!(!same_file("debug/deps/ndarray-0123.d"));
        assert!(!same_file("debug/.fingerprint/ndarray-0123/lib-ndarray"));
        assert!(!same_file("debug/deps/libctx.so"));
        assert!(!same_file("debug/deps/code_3.so"));
        assert!(!same_file("debug/.cargo-lock"));
        // a copy keeps the time cargo compares
        assert_eq!(
            std::fs::metadata(mine.join("debug/deps/ndarray-0123.d")).unwrap().modified().unwrap(),
            old
        );
        let _ = std::fs::remove_dir_all(&scratch);
    }

    #[test]
    fn a_rebuilt_engine_for_the_target_triple_changes_the_stamp() {
        let scratch = std::env::temp_dir().join(format!("autograd-system-stamp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        let target = scratch.join("target");
        std::fs::create_dir_all(target.join("debug/deps")).unwrap();
        let triple_deps = target.join("x86_64-unknown-linux-gnu/debug/deps");
        std::fs::create_dir_all(&triple_deps).unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        for dir in [target.join("debug/deps"), triple_deps.clone()] {
            std::fs::File::open(&dir).unwrap().set_modified(old).unwrap();
        }
        let before = seed_stamp(&target);
        // the admin's re-install writes the engine where cells are built: the triple's deps
        std::fs::write(triple_deps.join("libautograd_core.so"), b"new").unwrap();
        assert_ne!(seed_stamp(&target), before);
        let _ = std::fs::remove_dir_all(&scratch);
    }

    #[test]
    fn the_vendored_sources_replace_the_registry_only_in_a_system_install() {
        let scratch = std::env::temp_dir().join(format!("autograd-system-vendor-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        assert_eq!(source_config_for(None), "");
        assert_eq!(source_config_for(Some(&scratch)), "", "an install without vendor/");
        std::fs::create_dir_all(scratch.join("vendor")).unwrap();
        let config = source_config_for(Some(&scratch));
        assert!(config.contains("[source.crates-io]\nreplace-with = \"autograd-kernel-vendor\""), "{config}");
        let directory = format!("directory = \"{}\"", scratch.join("vendor").display());
        assert!(config.contains(&directory), "{config}");
        let _ = std::fs::remove_dir_all(&scratch);
    }
}
