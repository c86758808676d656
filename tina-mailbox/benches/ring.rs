//! Cross-thread benchmarks for [`tina_mailbox::Ring`] against `rtrb` and `crossbeam-channel`.
//!
//! Cross-core figures on small virtual machines swing by 2–3x from one run to the next, so a
//! single number per contender says little. This harness therefore **interleaves** the
//! contenders — round 1 runs every contender once, round 2 runs them all again in a rotated
//! order, and so on — and reports, per contender, the median of its rounds and, per pair
//! (ours against a rival), the **median of the per-round ratios**. Two samples taken
//! milliseconds apart see the same weather; their ratio is far steadier than either number.
//!
//! **Each round runs in a fresh child process** (this same binary, re-executed with
//! `--round`). Item-at-a-time SPSC throughput is chaotic. Whether the consumer trails the
//! producer by one slot or by a few hundred flips on tiny timing differences, and those
//! depend on where code, heap and stacks land, which is drawn once per process. On the
//! 2-core VM this was written on, with every round in one process, the median
//! `ring single / rtrb single` ratio ranged from 0.79 to 1.06 across four runs of one
//! binary; with a fresh process per round it stayed within 0.73–0.81. That steady deficit
//! was real, not placement: [`Producer::push`] stored its private cursor before the shared
//! one (and [`Consumer::try_pop`] likewise); storing the shared cursor first moved the
//! ratio to 0.95–1.01 (BENCHMARKS.md, ring notes). Set
//! `TINA_BENCH_IN_PROCESS=1` to run every round in this process instead. The
//! `A/A control` row (a second compiled copy of `rtrb single`) shows how far the harness
//! alone moves a ratio; ideally 1.00.
//!
//! What is measured:
//!
//! * **throughput** of 64-byte and 128-byte items from a producer thread to a consumer thread,
//!   each pinned to its own core, through a ring of [`CAPACITY`] slots:
//!   - `ring batch`: [`Producer::try_push`] up to [`BATCH`] items (or until full), then one
//!     [`Producer::publish`]; the consumer uses [`Consumer::drain`] with the same batch size;
//!   - `ring single`: [`Producer::push`] and [`Consumer::try_pop`], one item at a time;
//!   - `rtrb single`: `rtrb`'s `push` and `pop`;
//!   - `rtrb chunk`: `rtrb`'s `write_chunk_uninit` / `read_chunk`, up to [`BATCH`] at a time;
//!   - `crossbeam`: `crossbeam_channel::bounded(CAPACITY)` with blocking `send` / `recv`.
//! * **round-trip latency**: one 64-byte item goes out on one ring and an echo thread sends it
//!   back on a second ring; ours (`push` / `try_pop`) against `rtrb` (`push` / `pop`).
//!
//! Every consumer checks that each item arrives in order and intact (a sequence number in the
//! first and last word) and that the count is exact, so a broken ring cannot post a good
//! number: a failed check panics the child and fails the whole run.
//!
//! Run it with `cargo bench -p tina-mailbox`; add `-- --quick` (or set `TINA_BENCH_QUICK=1`)
//! for a short run, `-- --rounds N` (or `TINA_BENCH_ROUNDS=N`) to change the number of
//! rounds. Run without `--bench` (as `cargo test --benches` does), it only does a tiny smoke
//! run.
//!
//! [`Producer::try_push`]: tina_mailbox::Producer::try_push
//! [`Producer::publish`]: tina_mailbox::Producer::publish
//! [`Producer::push`]: tina_mailbox::Producer::push
//! [`Consumer::drain`]: tina_mailbox::Consumer::drain
//! [`Consumer::try_pop`]: tina_mailbox::Consumer::try_pop

use std::hint::{black_box, spin_loop};
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use core_affinity::CoreId;
use tina_mailbox::{Consumer, Producer, Ring};

/// Slots in every ring and channel under test.
const CAPACITY: usize = 4096;

/// Items written before one publish, and the most items taken by one drain or chunk.
const BATCH: usize = 64;

