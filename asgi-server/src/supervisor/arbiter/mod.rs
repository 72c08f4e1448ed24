//! The supervisor's loop: keeps the wanted number of workers serving.
//!
//! Each worker is in one [`State`]. Those starting or ready count towards the
//! target; the loop starts workers while fewer count (with backoff when they
//! keep dying young) and retires the oldest while more do. Replacing a worker
//! (HUP, `--limit-max-requests`) marks it outgoing and starts its successor;
//! only when the successor reports ready does the old one get TERM.
//! `health`: the periodic checks (heartbeat, kill deadlines, pings).

mod health;

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::os::fd::AsFd;
use std::process::ExitStatus;
use std::time::Duration;

use rustix::process::Signal;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::heartbeat::{self, READY, RECYCLE};
use super::process::{Launcher, describe, send_signal};
use super::signals::Command;
use crate::cli::EXIT_STARTUP_FAILURE;
use crate::config::Config;
use crate::listener::Listener;

/// A worker that dies sooner than this after starting counts as failing to start.
const MIN_UPTIME: Duration = Duration::from_secs(5);
/// The first delay before replacing a worker that died young; it doubles per
/// further early death, up to [`BACKOFF_MAX`].
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// How long a worker sent SIGABRT, or past its graceful shutdown, has before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// How often the loop checks deadlines.
pub(super) const TICK: Duration = Duration::from_millis(100);

/// Where a worker is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Started; lifespan startup not yet reported complete.
    Starting,
    /// Serving.
    Ready,
    /// Serving until its replacement is ready.
    Outgoing,
    /// Sent TERM: draining.
    Retiring(Instant),
    /// Sent SIGABRT (or SIGKILL, once `killed`).
    Killing { since: Instant, killed: bool },
}

#[derive(Debug)]
struct Worker {
    pid: u32,
    started: Instant,
    state: State,
    /// When it last said anything (a pong, say).
    last_seen: Instant,
    writer: OwnedWriteHalf,
    /// The worker this one replaces once it is ready.
    replaces: Option<u64>,
}

impl Worker {
    fn counts(&self) -> bool {
        matches!(self.state, State::Starting | State::Ready)
    }

    fn serving(&self) -> bool {
        matches!(self.state, State::Ready | State::Outgoing)
    }
}

/// What the per-worker tasks report.
#[derive(Debug)]
pub(super) enum Event {
    Message(u64, u8),
    Exited(u64, io::Result<ExitStatus>),
}

#[derive(Debug)]
struct Stopping {
    deadline: Option<Instant>,
    code: u8,
}

/// The supervisor's state: its workers and what it is doing with them.
pub(super) struct Arbiter {
    config: Config,
    launcher: Launcher,
    listener: Option<Listener>,
    target: usize,
    workers: BTreeMap<u64, Worker>,
    next_id: u64,
    events: mpsc::UnboundedSender<Event>,
    /// Workers to replace, one at a time.
    reload: VecDeque<u64>,
    failures: u32,
    respawn_at: Instant,
    stopping: Option<Stopping>,
    ping_every: Duration,
    last_ping: Instant,
}

impl Arbiter {
    /// A supervisor with no worker yet; the first [`reconcile`](Self::reconcile) starts them.
    pub(super) fn new(
        config: Config,
        launcher: Launcher,
        listener: Option<Listener>,
        events: mpsc::UnboundedSender<Event>,
    ) -> Self {
        let now = Instant::now();
        let healthcheck = config.timeout_worker_healthcheck;
        Self {
            target: config.workers.unwrap_or(1).max(1),
            ping_every: (healthcheck / 4).clamp(Duration::from_millis(100), Duration::from_secs(5)),
            config,
            launcher,
            listener,
            workers: BTreeMap::new(),
            next_id: 1,
            events,
            reload: VecDeque::new(),
            failures: 0,
            respawn_at: now,
            stopping: None,
            last_ping: now,
        }
    }

    /// The exit status, once stopping is complete (every worker gone).
    pub(super) fn finished(&self) -> Option<u8> {
        self.stopping
            .as_ref()
            .filter(|_| self.workers.is_empty())
            .map(|stopping| stopping.code)
    }

