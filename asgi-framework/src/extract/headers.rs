//! Header extractors: the whole list, a [`http::HeaderMap`], or typed [`HeaderParams`].

use std::convert::Infallible;

use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;

use super::params::from_pairs;
use super::validation::{LocItem, ValidationError};
use super::{FromRequestParts, ParamInfo, ParamLocation, Rejection};
use crate::request::Request;

impl FromRequestParts for HeaderMap {
    type Rejection = Infallible;

    async fn from_request_parts(request: &mut Request) -> Result<Self, Infallible> {
        Ok(request.headers().to_header_map())
    }
}

impl FromRequestParts for asgi_core::Headers {
    type Rejection = Infallible;

    async fn from_request_parts(request: &mut Request) -> Result<Self, Infallible> {
        Ok(request.headers().clone())
    }
}

impl FromRequestParts for Method {
    type Rejection = Infallible;

    async fn from_request_parts(request: &mut Request) -> Result<Self, Infallible> {
        Ok(request.method().clone())
    }
}

/// Typed headers, deserialized into a struct (FastAPI's `Header()` parameters).
///
/// Field names match header names with `-` read as `_` (`user_agent` is
/// `User-Agent`), case-insensitively. Values that are not visible ASCII are
/// skipped. A missing required header or a bad value gives 422 with
/// `loc: ["header", name]`.
///
/// # Example
///
/// ```
/// use asgi_framework::HeaderParams;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Auth { x_token: String, user_agent: Option<String> }
///
/// async fn me(HeaderParams(auth): HeaderParams<Auth>) -> String {
///     auth.x_token
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeaderParams<T>(pub T);

impl<T: DeserializeOwned + Send + 'static> FromRequestParts for HeaderParams<T> {
    type Rejection = Rejection;

    async fn from_request_parts(request: &mut Request) -> Result<Self, Rejection> {
        let pairs: Vec<(String, String)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                let value = value.to_str().ok()?;
                Some((name.as_str().replace('-', "_"), value.to_owned()))
            })
            .collect();
        from_pairs(&pairs, "header")
            .map(HeaderParams)
            .map_err(|errors| {
                // Report the header's name (`x-token`), as FastAPI does, not the field's.
                let mut details = errors.into_details();
                for detail in &mut details {
                    if let Some(LocItem::Name(name)) = detail.loc.get_mut(1) {
                        *name = name.replace('_', "-");
                    }
                }
                ValidationError::new(details).into()
            })
    }

    fn describe() -> Vec<ParamInfo> {
        vec![ParamInfo::new(
            ParamLocation::Header,
            None,
            std::any::type_name::<T>(),
        )]
    }
}
