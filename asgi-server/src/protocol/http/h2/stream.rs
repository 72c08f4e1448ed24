//! One HTTP/2 stream: its scope, the request body the app receives (with
//! flow control) and the response it sends (within send capacity).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};

use asgi_core::protocol::HttpResponseState;
use asgi_core::{
    Headers, HttpReceive, HttpScope, HttpSend, HttpVersion, ProtocolError, ReceiveError,
    ReceiveEvent, ReceiveHandle, Receiver, Scope, SendError, SendEvent, SendHandle, Sender,
};
use bytes::Bytes;
use futures_util::FutureExt;
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};
use http::{HeaderMap, Method, StatusCode};

use super::head;
use super::tasks::StreamTasks;
use crate::protocol::handle_lock::{HandleGuard, HandleLock};
use crate::protocol::http::service;
use crate::protocol::{ConnInfo, ServiceContext, call_app};
use crate::stall;

/// Starts one stream: answers it at once if a limit turns it away, else
/// builds its scope and runs the app on it. Returns whether it spawned a
/// task for the stream.
///
/// Eager, as Python's eager tasks: the app's first poll runs here, in the
/// connection's task, with a waker that does nothing. Most apps finish in it
/// (their response fits the send window), and then the stream needs no task
/// of its own: no task allocation, scheduling or join. An app that waits is
/// moved into a task, whose first poll leaves the task's waker wherever the
/// no-op one was left (a future registers the waker of its latest poll).
pub(super) fn start(
    request: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    info: &ConnInfo,
    ctx: &Arc<ServiceContext>,
    tasks: &StreamTasks,
) -> bool {
    let (parts, body) = request.into_parts();
    let mut access = service::access_log_enabled(ctx).then(|| {
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        Box::new(AccessLine {
            method: parts.method.clone(),
            target: Bytes::copy_from_slice(target.as_bytes()),
            client: info.client,
        })
    });
    if service::over_concurrency_limit(ctx) {
        tracing::warn!("exceeded concurrency limit");
        send_error(&mut respond, StatusCode::SERVICE_UNAVAILABLE, ctx);
        log_access(access.as_deref(), StatusCode::SERVICE_UNAVAILABLE);
        return false;
    }
    if let Some(limit) = ctx.config.limit_request_body
        && declared_length(&parts.headers).is_some_and(|n| n > limit)
    {
        send_error(&mut respond, StatusCode::PAYLOAD_TOO_LARGE, ctx);
        log_access(access.as_deref(), StatusCode::PAYLOAD_TOO_LARGE);
        return false;
    }
    service::count_request(ctx);

    // `Expect: 100-continue`: answered once the app first asks for the body.
    let expect_continue = !body.is_end_stream()
        && parts
            .headers
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let scope = head::http_scope(parts, info, ctx);
    if let Some(line) = &mut access {
        // The access log names the client as the app saw it (after proxy headers).
        line.client = scope.client;
    }
    let stall_label = stall::label(&scope.method, &scope.target.raw_path);
    let shared = Arc::new(Stream {
        state: HandleLock::new(State::new(body, respond, &scope, expect_continue, ctx)),
        in_flight: service::enter_in_flight(ctx),
        ctx: ctx.clone(),
    });
    let receiver = Receiver::new(shared.clone());
    let sender = Sender::new(shared.clone());
    let app = call_app(&ctx.app, Scope::Http(scope), receiver, sender);
    let mut run = AssertUnwindSafe(stall::Tracked::new(stall_label, app)).catch_unwind();
    match (&mut run).now_or_never() {
        Some(outcome) => end(shared, outcome, access, ctx, tasks),
        None => {
            let ctx = ctx.clone();
            tasks.spawn(move || async move {
                let outcome = run.await;
                finish(&shared, outcome, access.as_deref(), &ctx).await;
            });
            true
        }
    }
}

/// Ends a stream whose app returned (or failed) during [`start`]: at once
/// when its response is out, else in a task that waits for send capacity.
/// Returns whether it spawned one.
fn end(
    shared: Arc<Stream>,
    outcome: service::Outcome,
    access: Option<Box<AccessLine>>,
    ctx: &Arc<ServiceContext>,
    tasks: &StreamTasks,
) -> bool {
    if matches!(outcome, Ok(Ok(())))
        && poll_fn(|cx| shared.lock().poll_flush(cx))
            .now_or_never()
            .is_none()
    {
        let ctx = ctx.clone();
        tasks.spawn(move || async move {
            finish(&shared, outcome, access.as_deref(), &ctx).await;
        });
        return true;
    }
    close(&shared, &outcome, access.as_deref(), ctx);
    false
}

