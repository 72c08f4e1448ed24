//! The per-connection task: reads request heads, runs the app for each
//! request, and writes responses, with keep-alive, pipelining and backpressure.
//!
//! All state of a connection sits behind one `Arc<Shared>` (see `shared.rs`), which is also the
//! app's `receive` and `send`: a body `send` encodes straight into the write
//! buffer and its flush writes to the socket from the app's own poll, so no
//! task, channel or allocation is needed per request or message. The lock is
//! uncontended: the app future is polled by this task (unless the app moves
//! its handles elsewhere, which still works).

use std::future::{Future, poll_fn};
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use asgi_core::{Receiver, Scope, Sender};
use bytes::BytesMut;
use futures_util::FutureExt;
use http::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::Instant;

use super::cycle;
use super::decode::RequestHead;
use super::shared::{ConnIo, HeadPoll, HeadResult, Shared};
use super::timer::Timer;
use crate::protocol::http::service;
use crate::protocol::{ConnInfo, ServiceContext, call_app, websocket};
use crate::shutdown::{Shutdown, ShutdownSignal};
use crate::stall;

/// How long, and how many bytes, to read and drop after an error response
/// before closing, so that the client sees the response rather than a reset.
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 1024 * 1024;

/// How long a connection accepted just before shutdown may take to send its
/// first request (which is then served, with `Connection: close`).
pub(crate) const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(1);

/// Serves one HTTP/1.1 connection until it closes.
///
/// `buffered` holds bytes already read from `io` (by protocol detection).
pub(crate) async fn serve<I>(
    io: I,
    buffered: BytesMut,
    info: ConnInfo,
    ctx: Arc<ServiceContext>,
    shutdown: Shutdown,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let _count = service::count_connection(&ctx);
    let mut conn = ConnIo::new(io, ctx.clone(), shutdown.clone());
    if !buffered.is_empty() {
        conn.read_buf = buffered;
    }
    let mut shared = Arc::new(Shared::new(conn));
    let mut timer = Timer::new();
    let mut first = true;
    // One shutdown listener for the connection's life: registering a fresh
    // one for every keep-alive wait would cost a lock per request.
    let mut listener = shutdown.clone();
    let wait = pin!(listener.wait());
    let mut shutdown_signal = ShutdownSignal::new(wait);

    let linger = loop {
        let (head, refused) = match read_head(
            &shared,
            &ctx,
            &shutdown,
            &mut shutdown_signal,
            first,
            &mut timer,
        )
        .await
        {
            HeadResult::Head(head, refused) => (head, refused),
            HeadResult::Close => break false,
            HeadResult::Error(error) => {
                tracing::debug!(client = ?info.client, reason = error.reason(), "invalid HTTP request");
                shared.with(|c| c.write_error(error.status()));
                break true;
            }
        };
        first = false;

        if head.upgrade_websocket {
            hand_off_websocket(shared, head, &info, &ctx, shutdown).await;
            return;
        }
        if service::over_concurrency_limit(&ctx) {
            tracing::warn!("exceeded concurrency limit");
            shared.with(|c| c.write_error(StatusCode::SERVICE_UNAVAILABLE));
            break true;
        }
        if let Some(status) = refused {
            shared.with(|c| c.write_error(status));
            break true;
        }
        service::count_request(&ctx);
        let access = service::access_log_enabled(&ctx)
            .then(|| (head.method.clone(), head.target.clone(), head.version));
        let stall_label = stall::label(&head.method, &head.target);

        let scope = cycle::http_scope(head, &info, &ctx);
        // The access log names the client as the app saw it (after proxy headers).
        let client = scope.client;
        let receiver = Receiver::new(shared.clone());
        let sender = Sender::new(shared.clone());
        let outcome = {
            let _in_flight = service::count_in_flight(&ctx);
            let app = call_app(&ctx.app, Scope::Http(scope), receiver, sender);
            AssertUnwindSafe(stall::Tracked::new(stall_label, app))
                .catch_unwind()
                .await
        };

        let (status, keep_alive, body_done) = shared
            .with(|c| {
                let finished = c.cycle.disconnected || c.cycle.is_complete();
                service::report(&outcome, finished, c.cycle.is_started());
                c.finish_cycle();
                c.shrink_read_buf();
                (c.cycle.status, c.cycle.keep_alive(), c.cycle.body_done())
            })
            .unwrap_or((None, false, true));
        if let (Some((method, target, version)), Some(status)) = (access, status) {
            service::log_access(client, &method, &target, version, status);
        }

        if Arc::strong_count(&shared) > 1 {
            // The app kept its receive or send handle (in a spawned task, say):
            // move the connection to fresh state so those handles go inert.
            match Shared::retire(&shared) {
                Some(fresh) => shared = fresh,
                None => return,
            }
        }
        if !keep_alive || shutdown.is_shutdown() {
            // Unread request bytes would turn the close into a reset that can
            // destroy the response on its way: linger then.
            break !body_done;
        }
        if !body_done && !drain_body(&shared, &ctx).await {
            break true;
        }
    };
    close(&shared, &ctx, linger).await;
}

