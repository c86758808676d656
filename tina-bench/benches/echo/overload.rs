//! The overload claim: a downstream that completes at most `capacity` requests per second
//! receives `offered` per second; what does the process's memory do?
//!
//! The requests come from a plain thread standing for the outside world, on a fixed
//! schedule (`offered × elapsed` issued by every millisecond). The downstream is a token
//! bucket refilled at `capacity` per second with a burst of 10 ms worth. The RSS of the
//! whole process is sampled every 100 ms from `/proc/self/statm`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the RSS is sampled.
pub(crate) const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);
/// Bytes a request carries.
const REQUEST_BYTES: usize = 64;

/// What one overload run saw.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    /// Requests issued by the outside world.
    pub(crate) offered: u64,
    /// Requests the downstream completed.
    pub(crate) completed: u64,
    /// Requests refused (and answered as such) — `None` for a system that never refuses.
    pub(crate) refused: Option<u64>,
    /// How long the requests were issued.
    pub(crate) window: Duration,
    /// RSS before the first request, in bytes.
    pub(crate) rss_before_bytes: u64,
    /// Largest RSS sampled during the run, in bytes.
    pub(crate) rss_peak_bytes: u64,
    /// RSS every [`SAMPLE_INTERVAL`] from the first request on, in bytes.
    pub(crate) rss_samples_bytes: Vec<u64>,
}

impl Outcome {
    /// Requests neither completed nor refused when the window closed: queued somewhere.
    pub(crate) fn queued(&self) -> u64 {
        self.offered
            .saturating_sub(self.completed + self.refused.unwrap_or(0))
    }

    /// Growth of the RSS over the run (peak minus before), in bytes.
    pub(crate) fn rss_growth_bytes(&self) -> u64 {
        self.rss_peak_bytes.saturating_sub(self.rss_before_bytes)
    }
}

/// The process's resident set size in bytes, from `/proc/self/statm`.
///
/// # Panics
///
/// When `/proc/self/statm` cannot be read (not Linux).
pub(crate) fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let resident_pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("statm's second field: resident pages");
    // SAFETY: `sysconf` takes no pointers and only reads a configuration value.
    let page_bytes = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    resident_pages * u64::try_from(page_bytes).unwrap_or(4096)
}

/// Samples the RSS every [`SAMPLE_INTERVAL`] until `done`, on the calling thread.
pub(crate) fn sample_rss_until(done: &AtomicBool) -> Vec<u64> {
    let started = Instant::now();
    let mut samples = Vec::with_capacity(128);
    let mut next = started;
    while !done.load(Ordering::Acquire) {
        samples.push(rss_bytes());
        next += SAMPLE_INTERVAL;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    samples.push(rss_bytes());
    samples
}

/// Issues `offered_per_second` requests per second for `window` through `issue` (called
/// with each request's number), from the calling thread, a millisecond's worth at a time.
/// Returns how many it issued.
pub(crate) fn offer(offered_per_second: u64, window: Duration, mut issue: impl FnMut(u64)) -> u64 {
    let started = Instant::now();
    let mut issued = 0u64;
    loop {
        let elapsed = started.elapsed().min(window);
        let due = (offered_per_second as f64 * elapsed.as_secs_f64()) as u64;
        while issued < due {
            issue(issued);
            issued += 1;
        }
        if elapsed >= window {
            return issued;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The tokio way: a multi-thread runtime with 2 workers, one `tokio::spawn`ed task per
/// request, each waiting for a token of the downstream's bucket.
pub(crate) fn tokio_task_per_request(
    offered_per_second: u64,
    capacity_per_second: u64,
    window: Duration,
) -> Outcome {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio: runtime");
    let bucket = Arc::new(tokio::sync::Semaphore::new(0));
    let completed = Arc::new(AtomicU64::new(0));
    let refilling = Arc::new(AtomicBool::new(true));
    // The downstream's capacity: tokens added as time passes, at most 10 ms worth banked.
    let burst = (capacity_per_second / 100).max(1) as usize;
    runtime.spawn({
        let bucket = Arc::clone(&bucket);
        let refilling = Arc::clone(&refilling);
        async move {
            let started = tokio::time::Instant::now();
            let mut added = 0u64;
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            while refilling.load(Ordering::Relaxed) {
                tick.tick().await;
                let due = (capacity_per_second as f64 * started.elapsed().as_secs_f64()) as u64;
                let room = burst.saturating_sub(bucket.available_permits());
                let adding = (due - added).min(room as u64);
                bucket.add_permits(adding as usize);
                // Tokens that found no room are lost, as in any token bucket.
                added = due;
            }
        }
    });

    let rss_before_bytes = rss_bytes();
    let done = AtomicBool::new(false);
    let (offered, completed, window, rss_samples_bytes) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| sample_rss_until(&done));
        let handle = runtime.handle();
        let started = Instant::now();
        let offered = offer(offered_per_second, window, |number| {
            let bucket = Arc::clone(&bucket);
            let completed = Arc::clone(&completed);
            handle.spawn(async move {
                let request = [number as u8; REQUEST_BYTES];
                let permit = bucket.acquire().await.expect("the bucket is never closed");
                permit.forget();
                std::hint::black_box(request);
                completed.fetch_add(1, Ordering::Relaxed);
            });
        });
        let window = started.elapsed();
        let completed = completed.load(Ordering::Relaxed);
        done.store(true, Ordering::Release);
        let samples = sampler.join().expect("the RSS sampler panicked");
        (offered, completed, window, samples)
    });
    refilling.store(false, Ordering::Relaxed);
    // Drops the requests still waiting, with the runtime.
    runtime.shutdown_timeout(Duration::from_secs(5));
    let rss_peak_bytes = rss_samples_bytes
        .iter()
        .copied()
        .max()
        .unwrap_or(rss_before_bytes);
    Outcome {
        offered,
        completed,
        refused: None,
        window,
        rss_before_bytes,
        rss_peak_bytes,
        rss_samples_bytes,
    }
}
