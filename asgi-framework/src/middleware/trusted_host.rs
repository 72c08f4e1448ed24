//! Host header validation: Starlette's `TrustedHostMiddleware`.

use std::fmt;
use std::sync::Arc;

use asgi_core::{App, AppFuture, Headers, Receiver, Scope, Sender, SharedApp};
use http::StatusCode;

use super::Middleware;
use super::https_redirect::request_url;
use super::reply::{plain_text, send_response};
use crate::response::{IntoResponse, Redirect};

/// Rejects requests whose `Host` header is not one of the allowed hosts.
///
/// Patterns are exact host names (`example.com`) or wildcards for
/// subdomains (`*.example.com`, which matches `api.example.com` but not
/// `example.com`); `*` allows every host. The port is ignored. A request for
/// another host gets 400 `Invalid host header`, on HTTP and WebSocket alike.
///
/// With `www_redirect` (on by default), a request for `example.com` when
/// only `www.example.com` is allowed is redirected there (307).
///
/// # Example
///
/// ```
/// use asgi_framework::middleware::TrustedHost;
///
/// let trusted = TrustedHost::new(["example.com", "*.example.com"]);
///
/// let app = asgi_framework::Application::new()
///     .route("/", asgi_framework::get(|| async { "hi" }))
///     .layer(trusted);
/// # let _: &dyn asgi_core::App = &app;
/// ```
#[derive(Debug, Clone)]
pub struct TrustedHost {
    config: Arc<Config>,
}

#[derive(Debug)]
struct Config {
    allowed: Vec<String>,
    allow_any: bool,
    www_redirect: bool,
}

impl TrustedHost {
    /// Allows the given host patterns (no port; compared case-insensitively).
    ///
    /// # Panics
    ///
    /// If a pattern has a `*` anywhere but in a leading `*.` (as Starlette
    /// asserts): `*example.com` would also allow `evilexample.com`.
    pub fn new<I, S>(allowed_hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let allowed: Vec<String> = allowed_hosts
            .into_iter()
            .map(|h| h.into().to_ascii_lowercase())
            .collect();
        for pattern in &allowed {
            let rest = pattern.strip_prefix("*.").unwrap_or(pattern);
            assert!(
                pattern == "*" || !rest.contains('*'),
                "host patterns must be like '*.example.com', got {pattern:?}"
            );
        }
        let allow_any = allowed.iter().any(|h| h == "*");
        Self {
            config: Arc::new(Config {
                allowed,
                allow_any,
                www_redirect: true,
            }),
        }
    }

    /// Whether to redirect `example.com` to an allowed `www.example.com` (on by default).
    #[must_use]
    pub fn www_redirect(mut self, redirect: bool) -> Self {
        if let Some(config) = Arc::get_mut(&mut self.config) {
            config.www_redirect = redirect;
        } else {
            self.config = Arc::new(Config {
                allowed: self.config.allowed.clone(),
                allow_any: self.config.allow_any,
                www_redirect: redirect,
            });
        }
        self
    }
}

impl Middleware for TrustedHost {
    fn wrap(self, app: SharedApp) -> SharedApp {
        Arc::new(TrustedHostApp {
            config: self.config,
            inner: app,
        })
    }
}

/// What to do with a request's host.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Allow,
    RedirectToWww,
    Reject,
}

impl Config {
    fn check(&self, headers: &Headers) -> Verdict {
        if self.allow_any {
            return Verdict::Allow;
        }
        let host = headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .map(strip_port)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut www = false;
        for pattern in &self.allowed {
            let matches = match pattern.strip_prefix('*') {
                Some(suffix) => !host.is_empty() && host.ends_with(suffix),
                None => host == *pattern,
            };
            if matches {
                return Verdict::Allow;
            }
            if !host.is_empty() && pattern.strip_prefix("www.") == Some(host.as_str()) {
                www = true;
            }
        }
        if www && self.www_redirect {
            Verdict::RedirectToWww
        } else {
            Verdict::Reject
        }
    }
}

/// The host without its port; IPv6 literals keep their brackets.
fn strip_port(host: &str) -> &str {
    let host = host.trim();
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.split(':').next().unwrap_or(host)
}

struct TrustedHostApp {
    config: Arc<Config>,
    inner: SharedApp,
}

impl fmt::Debug for TrustedHostApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedHostApp")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl App for TrustedHostApp {
    fn call(&self, scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
        let headers = match &scope {
            Scope::Http(http) => &http.headers,
            Scope::WebSocket(ws) => &ws.headers,
            Scope::Lifespan(_) => return self.inner.call(scope, receive, send),
        };
        let response = match self.config.check(headers) {
            Verdict::Allow => return self.inner.call(scope, receive, send),
            Verdict::RedirectToWww => match request_url(&scope) {
                Some(url) => {
                    let url = url.with_host_prefix("www.");
                    Redirect::to(url.to_string()).into_response()
                }
                None => plain_text(StatusCode::BAD_REQUEST, "Invalid host header"),
            },
            Verdict::Reject => plain_text(StatusCode::BAD_REQUEST, "Invalid host header"),
        };
        Box::pin(async move { send_response(&scope, response, &send).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn host(value: &'static str) -> Headers {
        Headers::new().with(http::header::HOST, HeaderValue::from_static(value))
    }

    #[test]
    fn hosts_match_exactly_or_by_wildcard_suffix() {
        let config = TrustedHost::new(["example.com", "*.example.org"]).config;

        assert_eq!(config.check(&host("example.com:8000")), Verdict::Allow);
        assert_eq!(config.check(&host("EXAMPLE.com")), Verdict::Allow);
        assert_eq!(config.check(&host("api.example.org")), Verdict::Allow);
        assert_eq!(config.check(&host("example.org")), Verdict::Reject);
        assert_eq!(config.check(&host("evil.com")), Verdict::Reject);
        assert_eq!(config.check(&Headers::new()), Verdict::Reject);
    }

    #[test]
    fn bare_domain_redirects_to_allowed_www() {
        let config = TrustedHost::new(["www.example.com"]).config;
        let no_redirect = TrustedHost::new(["www.example.com"])
            .www_redirect(false)
            .config;

        assert_eq!(config.check(&host("example.com")), Verdict::RedirectToWww);
        assert_eq!(no_redirect.check(&host("example.com")), Verdict::Reject);
    }

    #[test]
    #[should_panic(expected = "host patterns must be like '*.example.com'")]
    fn wildcard_without_dot_is_refused() {
        let _ = TrustedHost::new(["*example.com"]);
    }

    #[test]
    fn ports_are_stripped_from_names_and_ipv6_literals() {
        assert_eq!(strip_port("a.com:80"), "a.com");
        assert_eq!(strip_port("[::1]:8000"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
    }
}
