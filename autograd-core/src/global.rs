//! The one process-wide home of global state: grad mode, the random generator, id counters.
//!
//! # Why not plain `static`s
//!
//! One process can hold several copies of this crate. The notebook kernel compiles every cell
//! into its own shared library; the cells normally share one `libautograd_core.so`, but the
//! kernel's runtime process is itself a program with a static copy (it installs the SIGINT
//! handler that stops a running cell), and a cell library built without `-Cprefer-dynamic`
//! links a static copy of its own. A `static` (or `thread_local!`) would then exist once per
//! copy: `manual_seed` in one would not affect `rand` in another, `set_grad_enabled(false)`
//! would be forgotten, and the interrupt flag set by the handler would never be seen.
//!
//! So every copy of the crate looks up one shared [`SharedState`] instead. The first copy to
//! run allocates it (and never frees it) and publishes its address in an environment
//! variable, because the environment is the one piece of process-wide state that every copy,
//! whatever libraries it was linked with, can reach through libc. Publishing uses
//! `setenv(.., overwrite = 0)`, which glibc performs under its own lock, so two copies racing
//! to create the state agree on one winner. The value also records the process id, so a child
//! process that inherits the variable creates its own state instead of trusting an address
//! from another address space.
//!
//! Each copy caches the pointer in its own `OnceLock`, and caches the per-thread part (grad
//! mode is per thread, as in PyTorch) in its own `thread_local!`, so the hot path is one
//! thread-local read and one atomic load.
//!
//! The variable name includes the crate version and a layout fingerprint: two *different*
//! versions of the crate never share (their structs need not agree); identical builds do.
//! Values (tensors, nodes) created by one copy work in another for the same reason: the
//! layout is identical and every allocation goes through the one system allocator.

use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::random::Generator;

/// Per-thread flags (PyTorch keeps grad mode per thread, too), and the thread's block of ids.
#[repr(C)]
pub(crate) struct ThreadState {
    pub grad_enabled: AtomicBool,
    /// The next id this thread hands out, and the end of its block (see [`next_id`]). Only
    /// the owning thread reads or writes them.
    next_id: AtomicU64,
    ids_end: AtomicU64,
}

/// State shared by every copy of this crate in the process.
#[repr(C)]
pub(crate) struct SharedState {
    magic: u64,
    size: usize,
    /// Ids for tensors and graph nodes; a node's id is also its sequence number.
    pub next_id: AtomicU64,
    /// The default CPU generator (`manual_seed`, `rand`, `randn`, `randint`).
    pub generator: Mutex<Generator>,
    /// Per-OS-thread state, keyed by the kernel thread id.
    threads: Mutex<HashMap<u64, &'static ThreadState>>,
    /// "Warn once" flags, e.g. for reading `.grad` of a non-leaf.
    pub warned_nonleaf_grad: AtomicBool,
    /// Set by SIGINT (the notebook's interrupt button): the next tensor op stops the cell.
    pub interrupt_requested: AtomicBool,
    /// Set once any tensor was given data of another shape or dtype (`x.data = v`): from then
    /// on a graph's saved tensors may have changed, and the engine holds every gradient it
    /// sends to what its node was made with, as torch's `validate_outputs` does
    /// (`engine::held_to_made_as`).
    pub data_changed: AtomicBool,
}

const MAGIC: u64 = 0x4155_544f_4752_4144; // "AUTOGRAD"

fn var_name() -> CString {
    let name = format!(
        "AUTOGRAD_CORE_STATE_{}_{}_{}",
        env!("CARGO_PKG_VERSION").replace(['.', '-'], "_"),
        std::mem::size_of::<SharedState>(),
        std::mem::size_of::<ThreadState>()
    );
    CString::new(name).expect("no NUL in the variable name")
}

fn parse_value(value: &CStr) -> Option<(u32, usize)> {
    let text = value.to_str().ok()?;
    let (pid, addr) = text.split_once(':')?;
    Some((pid.parse().ok()?, usize::from_str_radix(addr, 16).ok()?))
}

fn read_published(name: &CStr) -> Option<&'static SharedState> {
    // SAFETY: getenv returns either null or a NUL-terminated string owned by libc.
    let raw = unsafe { crate::sys::getenv(name.as_ptr()) };
    if raw.is_null() {
        return None;
    }
    let (pid, addr) = parse_value(unsafe { CStr::from_ptr(raw) })?;
    if pid != std::process::id() || addr == 0 {
        return None;
    }
    // SAFETY: the address was published by a copy of this exact crate version and layout in
    // this very process (checked by the pid), and the state is leaked, so it lives forever.
    let state = unsafe { &*(addr as *const SharedState) };
    assert!(
        state.magic == MAGIC && state.size == std::mem::size_of::<SharedState>(),
        "autograd-core: shared state at {addr:#x} has an unexpected layout"
    );
    Some(state)
}

