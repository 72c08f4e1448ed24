//! Listens for the server shutdown signal.

use tokio::sync::watch;

/// A handle every connection task holds to learn that the server is shutting down.
///
/// Cloning is cheap. [`ShutdownTrigger::trigger`] flips every clone at once.
#[derive(Clone, Debug)]
pub(crate) struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// The sending side of [`Shutdown`].
#[derive(Debug)]
pub(crate) struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

/// A new trigger and the first listener.
pub(crate) fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger { tx }, Shutdown { rx })
}

impl ShutdownTrigger {
    /// Tells every [`Shutdown`] that the server is shutting down.
    pub(crate) fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// A new listener.
    pub(crate) fn subscribe(&self) -> Shutdown {
        Shutdown {
            rx: self.tx.subscribe(),
        }
    }
}

impl Shutdown {
    /// Whether shutdown has begun.
    pub(crate) fn is_shutdown(&self) -> bool {
        *self.rx.borrow()
    }

    /// Completes once shutdown has begun (at once if it already has).
    pub(crate) async fn wait(&mut self) {
        // An error means the trigger was dropped: treat that as shutdown too.
        let _ = self.rx.wait_for(|&down| down).await;
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
}
