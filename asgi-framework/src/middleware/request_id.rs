//! Request ids: reuse or make an `X-Request-ID`, and tell handlers and the response.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;

use asgi_core::{App, AppFuture, Headers, Receiver, Scope, Sender, SharedApp};
use http::header::{HeaderName, HeaderValue};
use tracing::Instrument as _;

use super::Middleware;
use super::rewrite::on_response_start;
use crate::extract::FromRequestParts;
use crate::request::Request;

/// The longest incoming id that is reused.
const MAX_LEN: usize = 200;

/// Gives every request an id, in the `X-Request-ID` header of the request and the response.
///
/// A valid incoming id (1 to 200 characters among letters, digits and
/// `-_.:+=/`) is reused, so ids from a proxy carry through; otherwise a
/// UUID v4 is made. Handlers take it as the [`RequestId`] extractor, the
/// response gets the header (unless the app set it), and the app runs in a
/// `tracing` span `request` with a `request_id` field, so every log line of
/// the request carries it.
///
/// # Example
///
/// ```
/// use asgi_framework::middleware::{RequestId, RequestIds};
///
/// let ids = RequestIds::new();
///
/// async fn handler(id: RequestId) -> String {
///     format!("your request is {id}")
/// }
///
/// let app = asgi_framework::Application::new()
///     .route("/", asgi_framework::get(|| async { "hi" }))
///     .layer(ids);
/// # let _: &dyn asgi_core::App = &app;
/// ```
#[derive(Debug, Clone)]
pub struct RequestIds {
    header: HeaderName,
}

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestIds {
    /// Request ids in `X-Request-ID`.
    pub fn new() -> Self {
        Self {
            header: HeaderName::from_static("x-request-id"),
        }
    }

    /// Uses another header (for example `x-correlation-id`).
    #[must_use]
    pub fn header(mut self, name: HeaderName) -> Self {
        self.header = name;
        self
    }
}

impl Middleware for RequestIds {
    fn wrap(self, app: SharedApp) -> SharedApp {
        Arc::new(RequestIdApp {
            header: self.header,
            inner: app,
        })
    }
}

/// The id of the current request, from the [`RequestIds`] middleware.
///
/// As an extractor it never fails: without the middleware it is a fresh
/// UUID v4 (the response then does not carry it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A fresh UUID v4 id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string().into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The incoming id in `value`, if it is one worth reusing.
    fn parse(value: &HeaderValue) -> Option<Self> {
        let text = value.to_str().ok()?.trim();
        let valid = !text.is_empty()
            && text.len() <= MAX_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:+=/".contains(&b));
        valid.then(|| Self(text.into()))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromRequestParts for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(request: &mut Request) -> Result<Self, Infallible> {
        Ok(request
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(RequestId::generate))
    }
}

struct RequestIdApp {
    header: HeaderName,
    inner: SharedApp,
}

impl fmt::Debug for RequestIdApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestIdApp")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

fn take_id(headers: &mut Headers, name: &HeaderName) -> RequestId {
    let id = headers
        .get(name.as_str())
        .and_then(RequestId::parse)
        .unwrap_or_else(RequestId::generate);
    // Handlers reading the header see the id in force, not a rejected one.
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        headers.insert(name.clone(), value);
    }
    id
}

impl App for RequestIdApp {
    fn call(&self, mut scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
        let id = match &mut scope {
            Scope::Http(http) => {
                let id = take_id(&mut http.headers, &self.header);
                http.extensions.other.insert(id.clone());
                id
            }
            Scope::WebSocket(ws) => {
                let id = take_id(&mut ws.headers, &self.header);
                ws.extensions.other.insert(id.clone());
                id
            }
            Scope::Lifespan(_) => return self.inner.call(scope, receive, send),
        };
        let span = tracing::info_span!("request", request_id = %id);
        let send = if matches!(scope, Scope::Http(_)) {
            let header = self.header.clone();
            on_response_start(send, move |_status, headers| {
                if !headers.contains(header.as_str())
                    && let Ok(value) = HeaderValue::from_str(id.as_str())
                {
                    headers.push(header.clone(), value);
                }
            })
        } else {
            send
        };
        Box::pin(self.inner.call(scope, receive, send).instrument(span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_incoming_ids_are_reused() {
        let ok = HeaderValue::from_static("abc-123_x.y:z");
        let too_long = HeaderValue::from_str(&"a".repeat(MAX_LEN + 1)).unwrap();
        let spaces = HeaderValue::from_static("a b");
        let empty = HeaderValue::from_static("");

        assert_eq!(RequestId::parse(&ok).unwrap().as_str(), "abc-123_x.y:z");
        assert!(RequestId::parse(&too_long).is_none());
        assert!(RequestId::parse(&spaces).is_none());
        assert!(RequestId::parse(&empty).is_none());
    }

    #[test]
    fn generated_ids_are_uuid_v4() {
        let id = RequestId::generate();

        let parsed = uuid::Uuid::parse_str(id.as_str()).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
    }
}
