//! From a decoded message to its handler's typed arguments, and the reply contents that need
//! no evcxr: pure functions of what came over the wire, which `kernel/fuzz` drives with random
//! input. `server` does the talking (sockets, the session, iopub) around them.

use serde_json::{json, Value};

use crate::wire::{Message, PROTOCOL_VERSION};

/// A shell or control request, with the fields its handler uses (defaults as ipykernel's for
/// missing or mistyped ones).
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    KernelInfo,
    Execute(Execute),
    /// `cursor_pos` counts characters (Unicode code points), as the spec says.
    Complete {
        code: String,
        cursor_pos: usize,
    },
    Inspect {
        code: String,
        cursor_pos: usize,
    },
    IsComplete {
        code: String,
    },
    /// The last `n` cells (all when `None`), with their outputs when `output`.
    History {
        n: Option<usize>,
        output: bool,
    },
    CommInfo,
    CommOpen {
        comm_id: Value,
    },
    CommMsg,
    CommClose,
    Interrupt,
    Shutdown {
        restart: bool,
    },
    /// A message type the kernel does not handle: ignored, no reply.
    Unknown(String),
}

/// An `execute_request`'s fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Execute {
    pub code: String,
    pub silent: bool,
    /// Counted and kept in the history: `store_history` and not silent.
    pub store_history: bool,
    /// A failure stops the cells queued behind it (the default).
    pub stop_on_error: bool,
}

fn text(content: &Value, key: &str) -> String {
    content[key].as_str().unwrap_or("").to_string()
}

fn flag(content: &Value, key: &str, default: bool) -> bool {
    content[key].as_bool().unwrap_or(default)
}

fn count(content: &Value, key: &str) -> Option<usize> {
    content[key].as_u64().map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

impl Request {
    /// The request a message of `msg_type` with `content` asks for.
    pub fn parse(msg_type: &str, content: &Value) -> Request {
        match msg_type {
            "kernel_info_request" => Request::KernelInfo,
            "execute_request" => {
                let silent = flag(content, "silent", false);
                Request::Execute(Execute {
                    code: text(content, "code"),
                    silent,
                    store_history: flag(content, "store_history", true) && !silent,
                    stop_on_error: flag(content, "stop_on_error", true),
                })
            }
            "complete_request" => {
                let code = text(content, "code");
                // no cursor: at the end of the code
                let cursor_pos = count(content, "cursor_pos").unwrap_or_else(|| code.chars().count());
                Request::Complete { code, cursor_pos }
            }
            "inspect_request" => Request::Inspect {
                code: text(content, "code"),
                cursor_pos: count(content, "cursor_pos").unwrap_or(0),
            },
            "is_complete_request" => Request::IsComplete { code: text(content, "code") },
            "history_request" => {
                Request::History { n: count(content, "n"), output: flag(content, "output", false) }
            }
            "comm_info_request" => Request::CommInfo,
            "comm_open" => Request::CommOpen { comm_id: content["comm_id"].clone() },
            "comm_msg" => Request::CommMsg,
            "comm_close" => Request::CommClose,
            "interrupt_request" => Request::Interrupt,
            "shutdown_request" => Request::Shutdown { restart: flag(content, "restart", false) },
            other => Request::Unknown(other.to_string()),
        }
    }

    /// The request `msg` asks for.
    pub fn of(msg: &Message) -> Request {
        Request::parse(msg.msg_type(), &msg.content)
    }

    /// An execute request that asks for the queue to stop when it fails (the default).
    pub fn stops_on_error(&self) -> bool {
        matches!(self, Request::Execute(execute) if execute.stop_on_error)
    }

    /// Whether a reply with `content` to this request stops the requests queued behind it (a
    /// failed cell: error, compile error, interrupt; as ipykernel, not a silent one).
    pub fn aborts_queue(&self, content: &Value) -> bool {
        matches!(self, Request::Execute(execute) if execute.stop_on_error && !execute.silent)
            && content["status"] == "error"
    }
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
        "protocol_version": PROTOCOL_VERSION,
        "implementation": "autograd-kernel",
        "implementation_version": env!("CARGO_PKG_VERSION"),
        "language_info": language_info(),
        "banner": "Rust (autograd): PyTorch-style autograd in Rust, autograd-core preloaded",
        "help_links": [],
        "debugger": false,
    })
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

/// The `is_complete_reply` content for `code`.
pub fn is_complete_reply(code: &str) -> Value {
    let status = completeness(code);
    let mut body = json!({ "status": status });
    if status == "incomplete" {
        body["indent"] = json!("    ");
    }
    body
}

/// The byte offset of the character `cursor_chars` of `code` (its end when past it).
pub fn byte_offset(code: &str, cursor_chars: usize) -> usize {
    code.char_indices().nth(cursor_chars).map(|(i, _)| i).unwrap_or(code.len())
}

/// The character offset of byte `byte` of `code` (its end when past it; the character's own
/// offset when `byte` falls inside it). The analyser's offsets come from its own text, which
/// need not split the cell where we would.
pub fn char_offset(code: &str, byte: usize) -> usize {
    let mut end = byte.min(code.len());
    while !code.is_char_boundary(end) {
        end -= 1;
    }
    code[..end].chars().count()
}

