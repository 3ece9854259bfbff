#!/usr/bin/env bash
# Runs every test of the project. CI calls this same script through .ci/run.
#   0. formatting (`cargo fmt --check`) and lints (`cargo clippy --all-targets -D warnings`);
#   1. autograd-core: unit, integration (PyTorch conformance, semantics, gradcheck, shared
#      state across two copies) and doc tests, with MKL's vector math from PyPI (as torch runs
#      it; tools/mkl.sh) and the transcendental and differential ones again without;
#   2. the kernel: Rust unit tests (signing, framing, malformed input, and every input the
#      wire fuzzer found, replayed from kernel/fuzz/regressions/; the fuzzer itself needs
#      nightly: kernel/fuzz/run.sh);
#   3. the kernel under real Jupyter clients: jupyter_kernel_test and jupyter_client tests;
#   4. the notebooks: checked against PyTorch's reference outputs and re-executed with nbclient;
#   5. the browser: every notebook opened in real JupyterLab in Debian's Chromium (Playwright),
#      untrusted as saved and after Run All; screenshots in tests/browser/artifacts/.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(pwd)

# Reuse one build directory across runs on this machine (a cold build takes many minutes);
# override with CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/autograd-kernel/target}"

# the kernel tests need std's sources (rust-src), as install.sh does
. "$repo/tools/rust_src.sh"
ensure_rust_src test.sh || exit 1
# the kernel's build, with evcxr's analyser set up as tools/evcxr_roots.py describes
. "$repo/tools/kernel_build.sh"

echo "== formatting and lints =="
# rustfmt.toml is the one formatting; clippy's warnings are errors, tests and benches included
cargo fmt --all -- --check
CARGO_INCREMENTAL=0 cargo clippy --workspace --all-targets -- -D warnings

# Python for the Jupyter tests (and pip for MKL below)
venv="$repo/.venv-test"
if [ ! -x "$venv/bin/pytest" ] || ! "$venv/bin/python" -c "import jupyter_kernel_test, jupyter_client, nbclient, jupyterlab" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet jupyter_client jupyter_kernel_test pytest nbclient nbformat jupyterlab
fi

# MKL's vector math, which torch's exp/log/sin/cos/tanh/sqrt run (tools/mkl.sh): the tests
# load it from here (`mkl_vml_loaded_where_asked` fails if it cannot be), and run the
# transcendental and differential tests once more without it (autograd-core's own algorithms)
echo "== MKL's vector math (PyPI's mkl) =="
. "$repo/tools/mkl.sh"
ensure_mkl "$HOME/.cache/autograd-kernel/mkl" "$venv/bin/python" test.sh
export AUTOGRAD_MKL="$HOME/.cache/autograd-kernel/mkl/lib"

# No incremental caches for the test builds: every checkout path (each CI clone) starts a new
# one, and they grew the shared directory by gigabytes per run.
echo "== autograd-core: cargo test =="
CARGO_INCREMENTAL=0 cargo test -p autograd-core --all-targets
CARGO_INCREMENTAL=0 cargo test -p autograd-core --doc
AUTOGRAD_MKL=off CARGO_INCREMENTAL=0 cargo test -p autograd-core --test transcendental --test mkl_sqrt --test differential

echo "== kernel: cargo test (release, sharing the kernel's build) =="
kernel_cargo test --profile release -p autograd-kernel
kernel_cargo build --release -p autograd-kernel

echo "== kernel under Jupyter clients =="
# The kernel keeps its build cache per machine; a separate one for tests keeps them
# independent of the user's kernels.
export AUTOGRAD_KERNEL_CACHE="${AUTOGRAD_KERNEL_CACHE:-$HOME/.cache/autograd-kernel/test-cache}"
# this checkout's engine, whichever checkout last built the shared kernel binary
export AUTOGRAD_CORE_PATH="$repo/autograd-core"
"$CARGO_TARGET_DIR/release/autograd-kernel" prebuild
(cd tests/kernel && "$venv/bin/pytest" -q -p no:cacheprovider test_build.py test_client.py test_kernel_spec.py)

echo "== notebooks: PyTorch's outputs and re-execution =="
(cd tests/notebooks && "$venv/bin/pytest" -q -p no:cacheprovider -s test_notebooks.py)

echo "== notebooks in JupyterLab, in headless Chromium =="
if ! command -v chromium >/dev/null 2>&1; then
  # Debian's Chromium (never a downloaded browser)
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null 2>&1; then sudo apt-get install -y -qq chromium >/dev/null
  else echo "test.sh: the browser test needs Debian's chromium: run 'apt-get install chromium' as root" >&2; exit 1
  fi
fi
# a Chinese font, so the screenshots of the (Chinese) notebooks are readable; optional
if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list :lang=zh 2>/dev/null)" ] && [ "$(id -u)" = 0 ]; then
  apt-get install -y -qq fonts-wqy-zenhei >/dev/null 2>&1 || echo "test.sh: no Chinese font installed; screenshots will show boxes for Chinese text" >&2
fi
(cd tests/browser && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --silent; } && JUPYTER_BIN="$venv/bin/jupyter" node lab_test.mjs)
