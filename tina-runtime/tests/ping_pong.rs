//! Multi-shard ping-pong, on real threads and in deterministic simulation: the same seed
//! twice gives the same trace hash; many seeds all complete, and the seed changes what the
//! isolates themselves observe (when each ball arrives). Written with `#[isolate]`, as a
//! user would.

mod support;

use tina::prelude::*;

/// A ball on its way to a pong, carrying who to return it to.
#[derive(Bounded)]
struct Ball {
    count: u32,
    from: Handle<Ping>,
}

/// A ball on its way back.
#[derive(Bounded)]
struct Back(u32);

/// Returns every ball to its sender.
#[isolate(mailbox = 16)]
struct Pong {
    returned: u64,
    /// When the last ball arrived, on the runtime clock: what the schedule changes.
    last_ball_at: Instant,
}

#[isolate]
impl Pong {
    fn init(_ctx: &mut Ctx<Self>) -> Self {
        Pong {
            returned: 0,
            last_ball_at: Instant::ZERO,
        }
    }

    fn ball(&mut self, ball: Ball, ctx: &mut Ctx<Self>) -> Effect {
        self.returned += 1;
        self.last_ball_at = ctx.now();
        ctx.send(&ball.from, Back(ball.count))
            .expect("ping has room for its own ball");
        Effect::Receive
    }
}

/// Serves `rounds` balls to its pong, one at a time, then exits.
#[isolate(mailbox = 16)]
struct Ping {
    peer: Handle<Pong>,
    rounds: u32,
}

#[isolate]
impl Ping {
    fn init(args: &(Handle<Pong>, u32), ctx: &mut Ctx<Self>) -> Self {
        let from = ctx.me();
        ctx.send(&args.0, Ball { count: 1, from }).unwrap();
        Ping {
            peer: args.0,
            rounds: args.1,
        }
    }

    fn back(&mut self, back: Back, ctx: &mut Ctx<Self>) -> Effect {
        if back.0 == self.rounds {
            return Effect::Done;
        }
        let from = ctx.me();
        ctx.send(
            &self.peer,
            Ball {
                count: back.0 + 1,
                from,
            },
        )
        .unwrap();
        Effect::Receive
    }
}

/// `shards` shards; on each, `pairs` pings whose pongs live on the next shard.
fn spec(shards: usize, pairs: usize, rounds: u32) -> BootSpec {
    spec_with_pongs(shards, pairs, rounds).0
}

/// [`spec`], and the handles of its pongs.
fn spec_with_pongs(shards: usize, pairs: usize, rounds: u32) -> (BootSpec, Vec<Handle<Pong>>) {
    let mut spec = support::small_spec(shards);
    spec.isolate::<Pong>(pairs).isolate::<Ping>(pairs);
    let mut pongs = Vec::new();
    for shard in 0..shards {
        for _ in 0..pairs {
            let pong = spec.root::<Pong>(ShardId(((shard + 1) % shards) as u16), ());
            spec.root::<Ping>(ShardId(shard as u16), (pong, rounds));
            pongs.push(pong);
        }
    }
    (spec, pongs)
}

#[test]
fn simulated_ping_pong_same_seed_same_trace() {
    let run = |seed| {
        let mut sim = Simulation::new(spec(4, 3, 200), seed).unwrap();
        let report = sim.run(10_000_000);
        assert!(report.quiescent, "seed {seed} did not finish");
        let totals = sim.totals();
        assert_eq!(totals.exited, 12, "seed {seed}");
        assert_eq!(totals.sent_remote, 12 * 200 * 2, "seed {seed}");
        sim.check_pools().unwrap();
        report.trace_hash
    };
    assert_eq!(run(42), run(42));
    assert_eq!(run(7), run(7));
}

#[test]
fn simulated_ping_pong_many_seeds_all_complete() {
    // What the pongs saw: when each one's last ball arrived. A seed shuffles the shard order
    // of every round, so whether a ball crosses in the round it was sent or the next one —
    // and so these times — depends on it. (The trace hash alone would differ between seeds
    // even for shards that never talk, since it mixes the shards in their shuffled order.)
    let mut observed = Vec::new();
    for seed in 0..32u64 {
        let (spec, pongs) = spec_with_pongs(3, 2, 50);
        let mut sim = Simulation::new(spec, seed).unwrap();
        let report = sim.run(1_000_000);
        assert!(
            report.quiescent,
            "seed {seed} did not finish; replay with Simulation::new(spec, {seed})"
        );
        assert_eq!(sim.totals().exited, 6, "seed {seed}");
        let seen: Vec<Instant> = pongs
            .iter()
            .map(|&pong| {
                let state = sim.state(pong).unwrap();
                assert_eq!(state.returned, 50, "seed {seed}");
                state.last_ball_at
            })
            .collect();
        observed.push(seen);
    }
    // The same seed sees the same thing again.
    let (spec, pongs) = spec_with_pongs(3, 2, 50);
    let mut again = Simulation::new(spec, 5).unwrap();
    again.run(1_000_000);
    let seen: Vec<Instant> = pongs
        .iter()
        .map(|&pong| again.state(pong).unwrap().last_ball_at)
        .collect();
    assert_eq!(seen, observed[5]);
    observed.sort_unstable();
    observed.dedup();
    assert!(
        observed.len() > 1,
        "every seed gave the isolates the same arrival times: the seed does not change the schedule"
    );
}

#[test]
fn threaded_ping_pong_on_two_shards() {
    let system = System::start(spec(2, 4, 2_000)).unwrap();
    assert!(
        system.wait_until(Duration::from_secs(30), |totals| totals.exited == 8),
        "pings did not finish: {:?}",
        system.totals()
    );
    let summary = system.shutdown(Duration::from_secs(5));
    assert!(summary.drained, "{summary:?}");
    assert_eq!(summary.total.sent_remote, 8 * 2_000 * 2);
    assert_eq!(
        summary.total.refused_ring_full + summary.total.dropped_on_arrival,
        0
    );
    assert_eq!(summary.shards.len(), 2);
}
