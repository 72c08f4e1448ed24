//! The lock between a connection (an HTTP/1.1 connection, an HTTP/2 stream,
//! a WebSocket) and the app's `receive` and `send` handles.
//!
//! An HTTP/1.1 request takes it about five times (looking for the head and
//! reading it, each `send`, the end of the cycle), almost always from one
//! task: the connection's, which also polls the app. The sections are short
//! and never wait: an encode into a buffer, one non-blocking read or write.
//! A guard is never held across an `.await`.
//!
//! A spin lock fits that better than [`std::sync::Mutex`]. Both take the
//! lock with one atomic compare-and-swap, but the spin lock's unlock is a
//! plain store, where the mutex's is a second atomic read-modify-write plus
//! two poison checks. On this project's machines a lock and unlock costs
//! 17 ns with the mutex and 10 ns with the spin lock (an atomic
//! read-modify-write is 8-10 ns); under `perf`, the lock and unlock
//! instructions held 43% of the HTTP/1.1 connection task's own samples.
//!
//! Contention needs an app that moved a handle to another thread and uses it
//! while the connection holds the lock. The waiter then yields its thread
//! until the lock is free ([`spin::relax::Yield`]) rather than burn the
//! holder's core. There is no poisoning: a panic inside a section unlocks as
//! it unwinds, and the sections keep the state consistent at every step (the
//! mutex's poisoned state was used the same way before).

/// A lock for state shared with an app's handles.
pub(crate) type HandleLock<T> = spin::mutex::SpinMutex<T, spin::relax::Yield>;

/// What [`HandleLock::lock`] returns.
pub(crate) type HandleGuard<'a, T> = spin::mutex::SpinMutexGuard<'a, T>;
