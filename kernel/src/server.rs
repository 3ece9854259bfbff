//! The five channels: shell and control (ROUTER), iopub (PUB), stdin (ROUTER), heartbeat
//! (REP). Every request is bracketed by `status: busy` / `status: idle` on iopub.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use bytes_compat::to_frames;
use serde_json::{json, Value};
use tokio::sync::mpsc as tokio_mpsc;
use zeromq::{PubSocket, RepSocket, RouterSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

use crate::session::{Outcome, Request, Session};
use crate::streams::Streams;
use crate::wire::{ConnectionInfo, Message, Signer};

mod bytes_compat {
    use zeromq::ZmqMessage;

    pub fn to_frames(msg: ZmqMessage) -> Vec<Vec<u8>> {
        msg.into_vec().into_iter().map(|b| b.to_vec()).collect()
    }

    pub fn from_frames(frames: Vec<Vec<u8>>) -> ZmqMessage {
        let frames: Vec<bytes::Bytes> = frames.into_iter().map(Into::into).collect();
        ZmqMessage::try_from(frames).expect("a message has at least one frame")
    }
}

/// State shared by the channel handlers.
struct Kernel {
    signer: Signer,
    iopub: tokio_mpsc::UnboundedSender<Message>,
    session: Session,
    execution_count: AtomicU32,
    /// The running cell's stdout/stderr/display output (with its request as parent), batched
    /// as IPython does.
    streams: Arc<Streams>,
    /// `(execution_count, code, text of the result)` of each cell run with store_history.
    history: Mutex<Vec<(u32, String, Option<String>)>>,
    running: AtomicBool,
}

fn language_info() -> Value {
    json!({
        "name": "rust",
        "version": env!("CARGO_PKG_RUST_VERSION"),
        "mimetype": "text/rust",
        "file_extension": ".rs",
        "pygments_lexer": "rust",
        "codemirror_mode": "rust",
    })
}

pub fn kernel_info() -> Value {
    json!({
        "status": "ok",
        "protocol_version": crate::wire::PROTOCOL_VERSION,
        "implementation": "autograd-kernel",
        "implementation_version": env!("CARGO_PKG_VERSION"),
        "language_info": language_info(),
        "banner": "Rust (autograd): PyTorch-style autograd in Rust, autograd-core preloaded",
        "help_links": [],
        "debugger": false,
    })
}

impl Kernel {
    fn publish(&self, parent: &Message, msg_type: &str, content: Value) {
        let _ = self.iopub.send(Message::broadcast(parent, msg_type, content));
    }

    fn status(&self, parent: &Message, state: &str) {
        self.publish(parent, "status", json!({ "execution_state": state }));
    }
}

/// `is_complete`: a cell is incomplete while brackets, braces or strings are open.
pub fn completeness(code: &str) -> &'static str {
    let mut depth: i64 = 0;
    let mut chars = code.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    if depth < 0 {
        "invalid"
    } else if depth > 0 || in_string {
        "incomplete"
    } else {
        "complete"
    }
}

fn byte_offset(code: &str, cursor_chars: usize) -> usize {
    code.char_indices().nth(cursor_chars).map(|(i, _)| i).unwrap_or(code.len())
}

fn char_offset(code: &str, byte: usize) -> usize {
    code[..byte.min(code.len())].chars().count()
}

