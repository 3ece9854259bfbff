#!/usr/bin/env python3
"""Writes the fuzzer's seed inputs (seeds/wire/): one message of each type the kernel reads,
in the input format of autograd_kernel::fuzzing (a mode byte, then the frames separated by
FF FF). Mode 1: signed with the fuzz key by the target; 2: a kernel without a key; 0: the
signature as written here (a bad one)."""
import json
import pathlib

SEP = b"\xff\xff"
OUT = pathlib.Path(__file__).resolve().parent / "seeds" / "wire"


def message(msg_type, content, mode=1, identities=(b"\x00\x80\x00\x00\x29",), buffers=(), parent=None):
    header = {"msg_id": "6a5e-1", "session": "s-1", "username": "u", "date": "2026-11-30T00:00:00.000000Z",
              "msg_type": msg_type, "version": "5.3"}
    frames = list(identities) + [b"<IDS|MSG>", b"0" * 64] + [
        json.dumps(x).encode() for x in (header, parent or {}, {}, content)] + list(buffers)
    return bytes([mode]) + SEP.join(frames)


SEEDS = {
    "kernel_info": message("kernel_info_request", {}),
    "execute": message("execute_request", {"code": "let x = ones(&[2, 2]);\nx", "silent": False,
                                           "store_history": True, "user_expressions": {},
                                           "allow_stdin": True, "stop_on_error": True}),
    "execute_silent": message("execute_request", {"code": "1", "silent": True, "stop_on_error": False}, mode=2),
    "execute_unicode": message("execute_request", {"code": "let s = \"é€𝄞\";"}),
    "complete": message("complete_request", {"code": "let é = ones(&[2]);\né.su", "cursor_pos": 24}),
    "complete_no_cursor": message("complete_request", {"code": "x.gr€"}),
    "inspect": message("inspect_request", {"code": "ones(&[2]).sum()", "cursor_pos": 12, "detail_level": 0}),
    "is_complete": message("is_complete_request", {"code": "for i in 0..3 {"}),
    "history": message("history_request", {"output": True, "raw": True, "hist_access_type": "tail", "n": 2}),
    "comm_info": message("comm_info_request", {"target_name": "jupyter.widget"}),
    "comm_open": message("comm_open", {"comm_id": "c1", "target_name": "t", "data": {}}),
    "comm_msg": message("comm_msg", {"comm_id": "c1", "data": {"x": [1, 2.5, None]}}),
    "interrupt": message("interrupt_request", {}, identities=()),
    "shutdown": message("shutdown_request", {"restart": True}),
    "buffers": message("comm_msg", {"comm_id": "c1", "data": {}}, buffers=(b"\x00\x01\x02", b"")),
    "two_identities": message("kernel_info_request", {}, identities=(b"a", b"b")),
    "bad_signature": message("kernel_info_request", {}, mode=0),
    "parent": message("execute_request", {"code": "2"}, parent={"msg_id": "p", "msg_type": "execute_request"}),
    "unknown": message("debug_request", {"command": "initialize"}),
}

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in SEEDS.items():
        (OUT / name).write_bytes(data)
    print(f"{len(SEEDS)} seeds in {OUT}")