/// Ends the stream after the app returned, failed or panicked.
async fn finish(
    shared: &Stream,
    outcome: service::Outcome,
    access: Option<&AccessLine>,
    ctx: &ServiceContext,
) {
    if matches!(outcome, Ok(Ok(()))) {
        // A body the app queued without waiting for it (a send future it
        // dropped, say) still goes out; a failed response is reset instead.
        let _ = poll_fn(|cx| shared.lock().poll_flush(cx)).await;
    }
    close(shared, &outcome, access, ctx);
}

/// Closes the stream's response (a 500 or a reset if the app left it
/// unfinished) and logs its access line.
fn close(
    shared: &Stream,
    outcome: &service::Outcome,
    access: Option<&AccessLine>,
    ctx: &ServiceContext,
) {
    if let Some(status) = shared.lock().finish(outcome, ctx) {
        log_access(access, status);
    }
}

/// What the access line of a stream needs from its request (boxed: only
/// kept when the line is wanted, and then off the task's own future).
struct AccessLine {
    method: Method,
    target: Bytes,
    client: Option<SocketAddr>,
}

/// Logs the access line of a stream, if one is wanted.
fn log_access(access: Option<&AccessLine>, status: StatusCode) {
    if let Some(line) = access {
        service::log_access(
            line.client,
            &line.method,
            &line.target,
            HttpVersion::Http2,
            status,
        );
    }
}

/// The `content-length` the request declared, if any.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Answers with a plain-text error response and ends the stream.
fn send_error(respond: &mut SendResponse<Bytes>, status: StatusCode, ctx: &ServiceContext) {
    let (response, reason) = head::error_response(status, ctx);
    if let Ok(mut stream) = respond.send_response(response, false) {
        // Small enough to go out without waiting for capacity: h2 queues it.
        let _ = stream.send_data(Bytes::from_static(reason.as_bytes()), true);
    }
}

/// Body chunks waiting for send capacity, oldest first.
///
/// Mostly one at a time (`send` waits for its chunk to go out), so the
/// first is kept inline: a response needs no queue allocation.
#[derive(Default)]
struct BodyQueue {
    first: Option<Bytes>,
    rest: VecDeque<Bytes>,
}

impl BodyQueue {
    fn push_back(&mut self, chunk: Bytes) {
        if self.first.is_none() {
            self.first = Some(chunk);
        } else {
            self.rest.push_back(chunk);
        }
    }

    fn front_mut(&mut self) -> Option<&mut Bytes> {
        self.first.as_mut()
    }

    fn pop_front(&mut self) {
        self.first = self.rest.pop_front();
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn clear(&mut self) {
        self.first = None;
        self.rest.clear();
    }
}

/// The stream state shared by the stream task and the app's handles.
struct Stream {
    state: HandleLock<State>,
    /// Counted in `--limit-concurrency`'s in-flight requests until dropped.
    in_flight: bool,
    ctx: Arc<ServiceContext>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        if self.in_flight {
            service::leave_in_flight(&self.ctx);
        }
    }
}

impl Stream {
    fn lock(&self) -> HandleGuard<'_, State> {
        self.state.lock()
    }
}

/// Where the response is on the wire.
enum Respond {
    /// No head sent yet.
    Waiting(SendResponse<Bytes>),
    /// Head sent; body (and maybe trailers) to follow.
    Open(SendStream<Bytes>),
    /// The stream is ended (or reset) on our side.
    Closed,
}

struct State {
    recv: RecvStream,
    /// The whole request body has been handed to the app.
    body_done: bool,
    body_received: u64,
    body_limit: Option<u64>,
    /// A body over `--limit-request-body`: 413 if the response has not started.
    body_error: Option<StatusCode>,
    respond: Respond,
    response: HttpResponseState,
    /// `http.response.start`, held until the first body message so that a
    /// failure in between can still become a 500.
    held: Option<(StatusCode, Headers)>,
    /// The status sent, once the head went out.
    status: Option<StatusCode>,
    /// HEAD request, or a 204/304: body bytes are dropped.
    no_body: bool,
    is_head: bool,
    /// Body bytes waiting for send capacity.
    queue: BodyQueue,
    /// The last body message was queued.
    body_ended: bool,
    /// Start announced trailers.
    trailers_expected: bool,
    /// Trailer fields so far (a `HeaderMap` only when they go out).
    trailers: Headers,
    /// The last trailer message arrived.
    trailers_ready: bool,
    /// The client reset the stream or the connection failed.
    disconnected: bool,
    /// An `Expect: 100-continue` not yet answered.
    expect_continue: bool,
}