/// Handles one shell (or control) request and returns the reply content and type.
async fn handle(kernel: &Arc<Kernel>, msg: &Message) -> Option<(String, Value)> {
    let content = &msg.content;
    let reply = |t: &str, v: Value| Some((format!("{t}_reply"), v));
    match msg.msg_type() {
        "kernel_info_request" => reply("kernel_info", kernel_info()),
        "execute_request" => {
            let code = content["code"].as_str().unwrap_or("").to_string();
            let silent = content["silent"].as_bool().unwrap_or(false);
            let store_history = content["store_history"].as_bool().unwrap_or(true) && !silent;
            let count = if store_history {
                kernel.execution_count.fetch_add(1, Ordering::SeqCst) + 1
            } else {
                kernel.execution_count.load(Ordering::SeqCst)
            };
            if !silent {
                kernel.publish(msg, "execute_input", json!({ "code": code, "execution_count": count }));
            }
            if store_history {
                kernel.history.lock().unwrap().push((count, code.clone(), None));
            }
            kernel.streams.begin(if silent { None } else { Some(msg.clone()) });
            kernel.running.store(true, Ordering::SeqCst);
            let (tx, rx) = mpsc::channel();
            kernel.session.send(Request::Execute { code, reply: tx });
            let outcome = tokio::task::spawn_blocking(move || rx.recv()).await.ok().and_then(Result::ok);
            kernel.running.store(false, Ordering::SeqCst);
            // stdout is all handled when the session replies; give stderr's reader a moment for
            // what the cell wrote there last (a second pipe, read on its own)
            tokio::time::sleep(Duration::from_millis(10)).await;
            kernel.streams.end();
            match outcome {
                Some(Outcome::Ok(bundle)) => {
                    if store_history {
                        let text = bundle.iter().find(|(m, _)| m == "text/plain").map(|(_, t)| t.clone());
                        if let Some(last) = kernel.history.lock().unwrap().last_mut() {
                            last.2 = text;
                        }
                    }
                    if !bundle.is_empty() && !silent {
                        let data: serde_json::Map<String, Value> =
                            bundle.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
                        kernel.publish(
                            msg,
                            "execute_result",
                            json!({ "execution_count": count, "data": data, "metadata": {} }),
                        );
                    }
                    reply(
                        "execute",
                        json!({ "status": "ok", "execution_count": count, "user_expressions": {}, "payload": [] }),
                    )
                }
                Some(Outcome::Err { ename, evalue, traceback }) => {
                    let traceback =
                        if traceback.is_empty() { vec![format!("{ename}: {evalue}")] } else { traceback };
                    let error = json!({ "ename": ename, "evalue": evalue, "traceback": traceback });
                    if !silent {
                        kernel.publish(msg, "error", error.clone());
                    }
                    let mut content = error;
                    content["status"] = json!("error");
                    content["execution_count"] = json!(count);
                    reply("execute", content)
                }
                None => reply(
                    "execute",
                    json!({ "status": "error", "ename": "KernelError", "evalue": "the session thread stopped", "traceback": [], "execution_count": count }),
                ),
            }
        }
        "complete_request" => {
            let code = content["code"].as_str().unwrap_or("").to_string();
            let cursor = content["cursor_pos"].as_u64().unwrap_or(code.chars().count() as u64) as usize;
            let byte = byte_offset(&code, cursor);
            let (tx, rx) = mpsc::channel();
            kernel.session.send(Request::Complete { code: code.clone(), cursor: byte, reply: tx });
            let (matches, start, end) = tokio::task::spawn_blocking(move || rx.recv())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or((vec![], byte, byte));
            reply(
                "complete",
                json!({ "status": "ok", "matches": matches, "cursor_start": char_offset(&code, start), "cursor_end": char_offset(&code, end), "metadata": {} }),
            )
        }
        "inspect_request" => {
            let code = content["code"].as_str().unwrap_or("").to_string();
            let cursor = content["cursor_pos"].as_u64().unwrap_or(0) as usize;
            let byte = byte_offset(&code, cursor);
            let (tx, rx) = mpsc::channel();
            kernel.session.send(Request::Inspect { code, cursor: byte, reply: tx });
            let found =
                tokio::task::spawn_blocking(move || rx.recv()).await.ok().and_then(Result::ok).flatten();
            let data = match &found {
                Some(text) => json!({ "text/plain": text }),
                None => json!({}),
            };
            reply(
                "inspect",
                json!({ "status": "ok", "found": found.is_some(), "data": data, "metadata": {} }),
            )
        }
        "is_complete_request" => {
            let status = completeness(content["code"].as_str().unwrap_or(""));
            let mut body = json!({ "status": status });
            if status == "incomplete" {
                body["indent"] = json!("    ");
            }
            reply("is_complete", body)
        }
        "history_request" => {
            let history = kernel.history.lock().unwrap();
            let n = content["n"].as_u64().unwrap_or(history.len() as u64) as usize;
            let with_output = content["output"].as_bool().unwrap_or(false);
            let items: Vec<Value> =
                history
                    .iter()
                    .rev()
                    .take(n)
                    .rev()
                    .map(|(count, code, output)| {
                        if with_output {
                            json!([0, count, [code, output]])
                        } else {
                            json!([0, count, code])
                        }
                    })
                    .collect();
            reply("history", json!({ "status": "ok", "history": items }))
        }
        "comm_info_request" => reply("comm_info", json!({ "status": "ok", "comms": {} })),
        "comm_open" => {
            // no comm targets: close it again, as the spec asks
            kernel.publish(msg, "comm_close", json!({ "comm_id": content["comm_id"], "data": {} }));
            None
        }
        "comm_msg" | "comm_close" => None,
        "interrupt_request" => {
            interrupt(kernel);
            reply("interrupt", json!({ "status": "ok" }))
        }
        "shutdown_request" => {
            let restart = content["restart"].as_bool().unwrap_or(false);
            reply("shutdown", json!({ "status": "ok", "restart": restart }))
        }
        other => {
            eprintln!("autograd-kernel: ignoring unknown message type {other}");
            None
        }
    }
}

/// Stops the running cell: cooperatively first (autograd-core raises KeyboardInterrupt at
/// the next tensor op); if the cell is still running after 2 s, the runtime is restarted.
fn interrupt(kernel: &Arc<Kernel>) {
    if !kernel.running.load(Ordering::SeqCst) {
        return;
    }
    kernel.session.interrupt();
    let kernel = kernel.clone();
    // only the interrupted cell: one that stopped and a next one started within the 2 s keep
    // their runtime
    let cell = kernel.execution_count.load(Ordering::SeqCst);
    tokio::spawn(async move {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if !kernel.running.load(Ordering::SeqCst) || kernel.execution_count.load(Ordering::SeqCst) != cell
            {
                return;
            }
        }
        kernel.session.kill_runtime();
    });
}

