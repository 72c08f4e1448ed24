//! Cross-Origin Resource Sharing: Starlette's `CORSMiddleware`.

use std::fmt;
use std::sync::Arc;

use asgi_core::{App, AppFuture, Headers, HttpScope, Receiver, Scope, Sender, SharedApp};
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, StatusCode};

use super::Middleware;
use super::reply::{plain_text, send_response};
use super::rewrite::{add_vary, on_response_start};

/// Every method `allow_methods(["*"])` stands for.
const ALL_METHODS: [&str; 7] = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];
/// Request headers a browser may always send (the CORS safelist), always allowed.
const SAFELISTED_HEADERS: [&str; 4] = [
    "accept",
    "accept-language",
    "content-language",
    "content-type",
];

/// CORS middleware with Starlette's semantics.
///
/// Requests without an `Origin` header pass through untouched. A preflight
/// (`OPTIONS` with `Access-Control-Request-Method`) is answered here: 200
/// `OK` with the `Access-Control-Allow-*` headers, or 400 `Disallowed CORS
/// origin, method, headers` naming what failed. Any other request with an
/// `Origin` goes to the app, and its response gets
/// `Access-Control-Allow-Origin` (with `Vary: Origin` when it names the
/// origin), `Access-Control-Allow-Credentials` and
/// `Access-Control-Expose-Headers` as configured.
///
/// The defaults are Starlette's: no origin allowed, only `GET`, only the
/// safelisted headers, no credentials, `max_age` 600 seconds.
///
/// # Example
///
/// ```
/// use asgi_framework::middleware::Cors;
///
/// let cors = Cors::new()
///     .allow_origins(["https://example.com"])
///     .allow_methods(["GET", "POST"])
///     .allow_headers(["x-token"])
///     .allow_credentials(true);
///
/// let app = asgi_framework::Application::new()
///     .route("/", asgi_framework::get(|| async { "hi" }))
///     .layer(cors);
/// # let _: &dyn asgi_core::App = &app;
/// ```
#[derive(Clone)]
pub struct Cors {
    config: Arc<Config>,
}

#[derive(Debug, Clone)]
struct Config {
    origins: Vec<String>,
    allow_all_origins: bool,
    origin_regex: Option<regex_lite::Regex>,
    methods: Vec<Method>,
    headers: Vec<String>,
    allow_all_headers: bool,
    credentials: bool,
    expose: Vec<String>,
    max_age: u64,
}

impl Default for Cors {
    fn default() -> Self {
        Self::new()
    }
}

impl Cors {
    /// CORS that allows nothing yet (Starlette's defaults); add origins with the setters.
    pub fn new() -> Self {
        Self {
            config: Arc::new(Config {
                origins: Vec::new(),
                allow_all_origins: false,
                origin_regex: None,
                methods: vec![Method::GET],
                headers: SAFELISTED_HEADERS.map(str::to_owned).to_vec(),
                allow_all_headers: false,
                credentials: false,
                expose: Vec::new(),
                max_age: 600,
            }),
        }
    }

    fn config(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// The origins allowed (`https://example.com`); `"*"` allows every origin.
    #[must_use]
    pub fn allow_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let config = self.config();
        config.origins = origins.into_iter().map(Into::into).collect();
        config.allow_all_origins = config.origins.iter().any(|o| o == "*");
        self
    }

    /// Also allows every origin that this regular expression matches in full.
    ///
    /// # Errors
    ///
    /// The pattern's syntax error.
    pub fn allow_origin_regex(mut self, pattern: &str) -> Result<Self, regex_lite::Error> {
        // Anchored on both ends: Starlette uses `re.fullmatch`.
        let regex = regex_lite::Regex::new(&format!("^(?:{pattern})$"))?;
        self.config().origin_regex = Some(regex);
        Ok(self)
    }

    /// The methods allowed in preflights; `"*"` allows the usual seven.
    ///
    /// Names that are not valid methods are skipped.
    #[must_use]
    pub fn allow_methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let names: Vec<String> = methods.into_iter().map(|m| m.as_ref().to_owned()).collect();
        let names: Vec<&str> = if names.iter().any(|m| m == "*") {
            ALL_METHODS.to_vec()
        } else {
            names.iter().map(String::as_str).collect()
        };
        self.config().methods = names
            .iter()
            .filter_map(|m| Method::from_bytes(m.as_bytes()).ok())
            .collect();
        self
    }

    /// The request headers allowed in preflights (case-insensitive); `"*"`
    /// allows any. The CORS-safelisted headers are always allowed.
    #[must_use]
    pub fn allow_headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let config = self.config();
        let mut all: Vec<String> = SAFELISTED_HEADERS.map(str::to_owned).to_vec();
        for name in headers {
            let name = name.as_ref().trim().to_ascii_lowercase();
            if !all.contains(&name) {
                all.push(name);
            }
        }
        config.allow_all_headers = all.iter().any(|h| h == "*");
        all.sort();
        config.headers = all;
        self
    }

    /// Whether cookies and credentials may cross origins (`Access-Control-Allow-Credentials: true`).
    #[must_use]
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.config().credentials = allow;
        self
    }

    /// The response headers scripts on other origins may read.
    #[must_use]
    pub fn expose_headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config().expose = headers.into_iter().map(Into::into).collect();
        self
    }

    /// How long browsers may cache a preflight answer, in seconds (600 by default).
    #[must_use]
    pub fn max_age(mut self, seconds: u64) -> Self {
        self.config().max_age = seconds;
        self
    }
}

impl Middleware for Cors {
    fn wrap(self, app: SharedApp) -> SharedApp {
        Arc::new(CorsApp {
            config: self.config,
            inner: app,
        })
    }
}

