//! Per-shard counters, readable as a snapshot while the system runs and at the end.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($( $(#[doc = $doc:literal])* $name:ident, )*) => {
        /// A shard's counters at one moment.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Counters {
            $( $(#[doc = $doc])* pub $name: u64, )*
        }

        impl Counters {
            /// The number of counters.
            pub(crate) const LEN: usize = [$( stringify!($name), )*].len();

            /// Field names, in order, for reports.
            pub const NAMES: &'static [&'static str] = &[$( stringify!($name), )*];

            /// What each counter counts (its documentation, lines joined), in
            /// [`Counters::NAMES`] order: the help text of exported metrics.
            pub const HELP: &'static [&'static str] = &[$( concat!($($doc, " ",)*), )*];

            /// The values, in [`Counters::NAMES`] order.
            pub fn values(&self) -> [u64; Self::LEN] {
                [$( self.$name, )*]
            }

            pub(crate) fn from_values(values: [u64; Self::LEN]) -> Self {
                let mut iter = values.into_iter();
                Self { $( $name: iter.next().unwrap_or(0), )* }
            }

            /// Adds another shard's counters to these (for system totals).
            pub fn add(&mut self, other: &Counters) {
                $( self.$name += other.$name; )*
            }
        }
    };
}

counters! {
    /// Handler invocations (messages, call results, resumes, inits).
    dispatched,
    /// Ticks run.
    ticks,
    /// Messages accepted for an isolate on the same shard.
    sent_local,
    /// Envelopes written to another shard's ring.
    sent_remote,
    /// Envelopes taken from other shards' rings (delivered, handled straight from the ring,
    /// or refused on arrival).
    received_remote,
    /// Sends refused: target mailbox full.
    refused_mailbox_full,
    /// Sends refused: envelope pool exhausted.
    refused_pool_exhausted,
    /// Sends refused: stale handle.
    refused_stale,
    /// Sends refused: target shard down.
    refused_shard_down,
    /// Sends refused: ring to the target shard full.
    refused_ring_full,
    /// Envelopes that arrived and could be neither delivered nor bounced: a reply with no
    /// reserved envelope free to hold it (its caller sees its timeout), or a payload of the
    /// wrong type (a runtime bug). Refused messages, requests and spawns are bounced instead.
    dropped_on_arrival,
    /// Envelopes from another shard that this shard refused on arrival and sent back to the
    /// sending shard through the bounce ring (messages, requests, spawns).
    bounced,
    /// Bounces taken back from other shards' bounce rings.
    bounces_received,
    /// Bounces handed to the sending isolate's handler of `Undelivered<M>`.
    bounces_handled,
    /// Bounces that reached no handler — the sender declares none for the type, no longer
    /// exists, or is outside the system (an ingress send) — by reason: target mailbox full.
    undelivered_mailbox_full,
    /// … by reason: envelope pool of the target shard exhausted.
    undelivered_pool_exhausted,
    /// … by reason: stale handle.
    undelivered_stale,
    /// … by reason: target shard quarantined.
    undelivered_shard_down,
    /// … by reason: no free slot for a `spawn_on`.
    undelivered_no_free_slot,
    /// Calls ended at once because the callee's shard refused the request on arrival
    /// (`CallResult::Refused`).
    calls_refused,
    /// Timers that fired and delivered their message.
    timers_fired,
    /// Timers cancelled before firing.
    timers_cancelled,
    /// Timers whose target had exited by the time they fired.
    timers_dropped,
    /// Isolates started (spawns, roots and restarts).
    spawned,
    /// Isolates that exited with `Done`.
    exited,
    /// Isolates that crashed (panic or `Effect::Crash`).
    crashed,
    /// Restarts performed by supervision groups (a one-for-all restart counts once).
    restarts,
    /// Groups that went over their restart budget.
    escalations,
    /// Dynamic children given up by their group: over their own restart budget
    /// (`BootSpec::dynamic_child_budget`), released instead of restarted.
    children_given_up,
    /// Times the shard was quarantined.
    quarantines,
    /// Times the shard was revived.
    revives,
    /// Isolates currently alive on the shard.
    live_isolates,
    /// Calls made.
    calls,
    /// Calls that timed out.
    calls_timed_out,
    /// Replies that arrived after their call had timed out or ended.
    late_replies_dropped,
    /// Replies addressed to a caller that no longer exists.
    replies_to_dead_callers,
    /// Requests dropped unprocessed because their caller's deadline had passed when they
    /// reached dispatch (checked against the clock at that moment, to within a kernel clock
    /// tick, not the tick's start),
    /// wherever they expired: queued on this shard or on the way from another. The caller
    /// sees its timeout.
    expired_requests_dropped,
    /// Envelopes taken from the shard's ingress queue (sends and calls from outside the
    /// system); refusals on arrival among them are counted in `undelivered_*`.
    ingress_accepted,
    /// Sends and calls from outside the system refused because the shard's ingress queue
    /// was full (counted by the sending thread, added to the snapshot).
    ingress_refused,
    /// Calls from outside the system answered (the reply reached a waiting caller).
    external_replies,
    /// Transfer buffers taken from this shard's pools (`Ctx::buffer`).
    buffers_taken,
    /// `Ctx::buffer` refused: every class large enough was exhausted.
    buffers_refused,
    /// Connections accepted (by declared listeners and by `Ctx::accept`).
    connections_accepted,
    /// Connections refused: accepted and closed at once beyond a listener's bound, or for
    /// want of a socket entry or connection slot, or failed accepts.
    connections_refused,
    /// Outgoing connects started (`Ctx::connect`).
    connects,
    /// I/O events delivered to isolates (`IoEvent`).
    io_events,
    /// I/O events that waited a tick for a control-reserve envelope (none lost: retried).
    io_events_delayed,
    /// Reads that waited a tick for a free read buffer (the socket stays readable; no byte
    /// is dropped).
    io_reads_delayed,
    /// Times a write-progress deadline or a close linger could not be armed because every
    /// timer slot was pending (the write goes on without its deadline; arming is tried
    /// again at the next flush): a sign that `timer_slots` is smaller than the number of
    /// connections waiting at once.
    io_deadlines_unarmed,
    /// Bytes read from sockets.
    io_bytes_read,
    /// Bytes written to sockets.
    io_bytes_written,
    /// Writes refused because the socket's send queue was full (the data handed back).
    io_writes_refused,
    /// Sockets closed by a failure (reset, refused connect, OS error).
    io_failures,
    /// Sockets closed because their owner ended or crashed (teardown).
    io_closed_in_teardown,
    /// Times the shard parked its thread to sleep.
    sleeps,
    /// Wake-ups this shard sent to sleeping peers.
    wakeups_sent,
    /// Panics raised by a user type's `Drop` while the runtime dropped a value on its own
    /// behalf (a message, reply or init args it could not deliver, a mailbox drained in
    /// teardown, a state torn down): caught and counted, never unwinding into the shard. A
    /// panic in a state's `Drop` is also recorded as a crash report of its isolate.
    drop_panics,
}

/// Counters published by a shard for readers on other threads (relaxed; a snapshot may mix
/// two ticks, never tears a value).
#[derive(Debug)]
pub(crate) struct SharedCounters {
    values: [AtomicU64; Counters::LEN],
}

impl SharedCounters {
    pub(crate) fn new() -> Self {
        Self {
            values: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    pub(crate) fn publish(&self, counters: &Counters) {
        for (slot, value) in self.values.iter().zip(counters.values()) {
            slot.store(value, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> Counters {
        Counters::from_values(core::array::from_fn(|index| {
            self.values[index].load(Ordering::Relaxed)
        }))
    }
}
