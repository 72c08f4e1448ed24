//! The last line of defence: Starlette's `ServerErrorMiddleware`.

use std::fmt::{self, Write as _};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use asgi_core::{
    App, AppFuture, BoxError, HttpScope, HttpSend, Receiver, Scope, SendError, SendEvent, Sender,
    SharedApp,
};
use futures_util::FutureExt as _;
use http::StatusCode;
use http::header::{self, HeaderValue};

use super::Middleware;
use super::reply::plain_text;
use super::rewrite::rewrite_sender;
use crate::response::Response;

/// Turns an error or panic that escapes the app into a 500.
///
/// The application already answers failing and panicking *handlers* with a
/// 500 (and its exception handlers may answer instead); this middleware
/// catches what escapes everything else: other middleware, mounted raw
/// apps, a panic while a response is built. Add it last, so it is the
/// outermost layer.
///
/// If nothing was sent yet, the client gets `500 Internal Server Error` as
/// plain text, or with [`debug`](Self::debug) an HTML page with the error
/// and its chain of causes (never turn that on in production: it shows
/// internals). The error is logged with `tracing` and the app counts as
/// finished. If the response had already started, the error is returned to
/// the server, which closes the connection: the status cannot be changed.
///
/// # Example
///
/// ```
/// use asgi_framework::middleware::ServerErrors;
///
/// let errors = ServerErrors::new().debug(cfg!(debug_assertions));
///
/// let app = asgi_framework::Application::new()
///     .route("/", asgi_framework::get(|| async { "hi" }))
///     .layer(errors);
/// # let _: &dyn asgi_core::App = &app;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerErrors {
    debug: bool,
}

impl ServerErrors {
    /// Plain-text 500s.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the 500 is an HTML page with the error chain (off by default).
    #[must_use]
    pub fn debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }
}

impl Middleware for ServerErrors {
    fn wrap(self, app: SharedApp) -> SharedApp {
        Arc::new(ServerErrorApp {
            debug: self.debug,
            inner: app,
        })
    }
}

/// A panic that escaped the app, as an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPanicked {
    message: String,
}

impl AppPanicked {
    /// The panic message (or a placeholder for a non-string payload).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for AppPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the app panicked: {}", self.message)
    }
}

impl std::error::Error for AppPanicked {}

struct ServerErrorApp {
    debug: bool,
    inner: SharedApp,
}

impl fmt::Debug for ServerErrorApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerErrorApp")
            .field("debug", &self.debug)
            .finish_non_exhaustive()
    }
}

impl App for ServerErrorApp {
    fn call(&self, scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
        let Scope::Http(http) = &scope else {
            return self.inner.call(scope, receive, send);
        };
        let request = http.clone();
        let started = Arc::new(AtomicBool::new(false));
        let seen = started.clone();
        let watched = rewrite_sender(
            send.clone(),
            move |event: SendEvent, out: &mut Vec<SendEvent>| {
                if matches!(event, SendEvent::Http(HttpSend::ResponseStart { .. })) {
                    seen.store(true, Ordering::Release);
                }
                out.push(event);
                Ok::<(), SendError>(())
            },
        );
        let debug = self.debug;
        // Calling the inner app may itself panic (before any future exists).
        let future = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.inner.call(scope, receive, watched)
        }));
        Box::pin(async move {
            let outcome = match future {
                Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            let error: BoxError = match outcome {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(error)) => error,
                Err(panic) => Box::new(AppPanicked {
                    message: crate::panic::message(panic.as_ref()),
                }),
            };
            let disconnected = error
                .downcast_ref::<SendError>()
                .is_some_and(SendError::is_disconnected);
            if started.load(Ordering::Acquire) || disconnected {
                return Err(error);
            }
            tracing::error!(error = %error, method = %request.method, path = request.path(), "unhandled error; answering 500");
            error_response(debug, &request, &*error)
                .send(&send, &request.extensions)
                .await
        })
    }
}

fn error_response(
    debug: bool,
    request: &HttpScope,
    error: &(dyn std::error::Error + 'static),
) -> Response {
    if !debug {
        return plain_text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    }
    let mut response = Response::new(debug_page(request, error));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().push(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// The debug page: the request line, the error and each of its causes, HTML-escaped.
fn debug_page(request: &HttpScope, error: &(dyn std::error::Error + 'static)) -> String {
    let mut page = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>500 Internal Server Error</title>\
         <style>body{font-family:sans-serif;margin:2em}code,li{font-family:monospace}</style></head>\n<body>\n\
         <h1>500 Internal Server Error</h1>\n",
    );
    let _ = writeln!(
        page,
        "<p><code>{} {}</code></p>",
        escape(request.method.as_str()),
        escape(request.path())
    );
    let _ = writeln!(page, "<h2>{}</h2>", escape(&error.to_string()));
    let mut source = error.source();
    if source.is_some() {
        page.push_str("<h3>Caused by</h3>\n<ol>\n");
        while let Some(cause) = source {
            let _ = writeln!(page, "<li>{}</li>", escape(&cause.to_string()));
            source = cause.source();
        }
        page.push_str("</ol>\n");
    }
    let _ = writeln!(page, "<pre>{}</pre>", escape(&format!("{error:#?}")));
    page.push_str("</body></html>\n");
    page
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("loading <config> failed")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn debug_page_lists_the_chain_escaped() {
        let request = HttpScope::new(Method::GET, "/x");
        let error = Outer(std::io::Error::other("disk on fire"));

        let page = debug_page(&request, &error);

        assert!(page.contains("loading &lt;config&gt; failed"), "{page}");
        assert!(page.contains("<li>disk on fire</li>"), "{page}");
        assert!(page.contains("<code>GET /x</code>"), "{page}");
    }
}
