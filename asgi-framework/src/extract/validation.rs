//! 422 validation errors in FastAPI's shape, with pydantic v2's types and messages.

use std::fmt;

use http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use crate::response::{IntoResponse, Response};

/// One element of an error location: a name or an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum LocItem {
    /// A field or parameter name, or the location (`"path"`, `"query"`, `"body"`).
    Name(String),
    /// A position in a list, or a byte offset in an invalid JSON body.
    Index(usize),
}

impl From<&str> for LocItem {
    fn from(name: &str) -> Self {
        LocItem::Name(name.to_owned())
    }
}

impl From<String> for LocItem {
    fn from(name: String) -> Self {
        LocItem::Name(name)
    }
}

impl From<usize> for LocItem {
    fn from(index: usize) -> Self {
        LocItem::Index(index)
    }
}

/// One validation failure: `{"type", "loc", "msg", "input"}` (and `ctx` when set).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorDetail {
    /// pydantic's error type: `int_parsing`, `missing`, `json_invalid`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Where: `["path", "id"]`, `["body", "items", 0, "price"]`.
    pub loc: Vec<LocItem>,
    /// The human-readable message, as pydantic words it.
    pub msg: String,
    /// The offending input (`null` when missing).
    pub input: Value,
    /// Extra context, as pydantic gives for some types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Value>,
}

impl ErrorDetail {
    /// A detail of `kind` at `loc` with `msg` and `input`.
    pub fn new(kind: &str, loc: Vec<LocItem>, msg: impl Into<String>, input: Value) -> Self {
        Self {
            kind: kind.to_owned(),
            loc,
            msg: msg.into(),
            input,
            ctx: None,
        }
    }

    /// `missing`: "Field required".
    pub fn missing(loc: Vec<LocItem>, input: Value) -> Self {
        Self::new("missing", loc, "Field required", input)
    }
}

/// A request that failed validation: 422 with `{"detail": [...]}`.
///
/// Extractors collect one [`ErrorDetail`] per problem; the body is exactly
/// FastAPI's, for example
/// `{"detail":[{"type":"int_parsing","loc":["path","id"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationError {
    errors: Vec<ErrorDetail>,
}

impl ValidationError {
    /// A validation error with these details.
    pub fn new(errors: Vec<ErrorDetail>) -> Self {
        Self { errors }
    }

    /// The details.
    pub fn errors(&self) -> &[ErrorDetail] {
        &self.errors
    }

    /// Adds the details of `other`.
    pub fn extend(&mut self, other: ValidationError) {
        self.errors.extend(other.errors);
    }

    /// The response body: `{"detail": [...]}`, keys in FastAPI's order.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            detail: &'a [ErrorDetail],
        }
        serde_json::to_string(&Body {
            detail: &self.errors,
        })
        .unwrap_or_else(|_| r#"{"detail":[]}"#.to_owned())
    }
}

