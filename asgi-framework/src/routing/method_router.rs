//! [`MethodRouter`]: the handlers of one path, by method, and its WebSocket handler.

use std::fmt;

use http::{HeaderValue, Method, StatusCode};

use crate::error::HttpError;
use crate::extract::ParamInfo;
use crate::handler::{BoxedHandler, Handler};
use crate::response::{IntoResponse, Response};
use crate::websocket::{BoxedWsHandler, WsHandler};

/// The handlers of one route: one per method, optionally one for any
/// method, and optionally a WebSocket handler.
///
/// Made with [`get`], [`post`], ... [`any`] or [`ws`], and chained:
/// `get(list).post(create)`. `HEAD` is answered by the `GET` handler with
/// the body dropped, unless a `HEAD` handler is set. A method with no
/// handler gets 405 with an `Allow` header.
#[derive(Default, Clone)]
pub struct MethodRouter {
    handlers: Vec<(Method, BoxedHandler)>,
    any: Option<BoxedHandler>,
    pub(crate) ws: Option<BoxedWsHandler>,
    pub(crate) name: Option<String>,
    body_limit: Option<usize>,
}

macro_rules! method_fns {
    ($($(#[$doc:meta])* $fn_name:ident => $method:ident;)*) => {
        $(
            $(#[$doc])*
            pub fn $fn_name<H: Handler<T>, T: 'static>(handler: H) -> MethodRouter {
                MethodRouter::new().on(Method::$method, handler)
            }
        )*

        impl MethodRouter {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $fn_name<H: Handler<T>, T: 'static>(self, handler: H) -> Self {
                    self.on(Method::$method, handler)
                }
            )*
        }
    };
}

method_fns! {
    /// Routes `GET` (and so `HEAD`) to `handler`.
    get => GET;
    /// Routes `POST` to `handler`.
    post => POST;
    /// Routes `PUT` to `handler`.
    put => PUT;
    /// Routes `DELETE` to `handler`.
    delete => DELETE;
    /// Routes `PATCH` to `handler`.
    patch => PATCH;
    /// Routes `OPTIONS` to `handler`.
    options => OPTIONS;
    /// Routes `HEAD` to `handler` (instead of the `GET` handler without body).
    head => HEAD;
}

/// Routes every method to `handler`.
pub fn any<H: Handler<T>, T: 'static>(handler: H) -> MethodRouter {
    MethodRouter::new().any(handler)
}

/// Routes WebSocket connections to `handler`; see [`WebSocket`](crate::WebSocket).
pub fn ws<H: WsHandler<T>, T: 'static>(handler: H) -> MethodRouter {
    MethodRouter::new().ws(handler)
}

impl MethodRouter {
    /// A route with no handlers (every method 405).
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `method` to `handler`, replacing any earlier one.
    #[must_use]
    pub fn on<H: Handler<T>, T: 'static>(mut self, method: Method, handler: H) -> Self {
        self.handlers.retain(|(m, _)| *m != method);
        self.handlers.push((method, BoxedHandler::new(handler)));
        self
    }

    /// Routes every method without its own handler to `handler`.
    #[must_use]
    pub fn any<H: Handler<T>, T: 'static>(mut self, handler: H) -> Self {
        self.any = Some(BoxedHandler::new(handler));
        self
    }

    /// Routes WebSocket connections on this path to `handler`.
    #[must_use]
    pub fn ws<H: WsHandler<T>, T: 'static>(mut self, handler: H) -> Self {
        self.ws = Some(BoxedWsHandler::new(handler));
        self
    }

    /// Names the route, for [`Request::url_for`](crate::Request::url_for).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Limits request bodies on this route to `bytes` (413 beyond),
    /// overriding the application's limit.
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = Some(bytes);
        self
    }

    /// Adds the handlers of `other` (its handlers win on conflicts).
    pub(crate) fn merge(&mut self, other: MethodRouter) {
        for (method, handler) in other.handlers {
            self.handlers.retain(|(m, _)| *m != method);
            self.handlers.push((method, handler));
        }
        self.any = other.any.or(self.any.take());
        self.ws = other.ws.or(self.ws.take());
        self.name = other.name.or(self.name.take());
        self.body_limit = other.body_limit.or(self.body_limit);
    }

    /// Each method with the parameters its handler's extractors read
    /// (`HEAD` is implied by `GET` and not listed).
    pub fn describe(&self) -> Vec<(Method, Vec<ParamInfo>)> {
        self.handlers
            .iter()
            .map(|(method, handler)| (method.clone(), handler.describe()))
            .collect()
    }

    /// Whether the route serves plain HTTP at all.
    pub(crate) fn has_http(&self) -> bool {
        !self.handlers.is_empty() || self.any.is_some()
    }

    fn find(&self, method: &Method) -> Option<&BoxedHandler> {
        self.handlers
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, h)| h)
    }

    /// The `Allow` value: the methods in order, `HEAD` after `GET`.
    fn allow(&self) -> String {
        let mut methods: Vec<&str> = Vec::new();
        for (method, _) in &self.handlers {
            if !methods.contains(&method.as_str()) {
                methods.push(method.as_str());
            }
            if method == Method::GET && !methods.contains(&"HEAD") {
                methods.push("HEAD");
            }
        }
        methods.join(", ")
    }

    /// The handler for `method` (`GET`'s for `HEAD`), if any.
    ///
    /// Chosen from the method alone, before the request is made: the
    /// request then goes straight to the handler, moved once.
    pub(crate) fn handler(&self, method: &Method) -> Option<&BoxedHandler> {
        self.find(method)
            .or_else(|| {
                (*method == Method::HEAD)
                    .then(|| self.find(&Method::GET))
                    .flatten()
            })
            .or(self.any.as_ref())
    }

    /// The route's own body limit, overriding the application's.
    pub(crate) fn route_body_limit(&self) -> Option<usize> {
        self.body_limit
    }

    /// The 405 for a method without handler.
    pub(crate) fn method_not_allowed(&self) -> Response {
        let allow =
            HeaderValue::from_str(&self.allow()).unwrap_or_else(|_| HeaderValue::from_static(""));
        HttpError::new(StatusCode::METHOD_NOT_ALLOWED)
            .with_header(http::header::ALLOW, allow)
            .into_response()
    }
}

impl fmt::Debug for MethodRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let methods: Vec<&str> = self.handlers.iter().map(|(m, _)| m.as_str()).collect();
        f.debug_struct("MethodRouter")
            .field("methods", &methods)
            .field("any", &self.any.is_some())
            .field("ws", &self.ws.is_some())
            .field("name", &self.name)
            .finish()
    }
}
