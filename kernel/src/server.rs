//! The five channels: shell and control (ROUTER), iopub (PUB), stdin (ROUTER), heartbeat
//! (REP). Every request is bracketed by `status: busy` / `status: idle` on iopub.
//!
//! A message decoded by `wire` becomes a typed [`Request`] (`protocol`, pure and fuzzed);
//! [`handle`] dispatches it to one function per message type, as ipykernel's kernelbase does.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use bytes_compat::to_frames;
use serde_json::{json, Value};
use tokio::sync::mpsc as tokio_mpsc;
use zeromq::{PubSocket, RepSocket, RouterSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

use crate::protocol::{self, Execute, Request};
use crate::session::{Environment, Outcome, Request as SessionRequest, Session};
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
    history: Mutex<Vec<protocol::HistoryEntry>>,
    running: AtomicBool,
}

impl Kernel {
    fn publish(&self, parent: &Message, msg_type: &str, content: Value) {
        let _ = self.iopub.send(Message::broadcast(parent, msg_type, content));
    }

    fn status(&self, parent: &Message, state: &str) {
        self.publish(parent, "status", json!({ "execution_state": state }));
    }
}

/// A reply: its message type and content. `None`: no reply (comm messages, unknown types).
type Reply = Option<(String, Value)>;

fn reply(msg_type: &str, content: Value) -> Reply {
    Some((format!("{msg_type}_reply"), content))
}

/// Handles one shell (or control) request and returns the reply content and type.
async fn handle(kernel: &Arc<Kernel>, msg: &Message, request: Request) -> Reply {
    match request {
        Request::KernelInfo => kernel_info_request(),
        Request::Execute(execute) => execute_request(kernel, msg, execute).await,
        Request::Complete { code, cursor_pos } => complete_request(kernel, code, cursor_pos).await,
        Request::Inspect { code, cursor_pos } => inspect_request(kernel, code, cursor_pos).await,
        Request::IsComplete { code } => is_complete_request(&code),
        Request::History { n, output } => history_request(kernel, n, output),
        Request::CommInfo => comm_info_request(),
        Request::CommOpen { comm_id } => comm_open(kernel, msg, comm_id),
        Request::CommMsg | Request::CommClose => None,
        Request::Interrupt => interrupt_request(kernel),
        Request::Shutdown { restart } => shutdown_request(restart),
        Request::Unknown(other) => {
            eprintln!("autograd-kernel: ignoring unknown message type {other}");
            None
        }
    }
}

fn kernel_info_request() -> Reply {
    reply("kernel_info", protocol::kernel_info())
}

async fn execute_request(kernel: &Arc<Kernel>, msg: &Message, execute: Execute) -> Reply {
    let Execute { code, silent, store_history, .. } = execute;
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
    kernel.session.send(SessionRequest::Execute { code, reply: tx });
    let outcome = tokio::task::spawn_blocking(move || rx.recv()).await.ok().and_then(Result::ok);
    kernel.running.store(false, Ordering::SeqCst);
    // the cell's stdout and stderr are all handled when the session replies
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
            let content = protocol::execute_error(ename, evalue, traceback, count);
            if !silent {
                kernel.publish(msg, "error", protocol::error_message(&content));
            }
            reply("execute", content)
        }
        None => reply(
            "execute",
            json!({ "status": "error", "ename": "KernelError", "evalue": "the session thread stopped", "traceback": [], "execution_count": count }),
        ),
    }
}

async fn complete_request(kernel: &Arc<Kernel>, code: String, cursor_pos: usize) -> Reply {
    let byte = protocol::byte_offset(&code, cursor_pos);
    let (tx, rx) = mpsc::channel();
    kernel.session.send(SessionRequest::Complete { code: code.clone(), cursor: byte, reply: tx });
    let (matches, start, end) = tokio::task::spawn_blocking(move || rx.recv())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or((vec![], byte, byte));
    reply("complete", protocol::complete_reply(&code, &matches, start, end))
}

async fn inspect_request(kernel: &Arc<Kernel>, code: String, cursor_pos: usize) -> Reply {
    let byte = protocol::byte_offset(&code, cursor_pos);
    let (tx, rx) = mpsc::channel();
    kernel.session.send(SessionRequest::Inspect { code, cursor: byte, reply: tx });
    let found = tokio::task::spawn_blocking(move || rx.recv()).await.ok().and_then(Result::ok).flatten();
    reply(
        "inspect",
        protocol::inspect_reply(found.as_ref().map(|(plain, html)| (plain.as_str(), html.as_str()))),
    )
}

fn is_complete_request(code: &str) -> Reply {
    reply("is_complete", protocol::is_complete_reply(code))
}

fn history_request(kernel: &Arc<Kernel>, n: Option<usize>, output: bool) -> Reply {
    let history = kernel.history.lock().unwrap();
    reply("history", protocol::history_reply(&history, n, output))
}

