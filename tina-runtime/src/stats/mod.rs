//! Live statistics: per isolate type and per shard, published by each shard into its own
//! cache-line-aligned [`SeqCell`] and read as consistent snapshots without a lock.
//!
//! **What each shard records** (plain integers on its own thread, never shared while it
//! writes them):
//!
//! - per isolate type: handler invocations; handler time, in a fixed-bucket [`Histogram`],
//!   from a sample of the dispatches (one in 64 on average, at randomised intervals so
//!   periodic traffic cannot hide from it, each timing the dispatch's first handler
//!   invocation with two clock readings — a dispatch that batches further messages of the
//!   same mailbox does not time those); the deepest mailbox since the last peak reset (its
//!   length when its isolate's dispatch began: a mailbox grows only while its isolate is not
//!   running); sends refused to the type, by reason; bounces handed back to the type's
//!   isolates; crashes and restarts;
//! - per shard: the time spent in ticks that did work (busy) and asleep, the longest tick
//!   since the last peak reset, and the user's own counters and histograms (declared in the
//!   boot spec: [`BootSpec::counter`](crate::BootSpec::counter),
//!   [`BootSpec::histogram`](crate::BootSpec::histogram)).
//!
//! **What a publication adds**, read at that moment: the shard's [`Counters`]; per type the
//! live, ready and call-waiting isolates and the messages queued (a scan of the slot table,
//! at most [`SCAN_CHUNK`] slots per publication, so a table larger than that is reported as
//! of its last complete pass); envelopes waiting in the ring to each peer; envelope-pool,
//! transfer-buffer, socket, timer and call-table use; quarantine.
//!
//! A shard publishes at most once per [`PUBLISH_EVERY`] while busy, and before it sleeps
//! (or, if it published less than that ago, it wakes in time to). Publishing is a few
//! hundred relaxed stores on the shard's own cell; readers ([`StatsReader`]) copy the cell
//! and retry if a publication overlapped the copy, so the shard never waits for them.
//!
//! Nothing is recorded per message: the per-type call count is added once per batch of
//! dispatches, the sampling countdown and the depth peak once per dispatch. Building with
//! `RUSTFLAGS="--cfg tina_no_stats"` compiles those two out; that build exists to measure
//! what the statistics cost (BENCHMARKS.md). Snapshots still work in it, with handler
//! times and depth peaks empty.

pub(crate) mod histogram;
pub mod prometheus;
pub mod top;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use histogram::{BUCKETS, Histogram, bucket_high, bucket_low, bucket_of};
use tina_mailbox::{SeqCell, SeqWriter};

use crate::clock::Instant;
use crate::counters::Counters;
use crate::error::SendErrorKind;
use crate::handle::ShardId;

/// The least time between two publications of a busy shard's statistics.
pub const PUBLISH_EVERY: core::time::Duration = core::time::Duration::from_millis(1);
pub(crate) const PUBLISH_EVERY_NANOS: u64 = 1_000_000;

/// Slots scanned per publication for the live/ready/waiting/queued figures.
pub const SCAN_CHUNK: usize = 16_384;

/// Most user counters a boot spec may declare.
pub const USER_COUNTERS_MAX: usize = 64;
/// Most user histograms a boot spec may declare.
pub const USER_HISTOGRAMS_MAX: usize = 16;

/// Mean handler invocations between two timed ones (the sampling interval is drawn
/// uniformly from `SAMPLE_MEAN / 2 .. SAMPLE_MEAN * 3 / 2`).
pub const SAMPLE_MEAN: u32 = 64;

/// A user counter declared in the boot spec; bump it with
/// [`Ctx::count`](crate::Ctx::count).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CounterId(pub(crate) u16);

/// A user histogram declared in the boot spec; record into it with
/// [`Ctx::observe`](crate::Ctx::observe).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HistogramId(pub(crate) u16);

