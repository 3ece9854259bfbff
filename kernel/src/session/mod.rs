//! The evcxr side: one thread owns the evaluation context; it preloads autograd-core,
//! executes cells, completes and inspects code. Cell output is streamed through callbacks
//! while the cell runs; panics and compile errors come back as structured errors.
//!
//! This file holds the public API ([`Session`], its requests and what they produce) and the
//! session thread's request loop; each concern behind it has a module of its own.

mod cell;
mod context;
mod deferred_std;
pub mod environment;
mod output;
mod preload;
mod report;
mod slots;
mod std_docs;
mod warm_up;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use rustix::process::{kill_process, Pid, Signal};

use cell::{execute, has_commands};
use context::start_context;
pub use environment::Environment;
use output::PanicCapture;
pub use preload::autograd_core_path;
use preload::preload;
use warm_up::{warm_up, IDLE_BEFORE_WARM_UP, WARM_UP};

/// How long the session waits for another request after a cell before it gives freed memory
/// back ([`crate::memory::trim`]): a trim took ~5 ms of the session thread per tutorial cell,
/// and the analyser then faulted the pages back in, in the next cell of a Run All.
const IDLE_BEFORE_TRIM: std::time::Duration = std::time::Duration::from_millis(100);

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
    Inspect { code: String, cursor: usize, reply: mpsc::Sender<Option<(String, String)>> },
}

/// Handle to the session thread.
pub struct Session {
    requests: mpsc::Sender<Request>,
    child_pid: Arc<Mutex<Option<u32>>>,
}

impl Session {
    /// Starts the evcxr context on its own thread and preloads autograd-core. `environment`
    /// is what `main` prepared before starting any thread; `events` gets everything the cells
    /// print while they run.
    pub fn start(
        environment: &'static Environment,
        events: impl Fn(Event) + Send + Sync + 'static,
    ) -> Session {
        let (tx, rx) = mpsc::channel::<Request>();
        let child_pid = Arc::new(Mutex::new(None));
        let pid_slot = child_pid.clone();
        std::thread::Builder::new()
            .name("evcxr-session".into())
            .spawn(move || run(rx, environment, Arc::new(events), pid_slot))
            .expect("spawn the session thread");
        Session { requests: tx, child_pid }
    }

    pub fn send(&self, request: Request) {
        let _ = self.requests.send(request);
    }

    /// Interrupts the running cell: SIGINT to the runtime process, where autograd-core turns
    /// it into a `KeyboardInterrupt` panic at the next tensor op.
    pub fn interrupt(&self) {
        self.signal_runtime(Signal::INT);
    }

    /// Kills the runtime process (for code that never returns to autograd-core).
    pub fn kill_runtime(&self) {
        self.signal_runtime(Signal::KILL);
    }

    fn signal_runtime(&self, signal: Signal) {
        let pid = *self.child_pid.lock().unwrap();
        if let Some(pid) = pid.and_then(|pid| Pid::from_raw(i32::try_from(pid).ok()?)) {
            // the runtime may have ended meanwhile: nothing left to signal
            let _ = kill_process(pid, signal);
        }
    }
}

type Events = Arc<dyn Fn(Event) + Send + Sync>;

/// What the session thread shares with the output readers of its evaluation context.
struct Shared {
    /// The process environment `main` prepared: the build slot, the analyser's sources.
    environment: &'static Environment,
    /// Where cell output goes.
    events: Events,
    /// The runtime process, for interrupts.
    pid_slot: Arc<Mutex<Option<u32>>>,
    /// The panic of the running cell, if any.
    panic: Arc<Mutex<PanicCapture>>,
    /// Asks the current stdout reader to answer once it has handled everything before.
    output_fence: Option<crossbeam_channel::Sender<mpsc::Sender<()>>>,
    /// The same for the current stderr reader.
    stderr_fence: Option<crossbeam_channel::Sender<mpsc::Sender<()>>>,
    /// The runtime's stderr pipe, to see whether the cell left anything unread in it.
    stderr_pipe: Option<output::StderrPipe>,
}

fn run(
    requests: mpsc::Receiver<Request>,
    environment: &'static Environment,
    events: Events,
    pid_slot: Arc<Mutex<Option<u32>>>,
) {
    let panic = Arc::new(Mutex::new(PanicCapture::default()));
    let mut shared = Shared {
        environment,
        events,
        pid_slot,
        panic,
        output_fence: None,
        stderr_fence: None,
        stderr_pipe: None,
    };
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
                // without a variable to type, it needs no std from the analyser: std is loaded
                // once it has its result (see `deferred_std`)
                let std_deferred =
                    !deferred_std::defines_variables(&code) && deferred_std::without_std(environment);
                let outcome = crate::interruptible::execute(&code, |code, retry| {
                    execute(&mut ctx, code, !retry, &mut shared)
                });
                let _ = reply.send(outcome);
                if std_deferred {
                    if let Some(context) = ctx.as_mut() {
                        deferred_std::load_std(context, environment);
                    }
                }
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
    // memory to give back once nobody waits (see `IDLE_BEFORE_TRIM`)
    let mut trim_due = waiting.is_none();
    loop {
        let request = if let Some(request) = waiting.take() {
            request
        } else if trim_due || (ctx.is_some() && warm_up_steps.len() > 0) {
            // a warm-up step or a trim only once nobody has asked for anything for a while,
            // so a notebook run cell after cell never waits behind one
            match requests.recv_timeout(if trim_due { IDLE_BEFORE_TRIM } else { IDLE_BEFORE_WARM_UP }) {
                Ok(request) => request,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if !std::mem::take(&mut trim_due) {
                        if let (Some(context), Some(step)) = (ctx.as_mut(), warm_up_steps.next()) {
                            warm_up(context, step);
                            trim_due = true;
                        }
                    } else {
                        crate::memory::trim();
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
                trim_due = true;
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
                // evcxr's hover: the item as plain text, and as HTML (its Markdown rendered)
                let result = ctx
                    .as_mut()
                    .and_then(|c| analyse(|| c.hover_at(&code, cursor)))
                    .map(|(plain, html)| std_docs::with_link(plain, html));
                let _ = reply.send(result.filter(|(plain, _)| !plain.trim().is_empty()));
            }
        }
    }
}

/// Runs a question to evcxr's rust-analyzer. The analyser has internal assertions that fail on
/// some code (measured: "failed to unify type owners" while completing an expression); such a
/// panic must cost one answer, never the session thread with every variable in it.
fn analyse<T, E>(question: impl FnOnce() -> Result<T, E>) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(question)).ok()?.ok()
}
