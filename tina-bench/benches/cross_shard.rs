//! Cross-shard messaging on two shards (two pinned threads), against the raw
//! `tina-mailbox` ring on two pinned threads in the same process, interleaved.
//!
//! * **one-way throughput**: a sender isolate on shard 0 sends small messages to a receiver
//!   on shard 1, in bursts until the ring is full (`RingFull`), then `Yield`s. The raw ring
//!   baseline pushes items until the ring is full, publishes, and the consumer drains — once
//!   with 64-byte items (the largest message payload) and once with items the size of Tina's
//!   envelope (what Tina actually moves through the ring).
//! * **ping-pong, both shards awake**: one ball bounced between shard 0 and shard 1 with
//!   both shards spinning (they never sleep), against the raw ring with two spinning threads
//!   (`push` + `try_pop`).
//! * **wake-up latency**: shard 1 is asleep in `poll` (it spins only 50 idle ticks); a timer
//!   on shard 0 fires every few milliseconds and its handler sends a message stamped with the
//!   time; the receiver on shard 1 records how long the message took to be handled. Baseline:
//!   a thread blocked in `std::thread::park`, woken by `unpark` from another thread, with the
//!   same stamps.
//!
//! Every receiver checks order and count (and the raw rings check every item intact); the
//! wake-up run checks that shard 1 really slept and was woken.
//!
//! Run with `cargo bench -p tina-bench --bench cross_shard` (`TINA_BENCH_QUICK=1` for a short
//! run).

use std::hint::spin_loop;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tina_bench::stream::{self, Receiver, Sender};
use tina_bench::{
    Contender, Metric, Plan, Probe, Samples, Table, epoch_nanos, interleave, machine, median,
    messages, percentile,
};
use tina_mailbox::Ring;
use tina_runtime::{BootSpec, Ctx, Effect, Handle, Isolate, ShardId, System};

/// Ring capacity for Tina and for the raw ring.
const RING: usize = 1024;

/// Ping-pong round trips before the clock starts (threads settle, caches warm).
const WARM_ROUND_TRIPS: u64 = 1_000;

static PROBE: Probe = Probe::new();

/// Two cores to pin the two threads of a raw-ring sample to (the same cores the two shards
/// use: shard `i` on core `i`).
fn cores() -> (Option<core_affinity::CoreId>, Option<core_affinity::CoreId>) {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    (cores.first().copied(), cores.get(1).copied())
}

// ---------------------------------------------------------------------------------------
// One-way throughput
// ---------------------------------------------------------------------------------------

/// The receiver on shard 1. Its mailbox has room for one ring's worth on top of a ring's
/// worth not yet dispatched: a busy receiver's arrivals queue in its mailbox, and what does
/// not fit is dropped on arrival.
type Sink = Receiver<{ 2 * RING }>;

/// The sender on shard 0: sends until the ring is full, then yields.
type Source = Sender<{ 2 * RING }>;

/// Tina's envelope size, read from the boot spec's memory report: the ring bytes a shard
/// gains per extra slot of its ingress queue (its inbound ring bytes also count the bounce
/// ring back to each peer, so dividing them by the ring capacity would overstate it).
fn envelope_bytes() -> usize {
    let ring_bytes = |ingress: usize| {
        let mut spec = BootSpec::new(2);
        spec.isolate::<Sink>(1)
            .ring_capacity(RING)
            .ingress_capacity(ingress);
        spec.validate().expect("valid spec").ring_bytes
    };
    (ring_bytes(2 * RING) - ring_bytes(RING)) / RING
}

/// One sample: sender on shard 0, receiver on shard 1; returns messages per second.
fn tina_one_way(total: u64) -> f64 {
    PROBE.reset();
    let mut spec = BootSpec::new(2);
    spec.isolate::<Sink>(1)
        .isolate::<Source>(1)
        .ring_capacity(RING)
        .dispatch_budget(RING);
    stream::add_pair::<{ 2 * RING }>(&mut spec, ShardId(1), ShardId(0), total, 1, &PROBE);
    let system = System::start(spec).expect("boot");
    let finished = system.wait_until(Duration::from_secs(120), |totals| totals.exited == 2);
    let summary = system.shutdown(Duration::from_secs(5));
    PROBE.check();
    assert!(finished, "tina: run did not finish: {:?}", summary.total);
    assert_eq!(PROBE.count(), total, "tina: sink saw the wrong count");
    assert_eq!(
        summary.total.sent_remote, total,
        "tina: sent_remote disagrees"
    );
    assert_eq!(
        summary.total.dropped_on_arrival, 0,
        "tina: messages dropped"
    );
    total as f64 / PROBE.elapsed_seconds()
}

