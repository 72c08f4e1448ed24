//! A WebSocket broadcast chat, and its page served as a static file.
//!
//! - `GET /`: `static/chat/index.html`, served by `StaticFiles` in HTML mode.
//! - `WebSocket /ws?name=NAME`: joins the room. Every text message a client
//!   sends goes to everyone connected (the sender included) as JSON:
//!   `{"type":"message","name":"alice","text":"hi"}`; joins and leaves are
//!   announced as `{"type":"join"|"leave","name":..}`.
//!
//! A name must be 1 to 32 characters: otherwise the handshake is denied with
//! the 422 validation response. An empty, too long (over 2,000 characters)
//! or binary message is answered, to its sender only, with
//! `{"type":"error","detail":..}`; the connection stays open.

use std::path::PathBuf;

use asgi_framework::asgi_core::WebSocketMessage;
use asgi_framework::extract::ErrorDetail;
use asgi_framework::{Application, StaticFiles, ValidationError, WebSocket, WsError, ws};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast;

/// The longest name accepted.
pub const MAX_NAME: usize = 32;
/// The longest message accepted.
pub const MAX_MESSAGE: usize = 2_000;
/// Messages a slow client may fall behind before it skips some.
const BACKLOG: usize = 256;

/// What the room broadcasts, as JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ChatEvent {
    /// Someone joined.
    Join {
        /// Who.
        name: String,
    },
    /// Someone said something.
    Message {
        /// Who.
        name: String,
        /// What.
        text: String,
    },
    /// Someone left.
    Leave {
        /// Who.
        name: String,
    },
}

/// The room: a broadcast channel every connection subscribes to.
#[derive(Debug)]
struct Room {
    events: broadcast::Sender<ChatEvent>,
}

/// The page's folder: `static/chat/` of this crate, found at build time.
pub fn default_page_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("static")
        .join("chat")
}

/// The chat app, serving its page from `page_dir`.
pub fn app(page_dir: impl Into<PathBuf>) -> Application {
    let (events, _) = broadcast::channel(BACKLOG);
    Application::new()
        .state(Room { events })
        .route("/ws", ws(chat))
        .mount("/", StaticFiles::new(page_dir).html(true))
}

/// The query of `/ws`.
#[derive(Debug, Deserialize)]
struct Join {
    name: String,
}

/// The trimmed name, or the 422 that says why not.
fn valid_name(name: &str) -> Result<String, ValidationError> {
    let name = name.trim();
    let length = name.chars().count();
    if (1..=MAX_NAME).contains(&length) {
        return Ok(name.to_owned());
    }
    let (kind, msg, ctx) = if length == 0 {
        (
            "string_too_short",
            "String should have at least 1 character".to_owned(),
            json!({ "min_length": 1 }),
        )
    } else {
        (
            "string_too_long",
            format!("String should have at most {MAX_NAME} characters"),
            json!({ "max_length": MAX_NAME }),
        )
    };
    let mut detail = ErrorDetail::new(kind, vec!["query".into(), "name".into()], msg, json!(name));
    detail.ctx = Some(ctx);
    Err(detail.into())
}

/// Why a message from a client is not broadcast.
fn refuse(message: &WebSocketMessage) -> Option<String> {
    match message {
        WebSocketMessage::Binary(_) => Some("only text messages are supported".to_owned()),
        WebSocketMessage::Text(text) if text.trim().is_empty() => {
            Some("an empty message is not sent".to_owned())
        }
        WebSocketMessage::Text(text) if text.chars().count() > MAX_MESSAGE => {
            Some(format!("a message has at most {MAX_MESSAGE} characters"))
        }
        WebSocketMessage::Text(_) => None,
    }
}

async fn chat(mut socket: WebSocket) -> Result<(), WsError> {
    let name = match socket
        .query_as::<Join>()
        .and_then(|join| valid_name(&join.name))
    {
        Ok(name) => name,
        Err(error) => return socket.deny(error).await,
    };
    let Some(room) = socket.app_state::<Room>() else {
        return Err(WsError::Misuse(
            "the chat room is missing from the app state",
        ));
    };
    let mut events = room.events.subscribe();
    socket.accept().await?;
    let _ = room.events.send(ChatEvent::Join { name: name.clone() });

    let outcome = relay(&mut socket, &room, &mut events, &name).await;
    let _ = room.events.send(ChatEvent::Leave { name });
    match outcome {
        Err(error) if error.is_disconnect() => Ok(()),
        other => other,
    }
}

