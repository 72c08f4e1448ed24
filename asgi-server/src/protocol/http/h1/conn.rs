//! The per-connection task: reads request heads, runs the app for each
//! request, and writes responses, with keep-alive, pipelining and backpressure.
//!
//! All state of a connection sits behind one `Arc<Shared>`, which is also the
//! app's `receive` and `send`: a body `send` encodes straight into the write
//! buffer and its flush writes to the socket from the app's own poll, so no
//! task, channel or allocation is needed per request or message. The lock is
//! uncontended: the app future is polled by this task (unless the app moves
//! its handles elsewhere, which still works).

use std::future::{Future, poll_fn};
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use asgi_core::{
    HttpReceive, HttpVersion, ProtocolError, ReceiveError, ReceiveEvent, ReceiveHandle, Receiver,
    Scope, SendError, SendEvent, SendHandle, Sender,
};
use bytes::{BufMut, BytesMut};
use futures_util::FutureExt;
use futures_util::future::FusedFuture;
use http::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::{Instant, Sleep};

use super::cycle::{self, BodyState, Cycle, DRAIN_LIMIT};
use super::decode::{self, HeadError, RequestHead};
use super::encode::{self, CONTINUE, HeadContext};
use super::output::Output;
use crate::protocol::{ConnInfo, ServiceContext, websocket};
use crate::shutdown::Shutdown;

/// Write buffers below this are held back while pipelined requests are
/// being answered, so that a batch of responses goes out in one write.
const BATCH_LIMIT: usize = 64 * 1024;

/// Room made for each socket read of request heads.
const READ_CHUNK: usize = 8 * 1024;

/// Room made for each socket read of request bodies (fewer, larger messages).
const BODY_CHUNK: usize = 64 * 1024;

