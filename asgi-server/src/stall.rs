//! `--warn-loop-stall`: warns when an event loop gets no turn for too long,
//! naming the request whose poll was running.
//!
//! Two probes feed one watchdog thread:
//!
//! - Each runtime thread has a slot. The HTTP/1.1 connection and the HTTP/2
//!   stream wrap the app future in [`Tracked`], which marks the slot
//!   "polling request N" for the length of each poll: two plain atomic stores
//!   per poll, and the request's label (`METHOD target`, cut to
//!   [`LABEL_BYTES`]) copied into the slot's words under a sequence lock when
//!   a poll of another request ran there last: no lock, allocation or
//!   reference count per request. A poll that lasts past the threshold is a
//!   stall, and the slot says which request caused it and on which thread.
//! - A tick task on the runtime records when it last ran, so a stall outside
//!   any request (lifespan, a WebSocket app, a background task) is still seen,
//!   unnamed. On a multi-thread runtime the tick only catches a stall of the
//!   whole runtime; the slots catch a single stuck thread.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;

/// Whether a watchdog runs in this process; [`Tracked`] does nothing otherwise.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Every runtime thread's slot, for the watchdog to scan.
static SLOTS: Mutex<Vec<Weak<Slot>>> = Mutex::new(Vec::new());

/// Whether the watchdog sees a runtime thread stuck in one poll past the threshold.
static STUCK: AtomicBool = AtomicBool::new(false);

/// Numbers threads, so that request ids made per thread are unique.
static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static SLOT: Arc<Slot> = Slot::register();
    /// The next request id of this thread: the thread's number in the high
    /// bits, a counter in the low ones (no shared counter to contend on).
    static NEXT_REQUEST: std::cell::Cell<u64> =
        std::cell::Cell::new(NEXT_THREAD.fetch_add(1, Ordering::Relaxed) << 40);
}

/// An id that tells one request's label from the next.
fn request_id() -> u64 {
    NEXT_REQUEST
        .try_with(|next| {
            let id = next.get() + 1;
            next.set(id);
            id
        })
        .unwrap_or(0)
}

/// Bytes of a request's label (`METHOD target`) a warning shows; the rest is cut.
const LABEL_BYTES: usize = 96;
const LABEL_WORDS: usize = LABEL_BYTES / 8;

/// What one thread is polling.
#[derive(Debug)]
struct Slot {
    /// Incremented when a poll starts and again when it ends: odd while polling.
    polls: AtomicU64,
    /// Sequence lock over the label fields below: odd while this slot's
    /// thread rewrites them, so the watchdog retries a torn read.
    label_seq: AtomicU64,
    /// The request that the label describes (0: none yet).
    label_id: AtomicU64,
    label_len: AtomicUsize,
    label: [AtomicU64; LABEL_WORDS],
    thread: String,
}

impl Slot {
    fn register() -> Arc<Slot> {
        let current = std::thread::current();
        let slot = Arc::new(Slot {
            polls: AtomicU64::new(0),
            label_seq: AtomicU64::new(0),
            label_id: AtomicU64::new(0),
            label_len: AtomicUsize::new(0),
            label: std::array::from_fn(|_| AtomicU64::new(0)),
            thread: current.name().unwrap_or("unnamed").to_owned(),
        });
        let mut slots = SLOTS.lock().unwrap_or_else(PoisonError::into_inner);
        slots.retain(|slot| slot.strong_count() > 0);
        slots.push(Arc::downgrade(&slot));
        slot
    }

