//! HTTP/1.1 behaviour over real sockets.

use crate::support::{self, echo, hello, parse_responses, roundtrip};

#[tokio::test]
async fn get_returns_the_app_response() {
    let server = support::serve(hello()).await;

    let reply = roundtrip(
        server.addr,
        b"GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    let responses = parse_responses(&reply);
    assert_eq!(responses.len(), 1, "{}", String::from_utf8_lossy(&reply));
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[0].header("content-length"), Some("8"));
    assert_eq!(responses[0].header("connection"), Some("close"));
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
