//! Deterministic simulation: every shard on the calling thread, time owned by the simulator.
//!
//! The same shard code as production runs here; only the driver differs. Each round the
//! simulator shuffles the shard order with its scheduling stream, sets every shard's clock to
//! the simulated time and runs one tick of each. Cross-shard envelopes travel through the same
//! in-memory rings. When a round does no work, time jumps to the earliest pending timer; when
//! no timer is pending either, the system is quiescent and the run ends.
//!
//! Every dispatch feeds a running hash (shard, isolate type, slot, message tag, time), so a
//! run is summarised by one number: the same seed and spec give the same hash, bit for bit.
//!
//! What the hash leaves out, on purpose: message payloads. A payload is a user value of a
//! type the runtime knows only by its table, stored in raw bytes that may hold padding
//! (uninitialised) and pointers (different from run to run), so its bytes are neither safe to
//! read nor stable to hash; two runs that differ only in the contents of a message, with the
//! same tags at the same times, hash alike. Check contents with state checkers
//! ([`Simulation::state`]). Each round also mixes the shards in their shuffled order, so two
//! seeds give different hashes even when nothing observable differs: compare what the
//! isolates observed, not hashes, to show that a seed changed the schedule.
//!
//! Scheduling draws from the seed, and so does the simulated network behind the socket
//! calls: [`Domain::Network`] spreads connects over the shards that listen on one address,
//! [`Domain::Shard`] sizes each simulated read.
//!
//! **Faults.** [`Simulation::with_faults`] injects what a [`Faults`] value names, each kind
//! from its own stream: the transport between shards ([`Domain::Transport`]) drops, delays
//! and partitions; each shard's crash stream ([`Domain::Crash`]) turns handler calls into
//! crashes and `init` calls into failures; each shard's TCP stream ([`Domain::TcpFaults`])
//! breaks its simulated sockets. What was injected is counted in [`SimReport::faults`].
//!
//! **Checks.** [`Simulation::check`] verifies the runtime's own invariants on every shard;
//! the [`SimTest`] runner calls it, and user checkers, every K rounds and at the end, and
//! turns any failure into a report with the seed and the command that replays it.

mod faults;
mod hooks;
mod rng;
mod runner;
mod transport;

pub use faults::{CrashTargets, FaultCounts, Faults, Ratio, TcpFaults};
pub use hooks::TraceEvent;
pub(crate) use hooks::{ShardHooks, raise};
pub use rng::{Domain, Rng};
pub use runner::{
    Divergence, FailureKind, Shrunk, SimFailure, SimTest, SweepReport, first_divergence, sweep_seed,
};
use transport::Transport;

use std::sync::Arc;

use crate::clock::{Instant, nanos_of};
use crate::counters::Counters;
use crate::error::SendError;
use crate::external::{ExternalCallError, ExternalCalls};
use crate::handle::{Handle, ShardId};
use crate::isolate::Isolate;
use crate::isolate::{Accepts, Request};
use crate::shard::arena::Arena;
use crate::shard::core::{Signals, mix};
use crate::shard::{Shard, build_shards};
use crate::spec::{BootSpec, SpecErrors};

/// How a simulation run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimReport {
    /// Rounds run.
    pub rounds: u64,
    /// Whether the system went quiescent (no work, no timers) before the round limit.
    pub quiescent: bool,
    /// The trace hash of the whole run so far.
    pub trace_hash: u64,
    /// Simulated time at the end.
    pub now: Instant,
    /// Shards stopped by a panic that escaped their trap boundary (a runtime bug: every call
    /// into user code is trapped); see [`Simulation::failed_shards`].
    pub failed_shards: usize,
    /// Whether the run stopped with nothing runnable and no timer pending while the
    /// transport still held envelopes (a link cut with no heal in sight): stuck, not done.
    pub stalled: bool,
    /// Handler invocations on every shard.
    pub dispatched: u64,
    /// Faults injected so far, by kind.
    pub faults: FaultCounts,
}

/// A whole system run on the calling thread from a seed.
pub struct Simulation {
    external: Arc<ExternalCalls>,
    shards: Vec<Shard>,
    order: Vec<usize>,
    scheduling: Rng,
    seed: u64,
    now: u64,
    step_nanos: u64,
    rounds: u64,
    trace: u64,
    /// Per shard: stopped by a panic that escaped its tick.
    failed: Vec<bool>,
    /// Where each declared listener listens on the simulated network.
    listener_addrs: Vec<std::net::SocketAddr>,
    /// The simulated transport between shards: interposed on the rings when transport
    /// faults are on or a link is first cut (`None` until then, and with one shard; the
    /// shards then use their rings directly, as in production).
    transport: Option<Transport>,
    ring_capacity: usize,
    /// Per shard, `(sent_remote, received_remote)` that predate the transport (the ledger
    /// counts from the interposition on).
    ledger_base: Vec<(u64, u64)>,
    faults: Faults,
    /// The isolate types' names, by type index.
    type_names: Vec<&'static str>,
    /// Every shard's slot generations at the last check (generation monotonicity).
    generations: Vec<Vec<u32>>,
    /// The event log, while recording (see [`Simulation::record_events`]).
    events: Option<Vec<TraceEvent>>,
    /// Events are not recorded past this many.
    events_max: usize,
    /// The simulated network, when the spec has sockets.
    net: Option<Arc<std::sync::Mutex<crate::io::SimNet>>>,
    /// Every shard's statistics, published when asked for (see [`Simulation::stats`]).
    stats: crate::StatsReader,
}

