//! Protocol implementations: HTTP/1.1, WebSocket (and HTTP/2 later).

pub(crate) mod websocket;
