//! Request decoding: bytes in, request heads and body chunks out (no I/O).

use std::mem::MaybeUninit;

use asgi_core::{Headers, HttpVersion};
use bytes::{Bytes, BytesMut};

pub(crate) use super::chunked::{Chunk, ChunkedDecoder};
#[cfg(test)]
use super::chunked::{ChunkError, MAX_CHUNK_LINE};
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, StatusCode};

/// At most this many header fields in a request head (a 431 past it).
pub(crate) const MAX_HEADERS: usize = 100;

/// A parsed request head, with the framing facts the connection needs.
#[derive(Debug)]
pub(crate) struct RequestHead {
    pub(crate) method: Method,
    pub(crate) target: Bytes,
    pub(crate) version: HttpVersion,
    pub(crate) headers: Headers,
    pub(crate) body: BodyKind,
    /// Whether the client allows the connection to stay open after this request.
    pub(crate) keep_alive: bool,
    /// `Expect: 100-continue` on an HTTP/1.1 request.
    pub(crate) expect_continue: bool,
    /// `Connection: upgrade` with `Upgrade: websocket`.
    pub(crate) upgrade_websocket: bool,
    /// `TE: trailers` on an HTTP/1.1 request: the client accepts response
    /// trailers. Found here, in the pass over the fields the framing needs
    /// anyway, rather than by another search per request.
    pub(crate) accepts_trailers: bool,
    /// An `X-Forwarded-*` field is present: only then can `--proxy-headers`
    /// change the scope, so only then is the peer's trust checked.
    pub(crate) forwarded: bool,
}

/// How the request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// `Content-Length` (0 when absent).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Why a request head was rejected; each maps to one response status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// 400: malformed, or framing that could be used to smuggle a request.
    BadRequest(&'static str),
    /// 431: the head is over the size limit or has too many fields.
    HeadTooLarge,
    /// 414: the request line alone is over the size limit.
    UriTooLong,
    /// 501: a transfer coding other than chunked.
    UnsupportedCoding,
}

impl HeadError {
    /// The response status for this error.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            HeadError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HeadError::HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            HeadError::UriTooLong => StatusCode::URI_TOO_LONG,
            HeadError::UnsupportedCoding => StatusCode::NOT_IMPLEMENTED,
        }
    }

    /// A short reason for logs.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            HeadError::BadRequest(reason) => reason,
            HeadError::HeadTooLarge => "request head too large",
            HeadError::UriTooLong => "request target too long",
            HeadError::UnsupportedCoding => "unsupported transfer coding",
        }
    }
}

/// Where one header field sits in the head: its name, and its value as (start, len).
pub(crate) type FieldIndex = (HeaderName, usize, usize);

/// Parses one request head from the front of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed. On success the head's bytes
/// are split off `buf` (header values and the target share that memory); what
/// is left is the body and any pipelined requests. `scratch` is reused
/// between calls so that parsing does not allocate for it.
pub(crate) fn parse_head(
    buf: &mut BytesMut,
    limit: usize,
    scratch: &mut Vec<FieldIndex>,
) -> Result<Option<RequestHead>, HeadError> {
    let mut raw = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let base = buf.as_ptr() as usize;
    let buf_len = buf.len();
    // Where a slice httparse returned sits in `buf` (empty slices may point anywhere).
    let offset = |s: &[u8]| -> Result<usize, HeadError> {
        if s.is_empty() {
            return Ok(0);
        }
        (s.as_ptr() as usize)
            .checked_sub(base)
            .filter(|start| start + s.len() <= buf_len)
            .ok_or(HeadError::BadRequest("malformed request head"))
    };

    let len = match req.parse_with_uninit_headers(buf, &mut raw) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            if buf.len() > limit {
                return Err(too_large(buf, limit));
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::HeadTooLarge),
        Err(httparse::Error::Version) => {
            return Err(HeadError::BadRequest("unsupported HTTP version"));
        }
        Err(httparse::Error::Token) => {
            return Err(HeadError::BadRequest("invalid method or token"));
        }
        Err(httparse::Error::HeaderName) => {
            return Err(HeadError::BadRequest("invalid header name"));
        }
        Err(httparse::Error::HeaderValue) => {
            return Err(HeadError::BadRequest("invalid header value"));
        }
        Err(_) => return Err(HeadError::BadRequest("malformed request head")),
    };
    if len > limit {
        return Err(too_large(buf, limit));
    }
    // RFC 9112 2.2 lets a recipient accept a bare LF as a line end; refusing
    // it closes a request-smuggling gap between lenient and strict parsers.
    if has_bare_lf(&buf[..len]) {
        return Err(HeadError::BadRequest("bare LF in request head"));
    }
    let method = match req.method {
        Some(m) => {
            Method::from_bytes(m.as_bytes()).map_err(|_| HeadError::BadRequest("invalid method"))?
        }
        None => return Err(HeadError::BadRequest("missing method")),
    };
    let version = match req.version {
        Some(0) => HttpVersion::Http10,
        Some(1) => HttpVersion::Http11,
        _ => return Err(HeadError::BadRequest("unsupported HTTP version")),
    };
    let Some(path) = req.path else {
        return Err(HeadError::BadRequest("missing request target"));
    };
    let target_range = (offset(path.as_bytes())?, path.len());

    // Header names are parsed now; values are sliced out of the frozen head below.
    scratch.clear();
    let fields = scratch;
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| HeadError::BadRequest("invalid header name"))?;
        fields.push((name, offset(h.value)?, h.value.len()));
    }
    let head = buf.split_to(len).freeze();

    let mut framing = Framing::default();
    let mut headers = Headers::with_capacity(fields.len());
    for (name, start, len) in fields.drain(..) {
        let raw_value = head.slice(start..start + len);
        framing.observe(&name, &raw_value)?;
        let value = HeaderValue::from_maybe_shared(raw_value)
            .map_err(|_| HeadError::BadRequest("invalid header value"))?;
        headers.push(name, value);
    }
    let target = head.slice(target_range.0..target_range.0 + target_range.1);
    framing.finish(method, target, version, headers).map(Some)
}

