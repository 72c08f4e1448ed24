//! The floor: a raw tokio loop that answers every request with a canned
//! `HTTP/1.1 200 OK` hello response without parsing it. It only counts
//! request-head terminators (`\r\n\r\n`) so that pipelined or coalesced
//! requests still get one response each; bodies are not supported.
//!
//! Run with `tokio_raw --port 8000`. One current-thread runtime.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
content-type: text/plain; charset=utf-8\r\n\
content-length: 13\r\n\
\r\n\
Hello, world!";

async fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; 8192];
    let mut out = Vec::with_capacity(RESPONSE.len() * 16);
    // Bytes of a terminator seen at the end of the previous read.
    let mut matched = 0usize;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        for &b in &buf[..n] {
            matched = match (matched, b) {
                (0 | 2, b'\r') => matched + 1,
                (1 | 3, b'\n') => matched + 1,
                (_, b'\r') => 1,
                _ => 0,
            };
            if matched == 4 {
                out.extend_from_slice(RESPONSE);
                matched = 0;
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(asgi_bench_peers::addr_from_args()).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = serve(stream).await;
        });
    }
}
