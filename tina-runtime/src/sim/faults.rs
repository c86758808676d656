//! What a simulation may break, and how often: integer ratios, never floats.
//!
//! A [`Faults`] value is plain data. Every kind is off by default ([`Faults::none`]); a test
//! turns on what it wants, or lets the seed choose ([`Faults::swarm`]): each kind on or off,
//! and its strength, drawn from the seed's swarm stream, so a sweep explores configurations
//! as well as interleavings. A configuration prints as one line ([`Faults`]'s `Display`),
//! and that line is part of every failure report.

use core::any::TypeId;
use core::fmt;
use core::time::Duration;

use super::rng::{Domain, Rng};
use crate::clock::nanos_of;

/// A rate as an integer ratio: `numerator` times in `denominator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ratio {
    numerator: u32,
    denominator: u32,
}

impl Ratio {
    /// Never.
    pub const OFF: Ratio = Ratio {
        numerator: 0,
        denominator: 1,
    };

    /// Always.
    pub const ALWAYS: Ratio = Ratio {
        numerator: 1,
        denominator: 1,
    };

    /// `numerator` in `denominator`.
    ///
    /// # Panics
    ///
    /// When `denominator` is 0 or `numerator > denominator`: a rate is at most one.
    pub const fn new(numerator: u32, denominator: u32) -> Ratio {
        assert!(denominator > 0, "a ratio's denominator must be at least 1");
        assert!(
            numerator <= denominator,
            "a ratio is at most one: numerator <= denominator"
        );
        Ratio {
            numerator,
            denominator,
        }
    }

    /// Whether this rate never fires.
    pub const fn is_off(self) -> bool {
        self.numerator == 0
    }

    /// The numerator.
    pub const fn numerator(self) -> u32 {
        self.numerator
    }

    /// The denominator.
    pub const fn denominator(self) -> u32 {
        self.denominator
    }

    /// Draws once from `rng`: true with this probability. Draws nothing when the rate is
    /// off, so a kind that is off never moves its stream.
    #[inline]
    pub fn hit(self, rng: &mut Rng) -> bool {
        if self.numerator == 0 {
            return false;
        }
        rng.chance(u64::from(self.numerator), u64::from(self.denominator))
    }
}

impl Default for Ratio {
    fn default() -> Self {
        Ratio::OFF
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_off() {
            formatter.write_str("off")
        } else {
            write!(formatter, "{}/{}", self.numerator, self.denominator)
        }
    }
}

/// Which isolate types injected crashes and init failures may hit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrashTargets {
    /// Empty: every type.
    types: heapless::Vec<(TypeId, &'static str), 8>,
}

impl CrashTargets {
    /// Whether `type_id` may be hit.
    pub(crate) fn includes(&self, type_id: TypeId) -> bool {
        self.types.is_empty() || self.types.iter().any(|&(id, _)| id == type_id)
    }
}

/// Faults on the simulated TCP network (see the `io` module's simulated sockets).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpFaults {
    /// Fixed one-way latency of every segment (bytes, FIN, RST) in flight.
    pub latency: Duration,
    /// Extra latency per segment, drawn in `0..=jitter`; a stream's bytes still arrive in
    /// order (a later segment never overtakes an earlier one).
    pub jitter: Duration,
    /// A read returns fewer bytes than are there (at least one).
    pub short_read: Ratio,
    /// A write takes fewer bytes than there is room for (at least one).
    pub short_write: Ratio,
    /// A read or write finds the connection reset (the peer sees a reset too).
    pub reset: Ratio,
    /// A connect is refused although a listener is there.
    pub connect_refused: Ratio,
    /// A connect is never answered (the caller's connect timeout decides).
    pub connect_timeout: Ratio,
    /// A connection's peer vanishes without FIN or RST: what is written to it disappears,
    /// nothing more is ever read from it.
    pub half_open: Ratio,
    /// A write makes its reader stop taking bytes (a zero window) for up to
    /// [`TcpFaults::stall_max`].
    pub stall: Ratio,
    /// The longest zero-window stall.
    pub stall_max: Duration,
    /// A connect finds its listener's accept backlog full and is refused.
    pub backlog_overflow: Ratio,
}

