//! The untyped half of a shard: everything a handler's actions touch.
//!
//! The core owns the envelope pool, every slot's bookkeeping (generation, mailbox, control
//! queue, call state), the ready queues, the timers, the outbound rings and the counters.
//! Isolate states live apart, in typed arenas, so a handler can hold `&mut` its own state
//! while its [`Ctx`](crate::Ctx) holds `&mut` the core: sending to a sibling, spawning or
//! setting a timer never needs the arena.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};

use tina_mailbox::{List, Pool, PoolIndex, Producer, Queue};

use crate::clock::Instant;
use crate::counters::{Counters, SharedCounters};
use crate::envelope::{Envelope, Kind};
use crate::error::SendErrorKind;
use crate::handle::{GENERATION_MASK, RawHandle, SLOTS_PER_TYPE_MAX, ShardId};
use crate::shard::calls::{CallIndex, Calls};
use crate::shard::fifo::SlotFifo;
use crate::shard::keyed::Keyed;
use crate::timer::{CallTimer, Expired, TimerAction, Timers};

/// The slot field of an init envelope that lets the receiving shard choose the slot: the
/// all-ones slot value, one past the last slot a spec may declare, so no real slot has it.
pub(crate) const ANY_SLOT: u32 = SLOTS_PER_TYPE_MAX as u32;
const _: () = assert!(SLOTS_PER_TYPE_MAX < (1 << crate::handle::SLOT_BITS));

/// Where one isolate type's slots sit in the shard's slot table.
#[derive(Debug, Clone)]
pub(crate) struct TypeInfo {
    pub(crate) type_id: core::any::TypeId,
    pub(crate) base: usize,
    pub(crate) slots: usize,
    /// `Isolate::HANDLES_UNDELIVERED` of the type: bounces for it are dispatched.
    pub(crate) handles_undelivered: bool,
}

/// Whether a slot holds an isolate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Empty; on its type's free list.
    Free,
    /// Reserved by a spawn or a restart; `init` has not finished yet.
    Starting,
    /// Running `init` succeeded.
    Live,
    /// Torn down but kept by its supervision group (args kept) for a possible restart.
    Stopped,
}

impl Status {
    /// Whether the slot holds an incarnation that messages can reach.
    #[inline]
    pub(crate) fn is_running(self) -> bool {
        matches!(self, Status::Starting | Status::Live)
    }
}

/// Which supervision group a slot belongs to, and how it restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Membership {
    /// Local group index.
    pub(crate) group: u16,
    pub(crate) restart: crate::supervision::Restart,
    /// For a dynamic child under a per-child budget: restarts in the current window.
    pub(crate) restarts: u32,
    /// … and when that window started.
    pub(crate) window_start: u64,
}

impl Membership {
    /// A fresh membership: no restarts yet.
    pub(crate) fn new(group: u16, restart: crate::supervision::Restart) -> Self {
        Self {
            group,
            restart,
            restarts: 0,
            window_start: 0,
        }
    }
}

/// An isolate that ended (crash or `Done`) and awaits its group's decision: its slot-table
/// index, with the top bit set for a crash (four bytes per slot in the exit queue).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Exit(u32);

impl Exit {
    const CRASHED: u32 = 1 << 31;

    pub(crate) fn new(global: usize, crashed: bool) -> Self {
        debug_assert!((global as u32) < Self::CRASHED);
        Exit(global as u32 | if crashed { Self::CRASHED } else { 0 })
    }

    /// The slot-table index of the isolate that ended.
    pub(crate) fn global(self) -> u32 {
        self.0 & !Self::CRASHED
    }

    /// Whether it crashed (rather than returning `Done`).
    pub(crate) fn crashed(self) -> bool {
        self.0 & Self::CRASHED != 0
    }
}

/// How the slot's outstanding call stands, in four bytes: waiting (or no call), timed out,
/// or the pool index of the reply's envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CallOutcome(u32);

impl CallOutcome {
    /// No call, or a call still waiting.
    pub(crate) const WAITING: CallOutcome = CallOutcome(u32::MAX);
    /// The timeout fired first.
    pub(crate) const TIMEOUT: CallOutcome = CallOutcome(u32::MAX - 1);
    /// The lowest code: refusals take the codes from here to just below `TIMEOUT`.
    const FIRST_CODE: u32 = u32::MAX - 1 - SendErrorKind::ALL.len() as u32;

    /// The callee's shard refused the request on arrival.
    pub(crate) fn refused(reason: SendErrorKind) -> CallOutcome {
        CallOutcome(Self::FIRST_CODE + reason.index() as u32)
    }

    /// Why the request was refused, if that is the outcome.
    pub(crate) fn refusal(self) -> Option<SendErrorKind> {
        let code = self.0.checked_sub(Self::FIRST_CODE)? as usize;
        SendErrorKind::ALL.get(code).copied()
    }

    /// The reply arrived; its envelope is in the pool at `index`.
    pub(crate) fn reply(index: PoolIndex) -> CallOutcome {
        let raw = index.to_raw();
        assert!(
            raw < Self::FIRST_CODE,
            "pool indices stay below the outcome codes"
        );
        CallOutcome(raw)
    }

    /// The pool index of the reply, if the reply is what arrived.
    pub(crate) fn reply_index(self) -> Option<PoolIndex> {
        (self.0 < Self::FIRST_CODE).then(|| PoolIndex::from_raw(self.0))
    }
}

