//! WebSocket routes: echo, subprotocols, JSON, close codes, denial, not found.

use asgi_core::{Headers, WebSocketMessage};
use asgi_framework::testing::TestClient;
use asgi_framework::{Application, HttpError, WebSocket, WsError, get, ws};
use http::StatusCode;
use serde_json::{Value, json};

async fn echo(mut socket: WebSocket) -> Result<(), WsError> {
    socket.accept().await?;
    while let Some(message) = socket.recv().await {
        socket.send(message).await?;
    }
    Ok(())
}

#[tokio::test]
async fn websocket_echoes_text_and_bytes() {
    let client = TestClient::new(Application::new().route("/ws", ws(echo)));

    let mut session = client.websocket("/ws").connect().await.expect("accepted");
    session.send_text("hello");
    session.send_bytes(vec![1u8, 2, 3]);

    assert_eq!(session.receive_text().await, "hello");
    assert_eq!(&session.receive_bytes().await[..], &[1, 2, 3]);
    session.close(1000).await;
}

#[tokio::test]
async fn websocket_accepts_a_subprotocol_with_headers_and_sends_json() {
    async fn chat(mut socket: WebSocket) -> Result<(), WsError> {
        let chosen = socket
            .subprotocols()
            .iter()
            .find(|p| *p == "chat.v2")
            .cloned();
        let headers = Headers::new().with(
            http::header::HeaderName::from_static("x-room"),
            http::HeaderValue::from_static("lobby"),
        );
        socket.accept_with(chosen.as_deref(), headers).await?;
        let value: Value = socket.receive_json().await?;
        socket.send_json(&json!({"got": value})).await?;
        socket.close(4000, "bye").await
    }
    let client = TestClient::new(Application::new().route("/chat", ws(chat)));

    let mut session = client
        .websocket("/chat")
        .subprotocol("chat.v1")
        .subprotocol("chat.v2")
        .connect()
        .await
        .expect("accepted");
    session.send_json(&json!({"n": 1}));
    let reply: Value = session.receive_json().await;
    let closed = session.receive().await.unwrap_err();

    assert_eq!(session.subprotocol(), Some("chat.v2"));
    assert_eq!(session.accept_headers().get("x-room").unwrap(), "lobby");
    assert_eq!(reply, json!({"got": {"n": 1}}));
    assert_eq!((closed.code, closed.reason.as_str()), (4000, "bye"));
}

#[tokio::test]
async fn websocket_handler_sees_the_client_disconnect() {
    let (tx, rx) = std::sync::mpsc::channel();
    let app = Application::new().route(
        "/ws",
        ws(move |mut socket: WebSocket| {
            let tx = tx.clone();
            async move {
                socket.accept().await?;
                let error = socket.receive().await.unwrap_err();
                let _ = tx.send(error.to_string());
                Ok::<(), WsError>(())
            }
        }),
    );
    let client = TestClient::new(app);

    let session = client.websocket("/ws").connect().await.expect("accepted");
    session.close(1001).await;

    assert_eq!(rx.recv().unwrap(), "websocket disconnected with code 1001");
}

#[tokio::test]
async fn closing_before_accept_denies_with_403() {
    async fn refuse(mut socket: WebSocket) -> Result<(), WsError> {
        socket.close(1000, "").await
    }
    let client = TestClient::new(Application::new().route("/ws", ws(refuse)));

    let denied = client.websocket("/ws").connect().await.unwrap_err();

    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn websocket_can_be_denied_with_an_http_response() {
    async fn auth(mut socket: WebSocket) -> Result<(), WsError> {
        socket.deny(HttpError::new(StatusCode::UNAUTHORIZED)).await
    }
    let client = TestClient::new(Application::new().route("/ws", ws(auth)));

    let denied = client.websocket("/ws").connect().await.unwrap_err();

    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    assert_eq!(&denied.body[..], br#"{"detail":"Unauthorized"}"#);
}

#[tokio::test]
async fn unknown_websocket_path_is_denied_and_http_route_is_not_a_websocket() {
    let app = Application::new().route("/page", get(|| async { "page" }));
    let client = TestClient::new(app);

    let unknown = client.websocket("/nope").connect().await.unwrap_err();
    let http_only = client.websocket("/page").connect().await.unwrap_err();

    assert_eq!(unknown.status, StatusCode::FORBIDDEN);
    assert_eq!(http_only.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn handler_returning_without_close_closes_with_1000_and_error_with_1011() {
    async fn quiet(mut socket: WebSocket) -> Result<(), WsError> {
        socket.accept().await?;
        socket.send_text("one").await
    }
    async fn failing(mut socket: WebSocket) -> Result<(), std::io::Error> {
        socket.accept().await.map_err(std::io::Error::other)?;
        Err(std::io::Error::other("boom"))
    }
    let app = Application::new()
        .route("/quiet", ws(quiet))
        .route("/failing", ws(failing));
    let client = TestClient::new(app);

    let mut q = client
        .websocket("/quiet")
        .connect()
        .await
        .expect("accepted");
    let mut f = client
        .websocket("/failing")
        .connect()
        .await
        .expect("accepted");

    assert_eq!(q.receive().await, Ok(WebSocketMessage::Text("one".into())));
    assert_eq!(q.receive().await.unwrap_err().code, 1000);
    assert_eq!(f.receive().await.unwrap_err().code, 1011);
}

#[tokio::test]
async fn http_and_websocket_share_a_path() {
    let app = Application::new().route("/live", get(|| async { "page" }).ws(echo));
    let client = TestClient::new(app);

    let page = client.get("/live").send().await;
    let mut session = client.websocket("/live").connect().await.expect("accepted");
    session.send_text("x");

    assert_eq!(page.text(), "page");
    assert_eq!(session.receive_text().await, "x");
}

#[tokio::test]
async fn websocket_reads_typed_path_and_query_parameters() {
    #[derive(serde::Deserialize)]
    struct Room {
        id: u32,
    }
    #[derive(serde::Deserialize)]
    struct Nick {
        nick: String,
    }
    async fn room(mut socket: WebSocket) -> Result<(), WsError> {
        let (Ok(room), Ok(nick)) = (socket.path_as::<Room>(), socket.query_as::<Nick>()) else {
            return socket.deny(StatusCode::BAD_REQUEST).await;
        };
        socket.accept().await?;
        socket
            .send_text(format!("{} in {}", nick.nick, room.id))
            .await
    }
    let client = TestClient::new(Application::new().route("/rooms/{id}", ws(room)));

    let mut ok = client
        .websocket("/rooms/7?nick=ann")
        .connect()
        .await
        .expect("accepted");
    let bad = client
        .websocket("/rooms/x?nick=ann")
        .connect()
        .await
        .unwrap_err();

    assert_eq!(ok.receive_text().await, "ann in 7");
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
