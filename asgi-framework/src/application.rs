//! [`Application`]: router, middleware, exception handlers, lifespan and state, as one ASGI app.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use asgi_core::{
    App, AppFuture, BoxError, HttpScope, LifespanState, Receiver, Scope, Sender, SharedApp, State,
};
use http::StatusCode;

use crate::context::{AppContext, ContextParts};
use crate::dispatch::Dispatch;
use crate::error::HttpError;
use crate::exception::ExceptionHandlers;
use crate::lifespan::{Lifespan, hook};
use crate::middleware::Middleware;
use crate::pool::{BlockingPool, PoolStats};
use crate::response::IntoResponse;
use crate::routing::{MethodRouter, Router};

type Layer = Box<dyn FnOnce(SharedApp) -> SharedApp + Send>;

/// An ASGI application: a [`Router`] plus middleware, exception handlers,
/// lifespan hooks, typed state and a blocking pool.
///
/// It implements [`asgi_core::App`], so any server of the interface runs it.
/// Build it with chained calls; the middleware stack is assembled on the
/// first call, after which the application is immutable and shared.
///
/// # Example
///
/// ```
/// use asgi_framework::{Application, Json, Path, get};
/// use serde_json::json;
///
/// async fn item(Path(id): Path<u32>) -> Json<serde_json::Value> {
///     Json(json!({ "id": id }))
/// }
///
/// let app = Application::new()
///     .route("/", get(|| async { "Hello, world!" }))
///     .route("/items/{id}", get(item))
///     .on_startup(|_state| async { Ok::<_, std::io::Error>(()) });
/// # let _: &dyn asgi_core::App = &app;
/// ```
pub struct Application {
    router: Router,
    state: State,
    pool: BlockingPool,
    body_limit: Option<usize>,
    lifespan: Lifespan,
    exceptions: ExceptionHandlers,
    layers: Mutex<Vec<Layer>>,
    built: OnceLock<Built>,
}

struct Built {
    app: SharedApp,
    context: AppContext,
    /// The innermost app when no middleware wraps it: HTTP requests then go
    /// to it with the context passed along directly, instead of inserted into
    /// `scope.extensions.other` (a map allocation, and its free, per request).
    direct: Option<Arc<Dispatch>>,
}

impl Default for Application {
    fn default() -> Self {
        Self::new()
    }
}

