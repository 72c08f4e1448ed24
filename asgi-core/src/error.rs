//! Errors of the interface: protocol violations, closed connections, app failures.

use std::fmt;

/// The error type of an application: any error, boxed.
///
/// An app returns `Err` instead of panicking; a server turns an error before
/// `http.response.start` into a 500 and closes the connection after it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An app sent a message the protocol does not allow at that point.
///
/// Built by the state machines in [`crate::protocol`], which every server and
/// the test harness use, so that every server rejects the same sequences with
/// the same error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A message arrived out of order: `expected` describes what may come next.
    UnexpectedMessage {
        /// What the protocol allows now, e.g. `"http.response.start"`.
        expected: &'static str,
        /// The `type` of the message that was sent.
        received: &'static str,
    },
    /// A message was sent after the exchange had ended.
    AfterCompletion {
        /// The `type` of the message that was sent.
        received: &'static str,
    },
    /// A message of another protocol, e.g. `websocket.send` on an http scope.
    WrongScope {
        /// The scope `type`.
        scope: &'static str,
        /// The `type` of the message that was sent.
        received: &'static str,
    },
    /// A message of an extension the server did not advertise in `scope["extensions"]`.
    ExtensionNotEnabled {
        /// The extension's key, e.g. `"http.response.trailers"`.
        extension: &'static str,
    },
    /// A message whose content is invalid, e.g. a close code that may not be sent.
    InvalidMessage {
        /// The `type` of the message that was sent.
        received: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::UnexpectedMessage { expected, received } => {
                write!(
                    f,
                    "expected ASGI message '{expected}', but got '{received}'"
                )
            }
            ProtocolError::AfterCompletion { received } => {
                write!(
                    f,
                    "unexpected ASGI message '{received}' sent after the response completed"
                )
            }
            ProtocolError::WrongScope { scope, received } => {
                write!(
                    f,
                    "ASGI message '{received}' cannot be sent on a '{scope}' scope"
                )
            }
            ProtocolError::ExtensionNotEnabled { extension } => {
                write!(f, "the server did not enable the '{extension}' extension")
            }
            ProtocolError::InvalidMessage { received, reason } => {
                write!(f, "invalid ASGI message '{received}': {reason}")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Why [`Sender::send`](crate::Sender::send) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The peer has gone away (ASGI 2.4: `send` on a closed connection raises).
    ///
    /// Servers do not log this: it is the normal end of a cancelled request.
    Disconnected,
    /// The message breaks the protocol's rules.
    Protocol(ProtocolError),
}

impl SendError {
    /// Whether the peer has gone away.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, SendError::Disconnected)
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Disconnected => f.write_str("the connection is closed"),
            SendError::Protocol(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::Protocol(error) => Some(error),
            SendError::Disconnected => None,
        }
    }
}

impl From<ProtocolError> for SendError {
    fn from(error: ProtocolError) -> Self {
        SendError::Protocol(error)
    }
}

/// Why [`Receiver::receive`](crate::Receiver::receive) failed.
///
/// HTTP and WebSocket receivers do not fail when the peer leaves: they return
/// `http.disconnect` or `websocket.disconnect`. This error means the server
/// side of the channel itself is gone, for example after the server stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The server dropped this channel; no more messages will come.
    Closed,
}

impl fmt::Display for ReceiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReceiveError::Closed => f.write_str("the receive channel is closed"),
        }
    }
}

impl std::error::Error for ReceiveError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_expected_and_received() {
        let error = ProtocolError::UnexpectedMessage {
            expected: "http.response.start",
            received: "http.response.body",
        };

        assert_eq!(
            error.to_string(),
            "expected ASGI message 'http.response.start', but got 'http.response.body'"
        );
        assert_eq!(
            SendError::from(error.clone()).to_string(),
            error.to_string()
        );
        assert!(SendError::Disconnected.is_disconnected());
    }
}
