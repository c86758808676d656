//! `Ctx`: the actions a handler can take.

use core::any::TypeId;
use core::marker::PhantomData;
use core::time::Duration;

use crate::clock::{Instant, nanos_of};
use crate::effect::{CallToken, Effect, ReplyToken};
use crate::envelope::{Envelope, Kind, Payload, fits_payload};
use crate::error::{SendError, SendErrorKind, SpawnError, TimerError};
use crate::handle::{Handle, RawHandle, ShardId};
use crate::isolate::Message as _;
use crate::isolate::{Accepts, Answers, CallError, CallResult, Isolate, Request};
use crate::shard::calls::ErasedDecoder;
use crate::shard::core::{ANY_SLOT, Core, RequestInfo};
use crate::timer::{DeferredTimer, TimerAction, TimerId};

/// How the caller turns its call's outcome into one of its own messages.
pub(crate) struct CallDecoder<I: Isolate> {
    pub(crate) reply: fn(&mut Payload) -> Option<I::Message>,
    pub(crate) timeout: fn() -> I::Message,
    pub(crate) refused: fn(SendErrorKind) -> I::Message,
}

/// The decoders of a call of request `Q`, made by isolate type `I`: one constant table per
/// pair, so a slot keeps a single pointer to it.
struct Decoders<I, Q>(PhantomData<fn() -> (I, Q)>);

impl<I, Q> Decoders<I, Q>
where
    I: Accepts<CallResult<Q>>,
    Q: Request,
{
    const TABLE: CallDecoder<I> = CallDecoder {
        reply: decode_reply::<I, Q>,
        timeout: timeout_message::<I, Q>,
        refused: refused_message::<I, Q>,
    };
}

fn decode_reply<I, Q>(payload: &mut Payload) -> Option<I::Message>
where
    I: Accepts<CallResult<Q>>,
    Q: Request,
{
    payload
        .take::<Q::Reply>()
        .map(|reply| I::wrap(CallResult::Reply(reply)))
}

fn timeout_message<I, Q>() -> I::Message
where
    I: Accepts<CallResult<Q>>,
    Q: Request,
{
    I::wrap(CallResult::Timeout)
}

fn refused_message<I, Q>(reason: SendErrorKind) -> I::Message
where
    I: Accepts<CallResult<Q>>,
    Q: Request,
{
    I::wrap(CallResult::Refused(reason))
}

/// Where the answer to one request of type `Q` goes: its caller and the call's correlation.
///
/// A handler that answers requests takes one as a parameter (`#[isolate]` passes it in):
///
/// ```text
/// fn get_balance(&mut self, request: GetBalance, reply: ReplyTo<GetBalance>, ctx: &mut Ctx<Self>) -> Effect {
///     ctx.reply(reply, Balance(self.balance))
/// }
/// ```
///
/// Answering with [`Ctx::reply`] (now) or [`Ctx::reply_to`] (later, from another handler
/// invocation) takes it by value and a `Q::Reply` with it, so a reply of any other type, or a
/// second reply to one request, does not compile. Plain, [`Bounded`](crate::Bounded) data
/// that can be kept in the isolate's state for a deferred answer; neither `Copy` nor
/// `Clone`. Dropping it without answering leaves the caller to its timeout.
pub struct ReplyTo<Q> {
    /// `None` when the request was sent with `send`, not `call`: nobody waits for an answer.
    request: Option<RequestInfo>,
    _request: PhantomData<fn() -> Q>,
}

impl<Q: Request> ReplyTo<Q> {
    /// The caller waiting for this reply; `None` when the request arrived as a plain message
    /// (sent with `send`), so nobody waits for the answer.
    pub fn caller(&self) -> Option<RawHandle> {
        self.request.map(|request| request.caller)
    }
}

impl<Q> core::fmt::Debug for ReplyTo<Q> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("ReplyTo")
            .field("request", &core::any::type_name::<Q>())
            .field("caller", &self.request.map(|request| request.caller))
            .finish()
    }
}

impl<Q> core::fmt::Debug for CallRefused<Q> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("CallRefused")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<Q> core::fmt::Display for CallRefused<Q> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.error, formatter)
    }
}

/// Why a call was refused; the request is handed back.
#[must_use = "a refused call loses the request unless you handle the error"]
#[derive(PartialEq, Eq)]
pub struct CallRefused<Q> {
    /// Why.
    pub error: CallError,
    /// The request that was not sent.
    pub request: Q,
}

/// The context of one handler invocation: the isolate's window onto its shard.
///
/// Every action returns at once: nothing here blocks, and nothing allocates.
///
/// The type itself puts no bound on `I` (its methods need `I: Isolate`), so a method that
/// mentions `Ctx<Self>` in an impl block that lacks `#[isolate]` raises no error of its own:
/// the one error is where the type is used as an isolate, and it says what to add.
pub struct Ctx<'a, I> {
    core: &'a mut Core,
    me: RawHandle,
    global: usize,
    _type: PhantomData<fn() -> I>,
}

impl<'a, I: Isolate> Ctx<'a, I> {
    /// The context of one dispatch; the request being handled, if any, is in
    /// `Core::request` (set by the dispatch, cleared when it ends).
    pub(crate) fn new(core: &'a mut Core, me: RawHandle, global: usize) -> Self {
        Self {
            core,
            me,
            global,
            _type: PhantomData,
        }
    }

    /// The shard's core, this isolate's handle and slot-table index (for the I/O front in
    /// `crate::io::ctx`).
    pub(crate) fn parts(&mut self) -> (&mut Core, RawHandle, usize) {
        (self.core, self.me, self.global)
    }

