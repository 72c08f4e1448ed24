//! The innermost app: routes a scope, runs the handler, answers errors and sends the response.

use asgi_core::{
    App, AppFuture, BoxError, HttpScope, Receiver, Scope, Sender, WebSocketScope, WebSocketSend,
};
use futures_util::FutureExt;
use futures_util::future::CatchUnwind;
use http::Method;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::context::AppContext;
use crate::error::Error;
use crate::exception::ExceptionHandlers;
use crate::lifespan::Lifespan;
use crate::panic::HandlerPanic;
use crate::pool::{BlockingPool, WithPool, request_pool};
use crate::request::Request;
use crate::response::{IntoResponse, Response};
use crate::routing::{Routed, RoutedWs, Router};

/// The router with what surrounds handlers: exception handlers, lifespan, the pool.
pub(crate) struct Dispatch {
    pub(crate) router: Router,
    pub(crate) exceptions: ExceptionHandlers,
    pub(crate) lifespan: Option<Lifespan>,
    pub(crate) pool: BlockingPool,
}

impl App for Dispatch {
    fn call(&self, scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
        match scope {
            Scope::Http(scope) => self.http(scope, receive, send, None),
            Scope::WebSocket(scope) => websocket(&self.router, &self.pool, scope, receive, send),
            Scope::Lifespan(scope) => match &self.lifespan {
                Some(lifespan) => {
                    let lifespan = lifespan.clone();
                    Box::pin(async move { lifespan.run(scope, receive, send).await })
                }
                None => Box::pin(async { Err("lifespan is handled by the application".into()) }),
            },
        }
    }
}

impl Dispatch {
    /// Serves an HTTP scope; `context` is the application's when it is not
    /// in `scope.extensions.other` (the application passes it directly when
    /// no middleware sits in between; see [`Router::route_http`]).
    pub(crate) fn http(
        &self,
        scope: HttpScope,
        receive: Receiver,
        send: Sender,
        context: Option<&AppContext>,
    ) -> AppFuture {
        http(
            &self.router,
            &self.exceptions,
            &self.pool,
            scope,
            receive,
            send,
            context,
        )
    }
}

fn http(
    router: &Router,
    exceptions: &ExceptionHandlers,
    pool: &BlockingPool,
    mut scope: HttpScope,
    receive: Receiver,
    send: Sender,
    mut context: Option<&AppContext>,
) -> AppFuture {
    let is_head = scope.method == Method::HEAD;
    // Sending needs only the flags, not the typed map: copy those.
    let mut extensions = asgi_core::Extensions::default();
    extensions.pathsend = scope.extensions.pathsend;
    extensions.zerocopysend = scope.extensions.zerocopysend;
    extensions.trailers = scope.extensions.trailers;
    // Exception handlers see the request's scope; keep a copy only if one
    // exists. That copy carries the application context, as it always has.
    let handlers = (!exceptions.is_empty()).then(|| {
        if let Some(context) = context.take() {
            scope.extensions.other.insert(context.clone());
        }
        Box::new((exceptions.clone(), scope.clone()))
    });
    let pool = request_pool(pool);
    match router.route_http(&scope) {
        Routed::Handler(methods, params) => {
            let finish = Finish {
                pool,
                handlers,
                is_head,
                send,
                extensions,
            };
            let Some(handler) = methods.handler(&scope.method) else {
                let response = methods.method_not_allowed();
                return Box::pin(finish.run(async move { response }));
            };
            // The one move of the scope: into the request, made as the
            // handler's argument.
            let mut request = match context {
                Some(context) => Request::with_context(scope, receive, context.clone(), params),
                None => Request::new(scope, receive).with_path_params(params),
            };
            if let Some(limit) = methods.route_body_limit() {
                request.set_body_limit(Some(limit));
            }
            handler.serve(request, finish)
        }
        Routed::Response(future) => Box::pin(
            Finish {
                pool,
                handlers,
                is_head,
                send,
                extensions,
            }
            .run(future),
        ),
        Routed::App(app, root_path) => {
            if let Some(root_path) = root_path {
                scope.root_path = root_path;
            }
            // A mounted app's requests find the application context in
            // the scope, as everywhere else.
            if let Some(context) = context {
                scope.extensions.other.insert(context.clone());
            }
            app.call(Scope::Http(scope), receive, send)
        }
    }
}

/// What happens to a handler's response: exception handlers, HEAD, sending.
pub(crate) struct Finish {
    /// `None`: the global pool (see [`request_pool`]).
    pool: Option<BlockingPool>,
    /// Boxed: it is rarely there, and the future that holds it stays small.
    handlers: Option<Box<(ExceptionHandlers, HttpScope)>>,
    is_head: bool,
    send: Sender,
    extensions: asgi_core::Extensions,
}

