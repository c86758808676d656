//! The production driver: one pinned OS thread per shard.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::clock::{Clock, nanos_of};
use crate::counters::Counters;
use crate::error::SendError;
use crate::external::{ExternalCallError, ExternalCalls};
use crate::handle::Handle;
use crate::handle::ShardId;
use crate::isolate::{Accepts, Request};
use crate::shard::core::Signals;
use crate::shard::{Shard, build_shards};
use crate::spec::{BootSpec, SpecErrors};

/// How often a busy shard publishes its counter snapshot.
const PUBLISH_EVERY_NANOS: u64 = 50_000;

/// The longest a sleeping shard waits before it looks at its flags again, so a shutdown or
/// signal is noticed even without a wake-up. Ten wake-ups a second cost next to nothing.
pub(crate) const SLEEP_MAX: Duration = Duration::from_millis(100);

/// Why the system could not start.
#[derive(Debug)]
pub enum BootError {
    /// The spec is invalid; the text says what to change.
    Spec(SpecErrors),
    /// The OS refused a resource (a thread).
    Os(std::io::Error),
    /// A shard could not start its static supervision tree: a root's `init` kept failing
    /// and the root group went over its restart budget during boot (as an OTP supervisor
    /// whose child cannot start fails to start). The system was shut down again.
    RootFailed {
        /// The shard that could not start.
        shard: ShardId,
        /// The crash that took its root group over budget.
        report: Option<Box<crate::CrashReport>>,
    },
}

impl std::fmt::Display for BootError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BootError::Spec(errors) => std::fmt::Display::fmt(errors, formatter),
            BootError::Os(error) => write!(formatter, "the OS refused a boot resource: {error}"),
            BootError::RootFailed { shard, report } => {
                write!(
                    formatter,
                    "{shard} could not start its supervision tree: the root group went over \
                     its restart budget during boot"
                )?;
                match report {
                    Some(report) => write!(formatter, "; last crash: {report}"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for BootError {}

impl From<SpecErrors> for BootError {
    fn from(errors: SpecErrors) -> Self {
        BootError::Spec(errors)
    }
}

/// What a finished system reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Each shard's final counters, by shard index.
    pub shards: Vec<Counters>,
    /// Every shard's counters added up.
    pub total: Counters,
    /// The most recent crash reports of each shard (at most 64 per shard), oldest first.
    pub crash_reports: Vec<crate::CrashReport>,
    /// Whether every shard's isolates all exited before the drain deadline. Otherwise the
    /// rest were torn down at the deadline, or a shard was still inside a handler when the
    /// deadline passed: see [`Summary::overruns`].
    pub drained: bool,
    /// The drain the shutdown allowed.
    pub drain: Duration,
    /// Shards that ended after the drain deadline, and by how much (a handler still running
    /// at the deadline delays its shard until it returns: handlers are never interrupted).
    pub overruns: Vec<(ShardId, Duration)>,
    /// Shards whose thread stopped on a panic that escaped the shard's own trap boundary (a
    /// runtime bug: every call into user code is trapped). Such a shard was marked down the
    /// moment it stopped, so its peers' sends were refused with `ShardDown`; its counters are
    /// its last published ones.
    pub failed_shards: Vec<ShardId>,
}

/// How a shard of a running system stands (see [`System::health`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardState {
    /// Dispatching.
    Running,
    /// Its root group went over budget: nothing runs and peers' sends are refused with
    /// `ShardDown` until [`System::revive`].
    Quarantined,
    /// Its thread has ended (after a shutdown).
    Stopped,
    /// A panic escaped its trap boundary (a runtime bug) and stopped its thread.
    Failed,
}

/// One shard's health: its state, how often it was quarantined, and the crash behind the
/// last quarantine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardHealth {
    /// The shard.
    pub shard: ShardId,
    /// How it stands now.
    pub state: ShardState,
    /// Quarantines so far.
    pub quarantines: u64,
    /// The crash that took the root group over budget at the last quarantine, if any.
    pub last_escalation: Option<crate::CrashReport>,
}

/// How long a `System` that is dropped without [`System::shutdown`] gives its isolates to
/// finish.
pub const DROP_DRAIN: Duration = Duration::from_secs(1);

/// A running system: one thread per shard.
///
/// Dropping it shuts it down as [`System::shutdown`] does, with a drain of [`DROP_DRAIN`],
/// and joins every shard thread: no shard outlives its `System`.
#[derive(Debug)]
#[must_use = "dropping a System shuts it down at once (with a 1 s drain); keep it while it should run, and call `shutdown` to get its Summary"]
pub struct System {
    threads: Vec<JoinHandle<ShardOutcome>>,
    signals: Arc<[Signals]>,
    drain_deadline: Arc<AtomicU64>,
    clock: Clock,
    external: Arc<ExternalCalls>,
    /// Every shard's transfer-buffer pools, for accounting.
    buffers: Vec<Vec<Arc<tina_mailbox::BufferPool>>>,
    /// The address each declared listener was bound to, by declaration order.
    listener_addrs: Vec<std::net::SocketAddr>,
    /// Every shard's published statistics.
    stats: crate::stats::StatsReader,
}

