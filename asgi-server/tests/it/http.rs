//! HTTP/1.1 behaviour over real sockets: framing, keep-alive, pipelining,
//! 100-continue, app faults and the app-facing rules.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use asgi_core::{HttpReceive, HttpSend, ProtocolError, ReceiveEvent, Scope, SendError, app_fn};
use http::{HeaderName, HeaderValue, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, oneshot};

use crate::support::{
    self, LIMIT, echo, hello, parse_responses, read_response, read_to_close, roundtrip,
    text_headers,
};

fn show(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

#[tokio::test]
async fn get_returns_the_app_response() {
    let server = support::serve(hello()).await;

    let reply = roundtrip(
        server.addr,
        b"GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    let responses = parse_responses(&reply);
    assert_eq!(responses.len(), 1, "{}", show(&reply));
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[0].header("content-length"), Some("8"));
    assert_eq!(responses[0].header("connection"), Some("close"));
    assert_eq!(responses[0].header("server"), Some("asgi-server"));
    assert!(
        responses[0]
            .header("date")
            .is_some_and(|d| d.ends_with("GMT"))
    );
    assert_eq!(responses[0].text(), "hello /a");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn reqwest_round_trip_with_body() {
    let server = support::serve(echo()).await;
    let client = reqwest::Client::new();

    let res = client
        .post(format!("http://{}/echo", server.addr))
        .body("ping")
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-method"], "POST");
    assert_eq!(res.text().await.unwrap(), "ping");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn reqwest_reuses_the_connection() {
    let server = support::serve(hello()).await;
    let client = reqwest::Client::new();

    for i in 0..5 {
        let res = client
            .get(format!("http://{}/{i}", server.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.unwrap(), format!("hello /{i}"));
    }

    server.stop().await.unwrap();
}

#[tokio::test]
async fn keep_alive_serves_requests_in_turn() {
    let server = support::serve(echo()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut buffered = Vec::new();

    for i in 0..3 {
        let request = format!("POST /{i} HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\n{i}");
        stream.write_all(request.as_bytes()).await.unwrap();
        let response = read_response(&mut stream, &mut buffered).await;

        assert_eq!(response.status, 200);
        assert_eq!(response.text(), i.to_string());
        assert_eq!(response.header("connection"), None);
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let server = support::serve(echo()).await;
    let mut request = Vec::new();
    for i in 0..16 {
        request.extend_from_slice(
            format!("POST /{i} HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{i:02}").as_bytes(),
        );
    }
    request.extend_from_slice(b"GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");

    let reply = roundtrip(server.addr, &request).await;

    let responses = parse_responses(&reply);
    assert_eq!(responses.len(), 17, "{}", show(&reply));
    for (i, response) in responses.iter().take(16).enumerate() {
        assert_eq!(response.header("x-path"), Some(format!("/{i}").as_str()));
        assert_eq!(response.text(), format!("{i:02}"));
    }
    assert_eq!(responses[16].header("x-path"), Some("/last"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn http_10_closes_unless_keep_alive_is_asked() {
    let server = support::serve(hello()).await;

    let reply = roundtrip(server.addr, b"GET /old HTTP/1.0\r\n\r\n").await;
    let responses = parse_responses(&reply);
    assert_eq!(responses.len(), 1, "{}", show(&reply));
    assert_eq!(responses[0].header("connection"), Some("close"));

    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut buffered = Vec::new();
    for _ in 0..2 {
        stream
            .write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .await
            .unwrap();
        let response = read_response(&mut stream, &mut buffered).await;
        assert_eq!(response.header("connection"), Some("keep-alive"));
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn chunked_request_bodies_are_dechunked() {
    let server = support::serve(echo()).await;

    let reply = roundtrip(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n",
    )
    .await;

    let responses = parse_responses(&reply);
    assert_eq!(responses.len(), 1, "{}", show(&reply));
    assert_eq!(responses[0].text(), "hello world");
}

fn streaming_app() -> impl asgi_core::App {
    app_fn(|_scope, _receive, send| async move {
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        send.send(HttpSend::chunk("ab")).await?;
        send.send(HttpSend::chunk("")).await?;
        send.send(HttpSend::chunk("cd")).await?;
        send.send(HttpSend::body("")).await?;
        Ok(())
    })
}

#[tokio::test]
async fn streamed_responses_are_chunked_on_11_and_close_delimited_on_10() {
    let server = support::serve(streaming_app()).await;

    let reply11 = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    let reply10 = roundtrip(
        server.addr,
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    )
    .await;

    let r11 = &parse_responses(&reply11)[0];
    assert_eq!(
        r11.header("transfer-encoding"),
        Some("chunked"),
        "{}",
        show(&reply11)
    );
    assert_eq!(r11.text(), "abcd");
    assert!(
        show(&reply11).ends_with("2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n"),
        "{}",
        show(&reply11)
    );
    let r10 = &parse_responses(&reply10)[0];
    assert_eq!(r10.header("transfer-encoding"), None, "{}", show(&reply10));
    assert_eq!(r10.header("connection"), Some("close"));
    assert_eq!(r10.text(), "abcd");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn app_framing_headers_are_replaced_by_the_server() {
    let app = app_fn(|_scope, _receive, send| async move {
        let headers = text_headers()
            .with(
                http::header::TRANSFER_ENCODING,
                HeaderValue::from_static("gzip"),
            )
            .with(
                http::header::CONNECTION,
                HeaderValue::from_static("keep-alive"),
            );
        send.send(HttpSend::start(StatusCode::OK, headers)).await?;
        send.send(HttpSend::body("xyz")).await?;
        Ok(())
    });
    let server = support::serve(app).await;

    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    let text = show(&reply);
    assert!(!text.contains("gzip"), "{text}");
    assert!(!text.contains("keep-alive"), "{text}");
    assert_eq!(
        parse_responses(&reply)[0].header("content-length"),
        Some("3")
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn head_and_bodiless_statuses_send_no_body() {
    let app = app_fn(|scope, _receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Err("http only".into());
        };
        let status = match scope.path() {
            "/204" => StatusCode::NO_CONTENT,
            "/304" => StatusCode::NOT_MODIFIED,
            _ => StatusCode::OK,
        };
        let headers =
            text_headers().with(http::header::CONTENT_LENGTH, HeaderValue::from_static("5"));
        send.send(HttpSend::start(status, headers)).await?;
        send.send(HttpSend::body(if scope.method == http::Method::HEAD {
            ""
        } else {
            "hello"
        }))
        .await?;
        Ok(())
    });
    let server = support::serve(app).await;

    let reply = roundtrip(
        server.addr,
        b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET /204 HTTP/1.1\r\nHost: t\r\n\r\nGET /304 HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    let text = show(&reply);
    let heads: Vec<&str> = text.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(heads.len(), 4, "{text}");
    assert!(
        heads[0].starts_with("200")
            && heads[0].contains("content-length: 5")
            && heads[0].ends_with("\r\n\r\n"),
        "{text}"
    );
    assert!(
        heads[1].starts_with("204")
            && !heads[1].contains("content-length")
            && heads[1].ends_with("\r\n\r\n"),
        "{text}"
    );
    assert!(
        heads[2].starts_with("304") && heads[2].ends_with("\r\n\r\n"),
        "{text}"
    );
    assert!(heads[3].ends_with("\r\n\r\nhello"), "{text}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn server_and_date_headers_can_be_switched_and_extended() {
    let mut config = support::config();
    config.server_header = false;
    config.date_header = false;
    config.headers = vec![(
        HeaderName::from_static("x-served-by"),
        HeaderValue::from_static("test"),
    )];
    let server = support::serve_with(config, hello()).await;

    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    let response = &parse_responses(&reply)[0];
    assert_eq!(response.header("server"), None);
    assert_eq!(response.header("date"), None);
    assert_eq!(response.header("x-served-by"), Some("test"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn continue_is_sent_only_when_the_app_reads_the_body() {
    let server = support::serve(echo()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();

    stream
        .write_all(
            b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
        )
        .await
        .unwrap();
    let mut interim = [0u8; 25];
    tokio::time::timeout(LIMIT, stream.read_exact(&mut interim))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"body").await.unwrap();
    let response = read_response(&mut stream, &mut Vec::new()).await;

    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "body");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn no_continue_when_the_app_answers_without_reading() {
    let server = support::serve(hello()).await;

    let reply = roundtrip(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    )
    .await;

    let text = show(&reply);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
    assert_eq!(
        parse_responses(&reply)[0].header("connection"),
        Some("close")
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn unread_body_is_drained_before_the_next_request() {
    let server = support::serve(hello()).await;

    let reply = roundtrip(
        server.addr,
        b"POST /first HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nunread bodyGET /second HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    let responses = parse_responses(&reply);
    assert_eq!(responses.len(), 2, "{}", show(&reply));
    assert_eq!(responses[1].text(), "hello /second");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn scope_carries_the_request() {
    let app = app_fn(|scope, _receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Err("http only".into());
        };
        let summary = format!(
            "{} {} {:?} {} {} {} {:?} {:?}",
            scope.method,
            scope.path(),
            std::str::from_utf8(scope.query_string())?,
            scope.http_version,
            scope.scheme,
            scope.root_path,
            scope
                .headers
                .get_all("x-dup")
                .map(|v| v.to_str().unwrap_or("?").to_owned())
                .collect::<Vec<_>>(),
            scope.client.map(|c| c.ip()),
        );
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        send.send(HttpSend::body(summary)).await?;
        Ok(())
    });
    let mut config = support::config();
    config.root_path = "/mount".into();
    let server = support::serve_with(config, app).await;

    let reply = roundtrip(
        server.addr,
        b"GET /a%20b?x=1 HTTP/1.1\r\nHost: t\r\nX-Dup: 1\r\nX-Dup: 2\r\nConnection: close\r\n\r\n",
    )
    .await;

    assert_eq!(
        parse_responses(&reply)[0].text(),
        "GET /a b \"x=1\" 1.1 http /mount [\"1\", \"2\"] Some(127.0.0.1)"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn proxy_headers_set_client_and_scheme_for_trusted_peers() {
    let app = app_fn(|scope, _receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Err("http only".into());
        };
        let body = format!("{} {:?}", scope.scheme, scope.client);
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        send.send(HttpSend::body(body)).await?;
        Ok(())
    });
    let request = b"GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n";
    let trusted = support::serve(app).await;
    let mut config = support::config();
    config.proxy_headers = false;
    let untrusted = support::serve_with(config, app).await;

    let with = roundtrip(trusted.addr, request).await;
    let without = roundtrip(untrusted.addr, request).await;

    assert_eq!(
        parse_responses(&with)[0].text(),
        "https Some(203.0.113.9:0)"
    );
    assert!(
        parse_responses(&without)[0]
            .text()
            .starts_with("http Some(127.0.0.1:")
    );
    trusted.stop().await.unwrap();
    untrusted.stop().await.unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn serves_on_a_unix_socket() {
    let dir = std::env::temp_dir().join(format!("asgi-server-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    let mut config = support::config();
    config.uds = Some(path.clone());
    let bound = asgi_server::Server::new(config).bind().await.unwrap();
    assert_eq!(bound.local_addr(), None);
    let handle = bound.handle();
    let task = tokio::spawn(bound.serve(hello()));

    let mut stream = tokio::net::UnixStream::connect(&path).await.unwrap();
    stream
        .write_all(b"GET /unix HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(LIMIT, stream.read_to_end(&mut reply))
        .await
        .unwrap()
        .unwrap();

    assert_eq!(parse_responses(&reply)[0].text(), "hello /unix");
    handle.shutdown();
    tokio::time::timeout(LIMIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(!path.exists(), "socket file removed on shutdown");
}

// ===== app faults =====

#[tokio::test]
async fn app_error_before_start_is_500_and_the_connection_stays_usable() {
    let app = app_fn(|scope, _receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Err("http only".into());
        };
        if scope.path() == "/fail" {
            return Err("boom".into());
        }
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        send.send(HttpSend::body("fine")).await?;
        Ok(())
    });
    let server = support::serve(app).await;

    let reply = roundtrip(
        server.addr,
        b"GET /fail HTTP/1.1\r\nHost: t\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    let responses = parse_responses(&reply);
    assert_eq!(responses.len(), 2, "{}", show(&reply));
    assert_eq!(responses[0].status, 500);
    assert_eq!(responses[0].header("connection"), None);
    assert_eq!(responses[1].text(), "fine");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn app_panic_in_call_itself_is_500_and_the_connection_goes_on() {
    // The app panics while making its future, before there is one to poll.
    let app = app_fn(|scope, _receive, send| {
        if matches!(&scope, Scope::Http(scope) if scope.path() == "/panic") {
            panic!("app panicked in call on purpose");
        }
        async move {
            send.send(HttpSend::start(StatusCode::OK, text_headers()))
                .await?;
            send.send(HttpSend::body("fine")).await?;
            Ok(())
        }
    });
    let server = support::serve(app).await;

    let reply = roundtrip(
        server.addr,
        b"GET /panic HTTP/1.1\r\nHost: t\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    let responses = parse_responses(&reply);
    assert_eq!(responses.len(), 2, "{}", show(&reply));
    assert_eq!(responses[0].status, 500);
    assert_eq!(responses[1].text(), "fine");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn app_panic_before_start_is_500_and_other_requests_are_unaffected() {
    let app = app_fn(|scope, _receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Err("http only".into());
        };
        if scope.path() == "/panic" {
            panic!("app panicked on purpose");
        }
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        send.send(HttpSend::body("fine")).await?;
        Ok(())
    });
    let server = support::serve(app).await;

    let reply = roundtrip(
        server.addr,
        b"GET /panic HTTP/1.1\r\nHost: t\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    let other = roundtrip(
        server.addr,
        b"GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    let responses = parse_responses(&reply);
    assert_eq!(responses.len(), 2, "{}", show(&reply));
    assert_eq!(responses[0].status, 500);
    assert_eq!(responses[1].text(), "fine");
    assert_eq!(parse_responses(&other)[0].text(), "fine");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn error_after_start_but_before_body_is_still_500() {
    let app = app_fn(|_scope, _receive, send| async move {
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        Err("failed after start".into())
    });
    let server = support::serve(app).await;

    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    assert_eq!(parse_responses(&reply)[0].status, 500, "{}", show(&reply));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn error_after_body_started_closes_the_connection() {
    let app = app_fn(|_scope, _receive, send| async move {
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        send.send(HttpSend::chunk("partial")).await?;
        Err("failed mid-body".into())
    });
    let server = support::serve(app).await;

    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .await;

    let text = show(&reply);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.contains("partial"), "{text}");
    assert!(!text.ends_with("0\r\n\r\n"), "no terminating chunk: {text}");
    assert_eq!(
        text.matches("HTTP/1.1").count(),
        1,
        "second request not served: {text}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn returning_without_a_response_is_500() {
    let server = support::serve(app_fn(|_scope, _receive, _send| async move { Ok(()) })).await;

    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    assert_eq!(parse_responses(&reply)[0].status, 500, "{}", show(&reply));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn returning_with_an_unfinished_body_closes() {
    let app = app_fn(|_scope, _receive, send| async move {
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        send.send(HttpSend::chunk("half")).await?;
        Ok(())
    });
    let server = support::serve(app).await;

    let reply = roundtrip(server.addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;

    let text = show(&reply);
    assert!(
        text.starts_with("HTTP/1.1 200 OK") && text.ends_with("4\r\nhalf\r\n"),
        "{text}"
    );
    server.stop().await.unwrap();
}

/// Runs `f` against the send handle and reports its errors in the response body.
fn protocol_probe(events: Vec<HttpSend>) -> impl asgi_core::App {
    let events = Arc::new(events);
    app_fn(move |_scope, _receive, send| {
        let events = events.clone();
        async move {
            let mut errors = Vec::new();
            for event in events.iter().cloned() {
                if let Err(error) = send.send(event).await {
                    errors.push(error);
                }
            }
            let report = format!("{errors:?}");
            // Complete the response if the sequence did not, so the client sees the report.
            let _ = send
                .send(HttpSend::start(StatusCode::OK, text_headers()))
                .await;
            let _ = send.send(HttpSend::body(report.clone())).await;
            if errors.is_empty() {
                Ok(())
            } else {
                Err(report.into())
            }
        }
    })
}

#[tokio::test]
async fn body_before_start_is_a_protocol_error_and_500() {
    let server = support::serve(protocol_probe(vec![HttpSend::body("too early")])).await;

    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    // The probe's own start then succeeds, so its report reaches the client.
    let response = &parse_responses(&reply)[0];
    let expected = SendError::Protocol(ProtocolError::UnexpectedMessage {
        expected: "http.response.start",
        received: "http.response.body",
    });
    assert_eq!(response.text(), format!("{:?}", vec![expected]));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn body_before_start_is_500_when_the_app_gives_up() {
    let app = app_fn(|_scope, _receive, send| async move {
        send.send(HttpSend::body("too early")).await?;
        Ok(())
    });
    let server = support::serve(app).await;

    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    assert_eq!(parse_responses(&reply)[0].status, 500, "{}", show(&reply));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn duplicate_start_is_rejected() {
    let start = || HttpSend::start(StatusCode::OK, text_headers());
    let server = support::serve(protocol_probe(vec![start(), start()])).await;

    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    let expected = SendError::Protocol(ProtocolError::UnexpectedMessage {
        expected: "http.response.body",
        received: "http.response.start",
    });
    assert_eq!(
        parse_responses(&reply)[0].text(),
        format!("{:?}", vec![expected]),
        "{}",
        show(&reply)
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn message_after_completion_is_rejected() {
    let (tx, rx) = oneshot::channel();
    let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
    let app = app_fn(move |_scope, _receive, send| {
        let tx = tx.clone();
        async move {
            send.send(HttpSend::start(StatusCode::OK, text_headers()))
                .await?;
            send.send(HttpSend::body("done")).await?;
            let late = send.send(HttpSend::body("late")).await;
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(late);
            }
            Ok(())
        }
    });
    let server = support::serve(app).await;

    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    assert_eq!(parse_responses(&reply)[0].text(), "done");
    let late = tokio::time::timeout(LIMIT, rx).await.unwrap().unwrap();
    assert_eq!(
        late,
        Err(SendError::Protocol(ProtocolError::AfterCompletion {
            received: "http.response.body"
        }))
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn body_longer_than_content_length_is_refused() {
    let app = app_fn(|_scope, _receive, send| async move {
        let headers =
            text_headers().with(http::header::CONTENT_LENGTH, HeaderValue::from_static("2"));
        send.send(HttpSend::start(StatusCode::OK, headers)).await?;
        match send.send(HttpSend::body("too long")).await {
            Err(SendError::Protocol(ProtocolError::InvalidMessage { .. })) => Ok(()),
            other => Err(format!("expected InvalidMessage, got {other:?}").into()),
        }
    });
    let server = support::serve(app).await;

    let reply = roundtrip(server.addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;

    let text = show(&reply);
    assert!(
        text.starts_with("HTTP/1.1 200 OK") && !text.contains("too long"),
        "{text}"
    );
    server.stop().await.unwrap();
}

// ===== disconnects and backpressure =====

#[tokio::test]
async fn disconnect_is_delivered_when_the_client_leaves() {
    let (tx, rx) = oneshot::channel();
    let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
    let app = app_fn(move |_scope, receive, _send| {
        let tx = tx.clone();
        async move {
            let mut kinds = Vec::new();
            loop {
                let event = receive.receive().await?;
                kinds.push(event.kind());
                if matches!(event, ReceiveEvent::Http(HttpReceive::Disconnect)) {
                    break;
                }
            }
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(kinds);
            }
            Ok(())
        }
    });
    let server = support::serve(app).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();

    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(stream);

    let kinds = tokio::time::timeout(LIMIT, rx)
        .await
        .expect("disconnect delivered")
        .unwrap();
    assert_eq!(kinds, ["http.request", "http.disconnect"]);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn truncated_body_ends_in_disconnect() {
    let (tx, rx) = oneshot::channel();
    let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
    let app = app_fn(move |_scope, receive, _send| {
        let tx = tx.clone();
        async move {
            let mut got = Vec::new();
            let outcome = loop {
                match receive.receive().await? {
                    ReceiveEvent::Http(HttpReceive::Request { body, more_body }) => {
                        got.extend_from_slice(&body);
                        if !more_body {
                            break "complete";
                        }
                    }
                    _ => break "disconnect",
                }
            };
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send((got, outcome));
            }
            Ok(())
        }
    });
    let server = support::serve(app).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();

    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhalf")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(stream);

    let (got, outcome) = tokio::time::timeout(LIMIT, rx).await.unwrap().unwrap();
    assert_eq!(got, b"half");
    assert_eq!(outcome, "disconnect");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn slow_reader_blocks_the_app_and_bounds_memory() {
    const CHUNK: usize = 64 * 1024;
    let sent = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = oneshot::channel();
    let done_tx = Arc::new(std::sync::Mutex::new(Some(done_tx)));
    let app = {
        let sent = sent.clone();
        app_fn(move |_scope, _receive, send| {
            let sent = sent.clone();
            let done_tx = done_tx.clone();
            async move {
                send.send(HttpSend::start(StatusCode::OK, text_headers()))
                    .await?;
                let chunk = bytes::Bytes::from(vec![b'x'; CHUNK]);
                let result = loop {
                    if let Err(error) = send.send(HttpSend::chunk(chunk.clone())).await {
                        break error;
                    }
                    if sent.fetch_add(1, Ordering::SeqCst) > 100_000 {
                        return Err("never blocked".into());
                    }
                };
                if let Some(tx) = done_tx.lock().unwrap().take() {
                    let _ = tx.send(result);
                }
                Ok(())
            }
        })
    };
    let server = support::serve(app).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();

    // Never read: the app must stall once the socket buffers are full, that
    // is the count stops moving (checked over 200 ms, within the test limit).
    let deadline = std::time::Instant::now() + LIMIT;
    let mut stalled_at = sent.load(Ordering::SeqCst);
    let later = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = sent.load(Ordering::SeqCst);
        if now == stalled_at || std::time::Instant::now() > deadline {
            break now;
        }
        stalled_at = now;
    };
    drop(stream);
    let error = tokio::time::timeout(LIMIT, done_rx)
        .await
        .expect("send fails after disconnect")
        .unwrap();

    // Kernel buffers on loopback hold a few MiB; the server holds at most one chunk more.
    assert!(
        stalled_at * CHUNK < 64 * 1024 * 1024,
        "sent {stalled_at} chunks without a reader"
    );
    assert_eq!(stalled_at, later, "the app kept sending while nobody read");
    assert!(error.is_disconnected(), "{error:?}");
    server.stop().await.unwrap();
}

// ===== limits =====

#[tokio::test]
async fn limit_concurrency_answers_503() {
    let release = Arc::new(Notify::new());
    let started = Arc::new(AtomicUsize::new(0));
    let app = {
        let release = release.clone();
        let started = started.clone();
        app_fn(move |_scope, _receive, send| {
            let release = release.clone();
            started.fetch_add(1, Ordering::SeqCst);
            async move {
                release.notified().await;
                send.send(HttpSend::start(StatusCode::OK, text_headers()))
                    .await?;
                send.send(HttpSend::body("slow")).await?;
                Ok(())
            }
        })
    };
    let mut config = support::config();
    config.limit_concurrency = Some(1);
    let server = support::serve_with(config, app).await;
    let mut busy = TcpStream::connect(server.addr).await.unwrap();
    busy.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + LIMIT;
    while started.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "first request never reached the app"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let reply = roundtrip(server.addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;
    release.notify_one();
    let first = read_to_close(&mut busy).await;

    assert_eq!(parse_responses(&reply)[0].status, 503, "{}", show(&reply));
    assert_eq!(parse_responses(&first)[0].text(), "slow");
    assert_eq!(
        started.load(Ordering::SeqCst),
        1,
        "the app never saw the refused request"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn limit_max_requests_shuts_the_server_down() {
    let mut config = support::config();
    config.limit_max_requests = Some(2);
    let server = support::serve_with(config, hello()).await;

    let reply = roundtrip(
        server.addr,
        b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .await;

    let responses = parse_responses(&reply);
    assert_eq!(responses.len(), 2, "{}", show(&reply));
    assert_eq!(responses[1].header("connection"), Some("close"));
    tokio::time::timeout(LIMIT, server.task)
        .await
        .expect("server stops by itself")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn receive_after_the_response_is_disconnect() {
    let (tx, rx) = oneshot::channel();
    let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
    let app = app_fn(move |_scope, receive, send| {
        let tx = tx.clone();
        async move {
            support::read_body(&receive).await?;
            send.send(HttpSend::start(StatusCode::OK, text_headers()))
                .await?;
            send.send(HttpSend::body("done")).await?;
            let after = receive.receive().await?;
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(after);
            }
            Ok(())
        }
    });
    let server = support::serve(app).await;

    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    assert_eq!(parse_responses(&reply)[0].text(), "done");
    let after = tokio::time::timeout(LIMIT, rx).await.unwrap().unwrap();
    assert_eq!(after, ReceiveEvent::Http(HttpReceive::Disconnect));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn access_log_line_looks_like_uvicorns() {
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
    let mut config = support::config();
    config.access_log = true;
    let server = support::serve_with(config, hello()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let local = stream.local_addr().unwrap();

    stream
        .write_all(b"GET /x?y=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    read_to_close(&mut stream).await;
    server.stop().await.unwrap();

    let logged = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(
        logged.contains(&format!("{local} - \"GET /x?y=1 HTTP/1.1\" 200")),
        "{logged}"
    );
}

#[tokio::test]
async fn websocket_upgrade_gets_a_websocket_scope() {
    let (tx, rx) = oneshot::channel();
    let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
    let app = app_fn(move |scope, receive, send| {
        let tx = tx.clone();
        async move {
            let Scope::WebSocket(scope) = scope else {
                return Err("websocket only".into());
            };
            receive.receive().await?;
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(scope);
            }
            send.send(asgi_core::WebSocketSend::close(1000)).await?;
            Ok(())
        }
    });
    let server = support::serve(app).await;

    let reply = roundtrip(
        server.addr,
        b"GET /chat?room=1 HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Protocol: c\r\n\r\n",
    )
    .await;

    assert!(reply.starts_with(b"HTTP/1.1 403"), "{}", show(&reply));
    let scope = tokio::time::timeout(LIMIT, rx).await.unwrap().unwrap();
    assert_eq!(scope.path(), "/chat");
    assert_eq!(scope.target.query_string, &b"room=1"[..]);
    assert_eq!(scope.scheme, asgi_core::Scheme::Ws);
    assert_eq!(scope.subprotocols, ["a", "b", "c"]);
    assert!(scope.extensions.websocket_http_response);
    assert_eq!(scope.server, Some(asgi_core::ServerAddr::Tcp(server.addr)));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn large_bodies_stream_both_ways() {
    let app = app_fn(|scope, receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Err("http only".into());
        };
        let body = support::read_body(&receive).await?;
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        if scope.path() == "/whole" {
            send.send(HttpSend::body(body)).await?;
        } else {
            for piece in body.chunks(100_000) {
                send.send(HttpSend::chunk(bytes::Bytes::copy_from_slice(piece)))
                    .await?;
            }
            send.send(HttpSend::body("")).await?;
        }
        Ok(())
    });
    let server = support::serve(app).await;
    let client = reqwest::Client::new();
    let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();

    for path in ["/whole", "/streamed"] {
        let res = client
            .post(format!("http://{}{path}", server.addr))
            .body(payload.clone())
            .send()
            .await
            .unwrap();

        assert_eq!(res.status(), 200);
        let chunked = res.headers().get("transfer-encoding").is_some();
        assert_eq!(chunked, path == "/streamed");
        assert!(res.bytes().await.unwrap() == payload, "{path}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn request_body_is_not_read_ahead_of_the_app() {
    const BODY: usize = 64 * 1024 * 1024;
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
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {BODY}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let body = vec![b'x'; BODY];

    // While the app does not read, the client's write stalls on full socket buffers.
    let (mut reader, mut writer) = stream.into_split();
    let write = tokio::spawn(async move {
        writer.write_all(&body).await.unwrap();
        writer
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !write.is_finished(),
        "64 MiB went somewhere without the app reading it"
    );
    release.notify_one();
    let _writer = tokio::time::timeout(LIMIT, write).await.unwrap().unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(LIMIT, reader.read_to_end(&mut reply))
        .await
        .unwrap()
        .unwrap();

    assert_eq!(parse_responses(&reply)[0].text(), BODY.to_string());
    server.stop().await.unwrap();
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn serves_on_an_inherited_descriptor() {
    use std::os::fd::AsRawFd;
    let inherited = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = inherited.local_addr().unwrap();
    let mut config = support::config();
    config.fd = Some(inherited.as_raw_fd());

    let bound = asgi_server::Server::new(config).bind().await.unwrap();
    assert_eq!(bound.local_addr(), Some(addr));
    let handle = bound.handle();
    let task = tokio::spawn(bound.serve(hello()));
    let reply = roundtrip(
        addr,
        b"GET /fd HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    assert_eq!(parse_responses(&reply)[0].text(), "hello /fd");
    handle.shutdown();
    tokio::time::timeout(LIMIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn a_descriptor_that_is_not_a_listener_is_a_bind_error() {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(std::env::current_exe().unwrap()).unwrap();
    let mut config = support::config();
    config.fd = Some(file.as_raw_fd());

    let error = asgi_server::Server::new(config).bind().await.unwrap_err();

    assert!(error.is_bind(), "{error}");
    let mut both = support::config();
    both.fd = Some(0);
    both.uds = Some("/tmp/never.sock".into());
    assert!(
        asgi_server::Server::new(both)
            .bind()
            .await
            .unwrap_err()
            .is_config()
    );
}

/// The app streams its body from a task on another runtime thread while its
/// own future waits on `receive` for a disconnect: both lock the connection
/// state at once, from two threads, for the whole response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_may_send_from_another_thread_while_it_receives() {
    const CHUNKS: usize = 2_000;
    let app = app_fn(|_scope, receive, send| async move {
        send.send(HttpSend::start(StatusCode::OK, text_headers()))
            .await?;
        let sender = tokio::spawn(async move {
            for i in 0..CHUNKS {
                send.send(HttpSend::chunk(format!("{i:05}\n"))).await?;
            }
            send.send(HttpSend::body("")).await
        });
        let disconnect = async {
            loop {
                if let ReceiveEvent::Http(HttpReceive::Disconnect) = receive.receive().await? {
                    return Ok::<_, asgi_core::ReceiveError>(());
                }
            }
        };
        tokio::select! {
            sent = sender => sent??,
            received = disconnect => received?,
        }
        Ok(())
    });
    let server = support::serve(app).await;
    let client = reqwest::Client::new();

    for _ in 0..3 {
        let res = client
            .get(format!("http://{}/", server.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body = res.text().await.unwrap();
        let expected: String = (0..CHUNKS).map(|i| format!("{i:05}\n")).collect();
        assert_eq!(body, expected);
    }
    server.stop().await.unwrap();
}
