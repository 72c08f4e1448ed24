//! Reading the request body: buffered, streamed or replayed, under a size limit.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use asgi_core::{HttpReceive, ReceiveError, ReceiveEvent, ReceiveHandle, Receiver};
use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_util::StreamExt;
use http::StatusCode;

use super::Request;
use crate::error::HttpError;
use crate::response::{IntoResponse, Response};

/// Where reading the body stands.
#[derive(Debug)]
pub(crate) enum BodyState {
    /// Nothing read yet.
    Unread,
    /// Read completely, kept for later reads.
    Buffered(Bytes),
    /// Handed out as a stream.
    Consumed,
}

/// Why the request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is larger than the limit (in bytes): 413.
    TooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The client disconnected before the body was complete.
    Disconnected,
    /// The body was already taken by [`Request::stream`].
    Consumed,
    /// The body is not UTF-8 text (400).
    InvalidUtf8,
    /// The server closed the receive channel.
    Closed,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge { limit } => write!(f, "request body larger than {limit} bytes"),
            BodyError::Disconnected => f.write_str("client disconnected before the body was read"),
            BodyError::Consumed => f.write_str("request body was already consumed as a stream"),
            BodyError::InvalidUtf8 => f.write_str("request body is not valid UTF-8"),
            BodyError::Closed => f.write_str("the receive channel is closed"),
        }
    }
}

impl std::error::Error for BodyError {}

impl From<ReceiveError> for BodyError {
    fn from(_: ReceiveError) -> Self {
        BodyError::Closed
    }
}

impl From<BodyError> for HttpError {
    fn from(error: BodyError) -> Self {
        let status = match error {
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Disconnected | BodyError::InvalidUtf8 => StatusCode::BAD_REQUEST,
            BodyError::Consumed | BodyError::Closed => StatusCode::INTERNAL_SERVER_ERROR,
        };
        HttpError::new(status)
    }
}

impl IntoResponse for BodyError {
    fn into_response(self) -> Response {
        HttpError::from(self).into_response()
    }
}

/// The `Content-Length` if it already exceeds `limit`.
fn declared_too_large(request: &Request, limit: usize) -> bool {
    request
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|len| len > limit as u64)
}

pub(super) async fn read_all(request: &mut Request) -> Result<Bytes, BodyError> {
    match request.body_state_mut() {
        BodyState::Buffered(bytes) => return Ok(bytes.clone()),
        BodyState::Consumed => return Err(BodyError::Consumed),
        BodyState::Unread => {}
    }
    let mut stream = stream(request);
    let mut first: Option<Bytes> = None;
    let mut buffer = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        match first.take() {
            // Keep a single chunk as is: no copy for the common one-message body.
            None if buffer.is_empty() => first = Some(chunk),
            previous => {
                if let Some(previous) = previous {
                    buffer.extend_from_slice(&previous);
                }
                buffer.extend_from_slice(&chunk);
            }
        }
    }
    let bytes = first.unwrap_or_else(|| buffer.freeze());
    *request.body_state_mut() = BodyState::Buffered(bytes.clone());
    Ok(bytes)
}

pub(super) async fn is_disconnected(request: &mut Request) -> bool {
    if request.disconnected {
        return true;
    }
    if matches!(request.body_state_mut(), BodyState::Unread)
        && let Err(BodyError::Disconnected | BodyError::Closed) = read_all(request).await
    {
        request.disconnected = true;
        return true;
    }
    // After the body, the server's only message is `http.disconnect`.
    let next = futures_util::FutureExt::now_or_never(request.receiver().receive());
    if let Some(Ok(ReceiveEvent::Http(HttpReceive::Disconnect)) | Err(_)) = next {
        request.disconnected = true;
    }
    request.disconnected
}

pub(super) fn stream(request: &mut Request) -> BodyStream {
    let limit = request.body_limit();
    let state = std::mem::replace(request.body_state_mut(), BodyState::Consumed);
    let (buffered, done, error) = match state {
        BodyState::Buffered(bytes) => {
            *request.body_state_mut() = BodyState::Buffered(bytes.clone());
            (Some(bytes), true, None)
        }
        BodyState::Consumed => (None, true, Some(BodyError::Consumed)),
        BodyState::Unread => match limit {
            Some(limit) if declared_too_large(request, limit) => {
                (None, true, Some(BodyError::TooLarge { limit }))
            }
            _ => (None, false, None),
        },
    };
    BodyStream {
        receive: request.receiver().clone(),
        limit,
        seen: 0,
        buffered,
        error,
        done,
    }
}

/// The request body as a stream of chunks, from [`Request::stream`].
///
/// Enforces the body limit as it goes: once more bytes than the limit have
/// arrived, it yields [`BodyError::TooLarge`] and ends.
pub struct BodyStream {
    receive: Receiver,
    limit: Option<usize>,
    seen: usize,
    buffered: Option<Bytes>,
    error: Option<BodyError>,
    done: bool,
}

impl fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyStream")
            .field("limit", &self.limit)
            .field("seen", &self.seen)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Stream for BodyStream {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(error) = self.error.take() {
            self.done = true;
            return Poll::Ready(Some(Err(error)));
        }
        if let Some(bytes) = self.buffered.take() {
            return Poll::Ready(Some(Ok(bytes)));
        }
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            let event = match self.receive.poll_receive(cx) {
                Poll::Ready(event) => event,
                Poll::Pending => return Poll::Pending,
            };
            match event {
                Ok(ReceiveEvent::Http(HttpReceive::Request { body, more_body })) => {
                    self.done = !more_body;
                    self.seen += body.len();
                    if let Some(limit) = self.limit.filter(|&limit| self.seen > limit) {
                        self.done = true;
                        return Poll::Ready(Some(Err(BodyError::TooLarge { limit })));
                    }
                    if !body.is_empty() {
                        return Poll::Ready(Some(Ok(body)));
                    }
                }
                Ok(_) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(BodyError::Disconnected)));
                }
                Err(error) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(error.into())));
                }
            }
        }
    }
}

/// A receiver that first replays what was read of the body, then defers to the server's.
struct Replay {
    first: Mutex<Option<ReceiveEvent>>,
    inner: Receiver,
}

impl ReceiveHandle for Replay {
    fn poll_receive(&self, cx: &mut Context<'_>) -> Poll<Result<ReceiveEvent, ReceiveError>> {
        let first = self
            .first
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match first {
            Some(event) => Poll::Ready(Ok(event)),
            None => self.inner.poll_receive(cx),
        }
    }
}

pub(super) fn replay(state: BodyState, receive: Receiver) -> Receiver {
    let first = match state {
        BodyState::Unread => return receive,
        BodyState::Buffered(bytes) => HttpReceive::request(bytes),
        // The stream took the body: the next app sees it as empty.
        BodyState::Consumed => HttpReceive::request(Bytes::new()),
    };
    Receiver::new(Arc::new(Replay {
        first: Mutex::new(Some(first.into())),
        inner: receive,
    }))
}
