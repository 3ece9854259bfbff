//! The checks `kernel/fuzz` runs on random input, here so that the kernel's own `cargo test`
//! replays every input the fuzzer found (`kernel/fuzz/regressions/`) and its seeds without
//! nightly or libFuzzer.
//!
//! An input is one message as the shell or control socket hands it over: a mode byte, then
//! its frames separated by `FF FF` (bytes that valid JSON never holds). The mode's bit 0 signs
//! the message with [`KEY`] (the fuzzer cannot forge HMACs, and must get past the check to
//! reach the parsing behind it), bit 1 makes the kernel keyless (no signature checked), and
//! bits 2-7 say how far before the cursor the analyser's completion starts (the analyser's
//! offsets are not ours to trust).

use serde_json::{json, Value};

use crate::protocol::{self, HistoryEntry, Request};
use crate::wire::{Message, Signer, DELIMITER};

/// The connection key of the fuzzed kernel.
pub const KEY: &str = "fuzz-key";

/// The frames separator of an input.
pub const SEPARATOR: &[u8] = b"\xff\xff";

/// An input's frames.
pub fn split_frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while let Some(at) = rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
        frames.push(rest[..at].to_vec());
        rest = &rest[at + SEPARATOR.len()..];
    }
    frames.push(rest.to_vec());
    frames
}

/// Puts the right signature after the delimiter (when there are four parts to sign).
fn sign_in_place(frames: &mut [Vec<u8>], signer: &Signer) {
    let Some(at) = frames.iter().position(|f| f.as_slice() == DELIMITER) else { return };
    if frames.len() < at + 6 {
        return;
    }
    let parts: Vec<&[u8]> = frames[at + 2..at + 6].iter().map(Vec::as_slice).collect();
    let signature = signer.sign(&parts).into_bytes();
    frames[at + 1] = signature;
}

/// Runs one input through the wire and the protocol; panics when a check fails.
pub fn wire(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut frames = split_frames(rest);
    let keyed = Signer::new(KEY);
    if mode & 1 != 0 {
        sign_in_place(&mut frames, &keyed);
    }
    let signer = if mode & 2 != 0 { Signer::new("") } else { keyed };
    let Ok(msg) = Message::decode(frames.clone(), &signer) else { return };

    // what was accepted is what was sent
    let at = frames.iter().position(|f| f.as_slice() == DELIMITER).expect("accepted without a delimiter");
    assert_eq!(msg.identities, frames[..at], "identities");
    assert_eq!(msg.buffers, frames[at + 6..], "buffers");
    assert!(msg.header.is_object() && msg.header["msg_type"].is_string(), "header");

    let request = Request::of(&msg);
    let analyser_start_before_cursor = usize::from(mode >> 2);
    let reply = reply(&request, &msg, analyser_start_before_cursor);

    // everything the kernel sends back for this message decodes, signed with the same key
    let mut sent = vec![Message::broadcast(&msg, "status", json!({ "execution_state": "busy" }))];
    if let Some((reply_type, content)) = reply {
        sent.push(Message::child(&msg, &reply_type, content));
    }
    if let Request::CommOpen { comm_id } = &request {
        sent.push(Message::broadcast(&msg, "comm_close", json!({ "comm_id": comm_id, "data": {} })));
    }
    if request.stops_on_error() {
        sent.push(Message::child(&msg, "execute_reply", json!({ "status": "aborted" })));
    }
    for message in sent {
        let decoded =
            Message::decode(message.encode(&signer), &signer).expect("the kernel's own message decodes");
        assert_eq!(decoded.identities, message.identities);
        assert_eq!(decoded.msg_type(), message.msg_type());
        assert_eq!(decoded.parent_header["msg_type"], msg.header["msg_type"]);
        assert_eq!(decoded.header["session"], message.header["session"]);
    }
}