impl System {
    /// Validates `spec`, allocates everything, and starts one thread per shard, pinned to a
    /// core when the spec asks (shard `i` on core `i % cores`; unpinned if the OS gives no
    /// core list). Returns once every shard has started its static supervision tree (every
    /// root's `init` has run) and published its first counters.
    ///
    /// # Errors
    ///
    /// - [`BootError::Spec`]: [`BootSpec::validate`] found mistakes; or the whole
    ///   reservation exceeds [`BootSpec::memory_limit`], `RLIMIT_AS` or the memory the OS
    ///   reports available ([`SpecError::MemoryCeiling`](crate::SpecError::MemoryCeiling));
    ///   or the hard open-file limit is below what the spec's sockets need
    ///   ([`SpecError::FileLimit`](crate::SpecError::FileLimit)).
    /// - [`BootError::Os`]: the OS refused a resource — reading or raising the open-file
    ///   limit, binding a declared listener (an address in use, say), a shard's reactor, or
    ///   a shard thread (the shards already started are stopped before it returns).
    /// - [`BootError::RootFailed`]: a shard's root group went over its restart budget
    ///   while its static children started (a root's `init` kept failing); the system was
    ///   shut down again, and the report is the crash that took the group over.
    ///
    /// # Examples
    ///
    /// ```
    /// use tina::prelude::*;
    ///
    /// #[derive(Bounded)]
    /// struct Hello;
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
    /// }
    ///
    /// # fn main() -> Result<(), tina::BootError> {
    /// let mut spec = BootSpec::new(2);
    /// spec.isolate::<Greeter>(4).pin_threads(false);
    /// let greeter = spec.root::<Greeter>(ShardId(1), ());
    /// let system = System::start(spec)?;
    /// system.send(&greeter, Hello).expect("room in the ingress queue");
    /// assert!(system.wait_until(Duration::from_secs(5), |totals| totals.ingress_accepted == 1));
    /// let summary = system.shutdown(Duration::from_secs(1));
    /// assert!(summary.drained);
    ///
    /// // A spec with mistakes does not start.
    /// let refused = System::start(BootSpec::new(0));
    /// assert!(matches!(refused, Err(tina::BootError::Spec(_))));
    /// # Ok(())
    /// # }
    /// ```
    pub fn start(spec: BootSpec) -> Result<System, BootError> {
        spec.validate_for_boot()?;
        raise_file_limit(&spec)?;
        let (mut listeners, listener_addrs) = if spec.listeners.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            crate::io::bind_listeners(&spec).map_err(BootError::Os)?
        };
        let refused = |error| BootError::Spec(SpecErrors(vec![error]));
        let (ingress, ingress_consumers) = crate::shard::ingress_queues(&spec).map_err(refused)?;
        let signals: Arc<[Signals]> = ingress.into_iter().map(Signals::new).collect();
        let external = Arc::new(ExternalCalls::new(spec.external_calls));
        let stats = crate::stats::shared_for(&spec);
        let mut shards = build_shards(
            &spec,
            signals.clone(),
            ingress_consumers,
            external.clone(),
            &stats,
        )
        .map_err(refused)?;
        for (index, seed) in shards.iter_mut().enumerate() {
            let sockets = spec.socket_entries(ShardId(index as u16));
            if sockets == 0 {
                continue;
            }
            let declared = if listeners.is_empty() {
                Vec::new()
            } else {
                core::mem::take(&mut listeners[index])
            };
            let waker = seed
                .attach_io(sockets, declared, &listener_addrs)
                .map_err(BootError::Os)?;
            // Set before the thread starts: it sleeps in its poll from the first sleep on.
            let _ = signals[index].waker.set(waker);
        }
        let buffers = shards.iter().map(|seed| seed.buffer_pools()).collect();
        let clock = Clock::Monotonic {
            origin: std::time::Instant::now(),
        };
        let drain_deadline = Arc::new(AtomicU64::new(u64::MAX));
        let cores = if spec.pin_threads {
            core_affinity::get_core_ids()
        } else {
            None
        };
        // The system owns every shard thread from its start: a boot that fails part-way
        // stops the ones already running through it.
        let mut system = System {
            threads: Vec::with_capacity(spec.shards),
            signals,
            drain_deadline,
            clock,
            external,
            buffers,
            listener_addrs,
            stats: crate::stats::StatsReader::new(stats),
        };
        for (index, shard) in shards.into_iter().enumerate() {
            let core = cores
                .as_ref()
                .filter(|list| !list.is_empty())
                .map(|list| list[index % list.len()]);
            let deadline = system.drain_deadline.clone();
            let spin = spec.spin_before_sleep;
            let spin_yields = spec.spin_yields;
            let timer_spin = spec.timer_spin_nanos;
            let background = spec.background.contains(&ShardId(index as u16));
            let slice_nanos = spec.slice_nanos;
            let own_signals = system.signals.clone();
            let thread = std::thread::Builder::new()
                .name(format!("tina-shard-{index}"))
                .spawn(move || {
                    // Peers wake this thread by unparking it (see `Signals::wake`).
                    let _ = own_signals[index].thread.set(std::thread::current());
                    precise_timer_slack();
                    if background {
                        lowest_priority();
                    } else if slice_nanos != 0 {
                        scheduler_slice(slice_nanos);
                    }
                    if let Some(core) = core {
                        // Pinning is best effort: an OS that refuses leaves the thread unpinned.
                        let _ = core_affinity::set_for_current(core);
                    }
                    match shard.grow(clock.read().as_nanos(), Some(clock), false) {
                        Ok(shard) => run_shard_guarded(
                            shard,
                            clock,
                            Idle {
                                spin,
                                spin_yields,
                                timer_spin,
                            },
                            &deadline,
                        ),
                        Err(error) => refused_arenas(&own_signals[index], error, clock),
                    }
                });
            match thread {
                Ok(thread) => system.threads.push(thread),
                Err(error) => {
                    // The OS refused a thread: stop the shards already started, so a failed
                    // boot leaves nothing running.
                    let _ = system.finish(Duration::ZERO);
                    return Err(BootError::Os(error));
                }
            }
        }
        // Return once every shard has started its roots: counters read from here on are real.
        while !system
            .signals
            .iter()
            .all(|shard| shard.booted.load(Ordering::Acquire))
        {
            if system.threads.iter().any(JoinHandle::is_finished) {
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        // A shard whose thread could not build its arenas ended at once: boot fails.
        let refused_boot = system.signals.iter().find_map(|signals| {
            signals
                .boot_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
        });
        if let Some(error) = refused_boot {
            let _ = system.finish(Duration::ZERO);
            return Err(refused(error));
        }
        let failed = system
            .signals
            .iter()
            .position(|signals| signals.boot_failed.load(Ordering::Acquire));
        if let Some(index) = failed {
            let report = lock_report(&system.signals[index].last_escalation).map(Box::new);
            let _ = system.finish(Duration::ZERO);
            return Err(BootError::RootFailed {
                shard: ShardId(index as u16),
                report,
            });
        }
        Ok(system)
    }

    /// The address the listener declared `index`-th (the value [`BootSpec::listen`]
    /// returned) was bound to: with port 0 in the spec, the port the OS chose (the same on
    /// every shard that serves it).
    pub fn listener_addr(&self, index: usize) -> Option<std::net::SocketAddr> {
        self.listener_addrs.get(index).copied()
    }

    /// Every shard's health: running, quarantined, stopped or failed, with its quarantine
    /// count and the crash behind its last quarantine. Safe to call at any time; a shard
    /// takes no lock to keep it (it writes the escalation only when it quarantines).
    pub fn health(&self) -> Vec<ShardHealth> {
        (0..self.signals.len())
            .map(|index| {
                let signals = &self.signals[index];
                let stopped = self.threads.get(index).is_none_or(JoinHandle::is_finished);
                let state = if signals.failed.load(Ordering::Acquire) {
                    ShardState::Failed
                } else if signals.quarantined.load(Ordering::Acquire) {
                    ShardState::Quarantined
                } else if stopped {
                    ShardState::Stopped
                } else {
                    ShardState::Running
                };
                ShardHealth {
                    shard: ShardId(index as u16),
                    state,
                    quarantines: self.counters(ShardId(index as u16)).quarantines,
                    last_escalation: lock_report(&signals.last_escalation),
                }
            })
            .collect()
    }

    /// A number that changes whenever any shard's health changes (quarantine, revive,
    /// failure): read it, then [`System::wait_for_health_change`] from it.
    pub fn health_generation(&self) -> u64 {
        self.signals
            .iter()
            .map(|signals| signals.health_changes.load(Ordering::Acquire))
            .sum()
    }

    /// Waits until the health generation differs from `seen` (see
    /// [`System::health_generation`]) or `timeout` passes; returns whether it changed.
    ///
    /// # Panics
    ///
    /// When `timeout` is too long for the OS clock (now plus `timeout` overflows
    /// [`std::time::Instant`]).
    pub fn wait_for_health_change(&self, seen: u64, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.health_generation() != seen {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The accounting of `shard`'s transfer-buffer pools, smallest class first (a snapshot;
    /// safe to read while the shard runs).
    ///
    /// # Panics
    ///
    /// When `shard` is not a shard of this system.
    pub fn buffer_stats(&self, shard: ShardId) -> Vec<crate::BufferStats> {
        self.buffers[shard.index()]
            .iter()
            .map(|pool| pool.stats())
            .collect()
    }

    /// Sends `message` to the isolate `to` from outside the system (a test, `main`, a
    /// thread of another library), through the target shard's bounded ingress queue.
    ///
    /// `Ok` means the message is in that queue; the shard takes it at the start of its next
    /// tick (a sleeping shard is woken) and delivers it like a message from another shard.
    /// A refusal on arrival (mailbox full, stale handle) cannot come back to a thread: it
    /// is counted in the shard's `undelivered_*` counters. Never allocates.
    ///
    /// # Errors
    ///
    /// Refused at once, with the message handed back in the [`SendError`]:
    ///
    /// - [`SendErrorKind::IngressFull`](crate::SendErrorKind::IngressFull): the shard's
    ///   ingress queue is full ([`BootSpec::ingress_capacity`]; counted as
    ///   `ingress_refused`).
    /// - [`SendErrorKind::ShardDown`](crate::SendErrorKind::ShardDown): the shard is
    ///   quarantined, has stopped, or has failed.
    /// - [`SendErrorKind::Stale`](crate::SendErrorKind::Stale): `to` names a shard this
    ///   system does not have.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tina::prelude::*;
    /// # #[derive(Bounded)]
    /// # struct Add(u64);
    /// # #[derive(Bounded, Request)]
    /// # #[reply(u64)]
    /// # struct Total;
    /// # #[isolate(mailbox = 16)]
    /// # struct Sum {
    /// #     total: u64,
    /// # }
    /// # #[isolate]
    /// # impl Sum {
    /// #     fn init(_ctx: &mut Ctx<Self>) -> Self {
    /// #         Sum { total: 0 }
    /// #     }
    /// #     fn add(&mut self, add: Add, _ctx: &mut Ctx<Self>) -> Effect {
    /// #         self.total += add.0;
    /// #         Effect::Receive
    /// #     }
    /// #     fn total(&mut self, _total: Total, reply: ReplyTo<Total>, ctx: &mut Ctx<Self>) -> Effect {
    /// #         ctx.reply(reply, self.total)
    /// #     }
    /// # }
    /// let mut spec = BootSpec::new(1);
    /// spec.isolate::<Sum>(1).pin_threads(false);
    /// let sum = spec.root::<Sum>(ShardId(0), ());
    /// let system = System::start(spec).expect("a valid spec");
    /// for n in 1..=3 {
    ///     system.send(&sum, Add(n)).expect("room in the ingress queue");
    /// }
    /// // The question goes through the same queue, after the three additions.
    /// let total = system.call(&sum, Total, Duration::from_secs(5)).expect("an answer");
    /// assert_eq!(total, 6);
    /// system.shutdown(Duration::from_secs(1));
    /// ```
    pub fn send<T, M>(&self, to: &Handle<T>, message: M) -> Result<(), SendError<M>>
    where
        T: Accepts<M>,
        M: Send + 'static,
    {
        let target = to.raw();
        let shard = match crate::external::check_target(target, self.signals.len()) {
            Ok(shard) => shard,
            Err(kind) => return Err(SendError { kind, message }),
        };
        crate::external::push_ingress(&self.signals[shard], message, |message| {
            crate::envelope::Envelope::user(target, crate::envelope::Payload::new(T::wrap(message)))
        })
        .map_err(|(kind, message)| SendError { kind, message })
    }

    /// Asks the isolate `to` a question from outside the system and blocks the calling
    /// thread until the reply, for at most `timeout`.
    ///
    /// The request goes through the target shard's ingress queue like
    /// [`System::send`], carrying the deadline `now + timeout`: the callee handles it as a
    /// request from any caller and answers with [`Ctx::reply`](crate::Ctx::reply) (or
    /// later, with [`Ctx::reply_to`](crate::Ctx::reply_to)). A reply that arrives after the
    /// timeout is dropped and counted as late. Must not be called from a shard thread
    /// (from inside a handler it would block the shard that has to answer). Never
    /// allocates. A `timeout` too long for the OS clock waits about a year.
    ///
    /// # Errors
    ///
    /// - [`ExternalCallError::NotSent`], with the request handed back: `to` names a shard
    ///   this system does not have ([`SendErrorKind::Stale`](crate::SendErrorKind::Stale)),
    ///   the shard is down ([`ShardDown`](crate::SendErrorKind::ShardDown)), or its
    ///   ingress queue is full ([`IngressFull`](crate::SendErrorKind::IngressFull)).
    /// - [`ExternalCallError::NoCallSlot`], with the request handed back: every call slot
    ///   for outside callers is taken by other waiting callers
    ///   ([`BootSpec::external_calls`]).
    /// - [`ExternalCallError::Refused`], as soon as the shard says so: the shard refused
    ///   the request on arrival (the target's mailbox full, the pool exhausted, the
    ///   handle stale).
    /// - [`ExternalCallError::Timeout`]: no reply within `timeout` — the callee was too
    ///   slow, the request reached it after its deadline and was dropped, or the callee
    ///   crashed or dropped its [`ReplyTo`](crate::ReplyTo) without answering.
    ///
    /// # Examples
    ///
    /// ```
    /// # use tina::prelude::*;
    /// # #[derive(Bounded)]
    /// # struct Add(u64);
    /// # #[derive(Bounded, Request)]
    /// # #[reply(u64)]
    /// # struct Total;
    /// # #[isolate(mailbox = 16)]
    /// # struct Sum {
    /// #     total: u64,
    /// # }
    /// # #[isolate]
    /// # impl Sum {
    /// #     fn init(_ctx: &mut Ctx<Self>) -> Self {
    /// #         Sum { total: 0 }
    /// #     }
    /// #     fn add(&mut self, add: Add, _ctx: &mut Ctx<Self>) -> Effect {
    /// #         self.total += add.0;
    /// #         Effect::Receive
    /// #     }
    /// #     fn total(&mut self, _total: Total, reply: ReplyTo<Total>, ctx: &mut Ctx<Self>) -> Effect {
    /// #         ctx.reply(reply, self.total)
    /// #     }
    /// # }
    /// let mut spec = BootSpec::new(2);
    /// spec.isolate::<Sum>(1).pin_threads(false);
    /// let sum = spec.root::<Sum>(ShardId(1), ());
    /// let system = System::start(spec).expect("a valid spec");
    /// system.send(&sum, Add(40)).expect("room in the ingress queue");
    /// system.send(&sum, Add(2)).expect("room in the ingress queue");
    /// match system.call(&sum, Total, Duration::from_secs(5)) {
    ///     Ok(total) => assert_eq!(total, 42),
    ///     Err(error) => panic!("no answer: {error}"),
    /// }
    /// system.shutdown(Duration::from_secs(1));
    /// ```
    pub fn call<T, Q>(
        &self,
        to: &Handle<T>,
        request: Q,
        timeout: Duration,
    ) -> Result<Q::Reply, ExternalCallError<Q>>
    where
        T: crate::isolate::Answers<Q>,
        Q: Request,
    {
        let target = to.raw();
        let shard = match crate::external::check_target(target, self.signals.len()) {
            Ok(shard) => shard,
            Err(kind) => {
                return Err(ExternalCallError::NotSent(SendError {
                    kind,
                    message: request,
                }));
            }
        };
        let Some(ticket) = self.external.begin() else {
            return Err(ExternalCallError::NoCallSlot(request));
        };
        let started = std::time::Instant::now();
        let deadline = self
            .clock
            .read()
            .as_nanos()
            .saturating_add(nanos_of(timeout));
        crate::external::push_ingress(&self.signals[shard], request, |request| {
            crate::external::external_request::<T, Q>(target, &ticket, deadline, request)
        })
        .map_err(|(kind, message)| ExternalCallError::NotSent(SendError { kind, message }))?;
        // A timeout too long for the OS clock means "as long as it takes", within reason.
        let wait_until = started
            .checked_add(timeout)
            .unwrap_or_else(|| started + Duration::from_secs(365 * 24 * 3600));
        let outcome = self.external.wait(&ticket, wait_until);
        crate::external::finish::<Q>(outcome)
    }

    /// The number of shards.
    pub fn shard_count(&self) -> usize {
        self.signals.len()
    }

    /// A snapshot of one shard's counters, published by the shard every 50 µs while it is
    /// busy and before it sleeps (a snapshot may mix two ticks; it never tears a value).
    ///
    /// # Panics
    ///
    /// When `shard` is not a shard of this system.
    pub fn counters(&self, shard: ShardId) -> Counters {
        let signals = &self.signals[shard.index()];
        let mut counters = signals.counters.snapshot();
        counters.ingress_refused = signals.ingress_refused.load(Ordering::Relaxed);
        counters
    }

    /// A reader of the system's live statistics: per shard and per isolate type, each
    /// shard's figures from one consistent publication (see [`crate::stats`]). Clone it
    /// into a monitoring thread; it keeps working after the system stops (with the last
    /// figures published).
    pub fn stats_reader(&self) -> crate::StatsReader {
        self.stats.clone()
    }

    /// A fresh snapshot of the live statistics (`self.stats_reader().read()`).
    pub fn stats(&self) -> crate::Stats {
        self.stats.read()
    }

    /// Every shard's counters added up.
    pub fn totals(&self) -> Counters {
        let mut total = Counters::default();
        for shard in 0..self.signals.len() {
            total.add(&self.counters(ShardId(shard as u16)));
        }
        total
    }

    /// Polls the totals every millisecond until `condition` holds or `timeout` passes;
    /// returns whether it held.
    ///
    /// # Panics
    ///
    /// When `timeout` is too long for the OS clock (now plus `timeout` overflows
    /// [`std::time::Instant`]).
    pub fn wait_until(&self, timeout: Duration, condition: impl Fn(&Counters) -> bool) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if condition(&self.totals()) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Revives a quarantined shard: its supervision tree is rebuilt from the boot spec and
    /// peers' sends reach it again. Does nothing to a shard that is not quarantined.
    ///
    /// # Panics
    ///
    /// When `shard` is not a shard of this system.
    pub fn revive(&self, shard: ShardId) {
        let signals = &self.signals[shard.index()];
        signals.revive.store(true, Ordering::Release);
        signals.wake();
    }

    /// Installs handlers for SIGINT/SIGTERM, which make [`System::wait_for_signal`] return,
    /// and SIGUSR2, which revives every quarantined shard. The handlers are the process's,
    /// and stay installed.
    ///
    /// # Errors
    ///
    /// The OS error of the first `sigaction` call that failed; the handlers installed
    /// before it stay.
    pub fn shutdown_on_signals(&self) -> std::io::Result<()> {
        crate::signal::install()
    }

    /// Blocks until SIGINT or SIGTERM arrives (after [`System::shutdown_on_signals`]), or
    /// until `timeout` passes; returns whether a signal arrived.
    ///
    /// # Panics
    ///
    /// When `timeout` is too long for the OS clock (now plus `timeout` overflows
    /// [`std::time::Instant`]).
    pub fn wait_for_signal(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if crate::signal::signalled() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        crate::signal::signalled()
    }

    /// The shape of a server's `main`: installs the signal handlers, waits for SIGINT or
    /// SIGTERM (SIGUSR2 revives quarantined shards meanwhile), then shuts down, giving the
    /// isolates `drain` to finish, and returns the summary.
    ///
    /// # Errors
    ///
    /// What [`System::shutdown_on_signals`] returns, before any waiting; the system is then
    /// dropped, which shuts it down with a drain of [`DROP_DRAIN`].
    pub fn run_until_signal(self, drain: Duration) -> std::io::Result<Summary> {
        self.shutdown_on_signals()?;
        while !self.wait_for_signal(Duration::from_secs(3600)) {}
        Ok(self.shutdown(drain))
    }

    /// Shuts the system down: every isolate's `shutdown` hook runs, shards keep dispatching
    /// until all isolates have exited or `drain` has passed (then the rest are torn down),
    /// and every thread is joined.
    pub fn shutdown(mut self, drain: Duration) -> Summary {
        self.finish(drain)
    }

    /// The shutdown itself, for `shutdown` and `Drop`: the threads are taken, so it runs
    /// once.
    fn finish(&mut self, drain: Duration) -> Summary {
        let now = self.clock.read().as_nanos();
        let deadline = now.saturating_add(nanos_of(drain));
        self.drain_deadline.store(deadline, Ordering::Release);
        for signals in self.signals.iter() {
            signals.shutdown.store(true, Ordering::Release);
            signals.wake();
        }
        let threads = std::mem::take(&mut self.threads);
        let mut shards = Vec::with_capacity(threads.len());
        let mut drained = true;
        let mut crash_reports = Vec::new();
        let mut failed_shards = Vec::new();
        let mut overruns = Vec::new();
        for (index, thread) in threads.into_iter().enumerate() {
            let outcome = thread.join().unwrap_or_else(|_| ShardOutcome {
                counters: self.signals[index].counters.snapshot(),
                drained: false,
                crash_reports: Vec::new(),
                failed: true,
                ended_at: self.clock.read().as_nanos(),
            });
            drained &= outcome.drained && !outcome.failed;
            if outcome.ended_at > deadline {
                overruns.push((
                    ShardId(index as u16),
                    Duration::from_nanos(outcome.ended_at - deadline),
                ));
            }
            let mut outcome = outcome;
            outcome.counters.ingress_refused =
                self.signals[index].ingress_refused.load(Ordering::Relaxed);
            if outcome.failed {
                failed_shards.push(ShardId(index as u16));
            }
            shards.push(outcome.counters);
            crash_reports.extend(outcome.crash_reports);
        }
        let mut total = Counters::default();
        for counters in &shards {
            total.add(counters);
        }
        Summary {
            shards,
            total,
            drained: drained && overruns.is_empty(),
            drain,
            overruns,
            crash_reports,
            failed_shards,
        }
    }
}

impl Drop for System {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            let _ = self.finish(DROP_DRAIN);
        }
    }
}

/// A copy of a shard's last escalation report.
fn lock_report(slot: &std::sync::Mutex<Option<crate::CrashReport>>) -> Option<crate::CrashReport> {
    match slot.lock() {
        Ok(report) => report.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// What a shard thread hands back when it ends.
struct ShardOutcome {
    counters: Counters,
    drained: bool,
    crash_reports: Vec<crate::CrashReport>,
    /// A panic escaped the shard's trap boundary and stopped it.
    failed: bool,
    /// When the shard stopped, on the runtime clock.
    ended_at: u64,
}

/// The shard thread whose arenas the allocator refused: it records the error for
/// [`System::start`], which then stops every shard and returns it, and ends at once.
fn refused_arenas(signals: &Signals, error: crate::SpecError, clock: Clock) -> ShardOutcome {
    *signals
        .boot_error
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error);
    signals.down.store(true, Ordering::Release);
    signals.booted.store(true, Ordering::Release);
    ShardOutcome {
        counters: signals.counters.snapshot(),
        drained: true,
        crash_reports: Vec::new(),
        failed: false,
        ended_at: clock.read().as_nanos(),
    }
}

/// How an idle shard waits: idle ticks spun before it parks, and the window before a timer's
/// deadline within which it spins instead of parking (nanoseconds, 0: never).
#[derive(Clone, Copy, Debug)]
struct Idle {
    spin: u32,
    /// Whether a spin tick yields the core instead of busy-waiting.
    spin_yields: bool,
    timer_spin: u64,
}

/// The shard thread around [`run_shard`]: a panic that escapes the shard's own trap
/// boundary (every call into user code is trapped, so this is a runtime bug) must not end
/// the thread silently. The shard is marked down at once, so peers' sends are refused with
/// `ShardDown` instead of filling a ring nobody drains, the failure is printed, and the
/// summary lists the shard as failed.
fn run_shard_guarded(
    shard: Shard,
    clock: Clock,
    idle: Idle,
    drain_deadline: &AtomicU64,
) -> ShardOutcome {
    let signals = shard.core.signals.clone();
    let index = shard.core.shard.index();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_shard(shard, clock, idle, drain_deadline)
    })) {
        Ok(outcome) => outcome,
        Err(panic) => {
            signals[index].down.store(true, Ordering::Release);
            signals[index].failed.store(true, Ordering::Release);
            signals[index].health_changes.fetch_add(1, Ordering::AcqRel);
            signals[index].booted.store(true, Ordering::Release);
            let reason = crate::supervision::crash::reason_of(panic);
            eprintln!(
                "tina: shard {index}: a panic escaped the shard's trap boundary (a tina-runtime \
                 bug: {reason}); the shard is stopped and marked down, the other shards keep \
                 running"
            );
            ShardOutcome {
                counters: signals[index].counters.snapshot(),
                drained: false,
                crash_reports: Vec::new(),
                failed: true,
                ended_at: clock.read().as_nanos(),
            }
        }
    }
}

