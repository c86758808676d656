//! Typed arenas: the isolate states of one type on one shard, and the dispatch loop.

use core::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::clock::Instant;
use crate::ctx::Ctx;
use crate::effect::Effect;
use tina_mailbox::Batch;

use crate::envelope::{Envelope, Kind, Payload};
use crate::handle::RawHandle;
use crate::isolate::{Isolate, Message};
use crate::shard::calls::CallIndex;
use crate::shard::core::{Core, Exit, RequestInfo, Status};
use crate::shard::keyed::Keyed;
use crate::shard::states::States;
use crate::supervision::crash::{self, CrashReport, Truncating};
use tina_mailbox::PoolIndex;

/// What the shard asks of an arena, without knowing its type.
pub(crate) trait ErasedArena: Any {
    /// Tells the arena its type's index in the boot spec.
    fn bind(&mut self, type_index: u16);
    /// Runs up to `budget` handler invocations of ready isolates; returns how many ran.
    fn run(&mut self, core: &mut Core, budget: usize) -> usize;
    /// Handles `first`, a plain message that just arrived from another shard for the idle
    /// isolate at slot-table index `global` (see `Core::idle_arrival_target`), straight from
    /// the ring, then the messages right behind it in `batch` for the same isolate while it
    /// keeps receiving — up to `budget` handler runs in all; returns how many ran.
    fn dispatch_arrivals(
        &mut self,
        core: &mut Core,
        global: usize,
        first: Envelope,
        batch: &mut Batch<'_, Envelope>,
        budget: usize,
    ) -> usize;
    /// Stores the init args a static child starts (and restarts) with; false if the payload
    /// does not hold this type's args.
    fn install_args(&mut self, slot: u32, payload: Payload) -> bool;
    /// Starts (or restarts) the isolate in `slot` by calling `init` directly with its kept
    /// args; no message, no pool slot. A panic in `init` is a crash like any other.
    fn start(&mut self, core: &mut Core, slot: u32) -> bool;
    /// Tears the isolate in `slot` down for its supervisor, keeping its args for a restart.
    fn stop(&mut self, core: &mut Core, slot: u32);
    /// Tears the isolate down, forgets its args and frees the slot.
    fn release(&mut self, core: &mut Core, slot: u32);
    /// Asks every isolate to shut down (their `shutdown` hooks run on their next dispatch).
    fn request_shutdown(&mut self, core: &mut Core);
    /// For inspection in simulation.
    fn as_any(&self) -> &dyn Any;
}

/// One input to a handler invocation.
enum Input<I: Isolate> {
    Init(I::Args),
    /// A message; for a request, its caller waits in `Core::request`.
    Message(I::Message),
    Resume,
    Shutdown,
    /// A bounce of a message this isolate sent: the pool slot of the bounced envelope
    /// (unlinked from the control queue, still allocated), freed by the dispatch. Kept in
    /// the pool rather than moved into the input, so `Input` stays small on the hot path.
    Bounce(PoolIndex),
    /// User code the runtime ran to prepare the input (a call decoder's `Accepts::wrap`)
    /// panicked: the isolate crashes, no handler runs. The reason waits in `Arena::fault`
    /// (out of the enum for the same reason as `Bounce`).
    Fault,
}

