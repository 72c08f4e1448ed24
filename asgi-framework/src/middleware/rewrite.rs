//! A [`Sender`] that rewrites what an inner app sends, for pure-ASGI middleware.
//!
//! Middleware that changes responses (adds headers, compresses bodies) hands
//! the inner app a `Sender` made here: each message the app sends goes
//! through a [`Rewrite`], which may pass it on, change it, hold it back or
//! expand it into several messages. Nothing is buffered beyond what the
//! rewrite holds itself, and every message is awaited on the real sender in
//! order, so streaming and backpressure keep working.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use asgi_core::{SendError, SendEvent, SendHandle, Sender};

/// Rewrites the messages an inner app sends.
pub(crate) trait Rewrite: Send + 'static {
    /// Turns one message from the app into zero or more messages for the
    /// server, pushed onto `out` in order.
    fn rewrite(&mut self, event: SendEvent, out: &mut Vec<SendEvent>) -> Result<(), SendError>;
}

impl<F> Rewrite for F
where
    F: FnMut(SendEvent, &mut Vec<SendEvent>) -> Result<(), SendError> + Send + 'static,
{
    fn rewrite(&mut self, event: SendEvent, out: &mut Vec<SendEvent>) -> Result<(), SendError> {
        self(event, out)
    }
}

type Flush = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'static>>;

struct Inner<R> {
    rewrite: R,
    flush: Option<Flush>,
}

/// The [`SendHandle`] behind [`rewrite_sender`].
struct RewriteSender<R> {
    inner: Sender,
    state: Mutex<Inner<R>>,
}

impl<R: Rewrite> SendHandle for RewriteSender<R> {
    fn start_send(&self, event: SendEvent) -> Result<(), SendError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::with_capacity(2);
        state.rewrite.rewrite(event, &mut out)?;
        if out.is_empty() {
            return Ok(());
        }
        let inner = self.inner.clone();
        // A flush the app gave up on (it dropped its send future) still goes
        // out first, so the server sees the messages in the order they were sent.
        let previous = state.flush.take();
        state.flush = Some(Box::pin(async move {
            if let Some(previous) = previous {
                previous.await?;
            }
            for event in out {
                inner.send(event).await?;
            }
            Ok(())
        }));
        Ok(())
    }

    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(flush) = state.flush.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let result = std::task::ready!(flush.as_mut().poll(cx));
        state.flush = None;
        Poll::Ready(result)
    }
}

impl<R> fmt::Debug for RewriteSender<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RewriteSender").finish_non_exhaustive()
    }
}

/// A sender for an inner app whose messages pass through `rewrite` on their way to `inner`.
///
/// Meant for HTTP responses, which one task sends in order. Clones used
/// from several tasks at once would share one pending flush, and only the
/// last task to poll it is woken; the middleware here therefore leaves
/// WebSocket senders unwrapped.
pub(crate) fn rewrite_sender(inner: Sender, rewrite: impl Rewrite) -> Sender {
    Sender::new(Arc::new(RewriteSender {
        inner,
        state: Mutex::new(Inner {
            rewrite,
            flush: None,
        }),
    }))
}

/// A sender that calls `on_start` with the headers of `http.response.start`
/// and passes every message through: the shape of most header-adding middleware.
pub(crate) fn on_response_start(
    inner: Sender,
    mut on_start: impl FnMut(&mut http::StatusCode, &mut asgi_core::Headers) + Send + 'static,
) -> Sender {
    rewrite_sender(
        inner,
        move |mut event: SendEvent, out: &mut Vec<SendEvent>| {
            if let SendEvent::Http(asgi_core::HttpSend::ResponseStart {
                status, headers, ..
            }) = &mut event
            {
                on_start(status, headers);
            }
            out.push(event);
            Ok(())
        },
    )
}

/// Appends `value` to the response's `Vary` header unless it is already listed.
pub(crate) fn add_vary(headers: &mut asgi_core::Headers, value: &'static str) {
    let existing: Vec<String> = headers
        .get_all("vary")
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    let listed = existing
        .iter()
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(value) || v.trim() == "*");
    if listed {
        return;
    }
    let joined = if existing.is_empty() {
        value.to_owned()
    } else {
        format!("{}, {value}", existing.join(", "))
    };
    if let Ok(joined) = http::HeaderValue::from_str(&joined) {
        headers.insert(http::header::VARY, joined);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asgi_core::Headers;
    use http::HeaderValue;

    #[test]
    fn vary_is_appended_once() {
        let mut headers =
            Headers::new().with(http::header::VARY, HeaderValue::from_static("Origin"));

        add_vary(&mut headers, "Accept-Encoding");
        add_vary(&mut headers, "accept-encoding");

        assert_eq!(headers.get("vary").unwrap(), "Origin, Accept-Encoding");
        assert_eq!(headers.len(), 1);
    }

    #[test]
    fn vary_star_already_covers_everything() {
        let mut headers = Headers::new().with(http::header::VARY, HeaderValue::from_static("*"));

        add_vary(&mut headers, "Origin");

        assert_eq!(headers.get("vary").unwrap(), "*");
    }
}
