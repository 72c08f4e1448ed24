//! The messages that travel between server and app, one enum per protocol and direction.
//!
//! Each enum variant is named after its ASGI `type` string, and `kind()`
//! returns that exact string: `HttpSend::ResponseStart` is
//! `"http.response.start"`. [`ReceiveEvent`] and [`SendEvent`] join the
//! protocols for the [`Receiver`](crate::Receiver) and [`Sender`](crate::Sender).

mod http;
mod lifespan;
mod websocket;

pub use self::http::{HttpReceive, HttpSend};
pub use self::lifespan::{LifespanReceive, LifespanSend};
pub use self::websocket::{
    CLOSE_ABNORMAL, CLOSE_GOING_AWAY, CLOSE_NO_STATUS, CLOSE_NORMAL, WebSocketMessage,
    WebSocketReceive, WebSocketSend,
};

/// Any message an app receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiveEvent {
    /// An `http.*` message.
    Http(HttpReceive),
    /// A `websocket.*` message.
    WebSocket(WebSocketReceive),
    /// A `lifespan.*` message.
    Lifespan(LifespanReceive),
}

impl ReceiveEvent {
    /// The ASGI `type` string.
    pub fn kind(&self) -> &'static str {
        match self {
            ReceiveEvent::Http(m) => m.kind(),
            ReceiveEvent::WebSocket(m) => m.kind(),
            ReceiveEvent::Lifespan(m) => m.kind(),
        }
    }
}

/// Any message an app sends.
#[derive(Debug, Clone)]
pub enum SendEvent {
    /// An `http.*` message.
    Http(HttpSend),
    /// A `websocket.*` message.
    WebSocket(WebSocketSend),
    /// A `lifespan.*` message.
    Lifespan(LifespanSend),
}

impl SendEvent {
    /// The ASGI `type` string.
    pub fn kind(&self) -> &'static str {
        match self {
            SendEvent::Http(m) => m.kind(),
            SendEvent::WebSocket(m) => m.kind(),
            SendEvent::Lifespan(m) => m.kind(),
        }
    }
}

macro_rules! impl_from {
    ($outer:ident { $($variant:ident($inner:ty)),* }) => {
        $(impl From<$inner> for $outer {
            fn from(message: $inner) -> Self {
                $outer::$variant(message)
            }
        })*
    };
}

impl_from!(ReceiveEvent { Http(HttpReceive), WebSocket(WebSocketReceive), Lifespan(LifespanReceive) });
impl_from!(SendEvent { Http(HttpSend), WebSocket(WebSocketSend), Lifespan(LifespanSend) });

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Headers;
    use ::http::StatusCode;
    use bytes::Bytes;

    #[test]
    fn every_message_names_its_asgi_type() {
        let receive: Vec<(ReceiveEvent, &str)> = vec![
            (HttpReceive::request("x").into(), "http.request"),
            (HttpReceive::Disconnect.into(), "http.disconnect"),
            (WebSocketReceive::Connect.into(), "websocket.connect"),
            (
                WebSocketReceive::Receive("t".into()).into(),
                "websocket.receive",
            ),
            (
                WebSocketReceive::Disconnect {
                    code: 1000,
                    reason: String::new(),
                }
                .into(),
                "websocket.disconnect",
            ),
            (LifespanReceive::Startup.into(), "lifespan.startup"),
            (LifespanReceive::Shutdown.into(), "lifespan.shutdown"),
        ];
        let send: Vec<(SendEvent, &str)> = vec![
            (
                HttpSend::start(StatusCode::OK, Headers::new()).into(),
                "http.response.start",
            ),
            (HttpSend::body("x").into(), "http.response.body"),
            (
                HttpSend::ResponseTrailers {
                    headers: Headers::new(),
                    more_trailers: false,
                }
                .into(),
                "http.response.trailers",
            ),
            (
                HttpSend::ResponsePathsend { path: "/x".into() }.into(),
                "http.response.pathsend",
            ),
            (
                HttpSend::ResponseEarlyHint {
                    links: vec![Bytes::from_static(b"</a>")],
                }
                .into(),
                "http.response.early_hint",
            ),
            (WebSocketSend::accept().into(), "websocket.accept"),
            (WebSocketSend::message("hi").into(), "websocket.send"),
            (WebSocketSend::close(1000).into(), "websocket.close"),
            (
                WebSocketSend::HttpResponseStart {
                    status: StatusCode::FORBIDDEN,
                    headers: Headers::new(),
                }
                .into(),
                "websocket.http.response.start",
            ),
            (
                WebSocketSend::HttpResponseBody {
                    body: Bytes::new(),
                    more_body: false,
                }
                .into(),
                "websocket.http.response.body",
            ),
            (
                LifespanSend::StartupComplete.into(),
                "lifespan.startup.complete",
            ),
            (
                LifespanSend::StartupFailed {
                    message: "x".into(),
                }
                .into(),
                "lifespan.startup.failed",
            ),
            (
                LifespanSend::ShutdownComplete.into(),
                "lifespan.shutdown.complete",
            ),
            (
                LifespanSend::ShutdownFailed {
                    message: "x".into(),
                }
                .into(),
                "lifespan.shutdown.failed",
            ),
        ];

        for (event, kind) in receive {
            assert_eq!(event.kind(), kind);
        }
        for (event, kind) in send {
            assert_eq!(event.kind(), kind);
        }
    }

    #[test]
    fn body_helpers_set_more_body() {
        assert!(matches!(
            HttpSend::body("a"),
            HttpSend::ResponseBody {
                more_body: false,
                ..
            }
        ));
        assert!(matches!(
            HttpSend::chunk("a"),
            HttpSend::ResponseBody {
                more_body: true,
                ..
            }
        ));
    }

    #[test]
    fn websocket_message_conversions() {
        assert_eq!(
            WebSocketMessage::from("hi"),
            WebSocketMessage::Text("hi".into())
        );
        assert_eq!(WebSocketMessage::from(vec![1u8, 2]).len(), 2);
        assert!(WebSocketMessage::Binary(Bytes::new()).is_empty());
    }
}
