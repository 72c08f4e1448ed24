//! Helpers: start a server on a free port, talk raw HTTP/1.1 to it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use asgi_core::{App, Headers, HttpReceive, HttpSend, ReceiveEvent, Receiver, Scope, app_fn};
use asgi_server::{Config, Error, Server, ServerHandle};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Every wait in a test is bounded by this.
pub(crate) const LIMIT: Duration = Duration::from_secs(10);

/// A running server.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) handle: ServerHandle,
    pub(crate) task: JoinHandle<Result<(), Error>>,
}

impl TestServer {
    /// Shuts down gracefully and waits for the server to finish.
    pub(crate) async fn stop(self) -> Result<(), Error> {
        self.handle.shutdown();
        tokio::time::timeout(LIMIT, self.task)
            .await
            .expect("server stops in time")
            .expect("server task")
    }
}

/// The settings tests start from: a free port, no access log.
pub(crate) fn config() -> Config {
    let mut config = Config::default();
    config.port = 0;
    config.access_log = false;
    config.lifespan = asgi_server::LifespanMode::Off;
    config
}

pub(crate) async fn serve(app: impl App) -> TestServer {
    serve_with(config(), app).await
}

pub(crate) async fn serve_with(config: Config, app: impl App) -> TestServer {
    let bound = Server::new(config).bind().await.expect("bind");
    let addr = bound.local_addr().expect("tcp address");
    let handle = bound.handle();
    let task = tokio::spawn(bound.serve(app));
    TestServer { addr, handle, task }
}

/// Sends `request` and reads until the server closes the connection.
pub(crate) async fn roundtrip(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    read_to_close(&mut stream).await
}

/// Reads until EOF (or a reset), failing the test after [`LIMIT`].
pub(crate) async fn read_to_close<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut out = Vec::new();
    let read = async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(LIMIT, read)
        .await
        .expect("server closes the connection in time");
    out
}

/// One parsed response.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Parses every complete response in `raw` (for replies to GET-like requests).
pub(crate) fn parse_responses(mut raw: &[u8]) -> Vec<Response> {
    let mut out = Vec::new();
    while !raw.is_empty() {
        match parse_one(raw) {
            Some((response, used)) => {
                out.push(response);
                raw = &raw[used..];
            }
            None => break,
        }
    }
    out
}

/// Parses one response from the front of `raw`: the response and the bytes it used.
pub(crate) fn parse_one(raw: &[u8]) -> Option<(Response, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head_len) = parsed.parse(raw).ok()? else {
        return None;
    };
    let status = parsed.code?;
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let rest = &raw[head_len..];
    let (body, used) = if status < 200 || status == 204 || status == 304 {
        (Vec::new(), 0)
    } else if let Some(len) = find("content-length") {
        let len: usize = len.trim().parse().ok()?;
        if rest.len() < len {
            return None;
        }
        (rest[..len].to_vec(), len)
    } else if find("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let line_end = rest[at..].windows(2).position(|w| w == b"\r\n")? + at;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[at..line_end]).ok()?.trim(), 16)
                    .ok()?;
            at = line_end + 2;
            if size == 0 {
                if rest.len() < at + 2 {
                    return None;
                }
                at += 2;
                break;
            }
            if rest.len() < at + size + 2 {
                return None;
            }
            body.extend_from_slice(&rest[at..at + size]);
            at += size + 2;
        }
        (body, at)
    } else {
        (rest.to_vec(), rest.len())
    };
    Some((
        Response {
            status,
            headers,
            body,
        },
        head_len + used,
    ))
}

/// Reads from `stream` until one whole response has arrived.
pub(crate) async fn read_response(stream: &mut TcpStream, buffered: &mut Vec<u8>) -> Response {
    let read = async {
        loop {
            if let Some((response, used)) = parse_one(buffered) {
                buffered.drain(..used);
                return response;
            }
            let mut buf = [0u8; 8192];
            let n = stream.read(&mut buf).await.expect("read");
            assert!(
                n > 0,
                "connection closed mid-response: {}",
                String::from_utf8_lossy(buffered)
            );
            buffered.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(LIMIT, read)
        .await
        .expect("response arrives in time")
}

pub(crate) fn text_headers() -> Headers {
    Headers::new().with(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    )
}

/// Reads the whole request body.
pub(crate) async fn read_body(receive: &Receiver) -> Result<Vec<u8>, asgi_core::BoxError> {
    let mut body = Vec::new();
    loop {
        match receive.receive().await? {
            ReceiveEvent::Http(HttpReceive::Request {
                body: chunk,
                more_body,
            }) => {
                body.extend_from_slice(&chunk);
                if !more_body {
                    return Ok(body);
                }
            }
            ReceiveEvent::Http(HttpReceive::Disconnect) => return Err("client disconnected".into()),
            other => return Err(format!("unexpected {}", other.kind()).into()),
        }
    }
}

/// Answers `hello <path>` to every request.
pub(crate) fn hello() -> impl App {
    app_fn(|scope, _receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Err("http only".into());
        };
        let body = format!("hello {}", scope.path());
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        send.send(HttpSend::body(body)).await?;
        Ok(())
    })
}

/// Echoes the request body back, with the method and path in headers.
pub(crate) fn echo() -> impl App {
    app_fn(|scope, receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Err("http only".into());
        };
        let body = read_body(&receive).await?;
        let headers = text_headers()
            .with(
                HeaderName::from_static("x-method"),
                HeaderValue::from_str(scope.method.as_str())?,
            )
            .with(
                HeaderName::from_static("x-path"),
                HeaderValue::from_str(scope.path())?,
            );
        send.send(HttpSend::start(StatusCode::OK, headers)).await?;
        send.send(HttpSend::body(Bytes::from(body))).await?;
        Ok(())
    })
}
