//! The few C library functions the engine calls, declared here (their C signatures, the same
//! on every Linux C library we build for) instead of through the `libc` crate: the notebook
//! kernel's analyser reads every crate the engine depends on and keeps what it learns for
//! the whole session, and `libc`'s thousands of declarations cost each student's kernel
//! 17 MiB (measured with bench/kernel_memory.py).

use std::ffi::{c_char, c_int};

unsafe extern "C" {
    /// The value of an environment variable, or null.
    pub fn getenv(name: *const c_char) -> *mut c_char;
    /// Sets an environment variable; keeps an existing one when `overwrite` is 0.
    pub fn setenv(name: *const c_char, value: *const c_char, overwrite: c_int) -> c_int;
    /// Installs `handler` for `signum` with BSD semantics (glibc and musl: `SA_RESTART`, the
    /// handler stays installed, the signal is blocked while it runs).
    pub fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
    /// The calling thread's kernel id.
    pub fn gettid() -> i32;
    /// Sets a parameter of glibc's allocator.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    pub fn mallopt(param: c_int, value: c_int) -> c_int;
}

/// Interrupt from the keyboard (Ctrl-C; what Jupyter's interrupt sends).
pub const SIGINT: c_int = 2;
/// `mallopt`: how much free memory at the top of the heap glibc keeps before trimming it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub const M_TRIM_THRESHOLD: c_int = -1;
/// `mallopt`: the size from which glibc serves a block with its own `mmap`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub const M_MMAP_THRESHOLD: c_int = -3;
