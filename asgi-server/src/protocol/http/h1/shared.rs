//! The connection state behind one `Arc`: the socket, its buffers and the
//! current cycle. It is also the app's `receive` and `send` (the
//! [`ReceiveHandle`] and [`SendHandle`] impls at the bottom).

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use asgi_core::{
    HttpReceive, HttpVersion, ReceiveError, ReceiveEvent, ReceiveHandle, SendError, SendEvent,
    SendHandle,
};
use bytes::{BufMut, BytesMut};
use http::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::cycle::{BodyState, Cycle, DRAIN_LIMIT};
use super::decode::{self, HeadError, RequestHead};
use super::encode::{self, CONTINUE, HeadContext};
use super::output::Output;
use crate::protocol::ServiceContext;
use crate::protocol::handle_lock::{HandleGuard, HandleLock};
use crate::shutdown::Shutdown;

/// Write buffers below this are held back while pipelined requests are
/// being answered, so that a batch of responses goes out in one write.
const BATCH_LIMIT: usize = 64 * 1024;

/// Room made for each socket read of request heads.
const READ_CHUNK: usize = 8 * 1024;

/// Room made for each socket read of request bodies (fewer, larger messages).
const BODY_CHUNK: usize = 64 * 1024;

pub(super) enum HeadResult {
    /// A request head, its cycle installed; or the status to refuse it with
    /// (see [`Cycle::new`]) before the app is called.
    Head(RequestHead, Option<StatusCode>),
    Close,
    Error(HeadError),
}

/// The connection state shared by the task and the app's handles.
pub(crate) struct Shared<I> {
    inner: HandleLock<Option<ConnIo<I>>>,
}

impl<I> Shared<I> {
    pub(super) fn new(conn: ConnIo<I>) -> Self {
        Self {
            inner: HandleLock::new(Some(conn)),
        }
    }

    pub(super) fn lock(&self) -> HandleGuard<'_, Option<ConnIo<I>>> {
        self.inner.lock()
    }

    /// Runs `f` on the connection; `None` once it was handed off or retired.
    pub(super) fn with<R>(&self, f: impl FnOnce(&mut ConnIo<I>) -> R) -> Option<R> {
        self.lock().as_mut().map(f)
    }

    pub(super) fn take(&self) -> Option<ConnIo<I>> {
        self.lock().take()
    }

    /// Moves the connection into a new `Shared`, leaving this one empty.
    pub(super) fn retire(this: &Arc<Self>) -> Option<Arc<Self>> {
        this.take().map(|conn| Arc::new(Self::new(conn)))
    }
}

impl<I> std::fmt::Debug for Shared<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// The socket, its buffers and the current cycle.
pub(super) struct ConnIo<I> {
    pub(super) io: I,
    pub(super) read_buf: BytesMut,
    output: Output,
    /// The peer will send nothing more.
    eof: bool,
    /// A write failed: the peer is gone.
    broken: bool,
    pub(super) cycle: Cycle,
    ctx: Arc<ServiceContext>,
    shutdown: Shutdown,
    /// Reused by the head parser.
    scratch: Vec<decode::FieldIndex>,
}

pub(super) enum HeadPoll {
    /// As [`HeadResult::Head`].
    Head(RequestHead, Option<StatusCode>),
    /// The first bytes of a head arrived on an idle connection.
    Started,
    Closed,
    Error(HeadError),
}

impl<I> ConnIo<I>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    pub(super) fn new(io: I, ctx: Arc<ServiceContext>, shutdown: Shutdown) -> Self {
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
    pub(super) fn finish_cycle(&mut self) {
        // A complete response needs no context: skip reading the shutdown
        // flag (an atomic load of a line every connection shares) on every
        // request.
        let finished = self.cycle.is_complete() && self.cycle.is_started();
        let ctx = head_context(&self.ctx, !finished && !self.shutdown.is_shutdown());
        self.cycle.finish(&mut self.output, ctx);
    }

    /// Lets go of a read buffer that grew for a request body, so that an
    /// idle keep-alive connection holds only a head-sized buffer.
    pub(super) fn shrink_read_buf(&mut self) {
        if self.read_buf.is_empty() && self.read_buf.capacity() > 2 * READ_CHUNK {
            self.read_buf = BytesMut::with_capacity(READ_CHUNK);
        }
    }

    /// Queues an error response that closes the connection.
    pub(super) fn write_error(&mut self, status: StatusCode) {
        let ctx = head_context(&self.ctx, false);
        encode::encode_error(self.output.dst(), status, ctx);
    }