/// How long one run of the benchmark lasts.
#[derive(Clone, Copy, Debug)]
struct Plan {
    /// Interleaved rounds; every contender runs once per round.
    rounds: usize,
    /// Items sent per throughput sample.
    items_per_sample: u64,
    /// Round trips per latency sample.
    round_trips_per_sample: u64,
}

impl Plan {
    const FULL: Self = Self {
        rounds: 30,
        items_per_sample: 2_000_000,
        round_trips_per_sample: 200_000,
    };
    const QUICK: Self = Self {
        rounds: 5,
        items_per_sample: 500_000,
        round_trips_per_sample: 50_000,
    };
    const SMOKE: Self = Self {
        rounds: 1,
        items_per_sample: 20_000,
        round_trips_per_sample: 2_000,
    };
}

/// A fixed-size payload that carries its sequence number in its first and last word.
trait Payload: Copy + Send + 'static {
    fn new(sequence: u64) -> Self;

    /// The sequence number, or `None` if the first and last words disagree (a torn item).
    fn sequence(&self) -> Option<u64>;
}

/// The tag mixed into the last word, so a copy that only moved part of the item is caught.
const LAST_WORD_TAG: u64 = 0xA5A5_5A5A_0F0F_F0F0;

macro_rules! payload {
    ($name:ident, $words:literal) => {
        #[derive(Clone, Copy)]
        #[repr(C)]
        struct $name([u64; $words]);

        impl Payload for $name {
            #[inline(always)]
            fn new(sequence: u64) -> Self {
                let mut words = [sequence; $words];
                words[$words - 1] = sequence ^ LAST_WORD_TAG;
                Self(words)
            }

            #[inline(always)]
            fn sequence(&self) -> Option<u64> {
                let first = self.0[0];
                (self.0[$words - 1] == first ^ LAST_WORD_TAG).then_some(first)
            }
        }
    };
}

payload!(Item64, 8);
payload!(Item128, 16);

const _: () = assert!(size_of::<Item64>() == 64 && size_of::<Item128>() == 128);

/// Checks, on the consumer side, that items arrive intact and in order.
struct SequenceCheck {
    expected: u64,
}

impl SequenceCheck {
    fn new() -> Self {
        Self { expected: 0 }
    }

    #[inline(always)]
    fn check<P: Payload>(&mut self, item: P) {
        let sequence = item.sequence();
        if sequence != Some(self.expected) {
            out_of_order(self.expected, sequence);
        }
        self.expected += 1;
    }

    fn finish(self, count: u64) {
        assert_eq!(
            self.expected, count,
            "consumer saw the wrong number of items"
        );
    }
}

/// The failure path of [`SequenceCheck::check`], kept out of line: formatting a panic message
/// takes its arguments by reference, and inlined into the consumer's loop that would force
/// the expected count into memory, adding a store-to-load round trip to every item.
#[cold]
#[inline(never)]
fn out_of_order(expected: u64, got: Option<u64>) -> ! {
    panic!("item out of order or torn: expected {expected}, got {got:?}");
}

/// Which cores the two threads of a sample run on.
#[derive(Clone, Copy, Debug)]
struct Pinning {
    cores: Option<(CoreId, CoreId)>,
}

impl Pinning {
    fn detect() -> Self {
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        match cores.as_slice() {
            [first, second, ..] => Self {
                cores: Some((*first, *second)),
            },
            _ => Self { cores: None },
        }
    }

    fn describe(&self) -> String {
        match self.cores {
            Some((first, second)) => {
                format!(
                    "producer on core {}, consumer on core {}",
                    first.id, second.id
                )
            }
            None => "UNPINNED: fewer than 2 cores visible, both threads float".to_owned(),
        }
    }

    fn pin_first(&self) {
        if let Some((first, _)) = self.cores {
            core_affinity::set_for_current(first);
        }
    }

    fn pin_second(&self) {
        if let Some((_, second)) = self.cores {
            core_affinity::set_for_current(second);
        }
    }
}

/// Aligns its content to 128 bytes (two cache lines, as x86 prefetches lines in pairs).
#[repr(align(128))]
struct CachePadded<T>(T);

