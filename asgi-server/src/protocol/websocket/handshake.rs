//! The opening handshake: request validation and every response the server writes before frames.

use std::time::Duration;

use asgi_core::Headers;
use asgi_core::http::StatusCode;
use asgi_core::http::header::{CONTENT_TYPE, DATE, HeaderName, HeaderValue, SERVER};
use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// The server's own fields in every handshake response (101, 403, 426,
/// denial, ...): `date`, `server` and the `--header` fields, as the HTTP/1.1
/// engine adds them to its responses.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ServerFields<'a> {
    /// Whether to add a `date` field (`--date-header`).
    pub(super) date: bool,
    /// `server: NAME\r\n` (or the `--header` one), pre-encoded; empty with `--no-server-header`.
    pub(super) server: &'a [u8],
    /// The other `--header` fields, pre-encoded.
    pub(super) defaults: &'a [u8],
}

impl ServerFields<'_> {
    /// Appends the fields; a `date` or `server` the app set itself wins.
    fn write(self, out: &mut BytesMut, app: &Headers) {
        let has = |name: &HeaderName| app.iter().any(|(n, _)| n == name);
        if self.date && !has(&DATE) {
            crate::protocol::http::date::with_date_field(|field| out.put_slice(field));
        }
        if !self.server.is_empty() && !has(&SERVER) {
            out.put_slice(self.server);
        }
        out.put_slice(self.defaults);
    }
}

