//! The ASGI hello world against the bare interface: no framework.
//!
//! Run with: `cargo run -p examples --bin hello_raw` (then `curl localhost:8000/`).
//!
//! Three things, each the way an ASGI app does it in Python:
//! - `GET /` (any path but `/echo`): `Hello, world!`;
//! - `POST /echo`: reads the request body through `receive`, chunk by chunk,
//!   and sends it back as it arrives (streaming both ways);
//! - the lifespan protocol: startup puts a greeting into the lifespan state,
//!   and every request reads it back from `scope.state`.
//!
//! It takes every asgi-server option (`--port`, `--lifespan`, `--workers`, ...).

use std::process::ExitCode;

use asgi_core::{
    App, Bytes, Headers, HttpReceive, HttpSend, LifespanReceive, LifespanScope, LifespanSend,
    ReceiveEvent, Receiver, Scope, Sender, State, app_fn,
};
use http::{HeaderValue, Method, StatusCode, header};

/// What startup puts into the lifespan state: the response body, built once.
#[derive(Debug)]
struct Greeting(Bytes);

fn app() -> impl App {
    app_fn(|scope, receive, send| async move {
        // Each handler gets only the parts of the scope it uses: the future
        // boxed per request stays small (a few hundred bytes, not kilobytes).
        match scope {
            Scope::Http(scope) if scope.method == Method::POST && scope.path() == "/echo" => {
                echo(scope.headers, receive, send).await
            }
            Scope::Http(scope) => hello(scope.state, send).await,
            Scope::Lifespan(scope) => lifespan(scope, receive, send).await,
            Scope::WebSocket(_) => Err("this app does not speak websocket".into()),
        }
    })
}

/// `Hello, world!`: the greeting startup put into the lifespan state.
async fn hello(state: State, send: Sender) -> Result<(), asgi_core::BoxError> {
    // Built at startup and shared (a reference count, no copy); without
    // lifespan (`--lifespan off`) the same text from a static.
    let body = state.get::<Greeting>().map_or_else(
        || Bytes::from_static(b"Hello, world!"),
        |greeting| greeting.0.clone(),
    );
    // No `content-length`: a body sent in one message is framed by the
    // server, which sets the length itself.
    let headers = Headers::new().with(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    send.send(HttpSend::start(StatusCode::OK, headers)).await?;
    send.send(HttpSend::body(body)).await?;
    Ok(())
}

/// Streams the request body back as it arrives: no buffering of the whole body.
async fn echo(
    request_headers: Headers,
    receive: Receiver,
    send: Sender,
) -> Result<(), asgi_core::BoxError> {
    let content_type = request_headers
        .get("content-type")
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let mut headers = Headers::new().with(header::CONTENT_TYPE, content_type);
    if let Some(length) = request_headers.get("content-length") {
        headers.push(header::CONTENT_LENGTH, length.clone());
    }
    send.send(HttpSend::start(StatusCode::OK, headers)).await?;
    loop {
        match receive.receive().await? {
            ReceiveEvent::Http(HttpReceive::Request { body, more_body }) => {
                let event = HttpSend::ResponseBody { body, more_body };
                send.send(event).await?;
                if !more_body {
                    return Ok(());
                }
            }
            // The client left mid-body: nothing more to do.
            _ => return Ok(()),
        }
    }
}

async fn lifespan(
    scope: LifespanScope,
    receive: Receiver,
    send: Sender,
) -> Result<(), asgi_core::BoxError> {
    loop {
        match receive.receive().await? {
            ReceiveEvent::Lifespan(LifespanReceive::Startup) => {
                let greeting = "Hello";
                scope
                    .state
                    .insert(Greeting(format!("{greeting}, world!").into()));
                tracing::info!("hello_raw: startup complete");
                send.send(LifespanSend::StartupComplete).await?;
            }
            ReceiveEvent::Lifespan(LifespanReceive::Shutdown) => {
                tracing::info!("hello_raw: shutdown complete");
                send.send(LifespanSend::ShutdownComplete).await?;
                return Ok(());
            }
            other => return Err(format!("unexpected {}", other.kind()).into()),
        }
    }
}

fn main() -> ExitCode {
    asgi_server::run(app())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use asgi_core::testing::Communicator;
    use asgi_core::{HttpScope, LifespanState, SendEvent};

    use super::*;

    const WAIT: Duration = Duration::from_secs(1);

    async fn body_of(comm: &mut Communicator) -> (StatusCode, Vec<u8>) {
        let SendEvent::Http(HttpSend::ResponseStart { status, .. }) =
            comm.receive_output(WAIT).await.unwrap()
        else {
            panic!("expected http.response.start");
        };
        let mut body = Vec::new();
        loop {
            match comm.receive_output(WAIT).await.unwrap() {
                SendEvent::Http(HttpSend::ResponseBody {
                    body: chunk,
                    more_body,
                }) => {
                    body.extend_from_slice(&chunk);
                    if !more_body {
                        return (status, body);
                    }
                }
                other => panic!("unexpected {}", other.kind()),
            }
        }
    }

    #[tokio::test]
    async fn get_says_hello() {
        let mut comm = Communicator::new(app(), Scope::Http(HttpScope::new(Method::GET, "/")));
        comm.send_input(HttpReceive::request(""));

        let (status, body) = body_of(&mut comm).await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, b"Hello, world!");
    }

    #[tokio::test]
    async fn echo_streams_every_chunk_back() {
        let mut comm = Communicator::new(app(), Scope::Http(HttpScope::new(Method::POST, "/echo")));
        comm.send_input(HttpReceive::Request {
            body: Bytes::from_static(b"ab"),
            more_body: true,
        });
        comm.send_input(HttpReceive::request("cd"));

        let (status, body) = body_of(&mut comm).await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, b"abcd");
        comm.wait(WAIT).await.unwrap();
    }

    #[tokio::test]
    async fn lifespan_fills_the_state() {
        let state = LifespanState::new();
        let mut comm = Communicator::new(app(), Scope::Lifespan(LifespanScope::new(state.clone())));

        comm.send_input(LifespanReceive::Startup);
        let started = comm.receive_output(WAIT).await.unwrap();
        comm.send_input(LifespanReceive::Shutdown);
        let stopped = comm.receive_output(WAIT).await.unwrap();

        assert_eq!(started.kind(), "lifespan.startup.complete");
        assert_eq!(stopped.kind(), "lifespan.shutdown.complete");
        let greeting = state.get::<Greeting>().map(|g| g.0.clone());
        assert_eq!(greeting.as_deref(), Some(&b"Hello, world!"[..]));
        comm.wait(WAIT).await.unwrap();
    }

    #[tokio::test]
    async fn websocket_scope_is_refused() {
        let mut comm =
            Communicator::new(app(), Scope::WebSocket(asgi_core::WebSocketScope::new("/")));

        assert!(comm.wait(WAIT).await.is_err());
    }
}
