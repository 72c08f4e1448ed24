//! Server settings: what the command line and `ASGI_*` variables set.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};

pub use crate::protocol::websocket::WebSocketConfig;

/// Every setting of a [`Server`](crate::Server).
///
/// Start from [`Config::default`] (Uvicorn's defaults) and set fields, or get
/// one from the command line with [`ServerArgs::into_config`](crate::ServerArgs::into_config).
///
/// # Example
///
/// ```
/// let mut config = asgi_server::Config::default();
/// config.port = 0; // any free port, as tests want
/// config.access_log = false;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// `--host`: the address to bind (default `127.0.0.1`).
    pub host: String,
    /// `--port`: the TCP port to bind (default 8000; 0 picks a free one).
    pub port: u16,
    /// `--uds`: bind a Unix domain socket at this path instead of TCP.
    pub uds: Option<PathBuf>,
    /// `--fd`: serve on an inherited listening socket with this descriptor
    /// number (any number on Linux 5.6+; descriptor 0 elsewhere).
    pub fd: Option<i32>,
    /// `--backlog`: the listen queue length (default 2048).
    pub backlog: u32,
    /// `--http`: which HTTP protocols to speak.
    pub http: HttpMode,
    /// `--lifespan`: whether to run the ASGI lifespan protocol.
    pub lifespan: LifespanMode,
    /// `--root-path`: the scope's `root_path` (where the app is mounted behind a proxy).
    pub root_path: String,
    /// `--proxy-headers`: take the client address and scheme from
    /// `X-Forwarded-For` and `X-Forwarded-Proto` when the peer is trusted (default on).
    pub proxy_headers: bool,
    /// `--forwarded-allow-ips`: the peers trusted for proxy headers (default `127.0.0.1`).
    pub forwarded_allow_ips: ForwardedAllowIps,
    /// `--server-header`: send `server: asgi-server` (default on).
    pub server_header: bool,
    /// `--date-header`: send `Date` (default on).
    pub date_header: bool,
    /// `--header`: fields added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `--limit-concurrency`: answer 503 (and close) when more than this many
    /// connections are open, or this many requests are already running
    /// (default: no limit).
    pub limit_concurrency: Option<usize>,
    /// `--limit-max-requests`: shut down gracefully after this many requests.
    pub limit_max_requests: Option<u64>,
    /// `--limit-request-head`: the largest request head in bytes (default 64 KiB).
    pub limit_request_head: usize,
    /// `--limit-request-body`: the largest request body in bytes (default: no limit).
    pub limit_request_body: Option<u64>,
    /// `--timeout-keep-alive`: close idle keep-alive connections after this (default 5 s).
    pub timeout_keep_alive: Duration,
    /// `--timeout-request-head`: close connections whose request head is not
    /// complete within this (default 10 s).
    pub timeout_request_head: Duration,
    /// `--timeout-graceful-shutdown`: cancel what is still running this long
    /// after shutdown began (default 30 s; `None` waits for ever).
    pub timeout_graceful_shutdown: Option<Duration>,
    /// `--access-log`: log one line per request (default on).
    pub access_log: bool,
    /// `--log-level`: used by [`run_with`](crate::run_with) to set up logging.
    pub log_level: LogLevel,
    /// `--runtime`: used by [`run_with`](crate::run_with) to build the tokio runtime.
    pub runtime: RuntimeFlavor,
    /// `--threads`: worker threads of the multi-thread runtime (default: one per core).
    pub threads: Option<usize>,
    /// `--ws-*`: WebSocket settings.
    pub websocket: WebSocketConfig,
    /// `--h2-max-concurrent-streams`: HTTP/2 streams a client may have open
    /// at once on one connection (default 100).
    pub h2_max_concurrent_streams: u32,
    /// `--ssl-keyfile`: the PEM private key; with `ssl_certfile` it turns TLS on.
    pub ssl_keyfile: Option<PathBuf>,
    /// `--ssl-certfile`: the PEM certificate chain, leaf first.
    pub ssl_certfile: Option<PathBuf>,
    /// `--ssl-keyfile-password`: the password of an encrypted PKCS#8 key
    /// (`BEGIN ENCRYPTED PRIVATE KEY`: PBES2 with PBKDF2 or scrypt and
    /// AES-CBC, what `openssl genpkey -aes256` writes). Keys in OpenSSL's
    /// legacy encrypted format fail at startup with the command that converts
    /// them. `Debug` never shows it.
    pub ssl_keyfile_password: Option<Password>,
    /// `--ssl-ca-certs`: PEM CA certificates that client certificates are checked against.
    pub ssl_ca_certs: Option<PathBuf>,
    /// `--ssl-cert-reqs`: whether a client certificate is asked for.
    pub ssl_cert_reqs: ClientCertMode,
    /// `--workers`: run this many worker processes under a supervisor
    /// (default `None`: serve in this process). See [`run_with`](crate::run_with).
    pub workers: Option<usize>,
    /// `--reuse-port`: with workers, each binds its own `SO_REUSEPORT` socket
    /// instead of sharing the supervisor's.
    pub reuse_port: bool,
    /// `--timeout-worker-healthcheck`: replace a worker whose event loop has
    /// not answered the supervisor's heartbeat for this long (default 30 s).
    pub timeout_worker_healthcheck: Duration,
    /// `--limit-max-requests-jitter`: add a random 0..=N to each worker's
    /// `--limit-max-requests`, so that workers do not all recycle at once.
    pub limit_max_requests_jitter: u64,
    /// `--warn-loop-stall`: warn when the event loop gets no turn for this long,
    /// naming the request being polled (default 100 ms; `None` disables it).
    pub warn_loop_stall: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8000,
            uds: None,
            fd: None,
            backlog: 2048,
            http: HttpMode::Auto,
            lifespan: LifespanMode::Auto,
            root_path: String::new(),
            proxy_headers: true,
            forwarded_allow_ips: ForwardedAllowIps::default(),
            server_header: true,
            date_header: true,
            headers: Vec::new(),
            limit_concurrency: None,
            limit_max_requests: None,
            limit_request_head: 64 * 1024,
            limit_request_body: None,
            timeout_keep_alive: Duration::from_secs(5),
            timeout_request_head: Duration::from_secs(10),
            timeout_graceful_shutdown: Some(Duration::from_secs(30)),
            access_log: true,
            log_level: LogLevel::Info,
            runtime: RuntimeFlavor::MultiThread,
            threads: None,
            websocket: WebSocketConfig::default(),
            h2_max_concurrent_streams: 100,
            ssl_keyfile: None,
            ssl_certfile: None,
            ssl_keyfile_password: None,
            ssl_ca_certs: None,
            ssl_cert_reqs: ClientCertMode::None,
            workers: None,
            reuse_port: false,
            timeout_worker_healthcheck: Duration::from_secs(30),
            limit_max_requests_jitter: 0,
            warn_loop_stall: Some(Duration::from_millis(100)),
        }
    }
}

