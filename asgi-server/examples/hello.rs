//! The ASGI hello world on asgi-server, with the full command line.
//!
//! Run with: `cargo run -p asgi-server --example hello -- --port 8000`

use std::process::ExitCode;

use asgi_core::{Headers, HttpReceive, HttpSend, ReceiveEvent, Scope, app_fn};
use http::{HeaderValue, StatusCode, header};

fn main() -> ExitCode {
    let app = app_fn(|scope, receive, send| async move {
        let Scope::Http(_) = scope else {
            return Err("only http is served here".into());
        };
        while let ReceiveEvent::Http(HttpReceive::Request {
            more_body: true, ..
        }) = receive.receive().await?
        {}
        let headers =
            Headers::new().with(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        send.send(HttpSend::start(StatusCode::OK, headers)).await?;
        send.send(HttpSend::body("Hello, world!")).await?;
        Ok(())
    });
    asgi_server::run(app)
}
