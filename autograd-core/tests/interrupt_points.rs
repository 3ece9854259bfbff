//! The interrupt points the notebook kernel puts into a cell's loops and sleeps: SIGINT (the
//! interrupt button) makes them panic with `KeyboardInterrupt` at the caller's line, once per
//! interrupt, and never while the thread is already unwinding. One test function: the
//! interrupt flag is process-wide, so the steps must not run in parallel.

use std::cell::Cell;
use std::panic::catch_unwind;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use autograd_core::global::{install_interrupt_handler, interrupt_point, interruptible_sleep};

/// SIGINT to this process, as the kernel sends it to its runtime (any thread may handle it).
fn interrupt() {
    unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
}

/// SIGINT handled by this thread before this returns.
fn interrupt_now() {
    unsafe { libc::raise(libc::SIGINT) };
}

/// The message and line of the panic `f` raised, or None if it returned.
fn panic_of(f: impl FnOnce(), seen: &Arc<Mutex<Option<u32>>>) -> Option<(String, u32)> {
    let payload = catch_unwind(std::panic::AssertUnwindSafe(f)).err()?;
    let message = payload.downcast_ref::<&str>().map(|s| s.to_string()).unwrap_or_default();
    Some((message, seen.lock().unwrap().take().expect("the hook saw the panic")))
}

/// Runs `$call` after noting in `$line` the line it is on (rustfmt keeps a short call on one).
macro_rules! on_line {
    ($line:expr, $call:expr) => {{
        $line.set(line!());
        $call
    }};
}

struct InterruptPointInDrop;

impl Drop for InterruptPointInDrop {
    fn drop(&mut self) {
        // runs while the thread unwinds from another panic: must not panic again
        interrupt_point();
    }
}

#[test]
fn loops_and_sleeps_stop_at_an_interrupt_and_name_the_callers_line() {
    let seen = Arc::new(Mutex::new(None));
    let hook_seen = seen.clone();
    std::panic::set_hook(Box::new(move |info| {
        *hook_seen.lock().unwrap() = info.location().map(|l| l.line());
        eprintln!("{info}");
    }));
    install_interrupt_handler();

    // nothing requested: nothing happens
    assert_eq!(panic_of(interrupt_point, &seen), None);

    // a loop's interrupt point: KeyboardInterrupt at this file's line, once
    interrupt_now();
    let line = Cell::new(0);
    let stopped = panic_of(
        || loop {
            on_line!(line, interrupt_point());
        },
        &seen,
    );
    assert_eq!(stopped, Some(("KeyboardInterrupt".to_string(), line.get())));
    assert_eq!(panic_of(interrupt_point, &seen), None, "one interrupt stops one loop");

    // an uninterrupted sleep lasts as long as std's
    let start = Instant::now();
    interruptible_sleep(std::thread::sleep).call(Duration::from_millis(60));
    assert!(start.elapsed() >= Duration::from_millis(60));

    // a 30 s sleep interrupted after 100 ms ends within a slice or two of the interrupt
    let sender = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(100));
        interrupt();
        Instant::now()
    });
    let stopped = panic_of(
        || on_line!(line, interruptible_sleep(std::thread::sleep).call(Duration::from_secs(30))),
        &seen,
    );
    let sent = sender.join().unwrap();
    assert_eq!(stopped, Some(("KeyboardInterrupt".to_string(), line.get())));
    assert!(sent.elapsed() < Duration::from_millis(100), "stopped {:?} after the interrupt", sent.elapsed());

    // while unwinding from another panic, an interrupt point leaves the request for later
    interrupt_now();
    let first = panic_of(
        || {
            let _guard = InterruptPointInDrop;
            panic!("first");
        },
        &seen,
    );
    assert_eq!(first.map(|(message, _)| message).as_deref(), Some("first"));
    assert_eq!(
        panic_of(interrupt_point, &seen).map(|(message, _)| message).as_deref(),
        Some("KeyboardInterrupt")
    );
}