/// Runs `first` on `first_state` and `second` on `second_state` on two pinned threads,
/// released together by a barrier, and returns how long `second` took from the release to
/// its return.
///
/// Each side's state (a producer, a consumer) is moved into its thread inside a
/// [`CachePadded`], so the per-item writes one thread makes to its own handle (cached
/// cursors) never share a cache line with the other thread's handle: in a real deployment
/// the two halves live in different shards' memory, and a benchmark that let them sit in
/// neighbouring heap blocks would measure false sharing in the harness, not the ring.
fn run_pair<First: Send, Second: Send>(
    pinning: Pinning,
    first_state: First,
    second_state: Second,
    first: impl FnOnce(&mut First) + Send,
    second: impl FnOnce(&mut Second) + Send,
) -> Duration {
    let barrier = &Barrier::new(2);
    let mut first_state = CachePadded(first_state);
    let mut second_state = CachePadded(second_state);
    thread::scope(|scope| {
        let first_thread = scope.spawn(move || {
            pinning.pin_first();
            barrier.wait();
            first(&mut first_state.0);
        });
        let second_thread = scope.spawn(move || {
            pinning.pin_second();
            barrier.wait();
            let start = Instant::now();
            second(&mut second_state.0);
            start.elapsed()
        });
        let elapsed = second_thread.join().expect("consumer thread panicked");
        first_thread.join().expect("producer thread panicked");
        elapsed
    })
}

/// A throughput contender: sends `count` items from one pinned thread to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Contender {
    RingBatch,
    RingSingle,
    RtrbSingle,
    RtrbChunk,
    Crossbeam,
    /// A second, separately compiled copy of `RtrbSingle`: the A/A control. Its ratio to
    /// `RtrbSingle` shows how far code placement and run order alone move a ratio.
    RtrbSingleCopy,
}

impl Contender {
    const ALL: [Self; 6] = [
        Self::RingBatch,
        Self::RingSingle,
        Self::RtrbSingle,
        Self::RtrbChunk,
        Self::Crossbeam,
        Self::RtrbSingleCopy,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::RingBatch => "ring batch (try_push x64 + publish / drain)",
            Self::RingSingle => "ring single (push / try_pop)",
            Self::RtrbSingle => "rtrb single (push / pop)",
            Self::RtrbChunk => "rtrb chunk (write_chunk_uninit / read_chunk)",
            Self::Crossbeam => "crossbeam_channel::bounded (send / recv)",
            Self::RtrbSingleCopy => "rtrb single, second copy (A/A control)",
        }
    }

    fn run<P: Payload>(self, pinning: Pinning, count: u64) -> Duration {
        match self {
            Self::RingBatch => ring_batch::<P>(pinning, count),
            Self::RingSingle => ring_single::<P>(pinning, count),
            Self::RtrbSingle => rtrb_single::<P, 0>(pinning, count),
            Self::RtrbSingleCopy => rtrb_single::<P, 1>(pinning, count),
            Self::RtrbChunk => rtrb_chunk::<P>(pinning, count),
            Self::Crossbeam => crossbeam::<P>(pinning, count),
        }
    }
}

/// Builds one of our rings and runs every slot through it once, untimed, so that the timed
/// run does not pay for first-touch page faults: a long-lived ring paid them long ago, and
/// whether an allocation comes back as fresh pages or as reused heap is the allocator's
/// business, not the ring's. Every contender below is warmed the same way.
fn warm_ring<P: Payload>() -> (Producer<P>, Consumer<P>) {
    let (mut producer, mut consumer) = Ring::<P>::new(CAPACITY).split();
    while producer.try_push(P::new(0)).is_ok() {}
    producer.publish();
    while consumer.drain(usize::MAX, |_| {}) > 0 {}
    (producer, consumer)
}

fn warm_rtrb<P: Payload>() -> (rtrb::Producer<P>, rtrb::Consumer<P>) {
    let (mut producer, mut consumer) = rtrb::RingBuffer::<P>::new(CAPACITY);
    while producer.push(P::new(0)).is_ok() {}
    while consumer.pop().is_ok() {}
    (producer, consumer)
}

