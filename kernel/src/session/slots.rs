//! The kernel's build cache: where evcxr builds cells, under the user's cache so dependencies
//! built once (by install.sh) are reused by every later kernel. Several kernels at once each
//! take their own numbered slot, held with a file lock for the life of the kernel; a slot used
//! for the first time starts from a copy of another one.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::system;

/// How many kernels at once get a slot of their own under the cache; more build in a
/// temporary directory.
const SLOTS: usize = 8;

/// The kernel's cache: `$AUTOGRAD_KERNEL_CACHE`, else `~/.cache/autograd-kernel`.
pub fn cache_base() -> PathBuf {
    std::env::var_os("AUTOGRAD_KERNEL_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/autograd-kernel")
    })
}

/// The root of evcxr's directories under the cache.
fn evcxr_root() -> PathBuf {
    cache_base().join("evcxr")
}

/// Writes our own evcxr config (not the user's ~/.config/evcxr) and returns its directory,
/// for `EVCXR_CONFIG_DIR`: cells at opt-level 0 from the very first evaluation, so no step of
/// the start-up builds with another profile.
pub fn evcxr_config_dir() -> PathBuf {
    let root = evcxr_root();
    let _ = std::fs::create_dir_all(root.join(".cargo"));
    let config = root.join("config");
    let _ = std::fs::create_dir_all(&config);
    let _ = std::fs::write(config.join("evcxr.toml"), "[evcxr]\nopt_level = \"0\"\n");
    // Dependencies (autograd-core, ndarray, ...) build optimised; cell code builds at
    // opt-level 0 so it compiles fast. Cargo merges this with evcxr's own config below it.
    // Not incrementally: autograd-core is a path dependency, which cargo builds incrementally
    // in the dev profile, splitting it into many more codegen units (less inlining) for a
    // crate that is built once. And in the release profile's 16 codegen units, not the dev
    // profile's 256, so the engine in a cell is the release build's code.
    // The cell crate itself (evcxr names it `ctx`) in one codegen unit, not evcxr's 16: a
    // tutorial cell is a few hundred small functions, and 16 units cost more to make than
    // they save. rustc on the 24 cells of bench/kernel_latency.py replayed in turns, CPU per
    // cell: 16 units 0.154-0.170 s, 4 units 0.150-0.168 s, 1 unit 0.133-0.142 s.
    let profile = "[profile.dev.package.\"*\"]\nopt-level = 3\ncodegen-units = 16\ndebug-assertions = false\noverflow-checks = false\nincremental = false\n\n[profile.dev.package.ctx]\ncodegen-units = 1\n";
    // a system install's dependencies come from its vendored sources, as in the admin's prebuild
    let _ =
        std::fs::write(root.join(".cargo/config.toml"), profile.to_string() + &system::cargo_source_config());
    config
}

/// The lock of the slot this kernel holds, kept open for the life of the process.
static HELD: OnceLock<File> = OnceLock::new();

/// Takes the first free slot (a file lock held until the kernel exits) and returns its
/// directory, where evcxr builds cells (`EVCXR_TMPDIR`); a temporary directory when all are
/// taken. A runtime restarted after a crash builds in the same slot.
pub fn claim() -> PathBuf {
    let root = evcxr_root();
    for slot in 0..SLOTS {
        let dir = root.join(format!("slot-{slot}"));
        let _ = std::fs::create_dir_all(&dir);
        let Ok(file) =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(".lock"))
        else {
            continue;
        };
        if file.try_lock().is_ok() && HELD.set(file).is_ok() {
            return dir;
        }
    }
    std::env::temp_dir().join(format!("autograd-kernel-{}", std::process::id()))
}

/// A slot used for the first time (a second kernel open at the same time) starts from a copy
/// of another slot's build directory, so it does not compile every dependency again: about
/// 6 s instead of a minute. `cp -a` keeps the modification times cargo's freshness checks use.
/// Called on the session thread, so the kernel answers `kernel_info` meanwhile.
pub fn seed(dir: &Path) {
    let root = evcxr_root();
    let target = dir.join("target");
    if !dir.starts_with(&root) {
        return;
    }
    if let Some(source) = system_slot() {
        seed_from_system(dir, &source);
        return;
    }
    if target.exists() {
        return;
    }
    let Some(source) = built_slot(&root) else {
        return;
    };
    let partial = dir.join("target.partial");
    let _ = std::fs::remove_dir_all(&partial);
    let copied = std::process::Command::new("cp").arg("-a").arg(&source).arg(&partial).status();
    if copied.is_ok_and(|s| s.success()) && std::fs::rename(&partial, &target).is_ok() {
        eprintln!("autograd-kernel: new build slot {} seeded from {}", dir.display(), source.display());
    } else {
        let _ = std::fs::remove_dir_all(&partial);
    }
}

/// In a system install, the admin's prebuilt slot every user's slots start from; None for
/// the admin's own prebuild (which builds it) and without a system install.
fn system_slot() -> Option<PathBuf> {
    let source = built_slot(&system::cache()?.join("evcxr"))?;
    (!source.starts_with(evcxr_root())).then_some(source)
}

/// The build directory of the first slot under `evcxr` that has one.
fn built_slot(evcxr: &Path) -> Option<PathBuf> {
    (0..SLOTS).map(|k| evcxr.join(format!("slot-{k}/target"))).find(|t| t.is_dir())
}

/// A user's slot in a system install: from the admin's prebuilt slot, the big dependency
/// files linked to and the rest copied (see [`system::link_copy`]): seconds, and a few MiB
/// of the user's disk. Made again when the admin has re-installed since (a new engine), so a
/// user never rebuilds the engine in their own slot.
fn seed_from_system(dir: &Path, source: &Path) {
    let target = dir.join("target");
    let stamp_file = dir.join("system-seed");
    let stamp = system::seed_stamp(source);
    if target.exists() {
        if std::fs::read_to_string(&stamp_file).ok() == Some(stamp.clone()) {
            return;
        }
        eprintln!("autograd-kernel: the system install changed; build slot {} made again", dir.display());
        let _ = std::fs::remove_dir_all(&target);
    }
    let partial = dir.join("target.partial");
    let _ = std::fs::remove_dir_all(&partial);
    match system::link_copy(source, &partial)
        .and_then(|sizes| std::fs::rename(&partial, &target).map(|()| sizes))
    {
        Ok((linked, copied)) => {
            let _ = std::fs::write(&stamp_file, &stamp);
            eprintln!(
                "autograd-kernel: build slot {} made from the system install's {} ({} MiB linked, {} MiB copied)",
                dir.display(),
                source.display(),
                linked >> 20,
                copied >> 20
            )
        }
        Err(e) => {
            eprintln!("autograd-kernel: making {} from {} failed: {e}", dir.display(), source.display());
            let _ = std::fs::remove_dir_all(&partial);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_slot_lock_is_exclusive_while_its_file_is_open() {
        let dir = std::env::temp_dir().join(format!("autograd-kernel-slot-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join(".lock"))
                .unwrap()
        };
        let first = open();
        assert!(first.try_lock().is_ok());
        // another open file description (another kernel) cannot take it
        assert!(open().try_lock().is_err());
        drop(first);
        assert!(open().try_lock().is_ok(), "released when the holder closes it");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
