//! `FileResponse`: validators, conditional requests, ranges, HEAD, downloads and pathsend.

use std::path::{Path, PathBuf};

use asgi_framework::response::FileResponse;
use asgi_framework::testing::TestClient;
use asgi_framework::{Application, Request, get};
use http::StatusCode;

/// A directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new() -> Self {
        let path = std::env::temp_dir().join(format!("asgi-fw-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    pub(crate) fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&path, content).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const DIGITS: &str = "0123456789abcdefghijklmnopqrstuvwxyz";

/// An app serving `path` at `/file` (with the request) and `/plain` (without it).
fn app(path: PathBuf) -> Application {
    let plain = path.clone();
    Application::new()
        .route(
            "/file",
            get(move |request: Request| {
                let path = path.clone();
                async move { FileResponse::new(path).respond(&request).await }
            }),
        )
        .route(
            "/plain",
            get(move || {
                let path = plain.clone();
                async move { FileResponse::new(path).filename("r\u{e9}sum\u{e9}.txt") }
            }),
        )
}

fn client(dir: &TempDir) -> TestClient {
    TestClient::new(app(dir.write("data.txt", DIGITS)))
}

#[tokio::test]
async fn file_response_sets_type_length_and_validators() {
    let dir = TempDir::new();

    let res = client(&dir).get("/file").send().await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(res.header("content-length"), Some("36"));
    assert_eq!(res.header("accept-ranges"), Some("bytes"));
    let etag = res.header("etag").expect("an etag");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let modified = res.header("last-modified").expect("a last-modified");
    assert!(httpdate::parse_http_date(modified).is_ok(), "{modified}");
    assert_eq!(res.text(), DIGITS);
}

#[tokio::test]
async fn head_request_has_the_headers_but_no_body() {
    let dir = TempDir::new();

    let res = client(&dir).head("/file").send().await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.header("content-length"), Some("36"));
    assert!(res.header("etag").is_some());
    assert!(res.bytes().is_empty());
}

#[tokio::test]
async fn matching_if_none_match_is_304() {
    let dir = TempDir::new();
    let client = client(&dir);
    let etag = client
        .get("/file")
        .send()
        .await
        .header("etag")
        .unwrap()
        .to_owned();

    let exact = client
        .get("/file")
        .header("if-none-match", &etag)
        .send()
        .await;
    let weak_in_list = client
        .get("/file")
        .header("if-none-match", &format!("\"other\", W/{etag}"))
        .send()
        .await;
    let star = client
        .get("/file")
        .header("if-none-match", "*")
        .send()
        .await;
    let other = client
        .get("/file")
        .header("if-none-match", "\"other\"")
        .send()
        .await;

    assert_eq!(exact.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(exact.header("etag"), Some(etag.as_str()));
    assert!(exact.bytes().is_empty());
    assert_eq!(weak_in_list.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(star.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test]
async fn if_modified_since_is_304_only_when_the_file_is_older() {
    let dir = TempDir::new();
    let client = client(&dir);
    let modified = client
        .get("/file")
        .send()
        .await
        .header("last-modified")
        .unwrap()
        .to_owned();

    let fresh = client
        .get("/file")
        .header("if-modified-since", &modified)
        .send()
        .await;
    let stale = client
        .get("/file")
        .header("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")
        .send()
        .await;

    assert_eq!(fresh.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(stale.status(), StatusCode::OK);
    assert_eq!(stale.text(), DIGITS);
}

#[tokio::test]
async fn single_range_is_206_with_content_range() {
    let dir = TempDir::new();
    let client = client(&dir);

    let res = client
        .get("/file")
        .header("range", "bytes=2-5")
        .send()
        .await;
    let suffix = client.get("/file").header("range", "bytes=-3").send().await;
    let open = client
        .get("/file")
        .header("range", "bytes=30-")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.header("content-range"), Some("bytes 2-5/36"));
    assert_eq!(res.header("content-length"), Some("4"));
    assert_eq!(res.text(), "2345");
    assert_eq!(suffix.text(), "xyz");
    assert_eq!(suffix.header("content-range"), Some("bytes 33-35/36"));
    assert_eq!(open.text(), "uvwxyz");
}

#[tokio::test]
async fn multiple_ranges_are_multipart_byteranges() {
    let dir = TempDir::new();

    let res = client(&dir)
        .get("/file")
        .header("range", "bytes=0-1, 10-12")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    let content_type = res.header("content-type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{content_type}"));
    let expected = format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/36\r\n\r\n01\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 10-12/36\r\n\r\nabc\r\n\
         --{boundary}--\r\n"
    );
    assert_eq!(res.text(), expected);
    assert_eq!(
        res.header("content-length"),
        Some(expected.len().to_string().as_str())
    );
}

#[tokio::test]
async fn unsatisfiable_range_is_416() {
    let dir = TempDir::new();

    let res = client(&dir)
        .get("/file")
        .header("range", "bytes=100-200")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(res.header("content-range"), Some("bytes */36"));
}

#[tokio::test]
async fn malformed_range_serves_the_whole_file() {
    let dir = TempDir::new();

    let res = client(&dir)
        .get("/file")
        .header("range", "bytes=5-2")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text(), DIGITS);
}

#[tokio::test]
async fn stale_if_range_serves_the_whole_file() {
    let dir = TempDir::new();
    let client = client(&dir);
    let etag = client
        .get("/file")
        .send()
        .await
        .header("etag")
        .unwrap()
        .to_owned();

    let current = client
        .get("/file")
        .header("range", "bytes=0-0")
        .header("if-range", &etag)
        .send()
        .await;
    let stale = client
        .get("/file")
        .header("range", "bytes=0-0")
        .header("if-range", "\"old\"")
        .send()
        .await;

    assert_eq!(current.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(current.text(), "0");
    assert_eq!(stale.status(), StatusCode::OK);
    assert_eq!(stale.text(), DIGITS);
}

#[tokio::test]
async fn download_filename_sets_content_disposition() {
    let dir = TempDir::new();

    let res = client(&dir).get("/plain").send().await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.header("content-disposition"),
        Some("attachment; filename*=utf-8''r%C3%A9sum%C3%A9.txt")
    );
    assert!(res.header("etag").is_some());
    assert_eq!(res.text(), DIGITS);
}

#[tokio::test]
async fn missing_file_is_404() {
    let dir = TempDir::new();
    let client = TestClient::new(app(dir.path().join("nope.txt")));

    let res = client.get("/file").send().await;

    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn large_file_streams_in_64k_chunks_without_pathsend() {
    let dir = TempDir::new();
    let content: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
    let client = TestClient::new(app(dir.write("big.bin", &content)));

    let res = client.get("/file").send().await;

    assert_eq!(res.header("content-type"), Some("application/octet-stream"));
    assert_eq!(res.chunks().len(), 3, "64 KiB + 64 KiB + the rest");
    assert_eq!(res.bytes(), content);
}

#[tokio::test]
async fn whole_file_goes_through_pathsend_when_offered() {
    let dir = TempDir::new();
    let content = vec![b'z'; 150_000];
    let client = TestClient::new(app(dir.write("big.bin", &content))).pathsend(true);

    let whole = client.get("/file").send().await;
    let range = client
        .get("/file")
        .header("range", "bytes=0-9")
        .send()
        .await;

    assert_eq!(
        whole.chunks().len(),
        1,
        "one pathsend message, read whole by the client"
    );
    assert_eq!(whole.header("content-length"), Some("150000"));
    assert_eq!(whole.bytes(), content);
    assert_eq!(range.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(range.text(), "zzzzzzzzzz");
}

#[tokio::test]
async fn handler_may_return_a_file_response_directly() {
    let dir = TempDir::new();
    let path = dir.write("page.html", "<p>hi</p>");
    let app = Application::new().route(
        "/",
        get(move || {
            let path = path.clone();
            async move { FileResponse::new(path) }
        }),
    );

    let res = TestClient::new(app).get("/").send().await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(res.header("content-disposition"), None);
    assert_eq!(res.text(), "<p>hi</p>");
}
