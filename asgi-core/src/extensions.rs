//! Protocol extensions a server advertises in `scope["extensions"]`.

use std::sync::Arc;

/// The extensions a server supports for one scope.
///
/// ASGI puts an entry in `scope["extensions"]` for each extension the server
/// implements; an app must not send an extension's messages unless its entry
/// is present, and the protocol state machines in [`crate::protocol`] reject
/// such messages. Each known extension is a typed field here; anything else
/// goes in [`other`](Self::other).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Extensions {
    /// `http.response.trailers`: the app may set `trailers` on start and send
    /// `http.response.trailers`. Present only when the client accepts trailers.
    pub trailers: bool,
    /// `http.response.pathsend`: the app may send a file by path.
    pub pathsend: bool,
    /// `http.response.zerocopysend`: the app may send an open file.
    pub zerocopysend: bool,
    /// `http.response.early_hint`: the app may send `103 Early Hints`.
    pub early_hint: bool,
    /// `websocket.http.response`: the app may deny a WebSocket with its own HTTP response.
    pub websocket_http_response: bool,
    /// `tls`: present only on TLS connections.
    pub tls: Option<Arc<TlsInfo>>,
    /// Server-specific extensions, keyed by type.
    pub other: http::Extensions,
}

/// The `tls` extension's data (ASGI TLS spec 0.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// `server_cert`: the server's certificate, PEM.
    pub server_cert: Option<String>,
    /// `client_cert_chain`: the client's certificates, PEM, leaf first.
    pub client_cert_chain: Vec<String>,
    /// `client_cert_name`: the client certificate's subject (RFC 4514).
    pub client_cert_name: Option<String>,
    /// `client_cert_error`: why the client certificate was not verified, if it was not.
    pub client_cert_error: Option<String>,
    /// `tls_version`: `0x0303` for TLS 1.2, `0x0304` for TLS 1.3.
    pub tls_version: Option<u16>,
    /// `cipher_suite`: the IANA code of the negotiated suite.
    pub cipher_suite: Option<u16>,
}

impl TlsInfo {
    /// Empty TLS data, for a server to fill in.
    pub fn new() -> Self {
        Self::default()
    }
}
