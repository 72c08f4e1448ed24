//! WebSocket through the real server: the HTTP/1.1 upgrade, then frames.
//!
//! Clients are tokio-tungstenite for the happy paths and raw bytes for the
//! protocol violations a conforming client cannot send.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use asgi_core::{
    App, Bytes, Headers, ReceiveEvent, Scope, SendError, WebSocketMessage, WebSocketReceive,
    WebSocketSend, app_fn,
};
use asgi_server::{Config, WebSocketConfig};
use futures_util::{SinkExt, StreamExt};
use http::{HeaderName, HeaderValue, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::support::{self, LIMIT, TestServer};

async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("test step timed out")
}

/// Test settings: no pings unless a test asks, a short close timeout.
fn ws_config(websocket: WebSocketConfig) -> Config {
    let mut config = support::config();
    config.websocket = websocket;
    config
}

fn quiet() -> WebSocketConfig {
    WebSocketConfig {
        ping_interval: None,
        close_timeout: Duration::from_secs(2),
        ..WebSocketConfig::default()
    }
}

async fn start(app: impl App) -> TestServer {
    support::serve_with(ws_config(quiet()), app).await
}

fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/ws")
}

/// What the test app tells the test.
type Reports = mpsc::UnboundedReceiver<WebSocketReceive>;

/// Accepts (choosing `chat` if offered) and echoes; text commands make it
/// close, return, fail or panic. Reports the `websocket.disconnect` it gets.
fn echo_app() -> (impl App, Reports) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = app_fn(move |scope, receive, send| {
        let report = tx.clone();
        async move {
            let Scope::WebSocket(scope) = scope else {
                return Err("websocket only".into());
            };
            receive.receive().await?;
            let subprotocol = scope.subprotocols.iter().find(|p| *p == "chat").cloned();
            send.send(WebSocketSend::Accept {
                subprotocol,
                headers: Headers::new(),
            })
            .await?;
            loop {
                let message = match receive.receive().await? {
                    ReceiveEvent::WebSocket(WebSocketReceive::Receive(message)) => message,
                    ReceiveEvent::WebSocket(other) => {
                        let _ = report.send(other);
                        return Ok(());
                    }
                    other => return Err(format!("unexpected {other:?}").into()),
                };
                match &message {
                    WebSocketMessage::Text(text) if text.starts_with("close ") => {
                        let mut parts = text.splitn(3, ' ').skip(1);
                        let code = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1000);
                        let reason = parts.next().unwrap_or("").to_owned();
                        send.send(WebSocketSend::Close { code, reason }).await?;
                    }
                    WebSocketMessage::Text(text) if text == "return" => return Ok(()),
                    WebSocketMessage::Text(text) if text == "fail" => return Err("failed".into()),
                    WebSocketMessage::Text(text) if text == "panic" => panic!("test panic"),
                    _ => send.send(WebSocketSend::Send(message)).await?,
                }
            }
        }
    });
    (app, rx)
}

async fn next_report(reports: &mut Reports) -> WebSocketReceive {
    within(reports.recv())
        .await
        .expect("the app reported nothing")
}

fn disconnect(code: u16, reason: &str) -> WebSocketReceive {
    WebSocketReceive::Disconnect {
        code,
        reason: reason.to_owned(),
    }
}

type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn connect(addr: SocketAddr) -> Client {
    within(tokio_tungstenite::connect_async(url(addr)))
        .await
        .expect("handshake")
        .0
}