/// Forwards the client's messages to the room and the room's to the client,
/// until the client leaves.
async fn relay(
    socket: &mut WebSocket,
    room: &Room,
    events: &mut broadcast::Receiver<ChatEvent>,
    name: &str,
) -> Result<(), WsError> {
    loop {
        tokio::select! {
            message = socket.receive() => {
                let message = message?;
                if let Some(detail) = refuse(&message) {
                    socket.send_json(&json!({ "type": "error", "detail": detail })).await?;
                } else if let WebSocketMessage::Text(text) = message {
                    let _ = room.events.send(ChatEvent::Message { name: name.to_owned(), text });
                }
            }
            event = events.recv() => match event {
                Ok(event) => socket.send_json(&event).await?,
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    let detail = format!("you fell behind; {skipped} messages were skipped");
                    socket.send_json(&json!({ "type": "error", "detail": detail })).await?;
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use asgi_framework::testing::TestClient;

    use super::*;

    fn client() -> TestClient {
        TestClient::new(app(default_page_dir()))
    }

    #[tokio::test]
    async fn page_is_served_as_a_static_file() {
        let client = client();

        let root = client.get("/").send().await;
        let file = client.get("/index.html").send().await;

        assert_eq!(root.status(), 200);
        assert_eq!(
            root.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(root.text().contains(r#"<ul id="messages">"#));
        assert!(root.header("etag").is_some());
        assert_eq!(file.text(), root.text());
        assert_eq!(client.get("/nope.js").send().await.status(), 404);
    }

    /// The `TestClient` runs each connection's handler only while that
    /// session is awaited, so each session reads in the order events happen.
    #[tokio::test]
    async fn messages_reach_everyone_in_the_room() {
        let client = client();
        let mut alice = client.websocket("/ws?name=alice").connect().await.unwrap();
        let joined: ChatEvent = alice.receive_json().await;
        let mut bob = client
            .websocket("/ws?name=%20bob%20")
            .connect()
            .await
            .unwrap();
        let bob_joined_for_bob: ChatEvent = bob.receive_json().await;
        let bob_joined_for_alice: ChatEvent = alice.receive_json().await;

        alice.send_text("hello bob");
        let for_alice: ChatEvent = alice.receive_json().await;
        let for_bob: ChatEvent = bob.receive_json().await;
        bob.close(1000).await;
        let left: ChatEvent = alice.receive_json().await;
        alice.close(1000).await;

        let bob_name = || "bob".to_owned();
        assert_eq!(
            joined,
            ChatEvent::Join {
                name: "alice".to_owned()
            }
        );
        assert_eq!(bob_joined_for_alice, ChatEvent::Join { name: bob_name() });
        assert_eq!(bob_joined_for_bob, ChatEvent::Join { name: bob_name() });
        let said = ChatEvent::Message {
            name: "alice".to_owned(),
            text: "hello bob".to_owned(),
        };
        assert_eq!(for_bob, said);
        assert_eq!(for_alice, said);
        assert_eq!(left, ChatEvent::Leave { name: bob_name() });
    }

    #[tokio::test]
    async fn bad_messages_get_an_error_and_the_connection_stays() {
        let client = client();
        let mut carol = client.websocket("/ws?name=carol").connect().await.unwrap();
        let _joined: ChatEvent = carol.receive_json().await;

        carol.send_text("   ");
        let empty: serde_json::Value = carol.receive_json().await;
        carol.send_text(&"x".repeat(MAX_MESSAGE + 1));
        let long: serde_json::Value = carol.receive_json().await;
        carol.send_bytes(vec![1u8, 2]);
        let binary: serde_json::Value = carol.receive_json().await;
        carol.send_text("still here");
        let fine: ChatEvent = carol.receive_json().await;
        carol.close(1000).await;

        for error in [&empty, &long, &binary] {
            assert_eq!(error["type"], "error", "{error}");
        }
        assert_eq!(
            fine,
            ChatEvent::Message {
                name: "carol".to_owned(),
                text: "still here".to_owned()
            }
        );
    }

    #[tokio::test]
    async fn a_bad_name_is_denied_with_422() {
        let client = client();

        for path in [
            "/ws",
            "/ws?name=",
            "/ws?name=%20%20",
            &format!("/ws?name={}", "n".repeat(33)),
        ] {
            let denied = client.websocket(path).connect().await.unwrap_err();

            assert_eq!(denied.status, 422, "{path}");
            let body: serde_json::Value = serde_json::from_slice(&denied.body).unwrap();
            assert_eq!(body["detail"][0]["loc"], json!(["query", "name"]), "{path}");
        }
    }
}
