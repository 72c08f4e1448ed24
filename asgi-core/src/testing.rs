//! An in-memory harness that runs an app without a server.
//!
//! [`Communicator`] is asgiref's `ApplicationCommunicator` for Rust: start an
//! app on a scope, feed it input messages, read what it sends with a timeout,
//! check that nothing more arrives, and get its error if it failed. Messages
//! the app sends pass through the same [`ProtocolState`] a server uses, so an
//! out-of-order message fails here as it would over a socket.
//!
//! The harness is runtime-agnostic: it polls the app itself, inside the
//! futures it returns, and times out with a timer thread. An app that uses
//! a runtime's timers or I/O needs that runtime around the test (for example
//! `#[tokio::test]`).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use asgi_core::testing::Communicator;
//! use asgi_core::{app_fn, HttpReceive, HttpScope, HttpSend, Headers, Scope, SendEvent};
//! use http::{Method, StatusCode};
//!
//! # futures_executor::block_on(async {
//! let app = app_fn(|_scope, _receive, send| async move {
//!     send.send(HttpSend::start(StatusCode::OK, Headers::new())).await?;
//!     send.send(HttpSend::body("Hello, world!")).await?;
//!     Ok(())
//! });
//! let mut comm = Communicator::new(app, Scope::Http(HttpScope::new(Method::GET, "/")));
//! comm.send_input(HttpReceive::request(""));
//!
//! let start = comm.receive_output(Duration::from_secs(1)).await.unwrap();
//! assert!(matches!(start, SendEvent::Http(HttpSend::ResponseStart { status: StatusCode::OK, .. })));
//! let body = comm.receive_output(Duration::from_secs(1)).await.unwrap();
//! assert!(matches!(body, SendEvent::Http(HttpSend::ResponseBody { more_body: false, .. })));
//! comm.wait(Duration::from_secs(1)).await.unwrap();
//! # });
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_timer::Delay;

use crate::app::{App, AppFuture};
use crate::channel::{ReceiveHandle, Receiver, SendHandle, Sender};
use crate::error::{BoxError, ProtocolError, ReceiveError, SendError};
use crate::message::{ReceiveEvent, SendEvent};
use crate::protocol::ProtocolState;
use crate::scope::Scope;

/// Why a [`Communicator`] call did not give what was asked.
#[derive(Debug)]
#[non_exhaustive]
pub enum CommunicatorError {
    /// Nothing arrived within the timeout; the app is still running.
    Timeout,
    /// The app returned `Ok` without sending anything more.
    AppReturned,
    /// The app returned an error.
    AppFailed(BoxError),
    /// The app panicked; the panic message, if it was a string.
    AppPanicked(String),
    /// The app sent a message that broke the protocol (it also got this error from `send`).
    Protocol(ProtocolError),
    /// Output arrived where none was expected (from [`Communicator::receive_nothing`]).
    UnexpectedOutput(SendEvent),
}

impl fmt::Display for CommunicatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommunicatorError::Timeout => f.write_str("timed out waiting for the app"),
            CommunicatorError::AppReturned => f.write_str("the app returned without sending more"),
            CommunicatorError::AppFailed(error) => write!(f, "the app failed: {error}"),
            CommunicatorError::AppPanicked(message) => write!(f, "the app panicked: {message}"),
            CommunicatorError::Protocol(error) => write!(f, "the app broke the protocol: {error}"),
            CommunicatorError::UnexpectedOutput(event) => {
                write!(f, "expected no output, but the app sent '{}'", event.kind())
            }
        }
    }
}

impl std::error::Error for CommunicatorError {}

/// How the app ended.
#[derive(Debug)]
enum Outcome {
    Returned,
    Failed(BoxError),
    Panicked(String),
}

#[derive(Debug, Default)]
struct Queues {
    input: VecDeque<ReceiveEvent>,
    output: VecDeque<SendEvent>,
    receive_waker: Option<Waker>,
    protocol_error: Option<ProtocolError>,
}

struct Channel {
    queues: Mutex<Queues>,
    protocol: Mutex<ProtocolState>,
}