/// The next message that is not a ping or pong.
async fn next_message(client: &mut Client) -> Message {
    loop {
        match within(client.next()).await {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(message)) => return message,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

async fn expect_close(client: &mut Client, code: u16) -> CloseFrame {
    match next_message(client).await {
        Message::Close(Some(frame)) if u16::from(frame.code) == code => frame,
        other => panic!("expected close {code}, got {other:?}"),
    }
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn upgrade_request(version: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: {version}\r\n\r\n"
    )
}

async fn roundtrip(addr: SocketAddr, request: &str) -> String {
    String::from_utf8_lossy(&support::roundtrip(addr, request.as_bytes()).await).into_owned()
}

/// Upgrades a raw socket and returns it positioned after the 101 head.
async fn raw_connect(addr: SocketAddr) -> TcpStream {
    raw_connect_with(addr, b"").await
}

/// Upgrades a raw socket, sending `early` in the same write as the request.
async fn raw_connect_with(addr: SocketAddr, early: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = upgrade_request("13").into_bytes();
    request.extend_from_slice(early);
    stream.write_all(&request).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(within(stream.read_u8()).await.unwrap());
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    stream
}

/// A client frame, masked unless `masked` is false.
fn frame(fin: bool, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match u16::try_from(payload.len()) {
        Ok(len @ 0..=125) => out.push(mask_bit | len as u8),
        Ok(len) => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&len.to_be_bytes());
        }
        Err(_) => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        }
    }
    if masked {
        let key = [0x12, 0x34, 0x56, 0x78];
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// Reads one server frame: `(opcode, payload)`, or `None` at EOF.
async fn read_frame(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    within(stream.read_exact(&mut head)).await.ok()?;
    assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
    let len = match head[1] & 0x7F {
        126 => u64::from(within(stream.read_u16()).await.ok()?),
        127 => within(stream.read_u64()).await.ok()?,
        len => u64::from(len),
    };
    let mut payload = vec![0u8; usize::try_from(len).ok()?];
    within(stream.read_exact(&mut payload)).await.ok()?;
    Some((head[0] & 0x0F, payload))
}

/// Reads frames until a close frame and returns its code.
async fn read_close_code(stream: &mut TcpStream) -> u16 {
    loop {
        match read_frame(stream).await {
            Some((0x8, payload)) if payload.len() >= 2 => {
                return u16::from_be_bytes([payload[0], payload[1]]);
            }
            Some((0x9 | 0xA, _)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn echo_text_and_binary() {
    let (app, mut reports) = echo_app();
    let server = start(app).await;
    let mut client = connect(server.addr).await;

    client.send(Message::text("hello")).await.unwrap();
    client
        .send(Message::binary(vec![0u8, 1, 255]))
        .await
        .unwrap();

    assert_eq!(next_message(&mut client).await, Message::text("hello"));
    assert_eq!(
        next_message(&mut client).await,
        Message::binary(vec![0u8, 1, 255])
    );
    client.close(None).await.unwrap();
    assert_eq!(next_report(&mut reports).await, disconnect(1005, ""));
}

#[tokio::test]
async fn fragmented_message_is_reassembled_around_a_ping() {
    let (app, _reports) = echo_app();
    let server = start(app).await;
    let mut stream = raw_connect(server.addr).await;

    stream
        .write_all(&frame(false, 0x1, b"hel", true))
        .await
        .unwrap();
    stream
        .write_all(&frame(true, 0x9, b"mid", true))
        .await
        .unwrap();
    stream
        .write_all(&frame(true, 0x0, b"lo", true))
        .await
        .unwrap();

    assert_eq!(read_frame(&mut stream).await, Some((0xA, b"mid".to_vec())));
    assert_eq!(
        read_frame(&mut stream).await,
        Some((0x1, b"hello".to_vec()))
    );
}

#[tokio::test]
async fn ping_from_the_client_gets_a_pong() {
    let (app, _reports) = echo_app();
    let server = start(app).await;
    let mut client = connect(server.addr).await;

    client.send(Message::Ping("p1".into())).await.unwrap();

    match within(client.next()).await {
        Some(Ok(Message::Pong(payload))) => assert_eq!(&payload[..], b"p1"),
        other => panic!("expected a pong, got {other:?}"),
    }
}

#[tokio::test]
async fn server_pings_and_closes_with_1011_without_a_pong() {
    let (app, mut reports) = echo_app();
    let websocket = WebSocketConfig {
        ping_interval: Some(Duration::from_millis(50)),
        ping_timeout: Some(Duration::from_millis(100)),
        ..quiet()
    };
    let server = support::serve_with(ws_config(websocket), app).await;
    let mut stream = raw_connect(server.addr).await;

    let (opcode, _) = read_frame(&mut stream).await.unwrap();

    assert_eq!(opcode, 0x9);
    assert_eq!(read_close_code(&mut stream).await, 1011);
    assert_eq!(next_report(&mut reports).await, disconnect(1006, ""));
}

#[tokio::test]
async fn close_code_and_reason_travel_both_ways() {
    let (app, mut reports) = echo_app();
    let server = start(app).await;
    let mut from_client = connect(server.addr).await;
    let mut from_app = connect(server.addr).await;

    from_client
        .close(Some(CloseFrame {
            code: CloseCode::from(4001),
            reason: "bye".into(),
        }))
        .await
        .unwrap();
    let client_side = next_report(&mut reports).await;
    from_app
        .send(Message::text("close 4002 done"))
        .await
        .unwrap();
    let frame = expect_close(&mut from_app, 4002).await;
    assert!(within(from_app.next()).await.is_none());
    let app_side = next_report(&mut reports).await;

    assert_eq!(client_side, disconnect(4001, "bye"));
    assert_eq!(frame.reason.as_str(), "done");
    assert_eq!(app_side, disconnect(4002, "done"));
}

#[tokio::test]
async fn app_ending_without_close_closes_with_1000_or_1011() {
    let (app, _reports) = echo_app();
    let server = start(app).await;

    for (command, code) in [("return", 1000), ("fail", 1011), ("panic", 1011)] {
        let mut client = connect(server.addr).await;

        client.send(Message::text(command)).await.unwrap();

        expect_close(&mut client, code).await;
    }
}

#[tokio::test]
async fn close_before_accept_is_403() {
    let (tx, mut reports) = mpsc::unbounded_channel();
    let app = app_fn(move |_scope, receive, send| {
        let report = tx.clone();
        async move {
            receive.receive().await?;
            send.send(WebSocketSend::close(1000)).await?;
            if let ReceiveEvent::WebSocket(event) = receive.receive().await? {
                let _ = report.send(event);
            }
            Ok(())
        }
    });
    let server = start(app).await;

    let result = within(tokio_tungstenite::connect_async(url(server.addr))).await;

    match result {
        Err(WsError::Http(response)) => assert_eq!(response.status(), StatusCode::FORBIDDEN),
        other => panic!("expected a 403, got {other:?}"),
    }
    assert_eq!(next_report(&mut reports).await, disconnect(1006, ""));
}

#[tokio::test]
async fn app_returning_before_accept_is_500() {
    let app = app_fn(|_scope, receive, _send| async move {
        receive.receive().await?;
        Ok(())
    });
    let server = start(app).await;

    let reply = roundtrip(server.addr, &upgrade_request("13")).await;

    assert!(
        reply.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{reply}"
    );
}

#[tokio::test]
async fn app_panicking_in_call_is_500_and_the_server_goes_on() {
    let app = app_fn(|scope, receive, send| {
        if matches!(&scope, Scope::WebSocket(_)) {
            panic!("panicked in call on purpose");
        }
        async move {
            drop((receive, send));
            Ok(())
        }
    });
    let server = start(app).await;

    let first = roundtrip(server.addr, &upgrade_request("13")).await;
    let second = roundtrip(server.addr, &upgrade_request("13")).await;

    for reply in [first, second] {
        assert!(
            reply.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
            "{reply}"
        );
    }
}

#[tokio::test]
async fn shutdown_while_the_app_holds_the_handshake_is_503() {
    let (tx, mut reports) = mpsc::unbounded_channel();
    let app = app_fn(move |_scope, receive, _send| {
        let report = tx.clone();
        async move {
            // Never answers connect; the next event is the disconnect.
            for _ in 0..2 {
                if let ReceiveEvent::WebSocket(event) = receive.receive().await? {
                    let _ = report.send(event);
                }
            }
            Ok(())
        }
    });
    // No graceful deadline, a long close timeout: only the 503 may end it.
    let mut config = ws_config(WebSocketConfig {
        close_timeout: Duration::from_secs(60),
        ..quiet()
    });
    config.timeout_graceful_shutdown = None;
    let server = support::serve_with(config, app).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(upgrade_request("13").as_bytes())
        .await
        .unwrap();
    assert_eq!(next_report(&mut reports).await, WebSocketReceive::Connect);

    server.handle.shutdown();

    let reply = String::from_utf8_lossy(&support::read_to_close(&mut stream).await).into_owned();
    assert!(
        reply.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{reply}"
    );
    assert_eq!(next_report(&mut reports).await, disconnect(1006, ""));
    server.stop().await.expect("the server stops");
}

#[tokio::test]
async fn denial_response_is_sent_and_the_connection_closed() {
    let app = app_fn(|_scope, receive, send| async move {
        receive.receive().await?;
        let headers = Headers::new().with(
            HeaderName::from_static("x-reason"),
            HeaderValue::from_static("token"),
        );
        send.send(WebSocketSend::HttpResponseStart {
            status: StatusCode::UNAUTHORIZED,
            headers,
        })
        .await?;
        for (part, more_body) in [("no ", true), ("token", false)] {
            send.send(WebSocketSend::HttpResponseBody {
                body: Bytes::from_static(part.as_bytes()),
                more_body,
            })
            .await?;
        }
        Ok(())
    });
    let server = start(app).await;

    let reply = roundtrip(server.addr, &upgrade_request("13")).await;

    let responses = support::parse_responses(reply.as_bytes());
    assert_eq!(responses.len(), 1, "{reply}");
    assert_eq!(responses[0].status, 401);
    assert_eq!(responses[0].header("x-reason"), Some("token"));
    assert_eq!(responses[0].text(), "no token");
}

#[tokio::test]
async fn wrong_version_is_426_and_a_missing_key_400() {
    let (app, mut reports) = echo_app();
    let server = start(app).await;
    let no_key = "GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n\
                  Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";

    let reply = roundtrip(server.addr, &upgrade_request("8")).await;
    let missing_key = roundtrip(server.addr, no_key).await;

    assert!(
        reply.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{reply}"
    );
    assert!(
        reply.contains("\r\nsec-websocket-version: 13\r\n"),
        "{reply}"
    );
    assert!(
        missing_key.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{missing_key}"
    );
    assert!(reports.try_recv().is_err(), "the app is not called");
}

#[tokio::test]
async fn subprotocol_is_negotiated() {
    let (app, _reports) = echo_app();
    let server = start(app).await;
    let mut request = url(server.addr).into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("superchat, chat"),
    );

    let (_client, response) = within(tokio_tungstenite::connect_async(request))
        .await
        .unwrap();

    assert_eq!(
        response.headers().get("sec-websocket-protocol").unwrap(),
        "chat"
    );
}

#[tokio::test]
async fn oversize_message_is_closed_with_1009() {
    let (app, mut reports) = echo_app();
    let websocket = WebSocketConfig {
        max_size: 1024,
        ..quiet()
    };
    let server = support::serve_with(ws_config(websocket), app).await;
    let mut client = connect(server.addr).await;

    client.send(Message::binary(vec![7u8; 1024])).await.unwrap();
    client.send(Message::binary(vec![7u8; 1025])).await.unwrap();

    assert_eq!(next_message(&mut client).await.len(), 1024);
    expect_close(&mut client, 1009).await;
    assert_eq!(next_report(&mut reports).await, disconnect(1009, ""));
}

#[tokio::test]
async fn oversize_fragmented_message_is_closed_with_1009() {
    let (app, _reports) = echo_app();
    let websocket = WebSocketConfig {
        max_size: 1024,
        ..quiet()
    };
    let server = support::serve_with(ws_config(websocket), app).await;
    let mut stream = raw_connect(server.addr).await;

    stream
        .write_all(&frame(false, 0x2, &[1u8; 1000], true))
        .await
        .unwrap();
    stream
        .write_all(&frame(true, 0x0, &[1u8; 100], true))
        .await
        .unwrap();

    assert_eq!(read_close_code(&mut stream).await, 1009);
}

#[tokio::test]
async fn frames_sent_with_the_request_are_not_lost() {
    let (app, _reports) = echo_app();
    let server = start(app).await;

    let mut stream = raw_connect_with(server.addr, &frame(true, 0x1, b"early", true)).await;

    assert_eq!(
        read_frame(&mut stream).await,
        Some((0x1, b"early".to_vec()))
    );
}

#[tokio::test]
async fn a_client_that_answers_pings_stays_connected() {
    let (app, _reports) = echo_app();
    let websocket = WebSocketConfig {
        ping_interval: Some(Duration::from_millis(20)),
        // Generous: a slow test machine must not turn this into a timeout test.
        ping_timeout: Some(Duration::from_secs(5)),
        ..quiet()
    };
    let server = support::serve_with(ws_config(websocket), app).await;
    let mut stream = raw_connect(server.addr).await;

    for _ in 0..3 {
        let (opcode, payload) = read_frame(&mut stream).await.unwrap();
        assert_eq!(opcode, 0x9);
        stream
            .write_all(&frame(true, 0xA, &payload, true))
            .await
            .unwrap();
    }
    stream
        .write_all(&frame(true, 0x1, b"still here", true))
        .await
        .unwrap();

    loop {
        match read_frame(&mut stream).await.unwrap() {
            (0x9, _) => continue,
            echo => {
                assert_eq!(echo, (0x1, b"still here".to_vec()));
                break;
            }
        }
    }
}

#[tokio::test]
async fn protocol_violations_get_their_rfc_close_codes() {
    let cases: [(&str, Vec<u8>, u16); 5] = [
        (
            "invalid UTF-8",
            frame(true, 0x1, &[0x66, 0xFF, 0xFE], true),
            1007,
        ),
        ("unmasked frame", frame(true, 0x1, b"plain", false), 1002),
        ("reserved opcode", frame(true, 0x3, b"x", true), 1002),
        ("continuation first", frame(true, 0x0, b"x", true), 1002),
        ("fragmented ping", frame(false, 0x9, b"x", true), 1002),
    ];
    let (app, mut reports) = echo_app();
    let server = start(app).await;

    for (name, bytes, code) in cases {
        let mut stream = raw_connect(server.addr).await;

        stream.write_all(&bytes).await.unwrap();

        assert_eq!(read_close_code(&mut stream).await, code, "{name}");
        assert_eq!(
            next_report(&mut reports).await,
            disconnect(code, ""),
            "{name}"
        );
        assert_eq!(read_frame(&mut stream).await, None, "{name}: then EOF");
    }
}

#[tokio::test]
async fn two_hundred_concurrent_sockets_echo() {
    let (app, _reports) = echo_app();
    let server = start(app).await;
    let addr = server.addr;

    let clients = (0..200).map(|i| {
        tokio::spawn(async move {
            let mut client = connect(addr).await;
            for j in 0..5 {
                let text = format!("{i}-{j}");
                client.send(Message::text(text.clone())).await.unwrap();
                assert_eq!(next_message(&mut client).await, Message::text(text));
            }
            client.close(None).await.unwrap();
        })
    });
    let results = within(futures_util::future::join_all(clients)).await;

    for result in results {
        result.unwrap();
    }
}

#[tokio::test]
async fn graceful_shutdown_closes_with_1001_and_tells_the_app() {
    let (app, mut reports) = echo_app();
    // No graceful deadline and a long close timeout: the server must finish
    // because the socket closed, not because something timed out.
    let mut config = ws_config(WebSocketConfig {
        close_timeout: Duration::from_secs(60),
        ..quiet()
    });
    config.timeout_graceful_shutdown = None;
    let server = support::serve_with(config, app).await;
    let mut client = connect(server.addr).await;
    client.send(Message::text("up")).await.unwrap();
    assert_eq!(next_message(&mut client).await, Message::text("up"));

    server.handle.shutdown();

    expect_close(&mut client, 1001).await;
    assert!(within(client.next()).await.is_none());
    assert_eq!(
        next_report(&mut reports).await,
        disconnect(1001, "Server shutting down")
    );
    server
        .stop()
        .await
        .expect("the server stops once the socket closed");
}

#[tokio::test]
async fn send_after_the_client_left_is_disconnected() {
    let (tx, mut results) = mpsc::unbounded_channel();
    let app = app_fn(move |_scope, receive, send| {
        let report = tx.clone();
        async move {
            receive.receive().await?;
            send.send(WebSocketSend::accept()).await?;
            let event = receive.receive().await?;
            let sent = send.send(WebSocketSend::message("too late")).await;
            let _ = report.send((event, sent));
            Ok(())
        }
    });
    let server = start(app).await;
    let client = connect(server.addr).await;

    drop(client);

    let (event, sent) = within(results.recv()).await.unwrap();
    assert_eq!(
        event,
        ReceiveEvent::WebSocket(disconnect(1006, "")),
        "a dropped connection is 1006"
    );
    assert_eq!(sent, Err(SendError::Disconnected));
}

#[tokio::test]
async fn many_clients_share_one_server_without_interference() {
    // Messages of different sizes interleave on separate sockets; each echo
    // must come back whole and in order.
    let (app, _reports) = echo_app();
    let server = Arc::new(start(app).await);
    let sizes = [1usize, 125, 126, 65_535, 65_536, 300_000];

    let clients = sizes.map(|size| {
        let server = server.clone();
        tokio::spawn(async move {
            let mut client = connect(server.addr).await;
            let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            client.send(Message::binary(payload.clone())).await.unwrap();
            assert_eq!(next_message(&mut client).await, Message::binary(payload));
        })
    });

    for client in clients {
        within(client).await.unwrap();
    }
}

#[tokio::test]
async fn a_full_receive_queue_stops_reading_the_socket() {
    // max_queue 1: once one message waits for the app, the server reads
    // nothing more, so it cannot see (let alone answer) a ping sent after it.
    let release = Arc::new(tokio::sync::Notify::new());
    let (tx, mut received) = mpsc::unbounded_channel();
    let app = {
        let release = release.clone();
        app_fn(move |_scope, receive, send| {
            let (release, report) = (release.clone(), tx.clone());
            async move {
                receive.receive().await?;
                send.send(WebSocketSend::accept()).await?;
                release.notified().await;
                // a, b, then the disconnect at the end of the test.
                for _ in 0..3 {
                    let _ = report.send(receive.receive().await?);
                }
                Ok(())
            }
        })
    };
    let websocket = WebSocketConfig {
        max_queue: 1,
        ..quiet()
    };
    let server = support::serve_with(ws_config(websocket), app).await;
    let mut stream = raw_connect(server.addr).await;
    let mut burst = frame(true, 0x1, b"a", true);
    burst.extend(frame(true, 0x1, b"b", true));
    burst.extend(frame(true, 0x9, b"probe", true));

    stream.write_all(&burst).await.unwrap();

    // No event to await here: the point is that nothing comes. A server
    // that kept reading would answer within microseconds.
    let early = tokio::time::timeout(Duration::from_millis(300), read_frame(&mut stream)).await;
    assert!(early.is_err(), "pong while the queue was full: {early:?}");
    release.notify_one();
    assert_eq!(
        read_frame(&mut stream).await,
        Some((0xA, b"probe".to_vec()))
    );
    for text in ["a", "b"] {
        let event = within(received.recv()).await.unwrap();
        assert_eq!(
            event,
            ReceiveEvent::WebSocket(WebSocketReceive::Receive(text.into()))
        );
    }
}

#[tokio::test]
async fn an_app_may_receive_and_send_from_another_task() {
    // The connection polls the app's own future; here all the traffic is in
    // a task of its own, so every message needs a real wake both ways.
    let app = app_fn(|_scope, receive, send| async move {
        receive.receive().await?;
        send.send(WebSocketSend::accept()).await?;
        let worker = tokio::spawn(async move {
            send.send(WebSocketSend::message("tick")).await?;
            loop {
                match receive.receive().await? {
                    ReceiveEvent::WebSocket(WebSocketReceive::Receive(message)) => {
                        send.send(WebSocketSend::Send(message)).await?;
                    }
                    _ => return Ok::<(), asgi_core::BoxError>(()),
                }
            }
        });
        worker.await?
    });
    let server = start(app).await;
    let mut client = connect(server.addr).await;

    assert_eq!(next_message(&mut client).await, Message::text("tick"));
    for i in 0..20 {
        client.send(Message::text(format!("m{i}"))).await.unwrap();
        assert_eq!(
            next_message(&mut client).await,
            Message::text(format!("m{i}"))
        );
    }
}

#[tokio::test]
async fn accept_headers_reach_the_client() {
    let app = app_fn(|_scope, receive, send| async move {
        receive.receive().await?;
        let headers = Headers::new().with(
            HeaderName::from_static("x-session"),
            HeaderValue::from_static("abc"),
        );
        send.send(WebSocketSend::Accept {
            subprotocol: None,
            headers,
        })
        .await?;
        receive.receive().await?;
        Ok(())
    });
    let server = start(app).await;

    let (_client, response) = within(tokio_tungstenite::connect_async(url(server.addr)))
        .await
        .unwrap();

    assert_eq!(response.headers().get("x-session").unwrap(), "abc");
    assert!(response.headers().get("sec-websocket-protocol").is_none());
}

/// Accepts on `/ws`, closes before accepting (403) anywhere else, then waits
/// for the disconnect.
fn accept_on_ws_only() -> impl App {
    app_fn(|scope, receive, send| async move {
        let Scope::WebSocket(scope) = scope else {
            return Err("websocket only".into());
        };
        receive.receive().await?;
        if scope.path() == "/ws" {
            send.send(WebSocketSend::accept()).await?;
        } else {
            send.send(WebSocketSend::close(1000)).await?;
        }
        while !matches!(
            receive.receive().await?,
            ReceiveEvent::WebSocket(WebSocketReceive::Disconnect { .. })
        ) {}
        Ok(())
    })
}

/// Reads one response head from `stream`, byte by byte (no more).
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(within(stream.read_u8()).await.unwrap());
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test]
async fn handshake_responses_carry_server_date_and_extra_headers() {
    let mut config = ws_config(quiet());
    config.headers = vec![(
        HeaderName::from_static("x-extra"),
        HeaderValue::from_static("yes"),
    )];
    let server = support::serve_with(config, accept_on_ws_only()).await;
    let mut accepted = TcpStream::connect(server.addr).await.unwrap();

    accepted
        .write_all(upgrade_request("13").as_bytes())
        .await
        .unwrap();
    let accept_head = read_head(&mut accepted).await;
    let forbidden = roundtrip(server.addr, &upgrade_request("13").replace("/ws", "/no")).await;
    let wrong_version = roundtrip(server.addr, &upgrade_request("12")).await;

    for reply in [&accept_head, &forbidden, &wrong_version] {
        let (response, _) = support::parse_one(reply.as_bytes())
            .unwrap_or_else(|| panic!("a response head: {reply}"));
        assert_eq!(response.header("server"), Some("asgi-server"), "{reply}");
        assert_eq!(response.header("x-extra"), Some("yes"), "{reply}");
        let date = response.header("date").unwrap_or_else(|| panic!("{reply}"));
        assert!(httpdate::parse_http_date(date).is_ok(), "{reply}");
    }
    assert!(accept_head.starts_with("HTTP/1.1 101 "), "{accept_head}");
    assert!(forbidden.starts_with("HTTP/1.1 403 "), "{forbidden}");
    assert!(
        wrong_version.starts_with("HTTP/1.1 426 "),
        "{wrong_version}"
    );
}

#[tokio::test]
async fn denial_response_keeps_the_apps_own_server_and_date() {
    let app = app_fn(|_scope, receive, send| async move {
        receive.receive().await?;
        let headers = Headers::new()
            .with(http::header::SERVER, HeaderValue::from_static("mine"))
            .with(
                http::header::DATE,
                HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
            );
        send.send(WebSocketSend::HttpResponseStart {
            status: StatusCode::UNAUTHORIZED,
            headers,
        })
        .await?;
        send.send(WebSocketSend::HttpResponseBody {
            body: Bytes::from_static(b"no"),
            more_body: false,
        })
        .await?;
        Ok(())
    });
    let server = start(app).await;

    let reply = roundtrip(server.addr, &upgrade_request("13")).await;

    let responses = support::parse_responses(reply.as_bytes());
    assert_eq!(responses.len(), 1, "{reply}");
    assert_eq!(responses[0].status, 401);
    assert_eq!(reply.matches("server: ").count(), 1, "{reply}");
    assert_eq!(responses[0].header("server"), Some("mine"));
    assert_eq!(reply.matches("date: ").count(), 1, "{reply}");
    assert_eq!(
        responses[0].header("date"),
        Some("Sun, 06 Nov 1994 08:49:37 GMT")
    );
}

#[tokio::test]
async fn access_log_lines_look_like_uvicorns() {
    use std::io::Write;

    #[derive(Clone, Default)]
    struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut config = ws_config(quiet());
    config.access_log = true;
    let server = support::serve_with(config, accept_on_ws_only()).await;
    let mut accepted = TcpStream::connect(server.addr).await.unwrap();
    let accepted_local = accepted.local_addr().unwrap();
    let mut refused = TcpStream::connect(server.addr).await.unwrap();
    let refused_local = refused.local_addr().unwrap();

    accepted
        .write_all(
            upgrade_request("13")
                .replace("/ws", "/ws?room=1")
                .as_bytes(),
        )
        .await
        .unwrap();
    read_head(&mut accepted).await;
    refused
        .write_all(upgrade_request("13").replace("/ws", "/no").as_bytes())
        .await
        .unwrap();
    support::read_to_close(&mut refused).await;
    drop(accepted);
    server.stop().await.unwrap();

    let logged = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(
        logged.contains(&format!(
            "{accepted_local} - \"WebSocket /ws?room=1\" [accepted]"
        )),
        "{logged}"
    );
    assert!(
        logged.contains(&format!("{refused_local} - \"WebSocket /no\" 403")),
        "{logged}"
    );
}
