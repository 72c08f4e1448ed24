//! Range checks for query parameters, answered with FastAPI's 422 shape.
//!
//! FastAPI declares bounds on the parameter (`Query(le=60000)`); the
//! framework's extractors check types only, so the examples check bounds in
//! the handler and build the same error pydantic would.

use asgi_framework::ValidationError;
use asgi_framework::extract::ErrorDetail;
use serde_json::json;

/// `Ok` if `value <= max`, else pydantic's `less_than_equal` error at `["query", name]`.
///
/// # Errors
///
/// The 422 [`ValidationError`] when `value` is above `max`.
pub fn at_most(name: &str, value: u64, max: u64) -> Result<u64, ValidationError> {
    if value <= max {
        return Ok(value);
    }
    let mut detail = ErrorDetail::new(
        "less_than_equal",
        vec!["query".into(), name.into()],
        format!("Input should be less than or equal to {max}"),
        json!(value.to_string()),
    );
    detail.ctx = Some(json!({ "le": max }));
    Err(ValidationError::from(detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_up_to_the_bound_pass() {
        assert_eq!(at_most("ms", 0, 10).ok(), Some(0));
        assert_eq!(at_most("ms", 10, 10).ok(), Some(10));
    }

    #[test]
    fn values_above_the_bound_are_422_in_fastapi_shape() {
        let error = at_most("ms", 11, 10).unwrap_err();

        assert_eq!(
            error.to_json(),
            r#"{"detail":[{"type":"less_than_equal","loc":["query","ms"],"msg":"Input should be less than or equal to 10","input":"11","ctx":{"le":10}}]}"#
        );
    }
}
