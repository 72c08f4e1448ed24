//! The blocking pool: a bounded set of threads for sync code, off the event loop.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_channel::oneshot;

/// Starlette's (anyio's) default thread limit.
pub const DEFAULT_POOL_SIZE: usize = 40;

/// How long an idle thread waits for work before it exits.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A bounded pool of OS threads that runs blocking code.
///
/// At most `size` jobs run at once; more are queued in order and start as
/// threads free up, so a burst of blocking requests never starves the event
/// loop nor spawns unbounded threads. Threads are started on demand and exit
/// after 10 seconds idle. Each job's result reaches the awaiting future
/// through a oneshot channel, so any async runtime can await it.
///
/// Cloning gives another handle to the same pool.
///
/// # Example
///
/// ```
/// use asgi_framework::BlockingPool;
///
/// # futures_executor::block_on(async {
/// let pool = BlockingPool::new(2);
/// let sum = pool.run(|| (1..=10).sum::<u32>()).await.unwrap();
/// assert_eq!(sum, 55);
/// # });
/// ```
#[derive(Clone)]
pub struct BlockingPool {
    shared: Arc<Shared>,
}

struct Shared {
    size: usize,
    state: Mutex<PoolState>,
    work: Condvar,
}

#[derive(Default)]
struct PoolState {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

/// A snapshot of a pool's load, from [`BlockingPool::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// The most jobs that run at once.
    pub size: usize,
    /// Threads that exist now (busy or idle).
    pub threads: usize,
    /// Threads running a job now.
    pub busy: usize,
    /// Jobs waiting for a free thread.
    pub queued: usize,
}

impl BlockingPool {
    /// A pool that runs at most `size` jobs at once (at least 1).
    pub fn new(size: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                size: size.max(1),
                state: Mutex::new(PoolState::default()),
                work: Condvar::new(),
            }),
        }
    }

    /// The process-wide default pool, with [`DEFAULT_POOL_SIZE`] threads.
    ///
    /// Used by applications that do not configure their own, and by
    /// [`run_blocking`] outside any application.
    pub fn global() -> Self {
        GLOBAL
            .get_or_init(|| BlockingPool::new(DEFAULT_POOL_SIZE))
            .clone()
    }

    /// Whether this is [`global`](Self::global)'s pool.
    fn is_global(&self) -> bool {
        GLOBAL
            .get()
            .is_some_and(|global| Arc::ptr_eq(&global.shared, &self.shared))
    }

    /// The pool's current load.
    pub fn stats(&self) -> PoolStats {
        let state = self.shared.lock();
        PoolStats {
            size: self.shared.size,
            threads: state.threads,
            busy: state.threads - state.idle,
            queued: state.queue.len(),
        }
    }

    /// Runs `f` on a pool thread; the future gives its result.
    ///
    /// `f` starts when a thread is free. If the future is dropped before that,
    /// `f` never runs. A panic in `f` is caught: the thread survives and the
    /// future gives [`BlockingError::Panicked`].
    pub fn run<F, R>(&self, f: F) -> BlockingTask<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            if tx.is_canceled() {
                return;
            }
            let result = catch_unwind(AssertUnwindSafe(f))
                .map_err(|panic| BlockingError::Panicked(crate::panic::message(panic.as_ref())));
            let _ = tx.send(result);
        });
        self.submit(job);
        BlockingTask { rx }
    }

    fn submit(&self, job: Job) {
        let mut state = self.shared.lock();
        state.queue.push_back(job);
        let busy = state.threads - state.idle;
        if state.idle >= state.queue.len() {
            self.shared.work.notify_one();
        } else if state.threads < self.shared.size {
            state.threads += 1;
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new()
                .name("asgi-blocking".to_owned())
                .spawn(move || shared.worker());
            if let Err(error) = spawned {
                state.threads -= 1;
                tracing::error!(%error, "could not start a blocking pool thread");
            }
        }
        let queued = state.queue.len().saturating_sub(state.idle);
        if queued > 0 && state.threads >= self.shared.size {
            tracing::debug!(
                target: "asgi_framework::pool",
                size = self.shared.size,
                busy,
                queued,
                "blocking pool saturated; job queued"
            );
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // Jobs run outside the lock and catch their panics, so the state is
        // never left half-updated; poison can be ignored.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn worker(self: Arc<Self>) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                job();
                state = self.lock();
                continue;
            }
            state.idle += 1;
            let (next, timeout) = self
                .work
                .wait_timeout(state, IDLE_TIMEOUT)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.queue.is_empty() {
                state.threads -= 1;
                return;
            }
        }
    }
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BlockingPool").field(&self.stats()).finish()
    }
}

/// Why a blocking job gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockingError {
    /// The job panicked; the panic message.
    Panicked(String),
    /// The job was dropped without running (its thread could not start).
    Cancelled,
}

impl fmt::Display for BlockingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockingError::Panicked(message) => write!(f, "blocking job panicked: {message}"),
            BlockingError::Cancelled => f.write_str("blocking job was cancelled"),
        }
    }
}

impl std::error::Error for BlockingError {}

