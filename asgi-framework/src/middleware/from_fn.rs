//! [`from_fn`]: middleware as an async fn from a request and [`Next`] to a response.
//!
//! Starlette's `BaseHTTPMiddleware` broke streaming, background tasks and
//! disconnect detection (Kludex/starlette#1678) because it ran the inner app
//! in a separate task and piped its messages through a queue. Here the inner
//! app runs *inside the response body*: [`Next::run`] polls it only until it
//! sends `http.response.start`, and the returned response's body polls it on
//! for each chunk, so chunks flow one by one with backpressure. Whatever the
//! inner app still does after its last body message (background tasks) runs
//! as an after-send task of the outer response. The inner app keeps the
//! server's receiver (with any body the middleware read replayed first), so it
//! still sees `http.disconnect`.

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use asgi_core::protocol::HttpResponseState;
use asgi_core::{
    App, AppFuture, BoxError, HttpSend, Receiver, Scope, SendError, SendEvent, SendHandle, Sender,
    SharedApp,
};
use bytes::Bytes;
use futures_core::Stream;
use futures_util::FutureExt;

use super::Middleware;
use crate::body::Body;
use crate::error::Error;
use crate::panic::HandlerPanic;
use crate::request::Request;
use crate::response::{IntoResponse, Response};

/// Makes a middleware from an async fn `(Request, Next) -> impl IntoResponse`.
///
/// Call `next.run(request).await` to get the inner app's response, then
/// change it (headers, status) or return another one instead. Non-HTTP
/// scopes pass straight through.
///
/// # Example
///
/// ```
/// use asgi_framework::middleware::{Next, from_fn};
/// use asgi_framework::{Application, Request, Response, get};
/// use http::HeaderValue;
///
/// async fn stamp(request: Request, next: Next) -> Response {
///     let mut response = next.run(request).await;
///     response.headers_mut().push(
///         http::header::HeaderName::from_static("x-served-by"),
///         HeaderValue::from_static("asgi-framework"),
///     );
///     response
/// }
///
/// let app = Application::new()
///     .route("/", get(|| async { "hi" }))
///     .layer(from_fn(stamp));
/// ```
pub fn from_fn<F, Fut, R>(f: F) -> FromFn<F>
where
    F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    FromFn { f }
}

/// The middleware made by [`from_fn`].
#[derive(Clone, Copy)]
pub struct FromFn<F> {
    f: F,
}

impl<F> fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FromFn").finish_non_exhaustive()
    }
}

impl<F, Fut, R> Middleware for FromFn<F>
where
    F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    fn wrap(self, app: SharedApp) -> SharedApp {
        Arc::new(FromFnApp {
            f: self.f,
            inner: app,
        })
    }
}

struct FromFnApp<F> {
    f: F,
    inner: SharedApp,
}

impl<F, Fut, R> App for FromFnApp<F>
where
    F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    fn call(&self, scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
        let Scope::Http(scope) = scope else {
            return self.inner.call(scope, receive, send);
        };
        let extensions = scope.extensions.clone();
        let next = Next {
            inner: self.inner.clone(),
        };
        let future = (self.f)(Request::new(scope, receive), next);
        Box::pin(async move {
            let response = match AssertUnwindSafe(future).catch_unwind().await {
                Ok(response) => response.into_response(),
                Err(panic) => {
                    Error::from(HandlerPanic(crate::panic::message(panic.as_ref()))).into_response()
                }
            };
            response.send(&send, &extensions).await
        })
    }
}

/// The rest of the stack, for a [`from_fn`] middleware to call.
pub struct Next {
    inner: SharedApp,
}

impl fmt::Debug for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next").finish_non_exhaustive()
    }
}

impl Next {
    /// Runs the inner app on `request` until it starts its response.
    ///
    /// The body is not read here: the returned response streams it from the
    /// inner app as it is sent. An inner app that fails before starting a
    /// response gives a 500.
    pub async fn run(self, request: Request) -> Response {
        let (scope, receive) = request.into_parts();
        let extensions = scope.extensions.clone();
        let queue = Arc::new(Capture {
            state: Mutex::new(Captured {
                events: VecDeque::new(),
                flush: None,
                protocol: HttpResponseState::new(&extensions),
            }),
        });
        let sender = Sender::new(queue.clone());
        let app = self.inner.call(Scope::Http(scope), receive, sender);
        let mut driver = Driver {
            queue,
            app: Some(app),
            outcome: None,
        };
        let start = poll_fn(|cx| driver.poll_event(cx)).await;
        match start {
            Some(HttpSend::ResponseStart {
                status, headers, ..
            }) => {
                let first = poll_fn(|cx| driver.poll_event_if_ready(cx)).await;
                let mut response = match first {
                    Some(HttpSend::ResponsePathsend { path }) => {
                        Response::new(Body::file(path, None))
                    }
                    Some(HttpSend::ResponseBody {
                        body,
                        more_body: false,
                    }) => Response::new(body),
                    pending => {
                        let shared = Arc::new(Mutex::new(driver));
                        let stream = DriverStream {
                            driver: shared.clone(),
                            first: pending,
                            done: false,
                        };
                        let mut response = Response::new(Body::from_stream(stream));
                        response.after_send(finish(shared));
                        *response.status_mut() = status;
                        *response.headers_mut() = headers;
                        return response;
                    }
                };
                *response.status_mut() = status;
                *response.headers_mut() = headers;
                let rest = Arc::new(Mutex::new(driver));
                response.after_send(finish(rest));
                response
            }
            _ => {
                let error = match driver.outcome.take() {
                    Some(Err(error)) => error,
                    _ => "the inner app ended without starting a response".into(),
                };
                Error::from_boxed(error).into_response()
            }
        }
    }
}