impl State {
    fn new(
        recv: RecvStream,
        respond: SendResponse<Bytes>,
        scope: &HttpScope,
        expect_continue: bool,
        ctx: &ServiceContext,
    ) -> Self {
        Self {
            response: HttpResponseState::new(&scope.extensions),
            is_head: scope.method == Method::HEAD,
            recv,
            body_done: false,
            body_received: 0,
            body_limit: ctx.config.limit_request_body,
            body_error: None,
            respond: Respond::Waiting(respond),
            held: None,
            status: None,
            no_body: false,
            expect_continue,
            queue: BodyQueue::default(),
            body_ended: false,
            trailers_expected: false,
            trailers: Headers::new(),
            trailers_ready: false,
            disconnected: false,
        }
    }

    fn disconnect(&mut self) -> HttpReceive {
        self.disconnected = true;
        self.queue.clear();
        HttpReceive::Disconnect
    }

    fn poll_receive(&mut self, cx: &mut Context<'_>) -> Poll<HttpReceive> {
        if self.disconnected || self.response.is_complete() {
            return Poll::Ready(HttpReceive::Disconnect);
        }
        if self.body_done {
            // Nothing more to read: wait for the client to reset the stream.
            let reset = match &mut self.respond {
                Respond::Waiting(respond) => respond.poll_reset(cx),
                Respond::Open(stream) => stream.poll_reset(cx),
                Respond::Closed => return Poll::Ready(HttpReceive::Disconnect),
            };
            return match reset {
                Poll::Ready(_) => Poll::Ready(self.disconnect()),
                Poll::Pending => Poll::Pending,
            };
        }
        if self.expect_continue {
            // RFC 9110 10.1.1: 100 Continue only once the app wants the body.
            self.expect_continue = false;
            if let Respond::Waiting(respond) = &mut self.respond {
                let mut interim = http::Response::new(());
                *interim.status_mut() = StatusCode::CONTINUE;
                let _ = respond.send_informational(interim);
            }
        }
        match self.recv.poll_data(cx) {
            Poll::Ready(Some(Ok(data))) => {
                // Handing the bytes to the app is what frees window for more:
                // a slow reader slows the client, as on HTTP/1.1.
                let _ = self.recv.flow_control().release_capacity(data.len());
                self.body_received += data.len() as u64;
                if self
                    .body_limit
                    .is_some_and(|limit| self.body_received > limit)
                {
                    self.body_error = Some(StatusCode::PAYLOAD_TOO_LARGE);
                    return Poll::Ready(self.disconnect());
                }
                let more_body = !self.recv.is_end_stream();
                self.body_done = !more_body;
                Poll::Ready(HttpReceive::Request {
                    body: data,
                    more_body,
                })
            }
            Poll::Ready(Some(Err(error))) => {
                tracing::debug!("HTTP/2 request body failed: {error}");
                Poll::Ready(self.disconnect())
            }
            Poll::Ready(None) => {
                self.body_done = true;
                Poll::Ready(HttpReceive::Request {
                    body: Bytes::new(),
                    more_body: false,
                })
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn start_send(&mut self, message: HttpSend, ctx: &ServiceContext) -> Result<(), SendError> {
        if self.disconnected {
            return Err(SendError::Disconnected);
        }
        self.response.check(&message)?;
        match message {
            HttpSend::ResponseStart {
                status,
                headers,
                trailers,
            } => {
                self.held = Some((status, headers));
                self.trailers_expected = trailers;
                Ok(())
            }
            HttpSend::ResponseBody { body, more_body } => {
                if let Some((status, headers)) = self.held.take() {
                    self.send_head(status, headers, more_body, body.len(), ctx)?;
                }
                if !body.is_empty() && !self.no_body {
                    self.queue.push_back(body);
                }
                self.body_ended = !more_body;
                Ok(())
            }
            HttpSend::ResponseTrailers {
                headers,
                more_trailers,
            } => {
                self.trailers.extend(headers);
                self.trailers_ready = !more_trailers;
                Ok(())
            }
            other => Err(ProtocolError::ExtensionNotEnabled {
                extension: other.kind(),
            }
            .into()),
        }
    }

    fn send_head(
        &mut self,
        status: StatusCode,
        headers: Headers,
        more_body: bool,
        first_len: usize,
        ctx: &ServiceContext,
    ) -> Result<(), SendError> {
        let Respond::Waiting(respond) = &mut self.respond else {
            return Err(SendError::Disconnected);
        };
        self.no_body = self.is_head || head::is_bodiless(status);
        // As on HTTP/1.1: a HEAD response's empty body says nothing about its length.
        let whole = if more_body || (self.is_head && first_len == 0) {
            None
        } else {
            Some(first_len as u64)
        };
        let response = head::response(status, headers, whole, ctx);
        // The head alone ends the stream when no body or trailers can follow.
        let end = self.no_body || (!more_body && first_len == 0 && !self.trailers_expected);
        self.status = Some(status);
        match respond.send_response(response, end) {
            Ok(stream) if !end => self.respond = Respond::Open(stream),
            Ok(_) => self.respond = Respond::Closed,
            Err(error) => {
                tracing::debug!("HTTP/2 response head not sent: {error}");
                self.respond = Respond::Closed;
                self.disconnect();
                return Err(SendError::Disconnected);
            }
        }
        Ok(())
    }

    /// Sends queued body bytes as capacity allows, then the end of the stream.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        loop {
            if self.disconnected {
                return Poll::Ready(Err(SendError::Disconnected));
            }
            let Respond::Open(stream) = &mut self.respond else {
                // Nothing sent yet (a held start), or no body allowed.
                self.queue.clear();
                return Poll::Ready(Ok(()));
            };
            if let Some(front) = self.queue.front_mut() {
                stream.reserve_capacity(front.len());
                let capacity = match stream.poll_capacity(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(0))) => {
                        // No capacity yet, but no waker registered either: try again.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    Poll::Ready(Some(Ok(n))) => n,
                    Poll::Ready(Some(Err(_)) | None) => {
                        self.disconnect();
                        return Poll::Ready(Err(SendError::Disconnected));
                    }
                };
                let chunk = front.split_to(capacity.min(front.len()));
                if front.is_empty() {
                    self.queue.pop_front();
                }
                let end = self.queue.is_empty() && self.body_ended && !self.trailers_expected;
                if stream.send_data(chunk, end).is_err() {
                    self.disconnect();
                    return Poll::Ready(Err(SendError::Disconnected));
                }
                if end {
                    self.respond = Respond::Closed;
                }
                continue;
            }
            if self.body_ended && !self.trailers_expected {
                let sent = stream.send_data(Bytes::new(), true);
                self.respond = Respond::Closed;
                if sent.is_err() {
                    self.disconnect();
                    return Poll::Ready(Err(SendError::Disconnected));
                }
            } else if self.trailers_ready {
                let sent = stream.send_trailers(head::trailers(std::mem::take(&mut self.trailers)));
                self.respond = Respond::Closed;
                if sent.is_err() {
                    self.disconnect();
                    return Poll::Ready(Err(SendError::Disconnected));
                }
            }
            return Poll::Ready(Ok(()));
        }
    }

