//! The Rust toolchain behind the kernel: where its compiler and standard library are, and
//! the copy of std's sources that evcxr's rust-analyzer reads.
//!
//! Start-up time goes mostly to rust-analyzer (evcxr asks it for the type of every variable a
//! cell defines) and to the toolchain's `rustup` proxies. Measured on a 2-core VM with
//! `AUTOGRAD_KERNEL_TIMING=1 autograd-kernel prebuild` (engine preloaded, before → after):
//! - every `cargo`/`rustc` that evcxr and rust-analyzer start went through a `rustup` proxy
//!   (about twenty at start-up); calling the toolchain's binaries directly saved 1.2 s;
//! - the analyser loaded std twice: once for evcxr's first evaluation, again when the preload
//!   added autograd-core; giving the first load an empty `core` saved 0.5 s;
//! - it analysed std's crates.io dependencies (gimli, object, addr2line, ...) and core's SIMD
//!   intrinsics (`core::arch`: 16 MB of generated code behind hundreds of glob re-exports;
//!   `core::simd`): reading std the way rust-analyzer does without a `Cargo.toml` in
//!   `library/`, and with those two modules empty, saved 1.6 s more.
//!
//! - what it keeps of std lasts the whole session: reading an outline of each file (no docs,
//!   no bodies of non-const functions, see `outline`) cut the kernel's heap after start-up
//!   from 304 to 245 MiB, the preload from 2.28-2.37 to 2.03-2.10 s and the idle warm-up
//!   from 2.3 to 1.8 s.
//!
//! Cells still compile against the real standard library; only the analyser's view changes.
//! It loses what no tutorial cell needs: `std::arch` intrinsics and the unstable `std::simd`
//! (a variable of such a type then needs its type written out, evcxr says so).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The toolchain `rustc` resolves to where the kernel starts (rustup's choice for that
/// directory), found once.
pub struct Toolchain {
    pub sysroot: PathBuf,
    /// Where `libstd-*.so` lives, which cells link dynamically.
    pub target_libdir: PathBuf,
}

impl Toolchain {
    pub fn get() -> Option<&'static Toolchain> {
        static FOUND: OnceLock<Option<Toolchain>> = OnceLock::new();
        FOUND.get_or_init(Toolchain::find).as_ref()
    }

    fn find() -> Option<Toolchain> {
        // a system install's own toolchain, else the one `rustc` on PATH resolves to
        let rustc = crate::system::rustc().unwrap_or_else(|| PathBuf::from("rustc"));
        let out = std::process::Command::new(rustc)
            .args(["--print", "sysroot", "--print", "target-libdir"])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let sysroot = PathBuf::from(lines.next()?);
        let target_libdir = PathBuf::from(lines.next()?);
        Some(Toolchain { sysroot, target_libdir })
    }

    /// Makes this process and everything it starts use this toolchain directly: its `bin`
    /// first on `PATH` (no rustup proxy in between, and one toolchain for the whole session
    /// even if a notebook folder names another), and std on the loader path for the runtime
    /// process (the rpath rustc writes is relative, and breaks for build dirs deep under $HOME).
    ///
    /// This sets `PATH` and `LD_LIBRARY_PATH` of this process: only from
    /// `session::environment::prepare`, at the start of `main`, before any thread exists.
    pub fn pin(&self) {
        let bin = self.sysroot.join("bin");
        // a toolchain already on PATH (a system install: /usr/bin) has no proxies to skip,
        // and moving it to the front would reorder the user's PATH for cells' commands
        let on_path =
            std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|p| p == bin));
        if !on_path {
            prepend_to_path_var("PATH", &bin);
        }
        prepend_to_path_var("LD_LIBRARY_PATH", &self.target_libdir);
    }

    /// std's sources as shipped by the `rust-src` component.
    pub fn library(&self) -> PathBuf {
        self.sysroot.join("lib/rustlib/src/rust/library")
    }

    /// Whether the toolchain has the `rust-src` component.
    pub fn has_sources(&self) -> bool {
        self.library().join("core/src/lib.rs").is_file()
    }
}

pub(crate) fn prepend_to_path_var(name: &str, dir: &Path) {
    let current = std::env::var_os(name).unwrap_or_default();
    let mut parts: Vec<PathBuf> =
        std::env::split_paths(&current).filter(|p| !p.as_os_str().is_empty()).collect();
    if parts.first().map(PathBuf::as_path) == Some(dir) {
        return;
    }
    parts.retain(|p| p != dir);
    parts.insert(0, dir.to_path_buf());
    if let Ok(joined) = std::env::join_paths(parts) {
        std::env::set_var(name, joined);
    }
}

/// What rust-analyzer reads as std's sources for the first load (evcxr's own first
/// evaluation, before autograd-core is a dependency): an empty `core`, so it analyses nothing.
pub fn first_load_sources(cache: &Path) -> Option<PathBuf> {
    let library = cache.join("analysis-sysroot/empty/library");
    let lib_rs = library.join("core/src/lib.rs");
    if !lib_rs.exists() {
        std::fs::create_dir_all(lib_rs.parent()?).ok()?;
        std::fs::write(&lib_rs, "").ok()?;
    }
    Some(library)
}

