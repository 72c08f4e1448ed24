//! Lifespan hooks: async startup and shutdown, answering `lifespan.*` messages.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use asgi_core::{
    BoxError, LifespanReceive, LifespanScope, LifespanSend, LifespanState, ReceiveEvent, Receiver,
    Sender,
};
use futures_util::FutureExt;

type HookFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;
type Hook = Arc<dyn Fn(LifespanState) -> HookFuture + Send + Sync>;

/// The startup and shutdown hooks of an application.
#[derive(Clone, Default)]
pub(crate) struct Lifespan {
    startup: Vec<Hook>,
    shutdown: Vec<Hook>,
}

pub(crate) fn hook<F, Fut, E>(f: F) -> Hook
where
    F: Fn(LifespanState) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    Arc::new(move |state| {
        let future = f(state);
        Box::pin(async move { future.await.map_err(Into::into) })
    })
}

impl Lifespan {
    pub(crate) fn on_startup(&mut self, hook: Hook) {
        self.startup.push(hook);
    }

    pub(crate) fn on_shutdown(&mut self, hook: Hook) {
        self.shutdown.push(hook);
    }

    /// Answers the lifespan protocol: startup hooks on `lifespan.startup`,
    /// shutdown hooks on `lifespan.shutdown`. A failing (or panicking) hook
    /// sends `*.failed` with its message, and the server decides what follows.
    pub(crate) async fn run(
        &self,
        scope: LifespanScope,
        receive: Receiver,
        send: Sender,
    ) -> Result<(), BoxError> {
        loop {
            match receive.receive().await? {
                ReceiveEvent::Lifespan(LifespanReceive::Startup) => {
                    match run_hooks(&self.startup, &scope.state).await {
                        Ok(()) => send.send(LifespanSend::StartupComplete).await?,
                        Err(message) => {
                            tracing::error!(%message, "application startup failed");
                            send.send(LifespanSend::StartupFailed { message }).await?;
                            return Ok(());
                        }
                    }
                }
                ReceiveEvent::Lifespan(LifespanReceive::Shutdown) => {
                    match run_hooks(&self.shutdown, &scope.state).await {
                        Ok(()) => send.send(LifespanSend::ShutdownComplete).await?,
                        Err(message) => {
                            tracing::error!(%message, "application shutdown failed");
                            send.send(LifespanSend::ShutdownFailed { message }).await?;
                        }
                    }
                    return Ok(());
                }
                other => return Err(format!("unexpected '{}' on lifespan", other.kind()).into()),
            }
        }
    }
}

async fn run_hooks(hooks: &[Hook], state: &LifespanState) -> Result<(), String> {
    for hook in hooks {
        match AssertUnwindSafe(hook(state.clone())).catch_unwind().await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(error.to_string()),
            Err(panic) => {
                return Err(format!(
                    "panicked: {}",
                    crate::panic::message(panic.as_ref())
                ));
            }
        }
    }
    Ok(())
}

impl fmt::Debug for Lifespan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lifespan")
            .field("startup", &self.startup.len())
            .field("shutdown", &self.shutdown.len())
            .finish()
    }
}
