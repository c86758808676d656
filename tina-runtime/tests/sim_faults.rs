//! Fault injection in the simulator (issue 15): the transport between shards drops, delays
//! (per-pair FIFO unless reordering is on) and partitions; crashes and init failures are
//! injected inside the trap; swarm runs are deterministic per seed; a planted
//! nondeterminism is located by the determinism oracle; a system stuck behind a cut link is
//! reported as a liveness failure.

use std::collections::HashMap;
use std::time::Duration;

use tina::prelude::*;
use tina::sim::{FailureKind, Faults, Ratio, SimTest, first_divergence};

/// One numbered message.
#[derive(Bounded, Clone, Copy, Debug)]
struct Numbered(u32);

/// Counts what arrives and whether numbers ever go back.
#[isolate(mailbox = 64)]
struct Receiver {
    received: u32,
    last: Option<u32>,
    out_of_order: u32,
}

#[isolate]
impl Receiver {
    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Receiver {
            received: 0,
            last: None,
            out_of_order: 0,
        }
    }

    fn numbered(&mut self, message: Numbered, _ctx: &mut Ctx<Self>) -> Effect {
        self.received += 1;
        if self.last.is_some_and(|last| message.0 < last) {
            self.out_of_order += 1;
        }
        self.last = Some(self.last.map_or(message.0, |last| last.max(message.0)));
        Effect::Receive
    }
}

/// Sends `count` numbered messages to the receiver, a few per timer tick.
#[derive(Bounded, Clone, Copy, Debug)]
struct Burst;

#[isolate(mailbox = 4)]
struct Sender {
    to: Handle<Receiver>,
    next: u32,
    count: u32,
    accepted: u32,
    refused: u32,
}

#[isolate]
impl Sender {
    fn init(args: &(Handle<Receiver>, u32), ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.after(Duration::from_micros(3), Burst);
        Sender {
            to: args.0,
            next: 0,
            count: args.1,
            accepted: 0,
            refused: 0,
        }
    }

    fn burst(&mut self, _burst: Burst, ctx: &mut Ctx<Self>) -> Effect {
        for _ in 0..4 {
            if self.next == self.count {
                return Effect::Receive;
            }
            match ctx.send(&self.to, Numbered(self.next)) {
                Ok(()) => self.accepted += 1,
                Err(_) => self.refused += 1,
            }
            self.next += 1;
        }
        let _ = ctx.after(Duration::from_micros(3), Burst);
        Effect::Receive
    }
}

fn pair(count: u32) -> (BootSpec, Handle<Sender>, Handle<Receiver>) {
    let mut spec = BootSpec::new(2);
    spec.isolate::<Receiver>(1).isolate::<Sender>(1);
    spec.print_crashes(false);
    let receiver = spec.root::<Receiver>(ShardId(1), ());
    let sender = spec.root::<Sender>(ShardId(0), (receiver, count));
    (spec, sender, receiver)
}

#[test]
fn drops_lose_exactly_what_they_count() {
    let faults = Faults {
        drop: Ratio::new(1, 4),
        ..Faults::none()
    };
    let (spec, sender, receiver) = pair(400);
    let mut sim = Simulation::with_faults(spec, 11, faults).unwrap();
    let report = sim.run(100_000);
    assert!(report.quiescent);
    sim.check().unwrap();
    let accepted = sim.state(sender).unwrap().accepted;
    let received = sim.state(receiver).unwrap().received;
    assert_eq!(accepted, 400);
    assert!(
        report.faults.dropped > 50 && report.faults.dropped < 150,
        "{report:?}"
    );
    assert_eq!(
        u64::from(received) + report.faults.dropped,
        u64::from(accepted)
    );
}