fn warm_crossbeam<P: Payload>() -> (crossbeam_channel::Sender<P>, crossbeam_channel::Receiver<P>) {
    let (sender, receiver) = crossbeam_channel::bounded::<P>(CAPACITY);
    while sender.try_send(P::new(0)).is_ok() {}
    while receiver.try_recv().is_ok() {}
    (sender, receiver)
}

fn ring_batch<P: Payload>(pinning: Pinning, count: u64) -> Duration {
    let (producer, consumer) = warm_ring::<P>();
    run_pair(
        pinning,
        producer,
        consumer,
        move |producer| {
            let mut sequence = 0;
            while sequence < count {
                let batch_end = count.min(sequence + BATCH as u64);
                let batch_start = sequence;
                while sequence < batch_end && producer.try_push(P::new(sequence)).is_ok() {
                    sequence += 1;
                }
                if sequence == batch_start {
                    spin_loop();
                } else {
                    producer.publish();
                }
            }
        },
        move |consumer| {
            let mut check = SequenceCheck::new();
            while check.expected < count {
                if consumer.drain(BATCH, |item| check.check(item)) == 0 {
                    spin_loop();
                }
            }
            check.finish(count);
        },
    )
}

fn ring_single<P: Payload>(pinning: Pinning, count: u64) -> Duration {
    let (producer, consumer) = warm_ring::<P>();
    run_pair(
        pinning,
        producer,
        consumer,
        move |producer| {
            for sequence in 0..count {
                let mut item = P::new(sequence);
                while let Err(rejected) = producer.push(item) {
                    item = rejected;
                    spin_loop();
                }
            }
        },
        move |consumer| {
            let mut check = SequenceCheck::new();
            while check.expected < count {
                match consumer.try_pop() {
                    Some(item) => check.check(item),
                    None => spin_loop(),
                }
            }
            check.finish(count);
        },
    )
}

/// `COPY` only makes the compiler emit a separate copy of the same code (see
/// [`Contender::RtrbSingleCopy`]).
fn rtrb_single<P: Payload, const COPY: usize>(pinning: Pinning, count: u64) -> Duration {
    black_box(COPY);
    let (producer, consumer) = warm_rtrb::<P>();
    run_pair(
        pinning,
        producer,
        consumer,
        move |producer| {
            for sequence in 0..count {
                let mut item = P::new(sequence);
                while let Err(rtrb::PushError::Full(rejected)) = producer.push(item) {
                    item = rejected;
                    spin_loop();
                }
            }
        },
        move |consumer| {
            let mut check = SequenceCheck::new();
            while check.expected < count {
                match consumer.pop() {
                    Ok(item) => check.check(item),
                    Err(rtrb::PopError::Empty) => spin_loop(),
                }
            }
            check.finish(count);
        },
    )
}

fn rtrb_chunk<P: Payload>(pinning: Pinning, count: u64) -> Duration {
    let (producer, consumer) = warm_rtrb::<P>();
    run_pair(
        pinning,
        producer,
        consumer,
        move |producer| {
            let mut sequence = 0;
            while sequence < count {
                let wanted = producer.slots().min(BATCH).min((count - sequence) as usize);
                if wanted == 0 {
                    spin_loop();
                    continue;
                }
                let chunk = producer
                    .write_chunk_uninit(wanted)
                    .expect("slots() promised room");
                let end = sequence + wanted as u64;
                let written = chunk.fill_from_iter((sequence..end).map(P::new));
                sequence += written as u64;
            }
        },
        move |consumer| {
            let mut check = SequenceCheck::new();
            while check.expected < count {
                let wanted = consumer.slots().min(BATCH);
                if wanted == 0 {
                    spin_loop();
                    continue;
                }
                let chunk = consumer.read_chunk(wanted).expect("slots() promised items");
                for item in chunk {
                    check.check(item);
                }
            }
            check.finish(count);
        },
    )
}

