//! The order of `websocket.*` messages an app sends.

use crate::error::ProtocolError;
use crate::extensions::Extensions;
use crate::message::WebSocketSend;

/// Where a WebSocket connection is, from the app's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebSocketPhase {
    /// The handshake is held; accept, close or a denial response may come.
    Handshake,
    /// Accepted; messages flow until a close.
    Open,
    /// A denial response is being sent; body messages until `more_body` is false.
    DenialBody,
    /// Closed or denied; nothing more may be sent.
    Closed,
}

/// Validates the order and content of the messages of one WebSocket connection.
///
/// The rules (ASGI WebSocket spec 2.5 and the denial extension):
/// - before the handshake completes, only `websocket.accept`,
///   `websocket.close` (a denial, HTTP 403) or, with the
///   `websocket.http.response` extension, `websocket.http.response.start`;
/// - accept headers must not contain `sec-websocket-protocol` (use `subprotocol`);
/// - after accept, `websocket.send` and `websocket.close`;
/// - a close code must be one a peer may send (1000-1003, 1007-1014 or
///   3000-4999) and its reason at most 123 bytes;
/// - nothing after close.
#[derive(Debug, Clone)]
pub struct WebSocketState {
    phase: WebSocketPhase,
    denial_enabled: bool,
}

impl WebSocketState {
    /// A connection whose handshake is held, allowing the extensions in `extensions`.
    pub fn new(extensions: &Extensions) -> Self {
        Self {
            phase: WebSocketPhase::Handshake,
            denial_enabled: extensions.websocket_http_response,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> WebSocketPhase {
        self.phase
    }

    /// Whether the app has accepted the connection.
    pub fn is_accepted(&self) -> bool {
        self.phase == WebSocketPhase::Open
    }

    /// Whether the connection is closed (or was denied).
    pub fn is_closed(&self) -> bool {
        self.phase == WebSocketPhase::Closed
    }

    /// Checks `event` against the rules and advances the state if it is allowed.
    ///
    /// # Errors
    ///
    /// A [`ProtocolError`]; the state is unchanged then.
    pub fn check(&mut self, event: &WebSocketSend) -> Result<(), ProtocolError> {
        let received = event.kind();
        if let WebSocketSend::Close { code, reason } = event {
            if !is_sendable_close_code(*code) {
                return Err(ProtocolError::InvalidMessage {
                    received,
                    reason: "close code must be 1000-1003, 1007-1014 or 3000-4999",
                });
            }
            if reason.len() > 123 {
                return Err(ProtocolError::InvalidMessage {
                    received,
                    reason: "close reason must be at most 123 bytes",
                });
            }
        }
        let next = match (self.phase, event) {
            (WebSocketPhase::Closed, _) => return Err(ProtocolError::AfterCompletion { received }),
            (WebSocketPhase::Handshake, WebSocketSend::Accept { headers, .. }) => {
                if headers.contains("sec-websocket-protocol") {
                    return Err(ProtocolError::InvalidMessage {
                        received,
                        reason: "use `subprotocol`, not a sec-websocket-protocol header",
                    });
                }
                WebSocketPhase::Open
            }
            (WebSocketPhase::Handshake | WebSocketPhase::Open, WebSocketSend::Close { .. }) => {
                WebSocketPhase::Closed
            }
            (WebSocketPhase::Handshake, WebSocketSend::HttpResponseStart { .. }) => {
                if !self.denial_enabled {
                    return Err(ProtocolError::ExtensionNotEnabled {
                        extension: "websocket.http.response",
                    });
                }
                WebSocketPhase::DenialBody
            }
            (WebSocketPhase::Handshake, _) => {
                return Err(ProtocolError::UnexpectedMessage {
                    expected: "websocket.accept or websocket.close",
                    received,
                });
            }
            (WebSocketPhase::Open, WebSocketSend::Send(_)) => WebSocketPhase::Open,
            (WebSocketPhase::Open, _) => {
                return Err(ProtocolError::UnexpectedMessage {
                    expected: "websocket.send or websocket.close",
                    received,
                });
            }
            (WebSocketPhase::DenialBody, WebSocketSend::HttpResponseBody { more_body, .. }) => {
                if *more_body {
                    WebSocketPhase::DenialBody
                } else {
                    WebSocketPhase::Closed
                }
            }
            (WebSocketPhase::DenialBody, _) => {
                return Err(ProtocolError::UnexpectedMessage {
                    expected: "websocket.http.response.body",
                    received,
                });
            }
        };
        self.phase = next;
        Ok(())
    }
}

/// Whether an endpoint may put `code` in a close frame (RFC 6455 section 7.4).
pub fn is_sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Headers;
    use bytes::Bytes;
    use http::StatusCode;
    use http::header::{HeaderName, HeaderValue};

    fn run(ext: &Extensions, events: Vec<WebSocketSend>) -> Result<WebSocketState, ProtocolError> {
        let mut state = WebSocketState::new(ext);
        for event in &events {
            state.check(event)?;
        }
        Ok(state)
    }

    fn denial_enabled() -> Extensions {
        Extensions {
            websocket_http_response: true,
            ..Extensions::default()
        }
    }

    #[test]
    fn accept_send_close() {
        let state = run(
            &Extensions::default(),
            vec![
                WebSocketSend::accept(),
                WebSocketSend::message("hi"),
                WebSocketSend::close(1000),
            ],
        )
        .unwrap();

        assert!(state.is_closed());
    }

    #[test]
    fn send_before_accept_is_rejected() {
        let error = run(&Extensions::default(), vec![WebSocketSend::message("hi")]).unwrap_err();

        assert_eq!(
            error,
            ProtocolError::UnexpectedMessage {
                expected: "websocket.accept or websocket.close",
                received: "websocket.send"
            }
        );
    }

    #[test]
    fn close_before_accept_is_a_denial() {
        let state = run(&Extensions::default(), vec![WebSocketSend::close(1000)]).unwrap();

        assert!(state.is_closed() && !state.is_accepted());
    }

    #[test]
    fn double_accept_is_rejected() {
        let error = run(
            &Extensions::default(),
            vec![WebSocketSend::accept(), WebSocketSend::accept()],
        )
        .unwrap_err();

        assert!(matches!(
            error,
            ProtocolError::UnexpectedMessage {
                received: "websocket.accept",
                ..
            }
        ));
    }

    #[test]
    fn send_after_close_is_rejected() {
        let error = run(
            &Extensions::default(),
            vec![
                WebSocketSend::accept(),
                WebSocketSend::close(1000),
                WebSocketSend::message("x"),
            ],
        )
        .unwrap_err();

        assert_eq!(
            error,
            ProtocolError::AfterCompletion {
                received: "websocket.send"
            }
        );
    }

    #[test]
    fn reserved_close_codes_and_long_reasons_are_invalid() {
        for code in [0, 999, 1004, 1005, 1006, 1015, 2000, 5000] {
            let error = run(&Extensions::default(), vec![WebSocketSend::close(code)]).unwrap_err();
            assert!(
                matches!(error, ProtocolError::InvalidMessage { .. }),
                "{code}"
            );
        }
        let long = WebSocketSend::Close {
            code: 1000,
            reason: "x".repeat(124),
        };
        assert!(run(&Extensions::default(), vec![long]).is_err());
    }

    #[test]
    fn accept_header_may_not_carry_the_subprotocol() {
        let accept = WebSocketSend::Accept {
            subprotocol: None,
            headers: Headers::new().with(
                HeaderName::from_static("sec-websocket-protocol"),
                HeaderValue::from_static("chat"),
            ),
        };

        assert!(matches!(
            run(&Extensions::default(), vec![accept]).unwrap_err(),
            ProtocolError::InvalidMessage { .. }
        ));
    }

    #[test]
    fn denial_response_needs_the_extension_and_ends_the_connection() {
        let start = || WebSocketSend::HttpResponseStart {
            status: StatusCode::UNAUTHORIZED,
            headers: Headers::new(),
        };
        let body = |more| WebSocketSend::HttpResponseBody {
            body: Bytes::from_static(b"no"),
            more_body: more,
        };

        assert_eq!(
            run(&Extensions::default(), vec![start()]).unwrap_err(),
            ProtocolError::ExtensionNotEnabled {
                extension: "websocket.http.response"
            }
        );
        let state = run(&denial_enabled(), vec![start(), body(true), body(false)]).unwrap();
        assert!(state.is_closed());
        assert!(run(&denial_enabled(), vec![start(), WebSocketSend::accept()]).is_err());
    }
}
