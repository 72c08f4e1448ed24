//! `--workers`: the supervisor, run as a real binary (the `asgi-test-app`
//! example), since it re-executes itself to start workers.
//!
//! Each test bounds every wait; the slowest (the health check) takes about 4 s.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Every wait in these tests is bounded by this.
const LIMIT: Duration = Duration::from_secs(15);

/// The test app binary, built by `cargo test` with the other examples.
///
/// `cargo test --test it` builds no examples, so a missing one, or one older
/// than this test binary (which a library change rebuilt), is built here.
fn app_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test binary path");
            // target/debug/deps/it-HASH -> target/debug/examples/asgi-test-app
            let debug = exe.parent().and_then(|d| d.parent()).expect("target dir");
            let binary = debug.join("examples").join("asgi-test-app");
            let modified =
                |path: &std::path::Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
            if modified(&binary) < modified(&exe) {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                let status = Command::new(cargo)
                    .args(["build", "-p", "asgi-server", "--example", "asgi-test-app"])
                    .status()
                    .expect("run cargo build");
                assert!(
                    status.success(),
                    "building the asgi-test-app example failed"
                );
            }
            binary
        })
        .clone()
}

/// A running `asgi-test-app` and the lines it logged.
struct Process {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Process {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(app_binary())
            .args(["--host", "127.0.0.1", "--no-access-log"])
            .args(if args.contains(&"--port") {
                &[][..]
            } else {
                &["--port", "0"][..]
            })
            .args(args)
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("WEB_CONCURRENCY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start asgi-test-app");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let readers = vec![
            collect(BufReader::new(stdout), lines.clone()),
            collect(BufReader::new(stderr), lines.clone()),
        ];
        Self {
            child,
            lines,
            readers,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    fn count(&self, needle: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits until `needle` has been logged `times` times.
    fn wait_for(&self, needle: &str, times: usize) {
        let found = wait_until(LIMIT, || self.count(needle) >= times);
        assert!(
            found,
            "{needle:?} x{times} not logged in time:\n{}",
            self.log()
        );
    }

    /// The address from "listening on http://ADDR" (supervisor) or "running on http://ADDR".
    fn addr(&self, marker: &str) -> SocketAddr {
        self.wait_for(marker, 1);
        let lines = self.lines.lock().unwrap();
        let line = lines.iter().find(|l| l.contains(marker)).expect("logged");
        let rest = &line[line.find("http://").expect("an http URL") + 7..];
        let addr = rest.split_whitespace().next().expect("address");
        addr.parse().expect("socket address")
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to exit.
    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the readers take in the last lines (bounded: an orphaned
                // worker could hold the pipes open).
                wait_until(Duration::from_secs(2), || {
                    self.readers.iter().all(JoinHandle::is_finished)
                });
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "did not exit in time:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Freeze the supervisor so that it starts no replacement, kill its
        // workers (in their own process groups), then the supervisor.
        let pid = self.pid().to_string();
        let _ = Command::new("kill").args(["-STOP", &pid]).status();
        for worker in children(self.pid()) {
            let _ = Command::new("kill")
                .args(["-KILL", &worker.to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The readers end when the last writer of the pipes is gone; a test
        // that failed may have left one, so they are not waited for.
        self.readers.clear();
    }
}

fn collect(
    reader: impl BufRead + Send + 'static,
    lines: Arc<Mutex<Vec<String>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in reader.lines() {
            let Ok(line) = line else { return };
            lines.lock().unwrap().push(line);
        }
    })
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// The live (not zombie) children of `parent`, from /proc.
fn children(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = after.split_whitespace();
        let state = fields.next();
        let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) && state != Some("Z") && state != Some("X") {
            out.push(pid);
        }
    }
    out.sort_unstable();
    out
}

/// One request on a fresh connection: status and body.
fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {text:?}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

fn get_pid(addr: SocketAddr) -> u32 {
    let (status, body) = get(addr, "/pid").expect("GET /pid");
    assert_eq!(status, 200, "{body}");
    body.trim().parse().expect("a pid")
}

/// A client sending requests one after another until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failures: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Load {
    fn start(addr: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, ok, failures) = (stop.clone(), ok.clone(), failures.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match get(addr, "/") {
                        Ok((200, _)) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        other => failures.lock().unwrap().push(format!("{other:?}")),
                    }
                }
            })
        };
        Self {
            stop,
            ok,
            failures,
            thread: Some(thread),
        }
    }

    /// Stops and returns (successes, failures).
    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("load thread");
        }
        let failures = self.failures.lock().unwrap().clone();
        (self.ok.load(Ordering::Relaxed), failures)
    }
}

