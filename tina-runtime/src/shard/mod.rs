//! Shards: one per core, owning every isolate placed on it, sharing nothing.
//!
//! A shard is a [`Core`](core::Core) (pool, slots, timers, rings, counters) plus one typed
//! [`Arena`](arena::Arena) per isolate type. [`Shard::tick`] runs the fixed order every tick
//! in both modes — drain inbound rings, dispatch by type with a per-type budget, flush
//! outbound rings (one release store per ring), fire due timers — and the two drivers differ
//! only in who calls it: a pinned OS thread ([`crate::System`]) or the simulator
//! ([`crate::Simulation`]).

pub(crate) mod arena;
pub(crate) mod calls;
pub(crate) mod core;
pub(crate) mod fifo;
pub(crate) mod keyed;
pub(crate) mod states;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};

use tina_mailbox::{Consumer, List, Pool, Queue, Ring};

use crate::counters::Counters;
use crate::envelope::{Envelope, Payload};
use crate::handle::ShardId;
use crate::isolate::MAILBOX_MAX;
use crate::shard::arena::ErasedArena;
use crate::shard::core::{Core, Membership, Signals, SlotMeta, Status, TypeInfo};
use crate::spec::{BootSpec, ChildSpec, TypeEntry};
use crate::supervision::crash::CrashLog;
use crate::supervision::tree::{Child, Group};
use crate::supervision::{OverloadPolicy, Strategy};
use crate::timer::Timers;

/// Envelopes taken from an inbound ring per acquire/release pair.
const DRAIN_CHUNK: usize = 64;

/// Dispatch passes per tick at most (see [`Shard::tick`]).
pub(crate) const DISPATCH_PASSES: usize = 8;

/// One shard: the core, the typed arenas, the inbound rings and the supervision tree.
pub(crate) struct Shard {
    pub(crate) core: Core,
    pub(crate) arenas: Vec<Box<dyn ErasedArena>>,
    /// The consuming half of the ring from each other shard.
    pub(crate) inbound: Vec<Consumer<Envelope>>,
    /// The consuming half of the bounce ring from each other shard (same order as
    /// `inbound`).
    pub(crate) bounce_in: Vec<Consumer<Envelope>>,
    /// The consuming half of the ingress queue (envelopes from outside the system).
    pub(crate) ingress: Consumer<Envelope>,
    pub(crate) dispatch_budget: usize,
    /// What is left of each type's budget in the current tick (one entry per arena).
    budget_left: Vec<usize>,
    /// Most envelopes drained from one ring per tick (its capacity).
    pub(crate) drain_max: usize,
    pub(crate) shutdown_started: bool,
    pub(crate) policy: OverloadPolicy,
    /// The root group went over budget: nothing is dispatched until a revive.
    pub(crate) quarantined: bool,
}

