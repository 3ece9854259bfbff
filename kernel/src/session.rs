//! The evcxr side: one thread owns the evaluation context; it preloads autograd-core,
//! executes cells, completes and inspects code. Cell output is streamed through callbacks
//! while the cell runs; panics and compile errors come back as structured errors.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use evcxr::{CommandContext, Error as EvcxrError, EvalContext};

use crate::toolchain::{self, Toolchain};

/// What a cell produced.
pub enum Outcome {
    /// Finished; the MIME bundle of its value (empty when it has none).
    Ok(Vec<(String, String)>),
    /// Failed: exception-like name, message, and the lines of a readable traceback.
    Err { ename: String, evalue: String, traceback: Vec<String> },
}

/// Output seen while a cell runs.
pub enum Event {
    Stdout(String),
    Stderr(String),
    /// A mid-cell `display(&x)`: a MIME bundle as JSON.
    Display(serde_json::Value),
}

pub enum Request {
    Execute { code: String, reply: mpsc::Sender<Outcome> },
    Complete { code: String, cursor: usize, reply: mpsc::Sender<(Vec<String>, usize, usize)> },
    Inspect { code: String, cursor: usize, reply: mpsc::Sender<Option<String>> },
}

/// The marker autograd-core prints before a mid-cell display bundle.
const DISPLAY_MARKER: &str = autograd_core::render::DISPLAY_MARKER;
/// The marker of a panic reported on stdout (see `autograd_core::render::panic_report`).
const PANIC_MARKER: &str = autograd_core::render::panic_report::PANIC_MARKER;

/// The kernel's cache: `$AUTOGRAD_KERNEL_CACHE`, else `~/.cache/autograd-kernel`.
fn cache_base() -> PathBuf {
    std::env::var_os("AUTOGRAD_KERNEL_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/autograd-kernel")
    })
}

/// Where evcxr builds cells: under the user's cache, so dependencies built once (by
/// install.sh) are reused by every later kernel. Several kernels at once each take their own
/// numbered slot, guarded by a file lock.
fn work_dir() -> PathBuf {
    let root = cache_base().join("evcxr");
    let _ = std::fs::create_dir_all(root.join(".cargo"));
    // our own evcxr config (not the user's ~/.config/evcxr): cells at opt-level 0 from the
    // very first evaluation, so no step of the start-up builds with another profile
    let config = root.join("config");
    let _ = std::fs::create_dir_all(&config);
    let _ = std::fs::write(config.join("evcxr.toml"), "[evcxr]\nopt_level = \"0\"\n");
    std::env::set_var("EVCXR_CONFIG_DIR", &config);
    // Dependencies (autograd-core, ndarray, ...) build optimised; cell code builds at
    // opt-level 0 so it compiles fast. Cargo merges this with evcxr's own config below it.
    let _ = std::fs::write(
        root.join(".cargo/config.toml"),
        "[profile.dev.package.\"*\"]\nopt-level = 3\ndebug-assertions = false\noverflow-checks = false\n",
    );
    for slot in 0..8 {
        let dir = root.join(format!("slot-{slot}"));
        let _ = std::fs::create_dir_all(&dir);
        if let Ok(file) =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(".lock"))
        {
            use std::os::unix::io::AsRawFd;
            if unsafe { libc_flock(file.as_raw_fd()) } {
                std::mem::forget(file); // held for the life of the kernel
                seed_slot(&root, &dir);
                return dir;
            }
        }
    }
    std::env::temp_dir().join(format!("autograd-kernel-{}", std::process::id()))
}

