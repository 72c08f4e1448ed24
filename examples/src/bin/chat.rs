//! Run with: cargo run -p examples --bin chat
//!
//! A WebSocket broadcast chat: open <http://127.0.0.1:8000/> in two
//! browser windows, join with two names, and talk. The page is a static file
//! (`static/chat/index.html`); see [`examples::chat`] for the protocol.
//! `tests/chat_browser.rs` drives two headless Chromium pages through it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use examples::chat;

/// A WebSocket broadcast chat.
#[derive(Debug, Parser)]
#[command(name = "chat")]
struct Cli {
    #[command(flatten)]
    server: asgi_server::ServerArgs,
    /// Serve the page from this folder [default: the crate's `static/chat/`].
    #[arg(long)]
    page_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let page_dir = cli.page_dir.unwrap_or_else(chat::default_page_dir);
    asgi_server::run_with(cli.server.into_config(), chat::app(page_dir))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
        assert!(chat::default_page_dir().join("index.html").is_file());
    }
}
