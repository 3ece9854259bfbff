//! Runs differential-test programs (`tools/difftest`) through autograd-core and prints what
//! each prints, exactly as the differential test compares it with PyTorch's output.
//!
//! ```text
//! cargo run -p autograd-core --example difftest_run -- program.json
//! ```
//!
//! `program.json` is one program (`{"stmts": [...]}`, e.g. an entry of
//! `tests/fixtures/difftest/programs.json`) or a list of them; with a list, each output is
//! preceded by `== <id>`. A program that uses an API this build lacks prints
//! `<unsupported: name>` at the point where it stopped. `tools/difftest/shrink.py` uses this.

#[path = "../tests/difftest/interp.rs"]
mod interp;

use interp::{quietly, run_program, Outcome};
use serde_json::Value;

fn run_one(program: &Value) -> String {
    let stmts = program["stmts"].as_array().expect("a program has \"stmts\": [...]");
    let outcome = quietly(|| run_program(stmts));
    let mut text = outcome.text();
    if let Outcome::Unsupported { what, .. } = &outcome {
        text.push_str(&format!("<unsupported: {what}>\n"));
    }
    text
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: difftest_run program.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    match &value {
        Value::Array(programs) => {
            for p in programs {
                println!("== {}", p["id"].as_str().unwrap_or("?"));
                print!("{}", run_one(p));
            }
        }
        program => print!("{}", run_one(program)),
    }
}