/// Asks the kernel to wake this thread on time: the default timer slack (50 µs on Linux)
/// would make every timer up to that late. Best effort; other systems keep their default.
fn precise_timer_slack() {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        // `PR_SET_TIMERSLACK` takes one integer argument (the slack in
        // nanoseconds) and touches only the calling thread's scheduling attributes; the
        // other arguments are ignored. No memory is passed.
        // SAFETY: so the call touches no memory.
        let _ = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
    }
}

/// Puts the calling thread in Linux's `SCHED_IDLE` class (see [`BootSpec::background`]).
/// Best effort; other systems keep the default priority.
fn lowest_priority() {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // `sched_setscheduler` with pid 0 changes the calling thread's policy; it reads the
        // `sched_param` behind the pointer, which lives on this stack frame for the call,
        // and writes nothing. Lowering one's own priority needs no privilege.
        // SAFETY: so the pointer is valid for the read the call makes.
        let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    }
}

/// Linux's `struct sched_attr` (`include/uapi/linux/sched/types.h`, the size with the
/// utilisation clamps: 56 bytes); libc does not declare it.
#[cfg(all(target_os = "linux", not(miri)))]
#[repr(C)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    /// For the normal policy: the requested slice, in nanoseconds.
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

/// Asks for a scheduler slice of `nanos` for the calling thread, keeping its policy and
/// nice value (see [`BootSpec::scheduler_slice`]). Only for the normal and batch policies
/// (a thread started under a real-time policy keeps it). Best effort; other systems, and
/// kernels before 6.12, keep their default.
fn scheduler_slice(nanos: u64) {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        let mut attr = SchedAttr {
            size: size_of::<SchedAttr>() as u32,
            policy: 0,
            flags: 0,
            nice: 0,
            priority: 0,
            runtime: 0,
            deadline: 0,
            period: 0,
            util_min: 0,
            util_max: 0,
        };
        // `sched_getattr(0, attr, size, 0)` fills in at most `size` bytes of `attr` with the
        // calling thread's attributes; `attr` is a live, writable local of that size.
        // SAFETY: so the pointer is valid for the write the call makes.
        let got = unsafe {
            libc::syscall(
                libc::SYS_sched_getattr,
                0,
                &mut attr as *mut SchedAttr,
                size_of::<SchedAttr>() as u32,
                0u32,
            )
        };
        let normal = [libc::SCHED_OTHER as u32, libc::SCHED_BATCH as u32];
        if got != 0 || !normal.contains(&attr.policy) {
            return;
        }
        attr.size = size_of::<SchedAttr>() as u32;
        attr.flags = 0;
        attr.runtime = nanos;
        // `sched_setattr(0, attr, 0)` changes the calling thread's scheduling attributes;
        // it reads `attr.size` bytes behind the pointer — the whole struct, a local that
        // outlives the call — and writes nothing.
        // SAFETY: so the pointer is valid for the read the call makes.
        let _ =
            unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0u32) };
    }
    #[cfg(not(all(target_os = "linux", not(miri))))]
    let _ = nanos;
}