/// The future of a job on the [`BlockingPool`].
#[must_use = "futures do nothing unless polled; dropping it before the job starts cancels it"]
#[derive(Debug)]
pub struct BlockingTask<R> {
    rx: oneshot::Receiver<Result<R, BlockingError>>,
}

impl<R> Future for BlockingTask<R> {
    type Output = Result<R, BlockingError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            Poll::Ready(Err(oneshot::Canceled)) => Poll::Ready(Err(BlockingError::Cancelled)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The pool of applications that do not configure their own.
static GLOBAL: OnceLock<BlockingPool> = OnceLock::new();

thread_local! {
    static CURRENT: RefCell<Option<BlockingPool>> = const { RefCell::new(None) };
}

/// Runs `f` on the blocking pool of the application serving the current
/// request (Starlette's `run_in_threadpool`).
///
/// Call it from an async handler for sync work (a blocking client, heavy
/// computation, file I/O) so the event loop keeps serving other requests.
/// Outside an application it uses [`BlockingPool::global`].
///
/// # Example
///
/// ```
/// use asgi_framework::{run_blocking, Error};
///
/// async fn report() -> Result<String, Error> {
///     let text = run_blocking(|| std::fs::read_to_string("Cargo.toml")).await??;
///     Ok(text)
/// }
/// ```
pub fn run_blocking<F, R>(f: F) -> BlockingTask<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    current_pool().run(f)
}

/// The pool of the application being polled on this thread, or the global one.
pub(crate) fn current_pool() -> BlockingPool {
    CURRENT
        .with(|current| current.borrow().clone())
        .unwrap_or_else(BlockingPool::global)
}

/// What a request's future carries to make `pool` current: `None` for the
/// global pool, the default, so that the common case takes no reference.
pub(crate) fn request_pool(pool: &BlockingPool) -> Option<BlockingPool> {
    (!pool.is_global()).then(|| pool.clone())
}

pin_project_lite::pin_project! {
    /// Makes `pool` the current pool while `inner` is polled (a task-local
    /// without a runtime); `None` makes the global pool current.
    ///
    /// The pool is moved into the thread-local for each poll and back after
    /// it, not cloned: no atomic reference count per poll.
    pub(crate) struct WithPool<F> {
        pool: Option<BlockingPool>,
        #[pin]
        inner: F,
    }
}

impl<F> WithPool<F> {
    pub(crate) fn new(pool: Option<BlockingPool>, inner: F) -> Self {
        Self { pool, inner }
    }
}

impl<F: Future> Future for WithPool<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let previous = CURRENT.with(|current| current.replace(this.pool.take()));
        // Moves the pool back and restores the previous one on every exit,
        // unwinding included.
        struct Restore<'a> {
            slot: &'a mut Option<BlockingPool>,
            previous: Option<BlockingPool>,
        }
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                let previous = self.previous.take();
                *self.slot = CURRENT.with(|current| current.replace(previous));
            }
        }
        let _restore = Restore {
            slot: this.pool,
            previous,
        };
        this.inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::block_on;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    #[test]
    fn jobs_beyond_the_size_wait_in_the_queue() {
        let pool = BlockingPool::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();

        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let (running, peak) = (running.clone(), peak.clone());
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(100));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(30));
        let stats = pool.stats();
        block_on(futures_util::future::join_all(tasks));

        assert_eq!((stats.size, stats.busy, stats.queued), (2, 2, 1));
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[test]
    fn a_panicking_job_is_an_error_and_the_pool_lives_on() {
        let pool = BlockingPool::new(1);

        let failed = block_on(pool.run(|| -> u8 { panic!("boom") }));
        let next = block_on(pool.run(|| 7));

        assert_eq!(failed, Err(BlockingError::Panicked("boom".into())));
        assert_eq!(next, Ok(7));
    }

    #[test]
    fn run_blocking_uses_the_current_pool() {
        let pool = BlockingPool::new(3);

        let size = block_on(WithPool::new(request_pool(&pool), async {
            current_pool().stats().size
        }));

        assert_eq!(size, 3);
        assert_eq!(current_pool().stats().size, DEFAULT_POOL_SIZE);
    }

    #[test]
    fn nested_pools_are_current_in_turn_across_polls() {
        let outer = BlockingPool::new(3);
        let global = BlockingPool::global();
        assert!(request_pool(&global).is_none());
        let size = || current_pool().stats().size;

        let sizes = block_on(WithPool::new(request_pool(&outer), async move {
            let before = size();
            // An app on the global pool mounted in one with its own: the
            // global pool is current in it, across a suspension.
            let inner = WithPool::new(request_pool(&global), async move {
                let first = size();
                let mut yielded = false;
                std::future::poll_fn(|cx| {
                    if yielded {
                        Poll::Ready(())
                    } else {
                        yielded = true;
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                })
                .await;
                (first, size())
            })
            .await;
            (before, inner, size())
        }));

        let default = DEFAULT_POOL_SIZE;
        assert_eq!(sizes, (3, (default, default), 3));
        assert_eq!(size(), default);
    }
}
