//! What a connection shares with its app: the receive queue, the send queue and their wakers.
//!
//! The app's `Receiver` and `Sender` are this one `Arc`; the connection task
//! fills the receive queue from the socket and drains the send queue into
//! it. When the app runs inside the connection task (it normally does, see
//! [`super::app_task`]), nobody needs waking: the connection polls the app
//! again after every change. Wakers matter only for app code running in other
//! tasks, and for the connection when such code sends.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use asgi_core::http::HeaderValue;
use asgi_core::protocol::WebSocketState;
use asgi_core::{
    Extensions, ProtocolError, ReceiveError, ReceiveEvent, ReceiveHandle, SendError, SendEvent,
    SendHandle, WebSocketReceive, WebSocketSend,
};

use crate::protocol::handle_lock::{HandleGuard, HandleLock};

/// The per-connection state behind the app's `receive` and `send`.
#[derive(Debug)]
pub(super) struct Shared {
    inner: HandleLock<Inner>,
    /// The connection is polling the app right now and checks the queues
    /// right after. Outside the lock: it is set and cleared on every poll.
    ///
    /// The connection clears it before it locks to look at the queues, so a
    /// send that still sees it set (under the lock) is seen by that look.
    polling_app: AtomicBool,
}

#[derive(Debug)]
struct Inner {
    /// The ASGI order rules for what the app sends.
    protocol: WebSocketState,
    /// Messages waiting for the app (`websocket.connect`, then data).
    inbox: VecDeque<WebSocketReceive>,
    /// Most data messages `inbox` may hold before the socket is left unread.
    max_queue: usize,
    /// The `websocket.disconnect` every `receive` returns once `inbox` is empty.
    end: Option<(u16, String)>,
    /// Tasks waiting in `receive`.
    receivers: WakerSet,
    /// Messages the app sent that the connection has not taken yet.
    outbox: VecDeque<WebSocketSend>,
    /// The connection took messages and has not flushed them yet.
    in_flight: bool,
    /// Tasks waiting for their messages to be flushed.
    senders: WakerSet,
    /// The connection no longer takes messages: the peer left or a close is under way.
    gone: bool,
    /// Messages were dropped unsent because of that: their senders get `Disconnected`.
    lost: bool,
    /// The connection task.
    conn: Option<Waker>,
    /// The connection stopped reading because `inbox` is full.
    reading_paused: bool,
}

impl Shared {
    /// A connection whose handshake is held, with `websocket.connect` queued.
    pub(super) fn new(extensions: &Extensions, max_queue: usize) -> Self {
        let mut inbox = VecDeque::with_capacity(4);
        inbox.push_back(WebSocketReceive::Connect);
        Self {
            inner: HandleLock::new(Inner {
                protocol: WebSocketState::new(extensions),
                inbox,
                max_queue: max_queue.max(1),
                end: None,
                receivers: WakerSet::default(),
                outbox: VecDeque::with_capacity(4),
                in_flight: false,
                senders: WakerSet::default(),
                gone: false,
                lost: false,
                conn: None,
                reading_paused: false,
            }),
            polling_app: AtomicBool::new(false),
        }
    }

    /// Wakes the connection task after a change to the queues; `inner` is
    /// the locked state, which makes the `polling_app` check race-free.
    fn wake_connection(&self, inner: &Inner) {
        // While the connection polls the app it checks the queues right
        // after, so a wake would only cost an extra poll.
        if !self.polling_app.load(Ordering::Acquire)
            && let Some(conn) = &inner.conn
        {
            conn.wake_by_ref();
        }
    }

    /// Wakes the connection task, whatever it is doing.
    pub(super) fn wake_connection_now(&self) {
        if let Some(conn) = &self.lock().conn {
            conn.wake_by_ref();
        }
    }

