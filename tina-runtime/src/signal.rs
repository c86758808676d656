//! Signals for the process-level runner: SIGINT/SIGTERM ask for shutdown, SIGUSR2 revives
//! quarantined shards. The handler only touches atomics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static SIGNALLED: AtomicBool = AtomicBool::new(false);
static REVIVES: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    // Atomic operations are async-signal-safe.
    if signal == libc::SIGUSR2 {
        REVIVES.fetch_add(1, Ordering::SeqCst);
    } else {
        SIGNALLED.store(true, Ordering::SeqCst);
    }
}

/// Installs the handler for SIGINT, SIGTERM (shut down) and SIGUSR2 (revive quarantined
/// shards).
pub(crate) fn install() -> std::io::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGUSR2] {
        // `sigaction` is given a zero-initialised struct with a valid handler address
        // and an empty mask; the handler only performs an atomic store, which is
        // async-signal-safe, and it is a plain `extern "C"` function that lives forever.
        // SAFETY: so installing the handler is sound.
        let result = unsafe {
            let mut action: libc::sigaction = core::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = libc::SA_RESTART;
            libc::sigaction(signal, &action, core::ptr::null_mut())
        };
        if result != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether SIGINT or SIGTERM arrived since the handler was installed.
pub(crate) fn signalled() -> bool {
    SIGNALLED.load(Ordering::SeqCst)
}

/// How many SIGUSR2 revive requests arrived since the handler was installed.
pub(crate) fn revive_requests() -> u64 {
    REVIVES.load(Ordering::SeqCst)
}
