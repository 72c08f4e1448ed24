//! HTTP: the HTTP/1.1 engine and what HTTP versions share.

pub(crate) mod date;
pub(crate) mod h1;
pub(crate) mod h2;
pub(crate) mod proxy;
pub(crate) mod service;

use asgi_core::{HttpSend, ProtocolError, SendError, SendEvent};

/// The HTTP message in `event`, or the error for a message of another scope.
pub(crate) fn http_message(event: SendEvent) -> Result<HttpSend, SendError> {
    match event {
        SendEvent::Http(message) => Ok(message),
        other => Err(ProtocolError::WrongScope {
            scope: "http",
            received: other.kind(),
        }
        .into()),
    }
}