/// A slot used for the first time (a second kernel open at the same time) starts from a copy
/// of another slot's build directory, so it does not compile every dependency again: about
/// 6 s instead of a minute. `cp -a` keeps the modification times cargo's freshness checks use.
fn seed_slot(root: &std::path::Path, dir: &std::path::Path) {
    let target = dir.join("target");
    if target.exists() {
        return;
    }
    let Some(source) = (0..8).map(|k| root.join(format!("slot-{k}/target"))).find(|t| t.is_dir()) else {
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

extern "C" {
    fn flock(fd: i32, operation: i32) -> i32;
}

unsafe fn libc_flock(fd: i32) -> bool {
    const LOCK_EX: i32 = 2;
    const LOCK_NB: i32 = 4;
    flock(fd, LOCK_EX | LOCK_NB) == 0
}

/// The path of autograd-core's sources, recorded when the kernel was built.
pub fn autograd_core_path() -> PathBuf {
    std::env::var_os("AUTOGRAD_CORE_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../autograd-core"))
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../autograd-core"))
}

/// The panic of the running cell: reported on stdout by autograd-core's hook once the
/// preload has installed it, else pieced together from the lines the default hook prints to
/// stderr (those may arrive late).
#[derive(Default)]
struct PanicCapture {
    location: Option<String>,
    message: Vec<String>,
    /// The Python exception type of an error autograd-core raised (`IndexError`); `None` for
    /// a plain panic.
    error_type: Option<String>,
    in_backtrace: bool,
    done: bool,
    /// Came as one report on stdout: complete, and the first panic of the cell (its cause).
    reported: bool,
}

/// A panic report line from autograd-core's hook: `{"location": ..., "message": ...}`, with
/// `"type": "IndexError"` when autograd-core raised a typed error.
fn record_reported_panic(capture: &Mutex<PanicCapture>, json: &str) {
    let Ok(report) = serde_json::from_str::<serde_json::Value>(json) else { return };
    let mut cap = capture.lock().unwrap();
    if cap.reported {
        return;
    }
    let text = |key: &str| report[key].as_str().unwrap_or_default().to_string();
    *cap = PanicCapture {
        location: Some(text("location")),
        message: vec![text("message")],
        error_type: report["type"].as_str().map(str::to_string),
        done: true,
        reported: true,
        ..PanicCapture::default()
    };
}

/// Handle to the session thread.
pub struct Session {
    requests: mpsc::Sender<Request>,
    child_pid: Arc<Mutex<Option<u32>>>,
}

impl Session {
    /// Starts the evcxr context on its own thread and preloads autograd-core. `events` gets
    /// everything the cells print while they run.
    pub fn start(events: impl Fn(Event) + Send + Sync + 'static) -> Session {
        let (tx, rx) = mpsc::channel::<Request>();
        let child_pid = Arc::new(Mutex::new(None));
        let pid_slot = child_pid.clone();
        std::thread::Builder::new()
            .name("evcxr-session".into())
            .spawn(move || run(rx, Arc::new(events), pid_slot))
            .expect("spawn the session thread");
        Session { requests: tx, child_pid }
    }

    pub fn send(&self, request: Request) {
        let _ = self.requests.send(request);
    }

    /// Interrupts the running cell: SIGINT to the runtime process, where autograd-core turns
    /// it into a `KeyboardInterrupt` panic at the next tensor op.
    pub fn interrupt(&self) {
        if let Some(pid) = *self.child_pid.lock().unwrap() {
            unsafe { kill(pid as i32, 2) };
        }
    }

    /// Kills the runtime process (for code that never returns to autograd-core).
    pub fn kill_runtime(&self) {
        if let Some(pid) = *self.child_pid.lock().unwrap() {
            unsafe { kill(pid as i32, 9) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::panic_location;

    #[test]
    fn a_panic_in_the_generated_source_maps_to_the_cells_line() {
        use super::{cell_place, is_generated_cell_file};
        let cell = "let x = tensor!([1., 2., 3.]);\nx.select(0, 5);\nlet w = 1;\nx.select(0, 5);";
        let source = "use autograd_core::prelude::*;\n#[no_mangle]\npub extern \"C\" fn run_user_code_3() {\n    let x = tensor!([1., 2., 3.]);\n    x.select(0, 5);\n    let w = 1;\n    x.select(0, 5);\n}\n";
        assert!(is_generated_cell_file("src/lib.rs:7:7"));
        assert!(!is_generated_cell_file("/home/u/autograd-core/src/ops/index.rs:90:13"));
        // equal lines are told apart by their neighbours; the column drops evcxr's indent
        assert_eq!(cell_place("src/lib.rs:5:7", cell, source), Some((2, 3)));
        assert_eq!(cell_place("src/lib.rs:7:7", cell, source), Some((4, 3)));
        // a last expression wrapped on the same line by evcxr
        let wrapped =
            "fn run() {\n    let x = tensor!([1., 2., 3.]);\n    evcxr_display(x.select(0, 5));\n}\n";
        assert_eq!(
            cell_place("src/lib.rs:3:21", "let x = tensor!([1., 2., 3.]);\nx.select(0, 5)", wrapped),
            Some((2, 3))
        );
        assert_eq!(cell_place("src/lib.rs:1:1", cell, source), None);
        assert_eq!(cell_place("src/lib.rs:99:1", cell, source), None);
    }

    #[test]
    fn panic_headers_of_recent_and_older_rust() {
        assert_eq!(
            panic_location("thread '<unnamed>' (27432) panicked at src/lib.rs:98:1:").as_deref(),
            Some("src/lib.rs:98:1")
        );
        assert_eq!(panic_location("thread 'main' panicked at a/b.rs:1:2:").as_deref(), Some("a/b.rs:1:2"));
        assert_eq!(panic_location("just text:"), None);
    }
}

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

type Events = Arc<dyn Fn(Event) + Send + Sync>;

/// What evcxr's rust-analyzer reads as std's sources (see `toolchain`): an empty `core` while
/// evcxr creates its context, then the real ones. None: leave `RUST_SRC_PATH` alone (no
/// `rust-src` component).
struct AnalysisSources {
    first_load: PathBuf,
    later: PathBuf,
}

fn analysis_sources(toolchain: Option<&Toolchain>) -> Option<&'static AnalysisSources> {
    static FOUND: OnceLock<Option<AnalysisSources>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let cache = cache_base();
            // a user's own RUST_SRC_PATH is kept for the analyser's real load
            let later = match std::env::var_os("RUST_SRC_PATH") {
                Some(path) => PathBuf::from(path),
                None => toolchain::analysis_sources(toolchain?, &cache)?,
            };
            Some(AnalysisSources { first_load: toolchain::first_load_sources(&cache)?, later })
        })
        .as_ref()
}

/// What the session thread shares with the output readers of its evaluation context.
struct Shared {
    /// Where cell output goes.
    events: Events,
    /// The runtime process, for interrupts.
    pid_slot: Arc<Mutex<Option<u32>>>,
    /// The panic of the running cell, if any.
    panic: Arc<Mutex<PanicCapture>>,
    /// Asks the current stdout reader to answer once it has handled everything before.
    output_fence: Option<crossbeam_channel::Sender<mpsc::Sender<()>>>,
}

impl Shared {
    /// Waits until the stdout reader has handled all output evcxr has handed over. Called when
    /// a cell has ended: evcxr then has read everything the cell wrote on stdout (panic
    /// reports included) and passed it on.
    fn wait_for_output(&self) {
        if let Some(fence) = &self.output_fence {
            let (done_tx, done_rx) = mpsc::channel();
            if fence.send(done_tx).is_ok() {
                let _ = done_rx.recv_timeout(Duration::from_secs(2));
            }
        }
    }
}

/// A fresh evaluation context with autograd-core preloaded (a restart after the runtime died).
fn new_context(shared: &mut Shared) -> Result<CommandContext, EvcxrError> {
    let mut ctx = start_context(shared)?;
    preload(&mut ctx)?;
    Ok(ctx)
}

fn timing() -> bool {
    std::env::var_os("AUTOGRAD_KERNEL_TIMING").is_some()
}

/// Seconds since the session thread started, for the timing lines.
fn since_start() -> f64 {
    static STARTED: OnceLock<std::time::Instant> = OnceLock::new();
    STARTED.get_or_init(std::time::Instant::now).elapsed().as_secs_f64()
}

/// evcxr's context with its runtime process and output readers; autograd-core not loaded yet.
fn start_context(shared: &mut Shared) -> Result<CommandContext, EvcxrError> {
    since_start();
    let toolchain = Toolchain::get();
    if let Some(toolchain) = toolchain {
        toolchain.pin();
    }
    std::env::set_var("EVCXR_TMPDIR", work_dir());
    let sources = analysis_sources(toolchain);
    if let Some(sources) = sources {
        std::env::set_var("RUST_SRC_PATH", &sources.first_load);
    }
    let created = EvalContext::new();
    if let Some(sources) = sources {
        // every later load of the analyser's workspace (the preload, a cell's `:dep`) reads std
        std::env::set_var("RUST_SRC_PATH", &sources.later);
    }
    let (eval_context, outputs) = created?;
    if timing() {
        eprintln!("[timing] evcxr context ready: {:.2} s", since_start());
    }
    let mut ctx = CommandContext::with_eval_context(eval_context);
    *shared.pid_slot.lock().unwrap() = Some(ctx.process_handle().lock().unwrap().id());
    let out_events = shared.events.clone();
    let capture = shared.panic.clone();
    let (fence_tx, fence_rx) = crossbeam_channel::unbounded::<mpsc::Sender<()>>();
    std::thread::spawn(move || {
        // lines that are already waiting go out as one stream message (a printed tensor is
        // one output, not one per line); display bundles go out in order between them
        let mut text = String::new();
        loop {
            let first = crossbeam_channel::select! {
                recv(outputs.stdout) -> line => match line { Ok(line) => line, Err(_) => return },
                // the cell has ended and evcxr has handed over all its output: it is all
                // handled once this thread gets here
                recv(fence_rx) -> done => { if let Ok(done) = done { let _ = done.send(()); } continue; }
            };
            let mut line = Some(first);
            while let Some(current) = line.take() {
                if let Some(json) = current.strip_prefix(DISPLAY_MARKER) {
                    if !text.is_empty() {
                        out_events(Event::Stdout(std::mem::take(&mut text)));
                    }
                    if let Ok(bundle) = serde_json::from_str(json) {
                        out_events(Event::Display(bundle));
                    }
                } else if let Some(json) = current.strip_prefix(PANIC_MARKER) {
                    record_reported_panic(&capture, json);
                } else {
                    text.push_str(&current);
                    text.push('\n');
                }
                if text.len() < 64 * 1024 {
                    line = outputs.stdout.try_recv().ok();
                }
            }
            if !text.is_empty() {
                out_events(Event::Stdout(std::mem::take(&mut text)));
            }
        }
    });
    shared.output_fence = Some(fence_tx);
    let err_events = shared.events.clone();
    let capture = shared.panic.clone();
    std::thread::spawn(move || {
        // the panic hook starts with an empty line: hold blank lines back until we know
        let mut held_blank = false;
        for line in outputs.stderr.iter() {
            let mut cap = capture.lock().unwrap();
            if line.is_empty() && !held_blank && (cap.location.is_none() || cap.done) {
                held_blank = true;
                continue;
            }
            let blank_before = std::mem::take(&mut held_blank);
            if let Some(location) = panic_location(&line) {
                if !cap.reported {
                    *cap = PanicCapture { location: Some(location), ..PanicCapture::default() };
                }
                continue;
            }
            if cap.location.is_some() && !cap.done {
                // the message runs until the backtrace or the closing note, which end it
                if line.starts_with("note: ") {
                    cap.done = true;
                } else if line.starts_with("stack backtrace:") {
                    cap.in_backtrace = true;
                } else if !cap.in_backtrace {
                    cap.message.push(line);
                }
                continue;
            }
            drop(cap);
            let text = if blank_before { format!("\n{line}\n") } else { format!("{line}\n") };
            err_events(Event::Stderr(text));
        }
    });
    ctx.set_opt_level("0")?;
    Ok(ctx)
}

/// What makes autograd-core and its prelude part of every cell, and panics reported in order
/// with the output: one evaluation, so the dependency and the import build together. Three
/// lines, which a first cell built together with it comes after.
fn preload_code() -> String {
    format!(
        ":dep autograd-core = {{ path = \"{}\" }}\nuse autograd_core::prelude::*;\nautograd_core::render::panic_report::report_panics_to_the_kernel();",
        autograd_core_path().display()
    )
}
const PRELOAD_LINES: usize = 3;

/// Runs `code` offline. install.sh fetched everything autograd-core needs when it prebuilt
/// it, and without this cargo asks the registry again at every kernel start (measured: a DNS
/// lookup and an HTTPS connection), which is slow in a classroom and fails without internet.
/// Later `:dep` lines in cells may use the network.
fn execute_offline(ctx: &mut CommandContext, code: &str) -> Result<evcxr::EvalOutputs, EvcxrError> {
    ctx.execute(":offline 1")?;
    let result = ctx.execute(code);
    ctx.execute(":offline 0")?;
    result
}

/// Loads autograd-core: offline, and online only when something is missing. Ok(true) when
/// it needed the network.
fn preload(ctx: &mut CommandContext) -> Result<bool, EvcxrError> {
    let needed_network = execute_offline(ctx, &preload_code()).is_err();
    if needed_network {
        ctx.execute(&preload_code())?;
    }
    if timing() {
        eprintln!("[timing] autograd-core preloaded: {:.2} s", since_start());
    }
    Ok(needed_network)
}

fn run(requests: mpsc::Receiver<Request>, events: Events, pid_slot: Arc<Mutex<Option<u32>>>) {
    let panic = Arc::new(Mutex::new(PanicCapture::default()));
    let mut shared = Shared { events, pid_slot, panic, output_fence: None };
    let mut ctx = match start_context(&mut shared) {
        Ok(ctx) => Some(ctx),
        Err(e) => {
            eprintln!("autograd-kernel: starting the Rust runtime failed: {e}");
            None
        }
    };
    // A first cell that is already waiting (Run All, a script) builds together with the
    // preload: one build and one analyser pass fewer before its result (measured 0.45 s).
    // Not a cell with evcxr commands of its own (`:dep`, ...): they must come before any code.
    let mut waiting = None;
    if let Some(context) = ctx.as_mut() {
        match requests.try_recv() {
            Ok(Request::Execute { code, reply }) if !has_commands(&code) => {
                let outcome = crate::interruptible::execute(&code, |code, retry| {
                    execute(&mut ctx, code, !retry, &mut shared)
                });
                let _ = reply.send(outcome);
            }
            other => {
                if let Err(e) = preload(context) {
                    eprintln!("autograd-kernel: preloading autograd-core failed: {e}");
                    ctx = None;
                }
                match other {
                    Ok(request) => waiting = Some(request),
                    Err(mpsc::TryRecvError::Disconnected) => return,
                    Err(mpsc::TryRecvError::Empty) => {}
                }
            }
        }
    }
    let mut warm_up_steps = WARM_UP.iter();
    loop {
        let request = if let Some(request) = waiting.take() {
            request
        } else if ctx.is_some() && warm_up_steps.len() > 0 {
            // a warm-up step only once nobody has asked for anything for a while, so a
            // notebook run cell after cell never waits behind one
            match requests.recv_timeout(IDLE_BEFORE_WARM_UP) {
                Ok(request) => request,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let (Some(context), Some(step)) = (ctx.as_mut(), warm_up_steps.next()) {
                        warm_up(context, step);
                    }
                    continue;
                }
            }
        } else {
            match requests.recv() {
                Ok(request) => request,
                Err(_) => return,
            }
        };
        match request {
            Request::Execute { code, reply } => {
                let outcome = crate::interruptible::execute(&code, |code, _| {
                    execute(&mut ctx, code, false, &mut shared)
                });
                let _ = reply.send(outcome);
            }
            Request::Complete { code, cursor, reply } => {
                let result = ctx.as_mut().and_then(|c| analyse(|| c.completions(&code, cursor)));
                let answer = match result {
                    Some(c) => {
                        (c.completions.into_iter().map(|c| c.code).collect(), c.start_offset, c.end_offset)
                    }
                    None => (Vec::new(), cursor, cursor),
                };
                let _ = reply.send(answer);
            }
            Request::Inspect { code, cursor, reply } => {
                let result =
                    ctx.as_mut().and_then(|c| analyse(|| c.hover_at(&code, cursor))).map(|(kind, doc)| {
                        if doc.is_empty() {
                            kind
                        } else {
                            format!("{kind}\n\n{doc}")
                        }
                    });
                let _ = reply.send(result.filter(|s| !s.trim().is_empty()));
            }
        }
    }
}

