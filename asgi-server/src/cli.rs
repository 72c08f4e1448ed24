//! The command line: Uvicorn's options as a clap [`Args`] struct, and `run`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use asgi_core::App;
use clap::{Args, Parser, ValueEnum};
use http::header::{HeaderName, HeaderValue};

use crate::config::{
    ClientCertMode, Config, ForwardedAllowIps, HttpMode, LifespanMode, LogLevel, Password,
    RuntimeFlavor,
};
use crate::error::Error;
use crate::server::Server;

/// Exit status when lifespan startup fails (as Uvicorn's `STARTUP_FAILURE`).
pub const EXIT_STARTUP_FAILURE: u8 = 3;

/// The server's command-line options (each also read from an `ASGI_*` variable).
///
/// Flatten it into an app's own parser to add options:
///
/// ```no_run
/// use clap::Parser;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     server: asgi_server::ServerArgs,
///     /// Where the static files are.
///     #[arg(long, default_value = "static")]
///     static_dir: std::path::PathBuf,
/// }
///
/// # fn app() -> impl asgi_core::App { asgi_core::app_fn(|_, _, _| async { Ok(()) }) }
/// fn main() -> std::process::ExitCode {
///     let cli = Cli::parse();
///     asgi_server::run_with(cli.server.into_config(), app())
/// }
/// ```
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Server options")]
pub struct ServerArgs {
    /// Bind the socket to this host.
    #[arg(long, env = "ASGI_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Bind the socket to this port (0 picks a free one).
    #[arg(long, env = "ASGI_PORT", default_value_t = 8000)]
    pub port: u16,
    /// Bind to a Unix domain socket at this path instead.
    #[arg(long, env = "ASGI_UDS")]
    pub uds: Option<PathBuf>,
    /// Serve on an inherited listening socket with this descriptor number (TCP or Unix).
    #[arg(long, env = "ASGI_FD")]
    pub fd: Option<i32>,
    /// Maximum number of connections waiting to be accepted.
    #[arg(long, env = "ASGI_BACKLOG", default_value_t = 2048)]
    pub backlog: u32,
    /// HTTP protocols: `auto` detects per connection (HTTP/2 by its preface or by TLS ALPN, else HTTP/1.1), `h1` is HTTP/1.1 only, `h2` is HTTP/2 only.
    #[arg(long, env = "ASGI_HTTP", value_enum, default_value_t = HttpArg::Auto)]
    pub http: HttpArg,
    /// Lifespan protocol: `auto` tolerates apps without it, `on` makes startup errors fatal, `off` skips it.
    #[arg(long, env = "ASGI_LIFESPAN", value_enum, default_value_t = LifespanArg::Auto)]
    pub lifespan: LifespanArg,
    /// The ASGI `root_path`: where the app is mounted behind a proxy.
    #[arg(long, env = "ASGI_ROOT_PATH", default_value = "")]
    pub root_path: String,
    /// Take the client address and scheme from X-Forwarded-For/Proto (trusted peers only) (the default).
    #[arg(long, overrides_with = "no_proxy_headers")]
    pub proxy_headers: bool,
    /// Ignore X-Forwarded-* headers.
    #[arg(long, env = "ASGI_NO_PROXY_HEADERS", overrides_with = "proxy_headers")]
    pub no_proxy_headers: bool,
    /// Comma-separated IPs or networks trusted for proxy headers; `*` trusts all.
    #[arg(long, env = "ASGI_FORWARDED_ALLOW_IPS", default_value = "127.0.0.1", value_parser = parse_allow_ips)]
    pub forwarded_allow_ips: ForwardedAllowIps,
    /// Send a `Server` header (the default).
    #[arg(long, overrides_with = "no_server_header")]
    pub server_header: bool,
    /// Do not send a `Server` header.
    #[arg(long, env = "ASGI_NO_SERVER_HEADER", overrides_with = "server_header")]
    pub no_server_header: bool,
    /// Send a `Date` header (the default).
    #[arg(long, overrides_with = "no_date_header")]
    pub date_header: bool,
    /// Do not send a `Date` header.
    #[arg(long, env = "ASGI_NO_DATE_HEADER", overrides_with = "date_header")]
    pub no_date_header: bool,
    /// Add a header to every response, as NAME:VALUE (repeatable).
    #[arg(long = "header", value_name = "NAME:VALUE", value_parser = parse_header)]
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Answer 503 when more than this many connections are open or this many requests are running.
    #[arg(long, env = "ASGI_LIMIT_CONCURRENCY")]
    pub limit_concurrency: Option<usize>,
    /// Shut down gracefully after serving this many requests.
    #[arg(long, env = "ASGI_LIMIT_MAX_REQUESTS")]
    pub limit_max_requests: Option<u64>,
    /// Largest request head in bytes (431 past it; at most 100 header fields).
    #[arg(long, env = "ASGI_LIMIT_REQUEST_HEAD", default_value_t = 64 * 1024)]
    pub limit_request_head: usize,
    /// Largest request body in bytes (413 past it) (default: no limit).
    #[arg(long, env = "ASGI_LIMIT_REQUEST_BODY")]
    pub limit_request_body: Option<u64>,
    /// Close idle keep-alive connections after this many seconds.
    #[arg(long, env = "ASGI_TIMEOUT_KEEP_ALIVE", default_value = "5", value_parser = parse_seconds)]
    pub timeout_keep_alive: Duration,
    /// Close connections whose request head takes longer than this many seconds.
    #[arg(long, env = "ASGI_TIMEOUT_REQUEST_HEAD", default_value = "10", value_parser = parse_seconds)]
    pub timeout_request_head: Duration,
    /// On shutdown, cancel what is still running after this many seconds (0: wait for ever).
    #[arg(long, env = "ASGI_TIMEOUT_GRACEFUL_SHUTDOWN", default_value = "30", value_parser = parse_seconds)]
    pub timeout_graceful_shutdown: Duration,
    /// Log level (RUST_LOG, when set, takes precedence).
    #[arg(long, env = "ASGI_LOG_LEVEL", value_enum, default_value_t = LogLevelArg::Info)]
    pub log_level: LogLevelArg,
    /// Log one line per request (the default).
    #[arg(long, overrides_with = "no_access_log")]
    pub access_log: bool,
    /// Do not log requests.
    #[arg(long, env = "ASGI_NO_ACCESS_LOG", overrides_with = "access_log")]
    pub no_access_log: bool,
    /// The tokio runtime.
    #[arg(long, env = "ASGI_RUNTIME", value_enum, default_value_t = RuntimeArg::MultiThread)]
    pub runtime: RuntimeArg,
    /// Worker threads of the multi-thread runtime (default: one per CPU core).
    #[arg(long, env = "ASGI_THREADS")]
    pub threads: Option<usize>,
    /// Largest WebSocket message in bytes.
    #[arg(long, env = "ASGI_WS_MAX_SIZE", default_value_t = 16 * 1024 * 1024)]
    pub ws_max_size: usize,
    /// Received WebSocket messages that may wait for the app.
    #[arg(long, env = "ASGI_WS_MAX_QUEUE", default_value_t = 32)]
    pub ws_max_queue: usize,
    /// Seconds between WebSocket pings (0 disables them).
    #[arg(long, env = "ASGI_WS_PING_INTERVAL", default_value = "20", value_parser = parse_seconds)]
    pub ws_ping_interval: Duration,
    /// Seconds to wait for a WebSocket pong (0 waits for ever).
    #[arg(long, env = "ASGI_WS_PING_TIMEOUT", default_value = "20", value_parser = parse_seconds)]
    pub ws_ping_timeout: Duration,
    /// Negotiate the permessage-deflate WebSocket extension (accepted for Uvicorn
    /// compatibility; not negotiated yet, as the frame library lacks it).
    #[arg(long, env = "ASGI_WS_PER_MESSAGE_DEFLATE")]
    pub ws_per_message_deflate: bool,
    /// HTTP/2 streams a client may have open at once on one connection.
    #[arg(long, env = "ASGI_H2_MAX_CONCURRENT_STREAMS", default_value_t = 100)]
    pub h2_max_concurrent_streams: u32,
    /// PEM private key: with --ssl-certfile, serve HTTPS (TLS by rustls).
    #[arg(long, env = "ASGI_SSL_KEYFILE")]
    pub ssl_keyfile: Option<PathBuf>,
    /// PEM certificate chain, leaf first (may also hold the key).
    #[arg(long, env = "ASGI_SSL_CERTFILE")]
    pub ssl_certfile: Option<PathBuf>,
    /// Password of an encrypted PKCS#8 key (BEGIN ENCRYPTED PRIVATE KEY; PBES2 with AES-CBC).
    #[arg(long, env = "ASGI_SSL_KEYFILE_PASSWORD")]
    pub ssl_keyfile_password: Option<Password>,
    /// PEM CA certificates that client certificates are checked against.
    #[arg(long, env = "ASGI_SSL_CA_CERTS")]
    pub ssl_ca_certs: Option<PathBuf>,
    /// Client certificates: 0 not asked for, 1 optional, 2 required (mutual TLS; needs --ssl-ca-certs).
    #[arg(long, env = "ASGI_SSL_CERT_REQS", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub ssl_cert_reqs: u8,
    /// Run this many worker processes under a supervisor (which binds the socket once) [default: serve in this process].
    #[arg(long, env = "WEB_CONCURRENCY", value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,
    /// With --workers: each worker binds its own SO_REUSEPORT socket instead of sharing one.
    #[arg(long, env = "ASGI_REUSE_PORT")]
    pub reuse_port: bool,
    /// With --workers: replace a worker whose event loop has not answered the heartbeat for this many seconds (0 disables).
    #[arg(long, env = "ASGI_TIMEOUT_WORKER_HEALTHCHECK", default_value = "30", value_parser = parse_seconds)]
    pub timeout_worker_healthcheck: Duration,
    /// With --workers: add a random 0..=N to each worker's --limit-max-requests.
    #[arg(long, env = "ASGI_LIMIT_MAX_REQUESTS_JITTER", default_value_t = 0)]
    pub limit_max_requests_jitter: u64,
    /// Warn when the event loop gets no turn for this many milliseconds, naming the request being polled (0 disables).
    #[arg(
        long,
        env = "ASGI_WARN_LOOP_STALL",
        value_name = "MS",
        default_value_t = 100
    )]
    pub warn_loop_stall: u64,
}

