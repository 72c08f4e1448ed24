//! One request/response cycle: its scope, the body the app reads and the
//! response it sends, checked by asgi-core's state machine.

use asgi_core::protocol::HttpResponseState;
use asgi_core::{
    Extensions, Headers, HttpReceive, HttpScope, HttpSend, HttpVersion, ProtocolError, SendError,
    WebSocketScope,
};
use bytes::{BufMut, Bytes, BytesMut};
use http::{Method, StatusCode};

use super::decode::{BodyKind, Chunk, ChunkedDecoder, RequestHead};
use super::encode::{self, Framing, HeadContext, LAST_CHUNK};
use super::output::Output;
use crate::protocol::http::proxy;
use crate::protocol::{ConnInfo, ServiceContext};

/// The most body bytes an unread request body may have for the connection
/// to be kept open (they are read and dropped); past it the connection closes.
pub(crate) const DRAIN_LIMIT: u64 = 64 * 1024;

/// The largest `http.request` message handed to the app.
const MAX_BODY_MESSAGE: usize = 256 * 1024;

/// Where the request body is.
#[derive(Debug)]
pub(crate) enum BodyState {
    /// This many bytes of a `Content-Length` body remain (the first receive of
    /// an empty body still owes the app one empty `http.request`).
    Length(u64),
    /// A chunked body being decoded.
    Chunked(ChunkedDecoder),
    /// The whole body has been handed to the app (or dropped).
    Done,
}

/// The state of the request being served on a connection.
#[derive(Debug)]
pub(crate) struct Cycle {
    response: HttpResponseState,
    /// `http.response.start`, held until the first body message so that the
    /// head and body go out in one write, and so that a failure in between can
    /// still become a 500.
    held: Option<(StatusCode, Headers)>,
    framing: Framing,
    /// The status written, once the head is encoded.
    pub(crate) status: Option<StatusCode>,
    pub(crate) body: BodyState,
    version: HttpVersion,
    is_head: bool,
    /// Whether the connection may be reused after this cycle, as known so far.
    keep_alive: bool,
    /// An `Expect: 100-continue` not yet answered.
    pub(crate) expect_continue: bool,
    /// The client went away (or the body was rejected): receive gives
    /// `http.disconnect` and send fails.
    pub(crate) disconnected: bool,
    /// A body that broke the rules (400) or the size limit (413).
    pub(crate) body_error: Option<StatusCode>,
    body_limit: Option<u64>,
    body_received: u64,
    /// Start announced `http.response.trailers` (the request had `te: trailers`).
    trailers: bool,
}

impl Cycle {
    /// The cycle for `head`, or the status to answer before calling the app
    /// (413 for a declared body over `--limit-request-body`).
    pub(crate) fn new(head: &RequestHead, body_limit: Option<u64>) -> Result<Self, StatusCode> {
        let body = match head.body {
            BodyKind::Length(n) => {
                if body_limit.is_some_and(|limit| n > limit) {
                    return Err(StatusCode::PAYLOAD_TOO_LARGE);
                }
                BodyState::Length(n)
            }
            BodyKind::Chunked => BodyState::Chunked(ChunkedDecoder::new(16 * 1024)),
        };
        let mut extensions = Extensions::default();
        extensions.trailers = head.accepts_trailers;
        Ok(Self {
            response: HttpResponseState::new(&extensions),
            held: None,
            framing: Framing::Empty,
            status: None,
            body,
            version: head.version,
            is_head: head.method == Method::HEAD,
            keep_alive: head.keep_alive,
            // Nothing to continue to when there is no body.
            expect_continue: head.expect_continue && head.body != BodyKind::Length(0),
            disconnected: false,
            body_error: None,
            body_limit,
            body_received: 0,
            trailers: false,
        })
    }

    /// A cycle with nothing to serve (before the first request).
    pub(crate) fn idle() -> Self {
        let mut response = HttpResponseState::new(&Extensions::default());
        // Drive the state machine to Complete so that stray messages are refused.
        let _ = response.check(&HttpSend::start(StatusCode::OK, Headers::new()));
        let _ = response.check(&HttpSend::body(Bytes::new()));
        Self {
            response,
            held: None,
            framing: Framing::Empty,
            status: None,
            body: BodyState::Done,
            version: HttpVersion::Http11,
            is_head: false,
            keep_alive: false,
            expect_continue: false,
            disconnected: true,
            body_error: None,
            body_limit: None,
            body_received: 0,
            trailers: false,
        }
    }

    /// Whether `send(message)` would encode the response head (the first
    /// body message after a held `http.response.start`).
    pub(crate) fn encodes_head(&self, message: &HttpSend) -> bool {
        self.held.is_some() && matches!(message, HttpSend::ResponseBody { .. })
    }

    /// Whether the response is complete.
    pub(crate) fn is_complete(&self) -> bool {
        self.response.is_complete()
    }

    /// Whether the response head has been written.
    pub(crate) fn is_started(&self) -> bool {
        self.status.is_some()
    }

