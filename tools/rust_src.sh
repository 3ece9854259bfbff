# Sourced by install.sh and test.sh: makes sure the Rust toolchain has the standard library's
# sources (the `rust-src` component). evcxr's rust-analyzer reads them to know the type of every
# variable a cell defines; without them a cell like `let (a, b) = (n, w.clone());` fails with
# "Couldn't automatically determine type of variable". rustup adds them (from Rust's own
# distribution server); a toolchain without rustup needs its package manager.
has_rust_src() { [ -f "$(rustc --print sysroot)/lib/rustlib/src/rust/library/core/src/lib.rs" ]; }

ensure_rust_src() {
  if ! has_rust_src && command -v rustup >/dev/null 2>&1; then
    printf '\033[1m==> %s\033[0m\n' "Adding the standard library's sources (rustup component add rust-src): the kernel reads them to keep variables' types from cell to cell"
    rustup component add rust-src
  fi
  if ! has_rust_src; then
    echo "$1: the Rust standard library's sources (rust-src) are missing; the kernel needs them to keep variables from cell to cell. Install them (rustup: 'rustup component add rust-src'; Debian: 'apt-get install rust-src') and re-run." >&2
    return 1
  fi
}
