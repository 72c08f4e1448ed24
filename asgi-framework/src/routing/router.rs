//! [`Router`]: paths to handlers on a `matchit` radix tree, mounts and hosts.

use std::fmt;
use std::sync::Arc;

use asgi_core::{App, HttpScope, SharedApp, WebSocketScope};
use http::StatusCode;

use super::host::HostPattern;
use super::method_router::MethodRouter;
use super::path::PathPattern;
use crate::context::UrlTable;
use crate::error::HttpError;
use crate::extract::ParamInfo;
use crate::handler::HandlerFuture;
use crate::request::{OwnedParams, ParamNames, Params, route_path};
use crate::response::{IntoResponse, Redirect};

/// The name of the catch-all parameter a mount matches its rest with.
const MOUNT_REST: &str = "__asgi_mount_rest";

#[derive(Clone)]
enum Endpoint {
    Methods(MethodRouter),
    Mount(SharedApp),
}

#[derive(Clone)]
struct Route {
    pattern: PathPattern,
    endpoint: Endpoint,
    /// The parameter names in pattern order, shared with every request the
    /// route matches; `None` without parameters.
    names: Option<ParamNames>,
    /// Whether a converter (`int`, `float`, `uuid`) restricts values
    /// beyond what the tree matched.
    checked: bool,
}