    /// Copies `label` in as request `id`'s. Only the slot's own thread writes.
    fn publish(&self, id: u64, label: &Label) {
        let seq = self.label_seq.load(Ordering::Relaxed);
        self.label_seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.label_id.store(id, Ordering::Relaxed);
        self.label_len.store(label.len, Ordering::Relaxed);
        let used = &label.bytes[..label.len.div_ceil(8) * 8];
        for (word, chunk) in self.label.iter().zip(used.chunks_exact(8)) {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(chunk);
            word.store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
        }
        self.label_seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// The label last published, read by the watchdog; `None` if there is
    /// none yet or it kept changing under the reader.
    fn label(&self) -> Option<String> {
        for _ in 0..64 {
            let seq = self.label_seq.load(Ordering::Acquire);
            if seq % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let id = self.label_id.load(Ordering::Relaxed);
            let len = self.label_len.load(Ordering::Relaxed).min(LABEL_BYTES);
            let mut bytes = [0; LABEL_BYTES];
            for (chunk, word) in bytes.chunks_exact_mut(8).zip(&self.label) {
                chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
            }
            fence(Ordering::Acquire);
            if self.label_seq.load(Ordering::Relaxed) == seq {
                return (id != 0).then(|| String::from_utf8_lossy(&bytes[..len]).into_owned());
            }
        }
        None
    }
}

/// A request as the warning names it: `METHOD target`, cut to [`LABEL_BYTES`].
pub(crate) struct Label {
    len: usize,
    bytes: [u8; LABEL_BYTES],
}

impl Label {
    fn new(method: &Method, target: &[u8]) -> Self {
        let mut bytes = [0; LABEL_BYTES];
        let mut len = 0;
        for part in [method.as_str().as_bytes(), b" ", target] {
            let take = part.len().min(LABEL_BYTES - len);
            bytes[len..len + take].copy_from_slice(&part[..take]);
            len += take;
        }
        Self { len, bytes }
    }
}

impl std::fmt::Debug for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Label")
            .field(&String::from_utf8_lossy(&self.bytes[..self.len]))
            .finish()
    }
}

/// The label [`Tracked`] shows for a request, if a watchdog runs (else `None`,
/// so that a disabled detector costs nothing per request).
pub(crate) fn label(method: &Method, target: &Bytes) -> Option<Label> {
    ENABLED
        .load(Ordering::Relaxed)
        .then(|| Label::new(method, target))
}

/// A request's future (the app handling it) and its label: each poll marks
/// this thread's slot while it runs. It can be polled in place and then
/// moved, so the future must be `Unpin` (an app's boxed future is).
pub(crate) struct Tracked<F> {
    id: u64,
    label: Option<Label>,
    future: F,
}

impl<F: Future + Unpin> Tracked<F> {
    /// Tracks `future`, the app handling the request `label` names.
    pub(crate) fn new(label: Option<Label>, future: F) -> Self {
        let id = if label.is_some() { request_id() } else { 0 };
        Self { id, label, future }
    }
}

impl<F: Future + Unpin> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let _polling = this
            .label
            .as_ref()
            .map(|label| Polling::enter(this.id, label));
        Pin::new(&mut this.future).poll(cx)
    }
}

/// Whether some runtime thread of this process is stuck in one poll for at
/// least the `--warn-loop-stall` threshold (always `false` when that is off).
///
/// A worker withholds its heartbeat answer meanwhile, so that on a
/// multi-thread runtime one stuck thread is noticed, not only a whole stuck loop.
pub(crate) fn is_stuck() -> bool {
    STUCK.load(Ordering::Relaxed)
}

/// Marks this thread's slot as polling for as long as it lives.
struct Polling;

impl Polling {
    fn enter(id: u64, label: &Label) -> Self {
        // `try_with`: during thread teardown there is no slot, and no stall to report.
        let _ = SLOT.try_with(|slot| {
            // Only this thread writes `label_id`: a relaxed read sees its own last write.
            if slot.label_id.load(Ordering::Relaxed) != id {
                slot.publish(id, label);
            }
            // Only this thread writes `polls`: a load and a store, no read-modify-write.
            let polls = slot.polls.load(Ordering::Relaxed);
            slot.polls.store(polls + 1, Ordering::Release);
        });
        Polling
    }
}

impl Drop for Polling {
    fn drop(&mut self) {
        let _ = SLOT.try_with(|slot| {
            let polls = slot.polls.load(Ordering::Relaxed);
            slot.polls.store(polls + 1, Ordering::Release);
        });
    }
}

/// What the watchdog saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stall {
    /// A request's poll has been running for at least `blocked`.
    Request {
        request: String,
        thread: String,
        blocked: Duration,
    },
    /// That poll returned after about `blocked`.
    RequestEnded {
        request: String,
        thread: String,
        blocked: Duration,
    },
    /// The runtime's tick task has not run for `blocked`, outside any tracked request.
    Loop { blocked: Duration },
}

type Report = Box<dyn Fn(Stall) + Send>;

