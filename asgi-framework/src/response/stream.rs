//! Streamed responses.

use std::fmt;

use asgi_core::BoxError;
use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use http::header::{self, HeaderValue};

use super::{IntoResponse, Response};
use crate::body::Body;

/// A response streamed from any stream of chunks, never buffered.
///
/// Each item is sent as one `http.response.body` message as soon as the
/// stream yields it (chunked transfer on HTTP/1.1). The content type is
/// `application/octet-stream` unless set with [`content_type`](Self::content_type).
///
/// # Example
///
/// ```
/// use asgi_framework::StreamBody;
/// use futures_util::stream;
///
/// async fn lines() -> StreamBody {
///     let chunks = stream::iter((0..3).map(|i| format!("chunk {i}\n")));
///     StreamBody::new(chunks).content_type("text/plain; charset=utf-8")
/// }
/// ```
pub struct StreamBody {
    body: Body,
    content_type: HeaderValue,
}

impl StreamBody {
    /// Streams the items of an infallible stream.
    pub fn new<S, B>(stream: S) -> Self
    where
        S: Stream<Item = B> + Send + 'static,
        B: Into<Bytes> + 'static,
    {
        Self::try_new(stream.map(Ok::<B, BoxError>))
    }

    /// Streams the items of a fallible stream; an error ends the response early.
    pub fn try_new<S, B, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<B, E>> + Send + 'static,
        B: Into<Bytes>,
        E: Into<BoxError>,
    {
        Self {
            body: Body::from_stream(stream),
            content_type: HeaderValue::from_static("application/octet-stream"),
        }
    }

    /// Sets the `Content-Type`.
    ///
    /// A value that is not a valid header value is ignored.
    #[must_use]
    pub fn content_type(mut self, content_type: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(content_type) {
            self.content_type = value;
        }
        self
    }
}

impl fmt::Debug for StreamBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamBody")
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

impl IntoResponse for StreamBody {
    fn into_response(self) -> Response {
        Response::new(self.body).header(header::CONTENT_TYPE, self.content_type)
    }
}