impl Shard {
    /// Runs one tick in the fixed order; returns how much work it did (envelopes drained,
    /// handlers run, timers fired). `core.now` must be set by the caller.
    pub(crate) fn tick(&mut self) -> usize {
        let mut work = 0;
        self.core.resume_yielded();
        // 0. Bounces back from peers, then envelopes from outside the system. A bounce may
        //    need one ordinary pool slot (for its sender's control queue; the control
        //    reserve stays for timers, replies and spawns): take no more than the ordinary
        //    region has room for; the rest wait in the bounce ring — their reserved capacity
        //    — which slows that peer's drain of our messages, and so our sends to it, down
        //    to `RingFull`.
        for ring in 0..self.bounce_in.len() {
            if self.bounce_in[ring].is_empty() {
                continue;
            }
            let core = &mut self.core;
            let room = core.pool.ordinary_free().min(self.drain_max);
            let taken = self.bounce_in[ring].drain(room, |envelope| core.accept_bounce(envelope));
            core.counters.bounces_received += taken as u64;
            work += taken;
        }
        {
            let core = &mut self.core;
            let taken = self
                .ingress
                .drain(self.drain_max, |envelope| core.deliver_inbound(envelope));
            core.counters.ingress_accepted += taken as u64;
            work += taken;
        }
        // 1. Drain inbound rings. An arriving message whose target is idle — nothing queued,
        //    not parked, not yielded, within its type's budget — is handled straight from the
        //    ring (with the messages right behind it for the same target), never copied into
        //    the pool; anything else is delivered to the target's mailbox as usual. Each type's
        //    budget covers both paths for the whole tick.
        self.budget_left.fill(self.dispatch_budget);
        let in_dispatch = (!self.quarantined).then(crate::supervision::crash::DispatchGuard::enter);
        for ring in 0..self.inbound.len() {
            // Most rings are empty on most ticks: one acquire load says so.
            if self.inbound[ring].is_empty() {
                continue;
            }
            // The ring's sender: rings are ordered by peer, skipping this shard.
            let peer = if ring < self.core.shard.index() {
                ring
            } else {
                ring + 1
            };
            // In chunks, each with its own acquire load and release store: the sender can
            // refill the slots of one chunk while the next is being handled.
            let mut left = self.drain_max;
            while left > 0 {
                let core = &mut self.core;
                // Every envelope taken may bounce: take no more than the bounce ring back to
                // the sender has room for, so a bounce always finds room. (Without
                // refusals the room stays whole and this never binds.)
                let bounce_room = core.bounce_out[peer]
                    .as_mut()
                    .map_or(0, |producer| producer.free_slots());
                let chunk = left.min(DRAIN_CHUNK).min(bounce_room);
                if chunk == 0 {
                    break;
                }
                let mut batch = self.inbound[ring].batch(chunk);
                let size = batch.len();
                if self.quarantined {
                    // A quarantined shard refuses everything; senders were told `ShardDown`
                    // from the moment it went down, so only envelopes already in flight
                    // land here, and go back to their senders.
                    while let Some(envelope) = batch.pop() {
                        core.refuse_arrival(envelope, crate::error::SendErrorKind::ShardDown);
                    }
                }
                while let Some(envelope) = batch.pop() {
                    let direct = core
                        .idle_arrival_target(&envelope)
                        .filter(|&(type_index, _)| self.budget_left[type_index as usize] > 0);
                    match direct {
                        Some((type_index, global)) => {
                            let budget = &mut self.budget_left[type_index as usize];
                            let ran = self.arenas[type_index as usize]
                                .dispatch_arrivals(core, global, envelope, &mut batch, *budget);
                            *budget -= ran.min(*budget);
                            core.stats.types[type_index as usize].calls += ran as u64;
                            if !core.exits.is_empty() {
                                // Let the supervisor act before anything else runs, as it
                                // does after each type in the dispatch phase.
                                break;
                            }
                        }
                        None => core.deliver_inbound(envelope),
                    }
                }
                let taken = batch.taken();
                drop(batch);
                self.core.counters.received_remote += taken as u64;
                work += taken;
                left -= taken;
                if !self.core.exits.is_empty() {
                    self.supervise();
                    continue;
                }
                if size < chunk {
                    break;
                }
            }
        }
        drop(in_dispatch);
        // 2. I/O: readiness from the kernel (no waiting), and what it allows — reads into
        //    fresh buffers, accepts, connects, writes — reported as `IoEvent`s through the
        //    control queues, dispatched below.
        work += self.core.poll_io();
        // 3. Dispatch, type by type, each within its budget; exits are handled by the
        //    supervision tree right after the type that produced them. Work a later type
        //    hands back to an earlier one (a reply to its caller, say) runs in a further pass
        //    of the same tick, up to `DISPATCH_PASSES` passes, each type still within its one
        //    budget per tick: a short exchange does not pay for a whole tick (clock reading,
        //    ring drains and flushes) per message.
        if !self.quarantined {
            let _in_dispatch = crate::supervision::crash::DispatchGuard::enter();
            for _pass in 0..DISPATCH_PASSES {
                let mut pass_work = 0;
                for index in 0..self.arenas.len() {
                    let budget = self.budget_left[index];
                    if budget == 0 {
                        continue;
                    }
                    let ran = self.arenas[index].run(&mut self.core, budget);
                    self.budget_left[index] = budget - ran.min(budget);
                    self.core.stats.types[index].calls += ran as u64;
                    pass_work += ran;
                    if !self.core.exits.is_empty() {
                        self.supervise();
                    }
                }
                work += pass_work;
                if pass_work == 0 {
                    break;
                }
            }
        }
        // 4. Flush outbound rings: one release store per ring written this tick. Publishing
        //    counts as work, so a simulation is never judged quiescent with envelopes in a ring.
        work += self.core.flush();
        work += self.core.flush_io();
        // 5. Advance timers, by the clock as it is now (handlers may have run for a while).
        //    Timers set this tick are staged; they join the queue first.
        self.core.fresh_now();
        self.core.commit_timers();
        work += self.core.fire_timers();
        self.core.counters.ticks += 1;
        self.core.counters.drop_panics += crate::supervision::crash::take_drop_panics();
        work
    }

