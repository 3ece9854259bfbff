#!/usr/bin/env bash
# One command from a fresh clone to a working "Rust (autograd)" kernel in JupyterLab.
#
#   ./install.sh                 build the kernel, install the kernelspec, prebuild autograd-core
#   ./install.sh --lab           ... then start JupyterLab on notebooks/
#   ./install.sh --prefix DIR    install the kernelspec into DIR (a virtualenv) instead
#
# Safe to re-run: builds are incremental and existing environments are reused.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(pwd)

lab=0
prefix=""
while [ $# -gt 0 ]; do
  case "$1" in
    --lab) lab=1 ;;
    --prefix) prefix="$2"; shift ;;
    --prefix=*) prefix="${1#--prefix=}" ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

command -v cargo >/dev/null 2>&1 || {
  echo "install.sh: cargo (Rust) is needed but not found. Install Rust with your package manager or rustup, then re-run." >&2
  exit 1
}
rust_minor=$(rustc --version 2>/dev/null | sed -n 's/^rustc 1\.\([0-9]*\).*/\1/p')
if [ -n "$rust_minor" ] && [ "$rust_minor" -lt 95 ]; then
  echo "install.sh: Rust 1.95 or newer is needed (found $(rustc --version)); update your toolchain (e.g. rustup update) and re-run." >&2
  exit 1
fi
# evcxr's rust-analyzer reads std's sources to know the type of every variable a cell defines
if [ ! -f "$(rustc --print sysroot)/lib/rustlib/src/rust/library/core/src/lib.rs" ]; then
  echo "install.sh: the Rust standard library's sources (rust-src) are missing; the kernel needs them to keep variables from cell to cell. Install them (rustup: 'rustup component add rust-src'; Debian: 'apt-get install rust-src') and re-run." >&2
  exit 1
fi
command -v python3 >/dev/null 2>&1 || {
  echo "install.sh: python3 is needed (for Jupyter) but not found. Install Python 3.9+ and re-run." >&2
  exit 1
}

# One build directory per machine, reused by every run (a cold build takes minutes).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/autograd-kernel/target}"

say "Building the kernel (release)"
cargo build --release -p autograd-kernel
# The build directory is shared by every checkout on this machine: the kernelspec points at
# this checkout's own copy of the binary, and at this checkout's autograd-core sources.
mkdir -p "$repo/.kernel"
cp -f "$CARGO_TARGET_DIR/release/autograd-kernel" "$repo/.kernel/autograd-kernel.new"
mv -f "$repo/.kernel/autograd-kernel.new" "$repo/.kernel/autograd-kernel"
kernel="$repo/.kernel/autograd-kernel"
export AUTOGRAD_CORE_PATH="$repo/autograd-core"

# Which Jupyter? An explicit --prefix, else the one on PATH, else a local .venv with JupyterLab.
jupyter=""
if [ -z "$prefix" ]; then
  if command -v jupyter >/dev/null 2>&1 && jupyter lab --version >/dev/null 2>&1; then
    jupyter=$(command -v jupyter)
  else
    prefix="$repo/.venv"
  fi
fi
if [ -n "$prefix" ]; then
  if [ ! -x "$prefix/bin/jupyter-lab" ]; then
    say "Creating $prefix with JupyterLab"
    [ -x "$prefix/bin/python" ] || python3 -m venv "$prefix"
    "$prefix/bin/pip" install --quiet --upgrade pip
    "$prefix/bin/pip" install --quiet jupyterlab
  fi
  jupyter="$prefix/bin/jupyter"
fi

say "Installing the kernelspec rust-autograd"
if [ -n "$prefix" ]; then
  "$kernel" install --prefix "$prefix" --core-path "$repo/autograd-core"
else
  "$kernel" install --core-path "$repo/autograd-core"
fi

say "Prebuilding autograd-core for the kernel (first time: a minute or two)"
"$kernel" prebuild

say "Done. Kernel: Rust (autograd)"
if [ "$lab" = 1 ]; then
  exec "$jupyter" lab "$repo/notebooks"
else
  echo "Start JupyterLab with: $jupyter lab $repo/notebooks"
fi
