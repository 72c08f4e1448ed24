//! The stream tasks of one HTTP/2 connection: spawned, counted while they
//! run, and cancelled together once the connection is done with them.

use std::future::{Future, poll_fn};
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures_util::FutureExt;
use futures_util::task::AtomicWaker;

use crate::protocol::panic_message;

/// The stream tasks of one connection.
///
/// What a `JoinSet` would give, for less per stream. The tasks are detached
/// (no handle to keep, join or drop per stream); a task tells the connection
/// only when it was the last one running, not each time one ends; and
/// cancelling needs no handle either: a task that waits leaves its waker
/// behind, and [`cancel`](Self::cancel) wakes it to end. Dropping the set
/// cancels every task still running.
pub(super) struct StreamTasks {
    shared: Arc<Shared>,
}

/// What the set shares with its tasks.
struct Shared {
    /// Tasks whose future has not been dropped yet.
    running: AtomicUsize,
    /// The connection task, woken when `running` drops to zero.
    emptied: AtomicWaker,
    /// Set once: every task ends at its next poll.
    cancelled: AtomicBool,
    /// The wakers of tasks that wait, to wake them for cancellation.
    waiting: Mutex<Waiting>,
}

impl Shared {
    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        // Nothing panics while holding the lock.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Slots for wakers, reused as tasks end.
#[derive(Default)]
struct Waiting {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl StreamTasks {
    /// An empty set.
    pub(super) fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                running: AtomicUsize::new(0),
                emptied: AtomicWaker::new(),
                cancelled: AtomicBool::new(false),
                waiting: Mutex::new(Waiting::default()),
            }),
        }
    }

    /// Spawns the rest of one stream's run (an app that waited in its first
    /// poll, or a response still waiting for send capacity) as its own task:
    /// the future `make` returns, made in the task.
    ///
    /// Made there, not passed in: a future moved into the task's own would
    /// take its room twice there (as captured, and as pinned for polling),
    /// and the task is moved and allocated whole.
    pub(super) fn spawn<F>(&self, make: impl FnOnce() -> F + Send + 'static)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.shared.running.fetch_add(1, Ordering::Relaxed);
        let mut member = Member {
            shared: self.shared.clone(),
            slot: None,
        };
        // Detached: the set reaches the task through `shared`, not a handle.
        drop(tokio::spawn(async move {
            // The app's own panics are caught around it; this catches ours.
            let mut stream = pin!(AssertUnwindSafe(make()).catch_unwind());
            if let Some(Err(panic)) = poll_fn(|cx| member.poll(stream.as_mut(), cx)).await {
                let message = panic_message(&*panic);
                tracing::error!("HTTP/2 stream task panicked: {message}");
            }
        }));
    }

    /// Completes once no task is running (at once if none is).
    pub(super) fn emptied(&self) -> impl Future<Output = ()> + '_ {
        poll_fn(|cx| {
            if self.shared.running.load(Ordering::Acquire) == 0 {
                return Poll::Ready(());
            }
            self.shared.emptied.register(cx.waker());
            // Checked again: the last task may have ended before the register.
            if self.shared.running.load(Ordering::Acquire) == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }

    /// Ends every task still running, at its next poll (which this causes).
    pub(super) fn cancel(&self) {
        self.shared.cancelled.store(true, Ordering::SeqCst);
        let wakers: Vec<Waker> = self
            .shared
            .waiting()
            .slots
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        for waker in wakers {
            waker.wake();
        }
    }
}

impl Drop for StreamTasks {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// One task's membership of the set: counted until dropped (with the
/// task's future: it ended, or was cancelled), and its waker kept while it waits.
struct Member {
    shared: Arc<Shared>,
    /// Where this task's waker is kept while it waits.
    slot: Option<usize>,
}

impl Member {
    /// Polls the task's `stream`: `None` if the set was cancelled instead.
    fn poll<F: Future>(
        &mut self,
        stream: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<F::Output>> {
        if self.shared.cancelled.load(Ordering::SeqCst) {
            return Poll::Ready(None);
        }
        if let Poll::Ready(output) = stream.poll(cx) {
            return Poll::Ready(Some(output));
        }
        {
            let mut waiting = self.shared.waiting();
            match self.slot {
                Some(slot) => match &mut waiting.slots[slot] {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    kept => *kept = Some(cx.waker().clone()),
                },
                None => {
                    let waker = Some(cx.waker().clone());
                    let slot = match waiting.free.pop() {
                        Some(slot) => {
                            waiting.slots[slot] = waker;
                            slot
                        }
                        None => {
                            waiting.slots.push(waker);
                            waiting.slots.len() - 1
                        }
                    };
                    self.slot = Some(slot);
                }
            }
        }
        // Checked again after leaving the waker: `cancel` sets the flag
        // before it takes the wakers, so either it took this one or the
        // flag is seen here.
        if self.shared.cancelled.load(Ordering::SeqCst) {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            let mut waiting = self.shared.waiting();
            waiting.slots[slot] = None;
            waiting.free.push(slot);
        }
        if self.shared.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.emptied.wake();
        }
    }
}