    fn lock(&self) -> HandleGuard<'_, Inner> {
        self.inner.lock()
    }

    /// Remembers the connection task's waker, for sends from other tasks.
    pub(super) fn register_connection(&self, waker: &Waker) {
        let mut inner = self.lock();
        match &inner.conn {
            Some(known) if known.will_wake(waker) => {}
            _ => inner.conn = Some(waker.clone()),
        }
    }

    /// Marks the start and end of a poll of the app by the connection task.
    pub(super) fn set_polling_app(&self, polling: bool) {
        self.polling_app.store(polling, Ordering::Release);
    }

    /// Takes the next message the app sent, to be written.
    ///
    /// Its sender stays pending until [`sends_flushed`](Self::sends_flushed).
    pub(super) fn take_outgoing(&self) -> Option<WebSocketSend> {
        let mut inner = self.lock();
        let event = inner.outbox.pop_front()?;
        inner.in_flight = true;
        Some(event)
    }

    /// Every message taken so far is handed to the transport: release their senders.
    ///
    /// `current` is the connection task's waker, which is not woken: it
    /// polls the app again anyway.
    pub(super) fn sends_flushed(&self, current: &Waker) {
        let mut inner = self.lock();
        inner.in_flight = false;
        inner.senders.wake_all(Some(current));
    }

    /// Whether another received message may be queued; if not, reading pauses
    /// until the app receives.
    pub(super) fn has_room(&self) -> bool {
        let mut inner = self.lock();
        let room = inner.inbox.len() < inner.max_queue;
        inner.reading_paused = !room;
        room
    }

    /// Queues a received message for the app.
    pub(super) fn push(&self, message: WebSocketReceive, current: &Waker) {
        let mut inner = self.lock();
        inner.inbox.push_back(message);
        inner.receivers.wake_all(Some(current));
    }

    /// Stops taking messages from the app: the close handshake has begun or
    /// the peer left. Later sends fail with `Disconnected`, and so do the
    /// sends not yet written.
    pub(super) fn stop_sending(&self, current: Option<&Waker>) {
        let mut inner = self.lock();
        inner.stop_sending(current);
    }

    /// The connection is closed with `code` and `reason`: once the queued
    /// messages are received, `receive` returns `websocket.disconnect` with
    /// them. Only the first call counts.
    pub(super) fn end(&self, code: u16, reason: String, current: Option<&Waker>) {
        let mut inner = self.lock();
        inner.stop_sending(current);
        if inner.end.is_none() {
            inner.end = Some((code, reason));
        }
        inner.receivers.wake_all(current);
    }
}

impl Inner {
    fn stop_sending(&mut self, current: Option<&Waker>) {
        self.gone = true;
        if self.in_flight || !self.outbox.is_empty() {
            self.lost = true;
        }
        self.outbox.clear();
        self.in_flight = false;
        self.senders.wake_all(current);
    }
}

impl ReceiveHandle for Shared {
    fn poll_receive(&self, cx: &mut Context<'_>) -> Poll<Result<ReceiveEvent, ReceiveError>> {
        let mut inner = self.lock();
        if let Some(message) = inner.inbox.pop_front() {
            if inner.reading_paused {
                inner.reading_paused = false;
                self.wake_connection(&inner);
            }
            return Poll::Ready(Ok(message.into()));
        }
        if let Some((code, reason)) = &inner.end {
            return Poll::Ready(Ok(WebSocketReceive::Disconnect {
                code: *code,
                reason: reason.clone(),
            }
            .into()));
        }
        inner.receivers.register(cx.waker());
        Poll::Pending
    }
}

impl Shared {
    /// Checks `event` and queues it for the connection, under the lock.
    fn queue(&self, inner: &mut Inner, event: WebSocketSend) -> Result<(), SendError> {
        inner.protocol.check(&event)?;
        if inner.gone {
            return Err(SendError::Disconnected);
        }
        inner.outbox.push_back(event);
        self.wake_connection(inner);
        Ok(())
    }
}

/// Whether everything queued has gone out, under the lock.
fn poll_sent(inner: &mut Inner, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
    if inner.outbox.is_empty() && !inner.in_flight {
        return Poll::Ready(if inner.lost {
            Err(SendError::Disconnected)
        } else {
            Ok(())
        });
    }
    inner.senders.register(cx.waker());
    Poll::Pending
}

/// The WebSocket message in `event`, checked for what the wire needs.
fn websocket_event(event: SendEvent) -> Result<WebSocketSend, SendError> {
    let event = match event {
        SendEvent::WebSocket(event) => event,
        other => {
            return Err(ProtocolError::WrongScope {
                scope: "websocket",
                received: other.kind(),
            }
            .into());
        }
    };
    check_content(&event)?;
    Ok(event)
}

impl SendHandle for Shared {
    fn start_send(&self, event: SendEvent) -> Result<(), SendError> {
        let event = websocket_event(event)?;
        self.queue(&mut self.lock(), event)
    }

    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        poll_sent(&mut self.lock(), cx)
    }

    /// `start_send` and `poll_flush` under one lock.
    fn poll_send(
        &self,
        event: &mut Option<SendEvent>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError>> {
        let event = event.take().map(websocket_event).transpose()?;
        let mut inner = self.lock();
        if let Some(event) = event {
            self.queue(&mut inner, event)?;
        }
        poll_sent(&mut inner, cx)
    }
}