    /// Polls for the next request head: parses what is buffered, else
    /// writes what is held back and reads. A parsed head gets its cycle
    /// installed here, under the same lock (one lock less per request).
    ///
    /// `idle`: nothing of this request has been seen yet, so the first bytes
    /// of an incomplete head end the poll with [`HeadPoll::Started`] (the
    /// caller then switches from the keep-alive to the head timeout).
    /// `read`: whether to read from the socket; without it, anything short
    /// of a complete buffered head is [`HeadPoll::Closed`].
    pub(super) fn poll_head(
        &mut self,
        cx: &mut Context<'_>,
        idle: bool,
        read: bool,
    ) -> Poll<HeadPoll> {
        loop {
            if !self.read_buf.is_empty() {
                match decode::parse_head(
                    &mut self.read_buf,
                    self.ctx.config.limit_request_head,
                    &mut self.scratch,
                ) {
                    Ok(Some(head)) => {
                        let refused = match Cycle::new(&head, self.ctx.config.limit_request_body) {
                            Ok(cycle) => {
                                self.cycle = cycle;
                                None
                            }
                            Err(status) => Some(status),
                        };
                        return Poll::Ready(HeadPoll::Head(head, refused));
                    }
                    Err(error) => return Poll::Ready(HeadPoll::Error(error)),
                    Ok(None) if idle => return Poll::Ready(HeadPoll::Started),
                    Ok(None) => {}
                }
            }
            if !read {
                return Poll::Ready(HeadPoll::Closed);
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
    pub(super) fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
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
                // Responses held back for batching go out before the wait.
                if ready!(self.poll_drain(cx)).is_err() {
                    return Poll::Ready(self.cycle.disconnect());
                }
                ready!(self.poll_fill(cx));
                continue;
            }
            if self.cycle.expect_continue {
                // RFC 9110 10.1.1: 100 Continue only once the app wants the body.
                self.cycle.expect_continue = false;
                self.output.dst().put_slice(CONTINUE);
            }
            if let Some(message) = self.cycle.decode_body(&mut self.read_buf, self.eof) {
                return Poll::Ready(message);
            }
            // Only before waiting on the client does what is queued (the 100
            // Continue, responses held back for batching) have to go out:
            // draining before every decode made each pipelined request that
            // reads its (empty) body cost one write of its own.
            if ready!(self.poll_drain(cx)).is_err() {
                return Poll::Ready(self.cycle.disconnect());
            }
            ready!(self.poll_fill_by(cx, BODY_CHUNK));
        }
    }

    /// Drops the rest of the request body; `false` if it is too big, bad or cut short.
    pub(super) fn poll_discard(&mut self, cx: &mut Context<'_>, start: u64) -> Poll<bool> {
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
        // Only the message that encodes the head reads the shutdown flag (a
        // line every connection shares); the others never look at it.
        let keep_alive = self.cycle.encodes_head(&message) && !self.shutdown.is_shutdown();
        let ctx = head_context(&self.ctx, keep_alive);
        self.cycle.send(message, &mut self.output, ctx)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        if self.output.is_empty() {
            return Poll::Ready(Ok(()));
        }
        // Responses to pipelined requests are held back (up to a bound) so
        // that a batch goes out in one write:
        // - before this response's head is encoded (`http.response.start`
        //   is held until the first body message), all that is queued
        //   belongs to earlier, complete responses, and this response's
        //   first body message will flush them anyway;
        // - once it is complete, when what is buffered past its body is the
        //   next request. An empty body the app never asked for
        //   (`Length(0)`) has no bytes on the wire either.
        // Without these, each pipelined request cost one write of its own.
        let hold = !self.cycle.is_started()
            || (self.cycle.is_complete()
                && matches!(self.cycle.body, BodyState::Done | BodyState::Length(0))
                && !self.read_buf.is_empty());
        if hold && self.output.len() < BATCH_LIMIT {
            // A later flush (or the wait for the next request) writes it.
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
///
/// `keep_alive`: whether the server would keep the connection (it is not
/// shutting down).
fn head_context(ctx: &ServiceContext, keep_alive: bool) -> HeadContext<'_> {
    HeadContext {
        version: HttpVersion::Http11,
        is_head: false,
        keep_alive,
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
        let message = crate::protocol::http::http_message(event)?;
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

    /// `start_send` and `poll_flush` under one lock.
    fn poll_send(
        &self,
        event: &mut Option<SendEvent>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError>> {
        let message = event
            .take()
            .map(crate::protocol::http::http_message)
            .transpose()?;
        let mut guard = self.lock();
        let Some(conn) = guard.as_mut() else {
            return Poll::Ready(Err(SendError::Disconnected));
        };
        if let Some(message) = message {
            conn.start_send(message)?;
        }
        conn.poll_flush(cx)
    }
}