fn comm_info_request() -> Reply {
    reply("comm_info", json!({ "status": "ok", "comms": {} }))
}

fn comm_open(kernel: &Arc<Kernel>, msg: &Message, comm_id: Value) -> Reply {
    // no comm targets: close it again, as the spec asks
    kernel.publish(msg, "comm_close", json!({ "comm_id": comm_id, "data": {} }));
    None
}

fn interrupt_request(kernel: &Arc<Kernel>) -> Reply {
    interrupt(kernel);
    reply("interrupt", json!({ "status": "ok" }))
}

fn shutdown_request(restart: bool) -> Reply {
    reply("shutdown", json!({ "status": "ok", "restart": restart }))
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

async fn serve_router(kernel: Arc<Kernel>, mut socket: RouterSocket, channel: &'static str) -> Result<()> {
    // the requests already waiting when a cell failed; while they last, those that ask to stop
    // on an error are answered `aborted`
    let mut queued: VecDeque<ZmqMessage> = VecDeque::new();
    let mut aborting = false;
    loop {
        let received = match queued.pop_front() {
            Some(received) => received,
            None => {
                // the queue is empty: the next request runs again
                aborting = false;
                socket.recv().await?
            }
        };
        let frames = to_frames(received);
        let msg = match Message::decode(frames, &kernel.signer) {
            Ok(msg) => msg,
            Err(e) => {
                eprintln!("autograd-kernel: dropped a message on {channel}: {e}");
                continue;
            }
        };
        let request = Request::of(&msg);
        kernel.status(&msg, "busy");
        let answer = if aborting && request.stops_on_error() {
            // as ipykernel: no execute_input, no execution count, just the reply
            Some(("execute_reply".to_string(), json!({ "status": "aborted" })))
        } else {
            // execute runs in its own task so control requests (interrupt) are not blocked
            handle(&kernel, &msg, request.clone()).await
        };
        if let Some((reply_type, content)) = answer {
            let failed = request.aborts_queue(&content);
            let reply = Message::child(&msg, &reply_type, content);
            socket.send(bytes_compat::from_frames(reply.encode(&kernel.signer))).await?;
            if failed {
                // a failed cell (error, compile error, interrupt) stops the cells queued after
                // it: those already sent (Run All sends its cells together, long before one
                // fails). As ipykernel, they are taken before this request's `idle`, so a
                // request sent after the client saw it finish runs normally, however late
                // this task gets the processor back.
                aborting = true;
                take_waiting(&mut socket, &mut queued).await?;
            }
        }
        kernel.status(&msg, "idle");
        if matches!(request, Request::Shutdown { .. }) {
            kernel.session.kill_runtime();
            tokio::time::sleep(Duration::from_millis(100)).await;
            std::process::exit(0);
        }
    }
}

/// Receives what is already waiting on `socket` into `queue`, without waiting for more.
async fn take_waiting(socket: &mut RouterSocket, queue: &mut VecDeque<ZmqMessage>) -> Result<()> {
    loop {
        // let the socket's reader hand over what has arrived
        tokio::task::yield_now().await;
        let ready = tokio::select! {
            biased;
            received = socket.recv() => Some(received),
            () = std::future::ready(()) => None,
        };
        match ready {
            Some(received) => queue.push_back(received?),
            None => return Ok(()),
        }
    }
}

/// As ipykernel: when the process that started the kernel (`JPY_PARENT_PID`, set by
/// jupyter_client) is gone, the kernel exits with its runtime. A Jupyter server killed before
/// it shut its kernels down (a hub stopping a student's server) otherwise left them running,
/// each holding a few hundred MiB of a shared server's memory.
fn watch_parent(kernel: Arc<Kernel>) {
    let parent = std::env::var("JPY_PARENT_PID").ok().and_then(|p| p.trim().parse::<i32>().ok());
    // PID 1 never goes away: an orphan is re-parented to it, so there is nothing to watch
    let Some(parent) = parent.filter(|&p| p > 1) else {
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if rustix::process::getppid().map(|p| p.as_raw_nonzero().get()) != Some(parent) {
                eprintln!(
                    "autograd-kernel: the process that started this kernel ({parent}) is gone; exiting"
                );
                kernel.session.kill_runtime();
                std::process::exit(0);
            }
        }
    });
}

async fn serve_heartbeat(mut socket: RepSocket) -> Result<()> {
    loop {
        let ping: ZmqMessage = socket.recv().await?;
        socket.send(ping).await?;
    }
}

/// Runs the kernel until shutdown.
pub async fn run(info: ConnectionInfo, environment: &'static Environment) -> Result<()> {
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
    let session = Session::start(environment, move |event| events.push(event));
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

    watch_parent(kernel.clone());

    let _stdin = stdin; // input requests are not supported; the socket stays bound
    tokio::spawn(serve_heartbeat(heartbeat));
    tokio::spawn(serve_router(kernel.clone(), control, "control"));
    serve_router(kernel, shell, "shell").await
}
