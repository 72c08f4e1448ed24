//! WebSocket sessions of the [`TestClient`].

use std::fmt;
use std::time::Duration;

use asgi_core::testing::{Communicator, CommunicatorError};
use asgi_core::{
    Headers, Scope, SendEvent, WebSocketMessage, WebSocketReceive, WebSocketScope, WebSocketSend,
};
use bytes::{Bytes, BytesMut};
use http::StatusCode;
use http::header::{self, HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{TestClient, harness_failure};

/// A WebSocket handshake being built; finish it with [`connect`](Self::connect).
#[must_use = "the connection is made by `connect`"]
pub struct WsConnect<'a> {
    client: &'a TestClient,
    path: String,
    subprotocols: Vec<String>,
    headers: Headers,
}

/// The app refused the handshake: a close before accept (403) or its own
/// denial response (`websocket.http.response`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsDenied {
    /// The HTTP status the client would see.
    pub status: StatusCode,
    /// The denial response's headers.
    pub headers: Headers,
    /// The denial response's body.
    pub body: Bytes,
}

impl fmt::Display for WsDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "websocket denied with {}", self.status)
    }
}

impl std::error::Error for WsDenied {}

/// The app closed the connection (or ended) with this code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsClosed {
    /// The close code; 1006 if the app ended without a close message.
    pub code: u16,
    /// The close reason.
    pub reason: String,
}

impl fmt::Display for WsClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "websocket closed with {} {:?}", self.code, self.reason)
    }
}

impl std::error::Error for WsClosed {}

impl<'a> WsConnect<'a> {
    pub(super) fn new(client: &'a TestClient, path: &str) -> Self {
        Self {
            client,
            path: path.to_owned(),
            subprotocols: Vec::new(),
            headers: Headers::new(),
        }
    }

    /// Offers a subprotocol.
    pub fn subprotocol(mut self, name: &str) -> Self {
        self.subprotocols.push(name.to_owned());
        self
    }

    /// Adds a handshake header.
    ///
    /// # Panics
    ///
    /// If `name` or `value` is not valid in a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::try_from(name).expect("WsConnect::header: invalid header name");
        let value = HeaderValue::try_from(value).expect("WsConnect::header: invalid header value");
        self.headers.push(name, value);
        self
    }

    /// Performs the handshake.
    ///
    /// # Errors
    ///
    /// [`WsDenied`] if the app closes before accepting or sends a denial response.
    ///
    /// # Panics
    ///
    /// If the app answers nothing within the client's timeout, or breaks the protocol.
    pub async fn connect(self) -> Result<WsSession, WsDenied> {
        let mut scope = WebSocketScope::new(self.path.clone());
        let mut headers = Headers::new().with(header::HOST, HeaderValue::from_static("testserver"));
        if let Some(cookies) = self.client.cookie_header()
            && let Ok(value) = HeaderValue::from_str(&cookies)
        {
            headers.push(header::COOKIE, value);
        }
        headers.extend(self.headers);
        scope.headers = headers;
        scope.subprotocols = self.subprotocols;
        scope.client = Some(([127, 0, 0, 1], 50000).into());
        scope.state = self.client.state();
        scope.extensions.websocket_http_response = true;
        let timeout = self.client.timeout;
        let mut comm = Communicator::new(self.client.app.clone(), Scope::WebSocket(scope));
        comm.send_input(WebSocketReceive::Connect);
        match comm.receive_output(timeout).await {
            Ok(SendEvent::WebSocket(WebSocketSend::Accept {
                subprotocol,
                headers,
            })) => Ok(WsSession {
                comm,
                timeout,
                subprotocol,
                headers,
                closed: false,
            }),
            Ok(SendEvent::WebSocket(WebSocketSend::Close { .. })) => Err(WsDenied {
                status: StatusCode::FORBIDDEN,
                headers: Headers::new(),
                body: Bytes::new(),
            }),
            Ok(SendEvent::WebSocket(WebSocketSend::HttpResponseStart { status, headers })) => {
                let mut body = BytesMut::new();
                loop {
                    match comm.receive_output(timeout).await {
                        Ok(SendEvent::WebSocket(WebSocketSend::HttpResponseBody {
                            body: chunk,
                            more_body,
                        })) => {
                            body.extend_from_slice(&chunk);
                            if !more_body {
                                break;
                            }
                        }
                        Ok(_) | Err(CommunicatorError::AppReturned) => break,
                        Err(error) => harness_failure("reading the denial response", &error),
                    }
                }
                Err(WsDenied {
                    status,
                    headers,
                    body: body.freeze(),
                })
            }
            Ok(other) => panic!(
                "TestClient: unexpected '{}' during the handshake",
                other.kind()
            ),
            Err(
                CommunicatorError::AppReturned
                | CommunicatorError::AppFailed(_)
                | CommunicatorError::AppPanicked(_),
            ) => {
                // A server answers an app that ends during the handshake with 500.
                Err(WsDenied {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    headers: Headers::new(),
                    body: Bytes::new(),
                })
            }
            Err(error) => harness_failure("waiting for the handshake", &error),
        }
    }
}

