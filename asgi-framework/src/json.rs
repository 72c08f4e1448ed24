//! [`Json`]: a JSON response, and the JSON body extractor.

use http::header::{self, HeaderValue};
use serde::Serialize;

use crate::response::{IntoResponse, Response};

/// JSON in both directions: a response body, or an extracted request body.
///
/// As a response, `Json(value)` serializes with `serde_json` and sets
/// `Content-Type: application/json`; a serialization failure gives a 500.
/// As an extractor, `Json<T>` reads the body, refuses a content type other
/// than JSON with 415 (a body without one is read as JSON, as FastAPI does)
/// and deserializes it, answering 422 with FastAPI's error
/// list when the body does not fit `T`.
///
/// # Example
///
/// ```
/// use asgi_framework::Json;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Deserialize, Serialize)]
/// struct Item { name: String, price: f64 }
///
/// async fn create(Json(item): Json<Item>) -> Json<Item> {
///     Json(item)
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::new(body).header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            Err(error) => crate::Error::from(error).into_response(),
        }
    }
}
