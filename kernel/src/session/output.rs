//! Output capture: the threads that read the runtime's stdout and stderr while cells run,
//! the fence that tells when all of a cell's stdout is handled, and the panic of the running
//! cell (reported on stdout by autograd-core's hook, or parsed from the default hook's lines
//! on stderr).

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use evcxr::EvalContextOutputs;

use super::{Event, Shared};

/// The marker autograd-core prints before a mid-cell display bundle.
const DISPLAY_MARKER: &str = autograd_core::render::DISPLAY_MARKER;
/// The marker of a panic reported on stdout (see `autograd_core::render::panic_report`).
const PANIC_MARKER: &str = autograd_core::render::panic_report::PANIC_MARKER;

/// The panic of the running cell: reported on stdout by autograd-core's hook once the
/// preload has installed it, else pieced together from the lines the default hook prints to
/// stderr (those may arrive late).
#[derive(Default)]
pub(super) struct PanicCapture {
    pub(super) location: Option<String>,
    pub(super) message: Vec<String>,
    /// The Python exception type of an error autograd-core raised (`IndexError`); `None` for
    /// a plain panic.
    pub(super) error_type: Option<String>,
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

/// Starts the readers of a new context's stdout and stderr, and sets `shared`'s fences to
/// them (and finds the runtime's stderr pipe, see [`Shared::wait_for_output`]).
pub(super) fn capture(outputs: EvalContextOutputs, shared: &mut Shared) {
    let out_events = shared.events.clone();
    let capture = shared.panic.clone();
    let (fence_tx, fence_rx) = crossbeam_channel::unbounded::<mpsc::Sender<()>>();
    std::thread::spawn(move || {
        // lines that are already waiting go out as one stream message (a printed tensor is
        // one output, not one per line); display bundles go out in order between them
        let mut text = String::new();
        let handle = |first: String| {
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
        };
        read_lines(&outputs.stdout, &fence_rx, handle);
    });
    let err_events = shared.events.clone();
    let capture = shared.panic.clone();
    let (err_fence_tx, err_fence_rx) = crossbeam_channel::unbounded::<mpsc::Sender<()>>();
    std::thread::spawn(move || {
        // the panic hook starts with an empty line: hold blank lines back until we know
        let mut held_blank = false;
        let handle = |line: String| {
            let mut cap = capture.lock().unwrap();
            if line.is_empty() && !held_blank && (cap.location.is_none() || cap.done) {
                held_blank = true;
                return;
            }
            let blank_before = std::mem::take(&mut held_blank);
            if let Some(location) = panic_location(&line) {
                if !cap.reported {
                    *cap = PanicCapture { location: Some(location), ..PanicCapture::default() };
                }
                return;
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
                return;
            }
            drop(cap);
            let text = if blank_before { format!("\n{line}\n") } else { format!("{line}\n") };
            err_events(Event::Stderr(text));
        };
        read_lines(&outputs.stderr, &err_fence_rx, handle);
    });
    shared.output_fence = Some(fence_tx);
    shared.stderr_fence = Some(err_fence_tx);
    let pid = *shared.pid_slot.lock().unwrap();
    shared.stderr_pipe = pid.and_then(StderrPipe::of_runtime);
}

/// Hands every line to `handle` until the channel closes. A fence is answered once every
/// line handed over before it is handled (`select!` may pick the fence first when both wait).
fn read_lines(
    lines: &crossbeam_channel::Receiver<String>,
    fence: &crossbeam_channel::Receiver<mpsc::Sender<()>>,
    mut handle: impl FnMut(String),
) {
    loop {
        crossbeam_channel::select! {
            recv(lines) -> line => match line { Ok(line) => handle(line), Err(_) => return },
            recv(fence) -> done => {
                while let Ok(line) = lines.try_recv() {
                    handle(line);
                }
                if let Ok(done) = done { let _ = done.send(()); }
            }
        }
    }
}

/// How long a cell's end waits for stderr when it cannot look into the pipe (or something
/// keeps writing to it).
const STDERR_SETTLE: Duration = Duration::from_millis(10);

/// The kernel's end of the pipe evcxr reads the runtime's stderr from (evcxr keeps the
/// handle; this is its descriptor, found through `/proc`), to see whether anything the
/// runtime wrote there is still unread.
pub(super) struct StderrPipe {
    fd: i32,
    /// What `/proc/self/fd/<fd>` points at (`pipe:[inode]`), to tell the descriptor still
    /// is that pipe.
    link: std::path::PathBuf,
}

impl StderrPipe {
    fn of_runtime(pid: u32) -> Option<StderrPipe> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let link = std::fs::read_link(format!("/proc/{pid}/fd/2")).ok()?;
        if !link.to_string_lossy().starts_with("pipe:") {
            return None;
        }
        std::fs::read_dir("/proc/self/fd").ok()?.flatten().find_map(|entry| {
            let fd = entry.file_name().to_str()?.parse().ok()?;
            (std::fs::read_link(entry.path()).ok()? == link).then(|| StderrPipe { fd, link: link.clone() })
        })
    }

