//! The server: bind, lifespan startup, accept loop, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::time::Duration;

use asgi_core::{App, Scheme, ServerAddr, SharedApp};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::error::Error;
use crate::lifespan::Lifespan;
use crate::listener::{Accepted, Listener};
use crate::protocol::http::h1::encode;
use crate::protocol::http::service;
use crate::protocol::{ConnInfo, ServiceContext, serve_connection};
use crate::shutdown::{self, Shutdown, ShutdownTrigger};
use crate::tls::{self, TlsSettings};

/// An ASGI server: [`Server::new`] with a [`Config`], then [`serve`](Server::serve) an app.
///
/// # Example
///
/// ```no_run
/// use asgi_core::{app_fn, Headers, HttpSend, Scope};
/// use http::StatusCode;
///
/// # async fn demo() -> Result<(), asgi_server::Error> {
/// let app = app_fn(|scope, _receive, send| async move {
///     let Scope::Http(_) = scope else { return Err("unsupported scope".into()) };
///     send.send(HttpSend::start(StatusCode::OK, Headers::new())).await?;
///     send.send(HttpSend::body("Hello, world!")).await?;
///     Ok(())
/// });
/// asgi_server::Server::new(asgi_server::Config::default()).serve(app).await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Server {
    config: Config,
}

impl Server {
    /// A server with these settings.
    #[must_use]
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    /// Binds, then serves `app` until SIGINT or SIGTERM, then shuts down gracefully.
    ///
    /// A second signal cancels what is still running.
    ///
    /// # Errors
    ///
    /// Binding failed ([`Error::is_bind`]) or lifespan startup failed ([`Error::is_lifespan`]).
    pub async fn serve(self, app: impl App) -> Result<(), Error> {
        let bound = self.bind().await?;
        let handle = bound.handle();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("Shutting down");
            handle.shutdown();
            wait_for_signal().await;
            tracing::warn!("Second signal: cancelling what is still running");
            handle.shutdown_now();
        });
        bound.serve(app).await
    }

    /// Binds the listening socket, so that its address is known before serving.
    ///
    /// # Errors
    ///
    /// [`Error::is_bind`] if the address cannot be bound.
    pub async fn bind(self) -> Result<BoundServer, Error> {
        // TLS files are read before binding, so a bad key fails fast.
        let tls = TlsSettings::load(&self.config)?;
        let listener = Listener::bind(&self.config).await?;
        Ok(self.with_listener(listener, tls))
    }

    /// A server on a listener bound elsewhere (a worker's inherited socket).
    pub(crate) fn with_listener(
        self,
        listener: Listener,
        tls: Option<Arc<TlsSettings>>,
    ) -> BoundServer {
        let (trigger, shutdown) = shutdown::channel();
        let (force_trigger, force) = shutdown::channel();
        BoundServer {
            config: Arc::new(self.config),
            listener,
            tls,
            trigger: Arc::new(trigger),
            shutdown,
            force_trigger: Arc::new(force_trigger),
            force,
            hooks: Hooks::default(),
        }
    }
}

/// What a supervised worker needs to learn from its server.
#[derive(Debug, Default)]
pub(crate) struct Hooks {
    /// Told once lifespan startup has completed and connections are accepted.
    pub(crate) ready: Option<tokio::sync::oneshot::Sender<()>>,
    /// Flipped by `--limit-max-requests` instead of a graceful shutdown, so
    /// that the supervisor starts a replacement before this worker retires.
    pub(crate) max_requests: Option<Arc<ShutdownTrigger>>,
}

/// A server whose socket is bound; [`serve`](Self::serve) runs it.
#[derive(Debug)]
pub struct BoundServer {
    config: Arc<Config>,
    listener: Listener,
    tls: Option<Arc<TlsSettings>>,
    trigger: Arc<ShutdownTrigger>,
    shutdown: Shutdown,
    force_trigger: Arc<ShutdownTrigger>,
    force: Shutdown,
    hooks: Hooks,
}

/// Stops a running server: gracefully, or at once.
///
/// Cheap to clone; get one from [`BoundServer::handle`].
#[derive(Debug, Clone)]
pub struct ServerHandle {
    trigger: Arc<ShutdownTrigger>,
    force_trigger: Arc<ShutdownTrigger>,
    addr: Option<ServerAddr>,
}

impl ServerHandle {
    /// Begins a graceful shutdown: stop accepting, finish in-flight requests
    /// (their responses carry `Connection: close`), close idle connections,
    /// then run lifespan shutdown.
    pub fn shutdown(&self) {
        self.trigger.trigger();
    }

    /// Cancels whatever is still running, as the graceful-shutdown timeout does.
    pub fn shutdown_now(&self) {
        self.trigger.trigger();
        self.force_trigger.trigger();
    }

    /// The bound TCP address (`None` for a Unix socket).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.addr {
            Some(ServerAddr::Tcp(addr)) => Some(*addr),
            _ => None,
        }
    }
}