impl From<ErrorDetail> for ValidationError {
    fn from(detail: ErrorDetail) -> Self {
        Self::new(vec![detail])
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} validation error(s)", self.errors.len())?;
        for error in &self.errors {
            write!(f, "; {}: {}", error.kind, error.msg)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

impl IntoResponse for ValidationError {
    fn into_response(self) -> Response {
        let body = self.to_json();
        let mut response = Response::new(body)
            .status_code(StatusCode::UNPROCESSABLE_ENTITY)
            .header(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
        response.set_error(std::sync::Arc::new(self));
        response
    }
}

/// pydantic's (type, message) for a serde error message about a value.
///
/// serde reports type mismatches as text (`invalid type: string "x",
/// expected u32`); this maps the expected type to pydantic's wording. When
/// the input is a string that should have been parsed, the `*_parsing` type
/// is used, as pydantic's lax mode would report it.
pub(crate) fn classify(message: &str, input_is_string: bool) -> (String, String) {
    let expected = message
        .split_once(", expected ")
        .map_or("", |(_, expected)| expected);
    let (kind, msg) = if message.starts_with("unknown variant") {
        return ("enum".to_owned(), enum_message(message));
    } else if is_integer(expected) {
        if input_is_string {
            (
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
            )
        } else {
            ("int_type", "Input should be a valid integer")
        }
    } else if expected.starts_with("f32") || expected.starts_with("f64") {
        if input_is_string {
            (
                "float_parsing",
                "Input should be a valid number, unable to parse string as a number",
            )
        } else {
            ("float_type", "Input should be a valid number")
        }
    } else if expected.starts_with("a boolean") {
        if input_is_string {
            (
                "bool_parsing",
                "Input should be a valid boolean, unable to interpret input",
            )
        } else {
            ("bool_type", "Input should be a valid boolean")
        }
    } else if expected.starts_with("a string") || expected.starts_with("a borrowed string") {
        ("string_type", "Input should be a valid string")
    } else if expected.starts_with("a sequence") || expected.starts_with("a tuple") {
        ("list_type", "Input should be a valid list")
    } else if expected.starts_with("struct") || expected.starts_with("a map") {
        (
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
        )
    } else if let Some(reason) = uuid_error(message) {
        return (
            "uuid_parsing".to_owned(),
            format!("Input should be a valid UUID, {reason}"),
        );
    } else {
        return ("value_error".to_owned(), format!("Value error, {message}"));
    };
    (kind.to_owned(), msg.to_owned())
}

fn is_integer(expected: &str) -> bool {
    let name = expected.split_whitespace().next().unwrap_or("");
    matches!(
        name,
        "i8" | "i16"
            | "i32"
            | "i64"
            | "i128"
            | "isize"
            | "u8"
            | "u16"
            | "u32"
            | "u64"
            | "u128"
            | "usize"
    ) || expected.starts_with("an integer")
}

/// The reason of a `uuid` crate parse error, which pydantic (built on that crate) quotes.
fn uuid_error(message: &str) -> Option<&str> {
    let reason = message
        .strip_prefix("UUID parsing failed: ")
        .unwrap_or(message);
    let known = [
        "invalid character:",
        "invalid length:",
        "invalid group count:",
        "invalid group length",
    ];
    known
        .iter()
        .any(|prefix| reason.starts_with(prefix))
        .then_some(reason)
}

/// `unknown variant `x`, expected one of `a`, `b`` -> `Input should be 'a' or 'b'`.
fn enum_message(message: &str) -> String {
    let expected = message.split_once("expected ").map_or("", |(_, rest)| rest);
    let names: Vec<String> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|name| format!("'{name}'"))
        .collect();
    match names.split_last() {
        Some((last, [])) => format!("Input should be {last}"),
        Some((last, rest)) => format!("Input should be {} or {last}", rest.join(", ")),
        None => "Input should be a valid enumeration member".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_serializes_in_fastapi_shape() {
        let error = ValidationError::from(ErrorDetail::new(
            "int_parsing",
            vec!["path".into(), "id".into()],
            "Input should be a valid integer, unable to parse string as an integer",
            serde_json::json!("abc"),
        ));

        assert_eq!(
            error.to_json(),
            r#"{"detail":[{"type":"int_parsing","loc":["path","id"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]}"#
        );
    }

    #[test]
    fn serde_messages_map_to_pydantic_types() {
        let cases = [
            (
                "invalid type: string \"x\", expected u32",
                true,
                "int_parsing",
            ),
            (
                "invalid type: boolean `true`, expected i64",
                false,
                "int_type",
            ),
            (
                "invalid type: string \"x\", expected f64",
                true,
                "float_parsing",
            ),
            (
                "invalid type: integer `1`, expected a string",
                false,
                "string_type",
            ),
            (
                "invalid type: string \"x\", expected a boolean",
                true,
                "bool_parsing",
            ),
            (
                "invalid type: integer `1`, expected a sequence",
                false,
                "list_type",
            ),
            (
                "invalid length: expected length 32 for simple format, found 3",
                true,
                "uuid_parsing",
            ),
            ("unknown variant `c`, expected `a` or `b`", true, "enum"),
            ("something else", true, "value_error"),
        ];
        for (message, is_string, kind) in cases {
            assert_eq!(classify(message, is_string).0, kind, "{message}");
        }
    }

    #[test]
    fn enum_message_lists_the_variants() {
        assert_eq!(
            enum_message("unknown variant `c`, expected one of `a`, `b`, `d`"),
            "Input should be 'a', 'b' or 'd'"
        );
        assert_eq!(
            enum_message("unknown variant `c`, expected `a`"),
            "Input should be 'a'"
        );
    }
}
