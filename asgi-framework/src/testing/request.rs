//! [`TestRequest`]: the request builder of the [`TestClient`].

use std::fmt;

use asgi_core::testing::{Communicator, CommunicatorError};
use asgi_core::{Headers, HttpReceive, HttpScope, HttpSend, Scope, SendEvent};
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use serde::Serialize;

use super::response::TestResponse;
use super::{TestClient, harness_failure};

/// A request being built; send it with [`send`](Self::send).
#[must_use = "a test request does nothing until sent"]
pub struct TestRequest<'a> {
    client: &'a TestClient,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: Headers,
    body: Vec<Bytes>,
}

impl<'a> TestRequest<'a> {
    pub(super) fn new(client: &'a TestClient, method: Method, path: &str) -> Self {
        Self {
            client,
            method,
            path: path.to_owned(),
            query: Vec::new(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// Adds query parameters (encoded for you).
    pub fn query<K: ToString, V: ToString>(mut self, pairs: &[(K, V)]) -> Self {
        self.query
            .extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// Adds a header.
    ///
    /// # Panics
    ///
    /// If `name` or `value` is not valid in a header (a mistake in the test).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::try_from(name).expect("TestRequest::header: invalid header name");
        let value =
            HeaderValue::try_from(value).expect("TestRequest::header: invalid header value");
        self.headers.push(name, value);
        self
    }

    /// Sends `value` as a JSON body with `Content-Type: application/json`.
    ///
    /// # Panics
    ///
    /// If `value` does not serialize.
    pub fn json(self, value: &impl Serialize) -> Self {
        let body = serde_json::to_vec(value).expect("TestRequest::json: value does not serialize");
        self.content_type("application/json").body(body)
    }

    /// Sends an urlencoded form body.
    ///
    /// # Panics
    ///
    /// If the pairs do not serialize.
    pub fn form<K: Serialize, V: Serialize>(self, pairs: &[(K, V)]) -> Self {
        let body =
            serde_urlencoded::to_string(pairs).expect("TestRequest::form: pairs do not serialize");
        self.content_type("application/x-www-form-urlencoded")
            .body(body)
    }

    /// Sets the whole body, sent as one `http.request` message.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = vec![body.into()];
        self
    }

    /// Sets the body as several `http.request` messages, as a chunked upload arrives.
    pub fn body_chunks<B: Into<Bytes>>(mut self, chunks: impl IntoIterator<Item = B>) -> Self {
        self.body = chunks.into_iter().map(Into::into).collect();
        self
    }

    fn content_type(mut self, value: &'static str) -> Self {
        if !self.headers.contains(header::CONTENT_TYPE) {
            self.headers
                .push(header::CONTENT_TYPE, HeaderValue::from_static(value));
        }
        self
    }

    fn scope(&self) -> HttpScope {
        let mut target = self.path.clone();
        if !self.query.is_empty() {
            let encoded = serde_urlencoded::to_string(&self.query).unwrap_or_default();
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str(&encoded);
        }
        let mut scope = HttpScope::new(self.method.clone(), target);
        let mut headers = Headers::new().with(header::HOST, HeaderValue::from_static("testserver"));
        if !self.headers.contains(header::COOKIE)
            && let Some(cookies) = self.client.cookie_header()
            && let Ok(value) = HeaderValue::from_str(&cookies)
        {
            headers.push(header::COOKIE, value);
        }
        let length: usize = self.body.iter().map(Bytes::len).sum();
        if self.body.len() == 1 && !self.headers.contains(header::CONTENT_LENGTH) {
            headers.push(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        for (name, value) in self.headers.iter().cloned() {
            if name == header::HOST {
                headers.remove("host");
            }
            headers.push(name, value);
        }
        scope.headers = headers;
        scope.client = Some(([127, 0, 0, 1], 50000).into());
        scope.state = self.client.state();
        scope.extensions.pathsend = self.client.pathsend;
        scope
    }

    /// Sends the request and collects the whole response.
    ///
    /// Like a server, an app that fails before starting its response gets a
    /// 500 (the error is in [`TestResponse::app_error`]). After the last
    /// body message, the client reports `http.disconnect` and waits for the
    /// app to finish (its background tasks).
    ///
    /// With [`TestClient::follow_redirects`], redirects to the test server
    /// are followed (at most 20): 303, and 301/302 after a method other than
    /// GET or HEAD, turn into a GET without body; 307 and 308 repeat the request.
    ///
    /// # Panics
    ///
    /// If the app sends nothing within the client's timeout, or breaks the
    /// ASGI protocol: failures of the test, not of the request.
    pub async fn send(mut self) -> TestResponse {
        let mut response = self.send_once().await;
        for _ in 0..MAX_REDIRECTS {
            if !self.client.follow_redirects || !response.status().is_redirection() {
                break;
            }
            let Some(location) = response.header("location").and_then(local_path) else {
                break;
            };
            let status = response.status();
            let keeps_method = status == StatusCode::TEMPORARY_REDIRECT
                || status == StatusCode::PERMANENT_REDIRECT
                || self.method == Method::GET
                || self.method == Method::HEAD;
            if !keeps_method {
                self.method = Method::GET;
                self.body.clear();
                self.headers.remove("content-type");
                self.headers.remove("content-length");
            }
            self.path = location;
            self.query.clear();
            response = self.send_once().await;
        }
        response
    }

    async fn send_once(&self) -> TestResponse {
        let scope = self.scope();
        let timeout = self.client.timeout;
        let mut comm = Communicator::new(self.client.app.clone(), Scope::Http(scope));
        let chunks = self.body.clone();
        let count = chunks.len();
        if count == 0 {
            comm.send_input(HttpReceive::request(Bytes::new()));
        }
        for (i, body) in chunks.into_iter().enumerate() {
            comm.send_input(HttpReceive::Request {
                body,
                more_body: i + 1 < count,
            });
        }
        let mut response = TestResponse::new();
        loop {
            match comm.receive_output(timeout).await {
                Ok(SendEvent::Http(HttpSend::ResponseStart {
                    status, headers, ..
                })) => {
                    response.start(status, headers);
                }
                Ok(SendEvent::Http(HttpSend::ResponseBody { body, more_body })) => {
                    response.push(body);
                    if !more_body {
                        break;
                    }
                }
                Ok(SendEvent::Http(HttpSend::ResponsePathsend { path })) => {
                    match std::fs::read(&path) {
                        Ok(bytes) => response.push(bytes.into()),
                        Err(error) => {
                            response.fail(format!("pathsend {}: {error}", path.display()))
                        }
                    }
                    break;
                }
                Ok(other) => response.note(other.kind()),
                Err(CommunicatorError::AppReturned) => {
                    if !response.is_started() {
                        response.fail("the app returned without a response".to_owned());
                    }
                    break;
                }
                Err(CommunicatorError::AppFailed(error)) => {
                    response.fail(error.to_string());
                    break;
                }
                Err(CommunicatorError::AppPanicked(message)) => {
                    response.fail(format!("panicked: {message}"));
                    break;
                }
                Err(error) => harness_failure("waiting for the response", &error),
            }
        }
        comm.send_input(HttpReceive::Disconnect);
        match comm.wait(timeout).await {
            Ok(()) => {}
            Err(CommunicatorError::AppFailed(error)) => response.fail(error.to_string()),
            Err(CommunicatorError::AppPanicked(message)) => {
                response.fail(format!("panicked: {message}"))
            }
            Err(error) => harness_failure("waiting for the app to finish", &error),
        }
        if !response.is_started() {
            response.start(StatusCode::INTERNAL_SERVER_ERROR, Headers::new());
        }
        self.client.store_cookies(
            response
                .headers()
                .get_all("set-cookie")
                .filter_map(|v| v.to_str().ok()),
        );
        response
    }
}

/// The most redirects [`TestRequest::send`] follows.
const MAX_REDIRECTS: usize = 20;

/// The path and query of a `Location` on the test server; `None` for another host.
fn local_path(location: &str) -> Option<String> {
    if location.starts_with('/') {
        return Some(location.to_owned());
    }
    let rest = location
        .strip_prefix("http://testserver")
        .or_else(|| location.strip_prefix("https://testserver"))?;
    match rest {
        "" => Some("/".to_owned()),
        rest if rest.starts_with('/') || rest.starts_with('?') => Some(rest.to_owned()),
        _ => None,
    }
}

impl fmt::Debug for TestRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}
