//! Multipart forms: streaming fields and files, collected forms, limits and malformed bodies.

use asgi_framework::extract::{Multipart, MultipartError, MultipartForm, MultipartLimits};
use asgi_framework::testing::TestClient;
use asgi_framework::{Application, Rejection, post};
use http::StatusCode;
use serde::Deserialize;

const BOUNDARY: &str = "X-BOUNDARY-42";

/// A multipart body: `(name, file name, content)` per part.
fn body(parts: &[(&str, Option<&str>, &str)]) -> String {
    let mut body = String::new();
    for (name, file_name, content) in parts {
        body.push_str(&format!("--{BOUNDARY}\r\n"));
        match file_name {
            Some(file) => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: text/plain\r\n\r\n"
            )),
            None => body.push_str(&format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n")),
        }
        body.push_str(content);
        body.push_str("\r\n");
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body
}

fn content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// Lists each field as `name[file]=size` while streaming it chunk by chunk.
async fn summary(mut form: Multipart) -> Result<String, MultipartError> {
    let mut out = Vec::new();
    while let Some(mut field) = form.next_field().await? {
        let name = field.name().unwrap_or("?").to_owned();
        let file = field
            .file_name()
            .map(|f| format!("[{f}]"))
            .unwrap_or_default();
        let mut size = 0;
        while let Some(chunk) = field.chunk().await? {
            size += chunk.len();
        }
        out.push(format!("{name}{file}={size}"));
    }
    Ok(out.join(","))
}

#[derive(Deserialize)]
struct Meta {
    title: String,
    count: u32,
}

async fn collected(form: MultipartForm) -> Result<String, Rejection> {
    let meta: Meta = form.deserialize()?;
    let file = form
        .file("upload")
        .map(|f| format!("{}:{}", f.file_name, String::from_utf8_lossy(&f.data)));
    Ok(format!(
        "{} x{} {}",
        meta.title,
        meta.count,
        file.unwrap_or_default()
    ))
}

fn app() -> Application {
    Application::new()
        .route("/stream", post(summary))
        .route("/form", post(collected))
}

#[tokio::test]
async fn fields_and_files_stream_in_order() {
    let client = TestClient::new(app());
    let payload = body(&[
        ("title", None, "hello"),
        ("upload", Some("a.txt"), "file content"),
        ("n", None, ""),
    ]);

    let res = client
        .post("/stream")
        .header("content-type", &content_type())
        .body_chunks(
            payload
                .as_bytes()
                .chunks(7)
                .map(|c| c.to_vec())
                .collect::<Vec<_>>(),
        )
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    assert_eq!(res.text(), "title=5,upload[a.txt]=12,n=0");
}

#[tokio::test]
async fn collected_form_deserializes_fields_and_keeps_files() {
    let client = TestClient::new(app());
    let payload = body(&[
        ("title", None, "report"),
        ("count", None, "3"),
        ("upload", Some("r.txt"), "data"),
    ]);

    let res = client
        .post("/form")
        .header("content-type", &content_type())
        .body(payload)
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    assert_eq!(res.text(), "report x3 r.txt:data");
}

#[tokio::test]
async fn invalid_form_field_is_422() {
    let client = TestClient::new(app());
    let payload = body(&[("title", None, "report"), ("count", None, "many")]);

    let res = client
        .post("/form")
        .header("content-type", &content_type())
        .body(payload)
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let detail: serde_json::Value = res.json();
    assert_eq!(
        detail["detail"][0]["loc"],
        serde_json::json!(["body", "count"])
    );
}

#[tokio::test]
async fn other_content_type_is_415() {
    let client = TestClient::new(app());

    let res = client
        .post("/stream")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn missing_boundary_is_400() {
    let client = TestClient::new(app());

    let res = client
        .post("/stream")
        .header("content-type", "multipart/form-data")
        .body("x")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn wrong_boundary_in_body_is_400() {
    let client = TestClient::new(app());
    let payload = body(&[("title", None, "hello")]).replace(BOUNDARY, "OTHER");

    let res = client
        .post("/stream")
        .header("content-type", &content_type())
        .body(payload)
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn truncated_body_is_400() {
    let client = TestClient::new(app());
    let payload = body(&[("upload", Some("a.txt"), "abcdef")]);
    let truncated = &payload[..payload.len() - 20];

    let res = client
        .post("/stream")
        .header("content-type", &content_type())
        .body(truncated.to_owned())
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn field_over_the_per_field_limit_is_413() {
    let app = app().state(MultipartLimits::new().per_field(10));
    let client = TestClient::new(app);
    let payload = body(&[
        ("title", None, "short"),
        ("upload", Some("big.txt"), &"x".repeat(100)),
    ]);

    let res = client
        .post("/stream")
        .header("content-type", &content_type())
        .body(payload)
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn body_over_the_total_limit_is_413() {
    let app = app().state(MultipartLimits::new().whole(100));
    let client = TestClient::new(app);
    let payload = body(&[("a", None, &"x".repeat(60)), ("b", None, &"y".repeat(60))]);

    let res = client
        .post("/stream")
        .header("content-type", &content_type())
        .body(payload)
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn application_body_limit_applies_to_multipart() {
    let app = app().body_limit(50);
    let client = TestClient::new(app);
    let payload = body(&[("a", None, &"x".repeat(200))]);

    let res = client
        .post("/stream")
        .header("content-type", &content_type())
        .body_chunks(
            payload
                .as_bytes()
                .chunks(40)
                .map(|c| c.to_vec())
                .collect::<Vec<_>>(),
        )
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
