//! Middleware: apps that wrap apps, and [`from_fn`] for request-to-response middleware.
//!
//! A [`Middleware`] turns the app inside it into a new app
//! ([`SharedApp`] to [`SharedApp`]): it sees every scope (HTTP, WebSocket,
//! lifespan) and the raw messages, so it can do anything, streaming included.
//! [`from_fn`] is the convenient form for HTTP: an async fn from a
//! [`Request`](crate::Request) and a [`Next`] to a [`Response`](crate::Response).

pub mod cors;
mod from_fn;
pub mod gzip;
pub mod https_redirect;
mod reply;
pub mod request_id;
mod rewrite;
pub mod server_error;
pub mod session;
pub mod trusted_host;

use asgi_core::SharedApp;

pub use self::cors::Cors;
pub use self::from_fn::{FromFn, Next, from_fn};
pub use self::gzip::GZip;
pub use self::https_redirect::HttpsRedirect;
pub use self::request_id::{RequestId, RequestIds};
pub use self::server_error::{AppPanicked, ServerErrors};
pub use self::session::{Session, SessionKeyError, Sessions};
pub use self::trusted_host::TrustedHost;

/// Wraps an app in another: the app-wraps-app middleware of ASGI.
///
/// Implemented for closures `FnOnce(SharedApp) -> SharedApp`, so a
/// middleware can be a function. Add it with `Application::layer`.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use asgi_core::{App, AppFuture, Receiver, Scope, Sender, SharedApp};
/// use asgi_framework::middleware::Middleware;
///
/// /// Strips a `/v1` prefix by moving it into `root_path`.
/// struct Versioned;
///
/// struct VersionedApp(SharedApp);
///
/// impl App for VersionedApp {
///     fn call(&self, mut scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
///         if let Scope::Http(http) = &mut scope {
///             if http.target.path.starts_with("/v1/") {
///                 http.root_path.push_str("/v1");
///             }
///         }
///         self.0.call(scope, receive, send)
///     }
/// }
///
/// impl Middleware for Versioned {
///     fn wrap(self, app: SharedApp) -> SharedApp {
///         Arc::new(VersionedApp(app))
///     }
/// }
/// ```
pub trait Middleware: Send + 'static {
    /// Returns the app that runs `app` inside this middleware.
    fn wrap(self, app: SharedApp) -> SharedApp;
}

impl<F: FnOnce(SharedApp) -> SharedApp + Send + 'static> Middleware for F {
    fn wrap(self, app: SharedApp) -> SharedApp {
        self(app)
    }
}