#[test]
fn delays_keep_each_pair_in_order_unless_reordering_is_on() {
    let delay = |reorder| Faults {
        delay: Ratio::new(1, 3),
        delay_max: Duration::from_micros(200),
        reorder,
        ..Faults::none()
    };
    let mut reordered = 0;
    for seed in 0..10 {
        let (spec, _, receiver) = pair(300);
        let mut sim = Simulation::with_faults(spec, seed, delay(false)).unwrap();
        let report = sim.run(100_000);
        assert!(report.quiescent && report.faults.delayed > 50, "{report:?}");
        sim.check().unwrap();
        let state = sim.state(receiver).unwrap();
        assert_eq!((state.received, state.out_of_order), (300, 0));

        let (spec, _, receiver) = pair(300);
        let mut sim = Simulation::with_faults(spec, seed, delay(true)).unwrap();
        assert!(sim.run(100_000).quiescent);
        sim.check().unwrap();
        let state = sim.state(receiver).unwrap();
        assert_eq!(state.received, 300);
        reordered += state.out_of_order;
    }
    assert!(reordered > 0, "reordering on never reordered");
}

/// Answers pings.
#[derive(Bounded, Request)]
#[reply(u32)]
struct Ping(u32);

#[isolate(mailbox = 16)]
struct Ponger {
    answered: u32,
}

#[isolate]
impl Ponger {
    fn init(_args: &(), _ctx: &mut Ctx<Self>) -> Self {
        Ponger { answered: 0 }
    }

    fn ping(&mut self, ping: Ping, reply: ReplyTo<Ping>, ctx: &mut Ctx<Self>) -> Effect {
        self.answered += 1;
        ctx.reply(reply, ping.0 + 1)
    }
}

/// Calls the ponger every 100 µs, `count` times; counts outcomes.
#[derive(Bounded, Clone, Copy, Debug)]
struct Again;

#[isolate(mailbox = 4)]
#[derive(Clone, Copy, Debug)]
struct Pinger {
    to: Handle<Ponger>,
    left: u32,
    replies: u32,
    timeouts: u32,
    refused: u32,
}

#[isolate]
impl Pinger {
    fn init(args: &(Handle<Ponger>, u32), ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.after(Duration::from_micros(100), Again);
        Pinger {
            to: args.0,
            left: args.1,
            replies: 0,
            timeouts: 0,
            refused: 0,
        }
    }

    fn again(&mut self, _again: Again, ctx: &mut Ctx<Self>) -> Effect {
        if self.left == 0 {
            return Effect::Receive;
        }
        self.left -= 1;
        match ctx.call(&self.to, Ping(self.left), Duration::from_micros(500)) {
            Ok(wait) => wait,
            Err(_) => {
                self.refused += 1;
                let _ = ctx.after(Duration::from_micros(100), Again);
                Effect::Receive
            }
        }
    }

    fn pong(&mut self, outcome: CallResult<Ping>, ctx: &mut Ctx<Self>) -> Effect {
        match outcome {
            CallResult::Reply(_) => self.replies += 1,
            CallResult::Timeout => self.timeouts += 1,
            CallResult::Refused(_) => self.refused += 1,
        }
        let _ = ctx.after(Duration::from_micros(100), Again);
        Effect::Receive
    }
}

fn ping_pong(shards: usize, pairs: usize, calls: u32) -> (BootSpec, Vec<Handle<Pinger>>) {
    let mut spec = BootSpec::new(shards);
    spec.isolate::<Ponger>(pairs).isolate::<Pinger>(pairs);
    let mut pingers = Vec::new();
    for pair in 0..pairs {
        let ponger = spec.root::<Ponger>(ShardId(((pair + 1) % shards) as u16), ());
        pingers.push(spec.root::<Pinger>(ShardId((pair % shards) as u16), (ponger, calls)));
    }
    (spec, pingers)
}

