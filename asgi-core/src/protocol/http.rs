//! The order of `http.*` messages an app sends.

use crate::error::ProtocolError;
use crate::extensions::Extensions;
use crate::message::HttpSend;

/// Where an HTTP response is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponsePhase {
    /// Nothing sent yet; only `http.response.start` is allowed.
    AwaitingStart,
    /// Started; body messages until one has `more_body: false`.
    Body {
        /// Whether `trailers: true` was set on start.
        trailers: bool,
        /// Whether any body bytes were sent (pathsend may not follow them).
        body_sent: bool,
    },
    /// The body is complete and trailers were announced.
    AwaitingTrailers,
    /// The response is complete; nothing more may be sent.
    Complete,
}

/// Validates the order of the messages of one HTTP response.
///
/// The rules (ASGI HTTP spec 2.5 and its extensions):
/// - `http.response.start` first and exactly once; its status is 200 to 999
///   (1xx are not final responses; early hints have their own message);
/// - then `http.response.body` until `more_body` is false;
/// - `http.response.pathsend` once, instead of any body message;
/// - `http.response.zerocopysend` and `http.response.early_hint` between
///   start and the end of the body;
/// - `http.response.trailers` after the body, only if start set `trailers`,
///   until `more_trailers` is false;
/// - nothing after the response is complete;
/// - extension messages only when the extension is enabled in the scope.
///
/// # Example
///
/// ```
/// use asgi_core::protocol::HttpResponseState;
/// use asgi_core::{Extensions, Headers, HttpSend};
/// use http::StatusCode;
///
/// let mut state = HttpResponseState::new(&Extensions::default());
/// assert!(state.check(&HttpSend::body("too early")).is_err());
/// state.check(&HttpSend::start(StatusCode::OK, Headers::new())).unwrap();
/// state.check(&HttpSend::body("done")).unwrap();
/// assert!(state.is_complete());
/// ```
#[derive(Debug, Clone)]
pub struct HttpResponseState {
    phase: ResponsePhase,
    trailers_enabled: bool,
    pathsend_enabled: bool,
    zerocopysend_enabled: bool,
    early_hint_enabled: bool,
}

