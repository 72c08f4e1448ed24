//! `http.*` messages.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;

use crate::headers::Headers;

/// A message an HTTP app receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpReceive {
    /// `http.request`: a piece of the request body.
    ///
    /// The body arrives in order across one or more of these; the last one has
    /// `more_body: false`. A request with no body gives one with an empty `body`.
    Request {
        /// `body`: the next bytes of the body (de-chunked by the server).
        body: Bytes,
        /// `more_body`: whether more `http.request` messages follow.
        more_body: bool,
    },
    /// `http.disconnect`: the client went away, or the response is complete.
    ///
    /// Once delivered, every later receive gives it again.
    Disconnect,
}

impl HttpReceive {
    /// The ASGI `type` string.
    pub fn kind(&self) -> &'static str {
        match self {
            HttpReceive::Request { .. } => "http.request",
            HttpReceive::Disconnect => "http.disconnect",
        }
    }

    /// `http.request` holding the whole body.
    pub fn request(body: impl Into<Bytes>) -> Self {
        HttpReceive::Request {
            body: body.into(),
            more_body: false,
        }
    }
}

/// A message an HTTP app sends.
///
/// The order is checked by [`crate::protocol::HttpResponseState`]:
/// `http.response.start` first, then `http.response.body` until `more_body`
/// is false, then `http.response.trailers` if `trailers` was set on start.
#[derive(Debug, Clone)]
pub enum HttpSend {
    /// `http.response.start`: status and headers. Sent exactly once, first.
    ///
    /// A server may hold it until the first body message, so that it can still
    /// send a 500 instead if the app fails in between.
    ResponseStart {
        /// `status`.
        status: StatusCode,
        /// `headers`. Any `Transfer-Encoding` here is ignored: the server frames the body.
        headers: Headers,
        /// `trailers`: whether `http.response.trailers` will follow the body.
        trailers: bool,
    },
    /// `http.response.body`: a piece of the response body.
    ///
    /// `send` returns once the bytes are handed to the transport, so a slow
    /// client slows the app down rather than filling memory.
    ResponseBody {
        /// `body`.
        body: Bytes,
        /// `more_body`: `false` ends the response (unless trailers were announced).
        more_body: bool,
    },
    /// `http.response.trailers` (extension): trailer fields after the body.
    ResponseTrailers {
        /// `headers`: the trailer fields.
        headers: Headers,
        /// `more_trailers`: whether more trailer messages follow.
        more_trailers: bool,
    },
    /// `http.response.pathsend` (extension): the body is the file at `path`.
    ///
    /// Sent once after start instead of any body message. The app sets
    /// `Content-Type` and `Content-Length` itself.
    ResponsePathsend {
        /// `path`: an absolute path.
        path: PathBuf,
    },
    /// `http.response.zerocopysend` (extension): send bytes straight from an open file.
    ///
    /// ASGI passes a file object whose descriptor the app closes; here the app
    /// shares an [`Arc<File>`] and the descriptor closes when the last clone drops.
    ResponseZerocopysend {
        /// `file`.
        file: Arc<File>,
        /// `offset`: where to start; the file's current position when `None`.
        offset: Option<u64>,
        /// `count`: how many bytes; to the end of the file when `None`.
        count: Option<u64>,
        /// `more_body`.
        more_body: bool,
    },
    /// `http.response.early_hint` (extension): a `103 Early Hints` with these `Link` values.
    ResponseEarlyHint {
        /// `links`: each a `Link` header value.
        links: Vec<Bytes>,
    },
}

impl HttpSend {
    /// The ASGI `type` string.
    pub fn kind(&self) -> &'static str {
        match self {
            HttpSend::ResponseStart { .. } => "http.response.start",
            HttpSend::ResponseBody { .. } => "http.response.body",
            HttpSend::ResponseTrailers { .. } => "http.response.trailers",
            HttpSend::ResponsePathsend { .. } => "http.response.pathsend",
            HttpSend::ResponseZerocopysend { .. } => "http.response.zerocopysend",
            HttpSend::ResponseEarlyHint { .. } => "http.response.early_hint",
        }
    }

    /// `http.response.start` without trailers.
    pub fn start(status: StatusCode, headers: Headers) -> Self {
        HttpSend::ResponseStart {
            status,
            headers,
            trailers: false,
        }
    }

    /// The final `http.response.body`.
    pub fn body(body: impl Into<Bytes>) -> Self {
        HttpSend::ResponseBody {
            body: body.into(),
            more_body: false,
        }
    }

    /// An `http.response.body` with more to follow.
    pub fn chunk(body: impl Into<Bytes>) -> Self {
        HttpSend::ResponseBody {
            body: body.into(),
            more_body: true,
        }
    }
}
