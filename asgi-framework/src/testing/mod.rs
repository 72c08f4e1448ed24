//! [`TestClient`]: drives any ASGI app in-process, without sockets.
//!
//! Requests go through asgi-core's [`Communicator`], so every message the app
//! sends passes the same protocol checks a server applies. Streamed
//! responses are collected, with each body message kept as its own chunk.
//! WebSocket sessions and the lifespan protocol are driven the same way.
//!
//! The app runs inside the futures the client returns; an app that uses a
//! runtime's timers needs that runtime around the test (`#[tokio::test]`).
//!
//! # Example
//!
//! ```
//! use asgi_framework::testing::TestClient;
//! use asgi_framework::{Application, get};
//!
//! # futures_executor::block_on(async {
//! let app = Application::new().route("/", get(|| async { "Hello, world!" }));
//! let client = TestClient::new(app);
//!
//! let response = client.get("/").send().await;
//!
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.text(), "Hello, world!");
//! # });
//! ```

mod request;
mod response;
mod websocket;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use asgi_core::testing::{Communicator, CommunicatorError};
use asgi_core::{
    App, LifespanReceive, LifespanScope, LifespanSend, LifespanState, SendEvent, SharedApp, State,
};
use cookie::Cookie;
use http::Method;

pub use self::request::TestRequest;
pub use self::response::TestResponse;
pub use self::websocket::{WsClosed, WsConnect, WsDenied, WsSession};

/// How long the client waits for each message from the app by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// An in-process client for an ASGI app (Starlette's `TestClient`).
///
/// Requests carry `Host: testserver` and the cookies earlier responses set.
/// Call [`start`](Self::start) to run the app's lifespan startup (and make
/// the state it sets visible to requests), [`stop`](Self::stop) for shutdown.
pub struct TestClient {
    app: SharedApp,
    timeout: Duration,
    pathsend: bool,
    follow_redirects: bool,
    cookies: Mutex<Vec<(String, String)>>,
    state: Mutex<State>,
    lifespan: Option<(Communicator, LifespanState)>,
}

/// Why the lifespan protocol did not complete.
#[derive(Debug)]
#[non_exhaustive]
pub enum LifespanError {
    /// The app answered `lifespan.startup.failed` with this message.
    StartupFailed(String),
    /// The app answered `lifespan.shutdown.failed` with this message.
    ShutdownFailed(String),
    /// The app does not speak lifespan (it returned or failed), or answered wrongly.
    Unsupported(String),
    /// [`TestClient::stop`] without a successful [`TestClient::start`].
    NotStarted,
}

impl fmt::Display for LifespanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LifespanError::StartupFailed(message) => write!(f, "startup failed: {message}"),
            LifespanError::ShutdownFailed(message) => write!(f, "shutdown failed: {message}"),
            LifespanError::Unsupported(message) => write!(f, "lifespan not supported: {message}"),
            LifespanError::NotStarted => f.write_str("the lifespan was not started"),
        }
    }
}

impl std::error::Error for LifespanError {}

impl TestClient {
    /// A client for `app`.
    pub fn new(app: impl App) -> Self {
        Self {
            app: Arc::new(app),
            timeout: DEFAULT_TIMEOUT,
            pathsend: false,
            follow_redirects: false,
            cookies: Mutex::new(Vec::new()),
            state: Mutex::new(State::new()),
            lifespan: None,
        }
    }

    /// How long to wait for each message from the app before panicking (10 s by default).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Advertises the `http.response.pathsend` extension; files sent that way are read into the body.
    #[must_use]
    pub fn pathsend(mut self, enabled: bool) -> Self {
        self.pathsend = enabled;
        self
    }

    /// Follows redirects to the test server (off by default, so tests see
    /// the 3xx itself; Starlette's client follows by default).
    #[must_use]
    pub fn follow_redirects(mut self, enabled: bool) -> Self {
        self.follow_redirects = enabled;
        self
    }

