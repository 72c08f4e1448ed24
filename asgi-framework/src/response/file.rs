//! [`FileResponse`]: a file with validators, conditional requests and byte ranges.

use std::fmt;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use asgi_core::Headers;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, StatusCode};

pub(crate) mod range;

use self::range::{Ranges, multipart_ranges, parse_ranges, read_range};
use super::{IntoResponse, Response};
use crate::body::Body;
use crate::error::{Error, HttpError};
use crate::pool::{BlockingPool, current_pool};
use crate::request::Request;

/// Headers a 304 keeps from the 200 it replaces (RFC 9110 section 15.4.5).
const NOT_MODIFIED_KEEP: [&str; 6] = [
    "cache-control",
    "content-location",
    "date",
    "etag",
    "expires",
    "vary",
];

/// A file as a response: Starlette's `FileResponse`.
///
/// The content type is guessed from the file name (`mime_guess`); `ETag`
/// (from the modification time and size) and `Last-Modified` are set, as is
/// `Accept-Ranges: bytes`. With [`respond`](Self::respond) the request is
/// taken into account: `If-None-Match` / `If-Modified-Since` give 304, a
/// `Range` gives 206 (one range) or `multipart/byteranges` (several), an
/// unsatisfiable range 416 with `Content-Range: bytes */len`, and `If-Range`
/// is honoured. A whole file goes out through the server's
/// `http.response.pathsend` when the scope offers it; otherwise, and for
/// ranges, it is streamed in 64 KiB chunks read on the blocking pool, never
/// on the event loop. HEAD responses carry the headers without the body.
///
/// # Example
///
/// ```
/// use asgi_framework::{Request, Response};
/// use asgi_framework::response::FileResponse;
///
/// async fn report(request: Request) -> Response {
///     FileResponse::new("reports/latest.pdf")
///         .filename("report.pdf")
///         .respond(&request)
///         .await
/// }
/// ```
#[derive(Debug, Clone)]
pub struct FileResponse {
    path: PathBuf,
    filename: Option<String>,
    content_type: Option<HeaderValue>,
    inline: bool,
    status: StatusCode,
    headers: Headers,
}

