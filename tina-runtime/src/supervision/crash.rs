//! Crash reports, their reasons, the panic hook, and the bounded, rate-limited crash log.
//!
//! **Reasons come from the panic payload.** A panic in isolate code is caught at the
//! dispatch boundary by `catch_unwind`, which hands back the payload; [`reason_of`] turns
//! it into the report's reason (`panicked: <message>`, or `panicked with a non-string
//! payload` for `panic_any` of anything but a string). So a reason never depends on which
//! panic hook is installed, and is never blank or left over from an earlier panic.
//!
//! **The panic hook only adds the location and keeps isolate panics quiet.** At the first
//! boot in the process Tina installs its hook, chained to the one it finds (std's default,
//! or yours). For a panic in isolate code on a shard thread — inside the trap — it notes
//! the message and location (which the payload lacks; the reason gets ` at file:line` when
//! the two messages match) and prints nothing: the crash log prints the crash, by its
//! policy. Every other panic goes to the hook it found, unchanged. So:
//!
//! * a hook installed **before** the first boot keeps seeing every panic outside isolate
//!   code (a panic on a thread of yours, a failure of the runtime itself); isolate panics
//!   are reported as crash reports instead;
//! * a hook installed **after** boot replaces Tina's: crash reports and crash lines go on as
//!   before, reasons stay right (without the location), and the new hook sees isolate panics
//!   too. If it calls the hook it replaced (take it with `std::panic::take_hook` first, as
//!   std's documentation shows), Tina's hook goes on noting locations for isolate panics and
//!   passing the rest along.
//!
//! Tina installs its hook once per process; a hook set after that stays in charge.
//!
//! **Printing.** A shard prints at most [`PRINTS_PER_SECOND`] crash lines per second of
//! runtime time. The crashes it did not print are counted and reported in one line —
//! `tina: shard 0: … 37 more crashes between 3s and 4s (not printed)` — before the next
//! line printed after that second, before the line saying the shard is quarantined, or when
//! the shard stops. `BootSpec::print_crashes(false)` silences all of it, the quarantine line
//! included; only what ends the process ([`OverloadPolicy::Abort`]) and failures of the
//! runtime itself are still printed. The log keeps the last [`LOG_CAPACITY`] reports either
//! way.
//!
//! [`OverloadPolicy::Abort`]: crate::OverloadPolicy::Abort
#![allow(unreachable_pub)]

use core::any::Any;
use core::cell::{Cell, RefCell};
use core::fmt::{self, Write as _};
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::sync::Once;

use crate::clock::Instant;
use crate::handle::{RawHandle, ShardId};

/// Bytes of a crash reason kept; longer reasons are cut.
pub const REASON_BYTES: usize = 96;

/// Why an isolate crashed: the `Effect::Crash` text or the panic message (with its
/// location), at most [`REASON_BYTES`] bytes, cut on a character boundary. Reads as a
/// `&str` (it dereferences to one) and prints as one.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct CrashReason(heapless::String<REASON_BYTES>);

impl CrashReason {
    /// The reason as a string slice.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl From<heapless::String<REASON_BYTES>> for CrashReason {
    fn from(text: heapless::String<REASON_BYTES>) -> Self {
        Self(text)
    }
}

impl core::ops::Deref for CrashReason {
    type Target = str;

    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<str> for CrashReason {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl PartialEq<str> for CrashReason {
    fn eq(&self, other: &str) -> bool {
        self.0.as_str() == other
    }
}

impl PartialEq<&str> for CrashReason {
    fn eq(&self, other: &&str) -> bool {
        self.0.as_str() == *other
    }
}

impl fmt::Display for CrashReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0.as_str())
    }
}

impl fmt::Debug for CrashReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_str(), formatter)
    }
}

/// One crash: what crashed, where, why, and what it was handling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrashReport {
    /// The isolate type's name.
    pub type_name: &'static str,
    /// The incarnation that crashed (stale now).
    pub handle: RawHandle,
    /// The reason: the `Effect::Crash` text or the panic message, cut to 96 bytes.
    pub reason: CrashReason,
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

