//! Everything the kernel reads from a shell or control socket: frames split at `<IDS|MSG>`,
//! the HMAC signature checked, header, parent header, metadata and content parsed, buffers
//! kept, the message turned into its handler's typed request and the pure replies built,
//! signed, encoded and decoded again. The checks are in `autograd_kernel::fuzzing`, which the
//! kernel's `cargo test` also runs over the inputs this fuzzer found.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    autograd_kernel::fuzzing::wire(data);
});
