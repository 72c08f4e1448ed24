//! Protocol implementations: HTTP/1.1 and WebSocket (HTTP/2 next), and the
//! per-connection dispatch between them.

pub(crate) mod http;
pub(crate) mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize};

use asgi_core::{Scheme, ServerAddr, SharedApp, State, TlsInfo};
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::Config;
use crate::shutdown::{Shutdown, ShutdownTrigger};

/// What every connection of one server shares: the app, the settings and counters.
pub(crate) struct ServiceContext {
    pub(crate) config: Arc<Config>,
    pub(crate) app: SharedApp,
    /// The lifespan state snapshot, cloned into every scope.
    pub(crate) state: State,
    /// `server: ...\r\n` (empty with `--no-server-header`), encoded once.
    pub(crate) server_header: Vec<u8>,
    /// The `--header` fields, encoded once.
    pub(crate) default_headers: Vec<u8>,
    pub(crate) websocket: Arc<websocket::WebSocketConfig>,
    pub(crate) server_addr: Option<ServerAddr>,
    /// Open connections (for `--limit-concurrency`).
    pub(crate) connections: AtomicUsize,
    /// Requests whose app is running (for `--limit-concurrency`).
    pub(crate) in_flight: AtomicUsize,
    /// Requests served so far (for `--limit-max-requests`).
    pub(crate) requests: AtomicU64,
    /// Begins a graceful shutdown (used by `--limit-max-requests`).
    pub(crate) trigger: Arc<ShutdownTrigger>,
}

impl std::fmt::Debug for ServiceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceContext").finish_non_exhaustive()
    }
}

/// What is known about a connection before its first byte is read.
#[derive(Debug, Clone)]
pub(crate) struct ConnInfo {
    /// The peer (`scope["client"]`), if it is a TCP peer.
    pub(crate) client: Option<SocketAddr>,
    /// `http` on plain connections; `https` once TLS terminates here.
    pub(crate) scheme: Scheme,
    /// The `tls` scope extension, on TLS connections.
    pub(crate) tls: Option<Arc<TlsInfo>>,
}

/// Serves one accepted connection until it closes.
///
/// The place where protocol detection goes: TLS is terminated before this
/// (in the connection task the accept loop spawns, filling `info.scheme` and
/// `info.tls`), and with `--http auto` the HTTP/2 preface (or ALPN `h2`) will
/// be recognised here, passing any bytes read while peeking on to the HTTP/1.1
/// engine as its `buffered` argument. Today every connection is HTTP/1.1.
pub(crate) async fn serve_connection<I>(
    io: I,
    info: ConnInfo,
    ctx: Arc<ServiceContext>,
    shutdown: Shutdown,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    http::h1::conn::serve(io, BytesMut::new(), info, ctx, shutdown).await;
}
