//! Responses: text, HTML, JSON, redirects, cookies, streaming and server-sent events.

use std::time::Duration;

use asgi_framework::response::Response;
use asgi_framework::testing::TestClient;
use asgi_framework::{
    Application, Event, Html, HttpError, Json, KeepAlive, Redirect, Sse, StreamBody, get,
};
use futures_util::StreamExt;
use http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn text_html_and_json_set_their_content_types() {
    let app = Application::new()
        .route("/text", get(|| async { "hi" }))
        .route("/html", get(|| async { Html("<b>hi</b>") }))
        .route(
            "/json",
            get(|| async { Json(json!({"message": "Hello, world!"})) }),
        );
    let client = TestClient::new(app);

    let text = client.get("/text").send().await;
    let html = client.get("/html").send().await;
    let json = client.get("/json").send().await;

    assert_eq!(
        text.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(text.header("content-length"), Some("2"));
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(json.header("content-type"), Some("application/json"));
    assert_eq!(json.text(), r#"{"message":"Hello, world!"}"#);
}

#[tokio::test]
async fn status_and_header_tuples_shape_the_response() {
    async fn created() -> (StatusCode, [(&'static str, &'static str); 1], &'static str) {
        (StatusCode::CREATED, [("x-id", "7")], "made")
    }
    let res = TestClient::new(Application::new().route("/", get(created)))
        .get("/")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.header("x-id"), Some("7"));
    assert_eq!(res.text(), "made");
}

#[tokio::test]
async fn redirect_defaults_to_307() {
    let app = Application::new()
        .route("/old", get(|| async { Redirect::to("/new") }))
        .route("/moved", get(|| async { Redirect::permanent("/new") }));
    let client = TestClient::new(app);

    let temporary = client.get("/old").send().await;
    let permanent = client.get("/moved").send().await;

    assert_eq!(temporary.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(temporary.header("location"), Some("/new"));
    assert_eq!(permanent.status(), StatusCode::PERMANENT_REDIRECT);
}

#[tokio::test]
async fn http_error_carries_status_detail_and_headers() {
    async fn teapot() -> Result<&'static str, HttpError> {
        Err(HttpError::new(StatusCode::IM_A_TEAPOT)
            .with_detail(json!({"reason": "short and stout"}))
            .with_header(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("5"),
            ))
    }
    let res = TestClient::new(Application::new().route("/", get(teapot)))
        .get("/")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(res.header("retry-after"), Some("5"));
    assert_eq!(res.text(), r#"{"detail":{"reason":"short and stout"}}"#);
}

#[tokio::test]
async fn cookies_are_set_and_deleted() {
    async fn login() -> Response {
        let mut response = Response::new("in");
        response.set_cookie(cookie::Cookie::new("session", "abc"));
        response
    }
    async fn logout() -> Response {
        let mut response = Response::new("out");
        response.delete_cookie("session");
        response
    }
    let app = Application::new()
        .route("/login", get(login))
        .route("/logout", get(logout))
        .route(
            "/who",
            get(|c: asgi_framework::Cookies| async move {
                c.get("session").unwrap_or("nobody").to_owned()
            }),
        );
    let client = TestClient::new(app);

    let set = client.get("/login").send().await;
    let who = client.get("/who").send().await;
    let deleted = client.get("/logout").send().await;
    let gone = client.get("/who").send().await;

    assert_eq!(set.header("set-cookie"), Some("session=abc"));
    assert_eq!(who.text(), "abc");
    assert!(
        deleted
            .header("set-cookie")
            .is_some_and(|v| v.contains("Max-Age=0"))
    );
    assert_eq!(gone.text(), "nobody");
}

#[tokio::test]
async fn streaming_response_sends_each_chunk_separately() {
    async fn lines() -> StreamBody {
        let chunks = futures_util::stream::iter(0..3).then(|i| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            format!("chunk {i}\n")
        });
        StreamBody::new(chunks).content_type("text/plain; charset=utf-8")
    }
    let res = TestClient::new(Application::new().route("/stream", get(lines)))
        .get("/stream")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.header("content-length"), None);
    assert_eq!(res.chunks().len(), 3);
    assert_eq!(res.text(), "chunk 0\nchunk 1\nchunk 2\n");
}

