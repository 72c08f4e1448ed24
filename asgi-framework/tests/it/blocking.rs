//! Blocking handlers and the blocking pool: bounded, queued, off the event loop, panic-safe.

use std::time::{Duration, Instant};

use asgi_framework::testing::TestClient;
use asgi_framework::{Application, Error, Query, blocking, get, run_blocking};
use http::StatusCode;
use serde::Deserialize;

#[derive(Deserialize)]
struct Wait {
    ms: u64,
}

fn block(Query(wait): Query<Wait>) -> String {
    std::thread::sleep(Duration::from_millis(wait.ms));
    format!("slept {}", wait.ms)
}

async fn ping() -> &'static str {
    "pong"
}

fn app(threads: usize) -> Application {
    Application::new()
        .blocking_threads(threads)
        .route("/block", get(blocking(block)))
        .route("/ping", get(ping))
}

#[tokio::test]
async fn blocking_handler_runs_on_a_pool_thread() {
    fn thread_name() -> String {
        std::thread::current().name().unwrap_or_default().to_owned()
    }
    let app = Application::new().route("/t", get(blocking(thread_name)));

    let res = TestClient::new(app).get("/t").send().await;

    assert_eq!(res.text(), "asgi-blocking");
}

#[tokio::test]
async fn pool_of_n_runs_n_jobs_at_once_and_queues_the_next() {
    let app = app(2);
    let client = TestClient::new(app);
    let started = Instant::now();

    let (a, b, c) = tokio::join!(
        client.get("/block?ms=300").send(),
        client.get("/block?ms=300").send(),
        client.get("/block?ms=300").send(),
    );

    let elapsed = started.elapsed();
    assert_eq!([a.status(), b.status(), c.status()], [StatusCode::OK; 3]);
    assert!(
        elapsed >= Duration::from_millis(600),
        "the third job waited: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(900),
        "two ran at once: {elapsed:?}"
    );
}

#[tokio::test]
async fn pool_stats_show_busy_threads_and_queue_depth() {
    let app = std::sync::Arc::new(app(1));
    let client = TestClient::new(app.clone());
    let idle = app.pool_stats();

    let requests = async {
        tokio::join!(
            client.get("/block?ms=300").send(),
            client.get("/block?ms=300").send()
        )
    };
    let probe = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        app.pool_stats()
    };
    let (_, busy) = tokio::join!(requests, probe);

    assert_eq!((idle.size, idle.busy, idle.queued), (1, 0, 0));
    assert_eq!((busy.busy, busy.queued), (1, 1));
}

#[tokio::test]
async fn event_loop_keeps_answering_while_every_pool_thread_sleeps() {
    let client = TestClient::new(app(1));

    let (slow, fast) = tokio::join!(client.get("/block?ms=500").send(), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let res = client.get("/ping").send().await;
        (res, started.elapsed())
    });

    assert_eq!(slow.text(), "slept 500");
    assert_eq!(fast.0.text(), "pong");
    assert!(
        fast.1 < Duration::from_millis(200),
        "ping took {:?}",
        fast.1
    );
}

#[tokio::test]
async fn panicking_blocking_handler_is_500_and_the_next_request_is_fine() {
    fn explode() -> &'static str {
        panic!("kaboom")
    }
    let app = Application::new()
        .blocking_threads(1)
        .route("/explode", get(blocking(explode)))
        .route("/block", get(blocking(block)));
    let client = TestClient::new(app);

    let failed = client.get("/explode").send().await;
    let next = client.get("/block?ms=1").send().await;

    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(failed.text(), r#"{"detail":"Internal Server Error"}"#);
    assert_eq!(next.text(), "slept 1");
}

#[tokio::test]
async fn panicking_async_handler_is_500_and_the_next_request_is_fine() {
    async fn explode() -> &'static str {
        panic!("async kaboom")
    }
    let app = Application::new()
        .route("/explode", get(explode))
        .route("/ping", get(ping));
    let client = TestClient::new(app);

    let failed = client.get("/explode").send().await;
    let next = client.get("/ping").send().await;

    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(next.text(), "pong");
}

#[tokio::test]
async fn run_blocking_offloads_from_an_async_handler_to_the_app_pool() {
    async fn offload() -> Result<String, Error> {
        let name = run_blocking(|| std::thread::current().name().map(str::to_owned)).await?;
        Ok(name.unwrap_or_default())
    }
    let app = Application::new()
        .blocking_threads(3)
        .route("/", get(offload));

    let res = TestClient::new(app).get("/").send().await;

    assert_eq!(res.text(), "asgi-blocking");
}
