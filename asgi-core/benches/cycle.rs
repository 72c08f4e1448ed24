//! Cost of one full HTTP cycle through the interface, with no I/O.
//!
//! A server-like handle (one `Arc` per connection, reused across requests)
//! builds a scope, delivers one `http.request`, and takes
//! `http.response.start` and `http.response.body` through the protocol state
//! machine into a write buffer, as a server's connection task does.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use asgi_core::protocol::HttpResponseState;
use asgi_core::{
    App, Extensions, Headers, HttpReceive, HttpScope, HttpSend, ReceiveError, ReceiveEvent,
    ReceiveHandle, Receiver, Scope, SendError, SendEvent, SendHandle, Sender, app_fn,
};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Method, StatusCode, header};

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
        let mut inner = self.inner.lock().unwrap();
        Poll::Ready(Ok(inner
            .request
            .take()
            .unwrap_or(HttpReceive::Disconnect)
            .into()))
    }
}

impl SendHandle for Conn {
    fn start_send(&self, event: SendEvent) -> Result<(), SendError> {
        let mut inner = self.inner.lock().unwrap();
        let SendEvent::Http(event) = event else {
            return Err(SendError::Disconnected);
        };
        inner.state.check(&event)?;
        inner.written += match event {
            HttpSend::ResponseStart { headers, .. } => headers.len(),
            HttpSend::ResponseBody { body, .. } => body.len(),
            _ => 0,
        };
        Ok(())
    }

    fn poll_flush(&self, _cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        Poll::Ready(Ok(()))
    }
}

fn cycle(c: &mut Criterion) {
    let app = app_fn(|_scope, receive, send| async move {
        receive.receive().await?;
        let headers = Headers::new().with(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        send.send(HttpSend::start(StatusCode::OK, headers)).await?;
        send.send(HttpSend::body("Hello, world!")).await?;
        Ok(())
    });
    let conn = Arc::new(Conn {
        inner: Mutex::new(ConnState {
            request: None,
            state: HttpResponseState::new(&Extensions::default()),
            written: 0,
        }),
    });
    let mut cx = Context::from_waker(Waker::noop());

    c.bench_function("http_cycle_scope_receive_two_sends", |b| {
        b.iter(|| {
            {
                let mut inner = conn.inner.lock().unwrap();
                inner.request = Some(HttpReceive::request(""));
                inner.state = HttpResponseState::new(&Extensions::default());
            }
            let scope = Scope::Http(HttpScope::new(Method::GET, &b"/"[..]));
            let mut future = app.call(
                scope,
                Receiver::new(conn.clone()),
                Sender::new(conn.clone()),
            );
            assert!(future.as_mut().poll(&mut cx).is_ready());
        })
    });
}

criterion_group!(benches, cycle);
criterion_main!(benches);
