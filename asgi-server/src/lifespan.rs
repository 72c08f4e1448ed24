//! The lifespan protocol: startup before the first accept, shutdown after the last connection.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use asgi_core::protocol::LifespanProtocolState;
use asgi_core::{
    LifespanReceive, LifespanScope, LifespanSend, LifespanState, ProtocolError, ReceiveError,
    ReceiveEvent, ReceiveHandle, Receiver, Scope, SendError, SendEvent, SendHandle, Sender,
    SharedApp, State,
};
use futures_util::FutureExt;
use tokio::task::JoinHandle;

use crate::config::LifespanMode;
use crate::error::Error;
use crate::protocol::call_app;

/// The app's lifespan task after startup.
#[derive(Debug)]
pub(crate) struct Lifespan {
    running: Option<Running>,
    state: State,
}

#[derive(Debug)]
struct Running {
    channel: Arc<Channel>,
    task: JoinHandle<Result<(), String>>,
}

impl Lifespan {
    /// Runs startup: sends `lifespan.startup` and waits for the answer.
    ///
    /// # Errors
    ///
    /// [`Error::is_lifespan`] for `lifespan.startup.failed`, or for an app
    /// error with `--lifespan on`.
    pub(crate) async fn startup(app: &SharedApp, mode: LifespanMode) -> Result<Self, Error> {
        if mode == LifespanMode::Off {
            return Ok(Self {
                running: None,
                state: State::new(),
            });
        }
        let namespace = LifespanState::new();
        let channel = Arc::new(Channel::default());
        channel.push(LifespanReceive::Startup);
        let call = call_app(
            app,
            Scope::Lifespan(LifespanScope::new(namespace.clone())),
            Receiver::new(channel.clone()),
            Sender::new(channel.clone()),
        );
        let mut task = tokio::spawn(async move {
            match AssertUnwindSafe(call).catch_unwind().await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err(String::from("the lifespan handler panicked")),
            }
        });
        tracing::info!("Waiting for application startup.");
        let answer = tokio::select! {
            answer = channel.answer() => answer,
            ended = &mut task => {
                // The app may have answered just before returning.
                match channel.try_answer() {
                    Some(answer) => answer,
                    None => return Self::ended_in_startup(ended, mode),
                }
            }
        };
        match answer {
            LifespanSend::StartupComplete => {
                tracing::info!("Application startup complete.");
                Ok(Self {
                    running: Some(Running { channel, task }),
                    state: namespace.snapshot(),
                })
            }
            LifespanSend::StartupFailed { message } => {
                if !message.is_empty() {
                    tracing::error!("{message}");
                }
                tracing::error!("Application startup failed. Exiting.");
                Err(Error::lifespan(message))
            }
            other => Err(Error::lifespan(format!(
                "unexpected '{}' during startup",
                other.kind()
            ))),
        }
    }

    fn ended_in_startup(
        ended: Result<Result<(), String>, tokio::task::JoinError>,
        mode: LifespanMode,
    ) -> Result<Self, Error> {
        let error = match ended {
            Ok(Ok(())) => {
                tracing::info!(
                    "ASGI 'lifespan' protocol returned without answering startup; continuing without it."
                );
                return Ok(Self {
                    running: None,
                    state: State::new(),
                });
            }
            Ok(Err(error)) => error,
            Err(join) => join.to_string(),
        };
        if mode == LifespanMode::On {
            tracing::error!("Exception in 'lifespan' protocol: {error}");
            tracing::error!("Application startup failed. Exiting.");
            Err(Error::lifespan(error))
        } else {
            tracing::info!("ASGI 'lifespan' protocol appears unsupported.");
            tracing::debug!("lifespan error: {error}");
            Ok(Self {
                running: None,
                state: State::new(),
            })
        }
    }

    /// The state the app set up during startup, for request scopes.
    pub(crate) fn state(&self) -> State {
        self.state.clone()
    }

    /// Runs shutdown: sends `lifespan.shutdown` and waits (at most `timeout`) for the answer.
    pub(crate) async fn shutdown(self, timeout: Option<Duration>) {
        let Some(Running { channel, mut task }) = self.running else {
            return;
        };
        tracing::info!("Waiting for application shutdown.");
        channel.push(LifespanReceive::Shutdown);
        let wait = async {
            tokio::select! {
                answer = channel.answer() => match answer {
                    LifespanSend::ShutdownFailed { message } => {
                        tracing::error!("{message}");
                        tracing::error!("Application shutdown failed.");
                    }
                    _ => tracing::info!("Application shutdown complete."),
                },
                ended = &mut task => match ended {
                    Ok(Ok(())) => tracing::info!("Application shutdown complete."),
                    Ok(Err(error)) => tracing::error!("Exception in 'lifespan' protocol during shutdown: {error}"),
                    Err(error) => tracing::error!("lifespan task failed: {error}"),
                },
            }
        };
        let finished = match timeout {
            Some(limit) => tokio::time::timeout(limit, wait).await.is_ok(),
            None => {
                wait.await;
                true
            }
        };
        if !finished {
            tracing::error!("Application shutdown timed out.");
        }
        task.abort();
    }
}

/// The receive/send pair of the lifespan scope.
#[derive(Debug, Default)]
struct Channel {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    incoming: Option<LifespanReceive>,
    app_waker: Option<Waker>,
    answer: Option<LifespanSend>,
    server_waker: Option<Waker>,
    protocol: LifespanProtocolState,
}

impl Channel {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, message: LifespanReceive) {
        let mut inner = self.lock();
        inner.incoming = Some(message);
        if let Some(waker) = inner.app_waker.take() {
            waker.wake();
        }
    }

    fn try_answer(&self) -> Option<LifespanSend> {
        self.lock().answer.take()
    }

    async fn answer(&self) -> LifespanSend {
        std::future::poll_fn(|cx| {
            let mut inner = self.lock();
            match inner.answer.take() {
                Some(answer) => Poll::Ready(answer),
                None => {
                    inner.server_waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl ReceiveHandle for Channel {
    fn poll_receive(&self, cx: &mut Context<'_>) -> Poll<Result<ReceiveEvent, ReceiveError>> {
        let mut inner = self.lock();
        match inner.incoming.take() {
            Some(message) => Poll::Ready(Ok(message.into())),
            None => {
                inner.app_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl SendHandle for Channel {
    fn start_send(&self, event: SendEvent) -> Result<(), SendError> {
        let SendEvent::Lifespan(message) = event else {
            return Err(ProtocolError::WrongScope {
                scope: "lifespan",
                received: event.kind(),
            }
            .into());
        };
        let mut inner = self.lock();
        inner.protocol.check(&message)?;
        inner.answer = Some(message);
        if let Some(waker) = inner.server_waker.take() {
            waker.wake();
        }
        Ok(())
    }

    fn poll_flush(&self, _cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        Poll::Ready(Ok(()))
    }
}
