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

use std::borrow::Cow;
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

    /// Extracts a handler's last argument from the request its future
    /// holds in `slot`. Extractors that only read parts leave the request
    /// where it is (no copy of it in their future); others take it.
    /// Not for use outside the crate.
    #[doc(hidden)]
    fn from_request_in(
        slot: &mut Option<Request>,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send + '_
    where
        M: 'static,
    {
        Self::from_request(
            slot.take()
                .expect("a handler's last argument is extracted once"),
        )
    }

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

    fn from_request_in(
        slot: &mut Option<Request>,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send + '_ {
        T::from_request_parts(crate::handler::request_in(slot))
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
    parse_query(query)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

/// Decodes an urlencoded string into pairs that borrow from it where
/// nothing needed decoding (no `+`, no `%XX`, valid UTF-8): the `Query`
/// extractor then allocates nothing for the pairs themselves.
///
/// The same decoding as `form_urlencoded::parse` (what `serde_urlencoded`
/// uses): `&`-separated, empty pieces skipped, split at the first `=`, `+`
/// as a space, percent-decoding, invalid UTF-8 replaced.
pub(crate) fn parse_query(query: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query
        .split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = match piece.iter().position(|&b| b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &[][..]),
            };
            (decode_component(name), decode_component(value))
        })
}

/// `+` to space, then percent-decoding, then UTF-8 (lossy).
fn decode_component(input: &[u8]) -> Cow<'_, str> {
    // The common case, nothing to decode: one scan and a UTF-8 check
    // (`from_utf8` is much cheaper than `from_utf8_lossy`'s chunking).
    if !input.iter().any(|&b| b == b'+' || b == b'%')
        && let Ok(text) = std::str::from_utf8(input)
    {
        return Cow::Borrowed(text);
    }
    let replaced: Cow<'_, [u8]> = if input.contains(&b'+') {
        Cow::Owned(
            input
                .iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(input)
    };
    let decoded: Cow<'_, [u8]> = match percent_encoding::percent_decode(&replaced).into() {
        Cow::Owned(bytes) => Cow::Owned(bytes),
        Cow::Borrowed(_) => replaced,
    };
    match decoded {
        Cow::Borrowed(bytes) => String::from_utf8_lossy(bytes),
        Cow::Owned(bytes) => Cow::Owned(
            String::from_utf8(bytes)
                .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_decodes_as_serde_urlencoded_does() {
        let inputs: [&[u8]; 10] = [
            b"",
            b"q=hello",
            b"a=1&b=x+y&a=2",
            b"&&k&=v&k2=&%3D=%26",
            b"name=caf%C3%A9&bad=%FF%FE&plus=%2B+%2b",
            b"x=%zz&y=%4&z=%",
            b"sp=a%20b+c&empty",
            b"utf8=\xc3\xa9&latin=\xe9",
            b"=only-value&only-key=",
            b"a=b=c&&&d",
        ];
        for input in inputs {
            let expected: Vec<(String, String)> = serde_urlencoded::from_bytes(input).unwrap();
            let borrowed: Vec<(String, String)> = parse_query(input)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();

            assert_eq!(query_pairs(input), expected, "{input:?}");
            assert_eq!(borrowed, expected, "{input:?}");
        }
    }

    #[test]
    fn plain_query_components_are_borrowed() {
        let pairs: Vec<_> = parse_query(b"q=hello&n=42").collect();

        assert!(
            pairs
                .iter()
                .all(|(k, v)| matches!((k, v), (Cow::Borrowed(_), Cow::Borrowed(_))))
        );
    }
}
