//! WebSocket connections (RFC 6455) under the ASGI websocket spec.
//!
//! # Layout
//!
//! - [`handshake`]: validates the upgrade request and writes the handshake
//!   responses (101, 400, 403, 426, 500, 503 and the app's denial response).
//! - [`shared`]: the state the connection shares with its app, behind the
//!   app's `Receiver` and `Sender`: the receive queue, the send queue and
//!   their wakers. No channel or task per message.
//! - [`app_task`]: drives the app's future inside the connection task and
//!   catches its panics.
//! - [`conn`]: one connection from the held handshake to the end of the app.
//! - [`open`]: the accepted connection: frames both ways (by
//!   `tokio-tungstenite`), pings, close handshake, limits and shutdown.
//!
//! The app runs inside the connection's own task: a received message is
//! handed to it, and its `send` is written and flushed, in the same poll,
//! without waking another task.
//!
//! # Not supported
//!
//! permessage-deflate (RFC 7692): `tungstenite` 0.30 has no compression
//! support, so the extension is never negotiated, whatever
//! [`WebSocketConfig::per_message_deflate`] says; clients fall back to
//! uncompressed frames.

mod app_task;
mod conn;
mod handshake;
mod open;
mod shared;

use std::sync::Arc;
use std::time::Duration;

use asgi_core::http::StatusCode;
use asgi_core::{Receiver, Scope, Sender, WebSocketScope};
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};

use self::app_task::AppTask;
use self::conn::Connection;
use self::shared::Shared;
use crate::protocol::{ServiceContext, call_app};
use crate::shutdown::Shutdown;

/// WebSocket settings (`--ws-*` options).
#[derive(Debug, Clone)]
pub struct WebSocketConfig {
    /// `--ws-max-size`: the largest message accepted, in bytes (default 16 MiB).
    ///
    /// A larger message (or frame) closes the connection with 1009.
    pub max_size: usize,
    /// `--ws-max-queue`: how many received messages may wait for the app (default 32).
    ///
    /// When the queue is full the server stops reading the socket until the
    /// app receives, so TCP flow control slows the client down. 0 counts as 1.
    pub max_queue: usize,
    /// `--ws-ping-interval`: how often the server pings (default 20 s; `None`
    /// or zero disables).
    pub ping_interval: Option<Duration>,
    /// `--ws-ping-timeout`: how long to wait for a pong (default 20 s; `None`
    /// waits forever). Without a pong in time the server closes with 1011.
    pub ping_timeout: Option<Duration>,
    /// `--ws-per-message-deflate`: whether to negotiate permessage-deflate.
    ///
    /// Accepted but not negotiated: `tungstenite` 0.30 cannot compress
    /// frames, so connections are always uncompressed.
    pub per_message_deflate: bool,
    /// How long to wait for the peer's close frame after the server sent one
    /// (then the connection counts as dropped: 1006), and, after a protocol
    /// failure, for the peer to close its side (default 10 s, as the Python
    /// `websockets` library that Uvicorn uses). No CLI flag maps to it.
    pub close_timeout: Duration,
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        Self {
            max_size: 16 * 1024 * 1024,
            max_queue: 32,
            ping_interval: Some(Duration::from_secs(20)),
            ping_timeout: Some(Duration::from_secs(20)),
            per_message_deflate: false,
            close_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves one WebSocket connection whose upgrade request has been read.
///
/// `io` is the connection, positioned just after the request head;
/// `buffered` holds any bytes already read past the head. The handshake
/// response (101, 400, 403, 426, 500, 503 or the app's denial response) is
/// written here, and the connection is closed when this returns. It returns
/// once the app has returned and the socket is closed.
pub(crate) async fn serve<I>(
    mut io: I,
    buffered: BytesMut,
    scope: WebSocketScope,
    service: Arc<ServiceContext>,
    shutdown: Shutdown,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = service.websocket.clone();
    let access = AccessLog::new(&scope, &service);
    let key = match handshake::validate(&scope.headers) {
        Ok(key) => key,
        Err(rejection) => {
            tracing::debug!(?rejection, "invalid WebSocket upgrade request");
            if let Some(access) = &access {
                access.log(rejection.status());
            }
            handshake::reject(
                &mut io,
                rejection,
                !buffered.is_empty(),
                config.close_timeout,
                server_fields(&service),
            )
            .await;
            return;
        }
    };
    if config.per_message_deflate
        && scope
            .headers
            .get_all("sec-websocket-extensions")
            .any(|value| {
                value
                    .as_bytes()
                    .windows(18)
                    .any(|w| w == b"permessage-deflate")
            })
    {
        tracing::debug!(
            "permessage-deflate offered but not negotiated: tungstenite cannot compress"
        );
    }
    let shared = Arc::new(Shared::new(&scope.extensions, config.max_queue));
    let receiver = Receiver::new(shared.clone());
    let sender = Sender::new(shared.clone());
    let future = call_app(&service.app, Scope::WebSocket(scope), receiver, sender);
    let connection = Connection::new(
        shared,
        AppTask::new(future),
        service.clone(),
        access,
        shutdown,
    );
    connection.run(io, buffered, key).await;
}

/// The server's fields for handshake responses, from the settings.
fn server_fields(service: &ServiceContext) -> handshake::ServerFields<'_> {
    handshake::ServerFields {
        date: service.config.date_header,
        server: &service.server_header,
        defaults: &service.default_headers,
    }
}

/// The access-log line of one WebSocket connection, as Uvicorn words it:
/// `127.0.0.1:5555 - "WebSocket /ws" [accepted]`, or the status of the
/// response that refused the handshake (`403`, a denial's status, ...).
#[derive(Debug)]
struct AccessLog {
    /// `CLIENT - "WebSocket PATH?QUERY"`, formatted once.
    request: String,
}

impl AccessLog {
    /// `None` when access logging is off (`--no-access-log` or the log level).
    fn new(scope: &WebSocketScope, service: &ServiceContext) -> Option<Self> {
        if !(service.config.access_log
            && tracing::enabled!(target: "asgi_server::access", tracing::Level::INFO))
        {
            return None;
        }
        // The client as the app saw it (after proxy headers), as the HTTP line.
        let client = scope
            .client
            .map_or_else(|| String::from("-"), |addr| addr.to_string());
        let mut path = format!(
            "{}{}",
            scope.root_path,
            String::from_utf8_lossy(&scope.target.raw_path)
        );
        if !scope.target.query_string.is_empty() {
            path.push('?');
            path.push_str(&String::from_utf8_lossy(&scope.target.query_string));
        }
        Some(Self {
            request: format!("{client} - \"WebSocket {path}\""),
        })
    }

    /// Logs the handshake's outcome: 101 as `[accepted]`, anything else by its code.
    fn log(&self, status: StatusCode) {
        if status == StatusCode::SWITCHING_PROTOCOLS {
            tracing::info!(target: "asgi_server::access", "{} [accepted]", self.request);
        } else {
            tracing::info!(target: "asgi_server::access", "{} {}", self.request, status.as_u16());
        }
    }
}