/// Where a batched dispatch takes the isolate's next ordinary messages from (a type
/// parameter, so each source gets its own inlined loop).
trait MoreMessages<I: Isolate> {
    fn next(&mut self, ctx: &mut Ctx<'_, I>, type_index: u16, slot: u32) -> Option<I::Message>;
}

/// The isolate's own mailbox.
struct FromMailbox;

impl<I: Isolate> MoreMessages<I> for FromMailbox {
    #[inline(always)]
    fn next(&mut self, ctx: &mut Ctx<'_, I>, type_index: u16, slot: u32) -> Option<I::Message> {
        ctx.next_plain_message(type_index, slot)
    }
}

/// The inbound ring batch the first message came from.
struct FromRing<'r, 'b>(&'r mut Batch<'b, Envelope>);

impl<I: Isolate> MoreMessages<I> for FromRing<'_, '_> {
    #[inline(always)]
    fn next(&mut self, ctx: &mut Ctx<'_, I>, type_index: u16, slot: u32) -> Option<I::Message> {
        ctx.next_arrival(type_index, slot, self.0)
    }
}

/// How a handler invocation ended, beyond its effect.
enum Ending {
    Continue,
    Done,
    Crash(heapless::String<{ crash::REASON_BYTES }>),
}

/// The states of isolate type `I` on one shard.
pub(crate) struct Arena<I: Isolate> {
    type_index: u16,
    states: States<I>,
    /// Init args kept for restarts, for supervised slots only.
    args: Keyed<I::Args>,
    /// The reason of the pending `Input::Fault`, set by `next_input`, taken by `dispatch`.
    fault: heapless::String<{ crash::REASON_BYTES }>,
}

impl<I: Isolate> Arena<I> {
    /// An arena of `slots` slots, able to keep the init args of `supervised` of them.
    pub(crate) fn try_new(slots: usize, supervised: usize) -> Result<Self, crate::memory::Refused> {
        Ok(Self {
            type_index: 0,
            states: States::try_new(slots)?,
            args: Keyed::try_with_capacity(supervised.min(slots))?,
            fault: heapless::String::new(),
        })
    }

    /// The state of the isolate in `slot`, if it is alive.
    pub(crate) fn state(&self, slot: u32) -> Option<&I> {
        self.states.get(slot)
    }

    fn global(&self, core: &Core, slot: u32) -> usize {
        core.types[self.type_index as usize].base + slot as usize
    }

    /// Picks the next input for a ready slot, in priority order: call outcome, shutdown,
    /// control queue (init, timers), resume after yield, mailbox. Expired requests are
    /// dropped here, before dispatch.
    fn next_input(&mut self, core: &mut Core, global: usize) -> Option<Input<I>> {
        let meta = &mut core.slots[global];
        if !meta.status.is_running() {
            return None;
        }
        if meta.call_settled {
            let (outcome, decoder) = core.calls.take_outcome(meta.call);
            meta.call = CallIndex::NONE;
            meta.call_settled = false;
            meta.parked = false;
            let Some(decoder) = decoder else {
                // An entry in use always has its decoder; free what the outcome holds.
                if let Some(index) = outcome.reply_index() {
                    drop(core.pool.take(index));
                }
                return None;
            };
            // SAFETY: a slot's `call` is set only by `Ctx::<I>::call` for a slot of its own
            // type, with a decoder made for that `I`, and this slot (`global`) belongs to
            // this arena's type `I`.
            let decoder = unsafe { decoder.get::<I>() };
            // The decoders call the isolate's `Accepts::wrap`, user code: inside the trap.
            let fault = &mut self.fault;
            let mut faulted = |panic| {
                *fault = crash::reason_of(panic);
                Input::Fault
            };
            if let Some(reason) = outcome.refusal() {
                return Some(match catch_unwind(|| (decoder.refused)(reason)) {
                    Ok(message) => Input::Message(message),
                    Err(panic) => faulted(panic),
                });
            }
            let mut timeout = || match catch_unwind(decoder.timeout) {
                Ok(message) => Input::Message(message),
                Err(panic) => faulted(panic),
            };
            let Some(index) = outcome.reply_index() else {
                return Some(timeout());
            };
            // Decoded where it lies, then the slot is freed (also after a panic in the
            // decoder): no envelope copy.
            let payload = &mut core.pool.get_mut(index).payload;
            let decoded = catch_unwind(AssertUnwindSafe(|| (decoder.reply)(payload)));
            core.pool.remove(index);
            return match decoded {
                Ok(Some(message)) => Some(Input::Message(message)),
                Ok(None) => {
                    core.counters.dropped_on_arrival += 1;
                    Some(timeout())
                }
                Err(panic) => Some(faulted(panic)),
            };
        }
        if meta.shutdown_pending && meta.status == Status::Live {
            meta.shutdown_pending = false;
            return Some(Input::Shutdown);
        }
        // Parked on a call: nothing but the call's outcome (or shutdown) runs it.
        if meta.parked {
            return None;
        }
        // Yielded: `resume` runs next tick, after its control envelopes, before messages.
        if meta.yielded {
            return None;
        }
        if let Some(index) = core.pool.pop_front(&mut meta.control) {
            let envelope = core.pool.get_mut(index);
            if envelope.bounced.is_some() {
                // The dispatch reads and frees the slot.
                return Some(Input::Bounce(index));
            }
            let input = match envelope.kind {
                Kind::Init => envelope.payload.take::<I::Args>().map(Input::Init),
                _ => envelope
                    .payload
                    .take::<I::Message>()
                    .map(|message| Input::Message(message)),
            };
            core.pool.remove(index);
            return input;
        }
        // After the control queue (fired timers, bounces), so an isolate that keeps
        // yielding still gets them; before any mailbox message.
        let meta = &mut core.slots[global];
        if meta.resume {
            meta.resume = false;
            return Some(Input::Resume);
        }
        if meta.status != Status::Live {
            return None;
        }
        // A request's deadline is checked against the clock as it is now, at dispatch —
        // earlier handlers of this tick may have run long. Plain messages need no reading.
        let front_is_request = core
            .pool
            .front(&core.slots[global].mailbox)
            .is_some_and(|index| {
                matches!(
                    core.pool.get(index).kind,
                    Kind::Request | Kind::ExternalRequest
                )
            });
        let now = if front_is_request {
            core.fresh_now()
        } else {
            core.now
        };
        let mailbox = &mut core.slots[global].mailbox;
        let current = &mut core.request;
        // Each envelope is read where it lies and its slot freed in place: no envelope copy.
        // A request's caller is written straight into `Core::request` (no copy through the
        // input: a fresh struct copied whole stalls on store forwarding).
        while let Some(read) = core.pool.dequeue_remove_with(mailbox, |envelope| {
            let is_request = matches!(envelope.kind, Kind::Request | Kind::ExternalRequest);
            if is_request && envelope.deadline_nanos < now {
                return Err(true);
            }
            let message = envelope.payload.take::<I::Message>().ok_or(false)?;
            if is_request {
                *current = Some(RequestInfo {
                    caller: envelope.from,
                    correlation: envelope.correlation,
                    reply_type: envelope.helper,
                    external: envelope.kind == Kind::ExternalRequest,
                });
            }
            Ok(message)
        }) {
            match read {
                Ok(message) => return Some(Input::Message(message)),
                Err(true) => core.counters.expired_requests_dropped += 1,
                Err(false) => {}
            }
        }
        None
    }

