//! Errors that become HTTP responses: [`HttpError`] (Starlette's `HTTPException`) and [`Error`].

use std::fmt;
use std::sync::Arc;

use asgi_core::{BoxError, Headers};
use http::StatusCode;
use http::header::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::response::{IntoResponse, Response};

/// An error with an HTTP status, rendered as JSON `{"detail": ...}`.
///
/// This is Starlette's `HTTPException` with FastAPI's rendering: `detail`
/// defaults to the status's reason phrase, and `headers` are added to the
/// response (a 401 with `WWW-Authenticate`, a 405 with `Allow`). Return it
/// from a handler (`Result<T, HttpError>`), or let an extractor return it.
/// Exception handlers registered on the application by status see it first.
///
/// # Example
///
/// ```
/// use asgi_framework::HttpError;
/// use http::StatusCode;
///
/// async fn item(id: u32) -> Result<String, HttpError> {
///     if id != 1 {
///         return Err(HttpError::new(StatusCode::NOT_FOUND).with_detail("no such item"));
///     }
///     Ok("item 1".to_owned())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct HttpError {
    /// The response status.
    pub status: StatusCode,
    /// The `detail` value of the JSON body; any JSON value.
    pub detail: Value,
    /// Extra response headers.
    pub headers: Headers,
}

impl HttpError {
    /// An error with `status` and the reason phrase as its detail.
    pub fn new(status: StatusCode) -> Self {
        let detail = status.canonical_reason().unwrap_or("Unknown Error");
        Self {
            status,
            detail: Value::String(detail.to_owned()),
            headers: Headers::new(),
        }
    }

    /// Replaces the detail: a string, or any JSON value.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<Value>) -> Self {
        self.detail = detail.into();
        self
    }

    /// Adds a response header.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push(name, value);
        self
    }

    /// 400 Bad Request.
    pub fn bad_request() -> Self {
        Self::new(StatusCode::BAD_REQUEST)
    }

    /// 404 Not Found.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND)
    }

    /// 500 Internal Server Error.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Renders the error as a response without recording it as the cause.
    pub(crate) fn render(&self) -> Response {
        let body = serde_json::json!({ "detail": self.detail });
        let mut response = crate::Json(body).into_response();
        *response.status_mut() = self.status;
        response.headers_mut().extend(self.headers.iter().cloned());
        response
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Value::String(detail) => write!(f, "{}: {detail}", self.status.as_u16()),
            detail => write!(f, "{}: {detail}", self.status.as_u16()),
        }
    }
}

impl std::error::Error for HttpError {}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = self.render();
        response.set_error(Arc::new(self));
        response
    }
}

/// Any error, answered with a 500: the `?`-friendly error type for handlers.
///
/// Every `std::error::Error + Send + Sync` converts into it, so a handler
/// returning `Result<T, Error>` can use `?` on I/O, parse or database errors.
/// The response is `500 {"detail":"Internal Server Error"}`; the original
/// error is kept on the response, so an exception handler registered for its
/// type (see `Application::exception_handler`) can answer instead.
///
/// It deliberately does not implement `std::error::Error` itself (as
/// `anyhow::Error` does not), which is what allows the blanket conversion.
pub struct Error {
    inner: BoxError,
}

impl Error {
    /// Wraps any boxed error.
    pub fn from_boxed(inner: BoxError) -> Self {
        Self { inner }
    }

    /// The wrapped error.
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.inner
    }

    /// Unwraps the boxed error.
    pub fn into_inner(self) -> BoxError {
        self.inner
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for Error {
    fn from(error: E) -> Self {
        Self {
            inner: Box::new(error),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.inner, "handler failed");
        let mut response = HttpError::internal().render();
        response.set_error(Arc::from(self.inner));
        response
    }
}

/// The error a response was made from, kept for exception handlers.
///
/// Found in [`Response::error`]: set by [`HttpError`] and [`Error`] when
/// they turn into responses.
pub type ErrorCause = Arc<dyn std::error::Error + Send + Sync + 'static>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_defaults_to_the_reason_phrase() {
        let error = HttpError::new(StatusCode::IM_A_TEAPOT);

        assert_eq!(error.detail, Value::String("I'm a teapot".into()));
        assert_eq!(error.to_string(), "418: I'm a teapot");
    }

    #[test]
    fn error_wraps_any_std_error() {
        let error: Error = std::fmt::Error.into();

        assert!(error.inner().downcast_ref::<std::fmt::Error>().is_some());
    }
}
