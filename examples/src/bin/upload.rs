//! Run with: cargo run -p examples --bin upload
//!
//! Multipart file upload with a size limit, and a listing page.
//!
//! - `GET /`: a page with an upload form and the files uploaded so far.
//! - `POST /upload`: a `multipart/form-data` body with one or more `file`
//!   fields. Each file is streamed to disk chunk by chunk as it arrives
//!   (never held in memory whole), under a sanitised name in `--upload-dir`
//!   (default `./uploads`). A file over `--max-size` bytes (default 10 MiB)
//!   is refused with 413 and nothing of it is kept. Answers 201 with JSON,
//!   or a 303 back to the page when a browser form posted it.
//! - `GET /uploads`: the listing as JSON.
//! - `GET /files/NAME`: a file, served by `StaticFiles` (ETag, ranges).
//!
//! A body that is not multipart gives 415, a form without a file 422, a
//! malformed body 400.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use asgi_framework::extract::{ErrorDetail, Multipart, MultipartError, MultipartLimits};
use asgi_framework::http::StatusCode;
use asgi_framework::{
    Application, Error, HttpError, IntoResponse, Json, Redirect, Request, Response, State,
    StaticFiles, ValidationError, get, post, run_blocking,
};
use clap::Parser;
use serde::Serialize;
use serde_json::json;
use tokio::io::AsyncWriteExt;

/// Room for the multipart framing around the files, on top of `--max-size`.
const FRAMING_ALLOWANCE: usize = 64 * 1024;

/// Where uploads go and how large one may be.
#[derive(Debug)]
struct Uploads {
    dir: PathBuf,
    max_size: u64,
}

/// One stored file, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
struct StoredFile {
    name: String,
    size: u64,
}

/// Why an upload failed.
#[derive(Debug)]
enum UploadError {
    /// The body was refused by the multipart reader (400, 415).
    Multipart(MultipartError),
    /// A file, or the whole body, is over the limit of this many bytes (413).
    TooLarge(u64),
    /// The form had no file, or a file name with nothing usable in it (422).
    Invalid(ValidationError),
    /// Writing to disk failed (500).
    Io(std::io::Error),
}

impl UploadError {
    /// The multipart reader's refusal; a 413 names the limit (the reader's
    /// own message for a body over the route limit is only "failed to read stream").
    fn multipart(error: MultipartError, max_size: u64) -> Self {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            UploadError::TooLarge(max_size)
        } else {
            UploadError::Multipart(error)
        }
    }
}

impl From<std::io::Error> for UploadError {
    fn from(error: std::io::Error) -> Self {
        UploadError::Io(error)
    }
}

impl IntoResponse for UploadError {
    fn into_response(self) -> Response {
        match self {
            UploadError::Multipart(error) => error.into_response(),
            UploadError::TooLarge(max_size) => HttpError::new(StatusCode::PAYLOAD_TOO_LARGE)
                .with_detail(format!("a file may have at most {max_size} bytes"))
                .into_response(),
            UploadError::Invalid(error) => error.into_response(),
            UploadError::Io(error) => Error::from(error).into_response(),
        }
    }
}

fn invalid_file(msg: &str, kind: &str, input: serde_json::Value) -> UploadError {
    UploadError::Invalid(
        ErrorDetail::new(kind, vec!["body".into(), "file".into()], msg, input).into(),
    )
}

/// A safe file name from what the client sent: the last path component,
/// only `[A-Za-z0-9._-]` (others become `_`), no leading dots, at most 100 bytes.
fn sanitise(file_name: &str) -> Option<String> {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    let cleaned: String = cleaned.chars().take(100).collect();
    (!cleaned.is_empty() && cleaned.chars().any(|c| c.is_ascii_alphanumeric())).then_some(cleaned)
}

