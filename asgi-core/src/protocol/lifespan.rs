//! The order of `lifespan.*` messages an app sends.

use crate::error::ProtocolError;
use crate::message::LifespanSend;

/// Where the lifespan protocol is, from the app's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifespanPhase {
    /// Startup answer awaited.
    Starting,
    /// Started; shutdown answer awaited.
    Running,
    /// Done (shut down, or a failure was reported).
    Finished,
}

/// Validates the order of lifespan answers: one startup answer, then one
/// shutdown answer; a `failed` answer ends the protocol.
#[derive(Debug, Clone)]
pub struct LifespanProtocolState {
    phase: LifespanPhase,
}

impl Default for LifespanProtocolState {
    fn default() -> Self {
        Self::new()
    }
}

impl LifespanProtocolState {
    /// The state before startup.
    pub fn new() -> Self {
        Self {
            phase: LifespanPhase::Starting,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> LifespanPhase {
        self.phase
    }

    /// Checks `event` and advances the state if it is allowed.
    ///
    /// # Errors
    ///
    /// A [`ProtocolError`]; the state is unchanged then.
    pub fn check(&mut self, event: &LifespanSend) -> Result<(), ProtocolError> {
        let received = event.kind();
        self.phase = match (self.phase, event) {
            (LifespanPhase::Starting, LifespanSend::StartupComplete) => LifespanPhase::Running,
            (LifespanPhase::Starting, LifespanSend::StartupFailed { .. }) => {
                LifespanPhase::Finished
            }
            (LifespanPhase::Starting, _) => {
                return Err(ProtocolError::UnexpectedMessage {
                    expected: "lifespan.startup.complete or lifespan.startup.failed",
                    received,
                });
            }
            (
                LifespanPhase::Running,
                LifespanSend::ShutdownComplete | LifespanSend::ShutdownFailed { .. },
            ) => LifespanPhase::Finished,
            (LifespanPhase::Running, _) => {
                return Err(ProtocolError::UnexpectedMessage {
                    expected: "lifespan.shutdown.complete or lifespan.shutdown.failed",
                    received,
                });
            }
            (LifespanPhase::Finished, _) => {
                return Err(ProtocolError::AfterCompletion { received });
            }
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_then_shutdown() {
        let mut state = LifespanProtocolState::new();

        state.check(&LifespanSend::StartupComplete).unwrap();
        state.check(&LifespanSend::ShutdownComplete).unwrap();

        assert_eq!(state.phase(), LifespanPhase::Finished);
    }

    #[test]
    fn shutdown_answer_before_startup_is_rejected() {
        let mut state = LifespanProtocolState::new();

        let error = state.check(&LifespanSend::ShutdownComplete).unwrap_err();

        assert!(matches!(
            error,
            ProtocolError::UnexpectedMessage {
                received: "lifespan.shutdown.complete",
                ..
            }
        ));
    }

    #[test]
    fn failure_ends_the_protocol() {
        let mut state = LifespanProtocolState::new();
        state
            .check(&LifespanSend::StartupFailed {
                message: "db down".into(),
            })
            .unwrap();

        let error = state.check(&LifespanSend::StartupComplete).unwrap_err();

        assert_eq!(
            error,
            ProtocolError::AfterCompletion {
                received: "lifespan.startup.complete"
            }
        );
    }

    #[test]
    fn double_startup_answer_is_rejected() {
        let mut state = LifespanProtocolState::new();
        state.check(&LifespanSend::StartupComplete).unwrap();

        assert!(state.check(&LifespanSend::StartupComplete).is_err());
    }
}