/// How long, and how many bytes, to read and drop after an error response
/// before closing, so that the client sees the response rather than a reset.
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 1024 * 1024;

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
    ctx.connections.fetch_add(1, Ordering::Relaxed);
    let _count = Decrement(&ctx.connections);
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
    let mut shutdown_signal = pin!(listener.wait().fuse());

    let linger = loop {
        let head = match read_head(
            &shared,
            &ctx,
            &shutdown,
            shutdown_signal.as_mut(),
            first,
            &mut timer,
        )
        .await
        {
            HeadResult::Head(head) => head,
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
        if over_concurrency_limit(&ctx) {
            tracing::warn!("exceeded concurrency limit");
            shared.with(|c| c.write_error(StatusCode::SERVICE_UNAVAILABLE));
            break true;
        }
        let cycle = match Cycle::new(&head, ctx.config.limit_request_body) {
            Ok(cycle) => cycle,
            Err(status) => {
                shared.with(|c| c.write_error(status));
                break true;
            }
        };
        if let Some(max) = ctx.config.limit_max_requests
            && ctx.requests.fetch_add(1, Ordering::Relaxed) + 1 >= max
        {
            tracing::warn!("maximum request limit of {max} exceeded; shutting down");
            ctx.trigger.trigger();
        }
        let access = (ctx.config.access_log
            && tracing::enabled!(target: "asgi_server::access", tracing::Level::INFO))
        .then(|| (head.method.clone(), head.target.clone(), head.version));
        shared.with(|c| c.cycle = cycle);

        let scope = cycle::http_scope(head, &info, &ctx);
        let receiver = Receiver::new(shared.clone());
        let sender = Sender::new(shared.clone());
        let outcome = {
            let _in_flight = ctx.config.limit_concurrency.map(|_| {
                ctx.in_flight.fetch_add(1, Ordering::Relaxed);
                Decrement(&ctx.in_flight)
            });
            AssertUnwindSafe(ctx.app.call(Scope::Http(scope), receiver, sender))
                .catch_unwind()
                .await
        };

        let (status, keep_alive, body_done) = shared
            .with(|c| {
                report(&outcome, &c.cycle);
                c.finish_cycle();
                c.shrink_read_buf();
                (c.cycle.status, c.cycle.keep_alive(), c.cycle.body_done())
            })
            .unwrap_or((None, false, true));
        if let (Some((method, target, version)), Some(status)) = (access, status) {
            log_access(&info, &method, &target, version, status);
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

/// Whether `--limit-concurrency` says to turn this request away.
fn over_concurrency_limit(ctx: &ServiceContext) -> bool {
    ctx.config.limit_concurrency.is_some_and(|limit| {
        ctx.connections.load(Ordering::Relaxed) > limit
            || ctx.in_flight.load(Ordering::Relaxed) >= limit
    })
}

/// Logs how the app ended, the way Uvicorn words it.
fn report(
    outcome: &Result<Result<(), asgi_core::BoxError>, Box<dyn std::any::Any + Send>>,
    cycle: &Cycle,
) {
    match outcome {
        Ok(Ok(())) if cycle.disconnected || cycle.is_complete() => {}
        Ok(Ok(())) if !cycle.is_started() => {
            tracing::error!("ASGI callable returned without starting response.")
        }
        Ok(Ok(())) => tracing::error!("ASGI callable returned without completing response."),
        Ok(Err(error)) => {
            if error
                .downcast_ref::<SendError>()
                .is_some_and(SendError::is_disconnected)
            {
                tracing::debug!("ASGI application stopped: the client disconnected");
            } else {
                tracing::error!("Exception in ASGI application: {error}");
            }
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(non-string panic payload)");
            tracing::error!("ASGI application panicked: {message}");
        }
    }
}

fn log_access(
    info: &ConnInfo,
    method: &http::Method,
    target: &[u8],
    version: HttpVersion,
    status: StatusCode,
) {
    let client = match info.client {
        Some(addr) => addr.to_string(),
        None => String::from("-"),
    };
    tracing::info!(
        target: "asgi_server::access",
        "{client} - \"{method} {} HTTP/{version}\" {}",
        String::from_utf8_lossy(target),
        status.as_u16()
    );
    // The line reads like Uvicorn's: `127.0.0.1:51234 - "GET / HTTP/1.1" 200`.
}

struct Decrement<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection's deadline timer, re-armed lazily.
///
/// Moving a deadline later (each keep-alive request does) only records it;
/// the sleep is reset when it fires early or must fire sooner. Under steady
/// traffic that is one timer-wheel update per timeout period, not per request.
struct Timer {
    sleep: Pin<Box<Sleep>>,
    armed: Instant,
    deadline: Instant,
}

impl Timer {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            sleep: Box::pin(tokio::time::sleep_until(now)),
            armed: now,
            deadline: now,
        }
    }

    fn set(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if deadline < self.armed {
            self.armed = deadline;
            self.sleep.as_mut().reset(deadline);
        }
    }

    async fn expired(&mut self) {
        loop {
            self.sleep.as_mut().await;
            if Instant::now() >= self.deadline {
                return;
            }
            self.armed = self.deadline;
            self.sleep.as_mut().reset(self.deadline);
        }
    }
}

enum HeadResult {
    Head(RequestHead),
    Close,
    Error(HeadError),
}

/// Waits for the next request head, within the keep-alive and head timeouts.
async fn read_head<I, S>(
    shared: &Shared<I>,
    ctx: &ServiceContext,
    shutdown: &Shutdown,
    mut shutdown_signal: Pin<&mut S>,
    first: bool,
    timer: &mut Timer,
) -> HeadResult
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: FusedFuture<Output = ()>,
{
    // Pipelined requests are parsed straight from the buffer, no timer needed.
    let Some(empty) = shared.with(|c| c.read_buf.is_empty()) else {
        return HeadResult::Close;
    };
    if !empty && let Some(Some(result)) = shared.with(ConnIo::try_parse_head) {
        return result;
    }
    if shutdown.is_shutdown() {
        return HeadResult::Close;
    }
    let mut idle = !first && empty;
    let wait = if idle {
        ctx.config.timeout_keep_alive
    } else {
        ctx.config.timeout_request_head
    };
    timer.set(Instant::now() + wait);
    loop {
        tokio::select! {
            biased;
            polled = poll_fn(|cx| shared.with(|c| c.poll_head(cx, idle)).unwrap_or(Poll::Ready(HeadPoll::Closed))) => match polled {
                HeadPoll::Head(head) => return HeadResult::Head(head),
                HeadPoll::Error(error) => return HeadResult::Error(error),
                HeadPoll::Closed => return HeadResult::Close,
                HeadPoll::Started => {
                    idle = false;
                    timer.set(Instant::now() + ctx.config.timeout_request_head);
                }
            },
            () = timer.expired() => {
                if idle {
                    tracing::debug!("closing idle keep-alive connection");
                } else {
                    tracing::debug!("request head not received in time; closing");
                }
                return HeadResult::Close;
            }
            () = shutdown_signal.as_mut() => return HeadResult::Close,
        }
    }
}

/// Reads and drops what the app left of the request body, if that is cheap.
async fn drain_body<I>(shared: &Shared<I>, ctx: &ServiceContext) -> bool
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Some(start) = shared.with(|c| c.cycle.body_received()) else {
        return false;
    };
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
        let mut buf = [0u8; 4096];
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
    websocket::serve(
        conn.io,
        conn.read_buf,
        scope,
        ctx.app.clone(),
        ctx.websocket.clone(),
        shutdown,
    )
    .await;
}

/// The connection state shared by the task and the app's handles.
pub(crate) struct Shared<I> {
    inner: Mutex<Option<ConnIo<I>>>,
}