/// Descriptors a shard needs besides its sockets: the poll, its waker and its timerfd.
const FDS_PER_REACTOR: u64 = 3;
/// Descriptors left for everything else in the process (std streams, files, tests).
const FDS_SPARE: u64 = 64;

/// Raises the soft open-file limit to what the spec's sockets need (never lowers it), or
/// refuses the spec when the hard limit is too low.
fn raise_file_limit(spec: &BootSpec) -> Result<(), BootError> {
    let sockets: u64 = (0..spec.shards)
        .map(|shard| spec.socket_entries(ShardId(shard as u16)) as u64)
        .sum();
    if sockets == 0 {
        return Ok(());
    }
    let needed = sockets + FDS_PER_REACTOR * spec.shards as u64 + FDS_SPARE;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes one `rlimit` into the valid, writable struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(BootError::Os(std::io::Error::last_os_error()));
    }
    if limit.rlim_cur != libc::RLIM_INFINITY && limit.rlim_cur < needed {
        if limit.rlim_max != libc::RLIM_INFINITY && limit.rlim_max < needed {
            return Err(BootError::Spec(crate::spec::SpecErrors(vec![
                crate::SpecError::FileLimit {
                    needed,
                    hard_limit: limit.rlim_max,
                },
            ])));
        }
        limit.rlim_cur = needed;
        // SAFETY: `setrlimit` reads one valid, initialised `rlimit`; the soft limit asked is
        // within the hard limit, checked above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(BootError::Os(std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// The shard thread: tick while there is work, spin briefly when there is none, then park
/// until the next timer deadline or a peer's wake-up.
fn run_shard(
    mut shard: Shard,
    clock: Clock,
    idle: Idle,
    drain_deadline: &AtomicU64,
) -> ShardOutcome {
    let Idle {
        spin,
        spin_yields,
        timer_spin,
    } = idle;
    let mut idle_ticks = 0u32;
    let index = shard.core.shard.index();
    shard.publish_counters();
    // Quarantined while starting the static tree: a root could not be brought up.
    shard.core.signals[index]
        .boot_failed
        .store(shard.quarantined, Ordering::Release);
    shard.core.signals[index]
        .booted
        .store(true, Ordering::Release);
    let mut revives_seen = crate::signal::revive_requests();
    let mut published_at = 0u64;
    shard.publish_stats();
    // The start of the last tick that did work, until the next tick starts (a tick that
    // did work is always followed straight away by the next: sleeping follows only idle
    // ticks), so the tick's length costs no clock reading of its own.
    let mut busy_since: Option<u64> = None;
    let drained = loop {
        let tick_start = clock.read().as_nanos();
        if let Some(start) = busy_since.take() {
            shard
                .core
                .stats
                .note_busy_tick(tick_start.saturating_sub(start));
        }
        shard.core.set_now(tick_start);
        #[cfg(test)]
        test_faults::maybe_fail(&shard.core.signals[index]);
        if shard.core.signals[index].shutdown.load(Ordering::Acquire) {
            shard.begin_shutdown();
        }
        let revives = crate::signal::revive_requests();
        // A plain load first: the swap (a locked read-modify-write) only when a revive is
        // actually pending, so a busy tick never writes the shared flag's line.
        let revive = &shard.core.signals[index].revive;
        if (revive.load(Ordering::Relaxed) && revive.swap(false, Ordering::AcqRel))
            || revives != revives_seen
        {
            revives_seen = revives;
            if !shard.shutdown_started {
                shard.revive();
            }
        }
        let work = shard.tick();
        // Counter snapshots are for observers polling at human or test speed: publishing
        // them every 50 µs (and before every sleep) keeps a busy tick free of ~30 stores.
        if shard.core.now.saturating_sub(published_at) >= PUBLISH_EVERY_NANOS {
            shard.publish_counters();
            published_at = shard.core.now;
            if shard.core.stats.due(shard.core.now) {
                shard.publish_stats();
            }
        }
        if shard.shutdown_started {
            let deadline = drain_deadline.load(Ordering::Acquire);
            // The time after the tick: a handler may have run past the deadline.
            let now = clock.read().as_nanos();
            if shard.is_empty() {
                break now <= deadline;
            }
            if now >= deadline {
                shard.teardown_all();
                break false;
            }
        }
        if work > 0 {
            busy_since = Some(tick_start);
            idle_ticks = 0;
            continue;
        }
        idle_ticks = idle_ticks.saturating_add(1);
        if idle_ticks < spin {
            if spin_yields {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
            continue;
        }
        if !shard.prepare_to_sleep() {
            continue;
        }
        let mut timeout = SLEEP_MAX;
        if let Some(deadline) = shard.core.timers.next_deadline() {
            let left = deadline.saturating_sub(shard.core.now);
            if timer_spin > 0 && left <= timer_spin {
                // Within the spin window of a timer: tick again rather than sleep (the
                // OS's wake-up latency would make it late); the tick that finds it due
                // fires it.
                shard.woke();
                std::hint::spin_loop();
                continue;
            }
            // Sleep until the window opens; the rest of the wait is spun.
            timeout = timeout.min(Duration::from_nanos(left.saturating_sub(timer_spin)));
        }
        if shard.shutdown_started {
            timeout = timeout.min(Duration::from_millis(1));
        }
        if shard.core.io_waiting() {
            // Reactor work waits for a buffer or an envelope freed elsewhere: look again soon.
            timeout = timeout.min(Duration::from_millis(1));
        }
        // Statistics are published before sleeping when they changed — at most once per
        // `PUBLISH_EVERY`: sooner than that, the nap is cut short to publish on time.
        if shard.core.stats.changed(shard.stats_activity()) {
            if shard.core.stats.due(shard.core.now) {
                shard.publish_stats();
            } else {
                let published = shard.core.stats.published_at;
                let left =
                    (published + crate::stats::PUBLISH_EVERY_NANOS).saturating_sub(shard.core.now);
                timeout = timeout.min(Duration::from_nanos(left.max(1)));
            }
        }
        shard.core.counters.sleeps += 1;
        shard.publish_counters();
        published_at = shard.core.now;
        // Parked until the next deadline, to the nanosecond (the thread's timer slack is
        // 1 ns), or until a peer unparks it. A spurious wake-up just ends the nap early;
        // the loop re-checks everything.
        let parked_at = std::time::Instant::now();
        if shard.core.io.is_some() {
            // A shard with sockets sleeps in its poll: readiness wakes it as well.
            shard.core.sleep_in_poll(timeout);
        } else {
            std::thread::park_timeout(timeout);
        }
        shard.woke();
        shard.core.stats.asleep_nanos += crate::clock::nanos_of(parked_at.elapsed());
        // Woken by a peer: spin a little, more is likely to follow. Woken by the timeout
        // alone: one tick to fire what is due, then straight back to sleep.
        idle_ticks = if parked_at.elapsed() < timeout {
            0
        } else {
            spin
        };
    };
    shard.core.signals[index]
        .down
        .store(true, Ordering::Release);
    shard.publish_counters();
    shard.core.set_now(clock.read().as_nanos());
    shard.publish_stats();
    ShardOutcome {
        counters: shard.counters(),
        drained,
        crash_reports: shard.core.crash_log.iter().cloned().collect(),
        failed: false,
        ended_at: clock.read().as_nanos(),
    }
}

/// A planted failure outside every trap boundary, for the unit test of [`run_shard_guarded`]
/// (nothing in the runtime can be made to panic there on purpose otherwise).
#[cfg(test)]
mod test_faults {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::shard::core::Signals;

    /// The address of the signals of the one shard to fail (0 for none): no other system
    /// running in the test process can be hit.
    pub(super) static FAIL_SHARD: AtomicUsize = AtomicUsize::new(0);

    pub(super) fn maybe_fail(signals: &Signals) {
        if FAIL_SHARD.load(Ordering::Relaxed) == core::ptr::from_ref(signals) as usize {
            panic!("planted failure outside the trap boundary");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ctx, Effect, Isolate, Message};

    /// Pings itself every 100 µs.
    struct Beat;
    struct Pulse;
    enum BeatMessage {
        Pulse(Pulse),
    }
    impl Message for BeatMessage {
        fn tag(&self) -> u16 {
            0
        }
    }
    // SAFETY: unit structs and an enum of one: nothing owns memory.
    unsafe impl crate::Bounded for Pulse {}
    // SAFETY: as above.
    unsafe impl crate::Bounded for Beat {}
    // SAFETY: as above.
    unsafe impl crate::Bounded for BeatMessage {}

    impl crate::Accepts<Pulse> for Beat {
        fn wrap(message: Pulse) -> BeatMessage {
            BeatMessage::Pulse(message)
        }
        fn extract(message: BeatMessage) -> Option<Pulse> {
            let BeatMessage::Pulse(pulse) = message;
            Some(pulse)
        }
    }
    impl Isolate for Beat {
        type Message = BeatMessage;
        type Args = ();
        const MAILBOX: usize = 4;
        const NAME: &'static str = "Beat";
        fn init(_args: &(), ctx: &mut Ctx<Self>) -> Self {
            let _ = ctx.after(Duration::from_micros(100), Pulse);
            Beat
        }
        fn handle(&mut self, message: BeatMessage, ctx: &mut Ctx<Self>) -> Effect {
            let BeatMessage::Pulse(Pulse) = message;
            let _ = ctx.after(Duration::from_micros(100), Pulse);
            Effect::Receive
        }
    }

    #[test]
    fn a_shard_that_dies_outside_the_trap_is_reported_down_and_failed() {
        let mut spec = BootSpec::new(2);
        spec.pin_threads(false).isolate::<Beat>(1);
        spec.root::<Beat>(ShardId(0), ());
        spec.root::<Beat>(ShardId(1), ());
        let system = System::start(spec).unwrap();
        assert!(system.wait_until(Duration::from_secs(10), |totals| totals.dispatched > 20));
        test_faults::FAIL_SHARD.store(
            core::ptr::from_ref(&system.signals[1]) as usize,
            Ordering::Relaxed,
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !system.signals[1].down.load(Ordering::Acquire) {
            assert!(
                std::time::Instant::now() < deadline,
                "shard 1 never marked down"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // Shard 0 keeps working.
        let before = system.counters(ShardId(0)).dispatched;
        assert!(system.wait_until(Duration::from_secs(10), |_| {
            system.counters(ShardId(0)).dispatched > before + 5
        }));
        test_faults::FAIL_SHARD.store(0, Ordering::Relaxed);
        let summary = system.shutdown(Duration::from_secs(5));
        assert_eq!(summary.failed_shards, [ShardId(1)]);
        assert!(!summary.drained);
        assert!(
            summary.shards[1].dispatched > 0,
            "its last published counters are kept"
        );
    }
}
