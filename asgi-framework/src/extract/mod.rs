//! Extractors: typed values taken from a request, given to handlers as arguments.
//!
//! A handler's arguments are extractors. All but the last implement
//! [`FromRequestParts`] (they read the request without consuming its body);
//! the last may implement [`FromRequest`] and consume the request (a
//! [`Json`](crate::Json) or [`Form`] body, the [`Request`] itself).
//!
//! Invalid input is rejected before the handler runs, with FastAPI's 422
//! body (see [`ValidationError`]); a JSON body without a JSON content type
//! gets 415 and an oversized body 413.

mod body;
mod cookies;
mod form;
mod headers;
pub(crate) mod json;
mod multipart;
pub(crate) mod params;
mod path;
mod query;
mod rejection;
mod state;
mod validation;

use std::future::Future;

use crate::request::Request;
use crate::response::IntoResponse;

pub use self::cookies::Cookies;
pub use self::form::Form;
pub use self::headers::HeaderParams;
pub use self::multipart::{
    Field, Multipart, MultipartError, MultipartForm, MultipartLimits, UploadFile,
};
pub use self::path::Path;
pub use self::query::Query;
pub use self::rejection::Rejection;
pub use self::state::State;
pub use self::validation::{ErrorDetail, LocItem, ValidationError};

/// Where a parameter comes from, for documentation (OpenAPI's `in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamLocation {
    /// A path parameter.
    Path,
    /// A query parameter.
    Query,
    /// A header.
    Header,
    /// A cookie.
    Cookie,
    /// The request body.
    Body,
}

/// What an extractor takes from the request, for a documentation layer.
///
/// Returned by [`FromRequestParts::describe`] and [`FromRequest::describe`];
/// the handler collects its extractors' descriptions, so an OpenAPI layer
/// can list each route's parameters and body without running anything.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParamInfo {
    /// Where the value comes from.
    pub location: ParamLocation,
    /// The parameter name, when the extractor knows it (`None` for a whole struct).
    pub name: Option<String>,
    /// The Rust type the value is deserialized into.
    pub type_name: &'static str,
    /// The media type of a body.
    pub content_type: Option<&'static str>,
}

impl ParamInfo {
    /// A description of a `type_name` value taken from `location`.
    pub fn new(location: ParamLocation, name: Option<String>, type_name: &'static str) -> Self {
        Self {
            location,
            name,
            type_name,
            content_type: None,
        }
    }

    /// Sets the media type of a body.
    #[must_use]
    pub fn with_content_type(mut self, content_type: &'static str) -> Self {
        self.content_type = Some(content_type);
        self
    }
}

/// Types that can be taken from a request without consuming its body.
///
/// Implement it for your own extractors (an authenticated user, a
/// pagination struct); any handler can then take them as arguments.
///
/// # Example
///
/// ```
/// use asgi_framework::{FromRequestParts, HttpError, Request};
/// use http::StatusCode;
///
/// struct ApiKey(String);
///
/// impl FromRequestParts for ApiKey {
///     type Rejection = HttpError;
///
///     async fn from_request_parts(request: &mut Request) -> Result<Self, HttpError> {
///         match request.header("x-api-key") {
///             Some(key) => Ok(ApiKey(key.to_owned())),
///             None => Err(HttpError::new(StatusCode::UNAUTHORIZED)),
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    note = "only the last handler argument may consume the request body (`Json`, `Form`, `Bytes`, `String`, `Request`)"
)]
pub trait FromRequestParts: Sized + Send + 'static {
    /// The response when extraction fails.
    type Rejection: IntoResponse;

    /// Takes the value from the request.
    fn from_request_parts(
        request: &mut Request,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send;

    /// What this extractor reads, for documentation; empty by default.
    fn describe() -> Vec<ParamInfo> {
        Vec::new()
    }
}

/// Types that are made from the whole request, body included.
///
/// Only a handler's last argument may be one. Every [`FromRequestParts`]
/// type is also a `FromRequest` (through the `M` marker parameter, which
/// callers never name).
#[diagnostic::on_unimplemented(
    note = "handler arguments must be extractors: `Path<T>`, `Query<T>`, `Json<T>`, `State<T>`, `Request`, ..."
)]
pub trait FromRequest<M = private::ViaRequest>: Sized + Send + 'static {
    /// The response when extraction fails.
    type Rejection: IntoResponse;

    /// Makes the value from the request.
    fn from_request(request: Request)
    -> impl Future<Output = Result<Self, Self::Rejection>> + Send;

    /// What this extractor reads, for documentation; empty by default.
    fn describe() -> Vec<ParamInfo> {
        Vec::new()
    }
}

impl<T: FromRequestParts> FromRequest<private::ViaParts> for T {
    type Rejection = <T as FromRequestParts>::Rejection;

    async fn from_request(mut request: Request) -> Result<Self, Self::Rejection> {
        T::from_request_parts(&mut request).await
    }

    fn describe() -> Vec<ParamInfo> {
        <T as FromRequestParts>::describe()
    }
}

impl<T: FromRequestParts> FromRequestParts for Option<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(request: &mut Request) -> Result<Self, Self::Rejection> {
        Ok(T::from_request_parts(request).await.ok())
    }

    fn describe() -> Vec<ParamInfo> {
        T::describe()
    }
}

pub(crate) mod private {
    /// Marks extractors that consume the request.
    #[derive(Debug, Clone, Copy)]
    pub enum ViaRequest {}
    /// Marks extractors that read only the parts.
    #[derive(Debug, Clone, Copy)]
    pub enum ViaParts {}
}

/// Decodes an urlencoded string (`a=1&b=x+y`) into pairs, in order.
pub(crate) fn query_pairs(query: &[u8]) -> Vec<(String, String)> {
    // Parsing into string pairs cannot fail: invalid UTF-8 is replaced.
    serde_urlencoded::from_bytes(query).unwrap_or_default()
}