/// Runs the inner app to its end after the outer response was sent (its background tasks).
async fn finish(driver: Arc<Mutex<Driver>>) {
    let outcome = poll_fn(|cx| {
        let mut driver = driver.lock().unwrap_or_else(PoisonError::into_inner);
        while driver.poll_event(cx).is_ready() {
            if driver.app.is_none() {
                break;
            }
        }
        if driver.app.is_none() {
            Poll::Ready(driver.outcome.take())
        } else {
            Poll::Pending
        }
    })
    .await;
    if let Some(Err(error)) = outcome {
        tracing::error!(%error, "inner app failed after its response");
    }
}

/// The messages the inner app sent, checked by the protocol state machine.
struct Capture {
    state: Mutex<Captured>,
}

struct Captured {
    events: VecDeque<HttpSend>,
    flush: Option<Waker>,
    protocol: HttpResponseState,
}

impl Capture {
    fn lock(&self) -> MutexGuard<'_, Captured> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SendHandle for Capture {
    fn start_send(&self, event: SendEvent) -> Result<(), SendError> {
        let SendEvent::Http(event) = event else {
            return Err(SendError::Protocol(asgi_core::ProtocolError::WrongScope {
                scope: "http",
                received: event.kind(),
            }));
        };
        let mut state = self.lock();
        state.protocol.check(&event)?;
        state.events.push_back(event);
        Ok(())
    }

    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        let mut state = self.lock();
        if state.events.is_empty() {
            Poll::Ready(Ok(()))
        } else {
            // Backpressure: the app waits until the outer response took the message.
            state.flush = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Polls the inner app and hands out what it sent.
struct Driver {
    queue: Arc<Capture>,
    app: Option<AppFuture>,
    outcome: Option<Result<(), BoxError>>,
}

impl Driver {
    /// The next message, polling the app for it; `None` once the app has ended with nothing left.
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<HttpSend>> {
        if let Some(event) = self.pop() {
            return Poll::Ready(Some(event));
        }
        if let Some(app) = self.app.as_mut() {
            let polled = AssertUnwindSafe(|| app.as_mut().poll(cx));
            match std::panic::catch_unwind(polled) {
                Ok(Poll::Pending) => {}
                Ok(Poll::Ready(result)) => {
                    self.app = None;
                    self.outcome = Some(result);
                }
                Err(panic) => {
                    self.app = None;
                    let message = crate::panic::message(panic.as_ref());
                    self.outcome = Some(Err(Box::new(HandlerPanic(message))));
                }
            }
        }
        match self.pop() {
            Some(event) => Poll::Ready(Some(event)),
            None if self.app.is_none() => Poll::Ready(None),
            None => Poll::Pending,
        }
    }

    /// Like [`poll_event`](Self::poll_event), but never waits: `None` if nothing is there yet.
    fn poll_event_if_ready(&mut self, cx: &mut Context<'_>) -> Poll<Option<HttpSend>> {
        match self.poll_event(cx) {
            Poll::Ready(event) => Poll::Ready(event),
            Poll::Pending => Poll::Ready(None),
        }
    }

    fn pop(&mut self) -> Option<HttpSend> {
        let mut state = self.queue.lock();
        let event = state.events.pop_front();
        if event.is_some()
            && let Some(waker) = state.flush.take()
        {
            waker.wake();
        }
        event
    }
}

/// The inner app's body, chunk by chunk, as the outer response's body stream.
struct DriverStream {
    driver: Arc<Mutex<Driver>>,
    first: Option<HttpSend>,
    done: bool,
}

impl Stream for DriverStream {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            let event = match self.first.take() {
                Some(event) => Some(event),
                None => {
                    let mut driver = self.driver.lock().unwrap_or_else(PoisonError::into_inner);
                    match driver.poll_event(cx) {
                        Poll::Ready(event) => event,
                        Poll::Pending => return Poll::Pending,
                    }
                }
            };
            match event {
                Some(HttpSend::ResponseBody { body, more_body }) => {
                    self.done = !more_body;
                    if !body.is_empty() || self.done {
                        return Poll::Ready(Some(Ok(body)));
                    }
                }
                Some(other) => {
                    self.done = true;
                    let error =
                        format!("'{}' cannot pass through from_fn middleware", other.kind());
                    return Poll::Ready(Some(Err(error.into())));
                }
                None => {
                    self.done = true;
                    let mut driver = self.driver.lock().unwrap_or_else(PoisonError::into_inner);
                    return match driver.outcome.take() {
                        Some(Err(error)) => Poll::Ready(Some(Err(error))),
                        _ => Poll::Ready(Some(Err("the inner app ended its body early".into()))),
                    };
                }
            }
        }
    }
}