impl fmt::Debug for Cors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cors")
            .field("allow_origins", &self.config.origins)
            .field("allow_methods", &self.config.methods)
            .field("allow_headers", &self.config.headers)
            .field("allow_credentials", &self.config.credentials)
            .field("max_age", &self.config.max_age)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Whether the preflight must name the origin instead of answering `*`.
    fn explicit_origin(&self) -> bool {
        !self.allow_all_origins || self.credentials
    }

    fn is_allowed_origin(&self, origin: &str) -> bool {
        self.allow_all_origins
            || self
                .origin_regex
                .as_ref()
                .is_some_and(|r| r.is_match(origin))
            || self.origins.iter().any(|o| o == origin)
    }

    fn preflight(&self, scope: &HttpScope, origin: &HeaderValue) -> (StatusCode, String, Headers) {
        let mut headers = Headers::new();
        if self.explicit_origin() {
            headers.push(header::VARY, HeaderValue::from_static("Origin"));
        } else {
            headers.push(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
        push_joined(
            &mut headers,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            self.methods.iter().map(Method::as_str),
        );
        headers.push(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(self.max_age),
        );
        if !self.allow_all_headers {
            push_joined(
                &mut headers,
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                self.headers.iter().map(String::as_str),
            );
        }
        if self.credentials {
            headers.push(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }

        let mut failures = Vec::new();
        let origin_text = origin.to_str().unwrap_or("");
        if self.is_allowed_origin(origin_text) {
            if self.explicit_origin() {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            }
        } else {
            failures.push("origin");
        }
        let method = scope.headers.get("access-control-request-method");
        let method_allowed = method
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
            .is_some_and(|m| self.methods.contains(&m));
        if !method_allowed {
            failures.push("method");
        }
        if let Some(requested) = scope.headers.get("access-control-request-headers") {
            if self.allow_all_headers {
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
            } else {
                // Header names are ASCII: a value that is not cannot list allowed ones.
                let all_allowed = requested.to_str().is_ok_and(|requested| {
                    requested
                        .split(',')
                        .map(|h| h.trim().to_ascii_lowercase())
                        .filter(|h| !h.is_empty())
                        .all(|h| self.headers.contains(&h))
                });
                if !all_allowed {
                    failures.push("headers");
                }
            }
        }
        if failures.is_empty() {
            (StatusCode::OK, "OK".to_owned(), headers)
        } else {
            let text = format!("Disallowed CORS {}", failures.join(", "));
            (StatusCode::BAD_REQUEST, text, headers)
        }
    }

    /// The headers added to a response to a non-preflight request from `origin`.
    fn simple_headers(&self, headers: &mut Headers, origin: &HeaderValue, has_cookie: bool) {
        if self.allow_all_origins && !self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
        if self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if !self.expose.is_empty() {
            push_joined(
                headers,
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                self.expose.iter().map(String::as_str),
            );
        }
        // A credentialed request may not be answered with `*`: name the origin.
        let explicit = (self.allow_all_origins && has_cookie)
            || (!self.allow_all_origins && self.is_allowed_origin(origin.to_str().unwrap_or("")));
        if explicit {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            add_vary(headers, "Origin");
        }
    }
}

fn push_joined<'a>(headers: &mut Headers, name: HeaderName, values: impl Iterator<Item = &'a str>) {
    let joined = values.collect::<Vec<_>>().join(", ");
    if let Ok(value) = HeaderValue::from_str(&joined) {
        headers.insert(name, value);
    }
}

/// The app [`Cors::wrap`] makes.
struct CorsApp {
    config: Arc<Config>,
    inner: SharedApp,
}

impl App for CorsApp {
    fn call(&self, scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
        let Scope::Http(http) = &scope else {
            return self.inner.call(scope, receive, send);
        };
        let Some(origin) = http.headers.get("origin").cloned() else {
            return self.inner.call(scope, receive, send);
        };
        let config = self.config.clone();
        if http.method == Method::OPTIONS && http.headers.contains("access-control-request-method")
        {
            let (status, text, headers) = config.preflight(http, &origin);
            return Box::pin(async move {
                let mut response = plain_text(status, text);
                response.headers_mut().extend(headers);
                send_response(&scope, response, &send).await
            });
        }
        let has_cookie = http.headers.contains("cookie");
        let send = on_response_start(send, move |_status, headers| {
            config.simple_headers(headers, &origin, has_cookie);
        });
        self.inner.call(scope, receive, send)
    }
}

impl fmt::Debug for CorsApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CorsApp").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_matching_is_exact_wildcard_or_full_regex() {
        let listed = Cors::new().allow_origins(["https://a.com"]);
        let any = Cors::new().allow_origins(["*"]);
        let regex = Cors::new()
            .allow_origin_regex(r"https://.*\.example\.org")
            .unwrap();

        assert!(listed.config.is_allowed_origin("https://a.com"));
        assert!(!listed.config.is_allowed_origin("https://a.com.evil"));
        assert!(any.config.is_allowed_origin("https://whatever"));
        assert!(regex.config.is_allowed_origin("https://api.example.org"));
        assert!(
            !regex
                .config
                .is_allowed_origin("https://api.example.org.evil.com")
        );
    }

    #[test]
    fn star_methods_expand_to_the_usual_seven() {
        let cors = Cors::new().allow_methods(["*"]);

        assert_eq!(cors.config.methods.len(), 7);
        assert!(cors.config.methods.contains(&Method::PATCH));
    }

    #[test]
    fn safelisted_headers_are_always_allowed() {
        let cors = Cors::new().allow_headers(["X-Token"]);

        assert!(cors.config.headers.contains(&"content-type".to_owned()));
        assert!(cors.config.headers.contains(&"x-token".to_owned()));
        assert!(!cors.config.allow_all_headers);
    }
}
