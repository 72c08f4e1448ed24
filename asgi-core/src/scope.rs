//! Connection scopes: what an app is told about the connection it serves.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use bytestring::ByteString;
use http::Method;
use percent_encoding::percent_decode;

use crate::extensions::Extensions;
use crate::headers::Headers;
use crate::state::{LifespanState, State};

/// The ASGI version this crate implements (`scope["asgi"]["version"]`).
pub const ASGI_VERSION: &str = "3.0";
/// The HTTP and WebSocket sub-spec version (`scope["asgi"]["spec_version"]`).
pub const HTTP_SPEC_VERSION: &str = "2.5";
/// The lifespan sub-spec version.
pub const LIFESPAN_SPEC_VERSION: &str = "2.0";

/// What an application is called with: one per HTTP request, WebSocket
/// connection or lifespan of the event loop.
///
/// An app should return an error for a scope type it does not support; for
/// [`Scope::Lifespan`] this tells a server in `auto` mode to carry on without
/// lifespan events.
#[derive(Debug, Clone)]
pub enum Scope {
    /// `type: "http"`: one HTTP request and its response.
    Http(HttpScope),
    /// `type: "websocket"`: one WebSocket connection, from handshake to close.
    WebSocket(WebSocketScope),
    /// `type: "lifespan"`: startup and shutdown of the server's event loop.
    Lifespan(LifespanScope),
}

impl Scope {
    /// The ASGI `type` string: `"http"`, `"websocket"` or `"lifespan"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Http(_) => "http",
            Scope::WebSocket(_) => "websocket",
            Scope::Lifespan(_) => "lifespan",
        }
    }

    /// The `asgi.spec_version` for this scope type.
    pub fn spec_version(&self) -> &'static str {
        match self {
            Scope::Http(_) | Scope::WebSocket(_) => HTTP_SPEC_VERSION,
            Scope::Lifespan(_) => LIFESPAN_SPEC_VERSION,
        }
    }
}

/// The HTTP version of a connection (`scope["http_version"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpVersion {
    /// `"1.0"`
    Http10,
    /// `"1.1"`
    Http11,
    /// `"2"`
    Http2,
}

impl HttpVersion {
    /// The ASGI string form: `"1.0"`, `"1.1"` or `"2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpVersion::Http10 => "1.0",
            HttpVersion::Http11 => "1.1",
            HttpVersion::Http2 => "2",
        }
    }
}

