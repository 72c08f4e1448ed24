//! `from_fn` middleware and the app-wraps-app trait: streaming, background work
//! and disconnect detection survive (Kludex/starlette#1678).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asgi_core::{Headers, HttpSend, ReceiveEvent, SharedApp, app_fn};
use asgi_framework::middleware::{Next, from_fn};
use asgi_framework::testing::TestClient;
use asgi_framework::{Application, Request, Response, StreamBody, get, post};
use futures_util::StreamExt;
use http::{HeaderName, HeaderValue, StatusCode};

type Tagger = Pin<Box<dyn Future<Output = Response> + Send>>;

fn tag(value: &'static str) -> impl Fn(Request, Next) -> Tagger + Clone {
    move |request, next| {
        Box::pin(async move {
            let mut response = next.run(request).await;
            response.headers_mut().push(
                HeaderName::from_static("x-trace"),
                HeaderValue::from_static(value),
            );
            response
        })
    }
}

#[tokio::test]
async fn from_fn_changes_the_response_and_the_last_layer_is_outermost() {
    let app = Application::new()
        .route("/", get(|| async { "hi" }))
        .layer(from_fn(tag("inner")))
        .layer(from_fn(tag("outer")));

    let res = TestClient::new(app).get("/").send().await;

    assert_eq!(res.text(), "hi");
    assert_eq!(res.header_all("x-trace"), ["inner", "outer"]);
}

#[tokio::test]
async fn from_fn_can_answer_without_calling_next() {
    async fn guard(request: Request, next: Next) -> Response {
        if request.header("x-key") != Some("open") {
            return Response::with_status(StatusCode::FORBIDDEN);
        }
        next.run(request).await
    }
    let app = Application::new()
        .route("/", get(|| async { "secret" }))
        .layer(from_fn(guard));
    let client = TestClient::new(app);

    assert_eq!(client.get("/").send().await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        client.get("/").header("x-key", "open").send().await.text(),
        "secret"
    );
}

#[tokio::test]
async fn from_fn_passes_a_streamed_body_through_chunk_by_chunk() {
    async fn lines() -> StreamBody {
        StreamBody::new(futures_util::stream::iter(0..3).then(|i| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            format!("{i}\n")
        }))
    }
    let app = Application::new()
        .route("/stream", get(lines))
        .layer(from_fn(tag("mw")));

    let res = TestClient::new(app).get("/stream").send().await;

    assert_eq!(res.chunks().len(), 3);
    assert_eq!(res.text(), "0\n1\n2\n");
    assert_eq!(res.header("x-trace"), Some("mw"));
}

#[tokio::test]
async fn from_fn_middleware_can_read_the_body_and_the_handler_still_gets_it() {
    async fn peek(mut request: Request, next: Next) -> Response {
        let length = request.body().await.map(|b| b.len()).unwrap_or_default();
        let mut response = next.run(request).await;
        response.headers_mut().push(
            HeaderName::from_static("x-length"),
            HeaderValue::from(length),
        );
        response
    }
    let app = Application::new()
        .route("/echo", post(|body: String| async move { body }))
        .layer(from_fn(peek));

    let res = TestClient::new(app)
        .post("/echo")
        .body_chunks(["ab", "c"])
        .send()
        .await;

    assert_eq!(res.text(), "abc");
    assert_eq!(res.header("x-length"), Some("3"));
}

#[tokio::test]
async fn inner_app_behind_from_fn_still_sees_the_disconnect_and_finishes_its_work() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let inner_log = log.clone();
    let inner = app_fn(move |_scope, receive, send| {
        let log = inner_log.clone();
        async move {
            receive.receive().await?;
            send.send(HttpSend::start(StatusCode::OK, Headers::new()))
                .await?;
            send.send(HttpSend::body("done")).await?;
            // Work after the response, then wait for the disconnect.
            let kind = match receive.receive().await? {
                ReceiveEvent::Http(message) => message.kind(),
                other => other.kind(),
            };
            log.lock().unwrap().push(kind);
            Ok(())
        }
    });
    let app = Application::new()
        .mount("/raw", inner)
        .layer(from_fn(tag("mw")));

    let res = TestClient::new(app).get("/raw").send().await;

    assert_eq!(res.text(), "done");
    assert_eq!(res.app_error(), None);
    assert_eq!(*log.lock().unwrap(), ["http.disconnect"]);
}

#[tokio::test]
async fn after_send_task_of_the_inner_response_runs_behind_from_fn() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let handler_log = log.clone();
    let app = Application::new()
        .route(
            "/",
            get(move || {
                let log = handler_log.clone();
                async move {
                    let mut response = Response::new("sent");
                    response.after_send(async move { log.lock().unwrap().push("after") });
                    response
                }
            }),
        )
        .layer(from_fn(tag("mw")));

    let res = TestClient::new(app).get("/").send().await;

    assert_eq!(res.text(), "sent");
    assert_eq!(*log.lock().unwrap(), ["after"]);
}

#[tokio::test]
async fn app_wraps_app_middleware_sees_every_scope() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = Application::new().route("/", get(|| async { "hi" })).layer(
        move |inner: SharedApp| -> SharedApp {
            let record = record.clone();
            Arc::new(app_fn(move |scope, receive, send| {
                record.lock().unwrap().push(scope.kind());
                inner.call(scope, receive, send)
            }))
        },
    );
    let mut client = TestClient::new(app);

    client.start().await.expect("startup");
    client.get("/").send().await;

    assert_eq!(*seen.lock().unwrap(), ["lifespan", "http"]);
}
