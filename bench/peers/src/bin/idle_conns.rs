//! Opens `--connections` HTTP/1.1 keep-alive connections to `--addr`, sends
//! one `GET --path` on each and reads its response, then leaves them idle.
//! Prints `READY <ok> <failed>` once all are open, then after `--settle`
//! seconds `OPEN <n>` with the number still open (the harness reads the
//! server's memory at that point), then holds them `--hold` seconds.
//!
//! Run with `idle_conns --addr 127.0.0.1:8000 --connections 5000`.

use std::io::Write;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    addr: String,
    connections: usize,
    path: String,
    batch: usize,
    settle: Duration,
    hold: Duration,
}

fn parse_args() -> Args {
    let mut args = Args {
        addr: "127.0.0.1:8000".to_owned(),
        connections: 5000,
        path: "/".to_owned(),
        batch: 100,
        settle: Duration::from_secs(1),
        hold: Duration::from_secs(30),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => args.addr = value,
            "--connections" => args.connections = value.parse().expect("--connections: integer"),
            "--path" => args.path = value,
            "--batch" => args.batch = value.parse().expect("--batch: integer"),
            "--settle" => {
                args.settle = Duration::from_secs_f64(value.parse().expect("--settle: seconds"))
            }
            "--hold" => {
                args.hold = Duration::from_secs_f64(value.parse().expect("--hold: seconds"))
            }
            other => panic!("unknown argument {other:?}"),
        }
    }
    args
}

/// Reads one response with a `Content-Length` body (what every hello server sends).
async fn read_response(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| std::io::Error::other("response without content-length"))?;
        if buf.len() >= head_end + 4 + length {
            return Ok(());
        }
    }
}

async fn open(addr: String, request: String) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr.as_str()).await?;
    stream.write_all(request.as_bytes()).await?;
    read_response(&mut stream).await?;
    Ok(stream)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = parse_args();
    let request = format!("GET {} HTTP/1.1\r\nHost: {}\r\n\r\n", args.path, args.addr);
    let mut streams = Vec::with_capacity(args.connections);
    let mut failed = 0usize;
    let mut remaining = args.connections;
    // Connect in batches so the listen backlog never overflows (a dropped SYN
    // costs a one-second retransmit and would blur the measurement).
    while remaining > 0 {
        let n = remaining.min(args.batch);
        remaining -= n;
        let batch: Vec<_> = (0..n)
            .map(|_| tokio::spawn(open(args.addr.clone(), request.clone())))
            .collect();
        for task in batch {
            match task.await.expect("connect task panicked") {
                Ok(stream) => streams.push(stream),
                Err(err) => {
                    if failed == 0 {
                        eprintln!("connection failed: {err}");
                    }
                    failed += 1;
                }
            }
        }
    }
    println!("READY {} {failed}", streams.len());
    std::io::stdout().flush().expect("stdout");
    tokio::time::sleep(args.settle).await;
    // A connection the server closed reads as end of file; an open idle one would block.
    let mut probe = [0u8; 1];
    let open = streams
        .iter()
        .filter(|s| matches!(s.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock))
        .count();
    println!("OPEN {open}");
    std::io::stdout().flush().expect("stdout");
    tokio::time::sleep(args.hold).await;
}
