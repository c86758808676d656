//! Live statistics: the per-type figures of a simulation against what its script implies,
//! peaks and their reset, user counters and histograms, the histogram against a sorted
//! reference, consistent snapshots read from another thread while a real system is under
//! load, and the `top` screen.

use core::time::Duration;

use proptest::prelude::*;
use tina::prelude::*;
use tina_runtime::stats::{self, Histogram, bucket_high, bucket_of};
use tina_runtime::{CounterId, HistogramId, Stats};

#[derive(Bounded)]
struct Work(u32);

#[derive(Bounded)]
struct Boom;

/// Counts its messages in the user counter (init included) and records each value in the
/// user histogram.
#[isolate(mailbox = 8)]
struct Sink {
    handled: u32,
    counter: CounterId,
    histogram: HistogramId,
}

#[isolate]
impl Sink {
    fn init(args: &(CounterId, HistogramId), ctx: &mut Ctx<Self>) -> Self {
        ctx.count(args.0, 1);
        Sink {
            handled: 0,
            counter: args.0,
            histogram: args.1,
        }
    }

    fn work(&mut self, work: Work, ctx: &mut Ctx<Self>) -> Effect {
        self.handled += 1;
        ctx.count(self.counter, 1);
        ctx.observe(self.histogram, u64::from(work.0));
        Effect::Receive
    }

    fn boom(&mut self, _boom: Boom, _ctx: &mut Ctx<Self>) -> Effect {
        panic!("told to crash")
    }
}

/// At init: five messages to the first sink, three to the second, nine to the third (one
/// more than its mailbox holds), then a crash order to the third.
#[isolate(mailbox = 4)]
struct Driver {
    refused: u32,
}

#[isolate]
impl Driver {
    fn init(sinks: &[Handle<Sink>; 3], ctx: &mut Ctx<Self>) -> Self {
        let mut refused = 0;
        for (sink, count) in sinks.iter().zip([5u32, 3, 9]) {
            for value in 0..count {
                if ctx.send(sink, Work(value * 100)).is_err() {
                    refused += 1;
                }
            }
        }
        Driver { refused }
    }
}

fn sim_spec() -> (BootSpec, [Handle<Sink>; 3], Handle<Driver>) {
    let mut spec = BootSpec::new(1);
    let counter = spec.counter("sink_messages_total", "Messages a sink handled.");
    let histogram = spec.histogram("sink_values", "The values sinks were sent.");
    spec.isolate::<Sink>(6).isolate::<Driver>(1);
    let sinks: [Handle<Sink>; 3] =
        core::array::from_fn(|_| spec.root::<Sink>(ShardId(0), (counter, histogram)));
    let driver = spec.root::<Driver>(ShardId(0), sinks);
    (spec, sinks, driver)
}

fn sink_of(stats: &Stats) -> &tina_runtime::TypeStats {
    stats.shards[0]
        .types
        .iter()
        .find(|stats| stats.name == "Sink")
        .expect("the Sink type is reported")
}

