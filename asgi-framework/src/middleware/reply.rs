//! Answering a request from inside middleware, without calling the inner app.

use asgi_core::{BoxError, Scope, Sender, WebSocketSend};

use crate::response::Response;

/// Sends `response` for `scope`: as an HTTP response, or as a WebSocket
/// handshake denial (`websocket.http.response.*` when the server offers it,
/// else a plain `websocket.close`, which servers answer with 403).
///
/// Lifespan scopes get nothing: the caller passes them on.
pub(crate) async fn send_response(
    scope: &Scope,
    response: Response,
    send: &Sender,
) -> Result<(), BoxError> {
    match scope {
        Scope::Http(http) => response.send(send, &http.extensions).await,
        Scope::WebSocket(ws) if ws.extensions.websocket_http_response => {
            let status = response.status();
            let mut response = response;
            let headers = response.headers().clone();
            let body = response.take_body().collect().await?;
            send.send(WebSocketSend::HttpResponseStart { status, headers })
                .await?;
            send.send(WebSocketSend::HttpResponseBody {
                body,
                more_body: false,
            })
            .await?;
            Ok(())
        }
        Scope::WebSocket(_) => {
            send.send(WebSocketSend::Close {
                code: 1000,
                reason: String::new(),
            })
            .await?;
            Ok(())
        }
        Scope::Lifespan(_) => Ok(()),
    }
}

/// A `text/plain` response with `status` and `text`.
pub(crate) fn plain_text(status: http::StatusCode, text: impl Into<String>) -> Response {
    use crate::response::IntoResponse;
    let mut response = text.into().into_response();
    *response.status_mut() = status;
    response
}
