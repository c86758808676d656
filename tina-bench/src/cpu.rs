//! CPU time of the whole process.

use core::time::Duration;

/// User plus system CPU time consumed so far by every thread of this process
/// (`getrusage(RUSAGE_SELF)`).
///
/// # Panics
///
/// If the OS refuses `getrusage`, which it does only for an invalid argument.
pub fn process_cpu_time() -> Duration {
    let mut usage = core::mem::MaybeUninit::<libc::rusage>::zeroed();
    // `usage` points to writable memory the size of a `rusage`, which is all
    // `getrusage` needs; `RUSAGE_SELF` is a valid `who`.
    // SAFETY: so the call writes only into `usage`.
    let result = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    assert_eq!(result, 0, "getrusage(RUSAGE_SELF) failed");
    // `getrusage` returned 0, so it filled the structure (and it was zeroed before,
    // so every field is initialised either way).
    // SAFETY: so the value is initialised.
    let usage = unsafe { usage.assume_init() };
    let to_duration = |time: libc::timeval| {
        Duration::from_secs(time.tv_sec as u64) + Duration::from_micros(time.tv_usec as u64)
    };
    to_duration(usage.ru_utime) + to_duration(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work() {
        let before = process_cpu_time();
        let mut spin = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(30) {
            spin = core::hint::black_box(spin.wrapping_add(1));
        }
        assert!(process_cpu_time() > before);
    }
}
