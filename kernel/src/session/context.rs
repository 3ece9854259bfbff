//! evcxr's evaluation context: started with its runtime process and output readers, and
//! started again with autograd-core preloaded when the runtime died.

use std::sync::OnceLock;

use evcxr::{CommandContext, Error as EvcxrError, EvalContext};

use super::{output, preload::preload, slots, Shared};
use crate::toolchain::Toolchain;

/// A fresh evaluation context with autograd-core preloaded (a restart after the runtime died).
pub(super) fn new_context(shared: &mut Shared) -> Result<CommandContext, EvcxrError> {
    let mut ctx = start_context(shared)?;
    preload(&mut ctx)?;
    Ok(ctx)
}

pub(super) fn timing() -> bool {
    std::env::var_os("AUTOGRAD_KERNEL_TIMING").is_some()
}

/// Seconds since the session thread started, for the timing lines.
pub(super) fn since_start() -> f64 {
    static STARTED: OnceLock<std::time::Instant> = OnceLock::new();
    STARTED.get_or_init(std::time::Instant::now).elapsed().as_secs_f64()
}

/// evcxr's context with its runtime process and output readers; autograd-core not loaded yet.
pub(super) fn start_context(shared: &mut Shared) -> Result<CommandContext, EvcxrError> {
    since_start();
    let environment = shared.environment;
    slots::seed(&environment.work_dir);
    // the analyser reads an empty `core` while evcxr creates its context (std's copy made
    // first, when it is needed); every later load of its workspace (the preload, a cell's
    // `:dep`) reads std
    let analysis = environment.analysis.as_ref().filter(|analysis| {
        analysis.later(Toolchain::get()).is_some() && analysis.point_at(&analysis.first_load).is_ok()
    });
    let created = EvalContext::new();
    if let Some(analysis) = analysis {
        analysis.point_at_std();
    }
    let (eval_context, outputs) = created?;
    if timing() {
        eprintln!("[timing] evcxr context ready: {:.2} s", since_start());
    }
    let mut ctx = CommandContext::with_eval_context(eval_context);
    *shared.pid_slot.lock().unwrap() = Some(ctx.process_handle().lock().unwrap().id());
    output::capture(outputs, shared);
    ctx.set_opt_level("0")?;
    Ok(ctx)
}