fn crossbeam<P: Payload>(pinning: Pinning, count: u64) -> Duration {
    let (sender, receiver) = warm_crossbeam::<P>();
    run_pair(
        pinning,
        sender,
        receiver,
        move |sender| {
            for sequence in 0..count {
                sender.send(P::new(sequence)).expect("receiver alive");
            }
        },
        move |consumer| {
            let mut check = SequenceCheck::new();
            while check.expected < count {
                check.check(consumer.recv().expect("sender alive until the last item"));
            }
            check.finish(count);
        },
    )
}

/// A round-trip contender: the first thread sends an item and waits for its echo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Echo {
    Ring,
    Rtrb,
}

impl Echo {
    const ALL: [Self; 2] = [Self::Ring, Self::Rtrb];

    fn name(self) -> &'static str {
        match self {
            Self::Ring => "ring round trip (push / try_pop)",
            Self::Rtrb => "rtrb round trip (push / pop)",
        }
    }

    fn run(self, pinning: Pinning, round_trips: u64) -> Duration {
        match self {
            Self::Ring => ring_round_trip(pinning, round_trips),
            Self::Rtrb => rtrb_round_trip(pinning, round_trips),
        }
    }
}

/// Times `round_trips` echoes through two of our rings; the timing thread is the sender.
fn ring_round_trip(pinning: Pinning, round_trips: u64) -> Duration {
    let (ping_producer, ping_consumer) = warm_ring::<Item64>();
    let (pong_producer, pong_consumer) = warm_ring::<Item64>();
    run_pair(
        pinning,
        (ping_consumer, pong_producer),
        (ping_producer, pong_consumer),
        move |(ping_consumer, pong_producer)| {
            for _ in 0..round_trips {
                let item = loop {
                    match ping_consumer.try_pop() {
                        Some(item) => break item,
                        None => spin_loop(),
                    }
                };
                assert!(pong_producer.push(item).is_ok(), "pong ring cannot be full");
            }
        },
        move |(ping_producer, pong_consumer)| {
            let mut check = SequenceCheck::new();
            for sequence in 0..round_trips {
                assert!(
                    ping_producer.push(Item64::new(sequence)).is_ok(),
                    "ping ring full"
                );
                let item = loop {
                    match pong_consumer.try_pop() {
                        Some(item) => break item,
                        None => spin_loop(),
                    }
                };
                check.check(item);
            }
            check.finish(round_trips);
        },
    )
}

/// Times `round_trips` echoes through two `rtrb` rings; the timing thread is the sender.
fn rtrb_round_trip(pinning: Pinning, round_trips: u64) -> Duration {
    let (ping_producer, ping_consumer) = warm_rtrb::<Item64>();
    let (pong_producer, pong_consumer) = warm_rtrb::<Item64>();
    run_pair(
        pinning,
        (ping_consumer, pong_producer),
        (ping_producer, pong_consumer),
        move |(ping_consumer, pong_producer)| {
            for _ in 0..round_trips {
                let item = loop {
                    match ping_consumer.pop() {
                        Ok(item) => break item,
                        Err(rtrb::PopError::Empty) => spin_loop(),
                    }
                };
                assert!(pong_producer.push(item).is_ok(), "pong ring cannot be full");
            }
        },
        move |(ping_producer, pong_consumer)| {
            let mut check = SequenceCheck::new();
            for sequence in 0..round_trips {
                assert!(
                    ping_producer.push(Item64::new(sequence)).is_ok(),
                    "ping ring full"
                );
                let item = loop {
                    match pong_consumer.pop() {
                        Ok(item) => break item,
                        Err(rtrb::PopError::Empty) => spin_loop(),
                    }
                };
                check.check(item);
            }
            check.finish(round_trips);
        },
    )
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), &value| {
            (low.min(value), high.max(value))
        })
}

/// Per-round ratios `ours[i] / theirs[i]`.
fn ratios(ours: &[f64], theirs: &[f64]) -> Vec<f64> {
    ours.iter()
        .zip(theirs)
        .map(|(ours, theirs)| ours / theirs)
        .collect()
}

