//! The demo app: every route of the stack's contract (`shared/CONTRACT.md`).
//!
//! | route | what it shows |
//! |---|---|
//! | `GET /` | plain text |
//! | `GET /json` | a JSON response |
//! | `POST /echo` | the request body streamed back as it arrives, any size |
//! | `GET /items/{id}?q=STR` | typed path and query parameters; 422 in FastAPI's shape |
//! | `GET /sleep?ms=N` | an async handler awaiting a timer: the event loop stays free |
//! | `GET /block?ms=N` | a blocking handler on the blocking pool: the event loop stays free |
//! | `GET /stream?n=N` | a streamed (chunked) response |
//! | `GET /static/...` | files with `ETag`, `Last-Modified`, `Range` and `HEAD` |
//! | `WebSocket /ws` | echo of text and binary messages |
//!
//! Anything else is 404, and a known path with a wrong method 405 with `Allow`.

use std::path::PathBuf;
use std::time::Duration;

use asgi_framework::http::HeaderValue;
use asgi_framework::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use asgi_framework::{
    Application, Body, Json, Path, Query, Request, Response, StaticFiles, StreamBody,
    ValidationError, WebSocket, WsError, blocking, get, post, ws,
};
use serde::{Deserialize, Serialize};

use crate::validate::at_most;

#[cfg(test)]
mod tests;

/// The largest `ms` that `/sleep` and `/block` accept (one minute).
pub const MAX_MS: u64 = 60_000;
/// The largest `n` that `/stream` accepts.
pub const MAX_N: u64 = 10_000;
/// The pause between two chunks of `/stream`.
pub const CHUNK_PAUSE: Duration = Duration::from_millis(2);

/// The `static/` folder of this crate, found at build time so the binary
/// serves it from any working directory.
pub fn default_static_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static")
}

/// The demo application, serving static files from `static_dir`.
pub fn app(static_dir: impl Into<PathBuf>) -> Application {
    Application::new()
        .route("/", get(hello))
        .route("/json", get(hello_json))
        .route("/echo", post(echo))
        .route("/items/{id}", get(item))
        .route("/sleep", get(sleep))
        .route("/block", get(blocking(block)))
        .route("/stream", get(stream))
        .route("/ws", ws(ws_echo))
        .mount("/static", StaticFiles::new(static_dir))
}

async fn hello() -> &'static str {
    "Hello, world!"
}

/// The body of `/json`: a typed struct, not a `serde_json::Value` tree
/// (which allocates a map and its keys for every response).
#[derive(Debug, Serialize)]
struct Message {
    message: &'static str,
}

async fn hello_json() -> Json<Message> {
    Json(Message {
        message: "Hello, world!",
    })
}

/// Streams the body back chunk by chunk as it arrives: nothing is buffered,
/// so any size works. The length, when the client sent one, is kept.
async fn echo(mut request: Request) -> Response {
    let content_type = request
        .header_value("content-type")
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let length = request.header_value("content-length").cloned();
    let response =
        Response::new(Body::from_stream(request.stream())).header(CONTENT_TYPE, content_type);
    match length {
        Some(length) => response.header(CONTENT_LENGTH, length),
        None => response,
    }
}

/// The query of `/items/{id}`.
#[derive(Debug, Deserialize)]
struct ItemQuery {
    q: Option<String>,
}

/// The body of `/items/{id}`: `q` is `null` when absent.
#[derive(Debug, Serialize)]
struct Item {
    id: i64,
    q: Option<String>,
}

async fn item(Path(id): Path<i64>, Query(query): Query<ItemQuery>) -> Json<Item> {
    Json(Item { id, q: query.q })
}

/// The query of `/sleep` and `/block`.
#[derive(Debug, Deserialize)]
struct Wait {
    ms: u64,
}

/// The body of `/sleep` and `/block`.
#[derive(Debug, Serialize)]
struct Slept {
    slept_ms: u64,
}

/// Awaits a timer: the task is parked and the event loop serves others meanwhile.
async fn sleep(Query(wait): Query<Wait>) -> Result<Json<Slept>, ValidationError> {
    let ms = at_most("ms", wait.ms, MAX_MS)?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(Json(Slept { slept_ms: ms }))
}

/// Blocks its thread, which is fine here: `blocking(block)` runs it on the
/// blocking pool, never on the event loop.
fn block(Query(wait): Query<Wait>) -> Result<Json<Slept>, ValidationError> {
    let ms = at_most("ms", wait.ms, MAX_MS)?;
    std::thread::sleep(Duration::from_millis(ms));
    Ok(Json(Slept { slept_ms: ms }))
}

/// The query of `/stream`.
#[derive(Debug, Deserialize)]
struct Lines {
    n: u64,
}

/// `n` lines `chunk i\n`, each its own body message, with a short await between.
async fn stream(Query(lines): Query<Lines>) -> Result<StreamBody, ValidationError> {
    let n = at_most("n", lines.n, MAX_N)?;
    let chunks = futures_util::stream::unfold(0, move |i| async move {
        if i >= n {
            return None;
        }
        if i > 0 {
            tokio::time::sleep(CHUNK_PAUSE).await;
        }
        Some((format!("chunk {i}\n"), i + 1))
    });
    Ok(StreamBody::new(chunks).content_type("text/plain; charset=utf-8"))
}

/// Echoes every text and binary message until the client closes; the server
/// answers pings and completes the close handshake.
async fn ws_echo(mut socket: WebSocket) -> Result<(), WsError> {
    socket.accept().await?;
    while let Some(message) = socket.recv().await {
        socket.send(message).await?;
    }
    Ok(())
}