impl fmt::Display for HttpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The URL scheme (`scope["scheme"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `"http"`
    Http,
    /// `"https"`
    Https,
    /// `"ws"`
    Ws,
    /// `"wss"`
    Wss,
}

impl Scheme {
    /// The ASGI string form.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        }
    }

    /// Whether the connection is encrypted (`https` or `wss`).
    pub fn is_secure(self) -> bool {
        matches!(self, Scheme::Https | Scheme::Wss)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The address the server accepted the connection on (`scope["server"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAddr {
    /// A TCP listener: `[host, port]`.
    Tcp(SocketAddr),
    /// A Unix domain socket: `[path, None]`.
    Unix(Arc<Path>),
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerAddr::Tcp(addr) => addr.fmt(f),
            ServerAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// The request-target parts every HTTP and WebSocket scope carries.
///
/// Split out so servers and test clients build them the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `path`: percent-decoded, UTF-8-decoded (invalid sequences replaced), no query.
    ///
    /// A [`ByteString`]: a `str` (it derefs to one) kept in [`Bytes`], so that
    /// a path with nothing to decode, nearly every one, shares `raw_path`'s
    /// bytes instead of being copied. Set it from a `String` or `&str` with `.into()`.
    pub path: ByteString,
    /// `raw_path`: the path bytes as received, no query.
    pub raw_path: Bytes,
    /// `query_string`: the bytes after `?`, still percent-encoded.
    pub query_string: Bytes,
}

impl Target {
    /// Splits an origin-form request target (`/a%20b?x=1`) into its ASGI parts.
    ///
    /// An absolute-form target (`http://host/p?q`) keeps only its path and
    /// query, as RFC 9112 section 3.2.2 tells a server to. An empty path becomes `/`.
    pub fn parse(target: Bytes) -> Self {
        let mut target = target;
        // Origin-form (`/...`, nearly every request) cannot be absolute-form:
        // no search for a scheme through the whole target then.
        if !target.starts_with(b"/")
            && let Some(after_scheme) = find(&target, b"://")
            && is_scheme(&target[..after_scheme])
        {
            let rest = target.slice(after_scheme + 3..);
            target = match rest.iter().position(|&b| b == b'/' || b == b'?') {
                Some(i) => rest.slice(i..),
                None => Bytes::new(),
            };
        }
        let (raw_path, query_string) = match target.iter().position(|&b| b == b'?') {
            Some(i) => (target.slice(..i), target.slice(i + 1..)),
            None => (target, Bytes::new()),
        };
        let raw_path = if raw_path.is_empty() {
            Bytes::from_static(b"/")
        } else {
            raw_path
        };
        let path = decode_path(&raw_path);
        Self {
            path,
            raw_path,
            query_string,
        }
    }
}

/// `raw_path` percent-decoded and UTF-8-decoded: a view of the same bytes
/// when there is nothing to decode, else a new string.
fn decode_path(raw_path: &Bytes) -> ByteString {
    if !raw_path.contains(&b'%')
        && let Ok(path) = ByteString::try_from(raw_path.clone())
    {
        return path;
    }
    percent_decode(raw_path)
        .decode_utf8_lossy()
        .into_owned()
        .into()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 section 3.1):
/// so `://` in an origin-form path or query does not make it absolute-form.
fn is_scheme(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_alphabetic)
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The scope of one HTTP request (`type: "http"`).
///
/// Servers build it with [`HttpScope::new`] and then set what they know.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpScope {
    /// `http_version`.
    pub http_version: HttpVersion,
    /// `method`, uppercase as received.
    pub method: Method,
    /// `scheme`: `http` or `https`.
    pub scheme: Scheme,
    /// `path`, `raw_path` and `query_string`.
    pub target: Target,
    /// `root_path`: where the app is mounted (WSGI's `SCRIPT_NAME`); `""` by default.
    pub root_path: String,
    /// `headers`: order and duplicates preserved, names lowercase.
    pub headers: Headers,
    /// `client`: the peer address, if known.
    pub client: Option<SocketAddr>,
    /// `server`: the listening address, if known.
    pub server: Option<ServerAddr>,
    /// `state`: a shallow copy of the lifespan state.
    pub state: State,
    /// `extensions`: what this server supports beyond the base spec.
    pub extensions: Extensions,
}

impl HttpScope {
    /// A scope for `method` on `target` (as in the request line), HTTP/1.1,
    /// scheme `http`, no headers and no addresses.
    pub fn new(method: Method, target: impl Into<Bytes>) -> Self {
        Self {
            http_version: HttpVersion::Http11,
            method,
            scheme: Scheme::Http,
            target: Target::parse(target.into()),
            root_path: String::new(),
            headers: Headers::new(),
            client: None,
            server: None,
            state: State::new(),
            extensions: Extensions::default(),
        }
    }

    /// The percent-decoded path.
    pub fn path(&self) -> &str {
        &self.target.path
    }

    /// The raw query string.
    pub fn query_string(&self) -> &[u8] {
        &self.target.query_string
    }
}

/// The scope of one WebSocket connection (`type: "websocket"`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebSocketScope {
    /// `http_version` of the handshake.
    pub http_version: HttpVersion,
    /// `scheme`: `ws` or `wss`.
    pub scheme: Scheme,
    /// `path`, `raw_path` and `query_string`.
    pub target: Target,
    /// `root_path`.
    pub root_path: String,
    /// `headers` of the handshake request.
    pub headers: Headers,
    /// `client`.
    pub client: Option<SocketAddr>,
    /// `server`.
    pub server: Option<ServerAddr>,
    /// `subprotocols` the client offered, in its order of preference.
    pub subprotocols: Vec<String>,
    /// `state`: a shallow copy of the lifespan state.
    pub state: State,
    /// `extensions`.
    pub extensions: Extensions,
}

impl WebSocketScope {
    /// A scope for `target`, HTTP/1.1, scheme `ws`.
    pub fn new(target: impl Into<Bytes>) -> Self {
        Self {
            http_version: HttpVersion::Http11,
            scheme: Scheme::Ws,
            target: Target::parse(target.into()),
            root_path: String::new(),
            headers: Headers::new(),
            client: None,
            server: None,
            subprotocols: Vec::new(),
            state: State::new(),
            extensions: Extensions::default(),
        }
    }

    /// The percent-decoded path.
    pub fn path(&self) -> &str {
        &self.target.path
    }
}

