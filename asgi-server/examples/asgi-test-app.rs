//! The app the supervisor tests run as a real binary (workers re-execute it).
//!
//! Run with: `cargo run -p asgi-server --example asgi-test-app -- --workers 2`
//!
//! Routes: `/` hello; `/pid` the serving process id; `/slow?ms=N` answers
//! after an async sleep; `/stall?ms=N` blocks its event loop for N ms, then
//! answers; `/block` blocks its event loop for ever; `/crash` aborts the
//! process. With `FAIL_STARTUP=1` lifespan startup fails.

use std::process::ExitCode;
use std::time::Duration;

use asgi_core::{
    App, Headers, HttpSend, LifespanReceive, LifespanSend, ReceiveEvent, Scope, app_fn,
};
use http::StatusCode;

fn app() -> impl App {
    app_fn(|scope, receive, send| async move {
        let scope = match scope {
            Scope::Lifespan(_) => loop {
                match receive.receive().await? {
                    ReceiveEvent::Lifespan(LifespanReceive::Startup) => {
                        if std::env::var("FAIL_STARTUP").is_ok_and(|v| v == "1") {
                            let message = String::from("FAIL_STARTUP=1");
                            send.send(LifespanSend::StartupFailed { message }).await?;
                            return Ok(());
                        }
                        send.send(LifespanSend::StartupComplete).await?;
                    }
                    ReceiveEvent::Lifespan(LifespanReceive::Shutdown) => {
                        send.send(LifespanSend::ShutdownComplete).await?;
                        return Ok(());
                    }
                    _ => return Ok(()),
                }
            },
            Scope::Http(scope) => scope,
            _ => return Err("unsupported scope".into()),
        };
        let millis = || -> u64 {
            std::str::from_utf8(scope.query_string())
                .ok()
                .and_then(|q| q.strip_prefix("ms="))
                .and_then(|ms| ms.parse().ok())
                .unwrap_or(100)
        };
        let body = match scope.path() {
            "/" => String::from("hello"),
            "/pid" => std::process::id().to_string(),
            "/slow" => {
                tokio::time::sleep(Duration::from_millis(millis())).await;
                String::from("slow")
            }
            "/stall" => {
                // Deliberately wrong: blocking inside an async handler.
                std::thread::sleep(Duration::from_millis(millis()));
                String::from("stalled")
            }
            "/block" => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
            "/crash" => std::process::abort(),
            _ => {
                send.send(HttpSend::start(StatusCode::NOT_FOUND, Headers::new()))
                    .await?;
                send.send(HttpSend::body("not found")).await?;
                return Ok(());
            }
        };
        send.send(HttpSend::start(StatusCode::OK, Headers::new()))
            .await?;
        send.send(HttpSend::body(body)).await?;
        Ok(())
    })
}

fn main() -> ExitCode {
    asgi_server::run(app())
}