/// `name`, or `stem-1.ext`, `stem-2.ext`, ... : the first that does not exist in `dir`.
fn unused_name(dir: &Path, name: &str) -> String {
    if !dir.join(name).exists() {
        return name.to_owned();
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    (1..)
        .map(|i| format!("{stem}-{i}{ext}"))
        .find(|candidate| !dir.join(candidate).exists())
        .unwrap_or_else(|| name.to_owned())
}

/// Streams each `file` field to a hidden part file, then renames it into place.
async fn upload(
    State(uploads): State<Uploads>,
    request_accepts_html: AcceptsHtml,
    mut form: Multipart,
) -> Result<Response, UploadError> {
    let max_size = uploads.max_size;
    let mut stored = Vec::new();
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|error| UploadError::multipart(error, max_size))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let Some(name) = field.file_name().map(str::to_owned) else {
            return Err(invalid_file(
                "Expected UploadFile, received: <class 'str'>",
                "value_error",
                json!(null),
            ));
        };
        if name.is_empty() {
            // A browser form submitted with no file chosen.
            continue;
        }
        let Some(safe) = sanitise(&name) else {
            return Err(invalid_file(
                "Value error, the file name has no usable characters",
                "value_error",
                json!(name),
            ));
        };
        tokio::fs::create_dir_all(&uploads.dir).await?;
        let part = uploads.dir.join(format!(".part-{}", uuid_like()));
        let mut file = tokio::fs::File::create(&part).await?;
        let mut size = 0u64;
        let written: Result<(), UploadError> = async {
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|error| UploadError::multipart(error, max_size))?
            {
                size += chunk.len() as u64;
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            Ok(())
        }
        .await;
        drop(file);
        if let Err(error) = written {
            // Nothing of a refused or broken upload is kept.
            let _ = tokio::fs::remove_file(&part).await;
            return Err(error);
        }
        let dir = uploads.dir.clone();
        let final_name = run_blocking(move || {
            let final_name = unused_name(&dir, &safe);
            std::fs::rename(&part, dir.join(&final_name)).map(|()| final_name)
        })
        .await
        .map_err(|error| UploadError::Io(std::io::Error::other(error.to_string())))??;
        stored.push(StoredFile {
            name: final_name,
            size,
        });
    }
    if stored.is_empty() {
        return Err(invalid_file("Field required", "missing", json!(null)));
    }
    if request_accepts_html.0 {
        return Ok(Redirect::see_other("./").into_response());
    }
    Ok((StatusCode::CREATED, Json(json!({ "uploaded": stored }))).into_response())
}

/// A process-unique suffix for part files.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether the client prefers HTML (a browser form) to JSON.
#[derive(Debug, Clone, Copy)]
struct AcceptsHtml(bool);

impl asgi_framework::FromRequestParts for AcceptsHtml {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(request: &mut Request) -> Result<Self, Self::Rejection> {
        let accept = request.header("accept").unwrap_or_default();
        Ok(AcceptsHtml(accept.contains("text/html")))
    }
}

/// The stored files, sorted by name (read on the blocking pool).
async fn stored_files(dir: PathBuf) -> Result<Vec<StoredFile>, Error> {
    let files = run_blocking(move || -> std::io::Result<Vec<StoredFile>> {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let metadata = entry.metadata()?;
            if metadata.is_file() && !name.starts_with('.') {
                files.push(StoredFile {
                    name,
                    size: metadata.len(),
                });
            }
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    })
    .await
    .map_err(|error| Error::from(std::io::Error::other(error.to_string())))?;
    Ok(files?)
}