/// What Tina's hook noted of a panic in isolate code: the reason its payload gives and where
/// it was raised. A reason takes it only when the texts match (see [`reason_of`]).
struct Capture {
    text: heapless::String<REASON_BYTES>,
    location: heapless::String<REASON_BYTES>,
}

std::thread_local! {
    /// Set while a shard runs isolate code on this thread.
    static IN_DISPATCH: Cell<bool> = const { Cell::new(false) };
    /// The last panic in isolate code that Tina's hook saw on this thread, until a reason
    /// takes it.
    static CAPTURED: RefCell<Capture> = const {
        RefCell::new(Capture { text: heapless::String::new(), location: heapless::String::new() })
    };
    /// The reason of the last panic [`caught`] caught on this thread.
    static LAST_CAUGHT: RefCell<heapless::String<REASON_BYTES>> =
        const { RefCell::new(heapless::String::new()) };
}

static INSTALL: Once = Once::new();

/// Installs Tina's panic hook, once per process, chained to the hook it finds: for panics
/// raised by isolate code on a shard thread it notes the location for the crash report and
/// prints nothing; every other panic goes to the previous hook unchanged (module docs).
pub(crate) fn install_panic_hook() {
    // `take_hook` panics on a panicking thread (a boot from a `Drop` during unwinding):
    // leave the hook to a later boot. Reasons do not need it.
    if std::thread::panicking() {
        return;
    }
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // `try_with`: a panic while this thread's locals are being destroyed is not
            // isolate code.
            if IN_DISPATCH.try_with(Cell::get).unwrap_or(false) {
                capture(info.payload(), info.location());
            } else {
                previous(info);
            }
        }));
    });
}

/// Notes a panic raised in isolate code on this thread (what Tina's hook does).
fn capture(payload: &(dyn Any + Send), location: Option<&Location<'_>>) {
    let _ = CAPTURED.try_with(|captured| {
        // Never borrowed across user code, so never busy; but a hook must not panic.
        let Ok(mut captured) = captured.try_borrow_mut() else {
            return;
        };
        let Capture { text, location: at } = &mut *captured;
        text.clear();
        write_payload(&mut Truncating(text), payload);
        at.clear();
        if let Some(location) = location {
            let _ = write!(Truncating(at), "{}:{}", location.file(), location.line());
        }
    });
}

/// Writes what a panic payload says: its message if it is a string, a fixed text if not.
fn write_payload(writer: &mut Truncating<'_>, payload: &(dyn Any + Send)) {
    let _ = if let Some(message) = payload.downcast_ref::<&'static str>() {
        write!(writer, "panicked: {message}")
    } else if let Some(message) = payload.downcast_ref::<String>() {
        write!(writer, "panicked: {message}")
    } else {
        writer.write_str("panicked with a non-string payload")
    };
}

/// The crash reason for a panic caught at the trap boundary, made from its payload — never
/// blank, whichever panic hook is installed — with ` at file:line` added when Tina's hook
/// saw this panic. Consumes the payload and drops it inside the trap (a payload is user
/// data; its `Drop` may panic too). Allocates nothing.
pub(crate) fn reason_of(payload: Box<dyn Any + Send>) -> heapless::String<REASON_BYTES> {
    let mut reason = heapless::String::new();
    write_payload(&mut Truncating(&mut reason), &*payload);
    // Taken either way, so a later panic the hook did not see (a hook installed after boot)
    // can never be given this one's location.
    let location = CAPTURED.with(|captured| {
        let mut captured = captured.borrow_mut();
        let seen = captured.text == reason;
        captured.text.clear();
        let location = core::mem::take(&mut captured.location);
        seen.then_some(location)
    });
    if let Some(location) = location.filter(|location| !location.is_empty()) {
        let _ = write!(Truncating(&mut reason), " at {location}");
    }
    drop_payload(payload);
    reason
}

/// How many nested panic payloads [`drop_payload`] drops before it leaks the rest.
const PAYLOAD_DROPS_MAX: u32 = 4;

