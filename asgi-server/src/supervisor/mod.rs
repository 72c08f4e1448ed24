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

pub(crate) use self::worker::Worker;
use crate::config::Config;

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
    runtime.block_on(arbiter::run(config))
}
