//! Run with: cargo run -p examples --bin demo
//!
//! The demo app of the contract (`shared/CONTRACT.md`): plain text, JSON,
//! echo, typed parameters with 422s, an async and a blocking wait, a stream,
//! static files and a WebSocket echo; see [`examples::demo`] for the routes.
//!
//! It serves on 127.0.0.1:8000 and takes every asgi-server option
//! (`--port`, `--runtime`, `--limit-request-body`, ...), plus `--static-dir`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use examples::demo;

/// The demo app of the asgi-rs stack.
#[derive(Debug, Parser)]
#[command(name = "demo", about = "The demo app of the asgi-rs stack.")]
struct Cli {
    #[command(flatten)]
    server: asgi_server::ServerArgs,
    /// Serve `/static/` from this folder [default: the crate's `static/`].
    #[arg(long, env = "DEMO_STATIC_DIR")]
    static_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let static_dir = cli.static_dir.unwrap_or_else(demo::default_static_dir);
    asgi_server::run_with(cli.server.into_config(), demo::app(static_dir))
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
    fn defaults_serve_the_crate_folder_on_port_8000() {
        let cli = Cli::try_parse_from(["demo"]).unwrap();

        let config = cli.server.into_config();

        assert_eq!((config.host.as_str(), config.port), ("127.0.0.1", 8000));
        assert_eq!(cli.static_dir, None);
        assert!(demo::default_static_dir().join("hello.txt").is_file());
    }

    #[test]
    fn server_options_and_static_dir_are_taken() {
        let cli = Cli::try_parse_from([
            "demo",
            "--port",
            "9000",
            "--runtime",
            "current-thread",
            "--static-dir",
            "/srv/files",
        ])
        .unwrap();

        assert_eq!(cli.static_dir, Some(PathBuf::from("/srv/files")));
        assert_eq!(cli.server.into_config().port, 9000);
    }
}
