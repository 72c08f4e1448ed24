//! Exception handlers by error type and by status; handler errors as 500.

use asgi_framework::testing::TestClient;
use asgi_framework::{Application, Error, HttpError, Json, get};
use http::StatusCode;
use serde_json::json;

#[derive(Debug)]
struct OutOfStock(u32);

impl std::fmt::Display for OutOfStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "item {} is out of stock", self.0)
    }
}

impl std::error::Error for OutOfStock {}

async fn buy() -> Result<&'static str, Error> {
    Err(OutOfStock(7).into())
}

#[tokio::test]
async fn handler_error_without_a_handler_is_500() {
    let res = TestClient::new(Application::new().route("/buy", get(buy)))
        .get("/buy")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.text(), r#"{"detail":"Internal Server Error"}"#);
}

#[tokio::test]
async fn exception_handler_by_type_answers_that_error() {
    let app = Application::new()
        .route("/buy", get(buy))
        .exception_handler(|_scope, error: &OutOfStock| {
            (
                StatusCode::CONFLICT,
                Json(json!({"detail": error.to_string()})),
            )
        });

    let res = TestClient::new(app).get("/buy").send().await;

    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(res.text(), r#"{"detail":"item 7 is out of stock"}"#);
}

#[tokio::test]
async fn status_handler_answers_router_404s_and_http_errors() {
    async fn gone() -> Result<&'static str, HttpError> {
        Err(HttpError::new(StatusCode::NOT_FOUND).with_detail("no such item"))
    }
    let app = Application::new().route("/gone", get(gone)).status_handler(
        StatusCode::NOT_FOUND,
        |scope, error: &HttpError| {
            format!("custom 404 for {}: {}", scope.target.path, error.detail)
        },
    );
    let client = TestClient::new(app);

    let routed = client.get("/nope").send().await;
    let raised = client.get("/gone").send().await;

    assert_eq!(routed.text(), "custom 404 for /nope: \"Not Found\"");
    assert_eq!(raised.text(), "custom 404 for /gone: \"no such item\"");
}

#[tokio::test]
async fn status_500_handler_sees_panics() {
    async fn explode() -> &'static str {
        panic!("boom")
    }
    let app = Application::new()
        .route("/", get(explode))
        .status_handler(StatusCode::INTERNAL_SERVER_ERROR, |_, _: &HttpError| {
            (StatusCode::INTERNAL_SERVER_ERROR, "sorry")
        });

    let res = TestClient::new(app).get("/").send().await;

    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.text(), "sorry");
}