    /// The isolate's next ordinary message, taken from its mailbox for a batched dispatch —
    /// only when nothing of higher priority waits (call outcome, shutdown, control, resume)
    /// and it is not a request. Counted and traced like any dispatch.
    #[inline]
    pub(crate) fn next_plain_message(&mut self, type_index: u16, slot: u32) -> Option<I::Message> {
        let core = &mut *self.core;
        let meta = &core.slots[self.global];
        if !meta.runs_plain_messages() {
            return None;
        }
        let index = core.pool.front(&meta.mailbox)?;
        if core.pool.get(index).kind != Kind::User {
            return None;
        }
        // Read the message where it lies and free the slot in place: no envelope copy.
        let mailbox = &mut core.slots[self.global].mailbox;
        let message = core
            .pool
            .dequeue_remove_with(mailbox, |envelope| envelope.payload.take::<I::Message>())??;
        core.record_dispatch(type_index, slot, u64::from(message.tag()));
        Some(message)
    }

    /// The isolate's next message from the inbound ring it is being fed from (see
    /// `ErasedArena::dispatch_arrivals`): the batch's next envelope if it is a plain message
    /// for this very incarnation and the isolate is still idle. Counted and traced like any
    /// dispatch.
    #[inline]
    pub(crate) fn next_arrival(
        &mut self,
        type_index: u16,
        slot: u32,
        batch: &mut tina_mailbox::Batch<'_, Envelope>,
    ) -> Option<I::Message> {
        let core = &mut *self.core;
        let meta = &core.slots[self.global];
        if !meta.runs_plain_messages() || !meta.mailbox.is_empty() {
            return None;
        }
        let me = self.me;
        // Read where it lies in the ring: only the message is moved out.
        let message = batch.take_with(|envelope| {
            if envelope.target != me || envelope.kind != Kind::User {
                return None;
            }
            envelope.payload.take::<I::Message>()
        })?;
        core.record_dispatch(type_index, slot, u64::from(message.tag()));
        Some(message)
    }

    /// Records the dispatch that is starting in the trace and the counters.
    #[inline(always)]
    pub(crate) fn record_dispatch(&mut self, type_index: u16, slot: u32, tag: u64) {
        self.core.record_dispatch(type_index, slot, tag);
    }

    /// In a simulation with crash injection, crashes the handler call (or `init`) about to
    /// run, as a panic would; a no-op in production. Call inside the trap boundary.
    #[inline(always)]
    pub(crate) fn maybe_inject_crash(&mut self, type_index: u16, init: bool) {
        if self.core.injected_crash(type_index, init) {
            crate::sim::raise(init);
        }
    }

    /// This isolate's own handle.
    #[inline]
    pub fn me(&self) -> Handle<I> {
        Handle::from_raw(self.me)
    }

    /// The shard this isolate runs on.
    #[inline]
    pub fn shard(&self) -> ShardId {
        self.core.shard
    }

    /// The number of shards in the system.
    #[inline]
    pub fn shard_count(&self) -> usize {
        self.core.shard_count
    }

    /// The handle the `nth` static isolate of type `T` on `shard` (the `nth` declared there
    /// with [`BootSpec::root`](crate::BootSpec::root) or
    /// [`BootSpec::child`](crate::BootSpec::child), counting from 0) had at boot: a way to
    /// find well-known isolates — a per-shard router, a registry — without passing handles
    /// around. `None` if `T` is not registered or has no such slot on a shard of this
    /// system. A restart gives the isolate a new generation, and this handle goes stale:
    /// use it for isolates that are not restarted, or that announce their new handle.
    pub fn boot_handle<T: Isolate>(&self, shard: ShardId, nth: u32) -> Option<Handle<T>> {
        let type_index = self
            .core
            .types
            .iter()
            .position(|info| info.type_id == TypeId::of::<T>())?;
        let slots = self.core.types[type_index].slots;
        if shard.index() >= self.core.shard_count || nth as usize >= slots {
            return None;
        }
        Some(Handle::from_raw(RawHandle::new(
            shard,
            type_index as u16,
            nth,
            0,
        )))
    }

    /// This shard's counters as they stand (what [`System::counters`](crate::System) reports
    /// from outside), for an isolate that reports on its shard — an `INFO` command, say.
    pub fn shard_counters(&self) -> crate::Counters {
        self.core.counters
    }

    /// 0, or — for a dispatch the statistics sample — the clock reading it starts at.
    #[inline(always)]
    pub(crate) fn sample_start(&mut self) -> u64 {
        let dispatched = self.core.counters.dispatched;
        self.core.stats.sample_start(dispatched)
    }

    /// Records the handler time of a sampled dispatch that started at `started`.
    #[cold]
    #[inline(never)]
    pub(crate) fn sample_end(&mut self, type_index: u16, started: u64) {
        let nanos = crate::clock::monotonic_nanos().saturating_sub(started);
        self.core.stats.record_handler(type_index, nanos);
    }

    /// Adds `by` to the user counter `counter` (declared with
    /// [`BootSpec::counter`](crate::BootSpec::counter)) on this shard. A plain add on the
    /// shard's own memory; published with the shard's statistics. An id from another spec
    /// that is out of range is ignored.
    #[inline]
    pub fn count(&mut self, counter: crate::stats::CounterId, by: u64) {
        self.core.stats.count(counter, by);
    }

    /// Records `value` in the user histogram `histogram` (declared with
    /// [`BootSpec::histogram`](crate::BootSpec::histogram)) on this shard: a few
    /// instructions, no allocation.
    #[inline]
    pub fn observe(&mut self, histogram: crate::stats::HistogramId, value: u64) {
        self.core.stats.observe(histogram, value);
    }

    /// A reader of the whole system's live statistics (every shard's latest publication),
    /// for an isolate that reports on the system — a metrics endpoint, say. Reading into a
    /// [`Stats`](crate::Stats) that already held a snapshot does not allocate.
    pub fn stats_reader(&self) -> crate::StatsReader {
        self.core.stats.reader()
    }

    /// The shard that owns `key`: a fixed partition of keys over shards, for placing work.
    #[inline]
    pub fn key_to_shard(&self, key: u64) -> ShardId {
        crate::key_to_shard(key, self.core.shard_count)
    }

