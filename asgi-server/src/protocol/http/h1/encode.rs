//! Response encoding: status, headers and body framing into a write buffer (no I/O).

use asgi_core::{Headers, HttpVersion};
use bytes::{BufMut, BytesMut};
use http::StatusCode;
use http::header::{self, HeaderName};

use crate::protocol::http::date;

/// How the response body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body may be sent (HEAD, 204, 304): body bytes are dropped.
    Empty,
    /// `Content-Length`: this many bytes remain.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// HTTP/1.0 without a length: the body ends when the connection closes.
    CloseDelimited,
}

/// What the encoder needs to know about the request and the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadContext<'a> {
    pub(crate) version: HttpVersion,
    pub(crate) is_head: bool,
    /// Whether the connection may stay open (client, server and shutdown agree).
    pub(crate) keep_alive: bool,
    pub(crate) date: bool,
    /// `server: NAME\r\n` and the `--header` fields, pre-encoded.
    pub(crate) server: &'a [u8],
    /// The `--header` fields, pre-encoded.
    pub(crate) defaults: &'a [u8],
}

/// The result of encoding a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Encoded {
    pub(crate) framing: Framing,
    pub(crate) keep_alive: bool,
}

/// Encodes a response head into `dst`.
///
/// `body_len` is the full body length when the whole body is already known
/// (the first body message is the last), which lets the response carry a
/// `Content-Length` instead of being chunked. The app's `Transfer-Encoding`
/// is ignored (ASGI: the server frames the body) and so is its `Connection`
/// field, except that `close` in it is honoured.
pub(crate) fn encode_head(
    dst: &mut BytesMut,
    status: StatusCode,
    headers: &Headers,
    ctx: HeadContext<'_>,
    body_len: Option<u64>,
) -> Encoded {
    let mut app_len = None;
    let mut keep_alive = ctx.keep_alive;
    let mut has_date = false;
    let mut has_server = false;

    write_status_line(dst, status);
    let no_body_status = status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status.is_informational();
    for (name, value) in headers {
        if *name == header::TRANSFER_ENCODING {
            continue;
        } else if *name == header::CONNECTION {
            if value
                .as_bytes()
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
            {
                keep_alive = false;
            }
            continue;
        } else if *name == header::CONTENT_LENGTH {
            // A malformed or repeated length from the app is dropped; the body is framed anyway.
            match (app_len, parse_len(value.as_bytes())) {
                (None, Some(n)) if status != StatusCode::NO_CONTENT => app_len = Some(n),
                _ => continue,
            }
        } else if *name == header::DATE {
            has_date = true;
        } else if *name == header::SERVER {
            has_server = true;
        }
        write_field(dst, name, value.as_bytes());
    }

    let framing = if no_body_status {
        Framing::Empty
    } else if ctx.is_head {
        if let (None, Some(n)) = (app_len, body_len.filter(|&n| n > 0)) {
            write_content_length(dst, n);
        }
        Framing::Empty
    } else if let Some(n) = app_len {
        Framing::Length(n)
    } else if let Some(n) = body_len {
        write_content_length(dst, n);
        Framing::Length(n)
    } else if ctx.version == HttpVersion::Http11 {
        dst.put_slice(b"transfer-encoding: chunked\r\n");
        Framing::Chunked
    } else {
        keep_alive = false;
        Framing::CloseDelimited
    };

    if !keep_alive {
        dst.put_slice(b"connection: close\r\n");
    } else if ctx.version == HttpVersion::Http10 {
        dst.put_slice(b"connection: keep-alive\r\n");
    }
    if ctx.date && !has_date {
        date::with_date_field(|field| dst.put_slice(field));
    }
    if !has_server {
        dst.put_slice(ctx.server);
    }
    dst.put_slice(ctx.defaults);
    dst.put_slice(b"\r\n");
    Encoded {
        framing,
        keep_alive,
    }
}

/// Encodes a complete plain-text response for a server-side error (400, 500, 503, ...).
pub(crate) fn encode_error(dst: &mut BytesMut, status: StatusCode, ctx: HeadContext<'_>) {
    let reason = status.canonical_reason().unwrap_or("Error");
    write_status_line(dst, status);
    dst.put_slice(b"content-type: text/plain; charset=utf-8\r\n");
    write_content_length(dst, reason.len() as u64);
    if !ctx.keep_alive {
        dst.put_slice(b"connection: close\r\n");
    } else if ctx.version == HttpVersion::Http10 {
        dst.put_slice(b"connection: keep-alive\r\n");
    }
    if ctx.date {
        date::with_date_field(|field| dst.put_slice(field));
    }
    dst.put_slice(ctx.server);
    dst.put_slice(ctx.defaults);
    dst.put_slice(b"\r\n");
    if !ctx.is_head {
        dst.put_slice(reason.as_bytes());
    }
}

/// Encodes the size line of a chunk of `len` bytes (the data and its CRLF follow).
pub(crate) fn encode_chunk_size(dst: &mut BytesMut, len: usize) {
    let mut digits = [0u8; 16];
    let mut n = len;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    dst.put_slice(&digits[i..]);
    dst.put_slice(b"\r\n");
}

/// The last chunk of a chunked body, with no trailers.
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// The interim response sent when an `Expect: 100-continue` body is first read.
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Pre-encodes the `server` field and the `--header` fields.
///
/// A `server` among the `--header` fields replaces the built-in one (as in
/// Uvicorn); `name` is `None` with `--no-server-header`.
pub(crate) fn encode_fixed_headers(
    name: Option<&str>,
    defaults: &[(HeaderName, http::HeaderValue)],
) -> (Vec<u8>, Vec<u8>) {
    let mut server = BytesMut::new();
    let mut rest = BytesMut::new();
    for (field, value) in defaults {
        if field == header::SERVER {
            server.clear();
            write_field(&mut server, field, value.as_bytes());
        } else {
            write_field(&mut rest, field, value.as_bytes());
        }
    }
    if let (true, Some(name)) = (server.is_empty(), name) {
        server.put_slice(b"server: ");
        server.put_slice(name.as_bytes());
        server.put_slice(b"\r\n");
    }
    (server.to_vec(), rest.to_vec())
}

fn write_status_line(dst: &mut BytesMut, status: StatusCode) {
    if status == StatusCode::OK {
        // The common case in one copy instead of five.
        dst.put_slice(b"HTTP/1.1 200 OK\r\n");
        return;
    }
    dst.put_slice(b"HTTP/1.1 ");
    dst.put_slice(status.as_str().as_bytes());
    dst.put_u8(b' ');
    dst.put_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    dst.put_slice(b"\r\n");
}

pub(crate) fn write_field(dst: &mut BytesMut, name: &HeaderName, value: &[u8]) {
    dst.reserve(name.as_str().len() + value.len() + 4);
    dst.put_slice(name.as_str().as_bytes());
    dst.put_slice(b": ");
    dst.put_slice(value);
    dst.put_slice(b"\r\n");
}

fn write_content_length(dst: &mut BytesMut, n: u64) {
    dst.put_slice(b"content-length: ");
    write_decimal(dst, n);
    dst.put_slice(b"\r\n");
}

/// Writes `n` in decimal without going through `fmt`.
pub(crate) fn write_decimal(dst: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.put_slice(&digits[i..]);
}

fn parse_len(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')),
    )
}

#[cfg(test)]
mod tests;
