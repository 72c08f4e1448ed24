//! Exception handlers: answer errors by type or by status (Starlette's `exception_handlers`).

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use asgi_core::HttpScope;
use http::StatusCode;

use crate::error::HttpError;
use crate::response::{IntoResponse, Response};

type TypeHandler =
    Arc<dyn Fn(&HttpScope, &(dyn std::error::Error + 'static)) -> Option<Response> + Send + Sync>;
type StatusHandler = Arc<dyn Fn(&HttpScope, &HttpError) -> Response + Send + Sync>;

/// The handlers an application registered, looked up for each error response.
#[derive(Clone, Default)]
pub(crate) struct ExceptionHandlers {
    by_type: Vec<(TypeId, TypeHandler)>,
    by_status: HashMap<StatusCode, StatusHandler>,
}

impl ExceptionHandlers {
    pub(crate) fn is_empty(&self) -> bool {
        self.by_type.is_empty() && self.by_status.is_empty()
    }

    pub(crate) fn add_type<E, F, R>(&mut self, handler: F)
    where
        E: std::error::Error + 'static,
        F: Fn(&HttpScope, &E) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        let erased: TypeHandler = Arc::new(move |scope, error| {
            error
                .downcast_ref::<E>()
                .map(|error| handler(scope, error).into_response())
        });
        self.by_type.retain(|(id, _)| *id != TypeId::of::<E>());
        self.by_type.push((TypeId::of::<E>(), erased));
    }

    pub(crate) fn add_status<F, R>(&mut self, status: StatusCode, handler: F)
    where
        F: Fn(&HttpScope, &HttpError) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.by_status.insert(
            status,
            Arc::new(move |scope, error| handler(scope, error).into_response()),
        );
    }

    /// Replaces an error response by what a matching handler makes of its error.
    ///
    /// Handlers by type are tried first (as Starlette looks up the class
    /// before the status), then by the response's status.
    pub(crate) fn apply(&self, scope: &HttpScope, response: Response) -> Response {
        let Some(cause) = response.error().cloned() else {
            return response;
        };
        let error: &(dyn std::error::Error + 'static) = &*cause;
        for (_, handler) in &self.by_type {
            if let Some(replaced) = handler(scope, error) {
                return replaced;
            }
        }
        if let Some(handler) = self.by_status.get(&response.status()) {
            let http_error = error
                .downcast_ref::<HttpError>()
                .cloned()
                .unwrap_or_else(|| HttpError::new(response.status()));
            return handler(scope, &http_error);
        }
        response
    }
}

impl fmt::Debug for ExceptionHandlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExceptionHandlers")
            .field("by_type", &self.by_type.len())
            .field("by_status", &self.by_status.keys().collect::<Vec<_>>())
            .finish()
    }
}
