//! `--workers N`: a supervisor process that binds the listening socket once
//! and keeps N worker processes serving on it (Gunicorn's arbiter, Uvicorn's
//! multiprocess supervisor).
//!
//! - `process`: starting a worker (this binary again, the channel as stdin).
//! - `heartbeat`: the supervisor–worker channel and the socket hand-over.
//! - `arbiter`: the supervisor's loop: replace, recycle, reload, scale, stop.
//! - `signals`: TERM/INT, QUIT, HUP, TTIN, TTOU.
//! - `worker`: the worker side.

mod arbiter;
mod heartbeat;
mod process;
mod signals;
mod worker;

use std::process::ExitCode;

use asgi_core::ServerAddr;
use tokio::sync::mpsc;
use tokio::time::Instant;

use self::arbiter::{Arbiter, TICK};
use self::process::Launcher;
use self::signals::Signals;
pub(crate) use self::worker::Worker;
use crate::config::Config;
use crate::listener::Listener;

/// Runs the supervisor until it is told to stop; its exit status is 0 after a
/// clean stop, [`EXIT_STARTUP_FAILURE`](crate::EXIT_STARTUP_FAILURE) when a
/// worker failed lifespan startup, and 1 when it could not start.
pub(crate) fn run(config: Config) -> ExitCode {
    // One thread is plenty: the supervisor only waits for signals, children and pings.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!("cannot build the supervisor's runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(supervise(config))
}

/// Binds, starts the workers and supervises them until stopped.
async fn supervise(config: Config) -> ExitCode {
    tracing::info!("Started parent process [{}]", std::process::id());
    // With --reuse-port each worker binds its own TCP socket; a socket here
    // would take its share of connections and never accept them.
    let listener = if config.reuse_port && config.uds.is_none() {
        if config.port == 0 && config.fd.is_none() {
            tracing::error!(
                "--reuse-port needs a fixed --port: with 0 each worker would get its own"
            );
            return ExitCode::FAILURE;
        }
        None
    } else {
        match Listener::bind(&config).await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::error!("{error}");
                return ExitCode::FAILURE;
            }
        }
    };
    match listener.as_ref().and_then(Listener::server_addr) {
        Some(ServerAddr::Tcp(addr)) => tracing::info!("Supervisor listening on http://{addr}"),
        Some(addr) => tracing::info!("Supervisor listening on {addr}"),
        None => tracing::info!(
            "Workers bind {}:{} with SO_REUSEPORT",
            config.host,
            config.port
        ),
    }
    let (mut signals, launcher) = match (Signals::install(), Launcher::current()) {
        (Ok(signals), Ok(launcher)) => (signals, launcher),
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!("cannot start the supervisor: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (events, mut received) = mpsc::unbounded_channel();
    let mut arbiter = Arbiter::new(config, launcher, listener, events);
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        arbiter.reconcile(Instant::now());
        if let Some(code) = arbiter.finished() {
            tracing::info!("Stopping parent process [{}]", std::process::id());
            return ExitCode::from(code);
        }
        tokio::select! {
            command = signals.recv() => arbiter.on_signal(command, Instant::now()),
            Some(event) = received.recv() => arbiter.on_event(event, Instant::now()),
            _ = ticker.tick() => arbiter.on_tick(Instant::now()),
        }
    }
}
