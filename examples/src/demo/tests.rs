//! Every route of the contract, in-process through the framework's `TestClient`.

use std::time::{Duration, Instant};

use asgi_framework::testing::TestClient;
use serde_json::{Value, json};

use super::*;

fn client() -> TestClient {
    TestClient::new(app(default_static_dir())).timeout(Duration::from_secs(10))
}

#[tokio::test]
async fn root_says_hello_in_plain_text() {
    let response = client().get("/").send().await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(response.text(), "Hello, world!");
}

#[tokio::test]
async fn json_says_hello() {
    let response = client().get("/json").send().await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.text(), r#"{"message":"Hello, world!"}"#);
}

#[tokio::test]
async fn echo_returns_the_body_and_its_content_type() {
    let body: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();

    let response = client()
        .post("/echo")
        .header("content-type", "image/png")
        .body(body.clone())
        .send()
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.header("content-type"), Some("image/png"));
    assert_eq!(response.header("content-length"), Some("100000"));
    assert_eq!(response.bytes(), body);
}

#[tokio::test]
async fn echo_of_a_chunked_body_streams_every_chunk_back() {
    let response = client()
        .post("/echo")
        .body_chunks(["one ", "two ", "three"])
        .send()
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        response.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(response.header("content-length"), None);
    assert_eq!(response.chunks().len(), 3);
    assert_eq!(response.text(), "one two three");
}

#[tokio::test]
async fn echo_of_an_empty_body_is_empty() {
    let response = client().post("/echo").body("").send().await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.text(), "");
}

#[tokio::test]
async fn item_returns_id_and_query() {
    let client = client();

    let with_q = client.get("/items/42?q=hello%20there").send().await;
    let without_q = client.get("/items/-7").send().await;

    assert_eq!(with_q.status(), 200);
    assert_eq!(with_q.header("content-type"), Some("application/json"));
    assert_eq!(
        with_q.json::<Value>(),
        json!({"id": 42, "q": "hello there"})
    );
    assert_eq!(without_q.json::<Value>(), json!({"id": -7, "q": null}));
}

