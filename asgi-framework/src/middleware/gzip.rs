//! Gzip response compression: Starlette's `GZipMiddleware`, streaming.

use std::fmt;
use std::io::Write as _;
use std::sync::Arc;

use asgi_core::{
    App, AppFuture, Headers, HttpSend, Receiver, Scope, SendError, SendEvent, Sender, SharedApp,
};
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http::header::{self, HeaderValue};

use super::Middleware;
use super::rewrite::{add_vary, rewrite_sender};

/// Content types that are never compressed: compressing would hold events back.
const EXCLUDED_CONTENT_TYPES: [&str; 1] = ["text/event-stream"];

/// Compresses responses with gzip for clients that accept it.
///
/// As Starlette's `GZipMiddleware`: only when the request's
/// `Accept-Encoding` lists `gzip`; never for `text/event-stream`, a
/// response that already has a `Content-Encoding`, a range (`Content-Range`)
/// or a `Cache-Control: no-transform` response; a whole body (one
/// message) shorter than `minimum_size` (500 bytes by default) is sent as
/// is. A whole body gets its compressed `Content-Length`; a streamed body
/// is compressed chunk by chunk (each chunk flushed, so the client gets it
/// at once) and loses its `Content-Length`. Compressed responses get
/// `Vary: Accept-Encoding`. Files sent with pathsend pass through as they are.
///
/// # Example
///
/// ```
/// use asgi_framework::middleware::GZip;
///
/// let gzip = GZip::new().minimum_size(1024).compress_level(6);
///
/// let app = asgi_framework::Application::new()
///     .route("/", asgi_framework::get(|| async { "hi" }))
///     .layer(gzip);
/// # let _: &dyn asgi_core::App = &app;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct GZip {
    minimum_size: usize,
    level: u32,
}

impl Default for GZip {
    fn default() -> Self {
        Self::new()
    }
}

impl GZip {
    /// Gzip with Starlette's defaults: `minimum_size` 500, level 9.
    pub fn new() -> Self {
        Self {
            minimum_size: 500,
            level: 9,
        }
    }

    /// Whole bodies shorter than this many bytes are not compressed.
    #[must_use]
    pub fn minimum_size(mut self, bytes: usize) -> Self {
        self.minimum_size = bytes;
        self
    }

    /// The compression level, 0 (none) to 9 (best, the default); higher values are capped at 9.
    #[must_use]
    pub fn compress_level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        self
    }
}

impl Middleware for GZip {
    fn wrap(self, app: SharedApp) -> SharedApp {
        Arc::new(GZipApp {
            config: self,
            inner: app,
        })
    }
}

/// The app [`GZip::wrap`] makes.
struct GZipApp {
    config: GZip,
    inner: SharedApp,
}

impl fmt::Debug for GZipApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GZipApp")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl App for GZipApp {
    fn call(&self, scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
        let accepts = match &scope {
            Scope::Http(http) => accepts_gzip(&http.headers),
            _ => false,
        };
        if !accepts {
            return self.inner.call(scope, receive, send);
        }
        let mut responder = Responder {
            config: self.config,
            state: State::AwaitingStart,
        };
        let send = rewrite_sender(send, move |event: SendEvent, out: &mut Vec<SendEvent>| {
            match event {
                SendEvent::Http(message) => responder.on_message(message, out),
                other => out.push(other),
            }
            Ok::<(), SendError>(())
        });
        self.inner.call(scope, receive, send)
    }
}

/// Whether `Accept-Encoding` lists `gzip` (or `*`) with a non-zero quality.
fn accepts_gzip(headers: &Headers) -> bool {
    headers
        .get_all("accept-encoding")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let zero_quality = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !zero_quality
        })
}

enum State {
    /// Waiting for `http.response.start`.
    AwaitingStart,
    /// Start held until the first body message decides whether to compress.
    Held {
        status: http::StatusCode,
        headers: Headers,
        trailers: bool,
    },
    /// Compressing a streamed body.
    Compressing(GzEncoder<Vec<u8>>),
    /// Passing everything through unchanged.
    PassThrough,
}

struct Responder {
    config: GZip,
    state: State,
}

