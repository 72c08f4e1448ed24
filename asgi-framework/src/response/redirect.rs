//! Redirect responses.

use http::StatusCode;
use http::header::{self, HeaderValue};

use super::{IntoResponse, Response};

/// A redirect: 307 Temporary Redirect by default, as Starlette's `RedirectResponse`.
///
/// 307 and 308 keep the method and body; 303 tells the client to follow with GET.
///
/// # Example
///
/// ```
/// use asgi_framework::Redirect;
///
/// async fn old() -> Redirect {
///     Redirect::to("/new")
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Redirect {
    status: StatusCode,
    location: String,
}

impl Redirect {
    /// 307 Temporary Redirect to `location`.
    pub fn to(location: impl Into<String>) -> Self {
        Self::with_status(StatusCode::TEMPORARY_REDIRECT, location)
    }

    /// 308 Permanent Redirect to `location`.
    pub fn permanent(location: impl Into<String>) -> Self {
        Self::with_status(StatusCode::PERMANENT_REDIRECT, location)
    }

    /// 303 See Other to `location`, after a form POST.
    pub fn see_other(location: impl Into<String>) -> Self {
        Self::with_status(StatusCode::SEE_OTHER, location)
    }

    /// A redirect with any 3xx `status`.
    pub fn with_status(status: StatusCode, location: impl Into<String>) -> Self {
        Self {
            status,
            location: location.into(),
        }
    }

    /// The target.
    pub fn location(&self) -> &str {
        &self.location
    }
}

impl IntoResponse for Redirect {
    fn into_response(self) -> Response {
        // Percent-encode what a header value cannot carry (Starlette quotes the URL too).
        let encoded = percent_encoding::utf8_percent_encode(&self.location, LOCATION).to_string();
        match HeaderValue::from_str(&encoded) {
            Ok(value) => Response::with_status(self.status).header(header::LOCATION, value),
            Err(_) => crate::HttpError::internal().into_response(),
        }
    }
}

/// Bytes escaped in a `Location`: controls, space and non-ASCII, never URL syntax.
const LOCATION: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_redirect_is_307_with_location() {
        let response = Redirect::to("/a b").into_response();

        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(response.headers().get("location").unwrap(), "/a%20b");
    }
}
