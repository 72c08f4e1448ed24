//! [`WsError`]: why a WebSocket operation failed.

use std::fmt;

use asgi_core::{ReceiveError, SendError};

/// Why a WebSocket operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum WsError {
    /// The client disconnected (or the handler closed) with this code and reason.
    Disconnected {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
    /// A message of the other kind came (text where bytes were expected, or the reverse).
    UnexpectedMessage(&'static str),
    /// A JSON message did not parse.
    Json(serde_json::Error),
    /// The server refused a message.
    Send(SendError),
    /// The server closed the receive channel.
    Receive(ReceiveError),
    /// The handler used the socket out of order (accept twice, send before accept).
    Misuse(&'static str),
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::Disconnected { code, reason } => {
                write!(f, "websocket disconnected with code {code}")?;
                if !reason.is_empty() {
                    write!(f, " ({reason})")?;
                }
                Ok(())
            }
            WsError::UnexpectedMessage(expected) => write!(f, "expected a {expected} message"),
            WsError::Json(error) => write!(f, "invalid JSON message: {error}"),
            WsError::Send(error) => error.fmt(f),
            WsError::Receive(error) => error.fmt(f),
            WsError::Misuse(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for WsError {}

impl WsError {
    /// Whether the client went away (the normal end of a session).
    pub fn is_disconnect(&self) -> bool {
        matches!(self, WsError::Disconnected { .. })
            || matches!(self, WsError::Send(e) if e.is_disconnected())
    }
}

impl From<SendError> for WsError {
    fn from(error: SendError) -> Self {
        WsError::Send(error)
    }
}

impl From<ReceiveError> for WsError {
    fn from(error: ReceiveError) -> Self {
        WsError::Receive(error)
    }
}