/// A user metric's name and help text, as declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricInfo {
    /// The name (Prometheus metric-name characters: `[a-zA-Z_:][a-zA-Z0-9_:]*`).
    pub name: String,
    /// One line saying what it counts.
    pub help: String,
}

/// Whether `name` is a valid Prometheus metric name.
pub(crate) fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Sends refused, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    /// The target's mailbox was full.
    pub mailbox_full: u64,
    /// The target shard's envelope pool was exhausted.
    pub pool_exhausted: u64,
    /// The handle was stale (its isolate had exited).
    pub stale: u64,
    /// The target shard was down (quarantined or stopped).
    pub shard_down: u64,
    /// The ring to the target's shard was full.
    pub ring_full: u64,
}

impl Refusals {
    /// Every refusal, whatever the reason.
    pub fn total(&self) -> u64 {
        self.mailbox_full + self.pool_exhausted + self.stale + self.shard_down + self.ring_full
    }

    /// Adds another count's refusals to these.
    pub fn add(&mut self, other: &Refusals) {
        self.mailbox_full += other.mailbox_full;
        self.pool_exhausted += other.pool_exhausted;
        self.stale += other.stale;
        self.shard_down += other.shard_down;
        self.ring_full += other.ring_full;
    }

    fn words(&self) -> [u64; 5] {
        [
            self.mailbox_full,
            self.pool_exhausted,
            self.stale,
            self.shard_down,
            self.ring_full,
        ]
    }

    fn from_words(words: &[u64]) -> Self {
        Self {
            mailbox_full: words[0],
            pool_exhausted: words[1],
            stale: words[2],
            shard_down: words[3],
            ring_full: words[4],
        }
    }

    fn count(&mut self, kind: SendErrorKind) {
        match kind {
            SendErrorKind::MailboxFull => self.mailbox_full += 1,
            SendErrorKind::PoolExhausted => self.pool_exhausted += 1,
            SendErrorKind::Stale => self.stale += 1,
            SendErrorKind::ShardDown => self.shard_down += 1,
            SendErrorKind::RingFull => self.ring_full += 1,
            SendErrorKind::NoFreeSlot | SendErrorKind::IngressFull => {}
        }
    }
}

/// One isolate type on one shard, at one publication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeStats {
    /// The type's name (`Isolate::NAME`).
    pub name: &'static str,
    /// Slots the spec gave the type on this shard.
    pub slots: u64,
    /// Isolates alive (started and not exited).
    pub live: u64,
    /// Isolates with work waiting to be dispatched.
    pub ready: u64,
    /// Isolates waiting on a call (`Effect::Call`).
    pub waiting: u64,
    /// Messages queued in the type's mailboxes.
    pub queued: u64,
    /// The deepest single mailbox of the type since the last peak reset
    /// ([`StatsReader::reset_peaks`]), as its isolate's dispatch began.
    pub depth_max: u64,
    /// Handler invocations (messages, requests, call outcomes, timers, inits).
    pub calls: u64,
    /// Handler time in nanoseconds, over the sampled invocations (see the module docs;
    /// empty in a simulation, where handlers take no simulated time).
    pub handler: Histogram,
    /// Sends addressed to the type that this shard refused, by reason.
    pub refused: Refusals,
    /// Bounces handed back to the type's isolates (refused on arrival elsewhere).
    pub bounces: u64,
    /// Crashes of the type's isolates.
    pub crashes: u64,
    /// Restarts by supervision after a crash or exit of one of the type's isolates.
    pub restarts: u64,
}

impl TypeStats {
    /// Estimated handler time in all, in nanoseconds: invocations × sampled mean.
    pub fn handler_nanos_estimate(&self) -> u64 {
        self.calls.saturating_mul(self.handler.mean())
    }
}

/// One transfer-buffer class of a shard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferUse {
    /// Bytes per block.
    pub block_size: u64,
    /// Blocks in use.
    pub taken: u64,
    /// Blocks in all.
    pub capacity: u64,
}

