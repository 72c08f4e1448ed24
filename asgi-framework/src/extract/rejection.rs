//! [`Rejection`]: why a built-in extractor refused a request.

use std::fmt;

use http::StatusCode;

use super::validation::ValidationError;
use crate::error::HttpError;
use crate::request::BodyError;
use crate::response::{IntoResponse, Response};

/// Why a built-in extractor refused a request, and the response that says so.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Rejection {
    /// The input does not fit the expected type: 422 with FastAPI's error list.
    Validation(ValidationError),
    /// A body extractor got the wrong `Content-Type`: 415.
    UnsupportedMediaType,
    /// The body could not be read: 413 when too large, 400 when cut short.
    Body(BodyError),
    /// The application is missing something the handler needs (state of a
    /// type never registered): 500, since it is a programming error.
    MissingState(&'static str),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Validation(error) => error.fmt(f),
            Rejection::UnsupportedMediaType => f.write_str("unsupported media type"),
            Rejection::Body(error) => error.fmt(f),
            Rejection::MissingState(name) => write!(f, "no application state of type {name}"),
        }
    }
}

impl std::error::Error for Rejection {}

impl From<ValidationError> for Rejection {
    fn from(error: ValidationError) -> Self {
        Rejection::Validation(error)
    }
}

impl From<BodyError> for Rejection {
    fn from(error: BodyError) -> Self {
        Rejection::Body(error)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::Validation(error) => error.into_response(),
            Rejection::UnsupportedMediaType => {
                HttpError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE).into_response()
            }
            Rejection::Body(error) => error.into_response(),
            Rejection::MissingState(name) => {
                tracing::error!(state = name, "handler asks for state the application lacks");
                HttpError::internal().into_response()
            }
        }
    }
}
