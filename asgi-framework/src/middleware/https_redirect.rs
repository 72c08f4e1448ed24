//! Redirecting plain connections to TLS: Starlette's `HTTPSRedirectMiddleware`.

use std::fmt;
use std::sync::Arc;

use asgi_core::{App, AppFuture, Receiver, Scheme, Scope, Sender, ServerAddr, SharedApp};

use super::Middleware;
use super::reply::send_response;
use crate::response::{IntoResponse, Redirect};

/// Redirects `http` requests to `https` and `ws` connections to `wss`.
///
/// The redirect is a 307 (the method and body are kept) to the same host,
/// path and query; an explicit port 80 or 443 is dropped, any other port is
/// kept. Requests that are already secure pass through.
///
/// # Example
///
/// ```
/// use asgi_framework::middleware::HttpsRedirect;
///
/// let redirect = HttpsRedirect::new();
///
/// let app = asgi_framework::Application::new()
///     .route("/", asgi_framework::get(|| async { "hi" }))
///     .layer(redirect);
/// # let _: &dyn asgi_core::App = &app;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpsRedirect {
    _private: (),
}

impl HttpsRedirect {
    /// The middleware; it has no options.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Middleware for HttpsRedirect {
    fn wrap(self, app: SharedApp) -> SharedApp {
        Arc::new(HttpsRedirectApp { inner: app })
    }
}

struct HttpsRedirectApp {
    inner: SharedApp,
}

impl fmt::Debug for HttpsRedirectApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsRedirectApp").finish_non_exhaustive()
    }
}

impl App for HttpsRedirectApp {
    fn call(&self, scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
        let Some(mut url) = request_url(&scope) else {
            return self.inner.call(scope, receive, send);
        };
        url.scheme = match url.scheme {
            Scheme::Http => Scheme::Https,
            Scheme::Ws => Scheme::Wss,
            Scheme::Https | Scheme::Wss => return self.inner.call(scope, receive, send),
        };
        if matches!(url.port, Some(80 | 443)) {
            url.port = None;
        }
        let response = Redirect::to(url.to_string()).into_response();
        Box::pin(async move { send_response(&scope, response, &send).await })
    }
}

/// The URL a request was made to, rebuilt from its scope (Starlette's `URL(scope=scope)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestUrl {
    pub(crate) scheme: Scheme,
    /// The host name, IPv6 literals in brackets.
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    /// The raw path and query (`/a%20b?x=1`).
    pub(crate) path_and_query: String,
}

impl RequestUrl {
    /// The same URL on host `prefix` + host (`www.`).
    pub(crate) fn with_host_prefix(mut self, prefix: &str) -> Self {
        self.host = format!("{prefix}{}", self.host);
        self
    }
}

impl fmt::Display for RequestUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(&self.path_and_query)
    }
}

/// The URL of an HTTP or WebSocket scope: host and port from the `Host`
/// header, else the server address; `None` for lifespan scopes.
pub(crate) fn request_url(scope: &Scope) -> Option<RequestUrl> {
    let (scheme, headers, target, server) = match scope {
        Scope::Http(http) => (http.scheme, &http.headers, &http.target, &http.server),
        Scope::WebSocket(ws) => (ws.scheme, &ws.headers, &ws.target, &ws.server),
        Scope::Lifespan(_) => return None,
    };
    let (host, port) = match headers.get("host").and_then(|v| v.to_str().ok()) {
        Some(host) => split_host(host.trim()),
        None => match server {
            Some(ServerAddr::Tcp(addr)) => {
                let host = match addr.ip() {
                    std::net::IpAddr::V4(ip) => ip.to_string(),
                    std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                };
                (host, Some(addr.port()))
            }
            _ => ("localhost".to_owned(), None),
        },
    };
    let mut path_and_query = String::from_utf8_lossy(&target.raw_path).into_owned();
    if !target.query_string.is_empty() {
        path_and_query.push('?');
        path_and_query.push_str(&String::from_utf8_lossy(&target.query_string));
    }
    Some(RequestUrl {
        scheme,
        host,
        port,
        path_and_query,
    })
}

/// Splits `host[:port]` (or `[v6]:port`); an unparsable port is dropped.
fn split_host(value: &str) -> (String, Option<u16>) {
    let (host, port) = if value.starts_with('[') {
        match value.find(']') {
            Some(end) => (&value[..=end], value[end + 1..].strip_prefix(':')),
            None => (value, None),
        }
    } else {
        match value.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (value, None),
        }
    };
    (host.to_owned(), port.and_then(|p| p.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use asgi_core::HttpScope;
    use http::{HeaderValue, Method};

    #[test]
    fn url_is_rebuilt_from_host_header_and_raw_path() {
        let mut scope = HttpScope::new(Method::GET, "/a%20b?x=1");
        scope.headers.push(
            http::header::HOST,
            HeaderValue::from_static("example.com:8080"),
        );

        let url = request_url(&Scope::Http(scope)).unwrap();

        assert_eq!(url.to_string(), "http://example.com:8080/a%20b?x=1");
    }

    #[test]
    fn ipv6_hosts_keep_their_brackets() {
        assert_eq!(split_host("[::1]:8000"), ("[::1]".to_owned(), Some(8000)));
        assert_eq!(split_host("[::1]"), ("[::1]".to_owned(), None));
        assert_eq!(split_host("a.com"), ("a.com".to_owned(), None));
    }
}