/// Starts a supervisor with `workers` and waits until they are all ready.
fn supervisor(workers: usize, args: &[&str]) -> (Process, SocketAddr) {
    let count = workers.to_string();
    let mut all = vec!["--workers", count.as_str()];
    all.extend_from_slice(args);
    let process = Process::start(&all, &[]);
    let addr = process.addr("Supervisor listening on");
    process.wait_for("is ready", workers);
    (process, addr)
}

#[test]
fn killed_worker_is_replaced_and_only_its_requests_fail() {
    let (process, addr) = supervisor(2, &[]);
    let original = children(process.pid());
    assert_eq!(original.len(), 2, "{original:?}\n{}", process.log());
    let load = Load::start(addr);
    std::thread::sleep(Duration::from_millis(300));

    let victim = original[0];
    let _ = Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status();
    let replaced = wait_until(LIMIT, || {
        let now = children(process.pid());
        now.len() == 2 && !now.contains(&victim)
    });
    let replacement: Vec<u32> = children(process.pid())
        .into_iter()
        .filter(|pid| !original.contains(pid))
        .collect();
    let served_by_replacement = wait_until(LIMIT, || {
        replacement
            .iter()
            .any(|&pid| get(addr, "/pid").is_ok_and(|(_, body)| body.trim() == pid.to_string()))
    });
    std::thread::sleep(Duration::from_millis(200));
    let (ok, failures) = load.finish();

    assert!(replaced, "no replacement:\n{}", process.log());
    assert!(
        served_by_replacement,
        "replacement never served:\n{}",
        process.log()
    );
    assert!(
        process.log().contains("killed by SIGKILL"),
        "{}",
        process.log()
    );
    assert!(ok > 0);
    // One client, one request at a time: at most the one in flight on the victim.
    assert!(failures.len() <= 1, "{failures:?}");
}

#[test]
fn hup_replaces_every_worker_without_a_failed_request() {
    let (process, addr) = supervisor(2, &[]);
    let original = children(process.pid());
    let load = Load::start(addr);
    std::thread::sleep(Duration::from_millis(300));

    process.signal("HUP");
    let all_new = wait_until(LIMIT, || {
        let now = children(process.pid());
        now.len() == 2 && now.iter().all(|pid| !original.contains(pid))
    });
    std::thread::sleep(Duration::from_millis(300));
    let (ok, failures) = load.finish();

    assert!(all_new, "workers not replaced:\n{}", process.log());
    assert_eq!(process.count("Stopping worker"), 2, "{}", process.log());
    assert!(ok > 0);
    assert!(failures.is_empty(), "{failures:?}\n{}", process.log());
}

#[test]
fn startup_failure_stops_the_supervisor_with_status_3() {
    let mut process = Process::start(&["--workers", "2"], &[("FAIL_STARTUP", "1")]);

    let status = process.wait_exit(LIMIT);

    assert_eq!(status.code(), Some(3), "{}", process.log());
    assert!(
        process.log().contains("failed application startup"),
        "{}",
        process.log()
    );
    // No restart loop: only the first workers were ever started.
    assert!(process.count("Started worker [") <= 2, "{}", process.log());
}

/// Starts one worker on `runtime`, blocks its loop with `/block`, and
/// expects a replacement after the 2 s health check.
fn blocked_worker_is_replaced(runtime: &[&str]) {
    let mut args = runtime.to_vec();
    args.extend(["--timeout-worker-healthcheck", "2"]);
    let (process, addr) = supervisor(1, &args);
    let blocked_pid = get_pid(addr);

    let started = Instant::now();
    let blocked = std::thread::spawn(move || get(addr, "/block"));
    let replaced = wait_until(LIMIT, || {
        get(addr, "/pid").is_ok_and(|(_, body)| body.trim() != blocked_pid.to_string())
    });

    assert!(replaced, "blocked worker not replaced:\n{}", process.log());
    // The 2 s run from the last answered ping, up to one ping interval (0.5 s) before the block.
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
    // The log is read from the supervisor's pipe by another thread: the line
    // may arrive a moment after the replacement answers.
    assert!(
        wait_until(LIMIT, || process.log().contains("sending SIGABRT")),
        "{}",
        process.log()
    );
    assert!(
        blocked.join().expect("client thread").is_err(),
        "the blocked request cannot succeed"
    );
}

