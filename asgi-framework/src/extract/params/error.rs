//! [`ParamError`]: a failure to deserialize from pairs, located and typed as pydantic does.

use std::fmt;

use serde::de;
use serde_json::Value;

use super::super::validation::{ErrorDetail, LocItem, ValidationError, classify};

/// A failure to deserialize from pairs; becomes one [`ErrorDetail`].
///
/// Boxed, so that results carrying it stay small.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParamError(Box<ParamErrorInner>);

#[derive(Debug, Clone, PartialEq)]
struct ParamErrorInner {
    location: &'static str,
    key: Option<String>,
    input: Option<String>,
    kind: Option<(String, String)>,
    message: String,
}

impl ParamError {
    pub(super) fn set_location(&mut self, location: &'static str) {
        self.0.location = location;
    }

    pub(super) fn new(kind: &str, message: &str) -> Self {
        Self(Box::new(ParamErrorInner {
            location: "",
            key: None,
            input: None,
            kind: Some((kind.to_owned(), message.to_owned())),
            message: message.to_owned(),
        }))
    }

    /// The field the error is about, if known.
    pub(super) fn key(&self) -> Option<&str> {
        self.0.key.as_deref()
    }

    pub(super) fn at(mut self, key: &str, input: &str) -> Self {
        self.0.key.get_or_insert_with(|| key.to_owned());
        self.0.input.get_or_insert_with(|| input.to_owned());
        self
    }

    pub(crate) fn into_detail(self) -> ErrorDetail {
        let this = *self.0;
        this.into_detail()
    }
}

impl ParamErrorInner {
    fn into_detail(self) -> ErrorDetail {
        let mut loc = vec![LocItem::from(self.location)];
        loc.extend(self.key.map(LocItem::Name));
        let is_missing = matches!(&self.kind, Some((kind, _)) if kind == "missing");
        let (kind, msg) = self
            .kind
            .unwrap_or_else(|| classify(&self.message, self.input.is_some()));
        let input = match self.input {
            Some(input) if !is_missing => Value::String(input),
            _ => Value::Null,
        };
        ErrorDetail::new(&kind, loc, msg, input)
    }
}

impl From<ParamError> for ValidationError {
    fn from(error: ParamError) -> Self {
        ValidationError::from(error.into_detail())
    }
}

/// Every invalid field of one extraction (at least one), in the order the
/// target declares its fields; becomes a [`ValidationError`] with one
/// [`ErrorDetail`] each.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InvalidParams(Vec<ParamError>);

impl InvalidParams {
    pub(super) fn new(errors: Vec<ParamError>) -> Self {
        Self(errors)
    }

    /// One detail per invalid field.
    pub(crate) fn into_details(self) -> Vec<ErrorDetail> {
        self.0.into_iter().map(ParamError::into_detail).collect()
    }
}

impl From<InvalidParams> for ValidationError {
    fn from(errors: InvalidParams) -> Self {
        ValidationError::new(errors.into_details())
    }
}

impl fmt::Display for InvalidParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            fmt::Display::fmt(error, f)?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidParams {}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for ParamError {}

impl de::Error for ParamError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self(Box::new(ParamErrorInner {
            location: "",
            key: None,
            input: None,
            kind: None,
            message: message.to_string(),
        }))
    }

    fn missing_field(field: &'static str) -> Self {
        let mut error = Self::new("missing", "Field required");
        error.0.key = Some(field.to_owned());
        error
    }
}
