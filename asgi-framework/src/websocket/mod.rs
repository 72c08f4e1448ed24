//! WebSocket routes: the [`WebSocket`] handle given to `ws(handler)` routes.

mod error;
mod handler;

pub use self::error::WsError;
pub(crate) use self::handler::BoxedWsHandler;
pub use self::handler::{WsHandler, WsOutcome};

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use asgi_core::{
    Headers, ReceiveEvent, Receiver, Sender, WebSocketMessage, WebSocketReceive, WebSocketScope,
    WebSocketSend,
};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::AppContext;
use crate::extract::{Cookies, ValidationError, query_pairs};
use crate::request::OwnedParams;
use crate::response::IntoResponse;

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `websocket.connect` not received yet.
    Connecting,
    /// Connect received, not yet accepted.
    Handshake,
    /// Accepted.
    Connected,
    /// Closed by either side.
    Closed,
}

/// One WebSocket connection, given to a `ws(handler)` route's handler.
///
/// Accept it (optionally with a subprotocol and headers) or deny it, then
/// exchange messages until either side closes. Once the client disconnects,
/// receives give [`WsError::Disconnected`] with its close code; sends fail.
/// If the handler returns without closing, the connection is closed with
/// 1000 (or denied with 403 if it was never accepted); if it returns an
/// error, with 1011.
///
/// # Example
///
/// ```
/// use asgi_framework::{Router, WebSocket, WsError, ws};
///
/// async fn echo(mut socket: WebSocket) -> Result<(), WsError> {
///     socket.accept().await?;
///     while let Some(message) = socket.recv().await {
///         socket.send(message).await?;
///     }
///     Ok(())
/// }
///
/// let router = Router::new().route("/ws", ws(echo));
/// ```
pub struct WebSocket {
    scope: WebSocketScope,
    receive: Receiver,
    send: Sender,
    path_params: OwnedParams,
    context: AppContext,
    phase: Phase,
    /// Where the phase is reported when the handler drops the socket.
    report: Option<Arc<Mutex<Phase>>>,
}

impl WebSocket {
    pub(crate) fn new(
        scope: WebSocketScope,
        receive: Receiver,
        send: Sender,
        path_params: OwnedParams,
    ) -> Self {
        let context = scope
            .extensions
            .other
            .get::<AppContext>()
            .cloned()
            .unwrap_or_default();
        Self {
            scope,
            receive,
            send,
            path_params,
            context,
            phase: Phase::Connecting,
            report: None,
        }
    }

    /// The WebSocket scope.
    pub fn scope(&self) -> &WebSocketScope {
        &self.scope
    }

    /// The full percent-decoded path.
    pub fn path(&self) -> &str {
        &self.scope.target.path
    }

    /// The value of path parameter `name`.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path parameters deserialized into `T` (as the [`Path`](crate::Path) extractor does).
    ///
    /// # Errors
    ///
    /// The 422-style [`ValidationError`] when a value does not fit.
    pub fn path_as<T: DeserializeOwned>(&self) -> Result<T, ValidationError> {
        crate::extract::params::from_pairs(&self.path_params, "path").map_err(Into::into)
    }

    /// The query parameters deserialized into `T` (as the [`Query`](crate::Query) extractor does).
    ///
    /// # Errors
    ///
    /// The 422-style [`ValidationError`] when a value does not fit.
    pub fn query_as<T: DeserializeOwned>(&self) -> Result<T, ValidationError> {
        crate::extract::params::from_pairs(&self.query_pairs(), "query").map_err(Into::into)
    }

