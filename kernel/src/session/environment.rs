//! The process environment that evcxr, its in-process rust-analyzer and the processes they
//! start (cargo, rustc, the runtime) read. It is set once, by [`prepare`] at the very start of
//! `main`, before the tokio runtime or any other thread exists, and never changed afterwards:
//! `set_var` while other threads may read the environment is undefined behaviour.
//!
//! - `PATH`, `LD_LIBRARY_PATH`: the toolchain, called directly (see `toolchain`);
//! - `PATH` again, `RUSTUP_TOOLCHAIN` and `AUTOGRAD_KERNEL_*`: the `cargo` evcxr builds cells
//!   with is the kernel's own (see `cell_build`);
//! - `EVCXR_CONFIG_DIR`: our own evcxr config (see `slots`);
//! - `EVCXR_TMPDIR`: this kernel's build slot (see `slots`);
//! - `RUST_SRC_PATH`: a symbolic link of this kernel's. The analyser reads std's sources
//!   through it: an empty `core` while evcxr creates its context, then the real ones (see
//!   `toolchain`). The session thread re-points the link ([`AnalysisLink::point_at`]), an
//!   atomic rename, instead of changing the variable.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::slots;
use crate::toolchain::{self, Toolchain};

/// What [`prepare`] set up; a [`Session`](super::Session) needs it to start.
pub struct Environment {
    /// This kernel's build slot, `EVCXR_TMPDIR`.
    pub work_dir: PathBuf,
    /// What `RUST_SRC_PATH` names; `None`: the variable was left alone (no `rust-src`).
    pub analysis: Option<AnalysisLink>,
}

/// The link `RUST_SRC_PATH` names, and what it points at in turn.
pub struct AnalysisLink {
    pub link: PathBuf,
    /// An empty `core`, for evcxr's own first evaluation.
    pub first_load: PathBuf,
    /// The user's own `RUST_SRC_PATH`, kept for the analyser's real load.
    users: Option<PathBuf>,
}

impl AnalysisLink {
    /// The sources of every load after the first (the preload, a cell's `:dep`): the user's
    /// `RUST_SRC_PATH`, else the analyser's copy of std made once under the cache (made by the
    /// first call, on the session thread), else the toolchain's own `rust-src`.
    pub fn later(&self, toolchain: Option<&Toolchain>) -> Option<PathBuf> {
        static LATER: OnceLock<Option<PathBuf>> = OnceLock::new();
        LATER
            .get_or_init(|| {
                if let Some(users) = &self.users {
                    return Some(users.clone());
                }
                let toolchain = toolchain?;
                // a system install's copy (made by the admin's prebuild), else one of our own
                crate::system::cache()
                    .filter(|shared| *shared != slots::cache_base())
                    .and_then(|shared| toolchain::ready_analysis_sources(toolchain, &shared))
                    .or_else(|| toolchain::analysis_sources(toolchain, &slots::cache_base()))
                    .or_else(|| Some(toolchain.library()))
            })
            .clone()
    }

    /// Points the link at the sources of every later load ([`later`](Self::later)); false
    /// (and why, on stderr) when it could not.
    pub fn point_at_std(&self) -> bool {
        let Some(later) = self.later(Toolchain::get()) else { return false };
        match self.point_at(&later) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("autograd-kernel: pointing the analyser at std's sources failed: {e}");
                false
            }
        }
    }

    /// Points the link at `target`, atomically: a new link renamed over the old one.
    pub fn point_at(&self, target: &Path) -> std::io::Result<()> {
        let mut fresh = self.link.clone().into_os_string();
        fresh.push(format!(".new-{}", std::process::id()));
        let fresh = PathBuf::from(fresh);
        let _ = std::fs::remove_file(&fresh);
        std::os::unix::fs::symlink(target, &fresh)?;
        std::fs::rename(&fresh, &self.link)
    }
}

static PREPARED: OnceLock<Environment> = OnceLock::new();

/// Sets the environment variables evcxr and its children need; returns what it set up.
///
/// Call it from `main` before any thread is started (the tokio runtime, a session): it is the
/// only place the kernel changes its environment.
pub fn prepare() -> &'static Environment {
    PREPARED.get_or_init(|| {
        let toolchain = Toolchain::get();
        if let Some(toolchain) = toolchain {
            toolchain.pin();
            crate::cell_build::install(&toolchain.sysroot, &slots::cache_base());
        }
        std::env::set_var("EVCXR_CONFIG_DIR", slots::evcxr_config_dir());
        let work_dir = slots::claim();
        std::env::set_var("EVCXR_TMPDIR", &work_dir);
        let analysis = analysis_link(toolchain, &work_dir);
        if let Some(analysis) = &analysis {
            std::env::set_var("RUST_SRC_PATH", &analysis.link);
        }
        Environment { work_dir, analysis }
    })
}

/// The analyser's link for the kernel building in `work_dir`, pointing at the empty `core`:
/// outside the slot (the analyser reads everything under the cell's crate, and follows
/// links). None when there are no sources to give it: no `rust-src` and no `RUST_SRC_PATH`.
fn analysis_link(toolchain: Option<&Toolchain>, work_dir: &Path) -> Option<AnalysisLink> {
    let cache = slots::cache_base();
    let users = std::env::var_os("RUST_SRC_PATH").map(PathBuf::from);
    if users.is_none() && !toolchain.is_some_and(Toolchain::has_sources) {
        return None;
    }
    let first_load = toolchain::first_load_sources(&cache)?;
    let name = work_dir.file_name()?.to_string_lossy();
    let link = cache.join("analysis-sysroot").join(format!("for-{name}"));
    let analysis = AnalysisLink { link, first_load, users };
    analysis.point_at(&analysis.first_load).ok()?;
    Some(analysis)
}