impl BoundServer {
    /// The bound TCP address (with the real port when port 0 was asked for);
    /// `None` for a Unix socket.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.handle().local_addr()
    }

    /// The bound address, TCP or Unix.
    pub fn server_addr(&self) -> Option<ServerAddr> {
        self.listener.server_addr()
    }

    /// Sets what a supervised worker learns from this server.
    pub(crate) fn set_hooks(&mut self, hooks: Hooks) {
        self.hooks = hooks;
    }

    /// A handle that shuts the server down.
    #[must_use]
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            trigger: self.trigger.clone(),
            force_trigger: self.force_trigger.clone(),
            addr: self.listener.server_addr(),
        }
    }

    /// Runs lifespan startup, serves `app` until a [`ServerHandle`] shuts it
    /// down, waits for connections to finish (at most
    /// `--timeout-graceful-shutdown`), then runs lifespan shutdown.
    ///
    /// No signal handling here; [`Server::serve`] adds it.
    ///
    /// # Errors
    ///
    /// [`Error::is_lifespan`] if lifespan startup failed.
    pub async fn serve(self, app: impl App) -> Result<(), Error> {
        let BoundServer {
            config,
            listener,
            tls,
            trigger,
            mut shutdown,
            force_trigger: _,
            mut force,
            hooks,
        } = self;
        let app: SharedApp = Arc::new(app);
        let pid = std::process::id();
        tracing::info!("Started server process [{pid}]");

        let lifespan = tokio::select! {
            started = Lifespan::startup(&app, config.lifespan) => started?,
            () = shutdown.wait() => return Ok(()),
        };

        let server_addr = listener.server_addr();
        let server_name = config.server_header.then_some(service::SERVER_NAME);
        let (server_header, default_headers) =
            encode::encode_fixed_headers(server_name, &config.headers);
        let ctx = Arc::new(ServiceContext {
            config: config.clone(),
            app,
            state: lifespan.state(),
            server_header,
            default_headers,
            websocket: Arc::new(config.websocket.clone()),
            server_addr: server_addr.clone(),
            connections: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            trigger: hooks.max_requests.unwrap_or_else(|| trigger.clone()),
        });
        match &server_addr {
            Some(ServerAddr::Tcp(addr)) => {
                let scheme = if tls.is_some() { "https" } else { "http" };
                tracing::info!("Server running on {scheme}://{addr} (Press CTRL+C to quit)")
            }
            Some(addr) => tracing::info!("Server running on {addr} (Press CTRL+C to quit)"),
            None => {}
        }
        if let Some(ready) = hooks.ready {
            let _ = ready.send(());
        }

        let mut tasks = JoinSet::new();
        loop {
            tokio::select! {
                biased;
                () = shutdown.wait() => break,
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => log_join(joined),
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => spawn_connection(&mut tasks, accepted, &ctx, tls.as_ref(), &trigger),
                    Err(error) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::error!("accept failed: {error}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        drop(listener);

        if !tasks.is_empty() {
            tracing::info!("Waiting for connections to close. ({} open)", tasks.len());
        }
        let drain = async {
            while let Some(joined) = tasks.join_next().await {
                log_join(joined);
            }
        };
        let drained = match config.timeout_graceful_shutdown {
            Some(limit) => tokio::select! {
                () = drain => true,
                () = tokio::time::sleep(limit) => false,
                () = force.wait() => false,
            },
            None => tokio::select! {
                () = drain => true,
                () = force.wait() => false,
            },
        };
        if !drained {
            tracing::warn!(
                "Cancelling {} connection(s) still open after the graceful shutdown period",
                tasks.len()
            );
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        lifespan.shutdown(config.timeout_graceful_shutdown).await;
        tracing::info!("Finished server process [{pid}]");
        Ok(())
    }
}

fn spawn_connection(
    tasks: &mut JoinSet<()>,
    accepted: Accepted,
    ctx: &Arc<ServiceContext>,
    tls: Option<&Arc<TlsSettings>>,
    trigger: &ShutdownTrigger,
) {
    let shutdown = trigger.subscribe();
    let ctx = ctx.clone();
    match accepted {
        Accepted::Tcp(stream, peer) => {
            let info = ConnInfo {
                client: Some(peer),
                scheme: Scheme::Http,
                tls: None,
            };
            match tls {
                Some(tls) => tasks.spawn(tls::serve(stream, info, ctx, tls.clone(), shutdown)),
                None => tasks.spawn(serve_connection(stream, info, ctx, shutdown)),
            };
        }
        #[cfg(unix)]
        Accepted::Unix(stream) => {
            let info = ConnInfo {
                client: None,
                scheme: Scheme::Http,
                tls: None,
            };
            match tls {
                Some(tls) => tasks.spawn(tls::serve(stream, info, ctx, tls.clone(), shutdown)),
                None => tasks.spawn(serve_connection(stream, info, ctx, shutdown)),
            };
        }
    }
}

fn log_join(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        tracing::error!("connection task panicked: {error}");
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