/// Maps paths to handlers, mounted apps and WebSocket handlers.
///
/// Patterns are `/items/{id}` (one segment), `/items/{id:int}` (with a
/// [`Converter`](super::Converter)) and `/files/{rest:path}` (the rest of
/// the path). Lookup is a `matchit` radix tree: static segments win over
/// parameters, and two patterns that differ only in a parameter's name or
/// converter conflict (registration panics). What does not match gives 404;
/// a known path with a wrong method 405 with `Allow`; a path that matches
/// only with (or without) a trailing slash a 307 to that path (Starlette's
/// `redirect_slashes`, on by default).
///
/// # Example
///
/// ```
/// use asgi_framework::{Path, Router, get};
///
/// async fn list() -> &'static str { "items" }
/// async fn create() -> &'static str { "created" }
/// async fn item(Path(id): Path<u32>) -> String { format!("item {id}") }
///
/// let api = Router::new()
///     .route("/items", get(list).post(create))
///     .route("/items/{id}", get(item).name("item"));
/// let router = Router::new().nest("/api", api);
/// ```
#[derive(Clone)]
pub struct Router {
    routes: Vec<Route>,
    matcher: matchit::Router<usize>,
    hosts: Vec<(HostPattern, SharedApp)>,
    redirect_slashes: bool,
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

/// What routing decided for an HTTP request, made from a borrowed scope:
/// the caller moves the scope once, to where it goes.
pub(crate) enum Routed<'a> {
    /// The route's handlers, with the matched parameters: one of them (or
    /// a 405) answers the request.
    Handler(&'a MethodRouter, Params),
    /// A handler (or a 404/405/redirect) produces the response.
    Response(HandlerFuture),
    /// A mounted (or host) app takes over the request; the scope's
    /// `root_path` becomes the given one, if any.
    App(&'a SharedApp, Option<String>),
}

impl Router {
    /// An empty router (everything 404).
    pub fn new() -> Self {
        Self {
            routes: Vec::new(),
            matcher: matchit::Router::new(),
            hosts: Vec::new(),
            redirect_slashes: true,
        }
    }

    /// Routes `path` to `methods`; a second call with the same pattern adds to it.
    ///
    /// # Panics
    ///
    /// If the pattern is invalid or conflicts with another route: a
    /// programming error, found at startup.
    #[must_use]
    pub fn route(mut self, path: &str, methods: MethodRouter) -> Self {
        let pattern = PathPattern::parse(path).unwrap_or_else(|error| panic!("{error}"));
        self.add(pattern, Endpoint::Methods(methods));
        self
    }

    /// Mounts any ASGI app at `prefix`: it gets every request under it,
    /// with `root_path` extended by the prefix and `path` unchanged (ASGI:
    /// `path` includes `root_path`).
    ///
    /// # Panics
    ///
    /// If the prefix is invalid or conflicts with another route.
    #[must_use]
    pub fn mount(mut self, prefix: &str, app: impl App) -> Self {
        let app: SharedApp = Arc::new(app);
        let prefix = prefix.trim_end_matches('/');
        let exact = PathPattern::parse(if prefix.is_empty() { "/" } else { prefix })
            .unwrap_or_else(|error| panic!("{error}"));
        let rest = PathPattern::parse(&format!("{prefix}/{{{MOUNT_REST}:path}}"))
            .unwrap_or_else(|error| panic!("{error}"));
        self.add(exact, Endpoint::Mount(app.clone()));
        self.add(rest, Endpoint::Mount(app));
        self
    }

    /// Adds every route of `router` under `prefix`, names included.
    ///
    /// Unlike [`mount`](Self::mount), the routes join this router's tree,
    /// so lookup stays one radix search and `url_for` knows their names.
    ///
    /// # Panics
    ///
    /// On conflicting routes.
    #[must_use]
    pub fn nest(mut self, prefix: &str, router: Router) -> Self {
        for route in router.routes {
            let pattern = route
                .pattern
                .with_prefix(prefix)
                .unwrap_or_else(|error| panic!("{error}"));
            self.add(pattern, route.endpoint);
        }
        self.hosts.extend(router.hosts);
        self
    }

    /// Routes requests whose `Host` (port ignored) matches `pattern` to `app`,
    /// before any path route. `{name}` matches one label: `{tenant}.example.com`.
    ///
    /// # Panics
    ///
    /// If the pattern is invalid.
    #[must_use]
    pub fn host(mut self, pattern: &str, app: impl App) -> Self {
        let host = HostPattern::parse(pattern).unwrap_or_else(|error| panic!("{error}"));
        self.hosts.push((host, Arc::new(app)));
        self
    }

    /// Turns trailing-slash redirects on or off (on by default).
    #[must_use]
    pub fn redirect_slashes(mut self, enabled: bool) -> Self {
        self.redirect_slashes = enabled;
        self
    }

    fn add(&mut self, pattern: PathPattern, endpoint: Endpoint) {
        if let Some(existing) = self.routes.iter_mut().find(|r| r.pattern == pattern) {
            match (&mut existing.endpoint, endpoint) {
                (Endpoint::Methods(methods), Endpoint::Methods(more)) => {
                    methods.merge(more);
                    return;
                }
                _ => panic!("route {:?} is already taken", pattern.as_str()),
            }
        }
        let index = self.routes.len();
        if let Err(error) = self.matcher.insert(pattern.to_matchit(), index) {
            panic!("cannot add route {:?}: {error}", pattern.as_str());
        }
        let names: Vec<Box<str>> = pattern.param_names().map(Box::from).collect();
        self.routes.push(Route {
            names: (!names.is_empty()).then(|| names.into()),
            checked: pattern.is_checked(),
            pattern,
            endpoint,
        });
    }

    /// Every route, for documentation (an OpenAPI layer) and debugging.
    pub fn routes(&self) -> Vec<RouteInfo> {
        self.routes
            .iter()
            .filter(|route| {
                // A mount is registered twice (prefix, prefix + rest); list it once.
                !matches!(route.endpoint, Endpoint::Mount(_))
                    || !route.pattern.as_str().contains(MOUNT_REST)
            })
            .map(|route| match &route.endpoint {
                Endpoint::Methods(methods) => RouteInfo {
                    path: route.pattern.as_str().to_owned(),
                    name: methods.name.clone(),
                    methods: methods.describe(),
                    websocket: methods.ws.is_some(),
                    mount: false,
                },
                Endpoint::Mount(_) => RouteInfo {
                    path: route.pattern.as_str().to_owned(),
                    name: None,
                    methods: Vec::new(),
                    websocket: false,
                    mount: true,
                },
            })
            .collect()
    }

    /// The names of routes and their patterns, for reverse URLs.
    pub(crate) fn url_table(&self) -> UrlTable {
        let mut table = UrlTable::default();
        for route in &self.routes {
            if let Endpoint::Methods(MethodRouter {
                name: Some(name), ..
            }) = &route.endpoint
            {
                table.insert(name.clone(), route.pattern.clone());
            }
        }
        table
    }

    /// The route for `path` and its parameters, whose values are slices of
    /// `path` (nothing is copied), if every value fits its converter.
    fn lookup<'r, 'p>(&'r self, path: &'p str) -> Option<(&'r Route, matchit::Params<'r, 'p>)> {
        let found = self.matcher.at(path).ok()?;
        let route = self.routes.get(*found.value)?;
        let fits = !route.checked
            || route
                .pattern
                .accepts(found.params.iter().map(|(_, value)| value));
        fits.then_some((route, found.params))
    }

    fn host_app(&self, headers: &asgi_core::Headers) -> Option<&SharedApp> {
        if self.hosts.is_empty() {
            return None;
        }
        let host = headers.get("host").and_then(|v| v.to_str().ok())?;
        self.hosts
            .iter()
            .find(|(pattern, _)| pattern.matches(host))
            .map(|(_, app)| app)
    }

    /// Routes one HTTP request.
    ///
    /// The parameters keep places in the path (see [`Params`]), so nothing
    /// here copies the scope or its path: the caller moves the scope once,
    /// into the request or to the mounted app.
    pub(crate) fn route_http(&self, scope: &HttpScope) -> Routed<'_> {
        if let Some(app) = self.host_app(&scope.headers) {
            return Routed::App(app, None);
        }
        let path = route_path(&scope.target.path, &scope.root_path);
        match self.lookup(path) {
            Some((route, values)) => match &route.endpoint {
                Endpoint::Methods(methods) if methods.has_http() => {
                    let values = values.iter().map(|(_, value)| value);
                    let params = Params::new(route.names.as_ref(), &scope.target.path, values);
                    Routed::Handler(methods, params)
                }
                Endpoint::Methods(_) => not_found(),
                Endpoint::Mount(app) => {
                    let rest = values.get(MOUNT_REST).unwrap_or_default();
                    Routed::App(app, Some(mount_root(&scope.root_path, path, rest)))
                }
            },
            None => match self.slash_redirect(scope, path) {
                Some(redirect) => {
                    Routed::Response(Box::pin(async move { redirect.into_response() }))
                }
                None => not_found(),
            },
        }
    }

    /// A 307 to the same path with the trailing slash toggled, if that matches.
    fn slash_redirect(&self, scope: &HttpScope, path: &str) -> Option<Redirect> {
        if !self.redirect_slashes || path == "/" {
            return None;
        }
        let toggled = match path.strip_suffix('/') {
            Some(stripped) => stripped.to_owned(),
            None => format!("{path}/"),
        };
        let (route, _) = self.lookup(&toggled)?;
        if let Endpoint::Methods(methods) = &route.endpoint
            && !methods.has_http()
        {
            return None;
        }
        let mut location = format!("{}{}", scope.root_path.trim_end_matches('/'), toggled);
        if !scope.target.query_string.is_empty() {
            location.push('?');
            location.push_str(&String::from_utf8_lossy(&scope.target.query_string));
        }
        Some(Redirect::to(location))
    }

    /// Routes one WebSocket connection: to its handler, to a mounted app, or nowhere.
    pub(crate) fn route_ws(&self, scope: WebSocketScope) -> RoutedWs {
        if let Some(app) = self.host_app(&scope.headers) {
            return RoutedWs::App(app.clone(), scope);
        }
        let path = route_path(&scope.target.path, &scope.root_path).to_owned();
        match self.lookup(&path) {
            Some((route, values)) => match &route.endpoint {
                Endpoint::Methods(MethodRouter {
                    ws: Some(handler), ..
                }) => {
                    let params = values
                        .iter()
                        .map(|(name, value)| (name.to_owned(), value.to_owned()))
                        .collect();
                    RoutedWs::Handler(handler.clone(), scope, params)
                }
                Endpoint::Methods(_) => RoutedWs::NotFound,
                Endpoint::Mount(app) => {
                    let mut scope = scope;
                    let rest = values.get(MOUNT_REST).unwrap_or_default();
                    scope.root_path = mount_root(&scope.root_path, &path, rest);
                    RoutedWs::App(app.clone(), scope)
                }
            },
            None => RoutedWs::NotFound,
        }
    }
}

/// One route as [`Router::routes`] lists it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RouteInfo {
    /// The pattern, as written (`/items/{id}`), prefixes of `nest` included.
    pub path: String,
    /// The route's name, if it has one.
    pub name: Option<String>,
    /// Each method and the parameters its handler reads.
    pub methods: Vec<(http::Method, Vec<ParamInfo>)>,
    /// Whether the path also takes WebSocket connections.
    pub websocket: bool,
    /// Whether this is a mounted app (whose own routes are not listed).
    pub mount: bool,
}