/// The scope of the lifespan protocol (`type: "lifespan"`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LifespanScope {
    /// `state`: the namespace the app fills during startup.
    pub state: LifespanState,
}

impl LifespanScope {
    /// A lifespan scope around `state`.
    pub fn new(state: LifespanState) -> Self {
        Self { state }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_is_split_and_decoded() {
        type Case = (&'static [u8], &'static str, &'static [u8], &'static [u8]);
        let cases: &[Case] = &[
            (b"/", "/", b"/", b""),
            (b"/a%20b?x=1&y=%20", "/a b", b"/a%20b", b"x=1&y=%20"),
            (b"/caf%C3%A9", "/caf\u{e9}", b"/caf%C3%A9", b""),
            (b"/bad%FF", "/bad\u{fffd}", b"/bad%FF", b""),
            (b"?q", "/", b"/", b"q"),
            (b"http://example.com/p?q=1", "/p", b"/p", b"q=1"),
            (b"http://example.com", "/", b"/", b""),
            (b"/%2e%2e/etc", "/../etc", b"/%2e%2e/etc", b""),
        ];
        for &(input, path, raw, query) in cases {
            let target = Target::parse(Bytes::from_static(input));

            assert_eq!(target.path, path, "{input:?}");
            assert_eq!(target.raw_path, raw, "{input:?}");
            assert_eq!(target.query_string, query, "{input:?}");
        }
    }

    #[test]
    fn path_without_escapes_shares_raw_path_bytes() {
        let target = Target::parse(Bytes::copy_from_slice(b"/items/42?q=1"));

        assert_eq!(target.path, "/items/42");
        assert_eq!(target.path.as_bytes().as_ptr(), target.raw_path.as_ptr());
    }

    #[test]
    fn path_with_raw_non_utf8_bytes_is_decoded_lossily() {
        // No `%`, but not UTF-8 either: decoded like an escaped byte would be.
        let target = Target::parse(Bytes::from_static(b"/caf\xe9"));

        assert_eq!(target.path, "/caf\u{fffd}");
        assert_eq!(target.raw_path, &b"/caf\xe9"[..]);
    }

    #[test]
    fn target_login_next_http_url_and_proxy_http_path_stay_origin_form() {
        // Found by fuzz/ (target_parse): `://` after the path's `/` was taken
        // for absolute-form, so `/login?next=http://evil/admin` routed to `/admin`.
        let cases: &[(&[u8], &str, &[u8])] = &[
            (
                b"/login?next=http://evil.example/admin",
                "/login",
                b"next=http://evil.example/admin",
            ),
            (
                b"/proxy/http://upstream/x?y=1",
                "/proxy/http://upstream/x",
                b"y=1",
            ),
            (b"?u=http://a/b", "/", b"u=http://a/b"),
            (b"/x://y", "/x://y", b""),
        ];
        for &(input, path, query) in cases {
            let target = Target::parse(Bytes::from_static(input));

            assert_eq!(
                (&*target.path, &target.query_string[..]),
                (path, query),
                "{input:?}"
            );
        }
        let absolute = Target::parse(Bytes::from_static(b"svn+ssh.1-x://host/p?q"));
        assert_eq!(
            (&*absolute.path, &absolute.query_string[..]),
            ("/p", &b"q"[..])
        );
    }

    #[test]
    fn scope_kinds_and_versions() {
        let http = Scope::Http(HttpScope::new(Method::GET, "/"));
        let ws = Scope::WebSocket(WebSocketScope::new("/ws"));
        let life = Scope::Lifespan(LifespanScope::default());

        assert_eq!((http.kind(), http.spec_version()), ("http", "2.5"));
        assert_eq!((ws.kind(), ws.spec_version()), ("websocket", "2.5"));
        assert_eq!((life.kind(), life.spec_version()), ("lifespan", "2.0"));
    }

    #[test]
    fn string_forms_match_asgi() {
        assert_eq!(HttpVersion::Http10.as_str(), "1.0");
        assert_eq!(HttpVersion::Http2.to_string(), "2");
        assert_eq!(Scheme::Wss.as_str(), "wss");
        assert!(Scheme::Https.is_secure() && !Scheme::Ws.is_secure());
        let unix = ServerAddr::Unix(Arc::from(Path::new("/tmp/s.sock")));
        assert_eq!(unix.to_string(), "unix:/tmp/s.sock");
    }
}
