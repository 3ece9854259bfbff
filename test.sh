#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace (unit, integration and doc tests).
# CI calls this same script through .ci/run.
set -euo pipefail
cd "$(dirname "$0")"

# Reuse one build directory across runs on this machine (a cold build takes minutes);
# override with CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/autograd-kernel/target}"

echo "== cargo test (workspace) =="
cargo test --workspace --all-targets
cargo test --workspace --doc
