//! The kernel's pure parts, as a library: the wire protocol (`wire`: framing, signing) and the
//! step from a decoded message to its handler's arguments (`protocol`). The binary
//! (`main.rs`) uses them; they need no running evcxr.
//!
//! Built without the default `kernel` feature, this library needs none of the binary's
//! dependencies (evcxr, zeromq, tokio, autograd-core).

pub mod protocol;
pub mod wire;

