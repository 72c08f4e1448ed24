//! Bad input: every malformed or hostile request gets a clear status (or a
//! clean close), never a panic, a hang or another client's failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use asgi_core::{HttpSend, app_fn};
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::{self, LIMIT, hello, parse_responses, read_to_close, roundtrip, text_headers};

fn show(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// An app that counts its calls, to prove a rejected request never reached it.
fn counting() -> (impl asgi_core::App, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = app_fn(move |_scope, receive, send| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let _ = support::read_body(&receive).await;
            send.send(HttpSend::start(StatusCode::OK, text_headers()))
                .await?;
            send.send(HttpSend::body("reached the app")).await?;
            Ok(())
        }
    });
    (app, calls)
}

async fn assert_rejected(addr: std::net::SocketAddr, request: &[u8], status: u16) {
    let reply = roundtrip(addr, request).await;
    let responses = parse_responses(&reply);
    assert_eq!(responses.len(), 1, "{} -> {}", show(request), show(&reply));
    assert_eq!(
        responses[0].status,
        status,
        "{} -> {}",
        show(request),
        show(&reply)
    );
    assert_eq!(
        responses[0].header("connection"),
        Some("close"),
        "{}",
        show(request)
    );
}

#[tokio::test]
async fn malformed_requests_are_400_and_close() {
    let (app, calls) = counting();
    let server = support::serve(app).await;
    let cases: &[&[u8]] = &[
        b"GET\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\nHost: t\r\n\r\n",
        b"G@T / HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET / HTTP/1.2\r\nHost: t\r\n\r\n",
        b"GET / HTTP/2.0\r\nHost: t\r\n\r\n",
        b"GET / FTP/1.1\r\nHost: t\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\n: novalue\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Nul: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Ctl: a\x07b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Del: a\x7fb\r\n\r\n",
        b"GET / HTTP/1.1\nHost: t\r\n\r\n\r\n",
    ];
    for request in cases {
        assert_rejected(server.addr, request, 400).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn smuggling_attempts_are_400_and_close() {
    let (app, calls) = counting();
    let server = support::serve(app).await;
    let cases: &[&[u8]] = &[
        // Both Content-Length and Transfer-Encoding.
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        // Repeated, differing Content-Length.
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 6\r\n\r\nhello!",
        // Non-numeric or signed Content-Length.
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: five\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0x5\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5 5\r\n\r\n",
        // obs-fold.
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n b\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
        // Whitespace before the colon.
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length\t: 5\r\n\r\nhello",
        // chunked not last, or repeated; TE on HTTP/1.0.
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ];
    for request in cases {
        assert_rejected(server.addr, request, 400).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn invalid_chunk_size_lines_are_400_and_close() {
    let (app, _) = counting();
    let server = support::serve(app).await;
    let cases: &[&[u8]] = &[
        b"zz\r\nhello\r\n0\r\n\r\n",
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b"5\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloEXTRA\r\n0\r\n\r\n",
        b"ffffffffffffffffff\r\n",
        b"5;\x00\r\nhello\r\n0\r\n\r\n",
    ];
    for body in cases {
        let mut request =
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        request.extend_from_slice(body);
        assert_rejected(server.addr, &request, 400).await;
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_transfer_coding_is_501() {
    let (app, calls) = counting();
    let server = support::serve(app).await;

    assert_rejected(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        501,
    )
    .await;
    assert_rejected(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: compress\r\n\r\n",
        501,
    )
    .await;

    assert_eq!(calls.load(Ordering::SeqCst), 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn oversized_heads_are_431_and_long_targets_414() {
    let mut config = support::config();
    config.limit_request_head = 1024;
    let server = support::serve_with(config, hello()).await;
    let mut big_header = b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: ".to_vec();
    big_header.extend(std::iter::repeat_n(b'a', 2048));
    big_header.extend_from_slice(b"\r\n\r\n");
    let mut many = b"GET / HTTP/1.1\r\nHost: t\r\n".to_vec();
    for i in 0..101 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let mut long_target = b"GET /".to_vec();
    long_target.extend(std::iter::repeat_n(b'a', 2048));
    long_target.extend_from_slice(b" HTTP/1.1\r\nHost: t\r\n\r\n");

    assert_rejected(server.addr, &big_header, 431).await;
    assert_rejected(server.addr, &long_target, 414).await;
    server.stop().await.unwrap();

    let server = support::serve(hello()).await;
    assert_rejected(server.addr, &many, 431).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn declared_body_over_the_limit_is_413_before_the_app_runs() {
    let (app, calls) = counting();
    let mut config = support::config();
    config.limit_request_body = Some(10);
    let server = support::serve_with(config, app).await;

    assert_rejected(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world",
        413,
    )
    .await;
    let ok = roundtrip(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhelloworld",
    )
    .await;

    assert_eq!(parse_responses(&ok)[0].status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_413() {
    let (app, _) = counting();
    let mut config = support::config();
    config.limit_request_body = Some(10);
    let server = support::serve_with(config, app).await;

    let request = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n6\r\nworld!\r\n0\r\n\r\n";

    assert_rejected(server.addr, request, 413).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn tls_and_http2_bytes_on_a_plain_port_are_refused_cleanly() {
    // With `--http auto` the preface is HTTP/2 (h2c, see h2.rs): HTTP/1.1 only here.
    let mut config = support::config();
    config.http = asgi_server::HttpMode::H1;
    let server = support::serve_with(config, hello()).await;
    let client_hello: &[u8] =
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00\x01\x02\x03\x04\x05\x06\x07";
    let preface: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00";

    for request in [client_hello, preface] {
        let reply = roundtrip(server.addr, request).await;
        assert!(
            reply.is_empty() || reply.starts_with(b"HTTP/1.1 400 "),
            "{}",
            show(&reply)
        );
    }

    // The server is still fine.
    let ok = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(parse_responses(&ok)[0].status, 200);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn slow_request_head_is_closed_after_the_head_timeout() {
    let mut config = support::config();
    config.timeout_request_head = Duration::from_millis(200);
    let server = support::serve_with(config, hello()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();

    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    let reply = read_to_close(&mut stream).await;

    assert!(reply.is_empty(), "{}", show(&reply));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn trickled_head_does_not_extend_the_deadline() {
    let mut config = support::config();
    config.timeout_request_head = Duration::from_millis(300);
    let server = support::serve_with(config, hello()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();

    let trickle = async {
        for _ in 0..40 {
            if stream.write_all(b"X-A: b\r\n").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let _ = tokio::time::timeout(LIMIT, trickle).await;

    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "closed after {:?}",
        started.elapsed()
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed_after_the_timeout() {
    let mut config = support::config();
    config.timeout_keep_alive = Duration::from_millis(200);
    let server = support::serve_with(config, hello()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();

    let reply = read_to_close(&mut stream).await;

    assert_eq!(parse_responses(&reply).len(), 1, "{}", show(&reply));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_bad_client_does_not_disturb_a_good_one() {
    let server = support::serve(hello()).await;
    let mut good = TcpStream::connect(server.addr).await.unwrap();

    let _ = roundtrip(server.addr, b"\x00\x01\x02garbage\r\n\r\n").await;
    good.write_all(b"GET /good HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let reply = tokio::time::timeout(LIMIT, read_to_close(&mut good))
        .await
        .unwrap();

    assert_eq!(parse_responses(&reply)[0].text(), "hello /good");
    server.stop().await.unwrap();
}