/// Waits for the next request head, within the keep-alive and head timeouts.
async fn read_head<I, S>(
    shared: &Shared<I>,
    ctx: &ServiceContext,
    shutdown: &Shutdown,
    shutdown_signal: &mut ShutdownSignal<'_, S>,
    first: bool,
    timer: &mut Timer,
) -> HeadResult
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Future<Output = ()>,
{
    // Shutdown has begun: only a head already buffered is still served
    // (or, on a fresh connection, the first request, within a grace time).
    let read = first || !shutdown.is_shutdown();
    // A connection accepted just before shutdown began has its first request
    // on the way: closing it unread would fail a request that a HUP or a
    // recycled worker promised to serve, so it gets a moment to arrive.
    let mut grace = first && shutdown.is_shutdown();
    let mut idle = !first;
    // When the wait began. The timer is set only once the head is not there
    // at the first look: a pipelined head, or one that is already readable,
    // reads no clock and touches no timer.
    let mut waiting_since = None;
    // A hand-written `select!`: the head first, then the timer, then the
    // shutdown signal. The timer and the signal keep the task's waker from
    // their first poll, so on later waits they are only checked (a flag
    // each), not polled again: a `select!` re-registered both on every
    // request.
    poll_fn(|cx| {
        loop {
            let polled = shared
                .with(|c| c.poll_head(cx, idle, read))
                .unwrap_or(Poll::Ready(HeadPoll::Closed));
            match polled {
                Poll::Ready(HeadPoll::Head(head, refused)) => {
                    return Poll::Ready(HeadResult::Head(head, refused));
                }
                Poll::Ready(HeadPoll::Error(error)) => {
                    return Poll::Ready(HeadResult::Error(error));
                }
                Poll::Ready(HeadPoll::Closed) => return Poll::Ready(HeadResult::Close),
                Poll::Ready(HeadPoll::Started) => {
                    idle = false;
                    let now = Instant::now();
                    waiting_since.get_or_insert(now);
                    timer.set(now + ctx.config.timeout_request_head);
                    continue;
                }
                Poll::Pending => {}
            }
            let since = match waiting_since {
                Some(since) => since,
                None => {
                    let wait = if idle {
                        ctx.config.timeout_keep_alive
                    } else {
                        ctx.config.timeout_request_head
                    };
                    let now = Instant::now();
                    let deadline = now + wait;
                    timer.set(if grace {
                        deadline.min(now + FIRST_REQUEST_GRACE)
                    } else {
                        deadline
                    });
                    *waiting_since.insert(now)
                }
            };
            if timer.poll_expired(cx).is_ready() {
                if idle {
                    tracing::debug!("closing idle keep-alive connection");
                } else {
                    tracing::debug!("request head not received in time; closing");
                }
                return Poll::Ready(HeadResult::Close);
            }
            if !grace && shutdown_signal.poll_signalled(cx, shutdown) {
                if !first {
                    return Poll::Ready(HeadResult::Close);
                }
                // The grace is for a connection accepted just before the
                // shutdown, counted from when it began to wait (about when
                // it was accepted): one that has been open and silent for
                // longer (a client's spare pooled connection) closes now.
                grace = true;
                timer.set(timer.deadline().min(since + FIRST_REQUEST_GRACE));
                continue;
            }
            return Poll::Pending;
        }
    })
    .await
}

