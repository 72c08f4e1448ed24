//! What an application shares with every request it serves.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use asgi_core::State;

use crate::pool::BlockingPool;
use crate::routing::path::PathPattern;

/// The application-wide context: typed state, the blocking pool, the body
/// limit and the named routes.
///
/// The application puts one into `scope.extensions.other` of every scope it
/// serves, so every [`Request`](crate::Request) made from that scope (inside
/// middleware too) finds it.
///
/// One `Arc` around the parts: each request clones the context, and one
/// atomic reference count per request costs less than one per part.
#[derive(Clone, Default)]
pub(crate) struct AppContext(Arc<ContextParts>);

/// What an [`AppContext`] holds (it derefs to this).
pub(crate) struct ContextParts {
    pub(crate) state: State,
    pub(crate) pool: BlockingPool,
    pub(crate) body_limit: Option<usize>,
    pub(crate) urls: UrlTable,
}

impl AppContext {
    pub(crate) fn new(parts: ContextParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppContext {
    type Target = ContextParts;

    fn deref(&self) -> &ContextParts {
        &self.0
    }
}

impl Default for ContextParts {
    fn default() -> Self {
        Self {
            state: State::new(),
            pool: BlockingPool::global(),
            body_limit: None,
            urls: UrlTable::default(),
        }
    }
}

impl fmt::Debug for AppContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppContext")
            .field("state", &self.state)
            .field("pool", &self.pool)
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

/// Named route patterns, for reverse URLs.
#[derive(Debug, Default)]
pub(crate) struct UrlTable {
    routes: HashMap<String, PathPattern>,
}

impl UrlTable {
    pub(crate) fn insert(&mut self, name: String, pattern: PathPattern) {
        self.routes.insert(name, pattern);
    }

    /// The path (without `root_path`) of route `name` with `params` filled in.
    pub(crate) fn path_for(&self, name: &str, params: &[(&str, &str)]) -> Result<String, UrlError> {
        let pattern = self.routes.get(name).ok_or_else(|| UrlError {
            name: name.to_owned(),
            reason: "no route has this name",
        })?;
        pattern.format(params).map_err(|reason| UrlError {
            name: name.to_owned(),
            reason,
        })
    }
}

/// Why a reverse URL could not be built (Starlette's `NoMatchFound`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError {
    name: String,
    reason: &'static str,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no URL for route {:?}: {}", self.name, self.reason)
    }
}

impl std::error::Error for UrlError {}