/// What the shared state machine does not check but the wire needs.
fn check_content(event: &WebSocketSend) -> Result<(), ProtocolError> {
    match event {
        WebSocketSend::Accept {
            subprotocol: Some(subprotocol),
            ..
        } if HeaderValue::from_str(subprotocol).is_err() => Err(ProtocolError::InvalidMessage {
            received: event.kind(),
            reason: "subprotocol must be a valid header value",
        }),
        // A 1xx denial would read as an interim response, a 101 as an accept.
        WebSocketSend::HttpResponseStart { status, .. } if status.as_u16() < 200 => {
            Err(ProtocolError::InvalidMessage {
                received: event.kind(),
                reason: "a denial response status must be at least 200",
            })
        }
        _ => Ok(()),
    }
}

/// The wakers of the tasks waiting on one side; usually one.
#[derive(Debug, Default)]
struct WakerSet {
    wakers: Vec<Waker>,
}

impl WakerSet {
    fn register(&mut self, waker: &Waker) {
        if !self.wakers.iter().any(|known| known.will_wake(waker)) {
            self.wakers.push(waker.clone());
        }
    }

    /// Wakes and forgets every waker except `skip`, which is forgotten too.
    fn wake_all(&mut self, skip: Option<&Waker>) {
        for waker in self.wakers.drain(..) {
            if !skip.is_some_and(|skip| skip.will_wake(&waker)) {
                waker.wake();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    use asgi_core::WebSocketMessage;

    struct Count(std::sync::atomic::AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn counting_waker() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(0.into()));
        (count.clone(), Waker::from(count))
    }

    fn woken(count: &Count) -> usize {
        count.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[test]
    fn a_full_queue_pauses_reading_until_the_app_receives() {
        let shared = Shared::new(&Extensions::default(), 2);
        let (conn_count, conn) = counting_waker();
        shared.register_connection(&conn);
        let (_, app) = counting_waker();
        let mut cx = Context::from_waker(&app);

        assert!(shared.has_room());
        shared.push(WebSocketReceive::Receive("a".into()), &conn);
        assert!(!shared.has_room());

        let first = shared.poll_receive(&mut cx);
        assert!(matches!(
            first,
            Poll::Ready(Ok(ReceiveEvent::WebSocket(WebSocketReceive::Connect)))
        ));
        assert_eq!(woken(&conn_count), 1);
        assert!(shared.has_room());
    }

    #[test]
    fn disconnect_comes_after_queued_messages_and_repeats() {
        let shared = Shared::new(&Extensions::default(), 8);
        let (_, conn) = counting_waker();
        let mut cx = Context::from_waker(&conn);
        shared.push(
            WebSocketReceive::Receive(WebSocketMessage::Text("x".into())),
            &conn,
        );

        shared.end(4000, "bye".into(), None);
        shared.end(1006, String::new(), None);

        let kinds: Vec<_> = (0..4)
            .map(|_| match shared.poll_receive(&mut cx) {
                Poll::Ready(Ok(event)) => event,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds[0].kind(), "websocket.connect");
        assert_eq!(kinds[1].kind(), "websocket.receive");
        let disconnect = ReceiveEvent::WebSocket(WebSocketReceive::Disconnect {
            code: 4000,
            reason: "bye".into(),
        });
        assert_eq!(kinds[2], disconnect);
        assert_eq!(kinds[3], disconnect);
    }

    #[test]
    fn unsent_messages_fail_with_disconnected_when_the_peer_leaves() {
        let shared = Shared::new(&Extensions::default(), 8);
        let (sender_count, sender) = counting_waker();
        let mut cx = Context::from_waker(&sender);
        shared.start_send(WebSocketSend::accept().into()).unwrap();
        assert!(shared.poll_flush(&mut cx).is_pending());

        shared.end(1006, String::new(), None);

        assert_eq!(woken(&sender_count), 1);
        assert_eq!(
            shared.poll_flush(&mut cx),
            Poll::Ready(Err(SendError::Disconnected))
        );
        assert_eq!(
            shared.start_send(WebSocketSend::close(1000).into()),
            Err(SendError::Disconnected)
        );
    }

    #[test]
    fn protocol_errors_and_bad_content_are_rejected_before_queueing() {
        let shared = Shared::new(&Extensions::default(), 8);

        let early = shared.start_send(WebSocketSend::message("too early").into());
        let bad_subprotocol = shared.start_send(
            WebSocketSend::Accept {
                subprotocol: Some("bad\r\nvalue".into()),
                headers: asgi_core::Headers::new(),
            }
            .into(),
        );

        assert!(matches!(early, Err(SendError::Protocol(_))));
        assert!(matches!(bad_subprotocol, Err(SendError::Protocol(_))));
        assert!(shared.take_outgoing().is_none());
    }
}
