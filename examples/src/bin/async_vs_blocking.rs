//! Run with: cargo run -p examples --bin async_vs_blocking
//!
//! Three routes that each wait one second: an async timer (`/async`), a
//! blocking handler on the blocking pool (`/blocking`), and a mistaken async
//! handler that blocks the event loop (`/mistake`). Measure them with
//! `cargo run -p examples --bin async_vs_blocking_client`; start this server
//! with `--runtime current-thread` to make the mistake obvious. See
//! [`examples::async_vs_blocking`] and the crate README for the table.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use examples::async_vs_blocking::{DEFAULT_WAIT, app};

/// Three ways to wait one second, side by side.
#[derive(Debug, Parser)]
#[command(name = "async_vs_blocking")]
struct Cli {
    #[command(flatten)]
    server: asgi_server::ServerArgs,
    /// Threads of the blocking pool that `/blocking` runs on.
    #[arg(long, default_value_t = asgi_framework::DEFAULT_POOL_SIZE)]
    blocking_threads: usize,
    /// How long each route waits, in milliseconds.
    #[arg(long, default_value_t = DEFAULT_WAIT.as_millis() as u64)]
    wait_ms: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let app = app(Duration::from_millis(cli.wait_ms), cli.blocking_threads);
    asgi_server::run_with(cli.server.into_config(), app)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_one_second_and_the_framework_pool() {
        let cli = Cli::try_parse_from(["async_vs_blocking"]).unwrap();

        assert_eq!(cli.wait_ms, 1000);
        assert_eq!(cli.blocking_threads, 40);
        assert_eq!(cli.server.into_config().port, 8000);
    }
}
