#!/usr/bin/env bash
# Runs every test of the project. CI calls this same script through .ci/run.
#   1. autograd-core: unit, integration (PyTorch conformance, semantics, gradcheck, shared
#      state across two copies) and doc tests;
#   2. the kernel: Rust unit tests (signing, framing, malformed input);
#   3. the kernel under real Jupyter clients: jupyter_kernel_test and jupyter_client tests.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(pwd)

# Reuse one build directory across runs on this machine (a cold build takes many minutes);
# override with CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/autograd-kernel/target}"

echo "== autograd-core: cargo test =="
cargo test -p autograd-core --all-targets
cargo test -p autograd-core --doc

echo "== kernel: cargo test (release, sharing the kernel's build) =="
cargo test --profile release -p autograd-kernel
cargo build --release -p autograd-kernel

echo "== kernel under Jupyter clients =="
venv="$repo/.venv-test"
if [ ! -x "$venv/bin/pytest" ] || ! "$venv/bin/python" -c "import jupyter_kernel_test, jupyter_client" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet jupyter_client jupyter_kernel_test pytest
fi
# The kernel keeps its build cache per machine; a separate one for tests keeps them
# independent of the user's kernels.
export AUTOGRAD_KERNEL_CACHE="${AUTOGRAD_KERNEL_CACHE:-$HOME/.cache/autograd-kernel/test-cache}"
# this checkout's engine, whichever checkout last built the shared kernel binary
export AUTOGRAD_CORE_PATH="$repo/autograd-core"
"$CARGO_TARGET_DIR/release/autograd-kernel" prebuild
cd tests/kernel
"$venv/bin/pytest" -q -p no:cacheprovider test_client.py test_kernel_spec.py
