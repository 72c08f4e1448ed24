//! `StaticFiles`: serving a directory, HTML mode, methods and traversal safety.

use asgi_framework::testing::TestClient;
use asgi_framework::{Application, StaticFiles, get};
use http::StatusCode;

use crate::file_response::TempDir;

/// A site: `/static` serves `root/public`, next to a `secret.txt` outside it.
fn site() -> (TempDir, TestClient) {
    let dir = TempDir::new();
    dir.write("secret.txt", "top secret");
    dir.write("public/app.css", "body {}");
    dir.write("public/docs/index.html", "<h1>docs</h1>");
    dir.write("public/404.html", "<h1>gone</h1>");
    let app = Application::new()
        .route("/", get(|| async { "home" }))
        .mount(
            "/static",
            StaticFiles::new(dir.path().join("public")).cache_control("public, max-age=60"),
        )
        .mount(
            "/site",
            StaticFiles::new(dir.path().join("public")).html(true),
        );
    (dir, TestClient::new(app))
}

#[tokio::test]
async fn files_under_the_mount_are_served_with_caching_headers() {
    let (_dir, client) = site();

    let res = client.get("/static/app.css").send().await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(res.header("cache-control"), Some("public, max-age=60"));
    assert!(res.header("etag").is_some() && res.header("last-modified").is_some());
    assert_eq!(res.text(), "body {}");
}

#[tokio::test]
async fn static_files_answer_conditional_requests() {
    let (_dir, client) = site();
    let etag = client
        .get("/static/app.css")
        .send()
        .await
        .header("etag")
        .unwrap()
        .to_owned();

    let res = client
        .get("/static/app.css")
        .header("if-none-match", &etag)
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn head_is_allowed_and_has_no_body() {
    let (_dir, client) = site();

    let res = client.head("/static/app.css").send().await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.header("content-length"), Some("7"));
    assert!(res.bytes().is_empty());
}