/// The `complete_reply` content: `matches` replace the bytes `start..end` of `code` (the
/// analyser's answer), sent as character offsets.
pub fn complete_reply(code: &str, matches: &[String], start: usize, end: usize) -> Value {
    json!({
        "status": "ok",
        "matches": matches,
        "cursor_start": char_offset(code, start),
        "cursor_end": char_offset(code, end),
        "metadata": {},
    })
}

/// The `inspect_reply` content for what the analyser found: plain text, and HTML when there
/// is some (JupyterLab's tooltip shows the richest).
pub fn inspect_reply(found: Option<(&str, &str)>) -> Value {
    let data = match found {
        Some((plain, html)) if !html.trim().is_empty() => json!({ "text/plain": plain, "text/html": html }),
        Some((plain, _)) => json!({ "text/plain": plain }),
        None => json!({}),
    };
    json!({ "status": "ok", "found": found.is_some(), "data": data, "metadata": {} })
}

/// One cell of the history: `(execution_count, code, text of its result)`.
pub type HistoryEntry = (u32, String, Option<String>);

/// The `history_reply` content: the last `n` cells of `history` (all when `None`).
pub fn history_reply(history: &[HistoryEntry], n: Option<usize>, with_output: bool) -> Value {
    let n = n.unwrap_or(history.len());
    let items: Vec<Value> = history
        .iter()
        .rev()
        .take(n)
        .rev()
        .map(
            |(count, code, output)| {
                if with_output {
                    json!([0, count, [code, output]])
                } else {
                    json!([0, count, code])
                }
            },
        )
        .collect();
    json!({ "status": "ok", "history": items })
}

/// The `execute_reply` content of a cell that failed, which is also its iopub `error`
/// without `status` and `execution_count`.
pub fn execute_error(ename: String, evalue: String, traceback: Vec<String>, count: u32) -> Value {
    let traceback = if traceback.is_empty() { vec![format!("{ename}: {evalue}")] } else { traceback };
    json!({
        "status": "error",
        "ename": ename,
        "evalue": evalue,
        "traceback": traceback,
        "execution_count": count,
    })
}

/// The iopub `error` message content of a failed cell's reply.
pub fn error_message(reply: &Value) -> Value {
    json!({ "ename": reply["ename"], "evalue": reply["evalue"], "traceback": reply["traceback"] })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn missing_and_mistyped_fields_take_ipykernels_defaults() {
        let execute = Request::parse("execute_request", &json!({ "code": 5, "silent": "yes" }));
        assert_eq!(
            execute,
            Request::Execute(Execute {
                code: String::new(),
                silent: false,
                store_history: true,
                stop_on_error: true
            })
        );
        let silent = Request::parse("execute_request", &json!({ "code": "1", "silent": true }));
        assert!(matches!(&silent, Request::Execute(e) if !e.store_history));
        assert!(silent.stops_on_error() && !silent.aborts_queue(&json!({ "status": "error" })));
        assert!(execute.aborts_queue(&json!({ "status": "error" })));
        assert!(!execute.aborts_queue(&json!({ "status": "ok" })));
        // content that is not an object reads as all defaults
        assert_eq!(
            Request::parse("complete_request", &json!([1, 2])),
            Request::Complete { code: String::new(), cursor_pos: 0 }
        );
        assert_eq!(
            Request::parse("complete_request", &json!({ "code": "ab€" })),
            Request::Complete { code: "ab€".into(), cursor_pos: 3 }
        );
        assert_eq!(
            Request::parse("history_request", &json!({ "n": -1, "output": true })),
            Request::History { n: None, output: true }
        );
        assert_eq!(Request::parse("x", &Value::Null), Request::Unknown("x".into()));
        assert!(!Request::parse("kernel_info_request", &json!({ "stop_on_error": true })).stops_on_error());
    }

    /// Found by the fuzzer (kernel/fuzz/regressions/wire/complete-reply-offset-inside-a-character):
    /// an analyser offset inside `é` made the reply slice the cell there, and panic.
    #[test]
    fn offsets_inside_a_character_count_from_its_start() {
        let code = "let é = 1;\né.su";
        assert_eq!(char_offset(code, 4), 4);
        assert_eq!(char_offset(code, 5), 4, "inside é");
        assert_eq!(char_offset(code, 6), 5);
        assert_eq!(char_offset(code, 1000), code.chars().count());
        let reply = complete_reply(code, &["sum".into()], 13, 16);
        assert_eq!((reply["cursor_start"].as_u64(), reply["cursor_end"].as_u64()), (Some(11), Some(14)));
        assert_eq!(char_offset("𝄞", 3), 0);
    }

    #[test]
    fn history_keeps_the_last_n_cells() {
        let history: Vec<HistoryEntry> =
            (1..=3).map(|k| (k, format!("cell {k}"), Some(k.to_string()))).collect();
        assert_eq!(
            history_reply(&history, Some(2), false)["history"],
            json!([[0, 2, "cell 2"], [0, 3, "cell 3"]])
        );
        assert_eq!(history_reply(&history, None, true)["history"][0], json!([0, 1, ["cell 1", "1"]]));
        assert_eq!(history_reply(&history, Some(usize::MAX), false)["history"].as_array().unwrap().len(), 3);
    }
}
