//! The runtime's clock: nanoseconds since boot, read from the OS or set by the simulator.
//!
//! Isolates read time only through [`Ctx::now`](crate::Ctx::now), which returns the instant
//! the current tick started. In production that is the monotonic clock; in simulation it is
//! a counter the simulator advances, so a run never depends on the wall clock.

use core::fmt;
use core::ops::{Add, Sub};
use core::time::Duration;

/// A point on the runtime clock: nanoseconds since the system booted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(pub(crate) u64);

impl Instant {
    /// The boot instant.
    pub const ZERO: Instant = Instant(0);

    /// Nanoseconds since boot.
    #[inline]
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// Builds an instant from nanoseconds since boot.
    #[inline]
    pub fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    #[inline]
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// Converts a duration to whole nanoseconds, saturating at `u64::MAX`.
#[inline]
pub(crate) fn nanos_of(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;

    #[inline]
    fn add(self, duration: Duration) -> Instant {
        Instant(self.0.saturating_add(nanos_of(duration)))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    #[inline]
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:?}", Duration::from_nanos(self.0))
    }
}

/// The production side of the clock seam: the OS monotonic clock, measured from a boot
/// instant shared by every shard. (The simulated side is the simulator itself, which sets
/// each shard's time before every tick.)
#[derive(Clone, Copy, Debug)]
pub(crate) enum Clock {
    /// The OS monotonic clock.
    Monotonic {
        /// The system's boot instant.
        origin: std::time::Instant,
    },
}

impl Clock {
    /// The current time.
    #[inline]
    pub(crate) fn read(&self) -> Instant {
        match self {
            Clock::Monotonic { origin } => Instant(nanos_of(origin.elapsed())),
        }
    }
}

/// `clock_gettime(clock)` in nanoseconds; `None` where it is not available (not Linux, or
/// under Miri, which runs no foreign code) or fails.
#[inline]
fn clock_nanos(clock: libc::clockid_t) -> Option<u64> {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // `clock_gettime` writes one `timespec` through the pointer, which points
        // to a live, aligned local of that type; the clock id is a valid constant.
        // SAFETY: so the call writes only into `now`.
        let status = unsafe { libc::clock_gettime(clock, &mut now) };
        (status == 0).then(|| (now.tv_sec as u64).wrapping_mul(1_000_000_000) + now.tv_nsec as u64)
    }
    #[cfg(not(all(target_os = "linux", not(miri))))]
    {
        let _ = clock;
        None
    }
}

/// A precise reading of the OS monotonic clock in nanoseconds from an arbitrary origin:
/// one `clock_gettime` through the vDSO, with none of `std::time::Instant`'s arithmetic,
/// for timing short intervals (a sampled handler call). Where that is unavailable (Miri),
/// `Instant` instead.
#[inline]
pub(crate) fn monotonic_nanos() -> u64 {
    if let Some(nanos) = clock_nanos(libc::CLOCK_MONOTONIC) {
        return nanos;
    }
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    nanos_of(ORIGIN.get_or_init(std::time::Instant::now).elapsed())
}

/// A coarse reading of the monotonic clock, in nanoseconds, that changes only once per
/// kernel clock tick (1–4 ms): `CLOCK_MONOTONIC_COARSE`, read from the vDSO in a few
/// nanoseconds where a precise reading costs tens. Used to tell whether a precise reading
/// is still current to within one tick. `None` where there is no such clock (and under
/// Miri, which runs no foreign code): then every check takes a precise reading.
#[inline]
pub(crate) fn coarse_nanos() -> Option<u64> {
    clock_nanos(libc::CLOCK_MONOTONIC_COARSE)
}