impl FileResponse {
    /// The file at `path` (relative paths are resolved against the working directory).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            filename: None,
            content_type: None,
            inline: false,
            status: StatusCode::OK,
            headers: Headers::new(),
        }
    }

    /// Offers the file as a download named `filename` (`Content-Disposition: attachment`).
    #[must_use]
    pub fn filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// With a [`filename`](Self::filename), shows the file in the browser
    /// (`Content-Disposition: inline`) instead of downloading it.
    #[must_use]
    pub fn inline(mut self) -> Self {
        self.inline = true;
        self
    }

    /// Sets the `Content-Type` instead of guessing it. An invalid value is ignored.
    #[must_use]
    pub fn content_type(mut self, content_type: &str) -> Self {
        self.content_type = HeaderValue::from_str(content_type).ok();
        self
    }

    /// Sets the status of a full response (200 by default); ranges apply only to 200.
    #[must_use]
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Adds a header (for example `Cache-Control`).
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push(name, value);
        self
    }

    /// Makes the response for `request`: conditional requests, ranges and
    /// the blocking pool of the application.
    ///
    /// A missing file gives 404, any other failure to read its metadata (or a
    /// path that is not a regular file) a 500.
    pub async fn respond(self, request: &Request) -> Response {
        let pool = request.blocking_pool().clone();
        let path = self.path.clone();
        let stat = pool.run(move || stat(&path)).await;
        match stat {
            Ok(Ok((path, metadata))) => {
                self.build(path, &metadata, request.method(), request.headers(), pool)
            }
            Ok(Err(error)) => stat_error(error, &self.path),
            Err(error) => Error::from(error).into_response(),
        }
    }

    fn build(
        self,
        path: PathBuf,
        metadata: &Metadata,
        method: &Method,
        request: &Headers,
        pool: BlockingPool,
    ) -> Response {
        let info = Info::new(metadata);
        let mut headers = self.headers(&path, &info);
        // Validators and ranges are about the file as a 200: a 404 page is never "not modified".
        let conditional =
            (*method == Method::GET || *method == Method::HEAD) && self.status == StatusCode::OK;
        if conditional && is_not_modified(request, &info) {
            let kept = headers
                .into_iter()
                .filter(|(name, _)| NOT_MODIFIED_KEEP.contains(&name.as_str()));
            let mut response = Response::with_status(StatusCode::NOT_MODIFIED);
            response.headers_mut().extend(kept);
            return response;
        }
        let range = request
            .get("range")
            .and_then(|v| v.to_str().ok())
            .filter(|_| conditional && if_range_matches(request, &info));
        let ranges = match range.map(|r| parse_ranges(r, info.len)) {
            None | Some(Ranges::Ignore) => {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(info.len));
                let fallback = Body::from_stream(read_range(pool, path.clone(), 0, info.len));
                let mut response = Response::new(Body::file(path, Some(fallback)));
                *response.status_mut() = self.status;
                response.headers_mut().extend(headers);
                return response;
            }
            Some(Ranges::Unsatisfiable) => {
                let mut response = super::IntoResponse::into_response("Range Not Satisfiable");
                *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                let content_range = format!("bytes */{}", info.len);
                if let Ok(value) = HeaderValue::from_str(&content_range) {
                    response.headers_mut().push(header::CONTENT_RANGE, value);
                }
                return response;
            }
            Some(Ranges::Satisfiable(ranges)) => ranges,
        };
        let mut response = match ranges.as_slice() {
            [(start, end)] => {
                let content_range = format!("bytes {start}-{end}/{}", info.len);
                if let Ok(value) = HeaderValue::from_str(&content_range) {
                    headers.push(header::CONTENT_RANGE, value);
                }
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
                Response::new(Body::from_stream(read_range(
                    pool,
                    path,
                    *start,
                    end - start + 1,
                )))
            }
            _ => {
                let content_type = headers.get("content-type").cloned();
                let (body, len, boundary) =
                    multipart_ranges(pool, path, &ranges, info.len, content_type);
                headers.remove("content-type");
                let value = format!("multipart/byteranges; boundary={boundary}");
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.push(header::CONTENT_TYPE, value);
                }
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                Response::new(body)
            }
        };
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        response.headers_mut().extend(headers);
        response
    }

    /// The headers every answer about this file carries.
    fn headers(&self, path: &Path, info: &Info) -> Headers {
        let mut headers = Headers::new();
        let guessed = self.content_type.clone().unwrap_or_else(|| {
            guess_content_type(self.filename.as_deref().map_or(path, Path::new))
        });
        headers.push(header::CONTENT_TYPE, guessed);
        headers.push(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Some(etag) = &info.etag {
            headers.push(header::ETAG, etag.clone());
        }
        if let Some(modified) = &info.last_modified {
            headers.push(header::LAST_MODIFIED, modified.clone());
        }
        if let Some(name) = &self.filename {
            let kind = if self.inline { "inline" } else { "attachment" };
            if let Ok(value) = HeaderValue::from_str(&content_disposition(kind, name)) {
                headers.push(header::CONTENT_DISPOSITION, value);
            }
        }
        headers.extend(self.headers.iter().cloned());
        headers
    }
}

impl IntoResponse for FileResponse {
    /// The whole file with its validators, without looking at the request
    /// (no 304, no ranges): use [`FileResponse::respond`] for those.
    ///
    /// This reads the file's metadata (one `stat` call) on the calling
    /// thread; the content itself is sent by pathsend or read on the
    /// blocking pool.
    fn into_response(self) -> Response {
        match stat(&self.path) {
            Ok((path, metadata)) => self.build(
                path,
                &metadata,
                &Method::GET,
                &Headers::new(),
                current_pool(),
            ),
            Err(error) => stat_error(error, &self.path),
        }
    }
}

/// The absolute path and metadata of a regular file.
fn stat(path: &Path) -> std::io::Result<(PathBuf, Metadata)> {
    let path = std::path::absolute(path)?;
    let metadata = std::fs::metadata(&path)?;
    if !metadata.is_file() {
        return Err(std::io::Error::other(NotAFile));
    }
    Ok((path, metadata))
}

