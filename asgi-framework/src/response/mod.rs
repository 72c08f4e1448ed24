//! Responses: [`Response`], the [`IntoResponse`] conversion and the ready-made kinds.

pub(crate) mod file;
mod into_response;
mod redirect;
mod sse;
mod stream;

use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use asgi_core::{BoxError, Extensions, Headers, HttpSend, Sender};
use bytes::Bytes;
use cookie::Cookie;
use futures_util::StreamExt;
use http::StatusCode;
use http::header::{self, HeaderName, HeaderValue};

use crate::body::{Body, Kind};
use crate::error::ErrorCause;

pub use self::file::FileResponse;
pub use self::into_response::{Html, IntoResponse};
pub use self::redirect::Redirect;
pub use self::sse::{Event, KeepAlive, Sse};
pub use self::stream::StreamBody;

/// A task run after the response has been sent completely.
pub type AfterSend = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// An HTTP response: status, ordered headers, a [`Body`], and tasks to run after sending.
///
/// Headers are an ordered list ([`Headers`]), so several `Set-Cookie`
/// fields keep their order. [`send`](Self::send) turns the response into
/// ASGI messages; middleware that rewrites responses uses it too.
pub struct Response {
    status: StatusCode,
    headers: Headers,
    body: Body,
    after_send: Vec<AfterSend>,
    error: Option<ErrorCause>,
    extensions: http::Extensions,
}

impl Response {
    /// A 200 response with `body` and no headers.
    pub fn new(body: impl Into<Body>) -> Self {
        Self {
            status: StatusCode::OK,
            headers: Headers::new(),
            body: body.into(),
            after_send: Vec::new(),
            error: None,
            extensions: http::Extensions::new(),
        }
    }

    /// An empty response with `status`.
    pub fn with_status(status: StatusCode) -> Self {
        let mut response = Self::new(Body::empty());
        response.status = status;
        response
    }

    /// Builder form: sets the status.
    #[must_use]
    pub fn status_code(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Builder form: appends a header.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push(name, value);
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The status, to change it.
    pub fn status_mut(&mut self) -> &mut StatusCode {
        &mut self.status
    }

    /// The headers, in order.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The headers, to change them.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The body, to replace it.
    pub fn body_mut(&mut self) -> &mut Body {
        &mut self.body
    }

    /// Takes the body out, leaving an empty one.
    pub fn take_body(&mut self) -> Body {
        std::mem::take(&mut self.body)
    }

    /// Typed data attached to the response by handlers or middleware.
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }

    /// The extensions, to change them.
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.extensions
    }

    /// The error this response was made from ([`HttpError`](crate::HttpError)
    /// or [`Error`](crate::Error)), for exception handlers.
    pub fn error(&self) -> Option<&ErrorCause> {
        self.error.as_ref()
    }

    /// Records the error this response stands for, so that exception handlers
    /// registered for its type or status can replace the response.
    pub fn set_error(&mut self, error: ErrorCause) {
        self.error = Some(error);
    }

    /// Runs `task` after the response has been sent completely (background tasks).
    ///
    /// Tasks run in the order they were added, on the app's task, after the
    /// final body message; the client has its response by then.
    pub fn after_send(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.after_send.push(Box::pin(task));
    }

    /// Adds a `Set-Cookie` header for `cookie`.
    pub fn set_cookie(&mut self, cookie: Cookie<'_>) {
        // `Cookie`'s Display percent-encodes nothing and may hold any byte the
        // app gave; an invalid header value is dropped with a log line.
        match HeaderValue::from_str(&cookie.encoded().to_string()) {
            Ok(value) => self.headers.push(header::SET_COOKIE, value),
            Err(_) => tracing::warn!(name = cookie.name(), "cookie is not a valid header value"),
        }
    }

    /// Adds a `Set-Cookie` header that deletes the cookie `name` (at path `/`).
    pub fn delete_cookie(&mut self, name: &str) {
        let mut cookie = Cookie::new(name.to_owned(), "");
        cookie.set_path("/");
        cookie.make_removal();
        self.set_cookie(cookie);
    }

    /// Turns the response into its HEAD form: headers kept, body dropped.
    ///
    /// A full body's length stays in `Content-Length`, as a GET would have sent it.
    #[must_use]
    pub fn into_head(mut self) -> Self {
        if let Some(len) = self.body.size_hint() {
            self.headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        self.body = Body::empty();
        self.extensions.insert(HeadOnly);
        self
    }

    /// Sends the response as ASGI messages, then runs its after-send tasks.
    ///
    /// A full body goes out in one message with `Content-Length` set; a
    /// stream goes out chunk by chunk as it yields, each `send` awaited, so
    /// a slow client slows the stream instead of filling memory; a file body
    /// uses pathsend when `extensions.pathsend` is set.
    ///
    /// # Errors
    ///
    /// The send error if the client left or the messages broke the protocol,
    /// or the body stream's error (after the status was sent, so the server
    /// closes the connection).
    pub fn send<'a>(
        self,
        sender: &'a Sender,
        extensions: &Extensions,
    ) -> impl Future<Output = Result<(), BoxError>> + Send + 'a {
        self.send_owned(sender, extensions.pathsend)
    }

    /// [`send`](Self::send), with the sender owned or borrowed: the future
    /// then borrows nothing, and the application's own future holds it.
    ///
    /// Not an `async fn`: what can be done at once (the head, the choice of
    /// messages) is, so the future keeps only what it sends.
    pub(crate) fn send_owned(
        self,
        sender: impl Borrow<Sender> + Send,
        pathsend: bool,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let Response {
            status,
            mut headers,
            body,
            after_send,
            extensions,
            ..
        } = self;
        let head_only = extensions.get::<HeadOnly>().is_some();
        let rest = match body.into_kind() {
            Kind::Full(bytes) => {
                if !head_only && !headers.contains(header::CONTENT_LENGTH) && allows_body(status) {
                    headers.push(header::CONTENT_LENGTH, content_length(bytes.len()));
                }
                Rest::Full(bytes)
            }
            Kind::File { path, fallback } if pathsend || fallback.is_none() => Rest::Path(path),
            Kind::File {
                fallback: Some(stream),
                ..
            }
            | Kind::Stream(stream) => Rest::Stream(stream),
            Kind::File { fallback: None, .. } => {
                unreachable!("a file body without fallback is matched by the pathsend arm")
            }
        };
        let start = HttpSend::start(status, headers);
        async move {
            let sender = sender.borrow();
            sender.send(start).await?;
            match rest {
                Rest::Full(bytes) => sender.send(HttpSend::body(bytes)).await?,
                Rest::Path(path) => sender.send(HttpSend::ResponsePathsend { path }).await?,
                Rest::Stream(stream) => send_stream(sender, stream).await?,
            }
            for task in after_send {
                task.await;
            }
            Ok(())
        }
    }
}

/// What follows `http.response.start`.
enum Rest {
    /// One body message.
    Full(Bytes),
    /// `http.response.pathsend`.
    Path(std::path::PathBuf),
    /// Body messages as the stream yields, then an empty last one.
    Stream(crate::body::BodyStream),
}

async fn send_stream(sender: &Sender, mut stream: crate::body::BodyStream) -> Result<(), BoxError> {
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if chunk.is_empty() {
            continue;
        }
        sender.send(HttpSend::chunk(chunk)).await?;
    }
    sender.send(HttpSend::body(Bytes::new())).await?;
    Ok(())
}

/// The `Content-Length` value for `len` bytes.
///
/// `HeaderValue::from(len)` allocates for its digits on every response;
/// the values of small bodies (most API responses) are made once, as static
/// text, and cloning those does not allocate nor count references.
fn content_length(len: usize) -> HeaderValue {
    const CACHED: usize = 1024;
    static VALUES: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    if len >= CACHED {
        return HeaderValue::from(len);
    }
    let values = VALUES.get_or_init(|| {
        let digits: Vec<String> = (0..CACHED).map(|n| n.to_string()).collect();
        // One leaked block of about 3 KiB, for the life of the process.
        let text: &'static str = Box::leak(digits.concat().into_boxed_str());
        let mut start = 0;
        digits
            .iter()
            .map(|n| {
                let value = HeaderValue::from_static(&text[start..start + n.len()]);
                start += n.len();
                value
            })
            .collect()
    });
    values[len].clone()
}

/// Whether a response with this status may carry a body (RFC 9110 section 6.4.1).
fn allows_body(status: StatusCode) -> bool {
    !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

/// Marks a response made by [`Response::into_head`].
#[derive(Debug, Clone, Copy)]
struct HeadOnly;

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .field("after_send", &self.after_send.len())
            .finish_non_exhaustive()
    }
}

impl Default for Response {
    fn default() -> Self {
        Self::new(Body::empty())
    }
}