    /// Runs lifespan startup; the state the app sets is then given to every request.
    ///
    /// # Errors
    ///
    /// [`LifespanError::StartupFailed`] with the app's message, or
    /// [`LifespanError::Unsupported`] if the app does not handle lifespan.
    pub async fn start(&mut self) -> Result<(), LifespanError> {
        let state = LifespanState::new();
        let scope = asgi_core::Scope::Lifespan(LifespanScope::new(state.clone()));
        let mut comm = Communicator::new(self.app.clone(), scope);
        comm.send_input(LifespanReceive::Startup);
        match comm.receive_output(self.timeout).await {
            Ok(SendEvent::Lifespan(LifespanSend::StartupComplete)) => {
                *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state.snapshot();
                self.lifespan = Some((comm, state));
                Ok(())
            }
            Ok(SendEvent::Lifespan(LifespanSend::StartupFailed { message })) => {
                Err(LifespanError::StartupFailed(message))
            }
            Ok(other) => Err(LifespanError::Unsupported(format!(
                "sent '{}'",
                other.kind()
            ))),
            Err(error) => Err(LifespanError::Unsupported(error.to_string())),
        }
    }

    /// Runs lifespan shutdown.
    ///
    /// # Errors
    ///
    /// [`LifespanError::ShutdownFailed`], or [`LifespanError::NotStarted`].
    pub async fn stop(&mut self) -> Result<(), LifespanError> {
        let (mut comm, _state) = self.lifespan.take().ok_or(LifespanError::NotStarted)?;
        comm.send_input(LifespanReceive::Shutdown);
        match comm.receive_output(self.timeout).await {
            Ok(SendEvent::Lifespan(LifespanSend::ShutdownComplete)) => Ok(()),
            Ok(SendEvent::Lifespan(LifespanSend::ShutdownFailed { message })) => {
                Err(LifespanError::ShutdownFailed(message))
            }
            Ok(other) => Err(LifespanError::Unsupported(format!(
                "sent '{}'",
                other.kind()
            ))),
            Err(error) => Err(LifespanError::Unsupported(error.to_string())),
        }
    }

    /// A request with `method` to `path` (which may carry a query string).
    pub fn request(&self, method: Method, path: &str) -> TestRequest<'_> {
        TestRequest::new(self, method, path)
    }

    /// A `GET` request.
    pub fn get(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::GET, path)
    }

    /// A `HEAD` request.
    pub fn head(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::HEAD, path)
    }

    /// A `POST` request.
    pub fn post(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::POST, path)
    }

    /// A `PUT` request.
    pub fn put(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::PUT, path)
    }

    /// A `PATCH` request.
    pub fn patch(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::PATCH, path)
    }

    /// A `DELETE` request.
    pub fn delete(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::DELETE, path)
    }

    /// An `OPTIONS` request.
    pub fn options(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::OPTIONS, path)
    }

    /// A WebSocket connection to `path`; finish with [`WsConnect::connect`].
    pub fn websocket(&self, path: &str) -> WsConnect<'_> {
        WsConnect::new(self, path)
    }

    /// The value of cookie `name` in the client's jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn jar(&self) -> std::sync::MutexGuard<'_, Vec<(String, String)>> {
        self.cookies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The `Cookie` header value for the jar, if it holds any cookie.
    fn cookie_header(&self) -> Option<String> {
        let jar = self.jar();
        (!jar.is_empty()).then(|| {
            jar.iter()
                .map(|(n, v)| Cookie::new(n.as_str(), v.as_str()).encoded().to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Stores or removes the cookies of `Set-Cookie` values.
    fn store_cookies<'a>(&self, set_cookies: impl Iterator<Item = &'a str>) {
        let mut jar = self.jar();
        for value in set_cookies {
            let Ok(cookie) = Cookie::parse_encoded(value.to_owned()) else {
                continue;
            };
            jar.retain(|(n, _)| n != cookie.name());
            let expired = cookie
                .max_age()
                .is_some_and(|age| age.is_zero() || age.is_negative())
                || cookie
                    .expires_datetime()
                    .is_some_and(|at| at <= cookie::time::OffsetDateTime::now_utc());
            if !expired {
                jar.push((cookie.name().to_owned(), cookie.value().to_owned()));
            }
        }
    }

    fn state(&self) -> State {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl fmt::Debug for TestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestClient")
            .field("timeout", &self.timeout)
            .field("started", &self.lifespan.is_some())
            .finish_non_exhaustive()
    }
}

/// Panics with a readable message for a harness failure (timeout, protocol error).
fn harness_failure(what: &str, error: &CommunicatorError) -> ! {
    panic!("TestClient: {what}: {error}")
}
