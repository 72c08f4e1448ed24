//! HTTP/2 over real sockets with the `h2` client: h2c with prior knowledge,
//! `--http auto`, concurrent streams, streamed bodies, trailers, resets and
//! graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ::h2::RecvStream;
use ::h2::client::SendRequest;
use asgi_core::{App, Headers, HttpReceive, HttpSend, ReceiveEvent, Scope, app_fn};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};

use crate::support::{self, LIMIT, parse_responses, roundtrip, text_headers};

/// An HTTP/2 client connection (prior knowledge) whose driver runs in a task.
async fn connect(addr: std::net::SocketAddr) -> SendRequest<Bytes> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (client, conn) = ::h2::client::handshake(tcp).await.expect("h2 handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

fn request(method: Method, path: &str) -> Request<()> {
    Request::builder()
        .method(method)
        .uri(format!("http://localhost{path}"))
        .body(())
        .expect("request")
}

/// Sends a bodiless request and waits for the response head.
async fn send(client: &mut SendRequest<Bytes>, req: Request<()>) -> Response<RecvStream> {
    let ready = client.clone().ready();
    let mut ready = tokio::time::timeout(LIMIT, ready)
        .await
        .expect("ready in time")
        .expect("ready");
    let (response, _) = ready.send_request(req, true).expect("send request");
    tokio::time::timeout(LIMIT, response)
        .await
        .expect("response in time")
        .expect("response")
}

/// Reads the whole body of a response, releasing window as it goes.
async fn body(recv: &mut RecvStream) -> Vec<u8> {
    let mut out = Vec::new();
    let read = async {
        while let Some(chunk) = recv.data().await {
            let chunk = chunk.expect("body chunk");
            let _ = recv.flow_control().release_capacity(chunk.len());
            out.extend_from_slice(&chunk);
        }
    };
    tokio::time::timeout(LIMIT, read)
        .await
        .expect("body in time");
    out
}

/// Answers with a description of the scope: `version scheme host path`.
fn describe() -> impl App {
    app_fn(|scope, _receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Err("http only".into());
        };
        let host = scope
            .headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        let first = scope
            .headers
            .iter()
            .next()
            .map(|(n, _)| n.as_str().to_owned());
        let body = format!(
            "{} {} {host} {} first={}",
            scope.http_version,
            scope.scheme.as_str(),
            scope.path(),
            first.unwrap_or_default()
        );
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        send.send(HttpSend::body(body)).await?;
        Ok(())
    })
}

