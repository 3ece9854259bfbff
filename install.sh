#!/usr/bin/env bash
# One command from a fresh clone to a working "Rust (autograd)" kernel in JupyterLab.
#
#   ./install.sh                 build the kernel, install the kernelspec, prebuild autograd-core
#   ./install.sh --lab           ... then start JupyterLab on notebooks/
#   ./install.sh --prefix DIR    install the kernelspec into DIR (a virtualenv) instead
#   ./install.sh --system        (as root) one install for every user of this machine, e.g. a
#                                class on JupyterHub: kernel, toolchain, vendored sources and the
#                                prebuilt engine read-only under /opt/autograd-kernel (--system-dir
#                                DIR), the kernelspec in /usr/local/share/jupyter (--prefix DIR)
#
# Safe to re-run: builds are incremental and existing environments are reused.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(pwd)

lab=0
system=0
prefix=""
system_dir=/opt/autograd-kernel
while [ $# -gt 0 ]; do
  case "$1" in
    --lab) lab=1 ;;
    --system) system=1 ;;
    --system-dir) system_dir="$2"; shift ;;
    --system-dir=*) system_dir="${1#--system-dir=}" ;;
    --prefix) prefix="$2"; shift ;;
    --prefix=*) prefix="${1#--prefix=}" ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
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
. "$repo/tools/rust_src.sh"
ensure_rust_src install.sh || exit 1
command -v cc >/dev/null 2>&1 || {
  echo "install.sh: a C linker (cc) is needed to link Rust code but not found. Install it (Debian/Ubuntu: 'apt-get install gcc') and re-run." >&2
  exit 1
}
command -v python3 >/dev/null 2>&1 || {
  echo "install.sh: python3 is needed (for Jupyter) but not found. Install Python 3.9+ (Debian/Ubuntu: 'apt-get install python3 python3-venv') and re-run." >&2
  exit 1
}
if [ "$system" = 1 ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: --system installs for every user of this machine and must run as root: sudo ./install.sh --system" >&2
  exit 1
fi

# One build directory per machine, reused by every run (a cold build takes minutes).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/autograd-kernel/target}"

say "Building the kernel (release)"
# with evcxr's analyser set up as tools/evcxr_roots.py describes (warm cells a quarter faster)
. "$repo/tools/kernel_build.sh"
kernel_cargo build --release -p autograd-kernel
. "$repo/tools/mkl.sh"

if [ "$system" = 1 ]; then
  # Everything every user's kernel needs, read-only under $system_dir (see kernel/src/system.rs).
  umask 022
  sys="$system_dir"
  mkdir -p "$sys/bin"
  say "Installing the kernel into $sys"
  install -m 755 "$CARGO_TARGET_DIR/release/autograd-kernel" "$sys/bin/autograd-kernel.new"
  mv -f "$sys/bin/autograd-kernel.new" "$sys/bin/autograd-kernel"
  say "Installing MKL's vector math (torch's own exp/log/sin/cos/tanh/sqrt) into $sys/mkl"
  ensure_mkl "$sys/mkl" "$(python_with_pip python3 || true)" install.sh || true

  # replaces $2 by $1 only when they differ: a re-run keeps the files (and their times, which
  # the prebuilt cache and every student's build compare) when nothing changed
  replace_if_changed() {
    if [ -d "$2" ] && diff -rq "$1" "$2" >/dev/null 2>&1; then rm -rf "$1"; else rm -rf "$2.old"; [ ! -e "$2" ] || mv "$2" "$2.old"; mv "$1" "$2"; rm -rf "$2.old"; fi
  }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # autograd-core as a crate of its own (workspace settings written out), and the sources of
  # its dependencies, so no student's kernel needs the registry or the admin's ~/.cargo
  say "Installing autograd-core's sources and its vendored dependencies"
  CARGO_TARGET_DIR="$work/package" cargo package -p autograd-core --no-verify --allow-dirty --quiet
  mkdir -p "$work/core"
  tar -xzf "$work"/package/package/autograd-core-*.crate -C "$work/core" --strip-components=1 --no-same-owner
  cp Cargo.lock "$work/core/Cargo.lock"
  (cd "$work/core" && cargo vendor --quiet --versioned-dirs "$work/vendor" >/dev/null)
  rm -f "$work/core/Cargo.lock"
  replace_if_changed "$work/core" "$sys/autograd-core"
  replace_if_changed "$work/vendor" "$sys/vendor"

  # the compiler: rustup keeps it in root's home, which students cannot read
  sysroot=$(rustc --print sysroot)
  case "$sysroot" in
    # a distribution's toolchain (sysroot /usr) is every user's already; rustup's (in root's home,
    # or /usr/local/rustup in the rust container images) is copied so the install is self-contained
    /usr|/usr/local) say "Toolchain: $sysroot (readable by every user already)"; rm -rf "$sys/toolchain" ;;
    *)
      if [ ! -x "$sys/toolchain/bin/rustc" ] || [ "$("$sys/toolchain/bin/rustc" -vV)" != "$(rustc -vV)" ]; then
        say "Installing the toolchain ($(rustc --version)) into $sys/toolchain"
        rm -rf "$sys/toolchain.new"
        # hard links where possible: no second copy on disk; rustup replaces files on update
        # rather than writing into them, so this toolchain stays as it is
        cp -al "$sysroot" "$sys/toolchain.new" 2>/dev/null || { rm -rf "$sys/toolchain.new"; cp -a "$sysroot" "$sys/toolchain.new"; }
        rm -rf "$sys/toolchain"
        mv "$sys/toolchain.new" "$sys/toolchain"
      fi
      ;;
  esac

  say "Prebuilding autograd-core into the shared cache (first time: a few minutes)"
  AUTOGRAD_KERNEL_SYSTEM="$sys" AUTOGRAD_KERNEL_CACHE="$sys/cache" AUTOGRAD_CORE_PATH="$sys/autograd-core" \
    "$sys/bin/autograd-kernel" prebuild
  # the prebuild's own slot lock and link are its own; what students read must not be writable
  chmod -R a+rX,go-w "$sys"

  say "Installing the kernelspec rust-autograd for every user"
  "$sys/bin/autograd-kernel" install --prefix "${prefix:-/usr/local}" --core-path "$sys/autograd-core" --system-root "$sys"
  spec_dir="${prefix:-/usr/local}/share/jupyter/kernels/rust-autograd"
  chmod -R a+rX,go-w "$spec_dir"
  writable=$(find "$sys" "$spec_dir" -perm -0002 ! -type l -print -quit)
  if [ -n "$writable" ]; then
    echo "install.sh: $writable is writable by every user; refusing to leave the install like this" >&2
    exit 1
  fi
  say "Done. Kernel: Rust (autograd), for every user ($(du -sh "$sys" | cut -f1) in $sys)"
  echo "Each user's first kernel links the prebuilt engine from $sys/cache into ~/.cache/autograd-kernel."
  exit 0
fi
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

say "Installing MKL's vector math (torch's own exp/log/sin/cos/tanh/sqrt)"
ensure_mkl "$HOME/.cache/autograd-kernel/mkl" "$(python_with_pip "${prefix:+$prefix/bin/python}" python3 || true)" install.sh || true

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