    /// Runs one handler invocation for `input`; when it is an ordinary message and the
    /// handler returns `Receive`, keeps handling the isolate's next ordinary messages in the
    /// same invocation context (up to `batch_room` more, stopping at anything of higher
    /// priority). Returns how many extra messages it handled.
    #[inline(always)]
    fn dispatch(
        &mut self,
        core: &mut Core,
        global: usize,
        slot: u32,
        input: Input<I>,
        batch_room: usize,
        more: impl MoreMessages<I>,
    ) -> usize {
        match input {
            // The hot path gets its own code, so the message and request travel in
            // registers rather than inside the `Input` enum.
            Input::Message(message) => {
                self.dispatch_message(core, global, slot, message, batch_room, more)
            }
            other => {
                self.dispatch_other(core, global, slot, other);
                0
            }
        }
    }

    /// [`Self::dispatch`] for a message (for a request, `Core::request` holds its caller).
    #[inline(always)]
    fn dispatch_message(
        &mut self,
        core: &mut Core,
        global: usize,
        slot: u32,
        message: I::Message,
        batch_room: usize,
        mut more: impl MoreMessages<I>,
    ) -> usize {
        let me = RawHandle::new(
            core.shard,
            self.type_index,
            slot,
            core.slots[global].generation,
        );
        let message_tag = core::cell::Cell::new(None);
        let batched = core::cell::Cell::new(0usize);
        let type_index = self.type_index;
        let mut state = self.states.slot_mut(slot);
        let is_request = core.request.is_some();
        #[cfg(feature = "tracing")]
        let span = tracing::trace_span!(
            target: "tina",
            "dispatch",
            shard = core.shard.0,
            r#type = I::NAME,
            slot,
            tag = tracing::field::Empty,
            batched = tracing::field::Empty,
        );
        #[cfg(feature = "tracing")]
        let _entered = span.enter();
        let mut ctx = Ctx::new(core, me, global);
        // The shard's tick holds a `DispatchGuard`, so panics here are recorded, not printed.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            // `Message::tag` is user code too (a hand-written `Message` impl): inside the trap.
            let tag = message.tag();
            #[cfg(feature = "tracing")]
            span.record("tag", tag);
            message_tag.set(Some(tag));
            ctx.record_dispatch(type_index, slot, u64::from(tag));
            ctx.maybe_inject_crash(type_index, false);
            match state.get_mut() {
                Some(state) => {
                    // 0, or the clock reading a sampled dispatch started at.
                    let sampled_at = ctx.sample_start();
                    let mut effect = state.handle(message, &mut ctx);
                    if sampled_at != 0 {
                        ctx.sample_end(type_index, sampled_at);
                    }
                    // Batch: no envelope, catch_unwind or context set-up per message.
                    if !is_request {
                        while effect == Effect::Receive && batched.get() < batch_room {
                            let Some(next) = more.next(&mut ctx, type_index, slot) else {
                                break;
                            };
                            batched.set(batched.get() + 1);
                            message_tag.set(Some(next.tag()));
                            ctx.maybe_inject_crash(type_index, false);
                            effect = state.handle(next, &mut ctx);
                        }
                    }
                    effect
                }
                None => Effect::Crash("message for an isolate without state"),
            }
        }));
        #[cfg(feature = "tracing")]
        span.record("batched", batched.get());
        self.settle(core, global, slot, me, outcome, message_tag.get());
        batched.get()
    }

    /// [`Self::dispatch`] for everything but a message: init, resume, shutdown, a bounce, or
    /// a fault met while preparing the input.
    #[inline(never)]
    fn dispatch_other(&mut self, core: &mut Core, global: usize, slot: u32, input: Input<I>) {
        let me = RawHandle::new(
            core.shard,
            self.type_index,
            slot,
            core.slots[global].generation,
        );
        if let Input::Fault = input {
            core.record_dispatch(self.type_index, slot, 4 << 16);
            let reason = core::mem::take(&mut self.fault);
            self.finish(core, global, slot, me, Ending::Crash(reason), None);
            return;
        }
        // A bounce leaves the pool before any user code runs (no slot outlives a panic).
        let bounce = match input {
            Input::Bounce(index) => {
                let envelope = core.pool.get_mut(index);
                let taken = (
                    core::mem::replace(&mut envelope.payload, Payload::empty()),
                    envelope.helper,
                    envelope.bounced,
                    envelope.target,
                );
                core.pool.remove(index);
                Some(taken)
            }
            _ => None,
        };
        let type_index = self.type_index;
        let mut state = self.states.slot_mut(slot);
        let kept_args = &mut self.args;
        // Only a supervised isolate can be restarted, so only its args are kept.
        let keep_args = matches!(input, Input::Init(_)) && core.group_of(global).is_some();
        #[cfg(feature = "tracing")]
        let _entered = tracing::trace_span!(
            target: "tina",
            "dispatch",
            shard = core.shard.0,
            r#type = I::NAME,
            slot,
            input = match &input {
                Input::Init(_) => "init",
                Input::Resume => "resume",
                Input::Shutdown => "shutdown",
                Input::Bounce(_) => "bounce",
                Input::Fault | Input::Message(..) => "fault",
            },
        )
        .entered();
        let mut ctx = Ctx::new(core, me, global);
        // The shard's tick holds a `DispatchGuard`, so panics here are recorded, not printed.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let trace_tag = match &input {
                Input::Init(_) => 1 << 16,
                Input::Resume => 2 << 16,
                Input::Shutdown => 3 << 16,
                Input::Fault => 4 << 16,
                Input::Bounce(_) => 5 << 16,
                Input::Message(..) => 6 << 16,
            };
            ctx.record_dispatch(type_index, slot, trace_tag);
            ctx.maybe_inject_crash(type_index, matches!(input, Input::Init(_)));
            match input {
                Input::Init(args) => {
                    // Keep the args before `init` runs, so a restart after a panic in
                    // `init` still has them.
                    if keep_args {
                        match kept_args.insert(slot, args) {
                            Ok(args) => state.set(I::init(args, &mut ctx)),
                            // The table has room for every supervised slot of the type.
                            Err(args) => state.set(I::init(&args, &mut ctx)),
                        }
                    } else {
                        state.set(I::init(&args, &mut ctx));
                    }
                    Effect::Receive
                }
                Input::Resume => match state.get_mut() {
                    Some(state) => state.resume(&mut ctx),
                    None => Effect::Receive,
                },
                Input::Shutdown => match state.get_mut() {
                    Some(state) => state.shutdown(&mut ctx),
                    None => Effect::Done,
                },
                Input::Bounce(_) => {
                    // `next_input` gives `Bounce` only for an envelope marked bounced.
                    let Some((mut payload, recover, Some(reason), to)) = bounce else {
                        return Effect::Receive;
                    };
                    // Turning the payload back into the sent value runs user code (the
                    // target's `Accepts::extract`): inside the trap, like the handler.
                    let recovered = recover.is_some_and(|recover| recover(&mut payload, None));
                    match (recovered, state.get_mut()) {
                        (true, Some(state)) => {
                            let bounce = crate::bounce::Bounce::new(payload, reason, to);
                            match state.undelivered(bounce, &mut ctx) {
                                Ok(effect) => {
                                    ctx.count_bounce_handled();
                                    effect
                                }
                                Err(bounce) => {
                                    ctx.count_undelivered(bounce.reason());
                                    Effect::Receive
                                }
                            }
                        }
                        _ => {
                            ctx.count_undelivered(reason);
                            Effect::Receive
                        }
                    }
                }
                // Routed to `dispatch_message`; handled before the trap.
                Input::Message(..) | Input::Fault => Effect::Crash("input fault"),
            }
        }));
        self.settle(core, global, slot, me, outcome, None);
    }

    /// Applies a handler invocation's outcome: the common cases — a live isolate that keeps
    /// receiving or has just made a call — need no more bookkeeping than parking the caller.
    #[inline(always)]
    fn settle(
        &mut self,
        core: &mut Core,
        global: usize,
        slot: u32,
        me: RawHandle,
        outcome: std::thread::Result<Effect>,
        message_tag: Option<u16>,
    ) {
        // A request left unanswered ends with its dispatch (its caller times out).
        core.request = None;
        if core.slots[global].status == Status::Live {
            match outcome {
                Ok(Effect::Receive | Effect::Reply(_)) => return,
                Ok(Effect::Call(_)) => {
                    let meta = &mut core.slots[global];
                    if meta.call.is_some() {
                        meta.parked = true;
                    }
                    return;
                }
                _ => {}
            }
        }
        let ending = self.apply(core, global, outcome);
        self.finish(core, global, slot, me, ending, message_tag);
    }

    /// Tears the isolate in `slot` down (see [`ErasedArena::stop`]); returns whether its
    /// state's `Drop` panicked (caught, counted and recorded as a crash report).
    fn stop_slot(&mut self, core: &mut Core, slot: u32) -> bool {
        let global = self.global(core, slot);
        let meta = &mut core.slots[global];
        if !meta.status.is_running() {
            return false;
        }
        if meta.status == Status::Starting
            && core.group_of(global).is_some()
            && !self.args.contains(slot)
        {
            // A supervised isolate torn down before its `init` ran (a sibling's one-for-all
            // or rest-for-one restart right after `spawn_child`): its args still wait in the
            // init envelope. Keep them, so its group can start it like any other child.
            let meta = &mut core.slots[global];
            let args = core
                .pool
                .pop_front_remove_with(&mut meta.control, |envelope| match envelope.kind {
                    Kind::Init => envelope.payload.take::<I::Args>(),
                    _ => None,
                })
                .flatten();
            if let Some(args) = args {
                // The table has room for every supervised slot of the type.
                let _ = self.args.insert(slot, args);
            }
        }
        let mut state = self.states.slot_mut(slot);
        let panicked = crash::caught(|| state.clear());
        core.teardown(global);
        if panicked {
            let mut reason = heapless::String::new();
            let mut writer = Truncating(&mut reason);
            let _ = core::fmt::Write::write_str(&mut writer, "in Drop of its state: ");
            let _ = core::fmt::Write::write_str(&mut writer, &crash::last_panic_message());
            let handle = RawHandle::new(
                core.shard,
                self.type_index,
                slot,
                // The incarnation that was torn down (teardown bumped the generation).
                core.slots[global].generation.wrapping_sub(1) & crate::handle::GENERATION_MASK,
            );
            Self::record_crash(core, handle, reason, None);
        }
        panicked
    }

    /// Counts a crash of `handle` and records its report in the shard's crash log.
    fn record_crash(
        core: &mut Core,
        handle: RawHandle,
        reason: heapless::String<{ crash::REASON_BYTES }>,
        message_tag: Option<u16>,
    ) {
        core.counters.crashed += 1;
        if let Some(record) = core.stats.types.get_mut(handle.type_index() as usize) {
            record.crashes += 1;
        }
        trace_event!(
            warn,
            shard = core.shard.0,
            r#type = I::NAME,
            isolate = %handle,
            reason = %reason,
            message_tag = ?message_tag,
            "isolate crashed"
        );
        let report = CrashReport {
            type_name: I::NAME,
            handle,
            reason: reason.into(),
            message_tag,
            at: Instant::from_nanos(core.now),
        };
        let shard = core.shard.0;
        core.crash_log.record(shard, report);
    }

    /// Forgets the init args kept for `slot`, dropping them inside the trap boundary.
    fn forget_args(&mut self, slot: u32) {
        if let Some(args) = self.args.remove(slot) {
            crash::drop_caught(args);
        }
    }

    /// Applies a handler's effect to the slot; returns whether the isolate ends.
    fn apply(
        &mut self,
        core: &mut Core,
        global: usize,
        outcome: std::thread::Result<Effect>,
    ) -> Ending {
        match outcome {
            Ok(Effect::Receive) | Ok(Effect::Reply(_)) => Ending::Continue,
            Ok(Effect::Yield) => {
                let meta = &mut core.slots[global];
                let already_deferred = meta.yielded;
                meta.yielded = true;
                if !already_deferred {
                    // One entry per slot at most (teardown removes a stale one): the capacity
                    // (one per slot) holds.
                    debug_assert!(
                        core.deferred.len() < core.slots.len(),
                        "a slot is deferred at most once per tick"
                    );
                    core.deferred.push(global as u32);
                }
                Ending::Continue
            }
            Ok(Effect::Call(_)) => {
                let meta = &mut core.slots[global];
                if meta.call.is_some() {
                    meta.parked = true;
                }
                Ending::Continue
            }
            Ok(Effect::Done) => Ending::Done,
            Ok(Effect::Crash(reason)) => {
                let mut text = heapless::String::new();
                let _ = core::fmt::Write::write_str(&mut Truncating(&mut text), reason);
                Ending::Crash(text)
            }
            Err(panic) => Ending::Crash(crash::reason_of(panic)),
        }
    }

    /// Marks a successful start live, or tears an ending isolate down and reports its exit.
    fn finish(
        &mut self,
        core: &mut Core,
        global: usize,
        slot: u32,
        me: RawHandle,
        ending: Ending,
        message_tag: Option<u16>,
    ) {
        let crashed = match ending {
            Ending::Continue => {
                let meta = &mut core.slots[global];
                if meta.status == Status::Starting && self.states.contains(slot) {
                    meta.status = Status::Live;
                    core.counters.live_isolates += 1;
                    core.counters.spawned += 1;
                }
                return;
            }
            Ending::Done => false,
            Ending::Crash(reason) => {
                Self::record_crash(core, me, reason, message_tag);
                true
            }
        };
        if !crashed {
            core.counters.exited += 1;
        }
        // A state whose `Drop` panics turns a clean exit into a crash (as a failing
        // `terminate` does in Erlang): its restart type judges it as one.
        let drop_panicked = self.stop_slot(core, slot);
        let crashed = crashed || drop_panicked;
        if core.group_of(global).is_none() {
            self.forget_args(slot);
            core.free_slot(global);
        } else {
            core.exits.push_back(Exit::new(global, crashed));
        }
    }
}

