//! The [`Json`] body extractor: content type check (415), parse, 422 with locations.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::validation::{ErrorDetail, LocItem, ValidationError, classify};
use super::{FromRequest, ParamInfo, ParamLocation, Rejection};
use crate::json::Json;
use crate::request::Request;

impl<T: DeserializeOwned + Send + 'static> FromRequest for Json<T> {
    type Rejection = Rejection;

    async fn from_request(mut request: Request) -> Result<Self, Rejection> {
        // As FastAPI: no content type is read as JSON; another one is refused.
        if let Some(content_type) = request.content_type()
            && !is_json(Some(&content_type))
        {
            return Err(Rejection::UnsupportedMediaType);
        }
        let bytes = request.body().await?;
        Ok(Json(decode(&bytes)?))
    }

    fn describe() -> Vec<ParamInfo> {
        vec![
            ParamInfo::new(ParamLocation::Body, None, std::any::type_name::<T>())
                .with_content_type("application/json"),
        ]
    }
}

/// `application/json` or any `application/*+json`.
fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json"))
    })
}

/// Parses a JSON body into `T`, describing failures as FastAPI does.
///
/// The fast path parses straight into `T`. Only on failure is the body
/// parsed again as a [`Value`], to find where and what the problem is.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ValidationError> {
    if let Ok(value) = serde_json::from_slice::<T>(bytes) {
        return Ok(value);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ErrorDetail::missing(vec!["body".into()], Value::Null).into());
    }
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(syntax) => return Err(json_invalid(bytes, &syntax).into()),
    };
    serde_path_to_error::deserialize::<_, T>(&value)
        .map_err(|located| describe(&value, &located).into())
}

/// `json_invalid` at the byte offset of the syntax error.
fn json_invalid(bytes: &[u8], error: &serde_json::Error) -> ErrorDetail {
    let offset = offset_of(bytes, error.line(), error.column());
    let message = error.to_string();
    let reason = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    let mut detail = ErrorDetail::new(
        "json_invalid",
        vec!["body".into(), LocItem::Index(offset)],
        "JSON decode error",
        Value::Object(Default::default()),
    );
    detail.ctx = Some(serde_json::json!({ "error": reason }));
    detail
}

/// The byte offset of a 1-based (line, column) position.
fn offset_of(bytes: &[u8], line: usize, column: usize) -> usize {
    let line_start: usize = bytes
        .split(|&b| b == b'\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    (line_start + column.saturating_sub(1)).min(bytes.len())
}

fn describe(value: &Value, error: &serde_path_to_error::Error<serde_json::Error>) -> ErrorDetail {
    let mut loc = vec![LocItem::from("body")];
    let mut input = value;
    for segment in error.path().iter() {
        use serde_path_to_error::Segment;
        match segment {
            Segment::Seq { index } => {
                loc.push(LocItem::Index(*index));
                input = input.get(index).unwrap_or(&Value::Null);
            }
            Segment::Map { key } | Segment::Enum { variant: key } => {
                loc.push(LocItem::Name(key.clone()));
                input = input.get(key).unwrap_or(&Value::Null);
            }
            Segment::Unknown => {}
        }
    }
    let message = error.inner().to_string();
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        loc.push(LocItem::from(field));
        return ErrorDetail::missing(loc, input.clone());
    }
    let (kind, msg) = classify(&message, input.is_string());
    ErrorDetail::new(&kind, loc, msg, input.clone())
}

impl Request {
    /// Whether the request declares a JSON body (`application/json` or `+json`).
    pub fn is_json(&self) -> bool {
        is_json(self.content_type().as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        name: String,
        price: f64,
        tags: Vec<u32>,
    }

    fn error_of(body: &'static str) -> Value {
        let error = decode::<Item>(&Bytes::from_static(body.as_bytes())).unwrap_err();
        serde_json::to_value(&error.errors()[0]).unwrap()
    }

    #[test]
    fn syntax_errors_are_json_invalid_at_their_offset() {
        assert_eq!(
            error_of("{\"name\": }"),
            json!({"type":"json_invalid","loc":["body",9],"msg":"JSON decode error","input":{},"ctx":{"error":"expected value"}})
        );
    }

    #[test]
    fn missing_fields_point_at_the_field_with_the_object_as_input() {
        assert_eq!(
            error_of(r#"{"name":"a","tags":[]}"#),
            json!({"type":"missing","loc":["body","price"],"msg":"Field required","input":{"name":"a","tags":[]}})
        );
    }

    #[test]
    fn wrong_types_are_located_inside_lists() {
        assert_eq!(
            error_of(r#"{"name":"a","price":1,"tags":[1,"x"]}"#),
            json!({"type":"int_parsing","loc":["body","tags",1],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"x"})
        );
        assert_eq!(
            error_of(r#"{"name":5,"price":1,"tags":[]}"#),
            json!({"type":"string_type","loc":["body","name"],"msg":"Input should be a valid string","input":5})
        );
    }

    #[test]
    fn empty_body_is_missing() {
        assert_eq!(
            error_of(""),
            json!({"type":"missing","loc":["body"],"msg":"Field required","input":null})
        );
    }

    #[test]
    fn json_content_types_are_recognised() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("application/vnd.api+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }
}
