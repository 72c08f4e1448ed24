//! axum 0.8 app with the framework benchmark's routes, as our demo app has them:
//!
//! - `GET /` -> `Hello, world!` (text/plain; charset=utf-8)
//! - `GET /json` -> `{"message":"Hello, world!"}`
//! - `GET /items/{id}?q=` -> `{"id":<int>,"q":<string|null>}`; a non-integer id
//!   gets whatever axum's `Path` rejection gives (400).
//!
//! Run with `axum_app --port 8000`. One current-thread runtime.

use axum::extract::{Path, Query};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

#[derive(Deserialize)]
struct ItemQuery {
    q: Option<String>,
}

#[derive(Serialize)]
struct Item {
    id: i64,
    q: Option<String>,
}

async fn hello() -> &'static str {
    "Hello, world!"
}

async fn json() -> Json<Message> {
    Json(Message {
        message: "Hello, world!",
    })
}

async fn item(Path(id): Path<i64>, Query(query): Query<ItemQuery>) -> Json<Item> {
    Json(Item { id, q: query.q })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let app = Router::new()
        .route("/", get(hello))
        .route("/json", get(json))
        .route("/items/{id}", get(item));
    let listener = tokio::net::TcpListener::bind(asgi_bench_peers::addr_from_args()).await?;
    axum::serve(listener, app).await
}