/// `--http`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HttpArg {
    /// Detect per connection.
    Auto,
    /// HTTP/1.1 only.
    H1,
    /// HTTP/2 only.
    H2,
}

/// `--lifespan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LifespanArg {
    /// Run it if the app supports it.
    Auto,
    /// Run it; startup errors are fatal.
    On,
    /// Skip it.
    Off,
}

/// `--log-level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevelArg {
    /// Only fatal problems.
    Critical,
    /// Errors.
    Error,
    /// Warnings and errors.
    Warning,
    /// Startup, shutdown and access lines.
    Info,
    /// Connection-level detail.
    Debug,
    /// Everything.
    Trace,
}

/// `--runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuntimeArg {
    /// A work-stealing pool of `--threads` workers.
    MultiThread,
    /// One thread.
    CurrentThread,
}

impl ServerArgs {
    /// The [`Config`] these options describe.
    pub fn into_config(self) -> Config {
        let optional = |d: Duration| (!d.is_zero()).then_some(d);
        let mut config = Config {
            host: self.host,
            port: self.port,
            uds: self.uds,
            fd: self.fd,
            backlog: self.backlog,
            http: match self.http {
                HttpArg::Auto => HttpMode::Auto,
                HttpArg::H1 => HttpMode::H1,
                HttpArg::H2 => HttpMode::H2,
            },
            lifespan: match self.lifespan {
                LifespanArg::Auto => LifespanMode::Auto,
                LifespanArg::On => LifespanMode::On,
                LifespanArg::Off => LifespanMode::Off,
            },
            root_path: self.root_path,
            proxy_headers: !self.no_proxy_headers,
            forwarded_allow_ips: self.forwarded_allow_ips,
            server_header: !self.no_server_header,
            date_header: !self.no_date_header,
            headers: self.headers,
            limit_concurrency: self.limit_concurrency,
            limit_max_requests: self.limit_max_requests,
            limit_request_head: self.limit_request_head,
            limit_request_body: self.limit_request_body,
            timeout_keep_alive: self.timeout_keep_alive,
            timeout_request_head: self.timeout_request_head,
            timeout_graceful_shutdown: optional(self.timeout_graceful_shutdown),
            access_log: !self.no_access_log,
            log_level: match self.log_level {
                LogLevelArg::Critical => LogLevel::Critical,
                LogLevelArg::Error => LogLevel::Error,
                LogLevelArg::Warning => LogLevel::Warning,
                LogLevelArg::Info => LogLevel::Info,
                LogLevelArg::Debug => LogLevel::Debug,
                LogLevelArg::Trace => LogLevel::Trace,
            },
            runtime: match self.runtime {
                RuntimeArg::MultiThread => RuntimeFlavor::MultiThread,
                RuntimeArg::CurrentThread => RuntimeFlavor::CurrentThread,
            },
            threads: self.threads,
            h2_max_concurrent_streams: self.h2_max_concurrent_streams,
            ssl_keyfile: self.ssl_keyfile,
            ssl_certfile: self.ssl_certfile,
            ssl_keyfile_password: self.ssl_keyfile_password,
            ssl_ca_certs: self.ssl_ca_certs,
            ssl_cert_reqs: match self.ssl_cert_reqs {
                0 => ClientCertMode::None,
                1 => ClientCertMode::Optional,
                _ => ClientCertMode::Required,
            },
            workers: self.workers.map(usize::from),
            reuse_port: self.reuse_port,
            timeout_worker_healthcheck: self.timeout_worker_healthcheck,
            limit_max_requests_jitter: self.limit_max_requests_jitter,
            warn_loop_stall: (self.warn_loop_stall > 0)
                .then(|| Duration::from_millis(self.warn_loop_stall)),
            ..Config::default()
        };
        config.websocket.max_size = self.ws_max_size;
        config.websocket.max_queue = self.ws_max_queue;
        config.websocket.ping_interval = optional(self.ws_ping_interval);
        config.websocket.ping_timeout = optional(self.ws_ping_timeout);
        config.websocket.per_message_deflate = self.ws_per_message_deflate;
        config
    }
}

