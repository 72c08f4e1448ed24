//! A tokio ASGI server (work in progress: see issue #3).

mod protocol;
mod shutdown;
