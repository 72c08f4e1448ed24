//! Response bodies: whole bytes, a stream of chunks, or a file path.

use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use asgi_core::BoxError;
use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;

/// A boxed stream of body chunks, as a streamed [`Body`] holds it.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send + 'static>>;

/// A response body: whole [`Bytes`], a stream of chunks, or a file.
///
/// A full body is sent in one `http.response.body` with a `Content-Length`;
/// a streamed body is sent chunk by chunk as the stream yields, never
/// buffered, so the server frames it (chunked on HTTP/1.1). A file body is
/// sent through the `http.response.pathsend` extension when the server
/// offers it, and as its fallback stream otherwise.
pub struct Body {
    kind: Kind,
}

pub(crate) enum Kind {
    Full(Bytes),
    Stream(BodyStream),
    File {
        path: PathBuf,
        fallback: Option<BodyStream>,
    },
}

impl Body {
    /// An empty body.
    pub const fn empty() -> Self {
        Self {
            kind: Kind::Full(Bytes::new()),
        }
    }

    /// A body of these bytes.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Self {
            kind: Kind::Full(bytes.into()),
        }
    }

    /// A body streamed from `stream`: each item is sent as one chunk.
    ///
    /// An `Err` item ends the response early; the error is logged and the
    /// server closes the connection, since the status is already sent.
    pub fn from_stream<S, B, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<B, E>> + Send + 'static,
        B: Into<Bytes>,
        E: Into<BoxError>,
    {
        let stream = stream.map(|item| item.map(Into::into).map_err(Into::into));
        Self {
            kind: Kind::Stream(Box::pin(stream)),
        }
    }

    /// A body that is the file at `path` (absolute), sent with `http.response.pathsend`.
    ///
    /// When the server does not offer pathsend, `fallback` (typically the file
    /// read in chunks on the blocking pool) is streamed instead; without a
    /// fallback, sending fails. The caller sets `Content-Type` and
    /// `Content-Length`.
    pub fn file(path: impl Into<PathBuf>, fallback: Option<Body>) -> Self {
        let fallback = fallback.map(Body::into_stream);
        Self {
            kind: Kind::File {
                path: path.into(),
                fallback,
            },
        }
    }

    /// The length, when the whole body is in memory.
    pub fn size_hint(&self) -> Option<usize> {
        match &self.kind {
            Kind::Full(bytes) => Some(bytes.len()),
            Kind::Stream(_) | Kind::File { .. } => None,
        }
    }

    /// The bytes of a full body; `None` for a streamed or file body.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match &self.kind {
            Kind::Full(bytes) => Some(bytes),
            Kind::Stream(_) | Kind::File { .. } => None,
        }
    }

    /// Whether the body is streamed (or a file).
    pub fn is_stream(&self) -> bool {
        !matches!(self.kind, Kind::Full(_))
    }

    /// The body as a stream of chunks (a full body is one chunk).
    ///
    /// A file body gives its fallback stream, or one error if it has none.
    pub fn into_stream(self) -> BodyStream {
        match self.kind {
            Kind::Full(bytes) => Box::pin(futures_util::stream::once(async move { Ok(bytes) })),
            Kind::Stream(stream) => stream,
            Kind::File { fallback, path } => fallback.unwrap_or_else(|| {
                let error: BoxError =
                    format!("no fallback to send {} without pathsend", path.display()).into();
                Box::pin(futures_util::stream::once(async move { Err(error) }))
            }),
        }
    }

    /// Collects the whole body into memory.
    ///
    /// # Errors
    ///
    /// The first error the stream yields.
    pub async fn collect(self) -> Result<Bytes, BoxError> {
        if let Kind::Full(bytes) = self.kind {
            return Ok(bytes);
        }
        let mut stream = self.into_stream();
        let mut buffer = Vec::new();
        while let Some(chunk) = stream.next().await {
            buffer.extend_from_slice(&chunk?);
        }
        Ok(buffer.into())
    }

    pub(crate) fn into_kind(self) -> Kind {
        self.kind
    }
}

impl Default for Body {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Full(bytes) => f.debug_tuple("Body::Full").field(&bytes.len()).finish(),
            Kind::Stream(_) => f.write_str("Body::Stream"),
            Kind::File { path, .. } => f.debug_tuple("Body::File").field(path).finish(),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Self::full(bytes)
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Self::full(text)
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Self::full(text)
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Self::full(bytes)
    }
}

impl Stream for Body {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut self.kind {
            Kind::Full(bytes) if bytes.is_empty() => Poll::Ready(None),
            Kind::Full(bytes) => Poll::Ready(Some(Ok(std::mem::take(bytes)))),
            Kind::Stream(stream) => stream.as_mut().poll_next(cx),
            Kind::File { .. } => {
                let taken = std::mem::replace(&mut self.kind, Kind::Full(Bytes::new()));
                let Kind::File { fallback, path } = taken else {
                    unreachable!("matched a file body above");
                };
                let stream = Body {
                    kind: Kind::File { fallback, path },
                }
                .into_stream();
                self.kind = Kind::Stream(stream);
                self.poll_next(cx)
            }
        }
    }
}