/// Reads and drops what the app left of the request body, if that is cheap.
async fn drain_body<I>(shared: &Shared<I>, ctx: &ServiceContext) -> bool
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Most often the rest of the body is already buffered (a GET's empty
    // body the app never read): drop it without arming a timeout, which
    // reads the clock and sets up a timer entry on every such request.
    let Some((start, buffered)) = shared.with(|c| {
        let start = c.cycle.body_received();
        (start, c.cycle.discard_body(&mut c.read_buf))
    }) else {
        return false;
    };
    if let Some(complete) = buffered {
        return complete;
    }
    let drain = poll_fn(|cx| {
        shared
            .with(|c| c.poll_discard(cx, start))
            .unwrap_or(Poll::Ready(false))
    });
    tokio::time::timeout(ctx.config.timeout_request_head, drain)
        .await
        .unwrap_or(false)
}

/// Flushes what is left, closes the write side and (after an error response)
/// reads for a moment so that the client sees the response, not a reset.
async fn close<I>(shared: &Shared<I>, ctx: &ServiceContext, linger: bool)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let flush = poll_fn(|cx| {
        shared
            .with(|c| c.poll_drain(cx))
            .unwrap_or(Poll::Ready(Ok(())))
    });
    if !matches!(
        tokio::time::timeout(ctx.config.timeout_request_head, flush).await,
        Ok(Ok(()))
    ) {
        return;
    }
    let shutdown = poll_fn(|cx| {
        shared
            .with(|c| Pin::new(&mut c.io).poll_shutdown(cx))
            .unwrap_or(Poll::Ready(Ok(())))
    });
    let pending_input = shared.with(|c| !c.read_buf.is_empty()).unwrap_or(false);
    if tokio::time::timeout(LINGER_TIME, shutdown).await.is_err() || !(linger || pending_input) {
        return;
    }
    let Some(mut conn) = shared.take() else {
        return;
    };
    let discard = async {
        let mut seen = 0;
        // On the heap, not in the future: a stack array held across an
        // `.await` would sit in every connection's task for its whole life
        // (the task is as big as its largest state), idle or not.
        let mut buf = vec![0u8; 4096];
        while seen < LINGER_BYTES {
            match conn.io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, discard).await;
}

/// Flushes earlier responses, then gives the socket to the WebSocket engine.
async fn hand_off_websocket<I>(
    shared: Arc<Shared<I>>,
    head: RequestHead,
    info: &ConnInfo,
    ctx: &Arc<ServiceContext>,
    shutdown: Shutdown,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let flushed = poll_fn(|cx| {
        shared
            .with(|c| c.poll_drain(cx))
            .unwrap_or(Poll::Ready(Ok(())))
    })
    .await;
    let Some(conn) = shared.take() else { return };
    if flushed.is_err() {
        return;
    }
    let scope = cycle::websocket_scope(head, info, ctx);
    // Boxed so that the WebSocket engine's (much larger) state is allocated
    // only for WebSocket connections, not reserved in every HTTP/1.1 task.
    Box::pin(websocket::serve(
        conn.io,
        conn.read_buf,
        scope,
        ctx.clone(),
        shutdown,
    ))
    .await;
}

#[cfg(test)]
mod tests;