    /// Starts, replaces or retires workers until the count matches the target.
    pub(super) fn reconcile(&mut self, now: Instant) {
        if self.stopping.is_some() || now < self.respawn_at {
            return;
        }
        let replacing = self
            .workers
            .values()
            .any(|w| w.state == State::Starting && w.replaces.is_some());
        if !replacing {
            while let Some(old) = self.reload.pop_front() {
                let Some(worker) = self.workers.get_mut(&old) else {
                    continue;
                };
                if !worker.counts() {
                    continue;
                }
                worker.state = State::Outgoing;
                if !self.spawn(Some(old), now) {
                    if let Some(worker) = self.workers.get_mut(&old) {
                        worker.state = State::Ready;
                    }
                    self.reload.push_front(old);
                    return;
                }
                break;
            }
        }
        let mut counted = self.workers.values().filter(|w| w.counts()).count();
        while counted < self.target {
            if !self.spawn(None, now) {
                return;
            }
            counted += 1;
        }
        while counted > self.target {
            let oldest = self
                .workers
                .iter()
                .find(|(_, w)| w.state == State::Ready)
                .or_else(|| self.workers.iter().find(|(_, w)| w.counts()))
                .map(|(&id, _)| id);
            let Some(id) = oldest else { break };
            self.retire(id, now);
            counted -= 1;
        }
    }

    /// Starts a worker; `false` (and backoff) if it could not be started.
    fn spawn(&mut self, replaces: Option<u64>, now: Instant) -> bool {
        let id = self.next_id;
        self.next_id += 1;
        let listener = self.listener.as_ref().map(AsFd::as_fd);
        let (mut child, read, writer) = match self.launcher.spawn(id, listener) {
            Ok(spawned) => spawned,
            Err(error) => {
                tracing::error!("Could not start a worker: {error}");
                self.note_early_death(now);
                return false;
            }
        };
        let pid = child.id().unwrap_or(0);
        let events = self.events.clone();
        let forward = events.clone();
        tokio::spawn(heartbeat::read_messages(read, move |byte| {
            forward.send(Event::Message(id, byte)).is_ok()
        }));
        tokio::spawn(async move {
            let status = child.wait().await;
            let _ = events.send(Event::Exited(id, status));
        });
        match replaces.and_then(|old| self.workers.get(&old)) {
            Some(old) => tracing::info!("Started worker [{pid}] to replace worker [{}]", old.pid),
            None => tracing::info!("Started worker [{pid}]"),
        }
        self.workers.insert(
            id,
            Worker {
                pid,
                started: now,
                state: State::Starting,
                last_seen: now,
                writer,
                replaces,
            },
        );
        true
    }

    /// TERM: the worker stops accepting, finishes its requests, and exits.
    fn retire(&mut self, id: u64, now: Instant) {
        if let Some(worker) = self.workers.get_mut(&id) {
            tracing::info!("Stopping worker [{}]", worker.pid);
            send_signal(worker.pid, Signal::TERM);
            worker.state = State::Retiring(now);
        }
        self.reload.retain(|&queued| queued != id);
    }

    fn kill_all(&mut self, now: Instant) {
        for worker in self.workers.values_mut() {
            send_signal(worker.pid, Signal::KILL);
            worker.state = State::Killing {
                since: now,
                killed: true,
            };
        }
    }