/// A raw-ring item of `WORDS` words carrying its sequence number in the first and last word.
#[derive(Clone, Copy)]
#[repr(C)]
struct Words<const WORDS: usize>([u64; WORDS]);

impl<const WORDS: usize> Words<WORDS> {
    #[inline(always)]
    fn new(sequence: u64) -> Self {
        let mut words = [sequence; WORDS];
        words[WORDS - 1] = !sequence;
        Self(words)
    }

    #[inline(always)]
    fn sequence(&self) -> Option<u64> {
        (self.0[WORDS - 1] == !self.0[0]).then_some(self.0[0])
    }
}

/// One sample of the raw ring: push until full, publish, repeat; the consumer drains and
/// checks every item. Returns items per second.
fn raw_one_way<const WORDS: usize>(total: u64) -> f64 {
    let (mut producer, mut consumer) = Ring::<Words<WORDS>>::new(RING).split();
    let (first, second) = cores();
    let barrier = Barrier::new(2);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            if let Some(core) = first {
                core_affinity::set_for_current(core);
            }
            barrier.wait();
            let mut next = 0;
            while next < total {
                while next < total && producer.try_push(Words::new(next)).is_ok() {
                    next += 1;
                }
                producer.publish();
                spin_loop();
            }
        });
        let receiver = scope.spawn(|| {
            if let Some(core) = second {
                core_affinity::set_for_current(core);
            }
            barrier.wait();
            let start = std::time::Instant::now();
            let mut expected = 0u64;
            while expected < total {
                let drained = consumer.drain(RING, |item| {
                    assert_eq!(item.sequence(), Some(expected), "raw ring: bad item");
                    expected += 1;
                });
                if drained == 0 {
                    spin_loop();
                }
            }
            let elapsed = start.elapsed();
            assert_eq!(expected, total, "raw ring: wrong count");
            total as f64 / elapsed.as_secs_f64()
        });
        receiver.join().expect("raw ring consumer")
    })
}

// ---------------------------------------------------------------------------------------
// Ping-pong, both shards awake
// ---------------------------------------------------------------------------------------

/// Returns every ball to its sender.
struct Pong;

/// The ball: its number and where to send it back.
struct Ball {
    number: u64,
    from: Handle<Ping>,
}

messages!(Pong => PongMessage { Ball(Ball) });

impl Isolate for Pong {
    type Message = PongMessage;
    type Args = ();
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Pong";

    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Pong
    }

    #[inline]
    fn handle(&mut self, message: PongMessage, ctx: &mut Ctx<Self>) -> Effect {
        let PongMessage::Ball(Ball { number, from }) = message;
        if let Err(error) = ctx.send(&from, Back(number)) {
            PROBE.fail(format!(
                "tina: pong could not return ball {number}: {error}"
            ));
            return Effect::Done;
        }
        Effect::Receive
    }
}

/// Serves balls to a pong on the other shard, one at a time.
struct Ping {
    pong: Handle<Pong>,
    total: u64,
}

/// A returned ball.
struct Back(u64);

messages!(Ping => PingMessage { Back(Back) });

impl Ping {
    fn serve(&mut self, number: u64, ctx: &mut Ctx<Self>) -> Effect {
        let from = ctx.me();
        match ctx.send(&self.pong, Ball { number, from }) {
            Ok(()) => Effect::Receive,
            Err(error) => {
                PROBE.fail(format!("tina: ping could not serve ball {number}: {error}"));
                Effect::Done
            }
        }
    }
}

impl Isolate for Ping {
    type Message = PingMessage;
    type Args = (Handle<Pong>, u64);
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Ping";

    fn init(args: &(Handle<Pong>, u64), ctx: &mut Ctx<Self>) -> Self {
        let mut ping = Ping {
            pong: args.0,
            total: args.1,
        };
        let _ = ping.serve(0, ctx);
        ping
    }

    #[inline]
    fn handle(&mut self, message: PingMessage, ctx: &mut Ctx<Self>) -> Effect {
        let PingMessage::Back(Back(number)) = message;
        let done = number + 1;
        if done == WARM_ROUND_TRIPS {
            PROBE.start();
        }
        if done == WARM_ROUND_TRIPS + self.total {
            PROBE.finish(self.total);
            return Effect::Done;
        }
        self.serve(done, ctx)
    }
}

