//! A running cell's output on its way to iopub, batched the way IPython batches `sys.stdout`
//! and `sys.stderr`.
//!
//! The cell's two pipes are read by two threads, so the order in which a line on stdout and
//! a line on stderr arrive here is a race. IPython has no such race to show: each stream is a
//! buffer, flushed 0.2 s after the first write into it and once more at the end of the cell,
//! stdout before stderr. A short cell that prints `None` after triggering a warning therefore
//! shows its stdout first and the warning after it, every time, which is what the PyTorch
//! reference notebooks record. Doing the same here makes our order as deterministic as theirs:
//! output written within 0.2 s of the first write is never split.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;

use crate::session::Event;
use crate::wire::Message;

/// IPython's `OutStream.flush_interval`: how long output waits after the first write.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// How often the flusher looks at the deadline.
const FLUSH_CHECK: Duration = Duration::from_millis(20);

#[derive(Default)]
struct Pending {
    /// The execute request the output belongs to; `None` between cells and for silent ones.
    parent: Option<Message>,
    stdout: String,
    stderr: String,
    /// When the oldest text still buffered was written.
    since: Option<Instant>,
}

pub struct Streams {
    pending: Mutex<Pending>,
    iopub: UnboundedSender<Message>,
}

impl Streams {
    /// A buffer publishing to `iopub`; a thread of its own flushes it [`FLUSH_INTERVAL`] after
    /// the first write.
    pub fn start(iopub: UnboundedSender<Message>) -> Arc<Streams> {
        let streams = Arc::new(Streams { pending: Mutex::new(Pending::default()), iopub });
        let weak = Arc::downgrade(&streams);
        std::thread::Builder::new()
            .name("stream-flush".into())
            .spawn(move || loop {
                std::thread::sleep(FLUSH_CHECK);
                let Some(streams) = weak.upgrade() else { return };
                let mut pending = streams.pending.lock().unwrap();
                if pending.since.is_some_and(|t| t.elapsed() >= FLUSH_INTERVAL) {
                    streams.flush_locked(&mut pending);
                }
            })
            .expect("spawn the stream flusher");
        streams
    }

    /// Output from now on belongs to `parent` (`None`: thrown away, as for a silent cell).
    pub fn begin(&self, parent: Option<Message>) {
        let mut pending = self.pending.lock().unwrap();
        self.flush_locked(&mut pending);
        pending.parent = parent;
    }

    /// Flushes what the cell printed last; later output belongs to no cell.
    pub fn end(&self) {
        let mut pending = self.pending.lock().unwrap();
        self.flush_locked(&mut pending);
        pending.parent = None;
    }

    pub fn push(&self, event: Event) {
        let mut pending = self.pending.lock().unwrap();
        if pending.parent.is_none() {
            return;
        }
        match event {
            Event::Stdout(text) => {
                pending.stdout.push_str(&text);
                pending.since.get_or_insert_with(Instant::now);
            }
            Event::Stderr(text) => {
                pending.stderr.push_str(&text);
                pending.since.get_or_insert_with(Instant::now);
            }
            Event::Display(data) => {
                // a display shows where it was called: the text printed before it goes first
                self.flush_locked(&mut pending);
                self.publish(
                    &pending,
                    "display_data",
                    json!({ "data": data, "metadata": {}, "transient": {} }),
                );
            }
        }
    }

    fn flush_locked(&self, pending: &mut Pending) {
        pending.since = None;
        let texts = [
            ("stdout", std::mem::take(&mut pending.stdout)),
            ("stderr", std::mem::take(&mut pending.stderr)),
        ];
        for (name, text) in texts {
            if !text.is_empty() {
                self.publish(pending, "stream", json!({ "name": name, "text": text }));
            }
        }
    }

    fn publish(&self, pending: &Pending, msg_type: &str, content: Value) {
        if let Some(parent) = &pending.parent {
            let _ = self.iopub.send(Message::broadcast(parent, msg_type, content));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Message {
        Message {
            identities: vec![],
            header: crate::wire::new_header("execute_request", "test-session", "student"),
            parent_header: json!({}),
            metadata: json!({}),
            content: json!({ "code": "" }),
            buffers: vec![],
        }
    }

    /// A buffer with a cell running, and the receiving end of its iopub.
    fn cell() -> (Arc<Streams>, tokio::sync::mpsc::UnboundedReceiver<Message>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let streams = Streams::start(tx);
        streams.begin(Some(request()));
        (streams, rx)
    }

    fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Message>) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        while let Ok(msg) = rx.try_recv() {
            out.push((msg.msg_type().to_string(), msg.content.clone()));
        }
        out
    }

    #[test]
    fn stdout_goes_before_stderr_whatever_order_they_arrived_in() {
        let (streams, mut rx) = cell();
        streams.push(Event::Stdout("tensor([8.])\n".into()));
        streams.push(Event::Stderr("UserWarning: ...\n".into()));
        streams.push(Event::Stdout("None\n".into()));
        streams.end();
        let sent = drain(&mut rx);
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].1, json!({ "name": "stdout", "text": "tensor([8.])\nNone\n" }));
        assert_eq!(sent[1].1, json!({ "name": "stderr", "text": "UserWarning: ...\n" }));
    }

    #[test]
    fn a_display_comes_after_the_text_printed_before_it() {
        let (streams, mut rx) = cell();
        streams.push(Event::Stdout("before\n".into()));
        streams.push(Event::Display(json!({ "text/plain": "x" })));
        streams.push(Event::Stdout("after\n".into()));
        streams.end();
        let kinds: Vec<String> = drain(&mut rx)
            .into_iter()
            .map(|(t, c)| format!("{t} {}", c["text"].as_str().unwrap_or("")))
            .collect();
        assert_eq!(kinds, ["stream before\n", "display_data ", "stream after\n"]);
    }

    #[test]
    fn output_of_a_silent_cell_and_between_cells_is_dropped() {
        let (streams, mut rx) = cell();
        streams.end();
        streams.push(Event::Stdout("stray\n".into()));
        streams.begin(None);
        streams.push(Event::Stdout("silent\n".into()));
        streams.end();
        assert!(drain(&mut rx).is_empty());
    }

    #[test]
    fn output_written_within_the_interval_is_never_split() {
        let (streams, mut rx) = cell();
        streams.push(Event::Stdout("tensor([8.])\n".into()));
        std::thread::sleep(FLUSH_INTERVAL / 6);
        streams.push(Event::Stderr("UserWarning: ...\n".into()));
        std::thread::sleep(FLUSH_INTERVAL / 6);
        streams.push(Event::Stdout("None\n".into()));
        assert!(drain(&mut rx).is_empty(), "nothing flushed before the interval is over");
        streams.end();
        let names: Vec<Value> = drain(&mut rx).into_iter().map(|(_, c)| c["name"].clone()).collect();
        assert_eq!(names, [json!("stdout"), json!("stderr")]);
    }

    #[test]
    fn a_long_cell_streams_while_it_runs() {
        let (streams, mut rx) = cell();
        streams.push(Event::Stdout("epoch 1\n".into()));
        std::thread::sleep(FLUSH_INTERVAL * 3);
        assert_eq!(drain(&mut rx).len(), 1, "flushed by the timer, before the cell ends");
        streams.end();
    }
}