/// Builds the simulated network when the spec has sockets: every shard with socket entries
/// gets a reactor on it, and every declared listener a simulated listener on each shard
/// that serves it. Returns the listeners' addresses.
type SimNetwork = (
    Vec<std::net::SocketAddr>,
    Option<Arc<std::sync::Mutex<crate::io::SimNet>>>,
);

fn simulated_network(
    spec: &BootSpec,
    seeds: &mut [crate::shard::ShardSeed],
    seed: u64,
    faults: &Faults,
) -> SimNetwork {
    let entries: Vec<usize> = (0..spec.shards)
        .map(|shard| spec.socket_entries(ShardId(shard as u16)))
        .collect();
    let total: usize = entries.iter().sum();
    if total == 0 {
        return (Vec::new(), None);
    }
    // Every entry may hold one end; a connect makes two (one waits in a backlog), and every
    // entry may be a listener.
    let mut net = crate::io::SimNet::new(2 * total, total, Rng::stream(seed, Domain::Network));
    net.set_faults(faults.tcp.clone(), seed, spec.shards);
    let net = Arc::new(std::sync::Mutex::new(net));
    let mut addrs = Vec::with_capacity(spec.listeners.len());
    let mut per_shard: Vec<Vec<Option<u32>>> = vec![Vec::new(); spec.shards];
    {
        let mut network = net
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for declared in &spec.listeners {
            let mut addr = declared.addr;
            for (shard, listeners) in per_shard.iter_mut().enumerate() {
                if declared.serves(ShardId(shard as u16)) {
                    let (listener, bound) = network
                        .listen(addr)
                        .expect("the network has a listener for every socket entry");
                    addr = bound;
                    listeners.push(Some(listener));
                } else {
                    listeners.push(None);
                }
            }
            addrs.push(addr);
        }
    }
    for (shard, seed_shard) in seeds.iter_mut().enumerate() {
        if entries[shard] == 0 {
            continue;
        }
        seed_shard
            .attach_simulated_io(
                spec,
                entries[shard],
                Arc::clone(&net),
                Rng::stream(seed, Domain::Shard(shard as u16)),
                &per_shard[shard],
                &addrs,
            )
            .expect("a simulated reactor needs no OS resource");
    }
    (addrs, Some(net))
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Simulation")
            .field("seed", &self.seed)
            .field("shards", &self.shards.len())
            .field("rounds", &self.rounds)
            .field("now", &Instant(self.now))
            .finish()
    }
}

impl Simulation {
    /// Validates `spec` and builds every shard for simulation with `seed`, injecting no
    /// faults. Each round advances simulated time by 1 µs.
    ///
    /// # Errors
    ///
    /// [`SpecErrors`]: every mistake [`BootSpec::validate`] finds; or, for a valid spec,
    /// the one [`SpecError::MemoryCeiling`](crate::SpecError::MemoryCeiling) when the whole
    /// reservation exceeds [`BootSpec::memory_limit`], `RLIMIT_AS` or the memory the OS
    /// reports available. (No socket is opened, so the open-file limit is not checked.)
    ///
    /// # Examples
    ///
    /// ```
    /// # use tina::prelude::*;
    /// # #[derive(Bounded)]
    /// # struct Hello;
    /// # #[isolate(mailbox = 8)]
    /// # struct Greeter {
    /// #     greeted: u32,
    /// # }
    /// # #[isolate]
    /// # impl Greeter {
    /// #     fn init(_ctx: &mut Ctx<Self>) -> Self {
    /// #         Greeter { greeted: 0 }
    /// #     }
    /// #     fn hello(&mut self, _hello: Hello, _ctx: &mut Ctx<Self>) -> Effect {
    /// #         self.greeted += 1;
    /// #         Effect::Receive
    /// #     }
    /// # }
    /// let mut spec = BootSpec::new(2);
    /// spec.isolate::<Greeter>(1);
    /// let greeter = spec.root::<Greeter>(ShardId(1), ());
    /// let mut sim = Simulation::new(spec, 42).expect("a valid spec");
    /// assert_eq!(sim.seed(), 42);
    /// sim.send(&greeter, Hello).unwrap();
    /// sim.run(1_000);
    /// assert_eq!(sim.state(greeter).unwrap().greeted, 1);
    ///
    /// assert!(Simulation::new(BootSpec::new(0), 42).is_err());
    /// ```
    pub fn new(spec: BootSpec, seed: u64) -> Result<Simulation, SpecErrors> {
        Simulation::with_faults(spec, seed, Faults::none())
    }