/// Why an upgrade request cannot become a WebSocket, before the app is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rejection {
    /// `Sec-WebSocket-Version` is missing or not 13: 426 with the supported version.
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` is missing, repeated, or not 16 bytes in base64: 400.
    InvalidKey,
}

impl Rejection {
    /// The status of the response written for this rejection.
    pub(super) fn status(self) -> StatusCode {
        match self {
            Rejection::UnsupportedVersion => StatusCode::UPGRADE_REQUIRED,
            Rejection::InvalidKey => StatusCode::BAD_REQUEST,
        }
    }
}

/// Checks the headers RFC 6455 section 4.2.1 requires beyond the upgrade
/// itself (which the HTTP/1.1 connection has checked) and returns the key.
pub(super) fn validate(headers: &Headers) -> Result<String, Rejection> {
    let version_ok = headers.get_all("sec-websocket-version").any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|v| v.trim_ascii() == b"13")
    });
    if !version_ok {
        return Err(Rejection::UnsupportedVersion);
    }
    let mut keys = headers.get_all("sec-websocket-key");
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return Err(Rejection::InvalidKey);
    };
    let key = key.as_bytes().trim_ascii();
    if !is_valid_key(key) {
        return Err(Rejection::InvalidKey);
    }
    // ASCII by the check above.
    Ok(String::from_utf8_lossy(key).into_owned())
}

/// Whether `key` is the base64 form of 16 bytes: 22 alphabet characters and `==`.
fn is_valid_key(key: &[u8]) -> bool {
    key.len() == 24
        && key[..22]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        && &key[22..] == b"=="
}

/// Appends the `101 Switching Protocols` response that accepts the connection.
///
/// `headers` are the app's extra headers; those the handshake itself owns
/// are dropped so that the response stays a valid upgrade.
pub(super) fn write_accept(
    out: &mut BytesMut,
    key: &str,
    subprotocol: Option<&str>,
    headers: &Headers,
    fields: ServerFields<'_>,
) {
    out.put_slice(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ");
    out.put_slice(derive_accept_key(key.as_bytes()).as_bytes());
    out.put_slice(b"\r\n");
    if let Some(subprotocol) = subprotocol {
        out.put_slice(b"sec-websocket-protocol: ");
        out.put_slice(subprotocol.as_bytes());
        out.put_slice(b"\r\n");
    }
    for (name, value) in headers.iter() {
        // permessage-deflate and other extensions are not implemented, so an
        // app must not claim them either.
        if matches!(
            name.as_str(),
            "upgrade"
                | "connection"
                | "sec-websocket-accept"
                | "sec-websocket-extensions"
                | "content-length"
                | "transfer-encoding"
        ) {
            tracing::debug!(
                header = name.as_str(),
                "dropped from websocket.accept headers"
            );
            continue;
        }
        put_header(out, name.as_str(), value.as_bytes());
    }
    fields.write(out, headers);
    out.put_slice(b"\r\n");
}

/// Appends a complete response that ends the connection: `connection: close`
/// and a `content-length` of `body`, replacing any framing header the app set.
pub(super) fn write_response(
    out: &mut BytesMut,
    status: StatusCode,
    headers: &Headers,
    body: &[u8],
    fields: ServerFields<'_>,
) {
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(status.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.put_slice(b"\r\n");
    for (name, value) in headers.iter() {
        if matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        put_header(out, name.as_str(), value.as_bytes());
    }
    out.put_slice(b"content-length: ");
    out.put_slice(body.len().to_string().as_bytes());
    out.put_slice(b"\r\nconnection: close\r\n");
    fields.write(out, headers);
    out.put_slice(b"\r\n");
    out.put_slice(body);
}

/// Appends the response for a request rejected before the app was asked.
pub(super) fn write_rejection(out: &mut BytesMut, rejection: Rejection, fields: ServerFields<'_>) {
    match rejection {
        Rejection::UnsupportedVersion => write_plain(
            out,
            StatusCode::UPGRADE_REQUIRED,
            Some((
                HeaderName::from_static("sec-websocket-version"),
                HeaderValue::from_static("13"),
            )),
            b"Unsupported WebSocket version: only 13 is supported\n",
            fields,
        ),
        Rejection::InvalidKey => write_plain(
            out,
            StatusCode::BAD_REQUEST,
            None,
            b"Missing or invalid Sec-WebSocket-Key header\n",
            fields,
        ),
    }
}

/// Appends `403 Forbidden`: the app closed before accepting.
pub(super) fn write_forbidden(out: &mut BytesMut, fields: ServerFields<'_>) {
    write_plain(out, StatusCode::FORBIDDEN, None, b"", fields);
}

/// Appends `500 Internal Server Error`: the app ended without answering the handshake.
pub(super) fn write_internal_error(out: &mut BytesMut, fields: ServerFields<'_>) {
    write_plain(
        out,
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        b"Internal Server Error\n",
        fields,
    );
}

/// Appends `503 Service Unavailable`: the server shuts down while the app holds the handshake.
pub(super) fn write_unavailable(out: &mut BytesMut, fields: ServerFields<'_>) {
    write_plain(
        out,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        b"Server shutting down\n",
        fields,
    );
}

fn write_plain(
    out: &mut BytesMut,
    status: StatusCode,
    extra: Option<(HeaderName, HeaderValue)>,
    body: &[u8],
    fields: ServerFields<'_>,
) {
    let mut headers = Headers::new();
    if let Some((name, value)) = extra {
        headers.push(name, value);
    }
    if !body.is_empty() {
        headers.push(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    write_response(out, status, &headers, body, fields);
}

fn put_header(out: &mut BytesMut, name: &str, value: &[u8]) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

/// How long a refused connection drains what the client sent past its
/// request (as the HTTP/1.1 connection does after an error response).
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Writes the response for `rejection` and closes the connection.
///
/// `pending_input`: the client sent bytes past its request head.
pub(super) async fn reject<I>(
    io: &mut I,
    rejection: Rejection,
    pending_input: bool,
    write_limit: Duration,
    fields: ServerFields<'_>,
) where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let mut out = BytesMut::new();
    write_rejection(&mut out, rejection, fields);
    if tokio::time::timeout(write_limit, io.write_all(&out))
        .await
        .is_ok_and(|written| written.is_ok())
    {
        close_after_response(io, pending_input).await;
    }
}

/// Closes the connection after a refusal response has been written.
///
/// The client sent a GET without a body and waits for the answer, so there
/// is normally nothing left to read: half-close and go, so that a client
/// which keeps its socket open holds nothing. Only if it sent more (frames
/// too early, pipelined requests) is that drained for a moment, lest unread
/// input reset the connection before the client reads the response.
pub(super) async fn close_after_response<I>(io: &mut I, pending_input: bool)
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    if pending_input {
        close(io, REFUSAL_LINGER).await;
    } else {
        let _ = tokio::time::timeout(REFUSAL_LINGER, io.shutdown()).await;
    }
}

/// Closes `io` gracefully: half-closes it, then reads and drops what the
/// peer still sends until it closes too or `limit` passes.
///
/// Dropping a socket with unread input makes the kernel reset the
/// connection, which can destroy the response or close frame just written
/// before the peer reads it.
pub(super) async fn close<I>(io: &mut I, limit: Duration)
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let _ = tokio::time::timeout(limit, async {
        let _ = io.shutdown().await;
        let mut scratch = [0u8; 2048];
        while let Ok(1..) = io.read(&mut scratch).await {}
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&'static str, &'static str)]) -> Headers {
        let mut headers = Headers::new();
        for (name, value) in fields {
            headers.push(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        headers
    }

    #[test]
    fn requests_are_validated_in_rfc_order() {
        const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
        type Case = (
            &'static [(&'static str, &'static str)],
            Result<&'static str, Rejection>,
        );
        let cases: &[Case] = &[
            (
                &[("sec-websocket-version", "13"), ("sec-websocket-key", KEY)],
                Ok(KEY),
            ),
            (
                &[
                    ("sec-websocket-version", " 8, 13"),
                    ("sec-websocket-key", KEY),
                ],
                Ok(KEY),
            ),
            (
                &[("sec-websocket-key", KEY)],
                Err(Rejection::UnsupportedVersion),
            ),
            (
                &[("sec-websocket-version", "8"), ("sec-websocket-key", KEY)],
                Err(Rejection::UnsupportedVersion),
            ),
            (
                &[("sec-websocket-version", "13")],
                Err(Rejection::InvalidKey),
            ),
            (
                &[
                    ("sec-websocket-version", "13"),
                    ("sec-websocket-key", "short=="),
                ],
                Err(Rejection::InvalidKey),
            ),
            (
                &[
                    ("sec-websocket-version", "13"),
                    ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ!="),
                ],
                Err(Rejection::InvalidKey),
            ),
            (
                &[
                    ("sec-websocket-version", "13"),
                    ("sec-websocket-key", KEY),
                    ("sec-websocket-key", KEY),
                ],
                Err(Rejection::InvalidKey),
            ),
        ];
        for (fields, expected) in cases {
            let result = validate(&headers(fields));

            assert_eq!(result.as_deref(), expected.as_deref(), "{fields:?}");
        }
    }

    #[test]
    fn accept_carries_the_rfc_sample_key_and_drops_owned_headers() {
        let mut out = BytesMut::new();
        let extra = headers(&[
            ("x-extra", "1"),
            ("sec-websocket-extensions", "permessage-deflate"),
            ("connection", "close"),
        ]);

        write_accept(
            &mut out,
            "dGhlIHNhbXBsZSBub25jZQ==",
            Some("chat"),
            &extra,
            ServerFields::default(),
        );

        let text = String::from_utf8(out.to_vec()).unwrap();
        // The sample from RFC 6455 section 1.3.
        assert_eq!(
            text,
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
             sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
             sec-websocket-protocol: chat\r\nx-extra: 1\r\n\r\n"
        );
    }

    #[test]
    fn version_rejection_names_the_supported_version() {
        let mut out = BytesMut::new();

        write_rejection(
            &mut out,
            Rejection::UnsupportedVersion,
            ServerFields::default(),
        );

        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 426 Upgrade Required\r\nsec-websocket-version: 13\r\n"),
            "{text}"
        );
        assert!(text.contains("connection: close\r\n"), "{text}");
    }

    #[test]
    fn denial_response_replaces_framing_headers() {
        let mut out = BytesMut::new();
        let app_headers = headers(&[("content-length", "99"), ("x-why", "auth")]);

        write_response(
            &mut out,
            StatusCode::UNAUTHORIZED,
            &app_headers,
            b"nope",
            ServerFields::default(),
        );

        assert_eq!(
            &out[..],
            b"HTTP/1.1 401 Unauthorized\r\nx-why: auth\r\ncontent-length: 4\r\nconnection: close\r\n\r\nnope"
        );
    }
}
