//! Crash reports, the panic hook that captures their reasons, and the bounded crash log.
#![allow(unreachable_pub)]

use core::cell::{Cell, RefCell};
use core::fmt::{self, Write as _};
use std::sync::Once;

use crate::clock::Instant;
use crate::handle::RawHandle;

/// Bytes of a crash reason kept; longer reasons are cut.
pub const REASON_BYTES: usize = 96;

/// One crash: what crashed, where, why, and what it was handling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrashReport {
    /// The isolate type's name.
    pub type_name: &'static str,
    /// The incarnation that crashed (stale now).
    pub handle: RawHandle,
    /// The reason: the `Effect::Crash` text or the panic message, cut to 96 bytes.
    pub reason: heapless::String<REASON_BYTES>,
    /// The tag of the message being handled; `None` for `init`, resume or shutdown.
    pub message_tag: Option<u16>,
    /// When, on the runtime clock.
    pub at: Instant,
}

impl fmt::Display for CrashReport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} {} crashed at {}",
            self.type_name, self.handle, self.at
        )?;
        match self.message_tag {
            Some(tag) => write!(formatter, " handling message tag {tag}")?,
            None => write!(formatter, " outside a message handler")?,
        }
        write!(formatter, ": {}", self.reason)
    }
}

/// Writes into a bounded string, dropping what does not fit.
pub(crate) struct Truncating<'a>(pub(crate) &'a mut heapless::String<REASON_BYTES>);

impl fmt::Write for Truncating<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for character in text.chars() {
            if self.0.push(character).is_err() {
                break;
            }
        }
        Ok(())
    }
}

std::thread_local! {
    /// Set while a shard runs isolate code on this thread.
    static IN_DISPATCH: Cell<bool> = const { Cell::new(false) };
    /// The last panic message raised by isolate code on this thread.
    static LAST_PANIC: RefCell<heapless::String<REASON_BYTES>> = const { RefCell::new(heapless::String::new()) };
}

static INSTALL: Once = Once::new();

/// Installs (once per process) a panic hook that, for panics raised by isolate code on a
/// shard thread, records the message for the crash report instead of printing a backtrace;
/// every other panic goes to the previous hook unchanged.
pub(crate) fn install_panic_hook() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_DISPATCH.with(Cell::get) {
                LAST_PANIC.with(|last| {
                    let mut last = last.borrow_mut();
                    last.clear();
                    let mut writer = Truncating(&mut last);
                    let _ = match info.payload_as_str() {
                        Some(message) => write!(writer, "panicked: {message}"),
                        None => write!(writer, "panicked"),
                    };
                    if let Some(location) = info.location() {
                        let _ = write!(writer, " at {}:{}", location.file(), location.line());
                    }
                });
            } else {
                previous(info);
            }
        }));
    });
}

/// Marks isolate code running on this thread while it lives; restores the previous mark
/// when dropped. A shard holds one across its dispatch phase, so the hot path pays for the
/// thread-local once per tick, not once per message.
pub(crate) struct DispatchGuard(bool);

impl DispatchGuard {
    pub(crate) fn enter() -> Self {
        DispatchGuard(IN_DISPATCH.with(|flag| flag.replace(true)))
    }
}

impl Drop for DispatchGuard {
    fn drop(&mut self) {
        IN_DISPATCH.with(|flag| flag.set(self.0));
    }
}

/// Marks isolate code running on this thread for the duration of `run`.
pub(crate) fn in_dispatch<R>(run: impl FnOnce() -> R) -> R {
    let _guard = DispatchGuard::enter();
    run()
}

std::thread_local! {
    /// Panics raised by user `Drop` impls that the runtime caught on this thread since the
    /// shard last collected them (see [`take_drop_panics`]).
    static DROP_PANICS: Cell<u64> = const { Cell::new(0) };
}

/// Drops `value` — a user type the runtime drops on its own behalf (an undelivered message,
/// reply or init args, a torn-down state) — so that a panic in its `Drop` cannot unwind into
/// the shard: the panic is caught, its message kept as the last panic message, and it is
/// counted for the shard's `drop_panics` counter. Returns whether it panicked.
#[inline]
pub(crate) fn drop_caught<T>(value: T) -> bool {
    if !core::mem::needs_drop::<T>() {
        core::mem::forget(value);
        return false;
    }
    caught(move || drop(value))
}

/// Runs `run` (which drops user values) inside the trap boundary; see [`drop_caught`].
pub(crate) fn caught(run: impl FnOnce()) -> bool {
    let panicked =
        in_dispatch(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err());
    if panicked {
        DROP_PANICS.with(|count| count.set(count.get() + 1));
    }
    panicked
}

/// Takes the count of caught `Drop` panics on this thread since the last call.
#[inline]
pub(crate) fn take_drop_panics() -> u64 {
    DROP_PANICS.with(|count| count.replace(0))
}

/// The message of the last isolate panic on this thread.
pub(crate) fn last_panic_message() -> heapless::String<REASON_BYTES> {
    LAST_PANIC.with(|last| last.borrow().clone())
}

/// How many crash reports a shard keeps.
pub(crate) const LOG_CAPACITY: usize = 64;
/// How many crash lines a shard prints per second of runtime time; the rest are counted.
const PRINTS_PER_SECOND: u32 = 10;

/// A shard's most recent crash reports and its print rate limiter.
pub(crate) struct CrashLog {
    recent: heapless::Deque<CrashReport, LOG_CAPACITY>,
    second: u64,
    printed_this_second: u32,
    suppressed: u64,
    pub(crate) print: bool,
}

impl CrashLog {
    pub(crate) fn new(print: bool) -> Self {
        Self {
            recent: heapless::Deque::new(),
            second: 0,
            printed_this_second: 0,
            suppressed: 0,
            print,
        }
    }

    /// Records a crash, dropping the oldest report when full, and prints it unless this
    /// second's quota is spent.
    pub(crate) fn record(&mut self, shard: u16, report: CrashReport) {
        if self.print {
            let second = report.at.as_nanos() / 1_000_000_000;
            if second != self.second {
                if self.suppressed > 0 {
                    eprintln!(
                        "tina: shard {shard}: {} more crash reports suppressed",
                        self.suppressed
                    );
                }
                self.second = second;
                self.printed_this_second = 0;
                self.suppressed = 0;
            }
            if self.printed_this_second < PRINTS_PER_SECOND {
                self.printed_this_second += 1;
                eprintln!("tina: shard {shard}: {report}");
            } else {
                self.suppressed += 1;
            }
        }
        if self.recent.is_full() {
            self.recent.pop_front();
        }
        let _ = self.recent.push_back(report);
    }

    /// The kept reports, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &CrashReport> {
        self.recent.iter()
    }
}