/// One shard at one publication: every figure read from the same publication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardStats {
    /// The shard.
    pub shard: ShardId,
    /// Publications so far (0: none yet, the figures are all zero).
    pub version: u64,
    /// The shard's clock at the publication (time since boot).
    pub at: Instant,
    /// Time spent in ticks that did work, in nanoseconds since boot.
    pub busy_nanos: u64,
    /// Time spent asleep, in nanoseconds since boot.
    pub asleep_nanos: u64,
    /// The longest tick since the last peak reset, in nanoseconds (a long handler shows
    /// here even when the sample missed it).
    pub tick_max_nanos: u64,
    /// Envelope-pool slots in use.
    pub pool_used: u64,
    /// Envelope-pool slots in all.
    pub pool_capacity: u64,
    /// Open sockets (connections and listeners).
    pub connections: u64,
    /// Timers pending.
    pub timers_pending: u64,
    /// Calls outstanding (entries of the call table in use).
    pub calls_outstanding: u64,
    /// The shard is quarantined.
    pub quarantined: bool,
    /// The shard's counters.
    pub counters: Counters,
    /// Envelopes published to the ring to each shard and not yet taken (0 for itself).
    pub rings: Vec<u64>,
    /// The capacity of each ring.
    pub ring_capacity: u64,
    /// Transfer-buffer use per class, smallest blocks first.
    pub buffers: Vec<BufferUse>,
    /// Per isolate type, in registration order.
    pub types: Vec<TypeStats>,
    /// The user counters, in declaration order.
    pub user_counters: Vec<u64>,
    /// The user histograms, in declaration order.
    pub user_histograms: Vec<Histogram>,
}

impl ShardStats {
    /// Busy time over wall time since boot, 0.0–1.0.
    pub fn utilisation(&self) -> f64 {
        if self.at.as_nanos() == 0 {
            return 0.0;
        }
        (self.busy_nanos as f64 / self.at.as_nanos() as f64).min(1.0)
    }

    /// Busy time over wall time between an earlier snapshot of this shard and this one.
    pub fn utilisation_since(&self, earlier: &ShardStats) -> f64 {
        let wall = self.at.as_nanos().saturating_sub(earlier.at.as_nanos());
        if wall == 0 {
            return 0.0;
        }
        (self.busy_nanos.saturating_sub(earlier.busy_nanos) as f64 / wall as f64).min(1.0)
    }
}

/// A snapshot of every shard (each shard's figures from one publication of its own).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Per shard, by index.
    pub shards: Vec<ShardStats>,
    /// The user counters' names and help, in declaration order.
    pub user_counters: Arc<[MetricInfo]>,
    /// The user histograms' names and help, in declaration order.
    pub user_histograms: Arc<[MetricInfo]>,
    scratch: Vec<u64>,
}

impl Stats {
    /// Per isolate type (registration order): the type's figures added up over all shards
    /// (peaks and tick maxima are the largest of any shard).
    pub fn types_total(&self) -> Vec<TypeStats> {
        let mut totals: Vec<TypeStats> = Vec::new();
        for shard in &self.shards {
            for (index, stats) in shard.types.iter().enumerate() {
                if totals.len() <= index {
                    totals.push(stats.clone());
                    continue;
                }
                let total = &mut totals[index];
                total.slots += stats.slots;
                total.live += stats.live;
                total.ready += stats.ready;
                total.waiting += stats.waiting;
                total.queued += stats.queued;
                total.depth_max = total.depth_max.max(stats.depth_max);
                total.calls += stats.calls;
                total.handler.merge(&stats.handler);
                total.refused.add(&stats.refused);
                total.bounces += stats.bounces;
                total.crashes += stats.crashes;
                total.restarts += stats.restarts;
            }
        }
        totals
    }

    /// Every shard's counters added up.
    pub fn counters_total(&self) -> Counters {
        let mut total = Counters::default();
        for shard in &self.shards {
            total.add(&shard.counters);
        }
        total
    }
}

