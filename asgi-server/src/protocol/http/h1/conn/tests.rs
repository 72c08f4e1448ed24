//! The connection task over an in-memory socket that counts its writes.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use asgi_core::{App, Headers, HttpReceive, HttpSend, ReceiveEvent, Scope, State, app_fn};
use bytes::BytesMut;
use http::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};

use super::serve;
use crate::config::Config;
use crate::protocol::http::h1::encode;
use crate::protocol::{ConnInfo, ServiceContext};
use crate::shutdown;

/// The server's end of the socket: counts the write calls that reach it.
struct CountingIo {
    inner: DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for CountingIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountingIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn context(app: impl App) -> Arc<ServiceContext> {
    let config = Config {
        access_log: false,
        ..Config::default()
    };
    let (server_header, default_headers) = encode::encode_fixed_headers(Some("t"), &[]);
    let (trigger, _) = shutdown::channel();
    Arc::new(ServiceContext {
        websocket: Arc::new(config.websocket.clone()),
        config: Arc::new(config),
        app: Arc::new(app),
        state: State::new(),
        server_header,
        default_headers,
        server_addr: None,
        connections: AtomicUsize::new(0),
        in_flight: AtomicUsize::new(0),
        requests: AtomicU64::new(0),
        trigger: Arc::new(trigger),
    })
}

/// Sends `requests` in one write, half-closes, and returns the reply and
/// the number of writes the server made.
async fn serve_once(app: impl App, requests: &[u8]) -> (String, usize) {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let writes = Arc::new(AtomicUsize::new(0));
    let io = CountingIo {
        inner: server,
        writes: writes.clone(),
    };
    let ctx = context(app);
    let (_trigger, shutdown) = shutdown::channel();
    let info = ConnInfo {
        client: None,
        scheme: asgi_core::Scheme::Http,
        tls: None,
    };
    let task = tokio::spawn(serve(io, BytesMut::new(), info, ctx, shutdown));

    client.write_all(requests).await.unwrap();
    client.shutdown().await.unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).await.unwrap();
    task.await.unwrap();

    (
        String::from_utf8_lossy(&reply).into_owned(),
        writes.load(Ordering::Relaxed),
    )
}

fn hello(reads_body: bool) -> impl App {
    app_fn(move |scope, receive, send| async move {
        let Scope::Http(_) = scope else {
            return Err("http only".into());
        };
        if reads_body {
            while let ReceiveEvent::Http(HttpReceive::Request {
                more_body: true, ..
            }) = receive.receive().await?
            {}
        }
        send.send(HttpSend::start(StatusCode::OK, Headers::new()))
            .await?;
        send.send(HttpSend::body("hi")).await?;
        Ok(())
    })
}

const PIPELINED: usize = 16;

fn pipelined_gets() -> Vec<u8> {
    b"GET / HTTP/1.1\r\nHost: t\r\n\r\n".repeat(PIPELINED)
}

#[tokio::test]
async fn pipelined_responses_go_out_in_one_write_when_the_app_ignores_the_body() {
    let (reply, writes) = serve_once(hello(false), &pipelined_gets()).await;

    assert_eq!(
        reply.matches("HTTP/1.1 200 OK\r\n").count(),
        PIPELINED,
        "{reply}"
    );
    assert_eq!(writes, 1, "{reply}");
}

#[tokio::test]
async fn pipelined_responses_go_out_in_one_write_when_the_app_reads_the_body() {
    let (reply, writes) = serve_once(hello(true), &pipelined_gets()).await;

    assert_eq!(
        reply.matches("HTTP/1.1 200 OK\r\n").count(),
        PIPELINED,
        "{reply}"
    );
    assert_eq!(writes, 1, "{reply}");
}

#[tokio::test]
async fn a_body_is_still_read_after_pipelined_responses_wait() {
    let mut requests = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
    requests.extend_from_slice(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    requests.extend_from_slice(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");

    let (reply, _) = serve_once(hello(true), &requests).await;

    assert_eq!(reply.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{reply}");
}

#[tokio::test]
async fn an_unread_buffered_body_is_dropped_and_the_connection_reused() {
    let mut requests = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello".to_vec();
    requests.extend_from_slice(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");

    let (reply, _) = serve_once(hello(false), &requests).await;

    assert_eq!(reply.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{reply}");
    assert!(!reply.contains("connection: close"), "{reply}");
}

#[tokio::test]
async fn held_responses_go_out_while_an_app_waits_for_the_disconnect() {
    // The second app sends its start, then waits on `receive` for the
    // disconnect: the first response, held back for batching, must not wait
    // with it.
    let calls = Arc::new(AtomicUsize::new(0));
    let app = app_fn(move |_scope, receive, send| {
        let call = calls.fetch_add(1, Ordering::Relaxed);
        async move {
            send.send(HttpSend::start(StatusCode::OK, Headers::new()))
                .await?;
            if call == 1 {
                while !matches!(
                    receive.receive().await?,
                    ReceiveEvent::Http(HttpReceive::Disconnect)
                ) {}
            }
            send.send(HttpSend::body("hi")).await?;
            Ok(())
        }
    });
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let io = CountingIo {
        inner: server,
        writes: Arc::new(AtomicUsize::new(0)),
    };
    let (_trigger, shutdown) = shutdown::channel();
    let info = ConnInfo {
        client: None,
        scheme: asgi_core::Scheme::Http,
        tls: None,
    };
    let task = tokio::spawn(serve(io, BytesMut::new(), info, context(app), shutdown));

    client
        .write_all(&b"GET / HTTP/1.1\r\nHost: t\r\n\r\n".repeat(2))
        .await
        .unwrap();
    let mut first = vec![0; 12];
    // A guard against hanging, not a timing assertion.
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        client.read_exact(&mut first),
    )
    .await
    .expect("the first response is not held back")
    .unwrap();

    assert_eq!(&first, b"HTTP/1.1 200");
    drop(client);
    task.await.unwrap();
}
