//! Background tasks: run after the response, async or blocking, failures logged and survived.

use std::sync::{Arc, Mutex};

use asgi_framework::testing::TestClient;
use asgi_framework::{Application, BackgroundTasks, StreamBody, get};
use futures_util::StreamExt as _;
use http::StatusCode;

type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, entry: &str) {
    log.lock().unwrap().push(entry.to_owned());
}

#[tokio::test]
async fn tasks_run_in_order_after_the_response_is_sent() {
    let log: Log = Arc::default();
    let handler_log = log.clone();
    let app = Application::new().route(
        "/",
        get(move |mut tasks: BackgroundTasks| {
            let log = handler_log.clone();
            async move {
                let (first, second) = (log.clone(), log.clone());
                tasks.add(async move {
                    push(&first, "async");
                    Ok::<(), std::io::Error>(())
                });
                tasks.add_blocking(move || {
                    push(&second, "blocking");
                    Ok::<(), std::io::Error>(())
                });
                push(&log, "handler");
                (tasks, "done")
            }
        }),
    );

    let res = TestClient::new(app).get("/").send().await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text(), "done");
    assert_eq!(*log.lock().unwrap(), ["handler", "async", "blocking"]);
}

#[tokio::test]
async fn tasks_start_only_after_the_last_body_chunk() {
    let log: Log = Arc::default();
    let handler_log = log.clone();
    let app = Application::new().route(
        "/",
        get(move |mut tasks: BackgroundTasks| {
            let log = handler_log.clone();
            async move {
                let task_log = log.clone();
                tasks.add(async move {
                    push(&task_log, "task");
                    Ok::<(), std::io::Error>(())
                });
                let stream_log = log.clone();
                let chunks = futures_util::stream::iter(["a", "b"]).map(move |chunk| {
                    push(&stream_log, chunk);
                    chunk
                });
                (tasks, StreamBody::new(chunks))
            }
        }),
    );

    let res = TestClient::new(app).get("/").send().await;

    assert_eq!(res.text(), "ab");
    assert_eq!(*log.lock().unwrap(), ["a", "b", "task"]);
}

#[tokio::test]
async fn failing_and_panicking_tasks_do_not_stop_the_next() {
    let log: Log = Arc::default();
    let handler_log = log.clone();
    let app = Application::new().route(
        "/",
        get(move || {
            let log = handler_log.clone();
            async move {
                let mut tasks = BackgroundTasks::new();
                tasks.add(async { Err::<(), _>("mail server down") });
                tasks.add(async {
                    if true {
                        panic!("task bug");
                    }
                    Ok::<(), std::io::Error>(())
                });
                tasks.add_blocking(|| Err::<(), _>("disk full"));
                tasks.add(async move {
                    push(&log, "last");
                    Ok::<(), std::io::Error>(())
                });
                let mut response = asgi_framework::IntoResponse::into_response("ok");
                tasks.attach(&mut response);
                response
            }
        }),
    );

    let res = TestClient::new(app).get("/").send().await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.app_error(), None, "task failures stay inside the tasks");
    assert_eq!(*log.lock().unwrap(), ["last"]);
}

#[tokio::test]
async fn tasks_run_through_a_mounted_app_and_middleware() {
    let log: Log = Arc::default();
    let handler_log = log.clone();
    let inner = Application::new().route(
        "/x",
        get(move |mut tasks: BackgroundTasks| {
            let log = handler_log.clone();
            async move {
                tasks.add(async move {
                    push(&log, "ran");
                    Ok::<(), std::io::Error>(())
                });
                (tasks, "inner")
            }
        }),
    );
    let app = Application::new()
        .mount("/api", inner)
        .layer(asgi_framework::middleware::GZip::new());

    let res = TestClient::new(app).get("/api/x").send().await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text(), "inner");
    assert_eq!(*log.lock().unwrap(), ["ran"]);
}

#[tokio::test]
async fn tasks_counts_what_was_added() {
    let mut tasks = BackgroundTasks::new();
    assert!(tasks.is_empty());

    tasks.add(async { Ok::<(), std::io::Error>(()) });
    tasks.add_blocking(|| Ok::<(), std::io::Error>(()));

    assert_eq!(tasks.len(), 2);
    let mut response = asgi_framework::IntoResponse::into_response("x");
    tasks.attach(&mut response);
}