/// An execute_request that asks for the queue to stop when a cell fails (the default).
fn stops_on_error(msg: &Message) -> bool {
    msg.msg_type() == "execute_request" && msg.content["stop_on_error"].as_bool().unwrap_or(true)
}

async fn serve_router(kernel: Arc<Kernel>, mut socket: RouterSocket, channel: &'static str) -> Result<()> {
    // true after a failed cell, while the requests queued behind it are answered `aborted`
    let mut aborting = false;
    loop {
        let received = if aborting {
            // only what is already queued (Run All sent its cells together, long before this
            // cell failed); a request sent after the client saw this one finish runs normally
            tokio::task::yield_now().await;
            let ready = tokio::select! {
                biased;
                received = socket.recv() => Some(received),
                () = std::future::ready(()) => None,
            };
            match ready {
                Some(received) => received,
                None => {
                    // the queue is empty: the next request runs again
                    aborting = false;
                    continue;
                }
            }
        } else {
            socket.recv().await
        };
        let frames = to_frames(received?);
        let msg = match Message::decode(frames, &kernel.signer) {
            Ok(msg) => msg,
            Err(e) => {
                eprintln!("autograd-kernel: dropped a message on {channel}: {e}");
                continue;
            }
        };
        kernel.status(&msg, "busy");
        let answer = if aborting && stops_on_error(&msg) {
            // as ipykernel: no execute_input, no execution count, just the reply
            Some(("execute_reply".to_string(), json!({ "status": "aborted" })))
        } else {
            // execute runs in its own task so control requests (interrupt) are not blocked
            handle(&kernel, &msg).await
        };
        if let Some((reply_type, content)) = answer {
            // a failed cell (error, compile error, interrupt) stops the cells queued after it
            if stops_on_error(&msg)
                && content["status"] == "error"
                && !msg.content["silent"].as_bool().unwrap_or(false)
            {
                aborting = true;
            }
            let reply = Message::child(&msg, &reply_type, content);
            socket.send(bytes_compat::from_frames(reply.encode(&kernel.signer))).await?;
        }
        kernel.status(&msg, "idle");
        if msg.msg_type() == "shutdown_request" {
            kernel.session.kill_runtime();
            tokio::time::sleep(Duration::from_millis(100)).await;
            std::process::exit(0);
        }
    }
}

async fn serve_heartbeat(mut socket: RepSocket) -> Result<()> {
    loop {
        let ping: ZmqMessage = socket.recv().await?;
        socket.send(ping).await?;
    }
}

/// Runs the kernel until shutdown.
pub async fn run(info: ConnectionInfo) -> Result<()> {
    let signer = Signer::new(&info.key);
    let mut shell = RouterSocket::new();
    shell.bind(&info.endpoint(info.shell_port)).await?;
    let mut control = RouterSocket::new();
    control.bind(&info.endpoint(info.control_port)).await?;
    let mut stdin = RouterSocket::new();
    stdin.bind(&info.endpoint(info.stdin_port)).await?;
    let mut iopub = PubSocket::new();
    iopub.bind(&info.endpoint(info.iopub_port)).await?;
    let mut heartbeat = RepSocket::new();
    heartbeat.bind(&info.endpoint(info.hb_port)).await?;

    let (iopub_tx, mut iopub_rx) = tokio_mpsc::unbounded_channel::<Message>();
    let publisher_signer = signer.clone();
    tokio::spawn(async move {
        while let Some(msg) = iopub_rx.recv().await {
            let _ = iopub.send(bytes_compat::from_frames(msg.encode(&publisher_signer))).await;
        }
    });

    let streams = Streams::start(iopub_tx.clone());
    let events = streams.clone();
    let session = Session::start(move |event| events.push(event));
    let kernel = Arc::new(Kernel {
        signer,
        iopub: iopub_tx,
        session,
        execution_count: AtomicU32::new(0),
        streams,
        history: Mutex::new(Vec::new()),
        running: AtomicBool::new(false),
    });

    // SIGINT to the kernel (interrupt_mode "signal" clients) interrupts the cell too
    let sig_kernel = kernel.clone();
    tokio::spawn(async move {
        let Ok(mut sigint) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) else {
            return;
        };
        while sigint.recv().await.is_some() {
            interrupt(&sig_kernel);
        }
    });

    let _stdin = stdin; // input requests are not supported; the socket stays bound
    tokio::spawn(serve_heartbeat(heartbeat));
    tokio::spawn(serve_router(kernel.clone(), control, "control"));
    serve_router(kernel, shell, "shell").await
}

#[cfg(test)]
mod tests {
    use super::completeness;

    #[test]
    fn open_brackets_make_a_cell_incomplete() {
        assert_eq!(completeness("let x = 1;"), "complete");
        assert_eq!(completeness("for i in 0..3 {"), "incomplete");
        assert_eq!(completeness("let v = vec![1,\n 2"), "incomplete");
        assert_eq!(completeness("let s = \"{\";"), "complete");
        assert_eq!(completeness("let s = \"abc"), "incomplete");
        assert_eq!(completeness("// {\nlet x = 1;"), "complete");
        assert_eq!(completeness("}"), "invalid");
    }
}