#[tokio::test]
async fn other_methods_are_405() {
    let (_dir, client) = site();

    let res = client.post("/static/app.css").send().await;

    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.header("allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn missing_file_is_404() {
    let (_dir, client) = site();

    let res = client.get("/static/nope.css").send().await;

    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn directory_without_html_mode_is_404() {
    let (_dir, client) = site();

    let res = client.get("/static/docs/").send().await;

    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn dot_dot_traversal_is_404() {
    let (_dir, client) = site();

    let res = client.get("/static/../secret.txt").send().await;
    let nested = client.get("/static/docs/../../secret.txt").send().await;

    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(nested.status(), StatusCode::NOT_FOUND);
    assert_ne!(res.text(), "top secret");
}

#[tokio::test]
async fn percent_encoded_traversal_is_404() {
    let (_dir, client) = site();

    let lower = client.get("/static/%2e%2e/secret.txt").send().await;
    let upper = client.get("/static/%2E%2E%2Fsecret.txt").send().await;

    assert_eq!(lower.status(), StatusCode::NOT_FOUND);
    assert_eq!(upper.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn backslash_traversal_is_404() {
    let (_dir, client) = site();

    let res = client.get("/static/..%5Csecret.txt").send().await;

    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn absolute_path_is_404() {
    let (dir, client) = site();
    let absolute = dir.path().join("secret.txt");

    let res = client
        .get(&format!("/static/{}", absolute.display()))
        .send()
        .await;
    let double_slash = client
        .get(&format!("/static/{}", absolute.display()).replace("/static/", "/static//"))
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(double_slash.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn nul_byte_is_404() {
    let (_dir, client) = site();

    let res = client.get("/static/app.css%00.png").send().await;

    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[cfg(unix)]
#[tokio::test]
async fn symlink_leading_outside_the_root_is_404() {
    let (dir, client) = site();
    std::os::unix::fs::symlink(
        dir.path().join("secret.txt"),
        dir.path().join("public/leak.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        dir.path().join("public/app.css"),
        dir.path().join("public/alias.css"),
    )
    .unwrap();

    let outside = client.get("/static/leak.txt").send().await;
    let inside = client.get("/static/alias.css").send().await;

    assert_eq!(outside.status(), StatusCode::NOT_FOUND);
    assert_eq!(inside.status(), StatusCode::OK);
    assert_eq!(inside.text(), "body {}");
}

#[tokio::test]
async fn html_mode_serves_index_html_for_directories() {
    let (_dir, client) = site();

    let res = client.get("/site/docs/").send().await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(res.text(), "<h1>docs</h1>");
}

#[tokio::test]
async fn html_mode_redirects_directories_to_a_trailing_slash() {
    let (_dir, client) = site();

    let res = client.get("/site/docs").query(&[("v", "1")]).send().await;

    assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(res.header("location"), Some("/site/docs/?v=1"));
}

#[tokio::test]
async fn html_mode_serves_404_html_for_missing_files() {
    let (_dir, client) = site();

    let res = client.get("/site/nope").send().await;

    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(res.text(), "<h1>gone</h1>");
}

#[tokio::test]
async fn html_404_page_is_never_not_modified() {
    let (_dir, client) = site();

    let res = client
        .get("/site/nope")
        .header("if-none-match", "*")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.text(), "<h1>gone</h1>");
}

#[tokio::test]
async fn missing_root_directory_is_404() {
    let dir = TempDir::new();
    let app = Application::new().mount("/static", StaticFiles::new(dir.path().join("absent")));

    let res = TestClient::new(app).get("/static/a.css").send().await;

    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

// ===== Over a real socket (asgi-server) =====

/// Sends raw `request` to a fresh asgi-server serving `app` and returns the whole reply.
async fn over_socket(app: Application, request: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let mut config = asgi_server::Config::default();
    config.port = 0;
    config.access_log = false;
    let bound = asgi_server::Server::new(config)
        .bind()
        .await
        .expect("bind 127.0.0.1:0");
    let addr = bound.local_addr().expect("a TCP address");
    let handle = bound.handle();
    let server = tokio::spawn(bound.serve(app));

    let limit = std::time::Duration::from_secs(10);
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut reply = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut reply))
        .await
        .expect("reply within the limit")
        .expect("read reply");

    handle.shutdown();
    let _ = tokio::time::timeout(limit, server).await;
    String::from_utf8_lossy(&reply).into_owned()
}

fn real_site(dir: &TempDir) -> Application {
    dir.write("secret.txt", "top secret");
    dir.write("public/big.txt", "0123456789".repeat(20_000));
    Application::new().mount("/static", StaticFiles::new(dir.path().join("public")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_file_streams_over_a_real_socket() {
    let dir = TempDir::new();

    let reply = over_socket(
        real_site(&dir),
        "GET /static/big.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    let (head, body) = reply.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("content-length: 200000"),
        "{head}"
    );
    assert!(head.to_ascii_lowercase().contains("etag: \""), "{head}");
    assert_eq!(body.len(), 200_000);
    assert!(body.starts_with("0123456789") && body.ends_with("0123456789"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_request_over_a_real_socket_is_206() {
    let dir = TempDir::new();

    let reply = over_socket(
        real_site(&dir),
        "GET /static/big.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=5-14\r\nConnection: close\r\n\r\n",
    )
    .await;

    assert!(reply.starts_with("HTTP/1.1 206 "), "{reply}");
    assert!(
        reply
            .to_ascii_lowercase()
            .contains("content-range: bytes 5-14/200000"),
        "{reply}"
    );
    assert!(reply.ends_with("\r\n\r\n5678901234"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoded_traversal_over_a_real_socket_is_404() {
    let dir = TempDir::new();

    let reply = over_socket(
        real_site(&dir),
        "GET /static/%2e%2e/secret.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    assert!(reply.starts_with("HTTP/1.1 404 "), "{reply}");
    assert!(!reply.contains("top secret"), "{reply}");
}