    /// Asks every isolate to shut down (once).
    pub(crate) fn begin_shutdown(&mut self) {
        if !self.shutdown_started {
            self.shutdown_started = true;
            for arena in &mut self.arenas {
                arena.request_shutdown(&mut self.core);
            }
        }
    }

    /// Whether no isolate is alive or starting.
    pub(crate) fn is_empty(&self) -> bool {
        self.core.slots.iter().all(|meta| !meta.status.is_running())
    }

    /// Tears every isolate down at once.
    pub(crate) fn teardown_all(&mut self) {
        for global in 0..self.core.slots.len() {
            if self.core.slots[global].status.is_running() {
                let (type_index, slot) = self.core.locate(global);
                self.arenas[type_index as usize].stop(&mut self.core, slot);
            }
        }
        self.core.exits.clear();
        self.core.counters.drop_panics += crate::supervision::crash::take_drop_panics();
    }

    /// Whether any inbound ring has published items (checked before sleeping).
    pub(crate) fn inbound_pending(&mut self) -> bool {
        self.inbound.iter_mut().any(|consumer| !consumer.is_empty())
            || self
                .bounce_in
                .iter_mut()
                .any(|consumer| !consumer.is_empty())
            || !self.ingress.is_empty()
    }

    /// Makes the current counters visible to other threads.
    pub(crate) fn publish_counters(&self) {
        self.core.signals[self.core.shard.index()]
            .counters
            .publish(&self.core.counters);
    }

    pub(crate) fn counters(&self) -> Counters {
        self.core.counters
    }

    /// What tells whether the statistics changed since they were last published.
    pub(crate) fn stats_activity(&self) -> u64 {
        let counters = &self.core.counters;
        counters
            .dispatched
            .wrapping_add(counters.received_remote)
            .wrapping_add(counters.bounces_received)
            .wrapping_add(counters.io_events)
            .wrapping_add(counters.ingress_accepted)
            .wrapping_add(counters.quarantines)
    }

    /// Publishes the shard's live statistics (see `crate::stats`).
    pub(crate) fn publish_stats(&mut self) {
        let activity = self.stats_activity();
        let core = &mut self.core;
        let view = crate::stats::ShardView {
            now: core.now,
            counters: &core.counters,
            activity,
            slots: &core.slots,
            types: &core.types,
            rings: &mut core.outbound,
            ring_capacity: self.drain_max as u64,
            pool_used: (core.pool.capacity() - core.pool.free()) as u64,
            pool_capacity: core.pool.capacity() as u64,
            buffers: &core.buffers,
            connections: core.io.as_ref().map_or(0, |io| io.open() as u64),
            timers_pending: core.timers.pending() as u64,
            calls_outstanding: core.calls.outstanding() as u64,
            quarantined: self.quarantined,
        };
        core.stats.publish(view);
    }

    /// Marks the shard asleep and re-checks the rings; returns whether it may sleep.
    pub(crate) fn prepare_to_sleep(&mut self) -> bool {
        let signals = &self.core.signals[self.core.shard.index()];
        signals.sleeping.store(true, Ordering::Relaxed);
        // Pairs with the fence in `Core::flush`: either a peer sees `sleeping` and wakes us,
        // or we see its published items here and stay awake.
        fence(Ordering::SeqCst);
        if self.inbound_pending() {
            self.core.signals[self.core.shard.index()]
                .sleeping
                .store(false, Ordering::Relaxed);
            return false;
        }
        true
    }

    pub(crate) fn woke(&self) {
        self.core.signals[self.core.shard.index()]
            .sleeping
            .store(false, Ordering::Relaxed);
    }
}

