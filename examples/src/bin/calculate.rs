//! Run with: cargo run -p examples --bin calculate
//!
//! Typed query parameters and their validation errors, FastAPI style:
//!
//! ```text
//! GET /calculate?a=1&b=2          -> 200 {"a":1.0,"b":2.0,"op":"add","result":3.0}
//! GET /calculate?a=7&b=2&op=div   -> 200 {"a":7.0,"b":2.0,"op":"div","result":3.5}
//! GET /calculate?a=one&b=2        -> 422 {"detail":[{"type":"float_parsing","loc":["query","a"],..}]}
//! GET /calculate?a=1              -> 422 missing at ["query","b"]
//! GET /calculate?a=1&b=2&op=pow   -> 422 enum at ["query","op"]: Input should be 'add', 'sub', 'mul' or 'div'
//! GET /calculate?a=1&b=0&op=div   -> 422 value_error at ["query","b"]: division by zero
//! ```
//!
//! The `Query<Calculation>` extractor rejects what does not fit the struct
//! before the handler runs; the handler adds the checks the types cannot
//! express (finite numbers, no division by zero) in the same shape.

use std::process::ExitCode;

use asgi_framework::extract::ErrorDetail;
use asgi_framework::{Application, Json, Query, ValidationError, get};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The operations `/calculate` knows, as `op=add|sub|mul|div`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Op {
    #[default]
    Add,
    Sub,
    Mul,
    Div,
}

/// The query of `/calculate`: `a` and `b` required, `op` defaults to `add`.
#[derive(Debug, Deserialize)]
struct Calculation {
    a: f64,
    b: f64,
    #[serde(default)]
    op: Op,
}

/// The answer: the inputs again, and the result.
#[derive(Debug, Serialize)]
struct Answer {
    a: f64,
    b: f64,
    op: Op,
    result: f64,
}

fn error(kind: &str, field: &str, msg: &str, input: f64) -> ValidationError {
    ValidationError::from(ErrorDetail::new(
        kind,
        vec!["query".into(), field.into()],
        msg,
        json!(input.to_string()),
    ))
}

async fn calculate(Query(calc): Query<Calculation>) -> Result<Json<Answer>, ValidationError> {
    let mut problems = Vec::new();
    for (field, value) in [("a", calc.a), ("b", calc.b)] {
        if !value.is_finite() {
            problems.push(error(
                "finite_number",
                field,
                "Input should be a finite number",
                value,
            ));
        }
    }
    if calc.op == Op::Div && calc.b == 0.0 {
        problems.push(error(
            "value_error",
            "b",
            "Value error, division by zero",
            calc.b,
        ));
    }
    if let Some(mut first) = problems.pop() {
        for other in problems {
            first.extend(other);
        }
        return Err(first);
    }
    let result = match calc.op {
        Op::Add => calc.a + calc.b,
        Op::Sub => calc.a - calc.b,
        Op::Mul => calc.a * calc.b,
        Op::Div => calc.a / calc.b,
    };
    if !result.is_finite() {
        let detail = ErrorDetail::new(
            "value_error",
            vec!["query".into()],
            "Value error, the result is too large to represent",
            json!(null),
        );
        return Err(detail.into());
    }
    Ok(Json(Answer {
        a: calc.a,
        b: calc.b,
        op: calc.op,
        result,
    }))
}

fn app() -> Application {
    Application::new().route("/calculate", get(calculate))
}

fn main() -> ExitCode {
    asgi_server::run(app())
}

#[cfg(test)]
mod tests {
    use asgi_framework::testing::TestClient;
    use serde_json::Value;

    use super::*;

    async fn get_json(path: &str) -> (u16, Value) {
        let response = TestClient::new(app()).get(path).send().await;
        (response.status().as_u16(), response.json())
    }

    #[tokio::test]
    async fn adds_by_default() {
        let (status, body) = get_json("/calculate?a=1&b=2").await;

        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"a": 1.0, "b": 2.0, "op": "add", "result": 3.0})
        );
    }

    #[tokio::test]
    async fn every_operation_computes() {
        for (op, result) in [("add", 9.5), ("sub", 5.5), ("mul", 15.0), ("div", 3.75)] {
            let (status, body) = get_json(&format!("/calculate?a=7.5&b=2&op={op}")).await;

            assert_eq!(status, 200, "{op}");
            assert_eq!(body["result"], json!(result), "{op}");
            assert_eq!(body["op"], op);
        }
    }

    /// FastAPI would list all three at once; the framework's `Query` stops at
    /// the first field that fails (serde aborts there), so each is tried alone.
    #[tokio::test]
    async fn each_bad_parameter_is_422_at_its_place() {
        let cases = [
            ("/calculate?a=one&b=2", "float_parsing", "a"),
            ("/calculate?a=1", "missing", "b"),
            ("/calculate?a=1&b=2&op=pow", "enum", "op"),
        ];
        for (path, kind, field) in cases {
            let (status, body) = get_json(path).await;

            assert_eq!(status, 422, "{path}");
            assert_eq!(body["detail"][0]["type"], kind, "{path}: {body}");
            assert_eq!(body["detail"][0]["loc"], json!(["query", field]), "{path}");
            assert!(body["detail"][0]["msg"].is_string(), "{path}");
        }
    }

    #[tokio::test]
    async fn division_by_zero_is_422_on_b() {
        let (status, body) = get_json("/calculate?a=1&b=0&op=div").await;

        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["loc"], json!(["query", "b"]));
        assert_eq!(body["detail"][0]["msg"], "Value error, division by zero");
    }

    #[tokio::test]
    async fn non_finite_inputs_and_results_are_422() {
        let (status, body) = get_json("/calculate?a=inf&b=NaN").await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"].as_array().map(Vec::len), Some(2), "{body}");
        assert_eq!(body["detail"][0]["type"], "finite_number");

        let (status, body) = get_json("/calculate?a=1e308&b=1e308&op=mul").await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["type"], "value_error");
    }

    #[tokio::test]
    async fn other_paths_and_methods_are_404_and_405() {
        let client = TestClient::new(app());

        assert_eq!(client.get("/calc").send().await.status(), 404);
        assert_eq!(client.post("/calculate").send().await.status(), 405);
    }
}
