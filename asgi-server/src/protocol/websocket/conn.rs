//! One WebSocket connection, from the held handshake until the app has returned.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use asgi_core::http::StatusCode;
use asgi_core::message::CLOSE_ABNORMAL;
use asgi_core::{Headers, WebSocketSend};
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig as FrameConfig};

use super::app_task::AppTask;
use super::handshake;
use super::handshake::ServerFields;
use super::open;
use super::shared::Shared;
use super::{AccessLog, WebSocketConfig};
use crate::protocol::ServiceContext;
use crate::shutdown::Shutdown;

/// The most bytes read past the request head while the handshake is held.
///
/// A client must wait for the 101 before sending frames; reading a little
/// anyway notices a client that gives up (EOF) without buffering a flood.
const HELD_READ_LIMIT: usize = 64 * 1024;

/// The most tungstenite reads from the socket at once; allocated per connection.
///
/// tungstenite zero-fills this much of its buffer before every read
/// (`FrameCodec::read_in` resizes it), so the default 128 KiB costs a
/// 128 KiB memset per read even for a 32-byte message, and as much memory
/// per idle connection. 16 KiB keeps that small; a large message takes
/// more read calls, each still a sizeable copy.
const READ_BUFFER_SIZE: usize = 16 * 1024;

/// One connection: the app, the state it shares with the app, and the settings.
pub(super) struct Connection {
    pub(super) shared: Arc<Shared>,
    pub(super) app: AppTask,
    pub(super) config: Arc<WebSocketConfig>,
    pub(super) shutdown: ShutdownWatch,
    /// The server's settings, for the fields of handshake responses.
    service: Arc<ServiceContext>,
    /// Where the handshake's outcome is logged (`None` without an access log).
    access: Option<AccessLog>,
    /// The status of the handshake response written, once it is.
    answered: Option<StatusCode>,
}

/// Learns that the server shuts down without touching anything shared
/// with other connections on every turn.
///
/// Polling the `Shutdown` future takes a lock that every connection shares
/// (the waiter list of the `Notify` behind it). So it is polled once to
/// register, with a waker that raises `fired` and wakes the connection, and
/// again only after that waker fired.
pub(super) struct ShutdownWatch {
    future: Pin<Box<dyn Future<Output = ()> + Send>>,
    signal: Arc<ShutdownSignal>,
    waker: Waker,
    polled: bool,
    begun: bool,
}

struct ShutdownSignal {
    fired: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for ShutdownSignal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        self.shared.wake_connection_now();
    }
}

impl ShutdownWatch {
    /// `true` once, when shutdown has begun.
    pub(super) fn begins(&mut self) -> bool {
        if self.begun || (self.polled && !self.signal.fired.swap(false, Ordering::Acquire)) {
            return false;
        }
        self.polled = true;
        let mut cx = Context::from_waker(&self.waker);
        self.begun = self.future.as_mut().poll(&mut cx).is_ready();
        self.begun
    }
}

/// How the held handshake ended.
enum Handshake {
    /// The 101 is written: frames follow.
    Accepted,
    /// A 403, 500 or denial response is written; the connection ends.
    Refused,
    /// The peer left before the answer was written.
    Gone,
}

/// A denial response (`websocket.http.response.*`) being collected.
struct Denial {
    status: StatusCode,
    headers: Headers,
    body: BytesMut,
}

impl Connection {
    /// A connection whose app has been called but not yet polled.
    pub(super) fn new(
        shared: Arc<Shared>,
        app: AppTask,
        service: Arc<ServiceContext>,
        access: Option<AccessLog>,
        mut shutdown: Shutdown,
    ) -> Self {
        let signal = Arc::new(ShutdownSignal {
            fired: AtomicBool::new(false),
            shared: shared.clone(),
        });
        Self {
            shared,
            app,
            config: service.websocket.clone(),
            service,
            access,
            answered: None,
            shutdown: ShutdownWatch {
                future: Box::pin(async move { shutdown.wait().await }),
                waker: Waker::from(signal.clone()),
                signal,
                polled: false,
                begun: false,
            },
        }
    }