/// A shard before its arenas exist: everything that can be built on the booting thread and
/// sent to the shard's own thread (isolate states never cross threads).
pub(crate) struct ShardSeed {
    core: Core,
    inbound: Vec<Consumer<Envelope>>,
    bounce_in: Vec<Consumer<Envelope>>,
    ingress: Consumer<Envelope>,
    dispatch_budget: usize,
    drain_max: usize,
    types: Vec<TypeEntry>,
    groups: Vec<Group>,
    policy: OverloadPolicy,
    /// Init args of the static children: (type index, slot, args).
    static_args: Vec<(u16, u32, Payload)>,
    /// How many slots of the shard can be supervised at once (static children and every
    /// group's room for dynamic ones): the bound of the tables that only they need.
    supervised: usize,
    /// The block size of the class reads land in (`None`: the largest).
    read_block: Option<usize>,
}

impl ShardSeed {
    /// The pool reads land in: the class `read_block` names, or the largest.
    fn read_pool(&self) -> Option<Arc<tina_mailbox::BufferPool>> {
        match self.read_block {
            Some(block) => self
                .core
                .buffers
                .iter()
                .find(|pool| pool.block_size() == block)
                .cloned(),
            None => self.core.buffers.last().cloned(),
        }
    }

    /// Gives the shard a reactor with `sockets` entries (reads land in the largest buffer
    /// class) and its declared listeners; returns the waker peers use while it sleeps.
    pub(crate) fn attach_io(
        &mut self,
        sockets: usize,
        listeners: Vec<crate::io::ListenerSpec>,
        listener_addrs: &[std::net::SocketAddr],
    ) -> std::io::Result<mio::Waker> {
        let read_pool = self.read_pool();
        let mut io =
            crate::io::Io::new(self.core.shard.0, sockets, self.core.slots.len(), read_pool)?;
        for listener in listeners {
            io.add_listener(listener)?;
        }
        io.listener_addrs = listener_addrs.to_vec();
        let waker = io.waker()?;
        self.core.io = Some(Box::new(io));
        Ok(waker)
    }

    /// Gives the shard a reactor on the simulated network `net` with `sockets` entries,
    /// serving its share of the spec's declared listeners (`listeners`: per declaration,
    /// the simulated listener this shard serves it with, if it does).
    pub(crate) fn attach_simulated_io(
        &mut self,
        spec: &crate::BootSpec,
        sockets: usize,
        net: Arc<std::sync::Mutex<crate::io::SimNet>>,
        rng: crate::sim::Rng,
        listeners: &[Option<u32>],
        listener_addrs: &[std::net::SocketAddr],
    ) -> std::io::Result<()> {
        let read_pool = self.read_pool();
        let mut io = crate::io::Io::simulated(
            self.core.shard.0,
            sockets,
            self.core.slots.len(),
            read_pool,
            net,
            rng,
        );
        for (declared, listener) in spec.listeners.iter().zip(listeners) {
            if let Some(listener) = listener {
                let (type_index, bound) = crate::io::type_and_bound(spec, declared);
                io.add_simulated_listener(*listener, declared, type_index, bound)?;
            }
        }
        io.listener_addrs = listener_addrs.to_vec();
        self.core.io = Some(Box::new(io));
        Ok(())
    }

    /// The shard's transfer-buffer pools (shared handles, for accounting from outside).
    pub(crate) fn buffer_pools(&self) -> Vec<Arc<tina_mailbox::BufferPool>> {
        self.core.buffers.clone()
    }

    /// Builds the typed arenas on the thread that will run the shard, and starts the static
    /// supervision tree in declared order (`init` runs here, at time `now`).
    ///
    /// # Errors
    ///
    /// [`SpecError::OutOfMemory`](crate::SpecError::OutOfMemory) when the allocator refuses
    /// an arena; nothing has started then.
    pub(crate) fn grow(
        self,
        now: u64,
        clock: Option<crate::clock::Clock>,
        tracing: bool,
    ) -> Result<Shard, crate::SpecError> {
        let mut arenas = Vec::with_capacity(self.types.len());
        for (type_index, entry) in self.types.iter().enumerate() {
            let mut arena =
                (entry.make_arena)(entry.slots, self.supervised).map_err(out_of_memory(
                    self.core.shard.index(),
                    "the states of an isolate type (its slot count)",
                ))?;
            arena.bind(type_index as u16);
            arenas.push(arena);
        }
        let mut core = self.core;
        core.groups = self.groups;
        let mut shard = Shard {
            core,
            arenas,
            inbound: self.inbound,
            bounce_in: self.bounce_in,
            ingress: self.ingress,
            dispatch_budget: self.dispatch_budget,
            budget_left: vec![0; self.types.len()],
            drain_max: self.drain_max,
            shutdown_started: false,
            policy: self.policy,
            quarantined: false,
        };
        for (type_index, slot, payload) in self.static_args {
            let installed = shard.arenas[type_index as usize].install_args(slot, payload);
            assert!(installed, "static child args match their isolate type");
        }
        shard.core.set_now(now);
        shard.core.stats.timing = clock.is_some();
        shard.core.clock = clock;
        shard.core.tracing = tracing;
        shard.start_group(0);
        shard.supervise();
        // Calls made by `init` at boot have their timeouts scheduled before the first tick.
        shard.core.commit_timers();
        Ok(shard)
    }
}

