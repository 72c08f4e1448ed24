//! Run with: cargo run -p examples --bin sse
//!
//! A server-sent events clock, and a page that shows it.
//!
//! - `GET /`: an HTML page whose `EventSource` listens to `/clock` and shows
//!   each tick (the browser reconnects by itself, sending `Last-Event-ID`).
//! - `GET /clock?interval_ms=1000&count=N`: `text/event-stream`, one `tick`
//!   event per interval with the UTC time as JSON; `count` ends the stream
//!   after N events (without it, it runs until the client leaves). Events
//!   carry ids, and a `Last-Event-ID` request header resumes after that id.
//!   A keep-alive comment goes out when nothing else does for 15 s.
//!
//! Out-of-range or malformed parameters give 422.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use asgi_framework::extract::ErrorDetail;
use asgi_framework::{
    Application, Event, HeaderParams, Html, KeepAlive, Query, Sse, ValidationError, get,
};
use examples::validate::at_most;
use serde::Deserialize;
use serde_json::json;

/// The shortest interval accepted, in milliseconds.
const MIN_INTERVAL_MS: u64 = 10;
/// The longest interval accepted, in milliseconds.
const MAX_INTERVAL_MS: u64 = 60_000;
/// The most events one stream may be asked for.
const MAX_COUNT: u64 = 1_000_000;

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>SSE clock</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 3rem; }
  #clock { font-size: 4rem; font-variant-numeric: tabular-nums; }
  #status { color: #666; }
</style>
</head>
<body>
<h1>Server-sent events clock</h1>
<div id="clock">--:--:--</div>
<p id="status">connecting&hellip;</p>
<script>
  const clock = document.getElementById("clock");
  const status = document.getElementById("status");
  const source = new EventSource("clock");
  source.addEventListener("tick", (event) => {
    const tick = JSON.parse(event.data);
    clock.textContent = tick.time;
    status.textContent = "tick " + event.lastEventId + " (UTC)";
  });
  source.onerror = () => { status.textContent = "disconnected, retrying…"; };
</script>
</body>
</html>
"#;

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// The query of `/clock`.
#[derive(Debug, Deserialize)]
struct ClockQuery {
    #[serde(default = "default_interval")]
    interval_ms: u64,
    count: Option<u64>,
}

fn default_interval() -> u64 {
    1000
}

/// The header the browser sends when it reconnects.
#[derive(Debug, Deserialize)]
struct Resume {
    last_event_id: Option<u64>,
}

/// `HH:MM:SS` of `time`, in UTC.
fn utc_time_of_day(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        % 86_400;
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

fn tick(id: u64) -> Event {
    let now = SystemTime::now();
    let unix_ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let data = json!({ "time": utc_time_of_day(now), "unix_ms": unix_ms });
    Event::new()
        .event("tick")
        .id(&id.to_string())
        .data(&data.to_string())
}

async fn clock(
    Query(query): Query<ClockQuery>,
    HeaderParams(resume): HeaderParams<Resume>,
) -> Result<Sse, ValidationError> {
    let interval_ms = at_most("interval_ms", query.interval_ms, MAX_INTERVAL_MS)?;
    if interval_ms < MIN_INTERVAL_MS {
        let mut detail = ErrorDetail::new(
            "greater_than_equal",
            vec!["query".into(), "interval_ms".into()],
            format!("Input should be greater than or equal to {MIN_INTERVAL_MS}"),
            json!(interval_ms.to_string()),
        );
        detail.ctx = Some(json!({ "ge": MIN_INTERVAL_MS }));
        return Err(detail.into());
    }
    let count = query
        .count
        .map(|count| at_most("count", count, MAX_COUNT))
        .transpose()?;
    let first = resume.last_event_id.map_or(0, |id| id.saturating_add(1));
    let interval = Duration::from_millis(interval_ms);
    let events = futures_util::stream::unfold((first, 0u64), move |(id, sent)| async move {
        if count.is_some_and(|count| sent >= count) {
            return None;
        }
        if sent > 0 {
            tokio::time::sleep(interval).await;
        }
        Some((tick(id), (id.saturating_add(1), sent + 1)))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new()))
}

fn app() -> Application {
    Application::new()
        .route("/", get(page))
        .route("/clock", get(clock))
}

fn main() -> ExitCode {
    asgi_server::run(app())
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use asgi_framework::testing::TestClient;
    use serde_json::Value;

    use super::*;

    /// The `(field, value)` lines of one event.
    fn fields(event: &str) -> Vec<(&str, &str)> {
        event
            .lines()
            .filter_map(|line| line.split_once(": "))
            .collect()
    }

    #[tokio::test]
    async fn page_listens_to_the_clock() {
        let response = TestClient::new(app()).get("/").send().await;

        assert_eq!(response.status(), 200);
        assert_eq!(
            response.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(response.text().contains(r#"new EventSource("clock")"#));
    }

    #[tokio::test]
    async fn clock_sends_count_ticks_one_interval_apart() {
        let started = Instant::now();

        let response = TestClient::new(app())
            .get("/clock?interval_ms=50&count=3")
            .send()
            .await;

        assert_eq!(response.status(), 200);
        assert_eq!(
            response.header("content-type"),
            Some("text/event-stream; charset=utf-8")
        );
        assert_eq!(response.header("cache-control"), Some("no-cache"));
        assert_eq!(response.chunks().len(), 3);
        for (i, chunk) in response.chunks().iter().enumerate() {
            let event = std::str::from_utf8(chunk).unwrap();
            assert!(event.ends_with("\n\n"), "{event:?}");
            let fields = fields(event);
            assert_eq!(fields[0], ("event", "tick"));
            assert_eq!(fields[1], ("id", i.to_string().as_str()));
            let data: Value = serde_json::from_str(fields[2].1).unwrap();
            assert_eq!(data["time"].as_str().map(str::len), Some(8), "{data}");
        }
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[tokio::test]
    async fn last_event_id_resumes_after_it() {
        let response = TestClient::new(app())
            .get("/clock?interval_ms=10&count=2")
            .header("last-event-id", "41")
            .send()
            .await;

        assert_eq!(response.status(), 200);
        assert!(response.text().contains("id: 42\n"));
        assert!(response.text().contains("id: 43\n"));
    }

    #[tokio::test]
    async fn bad_parameters_are_422() {
        let client = TestClient::new(app());
        let cases = [
            ("/clock?interval_ms=5", "greater_than_equal", "interval_ms"),
            ("/clock?interval_ms=60001", "less_than_equal", "interval_ms"),
            ("/clock?interval_ms=soon", "int_parsing", "interval_ms"),
            ("/clock?count=-1", "int_parsing", "count"),
            ("/clock?count=1000001", "less_than_equal", "count"),
        ];

        for (path, kind, field) in cases {
            let response = client.get(path).send().await;

            assert_eq!(response.status(), 422, "{path}");
            let body: Value = response.json();
            assert_eq!(body["detail"][0]["type"], kind, "{path}: {body}");
            assert_eq!(body["detail"][0]["loc"], json!(["query", field]), "{path}");
        }
    }

    #[tokio::test]
    async fn a_bad_last_event_id_is_422_not_a_panic() {
        let response = TestClient::new(app())
            .get("/clock?count=1")
            .header("last-event-id", "abc")
            .send()
            .await;

        assert_eq!(response.status(), 422);
    }

    #[test]
    fn time_of_day_is_utc() {
        let time = UNIX_EPOCH + Duration::from_secs(86_400 * 3 + 3600 * 13 + 60 * 5 + 9);

        assert_eq!(utc_time_of_day(time), "13:05:09");
    }
}
