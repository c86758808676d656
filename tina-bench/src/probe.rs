//! Stamps and counts written by isolates (or tasks) and read by the benchmark's main thread.

use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Nanoseconds since a process-wide epoch (the first call), from the OS monotonic clock.
/// Comparable across threads, so a stamp taken on one shard can be subtracted from one taken
/// on another.
pub fn epoch_nanos() -> u64 {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    let epoch = EPOCH.get_or_init(std::time::Instant::now);
    epoch.elapsed().as_nanos() as u64
}

/// What one sample of a benchmark reports from inside the system under test: when the work
/// started and finished, how much was done, and the first thing that went wrong.
///
/// Meant to live in a `static`, written by isolates and read by the main thread after the
/// run; [`Probe::reset`] before each sample.
#[derive(Debug)]
pub struct Probe {
    started_nanos: AtomicU64,
    finished_nanos: AtomicU64,
    count: AtomicU64,
    failure: Mutex<Option<String>>,
}

impl Probe {
    /// An empty probe (usable in a `static`).
    pub const fn new() -> Self {
        Self {
            started_nanos: AtomicU64::new(0),
            finished_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
            failure: Mutex::new(None),
        }
    }

    /// Clears everything for the next sample.
    pub fn reset(&self) {
        self.started_nanos.store(0, Ordering::SeqCst);
        self.finished_nanos.store(0, Ordering::SeqCst);
        self.count.store(0, Ordering::SeqCst);
        *self.lock_failure() = None;
    }

    /// Stamps the start of the measured work (now).
    pub fn start(&self) {
        self.started_nanos
            .store(epoch_nanos().max(1), Ordering::Release);
    }

    /// Stamps the start of the measured work (now) unless it was stamped already: the first
    /// of many starters wins.
    pub fn start_once(&self) {
        let _ = self.started_nanos.compare_exchange(
            0,
            epoch_nanos().max(1),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// Stamps the end of the measured work (now) and records how much was done.
    pub fn finish(&self, count: u64) {
        self.count.store(count, Ordering::Release);
        self.finished_nanos
            .store(epoch_nanos().max(1), Ordering::Release);
    }

    /// Adds to the count without stamping (for work done by many isolates).
    pub fn add(&self, amount: u64) -> u64 {
        self.count.fetch_add(amount, Ordering::Relaxed) + amount
    }

    /// Records a failure; the first one wins.
    pub fn fail(&self, reason: impl Into<String>) {
        let mut failure = self.lock_failure();
        if failure.is_none() {
            *failure = Some(reason.into());
        }
    }

    /// Whether a failure was recorded.
    pub fn failed(&self) -> bool {
        self.lock_failure().is_some()
    }

    /// Whether [`Probe::finish`] has run.
    pub fn is_finished(&self) -> bool {
        self.finished_nanos.load(Ordering::Acquire) != 0
    }

    /// The count recorded by [`Probe::finish`] or [`Probe::add`].
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// Seconds from [`Probe::start`] to [`Probe::finish`].
    ///
    /// # Panics
    ///
    /// If a failure was recorded, or the probe was not started and finished.
    pub fn elapsed_seconds(&self) -> f64 {
        self.check();
        let started = self.started_nanos.load(Ordering::Acquire);
        let finished = self.finished_nanos.load(Ordering::Acquire);
        assert!(
            started != 0 && finished >= started,
            "probe not started and finished"
        );
        (finished - started) as f64 / 1e9
    }

    /// Panics with the recorded failure, if any.
    pub fn check(&self) {
        if let Some(failure) = self.lock_failure().as_ref() {
            panic!("benchmark verification failed: {failure}");
        }
    }

    fn lock_failure(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for Probe {
    fn default() -> Self {
        Self::new()
    }
}
