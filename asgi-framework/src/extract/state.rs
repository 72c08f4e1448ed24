//! The [`State`] extractor: shared application state.

use std::ops::Deref;
use std::sync::Arc;

use super::{FromRequestParts, Rejection};
use crate::request::Request;

/// Application state of type `T`, shared by every request.
///
/// Found in the state set with `Application::state`, else in the lifespan
/// state a startup hook filled. Missing state is a programming error: 500.
///
/// # Example
///
/// ```
/// use asgi_framework::{Application, State, get};
///
/// struct Config { greeting: String }
///
/// async fn hello(State(config): State<Config>) -> String {
///     config.greeting.clone()
/// }
///
/// let app = Application::new()
///     .state(Config { greeting: "hi".into() })
///     .route("/", get(hello));
/// ```
#[derive(Debug)]
pub struct State<T>(pub Arc<T>);

impl<T> Clone for State<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Deref for State<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Send + Sync + 'static> FromRequestParts for State<T> {
    type Rejection = Rejection;

    async fn from_request_parts(request: &mut Request) -> Result<Self, Rejection> {
        request
            .app_state::<T>()
            .map(State)
            .ok_or(Rejection::MissingState(std::any::type_name::<T>()))
    }
}