impl Application {
    /// An application with no routes, the global blocking pool and no body limit.
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            state: State::new(),
            pool: BlockingPool::global(),
            body_limit: None,
            lifespan: Lifespan::default(),
            exceptions: ExceptionHandlers::default(),
            layers: Mutex::new(Vec::new()),
            built: OnceLock::new(),
        }
    }

    /// Adds a route; see [`Router::route`].
    ///
    /// # Panics
    ///
    /// On an invalid or conflicting pattern.
    #[must_use]
    pub fn route(mut self, path: &str, methods: MethodRouter) -> Self {
        self.router = self.router.route(path, methods);
        self
    }

    /// Mounts any ASGI app under `prefix`; see [`Router::mount`].
    ///
    /// # Panics
    ///
    /// On an invalid or conflicting prefix.
    #[must_use]
    pub fn mount(mut self, prefix: &str, app: impl App) -> Self {
        self.router = self.router.mount(prefix, app);
        self
    }

    /// Adds the routes of `router` under `prefix`; see [`Router::nest`].
    ///
    /// # Panics
    ///
    /// On conflicting routes.
    #[must_use]
    pub fn nest(mut self, prefix: &str, router: Router) -> Self {
        self.router = self.router.nest(prefix, router);
        self
    }

    /// Routes a host to `app`; see [`Router::host`].
    ///
    /// # Panics
    ///
    /// On an invalid pattern.
    #[must_use]
    pub fn host(mut self, pattern: &str, app: impl App) -> Self {
        self.router = self.router.host(pattern, app);
        self
    }

    /// Replaces the router (keeping nothing of the routes added before).
    #[must_use]
    pub fn router(mut self, router: Router) -> Self {
        self.router = router;
        self
    }

    /// Adds shared state of type `T`, read by the [`State`](crate::State) extractor.
    #[must_use]
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// Limits request bodies to `bytes` (413 beyond); routes may override it.
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = Some(bytes);
        self
    }

    /// Gives the application its own blocking pool of `threads` threads,
    /// instead of the process-wide one of 40.
    #[must_use]
    pub fn blocking_threads(mut self, threads: usize) -> Self {
        self.pool = BlockingPool::new(threads);
        self
    }

    /// Uses `pool` for blocking handlers and [`run_blocking`](crate::run_blocking).
    #[must_use]
    pub fn blocking_pool(mut self, pool: BlockingPool) -> Self {
        self.pool = pool;
        self
    }

    /// Every route, with the parameters its handlers read; see [`Router::routes`].
    pub fn routes(&self) -> Vec<crate::routing::RouteInfo> {
        self.router.routes()
    }

    /// The blocking pool's size, busy threads and queue depth.
    ///
    /// The pool also logs a `tracing` debug event (target
    /// `asgi_framework::pool`) each time a job has to queue.
    pub fn pool_stats(&self) -> PoolStats {
        self.pool.stats()
    }

    /// Runs `hook` on `lifespan.startup`, in order with the others.
    ///
    /// The hook gets the lifespan state: values inserted there reach every
    /// request (`State<T>`, `Request::app_state`). An error or panic answers
    /// `lifespan.startup.failed` with its message.
    #[must_use]
    pub fn on_startup<F, Fut, E>(mut self, hook_fn: F) -> Self
    where
        F: Fn(LifespanState) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.lifespan.on_startup(hook(hook_fn));
        self
    }

    /// Runs `hook` on `lifespan.shutdown`.
    #[must_use]
    pub fn on_shutdown<F, Fut, E>(mut self, hook_fn: F) -> Self
    where
        F: Fn(LifespanState) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.lifespan.on_shutdown(hook(hook_fn));
        self
    }

    /// Answers errors of type `E` (returned by handlers as
    /// [`Error`](crate::Error), or [`HttpError`] itself) with `handler`.
    #[must_use]
    pub fn exception_handler<E, F, R>(mut self, handler: F) -> Self
    where
        E: std::error::Error + 'static,
        F: Fn(&HttpScope, &E) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.exceptions.add_type::<E, F, R>(handler);
        self
    }

    /// Answers error responses with `status` (404s and 405s of the router,
    /// `HttpError`s, 500s of failing or panicking handlers) with `handler`.
    #[must_use]
    pub fn status_handler<F, R>(mut self, status: StatusCode, handler: F) -> Self
    where
        F: Fn(&HttpScope, &HttpError) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.exceptions.add_status(status, handler);
        self
    }

    /// Wraps the application in `middleware`. The last one added is the
    /// outermost: it sees requests first and responses last (as Starlette's
    /// `add_middleware`).
    #[must_use]
    pub fn layer<M: Middleware>(self, middleware: M) -> Self {
        self.layers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Box::new(move |app| middleware.wrap(app)));
        self
    }

    fn built(&self) -> &Built {
        self.built.get_or_init(|| {
            let context = AppContext::new(ContextParts {
                state: self.state.clone(),
                pool: self.pool.clone(),
                body_limit: self.body_limit,
                urls: self.router.url_table(),
            });
            let dispatch = Arc::new(Dispatch {
                router: self.router.clone(),
                exceptions: self.exceptions.clone(),
                lifespan: Some(self.lifespan.clone()),
                pool: self.pool.clone(),
            });
            let layers =
                std::mem::take(&mut *self.layers.lock().unwrap_or_else(PoisonError::into_inner));
            let direct = layers.is_empty().then(|| dispatch.clone());
            let mut app: SharedApp = dispatch;
            for layer in layers {
                app = layer(app);
            }
            Built {
                app,
                context,
                direct,
            }
        })
    }
}

impl App for Application {
    fn call(&self, scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
        let built = self.built();
        let scope = match (scope, &built.direct) {
            (Scope::Http(scope), Some(dispatch)) => {
                return dispatch.http(scope, receive, send, Some(&built.context));
            }
            (Scope::Http(mut scope), None) => {
                scope.extensions.other.insert(built.context.clone());
                Scope::Http(scope)
            }
            (Scope::WebSocket(mut scope), _) => {
                scope.extensions.other.insert(built.context.clone());
                Scope::WebSocket(scope)
            }
            (lifespan @ Scope::Lifespan(_), _) => lifespan,
        };
        built.app.call(scope, receive, send)
    }
}

impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Application")
            .field("router", &self.router)
            .field("state", &self.state)
            .field("pool", &self.pool)
            .field("body_limit", &self.body_limit)
            .field("lifespan", &self.lifespan)
            .field("exceptions", &self.exceptions)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Built {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Built").finish_non_exhaustive()
    }
}