#[test]
fn worker_with_a_blocked_loop_is_replaced_after_the_healthcheck_timeout() {
    blocked_worker_is_replaced(&["--runtime", "current-thread"]);
}

#[test]
fn worker_with_one_blocked_runtime_thread_is_replaced_too() {
    // The heartbeat task runs on the other thread; the stall watchdog tells it.
    blocked_worker_is_replaced(&["--runtime", "multi-thread", "--threads", "2"]);
}

#[test]
fn stall_warning_names_the_blocking_request() {
    let process = Process::start(
        &["--warn-loop-stall", "50", "--runtime", "current-thread"],
        &[],
    );
    let addr = process.addr("Server running on");

    let (status, body) = get(addr, "/stall?ms=400").expect("GET /stall");

    assert_eq!((status, body.as_str()), (200, "stalled"));
    process.wait_for("Event loop blocked for at least", 1);
    let log = process.log();
    let warning = log
        .lines()
        .find(|l| l.contains("Event loop blocked for at least"))
        .expect("logged");
    assert!(warning.contains("\"GET /stall?ms=400\""), "{warning}");
    assert!(warning.contains("WARN"), "{warning}");
}

#[test]
fn ttin_adds_and_ttou_removes_a_worker() {
    let (process, _addr) = supervisor(1, &[]);
    assert_eq!(children(process.pid()).len(), 1);

    process.signal("TTIN");
    let grew = wait_until(LIMIT, || children(process.pid()).len() == 2);
    process.wait_for("is ready", 2);
    process.signal("TTOU");
    let shrank = wait_until(LIMIT, || children(process.pid()).len() == 1);

    assert!(grew, "{}", process.log());
    assert!(shrank, "{}", process.log());
}

#[test]
fn max_requests_recycles_the_worker_without_a_failed_request() {
    let (process, addr) = supervisor(1, &["--limit-max-requests", "5"]);

    let first = get_pid(addr);
    let mut served = 1;
    let recycled = wait_until(LIMIT, || {
        served += 1;
        get_pid(addr) != first
    });

    assert!(
        recycled,
        "never recycled after {served} requests:\n{}",
        process.log()
    );
    assert!(served >= 5, "recycled after {served} requests");
    assert!(
        process.log().contains("reached --limit-max-requests"),
        "{}",
        process.log()
    );
}

#[test]
fn term_drains_in_flight_requests_then_exits_0() {
    let (mut process, addr) = supervisor(2, &[]);
    let slow = std::thread::spawn(move || get(addr, "/slow?ms=800"));
    std::thread::sleep(Duration::from_millis(200));

    process.signal("TERM");
    let status = process.wait_exit(LIMIT);

    assert_eq!(status.code(), Some(0), "{}", process.log());
    let (code, body) = slow
        .join()
        .expect("client")
        .expect("the in-flight request completes");
    assert_eq!((code, body.as_str()), (200, "slow"));
    assert!(children(process.pid()).is_empty());
}

#[test]
fn reuse_port_workers_each_bind_and_share_the_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
        .to_string();
    let process = Process::start(&["--workers", "2", "--reuse-port", "--port", &port], &[]);
    process.wait_for("is ready", 2);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();

    let mut pids = std::collections::BTreeSet::new();
    let both = wait_until(LIMIT, || {
        pids.insert(get_pid(addr));
        pids.len() == 2
    });

    assert!(
        both,
        "one worker served everything: {pids:?}\n{}",
        process.log()
    );
    assert!(
        process.log().contains("with SO_REUSEPORT"),
        "{}",
        process.log()
    );
}

#[test]
fn reuse_port_without_a_fixed_port_is_refused() {
    let mut process = Process::start(&["--workers", "2", "--reuse-port"], &[]);

    let status = process.wait_exit(LIMIT);

    assert_eq!(status.code(), Some(1), "{}", process.log());
    assert!(
        process.log().contains("needs a fixed --port"),
        "{}",
        process.log()
    );
}
