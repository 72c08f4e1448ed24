//! The ASGI interface in Rust.
//!
//! ASGI is the contract between Python async web servers (Uvicorn, Hypercorn)
//! and frameworks (Starlette, FastAPI). This crate is that contract for Rust:
//! a server that implements it can run any app written against it, and an app
//! written against it runs on any such server.
//!
//! # The model in one screen
//!
//! An **application** ([`App`]) is called once per **scope**: one HTTP
//! request, one WebSocket connection, or the lifespan of the server's event
//! loop. It gets three things:
//!
//! - the [`Scope`]: what the server knows about the connection (method,
//!   path, headers, client address, lifespan state, extensions);
//! - a [`Receiver`]: `receive().await` gives the next [`ReceiveEvent`]
//!   (`http.request` body chunks, `http.disconnect`, `websocket.receive`, ...);
//! - a [`Sender`]: `send(event).await` hands a [`SendEvent`]
//!   (`http.response.start`, `http.response.body`, `websocket.send`, ...) to
//!   the server and returns once the server has handed it to the transport.
//!
//! Messages are enums named after the ASGI `type` strings, and each has a
//! `kind()` giving that exact string. Apps must send them in the order the
//! spec gives; [`protocol`] holds the state machines that every server uses
//! to check it, so a wrong order is a typed [`ProtocolError`] returned from
//! `send`, the same on every server.
//!
//! Servers implement [`ReceiveHandle`] and [`SendHandle`] (poll-based, so a
//! send can be a direct write into the connection buffer with no channel or
//! task per request). Frameworks and middleware are apps that wrap apps.
//! [`testing::Communicator`] (feature `testing`) runs an app in memory.
//!
//! # Example: the ASGI hello world
//!
//! ```
//! use asgi_core::{app_fn, Headers, HttpReceive, HttpSend, ReceiveEvent, Scope};
//! use http::{header, HeaderValue, StatusCode};
//!
//! let app = app_fn(|scope, receive, send| async move {
//!     let Scope::Http(_) = scope else {
//!         // Not an HTTP scope: say so, and a server in `auto` lifespan mode moves on.
//!         return Err("unsupported scope".into());
//!     };
//!     // Read (and here discard) the request body.
//!     loop {
//!         match receive.receive().await? {
//!             ReceiveEvent::Http(HttpReceive::Request { more_body: true, .. }) => continue,
//!             _ => break,
//!         }
//!     }
//!     let headers = Headers::new().with(
//!         header::CONTENT_TYPE,
//!         HeaderValue::from_static("text/plain; charset=utf-8"),
//!     );
//!     send.send(HttpSend::start(StatusCode::OK, headers)).await?;
//!     send.send(HttpSend::body("Hello, world!")).await?;
//!     Ok(())
//! });
//! # let _: &dyn asgi_core::App = &app;
//! ```
//!
//! Serve it with `asgi_server::run(app)`, or test it in memory with
//! [`testing::Communicator`].
//!
//! # Feature flags
//!
//! - `testing` (off by default): the in-memory [`testing::Communicator`].
//!
//! # Where this differs from Python ASGI
//!
//! Types replace dicts (`StatusCode`, `Method`, `Bytes`), lifespan `state` is
//! keyed by type, and `zerocopysend` shares an `Arc<File>`. The repository's
//! `docs/asgi-mapping.md` maps every key and message and lists each divergence.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod app;
mod channel;
mod error;
mod extensions;
mod headers;
pub mod message;
pub mod protocol;
mod scope;
mod state;
#[cfg(feature = "testing")]
pub mod testing;

pub use self::app::{App, AppFn, AppFuture, SharedApp, app_fn};
pub use self::channel::{ReceiveFuture, ReceiveHandle, Receiver, SendFuture, SendHandle, Sender};
pub use self::error::{BoxError, ProtocolError, ReceiveError, SendError};
pub use self::extensions::{Extensions, TlsInfo};
pub use self::headers::Headers;
pub use self::message::{
    HttpReceive, HttpSend, LifespanReceive, LifespanSend, ReceiveEvent, SendEvent,
    WebSocketMessage, WebSocketReceive, WebSocketSend,
};
pub use self::scope::{
    ASGI_VERSION, HTTP_SPEC_VERSION, HttpScope, HttpVersion, LIFESPAN_SPEC_VERSION, LifespanScope,
    Scheme, Scope, ServerAddr, Target, WebSocketScope,
};
pub use self::state::{LifespanState, State};

pub use bytes::Bytes;
pub use bytestring::ByteString;
pub use http;