/// Where the figures of one shard's publication sit in its cell.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    shards: usize,
    classes: usize,
    types: usize,
    user_counters: usize,
    user_histograms: usize,
}

/// Fixed shard words before the counters.
const HEADER: usize = 11;
/// Fixed words per type before its histogram.
const TYPE_FIXED: usize = 14;

impl Layout {
    fn counters(&self) -> usize {
        HEADER
    }
    fn rings(&self) -> usize {
        self.counters() + Counters::LEN
    }
    fn buffers(&self) -> usize {
        self.rings() + self.shards
    }
    fn types(&self) -> usize {
        self.buffers() + 3 * self.classes
    }
    fn type_at(&self, index: usize) -> usize {
        self.types() + index * (TYPE_FIXED + Histogram::WORDS)
    }
    fn user_counters(&self) -> usize {
        self.type_at(self.types)
    }
    fn user_histograms(&self) -> usize {
        self.user_counters() + self.user_counters
    }
    fn len(&self) -> usize {
        self.user_histograms() + self.user_histograms * Histogram::WORDS
    }
}

/// A shard's cell on a cache line of its own (the sequence word is what readers poll).
#[repr(align(128))]
#[derive(Debug)]
struct Aligned(SeqCell);

/// What every shard and every reader share: one cell per shard and the names.
#[derive(Debug)]
pub(crate) struct Shared {
    layout: Layout,
    cells: Box<[Aligned]>,
    type_names: Box<[&'static str]>,
    type_slots: Box<[u64]>,
    user_counters: Arc<[MetricInfo]>,
    user_histograms: Arc<[MetricInfo]>,
    /// Bumped by [`StatsReader::reset_peaks`]; each shard zeroes its peaks after the first
    /// publication that sees a new value.
    peak_epoch: AtomicU64,
}

/// Reads consistent snapshots of a running system's (or a simulation's) statistics from any
/// thread; cheap to clone. Get one from [`System::stats_reader`](crate::System::stats_reader),
/// [`Ctx::stats_reader`](crate::Ctx::stats_reader) or
/// [`Simulation::stats_reader`](crate::Simulation::stats_reader).
#[derive(Clone, Debug)]
pub struct StatsReader {
    shared: Arc<Shared>,
}

impl StatsReader {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// A fresh snapshot of every shard.
    pub fn read(&self) -> Stats {
        let mut stats = Stats::default();
        self.read_into(&mut stats);
        stats
    }

    /// Reads a snapshot into `stats`, reusing its memory: once `stats` has held a snapshot
    /// of this system, this does not allocate (for readers inside the system, such as a
    /// metrics endpoint).
    pub fn read_into(&self, stats: &mut Stats) {
        let shared = &*self.shared;
        let layout = shared.layout;
        stats.user_counters = shared.user_counters.clone();
        stats.user_histograms = shared.user_histograms.clone();
        stats.scratch.resize(layout.len(), 0);
        stats
            .shards
            .truncate(shared.cells.len().min(stats.shards.len()));
        for (index, cell) in shared.cells.iter().enumerate() {
            cell.0.read(&mut stats.scratch);
            let version = cell.0.version();
            if stats.shards.len() <= index {
                stats.shards.push(ShardStats {
                    shard: ShardId(index as u16),
                    version: 0,
                    at: Instant::ZERO,
                    busy_nanos: 0,
                    asleep_nanos: 0,
                    tick_max_nanos: 0,
                    pool_used: 0,
                    pool_capacity: 0,
                    connections: 0,
                    timers_pending: 0,
                    calls_outstanding: 0,
                    quarantined: false,
                    counters: Counters::default(),
                    rings: Vec::new(),
                    ring_capacity: 0,
                    buffers: Vec::new(),
                    types: Vec::new(),
                    user_counters: Vec::new(),
                    user_histograms: Vec::new(),
                });
            }
            decode(
                &layout,
                shared,
                &stats.scratch,
                version,
                &mut stats.shards[index],
            );
        }
    }