    /// The decoded query pairs.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        query_pairs(&self.scope.target.query_string)
    }

    /// The first value of header `name` as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.scope.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The handshake cookies.
    pub fn cookies(&self) -> Cookies {
        Cookies::from_headers(&self.scope.headers)
    }

    /// The subprotocols the client offered, in its order of preference.
    pub fn subprotocols(&self) -> &[String] {
        &self.scope.subprotocols
    }

    /// Application state of type `T` (as [`Request::app_state`](crate::Request::app_state)).
    pub fn app_state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.context
            .state
            .get_arc::<T>()
            .or_else(|| self.scope.state.get_arc::<T>())
    }

    /// Typed data attached by middleware (the scope's `extensions.other`).
    pub fn extensions(&self) -> &http::Extensions {
        &self.scope.extensions.other
    }

    async fn await_connect(&mut self) -> Result<(), WsError> {
        if self.phase != Phase::Connecting {
            return Ok(());
        }
        match self.receive.receive().await? {
            ReceiveEvent::WebSocket(WebSocketReceive::Connect) => {
                self.phase = Phase::Handshake;
                Ok(())
            }
            ReceiveEvent::WebSocket(WebSocketReceive::Disconnect { code, reason }) => {
                self.phase = Phase::Closed;
                Err(WsError::Disconnected { code, reason })
            }
            _ => Err(WsError::Misuse("expected websocket.connect")),
        }
    }

    /// Accepts the connection with no subprotocol.
    ///
    /// # Errors
    ///
    /// [`WsError::Disconnected`] if the client left first; [`WsError::Misuse`] if already accepted.
    pub async fn accept(&mut self) -> Result<(), WsError> {
        self.accept_with(None, Headers::new()).await
    }

    /// Accepts with `subprotocol` (one the client offered) and extra handshake headers.
    ///
    /// # Errors
    ///
    /// As [`accept`](Self::accept).
    pub async fn accept_with(
        &mut self,
        subprotocol: Option<&str>,
        headers: Headers,
    ) -> Result<(), WsError> {
        self.await_connect().await?;
        if self.phase != Phase::Handshake {
            return Err(WsError::Misuse(
                "the websocket is already accepted or closed",
            ));
        }
        let subprotocol = subprotocol.map(str::to_owned);
        self.send
            .send(WebSocketSend::Accept {
                subprotocol,
                headers,
            })
            .await?;
        self.phase = Phase::Connected;
        Ok(())
    }

    /// Denies the handshake with an HTTP response (the `websocket.http.response`
    /// extension); without the extension, closes with 403.
    ///
    /// # Errors
    ///
    /// [`WsError::Misuse`] after accept; the send error.
    pub async fn deny(&mut self, response: impl IntoResponse) -> Result<(), WsError> {
        self.await_connect().await?;
        if self.phase != Phase::Handshake {
            return Err(WsError::Misuse(
                "only a connection not yet accepted can be denied",
            ));
        }
        self.phase = Phase::Closed;
        if !self.scope.extensions.websocket_http_response {
            self.send.send(WebSocketSend::close(1000)).await?;
            return Ok(());
        }
        let mut response = response.into_response();
        let body = response
            .take_body()
            .collect()
            .await
            .map_err(|_| WsError::Misuse("the denial body failed"))?;
        let status = response.status();
        let mut headers = response.headers().clone();
        if !headers.contains(http::header::CONTENT_LENGTH) {
            headers.push(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from(body.len()),
            );
        }
        self.send
            .send(WebSocketSend::HttpResponseStart { status, headers })
            .await?;
        self.send
            .send(WebSocketSend::HttpResponseBody {
                body,
                more_body: false,
            })
            .await?;
        Ok(())
    }

    /// Waits for the next message.
    ///
    /// # Errors
    ///
    /// [`WsError::Disconnected`] once the client has closed.
    pub async fn receive(&mut self) -> Result<WebSocketMessage, WsError> {
        if self.phase != Phase::Connected {
            return Err(WsError::Misuse("accept the websocket before receiving"));
        }
        match self.receive.receive().await? {
            ReceiveEvent::WebSocket(WebSocketReceive::Receive(message)) => Ok(message),
            ReceiveEvent::WebSocket(WebSocketReceive::Disconnect { code, reason }) => {
                self.phase = Phase::Closed;
                Err(WsError::Disconnected { code, reason })
            }
            _ => Err(WsError::Misuse("unexpected message on a websocket")),
        }
    }

    /// The next message, or `None` once the connection is closed: for
    /// `while let Some(message) = socket.recv().await` loops.
    pub async fn recv(&mut self) -> Option<WebSocketMessage> {
        self.receive().await.ok()
    }

    /// The next message as text.
    ///
    /// # Errors
    ///
    /// [`WsError::UnexpectedMessage`] for a binary message, else as [`receive`](Self::receive).
    pub async fn receive_text(&mut self) -> Result<String, WsError> {
        match self.receive().await? {
            WebSocketMessage::Text(text) => Ok(text),
            WebSocketMessage::Binary(_) => Err(WsError::UnexpectedMessage("text")),
        }
    }

    /// The next message as bytes.
    ///
    /// # Errors
    ///
    /// [`WsError::UnexpectedMessage`] for a text message, else as [`receive`](Self::receive).
    pub async fn receive_bytes(&mut self) -> Result<Bytes, WsError> {
        match self.receive().await? {
            WebSocketMessage::Binary(bytes) => Ok(bytes),
            WebSocketMessage::Text(_) => Err(WsError::UnexpectedMessage("binary")),
        }
    }

    /// The next message (text or binary) parsed as JSON.
    ///
    /// # Errors
    ///
    /// [`WsError::Json`] if it does not parse, else as [`receive`](Self::receive).
    pub async fn receive_json<T: DeserializeOwned>(&mut self) -> Result<T, WsError> {
        let parsed = match self.receive().await? {
            WebSocketMessage::Text(text) => serde_json::from_str(&text),
            WebSocketMessage::Binary(bytes) => serde_json::from_slice(&bytes),
        };
        parsed.map_err(WsError::Json)
    }

    /// Sends a message (text or binary).
    ///
    /// # Errors
    ///
    /// [`WsError::Misuse`] before accept; the send error once the client left.
    pub async fn send(&mut self, message: impl Into<WebSocketMessage>) -> Result<(), WsError> {
        if self.phase != Phase::Connected {
            return Err(WsError::Misuse("accept the websocket before sending"));
        }
        self.send.send(WebSocketSend::message(message)).await?;
        Ok(())
    }

    /// Sends a text message.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<(), WsError> {
        self.send(WebSocketMessage::Text(text.into())).await
    }

    /// Sends a binary message.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn send_bytes(&mut self, bytes: impl Into<Bytes>) -> Result<(), WsError> {
        self.send(WebSocketMessage::Binary(bytes.into())).await
    }

    /// Sends `value` as a JSON text message.
    ///
    /// # Errors
    ///
    /// [`WsError::Json`] if it does not serialize, else as [`send`](Self::send).
    pub async fn send_json(&mut self, value: &impl Serialize) -> Result<(), WsError> {
        let text = serde_json::to_string(value).map_err(WsError::Json)?;
        self.send(WebSocketMessage::Text(text)).await
    }

    /// Closes the connection with `code` and `reason` (at most 123 bytes).
    ///
    /// Before accept, this denies the handshake (403).
    ///
    /// # Errors
    ///
    /// The send error; closing twice is a no-op.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), WsError> {
        if self.phase == Phase::Closed {
            return Ok(());
        }
        self.await_connect().await?;
        self.phase = Phase::Closed;
        let reason = truncate(reason, 123).to_owned();
        self.send
            .send(WebSocketSend::Close { code, reason })
            .await?;
        Ok(())
    }
}

/// The longest prefix of `text` within `max` bytes, on a char boundary.
fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("path", &self.scope.target.path)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl Drop for WebSocket {
    fn drop(&mut self) {
        if let Some(report) = &self.report {
            *report.lock().unwrap_or_else(PoisonError::into_inner) = self.phase;
        }
    }
}