/// Per-slot bookkeeping kept by the core.
#[derive(Debug)]
pub(crate) struct SlotMeta {
    pub(crate) generation: u32,
    pub(crate) status: Status,
    /// On its type's ready queue.
    pub(crate) ready: bool,
    /// Returned `Effect::Call`: only the call's outcome (or shutdown) runs it next.
    pub(crate) parked: bool,
    /// Returned `Effect::Yield` this tick: nothing runs it before the next tick.
    pub(crate) yielded: bool,
    /// Yielded last tick: `resume` runs next tick, after the control queue (timers, bounces)
    /// and before any mailbox message.
    pub(crate) resume: bool,
    /// The shutdown hook has yet to run.
    pub(crate) shutdown_pending: bool,
    /// The outstanding call's outcome (reply or timeout) is known and waits in its entry.
    pub(crate) call_settled: bool,
    /// Ordinary messages, bounded by the type's mailbox bound.
    pub(crate) mailbox: Queue,
    /// Control envelopes (init, fired timers), bounded by the reserve they come from.
    pub(crate) control: List,
    /// While the slot runs: the outstanding call's entry in the shard's call table
    /// ([`CallIndex::NONE`] for none). While it is free: the link to the next free slot of
    /// its type (an intrusive free list, so free slots cost no memory of their own). Only
    /// running slots read it as a call; [`Core::pop_free`] resets it on the way out.
    pub(crate) call: CallIndex,
}

// Per-isolate overhead is a tracked figure (BENCHMARKS.md, "bytes per isolate"): growing the
// slot bookkeeping should be a decision, not an accident.
const _: () = assert!(size_of::<SlotMeta>() <= 40);
const _: () = assert!(size_of::<Exit>() == 4);

impl SlotMeta {
    /// Whether only ordinary messages could run the slot next: it is live and nothing of
    /// higher priority waits (call outcome or pending call, shutdown, control envelope,
    /// resume after a yield). The condition for batching more messages into one dispatch
    /// and for handling arrivals straight from the ring.
    #[inline]
    pub(crate) fn runs_plain_messages(&self) -> bool {
        self.status == Status::Live
            && !self.parked
            && !self.yielded
            && !self.resume
            && !self.shutdown_pending
            && !self.call.is_some()
            && self.control.is_empty()
    }
}

/// What one shard shares with the others and with the process: set by one side, read by the
/// other, never locked.
#[derive(Debug)]
pub(crate) struct Signals {
    /// The shard is about to park or parked; a peer that publishes must wake it.
    pub(crate) sleeping: AtomicBool,
    /// The shard is quarantined or stopped: peers refuse sends to it at once.
    pub(crate) down: AtomicBool,
    /// Shutdown was requested.
    pub(crate) shutdown: AtomicBool,
    /// A revive of this (quarantined) shard was requested.
    pub(crate) revive: AtomicBool,
    /// The shard has started its static supervision tree and published its counters.
    pub(crate) booted: AtomicBool,
    /// The shard's thread, which parks when it sleeps (unset in simulation).
    pub(crate) thread: std::sync::OnceLock<std::thread::Thread>,
    /// Set (before the shard first sleeps) when the shard sleeps in its reactor's poll
    /// rather than parking: peers wake it through this instead of unparking.
    pub(crate) waker: std::sync::OnceLock<mio::Waker>,
    /// Counters, published every 50 µs while busy and before every sleep.
    pub(crate) counters: SharedCounters,
    /// The producing half of the shard's ingress queue, for threads outside the system.
    pub(crate) ingress: std::sync::Mutex<Producer<Envelope>>,
    /// Ingress pushes refused because the queue was full (counted by the pushing thread).
    pub(crate) ingress_refused: std::sync::atomic::AtomicU64,
    /// The shard is quarantined (its root group went over budget), until a revive.
    pub(crate) quarantined: AtomicBool,
    /// The shard was quarantined while it started its static tree: boot failed.
    pub(crate) boot_failed: AtomicBool,
    /// A panic escaped the shard's trap boundary and stopped its thread.
    pub(crate) failed: AtomicBool,
    /// Set when the shard's thread could not build its arenas (the allocator refused): the
    /// thread ended before starting anything, and boot fails with this error.
    pub(crate) boot_error: std::sync::Mutex<Option<crate::SpecError>>,
    /// The crash that took the root group over budget, at the last quarantine (written by
    /// the shard only when it quarantines: never on the message path).
    pub(crate) last_escalation: std::sync::Mutex<Option<crate::CrashReport>>,
    /// Bumped at every change of the shard's health (quarantine, revive, stop, failure).
    pub(crate) health_changes: std::sync::atomic::AtomicU64,
}

impl Signals {
    /// Wakes the shard if it is parked (a futex wake; a no-op in simulation). A wake that
    /// comes before the shard parks is kept, so the park returns at once.
    #[inline]
    pub(crate) fn wake(&self) {
        if let Some(waker) = self.waker.get() {
            // An eventfd write; a failure leaves the shard to its timeout (at most
            // `SLEEP_MAX`), never stuck.
            let _ = waker.wake();
        } else if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }

    pub(crate) fn new(ingress: Producer<Envelope>) -> Self {
        Self {
            ingress: std::sync::Mutex::new(ingress),
            ingress_refused: std::sync::atomic::AtomicU64::new(0),
            quarantined: AtomicBool::new(false),
            boot_failed: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            boot_error: std::sync::Mutex::new(None),
            last_escalation: std::sync::Mutex::new(None),
            health_changes: std::sync::atomic::AtomicU64::new(0),
            sleeping: AtomicBool::new(false),
            down: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            revive: AtomicBool::new(false),
            booted: AtomicBool::new(false),
            thread: std::sync::OnceLock::new(),
            waker: std::sync::OnceLock::new(),
            counters: SharedCounters::new(),
        }
    }
}

/// Information about the request being handled, for `Ctx::reply`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestInfo {
    pub(crate) caller: RawHandle,
    pub(crate) correlation: u32,
    /// The request's type helper: answers whether a type is the declared reply type.
    pub(crate) reply_type: Option<crate::envelope::TypeHelper>,
    /// The caller is a thread outside the system (see `crate::external`).
    pub(crate) external: bool,
}