impl fmt::Debug for WsConnect<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsConnect")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// An accepted WebSocket connection to the app.
pub struct WsSession {
    comm: Communicator,
    timeout: Duration,
    subprotocol: Option<String>,
    headers: Headers,
    closed: bool,
}

impl WsSession {
    /// The subprotocol the app accepted.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The extra headers the app sent with its accept.
    pub fn accept_headers(&self) -> &Headers {
        &self.headers
    }

    /// Sends a message to the app.
    pub fn send(&mut self, message: impl Into<WebSocketMessage>) {
        self.comm
            .send_input(WebSocketReceive::Receive(message.into()));
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) {
        self.send(WebSocketMessage::Text(text.to_owned()));
    }

    /// Sends a binary message.
    pub fn send_bytes(&mut self, bytes: impl Into<Bytes>) {
        self.send(WebSocketMessage::Binary(bytes.into()));
    }

    /// Sends `value` as JSON text.
    ///
    /// # Panics
    ///
    /// If `value` does not serialize.
    pub fn send_json(&mut self, value: &impl Serialize) {
        let text =
            serde_json::to_string(value).expect("WsSession::send_json: value does not serialize");
        self.send(WebSocketMessage::Text(text));
    }

    /// The next message from the app.
    ///
    /// # Errors
    ///
    /// [`WsClosed`] once the app closes (or ends: code 1006).
    ///
    /// # Panics
    ///
    /// If nothing comes within the client's timeout.
    pub async fn receive(&mut self) -> Result<WebSocketMessage, WsClosed> {
        match self.comm.receive_output(self.timeout).await {
            Ok(SendEvent::WebSocket(WebSocketSend::Send(message))) => Ok(message),
            Ok(SendEvent::WebSocket(WebSocketSend::Close { code, reason })) => {
                self.closed = true;
                Err(WsClosed { code, reason })
            }
            Ok(other) => panic!(
                "TestClient: unexpected '{}' on an open websocket",
                other.kind()
            ),
            Err(
                CommunicatorError::AppReturned
                | CommunicatorError::AppFailed(_)
                | CommunicatorError::AppPanicked(_),
            ) => {
                self.closed = true;
                Err(WsClosed {
                    code: 1006,
                    reason: String::new(),
                })
            }
            Err(error) => harness_failure("waiting for a websocket message", &error),
        }
    }

    /// The next message as text.
    ///
    /// # Panics
    ///
    /// If the app closes, sends bytes, or sends nothing in time.
    pub async fn receive_text(&mut self) -> String {
        match self.receive().await {
            Ok(WebSocketMessage::Text(text)) => text,
            other => panic!("TestClient: expected a text message, got {other:?}"),
        }
    }

    /// The next message as bytes.
    ///
    /// # Panics
    ///
    /// If the app closes, sends text, or sends nothing in time.
    pub async fn receive_bytes(&mut self) -> Bytes {
        match self.receive().await {
            Ok(WebSocketMessage::Binary(bytes)) => bytes,
            other => panic!("TestClient: expected a binary message, got {other:?}"),
        }
    }

    /// The next message parsed as JSON.
    ///
    /// # Panics
    ///
    /// If it is not JSON of type `T`, or as [`receive_text`](Self::receive_text).
    pub async fn receive_json<T: DeserializeOwned>(&mut self) -> T {
        let text = self.receive_text().await;
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("TestClient: {error}; message: {text}"))
    }

    /// Closes from the client side with `code` and waits for the app to finish.
    ///
    /// # Panics
    ///
    /// If the app does not finish within the client's timeout.
    pub async fn close(mut self, code: u16) {
        self.comm.send_input(WebSocketReceive::Disconnect {
            code,
            reason: String::new(),
        });
        self.closed = true;
        match self.comm.wait(self.timeout).await {
            Ok(()) | Err(CommunicatorError::AppFailed(_)) => {}
            Err(error) => harness_failure("waiting for the app after close", &error),
        }
    }

    /// Waits until the app has finished (after it closed the connection).
    ///
    /// # Panics
    ///
    /// If it does not finish within the client's timeout.
    pub async fn wait_closed(mut self) {
        if !self.closed {
            self.comm.send_input(WebSocketReceive::Disconnect {
                code: 1000,
                reason: String::new(),
            });
        }
        match self.comm.wait(self.timeout).await {
            Ok(()) | Err(CommunicatorError::AppFailed(_)) => {}
            Err(error) => harness_failure("waiting for the app to finish", &error),
        }
    }
}

impl fmt::Debug for WsSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsSession")
            .field("subprotocol", &self.subprotocol)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}