/// Runs one cell; with `with_preload`, the first cell, built together with the preload.
fn execute(ctx: &mut Option<CommandContext>, code: &str, with_preload: bool, shared: &mut Shared) -> Outcome {
    let Some(context) = ctx.as_mut() else {
        return Outcome::Err {
            ename: "KernelError".into(),
            evalue: "the Rust runtime could not start (see the kernel log)".into(),
            traceback: vec![],
        };
    };
    *shared.panic.lock().unwrap() = PanicCapture::default();
    let began = std::time::Instant::now();
    let mut line_offset = 0;
    let mut result = if with_preload {
        line_offset = PRELOAD_LINES;
        let result = execute_offline(context, &format!("{}\n{code}", preload_code()));
        if timing() {
            eprintln!("[timing] autograd-core preloaded with the first cell: {:.2} s", since_start());
        }
        result
    } else {
        context.execute(code)
    };
    if with_preload {
        if let Err(error) = &result {
            if !matches!(error, EvcxrError::SubprocessTerminated(_)) {
                // Nothing ran, and the preload may not have taken effect: load autograd-core
                // on its own. When that needs the network, the failure may have been the
                // preload's rather than the cell's: run the cell again, alone.
                let needed_network = match preload(context) {
                    Ok(needed_network) => needed_network,
                    Err(e) => {
                        return Outcome::Err {
                            ename: "KernelError".into(),
                            evalue: format!("preloading autograd-core failed: {e}"),
                            traceback: vec![],
                        };
                    }
                };
                // keep the error only when it is the cell's own compile error; anything else
                // stopped before the cell ran, and the cell alone says it best
                let cells_own = !needed_network
                    && matches!(error, EvcxrError::CompilationErrors(errors) if errors_are_in_user_lines(errors, line_offset));
                if !cells_own {
                    line_offset = 0;
                    *shared.panic.lock().unwrap() = PanicCapture::default();
                    result = context.execute(code);
                }
            }
        }
    }
    if timing() {
        if let Ok(outputs) = &result {
            let phases: Vec<String> = outputs
                .phases
                .iter()
                .map(|p| format!("{} {:.3}", p.name, p.duration.as_secs_f64()))
                .collect();
            eprintln!("[timing] cell {:.3} s: {}", began.elapsed().as_secs_f64(), phases.join(", "));
        }
    }
    shared.wait_for_output();
    match result {
        Ok(outputs) => match take_panic(&shared.panic, code, || context.last_source().ok()) {
            Some(err) => err,
            None => {
                let mut bundle: Vec<(String, String)> = outputs.content_by_mime_type.into_iter().collect();
                bundle.sort();
                Outcome::Ok(bundle)
            }
        },
        Err(EvcxrError::CompilationErrors(errors)) => compile_error(code, &errors, line_offset),
        Err(EvcxrError::SubprocessTerminated(message)) => {
            // the runtime died (or was killed after an interrupt): start anew
            *ctx = new_context(shared).ok();
            Outcome::Err {
                ename: "RuntimeRestarted".into(),
                evalue: format!(
                    "The Rust runtime stopped ({}) and was restarted: variables from earlier cells are gone; re-run the cells you need.",
                    message.trim()
                ),
                traceback: vec![],
            }
        }
        Err(other) => Outcome::Err { ename: "Error".into(), evalue: other.to_string(), traceback: vec![] },
    }
}