impl<I> Shared<I> {
    fn new(conn: ConnIo<I>) -> Self {
        Self {
            inner: Mutex::new(Some(conn)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<ConnIo<I>>> {
        // The lock is only held by this module's code, which does not panic
        // mid-update; a poisoned lock still holds consistent state.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the connection; `None` once it was handed off or retired.
    fn with<R>(&self, f: impl FnOnce(&mut ConnIo<I>) -> R) -> Option<R> {
        self.lock().as_mut().map(f)
    }

    fn take(&self) -> Option<ConnIo<I>> {
        self.lock().take()
    }

    /// Moves the connection into a new `Shared`, leaving this one empty.
    fn retire(this: &Arc<Self>) -> Option<Arc<Self>> {
        this.take().map(|conn| Arc::new(Self::new(conn)))
    }
}

impl<I> std::fmt::Debug for Shared<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// The socket, its buffers and the current cycle.
struct ConnIo<I> {
    io: I,
    read_buf: BytesMut,
    output: Output,
    /// The peer will send nothing more.
    eof: bool,
    /// A write failed: the peer is gone.
    broken: bool,
    cycle: Cycle,
    ctx: Arc<ServiceContext>,
    shutdown: Shutdown,
    /// Reused by the head parser.
    scratch: Vec<decode::FieldIndex>,
}

enum HeadPoll {
    Head(RequestHead),
    /// The first bytes of a head arrived on an idle connection.
    Started,
    Closed,
    Error(HeadError),
}

impl<I> ConnIo<I>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn new(io: I, ctx: Arc<ServiceContext>, shutdown: Shutdown) -> Self {
        Self {
            io,
            read_buf: BytesMut::with_capacity(READ_CHUNK),
            output: Output::default(),
            eof: false,
            broken: false,
            cycle: Cycle::idle(),
            ctx,
            shutdown,
            scratch: Vec::new(),
        }
    }

    /// Ends the cycle after the app returned (see [`Cycle::finish`]).
    fn finish_cycle(&mut self) {
        let ctx = head_context(&self.ctx, &self.shutdown);
        self.cycle.finish(&mut self.output, ctx);
    }

    /// Lets go of a read buffer that grew for a request body, so that an
    /// idle keep-alive connection holds only a head-sized buffer.
    fn shrink_read_buf(&mut self) {
        if self.read_buf.is_empty() && self.read_buf.capacity() > 2 * READ_CHUNK {
            self.read_buf = BytesMut::with_capacity(READ_CHUNK);
        }
    }

    /// Queues an error response that closes the connection.
    fn write_error(&mut self, status: StatusCode) {
        let mut ctx = head_context(&self.ctx, &self.shutdown);
        ctx.keep_alive = false;
        encode::encode_error(self.output.dst(), status, ctx);
    }

    fn try_parse_head(&mut self) -> Option<HeadResult> {
        match decode::parse_head(
            &mut self.read_buf,
            self.ctx.config.limit_request_head,
            &mut self.scratch,
        ) {
            Ok(Some(head)) => Some(HeadResult::Head(head)),
            Ok(None) => None,
            Err(error) => Some(HeadResult::Error(error)),
        }
    }

    fn poll_head(&mut self, cx: &mut Context<'_>, idle: bool) -> Poll<HeadPoll> {
        loop {
            if !self.read_buf.is_empty() {
                match decode::parse_head(
                    &mut self.read_buf,
                    self.ctx.config.limit_request_head,
                    &mut self.scratch,
                ) {
                    Ok(Some(head)) => return Poll::Ready(HeadPoll::Head(head)),
                    Err(error) => return Poll::Ready(HeadPoll::Error(error)),
                    Ok(None) if idle => return Poll::Ready(HeadPoll::Started),
                    Ok(None) => {}
                }
            }
            // Responses held back for batching go out before waiting on the client.
            if ready!(self.poll_drain(cx)).is_err() || self.eof {
                return Poll::Ready(HeadPoll::Closed);
            }
            if ready!(self.poll_fill(cx)) == 0 {
                return Poll::Ready(HeadPoll::Closed);
            }
        }
    }

    /// Reads from the socket into `read_buf`; 0 means the peer is done (or failed).
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<usize> {
        self.poll_fill_by(cx, READ_CHUNK)
    }

    /// [`poll_fill`](Self::poll_fill) with room for at least `chunk / 2` bytes.
    fn poll_fill_by(&mut self, cx: &mut Context<'_>, chunk: usize) -> Poll<usize> {
        if self.read_buf.capacity() - self.read_buf.len() < chunk / 2 {
            self.read_buf.reserve(chunk);
        }
        let read = pin!(self.io.read_buf(&mut self.read_buf));
        match ready!(read.poll(cx)) {
            Ok(n) if n > 0 => Poll::Ready(n),
            Ok(_) | Err(_) => {
                self.eof = true;
                Poll::Ready(0)
            }
        }
    }

    /// Writes what is queued to the socket.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.broken {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if let Err(error) = ready!(self.output.poll_write_to(&mut self.io, cx)) {
            return Poll::Ready(self.fail(error));
        }
        match ready!(Pin::new(&mut self.io).poll_flush(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(error) => Poll::Ready(self.fail(error)),
        }
    }

    fn fail(&mut self, error: io::Error) -> io::Result<()> {
        self.broken = true;
        self.output.clear();
        Err(error)
    }

    fn poll_receive(&mut self, cx: &mut Context<'_>) -> Poll<HttpReceive> {
        loop {
            if self.cycle.disconnected || self.cycle.is_complete() {
                return Poll::Ready(HttpReceive::Disconnect);
            }
            if matches!(self.cycle.body, BodyState::Done) {
                // The body is all read: wait for the client to go away, keeping
                // whatever it pipelines (up to a bound) for the next request.
                if self.eof || self.broken {
                    return Poll::Ready(self.cycle.disconnect());
                }
                if self.read_buf.len() > self.ctx.config.limit_request_head + READ_CHUNK {
                    return Poll::Pending;
                }
                ready!(self.poll_fill(cx));
                continue;
            }
            if self.cycle.expect_continue {
                // RFC 9110 10.1.1: 100 Continue only once the app wants the body.
                self.cycle.expect_continue = false;
                self.output.dst().put_slice(CONTINUE);
            }
            if ready!(self.poll_drain(cx)).is_err() {
                return Poll::Ready(self.cycle.disconnect());
            }
            if let Some(message) = self.cycle.decode_body(&mut self.read_buf, self.eof) {
                return Poll::Ready(message);
            }
            ready!(self.poll_fill_by(cx, BODY_CHUNK));
        }
    }

    /// Drops the rest of the request body; `false` if it is too big, bad or cut short.
    fn poll_discard(&mut self, cx: &mut Context<'_>, start: u64) -> Poll<bool> {
        loop {
            match self.cycle.discard_body(&mut self.read_buf) {
                Some(complete) => return Poll::Ready(complete),
                None if self.cycle.body_received() - start > DRAIN_LIMIT || self.eof => {
                    return Poll::Ready(false);
                }
                None => {}
            }
            if ready!(self.poll_drain(cx)).is_err() {
                return Poll::Ready(false);
            }
            ready!(self.poll_fill_by(cx, BODY_CHUNK));
        }
    }

    fn start_send(&mut self, message: asgi_core::HttpSend) -> Result<(), SendError> {
        if self.broken {
            self.cycle.disconnect();
            return Err(SendError::Disconnected);
        }
        let ctx = head_context(&self.ctx, &self.shutdown);
        self.cycle.send(message, &mut self.output, ctx)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        if self.output.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let pipelined = self.cycle.is_complete()
            && matches!(self.cycle.body, BodyState::Done)
            && !self.read_buf.is_empty();
        if pipelined && self.output.len() < BATCH_LIMIT {
            // Another request is already buffered: its response joins this write.
            return Poll::Ready(Ok(()));
        }
        match ready!(self.poll_drain(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(_) => {
                self.cycle.disconnect();
                Poll::Ready(Err(SendError::Disconnected))
            }
        }
    }
}

/// What the encoder needs from the server; the cycle fills in the request's part.
fn head_context<'a>(ctx: &'a ServiceContext, shutdown: &Shutdown) -> HeadContext<'a> {
    HeadContext {
        version: HttpVersion::Http11,
        is_head: false,
        keep_alive: !shutdown.is_shutdown(),
        date: ctx.config.date_header,
        server: &ctx.server_header,
        defaults: &ctx.default_headers,
    }
}

impl<I> ReceiveHandle for Shared<I>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn poll_receive(&self, cx: &mut Context<'_>) -> Poll<Result<ReceiveEvent, ReceiveError>> {
        match self.lock().as_mut() {
            Some(conn) => conn.poll_receive(cx).map(|message| Ok(message.into())),
            None => Poll::Ready(Ok(HttpReceive::Disconnect.into())),
        }
    }
}

impl<I> SendHandle for Shared<I>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn start_send(&self, event: SendEvent) -> Result<(), SendError> {
        let SendEvent::Http(message) = event else {
            return Err(ProtocolError::WrongScope {
                scope: "http",
                received: event.kind(),
            }
            .into());
        };
        match self.lock().as_mut() {
            Some(conn) => conn.start_send(message),
            None => Err(SendError::Disconnected),
        }
    }

    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        match self.lock().as_mut() {
            Some(conn) => conn.poll_flush(cx),
            None => Poll::Ready(Err(SendError::Disconnected)),
        }
    }
}