/// Builds every shard of a validated spec: arenas, pools, slot tables, and one ring per
/// ordered pair of shards; starts the root isolates (their `init` runs on the first tick).
/// This is where the system allocates; after it returns, the steady state does not.
/// One ring per ordered pair of shards: `(producers[from][to], consumers[to][by from])`.
type RingMatrix = (
    Vec<Vec<Option<tina_mailbox::Producer<Envelope>>>>,
    Vec<Vec<Consumer<Envelope>>>,
);

/// A refused boot allocation on `shard`: the spec error that reports it.
pub(crate) fn out_of_memory(
    shard: usize,
    what: &'static str,
) -> impl FnOnce(crate::memory::Refused) -> crate::SpecError {
    move |refused| crate::SpecError::OutOfMemory {
        shard: ShardId(shard as u16),
        what,
        bytes: refused.bytes,
    }
}

/// A ring of `capacity` envelopes for `shard`, or the spec error of a refused allocation.
fn try_ring(
    shard: usize,
    capacity: usize,
    what: &'static str,
) -> Result<Ring<Envelope>, crate::SpecError> {
    Ring::try_new(capacity)
        .map_err(|_| crate::memory::Refused::of::<Envelope>(capacity))
        .map_err(out_of_memory(shard, what))
}

fn ring_matrix(
    shard_count: usize,
    capacity: usize,
    what: &'static str,
) -> Result<RingMatrix, crate::SpecError> {
    let mut producers: Vec<Vec<Option<tina_mailbox::Producer<Envelope>>>> = (0..shard_count)
        .map(|_| (0..shard_count).map(|_| None).collect())
        .collect();
    let mut consumers: Vec<Vec<Consumer<Envelope>>> =
        (0..shard_count).map(|_| Vec::new()).collect();
    for (from, row) in producers.iter_mut().enumerate() {
        for (to, slot) in row.iter_mut().enumerate() {
            if from != to {
                let (producer, consumer) = try_ring(to, capacity, what)?.split();
                *slot = Some(producer);
                consumers[to].push(consumer);
            }
        }
    }
    Ok((producers, consumers))
}

/// Per shard, the two halves of its ingress queue.
pub(crate) type IngressQueues = (
    Vec<tina_mailbox::Producer<Envelope>>,
    Vec<Consumer<Envelope>>,
);

/// The ingress queue of each shard: producers for [`Signals`], consumers for the shards.
pub(crate) fn ingress_queues(spec: &BootSpec) -> Result<IngressQueues, crate::SpecError> {
    let mut producers = Vec::with_capacity(spec.shards);
    let mut consumers = Vec::with_capacity(spec.shards);
    for shard in 0..spec.shards {
        let (producer, consumer) = try_ring(
            shard,
            spec.ingress_capacity,
            "the ingress queue (ingress_capacity)",
        )?
        .split();
        producers.push(producer);
        consumers.push(consumer);
    }
    Ok((producers, consumers))
}