impl RequestInfo {
    /// Whether `R` is the reply type the caller declared.
    pub(crate) fn expects<R: 'static>(&self) -> bool {
        self.reply_type.is_some_and(|helper| {
            helper(
                &mut crate::envelope::Payload::empty(),
                Some(core::any::TypeId::of::<R>()),
            )
        })
    }
}

/// The untyped state of one shard.
pub(crate) struct Core {
    pub(crate) shard: ShardId,
    pub(crate) shard_count: usize,
    /// The latest reading of the runtime clock, in nanoseconds: taken when the tick started
    /// and refreshed by [`Core::fresh_now`] once handlers have run since.
    pub(crate) now: u64,
    /// The OS clock (`None` in simulation, where the simulator sets `now`).
    pub(crate) clock: Option<crate::clock::Clock>,
    /// `counters.dispatched` when `now` was last read: a new reading is needed only after a
    /// handler has run (handlers are where time goes).
    pub(crate) clock_mark: u64,
    /// The request the current dispatch handles (its caller and correlation), taken by
    /// `Ctx::reply` or `Ctx::defer_reply`; `None` outside a request's dispatch.
    pub(crate) request: Option<RequestInfo>,
    /// The coarse clock (see `clock::coarse_nanos`) at the last precise reading: while it
    /// has not ticked, the precise reading is current to within one kernel tick.
    pub(crate) coarse_mark: Option<u64>,
    pub(crate) pool: Pool<Envelope>,
    pub(crate) types: Vec<TypeInfo>,
    pub(crate) slots: Vec<SlotMeta>,
    /// The first free slot per type: a stack linked through the free slots' `call` field,
    /// so the lowest slots are reused first after boot.
    pub(crate) free_heads: Vec<Option<u32>>,
    /// Slots with work, per type.
    pub(crate) ready: Vec<SlotFifo>,
    /// The producing half of the ring to each shard (`None` for this one).
    pub(crate) outbound: Vec<Option<Producer<Envelope>>>,
    /// The producing half of the bounce ring to each shard (`None` for this one): refused
    /// envelopes go back to their sending shard here, never through `outbound`.
    pub(crate) bounce_out: Vec<Option<Producer<Envelope>>>,
    pub(crate) signals: Arc<[Signals]>,
    pub(crate) timers: Timers,
    /// Outstanding calls (a slot keeps only an index into this table).
    pub(crate) calls: Calls,
    /// The system's call slots for callers outside it.
    pub(crate) external: Arc<crate::external::ExternalCalls>,
    /// This shard's transfer-buffer pools, one per size class, smallest block first.
    pub(crate) buffers: Vec<Arc<tina_mailbox::BufferPool>>,
    pub(crate) counters: Counters,
    /// A running hash of every dispatch: the simulator's trace.
    pub(crate) trace: u64,
    /// Whether dispatches feed `trace` (simulation only; production skips the hashing).
    pub(crate) tracing: bool,
    pub(crate) next_correlation: u32,
    /// Supervision membership of the supervised slots (capacity: the supervised bound).
    pub(crate) membership: Keyed<Membership>,
    /// Exits awaiting their group's decision (only supervised slots report exits; capacity:
    /// the supervised bound).
    pub(crate) exits: VecDeque<Exit>,
    pub(crate) crash_log: crate::supervision::crash::CrashLog,
    /// Slots that yielded this tick, resumed next tick (capacity: one per slot).
    pub(crate) deferred: Vec<u32>,
    /// Supervision groups; index 0 is the shard's root group.
    pub(crate) groups: Vec<crate::supervision::tree::Group>,
    /// The shard's reactor, when the spec gives it sockets (never in simulation).
    pub(crate) io: Option<Box<crate::io::Io>>,
    /// The simulation's hooks (fault injection, event log, dispatch checks); `None` in
    /// production and consulted only while `tracing` is on.
    pub(crate) sim: Option<Box<crate::sim::ShardHooks>>,
    /// Live statistics: what this shard records, and its cell for readers.
    pub(crate) stats: crate::stats::Recorder,
}

/// Counts a bounce (or a refused arrival that cannot bounce) that reached no handler.
fn count_undelivered(counters: &mut Counters, reason: SendErrorKind) {
    let counter = match reason {
        SendErrorKind::MailboxFull => &mut counters.undelivered_mailbox_full,
        SendErrorKind::PoolExhausted => &mut counters.undelivered_pool_exhausted,
        SendErrorKind::Stale => &mut counters.undelivered_stale,
        SendErrorKind::ShardDown => &mut counters.undelivered_shard_down,
        SendErrorKind::NoFreeSlot => &mut counters.undelivered_no_free_slot,
        // Ring and ingress room are checked by the sender, synchronously: never an arrival
        // reason.
        SendErrorKind::RingFull | SendErrorKind::IngressFull => &mut counters.dropped_on_arrival,
    };
    *counter += 1;
}

/// FNV-1a style mixing of one word into a running hash.
#[inline]
pub(crate) fn mix(hash: u64, word: u64) -> u64 {
    (hash ^ word)
        .wrapping_mul(0x0000_0100_0000_01b3)
        .rotate_left(29)
}

impl Core {
    /// The runtime clock now, current to within one kernel clock tick (1–4 ms): once a
    /// handler has run since the last reading (handlers are where time goes), the coarse
    /// clock says whether a tick has passed, and only then is the precise clock read again.
    /// So a long handler, or many short ones, cannot make a deadline look further away than
    /// it is by more than a tick, and a busy shard pays a few nanoseconds, not a precise
    /// reading, per check. In simulation, the simulator's time.
    #[inline]
    pub(crate) fn fresh_now(&mut self) -> u64 {
        if let Some(clock) = self.clock
            && self.clock_mark != self.counters.dispatched
        {
            self.clock_mark = self.counters.dispatched;
            let coarse = crate::clock::coarse_nanos();
            if coarse.is_none() || coarse != self.coarse_mark {
                self.coarse_mark = coarse;
                self.now = self.now.max(clock.read().as_nanos());
            }
        }
        self.now
    }

