//! The [`IntoResponse`] conversion and its implementations for common types.

use std::borrow::Cow;
use std::convert::Infallible;

use asgi_core::Headers;
use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderName, HeaderValue};

use super::Response;
use crate::body::Body;

/// Anything a handler may return: converts into a [`Response`].
///
/// Implemented for text (`&'static str`, `String`: `text/plain; charset=utf-8`),
/// bytes (`Bytes`, `Vec<u8>`: `application/octet-stream`), [`StatusCode`]
/// (empty body), `()` (200, empty), [`Html`], [`Json`](crate::Json),
/// [`Redirect`](super::Redirect), [`StreamBody`](super::StreamBody),
/// [`Sse`](super::Sse), [`HttpError`](crate::HttpError), `(StatusCode, T)`,
/// `(StatusCode, headers, T)` and `Result<T, E>` where both convert.
#[diagnostic::on_unimplemented(
    note = "return a type that implements `IntoResponse`, such as `String`, `Json<T>` or `Response`"
)]
pub trait IntoResponse {
    /// Makes the response.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for Body {
    fn into_response(self) -> Response {
        Response::new(self)
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new(Body::empty())
    }
}

impl IntoResponse for Infallible {
    fn into_response(self) -> Response {
        match self {}
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        Response::with_status(self)
    }
}

fn with_content_type(body: impl Into<Body>, content_type: &'static str) -> Response {
    Response::new(body).header(header::CONTENT_TYPE, HeaderValue::from_static(content_type))
}

const TEXT: &str = "text/plain; charset=utf-8";
const OCTETS: &str = "application/octet-stream";

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        with_content_type(self, TEXT)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        with_content_type(self, TEXT)
    }
}

impl IntoResponse for Cow<'static, str> {
    fn into_response(self) -> Response {
        match self {
            Cow::Borrowed(text) => text.into_response(),
            Cow::Owned(text) => text.into_response(),
        }
    }
}

impl IntoResponse for Bytes {
    fn into_response(self) -> Response {
        with_content_type(self, OCTETS)
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        with_content_type(self, OCTETS)
    }
}

impl IntoResponse for &'static [u8] {
    fn into_response(self) -> Response {
        with_content_type(Bytes::from_static(self), OCTETS)
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(value) => value.into_response(),
            Err(error) => error.into_response(),
        }
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        let mut response = self.1.into_response();
        *response.status_mut() = self.0;
        response
    }
}

/// Header lists a handler may return in `(StatusCode, headers, body)`.
///
/// Implemented for [`Headers`], [`http::HeaderMap`] and arrays or vectors of
/// `(HeaderName, HeaderValue)` or `(&'static str, &'static str)` pairs.
/// Each header replaces any the body set under the same name.
pub trait IntoHeaders {
    /// The header fields, in order.
    fn into_headers(self) -> Vec<(HeaderName, HeaderValue)>;
}

impl IntoHeaders for Headers {
    fn into_headers(self) -> Vec<(HeaderName, HeaderValue)> {
        self.into_vec()
    }
}

impl IntoHeaders for http::HeaderMap {
    fn into_headers(self) -> Vec<(HeaderName, HeaderValue)> {
        Headers::from(&self).into_vec()
    }
}

impl<const N: usize> IntoHeaders for [(HeaderName, HeaderValue); N] {
    fn into_headers(self) -> Vec<(HeaderName, HeaderValue)> {
        self.into()
    }
}

impl IntoHeaders for Vec<(HeaderName, HeaderValue)> {
    fn into_headers(self) -> Vec<(HeaderName, HeaderValue)> {
        self
    }
}

impl<const N: usize> IntoHeaders for [(&'static str, &'static str); N] {
    fn into_headers(self) -> Vec<(HeaderName, HeaderValue)> {
        self.into_iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }
}

impl<H: IntoHeaders, T: IntoResponse> IntoResponse for (StatusCode, H, T) {
    fn into_response(self) -> Response {
        let mut response = self.2.into_response();
        *response.status_mut() = self.0;
        let mut replaced: Vec<HeaderName> = Vec::new();
        for (name, value) in self.1.into_headers() {
            if !replaced.contains(&name) {
                response.headers_mut().remove(name.as_str());
                replaced.push(name.clone());
            }
            response.headers_mut().push(name, value);
        }
        response
    }
}

/// An HTML response: `text/html; charset=utf-8`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Html<T>(pub T);

impl<T: Into<Body>> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        with_content_type(self.0, "text/html; charset=utf-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_utf8_plain() {
        let response = "hi".into_response();

        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers().get("content-type").unwrap(), TEXT);
        assert_eq!(response.body().as_bytes().unwrap(), "hi");
    }

    #[test]
    fn tuple_sets_status_and_replaces_headers() {
        let response = (
            StatusCode::CREATED,
            [("content-type", "text/csv"), ("x-a", "1")],
            "a,b",
        )
            .into_response();

        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers().get("content-type").unwrap(), "text/csv");
        assert_eq!(response.headers().len(), 2);
    }
}