    /// Starts a new peak window: every shard zeroes its mailbox-depth and tick-time peaks
    /// after its next publication (so the figures read until then still cover the window
    /// that ended). A `top` resets after each refresh, so its peaks are "since the last
    /// refresh"; several readers resetting share one window.
    pub fn reset_peaks(&self) {
        self.shared.peak_epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// The isolate types' names, in registration order.
    pub fn type_names(&self) -> &[&'static str] {
        &self.shared.type_names
    }

    /// The number of shards.
    pub fn shard_count(&self) -> usize {
        self.shared.cells.len()
    }

    /// Publications of `shard` so far.
    pub fn version(&self, shard: ShardId) -> u64 {
        self.shared
            .cells
            .get(shard.index())
            .map_or(0, |cell| cell.0.version())
    }
}

fn decode(layout: &Layout, shared: &Shared, words: &[u64], version: u64, out: &mut ShardStats) {
    out.version = version;
    out.at = Instant::from_nanos(words[0]);
    out.busy_nanos = words[1];
    out.asleep_nanos = words[2];
    out.tick_max_nanos = words[3];
    out.pool_used = words[4];
    out.pool_capacity = words[5];
    out.connections = words[6];
    out.timers_pending = words[7];
    out.calls_outstanding = words[8];
    out.quarantined = words[9] != 0;
    out.ring_capacity = words[10];
    let mut values = [0u64; Counters::LEN];
    values.copy_from_slice(&words[layout.counters()..layout.counters() + Counters::LEN]);
    out.counters = Counters::from_values(values);
    out.rings.clear();
    out.rings
        .extend_from_slice(&words[layout.rings()..layout.rings() + layout.shards]);
    out.buffers.clear();
    out.buffers.extend((0..layout.classes).map(|class| {
        let at = layout.buffers() + 3 * class;
        BufferUse {
            block_size: words[at],
            taken: words[at + 1],
            capacity: words[at + 2],
        }
    }));
    out.types.truncate(layout.types);
    for index in 0..layout.types {
        let at = layout.type_at(index);
        let fixed = &words[at..at + TYPE_FIXED];
        let handler = Histogram::read(&words[at + TYPE_FIXED..]);
        let stats = TypeStats {
            name: shared.type_names[index],
            slots: shared.type_slots[index],
            live: fixed[0],
            ready: fixed[1],
            waiting: fixed[2],
            queued: fixed[3],
            depth_max: fixed[4],
            calls: fixed[5],
            handler,
            refused: Refusals::from_words(&fixed[6..11]),
            bounces: fixed[11],
            crashes: fixed[12],
            restarts: fixed[13],
        };
        if out.types.len() <= index {
            out.types.push(stats);
        } else {
            out.types[index] = stats;
        }
    }
    out.user_counters.clear();
    out.user_counters.extend_from_slice(
        &words[layout.user_counters()..layout.user_counters() + layout.user_counters],
    );
    out.user_histograms.truncate(layout.user_histograms);
    for index in 0..layout.user_histograms {
        let histogram =
            Histogram::read(&words[layout.user_histograms() + index * Histogram::WORDS..]);
        if out.user_histograms.len() <= index {
            out.user_histograms.push(histogram);
        } else {
            out.user_histograms[index] = histogram;
        }
    }
}

/// What one shard records for one isolate type between publications.
#[derive(Clone, Debug, Default)]
pub(crate) struct TypeRecord {
    pub(crate) calls: u64,
    pub(crate) handler: Histogram,
    handler_dirty: bool,
    pub(crate) depth_max: u64,
    refused: Refusals,
    pub(crate) bounces: u64,
    pub(crate) crashes: u64,
    pub(crate) restarts: u64,
}

/// Per-type figures from the slot-table scan.
#[derive(Clone, Copy, Debug, Default)]
struct Scanned {
    live: u64,
    ready: u64,
    waiting: u64,
    queued: u64,
}

/// One shard's side: the figures it records on its own thread, and its cell.
#[derive(Debug)]
pub(crate) struct Recorder {
    shared: Arc<Shared>,
    shard: usize,
    pub(crate) types: Vec<TypeRecord>,
    pub(crate) busy_nanos: u64,
    pub(crate) asleep_nanos: u64,
    pub(crate) tick_max_nanos: u64,
    user_counters: Vec<u64>,
    user_histograms: Vec<Histogram>,
    /// The shard's dispatch count at which the next sampled dispatch is due.
    next_sample: u64,
    /// Whether there is a clock to time handlers with (not in a simulation).
    pub(crate) timing: bool,
    /// The sampling interval's generator (xorshift32; statistics never steer a run).
    sample_state: u32,
    /// The slot-table scan: the next slot, partial sums, and the last complete pass.
    scan_cursor: usize,
    scan_partial: Vec<Scanned>,
    scan_done: Vec<Scanned>,
    peak_epoch_seen: u64,
    /// The shard's clock at the last publication.
    pub(crate) published_at: u64,
    /// `activity()` at the last publication (whether a publication before sleeping is due).
    published_activity: u64,
}

/// Builds the shared side for a spec: one cell per shard.
pub(crate) fn shared_for(spec: &crate::BootSpec) -> Arc<Shared> {
    let layout = Layout {
        shards: spec.shards,
        classes: spec.buffer_classes.len(),
        types: spec.types.len(),
        user_counters: spec.user_counters.len(),
        user_histograms: spec.user_histograms.len(),
    };
    Arc::new(Shared {
        layout,
        cells: (0..spec.shards)
            .map(|_| Aligned(SeqCell::new(layout.len())))
            .collect(),
        type_names: spec.types.iter().map(|entry| entry.name).collect(),
        type_slots: spec.types.iter().map(|entry| entry.slots as u64).collect(),
        user_counters: spec.user_counters.clone().into(),
        user_histograms: spec.user_histograms.clone().into(),
        peak_epoch: AtomicU64::new(0),
    })
}

impl Recorder {
    pub(crate) fn new(shared: Arc<Shared>, shard: usize) -> Self {
        let layout = shared.layout;
        Self {
            shard,
            types: vec![TypeRecord::default(); layout.types],
            busy_nanos: 0,
            asleep_nanos: 0,
            tick_max_nanos: 0,
            user_counters: vec![0; layout.user_counters],
            user_histograms: vec![Histogram::new(); layout.user_histograms],
            next_sample: u64::from(SAMPLE_MEAN),
            timing: false,
            sample_state: 0x9e37_79b9 ^ (shard as u32).wrapping_mul(0x85eb_ca6b),
            scan_cursor: 0,
            scan_partial: vec![Scanned::default(); layout.types],
            scan_done: vec![Scanned::default(); layout.types],
            peak_epoch_seen: 0,
            published_at: 0,
            published_activity: u64::MAX,
            shared,
        }
    }