    /// Brings every timer set during the tick into the queue: the staged ones and the
    /// timeouts of calls made this tick and still outstanding (their slots were only
    /// reserved), merged in the order they were set. Runs at the end of every tick (and of
    /// boot), before due timers fire and before anyone asks for the next deadline.
    #[inline]
    pub(crate) fn commit_timers(&mut self) {
        // The deferred list is in reservation order, as is the staged list: merged.
        while let Some((timeout, entry)) = self.calls.next_deferred() {
            let timer = self.timers.commit_reserved(&timeout);
            self.calls.set_timer(entry, timer);
        }
        self.timers.commit_staged();
    }

    /// Sets the clock reading at the start of a tick (a precise reading).
    #[inline]
    pub(crate) fn set_now(&mut self, now: u64) {
        self.now = self.now.max(now);
        self.clock_mark = self.counters.dispatched;
        if self.clock.is_some() {
            self.coarse_mark = crate::clock::coarse_nanos();
        }
    }

    /// The slot-table index of `(type_index, slot)`, if both are in range.
    #[inline]
    pub(crate) fn global(&self, type_index: u16, slot: u32) -> Option<usize> {
        let info = self.types.get(type_index as usize)?;
        ((slot as usize) < info.slots).then_some(info.base + slot as usize)
    }

    /// The slot-table index of the live incarnation `raw` names, or why it is stale.
    #[inline]
    pub(crate) fn live_global(&self, raw: RawHandle) -> Result<usize, SendErrorKind> {
        let global = self
            .global(raw.type_index(), raw.slot())
            .ok_or(SendErrorKind::Stale)?;
        let meta = &self.slots[global];
        if !meta.status.is_running() || meta.generation != raw.generation() {
            return Err(SendErrorKind::Stale);
        }
        Ok(global)
    }

    /// Puts the slot on its type's ready queue unless it is already there.
    #[inline(always)]
    pub(crate) fn mark_ready(&mut self, type_index: u16, slot: u32) {
        let global = self.types[type_index as usize].base + slot as usize;
        let meta = &mut self.slots[global];
        if !meta.ready {
            meta.ready = true;
            // Capacity equals the slot count and a slot is queued at most once: never grows.
            self.ready[type_index as usize].push_back(slot);
        }
    }

    /// Whether the slot has something to run.
    #[inline]
    pub(crate) fn has_work(&self, global: usize) -> bool {
        let meta = &self.slots[global];
        if !meta.status.is_running() {
            return false;
        }
        // Mirrors `Arena::next_input` exactly: true only when it would find an input.
        if meta.call_settled {
            return true;
        }
        if meta.shutdown_pending && meta.status == Status::Live {
            return true;
        }
        if meta.parked {
            return false;
        }
        if meta.yielded {
            return false;
        }
        if meta.resume {
            return true;
        }
        !meta.control.is_empty() || (meta.status == Status::Live && !meta.mailbox.is_empty())
    }

    /// Puts the isolates that yielded last tick back on their ready queues.
    pub(crate) fn resume_yielded(&mut self) {
        if self.deferred.is_empty() {
            return;
        }
        let mut index = 0;
        while index < self.deferred.len() {
            let global = self.deferred[index] as usize;
            index += 1;
            let meta = &mut self.slots[global];
            if meta.yielded && meta.status.is_running() {
                meta.yielded = false;
                meta.resume = true;
                let (type_index, slot) = self.locate(global);
                self.mark_ready(type_index, slot);
            }
        }
        self.deferred.clear();
    }

    /// Delivers an ordinary message (user or request) to a local isolate: mailbox bound,
    /// then an ordinary pool slot.
    #[inline]
    pub(crate) fn deliver_local(
        &mut self,
        envelope: Envelope,
    ) -> Result<(), (SendErrorKind, Envelope)> {
        let global = match self.check_local(envelope.target) {
            Ok(global) => global,
            Err(kind) => return Err((kind, envelope)),
        };
        let target = envelope.target;
        let mailbox = &mut self.slots[global].mailbox;
        let queued = self.pool.try_alloc_enqueue_with(mailbox, || envelope);
        debug_assert!(queued.is_some(), "mailbox and pool room were checked");
        self.mark_ready(target.type_index(), target.slot());
        Ok(())
    }

    /// Every check a same-shard delivery of an ordinary message to `target` can fail, once:
    /// the slot-table index of the live target with room in its mailbox and in the pool.
    #[inline]
    pub(crate) fn check_local(&self, target: RawHandle) -> Result<usize, SendErrorKind> {
        let global = self.live_global(target)?;
        if self.slots[global].mailbox.is_full() {
            return Err(SendErrorKind::MailboxFull);
        }
        if self.pool.ordinary_free() == 0 {
            return Err(SendErrorKind::PoolExhausted);
        }
        Ok(global)
    }