/// Whether a cell has evcxr commands (`:dep`, `:vars`, ...), which start a line.
fn has_commands(code: &str) -> bool {
    code.lines().any(|line| line.trim_start().starts_with(':'))
}

/// Whether every error with a place in the code points below the first `offset` lines.
fn errors_are_in_user_lines(errors: &[evcxr::CompilationError], offset: usize) -> bool {
    errors.iter().all(|e| {
        e.spanned_messages().iter().filter_map(|m| m.span.as_ref()).all(|span| span.start_line > offset)
    })
}

/// Typical tutorial code, analysed (never run) while the kernel is idle after start-up.
///
/// evcxr asks its built-in rust-analyzer for the type of every variable a cell defines. The
/// analyser works lazily: the first `let x = ones(..)` makes it resolve autograd-core, ndarray
/// and std and index their trait impls, which took 2.8 s on the first such cell (1.3 s more
/// on the first cell with operators). Asking it about this code while nobody is waiting moves
/// that work out of the student's first cells; a request that arrives meanwhile waits for at
/// most the current step.
const WARM_UP: &[&str] = &[
    "let x = ones(&[2, 2]).requires_grad_(true);\nlet y = &x + 2.0;\ny.",
    "let x = tensor!([1., 2.], requires_grad = true);\nlet z = &x * &x * 3.0 - 1.0;\nlet out = z.mean();\nout.backward();\nlet g = x.grad();\nlet f = out.grad_fn();\nf.",
    "let w = tensor!([10, 20], requires_grad = true, dtype = float64);\nlet s = (w.pow(2) + 20.0).mean();\ns.",
];

