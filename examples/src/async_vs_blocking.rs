//! The lesson the stack exists for: three ways to wait one second.
//!
//! - `GET /async`: an async handler awaiting a timer. The task is parked;
//!   the event loop serves everything else meanwhile. 100 of them at once
//!   finish in about one second.
//! - `GET /blocking`: a sync handler wrapped in `blocking(..)`, sleeping on
//!   the blocking pool. The event loop stays free, but the pool has a fixed
//!   number of threads: 100 requests take about `ceil(100 / threads)` seconds.
//! - `GET /mistake`: an async handler that calls `std::thread::sleep`. It
//!   blocks the event-loop thread it runs on: requests are served one per
//!   worker thread at a time, and even `GET /` waits.
//! - `GET /`: a quick answer, to measure how responsive the loop stays.
//!
//! `async_vs_blocking_client` measures all three.

use std::time::Duration;

use asgi_framework::{Application, Json, blocking, get};
use serde_json::{Value, json};

/// How long each of the three routes waits by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(1);

/// The three waiting routes, by path, in the order the client measures them.
pub const ROUTES: [&str; 3] = ["/async", "/blocking", "/mistake"];

/// The app: each route waits `wait`; blocking handlers get a pool of `blocking_threads`.
pub fn app(wait: Duration, blocking_threads: usize) -> Application {
    let waited = move |route: &str| Json(json!({ "route": route, "waited_ms": wait.as_millis() }));
    Application::new()
        .blocking_threads(blocking_threads)
        .route("/", get(|| async { "pong" }))
        .route(
            "/async",
            get(move || async move {
                tokio::time::sleep(wait).await;
                waited("async")
            }),
        )
        .route(
            "/blocking",
            get(blocking(move || -> Json<Value> {
                std::thread::sleep(wait);
                waited("blocking")
            })),
        )
        .route(
            "/mistake",
            get(move || async move {
                // The mistake on purpose: a blocking call inside an async fn
                // holds the event-loop thread for the whole second.
                std::thread::sleep(wait);
                waited("mistake")
            }),
        )
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use asgi_framework::testing::TestClient;

    use super::*;

    const WAIT: Duration = Duration::from_millis(100);

    #[tokio::test]
    async fn each_route_waits_then_names_itself() {
        let client = TestClient::new(app(WAIT, 4));

        for (path, route) in ROUTES.iter().zip(["async", "blocking", "mistake"]) {
            let started = Instant::now();

            let response = client.get(path).send().await;

            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(
                response.json::<Value>(),
                json!({"route": route, "waited_ms": 100})
            );
            assert!(started.elapsed() >= WAIT, "{path}");
        }
    }

    #[tokio::test]
    async fn root_answers_at_once() {
        let response = TestClient::new(app(WAIT, 4)).get("/").send().await;

        assert_eq!(response.status(), 200);
        assert_eq!(response.text(), "pong");
    }

    /// Ten async waits of one app run side by side; ten mistaken ones, driven
    /// by one task, run one after the other.
    #[tokio::test]
    async fn async_waits_overlap_and_mistaken_ones_do_not() {
        let client = TestClient::new(app(WAIT, 4));

        let started = Instant::now();
        futures_util::future::join_all((0..10).map(|_| client.get("/async").send())).await;
        let async_elapsed = started.elapsed();
        let started = Instant::now();
        futures_util::future::join_all((0..10).map(|_| client.get("/mistake").send())).await;
        let mistake_elapsed = started.elapsed();

        assert!(async_elapsed < WAIT * 5, "{async_elapsed:?}");
        assert!(mistake_elapsed >= WAIT * 10, "{mistake_elapsed:?}");
    }

    #[tokio::test]
    async fn unknown_route_is_404() {
        let response = TestClient::new(app(WAIT, 4)).get("/sync").send().await;

        assert_eq!(response.status(), 404);
    }
}