impl<I: Isolate> ErasedArena for Arena<I> {
    fn bind(&mut self, type_index: u16) {
        self.type_index = type_index;
    }

    fn run(&mut self, core: &mut Core, budget: usize) -> usize {
        let type_index = self.type_index as usize;
        let base = core.types[type_index].base;
        let mut dispatched = 0;
        // Every pop either dispatches or takes the slot off the queue (a slot is re-queued
        // only with work `next_input` will find); the cap is a second line of defence.
        let mut pops_left = 4 * budget + core.types[type_index].slots;
        // The deepest mailbox met (noted once, after the loop).
        let mut deepest = 0;
        while dispatched < budget && pops_left > 0 {
            pops_left -= 1;
            let Some(slot) = core.ready[type_index].pop_front() else {
                break;
            };
            let global = base + slot as usize;
            core.slots[global].ready = false;
            // A mailbox is deepest when its isolate's dispatch begins: it grows only while
            // the isolate is not running.
            deepest = deepest.max(core.slots[global].mailbox.len());
            if let Some(input) = self.next_input(core, global) {
                dispatched += 1;
                dispatched +=
                    self.dispatch(core, global, slot, input, budget - dispatched, FromMailbox);
            }
            if core.has_work(global) {
                core.mark_ready(self.type_index, slot);
            }
        }
        core.stats.note_depth(self.type_index, deepest);
        dispatched
    }

