//! Graceful shutdown: in-flight requests finish with `Connection: close`, idle
//! connections close, the timeout cancels what is left.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use asgi_core::{HttpSend, app_fn};
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::support::{self, LIMIT, parse_responses, read_response, read_to_close, text_headers};

/// An app whose requests wait for `release` before answering.
fn gated(release: Arc<Notify>, started: Arc<AtomicUsize>) -> impl asgi_core::App {
    app_fn(move |_scope, _receive, send| {
        let release = release.clone();
        let started = started.clone();
        async move {
            started.fetch_add(1, Ordering::SeqCst);
            release.notified().await;
            send.send(HttpSend::start(StatusCode::OK, text_headers()))
                .await?;
            send.send(HttpSend::body("finished")).await?;
            Ok(())
        }
    })
}

async fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn in_flight_requests_complete_with_connection_close() {
    let release = Arc::new(Notify::new());
    let started = Arc::new(AtomicUsize::new(0));
    let server = support::serve(gated(release.clone(), started.clone())).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        clients.push(stream);
    }
    wait_until("all requests in flight", || {
        started.load(Ordering::SeqCst) == 3
    })
    .await;

    server.handle.shutdown();
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..3 {
        release.notify_one();
    }

    for stream in &mut clients {
        let reply = read_to_close(stream).await;
        let responses = parse_responses(&reply);
        assert_eq!(responses.len(), 1, "{}", String::from_utf8_lossy(&reply));
        assert_eq!(responses[0].text(), "finished");
        assert_eq!(responses[0].header("connection"), Some("close"));
    }
    tokio::time::timeout(LIMIT, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn idle_connections_are_closed_and_new_ones_refused() {
    let server = support::serve(support::hello()).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let response = read_response(&mut idle, &mut Vec::new()).await;
    assert_eq!(response.status, 200);
    let started = Instant::now();

    server.handle.shutdown();
    let rest = read_to_close(&mut idle).await;
    tokio::time::timeout(LIMIT, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    assert!(rest.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "still accepting after shutdown"
    );
}

#[tokio::test]
async fn graceful_timeout_cancels_what_is_left() {
    let release = Arc::new(Notify::new());
    let started = Arc::new(AtomicUsize::new(0));
    let mut config = support::config();
    config.timeout_graceful_shutdown = Some(Duration::from_millis(200));
    let server = support::serve_with(config, gated(release, started.clone())).await;
    let mut stuck = TcpStream::connect(server.addr).await.unwrap();
    stuck
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    wait_until("request in flight", || started.load(Ordering::SeqCst) == 1).await;
    let begun = Instant::now();

    server.handle.shutdown();
    tokio::time::timeout(LIMIT, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let reply = read_to_close(&mut stuck).await;

    assert!(
        begun.elapsed() >= Duration::from_millis(200),
        "{:?}",
        begun.elapsed()
    );
    assert!(
        begun.elapsed() < Duration::from_secs(3),
        "{:?}",
        begun.elapsed()
    );
    assert!(reply.is_empty(), "{}", String::from_utf8_lossy(&reply));
}

#[tokio::test]
async fn shutdown_now_cancels_at_once() {
    let release = Arc::new(Notify::new());
    let started = Arc::new(AtomicUsize::new(0));
    let server = support::serve(gated(release, started.clone())).await;
    let mut stuck = TcpStream::connect(server.addr).await.unwrap();
    stuck
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    wait_until("request in flight", || started.load(Ordering::SeqCst) == 1).await;
    let begun = Instant::now();

    server.handle.shutdown();
    server.handle.shutdown_now();
    tokio::time::timeout(LIMIT, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    assert!(
        begun.elapsed() < Duration::from_secs(2),
        "{:?}",
        begun.elapsed()
    );
}

#[tokio::test]
async fn pipelined_request_after_shutdown_is_not_served_on_a_closing_connection() {
    let release = Arc::new(Notify::new());
    let started = Arc::new(AtomicUsize::new(0));
    let server = support::serve(gated(release.clone(), started.clone())).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    wait_until("first request in flight", || {
        started.load(Ordering::SeqCst) == 1
    })
    .await;

    server.handle.shutdown();
    release.notify_one();
    let reply = read_to_close(&mut stream).await;

    // The first completes and says the connection closes; the client must retry the second.
    let responses = parse_responses(&reply);
    assert_eq!(responses.len(), 1, "{}", String::from_utf8_lossy(&reply));
    assert_eq!(responses[0].header("connection"), Some("close"));
    assert_eq!(started.load(Ordering::SeqCst), 1);
    tokio::time::timeout(LIMIT, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn connection_accepted_before_shutdown_gets_its_first_request_served() {
    let server = support::serve(support::hello()).await;
    let mut fresh = TcpStream::connect(server.addr).await.unwrap();
    // Accepted, and waiting for its first request head, when shutdown begins.
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.handle.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;

    fresh
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let raw = read_to_close(&mut fresh).await;
    tokio::time::timeout(LIMIT, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    let responses = parse_responses(&raw);
    assert_eq!(responses.len(), 1, "{}", String::from_utf8_lossy(&raw));
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[0].header("connection"), Some("close"));
}

#[tokio::test]
async fn silent_connection_accepted_before_shutdown_does_not_hold_it_up() {
    let server = support::serve(support::hello()).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();

    server.handle.shutdown();
    let rest = read_to_close(&mut silent).await;
    tokio::time::timeout(LIMIT, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    assert!(rest.is_empty());
    // One short grace for its first request, not the 10 s head timeout.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// How long asgi-server waits for the first request of a connection accepted
/// just before shutdown.
const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(1);

#[tokio::test]
async fn connection_silent_since_long_before_shutdown_is_closed_at_once() {
    // A client's spare pooled connection: opened, never used. HTTP clients
    // race a new connection against a busy one and keep the loser. Both the
    // protocol sniffing of `--http auto` and HTTP/1.1 itself wait for it.
    for mode in [asgi_server::HttpMode::Auto, asgi_server::HttpMode::H1] {
        let mut config = support::config();
        config.http = mode;
        let server = support::serve_with(config, support::hello()).await;
        let mut spare = TcpStream::connect(server.addr).await.unwrap();
        tokio::time::sleep(FIRST_REQUEST_GRACE + Duration::from_millis(200)).await;
        let started = Instant::now();

        server.handle.shutdown();
        let rest = read_to_close(&mut spare).await;
        tokio::time::timeout(LIMIT, server.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();

        assert!(rest.is_empty());
        // No grace: that is for connections accepted just before the shutdown.
        assert!(
            started.elapsed() < FIRST_REQUEST_GRACE / 2,
            "{mode:?}: {:?}",
            started.elapsed()
        );
    }
}