/// What one group of interleaved contenders measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Suite {
    Throughput64,
    Throughput128,
    RoundTrip,
}

impl Suite {
    const ALL: [Self; 3] = [Self::Throughput64, Self::Throughput128, Self::RoundTrip];

    /// The suite's name on the child's output lines.
    fn tag(self) -> &'static str {
        match self {
            Self::Throughput64 => "throughput64",
            Self::Throughput128 => "throughput128",
            Self::RoundTrip => "round-trip",
        }
    }

    fn from_tag(tag: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|suite| suite.tag() == tag)
    }

    fn contender_count(self) -> usize {
        match self {
            Self::Throughput64 | Self::Throughput128 => Contender::ALL.len(),
            Self::RoundTrip => Echo::ALL.len(),
        }
    }

    /// Runs contender `index` once over `scale` of the plan's work; returns million items per
    /// second (throughput) or nanoseconds per round trip (latency).
    fn run(self, index: usize, plan: Plan, pinning: Pinning, scale: u64) -> f64 {
        match self {
            Self::Throughput64 | Self::Throughput128 => {
                let count = (plan.items_per_sample / scale).max(1);
                let contender = Contender::ALL[index];
                let elapsed = if self == Self::Throughput64 {
                    contender.run::<Item64>(pinning, count)
                } else {
                    contender.run::<Item128>(pinning, count)
                };
                count as f64 / elapsed.as_secs_f64() / 1e6
            }
            Self::RoundTrip => {
                let round_trips = (plan.round_trips_per_sample / scale).max(1);
                let elapsed = Echo::ALL[index].run(pinning, round_trips);
                elapsed.as_nanos() as f64 / round_trips as f64
            }
        }
    }
}

/// `samples[suite][contender]`: one value per round.
type Samples = Vec<Vec<Vec<f64>>>;

fn empty_samples() -> Samples {
    Suite::ALL
        .iter()
        .map(|suite| vec![Vec::new(); suite.contender_count()])
        .collect()
}

/// Runs one round: a short untimed pass of every contender (to fault in code, rings and
/// stacks), then one timed sample of each, starting at a different contender every round so
/// none always runs first or last. Calls `record` with each timed sample.
fn run_round(
    plan: Plan,
    pinning: Pinning,
    round: usize,
    mut record: impl FnMut(Suite, usize, f64),
) {
    for suite in Suite::ALL {
        let count = suite.contender_count();
        for index in 0..count {
            black_box(suite.run(index, plan, pinning, 10));
        }
        for offset in 0..count {
            let index = (round + offset) % count;
            record(suite, index, suite.run(index, plan, pinning, 1));
        }
    }
}

/// The child's side: runs round `round` and prints one `sample` line per timed sample.
fn child_main(plan: Plan, round: usize) {
    exit_on_panic();
    run_round(plan, Pinning::detect(), round, |suite, index, value| {
        println!("sample {} {index} {value}", suite.tag());
    });
}

/// Makes any panic end the whole process once it has been reported. A consumer that panics
/// on a failed order check would otherwise leave its producer spinning on a full ring, and
/// the run would hang instead of failing.
fn exit_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::exit(101);
    }));
}

