//! Response trailers on chunked HTTP/1.1 (`te: trailers`); the HTTP/2 side is in h2.rs.

use crate::h2::trailers_app;
use crate::support::{self, roundtrip};

#[tokio::test]
async fn chunked_http11_response_carries_trailers_with_te_trailers() {
    let server = support::serve(trailers_app()).await;

    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nTE: trailers\r\nConnection: close\r\n\r\n",
    )
    .await;

    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(text.contains("x-trailers: true\r\n"), "{text}");
    assert!(text.contains("transfer-encoding: chunked\r\n"), "{text}");
    assert!(!text.contains("content-length"), "{text}");
    assert!(
        text.ends_with("\r\n\r\n7\r\npayload\r\n0\r\nx-checksum: abc123\r\n\r\n"),
        "{text}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn no_trailers_extension_on_http11_without_te_trailers() {
    let server = support::serve(trailers_app()).await;

    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    let responses = support::parse_responses(&reply);
    assert_eq!(responses.len(), 1, "{}", String::from_utf8_lossy(&reply));
    assert_eq!(responses[0].header("x-trailers"), Some("false"));
    assert_eq!(responses[0].header("content-length"), Some("7"));
    assert_eq!(responses[0].text(), "payload");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn keep_alive_continues_after_a_response_with_trailers() {
    let server = support::serve(trailers_app()).await;

    let reply = roundtrip(
        server.addr,
        b"GET /1 HTTP/1.1\r\nHost: t\r\nTE: trailers\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    let text = String::from_utf8_lossy(&reply);
    assert_eq!(text.matches("HTTP/1.1 200 ").count(), 2, "{text}");
    assert!(
        text.contains("0\r\nx-checksum: abc123\r\n\r\nHTTP/1.1 200 "),
        "{text}"
    );
    server.stop().await.unwrap();
}