impl TcpFaults {
    /// Whether every TCP fault is off.
    pub fn is_off(&self) -> bool {
        self.latency.is_zero()
            && self.jitter.is_zero()
            && self.short_read.is_off()
            && self.short_write.is_off()
            && self.reset.is_off()
            && self.connect_refused.is_off()
            && self.connect_timeout.is_off()
            && self.half_open.is_off()
            && self.stall.is_off()
            && self.backlog_overflow.is_off()
    }
}

/// What a simulation injects. Every kind is off by default.
///
/// Between shards the transport is simulated: an envelope may be dropped, delayed
/// (envelopes of one ordered shard pair stay in FIFO order unless [`Faults::reorder`] is
/// set; different pairs reorder freely), or held on a cut link while a shard is
/// partitioned. Nothing is ever duplicated: an envelope owns its payload (a user value of
/// any type, transfer buffers included), so a copy would be a double drop, not a fault the
/// in-process transport can have; and a TCP stream delivers its bytes once, so the
/// simulated sockets do not duplicate either. Bounces travel on their own reserved path and
/// are neither dropped nor delayed: they are the runtime's report of a refusal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// A cross-shard envelope (message, request, reply, spawn) is lost.
    pub drop: Ratio,
    /// A cross-shard envelope is delayed by up to [`Faults::delay_max`].
    pub delay: Ratio,
    /// The longest delay.
    pub delay_max: Duration,
    /// Delays may reorder envelopes within one ordered shard pair (off: per-pair FIFO).
    pub reorder: bool,
    /// Per round, with no partition in force: one shard is partitioned.
    pub partition: Ratio,
    /// Of partitions, the share that are one-way (the rest cut both directions).
    pub one_way: Ratio,
    /// The longest partition; each heals after a time drawn up to this.
    pub partition_max: Duration,
    /// Per handler call (message, request, call result, timer, I/O event, resume): the
    /// isolate crashes before the handler runs, as if it had panicked.
    pub crash: Ratio,
    /// Per `init`: it fails, as if it had panicked.
    pub init_failure: Ratio,
    /// The isolate types crashes and init failures may hit (default: all).
    pub crash_targets: CrashTargets,
    /// Faults on the simulated TCP network.
    pub tcp: TcpFaults,
}

/// Strengths a swarm draws from, weakest first.
const SWARM_RATES: [Ratio; 4] = [
    Ratio::new(1, 1000),
    Ratio::new(1, 100),
    Ratio::new(1, 20),
    Ratio::new(1, 5),
];

impl Faults {
    /// Nothing injected.
    pub fn none() -> Faults {
        Faults::default()
    }

    /// Every kind on, at moderate rates: what the determinism tests run with.
    pub fn all() -> Faults {
        Faults {
            drop: Ratio::new(1, 100),
            delay: Ratio::new(1, 10),
            delay_max: Duration::from_millis(5),
            reorder: false,
            partition: Ratio::new(1, 2000),
            one_way: Ratio::new(1, 2),
            partition_max: Duration::from_millis(20),
            crash: Ratio::new(1, 500),
            init_failure: Ratio::new(1, 50),
            crash_targets: CrashTargets::default(),
            tcp: TcpFaults {
                latency: Duration::from_micros(20),
                jitter: Duration::from_micros(50),
                short_read: Ratio::new(1, 4),
                short_write: Ratio::new(1, 4),
                reset: Ratio::new(1, 500),
                connect_refused: Ratio::new(1, 50),
                connect_timeout: Ratio::new(1, 50),
                half_open: Ratio::new(1, 200),
                stall: Ratio::new(1, 50),
                stall_max: Duration::from_millis(2),
                backlog_overflow: Ratio::new(1, 50),
            },
        }
    }