#[test]
fn a_simulation_reports_what_its_script_implies() {
    let (spec, _, driver) = sim_spec();
    let mut sim = Simulation::new(spec, 7).unwrap();
    // The roots' inits ran at boot: the driver's sends wait in the sinks' mailboxes.
    let stats = sim.stats();
    let shard = &stats.shards[0];
    assert_eq!(shard.version, 1, "one publication so far");
    let sink = sink_of(&stats);
    assert_eq!((sink.live, sink.slots), (3, 6));
    assert_eq!(sink.waiting, 0, "free slots are not waiting on a call");
    assert_eq!(sink.queued, 5 + 3 + 8, "the ninth message was refused");
    assert_eq!(sink.ready, 3);
    assert_eq!(sink.depth_max, 0, "no sink's dispatch has begun");
    assert_eq!(sink.refused.mailbox_full, 1);
    assert_eq!(sim.state(driver).map(|driver| driver.refused), Some(1));
    assert_eq!(sink.refused.total(), 1);
    assert_eq!(sink.calls, 3, "three inits");
    assert_eq!(shard.user_counters, vec![3], "each init counted once");
    let driver = &shard.types[1];
    assert_eq!((driver.name, driver.live, driver.calls), ("Driver", 1, 1));
    assert_eq!(shard.pool_used, 16, "one envelope per queued message");
    assert_eq!(
        shard.types.iter().map(|stats| stats.calls).sum::<u64>(),
        shard.counters.dispatched,
        "every dispatch is one type's handler call"
    );

    sim.run(1_000);
    let stats = sim.stats();
    let shard = &stats.shards[0];
    let sink = sink_of(&stats);
    assert_eq!(sink.queued, 0);
    assert_eq!(sink.ready, 0);
    assert_eq!(
        sink.depth_max, 8,
        "the fullest mailbox as its dispatch began"
    );
    assert_eq!(sink.calls, 3 + 16);
    assert_eq!(shard.user_counters, vec![3 + 16]);
    let values = &shard.user_histograms[0];
    assert_eq!(values.count(), 16);
    assert_eq!(values.max(), 700);
    // 0..5, 0..3, 0..8 times 100.
    let sum: u64 = [5u64, 3, 8]
        .iter()
        .map(|&count| (0..count).map(|value| value * 100).sum::<u64>())
        .sum();
    assert_eq!(values.sum(), sum);
    assert_eq!(sink.handler.count(), 0, "handlers take no simulated time");
    assert_eq!(shard.pool_used, 0);
    assert_eq!(
        shard.types.iter().map(|stats| stats.calls).sum::<u64>(),
        shard.counters.dispatched
    );
    assert_eq!(stats.user_counters[0].name, "sink_messages_total");
    assert_eq!(stats.user_histograms[0].help, "The values sinks were sent.");
}

#[test]
fn crashes_and_restarts_are_counted_per_type() {
    let (spec, sinks, _) = sim_spec();
    let mut sim = Simulation::new(spec, 3).unwrap();
    sim.run(1_000);
    sim.send(&sinks[0], Boom).unwrap();
    sim.run(1_000);
    let stats = sim.stats();
    let sink = sink_of(&stats);
    assert_eq!(sink.crashes, 1);
    assert_eq!(sink.restarts, 1);
    assert_eq!(sink.live, 3, "restarted");
    assert_eq!(stats.shards[0].types[1].crashes, 0);
    assert_eq!(stats.shards[0].counters.crashed, 1);
}

#[test]
fn peaks_last_until_a_reader_resets_them() {
    let (spec, _, _) = sim_spec();
    let mut sim = Simulation::new(spec, 11).unwrap();
    sim.run(1_000);
    let reader = sim.stats_reader();
    assert_eq!(sink_of(&sim.stats()).depth_max, 8);
    assert_eq!(sink_of(&sim.stats()).depth_max, 8, "no reset asked");
    reader.reset_peaks();
    assert_eq!(
        sink_of(&sim.stats()).depth_max,
        8,
        "the publication that sees the reset still covers the window that ended"
    );
    assert_eq!(sink_of(&sim.stats()).depth_max, 0, "a new window");
}

#[test]
fn an_exposition_that_does_not_fit_is_refused_and_leaves_no_partial_text() {
    let (spec, _, _) = sim_spec();
    let mut sim = Simulation::new(spec, 11).unwrap();
    sim.run(1_000);
    let mut small = stats::prometheus::Exposition::new(sim.stats_reader(), 64);
    let refused = small.refresh().expect_err("the text is far over 64 bytes");
    assert!(refused.capacity >= 64, "{refused}");
    assert!(
        small.text().is_empty(),
        "a cut-off exposition is never kept"
    );
    let mut large = stats::prometheus::Exposition::new(sim.stats_reader(), 1 << 20);
    let text = large.refresh().expect("fits in 1 MiB").to_vec();
    assert!(text.starts_with(b"# HELP"));
    assert_eq!(large.text(), &text[..]);
}

