//! The [`Path`] extractor: typed path parameters.

use serde::de::DeserializeOwned;

use super::params::from_pairs;
use super::validation::ValidationError;
use super::{FromRequestParts, ParamInfo, ParamLocation, Rejection};
use crate::request::Request;

/// Typed path parameters, deserialized from the route's `{name}` segments.
///
/// `T` is a single value for a one-parameter route (`Path<u32>`), a tuple
/// in pattern order (`Path<(String, u32)>`), or a struct whose fields are
/// named after the parameters. A value that does not parse gives 422 with
/// `loc: ["path", name]`, one detail per invalid parameter, as FastAPI
/// does, which is why plain `{id}` plus
/// `Path<u32>` is usually preferred over the `{id:int}` converter (a
/// mismatch there is a 404).
///
/// # Example
///
/// ```
/// use asgi_framework::{Path, Router, get};
///
/// async fn item(Path(id): Path<u32>) -> String {
///     format!("item {id}")
/// }
///
/// let router = Router::new().route("/items/{id}", get(item));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send + 'static> FromRequestParts for Path<T> {
    type Rejection = Rejection;

    async fn from_request_parts(request: &mut Request) -> Result<Self, Rejection> {
        // The pairs borrow from the request: gathered on the stack (few
        // routes have more), so extraction allocates nothing on success.
        let params = request.path_params();
        if params.len() > STACK_PARAMS {
            return path_from(&params.collect::<Vec<_>>());
        }
        let mut stack = [("", ""); STACK_PARAMS];
        let len = params.len();
        for (slot, pair) in stack.iter_mut().zip(params) {
            *slot = pair;
        }
        path_from(&stack[..len])
    }

    fn describe() -> Vec<ParamInfo> {
        vec![ParamInfo::new(
            ParamLocation::Path,
            None,
            std::any::type_name::<T>(),
        )]
    }
}

/// Path parameters gathered on the stack before the extractor uses a `Vec`.
const STACK_PARAMS: usize = 4;

fn path_from<T: DeserializeOwned>(pairs: &[(&str, &str)]) -> Result<Path<T>, Rejection> {
    from_pairs(pairs, "path")
        .map(Path)
        .map_err(|error| ValidationError::from(error).into())
}