    /// Validates `spec` and builds every shard for simulation with `seed`, injecting what
    /// `faults` names (see [`Faults`]). Each round advances simulated time by 1 µs.
    ///
    /// # Errors
    ///
    /// [`SpecErrors`]: every mistake [`BootSpec::validate`] finds; or, for a valid spec,
    /// the one [`SpecError::MemoryCeiling`](crate::SpecError::MemoryCeiling) when the whole
    /// reservation exceeds [`BootSpec::memory_limit`], `RLIMIT_AS` or the memory the OS
    /// reports available. (No socket is opened, so the open-file limit is not checked.)
    pub fn with_faults(
        spec: BootSpec,
        seed: u64,
        faults: Faults,
    ) -> Result<Simulation, SpecErrors> {
        spec.validate_for_boot()?;
        let refused = |error| SpecErrors(vec![error]);
        let (ingress, ingress_consumers) = crate::shard::ingress_queues(&spec).map_err(refused)?;
        let signals: Arc<[Signals]> = ingress.into_iter().map(Signals::new).collect();
        let external = Arc::new(ExternalCalls::new(spec.external_calls));
        let stats = crate::stats::shared_for(&spec);
        let mut seeds = build_shards(&spec, signals, ingress_consumers, external.clone(), &stats)
            .map_err(refused)?;
        let (listener_addrs, net) = simulated_network(&spec, &mut seeds, seed, &faults);
        let mut shards: Vec<Shard> = Vec::with_capacity(seeds.len());
        for seed in seeds {
            shards.push(seed.grow(0, None, true).map_err(refused)?);
        }
        let targets: Vec<bool> = spec
            .types
            .iter()
            .map(|entry| faults.crash_targets.includes(entry.type_id))
            .collect();
        for (index, shard) in shards.iter_mut().enumerate() {
            shard.core.sim = Some(Box::new(ShardHooks::new(
                faults.crash,
                faults.init_failure,
                Rng::stream(seed, Domain::Crash(index as u16)),
                targets.clone(),
            )));
        }
        let generations = shards
            .iter()
            .map(|shard| {
                shard
                    .core
                    .slots
                    .iter()
                    .map(|meta| meta.generation)
                    .collect()
            })
            .collect();
        let order = (0..shards.len()).collect();
        let failed = vec![false; shards.len()];
        let mut sim = Simulation {
            external,
            shards,
            order,
            scheduling: Rng::stream(seed, Domain::Scheduling),
            seed,
            now: 0,
            step_nanos: 1_000,
            rounds: 0,
            trace: 0,
            failed,
            listener_addrs,
            transport: None,
            ring_capacity: spec.ring_capacity,
            ledger_base: Vec::new(),
            faults,
            type_names: spec.types.iter().map(|entry| entry.name).collect(),
            generations,
            events: None,
            events_max: 0,
            net,
            stats: crate::StatsReader::new(stats),
        };
        if sim.faults.faults_transport() {
            sim.interpose();
        }
        Ok(sim)
    }

    /// Puts the simulated transport between the shards' rings (once; not with one shard):
    /// what the old rings hold is taken over by the transport.
    fn interpose(&mut self) {
        if self.transport.is_some() || self.shards.len() < 2 {
            return;
        }
        let mut inbound: Vec<&mut Vec<tina_mailbox::Consumer<crate::envelope::Envelope>>> = self
            .shards
            .iter_mut()
            .map(|shard| &mut shard.inbound)
            .collect();
        let mut transport = Transport::interpose(
            &mut inbound,
            self.ring_capacity,
            self.faults.clone(),
            Rng::stream(self.seed, Domain::Transport),
        );
        let waiting = transport.waiting_per_sender();
        self.ledger_base = self
            .shards
            .iter()
            .enumerate()
            .map(|(index, shard)| {
                let counters = &shard.core.counters;
                (
                    counters.sent_remote - waiting[index],
                    counters.received_remote,
                )
            })
            .collect();
        self.transport = Some(transport);
    }