/// How long the kernel must have been idle before a warm-up step starts.
const IDLE_BEFORE_WARM_UP: Duration = Duration::from_millis(500);

/// One warm-up step: a completion after the final dot of `code`, which makes the analyser infer
/// every variable in it. The answer is thrown away; the session's state is not touched.
fn warm_up(context: &mut CommandContext, code: &str) {
    let began = std::time::Instant::now();
    analyse(|| context.completions(code, code.len()));
    if std::env::var_os("AUTOGRAD_KERNEL_TIMING").is_some() {
        eprintln!("[timing] analyser warm-up step: {:.2} s", began.elapsed().as_secs_f64());
    }
}

/// Runs a question to evcxr's rust-analyzer. The analyser has internal assertions that fail on
/// some code (measured: "failed to unify type owners" while completing an expression); such a
/// panic must cost one answer, never the session thread with every variable in it.
fn analyse<T, E>(question: impl FnOnce() -> Result<T, E>) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(question)).ok()?.ok()
}

/// `thread '<unnamed>' (123) panicked at src/lib.rs:4:1:` → `src/lib.rs:4:1`.
fn panic_location(line: &str) -> Option<String> {
    if !line.starts_with("thread '") || !line.ends_with(':') {
        return None;
    }
    let (_, location) = line.split_once(" panicked at ")?;
    Some(location.trim_end_matches(':').to_string())
}