    /// A reader of the whole system's statistics.
    pub(crate) fn reader(&self) -> StatsReader {
        StatsReader {
            shared: self.shared.clone(),
        }
    }

    /// 0, or — when the dispatch about to run is one to time — a clock reading to time it
    /// from. `dispatched` is the shard's dispatch count; the common case is one load, a
    /// compare and a branch.
    #[inline(always)]
    pub(crate) fn sample_start(&mut self, dispatched: u64) -> u64 {
        #[cfg(tina_no_stats)]
        {
            let _ = dispatched;
            0
        }
        #[cfg(not(tina_no_stats))]
        {
            if dispatched < self.next_sample {
                return 0;
            }
            self.rearm(dispatched)
        }
    }

    /// Draws the next sampling interval; returns the clock now (at least 1), or 0 without
    /// a clock (a simulation, where handlers take no time).
    #[cold]
    #[inline(never)]
    fn rearm(&mut self, dispatched: u64) -> u64 {
        let mut x = self.sample_state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.sample_state = x;
        self.next_sample = dispatched + u64::from(SAMPLE_MEAN / 2 + x % SAMPLE_MEAN);
        if self.timing {
            crate::clock::monotonic_nanos().max(1)
        } else {
            0
        }
    }

    /// Records a timed handler invocation of type `type_index`.
    #[cold]
    #[inline(never)]
    pub(crate) fn record_handler(&mut self, type_index: u16, nanos: u64) {
        if let Some(record) = self.types.get_mut(type_index as usize) {
            record.handler.record(nanos);
            record.handler_dirty = true;
        }
    }