    /// Runs the connection to its end and closes `io`.
    pub(super) async fn run<I>(mut self, mut io: I, mut buffered: BytesMut, key: String)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let handshake = self.handshake(&mut io, &mut buffered, &key).await;
        if let (Some(access), Some(status), false) = (
            &self.access,
            self.answered,
            matches!(handshake, Handshake::Gone),
        ) {
            access.log(status);
        }
        match handshake {
            Handshake::Accepted => {}
            Handshake::Refused => {
                self.shared.end(CLOSE_ABNORMAL, String::new(), None);
                let closing = handshake::close_after_response(&mut io, !buffered.is_empty());
                tokio::join!(closing, self.finish_app());
                return;
            }
            Handshake::Gone => {
                self.shared.end(CLOSE_ABNORMAL, String::new(), None);
                drop(io);
                self.finish_app().await;
                return;
            }
        }
        let frame_config = FrameConfig::default()
            .read_buffer_size(READ_BUFFER_SIZE)
            .max_message_size(Some(self.config.max_size))
            .max_frame_size(Some(self.config.max_size));
        let mut ws = WebSocketStream::from_partially_read(
            io,
            buffered.to_vec(),
            Role::Server,
            Some(frame_config),
        )
        .await;
        let ending = open::run(&mut self, &mut ws).await;
        let close_timeout = self.config.close_timeout;
        tokio::join!(
            open::close(&mut ws, ending, close_timeout),
            self.finish_app()
        );
    }

    /// The server's own fields for handshake responses.
    fn server_fields(&self) -> ServerFields<'_> {
        super::server_fields(&self.service)
    }

    /// Polls the app until it returns; the socket is closed by then, so
    /// `receive` gives `websocket.disconnect` and `send` fails.
    async fn finish_app(&mut self) {
        poll_fn(|cx| {
            self.app.poll(&self.shared, cx);
            if self.app.outcome().is_some() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    /// Holds the handshake until the app answers `websocket.connect`, and
    /// writes the answer.
    async fn handshake<I>(&mut self, io: &mut I, buffered: &mut BytesMut, key: &str) -> Handshake
    where
        I: AsyncRead + AsyncWrite + Unpin,
    {
        let mut out = BytesMut::new();
        let mut answer: Option<Handshake> = None;
        let mut denial: Option<Denial> = None;
        poll_fn(|cx| {
            self.shared.register_connection(cx.waker());
            loop {
                let mut progress = self.app.poll(&self.shared, cx);
                while answer.is_none() {
                    let Some(event) = self.shared.take_outgoing() else {
                        break;
                    };
                    progress = true;
                    answer = self.answer(event, key, &mut out, &mut denial, cx);
                }
                if answer.is_none() && self.app.outcome().is_some() {
                    // ASGI: the app returned without accepting or closing
                    // (or in the middle of a denial response).
                    tracing::error!("ASGI callable returned without sending handshake.");
                    self.shared.stop_sending(None);
                    handshake::write_internal_error(&mut out, self.server_fields());
                    self.answered = Some(StatusCode::INTERNAL_SERVER_ERROR);
                    answer = Some(Handshake::Refused);
                }
                if answer.is_none() && self.shutdown.begins() {
                    // A handshake the app still holds must not hold the
                    // server's shutdown too (Uvicorn answers 500 here).
                    self.shared.stop_sending(None);
                    handshake::write_unavailable(&mut out, self.server_fields());
                    self.answered = Some(StatusCode::SERVICE_UNAVAILABLE);
                    answer = Some(Handshake::Refused);
                    progress = true;
                }
                if answer.is_some() {
                    match write_out(io, &mut out, cx) {
                        Poll::Ready(Ok(())) => {
                            self.shared.sends_flushed(cx.waker());
                            return Poll::Ready(answer.take().unwrap_or(Handshake::Refused));
                        }
                        Poll::Ready(Err(_)) => return Poll::Ready(Handshake::Gone),
                        Poll::Pending => {}
                    }
                }
                match read_held(io, buffered, cx) {
                    Poll::Ready(true) => progress = true,
                    Poll::Ready(false) => return Poll::Ready(Handshake::Gone),
                    Poll::Pending => {}
                }
                if !progress {
                    return Poll::Pending;
                }
            }
        })
        .await
    }

    /// Handles one message of the app during the handshake; `Some` once
    /// the answer is in `out`.
    fn answer(
        &mut self,
        event: WebSocketSend,
        key: &str,
        out: &mut BytesMut,
        denial: &mut Option<Denial>,
        cx: &mut Context<'_>,
    ) -> Option<Handshake> {
        match event {
            WebSocketSend::Accept {
                subprotocol,
                headers,
            } => {
                let fields = self.server_fields();
                handshake::write_accept(out, key, subprotocol.as_deref(), &headers, fields);
                self.answered = Some(StatusCode::SWITCHING_PROTOCOLS);
                Some(Handshake::Accepted)
            }
            WebSocketSend::Close { .. } => {
                handshake::write_forbidden(out, self.server_fields());
                self.answered = Some(StatusCode::FORBIDDEN);
                Some(Handshake::Refused)
            }
            WebSocketSend::HttpResponseStart { status, headers } => {
                *denial = Some(Denial {
                    status,
                    headers,
                    body: BytesMut::new(),
                });
                // Buffered until the last body part, to send a content-length.
                self.shared.sends_flushed(cx.waker());
                None
            }
            WebSocketSend::HttpResponseBody { body, more_body } => {
                let Some(denial) = denial else {
                    // The state machine only lets a body follow a start.
                    return None;
                };
                denial.body.extend_from_slice(&body);
                if more_body {
                    self.shared.sends_flushed(cx.waker());
                    return None;
                }
                let fields = self.server_fields();
                handshake::write_response(
                    out,
                    denial.status,
                    &denial.headers,
                    &denial.body,
                    fields,
                );
                self.answered = Some(denial.status);
                Some(Handshake::Refused)
            }
            // The state machine allows no data message before accept.
            WebSocketSend::Send(_) => None,
        }
    }
}

/// Writes and flushes `out`; `Ready(Ok)` once it is empty.
fn write_out<I>(io: &mut I, out: &mut BytesMut, cx: &mut Context<'_>) -> Poll<std::io::Result<()>>
where
    I: AsyncWrite + Unpin,
{
    while !out.is_empty() {
        match Pin::new(&mut *io).poll_write(cx, out) {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(n)) => {
                let _ = out.split_to(n);
            }
            Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
            Poll::Pending => return Poll::Pending,
        }
    }
    Pin::new(&mut *io).poll_flush(cx)
}

/// Reads what arrives while the handshake is held: `Ready(true)` for data,
/// `Ready(false)` once the peer has gone, `Pending` otherwise (or when the
/// limit is reached).
fn read_held<I>(io: &mut I, buffered: &mut BytesMut, cx: &mut Context<'_>) -> Poll<bool>
where
    I: AsyncRead + Unpin,
{
    if buffered.len() >= HELD_READ_LIMIT {
        return Poll::Pending;
    }
    let mut scratch = [0u8; 4096];
    let mut buf = ReadBuf::new(&mut scratch);
    match Pin::new(io).poll_read(cx, &mut buf) {
        Poll::Ready(Ok(())) if buf.filled().is_empty() => Poll::Ready(false),
        Poll::Ready(Ok(())) => {
            buffered.extend_from_slice(buf.filled());
            Poll::Ready(true)
        }
        Poll::Ready(Err(_)) => Poll::Ready(false),
        Poll::Pending => Poll::Pending,
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("app", &self.app)
            .field("config", &self.config)
            .field("shutting_down", &self.shutdown.begun)
            .finish_non_exhaustive()
    }
}