#[test]
fn a_simulation_publishes_the_same_figures_on_every_replay() {
    let run = || {
        let (spec, _, _) = sim_spec();
        let mut sim = Simulation::new(spec, 5).unwrap();
        let mut trace = Vec::new();
        for _ in 0..20 {
            sim.run(3);
            let stats = sim.stats();
            trace.push(format!("{:?}", stats.shards[0].types));
        }
        (trace, sim.run(1_000).trace_hash)
    };
    let (first, first_trace) = run();
    let (second, second_trace) = run();
    assert_eq!(first, second);
    assert_eq!(first_trace, second_trace);
}

#[test]
fn user_metric_names_are_checked_at_boot() {
    let mut spec = BootSpec::new(1);
    spec.isolate::<Sink>(1);
    spec.counter("9lives", "starts with a digit");
    spec.counter("tina_mine_total", "the runtime's prefix");
    spec.counter("ok_total", "fine");
    spec.histogram("ok_total", "declared twice");
    let errors = spec.validate().unwrap_err().to_string();
    assert!(
        errors.contains("\"9lives\" is not a Prometheus metric name"),
        "{errors}"
    );
    assert!(errors.contains("\"tina_mine_total\""), "{errors}");
    assert!(
        errors.contains("\"ok_total\" is declared twice"),
        "{errors}"
    );
    let mut spec = BootSpec::new(1);
    spec.isolate::<Sink>(1);
    for index in 0..=stats::USER_COUNTERS_MAX {
        spec.counter(&format!("c{index}_total"), "");
    }
    let errors = spec.validate().unwrap_err().to_string();
    assert!(errors.contains("more than 64 user counters"), "{errors}");
}

/// Sends `Work` to its local and remote sinks in bursts, every tick (yielding between).
#[isolate(mailbox = 4)]
struct Pump {
    sinks: [Handle<Sink>; 2],
    sent: u64,
}

#[derive(Bounded)]
struct Go;

#[isolate]
impl Pump {
    fn init(sinks: &[Handle<Sink>; 2], ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.send(&ctx.me(), Go);
        Pump {
            sinks: *sinks,
            sent: 0,
        }
    }

    fn go(&mut self, _go: Go, ctx: &mut Ctx<Self>) -> Effect {
        self.burst(ctx)
    }

    fn resume(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        self.burst(ctx)
    }
}

impl Pump {
    fn burst(&mut self, ctx: &mut Ctx<Self>) -> Effect {
        for _ in 0..4 {
            for sink in &self.sinks {
                if ctx.send(sink, Work(self.sent as u32)).is_ok() {
                    self.sent += 1;
                }
            }
        }
        Effect::Yield
    }
}

/// Another thread reads snapshots while two shards are busy: within every snapshot of a
/// shard, the figures come from one publication — the per-type handler calls add up to the
/// shard's dispatch counter, and the sinks' user counter (bumped once per sink handler
/// call) equals the sinks' handler calls. Versions and counters never go back.
#[test]
fn snapshots_read_under_load_are_consistent() {
    // One sink and one pump per shard; each pump sends to both sinks.
    let mut spec = BootSpec::new(2);
    spec.pin_threads(false);
    let counter = spec.counter("sink_messages_total", "Messages a sink handled.");
    let histogram = spec.histogram("sink_values", "The values sinks were sent.");
    spec.isolate::<Sink>(2).isolate::<Pump>(2);
    let sinks = [
        spec.root::<Sink>(ShardId(0), (counter, histogram)),
        spec.root::<Sink>(ShardId(1), (counter, histogram)),
    ];
    spec.root::<Pump>(ShardId(0), sinks);
    spec.root::<Pump>(ShardId(1), sinks);
    let system = System::start(spec).unwrap();
    let reader = system.stats_reader();
    let mut stats = reader.read();
    let mut previous: Vec<(u64, u64)> = vec![(0, 0); 2];
    let mut reads = 0u64;
    let deadline = std::time::Instant::now() + Duration::from_millis(400);
    while std::time::Instant::now() < deadline {
        reader.read_into(&mut stats);
        reads += 1;
        for shard in &stats.shards {
            if shard.version == 0 {
                continue;
            }
            let calls: u64 = shard.types.iter().map(|stats| stats.calls).sum();
            assert_eq!(
                calls, shard.counters.dispatched,
                "shard {} at version {}: per-type calls from another publication than the \
                 counters",
                shard.shard, shard.version
            );
            assert_eq!(
                shard.user_counters[0], shard.types[0].calls,
                "shard {}: the user counter and the sink's calls disagree",
                shard.shard
            );
            assert!(shard.busy_nanos <= shard.at.as_nanos());
            let (version, dispatched) = previous[shard.shard.index()];
            assert!(shard.version >= version && shard.counters.dispatched >= dispatched);
            previous[shard.shard.index()] = (shard.version, shard.counters.dispatched);
        }
    }
    let stats = system.stats();
    system.shutdown(Duration::from_secs(1));
    assert!(reads > 100, "only {reads} reads");
    for shard in &stats.shards {
        assert!(
            shard.version > 10,
            "shard {} published {} times",
            shard.shard,
            shard.version
        );
        let sink = &shard.types[0];
        assert!(sink.calls > 1_000, "the sinks were busy: {}", sink.calls);
        // One dispatch in 64 on average (intervals 32..96) has its first handler call
        // timed; a dispatch may batch several calls.
        let sampled = sink.handler.count();
        assert!(
            sampled >= 100 && sampled <= sink.calls / 6,
            "{sampled} of {} handler calls timed",
            sink.calls
        );
        assert!(sink.handler.quantile(0.5) > 0);
        assert!(shard.utilisation() > 0.0);
        assert!(shard.rings.len() == 2 && shard.rings[shard.shard.index()] == 0);
    }
}