    /// Notes the depth of a mailbox of type `type_index` as its dispatch begins.
    #[inline(always)]
    pub(crate) fn note_depth(&mut self, type_index: u16, depth: usize) {
        #[cfg(not(tina_no_stats))]
        if let Some(record) = self.types.get_mut(type_index as usize)
            && depth as u64 > record.depth_max
        {
            record.depth_max = depth as u64;
        }
        #[cfg(tina_no_stats)]
        let _ = (type_index, depth);
    }

    /// Counts a send to a type refused for `kind`.
    pub(crate) fn count_refused(&mut self, type_index: u16, kind: SendErrorKind) {
        if let Some(record) = self.types.get_mut(type_index as usize) {
            record.refused.count(kind);
        }
    }

    /// Adds `by` to user counter `id`.
    #[inline]
    pub(crate) fn count(&mut self, id: CounterId, by: u64) {
        if let Some(counter) = self.user_counters.get_mut(id.0 as usize) {
            *counter = counter.wrapping_add(by);
        }
    }

    /// Records `value` in user histogram `id`.
    #[inline]
    pub(crate) fn observe(&mut self, id: HistogramId, value: u64) {
        if let Some(histogram) = self.user_histograms.get_mut(id.0 as usize) {
            histogram.record(value);
        }
    }

    /// Notes a tick that did work and took `nanos`.
    #[inline]
    pub(crate) fn note_busy_tick(&mut self, nanos: u64) {
        self.busy_nanos += nanos;
        self.tick_max_nanos = self.tick_max_nanos.max(nanos);
    }

    /// Whether a publication is due: `PUBLISH_EVERY` has passed since the last.
    #[inline]
    pub(crate) fn due(&self, now: u64) -> bool {
        now.saturating_sub(self.published_at) >= PUBLISH_EVERY_NANOS
    }

