//! The protocol state machines: which messages an app may send, and when.
//!
//! Every server (and [`crate::testing`]) runs each message an app sends
//! through one of these before acting on it, so every server enforces the
//! same rules with the same errors. [`ProtocolState`] picks the machine for a
//! scope; the per-protocol machines are public for servers that want to match
//! on the phase.

mod http;
mod lifespan;
mod websocket;

pub use self::http::{HttpResponseState, ResponsePhase};
pub use self::lifespan::{LifespanPhase, LifespanProtocolState};
pub use self::websocket::{WebSocketPhase, WebSocketState, is_sendable_close_code};

use crate::error::ProtocolError;
use crate::message::SendEvent;
use crate::scope::Scope;

/// The state machine for one scope, whatever its type.
#[derive(Debug, Clone)]
pub enum ProtocolState {
    /// For an http scope.
    Http(HttpResponseState),
    /// For a websocket scope.
    WebSocket(WebSocketState),
    /// For a lifespan scope.
    Lifespan(LifespanProtocolState),
}

impl ProtocolState {
    /// The initial state for `scope`, honouring its enabled extensions.
    pub fn for_scope(scope: &Scope) -> Self {
        match scope {
            Scope::Http(s) => ProtocolState::Http(HttpResponseState::new(&s.extensions)),
            Scope::WebSocket(s) => ProtocolState::WebSocket(WebSocketState::new(&s.extensions)),
            Scope::Lifespan(_) => ProtocolState::Lifespan(LifespanProtocolState::new()),
        }
    }

    /// Checks `event` and advances the state if it is allowed.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::WrongScope`] for a message of another protocol, or the
    /// error of the scope's own machine.
    pub fn check(&mut self, event: &SendEvent) -> Result<(), ProtocolError> {
        match (self, event) {
            (ProtocolState::Http(state), SendEvent::Http(event)) => state.check(event),
            (ProtocolState::WebSocket(state), SendEvent::WebSocket(event)) => state.check(event),
            (ProtocolState::Lifespan(state), SendEvent::Lifespan(event)) => state.check(event),
            (this, event) => Err(ProtocolError::WrongScope {
                scope: this.scope_kind(),
                received: event.kind(),
            }),
        }
    }

    /// Whether the exchange is over: the response complete, the socket closed
    /// or the lifespan finished.
    pub fn is_finished(&self) -> bool {
        match self {
            ProtocolState::Http(s) => s.is_complete(),
            ProtocolState::WebSocket(s) => s.is_closed(),
            ProtocolState::Lifespan(s) => s.phase() == LifespanPhase::Finished,
        }
    }

    fn scope_kind(&self) -> &'static str {
        match self {
            ProtocolState::Http(_) => "http",
            ProtocolState::WebSocket(_) => "websocket",
            ProtocolState::Lifespan(_) => "lifespan",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{HttpSend, LifespanSend, WebSocketSend};
    use crate::scope::{HttpScope, LifespanScope, WebSocketScope};

    #[test]
    fn messages_of_another_protocol_are_rejected() {
        let cases: Vec<(Scope, SendEvent)> = vec![
            (
                Scope::Http(HttpScope::new(::http::Method::GET, "/")),
                WebSocketSend::accept().into(),
            ),
            (
                Scope::WebSocket(WebSocketScope::new("/")),
                HttpSend::body("x").into(),
            ),
            (
                Scope::Lifespan(LifespanScope::default()),
                HttpSend::body("x").into(),
            ),
            (
                Scope::Http(HttpScope::new(::http::Method::GET, "/")),
                LifespanSend::StartupComplete.into(),
            ),
        ];

        for (scope, event) in cases {
            let mut state = ProtocolState::for_scope(&scope);
            let error = state.check(&event).unwrap_err();
            assert_eq!(
                error,
                ProtocolError::WrongScope {
                    scope: scope.kind(),
                    received: event.kind()
                }
            );
        }
    }

    #[test]
    fn is_finished_follows_each_machine() {
        let mut http =
            ProtocolState::for_scope(&Scope::Http(HttpScope::new(::http::Method::GET, "/")));
        http.check(&HttpSend::start(::http::StatusCode::OK, crate::Headers::new()).into())
            .unwrap();
        assert!(!http.is_finished());
        http.check(&HttpSend::body("").into()).unwrap();
        assert!(http.is_finished());

        let mut ws = ProtocolState::for_scope(&Scope::WebSocket(WebSocketScope::new("/")));
        ws.check(&WebSocketSend::close(1000).into()).unwrap();
        assert!(ws.is_finished());
    }
}