#[derive(Debug)]
struct NotAFile;

impl fmt::Display for NotAFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a regular file")
    }
}

impl std::error::Error for NotAFile {}

fn stat_error(error: std::io::Error, path: &Path) -> Response {
    if error.kind() == std::io::ErrorKind::NotFound {
        return HttpError::not_found().into_response();
    }
    tracing::error!(path = %path.display(), %error, "cannot serve file");
    Error::from(error).into_response()
}

/// The validators of one version of a file.
#[derive(Debug)]
struct Info {
    len: u64,
    modified: Option<SystemTime>,
    etag: Option<HeaderValue>,
    last_modified: Option<HeaderValue>,
}

impl Info {
    fn new(metadata: &Metadata) -> Self {
        let len = metadata.len();
        let modified = metadata.modified().ok();
        let since_epoch = modified.and_then(|m| m.duration_since(UNIX_EPOCH).ok());
        // Like nginx: modification time and size, in hex. Cheaper than
        // Starlette's md5 of the same two numbers, and as discriminating.
        let etag = since_epoch
            .and_then(|d| HeaderValue::from_str(&format!("\"{:x}-{len:x}\"", d.as_nanos())).ok());
        let last_modified =
            modified.and_then(|m| HeaderValue::from_str(&httpdate::fmt_http_date(m)).ok());
        Self {
            len,
            modified,
            etag,
            last_modified,
        }
    }
}

/// `If-None-Match` (weak comparison) or, without it, `If-Modified-Since` says the client's copy is current.
fn is_not_modified(request: &Headers, info: &Info) -> bool {
    if let Some(value) = request.get("if-none-match") {
        let (Ok(tags), Some(etag)) = (value.to_str(), &info.etag) else {
            return false;
        };
        let ours = etag.to_str().unwrap_or("");
        return tags
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours);
    }
    let since = request
        .get("if-modified-since")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    match (since, info.modified) {
        // HTTP dates have whole seconds: compare at that precision.
        (Some(since), Some(modified)) => secs(modified) <= secs(since),
        _ => false,
    }
}

fn secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Whether a `Range` may be honoured: no `If-Range`, or one naming this version
/// (a strong ETag, or exactly its `Last-Modified` date).
fn if_range_matches(request: &Headers, info: &Info) -> bool {
    let Some(value) = request.get("if-range") else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let value = value.trim();
    if value.starts_with('"') {
        return info.etag.as_ref().is_some_and(|etag| etag == value);
    }
    info.last_modified
        .as_ref()
        .is_some_and(|date| date == value)
}

/// The content type for `path`'s extension; text types get `charset=utf-8`.
fn guess_content_type(path: &Path) -> HeaderValue {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let text = mime.type_() == mime_guess::mime::TEXT || mime.subtype() == "javascript";
    let value = if text && mime.get_param("charset").is_none() {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.to_string()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// Characters kept as they are in an RFC 8187 `filename*` (and so allowed in a quoted `filename`).
const FILENAME: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `attachment; filename="a.txt"`, or the RFC 8187 form for names that need escaping.
fn content_disposition(kind: &str, filename: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(filename, FILENAME).to_string();
    if encoded == filename {
        format!("{kind}; filename=\"{filename}\"")
    } else {
        format!("{kind}; filename*=utf-8''{encoded}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_quotes_plain_names_and_encodes_others() {
        assert_eq!(
            content_disposition("attachment", "a.txt"),
            "attachment; filename=\"a.txt\""
        );
        assert_eq!(
            content_disposition("attachment", "r\u{e9}sum\u{e9} \"x\".pdf"),
            "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20%22x%22.pdf"
        );
    }

    #[test]
    fn text_types_get_a_charset() {
        assert_eq!(
            guess_content_type(Path::new("a.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(guess_content_type(Path::new("a.png")), "image/png");
        assert_eq!(
            guess_content_type(Path::new("noext")),
            "application/octet-stream"
        );
    }
}