    /// Whether anything changed since the last publication (`activity` as the caller
    /// measures it).
    pub(crate) fn changed(&self, activity: u64) -> bool {
        activity != self.published_activity
    }
}

/// What a publication reads from the rest of the shard.
pub(crate) struct ShardView<'a> {
    pub(crate) now: u64,
    pub(crate) counters: &'a Counters,
    pub(crate) activity: u64,
    pub(crate) slots: &'a [crate::shard::core::SlotMeta],
    pub(crate) types: &'a [crate::shard::core::TypeInfo],
    pub(crate) rings: &'a mut [Option<tina_mailbox::Producer<crate::envelope::Envelope>>],
    pub(crate) ring_capacity: u64,
    pub(crate) pool_used: u64,
    pub(crate) pool_capacity: u64,
    pub(crate) buffers: &'a [Arc<tina_mailbox::BufferPool>],
    pub(crate) connections: u64,
    pub(crate) timers_pending: u64,
    pub(crate) calls_outstanding: u64,
    pub(crate) quarantined: bool,
}

impl Recorder {
    /// Publishes the shard's statistics into its cell.
    pub(crate) fn publish(&mut self, view: ShardView<'_>) {
        self.scan(view.slots, view.types);
        let layout = self.shared.layout;
        let ShardView {
            now,
            counters,
            activity,
            rings,
            ring_capacity,
            pool_used,
            pool_capacity,
            buffers,
            connections,
            timers_pending,
            calls_outstanding,
            quarantined,
            ..
        } = view;
        self.shared.cells[self.shard]
            .0
            .write(|words: &mut SeqWriter<'_>| {
                words.set_all(
                    0,
                    &[
                        now,
                        self.busy_nanos,
                        self.asleep_nanos,
                        self.tick_max_nanos,
                        pool_used,
                        pool_capacity,
                        connections,
                        timers_pending,
                        calls_outstanding,
                        u64::from(quarantined),
                        ring_capacity,
                    ],
                );
                words.set_all(layout.counters(), &counters.values());
                for (peer, ring) in rings.iter_mut().enumerate() {
                    let waiting = ring.as_mut().map_or(0, |producer| {
                        (producer.capacity() - producer.free_slots()) as u64
                    });
                    words.set(layout.rings() + peer, waiting);
                }
                for (class, pool) in buffers.iter().enumerate() {
                    let stats = pool.stats();
                    words.set_all(
                        layout.buffers() + 3 * class,
                        &[
                            pool.block_size() as u64,
                            stats.taken as u64,
                            stats.capacity as u64,
                        ],
                    );
                }
                for (index, record) in self.types.iter_mut().enumerate() {
                    let at = layout.type_at(index);
                    let scanned = self.scan_done[index];
                    let mut fixed = [0u64; TYPE_FIXED];
                    fixed[..6].copy_from_slice(&[
                        scanned.live,
                        scanned.ready,
                        scanned.waiting,
                        scanned.queued,
                        record.depth_max,
                        record.calls,
                    ]);
                    fixed[6..11].copy_from_slice(&record.refused.words());
                    fixed[11] = record.bounces;
                    fixed[12] = record.crashes;
                    fixed[13] = record.restarts;
                    words.set_all(at, &fixed);
                    if record.handler_dirty || self.published_activity == u64::MAX {
                        record.handler.publish(words, at + TYPE_FIXED);
                        record.handler_dirty = false;
                    }
                }
                words.set_all(layout.user_counters(), &self.user_counters);
                for (index, histogram) in self.user_histograms.iter().enumerate() {
                    histogram.publish(words, layout.user_histograms() + index * Histogram::WORDS);
                }
            });
        self.published_at = now;
        self.published_activity = activity;
        let epoch = self.shared.peak_epoch.load(Ordering::Relaxed);
        if epoch != self.peak_epoch_seen {
            self.peak_epoch_seen = epoch;
            self.tick_max_nanos = 0;
            for record in &mut self.types {
                record.depth_max = 0;
            }
        }
    }

    /// Advances the slot-table scan by up to `SCAN_CHUNK` slots.
    fn scan(
        &mut self,
        slots: &[crate::shard::core::SlotMeta],
        types: &[crate::shard::core::TypeInfo],
    ) {
        let end = (self.scan_cursor + SCAN_CHUNK).min(slots.len());
        let mut type_index = types
            .iter()
            .rposition(|info| info.base <= self.scan_cursor)
            .unwrap_or(0);
        for (global, meta) in slots.iter().enumerate().take(end).skip(self.scan_cursor) {
            while type_index + 1 < types.len() && types[type_index + 1].base <= global {
                type_index += 1;
            }
            let Some(partial) = self.scan_partial.get_mut(type_index) else {
                break;
            };
            if meta.status == crate::shard::core::Status::Live {
                partial.live += 1;
            }
            if meta.ready {
                partial.ready += 1;
            }
            // A free slot's `call` field links the free list: only running slots wait.
            if meta.status.is_running() && (meta.parked || meta.call.is_some()) {
                partial.waiting += 1;
            }
            partial.queued += meta.mailbox.len() as u64;
        }
        self.scan_cursor = end;
        if self.scan_cursor >= slots.len() {
            self.scan_cursor = 0;
            core::mem::swap(&mut self.scan_done, &mut self.scan_partial);
            self.scan_partial.fill(Scanned::default());
        }
    }
}