    /// The runtime clock (the simulator's clock in simulation; never the wall clock).
    ///
    /// The reading is current to within one kernel clock tick (1–4 ms) at the first of
    /// `now`, [`Ctx::call`] or [`Ctx::after`] in the current handler invocation: after a
    /// handler has run, the shard checks a coarse clock (a few nanoseconds) and takes a
    /// precise reading only once a tick has passed. So inside a long tick it is not the
    /// tick's start: a handler that runs after another one blocked for 50 ms sees the time
    /// after those 50 ms; and a handler sees the same instant however often it asks (time
    /// does not move while it runs, as far as it can tell). In simulation time moves only
    /// between rounds.
    #[inline]
    pub fn now(&mut self) -> Instant {
        Instant(self.core.fresh_now())
    }

    /// Sends `message` to `to`. Never blocks, never buffers beyond a bound.
    ///
    /// What `Ok` means depends on where the target lives:
    ///
    /// - **Same shard**: the message is in the target's mailbox. Every refusal is returned
    ///   here, with the message (see Errors).
    /// - **Another shard**: the message is in this tick's ring to the target's shard
    ///   (published at the end of the tick). Only a full ring or a shard known to be down is
    ///   refused here. The target's shard decides on arrival; if it refuses (mailbox full,
    ///   stale handle, pool exhausted, quarantined), the message comes back to this isolate
    ///   as an [`Undelivered<M>`](crate::Undelivered) through its handler for that type, or,
    ///   without one (or once this incarnation is gone), is counted in this shard's
    ///   `undelivered_*` counters. Nothing is lost silently: a message sent with `Ok` is
    ///   handled, bounced or counted — unless the target accepted it into its mailbox and
    ///   then crashed or exited before handling it.
    ///
    /// # Errors
    ///
    /// A refusal hands the message back in the [`SendError`] (`error.message`, or
    /// [`SendError::into_message`]) and is counted in this shard's `refused_*` counter for
    /// its kind. The kind says why:
    ///
    /// - [`SendErrorKind::Stale`]: the target is on this shard and the incarnation `to`
    ///   names has exited or been restarted; or `to` names a shard this system does not
    ///   have.
    /// - [`SendErrorKind::MailboxFull`] (same shard): the target's mailbox holds its bound
    ///   of messages ([`Isolate::MAILBOX`]).
    /// - [`SendErrorKind::PoolExhausted`] (same shard): this shard's envelope pool has no
    ///   free ordinary slot ([`BootSpec::pool_slots`](crate::BootSpec::pool_slots)).
    /// - [`SendErrorKind::ShardDown`] (another shard): the target's shard is quarantined or
    ///   stopped, or partitioned off in a simulation.
    /// - [`SendErrorKind::RingFull`] (another shard): this tick's ring to the target's
    ///   shard is full ([`BootSpec::ring_capacity`](crate::BootSpec::ring_capacity)).
    ///
    /// # Examples
    ///
    /// A sender fills a mailbox of four on its own shard; the fifth send is refused at once:
    ///
    /// ```
    /// use tina::prelude::*;
    ///
    /// #[derive(Bounded)]
    /// struct Ping;
    ///
    /// #[isolate(mailbox = 4)]
    /// struct Counter {
    ///     pings: u32,
    /// }
    ///
    /// #[isolate]
    /// impl Counter {
    ///     fn init(_ctx: &mut Ctx<Self>) -> Self {
    ///         Counter { pings: 0 }
    ///     }
    ///
    ///     fn ping(&mut self, _ping: Ping, _ctx: &mut Ctx<Self>) -> Effect {
    ///         self.pings += 1;
    ///         Effect::Receive
    ///     }
    /// }
    ///
    /// #[isolate(mailbox = 4)]
    /// struct Sender {
    ///     refused: Option<SendErrorKind>,
    /// }
    ///
    /// #[isolate]
    /// impl Sender {
    ///     fn init(counter: &Handle<Counter>, ctx: &mut Ctx<Self>) -> Self {
    ///         let mut refused = None;
    ///         for _ in 0..5 {
    ///             if let Err(error) = ctx.send(counter, Ping) {
    ///                 refused = Some(error.kind());
    ///             }
    ///         }
    ///         Sender { refused }
    ///     }
    ///
    ///     fn ping(&mut self, _ping: Ping, _ctx: &mut Ctx<Self>) -> Effect {
    ///         Effect::Receive
    ///     }
    /// }
    ///
    /// let mut spec = BootSpec::new(1);
    /// spec.isolate::<Counter>(1).isolate::<Sender>(1);
    /// let counter = spec.root::<Counter>(ShardId(0), ());
    /// let sender = spec.root::<Sender>(ShardId(0), counter);
    /// let mut sim = Simulation::new(spec, 1).unwrap();
    /// sim.run(1_000);
    /// assert_eq!(sim.state(counter).unwrap().pings, 4);
    /// assert_eq!(sim.state(sender).unwrap().refused, Some(SendErrorKind::MailboxFull));
    /// ```
    #[inline]
    pub fn send<T, M>(&mut self, to: &Handle<T>, message: M) -> Result<(), SendError<M>>
    where
        T: Accepts<M>,
        M: Send + 'static,
    {
        let target = to.raw();
        if target.shard() == self.core.shard {
            return self.send_local::<T, M>(target, message);
        }
        if let Err(kind) = self.precheck(target) {
            self.core.count_refusal(kind, target);
            return Err(SendError { kind, message });
        }
        // The precheck found room in this tick's ring: build the envelope straight into it.
        let me = self.me;
        let pushed = self.core.push_remote_with(target.shard(), || {
            Envelope::remote(
                target,
                me,
                Kind::User,
                crate::bounce::recover_message::<T, M>,
                Payload::new(T::wrap(message)),
            )
        });
        if !pushed {
            unreachable_refusal(SendErrorKind::RingFull)
        }
        Ok(())
    }

