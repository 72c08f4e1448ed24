//! The worker side: adopt the supervisor's socket, serve with an own event
//! loop and lifespan, and answer the heartbeat from inside that loop.

use std::hash::{BuildHasher, RandomState};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::Arc;

use asgi_core::App;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use super::heartbeat::{self, PING, PONG, READY, RECYCLE};
use super::process::WORKER_ENV;
use crate::cli::{build_runtime, exit_code};
use crate::config::Config;
use crate::error::Error;
use crate::listener::Listener;
use crate::server::{Hooks, Server, ServerHandle};
use crate::shutdown::{self, Shutdown, ShutdownTrigger};
use crate::stall;
use crate::tls::TlsSettings;

/// A process started by a supervisor, as its environment says.
#[derive(Debug)]
pub(crate) struct Worker {
    id: u64,
}

impl Worker {
    /// `Some` when the environment marks this process as a worker of its parent.
    ///
    /// The marker names the supervisor's pid, so that a process the app starts
    /// (which inherits the variable but has another parent) is not mistaken for one.
    pub(crate) fn from_env() -> Option<Self> {
        let marker = std::env::var(WORKER_ENV).ok()?;
        let (parent, id) = marker.split_once(':')?;
        let parent: u32 = parent.parse().ok()?;
        (parent == std::os::unix::process::parent_id()).then_some(())?;
        Some(Self {
            id: id.parse().ok()?,
        })
    }

    /// Serves `app` as this worker until the supervisor stops it.
    ///
    /// Exits with [`EXIT_STARTUP_FAILURE`](crate::EXIT_STARTUP_FAILURE) when
    /// lifespan startup fails, which tells the supervisor not to retry.
    pub(crate) fn run(self, mut config: Config, app: impl App) -> ExitCode {
        // Our stdin is the channel; dup it so that it is an ordinary owned socket.
        let channel = match std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map(std::os::unix::net::UnixStream::from)
        {
            Ok(channel) => channel,
            Err(error) => return fail(&format!("worker channel: {error}")),
        };
        let inherited = match heartbeat::recv_listener(&channel) {
            Ok(inherited) => inherited,
            Err(error) => {
                return fail(&format!("no listening socket from the supervisor: {error}"));
            }
        };
        config.workers = None;
        if let Some(max) = config.limit_max_requests {
            config.limit_max_requests = Some(max + jitter(config.limit_max_requests_jitter));
        }
        tracing::info!(
            "Started worker process [{}] (worker {})",
            std::process::id(),
            self.id
        );

        let runtime = match build_runtime(&config) {
            Ok(runtime) => runtime,
            Err(error) => return exit_code(Err(error)),
        };
        let _watchdog = stall::Watchdog::start(config.warn_loop_stall, runtime.handle());
        exit_code(runtime.block_on(serve(config, app, channel, inherited)))
    }
}

fn fail(message: &str) -> ExitCode {
    tracing::error!("{message}");
    ExitCode::FAILURE
}

/// A random number in `0..=max` (good enough to spread restarts; no crate needed).
fn jitter(max: u64) -> u64 {
    if max == 0 {
        return 0;
    }
    RandomState::new().hash_one(std::process::id()) % (max + 1)
}

async fn serve(
    config: Config,
    app: impl App,
    channel: std::os::unix::net::UnixStream,
    inherited: Option<std::os::fd::OwnedFd>,
) -> Result<(), Error> {
    let tls = TlsSettings::load(&config)?;
    let listener = match inherited {
        Some(fd) => Listener::from_inherited(fd).map_err(Error::io)?,
        None => Listener::bind(&config).await?,
    };
    channel.set_nonblocking(true).map_err(Error::io)?;
    let channel = tokio::net::UnixStream::from_std(channel).map_err(Error::io)?;

    let mut bound = Server::new(config).with_listener(listener, tls);
    let (ready_tx, ready_rx) = oneshot::channel();
    let (max_trigger, max_requests) = shutdown::channel();
    let max_trigger = Arc::new(max_trigger);
    bound.set_hooks(Hooks {
        ready: Some(ready_tx),
        max_requests: Some(max_trigger.clone()),
    });
    let handle = bound.handle();
    tokio::spawn(answer_supervisor(
        channel,
        handle.clone(),
        ready_rx,
        max_requests,
        max_trigger,
    ));
    tokio::spawn(stop_on_signal(handle));
    bound.serve(app).await
}

/// The heartbeat, from a task on this worker's event loop: a blocked loop
/// answers no ping, which is what the supervisor watches for. On a
/// multi-thread runtime one blocked thread does not stop this task, so the
/// stall watchdog's view is consulted too.
async fn answer_supervisor(
    channel: tokio::net::UnixStream,
    handle: ServerHandle,
    ready: oneshot::Receiver<()>,
    mut max_requests: Shutdown,
    // Kept so that `max_requests` is never woken by its trigger being dropped.
    _max_trigger: Arc<ShutdownTrigger>,
) {
    let (mut read, mut write) = channel.into_split();
    let mut ready = Some(ready);
    let mut recycle_asked = false;
    let mut buf = [0u8; 64];
    loop {
        let reply = tokio::select! {
            received = read.read(&mut buf) => match received {
                Ok(0) | Err(_) => {
                    // Orphaned: the supervisor is gone, so nobody would stop us.
                    tracing::warn!("Supervisor went away; shutting down");
                    handle.shutdown();
                    return;
                }
                // A runtime thread stuck in one poll (multi-thread runtime):
                // no answer, as if the whole loop were blocked.
                Ok(n) if buf[..n].contains(&PING) && !stall::is_stuck() => PONG,
                Ok(_) => continue,
            },
            started = async { ready.as_mut().expect("guarded by the branch condition").await }, if ready.is_some() => {
                ready = None;
                match started {
                    Ok(()) => READY,
                    Err(_) => continue,
                }
            }
            () = max_requests.wait(), if !recycle_asked => {
                recycle_asked = true;
                tracing::info!("Maximum requests reached; asking the supervisor for a replacement");
                RECYCLE
            }
        };
        if write.write_all(&[reply]).await.is_err() {
            handle.shutdown();
            return;
        }
    }
}

/// TERM or INT (from the supervisor): graceful shutdown; a second one: at once.
async fn stop_on_signal(handle: ServerHandle) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("Shutting down worker [{}]", std::process::id());
    handle.shutdown();
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    handle.shutdown_now();
}
