//! The connection's deadline timer (keep-alive and request-head timeouts).

use std::pin::Pin;

use tokio::time::{Instant, Sleep};

/// A connection's deadline timer, re-armed lazily.
///
/// Moving a deadline later (each keep-alive request does) only records it;
/// the sleep is reset when it fires early or must fire sooner. Under steady
/// traffic that is one timer-wheel update per timeout period, not per request.
pub(super) struct Timer {
    sleep: Pin<Box<Sleep>>,
    armed: Instant,
    deadline: Instant,
}

impl Timer {
    pub(super) fn new() -> Self {
        let now = Instant::now();
        Self {
            sleep: Box::pin(tokio::time::sleep_until(now)),
            armed: now,
            deadline: now,
        }
    }

    pub(super) fn set(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if deadline < self.armed {
            self.armed = deadline;
            self.sleep.as_mut().reset(deadline);
        }
    }

    pub(super) async fn expired(&mut self) {
        loop {
            self.sleep.as_mut().await;
            if Instant::now() >= self.deadline {
                return;
            }
            self.armed = self.deadline;
            self.sleep.as_mut().reset(self.deadline);
        }
    }
}
