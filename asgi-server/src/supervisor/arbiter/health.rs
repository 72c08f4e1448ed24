//! The supervisor's periodic checks: heartbeat timeouts, kill deadlines, pings.

use rustix::process::Signal;
use tokio::time::Instant;

use super::{Arbiter, KILL_GRACE, State, Stopping};
use crate::supervisor::heartbeat::PING;
use crate::supervisor::process::send_signal;

impl Arbiter {
    /// Kills what overstayed (a silent heartbeat, an ignored SIGABRT, a drain
    /// past the graceful period) and pings the workers when a ping is due.
    pub(in crate::supervisor) fn on_tick(&mut self, now: Instant) {
        if let Some(Stopping {
            deadline: Some(deadline),
            ..
        }) = self.stopping
            && now >= deadline
        {
            tracing::warn!(
                "Workers still running after the graceful shutdown period: killing them"
            );
            self.stopping.as_mut().expect("checked above").deadline = None;
            self.kill_all(now);
        }
        let healthcheck = self.config.timeout_worker_healthcheck;
        let graceful = self.config.timeout_graceful_shutdown;
        for worker in self.workers.values_mut() {
            match worker.state {
                _ if worker.serving()
                    && !healthcheck.is_zero()
                    && now.duration_since(worker.last_seen) > healthcheck =>
                {
                    tracing::error!(
                        "Worker [{}] has not answered the heartbeat for {:.1} s (its event loop is blocked?); sending SIGABRT",
                        worker.pid,
                        now.duration_since(worker.last_seen).as_secs_f64()
                    );
                    send_signal(worker.pid, Signal::ABORT);
                    worker.state = State::Killing {
                        since: now,
                        killed: false,
                    };
                }
                State::Killing {
                    since,
                    killed: false,
                } if now.duration_since(since) > KILL_GRACE => {
                    tracing::error!("Worker [{}] still running; sending SIGKILL", worker.pid);
                    send_signal(worker.pid, Signal::KILL);
                    worker.state = State::Killing {
                        since,
                        killed: true,
                    };
                }
                State::Retiring(since)
                    if self.stopping.is_none()
                        && graceful.is_some_and(|limit| {
                            now.duration_since(since) > limit + KILL_GRACE
                        }) =>
                {
                    tracing::warn!(
                        "Worker [{}] still draining past the graceful shutdown period; sending SIGKILL",
                        worker.pid
                    );
                    send_signal(worker.pid, Signal::KILL);
                    worker.state = State::Killing {
                        since: now,
                        killed: true,
                    };
                }
                _ => {}
            }
        }
        if now.duration_since(self.last_ping) >= self.ping_every {
            self.last_ping = now;
            for worker in self.workers.values() {
                if matches!(worker.state, State::Starting) || worker.serving() {
                    // A full buffer means the worker is not reading: the
                    // heartbeat timeout deals with that, so a lost ping is fine.
                    let _ = worker.writer.try_write(&[PING]);
                }
            }
        }
    }
}