async fn listing(State(uploads): State<Uploads>) -> Result<Json<Vec<StoredFile>>, Error> {
    stored_files(uploads.dir.clone()).await.map(Json)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn page(State(uploads): State<Uploads>) -> Result<asgi_framework::Html<String>, Error> {
    let files = stored_files(uploads.dir.clone()).await?;
    let mut rows = String::new();
    for file in &files {
        let name = escape(&file.name);
        let _ = writeln!(
            rows,
            r#"<li><a href="files/{name}">{name}</a> ({} bytes)</li>"#,
            file.size
        );
    }
    if files.is_empty() {
        rows.push_str("<li><em>nothing yet</em></li>\n");
    }
    Ok(asgi_framework::Html(format!(
        r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Uploads</title></head>
<body>
<h1>Uploads</h1>
<form action="upload" method="post" enctype="multipart/form-data">
  <input type="file" name="file" multiple>
  <button type="submit">Upload</button>
  <small>at most {max} bytes per file</small>
</form>
<ul id="files">
{rows}</ul>
</body>
</html>
"#,
        max = uploads.max_size
    )))
}

/// The upload app: files go to `dir`, each at most `max_size` bytes.
fn app(dir: PathBuf, max_size: u64) -> Application {
    let body_limit = usize::try_from(max_size)
        .unwrap_or(usize::MAX)
        .saturating_add(FRAMING_ALLOWANCE);
    Application::new()
        .state(MultipartLimits::new().per_field(max_size))
        .state(Uploads {
            dir: dir.clone(),
            max_size,
        })
        .route("/", get(page))
        .route("/uploads", get(listing))
        .route("/upload", post(upload).body_limit(body_limit))
        .mount("/files", StaticFiles::new(dir))
}

/// Multipart upload with a size limit.
#[derive(Debug, Parser)]
#[command(name = "upload")]
struct Cli {
    #[command(flatten)]
    server: asgi_server::ServerArgs,
    /// Where uploaded files are stored (created if missing).
    #[arg(long, default_value = "./uploads")]
    upload_dir: PathBuf,
    /// The largest file accepted, in bytes (413 beyond).
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    max_size: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    asgi_server::run_with(cli.server.into_config(), app(cli.upload_dir, cli.max_size))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use asgi_framework::testing::{TestClient, TestResponse};
    use serde_json::Value;

    use super::*;

    const BOUNDARY: &str = "XyZexampleBoundary";

    /// A temporary upload folder, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let name = format!(
                "upload-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            Self(std::env::temp_dir().join(name))
        }

        fn names(&self) -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(&self.0)
                .map(|entries| {
                    entries
                        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            names
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A multipart body of `(field, file name, content)` parts.
    fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (field, file_name, content) in parts {
            body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            let disposition = match file_name {
                Some(file_name) => format!(
                    "Content-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n"
                ),
                None => format!("Content-Disposition: form-data; name=\"{field}\"\r\n"),
            };
            body.extend_from_slice(disposition.as_bytes());
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        body
    }

    async fn post(client: &TestClient, parts: &[(&str, Option<&str>, &[u8])]) -> TestResponse {
        client
            .post("/upload")
            .header(
                "content-type",
                &format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(multipart(parts))
            .send()
            .await
    }

    #[tokio::test]
    async fn upload_stores_lists_and_serves_files() {
        let dir = TempDir::new();
        let client = TestClient::new(app(dir.0.clone(), 1024));

        let response = post(
            &client,
            &[
                ("note", None, b"ignored text field"),
                ("file", Some("hello.txt"), b"hello upload\n"),
                ("file", Some("data.bin"), &[0, 1, 2, 255]),
            ],
        )
        .await;

        assert_eq!(response.status(), 201, "{response:?}");
        assert_eq!(
            response.json::<Value>(),
            json!({"uploaded": [{"name": "hello.txt", "size": 13}, {"name": "data.bin", "size": 4}]})
        );
        let listed: Vec<StoredFile> = client.get("/uploads").send().await.json();
        assert_eq!(
            listed.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["data.bin", "hello.txt"]
        );
        let served = client.get("/files/hello.txt").send().await;
        assert_eq!(served.status(), 200);
        assert_eq!(served.text(), "hello upload\n");
        let page = client.get("/").send().await.text();
        assert!(
            page.contains(r#"<a href="files/hello.txt">hello.txt</a> (13 bytes)"#),
            "{page}"
        );
        assert_eq!(dir.names(), ["data.bin", "hello.txt"]);
    }

    #[tokio::test]
    async fn a_file_over_the_limit_is_413_and_nothing_is_kept() {
        let dir = TempDir::new();
        let client = TestClient::new(app(dir.0.clone(), 100));

        let small_then_big = post(
            &client,
            &[
                ("file", Some("small.txt"), b"fits"),
                ("file", Some("big.bin"), &[7u8; 101]),
            ],
        )
        .await;
        let far_too_big = post(&client, &[("file", Some("huge.bin"), &vec![1u8; 200_000])]).await;

        assert_eq!(small_then_big.status(), 413, "{small_then_big:?}");
        assert_eq!(far_too_big.status(), 413, "{far_too_big:?}");
        for response in [&small_then_big, &far_too_big] {
            assert_eq!(
                response.json::<Value>()["detail"],
                "a file may have at most 100 bytes"
            );
        }
        // The small file before the refused one was complete and stays; no part file is left.
        assert_eq!(dir.names(), ["small.txt"]);
    }

    #[tokio::test]
    async fn exactly_the_limit_is_accepted() {
        let dir = TempDir::new();
        let client = TestClient::new(app(dir.0.clone(), 100));

        let response = post(&client, &[("file", Some("edge.bin"), &[9u8; 100])]).await;

        assert_eq!(response.status(), 201, "{response:?}");
    }

    #[tokio::test]
    async fn names_are_sanitised_and_never_overwrite() {
        let dir = TempDir::new();
        let client = TestClient::new(app(dir.0.clone(), 1024));

        post(&client, &[("file", Some("../../etc/passwd"), b"one")]).await;
        post(&client, &[("file", Some("..\\passwd"), b"two")]).await;
        let third = post(&client, &[("file", Some("my photo (1).jpg"), b"three")]).await;

        assert_eq!(
            third.json::<Value>()["uploaded"][0]["name"],
            "my_photo__1_.jpg"
        );
        assert_eq!(dir.names(), ["my_photo__1_.jpg", "passwd", "passwd-1"]);
        assert_eq!(std::fs::read(dir.0.join("passwd")).unwrap(), b"one");
    }

    #[tokio::test]
    async fn bad_forms_are_clear_errors() {
        let dir = TempDir::new();
        let client = TestClient::new(app(dir.0.clone(), 1024));

        let no_file = post(&client, &[("note", None, b"text only")]).await;
        let text_as_file = post(&client, &[("file", None, b"not a file")]).await;
        let unusable_name = post(&client, &[("file", Some("..."), b"x")]).await;
        let not_multipart = client
            .post("/upload")
            .json(&json!({"file": "x"}))
            .send()
            .await;
        let truncated = client
            .post("/upload")
            .header(
                "content-type",
                &format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc"))
            .send()
            .await;

        assert_eq!(no_file.status(), 422);
        assert_eq!(
            no_file.json::<Value>()["detail"][0]["loc"],
            json!(["body", "file"])
        );
        assert_eq!(text_as_file.status(), 422);
        assert_eq!(unusable_name.status(), 422);
        assert_eq!(not_multipart.status(), 415);
        assert_eq!(truncated.status(), 400);
        assert!(dir.names().is_empty(), "{:?}", dir.names());
    }

    #[tokio::test]
    async fn a_browser_form_is_sent_back_to_the_page() {
        let dir = TempDir::new();
        let client = TestClient::new(app(dir.0.clone(), 1024));

        let response = client
            .post("/upload")
            .header("accept", "text/html,application/xhtml+xml")
            .header(
                "content-type",
                &format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(multipart(&[("file", Some("a.txt"), b"a")]))
            .send()
            .await;

        assert_eq!(response.status(), 303);
        assert_eq!(response.header("location"), Some("./"));
    }

    #[tokio::test]
    async fn an_empty_folder_lists_nothing_and_missing_files_are_404() {
        let dir = TempDir::new();
        let client = TestClient::new(app(dir.0.clone(), 1024));

        let listed: Vec<StoredFile> = client.get("/uploads").send().await.json();
        let page = client.get("/").send().await;
        let missing = client.get("/files/nope.txt").send().await;

        assert!(listed.is_empty());
        assert!(page.text().contains("nothing yet"));
        assert_eq!(missing.status(), 404);
    }

    #[test]
    fn sanitise_keeps_a_safe_base_name() {
        assert_eq!(sanitise("report.pdf").as_deref(), Some("report.pdf"));
        assert_eq!(
            sanitise("C:\\Users\\x\\a b.txt").as_deref(),
            Some("a_b.txt")
        );
        assert_eq!(sanitise(".bashrc").as_deref(), Some("bashrc"));
        assert_eq!(sanitise("été.txt").as_deref(), Some("_t_.txt"));
        assert_eq!(sanitise("..").as_deref(), None);
        assert_eq!(sanitise("dir/").as_deref(), None);
    }
}