/// One sample: returns nanoseconds per round trip.
fn tina_ping_pong(total: u64) -> f64 {
    PROBE.reset();
    let mut spec = BootSpec::new(2);
    spec.isolate::<Ping>(1)
        .isolate::<Pong>(1)
        .ring_capacity(RING)
        .spin_before_sleep(u32::MAX);
    let pong = spec.root::<Pong>(ShardId(1), ());
    spec.root::<Ping>(ShardId(0), (pong, total));
    let system = System::start(spec).expect("boot");
    let finished = system.wait_until(Duration::from_secs(120), |totals| totals.exited == 1);
    let summary = system.shutdown(Duration::from_secs(5));
    PROBE.check();
    assert!(
        finished,
        "tina: ping-pong did not finish: {:?}",
        summary.total
    );
    assert_eq!(
        summary.total.sent_remote,
        2 * (WARM_ROUND_TRIPS + total),
        "tina: sent_remote disagrees"
    );
    assert_eq!(summary.total.sleeps, 0, "tina: a shard slept");
    PROBE.elapsed_seconds() * 1e9 / total as f64
}

/// One sample of the raw ring: returns nanoseconds per round trip.
fn raw_ping_pong(total: u64) -> f64 {
    let (mut out_producer, mut out_consumer) = Ring::<Words<8>>::new(RING).split();
    let (mut back_producer, mut back_consumer) = Ring::<Words<8>>::new(RING).split();
    let (first, second) = cores();
    let barrier = Barrier::new(2);
    let rounds = WARM_ROUND_TRIPS + total;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            if let Some(core) = second {
                core_affinity::set_for_current(core);
            }
            barrier.wait();
            for _ in 0..rounds {
                let item = loop {
                    match out_consumer.try_pop() {
                        Some(item) => break item,
                        None => spin_loop(),
                    }
                };
                if back_producer.push(item).is_err() {
                    panic!("raw ring: echo ring full");
                }
            }
        });
        let pinger = scope.spawn(|| {
            if let Some(core) = first {
                core_affinity::set_for_current(core);
            }
            barrier.wait();
            let mut start = std::time::Instant::now();
            for number in 0..rounds {
                if number == WARM_ROUND_TRIPS {
                    start = std::time::Instant::now();
                }
                if out_producer.push(Words::new(number)).is_err() {
                    panic!("raw ring: ping ring full");
                }
                let item = loop {
                    match back_consumer.try_pop() {
                        Some(item) => break item,
                        None => spin_loop(),
                    }
                };
                assert_eq!(item.sequence(), Some(number), "raw ring: wrong ball");
            }
            start.elapsed().as_secs_f64() * 1e9 / total as f64
        });
        pinger.join().expect("raw ring pinger")
    })
}

// ---------------------------------------------------------------------------------------
// Wake-up latency
// ---------------------------------------------------------------------------------------

/// The most wake-ups one sample records.
const WAKE_SAMPLES_MAX: usize = 4096;

/// Wake-up latencies of the current sample, in nanoseconds.
static LATENCIES: [AtomicU64; WAKE_SAMPLES_MAX] = [const { AtomicU64::new(0) }; WAKE_SAMPLES_MAX];

/// Records how long each stamped message took to be handled.
struct Waiter {
    expected: u64,
    total: u64,
}

/// A message stamped with the time it was sent (nanoseconds since the process epoch).
struct Stamp {
    sequence: u64,
    sent_nanos: u64,
}

messages!(Waiter => WaiterMessage { Stamp(Stamp) });

impl Isolate for Waiter {
    type Message = WaiterMessage;
    type Args = u64;
    const MAILBOX: usize = 4;
    const NAME: &'static str = "Waiter";

    fn init(total: &u64, _ctx: &mut Ctx<Self>) -> Self {
        Waiter {
            expected: 0,
            total: *total,
        }
    }

    fn handle(&mut self, message: WaiterMessage, _ctx: &mut Ctx<Self>) -> Effect {
        let WaiterMessage::Stamp(Stamp {
            sequence,
            sent_nanos,
        }) = message;
        let latency = epoch_nanos().saturating_sub(sent_nanos);
        if sequence != self.expected {
            PROBE.fail(format!(
                "tina: expected stamp {}, got {sequence}",
                self.expected
            ));
            return Effect::Done;
        }
        LATENCIES[sequence as usize].store(latency, Ordering::Relaxed);
        self.expected += 1;
        if self.expected == self.total {
            PROBE.finish(self.total);
            return Effect::Done;
        }
        Effect::Receive
    }
}

/// Every `interval`, sends a stamped message to the waiter on the other shard.
struct Ticker {
    waiter: Handle<Waiter>,
    interval: Duration,
    next: u64,
    total: u64,
}

