//! Run with: cargo run -p examples --bin async_vs_blocking_client
//!
//! Measures the `async_vs_blocking` server (start it first): for each route,
//! fires `--requests` (100) concurrent requests while a separate connection
//! pings `GET /` every `--ping-interval-ms` (10), then prints one table row:
//! total time, requests per second, and the ping latency (p50, p99, max).
//! The ping latency is how responsive the event loop stayed meanwhile.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use examples::async_vs_blocking::ROUTES;

/// Load the three routes of `async_vs_blocking` and print a table.
#[derive(Debug, Parser)]
#[command(name = "async_vs_blocking_client")]
struct Cli {
    /// Where `async_vs_blocking` serves.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    url: String,
    /// Concurrent requests per route.
    #[arg(long, default_value_t = 100)]
    requests: usize,
    /// Pause between two pings of `GET /`, in milliseconds.
    #[arg(long, default_value_t = 10)]
    ping_interval_ms: u64,
    /// Routes to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = ROUTES.map(String::from))]
    routes: Vec<String>,
    /// Give up on a request after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
}

/// What one route's run measured.
#[derive(Debug)]
struct Measurement {
    route: String,
    requests: usize,
    ok: usize,
    total: Duration,
    /// Latencies of the `GET /` pings sent while the requests ran, sorted.
    pings: Vec<Duration>,
}

impl Measurement {
    fn requests_per_second(&self) -> f64 {
        self.ok as f64 / self.total.as_secs_f64()
    }
}

/// The `p`-th percentile (nearest rank) of sorted `values`.
fn percentile(sorted: &[Duration], p: usize) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// Fires `requests` concurrent `GET route` while pinging `GET /`.
async fn measure(
    base: &str,
    route: &str,
    requests: usize,
    ping_interval: Duration,
    timeout: Duration,
) -> Result<Measurement, reqwest::Error> {
    let build = || reqwest::Client::builder().timeout(timeout).build();
    let (client, pinger_client) = (build()?, build()?);
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = {
        let (stop, url) = (stop.clone(), format!("{base}/"));
        tokio::spawn(async move {
            let mut pings = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let answered = match pinger_client.get(&url).send().await {
                    Ok(response) => response.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if answered {
                    pings.push(started.elapsed());
                }
                tokio::time::sleep(ping_interval).await;
            }
            pings.sort();
            pings
        })
    };

    let url = format!("{base}{route}");
    let started = Instant::now();
    let calls = (0..requests).map(|_| async {
        let response = client.get(&url).send().await?.error_for_status()?;
        response.bytes().await
    });
    let results = futures_util::future::join_all(calls).await;
    let total = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let pings = pinger.await.unwrap_or_default();

    if let Some(Err(error)) = results.iter().find(|r| r.is_err()) {
        eprintln!("{route}: a request failed: {error}");
    }
    Ok(Measurement {
        route: route.to_owned(),
        requests,
        ok: results.iter().filter(|r| r.is_ok()).count(),
        total,
        pings,
    })
}

fn millis(value: Option<Duration>) -> String {
    value.map_or_else(
        || "-".to_owned(),
        |d| format!("{:.1}", d.as_secs_f64() * 1000.0),
    )
}

/// The measurements as a Markdown table.
fn table(rows: &[Measurement]) -> String {
    let mut out = String::from(
        "| route | requests | ok | total (s) | req/s | ping p50 (ms) | ping p99 (ms) | ping max (ms) | pings |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {:.2} | {:.1} | {} | {} | {} | {} |",
            row.route,
            row.requests,
            row.ok,
            row.total.as_secs_f64(),
            row.requests_per_second(),
            millis(percentile(&row.pings, 50)),
            millis(percentile(&row.pings, 99)),
            millis(row.pings.last().copied()),
            row.pings.len(),
        );
    }
    out
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let base = cli.url.trim_end_matches('/');
    let ping_interval = Duration::from_millis(cli.ping_interval_ms);
    let timeout = Duration::from_secs(cli.timeout_secs);
    let mut rows = Vec::new();
    for route in &cli.routes {
        eprintln!("{route}: {} concurrent requests ...", cli.requests);
        match measure(base, route, cli.requests, ping_interval, timeout).await {
            Ok(row) => rows.push(row),
            Err(error) => {
                eprintln!("cannot measure {route}: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    print!("{}", table(&rows));
    if rows.iter().all(|row| row.ok == row.requests) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use asgi_server::{Config, Server};
    use clap::CommandFactory;
    use examples::async_vs_blocking::app;

    use super::*;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["client", "--routes", "/async,/mistake"]).unwrap();
        assert_eq!(cli.routes, ["/async", "/mistake"]);
        assert_eq!(Cli::try_parse_from(["client"]).unwrap().routes, ROUTES);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();

        assert_eq!(percentile(&values, 50), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&values, 99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&values, 100), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&values[..1], 99), Some(Duration::from_millis(1)));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn table_has_one_row_per_route() {
        let row = Measurement {
            route: "/async".to_owned(),
            requests: 100,
            ok: 100,
            total: Duration::from_millis(1250),
            pings: vec![Duration::from_millis(2), Duration::from_millis(4)],
        };

        let text = table(&[row]);

        assert!(
            text.lines().nth(2).is_some_and(
                |line| line == "| `/async` | 100 | 100 | 1.25 | 80.0 | 2.0 | 4.0 | 4.0 | 2 |"
            ),
            "{text}"
        );
    }

    /// Against the real server: async waits overlap, a 2-thread pool runs
    /// blocking waits two at a time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn measures_the_real_server() {
        let wait = Duration::from_millis(200);
        let mut config = Config::default();
        config.port = 0;
        config.access_log = false;
        let bound = Server::new(config).bind().await.unwrap();
        let base = format!("http://{}", bound.local_addr().unwrap());
        let handle = bound.handle();
        let server = tokio::spawn(bound.serve(app(wait, 2)));
        let ping = Duration::from_millis(5);
        let timeout = Duration::from_secs(20);

        let run = async {
            let fast = measure(&base, "/async", 6, ping, timeout).await.unwrap();
            let pooled = measure(&base, "/blocking", 6, ping, timeout).await.unwrap();
            (fast, pooled)
        };
        let (fast, pooled) = tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .unwrap();
        handle.shutdown();
        server.await.unwrap().unwrap();

        assert_eq!((fast.ok, pooled.ok), (6, 6));
        assert!(fast.total >= wait && fast.total < wait * 3, "{fast:?}");
        // Six waits on two threads: three rounds.
        assert!(pooled.total >= wait * 3, "{pooled:?}");
        assert!(!pooled.pings.is_empty(), "{pooled:?}");
    }
}