    /// Ends the stream after the app returned, failed or panicked, and
    /// returns the status sent (for the access log).
    ///
    /// Nothing sent yet: the body error (413) or a 500, unless the client is
    /// gone. A response cut short: `RST_STREAM(INTERNAL_ERROR)`.
    fn finish(&mut self, outcome: &service::Outcome, ctx: &ServiceContext) -> Option<StatusCode> {
        let finished = self.disconnected || self.response.is_complete();
        service::report(outcome, finished, self.status.is_some());
        if self.status.is_some() {
            if !self.response.is_complete()
                && let Respond::Open(stream) = &mut self.respond
            {
                stream.send_reset(Reason::INTERNAL_ERROR);
            }
            self.respond = Respond::Closed;
            return self.status;
        }
        let status = match self.body_error {
            Some(status) => status,
            None if self.disconnected => return None,
            None => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if let Respond::Waiting(respond) = &mut self.respond {
            send_error(respond, status, ctx);
        }
        self.respond = Respond::Closed;
        Some(status)
    }
}

impl ReceiveHandle for Stream {
    fn poll_receive(&self, cx: &mut Context<'_>) -> Poll<Result<ReceiveEvent, ReceiveError>> {
        self.lock()
            .poll_receive(cx)
            .map(|message| Ok(message.into()))
    }
}

impl SendHandle for Stream {
    fn start_send(&self, event: SendEvent) -> Result<(), SendError> {
        let message = crate::protocol::http::http_message(event)?;
        self.lock().start_send(message, &self.ctx)
    }

    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        self.lock().poll_flush(cx)
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
        let mut state = self.lock();
        if let Some(message) = message {
            state.start_send(message, &self.ctx)?;
        }
        state.poll_flush(cx)
    }
}
