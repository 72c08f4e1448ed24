//! The [`Query`] extractor: typed query parameters.

use std::borrow::Cow;

use serde::de::DeserializeOwned;

use super::params::from_pairs;
use super::validation::ValidationError;
use super::{FromRequestParts, ParamInfo, ParamLocation, Rejection, parse_query};
use crate::request::Request;

/// Typed query parameters, deserialized from the query string.
///
/// `T` is usually a struct: `Option` fields are optional, others required
/// (422 `missing` when absent), `Vec` fields collect repeated keys, and a
/// scalar field takes the last value of a repeated key, as Starlette does.
/// Every invalid or missing field is reported, one 422 detail each, in the
/// order the fields are declared (as FastAPI does).
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
        // Pairs borrowed from the query string where possible (see
        // `parse_query`), not the owned copies `Request::query_pairs` makes,
        // and held on the stack when there are few of them.
        let mut pairs = parse_query(request.query_string());
        let mut stack: [(Cow<'_, str>, Cow<'_, str>); STACK_PAIRS] = Default::default();
        let mut len = 0;
        for pair in pairs.by_ref() {
            if len == STACK_PAIRS {
                // More than fit: move to the heap for the rest.
                let mut heap: Vec<_> = stack.into_iter().collect();
                heap.push(pair);
                heap.extend(pairs);
                return query_from(&heap);
            }
            stack[len] = pair;
            len += 1;
        }
        query_from(&stack[..len])
    }

    fn describe() -> Vec<ParamInfo> {
        vec![ParamInfo::new(
            ParamLocation::Query,
            None,
            std::any::type_name::<T>(),
        )]
    }
}

/// Query pairs kept on the stack before the extractor moves them to a `Vec`.
const STACK_PAIRS: usize = 8;

fn query_from<T: DeserializeOwned>(
    pairs: &[(Cow<'_, str>, Cow<'_, str>)],
) -> Result<Query<T>, Rejection> {
    from_pairs(pairs, "query")
        .map(Query)
        .map_err(|error| ValidationError::from(error).into())
}
