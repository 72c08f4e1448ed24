//! [`FileResponse`]: a file with validators, conditional requests and byte ranges.

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use asgi_core::{BoxError, Headers};
use bytes::Bytes;
use futures_util::StreamExt as _;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, StatusCode};

use super::{IntoResponse, Response};
use crate::body::{Body, BodyStream};
use crate::error::{Error, HttpError};
use crate::pool::{BlockingPool, current_pool};
use crate::request::Request;

/// How many bytes each read of the streamed fallback takes.
const CHUNK_SIZE: usize = 64 * 1024;
/// More ranges than this in one request are not worth answering piecemeal.
const MAX_RANGES: usize = 32;
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
        let conditional = *method == Method::GET || *method == Method::HEAD;
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
            .filter(|_| {
                conditional && self.status == StatusCode::OK && if_range_matches(request, &info)
            });
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

/// What a `Range` header asks of a file.
#[derive(Debug, PartialEq, Eq)]
enum Ranges {
    /// Not a valid byte-range set: serve the whole file.
    Ignore,
    /// Valid, but no range overlaps the file: 416.
    Unsatisfiable,
    /// Inclusive `(first, last)` byte positions, sorted, overlaps merged.
    Satisfiable(Vec<(u64, u64)>),
}

/// Parses `bytes=0-99,200-,-50` against a file of `len` bytes (RFC 9110 section 14.1.2).
fn parse_ranges(header: &str, len: u64) -> Ranges {
    let Some((unit, set)) = header.split_once('=') else {
        return Ranges::Ignore;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ranges::Ignore;
    }
    let mut ranges = Vec::new();
    for spec in set.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((first, last)) = spec.split_once('-') else {
            return Ranges::Ignore;
        };
        let (first, last) = (first.trim(), last.trim());
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if first.is_empty() {
            // A suffix: the last `n` bytes.
            let Some(n) = Some(last)
                .filter(|s| digits(s))
                .and_then(|s| s.parse::<u64>().ok())
            else {
                return Ranges::Ignore;
            };
            if n > 0 && len > 0 {
                ranges.push((len - n.min(len), len - 1));
            }
            continue;
        }
        let Some(start) = Some(first)
            .filter(|s| digits(s))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            return Ranges::Ignore;
        };
        let end = if last.is_empty() {
            u64::MAX
        } else {
            match Some(last)
                .filter(|s| digits(s))
                .and_then(|s| s.parse::<u64>().ok())
            {
                Some(end) if end >= start => end,
                _ => return Ranges::Ignore,
            }
        };
        if start < len {
            ranges.push((start, end.min(len - 1)));
        }
    }
    if ranges.is_empty() {
        return Ranges::Unsatisfiable;
    }
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    if merged.len() > MAX_RANGES {
        return Ranges::Ignore;
    }
    Ranges::Satisfiable(merged)
}

/// `count` bytes of the file at `path` from `offset`, read in chunks on `pool`.
fn read_range(pool: BlockingPool, path: PathBuf, offset: u64, count: u64) -> BodyStream {
    struct Cursor {
        pool: BlockingPool,
        path: PathBuf,
        file: Option<File>,
        offset: u64,
        remaining: u64,
    }
    let cursor = Cursor {
        pool,
        path,
        file: None,
        offset,
        remaining: count,
    };
    let stream = futures_util::stream::try_unfold(cursor, |mut cursor| async move {
        if cursor.remaining == 0 {
            return Ok::<_, BoxError>(None);
        }
        let want = usize::try_from(cursor.remaining)
            .unwrap_or(usize::MAX)
            .min(CHUNK_SIZE);
        let (file, path, offset) = (cursor.file.take(), cursor.path.clone(), cursor.offset);
        let (file, chunk) = cursor
            .pool
            .run(move || -> std::io::Result<(File, Vec<u8>)> {
                let mut file = match file {
                    Some(file) => file,
                    None => {
                        let mut file = File::open(&path)?;
                        file.seek(SeekFrom::Start(offset))?;
                        file
                    }
                };
                let mut chunk = vec![0; want];
                file.read_exact(&mut chunk)?;
                Ok((file, chunk))
            })
            .await??;
        cursor.file = Some(file);
        cursor.remaining -= want as u64;
        Ok(Some((Bytes::from(chunk), cursor)))
    });
    Box::pin(stream)
}

/// The `multipart/byteranges` body for `ranges`, its length and its boundary.
fn multipart_ranges(
    pool: BlockingPool,
    path: PathBuf,
    ranges: &[(u64, u64)],
    len: u64,
    content_type: Option<HeaderValue>,
) -> (Body, u64, String) {
    let boundary = uuid::Uuid::new_v4().simple().to_string();
    let content_type = content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .map(|ct| format!("Content-Type: {ct}\r\n"))
        .unwrap_or_default();
    let mut parts: Vec<BodyStream> = Vec::with_capacity(ranges.len() * 2 + 1);
    let mut total = 0_u64;
    let mut text = |parts: &mut Vec<BodyStream>, text: String| {
        total += text.len() as u64;
        parts.push(Body::full(text).into_stream());
    };
    for (i, &(start, end)) in ranges.iter().enumerate() {
        let lead = if i == 0 { "" } else { "\r\n" };
        text(
            &mut parts,
            format!(
                "{lead}--{boundary}\r\n{content_type}Content-Range: bytes {start}-{end}/{len}\r\n\r\n"
            ),
        );
        parts.push(read_range(
            pool.clone(),
            path.clone(),
            start,
            end - start + 1,
        ));
    }
    text(&mut parts, format!("\r\n--{boundary}--\r\n"));
    let body_len = total + ranges.iter().map(|(s, e)| e - s + 1).sum::<u64>();
    let body = Body::from_stream(futures_util::stream::iter(parts).flatten());
    (body, body_len, boundary)
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
    fn ranges_parse_clamp_and_merge() {
        let cases: &[(&str, Ranges)] = &[
            ("bytes=0-99", Ranges::Satisfiable(vec![(0, 99)])),
            ("bytes=900-", Ranges::Satisfiable(vec![(900, 999)])),
            ("bytes=-100", Ranges::Satisfiable(vec![(900, 999)])),
            ("bytes=-5000", Ranges::Satisfiable(vec![(0, 999)])),
            ("bytes=500-5000", Ranges::Satisfiable(vec![(500, 999)])),
            (
                "bytes=0-9, 5-19,30-39",
                Ranges::Satisfiable(vec![(0, 19), (30, 39)]),
            ),
            (
                "bytes=20-29,0-9",
                Ranges::Satisfiable(vec![(0, 9), (20, 29)]),
            ),
            ("bytes=1000-", Ranges::Unsatisfiable),
            ("bytes=-0", Ranges::Unsatisfiable),
            ("bytes=9-1", Ranges::Ignore),
            ("bytes=a-b", Ranges::Ignore),
            ("items=0-1", Ranges::Ignore),
            ("bytes 0-1", Ranges::Ignore),
            ("bytes=+1-2", Ranges::Ignore),
        ];
        for (header, expected) in cases {
            assert_eq!(&parse_ranges(header, 1000), expected, "{header}");
        }
    }

    #[test]
    fn too_many_ranges_serve_the_whole_file() {
        let header = format!(
            "bytes={}",
            (0..40)
                .map(|i| format!("{}-{}", i * 10, i * 10))
                .collect::<Vec<_>>()
                .join(",")
        );

        assert_eq!(parse_ranges(&header, 1000), Ranges::Ignore);
    }

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
