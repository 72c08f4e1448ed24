//! Listens for the server shutdown signal.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Context;

use tokio::sync::Notify;

/// A handle every connection task holds to learn that the server is shutting down.
///
/// Cloning is cheap. [`ShutdownTrigger::trigger`] flips every clone at once.
/// [`is_shutdown`](Self::is_shutdown) is one atomic load: connections ask it
/// on every request.
#[derive(Clone, Debug)]
pub(crate) struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Shutdown has begun.
    down: AtomicBool,
    /// The trigger was dropped without triggering: waiters stop waiting too.
    closed: AtomicBool,
    notify: Notify,
}

impl Inner {
    fn signalled(&self) -> bool {
        self.down.load(Ordering::Acquire) || self.closed.load(Ordering::Acquire)
    }
}

/// The sending side of [`Shutdown`].
#[derive(Debug)]
pub(crate) struct ShutdownTrigger {
    inner: Arc<Inner>,
}

/// A new trigger and the first listener.
pub(crate) fn channel() -> (ShutdownTrigger, Shutdown) {
    let inner = Arc::new(Inner::default());
    (
        ShutdownTrigger {
            inner: inner.clone(),
        },
        Shutdown { inner },
    )
}

impl ShutdownTrigger {
    /// Tells every [`Shutdown`] that the server is shutting down.
    pub(crate) fn trigger(&self) {
        self.inner.down.store(true, Ordering::Release);
        self.inner.notify.notify_waiters();
    }

    /// A new listener.
    pub(crate) fn subscribe(&self) -> Shutdown {
        Shutdown {
            inner: self.inner.clone(),
        }
    }
}

impl Drop for ShutdownTrigger {
    fn drop(&mut self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.notify.notify_waiters();
    }
}

impl Shutdown {
    /// Whether shutdown has begun.
    pub(crate) fn is_shutdown(&self) -> bool {
        self.inner.down.load(Ordering::Acquire)
    }

    /// Whether [`wait`](Self::wait) would complete at once: shutdown has
    /// begun or the trigger is gone.
    ///
    /// A connection that polled `wait` once stays registered for the wake-up
    /// and then only asks this, instead of polling the wait future (a lock
    /// in [`Notify`]) each time it waits for a request.
    pub(crate) fn is_signalled(&self) -> bool {
        self.inner.signalled()
    }

    /// Completes once shutdown has begun (at once if it already has), or
    /// once the trigger was dropped.
    ///
    /// `&mut self`: each waiting task holds a listener of its own (clones are cheap).
    pub(crate) async fn wait(&mut self) {
        loop {
            let notified = self.inner.notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a trigger in between is not missed.
            notified.as_mut().enable();
            if self.inner.signalled() {
                return;
            }
            notified.await;
        }
    }
}

/// A connection's registration for the shutdown signal, made once.
///
/// Wraps a pinned [`Shutdown::wait`] future: the first poll registers the
/// task to be woken; later polls only read the flag, where polling the wait
/// future again would take the lock inside [`Notify`] on every turn of the
/// connection's loop.
pub(crate) struct ShutdownSignal<'a, S> {
    wait: Pin<&'a mut S>,
    registered: bool,
}

impl<'a, S: Future<Output = ()>> ShutdownSignal<'a, S> {
    pub(crate) fn new(wait: Pin<&'a mut S>) -> Self {
        Self {
            wait,
            registered: false,
        }
    }

    /// Whether shutdown was signalled. The first call polls the wait future
    /// (which registers this task to be woken); later calls read the flag.
    pub(crate) fn poll_signalled(&mut self, cx: &mut Context<'_>, shutdown: &Shutdown) -> bool {
        if self.registered {
            return shutdown.is_signalled();
        }
        self.registered = true;
        self.wait.as_mut().poll(cx).is_ready()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_reaches_every_listener() {
        let (trigger, mut first) = channel();
        let mut second = trigger.subscribe();
        assert!(!first.is_shutdown());

        trigger.trigger();

        first.wait().await;
        second.wait().await;
        assert!(first.is_shutdown() && second.is_shutdown());
    }

    #[tokio::test]
    async fn dropping_the_trigger_ends_waits_without_shutdown() {
        let (trigger, mut listener) = channel();
        let waiting = tokio::spawn(async move {
            listener.wait().await;
            listener.is_shutdown()
        });
        tokio::task::yield_now().await;

        drop(trigger);

        assert!(!waiting.await.unwrap());
    }
}