/// What routing decided for a WebSocket connection.
pub(crate) enum RoutedWs {
    Handler(
        crate::websocket::BoxedWsHandler,
        WebSocketScope,
        OwnedParams,
    ),
    App(SharedApp, WebSocketScope),
    NotFound,
}

fn not_found() -> Routed<'static> {
    Routed::Response(Box::pin(async {
        HttpError::new(StatusCode::NOT_FOUND).into_response()
    }))
}

/// The `root_path` for a mounted app: the old one plus the matched prefix,
/// `rest` being what the mount's catch-all matched (`""` for the prefix itself).
fn mount_root(root_path: &str, path: &str, rest: &str) -> String {
    // The catch-all matched `rest` after `prefix/`; the exact route matched the prefix itself.
    let matched = if rest.is_empty() && !path.ends_with('/') {
        path
    } else {
        &path[..path.len() - rest.len() - 1]
    };
    format!("{}{}", root_path.trim_end_matches('/'), matched)
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let patterns: Vec<&str> = self.routes.iter().map(|r| r.pattern.as_str()).collect();
        f.debug_struct("Router")
            .field("routes", &patterns)
            .field("hosts", &self.hosts.len())
            .field("redirect_slashes", &self.redirect_slashes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_root_adds_the_matched_prefix() {
        assert_eq!(mount_root("", "/sub/a/b", "a/b"), "/sub");
        assert_eq!(mount_root("/app", "/sub/", ""), "/app/sub");
        assert_eq!(mount_root("", "/sub", ""), "/sub");
    }
}