/// The cell's panic as an error: autograd-core's errors under PyTorch's exception name (their
/// `type`), pointing at the cell's line (`cell:LINE:COL`) when `source` (the code evcxr
/// generated for the cell) shows which; never at autograd-core's own source.
fn take_panic(
    panic: &Arc<Mutex<PanicCapture>>,
    cell: &str,
    source: impl FnOnce() -> Option<String>,
) -> Option<Outcome> {
    let cap = std::mem::take(&mut *panic.lock().unwrap());
    let location = cap.location?;
    let message = cap.message.join("\n");
    // errors raised by autograd-core carry PyTorch's type and words: show them as PyTorch does
    let ename = if message == "KeyboardInterrupt" {
        "KeyboardInterrupt".to_string()
    } else if let Some(error_type) = cap.error_type {
        error_type
    } else if location.contains("autograd-core") {
        "RuntimeError".to_string()
    } else {
        "Panic".to_string()
    };
    let mut traceback = vec![format!("\u{1b}[0;31m{ename}\u{1b}[0m: {message}")];
    let place = if is_generated_cell_file(&location) {
        source().and_then(|source| cell_place(&location, cell, &source))
    } else {
        None
    };
    match place {
        Some((line, column)) => {
            let text = cell.lines().nth(line - 1).unwrap_or_default();
            traceback.push(format!("  --> cell:{line}:{column}\n{line:>4} | {text}"));
        }
        // the engine's own source says nothing to a student
        None if location.contains("autograd-core") || is_generated_cell_file(&location) => {}
        None => traceback.push(format!("(panicked at {location})")),
    }
    Some(Outcome::Err { ename, evalue: message, traceback })
}