/// The analyser's copy of std's sources for `toolchain`, made once under `cache`: the outline
/// of every `.rs` file (see `outline`), hard links to the other files (a copy where links are
/// impossible), without `Cargo.toml` and `Cargo.lock` at the top (rust-analyzer then reads
/// the standard crates alone, not their crates.io dependencies), without the crates' test
/// suites, and with the x86 intrinsics files of `core::arch` empty. None when the toolchain
/// has no `rust-src`.
pub fn analysis_sources(toolchain: &Toolchain, cache: &Path) -> Option<PathBuf> {
    let source = toolchain.library();
    if !source.join("core/src/lib.rs").is_file() {
        return None;
    }
    let (root, stamp) = copy_of(&source, cache);
    let library = root.join("library");
    let ready = || is_ready(&root, &stamp);
    if ready() {
        return Some(library);
    }
    let partial = cache.join("analysis-sysroot").join(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    let made = mirror(&source, &partial.join("library"), &source)
        .and_then(|()| std::fs::write(partial.join("stamp"), &stamp));
    // another kernel may have made the same copy meanwhile: then the rename fails, and theirs is used
    if made.is_err() || std::fs::rename(&partial, &root).is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    ready().then_some(library)
}

/// The copy [`analysis_sources`] made under `cache` for this toolchain, if there is one;
/// never makes one (`cache` may be another user's, read-only).
pub fn ready_analysis_sources(toolchain: &Toolchain, cache: &Path) -> Option<PathBuf> {
    let (root, stamp) = copy_of(&toolchain.library(), cache);
    is_ready(&root, &stamp).then(|| root.join("library"))
}

/// Where the copy of `library` lives under `cache`, and the stamp that says it is complete:
/// named after what it is made from, so a copy is never changed once made, and a kernel
/// reading one is never disturbed by another kernel making a newer one.
fn copy_of(library: &Path, cache: &Path) -> (PathBuf, String) {
    let stamp = stamp_of(library);
    let root = cache.join("analysis-sysroot").join(format!("{:016x}", stable_hash(stamp.as_bytes())));
    (root, stamp)
}

fn is_ready(root: &Path, stamp: &str) -> bool {
    std::fs::read_to_string(root.join("stamp")).ok().as_deref() == Some(stamp)
}

/// Changes whenever `treatment` does, so older copies are made again.
const COPY_FORMAT: u32 = 4;

/// Which toolchain sources a copy was made from, and how: the format, their path, and the
/// size and time of files that change with every release.
fn stamp_of(library: &Path) -> String {
    let mut stamp = format!("format {COPY_FORMAT}\n{}\n", library.display());
    for file in ["core/src/lib.rs", "std/src/lib.rs", "alloc/src/lib.rs"] {
        if let Ok(meta) = std::fs::metadata(library.join(file)) {
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs());
            stamp.push_str(&format!("{file} {} {modified:?}\n", meta.len()));
        }
    }
    stamp
}

/// FNV-1a: the same value for the same bytes in every kernel process and build (directory
/// names here, a known source text in `cell_store`).
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    hash
}

/// What the copy does with each file, by path relative to `library/`.
enum Treatment {
    Keep,
    Skip,
    /// The module roots of `core::arch` and `core::simd`, replaced by an empty module:
    /// thousands of SIMD intrinsics behind hundreds of glob re-exports, which rust-analyzer
    /// resolves before anything else in `core` can be used (0.25 s of every start here).
    Replace(&'static str),
}

const CORE_ARCH: &str = "stdarch/crates/core_arch/src/";
const CORE_SIMD: &str = "portable-simd/crates/core_simd/src/";

fn treatment(relative: &Path) -> Treatment {
    let text = relative.to_string_lossy();
    if text == "Cargo.toml" || text == "Cargo.lock" || text.ends_with("tests") && !text.contains('/') {
        // `library/Cargo.toml` makes rust-analyzer load std as a cargo workspace with its
        // crates.io dependencies; `coretests`, `alloctests`: test suites
        return Treatment::Skip;
    }
    for (root, replacement) in [(CORE_ARCH, "pub mod arch {}\n"), (CORE_SIMD, "pub mod simd {}\n")] {
        if let Some(rest) = text.strip_prefix(root) {
            return if rest == "mod.rs" { Treatment::Replace(replacement) } else { Treatment::Skip };
        }
    }
    Treatment::Keep
}

fn mirror(from: &Path, to: &Path, top: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        let relative = path.strip_prefix(top).unwrap_or(&path);
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        match treatment(relative) {
            Treatment::Skip => continue,
            Treatment::Replace(text) => std::fs::write(&target, text)?,
            Treatment::Keep if kind.is_dir() => mirror(&path, &target, top)?,
            Treatment::Keep if kind.is_file() && path.extension().is_some_and(|e| e == "rs") => {
                match std::fs::read_to_string(&path) {
                    Ok(text) => std::fs::write(&target, crate::outline::outline(&text))?,
                    Err(_) => link_or_copy(&path, &target)?,
                }
            }
            Treatment::Keep if kind.is_file() => link_or_copy(&path, &target)?,
            Treatment::Keep => {} // links and other special files: not sources
        }
    }
    Ok(())
}

