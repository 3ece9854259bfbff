//! The kernel's pure parts, as a library: the wire protocol (`wire`: framing, signing) and the
//! step from a decoded message to its handler's arguments (`protocol`). The binary
//! (`main.rs`) uses them; `kernel/fuzz` drives them with random input without a running evcxr.
//!
//! Built without the default `kernel` feature, this library needs none of the binary's
//! dependencies (evcxr, zeromq, tokio, autograd-core).

pub mod protocol;
pub mod wire;

/// The fuzzer's checks, public for `kernel/fuzz`; not an API.
#[doc(hidden)]
pub mod fuzzing;