fn create_and_publish(name: &CStr) -> &'static SharedState {
    let state: &'static SharedState = Box::leak(Box::new(SharedState {
        magic: MAGIC,
        size: std::mem::size_of::<SharedState>(),
        next_id: AtomicU64::new(1),
        generator: Mutex::new(Generator::from_entropy()),
        threads: Mutex::new(HashMap::new()),
        warned_nonleaf_grad: AtomicBool::new(false),
        interrupt_requested: AtomicBool::new(false),
        data_changed: AtomicBool::new(false),
    }));
    let value = CString::new(format!("{}:{:x}", std::process::id(), state as *const SharedState as usize))
        .expect("no NUL in the value");
    // A stale value inherited from a parent process must be replaced; otherwise the first
    // writer wins and everybody (including us) uses its state.
    let stale = unsafe { !crate::sys::getenv(name.as_ptr()).is_null() } && read_published(name).is_none();
    unsafe { crate::sys::setenv(name.as_ptr(), value.as_ptr(), if stale { 1 } else { 0 }) };
    // Whoever won, use what is published now. Our own allocation, if it lost, stays leaked:
    // it is a few hundred bytes, once per process.
    read_published(name).unwrap_or(state)
}

/// The process-wide shared state.
pub(crate) fn shared() -> &'static SharedState {
    static CACHED: OnceLock<&'static SharedState> = OnceLock::new();
    CACHED.get_or_init(|| {
        let name = var_name();
        read_published(&name).unwrap_or_else(|| create_and_publish(&name))
    })
}

fn os_thread_id() -> u64 {
    // SAFETY: gettid has no preconditions.
    unsafe { crate::sys::gettid() as u64 }
}

struct ResetOnExit;

impl Drop for ResetOnExit {
    fn drop(&mut self) {
        if let Ok(threads) = shared().threads.lock() {
            if let Some(state) = threads.get(&os_thread_id()) {
                state.grad_enabled.store(true, Ordering::Relaxed);
            }
        }
    }
}

thread_local! {
    static RESET_ON_EXIT: ResetOnExit = const { ResetOnExit };
}

thread_local! {
    /// This copy's cached pointer to the thread's [`ThreadState`].
    static THREAD_STATE: Cell<Option<&'static ThreadState>> = const { Cell::new(None) };
}

/// This thread's state, shared by every copy of the crate running on this thread. Inlined:
/// after the thread's first call it is one thread-local read (grad mode and ids ask for it
/// on every op).
#[inline]
pub(crate) fn thread() -> &'static ThreadState {
    match THREAD_STATE.get() {
        Some(state) => state,
        None => register_thread(),
    }
}

/// The thread's state looked up (or made) in the shared table, and cached for this copy.
#[cold]
#[inline(never)]
fn register_thread() -> &'static ThreadState {
    let mut threads = shared().threads.lock().unwrap_or_else(|e| e.into_inner());
    let state = *threads.entry(os_thread_id()).or_insert_with(|| {
        Box::leak(Box::new(ThreadState {
            grad_enabled: AtomicBool::new(true),
            next_id: AtomicU64::new(0),
            ids_end: AtomicU64::new(0),
        }))
    });
    THREAD_STATE.set(Some(state));
    // The kernel reuses thread ids; a new thread must start with PyTorch's defaults.
    RESET_ON_EXIT.with(|_| {});
    state
}

/// Ids a thread takes from the process-wide counter at a time.
const ID_BLOCK: u64 = 1 << 16;

/// A fresh process-wide id (tensors and graph nodes): unique in the process, and increasing
/// on each thread, as PyTorch's sequence numbers are (they are per thread, too). Each thread
/// hands out ids from a block it takes from the shared counter: an atomic add for every
/// tensor and node was 2 % of a small gradient-descent step (`perf` on `small_gd`).
#[inline]
pub(crate) fn next_id() -> u64 {
    let state = thread();
    let id = state.next_id.load(Ordering::Relaxed);
    if id < state.ids_end.load(Ordering::Relaxed) {
        state.next_id.store(id + 1, Ordering::Relaxed);
        return id;
    }
    let start = shared().next_id.fetch_add(ID_BLOCK, Ordering::Relaxed);
    state.next_id.store(start + 1, Ordering::Relaxed);
    state.ids_end.store(start + ID_BLOCK, Ordering::Relaxed);
    start
}