fn link_or_copy(path: &Path, target: &Path) -> std::io::Result<()> {
    if std::fs::hard_link(path, target).is_err() {
        std::fs::copy(path, target)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_analysers_copy_of_std_leaves_out_the_workspace_tests_and_simd_modules() {
        let scratch = std::env::temp_dir().join(format!("autograd-toolchain-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        let sysroot = scratch.join("sysroot");
        let library = sysroot.join("lib/rustlib/src/rust/library");
        write(&library.join("Cargo.toml"), "[workspace]");
        write(&library.join("Cargo.lock"), "");
        write(&library.join("core/src/lib.rs"), "pub mod num;");
        write(&library.join("std/src/lib.rs"), "pub use core::*;");
        write(&library.join("coretests/tests/lib.rs"), "#[test] fn t() {}");
        write(
            &library.join("stdarch/crates/core_arch/src/mod.rs"),
            "pub mod arch { pub use crate::core_arch::x86; }",
        );
        write(&library.join("stdarch/crates/core_arch/src/x86/sse.rs"), "pub fn _mm_add_ps() {}");
        write(&library.join("stdarch/crates/std_detect/src/lib.rs"), "pub mod detect;");
        write(
            &library.join("portable-simd/crates/core_simd/src/mod.rs"),
            "pub mod simd { pub use crate::core_simd::vector::*; }",
        );
        write(&library.join("portable-simd/crates/core_simd/src/vector.rs"), "pub struct Simd;");
        let toolchain = Toolchain { sysroot: sysroot.clone(), target_libdir: sysroot.join("lib") };
        let cache = scratch.join("cache");

        let copy = analysis_sources(&toolchain, &cache).expect("a copy");
        let read = |p: &str| std::fs::read_to_string(copy.join(p)).ok();
        assert_eq!(read("core/src/lib.rs").as_deref(), Some("pub mod num;"));
        assert_eq!(read("std/src/lib.rs").as_deref(), Some("pub use core::*;"));
        assert_eq!(read("Cargo.toml"), None);
        assert_eq!(read("Cargo.lock"), None);
        assert!(!copy.join("coretests").exists());
        assert_eq!(read("stdarch/crates/core_arch/src/mod.rs").as_deref(), Some("pub mod arch {}\n"));
        assert_eq!(read("stdarch/crates/core_arch/src/x86/sse.rs"), None);
        assert_eq!(read("stdarch/crates/std_detect/src/lib.rs").as_deref(), Some("pub mod detect;"));
        assert_eq!(read("portable-simd/crates/core_simd/src/mod.rs").as_deref(), Some("pub mod simd {}\n"));
        assert_eq!(read("portable-simd/crates/core_simd/src/vector.rs"), None);
        // replacing the copy's file left the toolchain's own file alone
        assert_eq!(
            std::fs::read_to_string(library.join("stdarch/crates/core_arch/src/mod.rs")).unwrap(),
            "pub mod arch { pub use crate::core_arch::x86; }"
        );

        // made once; made again when the toolchain's sources change
        assert_eq!(analysis_sources(&toolchain, &cache), Some(copy.clone()));
        // a toolchain update replaces files (new inodes) rather than writing into them
        std::fs::remove_file(library.join("core/src/lib.rs")).unwrap();
        write(&library.join("core/src/lib.rs"), "pub mod num; pub mod new_in_this_release;");
        let again = analysis_sources(&toolchain, &cache).expect("a new copy");
        assert_eq!(
            std::fs::read_to_string(again.join("core/src/lib.rs")).unwrap(),
            "pub mod num; pub mod new_in_this_release;"
        );
        assert_ne!(again, copy, "a new copy beside the old one, which a running kernel may still read");
        assert_eq!(std::fs::read_to_string(copy.join("core/src/lib.rs")).unwrap(), "pub mod num;");
        let names: Vec<String> = std::fs::read_dir(cache.join("analysis-sysroot"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with("partial-")), "no partial copies left: {names:?}");

        // no rust-src component: no copy
        std::fs::remove_dir_all(library.join("core")).unwrap();
        assert_eq!(analysis_sources(&toolchain, &cache), None);
        let _ = std::fs::remove_dir_all(&scratch);
    }

    #[test]
    fn the_first_load_sees_an_empty_core() {
        let cache = std::env::temp_dir().join(format!("autograd-toolchain-empty-{}", std::process::id()));
        let library = first_load_sources(&cache).unwrap();
        assert_eq!(std::fs::read_to_string(library.join("core/src/lib.rs")).unwrap(), "");
        let _ = std::fs::remove_dir_all(&cache);
    }
}
