//! Handlers: async fns (or [`blocking`] sync fns) whose arguments are extractors.

mod blocking;

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use asgi_core::AppFuture;

use crate::dispatch::Finish;
use crate::extract::{FromRequest, FromRequestParts, ParamInfo};
use crate::request::Request;
use crate::response::{IntoResponse, Response};

pub use self::blocking::{Blocking, blocking};

/// The future a handler returns: always a response (rejections included).
pub type HandlerFuture = Pin<Box<dyn Future<Output = Response> + Send + 'static>>;

/// Functions that can handle a request.
///
/// Implemented for `async fn`s taking up to 8 extractors, where all
/// arguments but the last are [`FromRequestParts`] and the last may be any
/// [`FromRequest`], returning anything [`IntoResponse`]; and for sync fns
/// wrapped in [`blocking`]. `T` is a marker that lets both coexist; callers
/// never name it.
///
/// An extractor that fails answers for the handler (422, 415, 413...), and
/// the handler does not run.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handler",
    note = "a handler is an `async fn` whose arguments are extractors (at most 8, only the last may consume the body) and whose output implements `IntoResponse`; wrap a sync fn in `blocking(..)`"
)]
pub trait Handler<T>: Clone + Send + Sync + 'static {
    /// Runs the handler on `request`.
    fn call(self, request: Request) -> HandlerFuture;

    /// What [`call`](Self::call) boxes, unboxed: the router wraps it in the
    /// one box that also sends the response, instead of boxing it twice.
    /// Not for use outside the crate; the default boxes through `call`.
    #[doc(hidden)]
    fn call_inline(self, request: Request) -> impl Future<Output = Response> + Send + 'static
    where
        Self: Sized,
    {
        self.call(request)
    }

    /// The parameters the handler's extractors read, for documentation.
    fn describe() -> Vec<ParamInfo> {
        Vec::new()
    }
}

impl<F, Fut, Res> Handler<((),)> for F
where
    F: FnOnce() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Res> + Send + 'static,
    Res: IntoResponse,
{
    fn call(self, request: Request) -> HandlerFuture {
        Box::pin(self.call_inline(request))
    }

    // Not an `async fn`: that would capture `Res`, which has no `'static` bound.
    #[allow(clippy::manual_async_fn)]
    fn call_inline(self, _request: Request) -> impl Future<Output = Response> + Send + 'static {
        async move { self().await.into_response() }
    }
}

/// Extracts each argument in order from `$slot`, an `Option<Request>`
/// holding the request (taken only by a last argument that consumes it).
///
/// As FastAPI does, 422 validation errors of all arguments are reported
/// together; any other rejection (401, 413, 415...) answers at once.
macro_rules! extract_args {
    ($slot:ident; $($part:ident),*; $last:ident, $marker:ident) => {
        let mut invalid = $crate::handler::Invalid::default();
        $(
            let $part = match $part::from_request_parts($crate::handler::request_in(&mut $slot)).await {
                Ok(value) => Some(value),
                Err(rejection) => {
                    if let Some(response) = invalid.record(rejection.into_response()) {
                        return response;
                    }
                    None
                }
            };
        )*
        let $last = match <$last as FromRequest<$marker>>::from_request_in(&mut $slot).await {
            Ok(value) => Some(value),
            Err(rejection) => {
                if let Some(response) = invalid.record(rejection.into_response()) {
                    return response;
                }
                None
            }
        };
        if let Some(response) = invalid.into_response() {
            return response;
        }
        // Every extractor succeeded, or `invalid` answered above.
        let ($(Some($part),)* Some($last),) = ($($part,)* $last,) else {
            return $crate::error::HttpError::internal().into_response();
        };
    };
}
pub(crate) use extract_args;

/// The request in a handler's slot, which holds it until the last argument.
pub(crate) fn request_in(slot: &mut Option<Request>) -> &mut Request {
    slot.as_mut()
        .expect("only the last argument takes the request")
}