    /// A configuration drawn from `seed` (its own stream, [`Domain::Swarm`]): each kind on
    /// or off with even odds, and when on, a strength drawn from 1/1000, 1/100, 1/20 and
    /// 1/5 (durations likewise from a short list). `targets` limits injected crashes as
    /// [`Faults::crash_targets`] does; it is kept as given.
    pub fn swarm(seed: u64, targets: CrashTargets) -> Faults {
        let mut rng = Rng::stream(seed, Domain::Swarm);
        let rate = |rng: &mut Rng| {
            if rng.below(2) == 0 {
                Ratio::OFF
            } else {
                SWARM_RATES[rng.below(SWARM_RATES.len() as u64) as usize]
            }
        };
        let drop = rate(&mut rng);
        let delay = rate(&mut rng);
        let delay_max = pick(&mut rng, &[10, 1_000, 20_000]);
        let reorder = rng.below(4) == 0;
        // Partitions and crashes are strong faults: their strengths are scaled down.
        let partition = scaled(rate(&mut rng), 20);
        let one_way = rate(&mut rng);
        let partition_max = pick(&mut rng, &[100, 5_000, 50_000]);
        let crash = scaled(rate(&mut rng), 10);
        let init_failure = rate(&mut rng);
        let tcp = TcpFaults {
            latency: if rng.below(2) == 0 {
                Duration::ZERO
            } else {
                pick(&mut rng, &[1, 50, 1_000])
            },
            jitter: if rng.below(2) == 0 {
                Duration::ZERO
            } else {
                pick(&mut rng, &[1, 100, 2_000])
            },
            short_read: rate(&mut rng),
            short_write: rate(&mut rng),
            reset: scaled(rate(&mut rng), 10),
            connect_refused: rate(&mut rng),
            connect_timeout: rate(&mut rng),
            half_open: scaled(rate(&mut rng), 10),
            stall: rate(&mut rng),
            stall_max: pick(&mut rng, &[10, 1_000, 10_000]),
            backlog_overflow: rate(&mut rng),
        };
        Faults {
            drop,
            delay,
            delay_max,
            reorder,
            partition,
            one_way,
            partition_max,
            crash,
            init_failure,
            crash_targets: targets,
            tcp,
        }
    }

    /// Limits injected crashes and init failures to isolates of type `I` (call again to
    /// add types; at most 8).
    ///
    /// # Panics
    ///
    /// When more than 8 types are named.
    pub fn crash_only<I: 'static>(mut self) -> Faults {
        self.crash_targets
            .types
            .push((TypeId::of::<I>(), core::any::type_name::<I>()))
            .expect("at most 8 crash target types");
        self
    }

    /// Whether anything between shards is faulted (drop, delay or partition).
    pub fn faults_transport(&self) -> bool {
        !self.drop.is_off() || !self.delay.is_off() || !self.partition.is_off()
    }

    pub(crate) fn delay_max_nanos(&self) -> u64 {
        nanos_of(self.delay_max).max(1)
    }

    pub(crate) fn partition_max_nanos(&self) -> u64 {
        nanos_of(self.partition_max).max(1)
    }
}

/// A duration in microseconds drawn from `choices`.
fn pick(rng: &mut Rng, micros: &[u64]) -> Duration {
    Duration::from_micros(micros[rng.below(micros.len() as u64) as usize])
}

