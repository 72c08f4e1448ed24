//! HTTP/2: the `h2` crate frames the connection; each stream is its own
//! `http` scope.
//!
//! A stream's app is first polled in the connection's task, as Python's eager
//! tasks are: one that finishes there (most do: their response fits the send
//! window) needs no task of its own. One that waits, for its body, for time or
//! for send capacity, goes on in its own task, so that streams progress
//! independently. The streams a read brings in are all started before their
//! responses are written, and the connection lets the other ready connections
//! run before it writes them: responses leave in few writes, and a client
//! waiting on many connections is woken for several at once.

mod head;
mod stream;
mod tasks;

use std::future::poll_fn;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
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
    // When the last stream that needed no task of its own ended: the idle
    // timer is not reset per such stream, it is put off when it fires.
    let mut last_done: Option<Instant> = None;
    // Streams taken from the connection, to be started together.
    let mut accepted_streams = Vec::new();
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
                if let Some(done) = last_done.take()
                    && done + config.timeout_keep_alive > Instant::now()
                {
                    idle.as_mut().reset(done + config.timeout_keep_alive);
                    continue;
                }
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
            accepted = conn.accept() => {
                // Every stream the connection already holds is taken before
                // any is run: a stream that ends at once queues its response,
                // and the next accept (which writes what is queued) would
                // send it alone. Taken together, their responses leave in one write.
                let mut next = accepted;
                let closed = loop {
                    match next {
                        Some(Ok(stream)) => accepted_streams.push(stream),
                        Some(Err(error)) => break Some(Some(error)),
                        None => break Some(None),
                    }
                    match conn.accept().now_or_never() {
                        Some(more) => next = more,
                        None => break None,
                    }
                };
                let mut ended_at_once = false;
                for (request, respond) in accepted_streams.drain(..) {
                    if stream::start(request, respond, &info, &ctx, &streams) {
                        busy = true;
                    } else {
                        ended_at_once = true;
                    }
                }
                if ended_at_once {
                    last_done = Some(Instant::now());
                    // Their responses are queued; the next accept writes
                    // them. Other connections get their turn first, so that
                    // the client (which may be waiting on all of them) is
                    // woken once for several connections' responses, not once for each.
                    let_others_run().await;
                }
                match closed {
                    Some(Some(error)) => {
                        log_error(&error);
                        break;
                    }
                    Some(None) => break,
                    None => {}
                }
            }
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

/// Lets the tasks already queued on this thread run before this one goes on.
///
/// Not `tokio::task::yield_now`, which waits for the next poll of the I/O
/// driver (an extra `epoll_wait` each time): the connections that the last
/// poll found ready are queued already, and they are the ones to let through.
async fn let_others_run() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// How long apps of a closed connection may run on before they are cancelled.
const APP_GRACE: Duration = Duration::from_secs(5);

fn log_error(error: &h2::Error) {
    // Peers that vanish or break the protocol are the client's problem, not the server's.
    tracing::debug!("HTTP/2 connection closed: {error}");
}