/// Time to send the next stamp.
struct Tick;

messages!(Ticker => TickerMessage { Tick(Tick) });

impl Isolate for Ticker {
    type Message = TickerMessage;
    type Args = (Handle<Waiter>, Duration, u64);
    const MAILBOX: usize = 1;
    const NAME: &'static str = "Ticker";

    fn init(args: &(Handle<Waiter>, Duration, u64), ctx: &mut Ctx<Self>) -> Self {
        if ctx.after(args.1, Tick).is_err() {
            PROBE.fail("tina: ticker could not set its timer");
        }
        Ticker {
            waiter: args.0,
            interval: args.1,
            next: 0,
            total: args.2,
        }
    }

    fn handle(&mut self, message: TickerMessage, ctx: &mut Ctx<Self>) -> Effect {
        let TickerMessage::Tick(Tick) = message;
        let stamp = Stamp {
            sequence: self.next,
            sent_nanos: epoch_nanos(),
        };
        if let Err(error) = ctx.send(&self.waiter, stamp) {
            PROBE.fail(format!("tina: stamp {} refused: {error}", self.next));
            return Effect::Done;
        }
        self.next += 1;
        if self.next == self.total {
            return Effect::Done;
        }
        if ctx.after(self.interval, Tick).is_err() {
            PROBE.fail("tina: ticker could not set its timer");
            return Effect::Done;
        }
        Effect::Receive
    }
}

/// The latencies recorded by the last sample, in nanoseconds.
fn recorded(count: u64) -> Vec<f64> {
    LATENCIES[..count as usize]
        .iter()
        .map(|latency| latency.load(Ordering::Relaxed) as f64)
        .collect()
}

/// One sample: `count` stamped messages, `interval` apart, to a sleeping shard; returns the
/// latencies in nanoseconds.
fn tina_wake_up(count: u64, interval: Duration) -> Vec<f64> {
    PROBE.reset();
    let mut spec = BootSpec::new(2);
    spec.isolate::<Waiter>(1)
        .isolate::<Ticker>(1)
        .spin_before_sleep(50);
    let waiter = spec.root::<Waiter>(ShardId(1), count);
    spec.root::<Ticker>(ShardId(0), (waiter, interval, count));
    let system = System::start(spec).expect("boot");
    let finished = system.wait_until(Duration::from_secs(120), |totals| totals.exited == 2);
    let summary = system.shutdown(Duration::from_secs(5));
    PROBE.check();
    assert!(
        finished,
        "tina: wake-up run did not finish: {:?}",
        summary.total
    );
    assert_eq!(PROBE.count(), count, "tina: waiter saw the wrong count");
    // Shard 1 must really have been asleep: at least most stamps needed a wake-up.
    assert!(
        summary.shards[0].wakeups_sent * 10 >= count * 9,
        "tina: only {} of {count} stamps woke shard 1",
        summary.shards[0].wakeups_sent
    );
    recorded(count)
}

/// One sample of the baseline: a parked thread woken by `unpark`; returns the latencies in
/// nanoseconds. (A stamp the waiter finds already overtaken by the next one — the waiter was
/// descheduled for a whole interval — is skipped, not counted.)
fn park_wake_up(count: u64, interval: Duration) -> Vec<f64> {
    let (first, second) = cores();
    let stamp = AtomicU64::new(0);
    let sequence = AtomicU64::new(0);
    let ready = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            if let Some(core) = second {
                core_affinity::set_for_current(core);
            }
            let mut latencies = Vec::with_capacity(count as usize);
            ready.store(true, Ordering::Release);
            let mut seen = 0;
            while seen < count {
                std::thread::park();
                let current = sequence.load(Ordering::Acquire);
                if current > seen {
                    let latency = epoch_nanos().saturating_sub(stamp.load(Ordering::Acquire));
                    if current == seen + 1 {
                        latencies.push(latency as f64);
                    }
                    seen = current;
                }
            }
            latencies
        });
        // The sender is a thread of its own: pinning the calling thread would leave it
        // pinned for the samples that follow, and a `System` booted from a thread pinned to
        // one core pins all its shards to that core (`core_affinity` lists the calling
        // thread's cores).
        let waiter_thread = waiter.thread().clone();
        let (stamp, sequence, ready) = (&stamp, &sequence, &ready);
        let sender = scope.spawn(move || {
            if let Some(core) = first {
                core_affinity::set_for_current(core);
            }
            while !ready.load(Ordering::Acquire) {
                spin_loop();
            }
            for next in 1..=count {
                std::thread::sleep(interval);
                stamp.store(epoch_nanos(), Ordering::Release);
                sequence.store(next, Ordering::Release);
                waiter_thread.unpark();
            }
        });
        sender.join().expect("park sender");
        let latencies = waiter.join().expect("park waiter");
        assert!(
            latencies.len() as u64 * 2 >= count,
            "park: most wake-ups were overtaken"
        );
        latencies
    })
}