/// The reply a request gets, built as its handler builds it; where the handler asks evcxr,
/// with an answer made up from the request.
fn reply(request: &Request, msg: &Message, analyser_start_before_cursor: usize) -> Option<(String, Value)> {
    let reply = |t: &str, v: Value| Some((format!("{t}_reply"), v));
    match request {
        Request::KernelInfo => reply("kernel_info", protocol::kernel_info()),
        Request::Execute(execute) => {
            assert_eq!(execute.code, msg.content["code"].as_str().unwrap_or(""));
            assert!(!(execute.silent && execute.store_history), "a silent cell is not counted");
            let failed = protocol::execute_error("Error".into(), execute.code.clone(), vec![], 1);
            assert_eq!(protocol::error_message(&failed)["evalue"], json!(execute.code));
            assert_eq!(request.aborts_queue(&failed), execute.stop_on_error && !execute.silent);
            assert!(!request.aborts_queue(&json!({ "status": "ok" })));
            reply("execute", failed)
        }
        Request::Complete { code, cursor_pos } => {
            let byte = protocol::byte_offset(code, *cursor_pos);
            assert!(code.is_char_boundary(byte), "cursor {cursor_pos} → byte {byte}");
            let start = byte.saturating_sub(analyser_start_before_cursor);
            let content = protocol::complete_reply(code, std::slice::from_ref(code), start, byte);
            let (cursor_start, cursor_end) = (&content["cursor_start"], &content["cursor_end"]);
            let chars = code.chars().count() as u64;
            assert!(cursor_start.as_u64() <= cursor_end.as_u64() && cursor_end.as_u64() <= Some(chars));
            reply("complete", content)
        }
        Request::Inspect { code, cursor_pos } => {
            let byte = protocol::byte_offset(code, *cursor_pos);
            assert!(code.is_char_boundary(byte), "cursor {cursor_pos} → byte {byte}");
            // the analyser finds nothing in an empty cell
            let found = (!code.is_empty()).then(|| (&code[..byte], &code[byte..]));
            let content = protocol::inspect_reply(found);
            assert_eq!(content["found"], json!(found.is_some()));
            reply("inspect", content)
        }
        Request::IsComplete { code } => {
            let content = protocol::is_complete_reply(code);
            assert!(["complete", "incomplete", "invalid"].contains(&content["status"].as_str().unwrap_or("")));
            reply("is_complete", content)
        }
        Request::History { n, output } => {
            let history: Vec<HistoryEntry> = (1..=3).map(|k| (k, format!("cell {k}"), None)).collect();
            let content = protocol::history_reply(&history, *n, *output);
            let expected = n.unwrap_or(history.len()).min(history.len());
            assert_eq!(content["history"].as_array().map(Vec::len), Some(expected));
            reply("history", content)
        }
        Request::CommInfo => reply("comm_info", json!({ "status": "ok", "comms": {} })),
        Request::Interrupt => reply("interrupt", json!({ "status": "ok" })),
        Request::Shutdown { restart } => reply("shutdown", json!({ "status": "ok", "restart": restart })),
        Request::CommOpen { .. } | Request::CommMsg | Request::CommClose | Request::Unknown(_) => None,
    }
}

/// One input, as [`wire`] reads it: the mode byte and the frames.
pub fn input(mode: u8, frames: &[&[u8]]) -> Vec<u8> {
    let mut data = vec![mode];
    for (k, frame) in frames.iter().enumerate() {
        if k > 0 {
            data.extend_from_slice(SEPARATOR);
        }
        data.extend_from_slice(frame);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every input in `kernel/fuzz/<dir>/wire/` (not its README).
    fn inputs(dir: &str) -> Vec<(String, Vec<u8>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(dir).join("wire");
        let mut found: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| !path.ends_with("README.md"))
            .map(|path| (path.display().to_string(), std::fs::read(&path).unwrap()))
            .collect();
        found.sort();
        found
    }

    #[test]
    fn the_fuzzers_seeds_pass_the_checks() {
        let seeds = inputs("seeds");
        assert!(seeds.len() >= 10, "{} seeds", seeds.len());
        for (name, data) in seeds {
            eprintln!("{name}");
            wire(&data);
        }
    }

    #[test]
    fn what_the_fuzzer_found_stays_fixed() {
        for (name, data) in inputs("regressions") {
            eprintln!("{name}");
            wire(&data);
        }
    }

    #[test]
    fn inputs_split_into_frames_at_ff_ff() {
        let data = input(3, &[b"id", DELIMITER, b"", b"{}"]);
        assert_eq!(
            split_frames(&data[1..]),
            vec![b"id".to_vec(), DELIMITER.to_vec(), vec![], b"{}".to_vec()]
        );
        assert_eq!(split_frames(b""), vec![Vec::<u8>::new()]);
    }

    #[test]
    fn a_signed_input_gets_past_the_signature_check() {
        let header = br#"{"msg_type":"kernel_info_request","msg_id":"1","session":"s"}"#;
        let frames: [&[u8]; 6] = [b"id", DELIMITER, b"not a signature", header, b"{}", b"{}"];
        let mut signed = frames.iter().map(|f| f.to_vec()).collect::<Vec<_>>();
        signed.push(b"{}".to_vec());
        sign_in_place(&mut signed, &Signer::new(KEY));
        assert!(Message::decode(signed, &Signer::new(KEY)).is_ok());
    }
}