impl HttpResponseState {
    /// A response not yet started, allowing the extensions enabled in `extensions`.
    pub fn new(extensions: &Extensions) -> Self {
        Self {
            phase: ResponsePhase::AwaitingStart,
            trailers_enabled: extensions.trailers,
            pathsend_enabled: extensions.pathsend,
            zerocopysend_enabled: extensions.zerocopysend,
            early_hint_enabled: extensions.early_hint,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> ResponsePhase {
        self.phase
    }

    /// Whether `http.response.start` has been accepted.
    pub fn is_started(&self) -> bool {
        self.phase != ResponsePhase::AwaitingStart
    }

    /// Whether the response is complete.
    pub fn is_complete(&self) -> bool {
        self.phase == ResponsePhase::Complete
    }

    /// Checks `event` against the rules and advances the state if it is allowed.
    ///
    /// # Errors
    ///
    /// A [`ProtocolError`] naming what was expected and what was received; the
    /// state is unchanged then.
    pub fn check(&mut self, event: &HttpSend) -> Result<(), ProtocolError> {
        let received = event.kind();
        let next = match (self.phase, event) {
            (ResponsePhase::Complete, _) => {
                return Err(ProtocolError::AfterCompletion { received });
            }
            (
                ResponsePhase::AwaitingStart,
                HttpSend::ResponseStart {
                    status, trailers, ..
                },
            ) => {
                if status.as_u16() < 200 {
                    return Err(ProtocolError::InvalidMessage {
                        received,
                        reason: "status must be a final status (200 or above)",
                    });
                }
                if *trailers && !self.trailers_enabled {
                    return Err(ProtocolError::ExtensionNotEnabled {
                        extension: "http.response.trailers",
                    });
                }
                ResponsePhase::Body {
                    trailers: *trailers,
                    body_sent: false,
                }
            }
            (ResponsePhase::AwaitingStart, _) => {
                return Err(unexpected("http.response.start", received));
            }
            (ResponsePhase::Body { trailers, .. }, HttpSend::ResponseBody { more_body, .. }) => {
                end_of_body(trailers, *more_body)
            }
            (
                ResponsePhase::Body {
                    trailers,
                    body_sent,
                },
                HttpSend::ResponsePathsend { path },
            ) => {
                self.require(self.pathsend_enabled, "http.response.pathsend")?;
                if body_sent {
                    return Err(ProtocolError::InvalidMessage {
                        received,
                        reason: "pathsend cannot follow body messages",
                    });
                }
                if !path.is_absolute() {
                    return Err(ProtocolError::InvalidMessage {
                        received,
                        reason: "path must be absolute",
                    });
                }
                end_of_body(trailers, false)
            }
            (
                ResponsePhase::Body { trailers, .. },
                HttpSend::ResponseZerocopysend { more_body, .. },
            ) => {
                self.require(self.zerocopysend_enabled, "http.response.zerocopysend")?;
                end_of_body(trailers, *more_body)
            }
            (ResponsePhase::Body { .. }, HttpSend::ResponseEarlyHint { .. }) => {
                self.require(self.early_hint_enabled, "http.response.early_hint")?;
                self.phase
            }
            (ResponsePhase::Body { .. }, _) => {
                return Err(unexpected("http.response.body", received));
            }
            (ResponsePhase::AwaitingTrailers, HttpSend::ResponseTrailers { more_trailers, .. }) => {
                if *more_trailers {
                    ResponsePhase::AwaitingTrailers
                } else {
                    ResponsePhase::Complete
                }
            }
            (ResponsePhase::AwaitingTrailers, _) => {
                return Err(unexpected("http.response.trailers", received));
            }
        };
        self.phase = next;
        Ok(())
    }

    fn require(&self, enabled: bool, extension: &'static str) -> Result<(), ProtocolError> {
        if enabled {
            Ok(())
        } else {
            Err(ProtocolError::ExtensionNotEnabled { extension })
        }
    }
}

fn end_of_body(trailers: bool, more_body: bool) -> ResponsePhase {
    match (more_body, trailers) {
        (true, _) => ResponsePhase::Body {
            trailers,
            body_sent: true,
        },
        (false, true) => ResponsePhase::AwaitingTrailers,
        (false, false) => ResponsePhase::Complete,
    }
}

fn unexpected(expected: &'static str, received: &'static str) -> ProtocolError {
    ProtocolError::UnexpectedMessage { expected, received }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Headers;
    use bytes::Bytes;
    use http::StatusCode;
    use std::sync::Arc;

    fn start() -> HttpSend {
        HttpSend::start(StatusCode::OK, Headers::new())
    }

    fn start_with_trailers() -> HttpSend {
        HttpSend::ResponseStart {
            status: StatusCode::OK,
            headers: Headers::new(),
            trailers: true,
        }
    }

    fn trailers(more: bool) -> HttpSend {
        HttpSend::ResponseTrailers {
            headers: Headers::new(),
            more_trailers: more,
        }
    }

    fn all_extensions() -> Extensions {
        Extensions {
            trailers: true,
            pathsend: true,
            zerocopysend: true,
            early_hint: true,
            ..Extensions::default()
        }
    }

    fn run(ext: &Extensions, events: &[HttpSend]) -> Result<HttpResponseState, ProtocolError> {
        let mut state = HttpResponseState::new(ext);
        for event in events {
            state.check(event)?;
        }
        Ok(state)
    }

    #[test]
    fn start_then_final_body_completes() {
        let state = run(&Extensions::default(), &[start(), HttpSend::body("x")]).unwrap();

        assert!(state.is_complete());
    }

    #[test]
    fn streamed_body_completes_on_last_chunk() {
        let ext = Extensions::default();
        let state = run(&ext, &[start(), HttpSend::chunk("a"), HttpSend::chunk("b")]).unwrap();
        assert!(!state.is_complete());

        let state = run(&ext, &[start(), HttpSend::chunk("a"), HttpSend::body("")]).unwrap();
        assert!(state.is_complete());
    }

    #[test]
    fn body_before_start_is_rejected() {
        let error = run(&Extensions::default(), &[HttpSend::body("x")]).unwrap_err();

        assert_eq!(
            error,
            ProtocolError::UnexpectedMessage {
                expected: "http.response.start",
                received: "http.response.body"
            }
        );
    }

    #[test]
    fn duplicate_start_is_rejected() {
        let error = run(&Extensions::default(), &[start(), start()]).unwrap_err();

        assert_eq!(
            error,
            ProtocolError::UnexpectedMessage {
                expected: "http.response.body",
                received: "http.response.start"
            }
        );
    }

    #[test]
    fn message_after_completion_is_rejected() {
        let error = run(
            &Extensions::default(),
            &[start(), HttpSend::body(""), HttpSend::body("")],
        )
        .unwrap_err();

        assert_eq!(
            error,
            ProtocolError::AfterCompletion {
                received: "http.response.body"
            }
        );
    }

    #[test]
    fn informational_status_on_start_is_invalid() {
        let error = run(
            &Extensions::default(),
            &[HttpSend::start(StatusCode::CONTINUE, Headers::new())],
        )
        .unwrap_err();

        assert!(matches!(error, ProtocolError::InvalidMessage { .. }));
    }

    #[test]
    fn a_rejected_message_leaves_the_state_unchanged() {
        let mut state = HttpResponseState::new(&Extensions::default());

        assert!(state.check(&HttpSend::body("x")).is_err());

        assert_eq!(state.phase(), ResponsePhase::AwaitingStart);
        assert!(!state.is_started());
    }

    #[test]
    fn trailers_follow_the_body_when_announced() {
        let ext = all_extensions();

        let state = run(&ext, &[start_with_trailers(), HttpSend::body("x")]).unwrap();
        assert_eq!(state.phase(), ResponsePhase::AwaitingTrailers);

        let state = run(
            &ext,
            &[
                start_with_trailers(),
                HttpSend::body("x"),
                trailers(true),
                trailers(false),
            ],
        )
        .unwrap();
        assert!(state.is_complete());
    }

    #[test]
    fn body_after_announced_trailers_expects_trailers() {
        let error = run(
            &all_extensions(),
            &[
                start_with_trailers(),
                HttpSend::body("x"),
                HttpSend::body("y"),
            ],
        )
        .unwrap_err();

        assert_eq!(
            error,
            ProtocolError::UnexpectedMessage {
                expected: "http.response.trailers",
                received: "http.response.body"
            }
        );
    }

    #[test]
    fn trailers_without_announcement_are_rejected() {
        let error = run(
            &all_extensions(),
            &[start(), HttpSend::chunk("x"), trailers(false)],
        )
        .unwrap_err();

        assert!(matches!(
            error,
            ProtocolError::UnexpectedMessage {
                received: "http.response.trailers",
                ..
            }
        ));
    }

    #[test]
    fn extensions_must_be_enabled() {
        let off = Extensions::default();
        let pathsend = HttpSend::ResponsePathsend {
            path: "/etc/hostname".into(),
        };
        let hint = HttpSend::ResponseEarlyHint {
            links: vec![Bytes::from_static(b"</s.css>")],
        };

        for (events, extension) in [
            (vec![start_with_trailers()], "http.response.trailers"),
            (vec![start(), pathsend], "http.response.pathsend"),
            (vec![start(), hint], "http.response.early_hint"),
        ] {
            assert_eq!(
                run(&off, &events).unwrap_err(),
                ProtocolError::ExtensionNotEnabled { extension }
            );
        }
    }

    #[test]
    fn pathsend_completes_and_cannot_mix_with_body() {
        let ext = all_extensions();
        let pathsend = || HttpSend::ResponsePathsend {
            path: "/etc/hostname".into(),
        };

        assert!(run(&ext, &[start(), pathsend()]).unwrap().is_complete());
        assert!(matches!(
            run(&ext, &[start(), HttpSend::chunk("a"), pathsend()]).unwrap_err(),
            ProtocolError::InvalidMessage { .. }
        ));
        assert!(matches!(
            run(
                &ext,
                &[
                    start(),
                    HttpSend::ResponsePathsend {
                        path: "relative".into()
                    }
                ]
            )
            .unwrap_err(),
            ProtocolError::InvalidMessage { .. }
        ));
    }

    #[test]
    fn zerocopysend_and_early_hints_mix_with_body() {
        let ext = all_extensions();
        let file = Arc::new(std::fs::File::open(std::env::current_exe().unwrap()).unwrap());
        let zerocopy = HttpSend::ResponseZerocopysend {
            file,
            offset: Some(0),
            count: Some(1),
            more_body: true,
        };
        let hint = HttpSend::ResponseEarlyHint { links: vec![] };

        let state = run(
            &ext,
            &[
                start(),
                hint,
                zerocopy,
                HttpSend::chunk("x"),
                HttpSend::body(""),
            ],
        )
        .unwrap();

        assert!(state.is_complete());
    }
}
