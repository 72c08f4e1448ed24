//! [`Json`]: a JSON response, and the JSON body extractor.

use std::cell::RefCell;

use bytes::Bytes;
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
        match to_bytes(&self.0) {
            Ok(body) => Response::new(body).header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            Err(error) => crate::Error::from(error).into_response(),
        }
    }
}

/// Bodies up to this size are serialized into a reused per-thread buffer
/// and copied out; larger ones keep the buffer they were written into.
const REUSED_BUFFER: usize = 16 * 1024;

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Serializes `value` into `Bytes` with one allocation of the exact size.
///
/// `serde_json::to_vec` starts a `Vec` at 128 bytes and grows it, and
/// `Bytes::from(Vec)` allocates a second block for the reference count
/// whenever length and capacity differ. Writing into a reused per-thread
/// buffer and copying the result out gives an exact-size block, which
/// `Bytes` takes over without that second allocation.
fn to_bytes<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Bytes> {
    BUFFER.with(|buffer| {
        // A `Serialize` impl that itself makes a `Json` response finds the
        // buffer taken: it gets a fresh one.
        let Ok(mut buffer) = buffer.try_borrow_mut() else {
            return serde_json::to_vec(value).map(Bytes::from);
        };
        buffer.clear();
        let written = serde_json::to_writer(&mut *buffer, value);
        let bytes = if buffer.len() <= REUSED_BUFFER {
            Bytes::copy_from_slice(&buffer)
        } else {
            Bytes::from(std::mem::take(&mut *buffer))
        };
        buffer.clear();
        written.map(|()| bytes)
    })
}