    fn begin_stop(&mut self, code: u8, now: Instant) {
        let deadline = self
            .config
            .timeout_graceful_shutdown
            .map(|limit| now + limit + Duration::from_secs(1));
        self.stopping = Some(Stopping { deadline, code });
        self.reload.clear();
        let ids: Vec<u64> = self
            .workers
            .iter()
            .filter(|(_, w)| !matches!(w.state, State::Retiring(_) | State::Killing { .. }))
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            self.retire(id, now);
        }
    }

    fn note_early_death(&mut self, now: Instant) {
        self.failures += 1;
        let exponent = self.failures.saturating_sub(1).min(16);
        let delay = BACKOFF_START.saturating_mul(1 << exponent).min(BACKOFF_MAX);
        if self.failures > 1 {
            tracing::warn!(
                "Workers keep dying at start ({} in a row); next start in {} ms",
                self.failures,
                delay.as_millis()
            );
        }
        self.respawn_at = now + delay;
    }

    pub(super) fn on_signal(&mut self, command: Command, now: Instant) {
        match command {
            Command::Stop if self.stopping.is_some() => {
                tracing::warn!("Second signal: killing the workers");
                self.kill_all(now);
            }
            Command::Stop => {
                tracing::info!("Shutting down: stopping {} worker(s)", self.workers.len());
                self.begin_stop(0, now);
            }
            Command::Quit => {
                tracing::info!("Quit: killing the workers");
                if self.stopping.is_none() {
                    self.stopping = Some(Stopping {
                        deadline: None,
                        code: 0,
                    });
                }
                self.kill_all(now);
            }
            _ if self.stopping.is_some() => {}
            Command::Reload => {
                self.reload = self
                    .workers
                    .iter()
                    .filter(|(_, w)| w.counts())
                    .map(|(&id, _)| id)
                    .collect();
                tracing::info!(
                    "Reloading: replacing {} worker(s) one by one",
                    self.reload.len()
                );
            }
            Command::Increment => {
                self.target += 1;
                tracing::info!("TTIN: {} worker(s) wanted", self.target);
            }
            Command::Decrement if self.target > 1 => {
                self.target -= 1;
                tracing::info!("TTOU: {} worker(s) wanted", self.target);
            }
            Command::Decrement => tracing::info!("TTOU ignored: already at one worker"),
        }
    }

    pub(super) fn on_event(&mut self, event: Event, now: Instant) {
        match event {
            Event::Message(id, byte) => self.on_message(id, byte, now),
            Event::Exited(id, status) => self.on_exit(id, status, now),
        }
    }

    fn on_message(&mut self, id: u64, byte: u8, now: Instant) {
        let Some(worker) = self.workers.get_mut(&id) else {
            return;
        };
        worker.last_seen = now;
        match byte {
            READY if worker.state == State::Starting => {
                worker.state = State::Ready;
                tracing::info!("Worker [{}] is ready", worker.pid);
                let replaced = worker.replaces.take();
                if let Some(old) = replaced
                    && self
                        .workers
                        .get(&old)
                        .is_some_and(|w| w.state == State::Outgoing)
                {
                    self.retire(old, now);
                }
            }
            RECYCLE if worker.state == State::Ready && !self.reload.contains(&id) => {
                tracing::info!(
                    "Worker [{}] reached --limit-max-requests; replacing it",
                    worker.pid
                );
                self.reload.push_back(id);
            }
            _ => {}
        }
    }

    fn on_exit(&mut self, id: u64, status: io::Result<ExitStatus>, now: Instant) {
        self.reload.retain(|&queued| queued != id);
        let Some(worker) = self.workers.remove(&id) else {
            return;
        };
        let how = match &status {
            Ok(status) => describe(*status),
            Err(error) => format!("unknown status: {error}"),
        };
        let pid = worker.pid;
        let startup_failed = status
            .as_ref()
            .is_ok_and(|s| s.code() == Some(i32::from(EXIT_STARTUP_FAILURE)));
        match worker.state {
            State::Retiring(_) | State::Killing { .. } => {
                tracing::info!("Worker [{pid}] stopped ({how})")
            }
            _ if self.stopping.is_some() => tracing::info!("Worker [{pid}] stopped ({how})"),
            State::Starting if startup_failed => {
                tracing::error!(
                    "Worker [{pid}] failed application startup ({how}); stopping all workers"
                );
                self.begin_stop(EXIT_STARTUP_FAILURE, now);
            }
            _ => {
                tracing::error!("Worker [{pid}] died ({how}); replacing it");
                if now.duration_since(worker.started) < MIN_UPTIME {
                    self.note_early_death(now);
                } else {
                    self.failures = 0;
                }
            }
        }
        // A replacement that died before it was ready: its predecessor serves on.
        if let Some(old) = worker.replaces
            && let Some(previous) = self.workers.get_mut(&old)
            && previous.state == State::Outgoing
        {
            previous.state = State::Ready;
            self.reload.push_front(old);
        }
    }
}
