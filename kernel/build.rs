//! Links the kernel binary as a position-dependent executable on Linux.
//!
//! A position-independent binary is relocated when it starts: the dynamic loader rewrites
//! every pointer in its read-only data (67,000 relocations, 1.6 MB of relocation records and
//! 1 MB of data for evcxr and rust-analyzer), in the kernel process and again in evcxr's
//! runtime process, which is the same binary. Those pages are then the process's own, in
//! every student's kernel. Without PIE there is nothing to relocate: measured with
//! bench/kernel_memory.py after 01-autograd-mechanics, kernel + runtime 246-247 -> 240-243 MiB
//! RSS (two runs each; the runtime alone 17 -> 15 MiB).

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
