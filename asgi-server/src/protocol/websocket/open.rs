//! An accepted connection: frames both ways, keepalive pings, limits and the close handshake.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use asgi_core::message::{CLOSE_ABNORMAL, CLOSE_GOING_AWAY, CLOSE_NO_STATUS, CLOSE_NORMAL};
use asgi_core::{WebSocketMessage, WebSocketReceive, WebSocketSend};
use futures_util::{Sink, SinkExt, Stream};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, Sleep, sleep};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError as WsProtocolError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::app_task::Outcome;
use super::conn::Connection;
use super::handshake;
use super::shared::Shared;

/// Close code 1002: protocol error.
const CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// Close code 1007: invalid payload data (bad UTF-8 in a text message).
const CLOSE_INVALID_DATA: u16 = 1007;
/// Close code 1009: message too big.
const CLOSE_TOO_BIG: u16 = 1009;
/// Close code 1011: internal error (the app failed, or no pong came).
const CLOSE_INTERNAL_ERROR: u16 = 1011;

/// Loop turns before the connection yields to other tasks by itself.
const TURNS_PER_POLL: usize = 64;

/// How an accepted connection ended.
#[derive(Debug)]
pub(super) enum Ending {
    /// The close handshake completed, timed out, or the connection dropped:
    /// only the TCP connection is left to close.
    Closed,
    /// The connection failed: send this close frame, then close.
    Fail(CloseFrame),
}

/// Runs an accepted connection until the socket is done with.
///
/// The app may still be running when this returns; `websocket.disconnect`
/// is queued for it by then.
pub(super) async fn run<I>(conn: &mut Connection, ws: &mut WebSocketStream<I>) -> Ending
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let mut open = Open::new(conn.config.ping_interval);
    poll_fn(|cx| open.poll(conn, ws, cx)).await
}

/// Sends the close frame `ending` asks for, then closes the TCP connection.
pub(super) async fn close<I>(ws: &mut WebSocketStream<I>, ending: Ending, limit: Duration)
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    match ending {
        // Both close frames are exchanged (the peer sends nothing after its
        // own), or the peer is gone: RFC 6455 section 7.1.1 has the server
        // close the TCP connection first, and nothing is left to read. No
        // waiting for the peer's FIN, which would let an idle client hold a
        // graceful shutdown for the whole close timeout.
        Ending::Closed => {
            let _ = tokio::time::timeout(limit, ws.get_mut().shutdown()).await;
        }
        // The peer may still be sending (a too-big message, say): drain it so
        // the close frame is not lost to a reset.
        Ending::Fail(frame) => {
            let _ = tokio::time::timeout(limit, ws.send(Message::Close(Some(frame)))).await;
            handshake::close(ws.get_mut(), limit).await;
        }
    }
}

/// The state of an accepted connection.
struct Open {
    /// A close frame is queued or sent by the server (for the app or itself).
    we_closed: bool,
    /// The peer's close frame has arrived first; tungstenite answers it.
    peer_closed: bool,
    /// The app's messages were written and wait for a flush.
    in_flight: bool,
    /// Something was written (or a pong queued) and needs a flush.
    need_flush: bool,
    /// The ping interval, and when to ping next.
    ping_at: Option<(Duration, Pin<Box<Sleep>>)>,
    /// The payload of the last ping.
    ping_count: u64,
    /// When to give up waiting for the pong of the last ping.
    pong_deadline: Option<Pin<Box<Sleep>>>,
    /// When to give up waiting for the peer's close frame.
    close_deadline: Option<Pin<Box<Sleep>>>,
    /// The timers must be polled: a new poll began, or a timer was set.
    ///
    /// Between those, a timer that fires wakes the task, which starts a new
    /// poll; so a busy connection does not poll them on every turn.
    timers_due: bool,
}

impl Open {
    fn new(ping_interval: Option<Duration>) -> Self {
        Self {
            we_closed: false,
            peer_closed: false,
            in_flight: false,
            need_flush: false,
            ping_at: ping_interval
                .filter(|interval| !interval.is_zero())
                .map(|interval| (interval, Box::pin(sleep(interval)))),
            ping_count: 0,
            pong_deadline: None,
            close_deadline: None,
            timers_due: true,
        }
    }