    /// The same-shard send: every check once, then the envelope straight into the pool and
    /// the target's mailbox.
    #[inline]
    fn send_local<T, M>(&mut self, target: RawHandle, message: M) -> Result<(), SendError<M>>
    where
        T: Accepts<M>,
        M: 'static,
    {
        let global = match self.core.check_local(target) {
            Ok(global) => global,
            Err(kind) => {
                self.core.count_refusal(kind, target);
                return Err(SendError { kind, message });
            }
        };
        self.enqueue_local(global, target, || {
            Envelope::user(target, Payload::new(T::wrap(message)))
        });
        Ok(())
    }

    /// Builds the envelope straight into a pool slot on the target's mailbox, after
    /// [`Core::check_local`] passed.
    #[inline(always)]
    fn enqueue_local(&mut self, global: usize, target: RawHandle, make: impl FnOnce() -> Envelope) {
        let core = &mut *self.core;
        let mailbox = &mut core.slots[global].mailbox;
        if core.pool.try_alloc_enqueue_with(mailbox, make).is_none() {
            unreachable_refusal(SendErrorKind::PoolExhausted)
        }
        core.mark_ready(target.type_index(), target.slot());
        core.counters.sent_local += 1;
    }

    /// Checks everything that could refuse a send to `target` before the message is
    /// wrapped, so a refusal can hand the caller's value back untouched.
    #[inline]
    fn precheck(&mut self, target: RawHandle) -> Result<(), SendErrorKind> {
        let shard = target.shard();
        if shard == self.core.shard {
            return self.core.check_local(target).map(|_| ());
        }
        let core = &mut *self.core;
        if shard.index() >= core.shard_count {
            return Err(SendErrorKind::Stale);
        }
        if core.signals[shard.index()]
            .down
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return Err(SendErrorKind::ShardDown);
        }
        match core.outbound[shard.index()].as_mut() {
            Some(producer) => {
                if producer.has_room() {
                    Ok(())
                } else {
                    Err(SendErrorKind::RingFull)
                }
            }
            None => Err(SendErrorKind::ShardDown),
        }
    }

    /// Delivers `message` to this isolate after `delay`, through the shard's timer queue.
    /// Timer messages use reserved capacity: full mailboxes and an exhausted pool cannot
    /// delay or drop them. The [`TimerId`] cancels it ([`Ctx::cancel`]).
    ///
    /// # Errors
    ///
    /// Nothing is scheduled, and the message is dropped (not handed back), when:
    ///
    /// - [`TimerError::NoFreeTimer`]: every timer slot of this shard is in use — pending
    ///   timers, call timeouts and socket deadlines share them
    ///   ([`BootSpec::timer_slots`](crate::BootSpec::timer_slots));
    /// - [`TimerError::PoolExhausted`]: the reserved region of this shard's envelope pool,
    ///   which holds the message until the timer fires, is full (a burst of replies or
    ///   spawns; see [`BootSpec::control_reserve`](crate::BootSpec::control_reserve)).
    ///
    /// # Examples
    ///
    /// ```
    /// use tina::prelude::*;
    ///
    /// #[derive(Bounded)]
    /// struct Ring;
    ///
    /// #[isolate(mailbox = 4)]
    /// struct Alarm {
    ///     rang_at: Option<Instant>,
    /// }
    ///
    /// #[isolate]
    /// impl Alarm {
    ///     fn init(ctx: &mut Ctx<Self>) -> Self {
    ///         ctx.after(Duration::from_millis(5), Ring).expect("a free timer slot");
    ///         Alarm { rang_at: None }
    ///     }
    ///
    ///     fn ring(&mut self, _ring: Ring, ctx: &mut Ctx<Self>) -> Effect {
    ///         self.rang_at = Some(ctx.now());
    ///         Effect::Receive
    ///     }
    /// }
    ///
    /// let mut spec = BootSpec::new(1);
    /// spec.isolate::<Alarm>(1);
    /// let alarm = spec.root::<Alarm>(ShardId(0), ());
    /// let mut sim = Simulation::new(spec, 1).unwrap();
    /// sim.run(1_000);
    /// let rang_at = sim.state(alarm).unwrap().rang_at.expect("the timer fired");
    /// assert!(rang_at.as_nanos() >= 5_000_000);
    /// ```
    pub fn after<M>(&mut self, delay: Duration, message: M) -> Result<TimerId, TimerError>
    where
        I: Accepts<M>,
        M: 'static,
    {
        if !self.core.timers.has_room() {
            return Err(TimerError::NoFreeTimer);
        }
        let envelope = Envelope::user(self.me, Payload::new(I::wrap(message)));
        let Ok(index) = self.core.pool.try_alloc_reserved(envelope) else {
            return Err(TimerError::PoolExhausted);
        };
        let now = self.core.fresh_now();
        match self.core.timers.schedule(
            now,
            nanos_of(delay),
            self.me,
            Some(self.global),
            TimerAction::Message(index),
        ) {
            Some(id) => Ok(id),
            None => {
                drop(self.core.pool.take(index));
                Err(TimerError::NoFreeTimer)
            }
        }
    }

    /// Cancels a timer set with [`Ctx::after`]; returns whether it was still pending. A
    /// cancelled timer never fires, and its slot is free at once.
    pub fn cancel(&mut self, timer: TimerId) -> bool {
        match self.core.timers.cancel(timer) {
            Some(expired) => {
                if let TimerAction::Message(index) = expired.action {
                    drop(self.core.pool.take(index));
                }
                self.core.counters.timers_cancelled += 1;
                true
            }
            None => false,
        }
    }

    /// Spawns an isolate of type `W` on this shard and returns its handle at once; its `init`
    /// runs before any message sent to it. The new isolate belongs to no supervision group
    /// (see [`Ctx::spawn_child`] for one that is restarted).
    ///
    /// # Errors
    ///
    /// - [`SpawnError::UnknownType`]: `W` was not registered with
    ///   [`BootSpec::isolate`](crate::BootSpec::isolate).
    /// - [`SpawnError::NoFreeSlot`]: every slot of `W` on this shard is in use (the slots of
    ///   static children stay reserved for them, even when they have ended).
    /// - [`SpawnError::PoolExhausted`]: the reserved region of this shard's envelope pool
    ///   has no room for the init envelope; the slot is released again.
    ///
    /// The args are dropped with the error.
    ///
    /// # Examples
    ///
    /// ```
    /// use tina::prelude::*;
    ///
    /// #[derive(Bounded)]
    /// struct Job(u32);
    ///
    /// #[isolate(mailbox = 4)]
    /// struct Worker {
    ///     done: u32,
    /// }
    ///
    /// #[isolate]
    /// impl Worker {
    ///     fn init(_ctx: &mut Ctx<Self>) -> Self {
    ///         Worker { done: 0 }
    ///     }
    ///
    ///     fn job(&mut self, job: Job, _ctx: &mut Ctx<Self>) -> Effect {
    ///         self.done += job.0;
    ///         Effect::Receive
    ///     }
    /// }
    ///
    /// #[isolate(mailbox = 4)]
    /// struct Boss {
    ///     worker: Handle<Worker>,
    ///     second: Option<tina::SpawnError>,
    /// }
    ///
    /// #[isolate]
    /// impl Boss {
    ///     fn init(ctx: &mut Ctx<Self>) -> Self {
    ///         let worker = ctx.spawn::<Worker>(()).expect("a free Worker slot");
    ///         // Its `init` has not run yet, but it can take messages already.
    ///         ctx.send(&worker, Job(7)).expect("room in the new mailbox");
    ///         // Worker has one slot per shard, now taken.
    ///         let second = ctx.spawn::<Worker>(()).err();
    ///         Boss { worker, second }
    ///     }
    ///
    ///     fn job(&mut self, _job: Job, _ctx: &mut Ctx<Self>) -> Effect {
    ///         Effect::Receive
    ///     }
    /// }
    ///
    /// let mut spec = BootSpec::new(1);
    /// spec.isolate::<Boss>(1).isolate::<Worker>(1);
    /// let boss = spec.root::<Boss>(ShardId(0), ());
    /// let mut sim = Simulation::new(spec, 1).unwrap();
    /// sim.run(1_000);
    /// let boss = sim.state(boss).unwrap();
    /// assert_eq!(boss.second, Some(tina::SpawnError::NoFreeSlot));
    /// assert_eq!(sim.state(boss.worker).unwrap().done, 7);
    /// ```
    pub fn spawn<W: Isolate>(&mut self, args: W::Args) -> Result<Handle<W>, SpawnError> {
        const {
            assert!(
                fits_payload::<W::Args>(),
                "init args do not fit an envelope's payload"
            )
        };
        let type_index = self.type_index_of::<W>()?;
        let Some(handle) = self.core.reserve_slot(type_index) else {
            return Err(SpawnError::NoFreeSlot);
        };
        let mut envelope = Envelope::user(handle, Payload::new(args));
        envelope.kind = Kind::Init;
        match self.core.accept_init(envelope) {
            Ok(()) => Ok(Handle::from_raw(handle)),
            Err(_) => Err(SpawnError::PoolExhausted),
        }
    }

    /// Spawns an isolate of type `W` on this shard as a dynamic child of this isolate's own
    /// supervision group, restarted according to `restart`.
    ///
    /// # Errors
    ///
    /// - [`SpawnError::NotSupervised`]: this isolate belongs to no supervision group (it
    ///   was itself spawned with [`Ctx::spawn`] or [`Ctx::spawn_on`], or accepted by a
    ///   [`Listen`](crate::Listen)).
    /// - [`SpawnError::GroupFull`]: the group already holds as many children as it
    ///   declares plus its room for dynamic ones (see
    ///   [`BootSpec::dynamic_children`](crate::BootSpec::dynamic_children), default 0).
    /// - [`SpawnError::UnknownType`], [`SpawnError::NoFreeSlot`],
    ///   [`SpawnError::PoolExhausted`]: as for [`Ctx::spawn`].
    ///
    /// The args are dropped with the error.
    pub fn spawn_child<W: Isolate>(
        &mut self,
        args: W::Args,
        restart: crate::supervision::Restart,
    ) -> Result<Handle<W>, SpawnError> {
        let Some(group) = self.core.group_of(self.global) else {
            return Err(SpawnError::NotSupervised);
        };
        let members = &self.core.groups[group as usize];
        if members.children.len() >= members.static_children + members.dynamic_room {
            return Err(SpawnError::GroupFull);
        }
        let handle = self.spawn::<W>(args)?;
        let raw = handle.raw();
        let global = self.core.types[raw.type_index() as usize].base + raw.slot() as usize;
        let membership = crate::shard::core::Membership::new(group, restart);
        // The group's room (checked above) is part of the table's capacity.
        let kept = self.core.membership.insert(global as u32, membership);
        debug_assert!(
            kept.is_ok(),
            "membership table sized for every group's room"
        );
        self.core.groups[group as usize]
            .children
            .push(crate::supervision::tree::Child::Isolate {
                global: global as u32,
                restart,
            });
        Ok(handle)
    }

    /// Asks `shard` to spawn an isolate of type `W`. The handle is not known here: the new
    /// isolate announces itself (the check-in pattern). `Ok` means the request is on its
    /// way; if the shard then has no free slot of `W` (or no pool room), the args come back
    /// to this isolate as an [`Undelivered<Spawn<W>>`](crate::Spawn) through its handler for
    /// that type, or are counted in `undelivered_no_free_slot` (…) without one. With `shard`
    /// this isolate's own shard it is [`Ctx::spawn`], and the handle is dropped.
    ///
    /// # Errors
    ///
    /// Refused at once, with the args dropped:
    ///
    /// - [`SpawnError::UnknownShard`]: `shard` is not a shard of this system.
    /// - [`SpawnError::UnknownType`]: `W` was not registered with
    ///   [`BootSpec::isolate`](crate::BootSpec::isolate).
    /// - [`SpawnError::ShardDown`]: `shard` is quarantined or stopped, or partitioned off in
    ///   a simulation.
    /// - [`SpawnError::RingFull`]: this tick's ring to `shard` is full.
    /// - On this isolate's own shard: what [`Ctx::spawn`] returns.
    pub fn spawn_on<W: Isolate>(
        &mut self,
        shard: ShardId,
        args: W::Args,
    ) -> Result<(), SpawnError> {
        const {
            assert!(
                fits_payload::<W::Args>(),
                "init args do not fit an envelope's payload"
            )
        };
        if shard == self.core.shard {
            return self.spawn::<W>(args).map(|_| ());
        }
        if shard.index() >= self.core.shard_count {
            return Err(SpawnError::UnknownShard);
        }
        let type_index = self.type_index_of::<W>()?;
        let target = RawHandle::new(shard, type_index, ANY_SLOT, 0);
        let envelope = Envelope::remote(
            target,
            self.me,
            Kind::Init,
            crate::bounce::recover_spawn::<W>,
            Payload::new(args),
        );
        self.core.route(envelope).map_err(|(kind, _)| match kind {
            SendErrorKind::Stale => SpawnError::UnknownType,
            SendErrorKind::ShardDown => SpawnError::ShardDown,
            SendErrorKind::RingFull => SpawnError::RingFull,
            SendErrorKind::MailboxFull
            | SendErrorKind::PoolExhausted
            | SendErrorKind::NoFreeSlot => SpawnError::NoFreeSlot,
            SendErrorKind::IngressFull => SpawnError::RingFull,
        })
    }

    fn type_index_of<W: Isolate>(&self) -> Result<u16, SpawnError> {
        self.core
            .types
            .iter()
            .position(|info| info.type_id == TypeId::of::<W>())
            .map(|index| index as u16)
            .ok_or(SpawnError::UnknownType)
    }

    /// Sends `request` to `to` and returns the [`Effect`] that parks this isolate until the
    /// reply or the timeout, whichever comes first; either arrives as a
    /// [`CallResult<Q>`] message (so does a refusal on arrival at another shard, at once, as
    /// [`CallResult::Refused`]). The request carries the deadline `now + timeout`:
    /// if it reaches the head of the callee's mailbox later than that, it is dropped
    /// unprocessed. Return the effect from the handler: the isolate waits from then on.
    ///
    /// # Errors
    ///
    /// Refused at once, before anything is sent, with the request handed back in the
    /// [`CallRefused`] (`refused.request`); `refused.error` says why:
    ///
    /// - [`CallError::SelfCall`]: `to` is this isolate itself, which would wait for itself.
    /// - [`CallError::AlreadyPending`]: this isolate already has a call outstanding (a
    ///   second `call` in one handler invocation, or a call whose effect was not returned);
    ///   a call stays outstanding until its outcome has been handled.
    /// - [`CallError::NoTimer`]: every timer slot of this shard is in use, or its table of
    ///   outstanding calls is full, so the call could not have a timeout.
    /// - [`CallError::Send`]: the request could not be sent, for any reason
    ///   [`Ctx::send`] gives (counted the same way).
    ///
    /// # Examples
    ///
    /// ```
    /// use tina::prelude::*;
    ///
    /// #[derive(Bounded, Request)]
    /// #[reply(u64)]
    /// struct GetBalance;
    ///
    /// #[isolate(mailbox = 4)]
    /// struct Bank {
    ///     balance: u64,
    /// }
    ///
    /// #[isolate]
    /// impl Bank {
    ///     fn init(balance: &u64, _ctx: &mut Ctx<Self>) -> Self {
    ///         Bank { balance: *balance }
    ///     }
    ///
    ///     fn get_balance(
    ///         &mut self,
    ///         _request: GetBalance,
    ///         reply: ReplyTo<GetBalance>,
    ///         ctx: &mut Ctx<Self>,
    ///     ) -> Effect {
    ///         ctx.reply(reply, self.balance)
    ///     }
    /// }
    ///
    /// #[derive(Bounded)]
    /// struct Ask;
    ///
    /// #[isolate(mailbox = 4)]
    /// struct Client {
    ///     bank: Handle<Bank>,
    ///     answer: Option<u64>,
    /// }
    ///
    /// #[isolate]
    /// impl Client {
    ///     fn init(bank: &Handle<Bank>, ctx: &mut Ctx<Self>) -> Self {
    ///         let me = ctx.me();
    ///         ctx.send(&me, Ask).expect("room in an empty mailbox");
    ///         Client { bank: *bank, answer: None }
    ///     }
    ///
    ///     fn ask(&mut self, _ask: Ask, ctx: &mut Ctx<Self>) -> Effect {
    ///         match ctx.call(&self.bank, GetBalance, Duration::from_millis(10)) {
    ///             // Parked until the outcome arrives.
    ///             Ok(wait) => wait,
    ///             // Nothing was sent: `refused.error` says why.
    ///             Err(_refused) => Effect::Receive,
    ///         }
    ///     }
    ///
    ///     fn outcome(&mut self, outcome: CallResult<GetBalance>, _ctx: &mut Ctx<Self>) -> Effect {
    ///         self.answer = outcome.reply();
    ///         Effect::Receive
    ///     }
    /// }
    ///
    /// let mut spec = BootSpec::new(2);
    /// spec.isolate::<Bank>(1).isolate::<Client>(1);
    /// let bank = spec.root::<Bank>(ShardId(1), 42);
    /// let client = spec.root::<Client>(ShardId(0), bank);
    /// let mut sim = Simulation::new(spec, 1).unwrap();
    /// sim.run(10_000);
    /// assert_eq!(sim.state(client).unwrap().answer, Some(42));
    /// ```
    pub fn call<T, Q>(
        &mut self,
        to: &Handle<T>,
        request: Q,
        timeout: Duration,
    ) -> Result<Effect, CallRefused<Q>>
    where
        T: Answers<Q>,
        Q: Request,
        I: Accepts<CallResult<Q>>,
    {
        const {
            assert!(
                fits_payload::<Q::Reply>(),
                "the reply type does not fit an envelope's payload"
            )
        };
        let target = to.raw();
        if target == self.me {
            return Err(CallRefused {
                error: CallError::SelfCall,
                request,
            });
        }
        if self.core.slots[self.global].call.is_some() {
            return Err(CallRefused {
                error: CallError::AlreadyPending,
                request,
            });
        }
        if !self.core.timers.has_room() || !self.core.calls.has_room() {
            return Err(CallRefused {
                error: CallError::NoTimer,
                request,
            });
        }
        let local = target.shard() == self.core.shard;
        let checked = if local {
            self.core.check_local(target).map(Some)
        } else {
            self.precheck(target).map(|()| None)
        };
        let local_global = match checked {
            Ok(global) => global,
            Err(kind) => {
                self.core.count_refusal(kind, target);
                return Err(CallRefused {
                    error: CallError::Send(kind),
                    request,
                });
            }
        };
        let correlation = self.core.next_correlation();
        let delay = nanos_of(timeout);
        // The deadline counts from now, not from the tick's start.
        let now = self.core.fresh_now();
        let deadline = now.saturating_add(delay);
        let from = self.me;
        let make = || Envelope {
            target,
            from,
            deadline_nanos: deadline,
            correlation,
            helper: Some(crate::envelope::reply_is::<Q::Reply>),
            kind: Kind::Request,
            bounced: None,
            payload: Payload::new(T::wrap(request)),
        };
        match local_global {
            Some(global) => self.enqueue_local(global, target, make),
            None => {
                if !self.core.push_remote_with(target.shard(), make) {
                    unreachable_refusal(SendErrorKind::RingFull);
                }
            }
        }
        // The timeout's slot is only reserved: a call answered within this tick (the common
        // case on one shard) never touches the timer queue; one still outstanding at the end
        // of the tick is scheduled then, in the order it would have had now.
        let sequence = self.core.timers.reserve_call();
        let decoder: &'static CallDecoder<I> = &Decoders::<I, Q>::TABLE;
        let call = self
            .core
            .calls
            .insert_deferred(
                ErasedDecoder::new(decoder),
                DeferredTimer {
                    deadline_nanos: deadline,
                    delay_nanos: delay,
                    sequence,
                    target: self.me,
                    correlation,
                },
            )
            .expect("a free call entry was checked before anything was sent");
        self.core.slots[self.global].call = call;
        self.core.counters.calls += 1;
        Ok(Effect::Call(CallToken { _private: () }))
    }

    /// Answers the request `to` with `value` and returns the [`Effect`] to return (park
    /// until the next message).
    ///
    /// The type says it all: `to` is the reply address of a request of type `Q` (the
    /// request handler's `reply: ReplyTo<Q>` parameter), `value` is a `Q::Reply`, and the
    /// address is used up. A reply that cannot be delivered (caller gone, timed out, ring
    /// full) is counted, and the caller sees its timeout; a reply to a request that was sent
    /// with `send` rather than called is counted as late and dropped.
    pub fn reply<Q: Request>(&mut self, to: ReplyTo<Q>, value: Q::Reply) -> Effect {
        // A refusal is counted where it happens; the caller sees its timeout.
        let _ = self.reply_to(to, value);
        Effect::Reply(ReplyToken { _private: () })
    }

    /// The reply address of the request being handled, when it is a `Q` and nobody took it
    /// yet; `None` outside a request (or for a request sent with `send`), or for a request of
    /// another reply type.
    ///
    /// `#[isolate]` passes the address to the handler's `ReplyTo<Q>` parameter for you; a
    /// hand-written [`Isolate::handle`] calls this in the `match` arm of a request.
    /// It checks, at run time, that the request's declared reply type is `Q::Reply`: the one
    /// place the reply type is still checked at run time, because a hand-written `handle`
    /// names `Q` itself (generated handlers are typed end to end and skip the check). From
    /// here on the address is typed.
    pub fn take_reply<Q: Request>(&mut self) -> Option<ReplyTo<Q>> {
        if !self
            .core
            .request
            .is_some_and(|request| request.expects::<Q::Reply>())
        {
            return None;
        }
        self.core.request.take().map(|request| ReplyTo {
            request: Some(request),
            _request: PhantomData,
        })
    }

    /// The reply address for the request being handled, for the `ReplyTo<Q>` parameter of a
    /// generated request handler; an address that leads nowhere when the message arrived as
    /// a plain message (sent with `send`).
    ///
    /// Unlike [`Ctx::take_reply`] it does not check the reply type at run time: the generated
    /// dispatch calls it only in the arm of the variant that holds a `Q`, and a request
    /// reaches that variant only through `Ctx::call::<_, Q>` (or `System::call`), which
    /// declared `Q::Reply` as the reply type. (A mismatch could not be unsound anyway: the
    /// caller's decoder checks the payload's type and drops a reply of any other.)
    #[doc(hidden)]
    #[inline]
    pub fn reply_address<Q>(&mut self) -> ReplyTo<Q> {
        ReplyTo {
            request: self.core.request.take(),
            _request: PhantomData,
        }
    }

    /// Answers a request later, from another handler invocation than the one that received
    /// it (keep the [`ReplyTo<Q>`] in the state meanwhile). The caller may have timed out
    /// meanwhile: then the reply is dropped on arrival and counted as late, never delivered
    /// to a later call. A reply to a caller on this shard or outside the system is never
    /// refused here: one that finds its call over is counted as late.
    ///
    /// # Errors
    ///
    /// Refused, with nothing sent and the value handed back in the [`SendError`]:
    ///
    /// - [`SendErrorKind::Stale`]: the request was sent with `send`, not called, so nobody
    ///   waits for an answer (counted in `late_replies_dropped`).
    /// - [`SendErrorKind::ShardDown`], [`SendErrorKind::RingFull`]: the caller is on another
    ///   shard, and that shard is down or this tick's ring to it is full (counted as a
    ///   refused send).
    pub fn reply_to<Q: Request>(
        &mut self,
        to: ReplyTo<Q>,
        value: Q::Reply,
    ) -> Result<(), SendError<Q::Reply>> {
        let Some(request) = to.request else {
            self.core.counters.late_replies_dropped += 1;
            return Err(SendError {
                kind: SendErrorKind::Stale,
                message: value,
            });
        };
        if request.external {
            self.reply_outside(request, Payload::new(value));
            return Ok(());
        }
        if let Err(kind) = self.precheck_reply(request.caller) {
            self.core.count_refusal(kind, request.caller);
            return Err(SendError {
                kind,
                message: value,
            });
        }
        let caller = request.caller;
        let me = self.me;
        let make = || Envelope::reply(caller, me, request.correlation, Payload::new(value));
        if caller.shard() == self.core.shard {
            // Replies take the control reserve locally: nothing here can refuse them.
            self.core
                .accept_reply_with(caller, request.correlation, make);
        } else if !self.core.push_remote_with(caller.shard(), make) {
            unreachable_refusal(SendErrorKind::RingFull);
        }
        Ok(())
    }

    /// Hands a reply to a caller outside the system (see `crate::external`); a caller that
    /// gave up meanwhile makes it a late reply, dropped and counted.
    fn reply_outside(&mut self, request: RequestInfo, payload: Payload) {
        let outcome = crate::external::Outcome::Reply(payload);
        if self
            .core
            .external
            .settle(request.caller.slot(), request.correlation, outcome)
        {
            self.core.counters.external_replies += 1;
        } else {
            self.core.counters.late_replies_dropped += 1;
        }
    }

    /// Counts a bounce handed to this isolate's `undelivered` handler.
    pub(crate) fn count_bounce_handled(&mut self) {
        self.core.counters.bounces_handled += 1;
    }

    /// Counts a bounce that reached no handler.
    pub(crate) fn count_undelivered(&mut self, reason: SendErrorKind) {
        self.core.count_undelivered(reason);
    }

    /// Replies go through the control reserve locally, so only a remote route can refuse.
    fn precheck_reply(&mut self, caller: RawHandle) -> Result<(), SendErrorKind> {
        if caller.shard() == self.core.shard {
            return Ok(());
        }
        self.precheck(caller)
    }

    /// A transfer buffer of at least `len` bytes from this shard's pool (length 0, zeroed
    /// or holding an earlier owner's bytes: write before reading), from the smallest size
    /// class that fits and has a free block. Never allocates.
    ///
    /// The buffer is move-only and goes back to its pool when dropped — by this isolate, by
    /// whoever it was sent to, or by the teardown of a crashed owner (its state, its queued
    /// messages). Sent in a message to an isolate on this shard, only the handle moves. Sent
    /// to another shard, ownership is handed over: the receiver uses the same block and it
    /// returns to this shard's pool when dropped there (copy it into the receiver's own pool
    /// with [`Ctx::buffer_from`] if it is to live long there).
    ///
    /// # Errors
    ///
    /// - [`BufferError::TooLarge`](crate::BufferError::TooLarge): no size class of the boot
    ///   spec has blocks of `len` bytes or more (`largest` is the largest block, 0 when the
    ///   spec declares no class: see [`BootSpec::buffer_class`](crate::BootSpec::buffer_class)).
    /// - [`BufferError::Exhausted`](crate::BufferError::Exhausted): every block of every
    ///   class large enough is in use (counted as `buffers_refused`).
    pub fn buffer(&mut self, len: usize) -> Result<crate::Buffer, crate::BufferError> {
        let core = &mut *self.core;
        let mut fits = false;
        for pool in &core.buffers {
            if pool.block_size() < len {
                continue;
            }
            fits = true;
            if let Some(buffer) = pool.try_take() {
                core.counters.buffers_taken += 1;
                return Ok(buffer);
            }
        }
        if !fits {
            let largest = core.buffers.last().map_or(0, |pool| pool.block_size());
            return Err(crate::BufferError::TooLarge { largest });
        }
        core.counters.buffers_refused += 1;
        Err(crate::BufferError::Exhausted)
    }

    /// A transfer buffer from this shard's pool holding a copy of `bytes` (see
    /// [`Ctx::buffer`]): for bulk data to be kept, or a buffer from another shard to be
    /// copied into this one's pool.
    ///
    /// # Errors
    ///
    /// As [`Ctx::buffer`] for `bytes.len()`.
    pub fn buffer_from(&mut self, bytes: &[u8]) -> Result<crate::Buffer, crate::BufferError> {
        let mut buffer = self.buffer(bytes.len())?;
        let copied = buffer.try_extend_from_slice(bytes);
        debug_assert!(copied.is_ok(), "the class fits the bytes");
        Ok(buffer)
    }

    /// Whether the current message is a request whose reply address nobody has taken yet
    /// (see [`Ctx::take_reply`]). In a request handler generated by `#[isolate]` the address
    /// has already been taken — it is the handler's `ReplyTo` parameter — so this is `false`
    /// there.
    pub fn is_request(&self) -> bool {
        self.core.request.is_some()
    }
}

/// Every refusal is caught by the precheck; reaching this means the precheck and the route
/// disagree, which is a runtime bug.
#[cold]
fn unreachable_refusal(kind: SendErrorKind) -> ! {
    panic!("tina-runtime bug: send refused after its precheck passed ({kind})")
}

impl<I: Isolate> core::fmt::Debug for Ctx<'_, I> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("Ctx")
            .field("me", &self.me)
            .field("now", &self.core.now)
            .finish()
    }
}