#[test]
fn a_cut_link_times_calls_out_and_heals() {
    let (spec, pingers) = ping_pong(2, 1, 1_000);
    let pinger = pingers[0];
    let mut sim = Simulation::new(spec, 3).unwrap();
    sim.run_until(Instant::from_nanos(5_000_000));
    let before = *sim.state(pinger).unwrap();
    assert!(before.replies > 10 && before.timeouts == 0);
    // One-way: the pinger's shard cannot reach the ponger's; requests wait on the link.
    sim.cut_links(ShardId(0), true, false);
    sim.run_until(Instant::from_nanos(10_000_000));
    let cut = *sim.state(pinger).unwrap();
    assert_eq!(
        cut.replies,
        before.replies + u32::from(cut.replies > before.replies)
    );
    assert!(cut.timeouts > 3, "{cut:?}");
    sim.heal_links();
    sim.run_until(Instant::from_nanos(15_000_000));
    let healed = *sim.state(pinger).unwrap();
    assert!(healed.replies > cut.replies + 10, "{healed:?}");
    sim.check().unwrap();
    // Replies to the requests held on the cut came back after their calls had ended.
    assert!(sim.totals().late_replies_dropped > 0);
}

#[test]
fn envelopes_stuck_behind_a_cut_link_are_a_liveness_failure() {
    let test = SimTest::new("stuck", |_seed| {
        let (spec, _, _) = pair(10);
        (spec, ())
    });
    let (mut sim, ()) = test.build(1).unwrap();
    sim.cut_links(ShardId(0), true, true);
    let report = sim.run(100_000);
    assert!(report.stalled && !report.quiescent, "{report:?}");
    sim.heal_links();
    let report = sim.run(100_000);
    assert!(report.quiescent && !report.stalled, "{report:?}");
}

#[test]
fn injected_partitions_are_one_way_or_symmetric_and_heal() {
    let faults = Faults {
        partition: Ratio::new(1, 200),
        one_way: Ratio::new(1, 2),
        partition_max: Duration::from_millis(2),
        ..Faults::none()
    };
    let (spec, pingers) = ping_pong(3, 3, 200);
    let mut sim = Simulation::with_faults(spec, 5, faults).unwrap();
    let report = sim.run(1_000_000);
    assert!(report.quiescent, "{report:?}");
    sim.check().unwrap();
    assert!(report.faults.partitions > 2, "{report:?}");
    assert!(report.faults.one_way_partitions > 0, "{report:?}");
    assert!(report.faults.one_way_partitions < report.faults.partitions);
    let mut replies = 0;
    for pinger in pingers {
        let state = sim.state(pinger).unwrap();
        assert_eq!(state.replies + state.timeouts + state.refused, 200);
        replies += state.replies;
    }
    assert!(
        replies > 300,
        "partitions heal: most calls are answered ({replies})"
    );
}

#[test]
fn injected_crashes_hit_only_their_targets_and_are_restarted() {
    // The callers are the targets: a restarted caller starts its calls again, under the
    // same handle's slot (a restarted callee would have a new generation, and its callers'
    // handles would be stale).
    let faults = Faults {
        crash: Ratio::new(1, 60),
        init_failure: Ratio::new(1, 4),
        ..Faults::none()
    }
    .crash_only::<Pinger>();
    let mut spec = BootSpec::new(2);
    spec.isolate::<Ponger>(1).isolate::<Pinger>(8);
    spec.print_crashes(false);
    let ponger = spec.root::<Ponger>(ShardId(1), ());
    let group = spec.supervisor(ShardId(0));
    spec.budget(group, RestartBudget::new(10_000, Duration::from_secs(1)));
    let pingers: Vec<_> = (0..8)
        .map(|_| spec.child::<Pinger>(group, Restart::Permanent, (ponger, 20)))
        .collect();
    let mut sim = Simulation::with_faults(spec, 9, faults).unwrap();
    let report = sim.run(1_000_000);
    assert!(report.quiescent);
    sim.check().unwrap();
    assert!(
        report.faults.crashes > 3 && report.faults.init_failures > 0,
        "{report:?}"
    );
    let totals = sim.totals();
    assert_eq!(
        totals.crashed,
        report.faults.crashes + report.faults.init_failures
    );
    assert_eq!(totals.restarts, totals.crashed);
    let reports: Vec<_> = sim.crash_reports(ShardId(0)).collect();
    assert!(reports.iter().all(|crash| crash.type_name == "Pinger"));
    assert!(reports.iter().any(|crash| {
        crash
            .reason
            .contains("injected by the simulation (Faults::crash)")
    }));
    assert!(
        reports
            .iter()
            .any(|crash| crash.reason.contains("Faults::init_failure"))
    );
    // The ponger, never a target, never crashed; every (last) incarnation of every pinger
    // got all its outcomes, all answered.
    assert_eq!(sim.crash_reports(ShardId(1)).count(), 0);
    for pinger in pingers {
        let live = sim
            .live_handle(pinger)
            .expect("restarted under the same slot");
        let state = sim.state(live).unwrap();
        assert_eq!((state.replies, state.timeouts, state.refused), (20, 0, 0));
    }
}

