//! A sub-millisecond wake-up for a paced generator thread.
//!
//! `mio::Poll::poll` takes its timeout in whole milliseconds (rounded up), which would make a
//! paced sender up to a millisecond late — and, since latency is measured from the
//! scheduled send time, add up to a millisecond to every figure. On Linux a `timerfd`
//! registered in the same poll wakes the thread at the scheduled instant (within the
//! kernel's timer slack, about 50 µs). Elsewhere there is no timer and the poll timeout
//! alone paces, a millisecond at a time.

use core::time::Duration;

use mio::{Interest, Registry, Token};

/// A one-shot timer registered in a poll; see the module docs.
#[derive(Debug)]
pub(crate) struct Timer {
    #[cfg(target_os = "linux")]
    file: std::fs::File,
}

#[cfg(target_os = "linux")]
impl Timer {
    /// A disarmed timer registered under `token`, or `None` when the OS refuses one (then
    /// the poll timeout paces alone).
    pub(crate) fn new(registry: &Registry, token: Token) -> Option<Self> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        // SAFETY: `timerfd_create` takes no pointers; it returns a new descriptor or -1.
        let descriptor = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if descriptor < 0 {
            return None;
        }
        // SAFETY: `descriptor` was just returned by `timerfd_create`, is open, and nothing
        // else owns it: the `OwnedFd` becomes its only owner and closes it on drop.
        let owned = unsafe { OwnedFd::from_raw_fd(descriptor) };
        let file = std::fs::File::from(owned);
        registry
            .register(
                &mut mio::unix::SourceFd(&file.as_raw_fd()),
                token,
                Interest::READABLE,
            )
            .ok()?;
        Some(Self { file })
    }

    /// Makes the timer fire once, `after` from now (replacing any earlier setting).
    pub(crate) fn arm(&self, after: Duration) {
        use std::os::fd::AsRawFd;
        // A zero value would disarm the timer; a nanosecond fires at once.
        let after = after.max(Duration::from_nanos(1));
        let setting = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs().try_into().unwrap_or(libc::time_t::MAX),
                tv_nsec: after.subsec_nanos().into(),
            },
        };
        // SAFETY: the descriptor is a timerfd this value owns; `setting` is a valid
        // `itimerspec` that lives across the call, and a null old-value pointer is allowed.
        let result = unsafe {
            libc::timerfd_settime(self.file.as_raw_fd(), 0, &setting, core::ptr::null_mut())
        };
        debug_assert_eq!(result, 0, "timerfd_settime refused a valid setting");
    }

    /// Clears the expiry count after the timer fired, so the next expiry is a new edge.
    pub(crate) fn acknowledge(&self) {
        use std::io::Read as _;
        let mut expirations = [0u8; 8];
        let _ = (&self.file).read(&mut expirations);
    }
}

#[cfg(not(target_os = "linux"))]
impl Timer {
    /// No timer off Linux: the poll timeout paces alone.
    pub(crate) fn new(_registry: &Registry, _token: Token) -> Option<Self> {
        None
    }

    /// Never called: there is no timer.
    pub(crate) fn arm(&self, _after: Duration) {}

    /// Never called: there is no timer.
    pub(crate) fn acknowledge(&self) {}
}