/// Drops a panic payload inside the trap. Its `Drop` is user code and may panic too, handing
/// back another payload, and so on: each such panic is counted as a `Drop` panic, and what
/// is left after [`PAYLOAD_DROPS_MAX`] levels is leaked rather than dropped without end.
fn drop_payload(mut payload: Box<dyn Any + Send>) {
    for _ in 0..PAYLOAD_DROPS_MAX {
        match in_dispatch(|| catch_unwind(AssertUnwindSafe(move || drop(payload)))) {
            Ok(()) => return,
            Err(nested) => {
                DROP_PANICS.with(|count| count.set(count.get() + 1));
                payload = nested;
            }
        }
    }
    core::mem::forget(payload);
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
/// the shard: the panic is caught, its reason kept (see [`last_panic_message`]), and it is
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
    match in_dispatch(|| catch_unwind(AssertUnwindSafe(run))) {
        Ok(()) => false,
        Err(payload) => {
            let reason = reason_of(payload);
            LAST_CAUGHT.with(|last| *last.borrow_mut() = reason);
            DROP_PANICS.with(|count| count.set(count.get() + 1));
            true
        }
    }
}

/// Takes the count of caught `Drop` panics on this thread since the last call.
#[inline]
pub(crate) fn take_drop_panics() -> u64 {
    DROP_PANICS.with(|count| count.replace(0))
}

/// The reason of the last panic [`caught`] caught on this thread (a panic caught by the
/// dispatch boundary gets its reason from [`reason_of`]).
pub(crate) fn last_panic_message() -> heapless::String<REASON_BYTES> {
    LAST_CAUGHT.with(|last| last.borrow().clone())
}

/// How many crash reports a shard keeps.
pub(crate) const LOG_CAPACITY: usize = 64;
/// How many crash lines a shard prints per second of runtime time; the rest are counted.
pub(crate) const PRINTS_PER_SECOND: u32 = 10;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Crashes left unprinted in one second of runtime time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Suppressed {
    count: u64,
    second: u64,
}

impl fmt::Display for Suppressed {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = if self.count == 1 { "crash" } else { "crashes" };
        write!(
            formatter,
            "… {} more {noun} between {}s and {}s (not printed)",
            self.count,
            self.second,
            self.second.saturating_add(1)
        )
    }
}

/// The print rate limit: [`PRINTS_PER_SECOND`] lines per whole second of runtime time, the
/// rest counted until they are reported.
#[derive(Debug, Default)]
struct PrintLimit {
    second: u64,
    printed: u32,
    suppressed: u64,
}

impl PrintLimit {
    /// Whether a crash at `at_nanos` is printed; first, the crashes left unprinted in an
    /// earlier second, if that second is over.
    fn admit(&mut self, at_nanos: u64) -> (Option<Suppressed>, bool) {
        let second = at_nanos / NANOS_PER_SECOND;
        let mut report = None;
        if second != self.second {
            report = self.take_suppressed();
            self.second = second;
            self.printed = 0;
        }
        if self.printed < PRINTS_PER_SECOND {
            self.printed += 1;
            (report, true)
        } else {
            self.suppressed += 1;
            (report, false)
        }
    }

    /// The crashes counted and not yet reported, if any.
    fn take_suppressed(&mut self) -> Option<Suppressed> {
        let count = core::mem::take(&mut self.suppressed);
        (count > 0).then_some(Suppressed {
            count,
            second: self.second,
        })
    }
}

