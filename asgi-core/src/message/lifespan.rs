//! `lifespan.*` messages.

/// A message a lifespan app receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifespanReceive {
    /// `lifespan.startup`: set up, then answer complete or failed.
    Startup,
    /// `lifespan.shutdown`: the server has stopped serving; clean up, then answer.
    Shutdown,
}

impl LifespanReceive {
    /// The ASGI `type` string.
    pub fn kind(&self) -> &'static str {
        match self {
            LifespanReceive::Startup => "lifespan.startup",
            LifespanReceive::Shutdown => "lifespan.shutdown",
        }
    }
}

/// A message a lifespan app sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifespanSend {
    /// `lifespan.startup.complete`: the server may start accepting connections.
    StartupComplete,
    /// `lifespan.startup.failed`: the server logs `message` and exits.
    StartupFailed {
        /// `message`.
        message: String,
    },
    /// `lifespan.shutdown.complete`: the server may exit.
    ShutdownComplete,
    /// `lifespan.shutdown.failed`: the server logs `message` and exits.
    ShutdownFailed {
        /// `message`.
        message: String,
    },
}

impl LifespanSend {
    /// The ASGI `type` string.
    pub fn kind(&self) -> &'static str {
        match self {
            LifespanSend::StartupComplete => "lifespan.startup.complete",
            LifespanSend::StartupFailed { .. } => "lifespan.startup.failed",
            LifespanSend::ShutdownComplete => "lifespan.shutdown.complete",
            LifespanSend::ShutdownFailed { .. } => "lifespan.shutdown.failed",
        }
    }
}