/// Address of the shared state for the signal handler (set before the handler is installed).
static HANDLER_STATE: std::sync::atomic::AtomicPtr<SharedState> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

extern "C" fn on_sigint(_: std::ffi::c_int) {
    // async-signal-safe: one atomic load and one atomic store
    let state = HANDLER_STATE.load(Ordering::Relaxed);
    if !state.is_null() {
        unsafe { (*state).interrupt_requested.store(true, Ordering::Relaxed) };
    }
}

/// Makes SIGINT interrupt tensor code instead of killing the process: the next tensor op
/// (in any copy of the crate) panics with `KeyboardInterrupt`, so a notebook cell stops and
/// the variables of earlier cells survive. The notebook kernel calls this in its runtime.
pub fn install_interrupt_handler() {
    HANDLER_STATE.store(shared() as *const SharedState as *mut SharedState, Ordering::Relaxed);
    // SAFETY: the handler only touches atomics (async-signal-safe)
    unsafe {
        crate::sys::signal(crate::sys::SIGINT, on_sigint);
    }
}

/// Panics with `KeyboardInterrupt` if an interrupt was requested (and clears the request).
#[inline]
pub(crate) fn check_interrupt() {
    let state = shared();
    if state.interrupt_requested.load(Ordering::Relaxed)
        && state.interrupt_requested.swap(false, Ordering::Relaxed)
    {
        panic!("KeyboardInterrupt");
    }
}

/// Clears a pending interrupt request (the kernel does this before each cell).
pub fn clear_interrupt() {
    shared().interrupt_requested.store(false, Ordering::Relaxed);
}

/// An interrupt point for code that never reaches a tensor op: panics with
/// `KeyboardInterrupt` if an interrupt was requested (and clears the request), as a tensor op
/// does. The notebook kernel puts a call at the start of every loop body of a cell, so a plain
/// `loop { i += 1; }` stops at the interrupt button with the variables of earlier cells kept.
///
/// The panic names the caller's line. It never panics while the thread is already unwinding
/// (a loop in a `Drop` run by another panic), where a second panic would abort the process.
#[track_caller]
pub fn interrupt_point() {
    let state = shared();
    if state.interrupt_requested.load(Ordering::Relaxed)
        && !std::thread::panicking()
        && state.interrupt_requested.swap(false, Ordering::Relaxed)
    {
        panic!("KeyboardInterrupt");
    }
}

/// `std::thread::sleep` that stops at the interrupt button: the notebook kernel runs a
/// cell's `std::thread::sleep(d)` as `interruptible_sleep(std::thread::sleep).call(d)`.
/// Taking the function it replaces means only a function of `sleep`'s type fits.
pub fn interruptible_sleep(_replaces: fn(std::time::Duration)) -> InterruptibleSleep {
    InterruptibleSleep(())
}

/// See [`interruptible_sleep`].
pub struct InterruptibleSleep(());

impl InterruptibleSleep {
    /// How often a sleep looks at the interrupt flag.
    pub const SLICE: std::time::Duration = std::time::Duration::from_millis(10);

    /// Sleeps for at least `duration`, as `std::thread::sleep` does, in slices of
    /// [`Self::SLICE`]; an interrupt requested meanwhile ends it with `KeyboardInterrupt`
    /// (see [`interrupt_point`]).
    #[track_caller]
    pub fn call(self, duration: std::time::Duration) {
        let start = std::time::Instant::now();
        loop {
            interrupt_point();
            let left = duration.saturating_sub(start.elapsed());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(Self::SLICE));
        }
    }
}

#[cfg(test)]
mod tests {
    /// Ids stay unique in the process and increasing on each thread, across the blocks
    /// threads take (100 000 ids each is more than one block).
    #[test]
    fn ids_are_unique_across_threads_and_increase_on_each() {
        let workers: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..100_000).map(|_| super::next_id()).collect::<Vec<u64>>()))
            .collect();
        let per_thread: Vec<Vec<u64>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        for ids in &per_thread {
            assert!(ids.windows(2).all(|w| w[0] < w[1]));
        }
        let mut all = per_thread.concat();
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count);
    }
}