/// What the framing-relevant header fields said, gathered field by field.
#[derive(Debug, Default)]
struct Framing {
    content_length: Option<u64>,
    chunked: bool,
    transfer_encoding: bool,
    close: bool,
    keep_alive: bool,
    upgrade_token: bool,
    upgrade_websocket: bool,
    expect_continue: bool,
    te_trailers: bool,
    forwarded: bool,
    hosts: usize,
}

impl Framing {
    fn observe(&mut self, name: &HeaderName, value: &[u8]) -> Result<(), HeadError> {
        if *name == header::CONTENT_LENGTH {
            for item in value.split(|&b| b == b',') {
                let n = parse_content_length(trim(item))
                    .ok_or(HeadError::BadRequest("invalid content-length"))?;
                match self.content_length {
                    Some(prev) if prev != n => {
                        return Err(HeadError::BadRequest("conflicting content-length"));
                    }
                    _ => self.content_length = Some(n),
                }
            }
        } else if *name == header::TRANSFER_ENCODING {
            self.transfer_encoding = true;
            for coding in value.split(|&b| b == b',') {
                let coding = trim(coding);
                if self.chunked {
                    // RFC 9112 6.1: chunked must be the final coding, and only once.
                    return Err(HeadError::BadRequest(
                        "chunked is not the final transfer coding",
                    ));
                }
                if coding.eq_ignore_ascii_case(b"chunked") {
                    self.chunked = true;
                } else if coding.is_empty() {
                    return Err(HeadError::BadRequest("empty transfer coding"));
                } else {
                    return Err(HeadError::UnsupportedCoding);
                }
            }
        } else if *name == header::CONNECTION {
            for token in value.split(|&b| b == b',') {
                let token = trim(token);
                if token.eq_ignore_ascii_case(b"close") {
                    self.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    self.keep_alive = true;
                } else if token.eq_ignore_ascii_case(b"upgrade") {
                    self.upgrade_token = true;
                }
            }
        } else if *name == header::UPGRADE {
            self.upgrade_websocket |= value
                .split(|&b| b == b',')
                .any(|p| trim(p).eq_ignore_ascii_case(b"websocket"));
        } else if *name == header::EXPECT {
            if trim(value).eq_ignore_ascii_case(b"100-continue") {
                self.expect_continue = true;
            }
        } else if *name == header::HOST {
            self.hosts += 1;
        } else if *name == header::TE {
            self.te_trailers |= crate::protocol::http::service::te_has_trailers(value);
        } else if name.as_str().starts_with("x-forwarded-") {
            self.forwarded = true;
        }
        Ok(())
    }

    fn finish(
        self,
        method: Method,
        target: Bytes,
        version: HttpVersion,
        headers: Headers,
    ) -> Result<RequestHead, HeadError> {
        let http11 = version == HttpVersion::Http11;
        // RFC 9112 3.2: exactly one Host on HTTP/1.1, at most one otherwise.
        if self.hosts > 1 || (http11 && self.hosts == 0) {
            return Err(HeadError::BadRequest("missing or repeated host"));
        }
        if self.transfer_encoding {
            // RFC 9112 6.1: TE in an HTTP/1.0 request, or TE with CL, is faulty framing.
            if !http11 {
                return Err(HeadError::BadRequest("transfer-encoding on HTTP/1.0"));
            }
            if self.content_length.is_some() {
                return Err(HeadError::BadRequest(
                    "both content-length and transfer-encoding",
                ));
            }
            if !self.chunked {
                return Err(HeadError::BadRequest(
                    "chunked is not the final transfer coding",
                ));
            }
        }
        let body = if self.chunked {
            BodyKind::Chunked
        } else {
            BodyKind::Length(self.content_length.unwrap_or(0))
        };
        let keep_alive = if http11 {
            !self.close
        } else {
            self.keep_alive && !self.close
        };
        Ok(RequestHead {
            upgrade_websocket: method == Method::GET
                && self.upgrade_token
                && self.upgrade_websocket,
            method,
            target,
            version,
            headers,
            body,
            keep_alive,
            expect_continue: http11 && self.expect_continue,
            accepts_trailers: http11 && self.te_trailers,
            forwarded: self.forwarded,
        })
    }
}

/// 414 when the request line alone is over the limit, else 431.
fn too_large(buf: &[u8], limit: usize) -> HeadError {
    match buf.iter().position(|&b| b == b'\n') {
        Some(end) if end <= limit => HeadError::HeadTooLarge,
        _ => HeadError::UriTooLong,
    }
}

fn has_bare_lf(head: &[u8]) -> bool {
    let Some((&first, _)) = head.split_first() else {
        return false;
    };
    // Branch-free over two equal-length slices so that it vectorizes: any LF
    // whose previous byte is not CR. (Zipping `iter().skip(1)` instead
    // defeated the vectorizer: a byte-by-byte loop on every request head.)
    let (prev, next) = (&head[..head.len() - 1], &head[1..]);
    let inner = next.iter().zip(prev).fold(0u8, |found, (&b, &p)| {
        found | u8::from((b == b'\n') & (p != b'\r'))
    });
    inner != 0 || first == b'\n'
}

fn parse_content_length(digits: &[u8]) -> Option<u64> {
    // 1*DIGIT: no sign, no spaces, no hex; at most 19 digits keeps u64 from overflowing.
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')),
    )
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

#[cfg(test)]
mod tests;
