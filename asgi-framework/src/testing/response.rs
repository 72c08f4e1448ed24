//! [`TestResponse`]: a collected response.

use std::fmt;

use asgi_core::Headers;
use bytes::{Bytes, BytesMut};
use http::StatusCode;
use serde::de::DeserializeOwned;

/// A response collected by the [`TestClient`](super::TestClient).
///
/// Each `http.response.body` message is kept as its own chunk
/// ([`chunks`](Self::chunks)), so tests can check that a response streamed.
pub struct TestResponse {
    status: Option<StatusCode>,
    headers: Headers,
    chunks: Vec<Bytes>,
    app_error: Option<String>,
    other: Vec<&'static str>,
}

impl TestResponse {
    pub(super) fn new() -> Self {
        Self {
            status: None,
            headers: Headers::new(),
            chunks: Vec::new(),
            app_error: None,
            other: Vec::new(),
        }
    }

    pub(super) fn start(&mut self, status: StatusCode, headers: Headers) {
        self.status = Some(status);
        self.headers = headers;
    }

    pub(super) fn is_started(&self) -> bool {
        self.status.is_some()
    }

    pub(super) fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.chunks.push(chunk);
        }
    }

    pub(super) fn fail(&mut self, error: String) {
        self.app_error.get_or_insert(error);
    }

    pub(super) fn note(&mut self, kind: &'static str) {
        self.other.push(kind);
    }

    /// The status (500 if the app failed before starting a response).
    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The first value of header `name` as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of header `name`, in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> Vec<&'a str> {
        self.headers
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// All headers, in order.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The whole body.
    pub fn bytes(&self) -> Bytes {
        match self.chunks.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut body = BytesMut::new();
                for chunk in many {
                    body.extend_from_slice(chunk);
                }
                body.freeze()
            }
        }
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    ///
    /// If the body is not JSON of type `T`: the test fails with the body shown.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        match serde_json::from_slice(&self.bytes()) {
            Ok(value) => value,
            Err(error) => panic!("TestResponse::json: {error}; body: {}", self.text()),
        }
    }

    /// The non-empty body messages, in the order the app sent them.
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    /// The app's error or panic, if it failed (before or after responding).
    pub fn app_error(&self) -> Option<&str> {
        self.app_error.as_deref()
    }

    /// Other messages the app sent (trailers, early hints), by ASGI type.
    pub fn other_messages(&self) -> &[&'static str] {
        &self.other
    }
}

impl fmt::Debug for TestResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestResponse")
            .field("status", &self.status())
            .field("headers", &self.headers)
            .field("body", &self.text())
            .field("app_error", &self.app_error)
            .finish()
    }
}
