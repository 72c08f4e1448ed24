//! A tokio ASGI server: the Uvicorn of this stack.
//!
//! It serves any [`asgi_core::App`] over HTTP/1.1 (an own sans-IO codec on
//! `httparse`), HTTP/2 (the `h2` crate) and WebSocket, with or without TLS
//! (rustls), runs the lifespan protocol, and shuts down gracefully. Every app
//! binary gets Uvicorn's command line through [`run`].
//!
//! TLS keys are PEM: unencrypted, or encrypted PKCS#8 with
//! `--ssl-keyfile-password` (decrypted by the `pkcs8` crate, since rustls
//! reads only plain keys). OpenSSL's legacy encrypted format is refused at
//! startup with the command that converts it.
//!
//! # Example
//!
//! ```no_run
//! use asgi_core::{app_fn, Headers, HttpSend, Scope};
//! use http::StatusCode;
//!
//! fn main() -> std::process::ExitCode {
//!     let app = app_fn(|scope, _receive, send| async move {
//!         let Scope::Http(_) = scope else { return Err("unsupported scope".into()) };
//!         send.send(HttpSend::start(StatusCode::OK, Headers::new())).await?;
//!         send.send(HttpSend::body("Hello, world!")).await?;
//!         Ok(())
//!     });
//!     asgi_server::run(app) // --host, --port, --lifespan, ... and ASGI_* variables
//! }
//! ```
//!
//! For tests and embedding, bind first and keep a handle:
//!
//! ```no_run
//! # async fn demo(app: impl asgi_core::App) -> Result<(), asgi_server::Error> {
//! let mut config = asgi_server::Config::default();
//! config.port = 0;
//! let bound = asgi_server::Server::new(config).bind().await?;
//! let addr = bound.local_addr();
//! let handle = bound.handle();
//! let server = tokio::spawn(bound.serve(app));
//! // ... talk to `addr` ...
//! handle.shutdown();
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! - `config`: [`Config`], the settings; `cli`: [`ServerArgs`] and [`run`].
//! - `server`: bind, lifespan startup, the accept loop, graceful shutdown.
//! - `lifespan`: the lifespan exchange; `shutdown`: the signal every connection watches.
//! - `protocol::http::h1`: `decode`/`encode` (sans-IO codec), `cycle` (one
//!   request/response), `conn` (the connection task).
//! - `protocol::http::h2`: HTTP/2 connections (`mod`) and their streams (`stream`).
//! - `protocol::http::service`: what both HTTP versions do around an app call.
//! - `protocol`: `serve_connection` picks the HTTP version (`--http`, the
//!   HTTP/2 preface); `tls`: the rustls handshake, ALPN and the `tls` extension.
//! - `protocol::websocket`: WebSocket connections after the upgrade.
//! - `supervisor`: `--workers`: the supervisor process and the worker side.
//! - `stall`: `--warn-loop-stall`, the event-loop stall watchdog.

mod cli;
mod config;
mod error;
/// Crate-private parsers for `fuzz/`: not a stable API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod lifespan;
mod listener;
mod protocol;
mod server;
mod shutdown;
mod stall;
#[cfg(unix)]
mod supervisor;
mod tls;

pub use self::cli::{
    EXIT_STARTUP_FAILURE, HttpArg, LifespanArg, LogLevelArg, RuntimeArg, ServerArgs, init_logging,
    run, run_with, serve_blocking,
};
pub use self::config::{
    ClientCertMode, Config, ForwardedAllowIps, HttpMode, LifespanMode, LogLevel, Password,
    RuntimeFlavor, WebSocketConfig,
};
pub use self::error::Error;
pub use self::server::{BoundServer, Server, ServerHandle};