/// `file:line:column` → its parts.
fn split_location(location: &str) -> Option<(&str, usize, usize)> {
    let mut parts = location.rsplitn(3, ':');
    let column = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    Some((parts.next()?, line, column))
}

/// Whether a panic location is in the crate evcxr generates for each cell (`src/lib.rs`).
fn is_generated_cell_file(location: &str) -> bool {
    split_location(location).is_some_and(|(file, _, _)| file == "src/lib.rs" || file.ends_with("/src/lib.rs"))
}

/// The cell's own line and column of a panic at `location` in `source`, the code evcxr
/// generated for the cell (it copies the cell's statements, from each statement's first
/// character; a last expression may be wrapped on the same line): the cell's line whose text
/// that line holds; among several, the one whose neighbours match too.
fn cell_place(location: &str, cell: &str, source: &str) -> Option<(usize, usize)> {
    let (_, line, column) = split_location(location)?;
    let source: Vec<&str> = source.lines().collect();
    let cell_lines: Vec<&str> = cell.lines().collect();
    let at = line.checked_sub(1)?;
    let target = *source.get(at)?;
    // how many lines around agree (up to 3 each side)
    let agreement = |i: usize| {
        (1..=3)
            .filter(|&k| {
                let before = i
                    .checked_sub(k)
                    .zip(at.checked_sub(k))
                    .is_some_and(|(c, s)| cell_lines[c].trim() == source[s].trim());
                let after =
                    cell_lines.get(i + k).zip(source.get(at + k)).is_some_and(|(c, s)| c.trim() == s.trim());
                before || after
            })
            .count()
    };
    let (_, best, found_at) = (0..cell_lines.len())
        .filter_map(|i| {
            let text = cell_lines[i].trim();
            let found_at = (!text.is_empty()).then(|| target.find(text)).flatten()?;
            let exact = target.trim() == text;
            // a short line (`}`, `y`) inside a longer one says nothing
            if !exact && text.len() < 6 {
                return None;
            }
            Some(((exact, agreement(i), std::cmp::Reverse(i)), i, found_at))
        })
        .max_by_key(|&(score, _, _)| score)?;
    // the column within the cell's own line
    let indent = cell_lines[best].len() - cell_lines[best].trim_start().len();
    let column = column.saturating_sub(found_at) + indent;
    Some((best + 1, column.max(1)))
}