    /// Sends an envelope toward its target on whatever shard it lives: ordinary messages
    /// locally through [`Core::deliver_local`], control envelopes through the reserve, remote
    /// ones into this tick's ring.
    #[inline]
    pub(crate) fn route(&mut self, envelope: Envelope) -> Result<(), (SendErrorKind, Envelope)> {
        let shard = envelope.target.shard();
        if shard == self.shard {
            return match envelope.kind {
                Kind::User | Kind::Request | Kind::ExternalRequest => self.deliver_local(envelope),
                Kind::Reply => {
                    self.accept_reply(envelope);
                    Ok(())
                }
                Kind::Init => self.accept_init(envelope),
            };
        }
        if shard.index() >= self.shard_count {
            return Err((SendErrorKind::Stale, envelope));
        }
        if self.signals[shard.index()].down.load(Ordering::Acquire) {
            return Err((SendErrorKind::ShardDown, envelope));
        }
        let Some(producer) = self.outbound[shard.index()].as_mut() else {
            return Err((SendErrorKind::ShardDown, envelope));
        };
        match producer.try_push(envelope) {
            Ok(()) => {
                self.counters.sent_remote += 1;
                Ok(())
            }
            Err(envelope) => Err((SendErrorKind::RingFull, envelope)),
        }
    }

    /// Builds an envelope with `make` straight into this tick's ring to `shard`, after
    /// `Ctx::precheck` found the shard up and the ring with room. Only this shard fills that
    /// ring, so the room is still there; the peer's down flag is deliberately not read a
    /// second time: another thread may have raised it since the precheck (quarantine, exit at
    /// shutdown), and an envelope accepted before that is treated like any other already in
    /// flight — refused on arrival by the receiving shard.
    #[inline(always)]
    pub(crate) fn push_remote_with(
        &mut self,
        shard: ShardId,
        make: impl FnOnce() -> Envelope,
    ) -> bool {
        let pushed = match self.outbound[shard.index()].as_mut() {
            Some(producer) => producer.try_push_with(make),
            None => false,
        };
        if pushed {
            self.counters.sent_remote += 1;
        }
        pushed
    }

