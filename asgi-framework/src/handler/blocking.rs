//! Blocking handlers: sync fns run on the blocking pool, never on the event loop.

use std::fmt;

use super::{Handler, HandlerFuture, all_arities, extract_args};
use crate::error::Error;
use crate::extract::{FromRequest, FromRequestParts, ParamInfo};
use crate::request::Request;
use crate::response::{IntoResponse, Response};

/// A sync function marked to run on the application's blocking pool.
///
/// Made by [`blocking`]. Extractors still run on the event loop (they may
/// await the body); only the function itself, and the conversion of its
/// result into a response, run on a pool thread.
#[derive(Clone, Copy)]
pub struct Blocking<F> {
    f: F,
}

impl<F> fmt::Debug for Blocking<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blocking").finish_non_exhaustive()
    }
}

/// Marks a sync function as a handler that runs on the blocking pool.
///
/// Rust cannot tell a blocking function from a quick one (Starlette checks
/// `async def`), so the route says it: `get(blocking(report))`. The pool is
/// bounded (40 threads by default, `Application::blocking_threads` to
/// change it); when every thread is busy, calls wait in a queue while the
/// event loop keeps serving other requests. A panic in the function gives a
/// 500 and leaves the pool and other requests untouched.
///
/// # Example
///
/// ```
/// use asgi_framework::{Json, Query, Router, blocking, get};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Wait { ms: u64 }
///
/// fn block(Query(wait): Query<Wait>) -> Json<u64> {
///     std::thread::sleep(std::time::Duration::from_millis(wait.ms));
///     Json(wait.ms)
/// }
///
/// let router = Router::new().route("/block", get(blocking(block)));
/// ```
pub fn blocking<F>(f: F) -> Blocking<F> {
    Blocking { f }
}

/// Marks the blocking impls of [`Handler`], apart from the async ones.
#[derive(Debug, Clone, Copy)]
pub enum IsBlocking {}

fn panicked(error: crate::pool::BlockingError) -> Response {
    Error::from(error).into_response()
}

impl<F, Res> Handler<(IsBlocking,)> for Blocking<F>
where
    F: FnOnce() -> Res + Clone + Send + Sync + 'static,
    Res: IntoResponse + 'static,
{
    fn call(self, request: Request) -> HandlerFuture {
        let pool = request.blocking_pool().clone();
        Box::pin(async move {
            let f = self.f;
            match pool.run(move || f().into_response()).await {
                Ok(response) => response,
                Err(error) => panicked(error),
            }
        })
    }
}

macro_rules! impl_blocking {
    ($($part:ident),*; $last:ident) => {
        #[allow(non_snake_case, unused_mut)]
        impl<F, Res, M, $($part,)* $last> Handler<(IsBlocking, M, $($part,)* $last,)> for Blocking<F>
        where
            F: FnOnce($($part,)* $last) -> Res + Clone + Send + Sync + 'static,
            Res: IntoResponse + 'static,
            M: 'static,
            $($part: FromRequestParts,)*
            $last: FromRequest<M>,
        {
            fn call(self, request: Request) -> HandlerFuture {
                let pool = request.blocking_pool().clone();
                let mut slot = Some(request);
                Box::pin(async move {
                    extract_args!(slot; $($part),*; $last, M);
                    let f = self.f;
                    let job = move || f($($part,)* $last).into_response();
                    match pool.run(job).await {
                        Ok(response) => response,
                        Err(error) => panicked(error),
                    }
                })
            }

            fn describe() -> Vec<ParamInfo> {
                let mut params = Vec::new();
                $(params.extend($part::describe());)*
                params.extend(<$last as FromRequest<M>>::describe());
                params
            }
        }
    };
}

all_arities!(impl_blocking);
