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

/// Starts the readers of a new context's stdout and stderr, and sets `shared`'s fence to the
/// new stdout reader.
pub(super) fn capture(outputs: EvalContextOutputs, shared: &mut Shared) {
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
    shared.output_fence = Some(fence_tx);
}

impl Shared {
    /// Waits until the stdout reader has handled all output evcxr has handed over. Called when
    /// a cell has ended: evcxr then has read everything the cell wrote on stdout (panic
    /// reports included) and passed it on.
    pub(super) fn wait_for_output(&self) {
        if let Some(fence) = &self.output_fence {
            let (done_tx, done_rx) = mpsc::channel();
            if fence.send(done_tx).is_ok() {
                let _ = done_rx.recv_timeout(Duration::from_secs(2));
            }
        }
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
