//! The HTTP [`Request`]: scope, path parameters, body and state.

mod body;
mod params;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use asgi_core::{HttpScope, Receiver, State};
use bytes::Bytes;
use http::{HeaderValue, Method};
use serde::de::DeserializeOwned;

use crate::context::{AppContext, UrlError};
use crate::extract::{Cookies, ValidationError, query_pairs};
use crate::pool::BlockingPool;

pub(crate) use self::body::BodyState;
pub use self::body::{BodyError, BodyStream};
pub use self::params::PathParams;
pub(crate) use self::params::{ParamNames, Params};

/// Path parameters of a WebSocket connection, owned copies in pattern order.
pub(crate) type OwnedParams = Arc<[(String, String)]>;

/// One HTTP request: what the scope says, what the router matched, and the body.
///
/// Handlers take it whole (it is an extractor) or take typed parts through
/// extractors. The body is read on demand: [`body`](Self::body) buffers it
/// (and keeps it, so it can be read again), [`stream`](Self::stream) yields
/// it chunk by chunk without buffering. Both enforce the body size limit
/// (per route, else per application) and give 413 beyond it.
///
/// [`extensions`](Self::extensions) are the scope's typed extensions
/// (`scope.extensions.other`): middleware that sees only the ASGI scope
/// (sessions, request ids) puts data there and handlers read it here.
pub struct Request {
    scope: HttpScope,
    receive: Receiver,
    body: BodyState,
    /// Places in `scope.target.path`: detached before the path can change
    /// (`scope_mut`).
    path_params: Params,
    context: AppContext,
    /// Whether `scope.extensions.other` holds `context`. The router hands a
    /// request its context directly; the context goes into the scope only
    /// when the scope leaves the request (`into_parts`, `scope_mut`,
    /// `extensions_mut`), which saves a map allocation per request.
    context_in_scope: bool,
    body_limit: Option<usize>,
    disconnected: bool,
}

impl Request {
    /// A request for `scope`, reading its body from `receive`.
    ///
    /// Inside an application, the app's state, blocking pool, body limit and
    /// route names are found through the scope.
    pub fn new(scope: HttpScope, receive: Receiver) -> Self {
        let context = scope
            .extensions
            .other
            .get::<AppContext>()
            .cloned()
            .unwrap_or_default();
        let body_limit = context.body_limit;
        Self {
            scope,
            receive,
            body: BodyState::Unread,
            path_params: Params::default(),
            context,
            context_in_scope: true,
            body_limit,
            disconnected: false,
        }
    }

    /// A routed request whose context comes from the application directly,
    /// not through `scope.extensions.other`.
    pub(crate) fn with_context(
        scope: HttpScope,
        receive: Receiver,
        context: AppContext,
        path_params: Params,
    ) -> Self {
        let body_limit = context.body_limit;
        Self {
            scope,
            receive,
            body: BodyState::Unread,
            path_params,
            context,
            context_in_scope: false,
            body_limit,
            disconnected: false,
        }
    }

    /// Puts the application context into the scope's extensions, once, so
    /// that a request or app made from this scope finds it (as middleware's do).
    fn expose_context(&mut self) {
        if !self.context_in_scope {
            self.context_in_scope = true;
            self.scope.extensions.other.insert(self.context.clone());
        }
    }

    /// The HTTP scope.
    pub fn scope(&self) -> &HttpScope {
        &self.scope
    }

    /// The HTTP scope, to change it (before passing the request on).
    pub fn scope_mut(&mut self) -> &mut HttpScope {
        self.expose_context();
        // The caller may change the path the parameters point into.
        self.path_params.detach(&self.scope.target.path);
        &mut self.scope
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.scope.method
    }

    /// The full percent-decoded path, `root_path` included.
    pub fn path(&self) -> &str {
        &self.scope.target.path
    }

    /// The path the router matched: [`path`](Self::path) without `root_path`.
    pub fn route_path(&self) -> &str {
        route_path(&self.scope.target.path, &self.scope.root_path)
    }

    /// Where the application is mounted (`root_path`), `""` at the top.
    pub fn root_path(&self) -> &str {
        &self.scope.root_path
    }

    /// The raw query string, still percent-encoded.
    pub fn query_string(&self) -> &[u8] {
        &self.scope.target.query_string
    }