    /// Bytes in the pipe that nobody has read yet; `None` when that cannot be told.
    fn unread(&self) -> Option<usize> {
        if std::fs::read_link(format!("/proc/self/fd/{}", self.fd)).ok()? != self.link {
            return None;
        }
        let mut unread: libc::c_int = 0;
        // SAFETY: FIONREAD on a pipe writes one int, here into `unread`
        let status = unsafe { libc::ioctl(self.fd, libc::FIONREAD, &mut unread) };
        (status == 0).then_some(unread.max(0) as usize)
    }
}

fn pass_fence(fence: &Option<crossbeam_channel::Sender<mpsc::Sender<()>>>) {
    if let Some(fence) = fence {
        let (done_tx, done_rx) = mpsc::channel();
        if fence.send(done_tx).is_ok() {
            let _ = done_rx.recv_timeout(Duration::from_secs(2));
        }
    }
}

impl Shared {
    /// Waits until the readers have handled the output of the cell that has just ended.
    /// stdout: evcxr has read everything the cell wrote there (panic reports included) and
    /// passed it on. stderr has no end marker: what the cell wrote there last may still be
    /// in the pipe, or read by evcxr's reader thread and not yet passed on. So this waits
    /// until the pipe is empty (at most [`STDERR_SETTLE`]), gives evcxr's reader a moment
    /// for the line it is holding, then lets our reader handle everything handed over. (It
    /// used to be a plain 10 ms wait after every cell.)
    pub(super) fn wait_for_output(&self) {
        pass_fence(&self.output_fence);
        let began = std::time::Instant::now();
        loop {
            match self.stderr_pipe.as_ref().and_then(StderrPipe::unread) {
                Some(0) => {
                    std::thread::sleep(Duration::from_micros(300));
                    break;
                }
                Some(_) if began.elapsed() < STDERR_SETTLE => std::thread::sleep(Duration::from_micros(200)),
                _ => {
                    std::thread::sleep(STDERR_SETTLE.saturating_sub(began.elapsed()));
                    break;
                }
            }
        }
        pass_fence(&self.stderr_fence);
    }
}

/// `thread '<unnamed>' (123) panicked at src/lib.rs:4:1:` → `src/lib.rs:4:1`.
fn panic_location(line: &str) -> Option<String> {
    if !line.starts_with("thread '") || !line.ends_with(':') {
        return None;
    }
    let (_, location) = line.split_once(" panicked at ")?;
    Some(location.trim_end_matches(':').to_string())
}

#[cfg(test)]
mod tests {
    use super::panic_location;
    use std::time::Duration;

    #[test]
    fn panic_headers_of_recent_and_older_rust() {
        assert_eq!(
            panic_location("thread '<unnamed>' (27432) panicked at src/lib.rs:98:1:").as_deref(),
            Some("src/lib.rs:98:1")
        );
        assert_eq!(panic_location("thread 'main' panicked at a/b.rs:1:2:").as_deref(), Some("a/b.rs:1:2"));
        assert_eq!(panic_location("just text:"), None);
    }

    /// What a cell's end waits on: the bytes a child wrote to its stderr and nobody has read.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_childs_unread_stderr_is_seen_in_its_pipe() {
        use std::io::Read;
        use std::process::{Command, Stdio};
        use std::time::Instant;

        let mut child = Command::new("sh")
            .args(["-c", "printf 'last line\\n' >&2; sleep 10"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = super::StderrPipe::of_runtime(child.id()).expect("the child's stderr pipe");
        let deadline = Instant::now() + Duration::from_secs(10);
        while pipe.unread() != Some(10) {
            assert!(Instant::now() < deadline, "unread: {:?}", pipe.unread());
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut stderr = child.stderr.take().unwrap();
        let mut line = [0u8; 10];
        stderr.read_exact(&mut line).unwrap();
        assert_eq!(&line, b"last line\n");
        assert_eq!(pipe.unread(), Some(0));
        // once the descriptor is closed it is no longer that pipe: nothing to tell
        drop(stderr);
        assert_eq!(pipe.unread(), None);
        let _ = child.kill();
        let _ = child.wait();
    }
}