#[tokio::test]
async fn non_integer_item_id_is_422_naming_the_field() {
    let response = client().get("/items/abc").send().await;

    assert_eq!(response.status(), 422);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let body: Value = response.json();
    let detail = &body["detail"][0];
    assert_eq!(detail["loc"], json!(["path", "id"]));
    assert_eq!(detail["type"], "int_parsing");
    assert!(detail["msg"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn sleep_awaits_then_reports() {
    let started = Instant::now();

    let response = client().get("/sleep?ms=50").send().await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>(), json!({"slept_ms": 50}));
    assert!(started.elapsed() >= Duration::from_millis(50));
}

#[tokio::test]
async fn block_sleeps_on_the_pool_then_reports() {
    let started = Instant::now();

    let response = client().get("/block?ms=50").send().await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>(), json!({"slept_ms": 50}));
    assert!(started.elapsed() >= Duration::from_millis(50));
}

#[tokio::test]
async fn bad_or_out_of_range_waits_are_422() {
    let client = client();
    let cases = [
        ("/sleep?ms=60001", "less_than_equal"),
        ("/block?ms=60001", "less_than_equal"),
        ("/sleep?ms=soon", "int_parsing"),
        ("/block?ms=-1", "int_parsing"),
        ("/sleep?ms=99999999999999999999999", "int_parsing"),
        ("/sleep", "missing"),
        ("/block", "missing"),
    ];

    for (path, kind) in cases {
        let response = client.get(path).send().await;

        assert_eq!(response.status(), 422, "{path}");
        let body: Value = response.json();
        assert_eq!(body["detail"][0]["type"], kind, "{path}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["query", "ms"]), "{path}");
    }
}

#[tokio::test]
async fn stream_sends_each_line_as_its_own_chunk() {
    let response = client().get("/stream?n=3").send().await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(response.header("content-length"), None);
    assert_eq!(response.chunks(), ["chunk 0\n", "chunk 1\n", "chunk 2\n"]);
}

#[tokio::test]
async fn stream_of_zero_lines_is_empty() {
    let response = client().get("/stream?n=0").send().await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.text(), "");
}

#[tokio::test]
async fn bad_or_out_of_range_line_counts_are_422() {
    let client = client();

    for path in ["/stream?n=10001", "/stream?n=many", "/stream"] {
        let response = client.get(path).send().await;

        assert_eq!(response.status(), 422, "{path}");
        let body: Value = response.json();
        assert_eq!(body["detail"][0]["loc"], json!(["query", "n"]), "{path}");
    }
}

#[tokio::test]
async fn static_file_is_served_with_validators() {
    let response = client().get("/static/hello.txt").send().await;

    assert_eq!(response.status(), 200);
    assert!(
        response
            .header("content-type")
            .is_some_and(|v| v.starts_with("text/plain")),
        "{response:?}"
    );
    assert!(response.header("etag").is_some());
    assert!(response.header("last-modified").is_some());
    assert_eq!(response.text(), "static hello\n");
}

#[tokio::test]
async fn static_range_head_and_conditional_requests() {
    let client = client();
    let etag = client
        .get("/static/hello.txt")
        .send()
        .await
        .header("etag")
        .map(str::to_owned)
        .expect("an ETag");

    let range = client
        .get("/static/hello.txt")
        .header("range", "bytes=0-5")
        .send()
        .await;
    let head = client.head("/static/hello.txt").send().await;
    let cached = client
        .get("/static/hello.txt")
        .header("if-none-match", &etag)
        .send()
        .await;

    assert_eq!(range.status(), 206);
    assert_eq!(range.header("content-range"), Some("bytes 0-5/13"));
    assert_eq!(range.text(), "static");
    assert_eq!(head.status(), 200);
    assert_eq!(head.header("content-length"), Some("13"));
    assert_eq!(head.text(), "");
    assert_eq!(cached.status(), 304);
    assert_eq!(cached.text(), "");
}

#[tokio::test]
async fn static_never_leaves_its_folder() {
    let client = client();

    for path in [
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/..%2fCargo.toml",
        "/static/missing.txt",
    ] {
        let response = client.get(path).send().await;

        assert_eq!(response.status(), 404, "{path}");
        assert!(!response.text().contains("[package]"), "{path}");
    }
}

#[tokio::test]
async fn static_dir_can_be_overridden() {
    let dir = std::env::temp_dir().join(format!("demo-static-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("other.txt"), "elsewhere").unwrap();
    let client = TestClient::new(app(&dir));

    let other = client.get("/static/other.txt").send().await;
    let hello = client.get("/static/hello.txt").send().await;

    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(other.text(), "elsewhere");
    assert_eq!(hello.status(), 404);
}

#[tokio::test]
async fn websocket_echoes_text_and_binary() {
    let client = client();
    let mut session = client.websocket("/ws").connect().await.unwrap();

    session.send_text("hello");
    let text = session.receive_text().await;
    session.send_bytes(vec![0u8, 1, 2, 255]);
    let bytes = session.receive_bytes().await;
    session.close(1000).await;

    assert_eq!(text, "hello");
    assert_eq!(bytes.as_ref(), [0u8, 1, 2, 255]);
}

#[tokio::test]
async fn unknown_path_is_404() {
    let response = client().get("/nope").send().await;

    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let client = client();

    let post_root = client.post("/").send().await;
    let get_echo = client.get("/echo").send().await;
    let delete_static = client.delete("/static/hello.txt").send().await;

    assert_eq!(post_root.status(), 405);
    assert!(
        post_root.header("allow").is_some_and(|a| a.contains("GET")),
        "{post_root:?}"
    );
    assert_eq!(get_echo.status(), 405);
    assert_eq!(get_echo.header("allow"), Some("POST"));
    assert_eq!(delete_static.status(), 405);
    assert!(
        delete_static
            .header("allow")
            .is_some_and(|a| a.contains("GET"))
    );
}