impl Channel {
    fn queues(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ReceiveHandle for Channel {
    fn poll_receive(&self, cx: &mut Context<'_>) -> Poll<Result<ReceiveEvent, ReceiveError>> {
        let mut queues = self.queues();
        match queues.input.pop_front() {
            Some(event) => Poll::Ready(Ok(event)),
            None => {
                queues.receive_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl SendHandle for Channel {
    fn start_send(&self, event: SendEvent) -> Result<(), SendError> {
        let checked = self
            .protocol
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .check(&event);
        let mut queues = self.queues();
        match checked {
            Ok(()) => {
                queues.output.push_back(event);
                Ok(())
            }
            Err(error) => {
                queues.protocol_error = Some(error.clone());
                Err(SendError::Protocol(error))
            }
        }
    }

    fn poll_flush(&self, _cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        Poll::Ready(Ok(()))
    }
}

/// Runs one app instance in memory and exchanges messages with it.
///
/// Dropping the communicator cancels the app (drops its future).
pub struct Communicator {
    channel: Arc<Channel>,
    app: Option<AppFuture>,
    outcome: Option<Outcome>,
}

impl fmt::Debug for Communicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Communicator")
            .field("running", &self.app.is_some())
            .field("outcome", &self.outcome)
            .finish()
    }
}

impl Communicator {
    /// Calls `app` with `scope`; the app runs while the communicator is awaited.
    pub fn new(app: impl App, scope: Scope) -> Self {
        let channel = Arc::new(Channel {
            queues: Mutex::new(Queues::default()),
            protocol: Mutex::new(ProtocolState::for_scope(&scope)),
        });
        let receiver = Receiver::new(channel.clone());
        let sender = Sender::new(channel.clone());
        let future = app.call(scope, receiver, sender);
        Self {
            channel,
            app: Some(future),
            outcome: None,
        }
    }

    /// Queues a message for the app's next `receive`.
    pub fn send_input(&mut self, event: impl Into<ReceiveEvent>) {
        let mut queues = self.channel.queues();
        queues.input.push_back(event.into());
        if let Some(waker) = queues.receive_waker.take() {
            waker.wake();
        }
    }

    /// Waits up to `timeout` for the next message the app sends.
    ///
    /// # Errors
    ///
    /// [`CommunicatorError::Timeout`] if nothing came (the app keeps
    /// running), or how the app ended if it ended without sending more.
    pub async fn receive_output(
        &mut self,
        timeout: Duration,
    ) -> Result<SendEvent, CommunicatorError> {
        let mut delay = Delay::new(timeout);
        poll_fn(|cx| {
            if let Some(event) = self.channel.queues().output.pop_front() {
                return Poll::Ready(Ok(event));
            }
            if self.poll_app(cx).is_ready() {
                if let Some(event) = self.channel.queues().output.pop_front() {
                    return Poll::Ready(Ok(event));
                }
                return Poll::Ready(Err(self.ended_error()));
            }
            if let Some(event) = self.channel.queues().output.pop_front() {
                return Poll::Ready(Ok(event));
            }
            match Pin::new(&mut delay).poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(CommunicatorError::Timeout)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// Checks that the app sends nothing for `timeout`.
    ///
    /// # Errors
    ///
    /// [`CommunicatorError::UnexpectedOutput`] with the message, if one came.
    /// An app that ends without output passes.
    pub async fn receive_nothing(&mut self, timeout: Duration) -> Result<(), CommunicatorError> {
        match self.receive_output(timeout).await {
            Ok(event) => Err(CommunicatorError::UnexpectedOutput(event)),
            Err(CommunicatorError::Timeout | CommunicatorError::AppReturned) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// Waits up to `timeout` for the app to finish; on timeout, cancels it.
    ///
    /// Output the app sent is left queued for [`receive_output`](Self::receive_output).
    ///
    /// # Errors
    ///
    /// [`CommunicatorError::Timeout`], or the app's error or panic.
    pub async fn wait(&mut self, timeout: Duration) -> Result<(), CommunicatorError> {
        let mut delay = Delay::new(timeout);
        let finished = poll_fn(|cx| {
            if self.poll_app(cx).is_ready() {
                return Poll::Ready(true);
            }
            Pin::new(&mut delay).poll(cx).map(|()| false)
        })
        .await;
        if !finished {
            self.app = None;
            return Err(CommunicatorError::Timeout);
        }
        match self.ended_error() {
            CommunicatorError::AppReturned => Ok(()),
            error => Err(error),
        }
    }

    /// Whether the app has finished.
    pub fn is_finished(&self) -> bool {
        self.app.is_none()
    }

    /// Cancels the app if it is still running.
    pub fn stop(&mut self) {
        self.app = None;
    }

    /// Polls the app once, catching a panic. Ready once it has ended.
    fn poll_app(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(app) = self.app.as_mut() else {
            return Poll::Ready(());
        };
        let outcome = match catch_unwind(AssertUnwindSafe(|| app.as_mut().poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(Ok(()))) => Outcome::Returned,
            Ok(Poll::Ready(Err(error))) => Outcome::Failed(error),
            Err(panic) => Outcome::Panicked(panic_message(panic.as_ref())),
        };
        self.app = None;
        self.outcome = Some(outcome);
        Poll::Ready(())
    }

    /// The error describing how the app ended; a protocol error takes precedence.
    fn ended_error(&mut self) -> CommunicatorError {
        if let Some(error) = self.channel.queues().protocol_error.take() {
            return CommunicatorError::Protocol(error);
        }
        match self.outcome.take() {
            Some(Outcome::Failed(error)) => CommunicatorError::AppFailed(error),
            Some(Outcome::Panicked(message)) => CommunicatorError::AppPanicked(message),
            Some(Outcome::Returned) | None => CommunicatorError::AppReturned,
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{HttpReceive, HttpSend};
    use crate::scope::HttpScope;
    use crate::{Headers, app_fn};
    use futures_executor::block_on;
    use http::{Method, StatusCode};

    const SHORT: Duration = Duration::from_millis(50);

    fn http_scope() -> Scope {
        Scope::Http(HttpScope::new(Method::POST, "/echo"))
    }

    #[test]
    fn echo_app_reads_input_and_answers() {
        block_on(async {
            let app = app_fn(|_scope, receive, send| async move {
                let mut body = Vec::new();
                loop {
                    match receive.receive().await? {
                        ReceiveEvent::Http(HttpReceive::Request {
                            body: chunk,
                            more_body,
                        }) => {
                            body.extend_from_slice(&chunk);
                            if !more_body {
                                break;
                            }
                        }
                        other => return Err(format!("unexpected {}", other.kind()).into()),
                    }
                }
                send.send(HttpSend::start(StatusCode::OK, Headers::new()))
                    .await?;
                send.send(HttpSend::body(body)).await?;
                Ok(())
            });
            let mut comm = Communicator::new(app, http_scope());

            comm.receive_nothing(SHORT).await.unwrap();
            comm.send_input(HttpReceive::Request {
                body: "ab".into(),
                more_body: true,
            });
            comm.send_input(HttpReceive::request("c"));

            let start = comm.receive_output(SHORT).await.unwrap();
            assert!(matches!(
                start,
                SendEvent::Http(HttpSend::ResponseStart { .. })
            ));
            let SendEvent::Http(HttpSend::ResponseBody {
                body,
                more_body: false,
            }) = comm.receive_output(SHORT).await.unwrap()
            else {
                panic!("expected the final body");
            };
            assert_eq!(body, "abc");
            comm.wait(SHORT).await.unwrap();
            assert!(comm.is_finished());
        });
    }

    #[test]
    fn app_that_never_answers_times_out() {
        block_on(async {
            let app = app_fn(|_scope, receive, _send| async move {
                receive.receive().await?;
                Ok(())
            });
            let mut comm = Communicator::new(app, http_scope());

            let error = comm.receive_output(SHORT).await.unwrap_err();

            assert!(matches!(error, CommunicatorError::Timeout), "{error}");
            assert!(matches!(
                comm.wait(SHORT).await,
                Err(CommunicatorError::Timeout)
            ));
            assert!(comm.is_finished(), "wait cancels the app on timeout");
        });
    }

    #[test]
    fn panicking_app_is_reported_not_propagated() {
        block_on(async {
            let app = app_fn(|_scope, _receive, _send| async move {
                if true {
                    panic!("boom");
                }
                Ok(())
            });
            let mut comm = Communicator::new(app, http_scope());

            let error = comm.receive_output(SHORT).await.unwrap_err();

            assert!(
                matches!(&error, CommunicatorError::AppPanicked(m) if m == "boom"),
                "{error}"
            );
        });
    }

    #[test]
    fn app_error_is_returned() {
        block_on(async {
            let app = app_fn(|_scope, _receive, _send| async move { Err("bad".into()) });
            let mut comm = Communicator::new(app, http_scope());

            let error = comm.wait(SHORT).await.unwrap_err();

            assert!(matches!(&error, CommunicatorError::AppFailed(e) if e.to_string() == "bad"));
        });
    }

    #[test]
    fn out_of_order_send_is_a_protocol_error_for_app_and_test() {
        block_on(async {
            let app = app_fn(|_scope, _receive, send| async move {
                let result = send.send(HttpSend::body("early")).await;
                assert!(matches!(result, Err(SendError::Protocol(_))));
                result?;
                Ok(())
            });
            let mut comm = Communicator::new(app, http_scope());

            let error = comm.receive_output(SHORT).await.unwrap_err();

            assert!(matches!(
                error,
                CommunicatorError::Protocol(ProtocolError::UnexpectedMessage { .. })
            ));
        });
    }

    #[test]
    fn receive_nothing_reports_unexpected_output() {
        block_on(async {
            let app = app_fn(|_scope, _receive, send| async move {
                send.send(HttpSend::start(StatusCode::OK, Headers::new()))
                    .await?;
                std::future::pending::<()>().await;
                Ok(())
            });
            let mut comm = Communicator::new(app, http_scope());

            let error = comm.receive_nothing(SHORT).await.unwrap_err();

            assert!(matches!(error, CommunicatorError::UnexpectedOutput(_)));
        });
    }
}