    fn poll<I>(
        &mut self,
        conn: &mut Connection,
        ws: &mut WebSocketStream<I>,
        cx: &mut Context<'_>,
    ) -> Poll<Ending>
    where
        I: AsyncRead + AsyncWrite + Unpin,
    {
        conn.shared.register_connection(cx.waker());
        self.timers_due = true;
        for _ in 0..TURNS_PER_POLL {
            match self.turn(conn, ws, cx) {
                Ok(true) => continue,
                Ok(false) => return Poll::Pending,
                Err(ending) => return Poll::Ready(ending),
            }
        }
        // Busy, but other connections get their turn.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// One pass over every source of work; `Ok(true)` if anything happened.
    fn turn<I>(
        &mut self,
        conn: &mut Connection,
        ws: &mut WebSocketStream<I>,
        cx: &mut Context<'_>,
    ) -> Result<bool, Ending>
    where
        I: AsyncRead + AsyncWrite + Unpin,
    {
        let shared = &*conn.shared;
        let mut progress = conn.app.poll(shared, cx);
        // What the app sent goes out before any close the server adds.
        progress |= self.send_outgoing(ws, shared, cx, conn.config.close_timeout)?;

        if let Some(outcome) = conn.app.outcome()
            && !self.we_closed
            && !self.peer_closed
        {
            // The app returned without closing: close for it.
            let code = match outcome {
                Outcome::Returned => CLOSE_NORMAL,
                Outcome::Failed => CLOSE_INTERNAL_ERROR,
            };
            self.server_close(ws, shared, code, "", cx, conn.config.close_timeout)?;
            progress = true;
        }

        if conn.shutdown.begins() {
            progress = true;
            if !self.we_closed && !self.peer_closed {
                self.server_close(
                    ws,
                    shared,
                    CLOSE_GOING_AWAY,
                    "Server shutting down",
                    cx,
                    conn.config.close_timeout,
                )?;
            }
        }

        if self.need_flush {
            match Pin::new(&mut *ws).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.need_flush = false;
                    if self.in_flight {
                        self.in_flight = false;
                        shared.sends_flushed(cx.waker());
                    }
                    progress = true;
                }
                Poll::Ready(Err(_)) => return Err(dropped(shared, cx)),
                Poll::Pending => {}
            }
        }

        let reading = shared.has_room();
        if reading {
            match Pin::new(&mut *ws).poll_next(cx) {
                Poll::Ready(Some(Ok(message))) => {
                    self.receive(message, shared, cx);
                    progress = true;
                }
                Poll::Ready(Some(Err(error))) => return Err(failed(error, shared, cx)),
                Poll::Ready(None) => {
                    // The close handshake is complete (or was already).
                    shared.end(CLOSE_ABNORMAL, String::new(), Some(cx.waker()));
                    return Err(Ending::Closed);
                }
                Poll::Pending => {}
            }
        }

