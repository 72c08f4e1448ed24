//! A plain tokio-tungstenite echo server, as tokio-tungstenite's own
//! `examples/echo-server.rs`: every text and binary message comes back as it
//! came; pings are answered by tungstenite itself. Any path is accepted.
//!
//! Run with `tungstenite_echo --port 8000`. One current-thread runtime.

use futures_util::{StreamExt, TryStreamExt, future};
use tokio::net::{TcpListener, TcpStream};

async fn echo(stream: TcpStream) {
    let ws = match tokio_tungstenite::accept_async(stream).await {
        Ok(ws) => ws,
        Err(err) => {
            eprintln!("handshake error: {err}");
            return;
        }
    };
    let (write, read) = ws.split();
    // Closing frames end the stream; errors at the end of a connection are normal.
    let _ = read
        .try_filter(|msg| future::ready(msg.is_text() || msg.is_binary()))
        .forward(write)
        .await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(asgi_bench_peers::addr_from_args()).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(echo(stream));
    }
}