/// `--http`: which HTTP protocols a connection may speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HttpMode {
    /// Detect the protocol per connection: HTTP/2 by its connection preface
    /// (h2c with prior knowledge) or by ALPN on TLS, HTTP/1.1 otherwise.
    #[default]
    Auto,
    /// HTTP/1.1 only.
    H1,
    /// HTTP/2 only (h2c with prior knowledge on plain connections).
    H2,
}

/// `--ssl-cert-reqs`: whether TLS clients are asked for a certificate
/// (Python's `ssl.CERT_NONE`, `CERT_OPTIONAL`, `CERT_REQUIRED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientCertMode {
    /// `0`: no client certificate is asked for.
    #[default]
    None,
    /// `1`: one is asked for and checked against `--ssl-ca-certs` if sent.
    Optional,
    /// `2`: mutual TLS: the handshake fails without a valid one.
    Required,
}

/// `--lifespan`: whether to run the ASGI lifespan protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LifespanMode {
    /// Run it; an app that fails on the lifespan scope is taken not to support it.
    #[default]
    Auto,
    /// Run it; an app error during startup is fatal.
    On,
    /// Do not run it.
    Off,
}

/// `--runtime`: which tokio runtime [`run_with`](crate::run_with) builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeFlavor {
    /// A work-stealing pool of `--threads` workers.
    #[default]
    MultiThread,
    /// Everything on the calling thread.
    CurrentThread,
}

