//! The server's error type.

use std::fmt;

use asgi_core::BoxError;

/// Why the server could not start or stopped with a failure.
///
/// Opaque: ask what kind it is with the `is_*` methods. The `Display` text
/// is for people and may change.
pub struct Error {
    kind: Kind,
    source: Option<BoxError>,
}

#[derive(Debug)]
enum Kind {
    Bind(String),
    Io,
    Config(String),
    Lifespan(String),
}

impl Error {
    pub(crate) fn bind(what: String, source: std::io::Error) -> Self {
        Self {
            kind: Kind::Bind(what),
            source: Some(source.into()),
        }
    }

    pub(crate) fn io(source: std::io::Error) -> Self {
        Self {
            kind: Kind::Io,
            source: Some(source.into()),
        }
    }

    pub(crate) fn config(message: String) -> Self {
        Self {
            kind: Kind::Config(message),
            source: None,
        }
    }

    pub(crate) fn lifespan(message: String) -> Self {
        Self {
            kind: Kind::Lifespan(message),
            source: None,
        }
    }

    /// Binding the listening socket failed (address in use, permission denied, ...).
    pub fn is_bind(&self) -> bool {
        matches!(self.kind, Kind::Bind(_))
    }

    /// Another I/O failure (building the runtime, say).
    pub fn is_io(&self) -> bool {
        matches!(self.kind, Kind::Io)
    }

    /// The settings are inconsistent or invalid.
    pub fn is_config(&self) -> bool {
        matches!(self.kind, Kind::Config(_))
    }

    /// The app failed lifespan startup (`lifespan.startup.failed`, or an error in `--lifespan on`).
    pub fn is_lifespan(&self) -> bool {
        matches!(self.kind, Kind::Lifespan(_))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Bind(what) => write!(f, "could not bind {what}")?,
            Kind::Io => f.write_str("I/O error")?,
            Kind::Config(message) => write!(f, "invalid configuration: {message}")?,
            Kind::Lifespan(message) => write!(f, "application startup failed: {message}")?,
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}