#[tokio::test]
async fn sse_sends_events_and_keep_alive_comments() {
    async fn events() -> Sse {
        let events = futures_util::stream::iter(0..2).then(|i| async move {
            tokio::time::sleep(Duration::from_millis(if i == 1 { 120 } else { 0 })).await;
            Event::new().event("tick").data(&i.to_string())
        });
        Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_millis(50)))
    }
    let res = TestClient::new(Application::new().route("/events", get(events)))
        .get("/events")
        .send()
        .await;

    assert_eq!(
        res.header("content-type"),
        Some("text/event-stream; charset=utf-8")
    );
    assert_eq!(res.header("cache-control"), Some("no-cache"));
    let chunks: Vec<String> = res
        .chunks()
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    assert_eq!(
        chunks.first().map(String::as_str),
        Some("event: tick\ndata: 0\n\n")
    );
    assert_eq!(
        chunks.last().map(String::as_str),
        Some("event: tick\ndata: 1\n\n")
    );
    assert!(chunks.iter().any(|c| c == ": ping\n\n"), "{chunks:?}");
}

#[tokio::test]
async fn after_send_tasks_run_once_the_response_is_complete() {
    use std::sync::{Arc, Mutex};
    let log = Arc::new(Mutex::new(Vec::new()));
    let handler_log = log.clone();
    let app = Application::new().route(
        "/",
        get(move || {
            let log = handler_log.clone();
            async move {
                let mut response = Response::new("done");
                response.after_send(async move { log.lock().unwrap().push("background") });
                response
            }
        }),
    );

    let res = TestClient::new(app).get("/").send().await;

    assert_eq!(res.text(), "done");
    assert_eq!(*log.lock().unwrap(), ["background"]);
}

#[tokio::test]
async fn client_follows_redirects_when_asked() {
    let app = Application::new()
        .route("/old", get(|| async { Redirect::to("/new") }))
        .route(
            "/form",
            asgi_framework::post(|| async { Redirect::see_other("/new") }),
        )
        .route("/new", get(|| async { "new" }));
    let client = TestClient::new(app).follow_redirects(true);

    let followed = client.get("/old").send().await;
    let after_post = client.post("/form").body("x").send().await;

    assert_eq!(followed.status(), StatusCode::OK);
    assert_eq!(followed.text(), "new");
    assert_eq!(after_post.text(), "new");
}

#[tokio::test]
async fn streaming_handler_stops_when_the_client_disconnects() {
    use asgi_core::testing::Communicator;
    use asgi_core::{HttpReceive, HttpScope, HttpSend, Scope, SendEvent};

    async fn forever(request: asgi_framework::Request) -> StreamBody {
        let ticks = futures_util::stream::unfold(request, |mut request| async move {
            if request.is_disconnected().await {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            Some(("tick\n", request))
        });
        StreamBody::new(ticks)
    }
    let app = Application::new().route("/forever", get(forever));
    let scope = Scope::Http(HttpScope::new(http::Method::GET, "/forever"));
    let mut comm = Communicator::new(app, scope);
    let wait = Duration::from_secs(2);

    comm.send_input(HttpReceive::request(""));
    let start = comm.receive_output(wait).await.unwrap();
    let first = comm.receive_output(wait).await.unwrap();
    comm.send_input(HttpReceive::Disconnect);
    let mut last = first.clone();
    // Bounded, so a stream that never notices the disconnect fails the test.
    for _ in 0..200 {
        match comm.receive_output(wait).await {
            Ok(event) => last = event,
            Err(_) => break,
        }
    }

    assert!(matches!(
        start,
        SendEvent::Http(HttpSend::ResponseStart { .. })
    ));
    assert!(matches!(
        first,
        SendEvent::Http(HttpSend::ResponseBody {
            more_body: true,
            ..
        })
    ));
    assert!(
        matches!(
            last,
            SendEvent::Http(HttpSend::ResponseBody {
                more_body: false,
                ..
            })
        ),
        "{last:?}"
    );
}