/// How long one child round may take before it is killed: a ring that loses an item leaves
/// its consumer waiting forever rather than failing a check. A healthy round takes seconds.
const ROUND_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs round `round` in a fresh child process and adds its samples to `samples`.
fn run_round_in_child(plan: Plan, round: usize, samples: &mut Samples) -> Result<(), String> {
    let executable = std::env::current_exe().map_err(|error| error.to_string())?;
    let mut child = Command::new(executable)
        .arg("--round")
        .arg(round.to_string())
        .arg("--items")
        .arg(plan.items_per_sample.to_string())
        .arg("--round-trips")
        .arg(plan.round_trips_per_sample.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| error.to_string())?;
    let deadline = Instant::now() + ROUND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|error| error.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            // Best effort: the error below is what matters.
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "round {round} did not finish within {ROUND_TIMEOUT:?}: an item was lost?"
            ));
        }
        thread::sleep(Duration::from_millis(100));
    };
    // The child writes a few dozen short lines, well under a pipe's buffer, so it cannot have
    // blocked on a full pipe before exiting.
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .ok_or("child stdout missing")?
        .read_to_string(&mut stdout)
        .map_err(|error| error.to_string())?;
    if !status.success() {
        return Err(format!(
            "round {round} failed ({status}); its panic message is above"
        ));
    }
    let mut recorded = 0;
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let ["sample", tag, index, value] = fields.as_slice() {
            let suite = Suite::from_tag(tag).ok_or_else(|| format!("unknown suite {tag}"))?;
            let index: usize = index.parse().map_err(|_| format!("bad line {line:?}"))?;
            let value: f64 = value.parse().map_err(|_| format!("bad line {line:?}"))?;
            samples[suite as usize][index].push(value);
            recorded += 1;
        }
    }
    let expected: usize = Suite::ALL.iter().map(|suite| suite.contender_count()).sum();
    if recorded == expected {
        Ok(())
    } else {
        Err(format!(
            "round {round} reported {recorded} samples, expected {expected}"
        ))
    }
}

/// Prints one ratio row: median, spread, and the verdict against `target`.
fn print_ratio(label: &str, values: &[f64], target: Option<(&str, bool)>) {
    let (low, high) = min_max(values);
    let verdict = match target {
        Some((text, met)) => format!("{text} {}", if met { "met" } else { "MISSED" }),
        None => String::new(),
    };
    println!(
        "| {label} | {:.3} | {low:.3} | {high:.3} | {verdict} |",
        median(values)
    );
}

fn report_throughput(suite: Suite, plan: Plan, samples: &[Vec<f64>]) {
    let (label, bytes) = match suite {
        Suite::Throughput64 => ("64 B", 64.0),
        _ => ("128 B", 128.0),
    };
    println!();
    println!(
        "### Throughput, {label} items ({} rounds x {} items per sample)",
        samples[0].len(),
        plan.items_per_sample
    );
    println!();
    println!("| contender | median Mitems/s | median GB/s | min Mitems/s | max Mitems/s |");
    println!("|---|---:|---:|---:|---:|");
    for (contender, values) in Contender::ALL.iter().zip(samples) {
        let (low, high) = min_max(values);
        let middle = median(values);
        println!(
            "| {} | {middle:.1} | {:.2} | {low:.1} | {high:.1} |",
            contender.name(),
            middle * bytes / 1e3
        );
    }

    let of = |contender: Contender| &samples[contender as usize];
    let batch_vs_rtrb = ratios(of(Contender::RingBatch), of(Contender::RtrbSingle));
    let batch_vs_chunk = ratios(of(Contender::RingBatch), of(Contender::RtrbChunk));
    let single_vs_rtrb = ratios(of(Contender::RingSingle), of(Contender::RtrbSingle));
    let batch_vs_crossbeam = ratios(of(Contender::RingBatch), of(Contender::Crossbeam));
    let single_vs_crossbeam = ratios(of(Contender::RingSingle), of(Contender::Crossbeam));
    let control = ratios(of(Contender::RtrbSingleCopy), of(Contender::RtrbSingle));
    println!();
    println!("| per-round throughput ratio | median | min | max | target |");
    println!("|---|---:|---:|---:|---|");
    let batch_met = median(&batch_vs_rtrb) >= 1.0;
    let single_met = median(&single_vs_rtrb) >= 0.9;
    print_ratio(
        "ring batch / rtrb single",
        &batch_vs_rtrb,
        Some((">= 1.00", batch_met)),
    );
    print_ratio("ring batch / rtrb chunk", &batch_vs_chunk, None);
    print_ratio(
        "ring single / rtrb single",
        &single_vs_rtrb,
        Some((">= 0.90", single_met)),
    );
    print_ratio("ring batch / crossbeam", &batch_vs_crossbeam, None);
    print_ratio("ring single / crossbeam", &single_vs_crossbeam, None);
    print_ratio(
        "A/A control: rtrb single copy / rtrb single",
        &control,
        None,
    );
}

