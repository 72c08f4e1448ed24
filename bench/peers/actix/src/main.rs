//! actix-web 4 hello server with one worker: `GET /` answers
//! `200 text/plain; charset=utf-8` `Hello, world!` (actix's `&'static str`
//! responder sets exactly that content type).
//!
//! Run with `actix_hello --port 8000`.

use actix_web::{App, HttpServer, web};

// The peers' shared command line, as source: a dependency on the peers'
// package would bring its hyper and tokio into this build.
#[path = "../../src/lib.rs"]
#[allow(dead_code)]
mod peers;

async fn hello() -> &'static str {
    "Hello, world!"
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    HttpServer::new(|| App::new().route("/", web::get().to(hello)))
        .workers(1)
        .bind(peers::addr_from_args())?
        .run()
        .await
}