        if self.timers_due {
            self.timers_due = false;
            progress |= self.timers(ws, shared, cx, reading, conn.config.ping_timeout)?;
        }
        Ok(progress)
    }

    /// Polls the ping timer and the deadlines; `Ok(true)` if one fired.
    fn timers<I>(
        &mut self,
        ws: &mut WebSocketStream<I>,
        shared: &Shared,
        cx: &mut Context<'_>,
        reading: bool,
        ping_timeout: Option<Duration>,
    ) -> Result<bool, Ending>
    where
        I: AsyncRead + AsyncWrite + Unpin,
    {
        let mut fired = self.ping(ws, shared, cx, ping_timeout)?;
        if let Some(deadline) = &mut self.close_deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            tracing::debug!("no close frame from the WebSocket peer in time");
            shared.end(CLOSE_ABNORMAL, String::new(), Some(cx.waker()));
            return Err(Ending::Closed);
        }
        if let Some(deadline) = &mut self.pong_deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            if !reading {
                // The pong may be waiting behind messages the app has not
                // received yet: wait until reading resumes.
                if let Some(timeout) = ping_timeout {
                    deadline.as_mut().reset(Instant::now() + timeout);
                }
                fired = true;
            } else {
                tracing::debug!("no pong from the WebSocket peer in time");
                shared.end(CLOSE_ABNORMAL, String::new(), Some(cx.waker()));
                return Err(Ending::Fail(close_frame(
                    CLOSE_INTERNAL_ERROR,
                    "keepalive ping timeout",
                )));
            }
        }
        // A timer that fired was reset or replaced: poll it again to register it.
        self.timers_due |= fired;
        Ok(fired)
    }

    /// Writes what the app sent; `Ok(true)` if anything was taken.
    fn send_outgoing<I>(
        &mut self,
        ws: &mut WebSocketStream<I>,
        shared: &Shared,
        cx: &mut Context<'_>,
        close_timeout: Duration,
    ) -> Result<bool, Ending>
    where
        I: AsyncRead + AsyncWrite + Unpin,
    {
        let mut progress = false;
        loop {
            match Pin::new(&mut *ws).poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Err(dropped(shared, cx)),
                Poll::Pending => return Ok(progress),
            }
            let Some(event) = shared.take_outgoing() else {
                return Ok(progress);
            };
            progress = true;
            self.in_flight = true;
            self.need_flush = true;
            let message = match event {
                WebSocketSend::Send(WebSocketMessage::Text(text)) => {
                    Message::Text(Utf8Bytes::from(text))
                }
                WebSocketSend::Send(WebSocketMessage::Binary(bytes)) => Message::Binary(bytes),
                WebSocketSend::Close { code, reason } => {
                    self.closing(close_timeout);
                    Message::Close(Some(close_frame(code, &reason)))
                }
                // The state machine allows only these two after accept.
                _ => continue,
            };
            if Pin::new(&mut *ws).start_send(message).is_err() {
                return Err(dropped(shared, cx));
            }
        }
    }

    /// Sends a ping when it is time; `Ok(true)` if the timer fired.
    fn ping<I>(
        &mut self,
        ws: &mut WebSocketStream<I>,
        shared: &Shared,
        cx: &mut Context<'_>,
        ping_timeout: Option<Duration>,
    ) -> Result<bool, Ending>
    where
        I: AsyncRead + AsyncWrite + Unpin,
    {
        let Some((interval, ping_at)) = &mut self.ping_at else {
            return Ok(false);
        };
        if ping_at.as_mut().poll(cx).is_pending() {
            return Ok(false);
        }
        ping_at.as_mut().reset(Instant::now() + *interval);
        // One ping at a time, and none once closing.
        if self.pong_deadline.is_some() || self.we_closed || self.peer_closed {
            return Ok(true);
        }
        self.ping_count += 1;
        let payload = self.ping_count.to_be_bytes().to_vec();
        if Pin::new(&mut *ws)
            .start_send(Message::Ping(payload.into()))
            .is_err()
        {
            return Err(dropped(shared, cx));
        }
        self.need_flush = true;
        self.pong_deadline = ping_timeout.map(|timeout| Box::pin(sleep(timeout)));
        Ok(true)
    }

    /// Handles one message from the peer.
    fn receive(&mut self, message: Message, shared: &Shared, cx: &mut Context<'_>) {
        let data = match message {
            Message::Text(text) => WebSocketMessage::Text(text.as_str().to_owned()),
            Message::Binary(bytes) => WebSocketMessage::Binary(bytes),
            // tungstenite queued the pong; make sure it leaves.
            Message::Ping(_) => {
                self.need_flush = true;
                return;
            }
            Message::Pong(payload) => {
                if payload[..] == self.ping_count.to_be_bytes() {
                    self.pong_deadline = None;
                }
                return;
            }
            Message::Close(frame) => {
                let (code, reason) = frame.map_or((CLOSE_NO_STATUS, String::new()), |frame| {
                    (frame.code.into(), frame.reason.as_str().to_owned())
                });
                if !self.we_closed {
                    // tungstenite queued the echo of this close frame.
                    self.peer_closed = true;
                    self.need_flush = true;
                }
                shared.end(code, reason, Some(cx.waker()));
                return;
            }
            Message::Frame(_) => return,
        };
        // After a close frame (ours or the peer's) data is dropped: the app
        // gets `websocket.disconnect` next.
        if !self.we_closed && !self.peer_closed {
            shared.push(WebSocketReceive::Receive(data), cx.waker());
        }
    }

    /// Starts a close the server decides on (app ended, shutdown).
    fn server_close<I>(
        &mut self,
        ws: &mut WebSocketStream<I>,
        shared: &Shared,
        code: u16,
        reason: &str,
        cx: &mut Context<'_>,
        close_timeout: Duration,
    ) -> Result<(), Ending>
    where
        I: AsyncRead + AsyncWrite + Unpin,
    {
        // The app may still be running: its sends fail from now on.
        shared.stop_sending(Some(cx.waker()));
        self.in_flight = false;
        self.closing(close_timeout);
        self.need_flush = true;
        Pin::new(&mut *ws)
            .start_send(Message::Close(Some(close_frame(code, reason))))
            .map_err(|_| dropped(shared, cx))
    }

    fn closing(&mut self, close_timeout: Duration) {
        self.we_closed = true;
        self.pong_deadline = None;
        self.close_deadline = Some(Box::pin(sleep(close_timeout)));
        self.timers_due = true;
    }
}

fn close_frame(code: u16, reason: &str) -> CloseFrame {
    CloseFrame {
        code: code.into(),
        reason: Utf8Bytes::from(reason),
    }
}

/// The connection dropped (I/O error or EOF without a close frame): 1006.
fn dropped(shared: &Shared, cx: &mut Context<'_>) -> Ending {
    shared.end(CLOSE_ABNORMAL, String::new(), Some(cx.waker()));
    Ending::Closed
}

/// Maps a read error to the RFC 6455 close code that fails the connection.
fn failed(error: WsError, shared: &Shared, cx: &mut Context<'_>) -> Ending {
    let (code, reason) = match &error {
        WsError::Io(_)
        | WsError::ConnectionClosed
        | WsError::AlreadyClosed
        | WsError::Protocol(WsProtocolError::ResetWithoutClosingHandshake) => {
            return dropped(shared, cx);
        }
        WsError::Capacity(_) => (CLOSE_TOO_BIG, "message too big"),
        WsError::Utf8(_) => (CLOSE_INVALID_DATA, "invalid UTF-8"),
        WsError::Protocol(_) => (CLOSE_PROTOCOL_ERROR, "protocol error"),
        _ => (CLOSE_INTERNAL_ERROR, "internal error"),
    };
    tracing::debug!(%error, code, "failing the WebSocket connection");
    shared.end(code, String::new(), Some(cx.waker()));
    Ending::Fail(close_frame(code, reason))
}
