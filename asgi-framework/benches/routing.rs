//! Cost of routing one request among 200 routes, through the whole app.
//!
//! A no-I/O connection handle (as in asgi-core's `cycle` bench) delivers the
//! request and takes the response; the app has 200 routes (static, with one
//! parameter, with two), and the measured request hits a parameterised route
//! near the end, with typed `Path` and `Query` extraction and a JSON answer:
//! the `/items/{id}?q=` shape of the framework benchmark.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use asgi_core::protocol::HttpResponseState;
use asgi_core::{
    App, Extensions, HttpReceive, HttpScope, ReceiveError, ReceiveEvent, ReceiveHandle, Receiver,
    Scope, SendError, SendEvent, SendHandle, Sender,
};
use asgi_framework::{Application, Json, Path, Query, get};
use criterion::{Criterion, criterion_group, criterion_main};
use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

struct Conn {
    inner: Mutex<ConnState>,
}

struct ConnState {
    request: Option<HttpReceive>,
    state: HttpResponseState,
    written: usize,
}

impl ReceiveHandle for Conn {
    fn poll_receive(&self, _cx: &mut Context<'_>) -> Poll<Result<ReceiveEvent, ReceiveError>> {
        let mut inner = self.inner.lock().expect("bench lock");
        let event = inner.request.take().unwrap_or(HttpReceive::Disconnect);
        Poll::Ready(Ok(event.into()))
    }
}

impl SendHandle for Conn {
    fn start_send(&self, event: SendEvent) -> Result<(), SendError> {
        let mut inner = self.inner.lock().expect("bench lock");
        let SendEvent::Http(event) = event else {
            return Err(SendError::Disconnected);
        };
        inner.state.check(&event)?;
        if let asgi_core::HttpSend::ResponseBody { body, .. } = &event {
            inner.written += body.len();
        }
        Ok(())
    }

    fn poll_flush(&self, _cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        Poll::Ready(Ok(()))
    }
}

#[derive(Deserialize)]
struct Search {
    q: Option<String>,
}

async fn item(Path(id): Path<i64>, Query(search): Query<Search>) -> Json<Value> {
    Json(json!({ "id": id, "q": search.q }))
}

async fn text() -> &'static str {
    "ok"
}

fn app() -> Application {
    let mut app = Application::new();
    for i in 0..100 {
        app = app.route(&format!("/static/{i}/page"), get(text));
        app = app.route(&format!("/r{i}/items/{{id}}"), get(item));
    }
    app
}

fn request(app: &Application, target: &'static str) -> usize {
    let conn = Arc::new(Conn {
        inner: Mutex::new(ConnState {
            request: Some(HttpReceive::request("")),
            state: HttpResponseState::new(&Extensions::default()),
            written: 0,
        }),
    });
    let scope = Scope::Http(HttpScope::new(Method::GET, target));
    let future = app.call(
        scope,
        Receiver::new(conn.clone()),
        Sender::new(conn.clone()),
    );
    futures_executor::block_on(future).expect("the app answers");
    conn.inner.lock().expect("bench lock").written
}

fn routing(c: &mut Criterion) {
    let app = app();
    assert_eq!(
        request(&app, "/r97/items/42?q=hello"),
        r#"{"id":42,"q":"hello"}"#.len()
    );

    c.bench_function("route_200_items_id_query", |b| {
        b.iter(|| request(&app, "/r97/items/42?q=hello"))
    });
    c.bench_function("route_200_static", |b| {
        b.iter(|| request(&app, "/static/98/page"))
    });
    c.bench_function("route_200_not_found", |b| {
        b.iter(|| request(&app, "/nowhere/at/all"))
    });
}

criterion_group!(benches, routing);
criterion_main!(benches);