/// The parser `run` uses when the app adds no options of its own.
#[derive(Debug, Parser)]
#[command(name = "asgi-server", about = "Serve an ASGI application.", version)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
}

/// Parses the command line and `ASGI_*` variables, sets up logging, and
/// serves `app` until SIGINT or SIGTERM.
///
/// Exits with 0 after a clean shutdown, [`EXIT_STARTUP_FAILURE`] if lifespan
/// startup failed, and 1 for other failures (the address is in use, say).
pub fn run(app: impl App) -> ExitCode {
    run_with(Cli::parse().server.into_config(), app)
}

/// [`run`] with settings from elsewhere (an app's own parser that flattens [`ServerArgs`]).
///
/// With [`Config::workers`] set, this process becomes a supervisor: it binds
/// the socket and starts that many workers by running this same binary with
/// the same arguments (so the app must build the same `Config` from them).
/// A worker serves `app`; the supervisor never calls it.
pub fn run_with(config: Config, app: impl App) -> ExitCode {
    init_logging(config.log_level);
    #[cfg(unix)]
    if let Some(worker) = crate::supervisor::Worker::from_env() {
        return worker.run(config, app);
    }
    #[cfg(unix)]
    if config.workers.is_some() {
        return crate::supervisor::run(config);
    }
    #[cfg(not(unix))]
    if config.workers.is_some() {
        tracing::error!("--workers needs a Unix platform");
        return ExitCode::FAILURE;
    }
    exit_code(serve_blocking(config, app))
}

