//! WebSocket echo load client: `--connections` sockets, each sending one
//! message and awaiting its echo in a loop for `--duration` seconds
//! (alternating text and binary messages of `--size` bytes). Prints one JSON
//! line: messages echoed, messages per second, p99 round trip, errors.
//!
//! Run with `ws_load --url ws://127.0.0.1:8000/ws --connections 64 --duration 10`.
//! One current-thread runtime: the harness pins it to one core.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::Barrier;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

struct Args {
    url: String,
    connections: usize,
    duration: Duration,
    size: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        url: "ws://127.0.0.1:8000/".to_owned(),
        connections: 64,
        duration: Duration::from_secs(10),
        size: 32,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value,
            "--connections" => args.connections = value.parse().expect("--connections: integer"),
            "--duration" => {
                args.duration =
                    Duration::from_secs_f64(value.parse().expect("--duration: seconds"));
            }
            "--size" => args.size = value.parse().expect("--size: bytes"),
            other => panic!("unknown argument {other:?}"),
        }
    }
    args
}

/// What one connection did: round-trip times in microseconds, and errors.
#[derive(Default)]
struct Outcome {
    rtts_us: Vec<u32>,
    errors: u64,
}

async fn connection(url: String, size: usize, start: Arc<Barrier>, duration: Duration) -> Outcome {
    let mut outcome = Outcome::default();
    let connected = tokio_tungstenite::connect_async(url.as_str()).await;
    // Every task reaches the barrier, connected or not, so none waits forever.
    start.wait().await;
    let mut ws = match connected {
        Ok((ws, _response)) => ws,
        Err(err) => {
            eprintln!("connect error: {err}");
            outcome.errors += 1;
            return outcome;
        }
    };
    let text = Utf8Bytes::from("x".repeat(size));
    let binary = Bytes::from(vec![0xA5u8; size]);
    let deadline = Instant::now() + duration;
    let mut send_text = true;
    while Instant::now() < deadline {
        let msg = if send_text {
            Message::Text(text.clone())
        } else {
            Message::Binary(binary.clone())
        };
        send_text = !send_text;
        let sent_at = Instant::now();
        if let Err(err) = ws.send(msg).await {
            eprintln!("send error: {err}");
            outcome.errors += 1;
            return outcome;
        }
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.len() == size => break,
                Some(Ok(Message::Binary(b))) if b.len() == size => break,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(other)) => {
                    eprintln!("unexpected message: {other:?}");
                    outcome.errors += 1;
                    return outcome;
                }
                Some(Err(err)) => {
                    eprintln!("receive error: {err}");
                    outcome.errors += 1;
                    return outcome;
                }
                None => {
                    eprintln!("connection closed by the server");
                    outcome.errors += 1;
                    return outcome;
                }
            }
        }
        let rtt = sent_at.elapsed().as_micros();
        outcome.rtts_us.push(u32::try_from(rtt).unwrap_or(u32::MAX));
    }
    let _ = ws.close(None).await;
    outcome
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = parse_args();
    let start = Arc::new(Barrier::new(args.connections + 1));
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| {
            tokio::spawn(connection(
                args.url.clone(),
                args.size,
                Arc::clone(&start),
                args.duration,
            ))
        })
        .collect();
    start.wait().await;
    let began = Instant::now();
    let mut rtts = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let outcome = task.await.expect("connection task panicked");
        rtts.extend(outcome.rtts_us);
        errors += outcome.errors;
    }
    let seconds = began.elapsed().as_secs_f64();
    rtts.sort_unstable();
    let p99_ms = if rtts.is_empty() {
        f64::NAN
    } else {
        f64::from(rtts[(rtts.len() * 99).div_ceil(100) - 1]) / 1000.0
    };
    let messages = rtts.len();
    println!(
        "{{\"connections\":{},\"messages\":{messages},\"seconds\":{seconds:.3},\"messages_per_sec\":{:.1},\"p99_ms\":{p99_ms:.3},\"errors\":{errors}}}",
        args.connections,
        messages as f64 / seconds,
    );
}