fn report_round_trip(plan: Plan, samples: &[Vec<f64>]) {
    println!();
    println!(
        "### Round-trip latency, 64 B item ({} rounds x {} round trips per sample)",
        samples[0].len(),
        plan.round_trips_per_sample
    );
    println!();
    println!("| contender | median ns | min ns | max ns |");
    println!("|---|---:|---:|---:|");
    for (echo, values) in Echo::ALL.iter().zip(samples) {
        let (low, high) = min_max(values);
        println!(
            "| {} | {:.0} | {low:.0} | {high:.0} |",
            echo.name(),
            median(values)
        );
    }
    let ring_vs_rtrb = ratios(&samples[Echo::Ring as usize], &samples[Echo::Rtrb as usize]);
    println!();
    println!("| per-round latency ratio | median | min | max | target |");
    println!("|---|---:|---:|---:|---|");
    let met = median(&ring_vs_rtrb) <= 1.10;
    print_ratio("ring ns / rtrb ns", &ring_vs_rtrb, Some(("<= 1.10", met)));
}

/// The value following `flag` on the command line, parsed.
fn flag_value<T: std::str::FromStr>(arguments: &[String], flag: &str) -> Option<T> {
    let position = arguments.iter().position(|argument| argument == flag)?;
    let value = arguments.get(position + 1)?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{flag} needs a number, got {value:?}")),
    )
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let environment = |name: &str| std::env::var(name).ok().filter(|value| value != "0");

    if let Some(round) = flag_value::<usize>(&arguments, "--round") {
        let plan = Plan {
            rounds: 1,
            items_per_sample: flag_value(&arguments, "--items").expect("--items"),
            round_trips_per_sample: flag_value(&arguments, "--round-trips").expect("--round-trips"),
        };
        child_main(plan, round);
        return;
    }

    let benchmarking = arguments.iter().any(|argument| argument == "--bench");
    let quick = arguments.iter().any(|argument| argument == "--quick")
        || environment("TINA_BENCH_QUICK").is_some();
    let mut plan = match (benchmarking, quick) {
        (false, _) => Plan::SMOKE,
        (true, true) => Plan::QUICK,
        (true, false) => Plan::FULL,
    };
    let rounds = flag_value::<usize>(&arguments, "--rounds")
        .or_else(|| environment("TINA_BENCH_ROUNDS").and_then(|value| value.parse().ok()));
    if let Some(rounds) = rounds {
        plan.rounds = rounds.max(1);
    }
    let in_process = environment("TINA_BENCH_IN_PROCESS").is_some();
    if in_process {
        exit_on_panic();
    }
    let pinning = Pinning::detect();
    let started = Instant::now();

    println!("## tina-mailbox ring benchmark");
    println!();
    println!(
        "capacity {CAPACITY} slots, batch {BATCH}, {} interleaved rounds, each {}; {} \
         (cores visible: {})",
        plan.rounds,
        if in_process {
            "in this process"
        } else {
            "in a fresh child process"
        },
        pinning.describe(),
        core_affinity::get_core_ids().map_or(0, |cores| cores.len())
    );

    let mut samples = empty_samples();
    for round in 0..plan.rounds {
        if in_process {
            run_round(plan, pinning, round, |suite, index, value| {
                samples[suite as usize][index].push(value);
            });
        } else if let Err(error) = run_round_in_child(plan, round, &mut samples) {
            panic!("{error}");
        }
        eprint!("\rround {}/{} done", round + 1, plan.rounds);
    }
    eprintln!();

    report_throughput(
        Suite::Throughput64,
        plan,
        &samples[Suite::Throughput64 as usize],
    );
    report_throughput(
        Suite::Throughput128,
        plan,
        &samples[Suite::Throughput128 as usize],
    );
    report_round_trip(plan, &samples[Suite::RoundTrip as usize]);
    println!();
    println!("total wall time {:.1} s", started.elapsed().as_secs_f64());
}