/// `rate` made `factor` times rarer.
fn scaled(rate: Ratio, factor: u32) -> Ratio {
    if rate.is_off() {
        rate
    } else {
        Ratio::new(rate.numerator, rate.denominator.saturating_mul(factor))
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "drop={} delay={}(max {:?}{}) partition={}(one-way {}, max {:?}) crash={} init={}",
            self.drop,
            self.delay,
            self.delay_max,
            if self.reorder { ", reorder" } else { "" },
            self.partition,
            self.one_way,
            self.partition_max,
            self.crash,
            self.init_failure,
        )?;
        if !self.crash_targets.types.is_empty() {
            formatter.write_str(" crash-targets=")?;
            for (index, (_, name)) in self.crash_targets.types.iter().enumerate() {
                if index > 0 {
                    formatter.write_str(",")?;
                }
                formatter.write_str(name.rsplit("::").next().unwrap_or(name))?;
            }
        }
        let tcp = &self.tcp;
        if tcp.is_off() {
            return formatter.write_str(" tcp=off");
        }
        write!(
            formatter,
            " tcp(latency={:?} jitter={:?} short-read={} short-write={} reset={} refused={} \
             connect-timeout={} half-open={} stall={}(max {:?}) backlog-overflow={})",
            tcp.latency,
            tcp.jitter,
            tcp.short_read,
            tcp.short_write,
            tcp.reset,
            tcp.connect_refused,
            tcp.connect_timeout,
            tcp.half_open,
            tcp.stall,
            tcp.stall_max,
            tcp.backlog_overflow,
        )
    }
}

/// Faults injected in one run, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Cross-shard envelopes dropped.
    pub dropped: u64,
    /// Cross-shard envelopes delayed.
    pub delayed: u64,
    /// Partitions started (symmetric and one-way).
    pub partitions: u64,
    /// Of those, one-way.
    pub one_way_partitions: u64,
    /// Handler calls turned into crashes.
    pub crashes: u64,
    /// `init` calls turned into failures.
    pub init_failures: u64,
    /// Simulated TCP: short reads.
    pub short_reads: u64,
    /// Simulated TCP: short writes.
    pub short_writes: u64,
    /// Simulated TCP: connections reset mid-stream.
    pub resets: u64,
    /// Simulated TCP: connects refused with a listener present.
    pub connects_refused: u64,
    /// Simulated TCP: connects left unanswered.
    pub connects_timed_out: u64,
    /// Simulated TCP: connections whose peer vanished silently.
    pub half_open: u64,
    /// Simulated TCP: zero-window stalls.
    pub stalls: u64,
    /// Simulated TCP: connects refused by a full backlog.
    pub backlog_overflows: u64,
}

impl FaultCounts {
    /// Every count added up.
    pub fn total(&self) -> u64 {
        self.dropped
            + self.delayed
            + self.partitions
            + self.crashes
            + self.init_failures
            + self.short_reads
            + self.short_writes
            + self.resets
            + self.connects_refused
            + self.connects_timed_out
            + self.half_open
            + self.stalls
            + self.backlog_overflows
    }

    pub(crate) fn add(&mut self, other: &FaultCounts) {
        self.dropped += other.dropped;
        self.delayed += other.delayed;
        self.partitions += other.partitions;
        self.one_way_partitions += other.one_way_partitions;
        self.crashes += other.crashes;
        self.init_failures += other.init_failures;
        self.short_reads += other.short_reads;
        self.short_writes += other.short_writes;
        self.resets += other.resets;
        self.connects_refused += other.connects_refused;
        self.connects_timed_out += other.connects_timed_out;
        self.half_open += other.half_open;
        self.stalls += other.stalls;
        self.backlog_overflows += other.backlog_overflows;
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "dropped {} delayed {} partitions {} (one-way {}) crashes {} init-failures {} \
             tcp: short-reads {} short-writes {} resets {} refused {} connect-timeouts {} \
             half-open {} stalls {} backlog-overflows {}",
            self.dropped,
            self.delayed,
            self.partitions,
            self.one_way_partitions,
            self.crashes,
            self.init_failures,
            self.short_reads,
            self.short_writes,
            self.resets,
            self.connects_refused,
            self.connects_timed_out,
            self.half_open,
            self.stalls,
            self.backlog_overflows,
        )
    }
}