fn main() {
    let plan = Plan::from_env();
    let total: u64 = plan.pick(10_000_000, 2_000_000, 20_000);
    let round_trips: u64 = plan.pick(200_000, 50_000, 1_000);
    let wake_count: u64 = plan.pick(500, 200, 20);
    let interval = Duration::from_millis(2);
    let envelope = envelope_bytes();
    eprintln!("cross_shard: {}", plan.describe());

    let mut table = Table::new();
    table.line(format!(
        "\n### Cross-shard messaging, 2 shards pinned to 2 cores ({}; {})",
        plan.describe(),
        machine::describe()
    ));

    let raw_envelope_name = "raw ring, envelope-size items";
    let mut contenders = vec![
        Contender::new("tina, shard 0 → shard 1", || tina_one_way(total) / 1e6),
        Contender::new("raw ring, 64-byte items", || raw_one_way::<8>(total) / 1e6),
    ];
    match envelope {
        112 => contenders.push(Contender::new(raw_envelope_name, || {
            raw_one_way::<14>(total) / 1e6
        })),
        120 => contenders.push(Contender::new(raw_envelope_name, || {
            raw_one_way::<15>(total) / 1e6
        })),
        128 => contenders.push(Contender::new(raw_envelope_name, || {
            raw_one_way::<16>(total) / 1e6
        })),
        other => eprintln!("envelope of {other} bytes: no matching raw-ring item; skipped"),
    }
    let samples = interleave(&plan, &mut contenders);
    table.section(
        &format!(
            "one-way throughput, {total} messages per sample (ring of {RING}; Tina's envelope is {envelope} bytes)"
        ),
        &samples,
        Metric::throughput("M msgs/s"),
        "tina, shard 0 → shard 1",
    );
    table.line(format!(
        "\nTina reaches {:.0}% of the raw ring with 64-byte items (median of per-round ratios; target ≥ 50%).",
        100.0 * samples.ratio_median("tina, shard 0 → shard 1", "raw ring, 64-byte items")
    ));

    let mut contenders = [
        Contender::new("tina, both shards awake", || tina_ping_pong(round_trips)),
        Contender::new("raw ring, two spinning threads", || {
            raw_ping_pong(round_trips)
        }),
    ];
    let samples = interleave(&plan, &mut contenders);
    table.section(
        &format!("ping-pong round trip, {round_trips} round trips per sample"),
        &samples,
        Metric::cost("ns"),
        "tina, both shards awake",
    );
    table.line(format!(
        "\nTina's round trip is {:.2}× the raw ring's (median of per-round ratios; target ≤ 2×).",
        samples.ratio_median("tina, both shards awake", "raw ring, two spinning threads")
    ));

    let mut all_tina = Vec::new();
    let mut all_park = Vec::new();
    let mut contenders = [
        Contender::new("tina, receiver shard asleep in poll", || {
            let latencies = tina_wake_up(wake_count, interval);
            all_tina.extend_from_slice(&latencies);
            median(&latencies) / 1e3
        }),
        Contender::new("thread park / unpark", || {
            let latencies = park_wake_up(wake_count, interval);
            all_park.extend_from_slice(&latencies);
            median(&latencies) / 1e3
        }),
    ];
    let samples: Samples = interleave(&plan, &mut contenders);
    drop(contenders);
    table.section(
        &format!(
            "wake-up latency, send on shard 0 → handled on sleeping shard 1 ({wake_count} stamps, {} ms apart, per sample; figure = the sample's median)",
            interval.as_millis()
        ),
        &samples,
        Metric::cost("µs"),
        "tina, receiver shard asleep in poll",
    );
    table.line(format!(
        "\nOver all samples: tina p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs; park/unpark p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs.",
        percentile(&all_tina, 0.5) / 1e3,
        percentile(&all_tina, 0.9) / 1e3,
        percentile(&all_tina, 0.99) / 1e3,
        percentile(&all_park, 0.5) / 1e3,
        percentile(&all_park, 0.9) / 1e3,
        percentile(&all_park, 0.99) / 1e3,
    ));
    table.finish();
}

tina_bench::plain_data!(Pong, Ball, Ping, Back, Waiter, Stamp, Ticker, Tick);
