//! Lifespan: startup before serving, failure stops the server, state reaches
//! requests, shutdown runs after connections drain.

use std::sync::{Arc, Mutex};

use asgi_core::{App, HttpSend, LifespanReceive, LifespanSend, ReceiveEvent, Scope, app_fn};
use asgi_server::LifespanMode;
use http::StatusCode;

use crate::support::{self, parse_responses, roundtrip, text_headers};

#[derive(Debug)]
struct Greeting(&'static str);

/// A lifespan-aware app that records the lifespan events it saw.
fn lifespan_app(startup: LifespanSend, log: Arc<Mutex<Vec<&'static str>>>) -> impl asgi_core::App {
    app_fn(move |scope, receive, send| {
        let startup = startup.clone();
        let log = log.clone();
        async move {
            match scope {
                Scope::Lifespan(scope) => loop {
                    match receive.receive().await? {
                        ReceiveEvent::Lifespan(LifespanReceive::Startup) => {
                            log.lock().unwrap().push("startup");
                            scope.state.insert(Greeting("from startup"));
                            send.send(startup.clone()).await?;
                        }
                        ReceiveEvent::Lifespan(LifespanReceive::Shutdown) => {
                            log.lock().unwrap().push("shutdown");
                            send.send(LifespanSend::ShutdownComplete).await?;
                            return Ok(());
                        }
                        other => return Err(format!("unexpected {}", other.kind()).into()),
                    }
                },
                Scope::Http(scope) => {
                    log.lock().unwrap().push("request");
                    let greeting = scope.state.get::<Greeting>().map_or("no state", |g| g.0);
                    send.send(HttpSend::start(StatusCode::OK, text_headers()))
                        .await?;
                    send.send(HttpSend::body(greeting)).await?;
                    Ok(())
                }
                Scope::WebSocket(_) => Err("no websockets".into()),
            }
        }
    })
}

fn config(mode: LifespanMode) -> asgi_server::Config {
    let mut config = support::config();
    config.lifespan = mode;
    config
}

#[tokio::test]
async fn startup_state_reaches_requests_and_shutdown_follows() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let server = support::serve_with(
        config(LifespanMode::On),
        lifespan_app(LifespanSend::StartupComplete, log.clone()),
    )
    .await;

    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    server.stop().await.unwrap();

    assert_eq!(parse_responses(&reply)[0].text(), "from startup");
    assert_eq!(*log.lock().unwrap(), ["startup", "request", "shutdown"]);
}

#[tokio::test]
async fn startup_failure_stops_the_server_with_a_lifespan_error() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let failed = LifespanSend::StartupFailed {
        message: "database unreachable".into(),
    };
    let bound = asgi_server::Server::new(config(LifespanMode::Auto))
        .bind()
        .await
        .unwrap();

    let result = tokio::time::timeout(
        support::LIMIT,
        bound.serve(lifespan_app(failed, log.clone())),
    )
    .await
    .unwrap();

    let error = result.unwrap_err();
    assert!(error.is_lifespan(), "{error}");
    assert!(
        error.to_string().contains("database unreachable"),
        "{error}"
    );
    assert_eq!(*log.lock().unwrap(), ["startup"]);
}

#[test]
fn startup_failure_is_a_non_zero_exit() {
    let mut config = config(LifespanMode::On);
    config.runtime = asgi_server::RuntimeFlavor::CurrentThread;
    let app = app_fn(|scope, _receive, _send| async move {
        match scope {
            Scope::Lifespan(_) => Err("cannot start".into()),
            _ => Ok(()),
        }
    });

    // The path `run`/`run_with` take; they map this error to EXIT_STARTUP_FAILURE.
    let error = asgi_server::serve_blocking(config, app).unwrap_err();

    assert!(error.is_lifespan(), "{error}");
    assert_ne!(asgi_server::EXIT_STARTUP_FAILURE, 0);
}

#[tokio::test]
async fn auto_mode_tolerates_apps_without_lifespan() {
    let server = support::serve_with(config(LifespanMode::Auto), support::hello()).await;

    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;

    assert_eq!(parse_responses(&reply)[0].text(), "hello /");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn on_mode_makes_a_lifespan_error_fatal() {
    let bound = asgi_server::Server::new(config(LifespanMode::On))
        .bind()
        .await
        .unwrap();

    let result = tokio::time::timeout(support::LIMIT, bound.serve(support::hello()))
        .await
        .unwrap();

    assert!(result.unwrap_err().is_lifespan());
}

/// Serves `hello /` over HTTP, and panics in `call` (before it has a
/// future) for the lifespan scope.
fn panics_in_lifespan_call() -> impl asgi_core::App {
    let hello = support::hello();
    app_fn(move |scope, receive, send| {
        if matches!(scope, Scope::Lifespan(_)) {
            panic!("panicked in call on purpose");
        }
        hello.call(scope, receive, send)
    })
}

#[tokio::test]
async fn panic_in_lifespan_call_is_tolerated_in_auto_mode_and_fatal_in_on_mode() {
    let auto = support::serve_with(config(LifespanMode::Auto), panics_in_lifespan_call()).await;
    let reply = roundtrip(
        auto.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    auto.stop().await.unwrap();
    let on = asgi_server::Server::new(config(LifespanMode::On))
        .bind()
        .await
        .unwrap();
    let result = tokio::time::timeout(support::LIMIT, on.serve(panics_in_lifespan_call()))
        .await
        .unwrap();

    assert_eq!(parse_responses(&reply)[0].text(), "hello /");
    assert!(result.unwrap_err().is_lifespan());
}

#[tokio::test]
async fn off_mode_never_calls_the_lifespan_scope() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let server = support::serve_with(
        config(LifespanMode::Off),
        lifespan_app(LifespanSend::StartupComplete, log.clone()),
    )
    .await;

    let reply = roundtrip(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    server.stop().await.unwrap();

    assert_eq!(parse_responses(&reply)[0].text(), "no state");
    assert_eq!(*log.lock().unwrap(), ["request"]);
}

#[tokio::test]
async fn no_connection_is_accepted_before_startup_completes() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let app = {
        let gate = gate.clone();
        app_fn(move |scope, receive, send| {
            let gate = gate.clone();
            async move {
                match scope {
                    Scope::Lifespan(_) => {
                        receive.receive().await?;
                        gate.notified().await;
                        send.send(LifespanSend::StartupComplete).await?;
                        receive.receive().await?;
                        send.send(LifespanSend::ShutdownComplete).await?;
                        Ok(())
                    }
                    _ => {
                        send.send(HttpSend::start(StatusCode::OK, text_headers()))
                            .await?;
                        send.send(HttpSend::body("started")).await?;
                        Ok(())
                    }
                }
            }
        })
    };
    let server = support::serve_with(config(LifespanMode::On), app).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut stream,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();

    // Nothing answers while startup is pending.
    let mut buf = [0u8; 16];
    let early = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        tokio::io::AsyncReadExt::read(&mut stream, &mut buf),
    )
    .await;
    assert!(early.is_err(), "answered before startup completed");
    gate.notify_one();
    let reply = support::read_to_close(&mut stream).await;

    assert_eq!(parse_responses(&reply)[0].text(), "started");
    server.stop().await.unwrap();
}
