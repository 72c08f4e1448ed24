//! The connection's deadline timer (keep-alive and request-head timeouts).

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};

use tokio::task::coop::unconstrained;
use tokio::time::{Instant, Sleep};

/// A connection's deadline timer, re-armed lazily.
///
/// Moving a deadline later (each keep-alive request does) only records it;
/// the sleep is reset when it fires early or must fire sooner. Under steady
/// traffic that is one timer-wheel update per timeout period, not per request.
///
/// Polling is lazy too: once the sleep has been polled (its timer entry
/// holds the task's waker), later polls only check whether it fired, until
/// a reset drops that registration.
pub(super) struct Timer {
    sleep: Pin<Box<Sleep>>,
    armed: Instant,
    deadline: Instant,
    /// The sleep was polled since its last reset: it will wake the task.
    registered: bool,
}

impl Timer {
    pub(super) fn new() -> Self {
        let now = Instant::now();
        Self {
            sleep: Box::pin(tokio::time::sleep_until(now)),
            armed: now,
            deadline: now,
            registered: false,
        }
    }

    pub(super) fn set(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if deadline < self.armed {
            self.rearm(deadline);
        }
    }

    /// The deadline last set.
    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }

    fn rearm(&mut self, deadline: Instant) {
        self.armed = deadline;
        self.sleep.as_mut().reset(deadline);
        self.registered = false;
    }

    /// Ready once the deadline has passed; must be polled from the task
    /// that owns the timer (the registration is that task's waker).
    pub(super) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.registered && !self.sleep.is_elapsed() {
                return Poll::Pending;
            }
            // Outside the task's cooperative budget: a poll refused for want
            // of budget would return `Pending` without registering the waker,
            // and `registered` would then wait on a wake-up that never comes.
            let polled = pin!(unconstrained(self.sleep.as_mut())).poll(cx);
            self.registered = true;
            ready!(polled);
            if Instant::now() >= self.deadline {
                return Poll::Ready(());
            }
            self.rearm(self.deadline);
        }
    }
}