fn swarm_scenario(seed: u64) -> Simulation {
    let (spec, _) = ping_pong(4, 6, 40);
    let faults = Faults {
        crash_targets: Faults::none().crash_only::<Ponger>().crash_targets,
        ..Faults::all()
    };
    let faults = if seed.is_multiple_of(2) {
        faults
    } else {
        Faults::swarm(seed, faults.crash_targets)
    };
    let mut spec = spec;
    spec.print_crashes(false);
    Simulation::with_faults(spec, seed, faults).unwrap()
}

#[test]
fn the_same_seed_gives_the_same_trace_with_every_fault_on() {
    let mut hashes = Vec::new();
    for seed in 0..100 {
        let mut first = swarm_scenario(seed);
        let mut second = swarm_scenario(seed);
        let (a, b) = (first.run(200_000), second.run(200_000));
        assert_eq!(a, b, "seed {seed}");
        assert!(
            a.faults.total() > 0 || !seed.is_multiple_of(2),
            "seed {seed}: {a:?}"
        );
        first.check().unwrap();
        hashes.push(a.trace_hash);
    }
    let mut distinct = hashes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        hashes.len(),
        "different seeds, different traces"
    );
}

#[test]
fn swarm_configurations_differ_by_seed_and_print() {
    let targets = tina::sim::CrashTargets::default();
    let configs: Vec<String> = (0..50)
        .map(|seed| Faults::swarm(seed, targets.clone()).to_string())
        .collect();
    let mut distinct = configs.clone();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() > 40, "{distinct:?}");
    // Some kinds off, others on, in one configuration.
    assert!(
        configs
            .iter()
            .any(|c| c.contains("drop=off") && !c.contains("delay=off"))
    );
    assert!(
        configs
            .iter()
            .any(|c| !c.contains("drop=off") && c.contains("delay=off"))
    );
    assert_eq!(
        Faults::swarm(7, targets.clone()),
        Faults::swarm(7, targets),
        "drawn from the seed alone"
    );
}

/// Fans a message out to its peers in the order a `std::collections::HashMap` iterates:
/// different from one map to the next, so a planted nondeterminism.
#[derive(Bounded, Clone, Copy, Debug)]
struct Fan;

/// The planted nondeterminism: a std `HashMap`, hidden from the attribute's check (which
/// refuses one in a state, as it should) by a wrapper.
struct Peers(HashMap<u32, Handle<Receiver>>);

// SAFETY: a test of the determinism oracle: the map is filled once in `init` with four
// entries and never grows; the point is its iteration order, not its size.
unsafe impl tina::Bounded for Peers {}

#[isolate(mailbox = 4)]
struct Fanner {
    peers: Peers,
}

#[isolate]
impl Fanner {
    fn init(peers: &[Handle<Receiver>; 4], ctx: &mut Ctx<Self>) -> Self {
        let _ = ctx.after(Duration::from_micros(5), Fan);
        Fanner {
            peers: Peers(
                peers
                    .iter()
                    .enumerate()
                    .map(|(i, h)| (i as u32, *h))
                    .collect(),
            ),
        }
    }

    fn fan(&mut self, _fan: Fan, ctx: &mut Ctx<Self>) -> Effect {
        for (number, peer) in &self.peers.0 {
            let _ = ctx.send(peer, Numbered(*number));
        }
        Effect::Receive
    }
}

