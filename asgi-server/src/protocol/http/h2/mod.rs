//! HTTP/2: the `h2` crate frames the connection; each stream is its own
//! `http` scope, run as its own task so that streams progress independently.

mod head;
mod stream;
mod tasks;

use std::future::poll_fn;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::protocol::http::service;
use crate::protocol::{ConnInfo, ServiceContext};
use crate::shutdown::{Shutdown, ShutdownSignal};
use tasks::StreamTasks;

/// The receive window of each stream: how much request body the client may
/// send ahead of the app (released as the app receives it).
const STREAM_WINDOW: u32 = 256 * 1024;

/// The receive window of the whole connection. Body bytes an app has not
/// received yet count against it too, so it is a multiple of the stream
/// window: it takes 16 apps that stop reading to stall the other streams.
const CONNECTION_WINDOW: u32 = 16 * STREAM_WINDOW;

/// Response bytes `h2` buffers per stream before `send` waits.
const MAX_SEND_BUFFER: usize = 256 * 1024;

/// Streams the client may reset before the server accepted them (rapid
/// reset, CVE-2023-44487): past this the connection is closed with GOAWAY.
const MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;

/// Streams the server may reset because the client broke the rules on them
/// (malformed headers, say) before the connection is closed with GOAWAY: such
/// a flood costs the server work without ever reaching the app.
const MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;

/// Serves one HTTP/2 connection (the client preface not yet read) until it closes.
///
/// The handshake must finish within `--timeout-request-head`; a connection
/// without open streams for `--timeout-keep-alive` is closed with GOAWAY, as
/// is every connection once shutdown begins, letting open streams finish. A
/// client that does not complete the GOAWAY exchange within
/// `--timeout-keep-alive` after its last stream is disconnected.
pub(crate) async fn serve<I>(
    io: I,
    info: ConnInfo,
    ctx: Arc<ServiceContext>,
    mut shutdown: Shutdown,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let _count = service::count_connection(&ctx);
    let config = &ctx.config;
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(config.h2_max_concurrent_streams)
        .max_header_list_size(u32::try_from(config.limit_request_head).unwrap_or(u32::MAX))
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_send_buffer_size(MAX_SEND_BUFFER)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESET_STREAMS));
    let handshake = tokio::time::timeout(
        config.timeout_request_head,
        builder.handshake::<_, Bytes>(io),
    );
    let mut conn = tokio::select! {
        done = handshake => match done {
            Ok(Ok(conn)) => conn,
            Ok(Err(error)) => {
                tracing::debug!(client = ?info.client, "HTTP/2 handshake failed: {error}");
                return;
            }
            Err(_) => {
                tracing::debug!(client = ?info.client, "HTTP/2 handshake not done in time; closing");
                return;
            }
        },
        () = shutdown.wait() => return,
    };

    let info = Arc::new(info);
    let streams = StreamTasks::new();
    // Streams were spawned since the set was last seen empty.
    let mut busy = false;
    let mut going_away = false;
    let idle = tokio::time::sleep(config.timeout_keep_alive);
    tokio::pin!(idle);
    // One registration for the whole loop, then a flag read per turn: a
    // fresh wait per turn would join and leave the shutdown waiter list once
    // per request, and re-polling one would take its lock.
    let mut listener = shutdown.clone();
    let wait = pin!(listener.wait());
    let mut signal = ShutdownSignal::new(wait);
    loop {
        tokio::select! {
            biased;
            () = poll_fn(|cx| {
                if signal.poll_signalled(cx, &shutdown) { Poll::Ready(()) } else { Poll::Pending }
            }), if !going_away => {
                // GOAWAY: no new streams; the open ones run to completion.
                conn.graceful_shutdown();
                going_away = true;
                idle.as_mut().reset(Instant::now() + config.timeout_keep_alive);
            }
            () = streams.emptied(), if busy => {
                busy = false;
                idle.as_mut().reset(Instant::now() + config.timeout_keep_alive);
            }
            () = idle.as_mut(), if !busy => {
                if going_away {
                    // The client did not finish the GOAWAY exchange (it acks
                    // a PING) in time: close without it.
                    tracing::debug!("HTTP/2 client did not close after GOAWAY; closing");
                    break;
                }
                tracing::debug!("closing idle HTTP/2 connection");
                conn.graceful_shutdown();
                going_away = true;
                idle.as_mut().reset(Instant::now() + config.timeout_keep_alive);
            }
            accepted = conn.accept() => match accepted {
                Some(Ok((request, respond))) => {
                    if stream::start(request, respond, &info, &ctx, &streams) {
                        busy = true;
                    }
                }
                Some(Err(error)) => {
                    log_error(&error);
                    break;
                }
                None => break,
            },
        }
    }
    // Dropping the connection fails whatever the open streams still wait for.
    drop(conn);
    // Apps see `http.disconnect` and send errors now; give them a moment.
    if tokio::time::timeout(APP_GRACE, streams.emptied())
        .await
        .is_err()
    {
        tracing::debug!("cancelling HTTP/2 streams still running after the connection closed");
        streams.cancel();
    }
}

/// How long apps of a closed connection may run on before they are cancelled.
const APP_GRACE: Duration = Duration::from_secs(5);

fn log_error(error: &h2::Error) {
    // Peers that vanish or break the protocol are the client's problem, not the server's.
    tracing::debug!("HTTP/2 connection closed: {error}");
}