impl Responder {
    fn on_message(&mut self, message: HttpSend, out: &mut Vec<SendEvent>) {
        let state = std::mem::replace(&mut self.state, State::PassThrough);
        self.state = match (state, message) {
            (
                State::AwaitingStart,
                HttpSend::ResponseStart {
                    status,
                    headers,
                    trailers,
                },
            ) => {
                // A range (206) or `no-transform` must reach the client byte for byte.
                let excluded = headers.contains("content-encoding")
                    || headers.contains("content-range")
                    || headers
                        .get_all("cache-control")
                        .filter_map(|v| v.to_str().ok())
                        .any(|v| v.to_ascii_lowercase().contains("no-transform"))
                    || headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|ct| {
                            EXCLUDED_CONTENT_TYPES
                                .iter()
                                .any(|x| ct.trim_start().starts_with(x))
                        });
                if excluded {
                    out.push(
                        HttpSend::ResponseStart {
                            status,
                            headers,
                            trailers,
                        }
                        .into(),
                    );
                    State::PassThrough
                } else {
                    State::Held {
                        status,
                        headers,
                        trailers,
                    }
                }
            }
            (
                State::Held {
                    status,
                    mut headers,
                    trailers,
                },
                HttpSend::ResponseBody { body, more_body },
            ) => {
                if !more_body && body.len() < self.config.minimum_size {
                    out.push(
                        HttpSend::ResponseStart {
                            status,
                            headers,
                            trailers,
                        }
                        .into(),
                    );
                    out.push(HttpSend::ResponseBody { body, more_body }.into());
                    return;
                }
                let mut encoder = GzEncoder::new(Vec::new(), Compression::new(self.config.level));
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                add_vary(&mut headers, "Accept-Encoding");
                if more_body {
                    headers.remove("content-length");
                    let chunk = compress_chunk(&mut encoder, &body, false);
                    out.push(
                        HttpSend::ResponseStart {
                            status,
                            headers,
                            trailers,
                        }
                        .into(),
                    );
                    out.push(HttpSend::chunk(chunk).into());
                    State::Compressing(encoder)
                } else {
                    let whole = compress_chunk(&mut encoder, &body, true);
                    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(whole.len()));
                    out.push(
                        HttpSend::ResponseStart {
                            status,
                            headers,
                            trailers,
                        }
                        .into(),
                    );
                    out.push(HttpSend::body(whole).into());
                    State::PassThrough
                }
            }
            (State::Compressing(mut encoder), HttpSend::ResponseBody { body, more_body }) => {
                let chunk = compress_chunk(&mut encoder, &body, !more_body);
                out.push(
                    HttpSend::ResponseBody {
                        body: chunk,
                        more_body,
                    }
                    .into(),
                );
                if more_body {
                    State::Compressing(encoder)
                } else {
                    State::PassThrough
                }
            }
            // Pathsend, zerocopysend, early hints, trailers or an out-of-order
            // message: release what is held and let the server judge the rest.
            (
                State::Held {
                    status,
                    headers,
                    trailers,
                },
                other,
            ) => {
                if matches!(other, HttpSend::ResponseEarlyHint { .. }) {
                    out.push(other.into());
                    self.state = State::Held {
                        status,
                        headers,
                        trailers,
                    };
                    return;
                }
                out.push(
                    HttpSend::ResponseStart {
                        status,
                        headers,
                        trailers,
                    }
                    .into(),
                );
                out.push(other.into());
                State::PassThrough
            }
            (state @ (State::AwaitingStart | State::Compressing(_)), other) => {
                out.push(other.into());
                state
            }
            (State::PassThrough, other) => {
                out.push(other.into());
                State::PassThrough
            }
        };
    }
}

/// Compresses `input` and returns what the encoder has produced so far:
/// everything up to a sync flush, or the whole rest of the stream when `last`.
fn compress_chunk(encoder: &mut GzEncoder<Vec<u8>>, input: &[u8], last: bool) -> Bytes {
    // Writing into a Vec cannot fail: the only errors are the sink's.
    let written = encoder.write_all(input).and_then(|()| {
        if last {
            encoder.try_finish()
        } else {
            encoder.flush()
        }
    });
    debug_assert!(written.is_ok(), "gzip into memory failed: {written:?}");
    Bytes::from(std::mem::take(encoder.get_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn headers(value: &'static str) -> Headers {
        Headers::new().with(header::ACCEPT_ENCODING, HeaderValue::from_static(value))
    }

    #[test]
    fn accept_encoding_is_parsed_with_qualities() {
        assert!(accepts_gzip(&headers("gzip, deflate, br")));
        assert!(accepts_gzip(&headers("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&headers("*")));
        assert!(!accepts_gzip(&headers("gzip;q=0")));
        assert!(!accepts_gzip(&headers("br, deflate")));
        assert!(!accepts_gzip(&Headers::new()));
    }

    #[test]
    fn streamed_chunks_decompress_to_the_input() {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::new(9));
        let mut compressed = Vec::new();

        compressed.extend_from_slice(&compress_chunk(&mut encoder, b"hello ", false));
        let first_len = compressed.len();
        compressed.extend_from_slice(&compress_chunk(&mut encoder, b"world", true));

        assert!(first_len > 0, "a flushed chunk is not empty");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "hello world");
    }
}