    /// Whether the connection may serve another request after this one.
    pub(crate) fn keep_alive(&self) -> bool {
        self.keep_alive && !self.disconnected
    }

    /// The next `http.request` (or `http.disconnect`) decodable from `buf`;
    /// `None` when more bytes must be read. `eof`: the peer stopped sending.
    pub(crate) fn decode_body(&mut self, buf: &mut BytesMut, eof: bool) -> Option<HttpReceive> {
        match &mut self.body {
            BodyState::Done => None,
            BodyState::Length(0) => {
                self.body = BodyState::Done;
                Some(HttpReceive::Request {
                    body: Bytes::new(),
                    more_body: false,
                })
            }
            BodyState::Length(remaining) => {
                if buf.is_empty() {
                    return eof.then(|| self.disconnect());
                }
                let n = (*remaining)
                    .min(buf.len() as u64)
                    .min(MAX_BODY_MESSAGE as u64);
                *remaining -= n;
                self.body_received += n;
                let more_body = *remaining > 0;
                if !more_body {
                    self.body = BodyState::Done;
                }
                Some(HttpReceive::Request {
                    body: buf.split_to(n as usize).freeze(),
                    more_body,
                })
            }
            BodyState::Chunked(decoder) => match decoder.decode(buf, MAX_BODY_MESSAGE) {
                Ok(Some(Chunk::Data(body))) => {
                    self.body_received += body.len() as u64;
                    if self
                        .body_limit
                        .is_some_and(|limit| self.body_received > limit)
                    {
                        self.body_error = Some(StatusCode::PAYLOAD_TOO_LARGE);
                        return Some(self.disconnect());
                    }
                    Some(HttpReceive::Request {
                        body,
                        more_body: true,
                    })
                }
                Ok(Some(Chunk::End)) => {
                    self.body = BodyState::Done;
                    Some(HttpReceive::Request {
                        body: Bytes::new(),
                        more_body: false,
                    })
                }
                Ok(None) => eof.then(|| self.disconnect()),
                Err(error) => {
                    tracing::debug!(reason = error.0, "invalid chunked request body");
                    self.body_error = Some(StatusCode::BAD_REQUEST);
                    Some(self.disconnect())
                }
            },
        }
    }

    /// Drops body bytes from `buf` without handing them to anyone.
    ///
    /// Returns `Some(true)` once the body is complete, `Some(false)` if the
    /// body is bad, `None` if more bytes are needed.
    pub(crate) fn discard_body(&mut self, buf: &mut BytesMut) -> Option<bool> {
        loop {
            if matches!(self.body, BodyState::Done) {
                return Some(true);
            }
            match self.decode_body(buf, false) {
                Some(HttpReceive::Request { .. }) => continue,
                Some(HttpReceive::Disconnect) => return Some(false),
                None => return None,
            }
        }
    }

    /// Marks the client gone and returns the message that says so.
    pub(crate) fn disconnect(&mut self) -> HttpReceive {
        self.disconnected = true;
        self.keep_alive = false;
        HttpReceive::Disconnect
    }