    fn dispatch_arrivals(
        &mut self,
        core: &mut Core,
        global: usize,
        mut first: Envelope,
        batch: &mut Batch<'_, Envelope>,
        budget: usize,
    ) -> usize {
        let slot = (global - core.types[self.type_index as usize].base) as u32;
        let Some(message) = first.payload.take::<I::Message>() else {
            core.counters.dropped_on_arrival += 1;
            return 0;
        };
        let ran = 1 + self.dispatch_message(
            core,
            global,
            slot,
            message,
            budget.saturating_sub(1),
            FromRing(batch),
        );
        if core.has_work(global) {
            core.mark_ready(self.type_index, slot);
        }
        ran
    }

    fn install_args(&mut self, slot: u32, mut payload: Payload) -> bool {
        match payload.take::<I::Args>() {
            Some(args) => self.args.insert(slot, args).is_ok(),
            None => false,
        }
    }

    fn start(&mut self, core: &mut Core, slot: u32) -> bool {
        let global = self.global(core, slot);
        if !self.args.contains(slot) || core.slots[global].status.is_running() {
            return false;
        }
        core.slots[global].status = Status::Starting;
        let me = RawHandle::new(
            core.shard,
            self.type_index,
            slot,
            core.slots[global].generation,
        );
        core.record_dispatch(self.type_index, slot, 1 << 16);
        if let Some(record) = core.stats.types.get_mut(self.type_index as usize) {
            record.calls += 1;
        }
        let type_index = self.type_index;
        let mut state = self.states.slot_mut(slot);
        let args = self.args.get(slot);
        #[cfg(feature = "tracing")]
        let _entered = tracing::trace_span!(
            target: "tina",
            "dispatch",
            shard = core.shard.0,
            r#type = I::NAME,
            slot,
            input = "init",
        )
        .entered();
        let mut ctx = Ctx::new(core, me, global);
        let outcome = crash::in_dispatch(|| {
            catch_unwind(AssertUnwindSafe(|| {
                ctx.maybe_inject_crash(type_index, true);
                if let Some(args) = args {
                    state.set(I::init(args, &mut ctx));
                }
                Effect::Receive
            }))
        });
        let ending = self.apply(core, global, outcome);
        self.finish(core, global, slot, me, ending, None);
        if core.has_work(global) {
            core.mark_ready(self.type_index, slot);
        }
        true
    }

    fn stop(&mut self, core: &mut Core, slot: u32) {
        self.stop_slot(core, slot);
    }

    fn release(&mut self, core: &mut Core, slot: u32) {
        self.stop_slot(core, slot);
        self.forget_args(slot);
        let global = self.global(core, slot);
        core.free_slot(global);
    }

    fn request_shutdown(&mut self, core: &mut Core) {
        let base = core.types[self.type_index as usize].base;
        for slot in 0..self.states.len() {
            if self.states.contains(slot as u32) {
                core.slots[base + slot].shutdown_pending = true;
                core.mark_ready(self.type_index, slot as u32);
            }
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
