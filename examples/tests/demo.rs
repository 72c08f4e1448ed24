//! The demo app over real sockets: every route of the contract, through
//! ordinary HTTP (reqwest) and WebSocket (tokio-tungstenite) clients.

mod support;

use std::time::{Duration, Instant};

use examples::demo;
use futures_util::{SinkExt, StreamExt, stream};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Served, bounded, roundtrip};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

async fn serve() -> Served {
    Served::start(demo::app(demo::default_static_dir())).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client")
}

#[tokio::test]
async fn hello_json_items_and_errors() {
    bounded(async {
        let server = serve().await;
        let client = client();

        let root = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(root.status(), StatusCode::OK);
        assert_eq!(root.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(root.text().await.unwrap(), "Hello, world!");

        let json = client.get(server.url("/json")).send().await.unwrap();
        assert_eq!(json.status(), StatusCode::OK);
        assert_eq!(json.headers()["content-type"], "application/json");
        assert_eq!(
            json.json::<Value>().await.unwrap(),
            json!({"message": "Hello, world!"})
        );

        let item = client
            .get(server.url("/items/5?q=somequery"))
            .send()
            .await
            .unwrap();
        assert_eq!(item.status(), StatusCode::OK);
        assert_eq!(
            item.json::<Value>().await.unwrap(),
            json!({"id": 5, "q": "somequery"})
        );
        let no_q = client.get(server.url("/items/5")).send().await.unwrap();
        assert_eq!(
            no_q.json::<Value>().await.unwrap(),
            json!({"id": 5, "q": null})
        );

        let bad = client.get(server.url("/items/foo")).send().await.unwrap();
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.headers()["content-type"], "application/json");
        let body: Value = bad.json().await.unwrap();
        assert_eq!(body["detail"][0]["loc"], json!(["path", "id"]));
        assert!(body["detail"][0]["msg"].is_string());
        assert!(body["detail"][0]["type"].is_string());

        let missing = client.get(server.url("/nowhere")).send().await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);

        let wrong = client.delete(server.url("/json")).send().await.unwrap();
        assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
        let allow = wrong.headers()["allow"].to_str().unwrap().to_owned();
        assert!(allow.contains("GET"), "{allow}");
        let get_echo = client.get(server.url("/echo")).send().await.unwrap();
        assert_eq!(get_echo.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(get_echo.headers()["allow"], "POST");

        server.stop().await;
    })
    .await;
}