/// The watchdog thread; stops when dropped.
#[derive(Debug)]
pub(crate) struct Watchdog {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching `runtime` for stalls of `threshold` or more, logging
    /// them as warnings; `None` if the threshold is `None` (disabled).
    pub(crate) fn start(
        threshold: Option<Duration>,
        runtime: &tokio::runtime::Handle,
    ) -> Option<Self> {
        Self::start_with(threshold?, runtime, Box::new(log))
    }

    fn start_with(
        threshold: Duration,
        runtime: &tokio::runtime::Handle,
        report: Report,
    ) -> Option<Self> {
        let period = (threshold / 4).max(Duration::from_millis(1));
        let base = Instant::now();
        let tick = Arc::new(AtomicU64::new(0));
        runtime.spawn(run_ticks(base, tick.clone(), period));
        let stop = Arc::new(AtomicBool::new(false));
        let watch = Watch {
            threshold,
            period,
            base,
            tick,
            stop: stop.clone(),
            report,
        };
        let thread = std::thread::Builder::new()
            .name("asgi-stall-watchdog".into())
            .spawn(move || watch.run());
        match thread {
            Ok(thread) => {
                ENABLED.store(true, Ordering::Relaxed);
                Some(Self {
                    stop,
                    thread: Some(thread),
                })
            }
            Err(error) => {
                tracing::warn!("--warn-loop-stall is off: cannot start its thread: {error}");
                None
            }
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

fn log(stall: Stall) {
    match stall {
        Stall::Request {
            request,
            thread,
            blocked,
        } => tracing::warn!(
            "Event loop blocked for at least {} ms by \"{request}\" (thread {thread}): \
             blocking work belongs on a blocking pool",
            blocked.as_millis()
        ),
        Stall::RequestEnded {
            request,
            thread,
            blocked,
        } => tracing::warn!(
            "Event loop was blocked for about {} ms by \"{request}\" (thread {thread})",
            blocked.as_millis()
        ),
        Stall::Loop { blocked } => tracing::warn!(
            "Event loop blocked for at least {} ms outside any HTTP request \
             (lifespan, a WebSocket app or a background task)",
            blocked.as_millis()
        ),
    }
}

/// Records, every `period`, the time the runtime last gave this task a turn.
async fn run_ticks(base: Instant, tick: Arc<AtomicU64>, period: Duration) {
    loop {
        tick.store(millis(base.elapsed()), Ordering::Relaxed);
        tokio::time::sleep(period).await;
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

struct Watch {
    threshold: Duration,
    period: Duration,
    base: Instant,
    tick: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    report: Report,
}

/// The watchdog's view of one slot.
struct Seen {
    polls: u64,
    since: Instant,
    reported: Option<(String, String)>,
}

impl Watch {
    fn run(self) {
        let mut seen: HashMap<usize, Seen> = HashMap::new();
        let mut loop_reported = false;
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::park_timeout(self.period);
            let now = Instant::now();
            let (request_busy, stuck) = self.scan_slots(&mut seen, now);
            STUCK.store(stuck, Ordering::Relaxed);

            let last_tick = Duration::from_millis(self.tick.load(Ordering::Relaxed));
            let gap = now
                .duration_since(self.base)
                .saturating_sub(last_tick)
                .saturating_sub(self.period);
            if gap >= self.threshold {
                if !loop_reported && !request_busy {
                    (self.report)(Stall::Loop { blocked: gap });
                }
                loop_reported = true;
            } else {
                loop_reported = false;
            }
        }
        ENABLED.store(false, Ordering::Relaxed);
        STUCK.store(false, Ordering::Relaxed);
    }

    /// Reports slots stuck in one poll. Returns whether any was in the same
    /// poll as at the last scan, and whether any is stuck past the threshold.
    fn scan_slots(&self, seen: &mut HashMap<usize, Seen>, now: Instant) -> (bool, bool) {
        let slots: Vec<Arc<Slot>> = {
            let mut slots = SLOTS.lock().unwrap_or_else(PoisonError::into_inner);
            slots.retain(|slot| slot.strong_count() > 0);
            slots.iter().filter_map(Weak::upgrade).collect()
        };
        seen.retain(|key, _| slots.iter().any(|slot| Arc::as_ptr(slot) as usize == *key));
        let mut busy = false;
        let mut stuck = false;
        for slot in &slots {
            let polls = slot.polls.load(Ordering::Acquire);
            let entry = seen.entry(Arc::as_ptr(slot) as usize).or_insert(Seen {
                polls,
                since: now,
                reported: None,
            });
            if entry.polls != polls {
                if let Some((request, thread)) = entry.reported.take() {
                    (self.report)(Stall::RequestEnded {
                        request,
                        thread,
                        blocked: now.duration_since(entry.since),
                    });
                }
                *entry = Seen {
                    polls,
                    since: now,
                    reported: None,
                };
                continue;
            }
            if polls % 2 == 0 {
                continue;
            }
            // The same poll since the last scan: the loop gap, if any, is this one.
            busy = true;
            let blocked = now.duration_since(entry.since);
            if blocked < self.threshold {
                continue;
            }
            stuck = true;
            if entry.reported.is_none() {
                let request = slot
                    .label()
                    .unwrap_or_else(|| String::from("(unknown request)"));
                (self.report)(Stall::Request {
                    request: request.clone(),
                    thread: slot.thread.clone(),
                    blocked,
                });
                entry.reported = Some((request, slot.thread.clone()));
            }
        }
        (busy, stuck)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn watch(threshold: Duration) -> (tokio::runtime::Runtime, Watchdog, mpsc::Receiver<Stall>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let report: Report = Box::new(move |stall| {
            let _ = tx.lock().unwrap().send(stall);
        });
        let watchdog =
            Watchdog::start_with(threshold, runtime.handle(), report).expect("watchdog starts");
        (runtime, watchdog, rx)
    }

    #[test]
    fn labels_are_published_and_read_back_cut_to_size() {
        let slot = Slot::register();
        let long = format!("/{}", "x".repeat(200));
        let cases = [
            ("/", "GET /".to_owned()),
            ("/a?b=c", "GET /a?b=c".to_owned()),
            (
                long.as_str(),
                format!("GET /{}", "x".repeat(LABEL_BYTES - 5)),
            ),
        ];
        assert_eq!(slot.label(), None, "nothing published yet");
        for (id, (target, shown)) in (1..).zip(cases) {
            slot.publish(id, &Label::new(&Method::GET, target.as_bytes()));

            assert_eq!(slot.label().as_deref(), Some(shown.as_str()), "{target}");
        }
    }

    // One test drives both probes: the watchdog state is process-wide.
    #[test]
    fn blocking_poll_is_reported_with_its_request_and_a_blocked_loop_without() {
        let (runtime, watchdog, stalls) = watch(Duration::from_millis(40));
        let target = Bytes::from_static(b"/slow?x=1");
        let observer = std::thread::spawn(|| {
            let deadline = Instant::now() + Duration::from_millis(400);
            let mut seen = false;
            while Instant::now() < deadline {
                seen |= is_stuck();
                std::thread::sleep(Duration::from_millis(5));
            }
            seen
        });

        runtime.block_on(Tracked::new(
            label(&Method::POST, &target),
            Box::pin(async {
                std::thread::sleep(Duration::from_millis(250));
            }),
        ));
        runtime.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
        let during_request: Vec<Stall> = stalls.try_iter().collect();
        runtime.block_on(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            std::thread::sleep(Duration::from_millis(250));
            tokio::time::sleep(Duration::from_millis(50)).await;
        });
        drop(watchdog);
        let stuck_seen = observer.join().expect("observer");
        let outside: Vec<Stall> = stalls.try_iter().collect();

        // Other tests of this binary may poll requests meanwhile: look for ours.
        let ours = |stall: &&Stall| match stall {
            Stall::Request { request, .. } | Stall::RequestEnded { request, .. } => {
                request == "POST /slow?x=1"
            }
            Stall::Loop { .. } => false,
        };
        let named: Vec<&Stall> = during_request.iter().filter(ours).collect();
        assert!(
            matches!(&named[..], [Stall::Request { blocked, .. }, Stall::RequestEnded { .. }]
                if *blocked >= Duration::from_millis(40)),
            "{during_request:?}"
        );
        assert!(stuck_seen, "is_stuck() during the blocking poll");
        assert!(!is_stuck(), "cleared when the watchdog stops");
        assert!(
            !during_request
                .iter()
                .any(|s| matches!(s, Stall::Loop { .. })),
            "a named stall is not reported twice: {during_request:?}"
        );
        assert!(
            outside.iter().any(
                |s| matches!(s, Stall::Loop { blocked } if *blocked >= Duration::from_millis(40))
            ),
            "{outside:?}"
        );
    }
}
