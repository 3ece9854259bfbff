//! Profiling aid: heap allocations per step of the two small-graph benchmark cases, counted
//! by a global allocator that wraps the system one (`cargo run --release --example
//! alloc_count`). The cases are the benchmark's own code, from `benches/common`.
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use autograd_core::prelude::*;

#[path = "../benches/common/mod.rs"]
#[allow(dead_code)]
mod common;

/// The system allocator, counting every allocation (reallocations too).
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on unchanged to the system allocator
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        System.realloc(ptr, layout, size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made by `f` (run a few times first, so one-time set-up is not counted).
fn allocations(mut f: impl FnMut()) -> usize {
    for _ in 0..3 {
        f();
    }
    let before = ALLOCATIONS.load(Relaxed);
    f();
    ALLOCATIONS.load(Relaxed) - before
}

fn main() {
    let x = tensor!(10, requires_grad = true, dtype = float64);
    let step = allocations(|| common::gradient_descent_step(&x, 0.000001));
    println!("gradient-descent step (pow, zero_, backward, update, drop): {step} allocations");
    let chain = allocations(common::chain_100_steps);
    println!("100-step chain with its backward and drop: {chain} allocations");
}
