//! Drives the app's future inside the connection task, catching its errors and panics.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::Context;

use asgi_core::{AppFuture, BoxError, SendError};

use super::shared::Shared;
use crate::protocol::panic_message;

/// How the app ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// It returned `Ok`.
    Returned,
    /// It returned an error or panicked (already logged).
    Failed,
}

/// The app's future for one connection, until it ends.
pub(super) struct AppTask {
    state: State,
}

enum State {
    Running(AppFuture),
    Done(Outcome),
}

impl AppTask {
    /// Wraps the future `App::call` returned.
    pub(super) fn new(future: AppFuture) -> Self {
        Self {
            state: State::Running(future),
        }
    }

    /// How the app ended, if it has.
    pub(super) fn outcome(&self) -> Option<Outcome> {
        match self.state {
            State::Running(_) => None,
            State::Done(outcome) => Some(outcome),
        }
    }

    /// Polls the app once if it is still running; returns `true` if it ended in this poll.
    ///
    /// While it runs, `shared` knows that the connection polls it, so the
    /// app's sends need not wake the connection task.
    pub(super) fn poll(&mut self, shared: &Shared, cx: &mut Context<'_>) -> bool {
        let State::Running(future) = &mut self.state else {
            return false;
        };
        shared.set_polling_app(true);
        // A panicking app must not take the connection task (and the other
        // apps on it) down: it counts as a failure, as an error does.
        let polled = catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)));
        shared.set_polling_app(false);
        let outcome = match polled {
            Ok(std::task::Poll::Pending) => return false,
            Ok(std::task::Poll::Ready(Ok(()))) => Outcome::Returned,
            Ok(std::task::Poll::Ready(Err(error))) => {
                log_error(&error);
                Outcome::Failed
            }
            Err(panic) => {
                let message = panic_message(&*panic);
                tracing::error!("ASGI application panicked: {message}");
                Outcome::Failed
            }
        };
        self.state = State::Done(outcome);
        true
    }
}

fn log_error(error: &BoxError) {
    // A send after the client left is the normal end of a connection.
    if error
        .downcast_ref::<SendError>()
        .is_some_and(SendError::is_disconnected)
    {
        tracing::debug!("ASGI application ended after the client disconnected");
    } else {
        tracing::error!("Exception in ASGI application: {error}");
    }
}

impl fmt::Debug for AppTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppTask")
            .field("outcome", &self.outcome())
            .finish()
    }
}
