//! The application trait and a way to make an app from a closure.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::channel::{Receiver, Sender};
use crate::error::BoxError;
use crate::scope::Scope;

/// The future an [`App`] returns for one scope.
pub type AppFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'static>>;

/// An ASGI application: called once per scope with `receive` and `send`.
///
/// The trait is object-safe, so apps compose: a middleware is an `App` that
/// holds another (`Arc<dyn App>`) and calls it with a changed scope or with
/// wrapped channels. The returned future must be `'static`, so a server may
/// spawn it; clone what it needs out of `self`.
///
/// Return `Err` rather than panicking: a server answers an error before the
/// response started with a 500. Return an error for a scope type the app does
/// not handle, so that a server with `--lifespan auto` carries on without
/// lifespan events.
///
/// # Example
///
/// ```
/// use asgi_core::{App, AppFuture, HttpSend, Headers, Receiver, Scope, Sender};
/// use http::StatusCode;
///
/// struct Hello;
///
/// impl App for Hello {
///     fn call(&self, scope: Scope, _receive: Receiver, send: Sender) -> AppFuture {
///         Box::pin(async move {
///             let Scope::Http(_) = scope else {
///                 return Err("only http is supported".into());
///             };
///             send.send(HttpSend::start(StatusCode::OK, Headers::new())).await?;
///             send.send(HttpSend::body("Hello, world!")).await?;
///             Ok(())
///         })
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    note = "implement `App` by hand, or wrap an async closure with `asgi_core::app_fn`"
)]
pub trait App: Send + Sync + 'static {
    /// Runs the app for one scope.
    fn call(&self, scope: Scope, receive: Receiver, send: Sender) -> AppFuture;
}

/// A type-erased, shareable app, as servers and routers hold them.
pub type SharedApp = Arc<dyn App>;

impl<A: App + ?Sized> App for Arc<A> {
    fn call(&self, scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
        (**self).call(scope, receive, send)
    }
}

impl<A: App + ?Sized> App for Box<A> {
    fn call(&self, scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
        (**self).call(scope, receive, send)
    }
}

/// Makes an [`App`] from an async closure.
///
/// # Example
///
/// ```
/// use asgi_core::{app_fn, HttpSend, Headers, Scope};
/// use http::StatusCode;
///
/// let app = app_fn(|scope, _receive, send| async move {
///     if let Scope::Http(_) = scope {
///         send.send(HttpSend::start(StatusCode::OK, Headers::new())).await?;
///         send.send(HttpSend::body("Hello, world!")).await?;
///     }
///     Ok(())
/// });
/// # let _: &dyn asgi_core::App = &app;
/// ```
pub fn app_fn<F, Fut>(f: F) -> AppFn<F>
where
    F: Fn(Scope, Receiver, Sender) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    AppFn { f }
}

/// An [`App`] made from a closure by [`app_fn`].
#[derive(Clone, Copy)]
pub struct AppFn<F> {
    f: F,
}

impl<F, Fut> App for AppFn<F>
where
    F: Fn(Scope, Receiver, Sender) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    fn call(&self, scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
        // Allocate first, then build the future into the allocation:
        // `Box::pin(f(..))` builds it on the stack and copies it over.
        let slot = Box::<Fut>::new_uninit();
        let future: Box<Fut> = Box::write(slot, (self.f)(scope, receive, send));
        Box::into_pin(future)
    }
}

impl<F> fmt::Debug for AppFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppFn").finish_non_exhaustive()
    }
}
