//! WebSocket handlers: the [`WsHandler`] trait and the runner that closes what a handler left open.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use asgi_core::{
    BoxError, ReceiveEvent, Receiver, Sender, WebSocketReceive, WebSocketScope, WebSocketSend,
};

use super::{Phase, WebSocket};
use crate::request::OwnedParams;

/// What a WebSocket handler may return: `()` or `Result<(), E>`.
pub trait WsOutcome: Send + 'static {
    /// The error to log and close with 1011, if any.
    fn into_result(self) -> Result<(), BoxError>;
}

impl WsOutcome for () {
    fn into_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E: Into<BoxError> + Send + 'static> WsOutcome for Result<(), E> {
    fn into_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

/// Async functions that handle a WebSocket: `async fn(WebSocket) -> ()` or `-> Result<(), E>`.
pub trait WsHandler<T>: Clone + Send + Sync + 'static {
    /// Runs the handler.
    fn call(self, socket: WebSocket) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;
}

impl<F, Fut> WsHandler<(WebSocket,)> for F
where
    F: FnOnce(WebSocket) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: WsOutcome,
{
    fn call(self, socket: WebSocket) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> {
        Box::pin(async move { self(socket).await.into_result() })
    }
}

type WsFn =
    dyn Fn(WebSocket) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> + Send + Sync;

/// A shared, type-erased WebSocket handler.
#[derive(Clone)]
pub(crate) struct BoxedWsHandler(Arc<WsFn>);

impl BoxedWsHandler {
    pub(crate) fn new<H: WsHandler<T>, T: 'static>(handler: H) -> Self {
        Self(Arc::new(move |socket| handler.clone().call(socket)))
    }

    /// Runs the handler, then closes what it left open.
    pub(crate) async fn run(
        &self,
        scope: WebSocketScope,
        receive: Receiver,
        send: Sender,
        params: OwnedParams,
    ) -> Result<(), BoxError> {
        let (closer_send, closer_receive) = (send.clone(), receive.clone());
        let mut socket = WebSocket::new(scope, receive, send, params);
        let report = Arc::new(Mutex::new(Phase::Connecting));
        socket.report = Some(report.clone());
        let outcome = (self.0)(socket).await;
        let phase = *report.lock().unwrap_or_else(PoisonError::into_inner);
        let code = if outcome.is_err() { 1011 } else { 1000 };
        if let Err(error) = &outcome {
            tracing::error!(%error, "websocket handler failed");
        }
        match phase {
            Phase::Closed => {}
            Phase::Connecting => {
                // Read the connect first so the close is a valid denial.
                if let Ok(ReceiveEvent::WebSocket(WebSocketReceive::Connect)) =
                    closer_receive.receive().await
                {
                    let _ = closer_send.send(WebSocketSend::close(1000)).await;
                }
            }
            Phase::Handshake => {
                let _ = closer_send.send(WebSocketSend::close(1000)).await;
            }
            Phase::Connected => {
                let _ = closer_send.send(WebSocketSend::close(code)).await;
            }
        }
        Ok(())
    }
}