/// The exit status for how serving ended.
pub(crate) fn exit_code(served: Result<(), Error>) -> ExitCode {
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is_lifespan() => ExitCode::from(EXIT_STARTUP_FAILURE),
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the runtime `config` asks for and serves `app` on it until a signal.
///
/// Also watches the event loop for stalls (`--warn-loop-stall`).
///
/// # Errors
///
/// As [`Server::serve`], plus [`Error::is_io`] if the runtime cannot be built.
pub fn serve_blocking(config: Config, app: impl App) -> Result<(), Error> {
    let runtime = build_runtime(&config)?;
    let _watchdog = crate::stall::Watchdog::start(config.warn_loop_stall, runtime.handle());
    runtime.block_on(Server::new(config).serve(app))
}

/// The tokio runtime `--runtime` and `--threads` ask for.
pub(crate) fn build_runtime(config: &Config) -> Result<tokio::runtime::Runtime, Error> {
    let mut builder = match config.runtime {
        RuntimeFlavor::MultiThread => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if let Some(threads) = config.threads {
                builder.worker_threads(threads.max(1));
            }
            builder
        }
        RuntimeFlavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
    };
    builder.enable_all().build().map_err(Error::io)
}

/// Installs a `tracing` subscriber writing to stderr at `level` (or `RUST_LOG`), unless one is set already.
pub fn init_logging(level: LogLevel) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level.as_filter()));
    // Logs go to stderr, as Uvicorn's do; colours only when a person is watching.
    let stderr = std::io::stderr();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&stderr))
        .with_writer(std::io::stderr)
        .try_init();
}

