//! Protocol implementations: HTTP/1.1, HTTP/2 and WebSocket, and the
//! per-connection dispatch between them.

pub(crate) mod handle_lock;
pub(crate) mod http;
pub(crate) mod prefixed;
pub(crate) mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize};

use asgi_core::{
    App, AppFuture, Receiver, Scheme, Scope, Sender, ServerAddr, SharedApp, State, TlsInfo,
};
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use self::prefixed::Prefixed;

use crate::config::{Config, HttpMode};
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

/// Calls `app`. A panic while it makes its future (in `call` itself, before
/// there is a future to poll) comes back as a future that panics with the
/// same payload when polled: every caller's `catch_unwind` around the polls
/// then handles it as it handles a panic in a poll (a 500, a failed startup).
pub(crate) fn call_app(
    app: &SharedApp,
    scope: Scope,
    receive: Receiver,
    send: Sender,
) -> AppFuture {
    let call = std::panic::AssertUnwindSafe(|| app.call(scope, receive, send));
    match std::panic::catch_unwind(call) {
        Ok(future) => future,
        Err(panic) => Box::pin(async move { std::panic::resume_unwind(panic) }),
    }
}

/// The message of a caught panic, for the log.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
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
/// TLS is terminated by the caller (see `crate::tls`) before this. Which
/// HTTP version is spoken follows `--http`: with `auto`, a connection that
/// opens with the HTTP/2 preface is HTTP/2 (h2c with prior knowledge), any
/// other is HTTP/1.1.
pub(crate) async fn serve_connection<I>(
    io: I,
    info: ConnInfo,
    ctx: Arc<ServiceContext>,
    shutdown: Shutdown,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match ctx.config.http {
        HttpMode::H1 => http::h1::conn::serve(io, BytesMut::new(), info, ctx, shutdown).await,
        HttpMode::H2 => http::h2::serve(io, info, ctx, shutdown).await,
        HttpMode::Auto => {
            let mut io = io;
            let accepted = tokio::time::Instant::now();
            let timeout = ctx.config.timeout_request_head;
            let mut waiting = shutdown.clone();
            let sniffed = {
                let sniff = tokio::time::timeout(timeout, sniff_preface(&mut io));
                tokio::pin!(sniff);
                tokio::select! {
                sniffed = &mut sniff => sniffed,
                () = waiting.wait() => {
                    // Accepted just before shutdown began: as HTTP/1.1 does,
                    // give the client a short grace, counted from the accept,
                    // to send its first request, which is then served with
                    // `Connection: close`. A connection silent for longer (a
                    // client's spare pooled one) closes at once.
                    let grace_end = accepted + http::h1::conn::FIRST_REQUEST_GRACE;
                    match tokio::time::timeout_at(grace_end, &mut sniff).await {
                        Ok(sniffed) => sniffed,
                        Err(_) => return,
                    }
                }
                }
            };
            match sniffed {
                Ok(Ok((prefix, true))) => {
                    http::h2::serve(Prefixed::new(prefix.freeze(), io), info, ctx, shutdown).await
                }
                Ok(Ok((prefix, false))) => {
                    http::h1::conn::serve(io, prefix, info, ctx, shutdown).await
                }
                Ok(Err(error)) => tracing::debug!("connection closed before a request: {error}"),
                Err(_) => tracing::debug!("request head not received in time; closing"),
            }
        }
    }
}

/// The HTTP/2 connection preface (RFC 9113 3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads until the first bytes are, or cannot be, the HTTP/2 preface.
///
/// Returns the bytes read and whether they are the preface. Most HTTP/1.1
/// requests differ at the first byte, so this is usually one read.
async fn sniff_preface<I>(io: &mut I) -> std::io::Result<(BytesMut, bool)>
where
    I: AsyncRead + Unpin,
{
    let mut buf = BytesMut::with_capacity(8 * 1024);
    loop {
        let seen = buf.len().min(PREFACE.len());
        if buf[..seen] != PREFACE[..seen] {
            return Ok((buf, false));
        }
        if seen == PREFACE.len() {
            return Ok((buf, true));
        }
        if io.read_buf(&mut buf).await? == 0 {
            return if buf.is_empty() {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            } else {
                // Cut short: HTTP/1.1 answers (or drops) what there is.
                Ok((buf, false))
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn preface_is_recognised_across_reads() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for piece in PREFACE.chunks(5) {
                client.write_all(piece).await.unwrap();
                tokio::task::yield_now().await;
            }
            client.write_all(b"\0\0").await.unwrap();
            client
        });

        let (prefix, h2) = sniff_preface(&mut server).await.unwrap();

        assert!(h2);
        assert!(prefix.starts_with(PREFACE));
        drop(writer.await.unwrap());
    }

    #[tokio::test]
    async fn http1_request_is_not_the_preface() {
        let mut io: &[u8] = b"PRIX / HTTP/1.1\r\n\r\n";

        let (prefix, h2) = sniff_preface(&mut io).await.unwrap();

        assert!(!h2);
        assert_eq!(&prefix[..], b"PRIX / HTTP/1.1\r\n\r\n");
    }

    #[tokio::test]
    async fn empty_connection_is_an_error() {
        let mut io: &[u8] = b"";

        assert!(sniff_preface(&mut io).await.is_err());
    }
}