    /// Checks one message from the app and encodes it into `dst`.
    ///
    /// `ctx.keep_alive` says whether the server would keep the connection open.
    pub(crate) fn send(
        &mut self,
        message: HttpSend,
        out: &mut Output,
        mut ctx: HeadContext<'_>,
    ) -> Result<(), SendError> {
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
                self.trailers = trailers;
                Ok(())
            }
            HttpSend::ResponseBody { body, more_body } => {
                if let Some((status, headers)) = self.held.take() {
                    ctx.version = self.version;
                    ctx.is_head = self.is_head;
                    ctx.keep_alive &= self.keep_alive && self.reusable_after_body();
                    // Trailers need the chunked framing: no length from the body.
                    let whole = (!more_body && !self.trailers).then_some(body.len() as u64);
                    let encoded = encode::encode_head(out.dst(), status, &headers, ctx, whole);
                    self.framing = encoded.framing;
                    self.keep_alive = encoded.keep_alive;
                    self.status = Some(status);
                }
                self.write_body(body, more_body, out)
            }
            HttpSend::ResponseTrailers {
                headers,
                more_trailers,
            } => {
                if self.framing == Framing::Chunked {
                    // The last chunk (held back by `write_body`), then the fields.
                    if self.trailers {
                        out.dst().put_slice(b"0\r\n");
                        self.trailers = false;
                    }
                    for (name, value) in &headers {
                        if *name != http::header::CONTENT_LENGTH
                            && *name != http::header::TRANSFER_ENCODING
                        {
                            encode::write_field(out.dst(), name, value.as_bytes());
                        }
                    }
                    if !more_trailers {
                        out.dst().put_slice(b"\r\n");
                    }
                }
                // Other framings (HEAD, 204, an app-set content-length) cannot carry trailers.
                Ok(())
            }
            other => Err(ProtocolError::ExtensionNotEnabled {
                extension: other.kind(),
            }
            .into()),
        }
    }

    fn write_body(
        &mut self,
        body: Bytes,
        more_body: bool,
        out: &mut Output,
    ) -> Result<(), SendError> {
        match &mut self.framing {
            Framing::Empty => {}
            Framing::Length(remaining) => {
                if body.len() as u64 > *remaining {
                    self.keep_alive = false;
                    return Err(ProtocolError::InvalidMessage {
                        received: "http.response.body",
                        reason: "more body bytes than the response's content-length",
                    }
                    .into());
                }
                *remaining -= body.len() as u64;
                out.put_body(body);
                if !more_body && *remaining > 0 {
                    // The body is shorter than announced: only closing tells the client.
                    tracing::warn!(
                        "response body shorter than its content-length; closing the connection"
                    );
                    self.keep_alive = false;
                }
            }
            Framing::Chunked => {
                if !body.is_empty() {
                    encode::encode_chunk_size(out.dst(), body.len());
                    out.put_body(body);
                    out.dst().put_slice(b"\r\n");
                }
                if !more_body && !self.trailers {
                    out.dst().put_slice(LAST_CHUNK);
                }
            }
            Framing::CloseDelimited => out.put_body(body),
        }
        Ok(())
    }

    /// Whether an unread request body still allows reusing the connection.
    fn reusable_after_body(&self) -> bool {
        match self.body {
            BodyState::Done => true,
            // The client waits for 100 Continue before sending: it may never send the body.
            _ if self.expect_continue => false,
            BodyState::Length(n) => n <= DRAIN_LIMIT,
            BodyState::Chunked(_) => true,
        }
    }

    /// Ends the cycle after the app returned, failed or panicked.
    ///
    /// If nothing was written yet, answers with the body error (400/413) or a
    /// 500 (unless the client is gone). A response that started but did not
    /// complete can only be ended by closing the connection.
    pub(crate) fn finish(&mut self, out: &mut Output, mut ctx: HeadContext<'_>) {
        if self.response.is_complete() && self.status.is_some() {
            return;
        }
        if self.status.is_some() {
            self.keep_alive = false;
            return;
        }
        self.held = None;
        let status = match self.body_error {
            Some(status) => status,
            None if self.disconnected => {
                self.keep_alive = false;
                return;
            }
            None => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let keep_alive = self.body_error.is_none()
            && ctx.keep_alive
            && self.keep_alive
            && self.reusable_after_body();
        ctx.keep_alive = keep_alive;
        ctx.version = self.version;
        ctx.is_head = self.is_head;
        encode::encode_error(out.dst(), status, ctx);
        self.keep_alive = keep_alive;
        self.status = Some(status);
    }

    /// Whether the whole request body has been read (or there was none).
    pub(crate) fn body_done(&self) -> bool {
        matches!(self.body, BodyState::Done)
    }

    /// Body bytes received so far.
    pub(crate) fn body_received(&self) -> u64 {
        self.body_received
    }
}

/// Builds the `http` scope for a request head.
pub(crate) fn http_scope(head: RequestHead, info: &ConnInfo, ctx: &ServiceContext) -> HttpScope {
    let trailers = head.accepts_trailers;
    let forwarded = head.forwarded;
    let mut scope = HttpScope::new(head.method, head.target);
    scope.extensions.trailers = trailers;
    scope.http_version = head.version;
    scope.scheme = info.scheme;
    scope.headers = head.headers;
    scope.client = info.client;
    scope.server.clone_from(&ctx.server_addr);
    scope.root_path.clone_from(&ctx.config.root_path);
    scope.state = ctx.state.clone();
    scope.extensions.tls.clone_from(&info.tls);
    if ctx.config.proxy_headers && forwarded {
        proxy::apply(
            &scope.headers,
            &ctx.config.forwarded_allow_ips,
            &mut scope.client,
            &mut scope.scheme,
            false,
        );
    }
    scope
}

/// Builds the `websocket` scope for an upgrade request head.
pub(crate) fn websocket_scope(
    head: RequestHead,
    info: &ConnInfo,
    ctx: &ServiceContext,
) -> WebSocketScope {
    let forwarded = head.forwarded;
    let mut scope = WebSocketScope::new(head.target);
    scope.http_version = head.version;
    scope.scheme = if info.scheme.is_secure() {
        asgi_core::Scheme::Wss
    } else {
        asgi_core::Scheme::Ws
    };
    scope.subprotocols = head
        .headers
        .get_all("sec-websocket-protocol")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect();
    scope.headers = head.headers;
    scope.client = info.client;
    scope.server.clone_from(&ctx.server_addr);
    scope.root_path.clone_from(&ctx.config.root_path);
    scope.state = ctx.state.clone();
    scope.extensions.websocket_http_response = true;
    scope.extensions.tls.clone_from(&info.tls);
    if ctx.config.proxy_headers && forwarded {
        proxy::apply(
            &scope.headers,
            &ctx.config.forwarded_allow_ips,
            &mut scope.client,
            &mut scope.scheme,
            true,
        );
    }
    scope
}