impl Finish {
    /// Runs `future` (caught, on the pool's context), then answers with its response.
    ///
    /// Not an `async fn`: see [`Serve`].
    pub(crate) fn run<F>(self, future: F) -> impl Future<Output = Result<(), BoxError>> + Send
    where
        F: Future<Output = Response> + Send,
    {
        let Finish {
            pool,
            handlers,
            is_head,
            send,
            extensions,
        } = self;
        let reply = Reply {
            handlers,
            is_head,
            send,
            pathsend: extensions.pathsend,
        };
        Serve {
            reply: Some(reply),
            deliver: Reply::deliver,
            phase: Phase::Handling {
                future: WithPool::new(pool, AssertUnwindSafe(future).catch_unwind()),
            },
        }
    }
}

/// What answers with a handler's response once it is ready.
struct Reply {
    handlers: Option<Box<(ExceptionHandlers, HttpScope)>>,
    is_head: bool,
    send: Sender,
    pathsend: bool,
}

impl Reply {
    /// Applies exception handlers and HEAD, then sends `response`.
    ///
    /// Not an `async fn`, which would hold the response twice: the
    /// future is the sending alone.
    fn deliver(self, mut response: Response) -> impl Future<Output = Result<(), BoxError>> + Send {
        if let Some(handlers) = self.handlers {
            let (exceptions, scope) = &*handlers;
            response = exceptions.apply(scope, response);
        }
        if self.is_head {
            response = response.into_head();
        }
        response.send_owned(self.send, self.pathsend)
    }
}

pin_project_lite::pin_project! {
    /// A handler's future, then the sending of its response: the future an
    /// HTTP request is served by, boxed once.
    ///
    /// Hand-written rather than an `async fn` awaiting the handler: such a
    /// future keeps its arguments apart from its locals, so the handler's
    /// future would be stored (and copied) twice, and beside the sending.
    /// Here both phases share their space, and the whole is small enough
    /// for the allocator's fast path.
    struct Serve<F, D, S> {
        reply: Option<Reply>,
        deliver: D,
        #[pin]
        phase: Phase<F, S>,
    }
}

pin_project_lite::pin_project! {
    #[project = PhaseProj]
    enum Phase<F, S> {
        /// The handler runs (panics caught, on the pool's context).
        Handling {
            #[pin]
            future: WithPool<CatchUnwind<AssertUnwindSafe<F>>>,
        },
        /// Its response is being sent.
        Sending {
            #[pin]
            future: S,
        },
    }
}

impl<F, D, S> Future for Serve<F, D, S>
where
    F: Future<Output = Response>,
    D: Fn(Reply, Response) -> S,
    S: Future<Output = Result<(), BoxError>>,
{
    type Output = Result<(), BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let PhaseProj::Handling { future } = this.phase.as_mut().project() {
            let response = match ready!(future.poll(cx)) {
                Ok(response) => response,
                Err(panic) => {
                    let message = crate::panic::message(panic.as_ref());
                    Error::from(HandlerPanic(message)).into_response()
                }
            };
            let reply = this
                .reply
                .take()
                .expect("the handler's response is sent once");
            let sending = (this.deliver)(reply, response);
            this.phase.set(Phase::Sending { future: sending });
        }
        match this.phase.project() {
            PhaseProj::Sending { future } => future.poll(cx),
            PhaseProj::Handling { .. } => unreachable!("the handler phase ends above"),
        }
    }
}

fn websocket(
    router: &Router,
    pool: &BlockingPool,
    scope: WebSocketScope,
    receive: Receiver,
    send: Sender,
) -> AppFuture {
    match router.route_ws(scope) {
        RoutedWs::Handler(handler, scope, params) => {
            let pool = request_pool(pool);
            Box::pin(async move {
                let run = handler.run(scope, receive, send, params);
                let caught = WithPool::new(pool, AssertUnwindSafe(run).catch_unwind()).await;
                caught.unwrap_or_else(|panic| {
                    let message = crate::panic::message(panic.as_ref());
                    tracing::error!(%message, "websocket handler panicked");
                    Err(HandlerPanic(message).into())
                })
            }) as AppFuture
        }
        RoutedWs::App(app, scope) => app.call(Scope::WebSocket(scope), receive, send),
        RoutedWs::NotFound => Box::pin(async move {
            // Starlette's WebSocketClose: a close before accept denies the handshake (403).
            send.send(WebSocketSend::close(1000)).await?;
            Ok::<(), BoxError>(())
        }),
    }
}

impl App for Router {
    /// Serves the router on its own (mounted, or outside an [`Application`](crate::Application)):
    /// no exception handlers and no lifespan; the blocking pool of the
    /// enclosing application, else the global one.
    fn call(&self, scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
        let exceptions = ExceptionHandlers::default();
        match scope {
            Scope::Http(scope) => {
                let pool = context_pool(&scope.extensions);
                http(self, &exceptions, &pool, scope, receive, send, None)
            }
            Scope::WebSocket(scope) => {
                let pool = context_pool(&scope.extensions);
                websocket(self, &pool, scope, receive, send)
            }
            Scope::Lifespan(_) => {
                Box::pin(async { Err("a bare Router does not handle lifespan".into()) })
            }
        }
    }
}

fn context_pool(extensions: &asgi_core::Extensions) -> BlockingPool {
    extensions
        .other
        .get::<crate::context::AppContext>()
        .map_or_else(BlockingPool::global, |context| context.pool.clone())
}