#[test]
fn the_oracle_locates_a_planted_nondeterminism() {
    let build = || {
        let mut spec = BootSpec::new(2);
        spec.isolate::<Receiver>(4).isolate::<Fanner>(1);
        let peers: [Handle<Receiver>; 4] =
            core::array::from_fn(|i| spec.root::<Receiver>(ShardId((i % 2) as u16), ()));
        spec.root::<Fanner>(ShardId(0), peers);
        Simulation::new(spec, 1).map_err(|e| e.to_string())
    };
    // HashMap seeds differ per map, so some pair of runs differs; one rerun finds it.
    let mut found = None;
    for _attempt in 0..20 {
        if let Some(divergence) = first_divergence(build, |sim| {
            sim.run(1_000);
        })
        .unwrap()
        {
            found = Some(divergence);
            break;
        }
    }
    let divergence = found.expect("HashMap order differed in 20 reruns");
    let text = divergence.to_string();
    eprintln!("{text}");
    let (first, name) = divergence.first.expect("both runs have the event");
    let (second, _) = divergence.second.expect("both runs have the event");
    assert_eq!(name, "Receiver", "{text}");
    assert_eq!(first.at, second.at, "same time, another receiver: {text}");
    assert_ne!(
        (first.shard, first.slot),
        (second.shard, second.slot),
        "{text}"
    );
    assert!(text.contains("diverge at event"), "{text}");
    // The deterministic version of the same system never diverges.
    let divergence = first_divergence(
        || {
            let (spec, _, _) = pair(50);
            Simulation::with_faults(spec, 4, Faults::all()).map_err(|e| e.to_string())
        },
        |sim| {
            sim.run(100_000);
        },
    )
    .unwrap();
    assert_eq!(divergence, None);
}

#[test]
fn a_failing_checker_reports_seed_faults_events_and_replay() {
    let test = SimTest::new("counting", |_seed| {
        let (spec, _, receiver) = pair(20);
        (spec, receiver)
    })
    .faults(Faults {
        delay: Ratio::new(1, 2),
        ..Faults::none()
    })
    .checker("fewer than 10 received", 1, |receiver, sim| {
        match sim.state(*receiver) {
            Some(state) if state.received >= 10 => Err(format!("{} received", state.received)),
            _ => Ok(()),
        }
    });
    let failure = test.run_seed(0x5eed).expect_err("the checker fails");
    let text = failure.to_string();
    assert_eq!(failure.seed, 0x5eed);
    assert!(matches!(
        failure.kind,
        FailureKind::Checker("fewer than 10 received", _)
    ));
    assert!(text.contains("seed:   0x5eed"), "{text}");
    assert!(text.contains("delay=1/2"), "{text}");
    assert!(text.contains("Receiver[0]"), "{text}");
    assert!(
        text.contains("TINA_SEED=0x5eed cargo test -p tina-runtime --test sim_faults"),
        "{text}"
    );
    // Liveness: a limit too short to finish is reported as such.
    let short = SimTest::new("short", |_seed| {
        let (spec, _, _) = pair(200);
        (spec, ())
    })
    .max_rounds(10);
    let failure = short.run_seed(1).expect_err("not finished in 10 rounds");
    assert!(
        matches!(failure.kind, FailureKind::Liveness(_)),
        "{failure}"
    );
    // A `done` condition that never holds in a run that goes quiescent says that, not
    // that the round limit was reached.
    let never = SimTest::new("never", |_seed| {
        let (spec, _, _) = pair(20);
        (spec, ())
    })
    .until(|_, _| Err("never".into()))
    .max_rounds(100_000);
    let failure = never.run_seed(1).expect_err("never done");
    let text = failure.to_string();
    assert!(
        matches!(&failure.kind, FailureKind::Liveness(why) if why.contains("went quiescent")),
        "{text}"
    );
    assert!(!text.contains("(the limit)"), "{text}");
}