/// Prints one line to stderr. Never panics: a closed stderr must not bring a shard down (or,
/// from a `Drop` during unwinding, the process).
fn stderr_line(line: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// A shard's most recent crash reports and the printing of crash lines.
pub(crate) struct CrashLog {
    recent: heapless::Deque<CrashReport, LOG_CAPACITY>,
    limit: PrintLimit,
    /// The shard of the last crash recorded, for the report of unprinted crashes.
    shard: u16,
    pub(crate) print: bool,
}

impl CrashLog {
    pub(crate) fn new(print: bool) -> Self {
        Self {
            recent: heapless::Deque::new(),
            limit: PrintLimit::default(),
            shard: 0,
            print,
        }
    }

    /// Records a crash, dropping the oldest report when full, and prints it unless this
    /// second's quota is spent.
    pub(crate) fn record(&mut self, shard: u16, report: CrashReport) {
        self.record_to(shard, report, &mut stderr_line);
    }

    fn record_to(
        &mut self,
        shard: u16,
        report: CrashReport,
        out: &mut impl FnMut(fmt::Arguments<'_>),
    ) {
        if self.print {
            self.shard = shard;
            let (suppressed, print) = self.limit.admit(report.at.as_nanos());
            if let Some(suppressed) = suppressed {
                out(format_args!("tina: shard {shard}: {suppressed}"));
            }
            if print {
                out(format_args!("tina: shard {shard}: {report}"));
            }
        }
        if self.recent.is_full() {
            self.recent.pop_front();
        }
        let _ = self.recent.push_back(report);
    }

    /// Prints that `shard`'s root group went over budget and the shard is quarantined
    /// (unless crash printing is off), after the crashes left unprinted.
    pub(crate) fn print_quarantine(&mut self, shard: ShardId) {
        self.print_quarantine_to(shard, &mut stderr_line);
    }

    fn print_quarantine_to(&mut self, shard: ShardId, out: &mut impl FnMut(fmt::Arguments<'_>)) {
        if self.print {
            self.flush_to(out);
            out(format_args!(
                "tina: {shard}: root supervision group over its restart budget; shard quarantined"
            ));
        }
    }

    /// Prints that `shard`'s root group went over budget and the process aborts by policy,
    /// after the crashes left unprinted. Printed even with crash printing off: it is the
    /// only word on why the process ends.
    pub(crate) fn print_abort(&mut self, shard: ShardId) {
        self.print_abort_to(shard, &mut stderr_line);
    }

    fn print_abort_to(&mut self, shard: ShardId, out: &mut impl FnMut(fmt::Arguments<'_>)) {
        if self.print {
            self.flush_to(out);
        }
        out(format_args!(
            "tina: {shard}: root supervision group over its restart budget; aborting the \
             process by policy"
        ));
    }

    /// Reports the crashes counted and not yet reported (none when printing is off).
    fn flush_to(&mut self, out: &mut impl FnMut(fmt::Arguments<'_>)) {
        if let Some(suppressed) = self.limit.take_suppressed() {
            out(format_args!("tina: shard {}: {suppressed}", self.shard));
        }
    }

    /// The kept reports, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &CrashReport> {
        self.recent.iter()
    }
}

impl Drop for CrashLog {
    /// A shard that stops reports the crashes it left unprinted in its last second.
    fn drop(&mut self) {
        self.flush_to(&mut stderr_line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(at_millis: u64) -> CrashReport {
        CrashReport {
            type_name: "Bomb",
            handle: RawHandle::new(ShardId(3), 0, 0, 0),
            reason: heapless::String::try_from("panicked: boom").unwrap().into(),
            message_tag: Some(1),
            at: Instant::from_nanos(at_millis * 1_000_000),
        }
    }

    /// Collects the lines a crash log prints.
    #[derive(Default)]
    struct Lines(Vec<String>);

    impl Lines {
        fn sink(&mut self) -> impl FnMut(fmt::Arguments<'_>) + '_ {
            |line| self.0.push(line.to_string())
        }

        fn crash_lines(&self) -> usize {
            self.0
                .iter()
                .filter(|line| line.contains("crashed at"))
                .count()
        }
    }

    #[test]
    fn crash_lines_past_the_quota_are_reported_when_the_second_is_over() {
        let mut log = CrashLog::new(true);
        let mut lines = Lines::default();
        for crash in 0..47 {
            log.record_to(3, report(crash), &mut lines.sink());
        }
        assert_eq!(lines.0.len(), PRINTS_PER_SECOND as usize, "{:?}", lines.0);
        log.record_to(3, report(1_200), &mut lines.sink());
        assert_eq!(
            lines.0[10],
            "tina: shard 3: … 37 more crashes between 0s and 1s (not printed)"
        );
        assert!(
            lines.0[11].starts_with("tina: shard 3: Bomb "),
            "{:?}",
            lines.0
        );
        assert_eq!(lines.0.len(), 12);
        // Nothing is left to report: the new second printed everything it had.
        log.flush_to(&mut lines.sink());
        assert_eq!(lines.0.len(), 12);
    }

    #[test]
    fn unprinted_crashes_are_reported_at_quarantine_and_when_the_shard_stops() {
        let mut log = CrashLog::new(true);
        let mut lines = Lines::default();
        for crash in 0..11 {
            log.record_to(3, report(2_000 + crash), &mut lines.sink());
        }
        log.print_quarantine_to(ShardId(3), &mut lines.sink());
        assert_eq!(
            &lines.0[10..],
            [
                "tina: shard 3: … 1 more crash between 2s and 3s (not printed)",
                "tina: shard 3: root supervision group over its restart budget; shard quarantined",
            ]
        );
        for crash in 0..12 {
            log.record_to(3, report(2_500 + crash), &mut lines.sink());
        }
        lines.0.clear();
        // What `Drop` prints when the shard stops.
        log.flush_to(&mut lines.sink());
        assert_eq!(
            lines.0,
            ["tina: shard 3: … 12 more crashes between 2s and 3s (not printed)"]
        );
    }

    #[test]
    fn with_printing_off_nothing_about_crashes_is_printed() {
        let mut log = CrashLog::new(false);
        let mut lines = Lines::default();
        for crash in 0..40 {
            log.record_to(3, report(crash * 100), &mut lines.sink());
        }
        log.print_quarantine_to(ShardId(3), &mut lines.sink());
        log.flush_to(&mut lines.sink());
        assert!(lines.0.is_empty(), "{:?}", lines.0);
        // Still kept.
        assert_eq!(log.iter().count(), 40);
        // The process ending by policy is still said.
        log.print_abort_to(ShardId(3), &mut lines.sink());
        assert_eq!(lines.crash_lines(), 0);
        assert_eq!(
            lines.0,
            [
                "tina: shard 3: root supervision group over its restart budget; aborting the \
              process by policy"
            ]
        );
    }

    #[test]
    fn the_quota_is_per_second_of_runtime_time() {
        let mut log = CrashLog::new(true);
        let mut lines = Lines::default();
        for second in 0..3 {
            for crash in 0..PRINTS_PER_SECOND as u64 {
                log.record_to(3, report(second * 1_000 + crash), &mut lines.sink());
            }
        }
        assert_eq!(lines.crash_lines(), 3 * PRINTS_PER_SECOND as usize);
        assert_eq!(lines.0.len(), 3 * PRINTS_PER_SECOND as usize, "no notice");
    }

    #[test]
    fn reasons_come_from_the_payload() {
        let text = |payload: Box<dyn Any + Send>| reason_of(payload).to_string();
        assert_eq!(text(Box::new("static")), "panicked: static");
        assert_eq!(text(Box::new(String::from("owned"))), "panicked: owned");
        assert_eq!(text(Box::new(42u32)), "panicked with a non-string payload");
        let long = "x".repeat(200);
        assert_eq!(text(Box::new(long)).len(), REASON_BYTES);
    }

    #[test]
    fn the_location_the_hook_saw_is_added_only_to_its_own_panic() {
        let location = Location::caller();
        let expected = format!("panicked: boom at {}:{}", location.file(), location.line());
        capture(&"boom", Some(location));
        assert_eq!(reason_of(Box::new("boom")).as_str(), expected);
        // Taken: the next panic, not seen by the hook, gets no location.
        assert_eq!(reason_of(Box::new("boom")).as_str(), "panicked: boom");
        // A different panic never borrows a stale capture's location.
        capture(&"earlier", Some(location));
        assert_eq!(reason_of(Box::new("later")).as_str(), "panicked: later");
        assert_eq!(reason_of(Box::new("earlier")).as_str(), "panicked: earlier");
        capture(&7u8, Some(location));
        assert!(
            reason_of(Box::new(7u8)).starts_with("panicked with a non-string payload at "),
            "a non-string payload keeps its location"
        );
    }

    #[test]
    fn a_payload_whose_drop_panics_is_contained() {
        struct Nasty;
        impl Drop for Nasty {
            fn drop(&mut self) {
                panic!("nasty payload drop");
            }
        }
        take_drop_panics();
        let reason = reason_of(Box::new(Nasty));
        assert_eq!(reason.as_str(), "panicked with a non-string payload");
        assert_eq!(
            take_drop_panics(),
            1,
            "the payload's panicking drop is counted"
        );
    }
}
