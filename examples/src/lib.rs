//! Apps of the examples, as a library so integration tests can serve them.
//!
//! Each binary in `src/bin/` is a thin `main` around an app built here or in
//! the binary itself; `tests/` starts these apps on a real socket.

pub mod async_vs_blocking;
pub mod chat;
pub mod demo;
pub mod validate;
