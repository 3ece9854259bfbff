//! The kernel process's memory (not the runtime's, where tensors come and go): what glibc's
//! allocator keeps after it is freed. Measured with `bench/kernel_memory.py` and the
//! JupyterHub test (tests/jupyterhub/run.sh), where memory per student is what sizes a server.

/// A client may send messages of tens of MB. glibc raises its mmap threshold after such a
/// buffer is freed and keeps the next ones in the heap, so the kernel's memory stayed ~110 MiB
/// higher after a few 30 MB messages. A fixed threshold gives every buffer over 4 MiB back
/// when it is dropped. Called at the start of `main`, before other threads start.
pub fn return_big_buffers_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before other threads start
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

/// Gives the pages freed since the last call back to the system. evcxr's rust-analyzer
/// allocates and frees a lot while it analyses a cell, and glibc keeps the freed pages in
/// its arenas: after start-up and a first cell the kernel held 386 MiB, 314 MiB after
/// `malloc_trim`. Called by the session thread when no request has come for a while after
/// a cell or an idle warm-up step (a few milliseconds nobody waits for, not even the next
/// cell of a Run All).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory; it is thread-safe in glibc
    unsafe {
        libc::malloc_trim(0);
    }
}
