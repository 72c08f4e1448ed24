//! The [`Query`] extractor: typed query parameters.

use serde::de::DeserializeOwned;

use super::params::from_pairs;
use super::validation::ValidationError;
use super::{FromRequestParts, ParamInfo, ParamLocation, Rejection};
use crate::request::Request;

/// Typed query parameters, deserialized from the query string.
///
/// `T` is usually a struct: `Option` fields are optional, others required
/// (422 `missing` when absent), `Vec` fields collect repeated keys, and a
/// scalar field takes the last value of a repeated key, as Starlette does.
///
/// # Example
///
/// ```
/// use asgi_framework::{Json, Query};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Page { q: Option<String>, limit: Option<u32> }
///
/// async fn search(Query(page): Query<Page>) -> String {
///     format!("{:?} {:?}", page.q, page.limit)
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Send + 'static> FromRequestParts for Query<T> {
    type Rejection = Rejection;

    async fn from_request_parts(request: &mut Request) -> Result<Self, Rejection> {
        from_pairs(&request.query_pairs(), "query")
            .map(Query)
            .map_err(|error| ValidationError::from(error).into())
    }

    fn describe() -> Vec<ParamInfo> {
        vec![ParamInfo::new(
            ParamLocation::Query,
            None,
            std::any::type_name::<T>(),
        )]
    }
}