#[tokio::test]
async fn h2c_prior_knowledge_gets_an_http2_scope() {
    let server = support::serve(describe()).await;
    let mut client = connect(server.addr).await;

    let mut res = send(&mut client, request(Method::GET, "/a?x=1")).await;

    let text = String::from_utf8(body(res.body_mut()).await).unwrap();

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-length"],
        text.len().to_string().as_str()
    );
    assert_eq!(res.headers()["server"], "asgi-server");
    assert!(res.headers().contains_key("date"));
    assert_eq!(text, "2 http localhost /a first=host");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn http_auto_serves_h1_and_h2c_on_one_port() {
    let server = support::serve(describe()).await;

    let reply = roundtrip(
        server.addr,
        b"GET /one HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    let mut client = connect(server.addr).await;
    let mut res = send(&mut client, request(Method::GET, "/two")).await;

    let responses = parse_responses(&reply);
    assert_eq!(responses.len(), 1, "{}", String::from_utf8_lossy(&reply));
    assert_eq!(responses[0].text(), "1.1 http t /one first=host");
    assert_eq!(
        String::from_utf8(body(res.body_mut()).await).unwrap(),
        "2 http localhost /two first=host"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn http_h1_mode_does_not_speak_h2c() {
    let mut config = support::config();
    config.http = asgi_server::HttpMode::H1;
    let server = support::serve_with(config, describe()).await;

    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let handshake = tokio::time::timeout(LIMIT, async {
        let (mut client, conn) = ::h2::client::handshake(tcp).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let (response, _) = client.send_request(request(Method::GET, "/"), true)?;
        response.await
    })
    .await
    .expect("settles in time");

    assert!(handshake.is_err(), "HTTP/1.1-only server answered HTTP/2");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn concurrent_streams_progress_independently() {
    let release = Arc::new(Notify::new());
    let app = {
        let release = release.clone();
        app_fn(move |scope, _receive, send| {
            let release = release.clone();
            async move {
                let Scope::Http(scope) = scope else {
                    return Err("http only".into());
                };
                send.send(HttpSend::start(StatusCode::OK, text_headers()))
                    .await?;
                if scope.path() == "/slow" {
                    send.send(HttpSend::chunk("slow ")).await?;
                    release.notified().await;
                    send.send(HttpSend::body("done")).await?;
                } else {
                    send.send(HttpSend::body("fast")).await?;
                }
                Ok(())
            }
        })
    };
    let server = support::serve(app).await;
    let mut client = connect(server.addr).await;

    let mut slow = send(&mut client, request(Method::GET, "/slow")).await;
    let mut fast = send(&mut client, request(Method::GET, "/fast")).await;
    let fast_body = body(fast.body_mut()).await;
    let first_slow = tokio::time::timeout(LIMIT, slow.body_mut().data())
        .await
        .expect("first slow chunk in time")
        .expect("a chunk")
        .expect("chunk ok");
    release.notify_one();
    let rest = body(slow.body_mut()).await;

    assert_eq!(fast_body, b"fast");
    assert_eq!(&first_slow[..], b"slow ");
    assert_eq!(rest, b"done");
    server.stop().await.unwrap();
}

/// Echoes each request chunk back as a response chunk as soon as it arrives.
fn chunk_echo() -> impl App {
    app_fn(|_scope, receive, send| async move {
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        loop {
            match receive.receive().await? {
                ReceiveEvent::Http(HttpReceive::Request { body, more_body }) => {
                    send.send(HttpSend::ResponseBody { body, more_body })
                        .await?;
                    if !more_body {
                        return Ok(());
                    }
                }
                _ => return Ok(()),
            }
        }
    })
}

#[tokio::test]
async fn request_body_is_streamed_to_the_app() {
    let server = support::serve(chunk_echo()).await;
    let client = connect(server.addr).await;
    let mut ready = client.clone().ready().await.unwrap();

    let (response, mut upload) = ready
        .send_request(request(Method::POST, "/echo"), false)
        .unwrap();
    upload
        .send_data(Bytes::from_static(b"first"), false)
        .unwrap();
    let mut res = tokio::time::timeout(LIMIT, response)
        .await
        .expect("head in time")
        .unwrap();
    // The first chunk comes back before the client sends the rest.
    let echoed = tokio::time::timeout(LIMIT, res.body_mut().data())
        .await
        .expect("echo in time")
        .expect("a chunk")
        .unwrap();
    upload
        .send_data(Bytes::from_static(b"second"), true)
        .unwrap();
    let rest = body(res.body_mut()).await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(&echoed[..], b"first");
    assert_eq!(rest, b"second");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn large_request_body_arrives_whole_under_flow_control() {
    let server = support::serve(support::echo()).await;
    let client = connect(server.addr).await;
    let payload: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut ready = client.clone().ready().await.unwrap();

    let (response, mut upload) = ready
        .send_request(request(Method::POST, "/big"), false)
        .unwrap();
    let sender = {
        let payload = Bytes::from(payload.clone());
        tokio::spawn(async move {
            let mut rest = payload;
            while !rest.is_empty() {
                upload.reserve_capacity(rest.len());
                let n = std::future::poll_fn(|cx| upload.poll_capacity(cx))
                    .await
                    .expect("capacity")
                    .expect("capacity ok");
                let chunk = rest.split_to(n.min(rest.len()));
                upload.send_data(chunk, rest.is_empty()).unwrap();
            }
        })
    };
    let mut res = tokio::time::timeout(LIMIT, response)
        .await
        .expect("response in time")
        .unwrap();
    let echoed = body(res.body_mut()).await;
    sender.await.unwrap();

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload, "echoed body differs");
    server.stop().await.unwrap();
}

/// Sends `x-trailers: <enabled>` and, when enabled, a trailer after the body.
pub(crate) fn trailers_app() -> impl App {
    app_fn(|scope, _receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Err("http only".into());
        };
        let enabled = scope.extensions.trailers;
        let headers = text_headers().with(
            HeaderName::from_static("x-trailers"),
            HeaderValue::from_static(if enabled { "true" } else { "false" }),
        );
        send.send(HttpSend::ResponseStart {
            status: StatusCode::OK,
            headers,
            trailers: enabled,
        })
        .await?;
        send.send(HttpSend::body("payload")).await?;
        if enabled {
            let trailers = Headers::new().with(
                HeaderName::from_static("x-checksum"),
                HeaderValue::from_static("abc123"),
            );
            send.send(HttpSend::ResponseTrailers {
                headers: trailers,
                more_trailers: false,
            })
            .await?;
        }
        Ok(())
    })
}

#[tokio::test]
async fn response_trailers_with_te_trailers() {
    let server = support::serve(trailers_app()).await;
    let mut client = connect(server.addr).await;
    let mut with_te = request(Method::GET, "/t");
    with_te
        .headers_mut()
        .insert("te", HeaderValue::from_static("trailers"));

    let mut res = send(&mut client, with_te).await;
    let text = body(res.body_mut()).await;
    let trailers = tokio::time::timeout(LIMIT, res.body_mut().trailers())
        .await
        .expect("trailers in time")
        .expect("trailers ok");

    assert_eq!(res.headers()["x-trailers"], "true");
    assert_eq!(text, b"payload");
    let trailers = trailers.expect("trailers present");
    assert_eq!(trailers["x-checksum"], "abc123");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn no_trailers_extension_without_te_trailers() {
    let server = support::serve(trailers_app()).await;
    let mut client = connect(server.addr).await;

    let mut res = send(&mut client, request(Method::GET, "/t")).await;
    let text = body(res.body_mut()).await;
    let trailers = res.body_mut().trailers().await.expect("trailers ok");

    assert_eq!(res.headers()["x-trailers"], "false");
    assert_eq!(text, b"payload");
    assert!(trailers.is_none());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn stream_reset_mid_body_gives_the_app_disconnect() {
    let (events, mut seen) = mpsc::unbounded_channel::<String>();
    let app = app_fn(move |_scope, receive, _send| {
        let events = events.clone();
        async move {
            loop {
                let event = receive.receive().await?;
                let ReceiveEvent::Http(message) = event else {
                    return Err("http only".into());
                };
                let done = matches!(message, HttpReceive::Disconnect);
                let _ = events.send(message.kind().to_owned());
                if done {
                    return Ok(());
                }
            }
        }
    });
    let server = support::serve(app).await;
    let client = connect(server.addr).await;
    let mut ready = client.clone().ready().await.unwrap();

    let (_response, mut upload) = ready
        .send_request(request(Method::POST, "/upload"), false)
        .unwrap();
    upload
        .send_data(Bytes::from_static(b"part"), false)
        .unwrap();
    let first = tokio::time::timeout(LIMIT, seen.recv())
        .await
        .expect("first chunk");
    upload.send_reset(::h2::Reason::CANCEL);
    let second = tokio::time::timeout(LIMIT, seen.recv())
        .await
        .expect("disconnect");

    assert_eq!(first.as_deref(), Some("http.request"));
    assert_eq!(second.as_deref(), Some("http.disconnect"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn app_error_before_start_is_500_and_after_start_resets_the_stream() {
    let app = app_fn(|scope, _receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Err("http only".into());
        };
        if scope.path() == "/late" {
            send.send(HttpSend::start(StatusCode::OK, text_headers()))
                .await?;
            send.send(HttpSend::chunk("partial")).await?;
        }
        Err("boom".into())
    });
    let server = support::serve(app).await;
    let mut client = connect(server.addr).await;

    let mut early = send(&mut client, request(Method::GET, "/early")).await;
    let early_body = body(early.body_mut()).await;
    let mut ready = client.clone().ready().await.unwrap();
    let (late, _) = ready
        .send_request(request(Method::GET, "/late"), true)
        .unwrap();
    // The reset may overtake the head that h2 had queued: either way the
    // stream ends in RST_STREAM(INTERNAL_ERROR), never in a clean end.
    let late_result = tokio::time::timeout(LIMIT, async {
        let mut late = late.await?;
        assert_eq!(late.status(), StatusCode::OK);
        while let Some(chunk) = late.body_mut().data().await {
            chunk?;
        }
        Ok::<_, ::h2::Error>(())
    })
    .await
    .expect("late stream settles in time");

    assert_eq!(early.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(early_body, b"Internal Server Error");
    let error = late_result.expect_err("a reset, not a clean end");
    assert_eq!(error.reason(), Some(::h2::Reason::INTERNAL_ERROR));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn panics_and_empty_returns_are_500_and_the_connection_goes_on() {
    // Each fails in the app's first poll, the one run in the connection's task.
    let app = app_fn(|scope, _receive, send| {
        let path = match &scope {
            Scope::Http(scope) => scope.path().to_owned(),
            _ => String::new(),
        };
        if path == "/panic-in-call" {
            panic!("boom in call");
        }
        async move {
            match path.as_str() {
                "/panic" => panic!("boom in poll"),
                "/empty" => Ok(()),
                _ => {
                    send.send(HttpSend::start(StatusCode::OK, text_headers()))
                        .await?;
                    send.send(HttpSend::body("ok")).await?;
                    Ok(())
                }
            }
        }
    });
    let server = support::serve(app).await;
    let mut client = connect(server.addr).await;

    let mut statuses = Vec::new();
    for path in ["/panic", "/panic-in-call", "/empty", "/ok"] {
        let mut res = send(&mut client, request(Method::GET, path)).await;
        let text = String::from_utf8(body(res.body_mut()).await).unwrap();
        statuses.push((path, res.status().as_u16(), text));
    }

    assert_eq!(
        statuses,
        [
            ("/panic", 500, "Internal Server Error".to_owned()),
            ("/panic-in-call", 500, "Internal Server Error".to_owned()),
            ("/empty", 500, "Internal Server Error".to_owned()),
            ("/ok", 200, "ok".to_owned()),
        ]
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn limit_concurrency_counts_open_streams_and_frees_them_when_they_end() {
    let release = Arc::new(Notify::new());
    let app = {
        let release = release.clone();
        app_fn(move |scope, _receive, send| {
            let release = release.clone();
            async move {
                let Scope::Http(scope) = scope else {
                    return Err("http only".into());
                };
                if scope.path() == "/hold" {
                    release.notified().await;
                }
                send.send(HttpSend::start(StatusCode::OK, text_headers()))
                    .await?;
                send.send(HttpSend::body("ok")).await?;
                Ok(())
            }
        })
    };
    let mut config = support::config();
    config.limit_concurrency = Some(2);
    let server = support::serve_with(config, app).await;
    let mut client = connect(server.addr).await;

    // Many quick streams, each ended in its first poll: none stays counted.
    for _ in 0..20 {
        let res = send(&mut client, request(Method::GET, "/")).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // Two held streams reach the limit of two in flight: the next is refused.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut ready = client.clone().ready().await.unwrap();
        let (response, _) = ready
            .send_request(request(Method::GET, "/hold"), true)
            .unwrap();
        held.push(response);
    }
    let refused = tokio::time::timeout(LIMIT, async {
        loop {
            let res = send(&mut client, request(Method::GET, "/")).await;
            if res.status() == StatusCode::SERVICE_UNAVAILABLE {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    release.notify_waiters();
    for response in held {
        let res = tokio::time::timeout(LIMIT, response)
            .await
            .expect("held stream in time")
            .expect("held stream");
        assert_eq!(res.status(), StatusCode::OK);
    }
    let after = send(&mut client, request(Method::GET, "/")).await;

    assert!(refused.is_ok(), "no 503 while two streams were held");
    assert_eq!(after.status(), StatusCode::OK);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_sends_goaway_and_finishes_the_open_stream() {
    let release = Arc::new(Notify::new());
    let (started_tx, mut started) = mpsc::unbounded_channel::<()>();
    let app = {
        let release = release.clone();
        app_fn(move |_scope, _receive, send| {
            let release = release.clone();
            let started_tx = started_tx.clone();
            async move {
                send.send(HttpSend::start(StatusCode::OK, text_headers()))
                    .await?;
                let _ = started_tx.send(());
                release.notified().await;
                send.send(HttpSend::body("finished")).await?;
                Ok(())
            }
        })
    };
    let server = support::serve(app).await;
    let mut client = connect(server.addr).await;
    let mut ready = client.clone().ready().await.unwrap();
    let (in_flight, _) = ready
        .send_request(request(Method::GET, "/slow"), true)
        .unwrap();
    tokio::time::timeout(LIMIT, started.recv())
        .await
        .expect("app started in time");

    server.handle.shutdown();
    // Once the GOAWAY arrives, the client refuses to open new streams.
    let goaway = tokio::time::timeout(LIMIT, async {
        loop {
            match client.send_request(request(Method::GET, "/new"), true) {
                Err(error) => return error,
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await
    .expect("GOAWAY in time");
    release.notify_waiters();
    let mut res = tokio::time::timeout(LIMIT, in_flight)
        .await
        .expect("in-flight response in time")
        .expect("in-flight response");
    let text = body(res.body_mut()).await;

    assert!(goaway.is_go_away(), "{goaway:?}");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(text, b"finished");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn max_concurrent_streams_is_advertised() {
    let mut config = support::config();
    config.h2_max_concurrent_streams = 3;
    let server = support::serve_with(config, describe()).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (client, mut conn) = ::h2::client::handshake(tcp).await.unwrap();

    // The server's SETTINGS arrive while the connection is polled.
    let limit = tokio::time::timeout(LIMIT, async {
        loop {
            std::future::poll_fn(|cx| {
                let _ = std::pin::Pin::new(&mut conn).poll(cx);
                std::task::Poll::Ready(())
            })
            .await;
            let limit = conn.max_concurrent_send_streams();
            if limit == 3 {
                return limit;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("settings in time");

    assert_eq!(limit, 3);
    drop(client);
    drop(conn);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn split_cookies_are_joined_and_connection_fields_are_dropped() {
    let app = app_fn(|scope, _receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Err("http only".into());
        };
        let cookies: Vec<String> = scope
            .headers
            .get_all("cookie")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        // Fields HTTP/2 forbids: the server must drop them, or the client
        // rejects the whole response as malformed.
        let headers = text_headers()
            .with(
                http::header::CONNECTION,
                HeaderValue::from_static("keep-alive"),
            )
            .with(
                http::header::TRANSFER_ENCODING,
                HeaderValue::from_static("chunked"),
            )
            .with(
                HeaderName::from_static("keep-alive"),
                HeaderValue::from_static("timeout=5"),
            );
        send.send(HttpSend::start(StatusCode::OK, headers)).await?;
        send.send(HttpSend::body(cookies.join("|"))).await?;
        Ok(())
    });
    let server = support::serve(app).await;
    let mut client = connect(server.addr).await;
    let mut req = request(Method::GET, "/");
    req.headers_mut()
        .append("cookie", HeaderValue::from_static("a=1"));
    req.headers_mut()
        .append("cookie", HeaderValue::from_static("b=2"));

    let mut res = send(&mut client, req).await;
    let text = String::from_utf8(body(res.body_mut()).await).unwrap();

    assert_eq!(res.status(), StatusCode::OK);
    assert!(!res.headers().contains_key("connection"));
    assert!(!res.headers().contains_key("transfer-encoding"));
    assert_eq!(text, "a=1; b=2");
    server.stop().await.unwrap();
}

/// Reads the whole request body, then answers `path length`; `/slow` waits
/// 50 ms first. A stream whose app waits (for time or for DATA frames) is
/// moved from the connection's task into its own after its first poll.
fn wait_then_count() -> impl App {
    app_fn(|scope, receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Err("http only".into());
        };
        if scope.path() == "/slow" {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut total = 0;
        loop {
            match receive.receive().await? {
                ReceiveEvent::Http(HttpReceive::Request { body, more_body }) => {
                    total += body.len();
                    if !more_body {
                        break;
                    }
                }
                _ => return Ok(()),
            }
        }
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        send.send(HttpSend::body(format!("{} {total}", scope.path())))
            .await?;
        Ok(())
    })
}

async fn streams_that_wait_and_streams_that_end_at_once_share_a_connection() {
    let server = support::serve(wait_then_count()).await;
    let client = connect(server.addr).await;

    let mut streams = Vec::new();
    for i in 0..40_usize {
        let client = client.clone();
        streams.push(tokio::spawn(async move {
            let path = ["/slow", "/fast"][i % 2];
            let size = if i % 4 < 2 { 0 } else { 1000 * i };
            let mut ready = tokio::time::timeout(LIMIT, client.ready())
                .await
                .expect("ready in time")
                .expect("ready");
            let (response, mut body_stream) = ready
                .send_request(request(Method::POST, path), size == 0)
                .expect("send request");
            if size > 0 {
                // Two DATA frames, the second a moment later: the app waits for it.
                body_stream
                    .send_data(Bytes::from(vec![b'x'; size / 2]), false)
                    .expect("first half");
                tokio::time::sleep(Duration::from_millis(10)).await;
                body_stream
                    .send_data(Bytes::from(vec![b'y'; size - size / 2]), true)
                    .expect("second half");
            }
            let mut res = tokio::time::timeout(LIMIT, response)
                .await
                .expect("response in time")
                .expect("response");
            let text = String::from_utf8(body(res.body_mut()).await).unwrap();
            (res.status(), text, format!("{path} {size}"))
        }));
    }

    for stream in streams {
        let (status, text, expected) = stream.await.expect("stream task");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(text, expected);
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn waiting_and_immediate_streams_on_a_current_thread_runtime() {
    streams_that_wait_and_streams_that_end_at_once_share_a_connection().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_and_immediate_streams_on_a_multi_thread_runtime() {
    streams_that_wait_and_streams_that_end_at_once_share_a_connection().await;
}

#[tokio::test]
async fn repeated_fields_keep_their_order_and_proxy_headers_apply() {
    let app = app_fn(|scope, _receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Err("http only".into());
        };
        let fields: Vec<String> = scope
            .headers
            .iter()
            .filter(|(name, _)| name.as_str() != "user-agent")
            .map(|(name, value)| format!("{name}={}", String::from_utf8_lossy(value.as_bytes())))
            .collect();
        let body = format!("{} {:?} {}", scope.scheme, scope.client, fields.join(","));
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        send.send(HttpSend::body(body)).await?;
        Ok(())
    });
    let server = support::serve(app).await;
    let mut client = connect(server.addr).await;
    let mut req = request(Method::GET, "/");
    for (name, value) in [
        ("x-tag", "one"),
        ("accept", "text/plain"),
        ("x-tag", "two"),
        ("x-forwarded-for", "203.0.113.9"),
        ("x-forwarded-proto", "https"),
    ] {
        req.headers_mut()
            .append(name, HeaderValue::from_static(value));
    }

    let mut res = send(&mut client, req).await;
    let text = String::from_utf8(body(res.body_mut()).await).unwrap();

    // `host` first (from `:authority`); a field's values stay together, in order.
    let (scheme_client, fields) = text
        .split_once(' ')
        .map(|(s, rest)| {
            let (client, fields) = rest.split_once(' ').unwrap();
            (format!("{s} {client}"), fields.to_owned())
        })
        .unwrap();
    assert_eq!(scheme_client, "https Some(203.0.113.9:0)");
    let fields: Vec<&str> = fields.split(',').collect();
    assert_eq!(
        fields,
        [
            "host=localhost",
            "x-tag=one",
            "x-tag=two",
            "accept=text/plain",
            "x-forwarded-for=203.0.113.9",
            "x-forwarded-proto=https"
        ]
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn head_request_gets_no_body() {
    let app = app_fn(|_scope, _receive, send| async move {
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        send.send(HttpSend::body("not sent on HEAD")).await?;
        Ok(())
    });
    let server = support::serve(app).await;
    let mut client = connect(server.addr).await;

    let mut res = send(&mut client, request(Method::HEAD, "/")).await;
    let text = body(res.body_mut()).await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-length"], "16");
    assert!(text.is_empty());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn declared_body_over_the_limit_is_413() {
    let mut config = support::config();
    config.limit_request_body = Some(4);
    let server = support::serve_with(config, support::echo()).await;
    let client = connect(server.addr).await;
    let mut req = request(Method::POST, "/");
    req.headers_mut()
        .insert("content-length", HeaderValue::from_static("10"));
    let mut ready = client.clone().ready().await.unwrap();

    let (response, mut upload) = ready.send_request(req, false).unwrap();
    let _ = upload.send_data(Bytes::from_static(b"0123456789"), true);
    let res = tokio::time::timeout(LIMIT, response)
        .await
        .expect("response in time")
        .unwrap();

    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn slow_reader_holds_the_app_back() {
    // The client never reads: the app's sends stop once the stream window
    // (65,535 bytes by default) and h2's send buffer are full.
    let (progress_tx, mut progress) = mpsc::unbounded_channel::<usize>();
    let app = app_fn(move |_scope, _receive, send| {
        let progress_tx = progress_tx.clone();
        async move {
            send.send(HttpSend::start(StatusCode::OK, text_headers()))
                .await?;
            let chunk = Bytes::from(vec![b'x'; 16 * 1024]);
            for sent in 1..=1024 {
                send.send(HttpSend::chunk(chunk.clone())).await?;
                let _ = progress_tx.send(sent * chunk.len());
            }
            send.send(HttpSend::body("")).await?;
            Ok(())
        }
    });
    let server = support::serve(app).await;
    let mut client = connect(server.addr).await;

    let _res = send(&mut client, request(Method::GET, "/")).await;
    let mut sent = 0;
    while let Ok(Some(n)) = tokio::time::timeout(Duration::from_millis(500), progress.recv()).await
    {
        sent = n;
    }

    assert!(sent > 0, "the app sent nothing");
    assert!(
        sent < 2 * 1024 * 1024,
        "{sent} bytes went out to a client that reads nothing"
    );
    server.handle.shutdown_now();
}

#[tokio::test]
async fn oversized_header_list_is_refused_before_the_app() {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = {
        let calls = calls.clone();
        app_fn(move |_scope, _receive, send| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move {
                send.send(HttpSend::start(StatusCode::OK, text_headers()))
                    .await?;
                send.send(HttpSend::body("ok")).await?;
                Ok(())
            }
        })
    };
    let mut config = support::config();
    config.limit_request_head = 1024;
    let server = support::serve_with(config, app).await;
    let client = connect(server.addr).await;
    let mut req = request(Method::GET, "/");
    let big = HeaderValue::from_str(&"v".repeat(4096)).unwrap();
    req.headers_mut().insert("x-big", big);

    let outcome = tokio::time::timeout(LIMIT, async {
        let mut ready = client.clone().ready().await?;
        let (response, _) = ready.send_request(req, true)?;
        response.await
    })
    .await
    .expect("settles in time");

    // h2 answers 431 itself, or, for a list far over the limit, ends the
    // connection with GOAWAY(ENHANCE_YOUR_CALM); the app never sees it.
    match &outcome {
        Ok(res) => assert_eq!(res.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        Err(error) => assert!(
            error.reason() == Some(::h2::Reason::ENHANCE_YOUR_CALM)
                || error.reason() == Some(::h2::Reason::REFUSED_STREAM)
                || error.is_library(),
            "{error:?}"
        ),
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 0);
    let mut fresh = connect(server.addr).await;
    let mut ok = send(&mut fresh, request(Method::GET, "/small")).await;
    assert_eq!(body(ok.body_mut()).await, b"ok");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn idle_connection_is_closed_after_the_keep_alive_timeout() {
    let mut config = support::config();
    config.timeout_keep_alive = Duration::from_millis(200);
    let server = support::serve_with(config, describe()).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (mut client, conn) = ::h2::client::handshake(tcp).await.unwrap();
    let driver = tokio::spawn(conn);

    let mut res = send(&mut client, request(Method::GET, "/")).await;
    let _ = body(res.body_mut()).await;
    let closed = tokio::time::timeout(LIMIT, driver)
        .await
        .expect("server closes the idle connection in time")
        .expect("driver task");

    // A GOAWAY(NO_ERROR) close is a clean end for the client.
    assert!(closed.is_ok(), "{closed:?}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn busy_connection_outlives_the_keep_alive_timeout() {
    // Streams that end at once (no task of their own) still count as
    // activity: the idle timer is put off, not fired, while requests come.
    let mut config = support::config();
    config.timeout_keep_alive = Duration::from_millis(300);
    let server = support::serve_with(config, describe()).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (mut client, conn) = ::h2::client::handshake(tcp).await.unwrap();
    let driver = tokio::spawn(conn);

    // 1.2 s of requests, 100 ms apart: four keep-alive timeouts.
    for _ in 0..12 {
        let mut res = send(&mut client, request(Method::GET, "/")).await;
        assert_eq!(res.status(), StatusCode::OK);
        let _ = body(res.body_mut()).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !driver.is_finished(),
        "the connection was closed while in use"
    );
    let idle_from = std::time::Instant::now();
    let closed = tokio::time::timeout(LIMIT, driver)
        .await
        .expect("server closes the idle connection in time")
        .expect("driver task");

    assert!(closed.is_ok(), "{closed:?}");
    let idle = idle_from.elapsed();
    assert!(idle >= Duration::from_millis(150), "closed after {idle:?}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn http_h2_mode_serves_prior_knowledge_and_refuses_http1() {
    let mut config = support::config();
    config.http = asgi_server::HttpMode::H2;
    let server = support::serve_with(config, describe()).await;

    let mut client = connect(server.addr).await;
    let mut res = send(&mut client, request(Method::GET, "/x")).await;
    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    assert_eq!(
        String::from_utf8(body(res.body_mut()).await).unwrap(),
        "2 http localhost /x first=host"
    );
    assert!(
        !reply.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn unread_request_body_stops_the_client_at_the_stream_window() {
    let release = Arc::new(Notify::new());
    let app = {
        let release = release.clone();
        app_fn(move |_scope, receive, send| {
            let release = release.clone();
            async move {
                release.notified().await;
                let body = support::read_body(&receive).await?;
                send.send(HttpSend::start(StatusCode::OK, text_headers()))
                    .await?;
                send.send(HttpSend::body(body.len().to_string())).await?;
                Ok(())
            }
        })
    };
    let server = support::serve(app).await;
    let client = connect(server.addr).await;
    let mut ready = client.clone().ready().await.unwrap();
    let total = 4 * 1024 * 1024;
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    let (response, mut upload) = ready
        .send_request(request(Method::POST, "/"), false)
        .unwrap();
    let uploader = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut rest = Bytes::from(vec![7u8; total]);
            while !rest.is_empty() {
                upload.reserve_capacity(rest.len());
                let n = std::future::poll_fn(|cx| upload.poll_capacity(cx))
                    .await
                    .expect("capacity")
                    .expect("capacity ok");
                let chunk = rest.split_to(n.min(rest.len()));
                let len = chunk.len();
                upload.send_data(chunk, rest.is_empty()).unwrap();
                sent.fetch_add(len, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = sent.load(std::sync::atomic::Ordering::Relaxed);
    release.notify_one();
    let mut res = tokio::time::timeout(LIMIT, response)
        .await
        .expect("response in time")
        .unwrap();
    let text = String::from_utf8(body(res.body_mut()).await).unwrap();
    uploader.await.unwrap();

    // The server's stream window is 256 KiB and nothing was released.
    assert!(before > 0, "nothing was sent");
    assert!(
        before <= 256 * 1024,
        "{before} bytes sent to an app that read nothing"
    );
    assert_eq!(text, total.to_string());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn header_options_apply_as_on_http11() {
    let app = app_fn(|scope, _receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Err("http only".into());
        };
        let mut headers = text_headers();
        if scope.path() == "/own-server" {
            headers.push(http::header::SERVER, HeaderValue::from_static("app"));
        }
        send.send(HttpSend::start(StatusCode::OK, headers)).await?;
        send.send(HttpSend::body("x")).await?;
        Ok(())
    });
    let mut config = support::config();
    config.headers = vec![
        (
            HeaderName::from_static("x-extra"),
            HeaderValue::from_static("1"),
        ),
        (http::header::SERVER, HeaderValue::from_static("custom")),
    ];
    config.date_header = false;
    let server = support::serve_with(config, app).await;
    let mut client = connect(server.addr).await;

    let plain = send(&mut client, request(Method::GET, "/")).await;
    let own = send(&mut client, request(Method::GET, "/own-server")).await;

    assert_eq!(plain.headers()["server"], "custom");
    assert_eq!(plain.headers()["x-extra"], "1");
    assert!(!plain.headers().contains_key("date"));
    assert_eq!(own.headers()["server"], "app");
    assert_eq!(own.headers().get_all("server").iter().count(), 1);
    assert_eq!(own.headers()["x-extra"], "1");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn rapid_reset_flood_ends_the_connection() {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = {
        let calls = calls.clone();
        app_fn(move |_scope, _receive, send| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move {
                send.send(HttpSend::start(StatusCode::OK, text_headers()))
                    .await?;
                send.send(HttpSend::body("ok")).await?;
                Ok(())
            }
        })
    };
    let server = support::serve(app).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (mut client, conn) = ::h2::client::handshake(tcp).await.unwrap();

    // Queue every request and its reset before the driver runs, so that
    // they reach the server in one burst (CVE-2023-44487's pattern).
    let mut responses = Vec::new();
    for _ in 0..200 {
        let (response, mut stream) = client
            .send_request(request(Method::POST, "/"), false)
            .expect("queue request");
        stream.send_reset(::h2::Reason::CANCEL);
        responses.push(response);
    }
    let ended = tokio::time::timeout(LIMIT, conn)
        .await
        .expect("connection ends in time");

    let error = ended.expect_err("the server ends the connection");
    assert_eq!(
        error.reason(),
        Some(::h2::Reason::ENHANCE_YOUR_CALM),
        "{error:?}"
    );
    assert!(calls.load(std::sync::atomic::Ordering::Relaxed) < 200);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_stream_whose_app_reads_nothing_does_not_stall_the_others() {
    let release = Arc::new(Notify::new());
    let app = {
        let release = release.clone();
        app_fn(move |scope, receive, send| {
            let release = release.clone();
            async move {
                let Scope::Http(scope) = scope else {
                    return Err("http only".into());
                };
                if scope.path() == "/stuck" {
                    release.notified().await;
                }
                let body = support::read_body(&receive).await?;
                send.send(HttpSend::start(StatusCode::OK, text_headers()))
                    .await?;
                send.send(HttpSend::body(body.len().to_string())).await?;
                Ok(())
            }
        })
    };
    let server = support::serve(app).await;
    let client = connect(server.addr).await;

    // Fill the stuck stream's window, then upload 1 MiB on another stream.
    let mut ready = client.clone().ready().await.unwrap();
    let (stuck, mut stuck_upload) = ready
        .send_request(request(Method::POST, "/stuck"), false)
        .unwrap();
    let _ = stuck_upload.send_data(Bytes::from(vec![1u8; 256 * 1024]), false);
    let mut ready = client.clone().ready().await.unwrap();
    let (other, mut upload) = ready
        .send_request(request(Method::POST, "/other"), false)
        .unwrap();
    let uploader = tokio::spawn(async move {
        let mut rest = Bytes::from(vec![2u8; 1024 * 1024]);
        while !rest.is_empty() {
            upload.reserve_capacity(rest.len());
            let n = std::future::poll_fn(|cx| upload.poll_capacity(cx))
                .await
                .expect("capacity")
                .expect("capacity ok");
            let chunk = rest.split_to(n.min(rest.len()));
            upload.send_data(chunk, rest.is_empty()).unwrap();
        }
    });
    let mut other = tokio::time::timeout(LIMIT, other)
        .await
        .expect("the other stream is answered while one is stuck")
        .unwrap();
    let other_text = String::from_utf8(body(other.body_mut()).await).unwrap();
    uploader.await.unwrap();
    release.notify_one();
    let _ = stuck_upload.send_data(Bytes::new(), true);
    let mut stuck = tokio::time::timeout(LIMIT, stuck)
        .await
        .expect("stuck stream answered once released")
        .unwrap();
    let stuck_text = String::from_utf8(body(stuck.body_mut()).await).unwrap();

    assert_eq!(other_text, (1024 * 1024).to_string());
    assert_eq!(stuck_text, (256 * 1024).to_string());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn expect_100_continue_is_answered_once_the_app_reads() {
    let release = Arc::new(Notify::new());
    let app = {
        let release = release.clone();
        app_fn(move |_scope, receive, send| {
            let release = release.clone();
            async move {
                release.notified().await;
                let body = support::read_body(&receive).await?;
                send.send(HttpSend::start(StatusCode::OK, text_headers()))
                    .await?;
                send.send(HttpSend::body(body)).await?;
                Ok(())
            }
        })
    };
    let server = support::serve(app).await;
    let client = connect(server.addr).await;
    let mut req = request(Method::POST, "/");
    req.headers_mut()
        .insert("expect", HeaderValue::from_static("100-continue"));
    let mut ready = client.clone().ready().await.unwrap();

    let (mut response, mut upload) = ready.send_request(req, false).unwrap();
    let early = tokio::time::timeout(
        Duration::from_millis(300),
        std::future::poll_fn(|cx| response.poll_informational(cx)),
    )
    .await;
    release.notify_one();
    let interim = tokio::time::timeout(
        LIMIT,
        std::future::poll_fn(|cx| response.poll_informational(cx)),
    )
    .await
    .expect("100 in time")
    .expect("informational ok")
    .expect("a 100 response");
    upload.send_data(Bytes::from_static(b"body"), true).unwrap();
    let mut res = tokio::time::timeout(LIMIT, response)
        .await
        .expect("response in time")
        .unwrap();

    assert!(
        early.is_err(),
        "100 Continue before the app asked for the body"
    );
    assert_eq!(interim.status(), StatusCode::CONTINUE);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body(res.body_mut()).await, b"body");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn app_waiting_after_the_body_sees_disconnect_when_the_client_leaves() {
    let (events, mut seen) = mpsc::unbounded_channel::<&'static str>();
    let app = app_fn(move |_scope, receive, send| {
        let events = events.clone();
        async move {
            support::read_body(&receive).await?;
            send.send(HttpSend::start(StatusCode::OK, text_headers()))
                .await?;
            send.send(HttpSend::chunk("streaming")).await?;
            // A long poll: wait for the client to go away.
            let event = receive.receive().await?;
            let _ = events.send(event.kind());
            Ok(())
        }
    });
    let server = support::serve(app).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (client, conn) = ::h2::client::handshake(tcp).await.unwrap();
    let driver = tokio::spawn(conn);
    let mut ready = client.ready().await.unwrap();

    let (response, _) = ready.send_request(request(Method::GET, "/"), true).unwrap();
    let res = tokio::time::timeout(LIMIT, response)
        .await
        .expect("head in time")
        .unwrap();
    driver.abort();
    let kind = tokio::time::timeout(LIMIT, seen.recv())
        .await
        .expect("disconnect in time");

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(kind, Some("http.disconnect"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn app_that_ignores_the_disconnect_is_cancelled_after_the_grace() {
    /// Reports when the app's future is dropped.
    struct Dropped(mpsc::UnboundedSender<()>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }
    let (dropped, mut cancelled) = mpsc::unbounded_channel::<()>();
    let app = app_fn(move |_scope, _receive, send| {
        let guard = Dropped(dropped.clone());
        async move {
            let _guard = guard;
            send.send(HttpSend::start(StatusCode::OK, text_headers()))
                .await?;
            send.send(HttpSend::chunk("streaming")).await?;
            // Never looks at `receive` again, and never ends on its own.
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    let server = support::serve(app).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (client, conn) = ::h2::client::handshake(tcp).await.unwrap();
    let driver = tokio::spawn(conn);
    let mut ready = client.ready().await.unwrap();

    let (response, _) = ready.send_request(request(Method::GET, "/"), true).unwrap();
    let res = tokio::time::timeout(LIMIT, response)
        .await
        .expect("head in time")
        .unwrap();
    driver.abort();
    // The server gives apps of a closed connection 5 s to finish.
    let dropped = tokio::time::timeout(Duration::from_secs(5) + LIMIT, cancelled.recv())
        .await
        .expect("app cancelled after the grace");

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(dropped, Some(()));
    server.stop().await.unwrap();
}
