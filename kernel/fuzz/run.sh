#!/usr/bin/env bash
# Fuzzes everything the kernel reads from a shell or control socket (fuzz_targets/wire.rs:
# frames, signature, JSON parts, buffers, routing to the handlers' arguments, the replies)
# with cargo fuzz (libFuzzer), for SECONDS (default 600), installing what it needs: a
# nightly toolchain and cargo-fuzz.
#
#   kernel/fuzz/run.sh [SECONDS]
#   FUZZ_TARGET_DIR  build directory (default kernel/fuzz/target)
#   FUZZ_JOBS        fuzzing processes in parallel (default 1)
#
# New inputs accumulate in corpus/wire/ (not committed). A failing input is saved in
# artifacts/wire/: copy it into regressions/wire/, where the kernel's `cargo test` replays it
# (src/fuzzing.rs), fix the kernel, and run again.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
jobs="${FUZZ_JOBS:-1}"

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/target}"
mkdir -p corpus/wire artifacts/wire

# No sanitizer: the code under test is safe Rust (the sanitizer would halve the speed);
# debug assertions and overflow checks on. An allocation over 256 MB from an input of at
# most 8 KB is reported as a finding (unbounded allocation), as is an input that takes 10 s.
# The corpus directories after the first are read-only seeds.
args=(-max_total_time="$seconds" -dict=wire.dict -max_len=8192 -timeout=10 -rss_limit_mb=2048
  -malloc_limit_mb=256 -print_final_stats=1)
# (with -jobs, libFuzzer writes each process's log to fuzz-N.log)
if [ "$jobs" -gt 1 ]; then args+=(-jobs="$jobs" -workers="$jobs"); fi
cargo +nightly fuzz run --sanitizer none --debug-assertions wire corpus/wire seeds/wire regressions/wire -- "${args[@]}"