    /// Publishes a quarantine (with the crash that caused it) or a revive for
    /// [`System::health`](crate::System::health).
    pub(crate) fn record_health(&mut self, quarantined: bool) {
        let signals = &self.signals[self.shard.index()];
        if quarantined {
            let last = self.crash_log.iter().last().cloned();
            match signals.last_escalation.lock() {
                Ok(mut slot) => *slot = last,
                Err(poisoned) => *poisoned.into_inner() = last,
            }
        }
        signals.quarantined.store(quarantined, Ordering::Release);
        signals.health_changes.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts a refused send.
    #[inline]
    pub(crate) fn count_refusal(&mut self, kind: SendErrorKind, target: RawHandle) {
        self.stats.count_refused(target.type_index(), kind);
        trace_event!(
            debug,
            shard = self.shard.0,
            target = %target,
            reason = ?kind,
            "send refused"
        );
        let counter = match kind {
            SendErrorKind::MailboxFull => &mut self.counters.refused_mailbox_full,
            SendErrorKind::PoolExhausted => &mut self.counters.refused_pool_exhausted,
            SendErrorKind::Stale => &mut self.counters.refused_stale,
            SendErrorKind::ShardDown => &mut self.counters.refused_shard_down,
            SendErrorKind::RingFull => &mut self.counters.refused_ring_full,
            // Only a remote spawn meets it, on arrival: it comes back as a bounce.
            SendErrorKind::NoFreeSlot => &mut self.counters.undelivered_no_free_slot,
            // Met only by threads outside the system, which count it themselves.
            SendErrorKind::IngressFull => &mut self.counters.ingress_refused,
        };
        *counter += 1;
    }

    /// Counts a bounce (or a refused arrival that cannot bounce) that reached no handler.
    pub(crate) fn count_undelivered(&mut self, reason: SendErrorKind) {
        count_undelivered(&mut self.counters, reason);
    }

    /// An envelope from another shard (or the ingress queue) that this shard refuses on
    /// arrival for `reason`: a message, request or spawn goes back to its sending shard
    /// through the bounce ring, whose room the drain reserved before taking it; anything
    /// else (a reply, a message from outside the system) is counted.
    pub(crate) fn refuse_arrival(&mut self, mut envelope: Envelope, reason: SendErrorKind) {
        self.stats
            .count_refused(envelope.target.type_index(), reason);
        trace_event!(
            debug,
            shard = self.shard.0,
            target = %envelope.target,
            reason = ?reason,
            "arrival refused"
        );
        let back = envelope.from.shard();
        let bounces = match envelope.kind {
            Kind::Request => true,
            Kind::User | Kind::Init => envelope.helper.is_some(),
            Kind::Reply => false,
            Kind::ExternalRequest => {
                self.external
                    .refuse(envelope.from, envelope.correlation, reason);
                return;
            }
        };
        if bounces && back != self.shard && back.index() < self.shard_count {
            if envelope.kind == Kind::Request {
                // The caller only needs to know its call ended: the request goes no further.
                envelope.payload.clear();
            }
            envelope.bounced = Some(reason);
            if let Some(producer) = self.bounce_out[back.index()].as_mut() {
                match producer.try_push(envelope) {
                    Ok(()) => {
                        self.counters.bounced += 1;
                        return;
                    }
                    Err(returned) => {
                        debug_assert!(false, "the drain reserved bounce-ring room");
                        envelope = returned;
                    }
                }
            }
        }
        if envelope.kind == Kind::Reply {
            self.counters.dropped_on_arrival += 1;
        } else {
            self.count_undelivered(reason);
        }
        drop(envelope);
    }

    /// A bounce back from another shard: a refused request ends its call at once; a refused
    /// message or spawn goes to its sender's control queue, for its `undelivered` handler,
    /// or is counted by reason when the sender has none or is gone. Uses at most one pool
    /// slot, whose room the drain reserved before taking it.
    pub(crate) fn accept_bounce(&mut self, envelope: Envelope) {
        let Some(reason) = envelope.bounced else {
            self.counters.dropped_on_arrival += 1;
            return;
        };
        let sender = envelope.from;
        if let Some(record) = self.stats.types.get_mut(sender.type_index() as usize) {
            record.bounces += 1;
        }
        trace_event!(
            debug,
            shard = self.shard.0,
            sender = %sender,
            target = %envelope.target,
            reason = ?reason,
            "bounce: refused on arrival at the target's shard"
        );
        let live = self.live_global(sender).ok();
        if envelope.kind == Kind::Request {
            let correlation = envelope.correlation;
            if let Some(global) = live
                && let Some(entry) = self.calls.awaiting(self.slots[global].call, correlation)
            {
                entry.outcome = CallOutcome::refused(reason);
                let timer = core::mem::replace(&mut entry.timer, CallTimer::NONE);
                self.slots[global].call_settled = true;
                if timer == CallTimer::DEFERRED {
                    self.calls.forget_deferred(self.slots[global].call);
                }
                self.timers.cancel_call(timer, correlation);
                self.counters.calls_refused += 1;
                self.mark_ready(sender.type_index(), sender.slot());
                return;
            }
            // The call already ended (its timeout fired) or the caller is gone.
            self.count_undelivered(reason);
            return;
        }
        let wanted = live.filter(|_| self.types[sender.type_index() as usize].handles_undelivered);
        if let Some(global) = wanted {
            // An ordinary slot: bounces never take the control reserve (timers, replies).
            match self.pool.try_alloc(envelope) {
                Ok(index) => {
                    self.pool.push_back(&mut self.slots[global].control, index);
                    self.mark_ready(sender.type_index(), sender.slot());
                    return;
                }
                Err(_envelope) => debug_assert!(false, "the drain reserved pool room"),
            }
        }
        self.count_undelivered(reason);
    }

    /// The `(type index, slot-table index)` of an arriving plain message's target when it
    /// can be handled straight from the ring: live, and idle — nothing in its mailbox or
    /// control queue, not on a ready queue, not parked, yielded, shutting down or waiting
    /// for a call — so handling it now keeps every ordering guarantee.
    #[inline]
    pub(crate) fn idle_arrival_target(&self, envelope: &Envelope) -> Option<(u16, usize)> {
        if envelope.kind != Kind::User {
            return None;
        }
        let global = self.live_global(envelope.target).ok()?;
        let meta = &self.slots[global];
        let idle = meta.runs_plain_messages() && !meta.ready && meta.mailbox.is_empty();
        idle.then_some((envelope.target.type_index(), global))
    }

    /// Handles an envelope that arrived from another shard's ring.
    #[inline]
    pub(crate) fn deliver_inbound(&mut self, envelope: Envelope) {
        let refused = match envelope.kind {
            Kind::User | Kind::Request | Kind::ExternalRequest => self.deliver_local(envelope),
            Kind::Reply => {
                self.accept_reply(envelope);
                Ok(())
            }
            Kind::Init => self.accept_init(envelope),
        };
        if let Err((reason, envelope)) = refused {
            self.refuse_arrival(envelope, reason);
        }
    }

    /// Starts an isolate from an init envelope: reserves the slot (or the one it names),
    /// queues the envelope on the control queue.
    pub(crate) fn accept_init(
        &mut self,
        mut envelope: Envelope,
    ) -> Result<(), (SendErrorKind, Envelope)> {
        let type_index = envelope.target.type_index();
        if envelope.target.slot() == ANY_SLOT {
            match self.reserve_slot(type_index) {
                Some(handle) => envelope.target = handle,
                None => return Err((SendErrorKind::NoFreeSlot, envelope)),
            }
        }
        let Some(global) = self.global(type_index, envelope.target.slot()) else {
            return Err((SendErrorKind::Stale, envelope));
        };
        let target = envelope.target;
        let index = match self.pool.try_alloc_reserved(envelope) {
            Ok(index) => index,
            Err(envelope) => {
                self.release_reserved(global);
                return Err((SendErrorKind::PoolExhausted, envelope));
            }
        };
        let meta = &mut self.slots[global];
        meta.status = Status::Starting;
        meta.generation = target.generation();
        // Control lists have no bound of their own: the reserve they come from is it.
        self.pool.push_back(&mut meta.control, index);
        self.mark_ready(type_index, target.slot());
        Ok(())
    }

    /// Takes a free slot of `type_index` and returns the handle its next incarnation gets.
    pub(crate) fn reserve_slot(&mut self, type_index: u16) -> Option<RawHandle> {
        let slot = self.pop_free(type_index)?;
        Some(self.claim(type_index, slot))
    }

    /// Puts `slot` (free) on top of its type's free list.
    pub(crate) fn push_free(&mut self, type_index: u16, slot: u32) {
        let global = self.types[type_index as usize].base + slot as usize;
        let head = self.free_heads[type_index as usize];
        self.slots[global].call = CallIndex::free_link(head);
        self.free_heads[type_index as usize] = Some(slot);
    }

    /// Takes the top slot off its type's free list, restoring its `call` field to "none".
    fn pop_free(&mut self, type_index: u16) -> Option<u32> {
        let slot = (*self.free_heads.get(type_index as usize)?)?;
        let global = self.types[type_index as usize].base + slot as usize;
        let meta = &mut self.slots[global];
        self.free_heads[type_index as usize] = meta.call.as_free_link();
        meta.call = CallIndex::NONE;
        Some(slot)
    }

    /// Marks a slot just taken off its free list as starting; returns its next handle.
    fn claim(&mut self, type_index: u16, slot: u32) -> RawHandle {
        let global = self.types[type_index as usize].base + slot as usize;
        self.slots[global].status = Status::Starting;
        RawHandle::new(self.shard, type_index, slot, self.slots[global].generation)
    }

    /// Takes the free slot `slot` of `type_index` for a static child, at boot, before the
    /// free lists are built (see `build_shards`).
    pub(crate) fn reserve_exact(&mut self, type_index: u16, slot: u32) -> Option<RawHandle> {
        let global = self.global(type_index, slot)?;
        if self.slots[global].status != Status::Free {
            return None;
        }
        Some(self.claim(type_index, slot))
    }

    /// Gives back a slot reserved by [`Core::reserve_slot`] that never started.
    fn release_reserved(&mut self, global: usize) {
        let meta = &mut self.slots[global];
        if meta.status == Status::Starting && meta.control.is_empty() {
            meta.status = Status::Free;
            let (type_index, slot) = self.locate(global);
            self.push_free(type_index, slot);
        }
    }

    /// `(type_index, slot)` of a slot-table index.
    pub(crate) fn locate(&self, global: usize) -> (u16, u32) {
        let type_index = self
            .types
            .iter()
            .rposition(|info| info.base <= global)
            .unwrap_or(0);
        (
            type_index as u16,
            (global - self.types[type_index].base) as u32,
        )
    }

    /// Matches a reply with its caller's outstanding call; late or orphaned replies are
    /// dropped and counted.
    pub(crate) fn accept_reply(&mut self, envelope: Envelope) {
        let (target, correlation) = (envelope.target, envelope.correlation);
        self.accept_reply_with(target, correlation, || envelope);
    }

    /// [`Core::accept_reply`] for the reply to `target`'s call `correlation`, built by `make`
    /// only once it is known to be wanted — straight into its pool slot.
    #[inline]
    pub(crate) fn accept_reply_with(
        &mut self,
        target: RawHandle,
        correlation: u32,
        make: impl FnOnce() -> Envelope,
    ) {
        let Ok(global) = self.live_global(target) else {
            self.counters.replies_to_dead_callers += 1;
            return;
        };
        let Some(entry) = self.calls.awaiting(self.slots[global].call, correlation) else {
            self.counters.late_replies_dropped += 1;
            return;
        };
        let Some(index) = self.pool.try_alloc_reserved_with(make) else {
            // No room to hold the reply: the caller will see its timeout.
            self.counters.dropped_on_arrival += 1;
            return;
        };
        entry.outcome = CallOutcome::reply(index);
        let timer = core::mem::replace(&mut entry.timer, CallTimer::NONE);
        self.slots[global].call_settled = true;
        if timer == CallTimer::DEFERRED {
            self.calls.forget_deferred(self.slots[global].call);
        }
        self.timers.cancel_call(timer, correlation);
        self.mark_ready(target.type_index(), target.slot());
    }

    /// Fires every due timer: user timers go to the target's control queue (reserved
    /// capacity, so full mailboxes cannot stop them), call timeouts mark the call timed out.
    pub(crate) fn fire_timers(&mut self) -> usize {
        let mut fired = 0;
        while let Some(Expired { target, action }) = self.timers.pop_due(self.now) {
            fired += 1;
            let live = self.live_global(target);
            match (action, live) {
                (TimerAction::Message(index), Ok(global)) => {
                    self.pool.push_back(&mut self.slots[global].control, index);
                    self.counters.timers_fired += 1;
                    self.mark_ready(target.type_index(), target.slot());
                }
                (TimerAction::Message(index), Err(_)) => {
                    drop(self.pool.take(index));
                    self.counters.timers_dropped += 1;
                }
                (TimerAction::CallTimeout(correlation), Ok(global)) => {
                    if let Some(entry) = self.calls.awaiting(self.slots[global].call, correlation) {
                        self.slots[global].call_settled = true;
                        entry.outcome = CallOutcome::TIMEOUT;
                        entry.timer = CallTimer::NONE;
                        self.counters.calls_timed_out += 1;
                        self.mark_ready(target.type_index(), target.slot());
                    }
                }
                (TimerAction::CallTimeout(_), Err(_)) => {}
                // Checked against the socket's own state (its owner may be gone: teardown
                // closed the socket and cancelled the timer, so this is rare).
                (TimerAction::Io(code), _) => self.io_timed_out(code),
            }
        }
        fired
    }

    /// Tears a slot down: frees its queued envelopes and pending reply, cancels its call
    /// timer and bumps the generation so every old handle is stale. The slot stays
    /// `Stopped` (reserved) until [`Core::free_slot`]. (Its state is dropped by the arena.)
    pub(crate) fn teardown(&mut self, global: usize) {
        let meta = &mut self.slots[global];
        if !meta.status.is_running() {
            return;
        }
        let was_live = meta.status == Status::Live;
        if meta.yielded {
            // Its entry in `deferred` would outlive it: a restart that yields again in the
            // same tick would add a second one, beyond the one-per-slot capacity.
            let stale = global as u32;
            self.deferred.retain(|&entry| entry != stale);
        }
        let meta = &mut self.slots[global];
        self.pool.clear_queue(&mut meta.mailbox);
        // Bounces waiting for this incarnation will never reach it: counted, like any bounce
        // whose sender is gone. (The rest of the control queue — init, fired timers — goes.)
        while let Some(bounced) = self
            .pool
            .pop_front_remove_with(&mut meta.control, |envelope| envelope.bounced)
        {
            if let Some(reason) = bounced {
                count_undelivered(&mut self.counters, reason);
            }
        }
        // Every timer this incarnation set goes with it: its call timeout by id (here), the
        // timers it set with `after` through its owner list (below).
        if meta.call.is_some() {
            let (timer, correlation, outcome, _decoder) = self.calls.remove(meta.call);
            if let Some(index) = outcome.reply_index() {
                drop(self.pool.take(index));
            }
            self.timers.cancel_call(timer, correlation);
        }
        meta.call = CallIndex::NONE;
        meta.call_settled = false;
        meta.parked = false;
        meta.yielded = false;
        meta.resume = false;
        meta.shutdown_pending = false;
        meta.status = Status::Stopped;
        meta.generation = (meta.generation + 1) & GENERATION_MASK;
        if was_live {
            self.counters.live_isolates -= 1;
        }
        if let Some(io) = self.io.as_mut() {
            self.counters.io_closed_in_teardown +=
                io.release_owned(&mut self.timers, global) as u64;
        }
        let (pool, counters) = (&mut self.pool, &mut self.counters);
        self.timers.cancel_owned(global, |expired| {
            if let TimerAction::Message(index) = expired.action {
                drop(pool.take(index));
                counters.timers_cancelled += 1;
            }
        });
    }

    /// The supervision group of the slot, if it is supervised.
    #[inline]
    pub(crate) fn group_of(&self, global: usize) -> Option<u16> {
        self.membership
            .get(global as u32)
            .map(|membership| membership.group)
    }

    /// Returns a torn-down slot to its type's free list.
    pub(crate) fn free_slot(&mut self, global: usize) {
        let meta = &mut self.slots[global];
        if meta.status == Status::Stopped {
            meta.status = Status::Free;
            self.membership.remove(global as u32);
            let (type_index, slot) = self.locate(global);
            self.push_free(type_index, slot);
        }
    }

    /// A fresh correlation id (never 0).
    #[inline]
    pub(crate) fn next_correlation(&mut self) -> u32 {
        self.next_correlation = self.next_correlation.wrapping_add(1).max(1);
        self.next_correlation
    }

    /// Publishes every ring written this tick with one release store each, and wakes peers
    /// that went to sleep. Returns how many rings were published.
    pub(crate) fn flush(&mut self) -> usize {
        let mut published = 0;
        // A simulated shard shares its thread with every other: none of them ever sleeps,
        // so there is no sleeper to pair a fence with (and a fence per ring is a large part
        // of a simulated round's cost).
        let simulated = self.sim.is_some();
        let rings = self.outbound.iter_mut().zip(self.bounce_out.iter_mut());
        for (peer, (producer, bounces)) in rings.enumerate() {
            let mut wrote = false;
            if let Some(bounces) = bounces
                && bounces.pending() > 0
            {
                bounces.publish();
                wrote = true;
            }
            if let Some(producer) = producer
                && producer.pending() > 0
            {
                producer.publish();
                wrote = true;
            }
            if !wrote {
                continue;
            }
            published += 1;
            if simulated {
                continue;
            }
            // Pairs with the fence in the sleeper: either it sees our items before it sleeps,
            // or we see its flag and wake it. A busy peer never gets a syscall.
            fence(Ordering::SeqCst);
            let signals = &self.signals[peer];
            if signals.sleeping.load(Ordering::Relaxed) {
                signals.wake();
                self.counters.wakeups_sent += 1;
            }
        }
        published
    }

    /// Records the dispatch that is starting: counted, and fed to the trace hash.
    #[inline(always)]
    pub(crate) fn record_dispatch(&mut self, type_index: u16, slot: u32, tag: u64) {
        self.trace(type_index, slot, tag);
        self.counters.dispatched += 1;
    }

    /// Records one dispatch in the trace hash.
    #[inline]
    pub(crate) fn trace(&mut self, type_index: u16, slot: u32, tag: u64) {
        if !self.tracing {
            return;
        }
        let mut hash = mix(self.trace, u64::from(self.shard.0));
        hash = mix(hash, (u64::from(type_index) << 32) | u64::from(slot));
        hash = mix(hash, tag);
        self.trace = mix(hash, self.now);
        if let Some(hooks) = self.sim.as_deref() {
            // The common case inline: a running incarnation (or a fault, which may reach a
            // stopped one) and no event log; anything else takes the cold path.
            let running = self
                .types
                .get(type_index as usize)
                .and_then(|info| self.slots.get(info.base + slot as usize))
                .is_some_and(|meta| meta.status.is_running() || tag >> 16 == 4);
            if !running || hooks.events.is_some() {
                self.sim_dispatch(type_index, slot, tag);
            }
        }
    }

    /// The simulation's view of a dispatch: recorded for the determinism oracle, and
    /// checked — a dispatch must reach a running incarnation, never a free or stopped slot
    /// (a stale delivery). (Mailbox bounds are checked over every slot by
    /// `Simulation::check`.)
    #[cold]
    fn sim_dispatch(&mut self, type_index: u16, slot: u32, tag: u64) {
        let global = self
            .types
            .get(type_index as usize)
            .map(|info| info.base + slot as usize);
        let broken = match global.and_then(|global| self.slots.get(global)) {
            None => Some(format!(
                "dispatch to type {type_index} slot {slot}, which does not exist"
            )),
            Some(meta) if !meta.status.is_running() && tag >> 16 != 4 => Some(format!(
                "dispatch ({tag:#x}) to type {type_index} slot {slot}, which is {:?}: a stale \
                 delivery",
                meta.status
            )),
            Some(_) => None,
        };
        let (shard, now) = (self.shard, self.now);
        let Some(hooks) = self.sim.as_deref_mut() else {
            return;
        };
        if let Some(broken) = broken
            && hooks.violation.is_none()
        {
            hooks.violation = Some(format!("{shard} at {}: {broken}", Instant(now)));
        }
        if let Some(events) = hooks.events.as_mut() {
            events.push(crate::sim::TraceEvent {
                shard,
                type_index,
                slot,
                tag,
                at: Instant(now),
            });
        }
    }

    /// In a simulation with crash injection: whether the handler call (or `init`) about to
    /// run on an isolate of `type_index` is to crash instead. Always false in production.
    #[inline(always)]
    pub(crate) fn injected_crash(&mut self, type_index: u16, init: bool) -> bool {
        match self.sim.as_deref_mut() {
            None => false,
            Some(hooks) => hooks.crash_now(type_index, init),
        }
    }
}
