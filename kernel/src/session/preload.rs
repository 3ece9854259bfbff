//! Loading autograd-core into a context: the `:dep` and prelude every cell gets, offline
//! first, online only when something is missing.

use std::path::PathBuf;

use evcxr::{CommandContext, Error as EvcxrError};

use super::context::{since_start, timing};

/// The path of autograd-core's sources, recorded when the kernel was built.
pub fn autograd_core_path() -> PathBuf {
    std::env::var_os("AUTOGRAD_CORE_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../autograd-core"))
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../autograd-core"))
}

/// What makes autograd-core and its prelude part of every cell, and panics reported in order
/// with the output: one evaluation, so the dependency and the import build together. Three
/// lines, which a first cell built together with it comes after.
pub(super) fn preload_code() -> String {
    format!(
        ":dep autograd-core = {{ path = \"{}\" }}\nuse autograd_core::prelude::*;\nautograd_core::render::panic_report::report_panics_to_the_kernel();",
        autograd_core_path().display()
    )
}
pub(super) const PRELOAD_LINES: usize = 3;

/// Runs `code` offline. install.sh fetched everything autograd-core needs when it prebuilt
/// it, and without this cargo asks the registry again at every kernel start (measured: a DNS
/// lookup and an HTTPS connection), which is slow in a classroom and fails without internet.
/// Later `:dep` lines in cells may use the network.
pub(super) fn execute_offline(
    ctx: &mut CommandContext,
    code: &str,
) -> Result<evcxr::EvalOutputs, EvcxrError> {
    ctx.execute(":offline 1")?;
    let result = ctx.execute(code);
    ctx.execute(":offline 0")?;
    result
}

/// Loads autograd-core: offline, and online only when something is missing. Ok(true) when
/// it needed the network.
pub(super) fn preload(ctx: &mut CommandContext) -> Result<bool, EvcxrError> {
    let needed_network = execute_offline(ctx, &preload_code()).is_err();
    if needed_network {
        ctx.execute(&preload_code())?;
    }
    if timing() {
        eprintln!("[timing] autograd-core preloaded: {:.2} s", since_start());
    }
    Ok(needed_network)
}
