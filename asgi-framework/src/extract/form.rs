//! The [`Form`] extractor: an urlencoded form body.

use serde::de::DeserializeOwned;

use super::params::from_pairs;
use super::validation::ValidationError;
use super::{FromRequest, ParamInfo, ParamLocation, Rejection, query_pairs};
use crate::request::Request;

/// A typed `application/x-www-form-urlencoded` body.
///
/// Another content type gives 415; fields that do not parse give 422 with
/// `loc: ["body", field]`. (Multipart forms have their own extractor.)
///
/// # Example
///
/// ```
/// use asgi_framework::Form;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Login { username: String, remember: Option<bool> }
///
/// async fn login(Form(form): Form<Login>) -> String {
///     format!("hello {}", form.username)
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned + Send + 'static> FromRequest for Form<T> {
    type Rejection = Rejection;

    async fn from_request(mut request: Request) -> Result<Self, Rejection> {
        if request.content_type().as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(Rejection::UnsupportedMediaType);
        }
        let bytes = request.body().await?;
        from_pairs(&query_pairs(&bytes), "body")
            .map(Form)
            .map_err(|error| ValidationError::from(error).into())
    }

    fn describe() -> Vec<ParamInfo> {
        vec![
            ParamInfo::new(ParamLocation::Body, None, std::any::type_name::<T>())
                .with_content_type("application/x-www-form-urlencoded"),
        ]
    }
}