/// A compile error as rustc says it, pointing at the cell's own lines.
/// `line_offset`: lines of evcxr's text before the cell's first line.
fn compile_error(code: &str, errors: &[evcxr::CompilationError], line_offset: usize) -> Outcome {
    let lines: Vec<&str> = code.lines().collect();
    let mut traceback = Vec::new();
    for error in errors {
        let mut text = format!("\u{1b}[1;31merror\u{1b}[0m: {}", error.message());
        if let Some(code) = error.code() {
            text = format!("\u{1b}[1;31merror[{code}]\u{1b}[0m: {}", error.message());
        }
        for spanned in error.spanned_messages() {
            if let Some(span) = &spanned.span {
                let line_number = span.start_line.saturating_sub(line_offset);
                text.push_str(&format!("\n  --> cell:{}:{}", line_number, span.start_column));
                if let Some(line) = lines.get(line_number.saturating_sub(1)) {
                    let width = if span.end_line == span.start_line {
                        span.end_column.saturating_sub(span.start_column).max(1)
                    } else {
                        1
                    };
                    text.push_str(&format!(
                        "\n{:>4} | {line}\n     | {}{} {}",
                        line_number,
                        " ".repeat(span.start_column.saturating_sub(1)),
                        "^".repeat(width),
                        spanned.label
                    ));
                }
            }
        }
        for help in error.help() {
            text.push_str(&format!("\n  = help: {help}"));
        }
        traceback.push(text);
    }
    let evalue = errors.first().map(|e| e.message()).unwrap_or_else(|| "compilation failed".into());
    Outcome::Err { ename: "CompilationError".into(), evalue, traceback }
}