    /// The fault configuration this run injects.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The name of the isolate type with index `type_index` in the spec (as in
    /// [`TraceEvent::type_index`]).
    pub fn type_name(&self, type_index: u16) -> &'static str {
        self.type_names
            .get(type_index as usize)
            .copied()
            .unwrap_or("?")
    }

    /// Starts (or stops) recording every dispatch in an event log, up to `max` events (a
    /// test tool: the log is the one thing here that grows while the system runs).
    pub fn record_events(&mut self, max: usize) {
        self.events_max = max;
        self.events = (max > 0).then(Vec::new);
        for shard in &mut self.shards {
            if let Some(hooks) = shard.core.sim.as_deref_mut() {
                hooks.events = (max > 0).then(Vec::new);
            }
        }
    }

    /// The events recorded so far, in the order they ran (shard ticks run one after the
    /// other on this thread, so the order is total).
    pub fn events(&self) -> &[TraceEvent] {
        self.events.as_deref().unwrap_or(&[])
    }

    /// Cuts `shard` off on the simulated transport until [`Simulation::heal_links`]: the
    /// envelopes it sends (when `outbound`) and those sent to it (when `inbound`) wait on
    /// the cut links, and flow on when the cut heals. Unlike [`Simulation::partition`],
    /// senders are not told: their messages are accepted and wait, their calls time out.
    /// Replaces any partition in force. Needs at least two shards.
    pub fn cut_links(&mut self, shard: ShardId, outbound: bool, inbound: bool) {
        self.interpose();
        if let Some(transport) = self.transport.as_mut() {
            transport.cut = Some(transport::Cut {
                shard: shard.index(),
                outbound,
                inbound,
                heal_at: u64::MAX,
            });
        }
    }

    /// Ends a cut, whether made by [`Simulation::cut_links`] or injected.
    pub fn heal_links(&mut self) {
        if let Some(transport) = self.transport.as_mut() {
            transport.cut = None;
        }
    }

    /// Faults injected so far, by kind.
    pub fn fault_counts(&self) -> FaultCounts {
        let mut counts = FaultCounts::default();
        if let Some(transport) = &self.transport {
            counts.add(&transport.counts);
        }
        for shard in &self.shards {
            if let Some(hooks) = shard.core.sim.as_deref() {
                counts.add(&hooks.counts);
            }
        }
        if let Some(net) = &self.net {
            let net = net
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            counts.add(&net.fault_counts());
        }
        counts
    }

    /// Checks the runtime's invariants on every shard, as they stand between rounds:
    ///
    /// - the envelope pool's accounting (free lists walked and counted);
    /// - the transfer-buffer pools' accounting (`free + taken == capacity`, and no more
    ///   taken than exist);
    /// - slot generations never go back (modulo wrap-around);
    /// - every dispatch since the last check reached a running incarnation (no delivery to
    ///   a stale handle; checked at each dispatch), and no mailbox holds more than its bound;
    /// - the delivery ledger of the transport: every envelope a shard counted as sent to
    ///   another shard is in the sender's ring, in flight, delivered, or dropped by an
    ///   injected fault; every envelope delivered is in the receiver's ring or counted as
    ///   taken by it; every bounce sent is in a bounce ring or counted as taken back;
    /// - the socket tables (owners, free lists) and the simulated network's ends.
    ///
    /// # Errors
    ///
    /// The first violation found, as text naming the shard (and the slot, where there is
    /// one). Any violation is a runtime bug (or memory corrupted by
    /// `unsafe` code elsewhere).
    pub fn check(&mut self) -> Result<(), String> {
        self.check_pools()?;
        for (index, shard) in self.shards.iter_mut().enumerate() {
            for stats in shard.core.buffers.iter().map(|pool| pool.stats()) {
                if stats.free + stats.taken != stats.capacity {
                    return Err(format!(
                        "shard {index}: buffer pool accounting {stats:?} does not add up"
                    ));
                }
            }
            let previous = &mut self.generations[index];
            for (global, meta) in shard.core.slots.iter().enumerate() {
                let before = previous[global];
                let wrapped = before > crate::handle::GENERATION_MASK / 2
                    && meta.generation < crate::handle::GENERATION_MASK / 2;
                if meta.generation < before && !wrapped {
                    return Err(format!(
                        "shard {index}: slot {global}'s generation went back from {before} to {}",
                        meta.generation
                    ));
                }
                previous[global] = meta.generation;
                if meta.mailbox.len() > meta.mailbox.capacity() {
                    return Err(format!(
                        "shard {index}: slot {global}'s mailbox holds {} over its bound {}",
                        meta.mailbox.len(),
                        meta.mailbox.capacity()
                    ));
                }
            }
            if let Some(hooks) = shard.core.sim.as_deref_mut()
                && let Some(violation) = hooks.violation.take()
            {
                return Err(violation);
            }
            if let Some(io) = shard.core.io.as_deref() {
                io.check()
                    .map_err(|error| format!("shard {index}: socket table: {error}"))?;
            }
        }
        if let Some(net) = &self.net {
            let net = net
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            net.check()
                .map_err(|error| format!("simulated network: {error}"))?;
        }
        self.check_ledger()
    }

    fn check_ledger(&mut self) -> Result<(), String> {
        match self.transport.as_mut() {
            Some(transport) => {
                let base = &self.ledger_base;
                let sent: Vec<u64> = self
                    .shards
                    .iter()
                    .enumerate()
                    .map(|(i, s)| s.core.counters.sent_remote - base[i].0)
                    .collect();
                let received: Vec<u64> = self
                    .shards
                    .iter()
                    .enumerate()
                    .map(|(i, s)| s.core.counters.received_remote - base[i].1)
                    .collect();
                transport.check_ledger(&sent, &received)?;
            }
            None => {
                // Direct rings: everything sent to another shard was taken by it or waits
                // in its ring.
                let sent: u64 = self
                    .shards
                    .iter()
                    .map(|s| s.core.counters.sent_remote)
                    .sum();
                let mut arrived: u64 = 0;
                for shard in &mut self.shards {
                    arrived += shard.core.counters.received_remote;
                    for ring in &mut shard.inbound {
                        arrived += ring.available() as u64;
                    }
                }
                if sent != arrived {
                    return Err(format!(
                        "{sent} envelopes sent to other shards, but {arrived} were taken or wait \
                         in rings"
                    ));
                }
            }
        }
        // Bounces go straight back through their own rings.
        let bounced: u64 = self.shards.iter().map(|s| s.core.counters.bounced).sum();
        let mut back: u64 = 0;
        for shard in &mut self.shards {
            back += shard.core.counters.bounces_received;
            for ring in &mut shard.bounce_in {
                back += ring.available() as u64;
            }
        }
        if bounced != back {
            return Err(format!(
                "{bounced} envelopes bounced, but {back} were taken back or wait in bounce rings"
            ));
        }
        Ok(())
    }

    /// The address the listener declared `index`-th in the spec was given on the simulated
    /// network (port 0 in the spec: a port the network chose, the same for every shard).
    pub fn listener_addr(&self, index: usize) -> Option<std::net::SocketAddr> {
        self.listener_addrs.get(index).copied()
    }

    /// The seed this run was built from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Simulated time.
    pub fn now(&self) -> Instant {
        Instant(self.now)
    }

    /// Runs one round: every shard ticks once, in an order drawn from the seed, then time
    /// moves on — by one step after a round with work, otherwise to the earliest pending
    /// timer (simulated time saturates at its maximum, it never wraps). Returns whether any
    /// shard did work.
    pub fn step(&mut self) -> bool {
        let worked = self.round();
        self.advance(worked, u64::MAX);
        worked
    }

    /// Moves simulated time after a round, never past `limit`.
    fn advance(&mut self, worked: bool, limit: u64) {
        let next = if worked {
            self.now.saturating_add(self.step_nanos)
        } else {
            match self.next_deadline() {
                Some(deadline) => self.now.max(deadline),
                None => self.now,
            }
        };
        self.now = next.min(limit.max(self.now));
    }

    /// One round at the current time, without moving time.
    fn round(&mut self) -> bool {
        self.scheduling.shuffle(&mut self.order);
        let mut work = 0;
        if let Some(transport) = self.transport.as_mut() {
            transport.round(self.now);
        }
        for &index in &self.order {
            if self.failed[index] {
                continue;
            }
            let shard = &mut self.shards[index];
            shard.core.set_now(self.now);
            // As on threads, a panic that escapes a shard's tick (a runtime bug) stops that
            // shard alone and marks it down; the others keep running.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shard.tick())) {
                Ok(done) => work += done,
                Err(panic) => {
                    self.failed[index] = true;
                    shard.core.signals[index]
                        .down
                        .store(true, std::sync::atomic::Ordering::Release);
                    let reason = crate::supervision::crash::reason_of(panic);
                    eprintln!(
                        "tina: simulation seed {}: shard {index}: a panic escaped the shard's \
                         trap boundary (a tina-runtime bug: {reason}); the shard is stopped and \
                         marked down",
                        self.seed
                    );
                }
            }
            if let Some(transport) = self.transport.as_mut() {
                transport.pump(index, self.now);
            }
            if let Some(log) = self.events.as_mut()
                && let Some(hooks) = self.shards[index].core.sim.as_deref_mut()
                && let Some(events) = hooks.events.as_mut()
            {
                let room = self.events_max.saturating_sub(log.len());
                log.extend(events.drain(..).take(room));
            }
        }
        self.rounds += 1;
        self.trace = mix(self.trace, self.rounds);
        for &index in &self.order {
            self.trace = mix(self.trace, self.shards[index].core.trace);
        }
        work > 0
    }

    fn next_deadline(&self) -> Option<u64> {
        let timers = self
            .shards
            .iter()
            .filter_map(|shard| shard.core.timers.next_deadline())
            .min();
        let transport = self
            .transport
            .as_ref()
            .and_then(|transport| transport.next_deadline(self.now));
        let net = self.net.as_ref().and_then(|net| {
            net.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .next_deadline(self.now)
        });
        [timers, transport, net].into_iter().flatten().min()
    }

    /// The earliest pending timer deadline of any shard, if any: with [`Simulation::step`]
    /// (which says whether a round did work), enough for a custom run loop to tell when the
    /// system is quiescent.
    pub fn next_timer_deadline(&self) -> Option<Instant> {
        self.next_deadline().map(Instant)
    }

    /// Runs rounds until the system is quiescent (a round with no work and no pending
    /// timer) or `max_rounds` have run.
    ///
    /// # Examples
    ///
    /// The same seed runs the same way, bit for bit:
    ///
    /// ```
    /// # use tina::prelude::*;
    /// # #[derive(Bounded)]
    /// # struct Hello;
    /// # #[isolate(mailbox = 8)]
    /// # struct Greeter {
    /// #     greeted: u32,
    /// # }
    /// # #[isolate]
    /// # impl Greeter {
    /// #     fn init(_ctx: &mut Ctx<Self>) -> Self {
    /// #         Greeter { greeted: 0 }
    /// #     }
    /// #     fn hello(&mut self, _hello: Hello, _ctx: &mut Ctx<Self>) -> Effect {
    /// #         self.greeted += 1;
    /// #         Effect::Receive
    /// #     }
    /// # }
    /// let run = |seed| {
    ///     let mut spec = BootSpec::new(2);
    ///     spec.isolate::<Greeter>(2);
    ///     let one = spec.root::<Greeter>(ShardId(0), ());
    ///     let two = spec.root::<Greeter>(ShardId(1), ());
    ///     let mut sim = Simulation::new(spec, seed).unwrap();
    ///     sim.send(&one, Hello).unwrap();
    ///     sim.send(&two, Hello).unwrap();
    ///     sim.run(10_000)
    /// };
    /// let report = run(7);
    /// assert!(report.quiescent, "nothing left to do well before the round limit");
    /// assert!(report.rounds < 10_000);
    /// assert_eq!(report.trace_hash, run(7).trace_hash);
    /// ```
    pub fn run(&mut self, max_rounds: u64) -> SimReport {
        let mut quiescent = false;
        for _ in 0..max_rounds {
            if !self.step() && self.next_deadline().is_none() {
                quiescent = true;
                break;
            }
        }
        self.report(quiescent)
    }

    /// Runs rounds until simulated time reaches `until`, or the system is quiescent. Time
    /// never moves past `until` (a jump to a later timer stops at `until`), and one round runs
    /// at `until` itself, so what is due at `until` fires; later timers stay pending.
    pub fn run_until(&mut self, until: Instant) -> SimReport {
        let mut quiescent = false;
        loop {
            let worked = self.round();
            if !worked && self.next_deadline().is_none() {
                quiescent = true;
                break;
            }
            if self.now >= until.0 {
                break;
            }
            self.advance(worked, until.0);
        }
        self.report(quiescent)
    }

    fn report(&mut self, quiescent: bool) -> SimReport {
        // Nothing ran and nothing is due, but envelopes wait on a cut link: stuck.
        let stalled = quiescent
            && self
                .transport
                .as_mut()
                .is_some_and(|transport| transport.busy());
        SimReport {
            rounds: self.rounds,
            quiescent: quiescent && !stalled,
            trace_hash: self.trace,
            now: Instant(self.now),
            failed_shards: self.failed.iter().filter(|&&failed| failed).count(),
            stalled,
            dispatched: self
                .shards
                .iter()
                .map(|shard| shard.core.counters.dispatched)
                .sum(),
            faults: self.fault_counts(),
        }
    }

    /// The shards stopped by a panic that escaped their trap boundary.
    pub fn failed_shards(&self) -> Vec<ShardId> {
        (0..self.failed.len())
            .filter(|&index| self.failed[index])
            .map(|index| ShardId(index as u16))
            .collect()
    }

    /// The trace hash so far.
    pub fn trace_hash(&self) -> u64 {
        self.trace
    }

    /// One shard's counters.
    ///
    /// # Panics
    ///
    /// When `shard` is not a shard of this simulation.
    pub fn counters(&self, shard: ShardId) -> Counters {
        let mut counters = self.shards[shard.index()].counters();
        counters.ingress_refused = self.shards[shard.index()].core.signals[shard.index()]
            .ingress_refused
            .load(std::sync::atomic::Ordering::Relaxed);
        counters
    }

    /// Every shard's counters added up.
    pub fn totals(&self) -> Counters {
        let mut total = Counters::default();
        for shard in 0..self.shards.len() {
            total.add(&self.counters(ShardId(shard as u16)));
        }
        total
    }

    /// Sends `message` to `to` from outside the simulated system, as
    /// [`System::send`](crate::System::send) does: through the target shard's ingress
    /// queue, taken at that shard's next tick. Call it between rounds. A refusal on arrival
    /// (mailbox full, stale handle) is counted in the shard's `undelivered_*` counters.
    ///
    /// # Errors
    ///
    /// Refused at once, with the message handed back in the [`SendError`]:
    ///
    /// - [`SendErrorKind::IngressFull`](crate::SendErrorKind::IngressFull): the shard's
    ///   ingress queue is full — more sends between two rounds than
    ///   [`BootSpec::ingress_capacity`] (counted as `ingress_refused`).
    /// - [`SendErrorKind::ShardDown`](crate::SendErrorKind::ShardDown): the shard is
    ///   partitioned ([`Simulation::partition`]), quarantined or failed.
    /// - [`SendErrorKind::Stale`](crate::SendErrorKind::Stale): `to` names a shard this
    ///   simulation does not have.
    pub fn send<T, M>(&mut self, to: &Handle<T>, message: M) -> Result<(), SendError<M>>
    where
        T: Accepts<M>,
        M: Send + 'static,
    {
        let target = to.raw();
        let Some(first) = self.shards.first() else {
            return Err(SendError {
                kind: crate::SendErrorKind::Stale,
                message,
            });
        };
        let signals = first.core.signals.clone();
        let shard = match crate::external::check_target(target, signals.len()) {
            Ok(shard) => shard,
            Err(kind) => return Err(SendError { kind, message }),
        };
        crate::external::push_ingress(&signals[shard], message, |message| {
            crate::envelope::Envelope::user(target, crate::envelope::Payload::new(T::wrap(message)))
        })
        .map_err(|(kind, message)| SendError { kind, message })
    }

    /// Asks `to` a question from outside the simulated system, as
    /// [`System::call`](crate::System::call) does, and runs rounds until the reply arrives,
    /// the request is refused, or `timeout` of simulated time has passed. When the system
    /// goes quiescent without answering, nothing can answer any more: simulated time moves
    /// to the deadline and the call times out.
    ///
    /// # Errors
    ///
    /// - [`ExternalCallError::NotSent`], with the request handed back: for any reason
    ///   [`Simulation::send`] gives.
    /// - [`ExternalCallError::NoCallSlot`], with the request handed back: every call slot
    ///   for outside callers is taken ([`BootSpec::external_calls`]).
    /// - [`ExternalCallError::Refused`]: the shard refused the request on arrival (the
    ///   target's mailbox full, the pool exhausted, the handle stale).
    /// - [`ExternalCallError::Timeout`]: no reply within `timeout` of simulated time, or
    ///   the system went quiescent without one.
    pub fn call<T, Q>(
        &mut self,
        to: &Handle<T>,
        request: Q,
        timeout: core::time::Duration,
    ) -> Result<Q::Reply, ExternalCallError<Q>>
    where
        T: Accepts<Q>,
        Q: Request,
    {
        let target = to.raw();
        let Some(first) = self.shards.first() else {
            return Err(ExternalCallError::NotSent(SendError {
                kind: crate::SendErrorKind::Stale,
                message: request,
            }));
        };
        let signals = first.core.signals.clone();
        let shard = match crate::external::check_target(target, signals.len()) {
            Ok(shard) => shard,
            Err(kind) => {
                return Err(ExternalCallError::NotSent(SendError {
                    kind,
                    message: request,
                }));
            }
        };
        let external = self.external.clone();
        let Some(ticket) = external.begin() else {
            return Err(ExternalCallError::NoCallSlot(request));
        };
        let deadline = self.now.saturating_add(nanos_of(timeout));
        crate::external::push_ingress(&signals[shard], request, |request| {
            crate::external::external_request::<T, Q>(target, &ticket, deadline, request)
        })
        .map_err(|(kind, message)| ExternalCallError::NotSent(SendError { kind, message }))?;
        loop {
            if let Some(outcome) = external.try_take(&ticket) {
                return crate::external::finish::<Q>(Some(outcome));
            }
            if self.now >= deadline {
                return Err(ExternalCallError::Timeout);
            }
            if !self.step() && self.next_deadline().is_none() {
                // Quiescent: nothing left that could answer. The caller waits out its
                // timeout, so simulated time moves to the deadline.
                if let Some(outcome) = external.try_take(&ticket) {
                    return crate::external::finish::<Q>(Some(outcome));
                }
                self.now = self.now.max(deadline);
                return Err(ExternalCallError::Timeout);
            }
        }
    }

    /// The handle of the incarnation running now in `handle`'s slot (the same isolate
    /// restarted by its supervisor has a newer generation), if one is running: for checkers
    /// that follow an isolate across restarts.
    pub fn live_handle<I: Isolate>(&self, handle: Handle<I>) -> Option<Handle<I>> {
        let raw = handle.raw();
        let core = &self.shards.get(raw.shard().index())?.core;
        let info = core.types.get(raw.type_index() as usize)?;
        let meta = core.slots.get(info.base + raw.slot() as usize)?;
        meta.status.is_running().then(|| {
            Handle::from_raw(crate::handle::RawHandle::new(
                raw.shard(),
                raw.type_index(),
                raw.slot(),
                meta.generation,
            ))
        })
    }

    /// The state of the live isolate `handle` names, for checkers and assertions: `None`
    /// once that incarnation has exited or been restarted (follow it with
    /// [`Simulation::live_handle`]), and for a handle that names nothing here (from another
    /// spec, say).
    ///
    /// # Examples
    ///
    /// ```
    /// use tina::prelude::*;
    ///
    /// #[derive(Bounded)]
    /// struct Hello;
    ///
    /// #[derive(Bounded)]
    /// struct Stop;
    ///
    /// #[isolate(mailbox = 8)]
    /// struct Greeter {
    ///     greeted: u32,
    /// }
    ///
    /// #[isolate]
    /// impl Greeter {
    ///     fn init(_ctx: &mut Ctx<Self>) -> Self {
    ///         Greeter { greeted: 0 }
    ///     }
    ///
    ///     fn hello(&mut self, _hello: Hello, _ctx: &mut Ctx<Self>) -> Effect {
    ///         self.greeted += 1;
    ///         Effect::Receive
    ///     }
    ///
    ///     fn stop(&mut self, _stop: Stop, _ctx: &mut Ctx<Self>) -> Effect {
    ///         Effect::Done
    ///     }
    /// }
    ///
    /// let mut spec = BootSpec::new(1);
    /// spec.isolate::<Greeter>(1);
    /// let greeter = spec.root::<Greeter>(ShardId(0), ());
    /// let mut sim = Simulation::new(spec, 1).unwrap();
    /// sim.send(&greeter, Hello).unwrap();
    /// sim.send(&greeter, Hello).unwrap();
    /// sim.run(1_000);
    /// assert_eq!(sim.state(greeter).unwrap().greeted, 2);
    ///
    /// sim.send(&greeter, Stop).unwrap();
    /// sim.run(1_000);
    /// assert!(sim.state(greeter).is_none(), "exited");
    /// ```
    pub fn state<I: Isolate>(&self, handle: Handle<I>) -> Option<&I> {
        let raw = handle.raw();
        let shard = self.shards.get(raw.shard().index())?;
        shard.core.live_global(raw).ok()?;
        let arena = shard.arenas.get(raw.type_index() as usize)?;
        arena.as_any().downcast_ref::<Arena<I>>()?.state(raw.slot())
    }

    /// Cuts `shard` off: sends to it from other shards are refused with
    /// [`SendErrorKind::ShardDown`](crate::SendErrorKind::ShardDown) until [`Simulation::heal`].
    /// The shard itself keeps running.
    ///
    /// # Panics
    ///
    /// When `shard` is not a shard of this simulation.
    pub fn partition(&mut self, shard: ShardId) {
        self.set_down(shard, true);
    }

    /// Ends a [`Simulation::partition`].
    ///
    /// # Panics
    ///
    /// When `shard` is not a shard of this simulation.
    pub fn heal(&mut self, shard: ShardId) {
        self.set_down(shard, false);
    }

    fn set_down(&mut self, shard: ShardId, down: bool) {
        if let Some(first) = self.shards.first() {
            first.core.signals[shard.index()]
                .down
                .store(down, std::sync::atomic::Ordering::Release);
        }
    }

    /// Revives a quarantined shard: its supervision tree is rebuilt from the boot spec.
    ///
    /// # Panics
    ///
    /// When `shard` is not a shard of this simulation.
    pub fn revive(&mut self, shard: ShardId) {
        self.shards[shard.index()].core.now = self.now;
        self.shards[shard.index()].revive();
    }

    /// Whether `shard` is quarantined.
    ///
    /// # Panics
    ///
    /// When `shard` is not a shard of this simulation.
    pub fn is_quarantined(&self, shard: ShardId) -> bool {
        self.shards[shard.index()].quarantined
    }

    /// The most recent crash reports of `shard` (at most 64), oldest first.
    ///
    /// # Panics
    ///
    /// When `shard` is not a shard of this simulation.
    pub fn crash_reports(&self, shard: ShardId) -> impl Iterator<Item = &crate::CrashReport> {
        self.shards[shard.index()].core.crash_log.iter()
    }

    /// Publishes every shard's live statistics as they stand between rounds and returns a
    /// snapshot (handler times are empty: handlers take no simulated time). Publishing
    /// changes nothing the simulation does, so a run is the same with or without it.
    pub fn stats(&mut self) -> crate::Stats {
        self.publish_stats();
        self.stats.read()
    }

    /// Publishes every shard's live statistics as they stand, for readers of
    /// [`Simulation::stats_reader`].
    pub fn publish_stats(&mut self) {
        for shard in &mut self.shards {
            shard.publish_stats();
        }
    }

    /// A reader of the statistics the shards last published (see
    /// [`Simulation::publish_stats`]); isolates get the same through
    /// [`Ctx::stats_reader`](crate::Ctx::stats_reader).
    pub fn stats_reader(&self) -> crate::StatsReader {
        self.stats.clone()
    }

    /// The accounting of `shard`'s transfer-buffer pools, smallest class first.
    ///
    /// # Panics
    ///
    /// When `shard` is not a shard of this simulation.
    pub fn buffer_stats(&self, shard: ShardId) -> Vec<crate::BufferStats> {
        self.shards[shard.index()]
            .core
            .buffers
            .iter()
            .map(|pool| pool.stats())
            .collect()
    }

    /// Checks the envelope pool accounting of every shard (part of [`Simulation::check`]).
    ///
    /// # Errors
    ///
    /// The first shard whose free lists and counts disagree, as text naming the shard.
    pub fn check_pools(&self) -> Result<(), String> {
        for shard in &self.shards {
            shard
                .core
                .pool
                .check()
                .map_err(|error| format!("{}: {error}", shard.core.shard))?;
        }
        Ok(())
    }

    /// Shuts the simulated system down: every isolate's `shutdown` hook runs, rounds run
    /// until all have exited or `max_rounds` pass (then the rest are torn down).
    /// A failed shard (see [`Simulation::failed_shards`]) is left as it stopped and makes the
    /// result `false`.
    pub fn shutdown(&mut self, max_rounds: u64) -> bool {
        for (index, shard) in self.shards.iter_mut().enumerate() {
            if !self.failed[index] {
                shard.begin_shutdown();
            }
        }
        let all_empty = |sim: &Simulation| {
            (0..sim.shards.len()).all(|index| sim.failed[index] || sim.shards[index].is_empty())
        };
        let mut drained = false;
        for _ in 0..max_rounds {
            if all_empty(self) {
                drained = true;
                break;
            }
            self.step();
        }
        drained = drained || all_empty(self);
        for (index, shard) in self.shards.iter_mut().enumerate() {
            if !self.failed[index] {
                shard.teardown_all();
            }
        }
        drained && !self.failed.contains(&true)
    }
}
