//! The receive and send handles: how an app talks to its server.
//!
//! A server implements [`ReceiveHandle`] and [`SendHandle`] for its
//! connection state and wraps them in a [`Receiver`] and a [`Sender`]. Both
//! traits are poll-based and take `&self`, so one `Arc` per connection can
//! serve every request on it: no channel, no task and no allocation per
//! message is needed, and `send` can write straight into the connection's
//! buffer.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::error::{ReceiveError, SendError};
use crate::message::{ReceiveEvent, SendEvent};

/// The server side of [`Receiver`].
pub trait ReceiveHandle: Send + Sync {
    /// Polls for the next message for the app.
    ///
    /// Returns `Pending` (and wakes `cx` later) until one is available. After
    /// the peer disconnects, an HTTP handle keeps returning `http.disconnect`.
    fn poll_receive(&self, cx: &mut Context<'_>) -> Poll<Result<ReceiveEvent, ReceiveError>>;
}

/// The server side of [`Sender`].
///
/// A send is `start_send` once, then `poll_flush` until it is ready: `send`
/// returns to the app once the server has handed the message to the transport.
pub trait SendHandle: Send + Sync {
    /// Validates and queues `event`.
    ///
    /// # Errors
    ///
    /// A [`SendError::Protocol`] for a message the protocol does not allow now
    /// (see [`crate::protocol`]), [`SendError::Disconnected`] if the peer left.
    fn start_send(&self, event: SendEvent) -> Result<(), SendError>;

    /// Polls until every queued message has been handed to the transport.
    ///
    /// # Errors
    ///
    /// [`SendError::Disconnected`] if the peer left before that.
    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), SendError>>;

    /// One poll of [`Sender::send`]'s future: sends `event` if it is still
    /// `Some` (taking it), then polls the flush.
    ///
    /// The provided method calls [`start_send`](Self::start_send) and then
    /// [`poll_flush`](Self::poll_flush). A server whose two calls each take
    /// a lock can override it to do both under one (asgi-server does).
    ///
    /// # Errors
    ///
    /// Those of [`start_send`](Self::start_send) and
    /// [`poll_flush`](Self::poll_flush).
    fn poll_send(
        &self,
        event: &mut Option<SendEvent>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError>> {
        if let Some(event) = event.take() {
            self.start_send(event)?;
        }
        self.poll_flush(cx)
    }
}

/// The app's `receive` callable.
///
/// Cloning gives another handle to the same stream of messages.
#[derive(Clone)]
pub struct Receiver {
    handle: Arc<dyn ReceiveHandle>,
}

impl Receiver {
    /// Wraps a server's handle.
    pub fn new(handle: Arc<dyn ReceiveHandle>) -> Self {
        Self { handle }
    }

    /// Waits for the next message.
    ///
    /// # Errors
    ///
    /// [`ReceiveError::Closed`] if the server dropped the channel.
    pub fn receive(&self) -> ReceiveFuture<'_> {
        ReceiveFuture { receiver: self }
    }

    /// Polls for the next message: the poll form of [`receive`](Self::receive).
    pub fn poll_receive(&self, cx: &mut Context<'_>) -> Poll<Result<ReceiveEvent, ReceiveError>> {
        self.handle.poll_receive(cx)
    }
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// The future of [`Receiver::receive`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct ReceiveFuture<'a> {
    receiver: &'a Receiver,
}

impl Future for ReceiveFuture<'_> {
    type Output = Result<ReceiveEvent, ReceiveError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.receiver.handle.poll_receive(cx)
    }
}

/// The app's `send` callable.
///
/// Cloning gives another handle to the same connection, for example to send
/// WebSocket messages from a second task; the protocol rules apply to the
/// messages of all clones together.
#[derive(Clone)]
pub struct Sender {
    handle: Arc<dyn SendHandle>,
}

impl Sender {
    /// Wraps a server's handle.
    pub fn new(handle: Arc<dyn SendHandle>) -> Self {
        Self { handle }
    }

    /// Sends one message; returns once the server has handed it to the transport.
    ///
    /// Messages must follow the order the ASGI spec gives for the scope type:
    /// `http.response.start` first, then `http.response.body` until
    /// `more_body` is false. See [`crate::protocol`] for every rule.
    ///
    /// # Errors
    ///
    /// [`SendError::Protocol`] for an out-of-order or invalid message and
    /// [`SendError::Disconnected`] once the client has gone away.
    pub fn send(&self, event: impl Into<SendEvent>) -> SendFuture<'_> {
        SendFuture {
            sender: self,
            event: Some(event.into()),
        }
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The future of [`Sender::send`].
///
/// The message is queued on the first poll; dropping the future before that
/// sends nothing.
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct SendFuture<'a> {
    sender: &'a Sender,
    event: Option<SendEvent>,
}

impl Future for SendFuture<'_> {
    type Output = Result<(), SendError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.sender.handle.poll_send(&mut this.event, cx)
    }
}