pub(crate) fn build_shards(
    spec: &BootSpec,
    signals: Arc<[Signals]>,
    ingress: Vec<Consumer<Envelope>>,
    external: Arc<crate::external::ExternalCalls>,
    stats: &Arc<crate::stats::Shared>,
) -> Result<Vec<ShardSeed>, crate::SpecError> {
    let shard_count = spec.shards;
    let (producers, consumers) = ring_matrix(
        shard_count,
        spec.ring_capacity,
        "the rings between shards (ring_capacity)",
    )?;
    // Bounce rings are as large as the data rings: a shard takes from a peer's ring only
    // what the bounce ring back has room for, so equal sizes never slow the drain while
    // nothing is refused.
    let (bounce_producers, bounce_consumers) = ring_matrix(
        shard_count,
        spec.ring_capacity,
        "the bounce rings between shards (ring_capacity)",
    )?;
    crate::supervision::crash::install_panic_hook();
    let mut shards = Vec::with_capacity(shard_count);
    let rings = producers
        .into_iter()
        .zip(consumers)
        .zip(bounce_producers.into_iter().zip(bounce_consumers))
        .zip(ingress);
    for (index, (((outbound, inbound), (bounce_out, bounce_in)), ingress)) in rings.enumerate() {
        let oom = |what| out_of_memory(index, what);
        let mut types = Vec::with_capacity(spec.types.len());
        let slot_total: usize = spec.types.iter().map(|entry| entry.slots).sum();
        let mut slots =
            crate::memory::try_vec(slot_total).map_err(oom("the slot table (isolate slots)"))?;
        let mut ready = Vec::with_capacity(spec.types.len());
        for entry in &spec.types {
            types.push(TypeInfo {
                type_id: entry.type_id,
                base: slots.len(),
                slots: entry.slots,
                handles_undelivered: entry.handles_undelivered,
            });
            let mailbox = entry.mailbox.min(MAILBOX_MAX) as u32;
            slots.extend((0..entry.slots).map(|_| SlotMeta {
                generation: 0,
                status: Status::Free,
                ready: false,
                parked: false,
                yielded: false,
                resume: false,
                shutdown_pending: false,
                mailbox: Queue::new(mailbox),
                control: List::new(),
                call: calls::CallIndex::NONE,
                call_settled: false,
            }));
            ready.push(
                fifo::SlotFifo::try_with_capacity(entry.slots)
                    .map_err(oom("the ready queues (isolate slots)"))?,
            );
        }
        let slot_count = slots.len();
        let supervised = spec.supervised_capacity(ShardId(index as u16));
        let mut core = Core {
            shard: ShardId(index as u16),
            shard_count,
            now: 0,
            clock: None,
            clock_mark: 0,
            request: None,
            coarse_mark: None,
            pool: {
                let reserved = spec.control_reserve + spec.timer_slots;
                Pool::try_new(spec.pool_slots, reserved)
                    .map_err(|_| {
                        crate::memory::Refused::of::<Option<Envelope>>(spec.pool_slots + reserved)
                    })
                    .map_err(oom(
                        "the envelope pool (pool_slots, control_reserve, timer_slots)",
                    ))?
            },
            types,
            slots,
            // Built below, once the static children have their slots.
            free_heads: vec![None; spec.types.len()],
            ready,
            outbound,
            bounce_out,
            signals: signals.clone(),
            timers: Timers::try_new(spec.timer_slots, slot_count)
                .map_err(oom("the timer queue (timer_slots)"))?,
            calls: calls::Calls::try_new(spec.call_capacity())
                .map_err(oom("the call table (call slots of the isolate types)"))?,
            external: external.clone(),
            buffers: {
                let mut classes = spec.buffer_classes.clone();
                classes.sort_unstable();
                let mut pools = Vec::with_capacity(classes.len());
                for (block_size, blocks) in classes {
                    let pool = tina_mailbox::BufferPool::try_new(block_size, blocks)
                        .map_err(|_| crate::memory::Refused {
                            bytes: block_size.saturating_mul(blocks),
                        })
                        .map_err(oom("a transfer-buffer class (buffer_class)"))?;
                    pools.push(pool);
                }
                pools
            },
            counters: Counters::default(),
            trace: 0xcbf2_9ce4_8422_2325,
            tracing: false,
            next_correlation: 0,
            membership: keyed::Keyed::try_with_capacity(supervised)
                .map_err(oom("the supervision tables (supervised slots)"))?,
            exits: crate::memory::try_deque(supervised)
                .map_err(oom("the supervision tables (supervised slots)"))?,
            crash_log: CrashLog::new(spec.print_crashes),
            groups: Vec::new(),
            deferred: crate::memory::try_vec(slot_count)
                .map_err(oom("the deferred-work list (isolate slots)"))?,
            io: None,
            sim: None,
            stats: crate::stats::Recorder::new(stats.clone(), index),
        };
        let (groups, static_args) = build_tree(spec, ShardId(index as u16), &mut core);
        // Every slot the tree did not take goes on its type's free list, highest first, so
        // the lowest slots are handed out first.
        for type_index in 0..core.types.len() {
            let (base, count) = (core.types[type_index].base, core.types[type_index].slots);
            for slot in (0..count as u32).rev() {
                if core.slots[base + slot as usize].status == Status::Free {
                    core.push_free(type_index as u16, slot);
                }
            }
        }
        shards.push(ShardSeed {
            core,
            inbound,
            bounce_in,
            ingress,
            dispatch_budget: spec.dispatch_budget,
            drain_max: spec.ring_capacity,
            types: spec.types.clone(),
            groups,
            policy: spec.overload_policy,
            static_args,
            supervised,
            read_block: spec.read_block,
        });
    }
    Ok(shards)
}