fn parse_seconds(value: &str) -> Result<Duration, String> {
    let seconds: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("not a number of seconds: {value:?}"))?;
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("not a valid duration: {value:?}"))
}

fn parse_header(value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = value
        .split_once(':')
        .ok_or_else(|| format!("expected NAME:VALUE, got {value:?}"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("invalid header name {name:?}"))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("invalid header value {value:?}"))?;
    Ok((name, value))
}

fn parse_allow_ips(value: &str) -> Result<ForwardedAllowIps, String> {
    ForwardedAllowIps::parse(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::path::Path;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_match_config_default() {
        let parsed = Cli::try_parse_from(["asgi-server"])
            .unwrap()
            .server
            .into_config();
        let default = Config::default();

        assert_eq!(parsed.host, default.host);
        assert_eq!(parsed.port, default.port);
        assert_eq!(parsed.limit_request_head, default.limit_request_head);
        assert_eq!(parsed.timeout_keep_alive, default.timeout_keep_alive);
        assert_eq!(
            parsed.timeout_graceful_shutdown,
            default.timeout_graceful_shutdown
        );
        assert_eq!(parsed.forwarded_allow_ips, default.forwarded_allow_ips);
        assert!(
            parsed.server_header && parsed.date_header && parsed.access_log && parsed.proxy_headers
        );
        assert_eq!(parsed.websocket.max_size, default.websocket.max_size);
        assert_eq!(
            parsed.h2_max_concurrent_streams,
            default.h2_max_concurrent_streams
        );
        assert_eq!(parsed.ssl_cert_reqs, default.ssl_cert_reqs);
        assert!(parsed.ssl_certfile.is_none() && parsed.ssl_keyfile.is_none());
    }

    #[test]
    fn options_map_into_config() {
        let args = [
            "asgi-server",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--lifespan",
            "on",
            "--http",
            "h1",
            "--no-server-header",
            "--no-date-header",
            "--header",
            "x-a: 1",
            "--header",
            "X-B:2",
            "--limit-concurrency",
            "10",
            "--limit-request-body",
            "100",
            "--timeout-keep-alive",
            "0.5",
            "--timeout-graceful-shutdown",
            "0",
            "--no-access-log",
            "--runtime",
            "current-thread",
            "--ws-max-size",
            "1024",
            "--ws-ping-interval",
            "0",
            "--ws-per-message-deflate",
            "--forwarded-allow-ips",
            "*",
            "--no-proxy-headers",
            "--h2-max-concurrent-streams",
            "7",
            "--ssl-certfile",
            "cert.pem",
            "--ssl-keyfile",
            "key.pem",
            "--ssl-keyfile-password",
            "hunter2",
            "--ssl-ca-certs",
            "ca.pem",
            "--ssl-cert-reqs",
            "2",
        ];
        let config = Cli::try_parse_from(args).unwrap().server.into_config();

        assert_eq!(config.host, "0.0.0.0");
        assert_eq!(config.port, 0);
        assert_eq!(config.lifespan, LifespanMode::On);
        assert_eq!(config.http, HttpMode::H1);
        assert!(
            !config.server_header
                && !config.date_header
                && !config.access_log
                && !config.proxy_headers
        );
        assert_eq!(config.headers.len(), 2);
        assert_eq!(config.headers[1].0.as_str(), "x-b");
        assert_eq!(
            config.ssl_keyfile_password.as_ref().map(Password::expose),
            Some("hunter2")
        );
        assert_eq!(config.limit_concurrency, Some(10));
        assert_eq!(config.limit_request_body, Some(100));
        assert_eq!(config.timeout_keep_alive, Duration::from_millis(500));
        assert_eq!(config.timeout_graceful_shutdown, None);
        assert_eq!(config.runtime, RuntimeFlavor::CurrentThread);
        assert_eq!(config.websocket.max_size, 1024);
        assert_eq!(config.websocket.ping_interval, None);
        assert!(config.websocket.per_message_deflate);
        assert!(
            config
                .forwarded_allow_ips
                .contains("8.8.8.8".parse().unwrap())
        );
        assert_eq!(config.h2_max_concurrent_streams, 7);
        assert_eq!(config.ssl_certfile.as_deref(), Some(Path::new("cert.pem")));
        assert_eq!(config.ssl_keyfile.as_deref(), Some(Path::new("key.pem")));
        assert_eq!(config.ssl_ca_certs.as_deref(), Some(Path::new("ca.pem")));
        assert_eq!(config.ssl_cert_reqs, ClientCertMode::Required);
    }

    #[test]
    fn supervisor_options_map_into_config() {
        let defaults = Cli::try_parse_from(["asgi-server"])
            .unwrap()
            .server
            .into_config();
        let args = [
            "asgi-server",
            "--workers",
            "3",
            "--reuse-port",
            "--timeout-worker-healthcheck",
            "2.5",
            "--limit-max-requests-jitter",
            "7",
            "--warn-loop-stall",
            "0",
        ];
        let config = Cli::try_parse_from(args).unwrap().server.into_config();

        assert_eq!(defaults.workers, None);
        assert_eq!(defaults.warn_loop_stall, Some(Duration::from_millis(100)));
        assert_eq!(
            defaults.timeout_worker_healthcheck,
            Config::default().timeout_worker_healthcheck
        );
        assert_eq!(config.workers, Some(3));
        assert!(config.reuse_port);
        assert_eq!(
            config.timeout_worker_healthcheck,
            Duration::from_millis(2500)
        );
        assert_eq!(config.limit_max_requests_jitter, 7);
        assert_eq!(config.warn_loop_stall, None);
        assert!(Cli::try_parse_from(["asgi-server", "--workers", "0"]).is_err());
    }

    #[test]
    fn bad_values_are_rejected() {
        for bad in [
            ["--header", "nocolon"],
            ["--timeout-keep-alive", "soon"],
            ["--forwarded-allow-ips", "x"],
            ["--http", "h3"],
            ["--ssl-cert-reqs", "3"],
        ] {
            let args = std::iter::once("asgi-server").chain(bad);
            assert!(Cli::try_parse_from(args).is_err(), "{bad:?}");
        }
    }
}