/// 5 MiB of bytes that are not a repeating short pattern.
fn large_body() -> Vec<u8> {
    let mut state: u32 = 0x1234_5678;
    (0..5 * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}

#[tokio::test]
async fn echo_returns_5_mib_byte_for_byte_with_content_length() {
    bounded(async {
        let server = serve().await;
        let body = large_body();

        let response = client()
            .post(server.url("/echo"))
            .header("content-type", "application/x-demo")
            .body(body.clone())
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/x-demo");
        assert_eq!(response.content_length(), Some(body.len() as u64));
        let echoed = response.bytes().await.unwrap();
        assert!(echoed.as_ref() == body.as_slice(), "the echo differs");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn echo_returns_5_mib_byte_for_byte_when_chunked() {
    bounded(async {
        let server = serve().await;
        let body = large_body();
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            body.chunks(64 * 1024 + 7).map(|c| Ok(c.to_vec())).collect();

        let response = client()
            .post(server.url("/echo"))
            .body(reqwest::Body::wrap_stream(stream::iter(chunks)))
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "application/octet-stream"
        );
        assert_eq!(response.headers()["transfer-encoding"], "chunked");
        let echoed = response.bytes().await.unwrap();
        assert_eq!(echoed.len(), body.len());
        assert!(echoed.as_ref() == body.as_slice(), "the echo differs");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn sleep_waits_without_blocking_and_checks_its_bounds() {
    bounded(async {
        let server = serve().await;
        let client = client();
        let started = Instant::now();

        let sleeps = (0..20).map(|_| client.get(server.url("/sleep?ms=500")).send());
        let responses = futures_util::future::join_all(sleeps).await;

        let elapsed = started.elapsed();
        for response in responses {
            let response = response.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.json::<Value>().await.unwrap(),
                json!({"slept_ms": 500})
            );
        }
        // Twenty concurrent 500 ms timers take about 500 ms, not 10 s.
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
        for bad in [
            "/sleep?ms=60001",
            "/sleep?ms=x",
            "/sleep?ms=-5",
            "/block?ms=70000",
        ] {
            let response = client.get(server.url(bad)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        }
        server.stop().await;
    })
    .await;
}

/// The server and this client share one thread (`#[tokio::test]` is a
/// current-thread runtime): `/` can only answer while `/block` requests
/// sleep if their sleeping happens off the event loop, on the blocking pool.
#[tokio::test]
async fn block_runs_on_the_pool_while_the_loop_serves_root() {
    bounded(async {
        let server = serve().await;
        let client = client();
        let started = Instant::now();
        let blocks = futures_util::future::join_all(
            (0..4).map(|_| client.get(server.url("/block?ms=1000")).send()),
        );
        let blocks = tokio::spawn(blocks);
        tokio::time::sleep(Duration::from_millis(200)).await;

        let ping_started = Instant::now();
        let root = client.get(server.url("/")).send().await.unwrap();
        let ping = ping_started.elapsed();
        let root_done = started.elapsed();
        let responses = blocks.await.unwrap();
        let all_done = started.elapsed();

        assert_eq!(root.status(), StatusCode::OK);
        assert!(ping < Duration::from_millis(500), "GET / took {ping:?}");
        assert!(root_done < Duration::from_millis(900), "{root_done:?}");
        for response in responses {
            let response = response.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.json::<Value>().await.unwrap(),
                json!({"slept_ms": 1000})
            );
        }
        // Four 1 s sleeps ran side by side on pool threads.
        assert!(all_done >= Duration::from_millis(1000), "{all_done:?}");
        assert!(all_done < Duration::from_millis(3000), "{all_done:?}");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn stream_is_chunked_lines() {
    bounded(async {
        let server = serve().await;
        let client = client();

        let response = client.get(server.url("/stream?n=5")).send().await.unwrap();

        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["transfer-encoding"], "chunked");
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            response.text().await.unwrap(),
            "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n"
        );
        let too_many = client
            .get(server.url("/stream?n=10001"))
            .send()
            .await
            .unwrap();
        assert_eq!(too_many.status(), StatusCode::UNPROCESSABLE_ENTITY);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn static_files_with_etag_range_and_head() {
    bounded(async {
        let server = serve().await;
        let client = client();
        let url = server.url("/static/hello.txt");

        let full = client.get(&url).send().await.unwrap();
        assert_eq!(full.status(), StatusCode::OK);
        assert!(
            full.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        assert!(full.headers().contains_key("last-modified"));
        let etag = full.headers()["etag"].clone();
        assert_eq!(full.text().await.unwrap(), "static hello\n");

        let cached = client
            .get(&url)
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);

        let range = client
            .get(&url)
            .header("range", "bytes=7-11")
            .send()
            .await
            .unwrap();
        assert_eq!(range.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(range.headers()["content-range"], "bytes 7-11/13");
        assert_eq!(range.text().await.unwrap(), "hello");

        let head = client.head(&url).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()["content-length"], "13");
        assert_eq!(head.bytes().await.unwrap().len(), 0);

        server.stop().await;
    })
    .await;
}

/// Raw requests, because HTTP clients normalise `..` away before sending.
#[tokio::test]
async fn static_traversal_is_refused() {
    bounded(async {
        let server = serve().await;

        for target in [
            "/static/../Cargo.toml",
            "/static/%2e%2e/Cargo.toml",
            "/static/..%2fCargo.toml",
            "/static/%2e%2e%2f%2e%2e%2fCargo.toml",
            "/static/..\\Cargo.toml",
        ] {
            let request =
                format!("GET {target} HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n");
            let reply = roundtrip(server.addr, request.as_bytes()).await;
            let reply = String::from_utf8_lossy(&reply);

            assert!(
                reply.starts_with("HTTP/1.1 404 ") || reply.starts_with("HTTP/1.1 400 "),
                "{target}: {reply}"
            );
            assert!(!reply.contains("[package]"), "{target}: {reply}");
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn websocket_echoes_answers_ping_and_closes_cleanly() {
    bounded(async {
        let server = serve().await;
        let url = format!("ws://{}/ws", server.addr);
        let (mut socket, response) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);

        socket.send(Message::text("hello")).await.unwrap();
        assert_eq!(
            socket.next().await.unwrap().unwrap(),
            Message::text("hello")
        );

        let binary = vec![0u8, 159, 146, 150, 255];
        socket.send(Message::binary(binary.clone())).await.unwrap();
        assert_eq!(
            socket.next().await.unwrap().unwrap(),
            Message::binary(binary)
        );

        socket
            .send(Message::Ping("are you there".into()))
            .await
            .unwrap();
        assert_eq!(
            socket.next().await.unwrap().unwrap(),
            Message::Pong("are you there".into())
        );

        socket
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "bye".into(),
            })))
            .await
            .unwrap();
        match socket.next().await {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Normal),
            other => panic!("expected the close handshake's reply, got {other:?}"),
        }
        // After the handshake the server closes the TCP connection (RFC 6455 section 7.1.1).
        let tokio_tungstenite::MaybeTlsStream::Plain(mut tcp) = socket.into_inner() else {
            panic!("a plain TCP stream");
        };
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut rest)).await;
        assert!(
            matches!(read, Ok(Ok(0))),
            "the server keeps the connection open: {read:?}"
        );
        // The server waits (up to its close timeout) for our FIN in turn.
        drop(tcp);

        server.stop().await;
    })
    .await;
}
