//! Lifespan: startup and shutdown hooks, state for requests, startup failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use asgi_framework::testing::{LifespanError, TestClient};
use asgi_framework::{Application, State, get};

struct Pool(&'static str);

#[tokio::test]
async fn startup_state_reaches_requests_and_shutdown_runs() {
    let stopped = Arc::new(AtomicBool::new(false));
    let flag = stopped.clone();
    let app = Application::new()
        .on_startup(|state| async move {
            state.insert(Pool("db"));
            Ok::<_, std::io::Error>(())
        })
        .on_shutdown(move |_| {
            let flag = flag.clone();
            async move {
                flag.store(true, Ordering::SeqCst);
                Ok::<_, std::io::Error>(())
            }
        })
        .route("/", get(|State(pool): State<Pool>| async move { pool.0 }));
    let mut client = TestClient::new(app);

    client.start().await.expect("startup");
    let res = client.get("/").send().await;
    client.stop().await.expect("shutdown");

    assert_eq!(res.text(), "db");
    assert!(stopped.load(Ordering::SeqCst));
}

#[tokio::test]
async fn failing_startup_answers_startup_failed_with_the_message() {
    let app = Application::new().on_startup(|_| async { Err::<(), _>("database unreachable") });
    let mut client = TestClient::new(app);

    let error = client.start().await.unwrap_err();

    assert!(
        matches!(&error, LifespanError::StartupFailed(m) if m == "database unreachable"),
        "{error}"
    );
}

#[tokio::test]
async fn panicking_startup_hook_is_a_startup_failure() {
    let app = Application::new().on_startup(|_| async {
        if true {
            panic!("no config");
        }
        Ok::<(), std::io::Error>(())
    });
    let mut client = TestClient::new(app);

    let error = client.start().await.unwrap_err();

    assert!(
        matches!(&error, LifespanError::StartupFailed(m) if m.contains("no config")),
        "{error}"
    );
}