macro_rules! impl_handler {
    ($($part:ident),*; $last:ident) => {
        #[allow(non_snake_case, unused_mut)]
        impl<F, Fut, Res, M, $($part,)* $last> Handler<(M, $($part,)* $last,)> for F
        where
            F: FnOnce($($part,)* $last) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = Res> + Send + 'static,
            Res: IntoResponse,
            M: 'static,
            $($part: FromRequestParts,)*
            $last: FromRequest<M>,
        {
            fn call(self, request: Request) -> HandlerFuture {
                Box::pin(self.call_inline(request))
            }

            fn call_inline(self, request: Request) -> impl Future<Output = Response> + Send + 'static {
                // Made outside the future, so that the future holds it once,
                // in place (a variable made inside would be a second copy).
                let mut slot = Some(request);
                async move {
                    extract_args!(slot; $($part),*; $last, M);
                    self($($part,)* $last).await.into_response()
                }
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

/// Calls `$m!` once per arity, 1 to 8 arguments.
macro_rules! all_arities {
    ($m:ident) => {
        $m!(; T1);
        $m!(T1; T2);
        $m!(T1, T2; T3);
        $m!(T1, T2, T3; T4);
        $m!(T1, T2, T3, T4; T5);
        $m!(T1, T2, T3, T4, T5; T6);
        $m!(T1, T2, T3, T4, T5, T6; T7);
        $m!(T1, T2, T3, T4, T5, T6, T7; T8);
    };
}
pub(crate) use all_arities;

all_arities!(impl_handler);

/// The validation errors of a handler's arguments, collected across extractors.
#[derive(Default)]
pub(crate) struct Invalid {
    errors: Option<crate::extract::ValidationError>,
}

impl Invalid {
    /// Keeps a 422's errors; gives back any other rejection to answer at once.
    pub(crate) fn record(&mut self, response: Response) -> Option<Response> {
        let errors = response
            .error()
            .and_then(|error| error.downcast_ref::<crate::extract::ValidationError>())
            .cloned();
        match (errors, &mut self.errors) {
            (Some(errors), Some(all)) => {
                all.extend(errors);
                None
            }
            (Some(errors), slot @ None) => {
                *slot = Some(errors);
                None
            }
            (None, _) => Some(response),
        }
    }

    /// The combined 422, if any argument was invalid.
    pub(crate) fn into_response(self) -> Option<Response> {
        self.errors.map(IntoResponse::into_response)
    }
}

/// A type-erased handler, as routes store them.
pub(crate) trait ErasedHandler: Send + Sync + 'static {
    /// Runs the handler and sends its response, in one boxed future.
    fn serve(&self, request: Request, finish: Finish) -> AppFuture;
}

struct Erased<H, T> {
    handler: H,
    marker: PhantomData<fn() -> T>,
}

impl<H: Handler<T>, T: 'static> ErasedHandler for Erased<H, T> {
    fn serve(&self, request: Request, finish: Finish) -> AppFuture {
        // Generic here, so the handler's future sits inside the one box
        // with the sending instead of in a box of its own.
        Box::pin(finish.run(self.handler.clone().call_inline(request)))
    }
}

/// A shared, type-erased handler, with what its extractors read.
#[derive(Clone)]
pub(crate) struct BoxedHandler(Arc<dyn ErasedHandler>, fn() -> Vec<ParamInfo>);

impl BoxedHandler {
    pub(crate) fn new<H: Handler<T>, T: 'static>(handler: H) -> Self {
        let erased = Arc::new(Erased {
            handler,
            marker: PhantomData,
        });
        Self(erased, H::describe)
    }

    /// The parameters the handler's extractors read.
    pub(crate) fn describe(&self) -> Vec<ParamInfo> {
        (self.1)()
    }

    pub(crate) fn serve(&self, request: Request, finish: Finish) -> AppFuture {
        self.0.serve(request, finish)
    }
}

impl fmt::Debug for BoxedHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Handler")
    }
}
