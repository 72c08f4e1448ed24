//! [`BackgroundTasks`]: work that runs after the response has been sent.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use futures_util::FutureExt as _;

use crate::extract::FromRequestParts;
use crate::pool::{BlockingPool, current_pool};
use crate::request::Request;
use crate::response::{IntoResponse, Response};

type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Tasks to run after the response has been sent completely (Starlette's `BackgroundTasks`).
///
/// Add async tasks with [`add`](Self::add) and blocking ones (run on the
/// application's blocking pool) with [`add_blocking`](Self::add_blocking),
/// then return the tasks with the response, as `(tasks, response)` or
/// through [`attach`](Self::attach). They run in the order added, after the
/// last body message has been handed to the server, so the client never
/// waits for them. A task that fails or panics is logged with `tracing`
/// and the next one still runs.
///
/// Take it as a handler argument (it starts empty), or make one with
/// [`new`](Self::new). Tasks that are dropped without being attached to a
/// response never run, and a warning is logged.
///
/// # Example
///
/// ```
/// use asgi_framework::{BackgroundTasks, Json};
/// use serde_json::{json, Value};
///
/// async fn signup(mut tasks: BackgroundTasks) -> (BackgroundTasks, Json<Value>) {
///     tasks.add(async { send_welcome_mail().await });
///     tasks.add_blocking(|| std::fs::write("/tmp/signups.log", "one more\n"));
///     (tasks, Json(json!({ "ok": true })))
/// }
///
/// async fn send_welcome_mail() -> Result<(), std::io::Error> {
///     Ok(())
/// }
/// ```
#[must_use = "background tasks run only once attached to a response"]
pub struct BackgroundTasks {
    tasks: Vec<Task>,
    pool: Option<BlockingPool>,
}

impl BackgroundTasks {
    /// No tasks yet; blocking tasks use the pool of the application serving the request.
    pub fn new() -> Self {
        Self {
            tasks: Vec::new(),
            pool: None,
        }
    }

    /// Adds an async task; an `Err` it returns is logged.
    pub fn add<F, E>(&mut self, task: F) -> &mut Self
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + Send + 'static,
    {
        let index = self.tasks.len();
        self.tasks.push(Box::pin(async move {
            match AssertUnwindSafe(task).catch_unwind().await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::error!(task = index, %error, "background task failed"),
                Err(panic) => {
                    let message = crate::panic::message(panic.as_ref());
                    tracing::error!(task = index, %message, "background task panicked");
                }
            }
        }));
        self
    }

    /// Adds a blocking task, run on the blocking pool; an `Err` it returns is logged.
    pub fn add_blocking<F, E>(&mut self, task: F) -> &mut Self
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
        E: fmt::Display + Send + 'static,
    {
        let pool = self.pool.clone().unwrap_or_else(current_pool);
        self.add(async move {
            match pool.run(task).await {
                Ok(result) => result.map_err(|error| error.to_string()),
                Err(error) => Err(error.to_string()),
            }
        })
    }

    /// How many tasks are waiting.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether there are no tasks.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Hands the tasks to `response`, which runs them after it has been sent.
    pub fn attach(mut self, response: &mut Response) {
        let tasks = std::mem::take(&mut self.tasks);
        if tasks.is_empty() {
            return;
        }
        response.after_send(async move {
            for task in tasks {
                task.await;
            }
        });
    }
}

impl Default for BackgroundTasks {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        if !self.tasks.is_empty() {
            tracing::warn!(
                tasks = self.tasks.len(),
                "background tasks dropped without being attached to a response; they will not run"
            );
        }
    }
}

impl fmt::Debug for BackgroundTasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundTasks")
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl FromRequestParts for BackgroundTasks {
    type Rejection = Infallible;

    async fn from_request_parts(request: &mut Request) -> Result<Self, Infallible> {
        Ok(Self {
            tasks: Vec::new(),
            pool: Some(request.blocking_pool().clone()),
        })
    }
}

impl<R: IntoResponse> IntoResponse for (BackgroundTasks, R) {
    fn into_response(self) -> Response {
        let (tasks, response) = self;
        let mut response = response.into_response();
        tasks.attach(&mut response);
        response
    }
}
