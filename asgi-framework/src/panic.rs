//! Turning caught panics into messages.

use std::any::Any;

/// The message of a caught panic payload, if it was a string.
pub(crate) fn message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// A handler panicked: answered with a 500, the panic message kept for logs
/// and for a 500 exception handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HandlerPanic(pub(crate) String);

impl std::fmt::Display for HandlerPanic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "handler panicked: {}", self.0)
    }
}

impl std::error::Error for HandlerPanic {}