/// `--log-level`, with Uvicorn's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LogLevel {
    /// `critical`: only what stops the server (shown as errors).
    Critical,
    /// `error`.
    Error,
    /// `warning`.
    Warning,
    /// `info` (the default).
    #[default]
    Info,
    /// `debug`.
    Debug,
    /// `trace`.
    Trace,
}

impl LogLevel {
    /// The `tracing` filter directive for this level.
    pub fn as_filter(self) -> &'static str {
        match self {
            LogLevel::Critical | LogLevel::Error => "error",
            LogLevel::Warning => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// `--forwarded-allow-ips`: which peers may set `X-Forwarded-*`.
///
/// Parsed from a comma-separated list of IP addresses and CIDR networks, or `*` for any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedAllowIps {
    any: bool,
    networks: Vec<(IpAddr, u8)>,
}

impl Default for ForwardedAllowIps {
    fn default() -> Self {
        Self {
            any: false,
            networks: vec![(IpAddr::from([127, 0, 0, 1]), 32)],
        }
    }
}

impl ForwardedAllowIps {
    /// Trusts every peer (`*`).
    pub fn any() -> Self {
        Self {
            any: true,
            networks: Vec::new(),
        }
    }

    /// Parses `"127.0.0.1, 10.0.0.0/8, ::1"` or `"*"`.
    ///
    /// # Errors
    ///
    /// A message naming the entry that is not an address or network.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut out = Self {
            any: false,
            networks: Vec::new(),
        };
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                out.any = true;
                continue;
            }
            let (addr, prefix) = match entry.split_once('/') {
                Some((addr, prefix)) => (addr, Some(prefix)),
                None => (entry, None),
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("not an IP address or network: {entry:?}"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|&p| p <= max)
                    .ok_or_else(|| format!("bad network prefix: {entry:?}"))?,
                None => max,
            };
            out.networks.push((addr, prefix));
        }
        Ok(out)
    }

    /// Whether `ip` is trusted.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.any
            || self
                .networks
                .iter()
                .any(|&(net, prefix)| in_network(ip, net, prefix))
    }
}

fn in_network(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let ip = match (ip, net) {
        (IpAddr::V6(v6), IpAddr::V4(_)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => return false,
        },
        _ => ip,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => mask_eq(
            u128::from(u32::from(a)),
            u128::from(u32::from(b)),
            prefix,
            32,
        ),
        (IpAddr::V6(a), IpAddr::V6(b)) => mask_eq(u128::from(a), u128::from(b), prefix, 128),
        _ => false,
    }
}

fn mask_eq(a: u128, b: u128, prefix: u8, bits: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(bits - prefix);
    (a >> shift) == (b >> shift)
}

/// A password: kept out of `Debug` output, so that printing a [`Config`]
/// or the parsed command line cannot leak it into a log.
///
/// ```
/// use asgi_server::Password;
///
/// let password = Password::new("hunter2");
/// assert_eq!(password.expose(), "hunter2");
/// assert_eq!(format!("{password:?}"), "Password(\"***\")");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The password itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Password").field(&"***").finish()
    }
}

impl From<String> for Password {
    fn from(password: String) -> Self {
        Self(password)
    }
}

impl std::str::FromStr for Password {
    type Err = std::convert::Infallible;

    fn from_str(password: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_allow_ips_matches_addresses_and_networks() {
        let allow = ForwardedAllowIps::parse("127.0.0.1, 10.0.0.0/8, fd00::/8").unwrap();
        let cases = [
            ("127.0.0.1", true),
            ("127.0.0.2", false),
            ("10.1.2.3", true),
            ("11.0.0.1", false),
            ("fd12::1", true),
            ("::1", false),
            ("::ffff:10.9.9.9", true),
        ];
        for (ip, trusted) in cases {
            assert_eq!(allow.contains(ip.parse().unwrap()), trusted, "{ip}");
        }
        assert!(
            ForwardedAllowIps::parse("*")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(ForwardedAllowIps::parse("nope").is_err());
        assert!(ForwardedAllowIps::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn debug_output_never_shows_the_key_password() {
        let config = Config {
            ssl_keyfile_password: Some(Password::new("hunter2")),
            ..Config::default()
        };

        let shown = format!("{config:?}");

        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("ssl_keyfile_password: Some(Password(\"***\"))"));
    }
}
