//! A raised error points at the user's line (`#[track_caller]` on the public API), not at
//! autograd-core's source: the notebook shows that line, as Python's traceback ends at the
//! user's call. One test in its own binary, because it replaces the process's panic hook.

use autograd_core::prelude::*;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// `file:line` where `f`'s panic was raised (the last panic on this thread counts: an error
/// raised again from the caller's line replaces the inner one).
fn location_of<R>(f: impl FnOnce() -> R) -> String {
    LAST.with(|l| l.borrow_mut().take());
    assert!(catch_unwind(AssertUnwindSafe(f)).is_err(), "expected an error");
    LAST.with(|l| l.borrow_mut().take()).expect("the hook saw the panic")
}

#[test]
fn errors_point_at_the_callers_line() {
    // install autograd-core's hook first (it wraps the one in place), then ours around it
    autograd_core::error::install_panic_hook();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(l) = info.location() {
            LAST.with(|last| *last.borrow_mut() = Some(format!("{}:{}", l.file(), l.line())));
        }
        let _ = &previous;
    }));

    let here = |line: u32| format!("{}:{}", file!(), line);
    let x = tensor!([1., 2., 3.]);
    let m = tensor!([[1., 2., 3.], [4., 5., 6.]]);
    let w = tensor!([1., 2., 3.], requires_grad = true);

    assert_eq!(location_of(|| x.select(0, 5)), here(line!()));
    assert_eq!(location_of(|| x.at(&[5])), here(line!()));
    assert_eq!(location_of(|| m.index(idx![0, 5])), here(line!()));
    assert_eq!(location_of(|| m.assign(idx![0, 5], 1.0)), here(line!()));
    assert_eq!(location_of(|| x.item()), here(line!()));
    assert_eq!(location_of(|| x.view([2, 2])), here(line!()));
    assert_eq!(location_of(|| x.reshape([2, 2])), here(line!()));
    assert_eq!(location_of(|| m.sum_dim(2, false)), here(line!()));
    assert_eq!(location_of(|| m.matmul(&m)), here(line!()));
    assert_eq!(location_of(|| m.mm(&m.double().t())), here(line!()));
    assert_eq!(location_of(|| x.dot(&m)), here(line!()));
    assert_eq!(location_of(|| &x + &m.t()), here(line!()));
    assert_eq!(location_of(|| tensor!([1, 2]).requires_grad_(true)), here(line!()));
    assert_eq!(location_of(|| w.numpy()), here(line!()));
    assert_eq!(location_of(|| w.add_(1.0)), here(line!()));
    assert_eq!(location_of(|| x.copy_(&ones(&[2]))), here(line!()));
    assert_eq!(location_of(|| cat(&[&x, &m], 0)), here(line!()));
    assert_eq!(location_of(|| (&w * 2.0).backward()), here(line!()));
    assert_eq!(location_of(|| grad(&[&(&w * 2.0).sum()], &[&w, &x], false)), here(line!()));

    // errors found while the graph runs point at the backward() line too
    let y = w.exp();
    y.add_(1.0);
    let s = y.sum();
    assert_eq!(location_of(|| s.backward()), here(line!()));
    // a view made under no_grad whose base changed since: refused where it is used
    let y = &w * 2.0;
    let v = no_grad(|| y.index(idx![0..2]));
    y.add_(1.0);
    assert_eq!(location_of(|| v.grad_fn()), here(line!()));
    assert_eq!(location_of(|| v.mul(2.0)), here(line!()));
    assert_eq!(location_of(|| v.view([2])), here(line!()));
    assert_eq!(location_of(|| v.add_(1.0)), here(line!()));

    let z = (&w * &w).sum();
    z.backward();
    assert_eq!(location_of(|| z.backward()), here(line!()));
    let _ = std::panic::take_hook();
}
