//! What every HTTP version does around one app call: the limits, the log of
//! how the app ended, and the access log line.

use std::any::Any;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use asgi_core::{BoxError, Headers, HttpVersion, SendError};
use http::StatusCode;
use http::header::{self, HeaderName, HeaderValue};

use crate::protocol::{ServiceContext, panic_message};

/// The name sent in `server:` unless `--no-server-header`.
pub(crate) const SERVER_NAME: &str = "asgi-server";

/// How an app call ended: its result, or the panic payload.
pub(crate) type Outcome = Result<Result<(), BoxError>, Box<dyn Any + Send>>;

/// Decrements a counter when dropped.
pub(crate) struct Decrement<'a>(pub(crate) &'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts one open connection until the guard drops.
pub(crate) fn count_connection(ctx: &ServiceContext) -> Decrement<'_> {
    ctx.connections.fetch_add(1, Ordering::Relaxed);
    Decrement(&ctx.connections)
}

/// Counts one running app call until the guard drops (only with `--limit-concurrency`).
pub(crate) fn count_in_flight(ctx: &ServiceContext) -> Option<Decrement<'_>> {
    ctx.config.limit_concurrency.map(|_| {
        ctx.in_flight.fetch_add(1, Ordering::Relaxed);
        Decrement(&ctx.in_flight)
    })
}

/// Counts one in-flight request, if `--limit-concurrency` is set: returns
/// whether it did, so that the owner calls [`leave_in_flight`] once done.
/// (For a request whose owner is moved between tasks, where the borrowing
/// guard of [`count_in_flight`] cannot go.)
pub(crate) fn enter_in_flight(ctx: &ServiceContext) -> bool {
    let counted = ctx.config.limit_concurrency.is_some();
    if counted {
        ctx.in_flight.fetch_add(1, Ordering::Relaxed);
    }
    counted
}

/// Ends what [`enter_in_flight`] counted.
pub(crate) fn leave_in_flight(ctx: &ServiceContext) {
    ctx.in_flight.fetch_sub(1, Ordering::Relaxed);
}

/// Whether `--limit-concurrency` says to turn this request away.
pub(crate) fn over_concurrency_limit(ctx: &ServiceContext) -> bool {
    ctx.config.limit_concurrency.is_some_and(|limit| {
        ctx.connections.load(Ordering::Relaxed) > limit
            || ctx.in_flight.load(Ordering::Relaxed) >= limit
    })
}

/// Counts a request for `--limit-max-requests`, starting a graceful shutdown
/// once the limit is reached.
pub(crate) fn count_request(ctx: &ServiceContext) {
    if let Some(max) = ctx.config.limit_max_requests
        // `==`: fire once. Under the supervisor the trigger asks for a
        // replacement and the worker keeps serving until it is ready.
        && ctx.requests.fetch_add(1, Ordering::Relaxed) + 1 == max
    {
        tracing::warn!("maximum request limit of {max} exceeded; shutting down");
        ctx.trigger.trigger();
    }
}

/// Logs how the app ended, the way Uvicorn words it.
///
/// `finished`: the response completed or the client left; `started`: the
/// response head went out.
pub(crate) fn report(outcome: &Outcome, finished: bool, started: bool) {
    match outcome {
        Ok(Ok(())) if finished => {}
        Ok(Ok(())) if !started => {
            tracing::error!("ASGI callable returned without starting response.")
        }
        Ok(Ok(())) => tracing::error!("ASGI callable returned without completing response."),
        Ok(Err(error)) => {
            if error
                .downcast_ref::<SendError>()
                .is_some_and(SendError::is_disconnected)
            {
                tracing::debug!("ASGI application stopped: the client disconnected");
            } else {
                tracing::error!("Exception in ASGI application: {error}");
            }
        }
        Err(panic) => {
            let message = panic_message(&**panic);
            tracing::error!("ASGI application panicked: {message}");
        }
    }
}

/// The fields every response gets besides the app's: `server` (unless the
/// app sent its own) and the other `--header` fields.
///
/// As on HTTP/1.1 (`encode_fixed_headers`): a `server` among the `--header`
/// fields replaces the built-in one, which `--no-server-header` leaves out.
pub(crate) fn extra_headers(
    ctx: &ServiceContext,
    app_has_server: bool,
) -> impl Iterator<Item = (HeaderName, HeaderValue)> + '_ {
    let headers = &ctx.config.headers;
    let server = if app_has_server {
        None
    } else {
        headers
            .iter()
            .rev()
            .find(|(name, _)| name == header::SERVER)
            .map(|(_, value)| value.clone())
            .or_else(|| {
                ctx.config
                    .server_header
                    .then(|| HeaderValue::from_static(SERVER_NAME))
            })
    };
    server
        .map(|value| (header::SERVER, value))
        .into_iter()
        .chain(
            headers
                .iter()
                .filter(|(name, _)| name != header::SERVER)
                .cloned(),
        )
}

/// Whether access lines are wanted: `--access-log` and a subscriber that
/// would show them (so that nothing is cloned for a line nobody sees).
pub(crate) fn access_log_enabled(ctx: &ServiceContext) -> bool {
    ctx.config.access_log && tracing::enabled!(target: "asgi_server::access", tracing::Level::INFO)
}

/// Whether the request carried `te: trailers`: the client accepts response
/// trailers, so the scope gets the `http.response.trailers` extension.
pub(crate) fn accepts_trailers(headers: &Headers) -> bool {
    // `HeaderName` comparison: a tag compare for a standard name like `te`,
    // where a search by string compares every field's name as text.
    headers
        .iter()
        .any(|(name, value)| *name == http::header::TE && te_has_trailers(value.as_bytes()))
}

/// Whether one `TE` field value lists `trailers`.
pub(crate) fn te_has_trailers(value: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"trailers"))
}

/// Logs the access line as Uvicorn words it: `127.0.0.1:51234 - "GET / HTTP/1.1" 200`.
///
/// `client` is the client as the app saw it (after proxy headers).
pub(crate) fn log_access(
    client: Option<SocketAddr>,
    method: &http::Method,
    target: &[u8],
    version: HttpVersion,
    status: StatusCode,
) {
    let client = match client {
        Some(addr) => addr.to_string(),
        None => String::from("-"),
    };
    tracing::info!(
        target: "asgi_server::access",
        "{client} - \"{method} {} HTTP/{version}\" {}",
        String::from_utf8_lossy(target),
        status.as_u16()
    );
}
