//! Server-sent events (`text/event-stream`) with keep-alive comments.

use std::fmt::{self, Write as _};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use asgi_core::BoxError;
use bytes::Bytes;
use futures_core::Stream;
use futures_timer::Delay;
use http::header::{self, HeaderValue};

use super::{IntoResponse, Response};
use crate::body::Body;

/// One server-sent event.
///
/// # Example
///
/// ```
/// use asgi_framework::Event;
///
/// let event = Event::new().event("tick").id("1").data("line 1\nline 2");
/// assert_eq!(event.to_string(), "event: tick\nid: 1\ndata: line 1\ndata: line 2\n\n");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    buffer: String,
}

impl Event {
    /// An empty event (sent as a bare blank line).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the `event:` type. Line breaks are removed.
    #[must_use]
    pub fn event(self, name: &str) -> Self {
        self.field("event", &single_line(name))
    }

    /// Sets the `id:`. Line breaks are removed.
    #[must_use]
    pub fn id(self, id: &str) -> Self {
        self.field("id", &single_line(id))
    }

    /// Sets the `retry:` reconnection time.
    #[must_use]
    pub fn retry(self, retry: Duration) -> Self {
        self.field("retry", &retry.as_millis().to_string())
    }

    /// Adds `data:`, one field per line of `data`.
    #[must_use]
    pub fn data(mut self, data: &str) -> Self {
        for line in data.split('\n') {
            self = self.field("data", line.strip_suffix('\r').unwrap_or(line));
        }
        self
    }

    /// Adds JSON-serialized data.
    ///
    /// # Errors
    ///
    /// The serialization error.
    pub fn json_data(self, data: &impl serde::Serialize) -> Result<Self, serde_json::Error> {
        Ok(self.data(&serde_json::to_string(data)?))
    }

    /// Adds a `:` comment line, which clients ignore.
    #[must_use]
    pub fn comment(mut self, comment: &str) -> Self {
        for line in comment.split('\n') {
            let _ = writeln!(self.buffer, ": {line}");
        }
        self
    }

    fn field(mut self, name: &str, value: &str) -> Self {
        let _ = writeln!(self.buffer, "{name}: {value}");
        self
    }
}

fn single_line(value: &str) -> String {
    value.replace(['\r', '\n'], "")
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.buffer)?;
        f.write_str("\n")
    }
}

/// How often to send a keep-alive comment when no event came.
///
/// The default is every 15 seconds with the comment `: ping` (as
/// sse-starlette does), so proxies do not close an idle stream.
#[derive(Debug, Clone)]
pub struct KeepAlive {
    interval: Duration,
    text: String,
}

impl KeepAlive {
    /// Every 15 seconds, `: ping`.
    pub fn new() -> Self {
        Self {
            interval: Duration::from_secs(15),
            text: "ping".to_owned(),
        }
    }

    /// Sets the interval.
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the comment text.
    #[must_use]
    pub fn text(mut self, text: &str) -> Self {
        self.text = single_line(text);
        self
    }
}

impl Default for KeepAlive {
    fn default() -> Self {
        Self::new()
    }
}

/// A server-sent events response from a stream of [`Event`]s.
///
/// Sent as `text/event-stream` with `Cache-Control: no-cache`, each event as
/// its own body chunk. With [`keep_alive`](Self::keep_alive), a comment is
/// sent whenever the stream stays quiet for the interval.
///
/// # Example
///
/// ```
/// use asgi_framework::{Event, KeepAlive, Sse};
/// use futures_util::stream;
///
/// async fn events() -> Sse {
///     let events = stream::iter((0..3).map(|i| Event::new().data(&i.to_string())));
///     Sse::new(events).keep_alive(KeepAlive::new())
/// }
/// ```
pub struct Sse {
    events: Pin<Box<dyn Stream<Item = Event> + Send>>,
    keep_alive: Option<KeepAlive>,
}

impl Sse {
    /// Streams `events`.
    pub fn new(events: impl Stream<Item = Event> + Send + 'static) -> Self {
        Self {
            events: Box::pin(events),
            keep_alive: None,
        }
    }

    /// Sends keep-alive comments while the stream is quiet.
    #[must_use]
    pub fn keep_alive(mut self, keep_alive: KeepAlive) -> Self {
        self.keep_alive = Some(keep_alive);
        self
    }
}

impl fmt::Debug for Sse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sse")
            .field("keep_alive", &self.keep_alive)
            .finish_non_exhaustive()
    }
}

impl IntoResponse for Sse {
    fn into_response(self) -> Response {
        let timer = self.keep_alive.map(|k| {
            let delay = Delay::new(k.interval);
            (k, delay)
        });
        let stream = SseStream {
            events: self.events,
            keep_alive: timer,
        };
        Response::new(Body::from_stream(stream))
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream; charset=utf-8"),
            )
            .header(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))
    }
}

struct SseStream {
    events: Pin<Box<dyn Stream<Item = Event> + Send>>,
    keep_alive: Option<(KeepAlive, Delay)>,
}

impl Stream for SseStream {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.events.as_mut().poll_next(cx) {
            Poll::Ready(Some(event)) => {
                if let Some((keep_alive, delay)) = self.keep_alive.as_mut() {
                    delay.reset(keep_alive.interval);
                }
                return Poll::Ready(Some(Ok(Bytes::from(event.to_string()))));
            }
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        let Some((keep_alive, delay)) = self.keep_alive.as_mut() else {
            return Poll::Pending;
        };
        match Pin::new(&mut *delay).poll(cx) {
            Poll::Ready(()) => {
                delay.reset(keep_alive.interval);
                let comment = format!(": {}\n\n", keep_alive.text);
                Poll::Ready(Some(Ok(Bytes::from(comment))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_data_gives_one_field_per_line() {
        let event = Event::new().data("a\r\nb").comment("c");

        assert_eq!(event.to_string(), "data: a\ndata: b\n: c\n\n");
    }

    #[test]
    fn event_names_cannot_inject_fields() {
        let event = Event::new().event("x\ndata: evil");

        assert_eq!(event.to_string(), "event: xdata: evil\n\n");
    }
}