/// Builds one shard's supervision groups from the spec (local index 0 is the root group),
/// reserves the static children's slots and records their membership.
fn build_tree(
    spec: &BootSpec,
    shard: ShardId,
    core: &mut Core,
) -> (Vec<Group>, Vec<(u16, u32, Payload)>) {
    let local: Vec<usize> = (0..spec.groups.len())
        .filter(|&index| spec.groups[index].shard == shard)
        .collect();
    let local_index = |global: usize| {
        local
            .iter()
            .position(|&index| index == global)
            .map(|index| index as u16)
    };
    let mut groups = Vec::with_capacity(local.len().max(1));
    let mut static_args = Vec::new();
    for &global_group in &local {
        let declared = &spec.groups[global_group];
        let local_group = groups.len() as u16;
        let mut children = Vec::with_capacity(declared.children.len());
        for child in &declared.children {
            match *child {
                ChildSpec::Isolate(root_index) => {
                    let root = &spec.roots[root_index];
                    // The spec numbered static slots in declaration order across all groups;
                    // groups are built in another order, so take exactly the named slot.
                    let reserved = core.reserve_exact(root.handle.type_index(), root.handle.slot());
                    assert_eq!(
                        reserved,
                        Some(root.handle),
                        "each static slot is reserved once"
                    );
                    let global = core.types[root.handle.type_index() as usize].base
                        + root.handle.slot() as usize;
                    // Reserved, not started: it starts when the tree starts.
                    core.slots[global].status = Status::Stopped;
                    let membership = Membership::new(local_group, root.restart);
                    let kept = core.membership.insert(global as u32, membership);
                    assert!(
                        kept.is_ok(),
                        "the supervised bound counts every static child"
                    );
                    children.push(Child::Isolate {
                        global: global as u32,
                        restart: root.restart,
                    });
                    static_args.push((
                        root.handle.type_index(),
                        root.handle.slot(),
                        (root.make_args)(),
                    ));
                }
                ChildSpec::Group(group) => {
                    let index = local_index(group.0 as usize)
                        .expect("nested groups live on their parent's shard");
                    children.push(Child::Group(index));
                }
            }
        }
        let parent = declared
            .parent
            .and_then(|parent| local_index(parent.0 as usize));
        let restarts_max = declared.budget.restarts;
        let static_children = children.len();
        // Dynamic children each hold a slot of this shard: no more than its slot count.
        children.reserve_exact(declared.dynamic_room.min(core.slots.len()));
        groups.push(Group {
            parent,
            strategy: declared.strategy,
            restarts_max,
            window_nanos: crate::clock::nanos_of(declared.budget.window),
            children,
            static_children,
            dynamic_room: declared.dynamic_room,
            child_budget: declared
                .child_budget
                .map(|budget| (budget.restarts, crate::clock::nanos_of(budget.window))),
            recent: VecDeque::with_capacity(restarts_max as usize + 1),
        });
    }
    if groups.is_empty() {
        groups.push(Group {
            parent: None,
            strategy: Strategy::OneForOne,
            restarts_max: 3,
            window_nanos: 5_000_000_000,
            children: Vec::new(),
            static_children: 0,
            dynamic_room: 0,
            child_budget: None,
            recent: VecDeque::with_capacity(4),
        });
    }
    (groups, static_args)
}