#[test]
fn top_renders_every_shard_and_type() {
    let (spec, _, _) = sim_spec();
    let mut sim = Simulation::new(spec, 7).unwrap();
    let before = sim.stats();
    sim.run(1_000);
    let after = sim.stats();
    let screen = stats::top::render(&after, Some(&before), &stats::top::TopOptions::default());
    assert!(
        screen.starts_with("tina top — 1 shards, 2 isolate types"),
        "{screen}"
    );
    let sink_row = screen
        .lines()
        .find(|line| line.starts_with("Sink "))
        .unwrap_or_else(|| panic!("no Sink row in\n{screen}"));
    assert!(sink_row.contains(" 3/6 "), "{sink_row}");
    assert!(
        screen.contains("top by queued messages: (none queued)"),
        "{screen}"
    );
    let screen = stats::top::render(&before, None, &stats::top::TopOptions::default());
    assert!(
        screen.contains("top by queued messages:  Sink 16 (deepest 0)"),
        "{screen}"
    );
}

fn values_strategy() -> impl proptest::strategy::Strategy<Value = Vec<u64>> {
    prop::collection::vec(
        prop_oneof![0u64..16, 0u64..10_000, 0u64..10_000_000_000, any::<u64>(),],
        1..400,
    )
}

proptest! {
    /// Quantiles, counts below bucket tops, sum, count and max against a sorted copy.
    #[test]
    fn the_histogram_agrees_with_a_sorted_reference(values in values_strategy()) {
        let mut histogram = Histogram::new();
        for &value in &values {
            histogram.record(value);
        }
        let mut sorted = values.clone();
        sorted.sort_unstable();
        prop_assert_eq!(histogram.count(), values.len() as u64);
        prop_assert_eq!(histogram.max(), *sorted.last().unwrap());
        let sum = values.iter().fold(0u64, |sum, &value| sum.saturating_add(value));
        prop_assert_eq!(histogram.sum(), sum);
        for q in [0.0, 0.1, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
            let exact = sorted[rank - 1];
            let reported = histogram.quantile(q);
            prop_assert!(reported >= exact, "q {}: {} below the true {}", q, reported, exact);
            prop_assert_eq!(bucket_of(reported), bucket_of(exact), "q {}", q);
            if (8..(1 << 39)).contains(&exact) {
                prop_assert!(reported - exact <= exact / 8, "q {}: {} vs {}", q, reported, exact);
            }
        }
        for &value in sorted.iter().step_by(7) {
            let top = bucket_high(bucket_of(value));
            let below = sorted.iter().filter(|&&other| other <= top).count() as u64;
            prop_assert_eq!(histogram.count_at_most(top), below);
        }
    }
}
