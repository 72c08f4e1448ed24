//! WebSocket connections (RFC 6455) under the ASGI websocket spec.
//!
//! PLACEHOLDER owned by the WebSocket work: until it lands, upgrade requests
//! are answered `501 Not Implemented`. The signature of [`serve`] is the
//! contract between the HTTP/1.1 connection and this module.

use std::sync::Arc;
use std::time::Duration;

use asgi_core::{SharedApp, WebSocketScope};
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::shutdown::Shutdown;

/// WebSocket settings (`--ws-*` options).
#[derive(Debug, Clone)]
pub struct WebSocketConfig {
    /// `--ws-max-size`: the largest message accepted, in bytes (default 16 MiB).
    pub max_size: usize,
    /// `--ws-max-queue`: how many received messages may wait for the app (default 32).
    pub max_queue: usize,
    /// `--ws-ping-interval`: how often the server pings (default 20 s; `None` disables).
    pub ping_interval: Option<Duration>,
    /// `--ws-ping-timeout`: how long to wait for a pong (default 20 s).
    pub ping_timeout: Option<Duration>,
    /// `--ws-per-message-deflate`: whether to negotiate permessage-deflate.
    pub per_message_deflate: bool,
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        Self {
            max_size: 16 * 1024 * 1024,
            max_queue: 32,
            ping_interval: Some(Duration::from_secs(20)),
            ping_timeout: Some(Duration::from_secs(20)),
            per_message_deflate: false,
        }
    }
}

/// Serves one WebSocket connection whose upgrade request has been read.
///
/// `io` is the connection, positioned just after the request head;
/// `buffered` holds any bytes already read past the head. The handshake
/// response (101, 403, 426 or the app's denial response) is written here.
pub(crate) async fn serve<I>(
    mut io: I,
    _buffered: BytesMut,
    _scope: WebSocketScope,
    _app: SharedApp,
    _config: Arc<WebSocketConfig>,
    _shutdown: Shutdown,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let _ = io
        .write_all(b"HTTP/1.1 501 Not Implemented\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await;
}