    /// The decoded query pairs, in order, repeated keys kept.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        query_pairs(&self.scope.target.query_string)
    }

    /// The first value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// The full URL: scheme, host (from the `Host` header, else the server
    /// address), path and query.
    pub fn url(&self) -> String {
        let mut url = self.base_url();
        url.push_str(self.route_path().trim_start_matches('/'));
        if !self.query_string().is_empty() {
            url.push('?');
            url.push_str(&String::from_utf8_lossy(self.query_string()));
        }
        url
    }

    /// Scheme, host and `root_path`, ending in `/` (Starlette's `base_url`).
    pub fn base_url(&self) -> String {
        let host = match self.header("host") {
            Some(host) => host.to_owned(),
            None => self
                .scope
                .server
                .as_ref()
                .map_or_else(|| "localhost".to_owned(), ToString::to_string),
        };
        format!(
            "{}://{}{}/",
            self.scope.scheme,
            host,
            self.scope.root_path.trim_end_matches('/')
        )
    }

    /// The header fields, in order.
    pub fn headers(&self) -> &asgi_core::Headers {
        &self.scope.headers
    }

    /// The first value of header `name` as text; `None` if absent or not visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.scope.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first value of header `name` as raw bytes.
    pub fn header_value(&self, name: &str) -> Option<&HeaderValue> {
        self.scope.headers.get(name)
    }

    /// The `Content-Type` without parameters, lowercase.
    pub fn content_type(&self) -> Option<String> {
        let value = self.header("content-type")?;
        let essence = value.split(';').next().unwrap_or(value).trim();
        Some(essence.to_ascii_lowercase())
    }

    /// The request cookies.
    pub fn cookies(&self) -> Cookies {
        Cookies::from_headers(&self.scope.headers)
    }

    /// The value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies().get(name).map(str::to_owned)
    }

    /// The client address, when the server knows it.
    pub fn client(&self) -> Option<SocketAddr> {
        self.scope.client
    }

    /// The matched path parameters: `(name, value)` pairs in pattern
    /// order, values percent-decoded. Borrowed from the request and the
    /// route; nothing is copied.
    pub fn path_params(&self) -> PathParams<'_> {
        self.path_params.iter(&self.scope.target.path)
    }

    /// The value of path parameter `name`.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params().get(name)
    }

    /// The request with the parameters the router matched.
    pub(crate) fn with_path_params(mut self, params: Params) -> Self {
        self.path_params = params;
        self
    }

    /// Per-request state: starts as the lifespan state (`scope["state"]`),
    /// and writes stay in this request (Starlette's `request.state`).
    pub fn state(&self) -> &State {
        &self.scope.state
    }

    /// Per-request state, to add values.
    pub fn state_mut(&mut self) -> &mut State {
        &mut self.scope.state
    }

    /// Application state of type `T`: set with `Application::state`, else
    /// put in the lifespan state during startup.
    pub fn app_state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.context
            .state
            .get_arc::<T>()
            .or_else(|| self.scope.state.get_arc::<T>())
    }

    /// Typed data attached by middleware (the scope's `extensions.other`).
    pub fn extensions(&self) -> &http::Extensions {
        &self.scope.extensions.other
    }

    /// The extensions, to attach data.
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        self.expose_context();
        &mut self.scope.extensions.other
    }

    /// The blocking pool of the application serving this request.
    pub fn blocking_pool(&self) -> &BlockingPool {
        &self.context.pool
    }

    /// The body size limit in force, in bytes.
    pub fn body_limit(&self) -> Option<usize> {
        self.body_limit
    }

    /// Sets the body size limit for this request (routes do this).
    pub fn set_body_limit(&mut self, limit: Option<usize>) {
        self.body_limit = limit;
    }

    /// The URL path of the route called `name`, with `params` filled in and
    /// `root_path` in front (Starlette's `url_path_for`).
    ///
    /// # Errors
    ///
    /// [`UrlError`] if no route has that name or a parameter is missing or invalid.
    pub fn url_path_for(&self, name: &str, params: &[(&str, &str)]) -> Result<String, UrlError> {
        let path = self.context.urls.path_for(name, params)?;
        Ok(format!(
            "{}{}",
            self.scope.root_path.trim_end_matches('/'),
            path
        ))
    }

    /// The absolute URL of the route called `name` (Starlette's `url_for`).
    ///
    /// # Errors
    ///
    /// As [`url_path_for`](Self::url_path_for).
    pub fn url_for(&self, name: &str, params: &[(&str, &str)]) -> Result<String, UrlError> {
        let path = self.context.urls.path_for(name, params)?;
        Ok(format!("{}{}", self.base_url().trim_end_matches('/'), path))
    }

    /// Reads the whole body, or returns it again if already read.
    ///
    /// # Errors
    ///
    /// [`BodyError::TooLarge`] beyond the limit (413),
    /// [`BodyError::Disconnected`] if the client left, and
    /// [`BodyError::Consumed`] after [`stream`](Self::stream) took it.
    pub async fn body(&mut self) -> Result<Bytes, BodyError> {
        body::read_all(self).await
    }

    /// Whether the client has disconnected (Starlette's `is_disconnected`).
    ///
    /// Never waits: it reads the body first if nobody has (keeping it for
    /// later reads), then looks at the next message only if one is already
    /// there. Long-running handlers and streams poll it to stop early.
    pub async fn is_disconnected(&mut self) -> bool {
        body::is_disconnected(self).await
    }

    /// The body as UTF-8 text.
    ///
    /// # Errors
    ///
    /// As [`body`](Self::body), and [`BodyError::InvalidUtf8`].
    pub async fn text(&mut self) -> Result<String, BodyError> {
        let bytes = self.body().await?;
        String::from_utf8(bytes.into()).map_err(|_| BodyError::InvalidUtf8)
    }

    /// The body as a stream of chunks, as they arrive; nothing is buffered.
    ///
    /// After this, [`body`](Self::body) gives [`BodyError::Consumed`] (unless
    /// the body had already been buffered, which the stream then replays).
    pub fn stream(&mut self) -> BodyStream {
        body::stream(self)
    }

    /// The body parsed as JSON into `T`, with FastAPI-shaped errors.
    ///
    /// Unlike the [`Json`](crate::Json) extractor, the content type is not checked.
    ///
    /// # Errors
    ///
    /// A body error, or a 422 [`ValidationError`].
    pub async fn json<T: DeserializeOwned>(&mut self) -> Result<T, crate::extract::Rejection> {
        let bytes = self.body().await?;
        Ok(crate::extract::json::decode(&bytes)?)
    }

    /// The body parsed as an urlencoded form into `T`.
    ///
    /// # Errors
    ///
    /// A body error, or a 422 [`ValidationError`].
    pub async fn form<T: DeserializeOwned>(&mut self) -> Result<T, crate::extract::Rejection> {
        let bytes = self.body().await?;
        let pairs = query_pairs(&bytes);
        Ok(crate::extract::params::from_pairs::<T, _>(&pairs, "body")
            .map_err(ValidationError::from)?)
    }

    /// Splits the request into its scope and a receiver for the next app.
    ///
    /// If the body was already read, the receiver replays it before handing
    /// over to the server's receiver, so the next app can read it again and
    /// still sees `http.disconnect` when the client leaves.
    pub fn into_parts(mut self) -> (HttpScope, Receiver) {
        self.expose_context();
        let receive = body::replay(self.body, self.receive);
        (self.scope, receive)
    }

    pub(crate) fn receiver(&self) -> &Receiver {
        &self.receive
    }

    pub(crate) fn body_state_mut(&mut self) -> &mut BodyState {
        &mut self.body
    }
}

/// `path` without its `root_path` prefix (Starlette's `get_route_path`).
pub(crate) fn route_path<'a>(path: &'a str, root_path: &str) -> &'a str {
    let root = root_path.trim_end_matches('/');
    // The common case, an app served at the top. Not only a shortcut: an
    // empty `String`'s pointer is dangling, and glibc's AVX-512 `memcmp`
    // (what `strip_prefix` calls) does a masked load from it that the CPU
    // handles with a fault-suppression assist, about 100 ns per request
    // under `perf` (1.5% of `GET /json`'s CPU).
    if root.is_empty() {
        return path;
    }
    match path.strip_prefix(root) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.scope.method)
            .field("path", &self.scope.target.path)
            .field("path_params", &self.path_params())
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_path_strips_root_path() {
        let cases = [
            ("/api/items", "/api", "/items"),
            ("/api", "/api", "/"),
            ("/apiary", "/api", "/apiary"),
            ("/items", "", "/items"),
            ("/api/x", "/api/", "/x"),
        ];
        for (path, root, expected) in cases {
            assert_eq!(route_path(path, root), expected, "{path} {root}");
        }
    }
}
