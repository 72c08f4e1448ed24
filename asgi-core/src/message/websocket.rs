//! `websocket.*` messages.

use bytes::Bytes;
use http::StatusCode;

use crate::headers::Headers;

/// One WebSocket data message, reassembled from its frames.
///
/// ASGI carries it as a dict with exactly one of `text` or `bytes` set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebSocketMessage {
    /// `text`: a text message (valid UTF-8 by construction).
    Text(String),
    /// `bytes`: a binary message.
    Binary(Bytes),
}

impl WebSocketMessage {
    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        match self {
            WebSocketMessage::Text(t) => t.len(),
            WebSocketMessage::Binary(b) => b.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<String> for WebSocketMessage {
    fn from(text: String) -> Self {
        WebSocketMessage::Text(text)
    }
}

impl From<&str> for WebSocketMessage {
    fn from(text: &str) -> Self {
        WebSocketMessage::Text(text.to_owned())
    }
}

impl From<Bytes> for WebSocketMessage {
    fn from(bytes: Bytes) -> Self {
        WebSocketMessage::Binary(bytes)
    }
}

impl From<Vec<u8>> for WebSocketMessage {
    fn from(bytes: Vec<u8>) -> Self {
        WebSocketMessage::Binary(bytes.into())
    }
}

/// Close code 1000: normal closure.
pub const CLOSE_NORMAL: u16 = 1000;
/// Close code 1001: going away (server shutdown, page left).
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code 1005: no status received (reported when the peer sent none).
pub const CLOSE_NO_STATUS: u16 = 1005;
/// Close code 1006: abnormal closure (the connection dropped without a close frame).
pub const CLOSE_ABNORMAL: u16 = 1006;

/// A message a WebSocket app receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebSocketReceive {
    /// `websocket.connect`: a client asks to connect. Answer with accept or close.
    Connect,
    /// `websocket.receive`: a data message.
    Receive(WebSocketMessage),
    /// `websocket.disconnect`: the connection is closed.
    Disconnect {
        /// `code`: the peer's close code, 1005 if it sent none, 1006 if the connection dropped.
        code: u16,
        /// `reason`: the peer's close reason.
        reason: String,
    },
}

impl WebSocketReceive {
    /// The ASGI `type` string.
    pub fn kind(&self) -> &'static str {
        match self {
            WebSocketReceive::Connect => "websocket.connect",
            WebSocketReceive::Receive(_) => "websocket.receive",
            WebSocketReceive::Disconnect { .. } => "websocket.disconnect",
        }
    }
}

/// A message a WebSocket app sends.
#[derive(Debug, Clone)]
pub enum WebSocketSend {
    /// `websocket.accept`: complete the handshake.
    Accept {
        /// `subprotocol`: one of the scope's `subprotocols`, or none.
        subprotocol: Option<String>,
        /// `headers`: extra handshake response headers; must not contain `sec-websocket-protocol`.
        headers: Headers,
    },
    /// `websocket.send`: a data message.
    Send(WebSocketMessage),
    /// `websocket.close`: close the connection; before accept it denies the handshake (403).
    Close {
        /// `code`: the close code (1000 by default).
        code: u16,
        /// `reason`: at most 123 bytes, so that it fits a close frame.
        reason: String,
    },
    /// `websocket.http.response.start` (extension): deny with an HTTP response.
    HttpResponseStart {
        /// `status`.
        status: StatusCode,
        /// `headers`.
        headers: Headers,
    },
    /// `websocket.http.response.body` (extension): the denial response's body.
    HttpResponseBody {
        /// `body`.
        body: Bytes,
        /// `more_body`.
        more_body: bool,
    },
}

impl WebSocketSend {
    /// The ASGI `type` string.
    pub fn kind(&self) -> &'static str {
        match self {
            WebSocketSend::Accept { .. } => "websocket.accept",
            WebSocketSend::Send(_) => "websocket.send",
            WebSocketSend::Close { .. } => "websocket.close",
            WebSocketSend::HttpResponseStart { .. } => "websocket.http.response.start",
            WebSocketSend::HttpResponseBody { .. } => "websocket.http.response.body",
        }
    }

    /// `websocket.accept` with no subprotocol and no extra headers.
    pub fn accept() -> Self {
        WebSocketSend::Accept {
            subprotocol: None,
            headers: Headers::new(),
        }
    }

    /// `websocket.send` of `message`.
    pub fn message(message: impl Into<WebSocketMessage>) -> Self {
        WebSocketSend::Send(message.into())
    }

    /// `websocket.close` with `code` and no reason.
    pub fn close(code: u16) -> Self {
        WebSocketSend::Close {
            code,
            reason: String::new(),
        }
    }
}
